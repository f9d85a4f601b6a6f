"""Shape primitives: reshape, transpose, broadcast_to, stop_gradient (views),
concatenate, and the constants (full, iota, count) that rules build with."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import kernels
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Constant, Kernel, Layout, SizeNames, View
from compiler.refs import c_strides
from compiler.registry import LINEAR, AVal, Op, register, save_none


def _reshape_abstract(x: AVal, shape: tuple[int, ...]) -> AVal:
    if int(np.prod(shape, dtype=np.int64)) != int(np.prod(x.shape, dtype=np.int64)):
        raise ShapeError(f"reshape: cannot reshape shape {tuple(x.shape)} to {shape}")
    return AVal(shape, x.dtype)


def _reshape_layout(r: Layout, sizes: SizeNames, shape: tuple[int, ...]) -> Layout | None:
    """Same elements in a new shape: affine when only size-1 dims come or go, or when
    the input is laid out contiguously."""
    out = tuple(sizes.dim(n) for n in shape)
    kept = [(n, s) for n, s in zip(r.shape, r.strides) if n != 1]
    if [n for n, _ in kept] == [n for n in out if n != 1]:
        it = iter(s for _, s in kept)
        return Layout(out, tuple(next(it) if n != 1 else 0 for n in out), r.offset)
    if all(s == cs for (_, s), cs in zip(kept, c_strides(tuple(n for n, _ in kept)))):
        return Layout(out, c_strides(out), r.offset)
    return None


register(
    Op(
        "reshape",
        _reshape_abstract,
        lambda x, shape: np.reshape(x, shape),
        lambda g, out, x, shape: (g.reshape(x.shape),),
        grad_fn="ViewBackward0",
        lowering=View(_reshape_layout),
        saves=save_none,
        jvp=LINEAR,
    )
)


def _transpose_abstract(x: AVal, perm: tuple[int, ...]) -> AVal:
    return AVal(tuple(x.shape[p] for p in perm), x.dtype)


def _transpose_layout(r: Layout, sizes: SizeNames, perm: tuple[int, ...]) -> Layout:
    return Layout(tuple(r.shape[p] for p in perm), tuple(r.strides[p] for p in perm), r.offset)


register(
    Op(
        "transpose",
        _transpose_abstract,
        lambda x, perm: np.transpose(x, perm),
        lambda g, out, x, perm: (g.permute(*np.argsort(perm).tolist()),),
        grad_fn="PermuteBackward0",
        lowering=View(_transpose_layout),
        saves=save_none,
        jvp=LINEAR,
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


def _broadcast_layout(r: Layout, sizes: SizeNames, shape: tuple[int, ...]) -> Layout:
    """Right-aligned numpy broadcasting: stride 0 along new and stretched dims."""
    lead = len(shape) - len(r.shape)
    out, strides = [], []
    for i, n in enumerate(shape):
        k = i - lead
        if k >= 0 and (r.shape[k] != 1 or n == 1):
            out.append(r.shape[k])
            strides.append(r.strides[k])
        else:
            out.append(sizes.dim(n))
            strides.append(0)
    return Layout(tuple(out), tuple(strides), r.offset)


register(
    Op(
        "broadcast_to",
        _broadcast_abstract,
        lambda x, shape: np.broadcast_to(x, shape),
        lambda g, out, x, shape: (g.sum_to(x.shape),),
        grad_fn="ExpandBackward0",
        lowering=View(_broadcast_layout),
        saves=save_none,
        jvp=LINEAR,
    )
)

# detach() and no_grad() inside a traced function: the identity, through which
# differentiation does not pass
register(
    Op(
        "stop_gradient",
        lambda x: AVal(tuple(x.shape), x.dtype),
        lambda x: x,
        None,
        lowering=View(lambda r, sizes: r),
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
        lowering=Kernel(kernels.concatenate),
        saves=save_none,
        jvp=LINEAR,
    )
)

# ---- constants ------------------------------------------------------------------------
# `full` and `iota` take an operand only to know which world to build in (`nullary`:
# it is not an input of the equation).


def _full_abstract(*_: Any, shape: tuple[int, ...], dtype: np.dtype, value: float) -> AVal:
    return AVal(tuple(shape), dtype)


register(
    Op(
        "full",
        _full_abstract,
        lambda *_, shape, dtype, value: np.full(shape, value, dtype),
        None,
        lowering=Constant(lambda c, e: c.const(c.lit(e.params["value"], e.params["dtype"]))),
        nullary=True,
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


register(
    Op(
        "iota",
        _iota_abstract,
        _iota_impl,
        None,
        lowering=Constant(lambda c, e: c.iota(e.params["axis"])),
        nullary=True,
    )
)


def _count_abstract(x: AVal, axes: tuple[int, ...], dtype: np.dtype) -> AVal:
    return AVal((), dtype)


def _count_impl(x: np.ndarray, axes: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.asarray(int(np.prod([x.shape[a] for a in axes], dtype=np.int64)), dtype)


def count(x: Any, axes: tuple[int, ...], dtype: Any = None) -> Any:
    """The number of elements of `x` over `axes`, as a 0-d value of `dtype` (x's by
    default): the divisor of a mean. Compiled code reads it from the kernel's size
    arguments, so the generated text does not depend on the sizes."""
    from compiler.operand import apply

    return apply("count", x, axes=tuple(axes), dtype=np.dtype(dtype or x.dtype))


# reads only its input's shape, so it has no gradient
register(
    Op(
        "count",
        _count_abstract,
        _count_impl,
        None,
        lowering=Constant(
            lambda c, e: c.const(c.count(e.inputs[0], e.params["axes"], e.params["dtype"]))
        ),
    )
)
