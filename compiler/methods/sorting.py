"""Sorting and selection as Operand methods: sort, argsort, msort, topk, kthvalue,
median, nanmedian (the ops are in `compiler.ops.sorting`) and quantile (composed of
sort, narrow and lerp).

Equal values always come out in index order, NaN above every number: PyTorch's
order with `stable=True`. Without it PyTorch leaves the order of equal values
unspecified (its CPU sort is stable for rows of up to 16 elements and not beyond);
the values agree either way. Where PyTorch leaves the choice among equal values
unspecified (topk, kthvalue, median with a dim), the index is the one the stable
order gives: the earliest of the equal values it could pick.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes, return_types
from compiler.args import int_arg, normalize_axis
from compiler.dispatch import apply, tracing
from compiler.errors import DTypeError, TraceError

_QUANTILE_MODES = ("linear", "lower", "higher", "nearest", "midpoint")

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

    def quantile(
        self,
        q: Any,
        dim: int | None = None,
        keepdim: bool = False,
        *,
        interpolation: str = "linear",
    ) -> Any:
        """The q-th quantiles of the elements along `dim` (all elements when None), as
        torch.quantile: with the values sorted, position q (n - 1), interpolated by
        `interpolation` ('linear', 'lower', 'higher', 'nearest' rounding half to even,
        'midpoint'). `q`: a number, or a 1-d tensor or list (the quantiles then stack
        along a new first dim). NaN where the slice holds a NaN. Differentiable (the
        gradient reaches the one or two elements interpolated).

        Raises DTypeError for non-float input, ValueError for q outside [0, 1], an
        unknown interpolation or an empty input; TraceError for a q tensor computed in a
        traced function (its values choose the elements: pass numbers)."""
        if interpolation not in _QUANTILE_MODES:
            raise ValueError(
                f"quantile() interpolation must be one of {', '.join(_QUANTILE_MODES)}, "
                f"got {interpolation!r}"
            )
        if not dtypes.is_float(np.dtype(self.dtype)):
            raise DTypeError(
                f"quantile() input tensor must be either float or double dtype, got {self.dtype}"
            )
        scalar = isinstance(q, (int, float)) and not isinstance(q, bool)
        if not scalar and hasattr(q, "builder"):
            raise TraceError(
                "quantile(): q is a value computed inside the traced function; its values "
                "choose which elements are read, so pass q as numbers"
            )
        qs = np.asarray(q.numpy() if hasattr(q, "numpy") else q, dtype=np.float64).reshape(-1)
        if tracing.builder is not None and not scalar and not isinstance(q, (list, tuple)):
            raise TraceError(
                "quantile(): inside a traced function q must be a number or a list of "
                "numbers (a tensor's values would be read once, when tracing)"
            )
        if ((qs < 0) | (qs > 1) | np.isnan(qs)).any():
            raise ValueError("quantile() q values must be in the range [0, 1]")
        x = self if dim is not None else self.reshape(-1)
        d = 0 if dim is None else normalize_axis(dim, self.ndim, "quantile")
        n = int(x.shape[d])
        if n == 0:
            raise ValueError("quantile() input tensor must be non-empty")
        s = x.sort(d).values  # NaN last
        has_nan = s.narrow(d, n - 1, 1).isnan()
        out = []
        for qv in qs:
            pos = qv * (n - 1)
            lo, hi = int(np.floor(pos)), int(np.ceil(pos))
            if interpolation == "lower":
                hi = lo
            elif interpolation == "higher":
                lo = hi
            elif interpolation == "nearest":
                lo = hi = int(np.round(pos))  # half to even, as torch.round
            v = s.narrow(d, lo, 1)
            if hi != lo:
                w = 0.5 if interpolation == "midpoint" else pos - lo
                v = v.lerp(s.narrow(d, hi, 1), w)
            out.append(v.where(~has_nan, float("nan")))
        # the result's shape; PyTorch's last node is a squeeze whatever the options
        kept = list(x.shape)
        kept[d] = 1
        shape = (1,) * self.ndim if dim is None and keepdim else tuple(kept)
        if not keepdim:
            shape = () if dim is None else tuple(kept[:d] + kept[d + 1 :])
        stacked = out[0] if len(out) == 1 else apply("concatenate", *out, axis=d)
        final = shape if scalar else (len(out), *shape)
        if not scalar:  # the quantiles along a new first dim
            stacked = stacked.movedim(d, 0) if d else stacked
        return apply("reshape", stacked, shape=final, name="SqueezeBackward4")
