"""Norms: `vector_norm`, every ord (the matrix norms of `compiler.methods.norms` are
made of it and of sums and extrema of |x|).

vector_norm is a composite. The p-norms (p not 0, 1 or +-inf) are computed from
|x| / max|x|, so that no power overflows or underflows: the 2-norm of [1e30, 1e30]
in float32 is 1.4142e30 (PyTorch: inf). Its gradient is 0 where the norm is 0 (not
0/0), and 0 at the zero entries of p-norms with p < 1, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

from compiler import dtypes
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Composite
from compiler.operand import apply
from compiler.ops.elementwise import keep
from compiler.ops.reduce import expand_back, reduced_shape
from compiler.registry import AVal, Op, register

__all__: list[str] = []

# ---- vector_norm ----------------------------------------------------------------------------


def _vector_norm_abstract(x: AVal, ord: float, axes: tuple[int, ...], keepdims: bool) -> AVal:
    if not dtypes.is_float(x.dtype):
        raise DTypeError(
            f"linalg.vector_norm: expected a floating point tensor, got {x.dtype} (shape "
            f"{tuple(x.shape)}); convert it first with .float()"
        )
    if (ord < 0 or math.isinf(ord)) and any(x.shape[a] == 0 for a in axes):
        raise ShapeError(
            f"linalg.vector_norm: the {ord} norm of an empty slice is not defined (shape "
            f"{tuple(x.shape)}, dims {axes})"
        )
    return AVal(reduced_shape(tuple(x.shape), axes, keepdims), x.dtype)


def _sum(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    return apply("reduce_sum", x, axes=axes, keepdims=keepdims)


def _vector_norm(x: Any, ord: float, axes: tuple[int, ...], keepdims: bool) -> Any:
    a = x.abs()
    if ord == math.inf:
        return apply("amax", a, axes=axes, keepdims=keepdims)
    if ord == -math.inf:
        return apply("amin", a, axes=axes, keepdims=keepdims)
    if ord == 0:
        return _sum((x != 0).to(x.dtype), axes, keepdims)
    if ord == 1:
        return _sum(a, axes, keepdims)
    shape = reduced_shape(tuple(x.shape), axes, keepdims)
    if x.numel() == 0:
        return x.full_like(0, shape=shape)
    m = apply("amax", a, axes=axes, keepdims=True)
    m = m.where((m > 0) & (m < math.inf), 1)  # 0, inf and nan: no scaling
    r = a / m
    s = (
        _sum(r * r, axes, keepdims).sqrt()
        if ord == 2
        else _sum(r**ord, axes, keepdims) ** (1 / ord)
    )
    return s * (m if keepdims else m.reshape(shape))


def _vector_norm_vjp(
    g: Any, out: Any, x: Any, ord: float, axes: tuple[int, ...], keepdims: bool
) -> tuple[Any]:
    if ord == 0:  # a count: no gradient (PyTorch gives none either)
        return (None,)
    shape = tuple(x.shape)
    ge = expand_back(g, shape, axes, keepdims)
    if ord == 1:
        return (ge * x.sign(),)
    n = expand_back(out, shape, axes, keepdims)
    if math.isinf(ord):  # like amax/amin of |x|: tied entries share the gradient
        hit = x.abs() == n
        ties = _sum(hit.to(dtypes.int64), axes, True)
        return (keep(ge * x.sign() / ties, hit),)
    if ord == 2:
        return (keep(ge * x / n, n != 0),)
    d = x.sign() * (x.abs() / n) ** (ord - 1)
    return (keep(ge * d, (n != 0) & (x != 0)),)


register(
    Op(
        "vector_norm",
        _vector_norm_abstract,
        None,
        _vector_norm_vjp,
        grad_fn="LinalgVectorNormBackward0",
        lowering=Composite(_vector_norm),
        saves_out=True,
    )
)
