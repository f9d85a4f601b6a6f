"""The C library's log, log1p, sin, cos and pow over float64 arrays; Fisher-Yates shuffles.

PyTorch's random kernels (and logspace) call the C library's `log`, `log1p`, `sin`, `cos`
(and `pow`) element by element; to reproduce its numbers bit for bit we must call the same
functions. numpy's own vectorised versions differ from them in the last bit for about 0.3%
(log) to 7% (log1p, pow) of inputs, so they cannot be used. Small arrays go through Python's
`math` module (which calls the C library); large ones through numba loops, which call it too
(checked by the tests), compiled once and kept in the disk cache (`runtime.cache`). numba
with Intel's SVML would vectorise those loops with SVML's functions instead, so then the
`math` path is used for every size (and the float32 functions, needed for float16 normals
only, may then differ from the C library's).

The shuffles are sequential swap loops (PyTorch's randperm), run by numba above a size.

This module knows numpy and numba only.
"""

from __future__ import annotations

import math
import threading
from types import ModuleType

import numba
import numpy as np

from runtime.cache import load_module

__all__ = ["cos", "fisher_yates", "float32", "inside_out_shuffle", "log", "log1p", "pow", "sin"]

# below this many elements a Python loop over `math` is cheaper than loading the kernels
SMALL = 512

_SOURCE = """
import math

import numba


@numba.njit(cache=True)
def log(x, out):
    for i in range(x.size):
        out[i] = math.log(x[i])


@numba.njit(cache=True)
def log1p(x, out):
    for i in range(x.size):
        out[i] = math.log1p(x[i])


@numba.njit(cache=True)
def sin(x, out):
    for i in range(x.size):
        out[i] = math.sin(x[i])


@numba.njit(cache=True)
def cos(x, out):
    for i in range(x.size):
        out[i] = math.cos(x[i])


@numba.njit(cache=True)
def pow(base, x, out):
    for i in range(x.size):
        out[i] = math.pow(base, x[i])


@numba.njit(cache=True)
def fisher_yates(a, offsets):
    for i in range(offsets.size):
        j = i + offsets[i]
        a[i], a[j] = a[j], a[i]


@numba.njit(cache=True)
def inside_out(a, picks):
    for i in range(picks.size):
        j = picks[i]
        a[i] = a[j]
        a[j] = i
"""

_module: ModuleType | None = None
_lock = threading.Lock()


def _warmup(module: ModuleType) -> None:
    x = np.full(2, 0.5)
    out = np.zeros(2)
    x32, out32 = x.astype(np.float32), out.astype(np.float32)
    for name in ("log", "log1p", "sin", "cos"):
        getattr(module, name)(x, out)
        getattr(module, name)(x32, out32)
    module.pow(2.0, x, out)
    module.fisher_yates(np.arange(3, dtype=np.int64), np.zeros(2, np.int64))
    module.inside_out(np.zeros(2, np.int64), np.zeros(2, np.int64))


def _kernels() -> ModuleType:
    global _module
    if _module is None:
        with _lock:
            if _module is None:
                _module = load_module(_SOURCE, name="libm", warmup=_warmup)
    return _module


def _vectorised() -> bool:
    return not numba.config.USING_SVML


def _apply(name: str, x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    if x.size <= SMALL or not _vectorised():
        f = getattr(math, name)
        return np.fromiter((f(v) for v in x.tolist()), np.float64, x.size)
    out = np.empty_like(x)
    getattr(_kernels(), name)(x, out)
    return out


def log(x: np.ndarray) -> np.ndarray:
    """The C library's log of each element (float64, flattened)."""
    return _apply("log", x)


def float32(name: str, x: np.ndarray) -> np.ndarray:
    """The C library's single precision `name` ('log', 'sin' or 'cos': logf, sinf, cosf) of
    each element of a float32 array (flattened), through the numba kernels (which call the
    float versions for float32 arguments)."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty_like(x)
    getattr(_kernels(), name)(x, out)
    return out


def log1p(x: np.ndarray) -> np.ndarray:
    """The C library's log1p of each element (float64, flattened)."""
    return _apply("log1p", x)


def sin(x: np.ndarray) -> np.ndarray:
    """The C library's sin of each element (float64, flattened)."""
    return _apply("sin", x)


def cos(x: np.ndarray) -> np.ndarray:
    """The C library's cos of each element (float64, flattened)."""
    return _apply("cos", x)


def pow(base: float, x: np.ndarray) -> np.ndarray:  # noqa: A001
    """The C library's pow(base, x) for each element of x (float64, flattened)."""
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    base = float(base)
    if x.size <= SMALL or not _vectorised():
        return np.fromiter((math.pow(base, v) for v in x.tolist()), np.float64, x.size)
    out = np.empty_like(x)
    _kernels().pow(base, x, out)
    return out


def fisher_yates(a: np.ndarray, offsets: np.ndarray) -> None:
    """In place: for i in order, swap a[i] with a[i + offsets[i]] (a is 1-D int64)."""
    if offsets.size <= SMALL:
        for i, k in enumerate(offsets.tolist()):
            j = i + k
            a[i], a[j] = a[j], a[i]
        return
    _kernels().fisher_yates(a, offsets)


def inside_out_shuffle(a: np.ndarray, picks: np.ndarray) -> None:
    """In place, the 'inside-out' shuffle: for i in order, a[i] = a[picks[i]];
    a[picks[i]] = i (a is 1-D int64 with at least picks.size elements)."""
    if picks.size <= SMALL:
        for i, j in enumerate(picks.tolist()):
            a[i] = a[j]
            a[j] = i
        return
    _kernels().inside_out(a, picks)
