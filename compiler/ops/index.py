"""Indexing: `x[key]` for ints, slices, None, Ellipsis, integer tensors/lists and
bool masks, with numpy's semantics, plus the scatter ops its gradient needs."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes, kernels
from compiler.errors import ShapeError
from compiler.lowering import Kernel, Layout, SizeNames, View
from compiler.registry import LINEAR, AVal, Op, linear_in, register, save_none

# A static index spec is a tuple of items: ("int", i), ("slice", start, stop, step),
# ("new",) or ("arr", k), where k numbers the index-array inputs of the op.


def parse_index(x: Any, key: Any) -> tuple[tuple[Any, ...], list[Any], str]:
    """Normalise a user's index into (static spec, index operands, grad_fn name)."""
    from compiler.operand import Operand

    items = list(key) if isinstance(key, tuple) else [key]
    consumed = sum(
        1 for k in items if k is not None and k is not Ellipsis and not (_is_bool_mask(k))
    )
    consumed += sum(
        np.ndim(k) if not isinstance(k, Operand) else k.ndim for k in items if _is_bool_mask(k)
    )
    if sum(k is Ellipsis for k in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of shape {tuple(x.shape)}: {consumed} given")
    spec: list[tuple[Any, ...]] = []
    arrays: list[Any] = []
    dim = 0
    for k in items:
        if k is Ellipsis:
            n = x.ndim - consumed
            spec += [("slice", 0, x.shape[dim + i], 1) for i in range(n)]
            dim += n
        elif k is None:
            spec.append(("new",))
        elif isinstance(k, slice):
            try:
                spec.append(("slice", *k.indices(x.shape[dim])))
            except (TypeError, ValueError) as e:  # a zero step, non-integer bounds
                raise type(e)(f"index: {e}, got {k} (tensor of shape {tuple(x.shape)})") from None
            dim += 1
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            size = x.shape[dim]
            if not -size <= k < size:
                valid = f"valid indices are {-size} to {size - 1}" if size else "it is empty"
                raise IndexError(
                    f"index {k} is out of bounds for dimension {dim} with size "
                    f"{size} (tensor of shape {tuple(x.shape)}); {valid}"
                )
            spec.append(("int", int(k) % size))
            dim += 1
        elif _is_bool_mask(k):
            mask = _mask_values(k)  # data-dependent shape: needs a concrete value
            expect = tuple(x.shape[dim : dim + mask.ndim])
            if mask.shape != expect:
                raise IndexError(
                    f"boolean mask of shape {mask.shape} does not match the "
                    f"indexed dimensions {expect} of shape {tuple(x.shape)}"
                )
            for nz in np.nonzero(mask):
                spec.append(("arr", len(arrays)))
                arrays.append(x._const(nz.astype(np.int64)))
            dim += mask.ndim
        else:
            if isinstance(k, Operand):
                if not dtypes.is_int(k.dtype):
                    raise IndexError(
                        f"tensors used as indices must be integer or bool, got {k.dtype}"
                    )
                arr = k if k.dtype == dtypes.int64 else k.to(dtypes.int64)
            else:
                try:
                    a = np.asarray(k)
                except ValueError:  # a ragged list
                    raise IndexError(
                        f"unsupported index {k!r}: a list index must be rectangular (like a tensor)"
                    ) from None
                if a.dtype.kind not in "iu" and a.size:
                    raise IndexError(
                        f"unsupported index {k!r}: use ints, slices, None, "
                        "..., or integer/bool tensors"
                    )
                arr = x._const(a.astype(np.int64))
            spec.append(("arr", len(arrays)))
            arrays.append(arr)
            dim += 1
    spec += [("slice", 0, x.shape[d], 1) for d in range(dim, x.ndim)]
    return tuple(spec), arrays, _grad_fn_name(spec, x.shape)


def _grad_fn_name(spec: list[tuple[Any, ...]], shape: tuple[int, ...]) -> str:
    """PyTorch's node for x[key]: it applies the basic indices left to right (select,
    slice, unsqueeze; a slice that keeps the whole dim is skipped) and the tensor
    indices last, so the last op applied names the result."""
    if any(item[0] == "arr" for item in spec):
        return "IndexBackward0"
    name, dim = "AliasBackward0", 0
    for item in spec:
        if item[0] == "new":
            name = "UnsqueezeBackward0"
            continue
        if item[0] == "int":
            name = "SelectBackward0"
        elif item != ("slice", 0, shape[dim], 1):
            name = "SliceBackward0"
        dim += 1
    return name


def _mask_values(k: Any) -> np.ndarray:
    """A boolean mask's values. A tensor mask inside a trace is refused (its values
    would be read once, when tracing, and frozen into the graph), unless the traced
    function made it itself."""
    from compiler.methods.indexing import concrete
    from compiler.operand import Operand

    if not isinstance(k, Operand):
        return np.asarray(k)
    fix = (
        "Use tracer.where(mask, x, 0) to keep the shape (then reduce), or index eagerly "
        "outside the traced function."
    )
    return concrete(k, "indexing with a boolean tensor mask", fix)


def _is_bool_mask(k: Any) -> bool:
    from compiler.operand import Operand

    if isinstance(k, Operand):
        return k.dtype == dtypes.bool_
    if not isinstance(k, (np.ndarray, list)):
        return False
    try:
        return np.asarray(k).dtype == np.bool_
    except ValueError:  # ragged: parse_index says so
        return False


def numpy_index(spec: tuple[Any, ...], arrays: tuple[np.ndarray, ...]) -> tuple[Any, ...]:
    out: list[Any] = []
    for item in spec:
        kind = item[0]
        if kind == "int":
            out.append(item[1])
        elif kind == "slice":
            start, stop, step = item[1:]
            if not range(start, stop, step):  # (-1, -1, -1) from slice.indices: empty,
                out.append(slice(0, 0))  # not "from the last element"
            else:  # a negative step's stop of -1 means "through index 0"
                out.append(slice(start, stop if stop >= 0 else None, step))
        elif kind == "new":
            out.append(None)
        else:
            out.append(arrays[item[1]])
    return tuple(out)


def _index_abstract(x: AVal, *arrays: AVal, spec: tuple[Any, ...]) -> AVal:
    dummy = np.broadcast_to(np.zeros((), x.dtype), x.shape)
    fake = tuple(np.zeros(a.shape, np.int64) for a in arrays)
    try:
        shape = dummy[numpy_index(spec, fake)].shape
    except IndexError as e:
        raise IndexError(f"index: {e} (tensor of shape {tuple(x.shape)})") from None
    return AVal(tuple(shape), x.dtype)


def _index_impl(x: np.ndarray, *arrays: np.ndarray, spec: tuple[Any, ...]) -> np.ndarray:
    try:
        return np.asarray(x[numpy_index(spec, arrays)])
    except IndexError as e:
        raise IndexError(
            f"index: {e} (tensor of shape {x.shape}); an index tensor's values "
            "must lie in -size to size - 1 of the dimension it indexes"
        ) from None


def take(x: Any, arrays: Any, spec: tuple[Any, ...]) -> Any:
    """x[spec]: a view (`slice`) without index tensors, a gather (`index`) with them."""
    if arrays:
        return apply_op("index", x, *arrays, spec=spec)
    return apply_op("slice", x, spec=spec)


def _index_vjp(g: Any, out: Any, x: Any, *arrays: Any, spec: tuple[Any, ...]) -> tuple[Any, ...]:
    return (
        apply_op("index_add", g, *arrays, spec=spec, shape=tuple(x.shape)),
        *([None] * len(arrays)),
    )


def apply_op(op: str, *args: Any, **params: Any) -> Any:
    from compiler.operand import apply

    return apply(op, *args, **params)


def _slice_layout(r: Layout, sizes: SizeNames, spec: tuple[Any, ...]) -> Layout:
    """Basic indexing (ints, slices, None) as an affine map of the input's layout."""
    shape, strides, off = [], [], r.offset
    dim = 0
    for item in spec:
        if item[0] == "new":
            shape.append(1)
            strides.append(0)
            continue
        n, st = r.shape[dim], r.strides[dim]
        if item[0] == "int":
            off = off + sizes.within(item[1], n) * st
        else:
            _, start, stop, step = item
            length = len(range(start, stop, step))
            shape.append(sizes.within(length, n))
            strides.append(st * step)
            if length:
                off = off + sizes.within(start, n) * st
        dim += 1
    return Layout(tuple(shape), tuple(strides), off)


# x[key] with ints, slices, None and ...: a view
register(
    Op(
        "slice",
        _index_abstract,
        _index_impl,
        _index_vjp,
        grad_fn="SliceBackward0",
        lowering=View(_slice_layout),
        saves=save_none,
        jvp=LINEAR,
    )
)
# x[key] with index tensors (and bool masks, as the indices of their true elements)
register(
    Op(
        "index",
        _index_abstract,
        _index_impl,
        _index_vjp,
        grad_fn="IndexBackward0",
        lowering=Kernel(kernels.index),
        saves=lambda ng: (False,) + (True,) * (len(ng) - 1),
        jvp=linear_in(0),
    )
)


def _index_add_abstract(
    g: AVal, *arrays: AVal, spec: tuple[Any, ...], shape: tuple[int, ...]
) -> AVal:
    return AVal(tuple(shape), g.dtype)


def _index_add_impl(
    g: np.ndarray, *arrays: np.ndarray, spec: tuple[Any, ...], shape: tuple[int, ...]
) -> np.ndarray:
    out = np.zeros(shape, g.dtype)
    idx = numpy_index(spec, arrays)
    if arrays:
        np.add.at(out, idx, g)  # repeated indices accumulate
    else:
        out[idx] = g
    return out


register(
    Op(
        "index_add",
        _index_add_abstract,
        _index_add_impl,
        lambda gg, out, g, *arrays, spec, shape: (take(gg, arrays, spec), *([None] * len(arrays))),
        grad_fn="IndexAddBackward0",
        lowering=Kernel(kernels.index_add),
        saves=lambda ng: (False,) + (True,) * (len(ng) - 1),
        jvp=linear_in(0),
    )
)


def _index_put_abstract(x: AVal, v: AVal, *arrays: AVal, spec: tuple[Any, ...]) -> AVal:
    target = _index_abstract(x, *arrays, spec=spec).shape
    try:
        fits = np.broadcast_shapes(tuple(v.shape), target) == tuple(target)
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(
            f"setitem: value of shape {tuple(v.shape)} cannot be broadcast to "
            f"the indexed shape {target} of a tensor of shape "
            f"{tuple(x.shape)}"
        ) from None
    return AVal(tuple(x.shape), x.dtype)


def put(out: np.ndarray, v: Any, spec: tuple[Any, ...], arrays: tuple[np.ndarray, ...]) -> None:
    """`out[spec] = v` in place, with a defined result for repeated indices: of several
    writes to one element, the last in the C order of the indexed shape wins (numpy
    does not promise an order; the compiled kernel writes in that order too)."""
    idx = numpy_index(spec, arrays)
    if arrays:
        where = _write_positions(out.shape, idx).reshape(-1)
        # the last write to each element: the first of the reversed writes
        _, first = np.unique(where[::-1], return_index=True)
        if first.size < where.size:
            last = where.size - 1 - first
            values = np.broadcast_to(v, np.shape(out[idx])).reshape(-1)
            out[np.unravel_index(where[last], out.shape)] = values[last]
            return
    out[idx] = v


def _write_positions(shape: tuple[int, ...], idx: tuple[Any, ...]) -> np.ndarray:
    """For each element that `a[idx]` selects from an array of `shape`, its flat (C
    order) position in that array, laid out in the shape of a[idx]."""
    stride, total = 1, np.zeros((), np.int64)
    for d in reversed(range(len(shape))):
        along = (np.arange(shape[d], dtype=np.int64) * stride).reshape(
            [-1 if k == d else 1 for k in range(len(shape))]
        )
        total = total + np.broadcast_to(along, shape)[idx]
        stride *= shape[d]
    return np.asarray(total)


def _index_put_impl(
    x: np.ndarray, v: np.ndarray, *arrays: np.ndarray, spec: tuple[Any, ...]
) -> np.ndarray:
    out = x.copy()
    try:
        put(out, v, spec, arrays)
    except IndexError as e:
        raise IndexError(f"setitem: {e} (tensor of shape {x.shape})") from None
    return out


def _index_put_vjp(
    g: Any, out: Any, x: Any, v: Any, *arrays: Any, spec: tuple[Any, ...]
) -> tuple[Any, ...]:
    # the written elements of x were overwritten: no gradient reaches them
    gx = apply_op("index_put", g, g.full_like(0, shape=()), *arrays, spec=spec)
    gv = take(g, arrays, spec)
    if arrays:
        # With repeated indices only the write that won (the last) reaches the output;
        # the others get 0. Which one won, asked of index_put itself: number the
        # writes, scatter the numbers, read back the number that stayed.
        n = int(np.prod(gv.shape, dtype=np.int64))
        ids = g.iota((n,), 0).reshape(tuple(gv.shape))
        kept = apply_op("index_put", g.full_like(-1, dtype=dtypes.int64), ids, *arrays, spec=spec)
        won = take(kept, arrays, spec) == ids
        gv = apply_op("where", won, gv, 0)  # select: a nan from a lost write stays out
    return (gx, gv, *([None] * len(arrays)))


register(
    Op(
        "index_put",
        _index_put_abstract,
        _index_put_impl,
        _index_put_vjp,
        grad_fn="CopySlices",
        lowering=Kernel(kernels.index_put),
        saves=lambda ng: (False, False) + (True,) * (len(ng) - 2),
        jvp=linear_in(0, 1),
    )
)


# ---- torch.gather and torch.scatter_add ------------------------------------------------


def _gather_abstract(x: AVal, index: AVal, dim: int) -> AVal:
    if not dtypes.is_int(index.dtype):
        raise IndexError(f"gather: index must be an integer tensor, got {index.dtype}")
    if index.ndim != x.ndim or any(
        i > n for d, (i, n) in enumerate(zip(index.shape, x.shape)) if d != dim
    ):
        raise ShapeError(
            f"gather: index of shape {tuple(index.shape)} does not fit input of shape "
            f"{tuple(x.shape)} along dim {dim}: it needs as many dims, and no larger sizes "
            "outside dim"
        )
    return AVal(tuple(index.shape), x.dtype)


def _along(index: np.ndarray, dim: int, size: int, op: str) -> tuple[np.ndarray, ...]:
    """numpy fancy indices addressing element index[i] along `dim` at position i."""
    bad = (index < 0) | (index >= size)
    if bad.any():
        raise IndexError(
            f"{op}: index {int(index[bad].flat[0])} is out of bounds for dimension {dim} "
            f"with size {size}"
        )
    grids = np.indices(index.shape, sparse=True)
    return tuple(index if d == dim else g for d, g in enumerate(grids))


def _gather_impl(x: np.ndarray, index: np.ndarray, dim: int) -> np.ndarray:
    if x.ndim == 0:  # a 0-d index, which must be 0
        _along(index.reshape(1), 0, 1, "gather")
        return x.copy()
    return x[_along(index, dim, x.shape[dim], "gather")]


def _gather_vjp(g: Any, out: Any, x: Any, index: Any, dim: int) -> tuple[Any, None]:
    return apply_op("scatter_add", g.full_like(0, shape=tuple(x.shape)), index, g, dim=dim), None


register(
    Op(
        "gather",
        _gather_abstract,
        _gather_impl,
        _gather_vjp,
        grad_fn="GatherBackward0",
        lowering=Kernel(kernels.gather),
        saves=lambda ng: (False, True),
        jvp=linear_in(0),
    )
)


def _scatter_add_abstract(x: AVal, index: AVal, src: AVal, dim: int) -> AVal:
    if not dtypes.is_int(index.dtype):
        raise IndexError(f"scatter_add: index must be an integer tensor, got {index.dtype}")
    if not (index.ndim == x.ndim == src.ndim) or any(
        i > s or (d != dim and i > n)
        for d, (i, s, n) in enumerate(zip(index.shape, src.shape, x.shape))
    ):
        raise ShapeError(
            f"scatter_add: index of shape {tuple(index.shape)} does not fit input of shape "
            f"{tuple(x.shape)} and src of shape {tuple(src.shape)} along dim {dim}"
        )
    if src.dtype != x.dtype:
        raise ShapeError(f"scatter_add: src is {src.dtype} but the input is {x.dtype}")
    return AVal(tuple(x.shape), x.dtype)


def _scatter_add_impl(x: np.ndarray, index: np.ndarray, src: np.ndarray, dim: int) -> np.ndarray:
    out = x.copy()
    part = src[tuple(slice(0, n) for n in index.shape)]
    if x.ndim == 0:
        _along(index.reshape(1), 0, 1, "scatter_add")
        return out + part
    np.add.at(out, _along(index, dim, x.shape[dim], "scatter_add"), part)
    return out


def _scatter_add_vjp(
    g: Any, out: Any, x: Any, index: Any, src: Any, dim: int
) -> tuple[Any, None, Any]:
    gsrc = g.gather(dim, index)
    if tuple(src.shape) != tuple(index.shape):  # src elements past index's shape are unused
        spec = tuple(("slice", 0, n, 1) for n in index.shape)
        gsrc = apply_op("index_add", gsrc, spec=spec, shape=tuple(src.shape))
    return g, None, gsrc


register(
    Op(
        "scatter_add",
        _scatter_add_abstract,
        _scatter_add_impl,
        _scatter_add_vjp,
        grad_fn="ScatterAddBackward0",
        lowering=Kernel(kernels.scatter_add),
        saves=lambda ng: (False, True, False),
        jvp=linear_in(0, 2),
    )
)
