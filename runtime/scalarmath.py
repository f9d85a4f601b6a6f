"""Scalar helpers that generated kernels call per element for the math ops whose
expression is more than an operator: PyTorch's integer and floating-point division
semantics, and functions numba has no scalar form of.

Compiled without fast-math (unlike the kernels): their results depend on the sign of
zero (copysign, floor division's -0.0) and on the order of operations; LLVM's flags
are per instruction, so that still holds once these are inlined into a kernel.

This module knows numpy and numba only.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from runtime import special

__all__ = [
    "copysign",
    "digamma",
    "erf",
    "erfc",
    "erfinv",
    "floor_divide_float",
    "floor_divide_int",
    "fmod_int",
    "lgamma",
    "logaddexp",
    "logaddexp2",
    "polygamma",
    "remainder_float",
    "remainder_int",
    "sinc",
    "trunc_divide_int",
]

_exact = numba.njit(error_model="numpy")

_LN2 = 0.6931471805599453
_PI = 3.141592653589793


@_exact
def erf(x):  # type: ignore[no-untyped-def]
    return math.erf(x)


@_exact
def erfc(x):  # type: ignore[no-untyped-def]
    return math.erfc(x)


@_exact
def lgamma(x):  # type: ignore[no-untyped-def]
    """log|Gamma(x)|; +inf at the poles and at -inf, as the numpy version."""
    if x == -math.inf:
        return math.inf
    return math.lgamma(x)


erfinv = special.erfinv_scalar
digamma = special.digamma_scalar
polygamma = special.polygamma_scalar


@_exact
def copysign(x, y):  # type: ignore[no-untyped-def]
    return math.copysign(x, y)


@_exact
def sinc(x):  # type: ignore[no-untyped-def]
    """sin(pi x) / (pi x), 1 at 0 (float64)."""
    if x == 0:
        return 1.0
    y = x * _PI
    return math.sin(y) / y


@_exact
def logaddexp(a, b):  # type: ignore[no-untyped-def]
    """log(exp(a) + exp(b)) without overflow; inf + inf and -inf + -inf stay infinite."""
    if a == b and math.isinf(a):
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


@_exact
def logaddexp2(a, b):  # type: ignore[no-untyped-def]
    """log2(2**a + 2**b) without overflow."""
    if a == b and math.isinf(a):
        return a
    m = max(a, b)
    return m + math.log1p(2.0 ** -abs(a - b)) / _LN2


# ---- division with PyTorch's semantics ----------------------------------------------------


@_exact
def floor_divide_float(a, b):  # type: ignore[no-untyped-def]
    """floor(a / b) as Python's float `//` (and PyTorch, numpy) computes it: from the
    exact remainder, so 1 // 0.1 is 9.0; a / b (inf or nan) for b == 0."""
    if b == 0:
        return a / b
    mod = np.fmod(a, b)
    div = (a - mod) / b
    if mod != 0 and (b < 0) != (mod < 0):
        div -= 1
    if div == 0:
        return math.copysign(0.0, a / b)
    q = np.floor(div)
    if div - q > 0.5:
        q += 1
    return q


@_exact
def remainder_float(a, b):  # type: ignore[no-untyped-def]
    """a - floor(a / b) * b with the sign of b (Python's %); nan for b == 0."""
    mod = np.fmod(a, b)
    if mod != 0 and (b < 0) != (mod < 0):
        mod += b
    return mod


@_exact
def floor_divide_int(a, b, message):  # type: ignore[no-untyped-def]
    """Python's integer `//`; ZeroDivisionError(message) for b == 0."""
    if b == 0:
        raise ZeroDivisionError(message)
    if b == -1:  # a // -1 is -a (wrapping at the minimum, as PyTorch); idiv would trap
        return -a
    return a // b


@_exact
def trunc_divide_int(a, b, message):  # type: ignore[no-untyped-def]
    """C's integer division (rounding towards zero); ZeroDivisionError for b == 0."""
    if b == 0:
        raise ZeroDivisionError(message)
    if b == -1:
        return -a
    q = a // b
    if q < 0 and q * b != a:
        q += 1
    return q


@_exact
def remainder_int(a, b, message):  # type: ignore[no-untyped-def]
    """Python's integer %, the sign of b; ZeroDivisionError for b == 0."""
    if b == 0:
        raise ZeroDivisionError(message)
    if b == -1:
        return a - a
    return a % b


@_exact
def fmod_int(a, b, message):  # type: ignore[no-untyped-def]
    """C's integer %, the sign of a; ZeroDivisionError for b == 0."""
    if b == 0:
        raise ZeroDivisionError(message)
    if b == -1:
        return a - a
    r = a % b
    if r != 0 and (r < 0) != (a < 0):
        r -= b
    return r
