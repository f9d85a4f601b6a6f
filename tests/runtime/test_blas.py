"""runtime.blas: gemm from njit code through numpy's OpenBLAS, against numpy's matmul
(float64 products computed by numpy are the oracle), for every transpose pair, with
offsets into larger flat arrays and leading dimensions of the stored matrices."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from runtime import blas

pytestmark = pytest.mark.skipif(not blas.HAVE_BLAS, reason="numpy's OpenBLAS not found")


@numba.njit(cache=False)
def _call_s(ta, tb, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc):
    blas.sgemm(ta, tb, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc)


@numba.njit(cache=False)
def _call_d(ta, tb, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc):
    blas.dgemm(ta, tb, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc)


def stored(op: np.ndarray, trans: bool, pad: int) -> tuple[np.ndarray, int]:
    """A flat array holding `op` (or its transpose when `trans`) after `pad` elements,
    and the leading dimension of the stored matrix."""
    mat = np.ascontiguousarray(op.T if trans else op)
    flat = np.concatenate(
        [np.full(pad, np.nan, op.dtype), mat.ravel(), np.full(3, np.nan, op.dtype)]
    )
    return flat, mat.shape[1]


CASES = [  # (m, n, k, trans_a, trans_b)
    (3, 5, 4, False, False),
    (3, 5, 4, True, False),
    (3, 5, 4, False, True),
    (3, 5, 4, True, True),
    (1, 7, 6, False, False),
    (6, 1, 7, True, True),
    (32, 128, 128, False, True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("m", "n", "k", "ta", "tb"), CASES)
def test_gemm_from_njit_equals_numpy_matmul(dtype, m, n, k, ta, tb):
    rng = np.random.default_rng(m * 100 + n * 10 + k)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    fa, lda = stored(a, ta, 2)
    fb, ldb = stored(b, tb, 5)
    c = np.full(1 + m * n + 2, -7.0, dtype)
    flag = {False: blas.NO_TRANS, True: blas.TRANS}
    call = _call_s if dtype == np.float32 else _call_d
    call(flag[ta], flag[tb], m, n, k, fa, 2, lda, fb, 5, ldb, c, 1, n)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c[1:-2].reshape(m, n), expected, rtol=tol, atol=tol * k)
    assert c[0] == -7.0 and (c[-2:] == -7.0).all()  # nothing written outside C
