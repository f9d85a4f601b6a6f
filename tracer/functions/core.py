"""The core module-level ops: arithmetic, math, reductions, shapes, cat/stack."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import ShapeError
from compiler.operand import Operand, apply, normalize_axis

__all__ = [
    "abs",
    "add",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "broadcast_to",
    "cat",
    "clamp",
    "clip",
    "concat",
    "cos",
    "dot",
    "exp",
    "flatten",
    "gather",
    "is_tensor",
    "log",
    "log1p",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mm",
    "mul",
    "neg",
    "numel",
    "permute",
    "pow",
    "relu",
    "reshape",
    "scatter_add",
    "sigmoid",
    "sign",
    "sin",
    "softmax",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "sub",
    "sum",
    "t",
    "tanh",
    "transpose",
    "unsqueeze",
    "where",
]


def _operand(x: Any) -> Any:
    if isinstance(x, Operand):
        return x
    from tracer.creation import tensor

    return tensor(x)


def _method(name: str, doc: str):
    def fn(input: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(_operand(input), name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


abs = _method("abs", "Elementwise |x|.")
exp = _method("exp", "Elementwise e**x.")
log = _method("log", "Elementwise natural logarithm.")
log1p = _method("log1p", "Elementwise log(1 + x), accurate for small x.")
sqrt = _method("sqrt", "Elementwise square root.")
sin = _method("sin", "Elementwise sine.")
cos = _method("cos", "Elementwise cosine.")
tanh = _method("tanh", "Elementwise hyperbolic tangent.")
sigmoid = _method("sigmoid", "Elementwise 1 / (1 + exp(-x)).")
relu = _method("relu", "Elementwise max(x, 0).")
sign = _method("sign", "Elementwise sign (-1, 0, 1).")
neg = _method("neg", "Elementwise -x.")
square = _method("square", "Elementwise x**2.")
clamp = _method("clamp", "Clamp into [min, max].")
clip = clamp
sum = _method("sum", "Sum of all elements, or over `dim`.")
mean = _method("mean", "Mean of all elements, or over `dim`.")
amax = _method("amax", "Maximum over `dim` (ties share the gradient).")
amin = _method("amin", "Minimum over `dim` (ties share the gradient).")
argmax = _method("argmax", "Index of the maximum.")
argmin = _method("argmin", "Index of the minimum.")
logsumexp = _method("logsumexp", "log(sum(exp(x))) over `dim`, computed stably.")
softmax = _method("softmax", "Softmax over `dim`.")
log_softmax = _method("log_softmax", "Log-softmax over `dim`.")
matmul = _method("matmul", "Matrix product (1-D, 2-D, batched with broadcasting).")
mm = _method("mm", "2-D matrix product.")
dot = _method("dot", "Dot product.")
transpose = _method("transpose", "Swap two dims.")
t = _method("t", "Transpose a tensor of at most 2 dims.")
permute = _method("permute", "Reorder dims.")
reshape = _method("reshape", "Same data, new shape.")
flatten = _method("flatten", "Flatten dims start_dim..end_dim into one.")
unsqueeze = _method("unsqueeze", "Insert a dim of size 1.")
squeeze = _method("squeeze", "Remove dims of size 1.")
broadcast_to = _method("broadcast_to", "Broadcast to `shape`.")
pow = _method("pow", "Elementwise power.")
gather = _method("gather", "Values along `dim` at `index` (torch.gather).")
scatter_add = _method("scatter_add", "A copy with `src` added at `index` along `dim`.")
maximum = _method("maximum", "Elementwise maximum (ties share the gradient).")
minimum = _method("minimum", "Elementwise minimum (ties share the gradient).")


def max(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """max of all elements; with `dim`, (values, indices); with a tensor, maximum."""
    return _operand(input).max(dim, keepdim)


def min(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """min of all elements; with `dim`, (values, indices); with a tensor, minimum."""
    return _operand(input).min(dim, keepdim)


def add(input: Any, other: Any, alpha: float = 1) -> Any:
    return _operand(input).add(other, alpha=alpha)


def sub(input: Any, other: Any, alpha: float = 1) -> Any:
    return _operand(input).sub(other, alpha=alpha)


def mul(input: Any, other: Any) -> Any:
    return _operand(input) * other


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """`input` where `condition` holds, else `other` (broadcasting). With the condition
    alone, `nonzero(condition, as_tuple=True)`: the indices where it holds (eager only)."""
    if input is None and other is None:
        return _operand(condition).nonzero(as_tuple=True)
    if input is None or other is None:
        raise TypeError("where: give both input and other, or the condition alone")
    return apply("where", condition, input, other)


def _common(tensors: Sequence[Any], op: str) -> list[Any]:
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    ts = [_operand(x) for x in tensors]
    d = dtypes.result_type([(x.dtype, 1) for x in ts], [])
    return [x.to(d) for x in ts]


def cat(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Concatenate along an existing dim."""
    ts = _common(tensors, "cat")
    axis = normalize_axis(dim, ts[0].ndim, "cat")
    if any(x.ndim != ts[0].ndim for x in ts):
        raise ShapeError(
            "cat: tensors must have the same number of dims, got shapes "
            + ", ".join(str(tuple(x.shape)) for x in ts)
        )
    return apply("concatenate", *ts, axis=axis)


concat = cat


def stack(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Stack along a new dim."""
    ts = _common(tensors, "stack")
    if any(tuple(x.shape) != tuple(ts[0].shape) for x in ts):
        raise ShapeError(
            "stack: expects each tensor to be equal size, got shapes "
            + ", ".join(str(tuple(x.shape)) for x in ts)
        )
    axis = normalize_axis(dim, ts[0].ndim + 1, "stack")
    return apply("concatenate", *[x.unsqueeze(axis) for x in ts], axis=axis, name="StackBackward0")


def numel(input: Any) -> int:
    return int(np.prod(_operand(input).shape, dtype=np.int64))


def is_tensor(obj: Any) -> bool:
    from tracer.tensor import Tensor

    return isinstance(obj, Tensor)
