"""Spec rows of the elementwise math family: rounding, the divisions, transcendental and
special functions, two-argument functions, clamps with tensor bounds, predicates,
comparisons by name, bitwise and logical ops (see tests/opspecs.py for the fields).

References are numpy or Python's `math` (erf, erfc, lgamma; erfinv by bisection on
math.erf). digamma and polygamma rows have none here: their values are checked against
PyTorch by the oracle test and against mpmath in tests/runtime/test_special.py.
Behaviours where we knowingly differ from PyTorch (gradients PyTorch gets wrong) are
not rows: tests/tracer/test_math_semantics.py states them with analytic values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from opspecs import (
    INTS,
    KINK,
    A,
    S,
    away_from,
    distinct,
    fixed,
    indices,
    lib,
    mask,
    nonzero,
    offset,
    positive,
    real,
    unit,
)

# ---- domains ------------------------------------------------------------------------------


def between(lo: float, hi: float):  # type: ignore[no-untyped-def]
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def int_divisors(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Nonzero integers of both signs."""
    return rng.choice(np.array([-3, -2, -1, 1, 2, 3]), shape).astype(np.int64)


def not_integer(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Reals at least 0.1 from every integer (floor, round and % jump there)."""
    return away_from(-2, -1, 0, 1, 2)(rng, shape)


def half_integers(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values away from the half-integers where round jumps."""
    return away_from(-1.5, -0.5, 0.5, 1.5)(rng, shape)


def ratio_not_integer(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Dividends whose quotient by 0.75 is at least 0.1 from an integer."""
    return away_from(*[0.75 * k for k in range(-3, 4)])(rng, shape)


# ---- references ----------------------------------------------------------------------------


def _vec(fn: Any) -> Any:
    return np.vectorize(fn, otypes=[np.float64])


def _erfinv_one(y: float) -> float:
    lo, hi = -7.0, 7.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if math.erf(mid) < y:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _lgamma_one(x: float) -> float:
    return math.lgamma(x)


def _sinc(x: np.ndarray) -> np.ndarray:
    return np.sinc(x)


def _logit(x: np.ndarray, eps: float | None = None) -> np.ndarray:
    z = x if eps is None else np.clip(x, eps, 1 - eps)
    return np.log(z / (1 - z))


def _remainder(x: np.ndarray, y: Any) -> np.ndarray:
    return x - np.floor(x / y) * y


def _fmod(x: np.ndarray, y: Any) -> np.ndarray:
    return x - np.trunc(x / y) * y


def _lerp(a: np.ndarray, b: np.ndarray, w: Any) -> np.ndarray:
    return a + w * (b - a)


def _clamp(x: np.ndarray, lo: Any, hi: Any) -> np.ndarray:
    return np.minimum(np.maximum(x, lo), hi)


def _bitwise(op: str):  # type: ignore[no-untyped-def]
    return lambda x, y: getattr(lib(x), op)(x, y)


_ERF = _vec(math.erf)
_ERFC = _vec(math.erfc)
_LGAMMA = _vec(_lgamma_one)
_ERFINV = _vec(_erfinv_one)

SPECS: list[S] = [
    # ---- rounding (gradient 0 away from the jumps) ------------------------------------------
    S("floor", lambda x: x.floor(), np.floor, (A((2, 3), not_integer),), "FloorBackward0"),
    S("ceil", lambda x: lib(x).ceil(x), np.ceil, (A((2, 3), not_integer),), "CeilBackward0"),
    S("trunc", lambda x: x.trunc(), np.trunc, (A((2, 3), not_integer),), "TruncBackward0"),
    S("fix", lambda x: lib(x).fix(x), np.trunc, (A((4,), not_integer),), "TruncBackward0"),
    S("round", lambda x: x.round(), np.rint, (A((2, 3), half_integers),), "RoundBackward0"),
    S(
        "round_half_even",
        lambda x: lib(x).round(x),
        np.rint,
        (A((6,), fixed([0.5, 1.5, 2.5, -0.5, -1.5, 0.49])),),
        "RoundBackward0",
        no_fd=KINK,
    ),
    S(
        "round_decimals",
        lambda x: (x * 10).round(decimals=1),
        lambda x: np.round(x * 10, 1),
        (A((2, 3), between(0.01, 0.09)),),
        "RoundBackward1",
        no_fd="the rounding jumps every 0.005 of x",
    ),
    S(
        "round_negative_decimals",
        lambda x: lib(x).round(x * 100, decimals=-1),
        lambda x: np.round(x * 100, -1),
        (A((5,), fixed([0.04, 0.06, 0.25, -0.351, 1.449])),),
        "RoundBackward1",
        no_fd=KINK,
    ),
    S(
        "frac",
        lambda x: x.frac(),
        lambda x: x - np.trunc(x),
        (A((2, 3), not_integer),),
        "FracBackward0",
    ),
    S("floor_int", lambda x: x.floor(), lambda x: x, (A((4,), indices(-5, 5)),), dtypes=INTS),
    S("round_int", lambda x: lib(x).round(x), lambda x: x, (A((4,), indices(-5, 5)),), dtypes=INTS),
    # ---- divisions -------------------------------------------------------------------------
    S(
        "floor_divide",
        lambda x, y: x // y,
        np.floor_divide,
        (A((3, 4), between(-4, 4)), A((3, 4), nonzero)),
        "DivBackward2",
        torch_fn=lambda x, y: x.div(y, rounding_mode="floor"),
    ),
    S(
        "floor_divide_scalar",
        lambda x: lib(x).floor_divide(x, 0.75),
        lambda x: np.floor_divide(x, 0.75),
        (A((5,), ratio_not_integer),),
        "DivBackward2",
        torch_fn=lambda x: x.div(0.75, rounding_mode="floor"),
    ),
    S(
        "rfloordiv",
        lambda y: 3 // y,
        lambda y: np.floor_divide(3, y),
        (A((5,), nonzero),),
        "DivBackward2",
        torch_fn=lambda y: y.new_tensor(3.0).div(y, rounding_mode="floor"),
    ),
    S(
        "div_floor",
        lambda x, y: x.div(y, rounding_mode="floor"),
        np.floor_divide,
        (A((2, 3), real), A((3,), nonzero)),
        "DivBackward2",
    ),
    S(
        "div_trunc",
        lambda x, y: lib(x).div(x, y, rounding_mode="trunc"),
        lambda x, y: np.trunc(x / y),
        (A((2, 3), real), A((2, 3), nonzero)),
        "DivBackward2",
    ),
    S(
        "floor_divide_int",
        lambda x, y: x // y,
        np.floor_divide,
        (A((6,), indices(-7, 8)), A((6,), int_divisors)),
        dtypes=INTS,
    ),
    S(
        "div_trunc_int",
        lambda x, y: x.div(y, rounding_mode="trunc"),
        lambda x, y: np.trunc(x / y).astype(np.int64),
        (A((6,), indices(-7, 8)), A((6,), int_divisors)),
        dtypes=INTS,
    ),
    S(
        "remainder",
        lambda x, y: x % y,
        _remainder,
        (A((3, 4), between(-4, 4)), A((3, 4), nonzero)),
        "RemainderBackward1",
    ),
    S(
        "remainder_broadcast_function",
        lambda x, y: lib(x).remainder(x, y),
        _remainder,
        (A((2, 3), between(-4, 4)), A((3,), nonzero)),
        "RemainderBackward1",
    ),
    S(
        "remainder_scalar",
        lambda x: x % 0.75,
        lambda x: _remainder(x, 0.75),
        (A((5,), ratio_not_integer),),
        "RemainderBackward0",
    ),
    S(
        "rmod",
        lambda y: 2.5 % y,
        lambda y: _remainder(2.5, y),
        (A((5,), nonzero),),
        "RemainderBackward1",
        torch_fn=lambda y: y.new_tensor(2.5).remainder(y),
    ),
    S(
        "remainder_int",
        lambda x, y: x % y,
        np.remainder,
        (A((6,), indices(-7, 8)), A((6,), int_divisors)),
        dtypes=INTS,
    ),
    S(
        "fmod",
        lambda x, y: lib(x).fmod(x, y),
        _fmod,
        (A((3, 4), between(-4, 4)), A((3, 4), nonzero)),
        "FmodBackward1",
    ),
    S(
        "fmod_scalar",
        lambda x: x.fmod(-0.75),
        lambda x: _fmod(x, -0.75),
        (A((5,), ratio_not_integer),),
        "FmodBackward0",
    ),
    S(
        "fmod_int",
        lambda x, y: x.fmod(y),
        np.fmod,
        (A((6,), indices(-7, 8)), A((6,), int_divisors)),
        dtypes=INTS,
    ),
    # ---- unary functions ---------------------------------------------------------------------
    S(
        "reciprocal",
        lambda x: x.reciprocal(),
        lambda x: 1 / x,
        (A((2, 3), nonzero),),
        "ReciprocalBackward0",
    ),
    S(
        "reciprocal_int",
        lambda x: lib(x).reciprocal(x),
        lambda x: (1 / x).astype(np.float32),
        (A((3,), int_divisors),),
        dtypes=INTS,
    ),
    S(
        "rsqrt",
        lambda x: lib(x).rsqrt(x),
        lambda x: 1 / np.sqrt(x),
        (A((2, 3), positive),),
        "RsqrtBackward0",
    ),
    S("exp2", lambda x: x.exp2(), np.exp2, (A((2, 3)),), "Exp2Backward0"),
    S("expm1", lambda x: lib(x).expm1(x), np.expm1, (A((2, 3)),), "Expm1Backward0"),
    S(
        "expm1_small",
        lambda x: (x * 1e-6).expm1(),
        lambda x: np.expm1(x * 1e-6),
        (A((4,)),),
        "Expm1Backward0",
    ),
    S("log2", lambda x: x.log2(), np.log2, (A((2, 3), positive),), "Log2Backward0"),
    S("log10", lambda x: lib(x).log10(x), np.log10, (A((2, 3), positive),), "Log10Backward0"),
    S("tan", lambda x: x.tan(), np.tan, (A((2, 3), between(-1.3, 1.3)),), "TanBackward0"),
    S("asin", lambda x: lib(x).asin(x), np.arcsin, (A((2, 3), unit),), "AsinBackward0"),
    S("acos", lambda x: x.acos(), np.arccos, (A((2, 3), unit),), "AcosBackward0"),
    S("atan", lambda x: lib(x).arctan(x), np.arctan, (A((2, 3)),), "AtanBackward0"),
    S("sinh", lambda x: x.sinh(), np.sinh, (A((2, 3)),), "SinhBackward0"),
    S("cosh", lambda x: lib(x).cosh(x), np.cosh, (A((2, 3)),), "CoshBackward0"),
    S("asinh", lambda x: x.asinh(), np.arcsinh, (A((2, 3)),), "AsinhBackward0"),
    S(
        "acosh",
        lambda x: lib(x).acosh(x),
        np.arccosh,
        (A((2, 3), between(1.2, 3)),),
        "AcoshBackward0",
    ),
    S("atanh", lambda x: x.arctanh(), np.arctanh, (A((2, 3), unit),), "AtanhBackward0"),
    S(
        "trig_int",
        lambda x: x.tan(),
        lambda x: np.tan(x).astype(np.float32),
        (A((3,), indices(-1, 2)),),
        dtypes=INTS,
    ),
    S("erf", lambda x: x.erf(), _ERF, (A((2, 3)),), "ErfBackward0"),
    S("erf_wide", lambda x: lib(x).erf(x * 3), lambda x: _ERF(x * 3), (A((6,)),), "ErfBackward0"),
    S("erfc", lambda x: lib(x).erfc(x), _ERFC, (A((2, 3)),), "ErfcBackward0"),
    S(
        "erfc_tail",
        lambda x: (x * 4).erfc(),
        lambda x: _ERFC(x * 4),
        (A((4,), between(1, 2.5)),),
        "ErfcBackward0",
    ),
    S("erfinv", lambda x: x.erfinv(), _ERFINV, (A((2, 3), unit),), "ErfinvBackward0"),
    S(
        "erfinv_tail",
        lambda x: lib(x).erfinv(x),
        _ERFINV,
        (A((4,), fixed([0.998, -0.997, 0.6, -0.75])),),
        "ErfinvBackward0",
    ),
    S("lgamma", lambda x: x.lgamma(), _LGAMMA, (A((2, 3), between(0.2, 6)),), "LgammaBackward0"),
    S(
        "lgamma_negative",
        lambda x: lib(x).lgamma(x),
        _LGAMMA,
        (A((4,), fixed([-0.5, -1.25, -2.7, -3.5])),),
        "LgammaBackward0",
    ),
    S("digamma", lambda x: x.digamma(), None, (A((2, 3), between(0.2, 6)),), "DigammaBackward0"),
    S(
        "digamma_negative",
        lambda x: lib(x).digamma(x),
        None,
        (A((4,), fixed([-0.5, -1.25, -2.7, -3.5])),),
        "DigammaBackward0",
    ),
    S(
        "polygamma_1",
        lambda x: lib(x).polygamma(1, x),
        None,
        (A((2, 3), between(0.2, 6)),),
        "PolygammaBackward0",
    ),
    S(
        "polygamma_3_method",
        lambda x: x.polygamma(3),
        None,
        (A((4,), between(0.5, 4)),),
        "PolygammaBackward0",
    ),
    S("sinc", lambda x: x.sinc(), _sinc, (A((2, 3)),), "SincBackward0"),
    S(
        "sinc_near_zero",
        lambda x: lib(x).sinc(x),
        _sinc,
        (A((5,), fixed([0.0, 3e-3, -1e-4, 0.02, 1.0])),),
        "SincBackward0",
        # PyTorch's float32 gradient cancels there (test_math_semantics.py)
        dtypes=("float64",),
    ),
    S("logit", lambda x: x.logit(), _logit, (A((2, 3), between(0.05, 0.95)),), "LogitBackward0"),
    S(
        "logit_eps",
        lambda x: lib(x).logit(x, eps=0.2),
        lambda x: _logit(x, 0.2),
        (A((6,), fixed([0.05, 0.1, 0.3, 0.5, 0.7, 0.95])),),
        "LogitBackward0",
    ),
    S(
        "nan_to_num",
        lambda x: x.nan_to_num(),
        np.nan_to_num,
        (A((4,), fixed([np.nan, np.inf, -np.inf, 1.5])),),
        "NanToNumBackward0",
        dtypes=("float64",),  # the default replacements are the dtype's extremes
        no_fd="the replacements (the dtype's extremes) overflow the weighted sum",
    ),
    S(
        "nan_to_num_values",
        lambda x: lib(x).nan_to_num(x, nan=1.0, posinf=2.5, neginf=-3.0),
        lambda x: np.nan_to_num(x, nan=1.0, posinf=2.5, neginf=-3.0),
        (A((4,), fixed([np.nan, np.inf, -np.inf, 1.5])),),
        "NanToNumBackward0",
    ),
    # + x: PyTorch's sgn backward returns a ZeroTensor, which numpy cannot read
    S("sgn", lambda x: x.sgn() + x, lambda x: np.sign(x) + x, (A((4,), nonzero),), "AddBackward0"),
    S("negative", lambda x: lib(x).negative(x), np.negative, (A((4,)),), "NegBackward0"),
    S("positive", lambda x: x.positive() * 2, lambda x: x * 2, (A((4,)),), "MulBackward0"),
    S("absolute", lambda x: lib(x).absolute(x), np.abs, (A((4,), nonzero),), "AbsBackward0"),
    # ---- two operands --------------------------------------------------------------------------
    S(
        "atan2",
        lambda y, x: lib(y).atan2(y, x),
        np.arctan2,
        (A((2, 3)), A((3,), nonzero)),
        "Atan2Backward0",
    ),
    S(
        "arctan2_method",
        lambda y, x: y.arctan2(x),
        np.arctan2,
        (A((3,), nonzero), A((2, 3))),
        "Atan2Backward0",
    ),
    S("hypot", lambda x, y: lib(x).hypot(x, y), np.hypot, (A((2, 3)), A((2, 1))), "HypotBackward0"),
    S(
        "lerp_scalar_weight",
        lambda a, b: lib(a).lerp(a, b, 0.3),
        lambda a, b: _lerp(a, b, 0.3),
        (A((2, 3)), A((3,))),
        "LerpBackward0",
    ),
    S(
        "lerp_scalar_weight_far",
        lambda a, b: a.lerp(b, 0.75),
        lambda a, b: _lerp(a, b, 0.75),
        (A((3,)), A((3,))),
        "LerpBackward0",
    ),
    S(
        "lerp_tensor_weight",
        lambda a, b, w: a.lerp(b, w),
        _lerp,
        (A((2, 3)), A((2, 3)), A((3,), between(-0.5, 1.5))),
        "LerpBackward1",
    ),
    S(
        "logaddexp",
        lambda a, b: lib(a).logaddexp(a, b),
        np.logaddexp,
        (A((2, 3)), A((3,))),
        "LogaddexpBackward0",
    ),
    S(
        "logaddexp_large",
        lambda a, b: (a * 500).logaddexp(b * 500),
        lambda a, b: np.logaddexp(a * 500, b * 500),
        (A((4,)), A((4,))),
        "LogaddexpBackward0",
    ),
    S(
        "logaddexp2",
        lambda a, b: a.logaddexp2(b),
        np.logaddexp2,
        (A((2, 3)), A((2, 3))),
        "Logaddexp2Backward0",
    ),
    S(
        "xlogy",
        lambda x, y: lib(x).xlogy(x, y),
        lambda x, y: x * np.log(y),
        (A((2, 3)), A((2, 3), positive)),
        "XlogyBackward0",
    ),
    S(
        "xlogy_zero_x",
        lambda x, y: x.xlogy(y),
        lambda x, y: np.where(x == 0, 0.0, x * np.log(y)),
        (A((4,), fixed([0.0, 0.0, 1.5, -2.0])), A((4,), fixed([0.5, 2.0, 0.25, 3.0]))),
        "XlogyBackward0",
    ),
    S(
        "xlogy_scalar_x",
        lambda y: lib(y).xlogy(2.0, y),
        lambda y: 2 * np.log(y),
        (A((4,), positive),),
        "XlogyBackward1",
    ),
    S(
        "xlogy_scalar_y",
        lambda x: lib(x).xlogy(x, 3.0),
        lambda x: x * np.log(3.0),
        (A((4,)),),
        "XlogyBackward2",
    ),
    S(
        "copysign",
        lambda x, y: lib(x).copysign(x, y),
        np.copysign,
        (A((2, 3), nonzero), A((2, 3), nonzero)),
        "CopysignBackward0",
    ),
    S(
        "copysign_scalar_negative_zero",
        lambda x: x.copysign(-0.0),
        lambda x: np.copysign(x, -0.0),
        (A((4,), nonzero),),
        "CopysignBackward1",
    ),
    S(
        "fmax",
        lambda x, y: lib(x).fmax(x, y),
        np.fmax,
        (A((2, 3), distinct), A((3,), offset)),
        "FmaxBackward0",
    ),
    S(
        "fmin",
        lambda x, y: x.fmin(y),
        np.fmin,
        (A((2, 3), distinct), A((2, 3), offset)),
        "FminBackward0",
    ),
    S(
        "fmax_nan",
        lambda x, y: lib(x).fmax(x, y),
        np.fmax,
        (A((4,), fixed([np.nan, 1.0, 2.0, -1.0])), A((4,), fixed([0.5, np.nan, 1.0, 3.0]))),
        "FmaxBackward0",
    ),
    S(
        "fmin_ties",
        lambda x, y: lib(x).fmin(x, y),
        np.fmin,
        (A((3,), fixed([1.0, 2.0, -1.0])), A((3,), fixed([1.0, 2.0, 0.0]))),
        "FminBackward0",
        no_fd=KINK,
    ),
    # ---- clamps with tensor bounds ---------------------------------------------------------------
    S(
        "clamp_tensor_bounds",
        lambda x, lo, hi: x.clamp(lo, hi),
        _clamp,
        (A((3, 4)), A((4,), between(-1.5, -0.5)), A((3, 1), between(0.5, 1.5))),
        "ClampBackward0",
    ),
    S(
        "clamp_tensor_min_only",
        lambda x, lo: lib(x).clamp(x, min=lo),
        np.maximum,
        (A((3, 4)), A((3, 4))),
        "ClampBackward0",
    ),
    S(
        "clamp_tensor_max_only",
        lambda x, hi: x.clip(max=hi),
        np.minimum,
        (A((3, 4)), A((4,))),
        "ClampBackward0",
    ),
    S(
        "clamp_tensor_ties_and_crossed_bounds",
        lambda x, lo, hi: x.clamp(lo, hi),
        _clamp,
        (
            A((5,), fixed([1.0, 2.0, 0.0, 1.5, 3.0])),
            A((5,), fixed([1.0, 1.0, 1.0, 2.0, 2.0])),
            A((5,), fixed([2.0, 2.0, 2.0, 1.0, 1.0])),
        ),
        "ClampBackward0",
        no_fd=KINK,
    ),
    S(
        "clamp_min_tensor",
        lambda x, lo: x.clamp_min(lo),
        np.maximum,
        (A((2, 3)), A((3,))),
        "ClampMinBackward1",
    ),
    S(
        "clamp_max_tensor",
        lambda x, hi: lib(x).clamp_max(x, hi),
        np.minimum,
        (A((2, 3)), A((2, 3))),
        "ClampMaxBackward1",
    ),
    S(
        "clamp_min_scalar",
        lambda x: x.clamp_min(0.25),
        lambda x: np.maximum(x, 0.25),
        (A((3, 4), away_from(0.25)),),
        "ClampMinBackward0",
    ),
    S(
        "clamp_max_scalar",
        lambda x: lib(x).clamp_max(x, -0.25),
        lambda x: np.minimum(x, -0.25),
        (A((3, 4), away_from(-0.25)),),
        "ClampMaxBackward0",
    ),
    # ---- predicates and comparisons ----------------------------------------------------------
    *[
        S(
            f"{name}",
            (lambda n: lambda x: getattr(lib(x), n)(x))(name),
            ref,
            (A((5,), fixed([np.nan, np.inf, -np.inf, -0.0, 2.5])),),
        )
        for name, ref in [
            ("isnan", np.isnan),
            ("isinf", np.isinf),
            ("isfinite", np.isfinite),
            ("isposinf", np.isposinf),
            ("isneginf", np.isneginf),
            ("signbit", np.signbit),
        ]
    ],
    S("isnan_int", lambda x: x.isnan(), np.isnan, (A((3,), indices(-2, 2)),), dtypes=INTS),
    S("isfinite_int", lambda x: x.isfinite(), np.isfinite, (A((3,), indices(-2, 2)),), dtypes=INTS),
    S("signbit_int", lambda x: x.signbit(), np.signbit, (A((3,), indices(-2, 2)),), dtypes=INTS),
    S(
        "isclose",
        lambda x, y: lib(x).isclose(x, y),
        np.isclose,
        (
            A((5,), fixed([1.0, 1.0, np.inf, np.nan, 0.0])),
            A((5,), fixed([1.000001, 1.1, np.inf, np.nan, 1e-9])),
        ),
    ),
    S(
        "isclose_equal_nan_tolerances",
        lambda x, y: x.isclose(y, rtol=0.1, atol=0.01, equal_nan=True),
        lambda x, y: np.isclose(x, y, rtol=0.1, atol=0.01, equal_nan=True),
        (A((4,), fixed([1.0, 1.0, np.nan, 0.0])), A((4,), fixed([1.05, 1.3, np.nan, 0.005]))),
    ),
    *[
        S(
            f"compare_method_{name}",
            (lambda n: lambda x, y: getattr(x, n)(y))(name),
            ref,
            (A((2, 3), distinct), A((3,), offset)),
        )
        for name, ref in [
            ("eq", np.equal),
            ("not_equal", np.not_equal),
            ("less", np.less),
            ("le", np.less_equal),
            ("greater", np.greater),
            ("greater_equal", np.greater_equal),
        ]
    ],
    S(
        "compare_function_scalar",
        lambda x: lib(x).gt(x, 0.5),
        lambda x: x > 0.5,
        (A((4,), distinct),),
    ),
    # ---- bitwise and logical ----------------------------------------------------------------
    S(
        "bitwise_and_int",
        lambda x, y: x & y,
        np.bitwise_and,
        (A((6,), indices(-9, 9)), A((6,), indices(-9, 9))),
        dtypes=INTS,
    ),
    S(
        "bitwise_or_int_scalar",
        lambda x: x | 6,
        lambda x: x | 6,
        (A((6,), indices(-9, 9)),),
        dtypes=INTS,
    ),
    S(
        "bitwise_xor_int",
        _bitwise("bitwise_xor"),
        np.bitwise_xor,
        (A((2, 3), indices(-9, 9)), A((3,), indices(0, 9))),
        dtypes=INTS,
    ),
    S("bitwise_not_int", lambda x: ~x, np.invert, (A((6,), indices(-9, 9)),), dtypes=INTS),
    S("rand_int_scalar", lambda x: 5 & x, lambda x: 5 & x, (A((6,), indices(-9, 9)),), dtypes=INTS),
    S(
        "bitwise_bool",
        lambda m, n: (m ^ n) | (m & ~n),
        lambda m, n: (m ^ n) | (m & ~n),
        (A((6,), mask), A((6,), mask)),
        dtypes=INTS,
    ),
    S(
        "bitwise_bool_int",
        _bitwise("bitwise_and"),
        np.bitwise_and,
        (A((6,), mask), A((6,), indices(0, 9))),
        dtypes=INTS,
    ),
    S(
        "logical_and_function",
        _bitwise("logical_and"),
        np.logical_and,
        (A((2, 3), nonzero), A((3,), mask)),
    ),
    S(
        "logical_or_method_int",
        lambda x, y: x.logical_or(y),
        np.logical_or,
        (A((4,), indices(-1, 2)), A((4,), indices(-1, 2))),
        dtypes=INTS,
    ),
    S(
        "logical_xor_function",
        _bitwise("logical_xor"),
        np.logical_xor,
        (A((4,), indices(-1, 2)), A((4,), mask)),
        dtypes=INTS,
    ),
    S(
        "logical_not_function_nan",
        lambda x: lib(x).logical_not(x),
        np.logical_not,
        (A((4,), fixed([0.0, 1.5, -0.0, np.nan])),),
    ),
]
