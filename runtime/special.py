"""Special functions: erf, erfc, erfinv, lgamma, digamma and polygamma.

numpy has none of them and scipy is not a dependency, so each is written here twice:
a vectorised numpy version (eager mode and the reference interpreter call it on whole
arrays) and a numba scalar version (generated kernels call it per element). Both
compute in float64; a float32 result is the float64 one rounded. The compiled erf,
erfc and lgamma are the C library's (`math.erf`, ...); the rest are our own, as scalar
ports of the numpy algorithms below.

Methods (all errors are measured against mpmath by tests/runtime/test_special.py):

* erf(x), |x| < 1: its Maclaurin series, x * P(x**2) (20 terms).
* erfc(x), x >= 0.5: exp(-x**2) * R(x), R(x) = exp(x**2) erfc(x) being smooth. R is
  a Chebyshev series in x on [0.5, 2] and x * R(x) one in t = 1/x on [2, 28] (beyond
  28 erfc underflows). The coefficients are our own (mpmath, 50 digits, at 96
  Chebyshev nodes; the tests recompute them). exp(-x**2) is taken from x split into
  a 26-bit head h and a tail: x**2 = h*h + (x - h)(x + h) with h*h exact, so its
  rounding does not grow with x (plain exp(-x*x) loses x**2 ulps).
  Elsewhere: erf = 1 - erfc, erfc = 1 - erf, or the reflections erf(-x) = -erf(x),
  erfc(-x) = 2 - erfc(x).
* erfinv(y): a first guess (|y| <= 0.5: the Maclaurin series of erfinv, its
  coefficients from their recurrence; else the asymptotic x**2 ~ -log(q) - log(sqrt(pi)
  x) with q = 1 - |y|, exact), then three Halley steps on erf(x) = y (or, for |y| >
  0.5, on erfc(x) = q, which keeps the tail's relative accuracy).
* lgamma(x): the Taylor series of lgamma(2 + z) (coefficients psi^(k-1)(2) / k!, from
  polygamma below) for -3/4 <= z < 1/2, reached from x in [-1/2, 5/2) by lgamma(x) =
  lgamma(x + 1) - log|x| where that keeps z in range, and from x < 10 by the
  recurrence downwards; Stirling's series (8 terms) from 10 up; the reflection
  formula below -1/2.
* digamma(x): the Taylor series about its positive root x0 (in double-double) on
  [1, 2], which keeps the relative accuracy near the root, reached by psi(x) = psi(x -
  1) + 1/(x - 1) (and psi(x) = psi(x + 1) - 1/x below 1); the asymptotic series (10
  terms) from 10 up; the reflection psi(x) = psi(1 - x) - pi cot(pi x) for x < 0.
* polygamma(n, x), n >= 1: the recurrence upwards to x >= 10 + 2n (its terms summed
  from the smallest), then the asymptotic series (20 terms); for x < 0 the reflection
  formula, differentiated n times:
  psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) P_n(cot(pi x)) with P_0(c) = c,
  P_(k+1)(c) = -(1 + c^2) P_k'(c).

Special values follow PyTorch's: erfinv(+-1) = +-inf; lgamma is +inf at 0, at the
negative integers and at +-inf; digamma(+0) = -inf, digamma(-0) = +inf, nan at the
negative integers and at -inf. Where PyTorch's polygamma is not the limit (n >= 2 at
+inf, where it gives nan; n = 1 at the negative integers, a large finite number), this
gives the limit: 0 at +inf, inf at the poles of odd n; a pole of even n is -inf at +0,
+inf at -0 (as digamma) and nan at the negative integers (no limit); -inf gives nan.

Near the roots of lgamma and of polygamma(2k) on the negative axis the reflection
loses relative (not absolute) accuracy, as every implementation we compared does.

This module knows numpy and numba only.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np

__all__ = [
    "digamma",
    "digamma_scalar",
    "erf",
    "erfc",
    "erfinv",
    "erfinv_scalar",
    "POLYGAMMA_MAX_N",
    "lgamma",
    "polygamma",
    "polygamma_scalar",
]

_PI = 3.141592653589793
_TWO_OVER_SQRT_PI = 1.1283791670955126
_SQRT_PI = 1.772453850905516
_SQRT_PI_OVER_2 = 0.886226925452758
_HALF_LOG_2PI = 0.9189385332046728
_EULER = 0.5772156649015329
_PSI_2 = 0.42278433509846713  # psi(2) = 1 - euler, correctly rounded
# the positive root of digamma, as a double-double
_X0_HI = 1.4616321449683622
_X0_LO = 9.549995429965697e-17


def _bernoulli(count: int) -> list[Fraction]:
    """B_0 .. B_(count-1), from sum_(k<=m) C(m+1, k) B_k = 0."""
    b = [Fraction(1)]
    for m in range(1, count):
        b.append(-sum(math.comb(m + 1, k) * b[k] for k in range(m)) / (m + 1))
    return b


_B = _bernoulli(44)

# ---- erf, erfc (numpy) ---------------------------------------------------------------

# erf(x) = x * sum_n a_n x**(2n), a_n = 2/sqrt(pi) (-1)^n / (n! (2n + 1)); 20 terms reach
# 2**-60 at |x| = 1
_ERF_SERIES = np.array(
    [
        _TWO_OVER_SQRT_PI * float(Fraction((-1) ** n, math.factorial(n) * (2 * n + 1)))
        for n in range(20)
    ]
)
# exp(x**2) erfc(x) on [0.5, 2], in s = (4x - 5) / 3
_ERFC_NEAR = np.array(
    [
        0.4006822530639845,
        -0.17395587897748596,
        0.03383702540740585,
        -0.006032263577025819,
        0.001000274118215681,
        -0.0001558965252433288,
        2.3014442396758424e-05,
        -3.2375421924541957e-06,
        4.360702485858127e-07,
        -5.645684833789816e-08,
        7.048623263203286e-09,
        -8.509612327566787e-10,
        9.957554366871612e-11,
        -1.1316613855047257e-11,
        1.2513369992930791e-12,
        -1.3483678086194079e-13,
        1.4178345509581745e-14,
        -1.4566964654246537e-15,
        1.4639564848603663e-16,
        -1.4406081509350508e-17,
        1.3893934243911832e-18,
    ]
)
# x exp(x**2) erfc(x) on [2, 28], in s = (56 / x - 15) / 13 (t = 1/x on [1/28, 1/2])
_ERFC_FAR = np.array(
    [
        0.5415695836472522,
        -0.027137389683570268,
        -0.004252473326142948,
        0.0006279229338492157,
        -7.79594768413965e-06,
        -1.00693117989609e-05,
        1.6291704000622734e-06,
        -2.3105561847778943e-08,
        -3.9379201126235014e-08,
        8.17352054154776e-09,
        -4.118027269018506e-10,
        -1.8902978212762304e-10,
        5.75097082367735e-11,
        -6.360256423546284e-12,
        -7.412971656615529e-13,
        4.551653922422933e-13,
        -8.749679956348142e-14,
        3.128060648713669e-15,
        3.232928730202259e-15,
        -1.0789014530184997e-15,
        1.555571806980869e-16,
        8.688819905202304e-18,
        -1.0886101122560207e-17,
        2.944096388159902e-18,
        -3.376134458683944e-19,
    ]
)
_ERFC_ZERO = 28.0  # erfc(x) < 2**-1074 / 2 above this


def _clenshaw(c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """sum_k c[k] T_k(s), by Clenshaw's recurrence."""
    b1 = np.zeros_like(s)
    b2 = np.zeros_like(s)
    s2 = 2 * s
    for ck in c[:0:-1]:
        b1, b2 = s2 * b1 - b2 + ck, b1
    return s * b1 - b2 + c[0]


def _horner(c: np.ndarray, t: np.ndarray) -> np.ndarray:
    """sum_k c[k] t**k."""
    p = np.full_like(t, c[-1])
    for ck in c[-2::-1]:
        p = p * t + ck
    return p


def _exp_neg_square(x: np.ndarray) -> np.ndarray:
    """exp(-x*x) with x*x taken exactly as h*h + (x - h)(x + h), h = x to 26 bits."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    h = (x.view(np.int64) & np.int64(~((1 << 27) - 1))).view(np.float64)
    return np.exp(-(h * h)) * np.exp(-((x - h) * (x + h)))


def _erf_small(x: np.ndarray) -> np.ndarray:
    return x * _horner(_ERF_SERIES, x * x)


def _erfc_large(x: np.ndarray) -> np.ndarray:
    """erfc(x) for x >= 0.5 (0 from 28 up; nan stays nan)."""
    out = np.zeros_like(x)
    near = x < 2
    if near.any():
        v = x[near]
        out[near] = _exp_neg_square(v) * _clenshaw(_ERFC_NEAR, (4 * v - 5) / 3)
    far = (x >= 2) & (x < _ERFC_ZERO)
    if far.any():
        v = x[far]
        out[far] = _exp_neg_square(v) * _clenshaw(_ERFC_FAR, (56 / v - 15) / 13) / v
    out[np.isnan(x)] = np.nan
    return out


def _in_float64(fn):  # type: ignore[no-untyped-def]
    """`fn` computes in float64 on arrays of at least one dimension; the result has the
    input's floating dtype (float64 for integers) and shape."""

    def wrapped(x: np.ndarray, *args: object) -> np.ndarray:
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        wide = np.array(x, dtype=np.float64, ndmin=1)
        with np.errstate(all="ignore"):
            out = fn(wide, *args)
        return out.reshape(x.shape).astype(dtype, copy=False)

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


@_in_float64
def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise (accurate to about 1 ulp)."""
    a = np.abs(x)
    out = np.empty_like(x)
    small = a < 1
    out[small] = _erf_small(x[small])
    big = ~small
    out[big] = np.copysign(1 - _erfc_large(a[big]), x[big])
    return out


@_in_float64
def erfc(x: np.ndarray) -> np.ndarray:
    """The complementary error function 1 - erf(x), elementwise, accurate to a few ulps
    in relative terms (also where it underflows towards 0)."""
    out = np.empty_like(x)
    mid = (x > -1) & (x < 0.5)
    out[mid] = 1 - _erf_small(x[mid])
    right = x >= 0.5
    out[right] = _erfc_large(x[right])
    left = x <= -1
    out[left] = 2 - _erfc_large(-x[left])
    out[np.isnan(x)] = np.nan
    return out


# ---- erfinv (numpy) --------------------------------------------------------------------


def _erfinv_series(count: int) -> np.ndarray:
    """erfinv(y) = sum_k c_k / (2k + 1) (sqrt(pi) y / 2)**(2k + 1): the c_k / (2k + 1)
    from c_0 = 1, c_k = sum_m c_m c_(k-1-m) / ((m + 1)(2m + 1))."""
    c = [Fraction(1)]
    for k in range(1, count):
        c.append(sum(c[m] * c[k - 1 - m] / ((m + 1) * (2 * m + 1)) for m in range(k)))
    return np.array([float(ck / (2 * k + 1)) for k, ck in enumerate(c)])


_ERFINV_SERIES = _erfinv_series(10)


def _halley(x: np.ndarray, residual: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """One Halley step for erf(x) = y or erfc(x) = q (both have f'' = -2x f')."""
    r = residual / slope
    return x - r / (1 + x * r)


@_in_float64
def erfinv(y: np.ndarray) -> np.ndarray:
    """The inverse of erf on [-1, 1], elementwise (+-inf at +-1, nan outside)."""
    a = np.abs(y)
    x = np.full_like(y, np.nan)
    central = a <= 0.5
    if central.any():
        v = a[central]
        u = _SQRT_PI_OVER_2 * v
        g = u * _horner(_ERFINV_SERIES, u * u)
        for _ in range(3):
            g = _halley(g, erf(g) - v, _TWO_OVER_SQRT_PI * np.exp(-g * g))
        x[central] = g
    tail = (a > 0.5) & (a < 1)
    if tail.any():
        q = 1 - a[tail]  # exact (Sterbenz)
        w = -np.log(q)
        g = np.sqrt(w)
        for _ in range(2):
            g = np.sqrt(w - np.log(_SQRT_PI * g))
        for _ in range(3):
            g = _halley(g, erfc(g) - q, -_TWO_OVER_SQRT_PI * np.exp(-g * g))
        x[tail] = g
    x[a == 1] = np.inf
    return np.copysign(x, y)


# ---- polygamma, digamma, lgamma (numpy) -------------------------------------------------


def _cot_pi(x: np.ndarray) -> np.ndarray:
    """cot(pi x) without the rounding of pi x near the half-integers: x is reduced to r
    in [-1/2, 1/2] exactly, and cot(pi r) = sign(r) tan(pi (1/2 - |r|)) for |r| > 1/4."""
    r = x - np.round(x)
    near = np.abs(r) > 0.25
    out = np.empty_like(r)
    out[~near] = 1 / np.tan(_PI * r[~near])
    rn = r[near]
    out[near] = np.copysign(np.tan(_PI * (0.5 - np.abs(rn))), rn)
    return out


def _reflection_polynomial(n: int) -> list[int]:
    """Coefficients (lowest first) of P_n: d^n/dx^n cot(pi x) = pi^n P_n(cot(pi x))."""
    p = [0, 1]
    for _ in range(n):
        dp = [k * p[k] for k in range(1, len(p))] + [0, 0]
        # -(1 + c^2) P'(c)
        p = [-(dp[k] + (dp[k - 2] if k >= 2 else 0)) for k in range(len(dp))]
        while len(p) > 1 and p[-1] == 0:
            p.pop()
    return p


def _asymptotic_coefficients(n: int) -> np.ndarray:
    """psi^(n)(y) ~ (-1)^(n+1) y^-n [(n-1)! + n!/(2y) + sum_k d_k y^(-2k)]: the d_k,
    B_2k (2k + n - 1)! / (2k)!, k = 1..20."""
    return np.array(
        [
            float(_B[2 * k] * math.factorial(2 * k + n - 1) / math.factorial(2 * k))
            for k in range(1, 21)
        ]
    )


def _polygamma_positive(n: int, x: np.ndarray) -> np.ndarray:
    """psi^(n)(x) for n >= 1 and x > 0 (finite)."""
    top = 10.0 + 2 * n
    steps = np.maximum(np.ceil(top - x), 0)  # terms of the recurrence, to y = x + steps >= top
    acc = np.zeros_like(x)
    for k in range(int(steps.max(initial=0)) - 1, -1, -1):  # the smallest terms first
        acc += np.where(k < steps, (x + k) ** -(n + 1.0), 0.0)
    y = x + steps
    d = _asymptotic_coefficients(n)
    inv2 = 1 / (y * y)
    tail = math.factorial(n - 1) + math.factorial(n) / (2 * y) + inv2 * _horner(d, inv2)
    sign = 1.0 if n % 2 else -1.0
    return sign * (math.factorial(n) * acc + tail * y ** (-float(n)))


def _digamma_positive(x: np.ndarray) -> np.ndarray:
    """psi(x) for x > 0 (finite)."""
    out = np.empty_like(x)
    big = x >= 10
    v = x[big]
    inv2 = 1 / (v * v)
    out[big] = np.log(v) - 0.5 / v - inv2 * _horner(_DIGAMMA_ASYMPTOTIC, inv2)
    small = ~big
    v = x[small]
    # move v into [1, 2): psi(v) = psi(v + 1) - 1/v below 1, psi(v) = psi(v - 1) + 1/(v - 1)
    # above; the shifts are exact (v < 10)
    below = v < 1
    shift = np.where(below, -1 / v, 0.0)
    w = np.where(below, v + 1, v)
    for _ in range(9):
        up = w >= 2
        if not up.any():
            break
        w = np.where(up, w - 1, w)
        shift = shift + np.where(up, 1 / np.where(up, w, 1), 0.0)
    z = (w - _X0_HI) - _X0_LO
    out[small] = z * _horner(_DIGAMMA_ROOT, z) + shift
    return out


@_in_float64
def digamma(x: np.ndarray) -> np.ndarray:
    """psi(x) = d/dx lgamma(x), elementwise."""
    out = np.empty_like(x)
    finite = np.isfinite(x)
    pos = finite & (x > 0)
    out[pos] = _digamma_positive(x[pos])
    neg = finite & (x < 0) & (x != np.floor(x))
    v = x[neg]
    out[neg] = _digamma_positive(1 - v) - _PI * _cot_pi(v)
    out[(x <= 0) & (x == np.floor(x))] = np.nan  # the negative integers and -inf
    zero = x == 0
    out[zero] = np.copysign(np.inf, -x[zero])  # -inf at +0, +inf at -0
    out[x == np.inf] = np.inf
    out[np.isnan(x)] = np.nan
    return out


def polygamma(n: int, x: np.ndarray) -> np.ndarray:
    """psi^(n)(x), the n-th derivative of digamma, elementwise (n >= 0)."""
    if n == 0:
        return digamma(x)
    return _polygamma(x, n)


@_in_float64
def _polygamma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.empty_like(x)
    finite = np.isfinite(x)
    pos = finite & (x > 0)
    out[pos] = _polygamma_positive(n, x[pos])
    neg = finite & (x < 0) & (x != np.floor(x))
    if neg.any():
        v = x[neg]
        p = _reflection_polynomial(n)
        c = _cot_pi(v)
        poly = _horner(np.array(p, dtype=np.float64), c)
        out[neg] = (-1) ** n * _polygamma_positive(n, 1 - v) - _PI ** (n + 1) * poly
    odd = n % 2 == 1
    out[(x < 0) & (x == np.floor(x))] = np.inf if odd else np.nan
    out[x == -np.inf] = np.nan
    zero = x == 0
    out[zero] = np.inf if odd else np.copysign(np.inf, -x[zero])
    out[x == np.inf] = 0.0 if odd else -0.0
    out[np.isnan(x)] = np.nan
    return out


def _lgamma_series(count: int) -> np.ndarray:
    """lgamma(2 + z) = sum_(k>=1) psi^(k-1)(2) / k! z^k: the coefficients, k = 1..count."""
    c = [_PSI_2]
    two = np.array([2.0])
    for k in range(2, count + 1):
        c.append(float(_polygamma_positive(k - 1, two)[0]) / math.factorial(k))
    return np.array(c)


def _lgamma_near_two(z: np.ndarray) -> np.ndarray:
    """lgamma(2 + z) for -3/4 <= z <= 1/2."""
    return z * _horner(_LGAMMA_TWO, z)


def _lgamma_positive(x: np.ndarray) -> np.ndarray:
    """lgamma(x) for x >= -1/2, x != 0 (finite)."""
    out = np.empty_like(x)
    big = x >= 10
    v = x[big]
    inv2 = 1 / (v * v)
    out[big] = (v - 0.5) * (np.log(v) - 1) + (_HALF_LOG_2PI - 0.5) + _horner(_STIRLING, inv2) / v
    low = x < 0.5
    v = x[low]  # lgamma(v) = lgamma(2 + v) - log1p(v) - log|v|
    out[low] = _lgamma_near_two(v) - np.log1p(v) - np.log(np.abs(v))
    one = (x >= 0.5) & (x < 1.25)
    v = x[one]  # lgamma(v) = lgamma(2 + (v - 1)) - log(v)
    out[one] = _lgamma_near_two(v - 1) - np.log1p(v - 1)
    two = (x >= 1.25) & (x < 1.5)
    out[two] = _lgamma_near_two(x[two] - 2)
    mid = (x >= 1.5) & (x < 10)
    v = x[mid]
    shift = np.floor(v - 1.5)  # 0..8 steps down to [1.5, 2.5)
    base = v - shift
    prod = np.ones_like(v)
    for k in range(1, 9):
        prod = np.where(shift >= k, prod * (v - k), prod)
    out[mid] = _lgamma_near_two(base - 2) + np.log(prod)
    return out


@_in_float64
def lgamma(x: np.ndarray) -> np.ndarray:
    """log|Gamma(x)|, elementwise (+inf at 0, the negative integers and +-inf)."""
    out = np.empty_like(x)
    finite = np.isfinite(x)
    pos = finite & (x >= -0.5) & (x != 0)
    out[pos] = _lgamma_positive(x[pos])
    neg = finite & (x < -0.5) & (x != np.floor(x))
    v = x[neg]
    r = v - np.round(v)
    sin_pi = np.abs(np.sin(_PI * r))
    out[neg] = np.log(_PI / sin_pi) - _lgamma_positive(1 - v)
    out[(x <= 0) & (x == np.floor(x))] = np.inf  # 0, the negative integers and -inf
    out[x == np.inf] = np.inf
    out[np.isnan(x)] = np.nan
    return out


# psi(x) ~ log x - 1/(2x) - sum_k B_2k / (2k x^2k), k = 1..10, as a polynomial in 1/x^2
_DIGAMMA_ASYMPTOTIC = np.array([float(_B[2 * k] / (2 * k)) for k in range(1, 11)])
# lgamma(x) ~ (x - 1/2) log x - x + log(2 pi)/2 + sum_k B_2k / (2k (2k - 1) x^(2k-1)),
# k = 1..8, as (1/x) * a polynomial in 1/x^2
_STIRLING = np.array([float(_B[2 * k] / (2 * k * (2 * k - 1))) for k in range(1, 9)])
# psi(x0 + z) = sum_k psi^(k)(x0) / k! z^k, k = 1..40 (|z| <= 0.54, radius 1.46)
_DIGAMMA_ROOT = np.array(
    [float(_polygamma_positive(k, np.array([_X0_HI]))[0]) / math.factorial(k) for k in range(1, 41)]
)
_LGAMMA_TWO = _lgamma_series(42)  # (3/8)**42 / 42 < 2**-64


# ---- numba scalar versions (generated kernels call these per element) ---------------------

# Without fast-math: `reassoc` would fold the double-double (w - X0_HI) - X0_LO into
# w - X0_HI, and `afn` would allow approximate logs. The flags are per instruction, so
# they still hold once LLVM inlines these into a kernel compiled with FASTMATH.
_scalar = numba.njit(error_model="numpy")


@_scalar
def _horner_scalar(c, t):  # type: ignore[no-untyped-def]
    p = c[-1]
    for k in range(len(c) - 2, -1, -1):
        p = p * t + c[k]
    return p


@_scalar
def _cot_pi_scalar(x):  # type: ignore[no-untyped-def]
    r = x - np.round(x)
    if abs(r) <= 0.25:
        return 1.0 / math.tan(_PI * r)
    return math.copysign(math.tan(_PI * (0.5 - abs(r))), r)


@_scalar
def erfinv_scalar(y):  # type: ignore[no-untyped-def]
    """erfinv of a float64 (see `erfinv`)."""
    a = abs(y)
    if not a <= 1.0:
        return math.nan
    if a == 1.0:
        return math.copysign(math.inf, y)
    if a <= 0.5:
        u = _SQRT_PI_OVER_2 * a
        g = u * _horner_scalar(_ERFINV_SERIES, u * u)
        for _ in range(3):
            r = (math.erf(g) - a) / (_TWO_OVER_SQRT_PI * math.exp(-g * g))
            g = g - r / (1.0 + g * r)
    else:
        q = 1.0 - a
        w = -math.log(q)
        g = math.sqrt(w)
        for _ in range(2):
            g = math.sqrt(w - math.log(_SQRT_PI * g))
        for _ in range(3):
            r = (math.erfc(g) - q) / (-_TWO_OVER_SQRT_PI * math.exp(-g * g))
            g = g - r / (1.0 + g * r)
    return math.copysign(g, y)


@_scalar
def _digamma_positive_scalar(x):  # type: ignore[no-untyped-def]
    if x >= 10.0:
        inv2 = 1.0 / (x * x)
        return math.log(x) - 0.5 / x - inv2 * _horner_scalar(_DIGAMMA_ASYMPTOTIC, inv2)
    shift = 0.0
    w = x
    if w < 1.0:
        shift = -1.0 / w
        w = w + 1.0
    while w >= 2.0:
        w = w - 1.0
        shift = shift + 1.0 / w
    z = (w - _X0_HI) - _X0_LO
    return z * _horner_scalar(_DIGAMMA_ROOT, z) + shift


@_scalar
def digamma_scalar(x):  # type: ignore[no-untyped-def]
    """digamma of a float64 (see `digamma`)."""
    if x != x:
        return x
    if x == math.inf:
        return math.inf
    if x == 0.0:
        return -math.copysign(math.inf, x)
    if x < 0.0:
        if x == math.floor(x):  # the negative integers and -inf
            return math.nan
        return _digamma_positive_scalar(1.0 - x) - _PI * _cot_pi_scalar(x)
    return _digamma_positive_scalar(x)


_FACTORIALS = np.array([float(math.factorial(k)) for k in range(171)])
# the d_k of `_asymptotic_coefficients` and the P_n of the reflection, one row per n
#: the largest order the compiled polygamma supports
POLYGAMMA_MAX_N = 64
_ASYMPTOTIC_TABLE = np.array([_asymptotic_coefficients(n) for n in range(1, POLYGAMMA_MAX_N + 1)])
_REFLECTION_TABLE = np.zeros((POLYGAMMA_MAX_N + 1, POLYGAMMA_MAX_N + 2))
for _n in range(POLYGAMMA_MAX_N + 1):
    _p = _reflection_polynomial(_n)
    _REFLECTION_TABLE[_n, : len(_p)] = _p


@_scalar
def _polygamma_positive_scalar(n, x):  # type: ignore[no-untyped-def]
    top = 10.0 + 2 * n
    steps = max(math.ceil(top - x), 0)
    acc = 0.0
    for k in range(steps - 1, -1, -1):  # the smallest terms first
        acc += (x + k) ** -(n + 1.0)
    y = x + steps
    inv2 = 1.0 / (y * y)
    d = _ASYMPTOTIC_TABLE[n - 1]
    tail = _FACTORIALS[n - 1] + _FACTORIALS[n] / (2.0 * y) + inv2 * _horner_scalar(d, inv2)
    sign = 1.0 if n % 2 == 1 else -1.0
    return sign * (_FACTORIALS[n] * acc + tail * y ** (-float(n)))


@_scalar
def polygamma_scalar(n, x):  # type: ignore[no-untyped-def]
    """polygamma(n, x) of a float64, 1 <= n <= POLYGAMMA_MAX_N (see `polygamma`)."""
    odd = n % 2 == 1
    if x != x:
        return x
    if x == math.inf:
        return 0.0 if odd else -0.0
    if x == 0.0:
        return math.inf if odd else math.copysign(math.inf, -x)
    if x < 0.0:
        if x == math.floor(x):
            return math.inf if odd and x != -math.inf else math.nan
        c = _cot_pi_scalar(x)
        poly = _horner_scalar(_REFLECTION_TABLE[n], c)
        sign = 1.0 if n % 2 == 0 else -1.0
        return sign * _polygamma_positive_scalar(n, 1.0 - x) - _PI ** (n + 1) * poly
    return _polygamma_positive_scalar(n, x)
