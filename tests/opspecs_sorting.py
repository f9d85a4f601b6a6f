"""Spec rows of the sorting and selection family: sort, argsort, msort, topk, kthvalue,
median, nanmedian, quantile.

The references are numpy's stable sorts. A descending order with equal values in
index order is numpy's stable argsort of the negated values (NaN, which PyTorch puts
first, keyed as -inf). Rows with ties or NaNs set no_fd (the gradient then goes to
the elements PyTorch picks: checked against PyTorch).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opspecs import INTS, KINK, A, S, distinct, fixed, indices, lib

NAN = float("nan")


def _desc_order(x: np.ndarray, axis: int) -> np.ndarray:
    key = np.where(np.isnan(x), -np.inf, -x) if x.dtype.kind == "f" else -x
    return np.argsort(key, axis=axis, kind="stable")


def _desc_values(x: np.ndarray, axis: int) -> np.ndarray:
    return np.take_along_axis(x, _desc_order(x, axis), axis)


def _lower_median(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    """The lower median along `axis` (all elements if None), NaN where a NaN is."""
    s = np.sort(x, axis=axis)
    if axis is None:
        return s[(x.size - 1) // 2] if not np.isnan(s).any() else np.float64(NAN) + s[0]
    m = np.take(s, (x.shape[axis] - 1) // 2, axis=axis)
    m = np.where(np.isnan(s).any(axis=axis), np.nan, m).astype(x.dtype)
    return np.expand_dims(m, axis) if keepdims else m


def _nan_lower_median(x: np.ndarray, axis: int) -> np.ndarray:
    rows = np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])
    out = []
    for r in rows:
        r = np.sort(r[~np.isnan(r)])
        out.append(r[(len(r) - 1) // 2] if len(r) else np.nan)
    return np.array(out, x.dtype).reshape(np.moveaxis(x, axis, -1).shape[:-1])


SPECS = [
    # ---- sort, argsort, msort ---------------------------------------------------------
    S(
        "sort_values",
        lambda x: x.sort().values,
        lambda x: np.sort(x, -1),
        (A((3, 5), distinct),),
        grad_fn="SortBackward0",
    ),
    S(
        "sort_indices",
        lambda x: lib(x).sort(x)[1],
        lambda x: np.argsort(x, -1, kind="stable"),
        (A((3, 5), distinct),),
    ),
    S(
        "sort_descending_dim0_values",
        lambda x: lib(x).sort(x, 0, True)[0],
        lambda x: _desc_values(x, 0),
        (A((4, 3), distinct),),
        grad_fn="SortBackward0",
    ),
    S(
        "sort_stable_descending_ties_values",
        lambda x: x.sort(dim=1, descending=True, stable=True).values,
        lambda x: _desc_values(x, 1),
        (A((2, 4), fixed([1.0, 3.0, 3.0, 2.0, 2.0, 2.0, 1.0, 2.0])),),
        grad_fn="SortBackward1",
        no_fd=KINK,
    ),
    S(
        "sort_stable_descending_ties_indices",
        lambda x: x.sort(dim=1, descending=True, stable=True).indices,
        lambda x: _desc_order(x, 1),
        (A((2, 4), fixed([1.0, 3.0, 3.0, 2.0, 2.0, 2.0, 1.0, 2.0])),),
    ),
    S(
        "sort_ties_nan_indices",
        lambda x: lib(x).sort(x, 0).indices,
        lambda x: np.argsort(x, 0, kind="stable"),
        (A((6,), fixed([2.0, NAN, 1.0, 2.0, NAN, 1.0])),),
    ),
    S(
        "sort_0d",
        lambda x: x.sort().values,
        lambda x: x,
        (A(()),),
        grad_fn="SortBackward0",
    ),
    S(
        "sort_int_values",
        lambda x: x.sort(0, descending=True).values,
        lambda x: -np.sort(-x, 0),
        (A((5, 2), indices(-3, 3)),),
        dtypes=INTS,
    ),
    S(
        "argsort_descending_ties",
        lambda x: lib(x).argsort(x, dim=0, descending=True),
        lambda x: _desc_order(x, 0),
        (A((4, 2), fixed([1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 0.0])),),
    ),
    S(
        "msort",
        lambda x: lib(x).msort(x),
        lambda x: np.sort(x, 0),
        (A((4, 3), distinct),),
        grad_fn="SortBackward0",
    ),
    # ---- topk -----------------------------------------------------------------------
    S(
        "topk_values",
        lambda x: x.topk(3).values,
        lambda x: _desc_values(x, 1)[:, :3],
        (A((3, 6), distinct),),
        grad_fn="TopkBackward0",
    ),
    S(
        "topk_smallest_dim0_indices",
        lambda x: lib(x).topk(x, 2, dim=0, largest=False)[1],
        lambda x: np.argsort(x, 0, kind="stable")[:2],
        (A((5, 3), distinct),),
    ),
    S(
        "topk_smallest_dim0_values",
        lambda x: x.topk(2, 0, False).values,
        lambda x: np.sort(x, 0)[:2],
        (A((5, 3), distinct),),
        grad_fn="TopkBackward0",
    ),
    # ---- kthvalue ---------------------------------------------------------------------
    S(
        "kthvalue_keepdim_values",
        lambda x: x.kthvalue(2, 1, keepdim=True).values,
        lambda x: np.sort(x, 1)[:, 1:2],
        (A((3, 5), distinct),),
        grad_fn="KthvalueBackward0",
    ),
    S(
        "kthvalue_dim0_indices",
        lambda x: lib(x).kthvalue(x, 4, 0)[1],
        lambda x: np.argsort(x, 0, kind="stable")[3],
        (A((4, 3), distinct),),
    ),
    # ---- median, nanmedian --------------------------------------------------------------
    S(
        "median_all",
        lambda x: x.median(),
        lambda x: _lower_median(x),
        (A((3, 4), distinct),),
        grad_fn="MedianBackward0",
    ),
    S(
        "median_all_ties",
        lambda x: lib(x).median(x),
        lambda x: _lower_median(x),
        (A((5,), fixed([2.0, 1.0, 2.0, 3.0, 2.0])),),
        grad_fn="MedianBackward0",
        no_fd=KINK,
    ),
    S(
        "median_dim_values",
        lambda x: x.median(1).values,
        lambda x: _lower_median(x, 1),
        (A((3, 4), distinct),),
        grad_fn="MedianBackward1",
    ),
    S(
        "median_dim_keepdim_indices",
        lambda x: lib(x).median(x, 0, keepdim=True).indices,
        lambda x: np.take(np.argsort(x, 0, kind="stable"), [2], 0),
        (A((5, 3), distinct),),
    ),
    S(
        "median_dim_nan_values",
        lambda x: x.median(1)[0],
        lambda x: _lower_median(x, 1),
        (A((2, 3), fixed([1.0, NAN, 0.0, 2.0, 3.0, 1.0])),),
        grad_fn="MedianBackward1",
        no_fd="a NaN in the input: the row's median is NaN, its gradient goes to the NaN",
    ),
    S(
        "nanmedian_dim_values",
        lambda x: lib(x).nanmedian(x, 1).values,
        lambda x: _nan_lower_median(x, 1),
        (A((3, 4), fixed([1.0, NAN, 0.0, 2.0, 3.0, 1.0, 2.0, 0.5, NAN, NAN, NAN, -1.0])),),
        grad_fn="NanmedianBackward1",
        no_fd="NaNs in the input (ignored by nanmedian)",
    ),
    S(
        "nanmedian_all",
        lambda x: x.nanmedian(),
        lambda x: np.asarray(_nan_lower_median(x.reshape(-1), 0)),
        (A((2, 3), fixed([1.0, NAN, 0.0, 2.0, 3.0, NAN])),),
        grad_fn="NanmedianBackward0",
        no_fd="NaNs in the input (ignored by nanmedian)",
    ),
    # ---- quantile (composed of sort, narrow and lerp; numpy's methods as references) ---
    S(
        "quantile_linear_dim",
        lambda x: lib(x).quantile(x, 0.3, dim=1),
        lambda x: np.quantile(x, 0.3, axis=1),
        (A((3, 5), distinct),),
        grad_fn="SqueezeBackward4",
    ),
    S(
        "quantile_list_all_keepdim",
        lambda x: (
            x.quantile([0.25, 0.5], keepdim=True)
            if not hasattr(x, "__torch_function__")
            else x.quantile(x.new_tensor([0.25, 0.5]), keepdim=True)
        ),
        lambda x: np.quantile(x, [0.25, 0.5], keepdims=True),
        (A((2, 4), distinct),),
        grad_fn="SqueezeBackward4",
    ),
    S(
        "quantile_midpoint_dim0",
        lambda x: x.quantile(0.6, dim=0, interpolation="midpoint"),
        lambda x: np.quantile(x, 0.6, axis=0, method="midpoint"),
        (A((4, 3), distinct),),
        grad_fn="SqueezeBackward4",
    ),
]
