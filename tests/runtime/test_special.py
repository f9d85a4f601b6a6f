"""runtime.special: erf, erfc, erfinv, lgamma, digamma and polygamma, in ulps against
mpmath (50 digits) on wide ranges, for the numpy versions and the numba scalar ones; the
special values PyTorch gives; and the Chebyshev coefficients of erfc recomputed.

mpmath is a test-only dependency (importorskip)."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from runtime import scalarmath, special

mp = pytest.importorskip("mpmath")
mp.mp.dps = 50

RNG = np.random.default_rng(20240612)


def reflection_scale(fn, xs: np.ndarray, values: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """|values|, or for x < 0 the larger of it and |fn(1 - x)| (the reflection's terms)."""
    scale = np.abs(values)
    neg = xs < 0
    scale[neg] = np.fmax(scale[neg], np.abs(fn(1 - xs[neg])))
    return scale


def ulps(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|got - ref| in units of the last place of ref (0 where both are equal or nan)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    with np.errstate(invalid="ignore"):
        return np.where(same, 0.0, np.abs(got - ref) / np.spacing(np.abs(ref)))


def reference(fn, xs: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array([float(fn(mp.mpf(float(x)))) for x in xs])


def _lgamma(x):  # type: ignore[no-untyped-def]
    return mp.log(abs(mp.gamma(x)))


def log_uniform(lo: float, hi: float, n: int) -> np.ndarray:
    return 10 ** RNG.uniform(np.log10(lo), np.log10(hi), n)


# (name, numpy function, mpmath function, inputs, max ulps)
CASES = [
    ("erf", special.erf, mp.erf, RNG.uniform(-6, 6, 3000), 2),
    ("erf_tiny", special.erf, mp.erf, log_uniform(1e-300, 1e-3, 500), 1),
    ("erfc_left", special.erfc, mp.erfc, RNG.uniform(-6, 0.5, 2000), 2),
    ("erfc_right", special.erfc, mp.erfc, RNG.uniform(0.5, 27, 3000), 5),
    ("erfinv", special.erfinv, mp.erfinv, RNG.uniform(-1, 1, 3000), 3),
    ("erfinv_tail", special.erfinv, mp.erfinv, 1 - log_uniform(1.2e-16, 0.5, 1000), 3),
    ("erfinv_tiny", special.erfinv, mp.erfinv, log_uniform(1e-300, 1e-3, 300), 2),
    ("lgamma", special.lgamma, _lgamma, RNG.uniform(0, 10, 3000), 5),
    (
        "lgamma_near_roots",
        special.lgamma,
        _lgamma,
        np.r_[RNG.uniform(0.9, 1.1, 500), RNG.uniform(1.9, 2.1, 500)],
        5,
    ),
    ("lgamma_large", special.lgamma, _lgamma, log_uniform(10, 1e300, 1000), 3),
    ("lgamma_tiny", special.lgamma, _lgamma, log_uniform(1e-300, 1e-3, 300), 2),
    ("digamma", special.digamma, mp.digamma, RNG.uniform(0, 10, 3000), 5),
    ("digamma_near_root", special.digamma, mp.digamma, RNG.uniform(1.4, 1.52, 500), 5),
    ("digamma_large", special.digamma, mp.digamma, log_uniform(10, 1e300, 1000), 2),
    ("digamma_tiny", special.digamma, mp.digamma, log_uniform(1e-300, 1e-3, 300), 2),
]


@pytest.mark.parametrize("name,fn,ref,xs,bound", CASES, ids=[c[0] for c in CASES])
def test_numpy_version_is_accurate_in_ulps(name, fn, ref, xs, bound):
    err = ulps(fn(xs), reference(ref, xs))
    worst = int(np.argmax(err))
    assert err.max() <= bound, f"{name}: {err.max()} ulps at x = {xs[worst]!r}"


@pytest.mark.parametrize("n", [1, 2, 3, 6, 12])
def test_polygamma_is_accurate_in_ulps_for_positive_x(n):
    xs = np.r_[RNG.uniform(0, 10, 800), log_uniform(1e-100, 1e3, 300)]
    err = ulps(special.polygamma(n, xs), reference(lambda x: mp.polygamma(n, x), xs))
    assert err.max() <= 6, f"{err.max()} ulps at x = {xs[int(np.argmax(err))]!r}"


NEGATIVE = -RNG.uniform(0, 30, 2000)


@pytest.mark.parametrize(
    "name,fn,ref",
    [
        ("lgamma", special.lgamma, _lgamma),
        ("digamma", special.digamma, mp.digamma),
        ("polygamma_1", lambda x: special.polygamma(1, x), lambda x: mp.polygamma(1, x)),
        ("polygamma_2", lambda x: special.polygamma(2, x), lambda x: mp.polygamma(2, x)),
    ],
)
def test_reflection_for_negative_x_is_accurate_relative_to_its_terms(name, fn, ref):
    """Below 0 the value is a difference of two terms (the reflection formula), so near
    its roots only the absolute accuracy holds: the error stays within a few ulps of
    the larger term (log(pi / |sin(pi x)|), or the value at 1 - x)."""
    expected = reference(ref, NEGATIVE)
    other = reference(ref, 1 - NEGATIVE)
    scale = np.maximum(np.abs(expected), np.abs(other))
    err = np.abs(fn(NEGATIVE) - expected) / np.spacing(scale)
    assert err.max() <= 40, f"{err.max()} ulps of the terms at x = {NEGATIVE[np.argmax(err)]!r}"


# ---- special values (PyTorch's where it gives the limit) ---------------------------------
INF, NAN = math.inf, math.nan
SPECIAL_VALUES = [
    ("erf", special.erf, [INF, -INF, NAN, 0.0, -0.0], [1.0, -1.0, NAN, 0.0, -0.0]),
    ("erfc", special.erfc, [INF, -INF, NAN, 30.0, -30.0], [0.0, 2.0, NAN, 0.0, 2.0]),
    ("erfinv", special.erfinv, [1.0, -1.0, 1.5, NAN, 0.0], [INF, -INF, NAN, NAN, 0.0]),
    ("lgamma", special.lgamma, [0.0, -0.0, -1.0, -7.0, INF, -INF, NAN], [INF] * 6 + [NAN]),
    (
        "digamma",
        special.digamma,
        [0.0, -0.0, -1.0, -3.0, INF, -INF, NAN],
        [-INF, INF, NAN, NAN, INF, NAN, NAN],
    ),
    (
        "polygamma_1",
        lambda x: special.polygamma(1, x),
        [0.0, -2.0, INF, -INF, NAN],
        [INF, INF, 0.0, NAN, NAN],
    ),
    (
        "polygamma_2",
        lambda x: special.polygamma(2, x),
        [0.0, -0.0, -2.0, INF, -INF],
        [-INF, INF, NAN, -0.0, NAN],
    ),
]


@pytest.mark.parametrize("name,fn,xs,expected", SPECIAL_VALUES, ids=[c[0] for c in SPECIAL_VALUES])
def test_special_values(name, fn, xs, expected):
    got = fn(np.array(xs))
    np.testing.assert_array_equal(got, np.array(expected))
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize(
    "fn", [special.erf, special.erfc, special.erfinv, special.lgamma, special.digamma]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_narrow_floats_are_the_float64_results_rounded(fn, dtype):
    x = RNG.uniform(-0.99, 3, 200).astype(dtype)
    got = fn(x)
    assert got.dtype == dtype
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got, fn(x.astype(np.float64)).astype(dtype))


def test_shapes_are_kept_including_0d():
    assert special.erf(np.array(0.5)).shape == ()
    assert special.lgamma(np.ones((2, 0, 3))).shape == (2, 0, 3)


# ---- the numba scalar versions --------------------------------------------------------------


@numba.njit
def _map(f, x):  # type: ignore[no-untyped-def]
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = f(x[i])
    return out


@numba.njit
def _map_polygamma(n, x):  # type: ignore[no-untyped-def]
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = scalarmath.polygamma(n, x[i])
    return out


EVERYWHERE = np.r_[
    RNG.uniform(-30, 30, 2000),
    log_uniform(1e-300, 1e300, 500),
    -log_uniform(1e-300, 1e10, 500),
    [0.0, -0.0, -1.0, -4.0, INF, -INF, NAN, 1.4616321449683622, 2.0, 1.0],
]


@pytest.mark.parametrize(
    "scalar,vectorised,xs",
    [
        (scalarmath.digamma, special.digamma, EVERYWHERE),
        (
            scalarmath.erfinv,
            special.erfinv,
            np.r_[
                RNG.uniform(-1, 1, 2000), 1 - log_uniform(1e-16, 1, 300), [1.0, -1.0, 2.0, NAN, 0.0]
            ],
        ),
        (scalarmath.lgamma, special.lgamma, EVERYWHERE),
        (scalarmath.erf, special.erf, EVERYWHERE),
        (scalarmath.erfc, special.erfc, EVERYWHERE),
    ],
    ids=["digamma", "erfinv", "lgamma", "erf", "erfc"],
)
def test_scalar_versions_agree_with_the_numpy_ones(scalar, vectorised, xs):
    """Compiled kernels call the scalar versions, eager mode the numpy ones: they agree
    to a few ulps (of the larger reflection term below 0) and in every special value."""
    got, expected = _map(scalar, xs), vectorised(xs)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    inf = np.isinf(expected)
    np.testing.assert_array_equal(got[inf], expected[inf])
    finite = np.isfinite(expected)
    scale = reflection_scale(vectorised, xs[finite], expected[finite])
    err = np.abs(got[finite] - expected[finite]) / np.spacing(np.maximum(scale, 1e-300))
    assert err.max() <= 8, f"{err.max()} ulps at x = {xs[finite][np.argmax(err)]!r}"


@pytest.mark.parametrize("n", [1, 2, 5])
def test_scalar_polygamma_agrees_with_the_numpy_one(n):
    got, expected = _map_polygamma(n, EVERYWHERE), special.polygamma(n, EVERYWHERE)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(
        got[~finite & ~np.isnan(expected)], expected[~finite & ~np.isnan(expected)]
    )
    scale = reflection_scale(
        lambda x: special.polygamma(n, x), EVERYWHERE[finite], expected[finite]
    )
    err = np.abs(got[finite] - expected[finite]) / np.spacing(np.maximum(scale, 1e-300))
    assert err.max() <= 8


# ---- where the coefficients come from -----------------------------------------------------------


def _chebyshev(f, a: float, b: float, count: int, nodes: int = 96) -> np.ndarray:  # type: ignore[no-untyped-def]
    a, b = mp.mpf(a), mp.mpf(b)
    xs = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / nodes) for k in range(nodes)]
    fs = [f((b - a) / 2 * x + (a + b) / 2) for x in xs]
    cs = [
        2
        * mp.fsum(fs[k] * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / nodes) for k in range(nodes))
        / nodes
        for j in range(count)
    ]
    cs[0] /= 2
    return np.array([float(c) for c in cs])


def test_erfc_coefficients_are_the_chebyshev_series_of_the_scaled_function():
    scaled = lambda x: mp.erfc(x) * mp.exp(x * x)  # noqa: E731
    near = _chebyshev(scaled, 0.5, 2, len(special._ERFC_NEAR))
    far = _chebyshev(lambda t: scaled(1 / t) / t, 1 / 28, 1 / 2, len(special._ERFC_FAR))
    np.testing.assert_allclose(special._ERFC_NEAR, near, rtol=1e-15, atol=1e-30)
    np.testing.assert_allclose(special._ERFC_FAR, far, rtol=1e-15, atol=1e-30)
