"""Sorting and selection: sort, topk, kthvalue and the medians.

Every op here orders each row along `axis` with one rule, PyTorch's `stable=True`
sort: ascending, equal values keep their index order, NaN counts as larger than
every number; descending is the reverse order of the values with equal values still
in index order (a NaN first). `topk`, `kthvalue` and `median` pick from that order
(PyTorch picks among equal values in an unspecified order there; see their method
docstrings).

The values' gradient flows to the elements that were picked: the cotangent is
scattered back into zeros at the returned indices (`scatter_add`). The global
median (no dim) shares its cotangent evenly among the elements equal to it, as
PyTorch does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes, kernels
from compiler.errors import ShapeError
from compiler.lowering import Composite, Kernel
from compiler.operand import apply
from compiler.ops.elementwise import keep
from compiler.ops.reduce import pick_jvp, reduced_shape
from compiler.registry import AVal, Op, register, save_none


def sort_order(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """The stable permutation of `x` along `axis` (int64 indices), PyTorch's order."""
    if not descending:
        return np.argsort(x, axis=axis, kind="stable").astype(np.int64)
    # descending and stable: sort the reversed row ascending, read it backwards
    n = x.shape[axis]
    p = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return (n - 1 - np.flip(p, axis)).astype(np.int64)


def _picked_positions(x: np.ndarray, axis: int, kind: str, k: int) -> np.ndarray:
    """For `kthvalue`: the position in the ascending order picked in each row (keepdims)."""
    n = x.shape[axis]
    shape = reduced_shape(x.shape, (axis,), True)
    if kind == "kthvalue":
        return np.full(shape, k - 1, np.int64)
    valid = (
        np.sum(~np.isnan(x), axis=axis, keepdims=True)
        if x.dtype.kind == "f"
        else np.full(shape, n, np.int64)
    ).astype(np.int64)
    if kind == "median":  # a row with a NaN: its median is NaN, the first NaN's index
        return np.where(valid < n, valid, (n - 1) // 2)
    return np.maximum(valid - 1, 0) // 2  # nanmedian: the lower median of the numbers


# ---- sort ----------------------------------------------------------------------------


def _sort_abstract(x: AVal, axis: int, descending: bool, stable: bool) -> tuple[AVal, AVal]:
    return AVal(tuple(x.shape), x.dtype), AVal(tuple(x.shape), dtypes.int64)


def _sort_impl(
    x: np.ndarray, axis: int, descending: bool, stable: bool
) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    p = sort_order(x, axis, descending)
    return np.take_along_axis(x, p, axis), p


def _scatter_back(gv: Any, idx: Any, x: Any, axis: int) -> Any:
    """zeros of x's shape with `gv` added at `idx` along `axis`."""
    if x.ndim == 0:
        return gv.reshape(())
    return apply("scatter_add", gv.full_like(0, shape=tuple(x.shape)), idx, gv, dim=axis)


def _sort_vjp(g: tuple[Any, Any], out: tuple[Any, Any], x: Any, axis: int, **_: Any) -> tuple[Any]:
    return (_scatter_back(g[0], out[1], x, axis),)


def _select_jvp(t: tuple[Any], out: tuple[Any, Any], x: Any, axis: int, **_: Any) -> tuple:
    """Sorted or selected values: the tangent of the element each one is (sort, topk)."""
    if x.ndim == 0:
        return t[0], None
    return apply("gather", t[0], out[1], dim=axis), None


register(
    Op(
        "sort",
        _sort_abstract,
        _sort_impl,
        _sort_vjp,
        grad_fn="SortBackward0",
        lowering=Kernel(kernels.sort_select("sort")),
        multiple_results=True,
        saves=save_none,
        saves_out=True,
        jvp=_select_jvp,
    )
)


# ---- topk ----------------------------------------------------------------------------


def _topk_abstract(x: AVal, k: int, axis: int, largest: bool, sorted: bool) -> tuple[AVal, AVal]:
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise ShapeError(
            f"topk: k ({k}) is out of range for dimension {axis} of size {n} (input of "
            f"shape {tuple(x.shape)}); expected 0 <= k <= {n}"
        )
    shape = tuple(k if d == axis else s for d, s in enumerate(x.shape))
    return AVal(shape, x.dtype), AVal(shape, dtypes.int64)


def _topk_impl(
    x: np.ndarray, k: int, axis: int, largest: bool, sorted: bool
) -> tuple[np.ndarray, np.ndarray]:
    _topk_abstract(AVal(x.shape, x.dtype), k, axis, largest, sorted)  # k in range
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    p = np.take(sort_order(x, axis, largest), np.arange(k), axis=axis)
    return np.take_along_axis(x, p, axis), p


register(
    Op(
        "topk",
        _topk_abstract,
        _topk_impl,
        _sort_vjp,
        grad_fn="TopkBackward0",
        lowering=Kernel(kernels.sort_select("topk")),
        multiple_results=True,
        saves=save_none,
        saves_out=True,
        jvp=_select_jvp,
    )
)


# ---- kthvalue, median(dim), nanmedian(dim) ---------------------------------------------

_KTH_NODES = {
    "kthvalue": "KthvalueBackward0",
    "median": "MedianBackward1",
    "nanmedian": "NanmedianBackward1",
}


def _kth_abstract(x: AVal, k: int, axis: int, keepdims: bool, kind: str) -> tuple[AVal, AVal]:
    n = x.shape[axis] if x.ndim else 1
    if kind == "kthvalue" and not 1 <= k <= n:
        raise ShapeError(
            f"kthvalue: k ({k}) is out of range for dimension {axis} of size {n} (input "
            f"of shape {tuple(x.shape)}); expected 1 <= k <= {n}"
        )
    if n == 0:
        raise ShapeError(
            f"{kind}: cannot select from a zero-size dimension {axis} (input of shape "
            f"{tuple(x.shape)})"
        )
    shape = reduced_shape(tuple(x.shape), (axis,) if x.ndim else (), keepdims)
    return AVal(shape, x.dtype), AVal(shape, dtypes.int64)


def _kth_impl(
    x: np.ndarray, k: int, axis: int, keepdims: bool, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    _kth_abstract(AVal(x.shape, x.dtype), k, axis, keepdims, kind)  # k in range, not empty
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    p = np.take_along_axis(sort_order(x, axis, False), _picked_positions(x, axis, kind, k), axis)
    v = np.take_along_axis(x, p, axis)
    if not keepdims:
        v, p = v.squeeze(axis), p.squeeze(axis)
    return np.array(v, order="C"), np.array(p, np.int64, order="C")


def _kth_vjp(
    g: tuple[Any, Any], out: tuple[Any, Any], x: Any, k: int, axis: int, keepdims: bool, kind: str
) -> tuple[Any]:
    gv, idx = g[0], out[1]
    if x.ndim and not keepdims:
        gv, idx = gv.unsqueeze(axis), idx.unsqueeze(axis)
    return (_scatter_back(gv, idx, x, axis),)


def _kth_jvp(
    t: tuple[Any], out: tuple[Any, Any], x: Any, k: int, axis: int, keepdims: bool, kind: str
) -> tuple:
    return pick_jvp(t, out, x, axis, keepdims)


register(
    Op(
        "kthvalue",
        _kth_abstract,
        _kth_impl,
        _kth_vjp,
        grad_fn=lambda avals, kind="kthvalue", **_: _KTH_NODES[kind],
        lowering=Kernel(kernels.sort_select("kthvalue")),
        multiple_results=True,
        saves=save_none,
        saves_out=True,
        jvp=_kth_jvp,
    )
)


# ---- median() and nanmedian() of all elements --------------------------------------------


def _median_all_abstract(x: AVal, kind: str) -> AVal:
    if not all(x.shape):
        raise ShapeError(
            f"{kind}: cannot take the median of an empty tensor (shape {tuple(x.shape)})"
        )
    return AVal((), x.dtype)


def _median_all(x: Any, kind: str) -> Any:
    flat = x.reshape(-1)
    return apply("kthvalue", flat, k=0, axis=0, keepdims=False, kind=kind)[0]


def _median_hits(x: Any, out: Any) -> tuple[Any, Any]:
    """(the elements equal to the median (the NaNs when it is NaN), how many)."""
    hit = x == out
    if dtypes.is_float(x.dtype):
        hit = hit | ((x != x) & (out != out))
    return hit, hit.to(dtypes.int64).sum()


def _median_all_vjp(g: Any, out: Any, x: Any, kind: str) -> tuple[Any]:
    # PyTorch shares the cotangent evenly among the elements equal to the median, not
    # only the one the sort picked.
    hit, ties = _median_hits(x, out)
    return (keep(g.broadcast_to(tuple(x.shape)) / ties.to(g.dtype), hit),)


def _median_all_jvp(t: tuple[Any], out: Any, x: Any, kind: str) -> Any:
    """The mean tangent of the elements equal to the median (the VJP's transpose)."""
    hit, ties = _median_hits(x, out)
    return keep(t[0], hit).sum() / ties.to(t[0].dtype)


register(
    Op(
        "median_all",
        _median_all_abstract,
        None,
        _median_all_vjp,
        grad_fn=lambda avals, kind="median": (
            "MedianBackward0" if kind == "median" else "NanmedianBackward0"
        ),
        lowering=Composite(_median_all),
        saves_out=True,
        jvp=_median_all_jvp,
    )
)
