"""What the numbers were measured on: CPU, cores, library versions, the BLAS in use,
and the environment variables that change performance."""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import os
import platform
import re
import sys
from typing import Any

import numpy as np

ENV_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "NUMBA_", "TRACER_", "XLA_", "JAX_")


def count(n: Any, what: str) -> str:
    """1 -> "1 thread", 2 -> "2 threads"."""
    return f"{n} {what}" + ("" if n == 1 else "s")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def version(dist: str) -> str | None:
    """The installed version of a distribution, without importing it."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def blas() -> str:
    """The BLAS libraries loaded in this process (threadpoolctl), else numpy's build config."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        runtime = openblas_runtime()
        if runtime is not None:
            kernel, n = runtime
            return f"{_numpy_blas()} ({f'{kernel} kernel, ' if kernel else ''}{count(n, 'thread')})"
        return (
            _numpy_blas() + " (from numpy's build config; install threadpoolctl for the "
            "kernel in use)"
        )
    parts = []
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        arch = lib.get("architecture")
        detail = ", ".join(
            p
            for p in (f"{arch} kernel" if arch else "", count(lib.get("num_threads"), "thread"))
            if p
        )
        parts.append(
            f"{lib.get('internal_api')} {lib.get('version') or ''} ({detail})".replace("  ", " ")
        )
    return "; ".join(parts) or _numpy_blas()


def _openblas() -> ctypes.CDLL | None:
    """The OpenBLAS library loaded in this process (numpy's), or None (Linux only)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)  # already loaded: the same handle, nothing reinitialised
        except OSError:
            continue
    return None


def _openblas_function(lib: ctypes.CDLL, what: str) -> Any:
    for name in (f"scipy_openblas_{what}64_", f"openblas_{what}64_", f"openblas_{what}"):
        if hasattr(lib, name):
            return getattr(lib, name)
    return None


def set_blas_threads(n: int) -> bool:
    """Set the thread count of numpy's OpenBLAS (which tracer's matmuls call too) in this
    process; False when no OpenBLAS is loaded."""
    lib = _openblas()
    set_threads = lib and _openblas_function(lib, "set_num_threads")
    if not set_threads:
        return False
    set_threads(ctypes.c_int(n))
    return True


def openblas_runtime() -> tuple[str | None, int] | None:
    """The OpenBLAS loaded in this process (numpy's), asked directly: (its kernel,
    "Haswell", or None when it does not say; its thread count); None when no OpenBLAS
    is loaded or this is not Linux."""
    lib = _openblas()
    get_threads = lib and _openblas_function(lib, "get_num_threads")
    if not get_threads:
        return None
    kernel = None
    corename = _openblas_function(lib, "get_corename")
    if corename:
        corename.restype = ctypes.c_char_p
        kernel = corename().decode()
    return kernel, get_threads()


def torch_runtime() -> str | None:
    """The torch rows' threads (pinned, see impls.import_torch) and its BLAS; None when
    torch does not import."""
    from tracer.bench.impls import THREADS_ENV, import_torch  # impls imports numpy only

    try:
        torch = import_torch()
    except Exception:  # not installed, or a broken install
        return None
    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    blas = found.group(1) if found else "unknown"
    pinned = "--threads" if os.environ.get(THREADS_ENV) else "the usable cores"
    n = count(torch.get_num_threads(), "intra-op thread")
    return f"torch {n} (torch.set_num_threads, pinned to {pinned}), BLAS {blas}"


def jax_runtime(usable: int) -> str | None:
    """What JAX's rows compute with (without importing JAX); None when not installed."""
    if importlib.util.find_spec("jax") is None:
        return None
    flags = os.environ.get("XLA_FLAGS", "")
    threads = (
        f"XLA_FLAGS={flags!r}"
        if flags
        else f"XLA's default: one per schedulable core, {usable} here; not pinned by the harness"
    )
    return f"jax: XLA:CPU's own matmul kernels (no BLAS library), its own thread pool ({threads})"


def threads(usable: int) -> str:
    """One line: the threads and matrix-multiply library each row's library uses."""
    from tracer.bench.impls import THREADS_ENV

    runtime = openblas_runtime()
    parts = [
        f"numpy {count(runtime[1], 'OpenBLAS thread')}"
        + (" (--threads)" if os.environ.get(THREADS_ENV) else "")
        if runtime
        else "numpy: BLAS threads unknown (no OpenBLAS loaded)"
    ]
    parts.append(tracer_runtime())
    parts += [t for t in (torch_runtime(), jax_runtime(usable)) if t]
    return " · ".join(parts)


def tracer_runtime() -> str:
    """The threads of tracer's generated loops (runtime.jit.threads) and its matmuls'."""
    from runtime.jit import threads as loop_threads

    n = loop_threads()
    why = "TRACER_PARALLEL=1" if n > 1 else "set TRACER_PARALLEL=1 for more"
    return f"tracer loops {count(n, 'thread')} ({why}), matmuls numpy's BLAS"


def _numpy_blas() -> str:
    try:
        config = np.show_config(mode="dicts")
        info = config["Build Dependencies"]["blas"]
        return f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # old numpy: no mode="dicts"
        return "unknown BLAS"


def tracer_path() -> str:
    """Which execution path value_and_grad takes, as far as the public API shows."""
    import tracer

    if os.environ.get("TRACER_DISABLE_JIT", "") not in ("", "0"):
        return "reference interpreter (TRACER_DISABLE_JIT is set)"
    probe = tracer.value_and_grad(lambda x: x.sum())
    if hasattr(probe, "source"):
        return "generated numba code"
    return "reference interpreter"


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def collect() -> dict[str, Any]:
    """The header of a run, as a dict (it goes into the JSON as is)."""
    import tracer

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": version("numba"),
        "torch": version("torch"),
        "jax": version("jax"),
        "jaxlib": version("jaxlib"),
        "tracer": getattr(tracer, "__version__", None),
        "tracer_path": tracer_path(),
        "blas": blas(),
        "threads": threads(usable),
        "load_average": _load(),
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)},
        "argv": sys.argv[1:],
    }


def format_header(info: dict[str, Any]) -> str:
    def v(name: str) -> str:
        return info.get(name) or "not installed"

    env = " ".join(f"{k}={val}" for k, val in info["env"].items()) or "none"
    load = info.get("load_average")
    busy = load is not None and load > 0.5
    load_text = (
        "unknown"
        if load is None
        else f"{load:g}" + (" (other processes are running: expect noisy timings)" if busy else "")
    )
    return "\n".join(
        [
            f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
            f"{info['os']}",
            f"python {info['python']} · numpy {v('numpy')} · numba {v('numba')} · "
            f"torch {v('torch')} · jax {v('jax')} · tracer {v('tracer')} "
            f"(value_and_grad runs: {info['tracer_path']})",
            f"BLAS: {info['blas']}",
            f"threads: {info['threads']}",
            f"env: {env} · load average at start: {load_text}",
        ]
    )
