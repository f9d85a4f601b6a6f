"""tracer._floatmath: exact fused multiply-adds, and the Cephes float32 log and sincos that
PyTorch's vectorised normal sampler uses (checked against exact rational arithmetic and
float64 references)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from tracer._floatmath import fma32, fma64, log_f32, sincos_f32


def exact_fma(a: float, b: float, c: float) -> Fraction:
    return Fraction(a) * Fraction(b) + Fraction(c)


def round_to(fr: Fraction, dtype) -> float:
    """Correct rounding (to nearest, ties to even) of a rational to `dtype`."""
    x = dtype(float(fr))  # within one ulp; pick the nearest of x and its neighbours
    cands = [np.nextafter(x, dtype(-np.inf)), x, np.nextafter(x, dtype(np.inf))]
    return min(
        cands,
        key=lambda v: (
            abs(Fraction(float(v)) - fr),
            int(np.asarray(v).view("u8" if dtype is np.float64 else "u4")) & 1,
        ),
    )


def test_fma64_rounds_once():
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((3, 3000)) * [[1.0], [3e3], [1e-2]]
    expected = [round_to(exact_fma(x, y, z), np.float64) for x, y, z in zip(a, b, c)]
    assert np.array_equal(fma64(a, b, c), np.array(expected))


def test_fma32_rounds_once_including_halfway_cases():
    rng = np.random.default_rng(1)
    # few-bit operands make the float64 sum land exactly halfway between float32s often
    a = (rng.integers(1, 2**12, 3000) / 2**12).astype(np.float32)
    b = (rng.integers(1, 2**12, 3000) / 2**7).astype(np.float32)
    c = (rng.integers(0, 2**24, 3000) / 2**30).astype(np.float32)
    expected = [
        round_to(exact_fma(float(x), float(y), float(z)), np.float32) for x, y, z in zip(a, b, c)
    ]
    assert np.array_equal(fma32(a, b, c), np.array(expected, np.float32))


def test_cephes_log_and_sincos_are_accurate_to_one_ulp():
    u = np.random.default_rng(2).random(100_000).astype(np.float32)
    x = 1 - u  # (0, 1], the sampler's domain
    theta = np.float32(2 * np.pi) * u
    s, c = sincos_f32(theta)
    true_log = np.log(x.astype(np.float64))
    log_ulp = np.spacing(np.abs(true_log).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(log_f32(x) - true_log) / log_ulp) <= 1
    one_ulp = float(np.spacing(np.float32(1)))  # sin and cos: absolute error, |values| <= 1
    assert np.max(np.abs(s - np.sin(theta.astype(np.float64)))) <= one_ulp
    assert np.max(np.abs(c - np.cos(theta.astype(np.float64)))) <= one_ulp
