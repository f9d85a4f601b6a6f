"""Layout primitives: flip and diagonal (views), roll, diagonal_scatter, and F.pad's
pad (constant, reflect, replicate, circular) with its transpose pad_adjoint."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import kernels_index
from compiler.errors import ShapeError
from compiler.lowering import Kernel, Layout, SizeNames, View
from compiler.ops.index import apply_op
from compiler.registry import LINEAR, AVal, Op, register, save_none


def _same(x: AVal, **params: Any) -> AVal:
    return AVal(tuple(x.shape), x.dtype)


# ---- flip: a view with negative strides ----------------------------------------------------


def _flip_layout(r: Layout, sizes: SizeNames, axes: tuple[int, ...]) -> Layout:
    strides, off = list(r.strides), r.offset
    for a in axes:
        n = r.shape[a]
        if n > 1:
            off = off + sizes.within(n - 1, n) * strides[a]
        strides[a] = -strides[a]
    return Layout(tuple(r.shape), tuple(strides), off)


def _flip_impl(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    # PyTorch's flip copies (its result is no view of x): eagerly, a write into it must
    # not reach x; compiled code reads x through the reversed strides
    return np.flip(x, axes).copy()


register(
    Op(
        "flip",
        _same,
        _flip_impl,
        lambda g, out, x, axes: (apply_op("flip", g, axes=axes),),
        grad_fn="FlipBackward0",
        lowering=View(_flip_layout),
        saves=save_none,
        jvp=LINEAR,
    )
)


# ---- roll ----------------------------------------------------------------------------------


def _roll_impl(x: np.ndarray, shifts: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    return np.roll(x, shifts, axes) if axes else x.copy()


register(
    Op(
        "roll",
        _same,
        _roll_impl,
        lambda g, out, x, shifts, axes: (
            apply_op("roll", g, shifts=tuple(-s for s in shifts), axes=axes),
        ),
        grad_fn="RollBackward0",
        lowering=Kernel(kernels_index.roll),
        saves=save_none,
        jvp=LINEAR,
    )
)


# ---- diagonal (a view) and diagonal_scatter ---------------------------------------------------


def diagonal_length(shape: tuple[int, ...], offset: int, dim1: int, dim2: int) -> int:
    n1, n2 = shape[dim1], shape[dim2]
    return max(0, min(n1 + min(offset, 0), n2 - max(offset, 0)))


def _diagonal_abstract(x: AVal, offset: int, dim1: int, dim2: int) -> AVal:
    rest = tuple(n for d, n in enumerate(x.shape) if d not in (dim1, dim2))
    return AVal(rest + (diagonal_length(tuple(x.shape), offset, dim1, dim2),), x.dtype)


def _diagonal_layout(r: Layout, sizes: SizeNames, offset: int, dim1: int, dim2: int) -> Layout:
    keep = [d for d in range(len(r.shape)) if d not in (dim1, dim2)]
    n = diagonal_length(tuple(r.shape), offset, dim1, dim2)
    s1, s2 = r.strides[dim1], r.strides[dim2]
    off = r.offset
    if n:
        off = off + (offset * s2 if offset >= 0 else -offset * s1)
    along = r.shape[dim1] if n == r.shape[dim1] else r.shape[dim2]
    shape = tuple(r.shape[d] for d in keep) + (sizes.within(n, along),)
    return Layout(shape, tuple(r.strides[d] for d in keep) + (s1 + s2,), off)


def _diagonal_impl(x: np.ndarray, offset: int, dim1: int, dim2: int) -> np.ndarray:
    # as_strided, not np.diagonal: numpy's diagonal view is read-only, PyTorch's is not
    keep = [d for d in range(x.ndim) if d not in (dim1, dim2)]
    n = diagonal_length(x.shape, offset, dim1, dim2)
    shape = tuple(x.shape[d] for d in keep) + (n,)
    if not n:
        return np.zeros(shape, x.dtype)
    start = [slice(None)] * x.ndim
    start[dim1], start[dim2] = slice(max(-offset, 0), None), slice(max(offset, 0), None)
    st = x.strides
    strides = tuple(st[d] for d in keep) + (st[dim1] + st[dim2],)
    return np.lib.stride_tricks.as_strided(
        x[tuple(start)], shape, strides, writeable=x.flags.writeable
    )


def _diagonal_vjp(g: Any, out: Any, x: Any, offset: int, dim1: int, dim2: int) -> tuple[Any]:
    zeros = g.full_like(0, shape=tuple(x.shape))
    return (apply_op("diagonal_scatter", zeros, g, offset=offset, dim1=dim1, dim2=dim2),)


register(
    Op(
        "diagonal",
        _diagonal_abstract,
        _diagonal_impl,
        _diagonal_vjp,
        grad_fn="DiagonalBackward0",
        lowering=View(_diagonal_layout),
        saves=save_none,
        jvp=LINEAR,
    )
)


def _diagonal_scatter_abstract(x: AVal, src: AVal, offset: int, dim1: int, dim2: int) -> AVal:
    want = _diagonal_abstract(x, offset, dim1, dim2).shape
    if tuple(src.shape) != want:
        raise ShapeError(
            f"diagonal_scatter: src of shape {tuple(src.shape)} does not fit the diagonal "
            f"(offset={offset}, dim1={dim1}, dim2={dim2}) of a tensor of shape "
            f"{tuple(x.shape)}, which has shape {want}"
        )
    if src.dtype != x.dtype:
        raise ShapeError(f"diagonal_scatter: src is {src.dtype} but the input is {x.dtype}")
    return AVal(tuple(x.shape), x.dtype)


def _diagonal_scatter_impl(
    x: np.ndarray, src: np.ndarray, offset: int, dim1: int, dim2: int
) -> np.ndarray:
    out = x.copy()
    view = _diagonal_impl(out, offset, dim1, dim2)
    if view.size:
        view[...] = src
    return out


def _diagonal_scatter_vjp(
    g: Any, out: Any, x: Any, src: Any, offset: int, dim1: int, dim2: int
) -> tuple[Any, Any]:
    p = {"offset": offset, "dim1": dim1, "dim2": dim2}
    gx = apply_op("diagonal_scatter", g, g.full_like(0, shape=tuple(src.shape)), **p)
    return gx, apply_op("diagonal", g, **p)


register(
    Op(
        "diagonal_scatter",
        _diagonal_scatter_abstract,
        _diagonal_scatter_impl,
        _diagonal_scatter_vjp,
        grad_fn="DiagonalScatterBackward0",
        lowering=Kernel(kernels_index.diagonal_scatter),
        saves=save_none,
        jvp=LINEAR,
    )
)


# ---- pad and its transpose ---------------------------------------------------------------


def pad_sources(
    pads: tuple[tuple[int, int], ...], mode: str, shape: tuple[int, ...]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per dim: the input index each output index reads, and whether it reads one (the
    numpy counterpart of `compiler.kernels_index.pad_source`)."""
    srcs, valid = [], []
    for (before, after), n in zip(pads, shape):
        j = np.arange(n + before + after)
        s = j - before
        ok = np.ones(j.shape, bool)
        if mode == "constant":
            ok = (s >= 0) & (s < n)
        elif mode == "reflect":
            s = np.abs(s)
            s = np.where(s >= n, 2 * (n - 1) - s, s)
        elif mode == "replicate":
            s = np.clip(s, 0, n - 1)
        else:
            start = max(-before, 0)
            kept = n - start - max(-after, 0)
            s = start + (j - max(before, 0)) % kept
        srcs.append(np.where(ok, s, 0))
        valid.append(ok)
    return srcs, valid


def padded_shape(shape: tuple[int, ...], pads: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    return tuple(n + b + a for n, (b, a) in zip(shape, pads))


def _pad_abstract(
    x: AVal, pads: tuple[tuple[int, int], ...], mode: str, value: float, dims: int
) -> AVal:
    shape = padded_shape(tuple(x.shape), pads)
    if any(n < 0 for n in shape):
        raise ShapeError(
            f"pad: the padding {pads} makes a negative size from the input's shape "
            f"{tuple(x.shape)} (result {shape})"
        )
    return AVal(shape, x.dtype)


def _pad_impl(
    x: np.ndarray, pads: tuple[tuple[int, int], ...], mode: str, value: float, dims: int
) -> np.ndarray:
    srcs, valid = pad_sources(pads, mode, x.shape)
    out = x[np.ix_(*srcs)] if x.ndim else x.copy()
    if mode == "constant":
        inside = np.ones(out.shape, bool)
        for d, ok in enumerate(valid):
            inside &= ok.reshape([-1 if k == d else 1 for k in range(x.ndim)])
        out = np.where(inside, out, x.dtype.type(value)) if out.size else out
    return np.ascontiguousarray(out, x.dtype)


def _pad_name(
    avals: tuple[AVal, ...], pads: Any = (), mode: str = "constant", value: float = 0, dims: int = 1
) -> str:
    if mode == "constant":
        return "ConstantPadNdBackward0"
    if mode == "circular":
        return "CopySlices"  # PyTorch pads circularly by slice assignments
    return f"{'Reflection' if mode == 'reflect' else 'Replication'}Pad{dims}DBackward0"


def _pad_jvp(t: tuple[Any], out: Any, x: Any, pads: Any, mode: str, value: float, dims: int) -> Any:
    """Linear but for the fill value: the tangent of a constant border is 0."""
    return apply_op("pad", t[0], pads=pads, mode=mode, value=0.0, dims=dims)


register(
    Op(
        "pad",
        _pad_abstract,
        _pad_impl,
        lambda g, out, x, pads, mode, value, dims: (
            apply_op("pad_adjoint", g, pads=pads, mode=mode, dims=dims, shape=tuple(x.shape)),
        ),
        grad_fn=_pad_name,
        lowering=Kernel(kernels_index.pad),
        saves=save_none,
        jvp=_pad_jvp,
    )
)


def _pad_adjoint_abstract(
    g: AVal, pads: tuple[tuple[int, int], ...], mode: str, dims: int, shape: tuple[int, ...]
) -> AVal:
    return AVal(tuple(shape), g.dtype)


def _pad_adjoint_impl(
    g: np.ndarray, pads: tuple[tuple[int, int], ...], mode: str, dims: int, shape: tuple[int, ...]
) -> np.ndarray:
    srcs, valid = pad_sources(pads, mode, shape)
    out = np.zeros(shape, g.dtype)
    if not g.ndim:
        return out + g
    picked = np.ix_(*[np.flatnonzero(ok) for ok in valid])
    np.add.at(out, np.ix_(*[s[ok] for s, ok in zip(srcs, valid)]), g[picked])
    return out


def _pad_adjoint_name(
    avals: tuple[AVal, ...], pads: Any = (), mode: str = "constant", dims: int = 1, shape: Any = ()
) -> str:
    if mode == "constant":
        return "ConstantPadNdBackward0"
    if mode == "circular":
        return "SliceBackward0"
    return f"{'Reflection' if mode == 'reflect' else 'Replication'}Pad{dims}DBackwardBackward0"


# The gradient of pad: each element of g added to the input element it read.
register(
    Op(
        "pad_adjoint",
        _pad_adjoint_abstract,
        _pad_adjoint_impl,
        lambda gg, out, g, pads, mode, dims, shape: (
            apply_op("pad", gg, pads=pads, mode=mode, value=0, dims=dims),
        ),
        grad_fn=_pad_adjoint_name,
        lowering=Kernel(kernels_index.pad_adjoint),
        saves=save_none,
        jvp=LINEAR,
    )
)
