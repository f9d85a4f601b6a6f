"""Background compilation (runtime.background, compiler.backend.Background).

While a kernel compiles in the worker process, calls run on the reference
interpreter; then they switch to the kernel. Tests pause the worker (SIGSTOP) to
hold a compile open deterministically, and kill it (SIGKILL) to crash one. Every
test has its own cache directory. Expected values are numpy float64 by hand.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import tracer
from compiler.backend import Background
from compiler.errors import TracerWarning
from runtime import background, cache

pytestmark = [
    pytest.mark.jit,
    pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs POSIX signals"),
]

WAIT_S = 600  # a bound for a stuck worker, not a timing assertion


@pytest.fixture
def bg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TRACER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cache, "_memo", {})  # modules loaded by other tests are not here
    tracer.set_compile_mode("background")
    try:
        yield tmp_path
    finally:
        tracer.set_compile_mode(None)
        background.wait(WAIT_S)


@contextlib.contextmanager
def worker_stopped() -> Iterator[int]:
    """The worker paused: no compile makes progress until the block ends."""
    pid = background.worker_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def model(x, w):
    return (x @ w).tanh().sum() + (x * x).exp().mean()


def model_ref(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.tanh(x @ w).sum() + np.exp(x * x).mean())


def exe_of(f) -> Background:
    (entry,) = f._cache.values()
    return entry.exe


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((6, 4)), rng.standard_normal((4, 3))


def test_a_call_during_the_compile_equals_the_kernel_after_the_switch(bg: Path) -> None:
    x, w = data()
    f = tracer.trace(model)
    with worker_stopped():
        during = f(tracer.tensor(x), tracer.tensor(w)).item()
        assert not exe_of(f).ready  # the call above ran on the interpreter
    assert exe_of(f).wait(WAIT_S)
    after = f(tracer.tensor(x), tracer.tensor(w)).item()
    assert during == pytest.approx(after, rel=1e-12)
    assert after == pytest.approx(model_ref(x, w), rel=1e-12)


def test_switching_mid_loop_changes_no_result_beyond_rounding(bg: Path) -> None:
    """Gradient descent on least squares: 4 steps on the interpreter, then the kernel."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal(16)
    step = tracer.value_and_grad(lambda w, x, y: ((x @ w - y) ** 2).mean())
    w = tracer.zeros(3, dtype=tracer.float64)
    w_ref = np.zeros(3)
    losses, expected, ran_kernel = [], [], []
    with worker_stopped() as pid:
        for i in range(10):
            if i == 4:
                os.kill(pid, signal.SIGCONT)
                assert tracer.wait_for_compiles(WAIT_S)
            loss, g = step(w, tracer.tensor(x), tracer.tensor(y))
            (entry,) = step._cache.values()
            ran_kernel.append(entry.joint[0].ready)
            w = w - 0.1 * g
            r = x @ w_ref - y
            expected.append(float((r**2).mean()))
            w_ref = w_ref - 0.1 * (2 / len(y)) * (x.T @ r)
            losses.append(loss.item())
    assert ran_kernel == [False] * 4 + [True] * 6
    np.testing.assert_allclose(losses, expected, rtol=1e-12)
    np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-12)


def _kill_when_compiling(pid: int, directory: Path) -> None:
    """SIGKILL the worker once it has started building a module (its source is in the
    cache directory)."""
    for _ in range(100_000):
        if any(directory.glob("tg_*.py")):
            break
        time.sleep(0.001)
    os.kill(pid, signal.SIGKILL)


def test_a_killed_compile_is_retried_and_leaves_the_cache_usable(
    bg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, w = data(2)
    f = tracer.trace(model)
    with worker_stopped() as pid:
        first = f(tracer.tensor(x), tracer.tensor(w)).item()
        os.kill(pid, signal.SIGCONT)
        _kill_when_compiling(pid, bg)
    assert exe_of(f).wait(WAIT_S)  # a second worker compiled it
    assert f(tracer.tensor(x), tracer.tensor(w)).item() == pytest.approx(first, rel=1e-12)
    # a new process would load it from disk: forget the modules loaded here, compile sync
    monkeypatch.setattr(cache, "_memo", {})
    tracer.set_compile_mode("sync")
    again = tracer.trace(model)(tracer.tensor(x), tracer.tensor(w)).item()
    assert again == pytest.approx(model_ref(x, w), rel=1e-12)


def test_a_compile_that_keeps_dying_stays_on_the_interpreter_with_a_warning(
    bg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(background, "ATTEMPTS", 1)
    x, w = data(3)
    f = tracer.trace(model)
    with worker_stopped() as pid:
        f(tracer.tensor(x), tracer.tensor(w))
        os.kill(pid, signal.SIGCONT)
        _kill_when_compiling(pid, bg)
    assert not exe_of(f).wait(WAIT_S)
    with pytest.warns(TracerWarning, match="background compile failed.*killed by signal"):
        value = f(tracer.tensor(x), tracer.tensor(w)).item()
    assert value == pytest.approx(model_ref(x, w), rel=1e-12)
    tracer.set_compile_mode("sync")  # the half-built entry in the cache builds fine
    again = tracer.trace(model)(tracer.tensor(x), tracer.tensor(w)).item()
    assert again == pytest.approx(model_ref(x, w), rel=1e-12)


def test_sync_mode_compiles_in_the_call(bg: Path) -> None:
    tracer.set_compile_mode("sync")
    x, w = data(4)
    f = tracer.trace(model)
    assert f(tracer.tensor(x), tracer.tensor(w)).item() == pytest.approx(model_ref(x, w), rel=1e-12)
    assert not isinstance(exe_of(f), Background)


def test_a_cached_kernel_is_used_from_the_first_call(bg: Path) -> None:
    x, w = data(5)
    tracer.set_compile_mode("sync")
    tracer.trace(model)(tracer.tensor(x), tracer.tensor(w))
    tracer.set_compile_mode("background")
    f = tracer.trace(model)
    f(tracer.tensor(x), tracer.tensor(w))
    assert not isinstance(exe_of(f), Background)


@pytest.mark.parametrize(
    "setting",
    [
        lambda mp: tracer.set_compile_mode("later"),
        lambda mp: (mp.setenv("TRACER_COMPILE", "later"), background.compile_mode()),
    ],
    ids=["api", "environment"],
)
def test_an_unknown_compile_mode_is_refused(setting, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="'background', 'sync'"):
        setting(monkeypatch)


def test_exit_during_a_compile_kills_and_reaps_the_worker(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, signal, tracer
        from runtime import background
        tracer.set_compile_mode("background")
        f = tracer.trace(lambda x: (x * 2).sin().sum())
        print(f(tracer.ones(3)).item())
        print(background.worker_pid(), flush=True)
        """
    )
    env = dict(os.environ, TRACER_CACHE_DIR=str(tmp_path))
    root = str(Path(tracer.__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=WAIT_S
    )
    assert proc.returncode == 0, proc.stderr
    value, pid = proc.stdout.split()
    assert float(value) == pytest.approx(float(np.sin(2.0) * 3), rel=1e-6)
    with pytest.raises(ProcessLookupError):  # gone, not a zombie (it was reaped)
        os.kill(int(pid), 0)
