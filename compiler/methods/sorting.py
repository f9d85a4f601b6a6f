"""Sorting and selection as Operand methods: sort, argsort, msort, topk, kthvalue,
median and nanmedian (the ops are in `compiler.ops.sorting`).

Equal values always come out in index order, NaN above every number: PyTorch's
order with `stable=True`. Without it PyTorch leaves the order of equal values
unspecified (its CPU sort is stable for rows of up to 16 elements and not beyond);
the values agree either way. Where PyTorch leaves the choice among equal values
unspecified (topk, kthvalue, median with a dim), the index is the one the stable
order gives: the earliest of the equal values it could pick.
"""

from __future__ import annotations

from typing import Any

from compiler import return_types
from compiler.args import int_arg, normalize_axis
from compiler.dispatch import apply

__all__ = ["SortingMethods"]


class SortingMethods:
    """Mixin of `compiler.operand.Operand` (see there for the protocol)."""

    __slots__ = ()

    def sort(self, dim: int = -1, descending: bool = False, *, stable: bool | None = None) -> Any:
        """(values, indices) of the elements along `dim` in ascending (or `descending`)
        order; equal values keep their index order, NaN counts as the largest value.
        The sort is always stable (PyTorch's stable=True order); passing `stable` names
        the node SortBackward1, as in PyTorch."""
        axis = normalize_axis(dim, self.ndim, "sort")
        values, indices = apply(
            "sort",
            self,
            axis=axis,
            descending=bool(descending),
            stable=True,
            name="SortBackward0" if stable is None else "SortBackward1",
        )
        return return_types.sort(values, indices)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        """The indices that sort the elements along `dim` (int64; stable, see sort)."""
        return self.sort(dim, descending).indices

    def msort(self) -> Any:
        """The values sorted along dim 0 (torch.msort)."""
        return self.sort(0).values

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        """(values, indices) of the `k` largest (or smallest, `largest=False`) elements
        along `dim`, in sorted order (also with `sorted=False`, whose order PyTorch
        leaves unspecified). Among equal values the lower indices are picked first.

        Raises ShapeError when k is not in 0..size of `dim`."""
        k = int_arg(k, "k", "topk")
        axis = normalize_axis(dim, self.ndim, "topk")
        values, indices = apply(
            "topk", self, k=k, axis=axis, largest=bool(largest), sorted=bool(sorted)
        )
        return return_types.topk(values, indices)

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False) -> Any:
        """(values, indices) of the `k`-th smallest element (k from 1) along `dim`; of
        equal values, the one at the k-th place of the stable ascending order.

        Raises ShapeError when k is not in 1..size of `dim`."""
        k = int_arg(k, "k", "kthvalue")
        axis = normalize_axis(dim, self.ndim, "kthvalue")
        values, indices = apply(
            "kthvalue", self, k=k, axis=axis, keepdims=bool(keepdim), kind="kthvalue"
        )
        return return_types.kthvalue(values, indices)

    def _median(self, kind: str, dim: Any, keepdim: bool) -> Any:
        if dim is None:
            return apply("median_all", self, kind=kind)
        axis = normalize_axis(dim, self.ndim, kind)
        values, indices = apply("kthvalue", self, k=0, axis=axis, keepdims=bool(keepdim), kind=kind)
        return getattr(return_types, kind)(values, indices)

    def median(self, dim: int | None = None, keepdim: bool = False) -> Any:
        """The lower median of all elements (a 0-d tensor; NaN if any element is NaN),
        or with `dim`, (values, indices) of the lower median along `dim` (a row with a
        NaN gives NaN and the index of its first NaN)."""
        return self._median("median", dim, keepdim)

    def nanmedian(self, dim: int | None = None, keepdim: bool = False) -> Any:
        """median() ignoring NaNs: the lower median of the numbers (NaN when there are
        none)."""
        return self._median("nanmedian", dim, keepdim)
