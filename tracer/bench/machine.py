"""What the numbers were measured on: CPU, cores, library versions, the BLAS in use,
and the environment variables that change performance."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

import numpy as np

ENV_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "NUMBA_", "TRACER_", "XLA_", "JAX_")


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
            p for p in (f"{arch} kernel" if arch else "", f"{lib.get('num_threads')} threads") if p
        )
        parts.append(
            f"{lib.get('internal_api')} {lib.get('version') or ''} ({detail})".replace("  ", " ")
        )
    return "; ".join(parts) or _numpy_blas()


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
            f"env: {env} · load average at start: {load_text}",
        ]
    )
