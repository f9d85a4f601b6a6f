"""Random numbers inside compiled code: `random[shape, dtype, dist]` maps a 64-bit key
(a 0-d int64 input) to a tensor of U[0, 1) or N(0, 1) samples.

Element c is a function of (key, c) only: SplitMix64 (Steele, Lea and Flood, OOPSLA
2014) run as a counter-based generator, so a kernel computes any element without the
others and the numpy rule here and the generated loop give the same numbers. Tracing
supplies a fresh key on every call of the compiled function (`tracer.sampling`): the
op itself is a pure function of its key, which is what lets the passes treat it like
any other op.
"""

from __future__ import annotations

import numpy as np

from compiler import kernels
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Kernel
from compiler.registry import AVal, Op, register

DISTRIBUTIONS = ("uniform", "normal")

_M64 = (1 << 64) - 1


def _random_abstract(key: AVal, shape: tuple[int, ...], dtype: np.dtype, dist: str) -> AVal:
    if key.shape != () or key.dtype != np.int64:
        raise ShapeError(f"random: the key must be a 0-d int64 value, got {key.dtype}{key.shape}")
    if dtype not in (np.float32, np.float64):
        raise DTypeError(f"random: samples are float32 or float64, got {dtype}")
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"random: dist must be one of {DISTRIBUTIONS}, got {dist!r}")
    return AVal(tuple(shape), np.dtype(dtype))


def splitmix64(key: int, counters: np.ndarray) -> np.ndarray:
    """The words splitmix64(key, c) for uint64 `counters` (as the kernel computes them)."""
    m1, m2 = kernels.SPLITMIX_MIX
    z = np.uint64(key & _M64) + (counters + np.uint64(1)) * np.uint64(kernels.SPLITMIX_GAMMA)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(m1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(m2)
    return z ^ (z >> np.uint64(31))


def _random_impl(key: np.ndarray, shape: tuple[int, ...], dtype: np.dtype, dist: str) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    k = int(key) & _M64
    c = np.arange(n, dtype=np.uint64)
    if dist == "uniform":
        z = splitmix64(k, c)
        if dtype == np.float32:
            out = ((z >> np.uint64(40)).astype(np.float64) * 2.0**-24).astype(np.float32)
        else:
            out = (z >> np.uint64(11)).astype(np.float64) * 2.0**-53
    else:
        u = ((splitmix64(k, 2 * c) >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53
        v = (splitmix64(k, 2 * c + np.uint64(1)) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        out = (np.sqrt(-2.0 * np.log(u)) * np.cos(2.0 * np.pi * v)).astype(dtype)
    return out.reshape(shape)


register(
    Op(
        "random",
        _random_abstract,
        _random_impl,
        None,
        lowering=Kernel(kernels.random),
    )
)
