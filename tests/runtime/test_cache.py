"""Tests of the on-disk compile cache (runtime/cache.py)."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import pytest

from runtime import cache
from runtime.cache import CacheBuildError, cache_dir, cache_stats, clear_cache, load_module

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("cache_worker.py")

SOURCE = """import numba


@numba.njit(cache=True)
def f(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
    return s
"""


def warm(module):
    assert module.f(np.arange(10.0)) == 45.0


@pytest.fixture
def cdir(tmp_path, monkeypatch):
    """A fresh cache dir, with the in-process memo forgotten (as in a new process)."""
    d = tmp_path / "cache"
    monkeypatch.setenv("TRACER_CACHE_DIR", str(d))
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")  # numba's files go to d/__pycache__
    cache._memo.clear()
    yield d
    cache._memo.clear()


def delta(before):
    return {k: v - before[k] for k, v in cache_stats().items() if k != "seconds"}


def entry(d):
    (py,) = d.glob("*.py")
    return py


def numba_files(d, pattern="*"):
    return sorted((d / "__pycache__").glob(pattern))


def run_worker(d, name, **extra):
    env = {**os.environ, "TRACER_CACHE_DIR": str(d)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("NUMBA_CACHE_DIR", None)
    cfg = json.dumps({"source": SOURCE, "name": name, **extra})
    return subprocess.Popen(
        [sys.executable, str(WORKER), cfg], env=env, stdout=subprocess.PIPE, text=True
    )


def report(proc):
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    return json.loads(out)


def test_load_call_and_memory_hit(cdir):
    before = cache_stats()
    m = load_module(SOURCE, name="sum", warmup=warm)
    assert m.f(np.arange(100.0)) == 4950.0
    assert load_module(SOURCE, name="sum") is m
    assert delta(before) == {"memory_hits": 1, "disk_hits": 0, "misses": 1, "corrupt": 0}
    assert entry(cdir).read_text() == SOURCE
    assert entry(cdir).name.startswith("sum_") and sys.modules[m.__name__] is m
    assert numba_files(cdir, "*.nbi") and numba_files(cdir, "*.nbc")


def test_key_parts_and_name_sanitising(cdir):
    a = load_module(SOURCE, name="a/b c", key_parts=("float64", 1))
    b = load_module(SOURCE, name="a/b c", key_parts=("float32", 1))
    assert a is not b and a.__file__ != b.__file__
    assert all(p.name.startswith("a_b_c_") for p in cdir.glob("*.py"))


def test_threads_compile_once(cdir):
    before = cache_stats()
    with ThreadPoolExecutor(4) as pool:
        mods = list(pool.map(lambda _: load_module(SOURCE, name="thr", warmup=warm), range(4)))
    assert all(m is mods[0] for m in mods)
    assert delta(before)["misses"] == 1


def test_fresh_process_reuses_numba_cache(cdir):
    first = report(run_worker(cdir, "fresh"))
    assert first["result"] == 4950.0
    assert first["stats"]["misses"] == 1 and first["numba_misses"] == 1
    assert numba_files(cdir, "fresh_*.nbi") and numba_files(cdir, "fresh_*.nbc")
    second = report(run_worker(cdir, "fresh"))
    assert second["result"] == 4950.0
    assert second["stats"]["disk_hits"] == 1 and second["stats"]["misses"] == 0
    assert second["numba_hits"] == 1 and second["numba_misses"] == 0  # machine code reused


def test_concurrent_processes_compile_once(cdir, tmp_path):
    go = tmp_path / "go"
    procs = [run_worker(cdir, "race", ready=str(tmp_path / f"r{i}"), go=str(go)) for i in (0, 1)]
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"r{i}").exists() for i in (0, 1)):
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.005)
    go.touch()
    reports = [report(p) for p in procs]
    assert [r["result"] for r in reports] == [4950.0, 4950.0]
    assert sorted(r["stats"]["misses"] for r in reports) == [0, 1]
    (waiter,) = [r for r in reports if r["stats"]["disk_hits"] == 1]
    assert waiter["numba_misses"] == 0 and waiter["numba_hits"] == 1
    assert entry(cdir).read_text() == SOURCE
    assert not list(cdir.glob(".*.tmp"))


def corrupt_garbage(d):
    entry(d).write_text("this is not python (\n")


def corrupt_truncate(d):
    entry(d).write_text(SOURCE[: len(SOURCE) // 2])


def corrupt_nbi(d):
    (nbi,) = numba_files(d, "*.nbi")
    nbi.write_bytes(b"garbage")


def corrupt_nbc_truncate(d):
    (nbc,) = numba_files(d, "*.nbc")
    nbc.write_bytes(nbc.read_bytes()[:100])


def corrupt_nbc_bytes(d):
    # flipped bytes may still unpickle and would crash when run: caught by the checksums
    (nbc,) = numba_files(d, "*.nbc")
    data = bytearray(nbc.read_bytes())
    data[100:200] = b"x" * 100
    nbc.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "corrupt",
    [corrupt_garbage, corrupt_truncate, corrupt_nbi, corrupt_nbc_truncate, corrupt_nbc_bytes],
)
def test_corrupt_entry_is_rebuilt(cdir, corrupt, request):
    name = request.node.name.split("[")[1].rstrip("]")  # a key of its own per case
    load_module(SOURCE, name=name, warmup=warm)
    corrupt(cdir)
    cache._memo.clear()
    before = cache_stats()
    m = load_module(SOURCE, name=name, warmup=warm)
    assert m.f(np.arange(100.0)) == 4950.0
    assert delta(before) == {"memory_hits": 0, "disk_hits": 0, "misses": 1, "corrupt": 1}
    assert entry(cdir).read_text() == SOURCE
    cache._memo.clear()  # the rebuilt entry is sound: the next fresh load is a disk hit
    before = cache_stats()
    load_module(SOURCE, name=name, warmup=warm)
    assert delta(before)["disk_hits"] == 1


def test_numba_cache_dir_setting(cdir, tmp_path, monkeypatch):
    nb = tmp_path / "nb"
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(nb))  # as $NUMBA_CACHE_DIR does
    load_module(SOURCE, name="nbdir", warmup=warm)
    (nbi,) = nb.rglob("nbdir_*.nbi")
    assert not numba_files(cdir)
    nbi.write_bytes(b"garbage")
    cache._memo.clear()
    before = cache_stats()
    assert load_module(SOURCE, name="nbdir", warmup=warm).f(np.arange(3.0)) == 3.0
    assert delta(before) == {"memory_hits": 0, "disk_hits": 0, "misses": 1, "corrupt": 1}
    clear_cache()
    assert list(cdir.iterdir()) == [] and not [p for p in nb.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "bad",
    [
        "def f(x:\n",  # syntax error
        "import numba\n\n@numba.njit(cache=True)\ndef f(x):\n    return x + 'a'\n",  # typing
        "raise ValueError('boom')\n",  # import error
    ],
)
def test_bad_source_raises_and_leaves_nothing(cdir, bad):
    with pytest.raises(CacheBuildError, match=r"failed to build from .*bad_\w{24}\.py") as info:
        load_module(bad, name="bad", warmup=warm)
    assert info.value.__cause__ is not None
    assert not list(cdir.glob("*.py")) and not list(cdir.glob(".*.tmp"))
    assert not numba_files(cdir, "bad_*")
    assert not [n for n in sys.modules if n.startswith("_tracegrad_bad_")]
    m = load_module(SOURCE, name="good", warmup=warm)
    assert m.f(np.arange(4.0)) == 6.0


def test_unusable_dir_falls_back_with_one_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TRACER_CACHE_DIR", str(blocker / "cache"))
    cache._memo.clear()
    with pytest.warns(RuntimeWarning, match=r"not usable.*using private temp dir"):
        d = cache_dir()
    assert d != blocker / "cache" and os.access(d, os.W_OK)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache_dir() == d
        m = load_module(SOURCE, name="fallback", warmup=warm)
    assert Path(m.__file__).parent == d
    cache._memo.clear()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores chmod")
def test_read_only_dir_falls_back(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    monkeypatch.setenv("TRACER_CACHE_DIR", str(ro))
    with pytest.warns(RuntimeWarning, match="not usable"):
        assert cache_dir() != ro


def test_clear_cache(cdir):
    clear_cache()  # absent dir: fine
    m = load_module(SOURCE, name="one", warmup=warm)
    load_module(SOURCE, name="two")
    assert len(list(cdir.glob("*.py"))) == 2
    clear_cache()
    assert list(cdir.iterdir()) == []
    clear_cache()
    before = cache_stats()
    m2 = load_module(SOURCE, name="one", warmup=warm)
    assert m2 is not m and delta(before)["misses"] == 1
    assert m.f(np.arange(3.0)) == 3.0  # modules loaded before keep working


@pytest.mark.skipif(cache.fcntl is None, reason="no fcntl: locking is a no-op")
def test_lock_survives_clear_cache_unlinking_it(tmp_path):
    lock = tmp_path / "k.lock"
    acquired = threading.Event()

    def waiter():
        with cache._file_lock(lock):
            acquired.set()

    with cache._file_lock(lock):
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.1)  # the waiter now blocks on the old file
        lock.unlink()  # as clear_cache does, while holding the lock
        newcomer = cache._file_lock(lock)  # locks a new file at the same path
        newcomer.__enter__()
    # old lock released: the waiter must notice the file changed and wait on the new one
    assert not acquired.wait(0.2)
    newcomer.__exit__(None, None, None)
    assert acquired.wait(5)
    t.join()


def test_clear_cache_waits_for_a_loader(cdir):
    m = load_module(SOURCE, name="busy", warmup=warm)
    stem = Path(m.__file__).stem
    with cache._file_lock(cdir / f"{stem}.lock"):  # a loader in progress
        t = threading.Thread(target=clear_cache)
        t.start()
        time.sleep(0.2)
        assert Path(m.__file__).exists() and t.is_alive()
    t.join(5)
    assert not t.is_alive() and list(cdir.iterdir()) == []


def test_the_test_suite_compiles_into_a_temporary_directory_not_the_users_cache():
    # tests/conftest.py points TRACER_CACHE_DIR at a directory made for the session;
    # xdist workers and the subprocesses tests start inherit it
    used = Path(os.environ["TRACER_CACHE_DIR"]).resolve()
    assert used.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not used.is_relative_to(cache._default_dir().resolve())
    assert cache_dir().resolve() == used
    assert "NUMBA_CACHE_DIR" not in os.environ and not numba.config.CACHE_DIR
