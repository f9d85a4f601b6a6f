"""Writes through index tensors and masks: torch.scatter, scatter_reduce (sum, prod,
mean, amax, amin), masked_scatter and masked_select.

Repeated indices follow the forward's semantics (docs/semantics.md): of several
writes to one element the last, in C order of the index, wins, and only that write
receives a gradient; reductions fold every write in, and each gets its share.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes, kernels_index
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Kernel
from compiler.ops.elementwise import broadcast_shapes, drop, keep
from compiler.ops.index import _along, apply_op
from compiler.registry import AVal, Op, has_value, linear_in, register

REDUCES = ("sum", "prod", "mean", "amax", "amin")


def check_scatter(op: str, x: AVal, index: AVal, src: AVal, dim: int) -> None:
    """torch.scatter's rules: an integer index with x's number of dims, no larger than
    src anywhere nor than x outside `dim`; src of x's dtype."""
    if not dtypes.is_int(index.dtype):
        raise IndexError(f"{op}: index must be an integer tensor, got {index.dtype}")
    if x.ndim == 0:
        fits = index.ndim <= 1 and src.ndim <= 1 and index.shape in ((), (1,), (0,))
    else:
        fits = (
            index.ndim == x.ndim == src.ndim
            and all(i <= s for i, s in zip(index.shape, src.shape))
            and all(i <= n for d, (i, n) in enumerate(zip(index.shape, x.shape)) if d != dim)
        )
    if not fits:
        raise ShapeError(
            f"{op}: index of shape {tuple(index.shape)} does not fit input of shape "
            f"{tuple(x.shape)} and src of shape {tuple(src.shape)} along dim {dim}: they "
            "need as many dims, and index may be no larger than src, nor than the input "
            "outside dim"
        )
    if src.dtype != x.dtype:
        raise DTypeError(
            f"{op}: src is {src.dtype} but the input is {x.dtype}; they must have one "
            "dtype (convert src with .to(input.dtype))"
        )


def positions(
    x: np.ndarray, index: np.ndarray, src: np.ndarray, dim: int, op: str
) -> tuple[np.ndarray, np.ndarray]:
    """(flat positions in x written by each index element, in C order of index; the
    src values written there)."""
    part = src[tuple(slice(0, n) for n in index.shape)]
    if x.ndim == 0:
        _along(index.reshape(-1), 0, 1, op)
        return np.zeros(index.size, np.int64), part.reshape(-1)
    idx = _along(index, dim, x.shape[dim], op)
    full = tuple(np.broadcast_to(a, index.shape) for a in idx)
    return np.ravel_multi_index(full, x.shape).reshape(-1), part.reshape(-1)


def write_last(out: np.ndarray, where: np.ndarray, values: np.ndarray) -> None:
    """out.flat[where] = values, where repeated positions keep the last value."""
    _, first = np.unique(where[::-1], return_index=True)
    last = where.size - 1 - first
    out.reshape(-1)[where[last]] = values[last]


def _ids(g: Any, index: Any) -> Any:
    """Each element of index numbered in C order (int64, of index's shape)."""
    n = int(np.prod(index.shape, dtype=np.int64))
    return g.iota((n,), 0).reshape(tuple(index.shape))


def pad_to(g: Any, shape: tuple[int, ...]) -> Any:
    """g (of an index's shape) placed at the start of zeros of src's `shape` (src
    elements past index's shape take no part)."""
    if tuple(g.shape) == tuple(shape):
        return g
    spec = tuple(("slice", 0, n, 1) for n in g.shape)
    return apply_op("index_add", g, spec=spec, shape=tuple(shape))


def along(g: Any, index: Any, dim: int) -> Any:
    """g read at index along dim (gather; 0-d tensors have one element)."""
    if not g.shape:
        return g.reshape((1,) * index.ndim).broadcast_to(tuple(index.shape))
    return g.gather(dim, index)


# ---- scatter ----------------------------------------------------------------------------


def _scatter_abstract(x: AVal, index: AVal, src: AVal, dim: int) -> AVal:
    check_scatter("scatter", x, index, src, dim)
    return AVal(tuple(x.shape), x.dtype)


def _scatter_impl(x: np.ndarray, index: np.ndarray, src: np.ndarray, dim: int) -> np.ndarray:
    out = x.copy()
    where, values = positions(x, index, src, dim, "scatter")
    write_last(out, where, values)
    return out


def _scatter_vjp(g: Any, out: Any, x: Any, index: Any, src: Any, dim: int) -> tuple[Any, ...]:
    # overwritten elements of x get no gradient; of repeated writes only the last (the one
    # that stayed) gets one: ask scatter itself which won, by writing the writes' numbers
    gx = apply_op("scatter", g, index, g.full_like(0, shape=tuple(index.shape)), dim=dim)
    if not has_value(src):  # src needs no gradient (a value, a constant)
        return gx, None, None
    ids = _ids(g, index)
    kept = apply_op(
        "scatter", g.full_like(-1, shape=tuple(g.shape), dtype=dtypes.int64), index, ids, dim=dim
    )
    won = along(kept, index, dim) == ids
    gsrc = keep(along(g, index, dim), won)
    return gx, None, pad_to(gsrc, tuple(src.shape))


register(
    Op(
        "scatter",
        _scatter_abstract,
        _scatter_impl,
        _scatter_vjp,
        grad_fn="ScatterBackward0",
        lowering=Kernel(kernels_index.scatter),
        saves=lambda ng: (False, True, ng[2]),
        jvp=linear_in(0, 2),
    )
)


# ---- scatter_reduce ---------------------------------------------------------------------


def _scatter_reduce_abstract(
    x: AVal, index: AVal, src: AVal, dim: int, reduce: str, include_self: bool
) -> AVal:
    if reduce not in REDUCES:
        raise ValueError(f"scatter_reduce: reduce must be one of {REDUCES}, got {reduce!r}")
    check_scatter("scatter_reduce", x, index, src, dim)
    if x.dtype == dtypes.bool_ and reduce in ("sum", "mean", "prod"):
        raise DTypeError(f"scatter_reduce: reduce={reduce!r} is not supported for bool tensors")
    return AVal(tuple(x.shape), x.dtype)


_UFUNCS = {
    "sum": np.add,
    "mean": np.add,
    "prod": np.multiply,
    "amax": np.maximum,
    "amin": np.minimum,
}


def _scatter_reduce_impl(
    x: np.ndarray, index: np.ndarray, src: np.ndarray, dim: int, reduce: str, include_self: bool
) -> np.ndarray:
    out = x.copy()
    where, values = positions(x, index, src, dim, "scatter_reduce")
    flat = out.reshape(-1)
    if not include_self:
        flat[where] = kernels_index._identity(reduce, x.dtype)
    # np.maximum.at propagates NaN from either side, as the kernel and PyTorch do
    _UFUNCS[reduce].at(flat, where, values)
    if reduce == "mean":
        count = np.bincount(where, minlength=flat.size) + int(include_self)
        hit = count > 0
        if dtypes.is_float(x.dtype):
            flat[hit] = flat[hit] / count[hit]
        else:  # integers: floor division, as PyTorch
            flat[hit] = flat[hit] // count[hit]
    return out


def _count(g: Any, index: Any, dim: int) -> Any:
    """How many elements of index write each element of the output (g's dtype)."""
    ones = g.full_like(1, shape=tuple(index.shape))
    return apply_op("scatter_add", g.zeros_like(), index, ones, dim=dim)


def _others_product(c: Any, zeros: Any, nonzero_product: Any, zero_sum: Any) -> Any:
    """For each factor c of a product, the product of the other factors, from the number
    of zero factors, the product of the nonzero ones and the sum of the zero ones (0,
    but its derivative reaches each zero factor). No division by 0, and the derivative
    is right too where factors are 0: the terms that vanish there keep the factor that
    makes them vanish (prod of the others = P / c * z0 with one zero z0 elsewhere)."""
    p = nonzero_product
    at_zero = c == 0
    over_c = p / c.where(~at_zero, 1)
    one = apply_op("where", at_zero, p, over_c * zero_sum)
    two = keep(p * (zero_sum - c), at_zero)
    return apply_op(
        "where", zeros == 0, over_c, apply_op("where", zeros == 1, one, keep(two, zeros == 2))
    )


def _scatter_reduce_vjp(
    g: Any, out: Any, x: Any, index: Any, src: Any, dim: int, reduce: str, include_self: bool
) -> tuple[Any, ...]:
    srcp = src[tuple(slice(0, n) for n in index.shape)] if src.shape != index.shape else src
    hit = _count(g, index, dim)
    touched = hit > 0
    if reduce == "sum":
        gx = g if include_self else drop(g, touched)
        gsrc = along(g, index, dim)
    elif reduce == "mean":
        n = (hit + int(include_self)).where(touched, 1)
        gx = g / n if include_self else drop(g, touched)
        gsrc = along(g / n, index, dim)
    elif reduce in ("amax", "amin"):
        # ties share the gradient evenly, as in PyTorch
        src_won = srcp == along(out, index, dim)
        x_won = (x == out) if include_self else ~touched
        wins = apply_op("scatter_add", x_won.to(g.dtype), index, src_won.to(g.dtype), dim=dim)
        share = g / wins.where(wins > 0, 1)
        gx = keep(share, x_won | ~touched)
        gsrc = keep(along(share, index, dim), src_won)
    else:  # prod, correct with zeros among the factors (to second order)
        x_zero, src_zero = x == 0, srcp == 0
        nz = apply_op(
            "scatter_reduce",
            x.where(~x_zero, 1),
            index,
            srcp.where(~src_zero, 1),
            dim=dim,
            reduce="prod",
            include_self=include_self,
        )
        own = (lambda t: t) if include_self else (lambda t: t.zeros_like())
        zeros = apply_op(
            "scatter_add", own(x_zero.to(g.dtype)), index, src_zero.to(g.dtype), dim=dim
        )
        zero_sum = apply_op(
            "scatter_add", own(keep(x, x_zero)), index, keep(srcp, src_zero), dim=dim
        )
        if include_self:
            gx = g * _others_product(x, zeros, nz, zero_sum)
        else:
            gx = drop(g, touched)
        gsrc = along(g, index, dim) * _others_product(
            srcp, along(zeros, index, dim), along(nz, index, dim), along(zero_sum, index, dim)
        )
    return gx, None, pad_to(gsrc, tuple(src.shape))


register(
    Op(
        "scatter_reduce",
        _scatter_reduce_abstract,
        _scatter_reduce_impl,
        _scatter_reduce_vjp,
        grad_fn="ScatterReduceBackward0",
        lowering=Kernel(kernels_index.scatter_reduce),
        saves_out=True,
    )
)


# ---- masked_scatter and masked_select ------------------------------------------------------


def _check_mask(op: str, mask: AVal) -> None:
    if mask.dtype != dtypes.bool_:
        raise DTypeError(f"{op}: the mask must be a bool tensor, got {mask.dtype}")


def _masked_scatter_abstract(x: AVal, mask: AVal, src: AVal) -> AVal:
    _check_mask("masked_scatter", mask)
    if broadcast_shapes("masked_scatter", tuple(mask.shape), tuple(x.shape)) != tuple(x.shape):
        raise ShapeError(
            f"masked_scatter: mask of shape {tuple(mask.shape)} does not broadcast to the "
            f"input's shape {tuple(x.shape)}"
        )
    if src.dtype != x.dtype:
        raise DTypeError(
            f"masked_scatter: source is {src.dtype} but the input is {x.dtype}; convert "
            "source with .to(input.dtype)"
        )
    return AVal(tuple(x.shape), x.dtype)


def _masked_scatter_impl(x: np.ndarray, mask: np.ndarray, src: np.ndarray) -> np.ndarray:
    m = np.broadcast_to(mask, x.shape)
    k = int(m.sum())
    if k > src.size:
        raise IndexError(
            f"masked_scatter: the mask selects {k} elements but source has only {src.size} "
            f"(shape {src.shape})"
        )
    out = x.copy()
    out[m] = src.reshape(-1)[:k]
    return out


def _masked_scatter_vjp(g: Any, out: Any, x: Any, mask: Any, src: Any) -> tuple[Any, ...]:
    gsrc = apply_op("masked_select", g, mask, shape=tuple(src.shape))
    return drop(g, mask), None, gsrc


register(
    Op(
        "masked_scatter",
        _masked_scatter_abstract,
        _masked_scatter_impl,
        _masked_scatter_vjp,
        grad_fn="MaskedScatterBackward0",
        lowering=Kernel(kernels_index.masked_scatter, contiguous=kernels_index.c_contiguous),
        saves=lambda ng: (False, True, False),
        jvp=linear_in(0, 2),
    )
)


def _masked_select_abstract(x: AVal, mask: AVal, shape: tuple[int, ...]) -> AVal:
    _check_mask("masked_select", mask)
    broadcast_shapes("masked_select", tuple(x.shape), tuple(mask.shape))
    return AVal(tuple(shape), x.dtype)


def _masked_select_impl(x: np.ndarray, mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    xb, mb = np.broadcast_arrays(x, mask)
    picked = xb[mb]
    out = np.zeros(int(np.prod(shape, dtype=np.int64)), x.dtype)
    if picked.size > out.size:
        raise IndexError(
            f"masked_select: the mask selects {picked.size} elements, more than the "
            f"{out.size} the result holds"
        )
    out[: picked.size] = picked
    return out.reshape(shape)


def _masked_select_vjp(
    g: Any, out: Any, x: Any, mask: Any, shape: tuple[int, ...]
) -> tuple[Any, None]:
    full = broadcast_shapes("masked_select", tuple(x.shape), tuple(mask.shape))
    gx = apply_op("masked_scatter", g.full_like(0, shape=full), mask, g)
    return gx.sum_to(tuple(x.shape)), None


# The elements where the mask holds, in C order, padded with zeros to `shape`: the
# result of masked_select (its size counted from the mask) and the gradient of
# masked_scatter's source.
register(
    Op(
        "masked_select",
        _masked_select_abstract,
        _masked_select_impl,
        _masked_select_vjp,
        grad_fn="MaskedSelectBackward0",
        lowering=Kernel(kernels_index.masked_select),
        saves=lambda ng: (False, True),
        jvp=linear_in(0),
    )
)
