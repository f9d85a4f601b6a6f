"""Reductions as Operand methods: sum, mean, nansum, nanmean, prod, amax/amin, max/min
(with a dim: values and indices), aminmax, argmax/argmin, all, any, count_nonzero,
var, std, logsumexp, softmax, log_softmax, and the scans cumsum, cumprod,
logcumsumexp, cummax, cummin.

The dtype rules are PyTorch's: sums and products of bools and integers are int64
(unless `dtype=` says otherwise), means, variances and logsumexp need floats.
"""

from __future__ import annotations

from typing import Any

from compiler import dtypes, return_types
from compiler.args import normalize_axis, reduction_axes
from compiler.dispatch import apply
from compiler.errors import DTypeError

__all__ = ["ReductionMethods", "moment_params"]


def _float_only(x: Any, op: str) -> None:
    if not dtypes.is_float(x.dtype):
        raise DTypeError(
            f"{op}(): expected a floating point tensor, got {x.dtype} (shape "
            f"{tuple(x.shape)}); convert it first with .float() or pass dtype="
        )


def _no_bool(x: Any, op: str) -> None:
    if x.dtype == dtypes.bool_:
        raise DTypeError(
            f"{op}(): bool tensors are not supported (as in PyTorch); convert with .long()"
        )


def _widened(x: Any, dtype: Any) -> Any:
    """`x` converted to `dtype`, or, without one, bools and integers to int64 (the
    dtype of PyTorch's sums, products and cumulative sums of them)."""
    if dtype is not None:
        return x.to(dtype)
    return x.to(dtypes.int64) if x.dtype.kind in "biu" else x


def moment_params(
    x: Any, op: str, dim: Any, unbiased: Any, keepdim: bool, correction: Any
) -> dict[str, Any]:
    """The params of var, std, var_mean and std_mean from PyTorch's spellings: a bool
    first argument is `unbiased` (x.var(False)); unbiased=False means correction 0,
    the default is 1; correction= may be any number."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: give either unbiased= or correction=, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    elif isinstance(correction, bool) or not isinstance(correction, (int, float)):
        raise TypeError(f"{op}: correction must be a number, got {correction!r}")
    return dict(axes=reduction_axes(dim, x.ndim, op), correction=correction, keepdims=keepdim)


class ReductionMethods:
    """Mixin of `compiler.operand.Operand` (see there for the protocol)."""

    __slots__ = ()

    # ---- sums and means ---------------------------------------------------------------
    def sum(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Any:
        """Sum over `dim` (None: all); bools and integers sum as int64."""
        x = _widened(self, dtype)
        axes = reduction_axes(dim, x.ndim, "sum")
        return apply(
            "reduce_sum",
            x,
            axes=axes,
            keepdims=keepdim,
            name="SumBackward0" if dim is None else "SumBackward1",
        )

    def nansum(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Any:
        """Sum over `dim`, NaNs counted as 0 (their gradient is 0)."""
        x = _widened(self, dtype)
        if not dtypes.is_float(x.dtype):  # no NaN in integers
            return x.sum(dim, keepdim)
        return apply("nansum", x, axes=reduction_axes(dim, x.ndim, "nansum"), keepdims=keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Any:
        """Mean over `dim` (None: all) of a float tensor (or of `self.to(dtype)`)."""
        x = self if dtype is None else self.to(dtype)
        _float_only(x, "mean")
        axes = reduction_axes(dim, x.ndim, "mean")
        return apply(
            "mean",
            x,
            axes=axes,
            keepdims=keepdim,
            name="MeanBackward0" if dim is None else "MeanBackward1",
        )

    def nanmean(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Any:
        """Mean over `dim` of the elements that are not NaN (NaN where all are)."""
        x = self if dtype is None else self.to(dtype)
        _float_only(x, "nanmean")
        return x.nansum(dim, keepdim) / (x == x).sum(dim, keepdim)

    def prod(self, dim: int | None = None, keepdim: bool = False, dtype: Any = None) -> Any:
        """Product of all elements, or over the one dim `dim`; bools and integers
        multiply as int64. The gradient is exact with zeros in the input."""
        x = _widened(self, dtype)
        if dim is None:
            axes = tuple(range(x.ndim))
            return apply("prod", x, axes=axes, keepdims=False, name="ProdBackward0")
        axis = normalize_axis(dim, x.ndim, "prod")
        axes = (axis,) if x.ndim else ()
        return apply("prod", x, axes=axes, keepdims=keepdim, name="ProdBackward1")

    # ---- extremes ---------------------------------------------------------------------
    def amax(self, dim: Any = (), keepdim: bool = False) -> Any:
        axes = reduction_axes(dim, self.ndim, "amax")
        return apply("amax", self, axes=axes, keepdims=keepdim)

    def amin(self, dim: Any = (), keepdim: bool = False) -> Any:
        axes = reduction_axes(dim, self.ndim, "amin")
        return apply("amin", self, axes=axes, keepdims=keepdim)

    def aminmax(self, *, dim: int | None = None, keepdim: bool = False) -> Any:
        """(min, max) over the one dim `dim` (None: all), as
        `tracer.return_types.aminmax(min=..., max=...)`; ties share the gradient."""
        if dim is None:
            axes = tuple(range(self.ndim))
        else:
            axes = (normalize_axis(dim, self.ndim, "aminmax"),) if self.ndim else ()
        lo, hi = apply("aminmax", self, axes=axes, keepdims=keepdim)
        return return_types.aminmax(lo, hi)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """The maximum; with `dim`, `tracer.return_types.max(values=..., indices=...)`;
        with a tensor, the elementwise maximum."""
        if dim is None:
            return apply(
                "amax", self, axes=tuple(range(self.ndim)), keepdims=False, name="MaxBackward1"
            )
        if hasattr(dim, "_bind"):  # torch.max(a, b) is maximum
            return self.maximum(dim)
        axis = normalize_axis(dim, self.ndim, "max")
        return return_types.max(apply("max_dim", self, axis=axis, keepdims=keepdim))

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        """The minimum; with `dim`, `tracer.return_types.min(values=..., indices=...)`;
        with a tensor, the elementwise minimum."""
        if dim is None:
            return apply(
                "amin", self, axes=tuple(range(self.ndim)), keepdims=False, name="MinBackward1"
            )
        if hasattr(dim, "_bind"):
            return self.minimum(dim)
        axis = normalize_axis(dim, self.ndim, "min")
        return return_types.min(apply("min_dim", self, axis=axis, keepdims=keepdim))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Any:
        """Index of the (first) maximum, over `dim` or of the flattened tensor (then
        keepdim gives a result with every dim of size 1)."""
        _no_bool(self, "argmax")
        if dim is None:
            idx = self.reshape(-1).max(0).indices
            return idx.reshape((1,) * self.ndim) if keepdim else idx
        return self.max(normalize_axis(dim, self.ndim, "argmax"), keepdim).indices

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Any:
        """Index of the (first) minimum (see argmax)."""
        _no_bool(self, "argmin")
        if dim is None:
            idx = self.reshape(-1).min(0).indices
            return idx.reshape((1,) * self.ndim) if keepdim else idx
        return self.min(normalize_axis(dim, self.ndim, "argmin"), keepdim).indices

    # ---- logic ------------------------------------------------------------------------
    def _logic(self, op: str, dim: Any, keepdim: bool) -> Any:
        x = self if self.dtype == dtypes.bool_ else self != 0
        out = apply(op, x, axes=reduction_axes(dim, self.ndim, op), keepdims=keepdim)
        return out.to(dtypes.uint8) if self.dtype == dtypes.uint8 else out  # as PyTorch

    def all(self, dim: Any = None, keepdim: bool = False) -> Any:
        """Whether every element (over `dim`) is nonzero: a bool tensor."""
        return self._logic("all", dim, keepdim)

    def any(self, dim: Any = None, keepdim: bool = False) -> Any:
        """Whether some element (over `dim`) is nonzero: a bool tensor."""
        return self._logic("any", dim, keepdim)

    def count_nonzero(self, dim: Any = None) -> Any:
        """The number of nonzero elements over `dim` (None: all), as int64."""
        return (self != 0).sum(dim)

    # ---- spread -----------------------------------------------------------------------
    def var(
        self,
        dim: Any = None,
        unbiased: Any = None,
        keepdim: bool = False,
        *,
        correction: Any = None,
    ) -> Any:
        """Variance over `dim`, divided by max(0, N - correction) (correction 1 by
        default; unbiased=False means 0)."""
        return apply("var", self, **moment_params(self, "var", dim, unbiased, keepdim, correction))

    def std(
        self,
        dim: Any = None,
        unbiased: Any = None,
        keepdim: bool = False,
        *,
        correction: Any = None,
    ) -> Any:
        """Standard deviation over `dim` (see var); its gradient is 0 where it is 0."""
        return apply("std", self, **moment_params(self, "std", dim, unbiased, keepdim, correction))

    # ---- normalisations -----------------------------------------------------------------
    def logsumexp(self, dim: Any, keepdim: bool = False) -> Any:
        axes = reduction_axes(dim, self.ndim, "logsumexp")
        return apply("logsumexp", self, axes=axes, keepdims=keepdim)

    def softmax(self, dim: int) -> Any:
        return apply("softmax", self, axis=normalize_axis(dim, self.ndim, "softmax"))

    def log_softmax(self, dim: int) -> Any:
        return apply("log_softmax", self, axis=normalize_axis(dim, self.ndim, "log_softmax"))

    # ---- scans --------------------------------------------------------------------------
    def cumsum(self, dim: int, dtype: Any = None) -> Any:
        """Cumulative sums along `dim`; bools and integers sum as int64."""
        x = _widened(self, dtype)
        return apply("cumsum", x, axis=normalize_axis(dim, x.ndim, "cumsum"), reverse=False)

    def cumprod(self, dim: int, dtype: Any = None) -> Any:
        """Cumulative products along `dim` (exact gradients with zeros in the input)."""
        x = _widened(self, dtype)
        return apply("cumprod", x, axis=normalize_axis(dim, x.ndim, "cumprod"), reverse=False)

    def logcumsumexp(self, dim: int) -> Any:
        """log(cumsum(exp(x))) along `dim`, without overflow for large inputs."""
        return apply("logcumsumexp", self, axis=normalize_axis(dim, self.ndim, "logcumsumexp"))

    def cummax(self, dim: int) -> Any:
        """Running maximum along `dim` and where it was (last) reached, as
        `tracer.return_types.cummax(values=..., indices=...)`."""
        out = apply("cummax", self, axis=normalize_axis(dim, self.ndim, "cummax"))
        return return_types.cummax(out)

    def cummin(self, dim: int) -> Any:
        """Running minimum along `dim` (see cummax)."""
        out = apply("cummin", self, axis=normalize_axis(dim, self.ndim, "cummin"))
        return return_types.cummin(out)
