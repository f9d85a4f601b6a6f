"""runtime.libm: the C library's functions over arrays, in both of its paths (a Python loop
over `math` for small arrays, numba loops for large ones), and the shuffle kernels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runtime import libm


@pytest.mark.parametrize("name", ["log", "log1p", "sin", "cos"])
@pytest.mark.parametrize("size", [10, libm.SMALL + 1000])
def test_libm_calls_the_c_library_in_both_paths(name, size):
    x = np.random.default_rng(3).random(size)
    x = 1 - x if name == "log" else -x if name == "log1p" else 2 * np.pi * x
    expected = [getattr(math, name)(v) for v in x]
    assert np.array_equal(getattr(libm, name)(x), np.array(expected))


@pytest.mark.parametrize("size", [10, libm.SMALL + 1000])
def test_libm_pow_is_the_c_librarys(size):
    x = np.random.default_rng(4).uniform(-5, 5, size)
    assert np.array_equal(libm.pow(2.5, x), np.array([math.pow(2.5, v) for v in x]))


@pytest.mark.parametrize("size", [10, libm.SMALL + 1000])
def test_the_shuffle_kernels_agree_with_their_definition(size):
    rng = np.random.default_rng(5)
    offsets = np.array([rng.integers(0, size - i) for i in range(size - 1)], np.int64)
    a = np.arange(size, dtype=np.int64)
    libm.fisher_yates(a, offsets)
    b = list(range(size))
    for i, k in enumerate(offsets):
        b[i], b[i + k] = b[i + k], b[i]
    picks = np.array([rng.integers(0, i + 1) for i in range(size)], np.int64)
    c = np.empty(size, np.int64)
    libm.inside_out_shuffle(c, picks)
    d = [0] * size
    for i, j in enumerate(picks):
        d[i] = d[j]
        d[j] = i
    assert a.tolist() == b and c.tolist() == d


@pytest.mark.parametrize("name", ["log", "sin", "cos"])
def test_float32_functions_are_the_c_librarys_single_precision_ones(name):
    # the single precision result is within half an ulp of the double one for these inputs
    # in all but rare cases, and never more than one ulp away
    x = np.random.default_rng(6).random(5000).astype(np.float32) + np.float32(0.01)
    got = libm.float32(name, x)
    exact = getattr(np, name)(x.astype(np.float64))
    assert got.dtype == np.float32
    assert np.all(np.abs(got - exact) <= np.spacing(np.abs(exact).astype(np.float32)))
