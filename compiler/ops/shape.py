"""Shape primitives: reshape, transpose, broadcast_to, concatenate, and the
constant makers (full, iota) that VJP rules use to build zeros and one-hots."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.errors import DTypeError, ShapeError
from compiler.registry import AVal, Op, register, save_none


def _reshape_abstract(x: AVal, shape: tuple[int, ...]) -> AVal:
    if int(np.prod(shape, dtype=np.int64)) != int(np.prod(x.shape, dtype=np.int64)):
        raise ShapeError(f"reshape: cannot reshape shape {tuple(x.shape)} to {shape}")
    return AVal(shape, x.dtype)


register(
    Op(
        "reshape",
        _reshape_abstract,
        lambda x, shape: np.reshape(x, shape),
        lambda g, out, x, shape: (g.reshape(x.shape),),
        grad_fn="ViewBackward0",
        lowering="view",
        linear=True,
        view=True,
        saves=save_none,
    )
)


def _transpose_abstract(x: AVal, perm: tuple[int, ...]) -> AVal:
    return AVal(tuple(x.shape[p] for p in perm), x.dtype)


register(
    Op(
        "transpose",
        _transpose_abstract,
        lambda x, perm: np.transpose(x, perm),
        lambda g, out, x, perm: (g.permute(*np.argsort(perm).tolist()),),
        grad_fn="PermuteBackward0",
        lowering="view",
        linear=True,
        view=True,
        saves=save_none,
    )
)


def _broadcast_abstract(x: AVal, shape: tuple[int, ...]) -> AVal:
    if any(s < 0 for s in shape):
        raise ShapeError(
            f"expand: sizes must be non-negative, got {shape} for a tensor of "
            f"shape {tuple(x.shape)} (expand() takes -1 for a dim it keeps)"
        )
    lead = len(shape) - x.ndim
    if lead < 0 or any(s != 1 and s != n for s, n in zip(x.shape, shape[lead:])):
        raise ShapeError(
            f"expand: shape {tuple(x.shape)} cannot be broadcast to {shape} "
            "(each dimension must be equal or 1)"
        )
    return AVal(tuple(shape), x.dtype)


register(
    Op(
        "broadcast_to",
        _broadcast_abstract,
        lambda x, shape: np.broadcast_to(x, shape),
        lambda g, out, x, shape: (g.sum_to(x.shape),),
        grad_fn="ExpandBackward0",
        lowering="view",
        linear=True,
        view=True,
        saves=save_none,
    )
)


def _concat_abstract(*xs: AVal, axis: int) -> AVal:
    first = xs[0]
    if first.ndim == 0:
        raise ShapeError(
            "cat: zero-dimensional tensors cannot be concatenated; use "
            "tracer.stack(...) to make a new dimension"
        )
    for x in xs[1:]:
        if x.ndim != first.ndim or any(
            a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis
        ):
            shapes = ", ".join(str(tuple(y.shape)) for y in xs)
            raise ShapeError(f"cat: shapes {shapes} must match except in dimension {axis}")
        if x.dtype != first.dtype:
            raise DTypeError(
                f"cat: dtypes differ ({first.dtype} and {x.dtype}); convert "
                "them to one with .to(dtype)"
            )
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return AVal(tuple(shape), first.dtype)


def _concat_vjp(g: Any, out: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    grads, start = [], 0
    for x in xs:
        index = (slice(None),) * axis + (slice(start, start + x.shape[axis]),)
        grads.append(g[index])
        start += x.shape[axis]
    return tuple(grads)


register(
    Op(
        "concatenate",
        _concat_abstract,
        lambda *xs, axis: np.concatenate(xs, axis),
        _concat_vjp,
        grad_fn="CatBackward0",
        lowering="kernel",
        linear=True,
        saves=save_none,
    )
)


def _full_abstract(*_: Any, shape: tuple[int, ...], dtype: np.dtype, value: float) -> AVal:
    return AVal(tuple(shape), dtype)


# `full` and `iota` take an operand only to know which world to build in; it is
# not read (so the IR builder drops it).
register(
    Op(
        "full",
        _full_abstract,
        lambda *_, shape, dtype, value: np.full(shape, value, dtype),
        None,
        lowering="full",
        extra={"nullary": True},
    )
)


def _iota_abstract(*_: Any, shape: tuple[int, ...], axis: int, dtype: np.dtype) -> AVal:
    return AVal(tuple(shape), dtype)


def _iota_impl(*_: Any, shape: tuple[int, ...], axis: int, dtype: np.dtype) -> np.ndarray:
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return np.ascontiguousarray(
        np.broadcast_to(np.arange(shape[axis], dtype=dtype).reshape(view), shape)
    )


register(Op("iota", _iota_abstract, _iota_impl, None, lowering="iota", extra={"nullary": True}))
