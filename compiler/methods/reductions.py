"""Reductions as Operand methods: sum, mean, amax/amin, max/min (with a dim: values
and indices), argmax/argmin, logsumexp, softmax, log_softmax."""

from __future__ import annotations

from typing import Any

from compiler import dtypes
from compiler.args import MinMax, normalize_axis, reduction_axes
from compiler.dispatch import apply
from compiler.errors import DTypeError

__all__ = ["ReductionMethods"]


class ReductionMethods:
    """Mixin of `compiler.operand.Operand` (see there for the protocol)."""

    __slots__ = ()

    def sum(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Any:
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind in "biu" and dtype is None:
            x = x.to(dtypes.int64)
        axes = reduction_axes(dim, x.ndim, "sum")
        return apply(
            "reduce_sum",
            x,
            axes=axes,
            keepdims=keepdim,
            name="SumBackward0" if dim is None else "SumBackward1",
        )

    def mean(self, dim: Any = None, keepdim: bool = False) -> Any:
        if not dtypes.is_float(self.dtype):
            raise DTypeError(
                f"mean(): expected a floating point tensor, got {self.dtype} (shape "
                f"{tuple(self.shape)}); convert it first with .float()"
            )
        axes = reduction_axes(dim, self.ndim, "mean")
        return apply(
            "mean",
            self,
            axes=axes,
            keepdims=keepdim,
            name="MeanBackward0" if dim is None else "MeanBackward1",
        )

    def amax(self, dim: Any = (), keepdim: bool = False) -> Any:
        axes = reduction_axes(dim, self.ndim, "amax")
        return apply("amax", self, axes=axes, keepdims=keepdim)

    def amin(self, dim: Any = (), keepdim: bool = False) -> Any:
        axes = reduction_axes(dim, self.ndim, "amin")
        return apply("amin", self, axes=axes, keepdims=keepdim)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        if dim is None:
            return apply(
                "amax", self, axes=tuple(range(self.ndim)), keepdims=False, name="MaxBackward1"
            )
        if hasattr(dim, "_bind"):  # torch.max(a, b) is maximum
            return self.maximum(dim)
        axis = normalize_axis(dim, self.ndim, "max")
        return MinMax(*apply("max_dim", self, axis=axis, keepdims=keepdim))

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        if dim is None:
            return apply(
                "amin", self, axes=tuple(range(self.ndim)), keepdims=False, name="MinBackward1"
            )
        if hasattr(dim, "_bind"):
            return self.minimum(dim)
        axis = normalize_axis(dim, self.ndim, "min")
        return MinMax(*apply("min_dim", self, axis=axis, keepdims=keepdim))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Any:
        if dim is None:
            return self.reshape(-1).argmax(0)
        return self.max(normalize_axis(dim, self.ndim, "argmax"), keepdim).indices

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Any:
        if dim is None:
            return self.reshape(-1).argmin(0)
        return self.min(normalize_axis(dim, self.ndim, "argmin"), keepdim).indices

    def logsumexp(self, dim: Any, keepdim: bool = False) -> Any:
        axes = reduction_axes(dim, self.ndim, "logsumexp")
        return apply("logsumexp", self, axes=axes, keepdims=keepdim)

    def softmax(self, dim: int) -> Any:
        return apply("softmax", self, axis=normalize_axis(dim, self.ndim, "softmax"))

    def log_softmax(self, dim: int) -> Any:
        return apply("log_softmax", self, axis=normalize_axis(dim, self.ndim, "log_softmax"))
