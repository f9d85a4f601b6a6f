"""PyTorch's CPU sampling algorithms on numpy arrays, so a seeded generator gives its numbers.

Each function turns words of a `tracer.random.Generator` into samples exactly as PyTorch's
CPU kernels do (aten/src/ATen/core/DistributionsHelper.h, TransformationHelper.h,
native/cpu/DistributionTemplates.h, native/TensorFactories.cpp, native/Distributions.cpp,
native/cpu/MultinomialKernel.cpp), with the choices those kernels make by size, dtype and
memory layout, and the fused multiply-adds of their compiled code. Measured against
PyTorch 2.13 on x86-64 with AVX2/AVX-512 (tests/tracer/test_random.py).

* Uniform floats: float32 (and float16) keep 24 bits of one 32-bit word, float64 53 bits of
  a 64-bit value (two words); `x * (to - from) + from` is one fused multiply-add.
* Normal: float32 tensors of 16 or more contiguous elements take the vectorised path (uniform
  float32s in blocks of 16, Box-Muller on pairs (i, i + 8) with the AVX2 Cephes log and
  sincos, the last block redrawn when the size is not a multiple of 16); float64 and float16
  tensors of 16 or more contiguous elements the same blocks with the C library's double (or,
  for float16, float) functions; everything else the scalar double Box-Muller with its
  cached second sample.
* Integers `[from, to)`: `(word % range) + from`, with 64-bit values once the range is 2**28
  or more.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from runtime import libm
from tracer._floatmath import fma32, fma64, log_f32, sincos_f32

if TYPE_CHECKING:
    from tracer.random import Generator

__all__ = [
    "bernoulli_scalar",
    "bernoulli_tensor",
    "exponential",
    "fill",
    "multinomial",
    "normal",
    "random_default",
    "random_from_to",
    "random_full_range",
    "randperm",
    "uniform",
]

_TWO_PI = 2.0 * math.pi
_F32_MASK = np.uint32((1 << 24) - 1)
_F64_MASK = np.uint64((1 << 53) - 1)
_RANDPERM_SMALL = (2**32 - 1) // 20  # below this, randperm shuffles with 32-bit words


def _locked(sampler: Callable) -> Callable:
    """Hold the generator's lock for the whole sampler, as PyTorch's kernels hold its mutex:
    another thread's draws cannot interleave with this tensor's."""

    @functools.wraps(sampler)
    def run(gen: Generator, *args: Any) -> Any:
        with gen._lock:
            return sampler(gen, *args)

    return run


# ---- layout -------------------------------------------------------------------------
def _iteration_view(a: np.ndarray) -> np.ndarray:
    """`a` with its axes ordered as PyTorch's TensorIterator walks memory (largest stride
    outermost), so filling the view in C order fills `a` in PyTorch's element order."""
    if a.flags.c_contiguous or a.ndim < 2:
        return a
    order = sorted(range(a.ndim), key=lambda d: -abs(a.strides[d]))
    return a.transpose(order)


def fill(out: np.ndarray, values: Callable[[int], np.ndarray]) -> None:
    """Write `values(out.size)` (a flat array, in sampling order) into `out` in the order
    PyTorch's serial kernels visit its elements."""
    view = _iteration_view(out)
    view[...] = values(out.size).reshape(view.shape)


def iteration_order(a: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The elements of `a` (broadcast to `like`'s shape) flattened in the order `fill`
    visits `like`."""
    b = np.broadcast_to(a, like.shape)
    if like.flags.c_contiguous or like.ndim < 2:
        return b.reshape(-1)
    order = sorted(range(like.ndim), key=lambda d: -abs(like.strides[d]))
    return b.transpose(order).reshape(-1)


# ---- uniform ------------------------------------------------------------------------
def _unit(gen: Generator, n: int, dtype: np.dtype) -> np.ndarray:
    """n uniform values in [0, 1) as PyTorch's uniform_real_distribution makes them: float32
    with 24 random bits for float32 and float16 tensors, float64 with 53 bits else."""
    if dtype == np.float64:
        return (gen.random64(n) & _F64_MASK).astype(np.float64) * 2.0**-53
    return (gen.random32(n) & _F32_MASK).astype(np.float32) * np.float32(2.0**-24)


@_locked
def uniform(gen: Generator, n: int, dtype: np.dtype, low: float, high: float) -> np.ndarray:
    """n samples of U[low, high) in `dtype` (a float dtype)."""
    x = _unit(gen, n, dtype)
    if low == 0 and high == 1:
        return x.astype(dtype, copy=False)
    if dtype == np.float64:
        return fma64(x, high - low, low)
    lo, hi = dtype.type(low), dtype.type(high)
    width = np.float32(dtype.type(np.float32(hi) - np.float32(lo)))  # in dtype arithmetic
    return fma32(x, width, np.float32(lo)).astype(dtype)


# ---- normal -------------------------------------------------------------------------
def _scale(z: np.ndarray, mean: float, std: float, fma: Callable) -> np.ndarray:
    """z * std + mean with one rounding (PyTorch's fused transform)."""
    if mean == 0:
        return z * std + z.dtype.type(0.0)  # (-0 becomes +0, as in the fused form)
    if std == 1:
        return z + z.dtype.type(mean)
    return fma(z, std, mean)


def _serial_normals(gen: Generator, n: int) -> np.ndarray:
    """n standard normals (float64) from the scalar Box-Muller transform: each pair of
    uniform doubles gives r cos(theta), and r sin(theta) is cached for the next call."""
    out = np.empty(n)
    k = 0
    if n and gen.normal_double is not None:
        out[0], gen.normal_double = gen.normal_double, None
        k = 1
    m = n - k
    pairs = (m + 1) // 2
    if pairs:
        u = _unit(gen, 2 * pairs, np.dtype(np.float64)).reshape(pairs, 2)
        r = np.sqrt(-2.0 * libm.log1p(-u[:, 1]))
        theta = _TWO_PI * u[:, 0]
        both = np.empty((pairs, 2))
        both[:, 0] = r * libm.cos(theta)
        both[:, 1] = r * libm.sin(theta)
        out[k:] = both.reshape(-1)[:m]
        if m % 2:
            gen.normal_double = float(both[-1, 1])
    return out


def _box_muller_blocks(u: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """PyTorch's normal_fill_16 on every block of 16 uniforms: element j of a block and
    element j + 8 become r cos(theta) and r sin(theta) of (u1 = 1 - u[j], u2 = u[j + 8]).
    float32 uses the AVX2 Cephes functions, float16 the C library's float functions, float64
    its double ones."""
    blocks = u.reshape(-1, 16)
    u1, u2 = 1 - blocks[:, :8], blocks[:, 8:]
    out = np.empty_like(blocks)
    if dtype == np.float32:
        r = np.sqrt(np.float32(-2.0) * log_f32(u1))
        s, c = sincos_f32(np.float32(_TWO_PI) * u2)
    elif dtype == np.float16:  # in float32 (PyTorch's opmath for half)
        r = np.sqrt(np.float32(-2.0) * libm.float32("log", u1).reshape(u1.shape))
        theta = np.float32(_TWO_PI) * u2
        s = libm.float32("sin", theta).reshape(u2.shape)
        c = libm.float32("cos", theta).reshape(u2.shape)
    else:
        r = np.sqrt(-2.0 * libm.log(u1).reshape(u1.shape))
        theta = (_TWO_PI * u2).reshape(-1)
        s, c = libm.sin(theta).reshape(u2.shape), libm.cos(theta).reshape(u2.shape)
    out[:, :8], out[:, 8:] = r * c, r * s
    return out.reshape(-1)


def _normal_fill(gen: Generator, n: int, dtype: np.dtype) -> np.ndarray:
    """Standard normals (float32 for float32/float16, float64 else) by the vectorised path
    (n >= 16)."""
    unit = np.dtype(np.float64 if dtype == np.float64 else np.float32)
    full = n - n % 16
    out = np.empty(n, unit)
    # PyTorch draws n uniforms (float16: only those of whole blocks), transforms the whole
    # blocks of 16, then draws 16 more for the last 16 elements if n is not a multiple of 16
    drawn = full if dtype == np.float16 else n
    out[:full] = _box_muller_blocks(_unit(gen, drawn, unit)[:full], dtype)
    if n % 16:
        out[n - 16 :] = _box_muller_blocks(_unit(gen, 16, unit), dtype)
    return out


@_locked
def normal(gen: Generator, out: np.ndarray, mean: float, std: float) -> None:
    """Fill `out` (a float array, any layout) with N(mean, std**2) samples, in place."""
    n = out.size
    dtype = out.dtype
    if n >= 16 and out.flags.c_contiguous:
        z = _normal_fill(gen, n, dtype)
        if dtype == np.float64:
            values = _scale(z, mean, std, fma64)
        else:  # float32 arithmetic (float16 too)
            values = _scale(z, np.float32(mean), np.float32(std), fma32)
        out.reshape(-1)[...] = values.astype(dtype, copy=False)
        return
    fill(out, lambda k: _scale(_serial_normals(gen, k), mean, std, fma64).astype(dtype))


# ---- integers -----------------------------------------------------------------------
@_locked
def random_from_to(gen: Generator, n: int, dtype: np.dtype, range_: int, base: int) -> np.ndarray:
    """n integers in [base, base + range_) as `dtype`: word % range_ + base."""
    words = gen.random64(n) if range_ >= 1 << 28 else gen.random32(n).astype(np.uint64)
    v = (words % np.uint64(range_) + np.uint64(base % 2**64)).view(np.int64)
    return v.astype(dtype)


@_locked
def random_full_range(gen: Generator, n: int, dtype: np.dtype) -> np.ndarray:
    """n integers over all of int64 (a 64-bit value read as signed), as `dtype`."""
    return gen.random64(n).view(np.int64).astype(dtype)


@_locked
def random_default(gen: Generator, n: int, dtype: np.dtype) -> np.ndarray:
    """`random_()` without bounds: [0, 2**digits] for float dtypes (digits of the mantissa,
    inclusive), [0, max] for integer dtypes, {False, True} for bool."""
    if dtype == np.bool_:
        return (gen.random32(n) & np.uint32(1)).astype(np.bool_)
    if dtype == np.int64:
        return (gen.random64(n) & np.uint64(2**63 - 1)).astype(np.int64)
    if dtype == np.float64:
        return (gen.random64(n) % np.uint64(2**53 + 1)).astype(np.float64)
    if dtype.kind == "f":
        digits = np.finfo(dtype).nmant + 1
        return (gen.random32(n) % np.uint32(2**digits + 1)).astype(dtype)
    top = int(np.iinfo(dtype).max) + 1
    return (gen.random32(n) % np.uint32(top)).astype(dtype)


# ---- other distributions ------------------------------------------------------------
@_locked
def exponential(gen: Generator, n: int, dtype: np.dtype, lambd: float) -> np.ndarray:
    """n samples of Exp(lambd): (-1 / lambd) * log1p(-u) for uniform doubles u."""
    u = _unit(gen, n, np.dtype(np.float64))
    return ((-1.0 / lambd) * libm.log1p(-u)).astype(dtype)


@_locked
def bernoulli_scalar(gen: Generator, n: int, dtype: np.dtype, p: float) -> np.ndarray:
    """n draws of (u < p) for uniform doubles u, as `dtype`."""
    return (_unit(gen, n, np.dtype(np.float64)) < p).astype(dtype)


@_locked
def bernoulli_tensor(gen: Generator, p: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """One draw of (u < p[i]) per element of the flat float array `p`: u a uniform double for
    float64 p, a uniform float otherwise."""
    unit = np.dtype(np.float64 if p.dtype == np.float64 else np.float32)
    return (_unit(gen, p.size, unit) < p.astype(unit, copy=False)).astype(dtype)


@_locked
def randperm(gen: Generator, n: int) -> np.ndarray:
    """A random permutation of range(n) (int64): Fisher-Yates with 32-bit words below
    2**32 / 20 elements, the inside-out variant with 64-bit values above."""
    if n < _RANDPERM_SMALL:
        a = np.arange(n, dtype=np.int64)
        if n > 1:
            offsets = gen.random32(n - 1).astype(np.int64) % np.arange(n, 1, -1)
            libm.fisher_yates(a, offsets)
        return a
    a = np.empty(n, dtype=np.int64)
    picks = (gen.random64(n) % np.arange(1, n + 1, dtype=np.uint64)).astype(np.int64)
    libm.inside_out_shuffle(a, picks)
    return a


@_locked
def multinomial(gen: Generator, probs: np.ndarray, n_sample: int, replacement: bool) -> np.ndarray:
    """Category indices (int64, shape (rows, n_sample)) for the rows of the 2-D float array
    `probs` (checked by the caller: finite, non-negative, each row with a positive sum).

    Without replacement, or for one sample: the exponential race, argmax/top-k of
    p / q with q ~ Exp(1) drawn for every element. With replacement: per row, a binary
    search of uniform doubles in the normalised cumulative sums (last bucket set to 1)."""
    rows, cats = probs.shape
    if not replacement or n_sample == 1:
        q = exponential(gen, probs.size, probs.dtype, 1.0).reshape(probs.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            keys = probs / q
        # largest first; ties (zero-probability categories) in index order
        return np.argsort(-keys, axis=1, kind="stable")[:, :n_sample].astype(np.int64)
    acc = np.float32 if probs.dtype == np.float16 else probs.dtype
    out = np.empty((rows, n_sample), np.int64)
    for i in range(rows):
        cum = np.cumsum(probs[i].astype(acc))  # sequential, in the accumulation dtype
        cum = cum / cum[-1]
        cum[-1] = 1
        u = _unit(gen, n_sample, np.dtype(np.float64))
        out[i] = np.searchsorted(cum.astype(np.float64), u, side="left")
    return out
