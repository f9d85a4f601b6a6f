"""Norms: `Tensor.norm` and the functions of `tracer.linalg` (vector_norm, matrix_norm,
norm), dispatching as PyTorch does.

Vector norms are one op (`vector_norm`); matrix norms are made of it ('fro') and of
sums and extrema of |x| (the 1 and inf norms), so each result carries the grad_fn
PyTorch's does. The norms made of singular values ('nuc', 2, -2) are refused with an
error saying so: the singular value decomposition is not part of this family.
"""

from __future__ import annotations

import math
from typing import Any

from compiler import dtypes
from compiler.args import normalize_axis, reduction_axes
from compiler.dispatch import apply
from compiler.errors import DTypeError, ShapeError

__all__ = ["NormMethods", "linalg_norm", "matrix_norm", "vector_norm"]

_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def _ord(ord: Any, op: str) -> float:
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"{op}: ord must be a number (2, 1, inf, 0, ...), got {ord!r}")
    return float(ord)


def _converted(x: Any, dtype: Any, op: str) -> Any:
    """`x` in `dtype` if given: float inputs only, and only widening, as in PyTorch."""
    if not dtypes.is_float(x.dtype):
        raise DTypeError(
            f"{op}: expected a floating point tensor as input, got {x.dtype} (shape "
            f"{tuple(x.shape)}); convert it first with .float()"
        )
    if dtype is None:
        return x
    d = dtypes.canonical(dtype)
    if not dtypes.is_float(d) or d.itemsize < x.dtype.itemsize:
        raise DTypeError(
            f"{op}: the input's dtype {x.dtype} cannot be converted to dtype={d} without "
            "narrowing; pass a wider floating point dtype"
        )
    return x.to(d)


def vector_norm(
    x: Any, ord: Any = 2, dim: Any = None, keepdim: bool = False, dtype: Any = None
) -> Any:
    """The ord-norm over `dim` (None or (): all dims): sum(|x|**ord)**(1/ord); ord
    inf/-inf is max/min |x|, ord 0 counts the nonzero elements."""
    p = _ord(ord, "linalg.vector_norm")
    x = _converted(x, dtype, "linalg.vector_norm")
    axes = reduction_axes(dim, x.ndim, "linalg.vector_norm")
    return apply("vector_norm", x, ord=p, axes=axes, keepdims=keepdim)


def _matrix_dims(a: Any, dim: Any) -> tuple[int, int]:
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if len(dims) != 2:
        raise ShapeError(f"linalg.matrix_norm: dim must be a 2-tuple, got {dim!r}")
    d0, d1 = (normalize_axis(d, a.ndim, "linalg.matrix_norm") for d in dims)
    if d0 == d1:
        raise ShapeError(f"linalg.matrix_norm: the two dims must differ, got {dim!r}")
    return d0, d1


def matrix_norm(
    a: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, dtype: Any = None
) -> Any:
    """A matrix norm over the two dims `dim`: 'fro', 1/-1 (max/min column sum of |a|),
    inf/-inf (max/min row sum of |a|). 'nuc', 2 and -2 (from singular values) raise
    NotImplementedError."""
    if a.ndim < 2:
        raise ShapeError(
            f"linalg.matrix_norm: expected a tensor with 2 or more dimensions, got shape "
            f"{tuple(a.shape)}"
        )
    if ord not in _MATRIX_ORDS or isinstance(ord, bool):
        raise ValueError(
            f"linalg.matrix_norm: ord must be one of 'fro', 'nuc', 1, -1, 2, -2, inf, -inf; "
            f"got {ord!r}"
        )
    d0, d1 = _matrix_dims(a, dim)
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(
            f"linalg.matrix_norm: ord={ord!r} is a norm of the singular values, which "
            "tracegrad does not compute here; use ord='fro', 1, -1, inf or -inf"
        )
    if ord == "fro":
        return vector_norm(a, 2, (d0, d1), keepdim, dtype)
    a = _converted(a, dtype, "linalg.matrix_norm")
    # 1, -1: the largest (smallest) column sum of |a| (sum over the rows d0, then the
    # extreme over d1); inf, -inf: of the row sums
    over, across = (d0, d1) if ord in (1, -1) else (d1, d0)
    sums = a.abs().sum(over, keepdim=keepdim)
    if not keepdim and across > over:
        across -= 1
    return sums.amax(across, keepdim) if ord > 0 else sums.amin(across, keepdim)


def linalg_norm(
    a: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, dtype: Any = None
) -> Any:
    """linalg.norm: a vector norm over one dim (or all, flattened, when neither `ord`
    nor `dim` is given), a matrix norm over two; with `ord` and no `dim`, the input's
    1 or 2 dims decide."""
    if dim is not None:
        dims = (dim,) if not isinstance(dim, (tuple, list)) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(a, 2 if ord is None else ord, dims, keepdim, dtype)
        if len(dims) == 2:
            return matrix_norm(a, "fro" if ord is None else ord, dims, keepdim, dtype)
        raise ShapeError(f"linalg.norm: dim must be an int or a 1- or 2-tuple, got {dim!r}")
    if ord is None:
        return vector_norm(a, 2, None, keepdim, dtype)
    if a.ndim == 1:
        return vector_norm(a, ord, None, keepdim, dtype)
    if a.ndim == 2:
        return matrix_norm(a, ord, (-2, -1), keepdim, dtype)
    raise ShapeError(
        f"linalg.norm: with ord and no dim the input must be 1-D or 2-D, got shape "
        f"{tuple(a.shape)}; pass dim="
    )


class NormMethods:
    """Mixin of `compiler.operand.Operand`: `norm`."""

    __slots__ = ()

    def norm(
        self, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None
    ) -> Any:
        """torch.norm: p a number (a vector norm over `dim`, None: all), 'fro' (the
        2-norm over `dim`), or 'nuc' (the nuclear norm over two dims)."""
        dims = None if dim is None else (dim,) if not isinstance(dim, (tuple, list)) else dim
        if p == "fro" and (dims is None or len(dims) <= 2):
            return vector_norm(self, 2, dims, keepdim, dtype)
        if isinstance(p, str):
            if p not in ("fro", "nuc"):
                raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
            dims = tuple(range(self.ndim)) if dims is None else dims
            return matrix_norm(self, p, dims, keepdim, dtype)
        return vector_norm(self, 2 if p is None else p, dims, keepdim, dtype)
