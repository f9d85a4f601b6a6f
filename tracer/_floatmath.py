"""Floating point helpers that reproduce PyTorch's CPU arithmetic bit for bit, on numpy arrays.

* `fma32`, `fma64`: fused multiply-add (one rounding). PyTorch's CPU kernels are compiled
  with FMA contraction, so `x * y + z` in its C++ is often one fused operation; numpy has no
  fma, so it is emulated exactly: in float64 for float32 operands (the product is exact and
  the sum is rounded to odd before the final rounding to float32), and with error-free
  transformations for float64 (Boldo and Melquiond, "Emulation of FMA and correctly rounded
  sums: proved algorithms using rounding to odd", IEEE Trans. Computers 57(4), 2008).
  Both assume no overflow and results outside the subnormal range, which holds for the
  random-number transforms that use them.
* `log_f32`, `sincos_f32`: the float32 logarithm and sine/cosine that PyTorch's vectorised
  normal sampler uses on x86 CPUs with AVX2 (a port of the Cephes single precision
  algorithms: range reduction, then minimax polynomials with Cephes' coefficients,
  evaluated in float32 with the same operation order and the same fused steps). They are
  accurate to a few ulp on the sampler's inputs, (0, 1] for log and [0, 2 pi) for sincos.
"""

from __future__ import annotations

import numpy as np

_F32 = np.float32


def fma32(a: np.ndarray, b: np.ndarray | float, c: np.ndarray | float) -> np.ndarray:
    """a * b + c with one rounding, for float32 arrays (or float32 scalars) a, b, c."""
    p = np.asarray(a, np.float32).astype(np.float64) * np.asarray(b, np.float32).astype(np.float64)
    c64 = np.asarray(c, np.float32).astype(np.float64)
    s = np.asarray(p + c64)  # p is exact (24 + 24 bits); the sum is rounded once, to float64
    # Rounding s to float32 is a second rounding; it can only be wrong when s lies exactly
    # halfway between two float32 numbers (its 29 bits below float32 precision are 1000...0).
    halfway = (s.view(np.uint64) & _LOW29) == _HALFWAY
    if halfway.any():
        # there, round s to odd: if the float64 sum was inexact, step to the neighbour whose
        # last bit is odd, towards the exact value; rounding that to float32 is correct
        at = np.nonzero(halfway)
        pi, ci, si = np.broadcast_to(p, s.shape)[at], np.broadcast_to(c64, s.shape)[at], s[at]
        bb = si - pi
        err = (pi - (si - bb)) + (ci - bb)
        s[at] = np.where(err != 0, np.nextafter(si, np.where(err > 0, np.inf, -np.inf)), si)
    return s.astype(np.float32)


_LOW29 = np.uint64((1 << 29) - 1)
_HALFWAY = np.uint64(1 << 28)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = a * b
    split = 134217729.0  # 2**27 + 1 (Veltkamp)
    ta, tb = split * a, split * b
    ah, bh = ta - (ta - a), tb - (tb - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def fma64(a: np.ndarray, b: np.ndarray | float, c: np.ndarray | float) -> np.ndarray:
    """a * b + c with one rounding, for float64 arrays (or scalars) a, b, c."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, c)))
    uh, ul = _two_prod(a, b)
    th, tl = _two_sum(c, uh)
    v, err = _two_sum(tl, ul)
    odd = (v.view(np.uint64) & np.uint64(1)) == 1
    v = np.where((err != 0) & ~odd, np.nextafter(v, np.where(err > 0, np.inf, -np.inf)), v)
    return th + v


# ---- Cephes single precision log and sincos ------------------------------------------
_LOG_P = tuple(
    _F32(v)
    for v in (
        7.0376836292e-2,
        -1.1514610310e-1,
        1.1676998740e-1,
        -1.2420140846e-1,
        1.4249322787e-1,
        -1.6668057665e-1,
        2.0000714765e-1,
        -2.4999993993e-1,
        3.3333331174e-1,
    )
)
_LOG_Q1 = _F32(-2.12194440e-4)
_LOG_Q2 = _F32(0.693359375)
_SQRTHF = _F32(0.707106781186547524)
_HALF = _F32(0.5)
_ONE = _F32(1.0)
_MIN_NORM = np.array(0x00800000, np.int32).view(np.float32)


def log_f32(x: np.ndarray) -> np.ndarray:
    """Natural log of positive float32 values, as PyTorch's AVX2 normal sampler computes it
    (NaN for x <= 0)."""
    x = np.asarray(x, np.float32)
    invalid = x <= 0
    x = np.maximum(x, _MIN_NORM)
    bits = x.view(np.int32)
    # x = m * 2**e with m in [0.5, 1); if m < sqrt(1/2) use 2m - 1 and e - 1, else m - 1
    e = ((bits >> 23) - 0x7F).astype(np.float32) + _ONE
    m = ((bits & ~0x7F800000) | _HALF.view(np.int32)).view(np.float32)
    small = m < _SQRTHF
    e = e - np.where(small, _ONE, _F32(0))
    f = (m - _ONE) + np.where(small, m, _F32(0))
    z = f * f
    y = np.full_like(f, _LOG_P[0])
    for p in _LOG_P[1:]:
        y = fma32(y, f, p)
    y = y * f
    y = fma32(y, z, e * _LOG_Q1)  # the first product is the fused one
    y = y - z * _HALF
    f = f + y
    f = fma32(e, _LOG_Q2, f)
    return np.where(invalid, np.float32(np.nan), f)


_FOPI = _F32(1.27323954473516)  # 4 / pi
_DP = (_F32(-0.78515625), _F32(-2.4187564849853515625e-4), _F32(-3.77489497744594108e-8))
_COS_P = (_F32(2.443315711809948e-5), _F32(-1.388731625493765e-3), _F32(4.166664568298827e-2))
_SIN_P = (_F32(-1.9515295891e-4), _F32(8.3321608736e-3), _F32(-1.6666654611e-1))


def sincos_f32(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sin x, cos x) of float32 values, as PyTorch's AVX2 normal sampler computes them."""
    x = np.asarray(x, np.float32)
    sign_sin = np.signbit(x)
    x = np.abs(x)
    # octant j (rounded up to even) and x reduced by j * pi/4 in three exact-ish steps
    j = (x * _FOPI).astype(np.int32)
    j = (j + 1) & ~1
    y = j.astype(np.float32)
    sign_sin = sign_sin ^ ((j & 4) != 0)
    sign_cos = (~(j - 2) & 4) != 0
    use_sin_poly = (j & 2) == 0
    for dp in _DP:
        x = fma32(y, dp, x)
    z = x * x
    yc = np.full_like(x, _COS_P[0])
    yc = fma32(yc, z, _COS_P[1])
    yc = fma32(yc, z, _COS_P[2])
    yc = yc * z
    yc = fma32(yc, z, -(z * _HALF))
    yc = yc + _ONE
    ys = np.full_like(x, _SIN_P[0])
    ys = fma32(ys, z, _SIN_P[1])
    ys = fma32(ys, z, _SIN_P[2])
    ys = ys * z
    ys = fma32(ys, x, x)
    s = np.where(use_sin_poly, ys, yc)
    c = np.where(use_sin_poly, yc, ys)
    return np.where(sign_sin, -s, s), np.where(sign_cos, -c, c)
