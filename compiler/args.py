"""Argument handling shared by the Operand methods: dims, sizes, ints, results.

Every method of `compiler.operand.Operand` and of the mixins in `compiler.methods`
normalises its arguments with these, so errors read the same everywhere.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from compiler.errors import ShapeError

__all__ = [
    "infer_reshape",
    "int_arg",
    "is_number",
    "normalize_axes",
    "normalize_axis",
    "reduction_axes",
    "shape_arg",
]


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.number)) and not isinstance(x, (bool, np.bool_))


def int_arg(value: Any, what: str, op: str) -> int:
    """`value` as an int (ints, numpy ints, one-element integer tensors), or a TypeError
    naming the op: a float or a string is refused, not truncated."""
    if type(value) is int:
        return value
    if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
        raise TypeError(f"{op}: {what} must be an int, got {value!r} ({type(value).__name__})")
    return operator.index(value)


def normalize_axis(axis: int, ndim: int, op: str = "") -> int:
    axis = int_arg(axis, "dim", op)
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise IndexError(
            f"{op}: dim {axis} is out of range for a tensor of {ndim} dimension"
            f"{'' if ndim == 1 else 's'} (expected {-max(ndim, 1)} to {max(ndim, 1) - 1})"
        )
    return axis % max(ndim, 1)


def normalize_axes(dim: Any, ndim: int, op: str = "") -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(sorted({normalize_axis(d, ndim, op) for d in dims}))
    if ndim == 0:
        return ()
    return axes


def reduction_axes(dim: Any, ndim: int, op: str = "") -> tuple[int, ...]:
    """The axes a reduction runs over: `dim` normalised; None or an empty list of dims
    means all of them, as in PyTorch."""
    if isinstance(dim, (tuple, list)) and not dim:
        dim = None
    return normalize_axes(dim, ndim, op)


def shape_arg(shape: tuple[Any, ...], op: str = "shape") -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int_arg(s, "sizes", op) for s in shape)


def infer_reshape(old: tuple[int, ...], new: tuple[int, ...]) -> tuple[int, ...]:
    size = math.prod(old)
    if new.count(-1) > 1:
        raise ShapeError(f"reshape: only one dimension can be -1, got {new}")
    if -1 in new:
        rest = math.prod([n for n in new if n != -1])
        if rest == 0 or size % rest:
            raise ShapeError(
                f"reshape: shape {list(new)} is invalid for input of shape "
                f"{tuple(old)} ({size} elements)"
            )
        new = tuple(size // rest if n == -1 else n for n in new)
    if math.prod(new) != size or any(n < 0 for n in new):
        raise ShapeError(
            f"reshape: shape {list(new)} is invalid for input of shape "
            f"{tuple(old)} ({size} elements)"
        )
    return new
