"""Op-spec rows of the reduction family: prod, scans (cumsum, cumprod, logcumsumexp,
cummax, cummin), var/std and their means, norms (vector, matrix, linalg.norm),
all/any/count_nonzero, nansum/nanmean, aminmax, and max/min/argmax/argmin with a dim.

Each row is one code path: a dim or several, keepdim, dtype rules, and the edge
values that need care (zeros for products, NaN for the nan-variants, ties for the
indices of running extremes, huge values for the log-space scans). Rows on ties or at
kinks set `no_fd=KINK` and are checked against PyTorch only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opspecs import INTS, KINK, A, S, distinct, fixed, indices, lib, mask, nonzero

NAN = float("nan")
FLOAT32 = ("float32",)


def _ints(low: int, high: int) -> Any:
    return indices(low, high)


def _vector_norm(x: np.ndarray, p: float, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    a = np.abs(x)
    if p == np.inf:
        return a.max(axis=axis, keepdims=keepdims)
    if p == -np.inf:
        return a.min(axis=axis, keepdims=keepdims)
    if p == 0:
        return (x != 0).sum(axis=axis, keepdims=keepdims).astype(x.dtype)
    return (a**p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


def _cumextreme(fn: Any) -> Any:
    return lambda x, axis: fn.accumulate(x, axis=axis)


SPECS = [
    # ---- prod -----------------------------------------------------------------------
    S("prod_all", lambda x: x.prod(), np.prod, (A((3, 4)),), grad_fn="ProdBackward0"),
    S(
        "prod_dim_keepdim",
        lambda x: lib(x).prod(x, 1, keepdim=True),
        lambda x: x.prod(1, keepdims=True),
        (A((2, 3, 4)),),
        grad_fn="ProdBackward1",
    ),
    S(
        "prod_one_zero",
        lambda x: x.prod(1),
        lambda x: x.prod(1),
        (A((2, 3), fixed([2.0, 0.0, 3.0, 1.5, -2.0, 0.5])),),
        grad_fn="ProdBackward1",
    ),
    S(
        "prod_two_zeros",
        lambda x: x.prod(),
        np.prod,
        (A((5,), fixed([0.0, 2.0, 0.0, -3.0, 1.5])),),
        grad_fn="ProdBackward0",
    ),
    S(
        "prod_zeros_negative_dim",
        lambda x: x.prod(-2),
        lambda x: x.prod(-2),
        (A((3, 2), fixed([0.0, 1.5, 2.0, 0.0, -1.0, 0.0])),),
        grad_fn="ProdBackward1",
    ),
    S(
        "prod_dtype_float64",
        lambda x: x.prod(dtype=lib(x).float64),
        np.prod,
        (A((2, 3)),),
        grad_fn="ProdBackward0",
        dtypes=FLOAT32,
    ),
    S(
        "prod_int_is_int64",
        lambda x: x.prod(0),
        lambda x: x.prod(0),
        (A((3, 4), _ints(-3, 4), dtype="int32"),),
        dtypes=INTS,
    ),
    S(
        "prod_bool_is_int64",
        lambda m: lib(m).prod(m),
        lambda m: np.prod(m.astype(np.int64)),
        (A((4,), mask, dtype="bool"),),
        dtypes=INTS,
    ),
    # ---- scans ----------------------------------------------------------------------
    S(
        "cumsum",
        lambda x: x.cumsum(1),
        lambda x: np.cumsum(x, 1),
        (A((3, 4)),),
        grad_fn="CumsumBackward0",
    ),
    S(
        "cumsum_function_negative_dim",
        lambda x: lib(x).cumsum(x, -3),
        lambda x: np.cumsum(x, 0),
        (A((3, 2, 2)),),
        grad_fn="CumsumBackward0",
    ),
    S(
        "cumsum_dtype_float64",
        lambda x: x.cumsum(0, dtype=lib(x).float64),
        lambda x: np.cumsum(x, 0),
        (A((5,)),),
        grad_fn="CumsumBackward0",
        dtypes=FLOAT32,
    ),
    S(
        "cumsum_int32_is_int64",
        lambda x: x.cumsum(0),
        lambda x: np.cumsum(x, 0, dtype=np.int64),
        (A((5,), _ints(-5, 5), dtype="int32"),),
        dtypes=INTS,
    ),
    S("cumsum_0d", lambda x: x.cumsum(0), lambda x: x, (A(()),), grad_fn="CumsumBackward0"),
    S(
        "cumprod",
        lambda x: x.cumprod(1),
        lambda x: np.cumprod(x, 1),
        (A((2, 4)),),
        grad_fn="CumprodBackward0",
    ),
    S(
        "cumprod_zeros",
        lambda x: lib(x).cumprod(x, 1),
        lambda x: np.cumprod(x, 1),
        (A((3, 4), fixed([2, 0, 3, 4, 0, 1.5, 0, 2, 1.5, -2, 0.5, 3])),),
        grad_fn="CumprodBackward0",
    ),
    S(
        "cumprod_dim0",
        lambda x: x.cumprod(0),
        lambda x: np.cumprod(x, 0),
        (A((4, 2)),),
        grad_fn="CumprodBackward0",
    ),
    S(
        "logcumsumexp",
        lambda x: x.logcumsumexp(1),
        lambda x: np.logaddexp.accumulate(x, 1),
        (A((3, 4)),),
        grad_fn="LogcumsumexpBackward0",
    ),
    S(
        "logcumsumexp_large_dim0",
        lambda x: lib(x).logcumsumexp(x * 300, 0),
        lambda x: np.logaddexp.accumulate(x * 300, 0),
        (A((5, 2)),),
        grad_fn="LogcumsumexpBackward0",
        # PyTorch's float32 gradient, exp(x - y) with y ~ 600 rounded, is off by 1e-4
        # (ours agrees with float64): compared in float64 only
        dtypes=("float64",),
    ),
    S(
        "cummax_values",
        lambda x: x.cummax(1).values,
        lambda x: np.maximum.accumulate(x, 1),
        (A((3, 4), distinct),),
        grad_fn="CummaxBackward0",
    ),
    S(
        "cummax_indices",
        lambda x: lib(x).cummax(x, 0).indices,
        None,
        (A((4, 3), distinct),),
    ),
    S(
        "cummin_values",
        lambda x: lib(x).cummin(x, 0)[0],
        lambda x: np.minimum.accumulate(x, 0),
        (A((4, 3), distinct),),
        grad_fn="CumminBackward0",
    ),
    S(
        "cummax_ties",
        lambda x: x.cummax(0).values,
        lambda x: np.maximum.accumulate(x, 0),
        (A((6,), fixed([1, 1, 0, 1, 2, 2])),),
        grad_fn="CummaxBackward0",
        no_fd=KINK,
    ),
    S(
        "cummin_ties_indices",
        lambda x: x.cummin(0).indices,
        None,
        (A((6,), fixed([1, 1, 2, 1, 0, 0])),),
    ),
    # ---- var, std, var_mean, std_mean -----------------------------------------------------
    S("var_all", lambda x: x.var(), lambda x: x.var(ddof=1), (A((3, 4)),), grad_fn="VarBackward0"),
    S(
        "var_dim_unbiased_false",
        lambda x: x.var(1, unbiased=False),
        lambda x: x.var(1),
        (A((3, 4)),),
        grad_fn="VarBackward0",
    ),
    S(
        "var_dims_correction_keepdim",
        lambda x: lib(x).var(x, (0, 2), correction=2, keepdim=True),
        lambda x: x.var((0, 2), ddof=2, keepdims=True),
        (A((2, 3, 4)),),
        grad_fn="VarBackward0",
    ),
    S(
        "std_all",
        lambda x: lib(x).std(x),
        lambda x: x.std(ddof=1),
        (A((3, 4)),),
        grad_fn="StdBackward0",
    ),
    S(
        "std_dim_keepdim_biased",
        lambda x: x.std(-1, False, True),
        lambda x: x.std(-1, keepdims=True),
        (A((3, 4)),),
        grad_fn="StdBackward0",
    ),
    S(
        "std_constant_rows",
        lambda x: x.std(1),
        lambda x: x.std(1, ddof=1),
        (A((2, 3), fixed([2, 2, 2, 1, 2, 4])),),
        grad_fn="StdBackward0",
        no_fd=KINK,
    ),
    S(
        "var_mean_var",
        lambda x: lib(x).var_mean(x, 1)[0],
        lambda x: x.var(1, ddof=1),
        (A((3, 4)),),
        grad_fn="VarMeanBackward0",
    ),
    S(
        "var_mean_mean_keepdim",
        lambda x: lib(x).var_mean(x, 0, keepdim=True, correction=0)[1],
        lambda x: x.mean(0, keepdims=True),
        (A((3, 4)),),
        grad_fn="VarMeanBackward0",
    ),
    S(
        "std_mean_std",
        lambda x: lib(x).std_mean(x, (0, 1))[0],
        lambda x: x.std((0, 1), ddof=1),
        (A((2, 3, 2)),),
        grad_fn="StdMeanBackward0",
    ),
    S(
        "std_mean_mean",
        lambda x: lib(x).std_mean(x)[1],
        np.mean,
        (A((3, 4)),),
        grad_fn="StdMeanBackward0",
    ),
    # ---- norms ------------------------------------------------------------------------------
    S(
        "norm_default",
        lambda x: x.norm(),
        lambda x: _vector_norm(x, 2),
        (A((3, 4)),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "norm_p1_dim",
        lambda x: x.norm(1, dim=1),
        lambda x: _vector_norm(x, 1, 1),
        (A((3, 4), nonzero),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "norm_inf_function",
        lambda x: lib(x).norm(x, float("inf")),
        lambda x: _vector_norm(x, np.inf),
        (A((3, 4), distinct),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "norm_neg_inf_keepdim",
        lambda x: x.norm(float("-inf"), dim=0, keepdim=True),
        lambda x: _vector_norm(x, -np.inf, 0, True),
        (A((3, 4), distinct),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "norm_p0_counts",
        lambda x: x.norm(0, dim=1),
        lambda x: _vector_norm(x, 0, 1),
        (A((2, 3), fixed([0, 1.5, -2, 0, 0, 3])),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "norm_p3_5_dims",
        lambda x: x.norm(3.5, dim=(0, 2)),
        lambda x: _vector_norm(x, 3.5, (0, 2)),
        (A((2, 3, 2), nonzero),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "norm_p_half",
        lambda x: x.norm(0.5),
        lambda x: _vector_norm(x, 0.5),
        (A((4,), nonzero),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "norm_p_negative",
        lambda x: x.norm(-1.5, dim=-1),
        lambda x: _vector_norm(x, -1.5, -1),
        (A((2, 3), nonzero),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "norm_fro_dims",
        lambda x: x.norm("fro", dim=(0, 2)),
        lambda x: _vector_norm(x, 2, (0, 2)),
        (A((2, 3, 2)),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "norm_at_zero_vector",
        lambda x: x.norm(dim=1),
        lambda x: _vector_norm(x, 2, 1),
        (A((2, 3), fixed([0, 0, 0, 1, -2, 2])),),
        grad_fn="LinalgVectorNormBackward0",
        no_fd=KINK,
    ),
    S(
        "norm_p3_at_zero_vector",
        lambda x: x.norm(3, dim=1),
        lambda x: _vector_norm(x, 3, 1),
        (A((2, 3), fixed([0, 0, 0, 1, -2, 0])),),
        grad_fn="LinalgVectorNormBackward0",
        no_fd=KINK,
    ),
    S(
        "norm_inf_ties",
        lambda x: x.norm(float("inf")),
        lambda x: _vector_norm(x, np.inf),
        (A((3,), fixed([3, -3, 1])),),
        grad_fn="LinalgVectorNormBackward0",
        no_fd=KINK,
    ),
    S(
        "vector_norm_dtype_float64",
        lambda x: lib(x).linalg.vector_norm(x, 2, dim=1, dtype=lib(x).float64),
        lambda x: _vector_norm(x, 2, 1),
        (A((3, 4)),),
        grad_fn="LinalgVectorNormBackward0",
        dtypes=FLOAT32,
    ),
    S(
        "vector_norm_ord_keepdim",
        lambda x: lib(x).linalg.vector_norm(x, ord=4, dim=(1, 2), keepdim=True),
        lambda x: _vector_norm(x, 4, (1, 2), True),
        (A((2, 2, 3)),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "matrix_norm_fro",
        lambda x: lib(x).linalg.matrix_norm(x),
        lambda x: np.linalg.norm(x, "fro", axis=(-2, -1)),
        (A((2, 3, 4)),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "matrix_norm_1",
        lambda x: lib(x).linalg.matrix_norm(x, 1),
        lambda x: np.linalg.norm(x, 1, axis=(-2, -1)),
        (A((2, 3, 4), nonzero),),
        grad_fn="AmaxBackward0",
    ),
    S(
        "matrix_norm_neg1_keepdim",
        lambda x: lib(x).linalg.matrix_norm(x, -1, keepdim=True),
        lambda x: np.linalg.norm(x, -1, axis=(-2, -1), keepdims=True),
        (A((3, 4), nonzero),),
        grad_fn="AminBackward0",
    ),
    S(
        "matrix_norm_inf_dims_reversed",
        lambda x: lib(x).linalg.matrix_norm(x, float("inf"), dim=(1, 0)),
        lambda x: np.linalg.norm(x, np.inf, axis=(1, 0)),
        (A((3, 4), nonzero),),
        grad_fn="AmaxBackward0",
    ),
    S(
        "matrix_norm_neg_inf",
        lambda x: lib(x).linalg.matrix_norm(x, float("-inf")),
        lambda x: np.linalg.norm(x, -np.inf, axis=(-2, -1)),
        (A((3, 4), nonzero),),
        grad_fn="AminBackward0",
    ),
    S(
        "linalg_norm_flat",
        lambda x: lib(x).linalg.norm(x),
        lambda x: _vector_norm(x, 2),
        (A((2, 3, 2)),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    S(
        "linalg_norm_ord_2d_is_matrix",
        lambda x: lib(x).linalg.norm(x, float("inf")),
        lambda x: np.linalg.norm(x, np.inf),
        (A((3, 2), nonzero),),
        grad_fn="AmaxBackward0",
    ),
    S(
        "linalg_norm_dim_vector",
        lambda x: lib(x).linalg.norm(x, 3, dim=1),
        lambda x: _vector_norm(x, 3, 1),
        (A((3, 4), nonzero),),
        grad_fn="LinalgVectorNormBackward0",
    ),
    # ---- all, any, count_nonzero ---------------------------------------------------------
    S(
        "all_float",
        lambda x: x.all(),
        np.all,
        (A((2, 3), fixed([1, 2, 0, 3, 4, 5])),),
    ),
    S(
        "all_dim_keepdim",
        lambda x: lib(x).all(x, 1, keepdim=True),
        lambda x: np.all(x, 1, keepdims=True),
        (A((2, 3), fixed([1, 2, 0, 3, 4, 5])),),
    ),
    S(
        "any_dims_tuple",
        lambda x: x.any((0, 2)),
        lambda x: np.any(x, (0, 2)),
        (A((2, 3, 2), fixed([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])),),
    ),
    S(
        "any_bool",
        lambda m: lib(m).any(m, 0),
        lambda m: np.any(m, 0),
        (A((3, 2), mask, dtype="bool"),),
    ),
    S(
        "all_int_empty_dim",
        lambda x: x.all(1),
        lambda x: np.all(x, 1),
        (A((2, 0), _ints(0, 3), dtype="int64"),),
        dtypes=INTS,
    ),
    S(
        "count_nonzero",
        lambda x: x.count_nonzero(),
        np.count_nonzero,
        (A((2, 3), fixed([1, 0, 0, 3, 0, 5])),),
    ),
    S(
        "count_nonzero_dims",
        lambda x: lib(x).count_nonzero(x, dim=(0, 1)),
        lambda x: np.count_nonzero(x, axis=(0, 1)),
        (A((2, 2, 2), fixed([1, 0, 0, 3, 0, 5, 0, 0])),),
    ),
    # ---- sums and means with NaNs and dtypes ------------------------------------------------
    S(
        "nansum",
        lambda x: x.nansum(),
        np.nansum,
        (A((2, 3), fixed([1, NAN, 2, -3, NAN, 0.5])),),
        grad_fn="NansumBackward0",
    ),
    S(
        "nansum_dim_keepdim",
        lambda x: lib(x).nansum(x, 1, keepdim=True),
        lambda x: np.nansum(x, 1, keepdims=True),
        (A((2, 3), fixed([1, NAN, 2, -3, NAN, 0.5])),),
        grad_fn="NansumBackward0",
    ),
    S(
        "nanmean_dim",
        lambda x: x.nanmean(0),
        lambda x: np.nanmean(x, 0),
        (A((2, 3), fixed([1, NAN, 2, -3, 4, 0.5])),),
        grad_fn="DivBackward0",
    ),
    S(
        "mean_dtype_float64",
        lambda x: x.mean(1, dtype=lib(x).float64),
        lambda x: x.mean(1),
        (A((3, 4)),),
        grad_fn="MeanBackward1",
        dtypes=FLOAT32,
    ),
    S(
        "sum_dtype_float64",
        lambda x: lib(x).sum(x, dtype=lib(x).float64),
        np.sum,
        (A((3, 4)),),
        grad_fn="SumBackward0",
        dtypes=FLOAT32,
    ),
    S(
        "mean_int_with_dtype",
        lambda x: x.mean(dtype=lib(x).float64),
        lambda x: x.mean(),
        (A((3, 4), _ints(-5, 5), dtype="int64"),),
        dtypes=INTS,
    ),
    # ---- aminmax, argmax keepdim ------------------------------------------------------------
    S(
        "aminmax_min",
        lambda x: lib(x).aminmax(x).min,
        np.min,
        (A((3, 4), distinct),),
        grad_fn="AminmaxBackward0",
    ),
    S(
        "aminmax_dim_keepdim_max",
        lambda x: x.aminmax(dim=1, keepdim=True)[1],
        lambda x: x.max(1, keepdims=True),
        (A((3, 4), distinct),),
        grad_fn="AminmaxBackward0",
    ),
    S(
        "aminmax_ties",
        lambda x: lib(x).aminmax(x, dim=0).max,
        lambda x: x.max(0),
        (A((4,), fixed([1, 2, 2, 1])),),
        grad_fn="AminmaxBackward0",
        no_fd=KINK,
    ),
    S(
        "argmax_all_keepdim",
        lambda x: x.argmax(keepdim=True),
        lambda x: np.argmax(x).reshape(1, 1),
        (A((3, 4), distinct),),
    ),
    S(
        "argmin_dim_keepdim",
        lambda x: lib(x).argmin(x, 0, keepdim=True),
        lambda x: np.argmin(x, 0)[None],
        (A((3, 4), distinct),),
    ),
    # ---- max/min with a dim, now return types ----------------------------------------------
    S(
        "max_dim_named_values_keepdim",
        lambda x: x.max(dim=1, keepdim=True).values,
        lambda x: x.max(1, keepdims=True),
        (A((3, 4), distinct),),
        grad_fn="MaxBackward0",
    ),
]
