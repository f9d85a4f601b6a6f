"""On-disk cache of generated numba modules.

numba's ``cache=True`` needs a real source file, so each generated module is written to
``<cache_dir>/<name>_<key>.py`` and imported from there; numba then keeps its machine code in
the ``__pycache__`` folder next to it (or under ``$NUMBA_CACHE_DIR``). Loads of one key are
serialised across processes by a file lock, so concurrent processes compile a key once. numba
does not verify its cache files, and a damaged one can crash the process, so their digests are
recorded in ``<name>_<key>.sums`` and checked before use.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = [
    "CacheBuildError",
    "cache_dir",
    "cache_stats",
    "clear_cache",
    "is_cached",
    "load_module",
]


class CacheBuildError(RuntimeError):
    """Generated source failed to import or warm up (a bug in the generated code)."""


_memo: dict[tuple, ModuleType] = {}  # (name, source, key_parts) -> loaded module
_stats = {"memory_hits": 0, "disk_hits": 0, "misses": 0, "corrupt": 0, "seconds": 0.0}
_resolved_dirs: dict[str, Path] = {}  # requested cache dir -> usable dir
_key_locks: dict[str, threading.Lock] = {}
_ENTRY = re.compile(r"^\.?(\w+_[0-9a-f]{24})\.")  # names of our files and numba's: group 1 = stem


def _default_dir() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "tracegrad"
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "tracegrad" / "Cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tracegrad"


@functools.cache
def _private_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="tracegrad-cache-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def cache_dir() -> Path:
    """Directory of the cache: ``$TRACER_CACHE_DIR`` or the user cache dir, created on demand.

    If it cannot be written, a private per-process temp dir is used (with one RuntimeWarning).
    """
    requested = os.environ.get("TRACER_CACHE_DIR") or str(_default_dir())
    usable = _resolved_dirs.get(requested)
    if usable is None:
        path = Path(requested).expanduser().absolute()  # numba's cache paths derive from it
        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):  # os.access lies for root
                pass
            usable = path
        except OSError as e:
            usable = _private_dir()
            warnings.warn(
                f"tracegrad cache dir {str(path)!r} is not usable ({e}); "
                f"using private temp dir {str(usable)!r} for this process",
                RuntimeWarning,
                stacklevel=2,
            )
        _resolved_dirs[requested] = usable
    usable.mkdir(parents=True, exist_ok=True)  # may have been removed since
    return usable


def cache_stats() -> dict[str, float]:
    """Counters of this process: memory_hits, disk_hits, misses (compiles), corrupt, seconds."""
    return dict(_stats)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive inter-process lock on ``path`` (no-op without fcntl)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # clear_cache may have unlinked the file while we waited: then lock the new one
            with contextlib.suppress(FileNotFoundError):
                if os.path.samestat(os.fstat(fd), os.stat(path)):
                    break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _numba_dirs(directory: Path) -> list[Path]:
    """Where numba keeps its cache files for modules in ``directory``."""
    from numba.core import caching, config

    dirs = [directory / "__pycache__"]
    if config.CACHE_DIR:  # $NUMBA_CACHE_DIR takes precedence over __pycache__
        sub = caching._CacheLocator.get_suitable_cache_subpath(str(directory / "_.py"))
        dirs.append(Path(config.CACHE_DIR) / sub)
    return dirs


def _purge(directory: Path, stem: str) -> None:
    """Remove an entry's source, checksums, temp files and numba's files (not its lock)."""
    for suffix in (".py", ".sums"):
        _unlink(directory / f"{stem}{suffix}")
    for p in directory.glob(f".{stem}.*.tmp"):
        _unlink(p)
    for d in _numba_dirs(directory):
        for p in d.glob(f"{stem}.*"):
            _unlink(p)


def _sums(directory: Path, stem: str) -> bytes:
    """Digest lines of numba's data files: they hold machine code, which numba does not verify."""
    files = sorted(p for d in _numba_dirs(directory) for p in d.glob(f"{stem}.*.nbc"))
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.name}\n" for p in files]
    return "".join(lines).encode()


def _intact(directory: Path, stem: str) -> bool:
    """Whether numba's data files recorded after the last warmup are unchanged."""
    recorded = directory / f"{stem}.sums"
    try:
        return set(recorded.read_bytes().splitlines()) <= set(_sums(directory, stem).splitlines())
    except FileNotFoundError:
        return not recorded.exists()  # no record yet (e.g. a warmup was interrupted)
    except OSError:
        return False


def _record(directory: Path, stem: str) -> None:
    """Store the digests of numba's data files after a warmup (best effort)."""
    path = directory / f"{stem}.sums"
    with contextlib.suppress(OSError):
        sums = _sums(directory, stem)
        if not path.is_file() or path.read_bytes() != sums:
            _publish(path, sums)


def _publish(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        _unlink(Path(tmp))
        raise


def _import(path: Path, source: str, modname: str, warmup: Callable | None) -> ModuleType:
    """Execute ``source`` as module ``modname`` backed by ``path``; run ``warmup`` on it."""
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    # numba's cached code re-imports its module by name, so it must be in sys.modules
    sys.modules[modname] = module
    try:
        # exec the verified source rather than re-reading the file (no stale .pyc, no race)
        exec(compile(source, str(path), "exec"), module.__dict__)
        if warmup is not None:
            warmup(module)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return module


@functools.cache
def _fingerprint() -> tuple[str, ...]:
    import numba

    try:
        version = importlib.metadata.version("tracegrad")
    except importlib.metadata.PackageNotFoundError:
        version = "0+unknown"
    return version, numba.__version__, sys.version, platform.machine()


def _key(source: str, key_parts: tuple) -> str:
    h = hashlib.sha256()
    for part in (source, repr(key_parts), *_fingerprint()):
        b = part.encode()
        h.update(len(b).to_bytes(8, "little") + b)  # length prefix: no ambiguous joins
    return h.hexdigest()


def load_module(
    source: str,
    *,
    name: str,
    key_parts: tuple = (),
    warmup: Callable[[ModuleType], None] | None = None,
    directory: Path | None = None,
) -> ModuleType:
    """Import generated ``source`` through the disk cache and return the module.

    ``key_parts`` (hashable, stable ``repr``) add to the key. ``directory``: the cache
    directory (default `cache_dir()`). ``warmup(module)`` runs under the
    key's lock on first load in a process; call the jitted functions there so numba compiles (or
    loads its cache) once across processes. Raises :class:`CacheBuildError` if the source
    itself fails to import or warm up; the broken entry is removed first.
    """
    memo_key = (name, source, key_parts)
    module = _memo.get(memo_key)
    if module is not None:
        _stats["memory_hits"] += 1
        return module

    key = _key(source, key_parts)
    with _key_locks.setdefault(key, threading.Lock()):
        module = _memo.get(memo_key)
        if module is not None:  # another thread loaded it while we waited
            _stats["memory_hits"] += 1
            return module
        t0 = time.perf_counter()
        try:
            module = _load_locked(source, name, key, warmup, directory or cache_dir())
        finally:
            _stats["seconds"] += time.perf_counter() - t0
        _memo[memo_key] = module
        return module


def _stem(name: str, key: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_]', '_', name)[:48] or 'module'}_{key[:24]}"


def is_cached(source: str, *, name: str, key_parts: tuple = ()) -> bool:
    """Whether `load_module` would find ``source`` loaded in this process, or compiled
    completely in the disk cache (its digests recorded after a finished build: a build
    cut short is not), so that loading it compiles nothing."""
    if (name, source, key_parts) in _memo:
        return True
    directory = cache_dir()
    stem = _stem(name, _key(source, key_parts))
    try:
        if (directory / f"{stem}.py").read_bytes() != source.encode():
            return False
    except OSError:
        return False
    return (directory / f"{stem}.sums").is_file() and _intact(directory, stem)


def _load_locked(
    source: str, name: str, key: str, warmup: Callable | None, directory: Path
) -> ModuleType:
    stem = _stem(name, key)
    path, modname = directory / f"{stem}.py", f"_tracegrad_{stem}"
    data = source.encode()
    with _file_lock(directory / f"{stem}.lock"):
        try:
            cached = path.read_bytes()
        except OSError:
            cached = None
        if cached == data and _intact(directory, stem):
            try:
                module = _import(path, source, modname, warmup)
                _record(directory, stem)
                _stats["disk_hits"] += 1
                return module
            except Exception:
                # e.g. numba cache files that fail to load: rebuild from scratch below
                _stats["corrupt"] += 1
        elif cached is not None:
            _stats["corrupt"] += 1
        _purge(directory, stem)
        _publish(path, data)
        try:
            module = _import(path, source, modname, warmup)
        except Exception as e:
            _purge(directory, stem)
            raise CacheBuildError(
                f"generated module {name!r} failed to build from {path} (file removed): "
                f"{type(e).__name__}: {e}"
            ) from e
        _record(directory, stem)
        _stats["misses"] += 1
        return module


def clear_cache() -> None:
    """Remove all cached modules and numba's files, and forget modules loaded in-process.

    Each entry is removed under its lock, so a concurrent loader finishes first.
    """
    _memo.clear()
    directory = cache_dir()
    numba_dirs = _numba_dirs(directory)
    files = [*directory.iterdir(), *(p for d in numba_dirs for p in d.glob("*"))]
    for stem in sorted({m.group(1) for p in files if (m := _ENTRY.match(p.name))}):
        lock = directory / f"{stem}.lock"
        with _file_lock(lock):
            _purge(directory, stem)
            _unlink(lock)
    for d in numba_dirs:
        with contextlib.suppress(OSError):
            d.rmdir()  # only if empty
