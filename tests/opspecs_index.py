"""Op-spec rows of the indexing and shape family (issue 12): gather and the scatters,
index_*, masks, take/put, nonzero, flip/roll/rot90, repeats, splits, moving dims,
triangles and diagonals, meshgrid, the stacks, F.pad and F.one_hot.

A row per distinct code path: dims, duplicates, broadcasting, 0-d and edge
values. References are written with numpy loops (never with the op under test).
Rows where PyTorch's gradient is not the derivative of what it computed (repeated
writes: PyTorch sends the gradient to every write, not only the one that stayed)
run the oracle on a `torch_fn` that computes PyTorch's forward with the true
gradient, and say so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opspecs import KINK, A, F, S, distinct, fixed, indices, lib, mask, offset, real

INTS = ("int64",)


# ---- index domains ----------------------------------------------------------------------


def unique_along(n: int, dim: int) -> Any:
    """An index of distinct values in [0, n) along `dim` (no repeated writes)."""

    def domain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        moved = (shape[dim],) + tuple(s for d, s in enumerate(shape) if d != dim)
        out = np.empty(moved, np.int64)
        for pos in np.ndindex(*moved[1:]):
            out[(slice(None), *pos)] = rng.permutation(n)[: moved[0]]
        return np.moveaxis(out, 0, dim)

    return domain


def fixed_int(values: Any) -> Any:
    """Exact integer indices (repeats on purpose)."""

    def domain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return np.array(values, dtype=np.int64).reshape(shape)

    return domain


def nonzero_real(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Reals in +-(0.5, 2): products without zeros."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


# ---- numpy references ----------------------------------------------------------------------


def _targets(x: np.ndarray, index: np.ndarray, dim: int):
    for pos in np.ndindex(*index.shape):
        t = list(pos)
        if x.ndim:
            t[dim] = index[pos]
        yield pos, tuple(t)


def scatter_ref(x, dim, index, src):
    out = x.copy()
    for pos, t in _targets(x, index, dim):
        out[t] = src[pos] if np.ndim(src) else src
    return out


def scatter_reduce_ref(x, dim, index, src, reduce, include_self=True):
    out = x.astype(np.float64).copy()
    groups: dict[tuple[int, ...], list[float]] = {}
    for pos, t in _targets(x, index, dim):
        groups.setdefault(t, []).append(src[pos])
    for t, vals in groups.items():
        vals = ([out[t]] if include_self else []) + vals
        fold = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}
        out[t] = fold[reduce](vals)
    return out


def index_add_ref(x, dim, index, src, alpha=1.0):
    out = x.copy()
    for k, i in enumerate(index):
        sl = [slice(None)] * x.ndim
        sl[dim] = i
        sk = [slice(None)] * x.ndim
        sk[dim] = k
        out[tuple(sl)] += alpha * src[tuple(sk)]
    return out


def index_copy_ref(x, dim, index, src):
    out = x.copy()
    for k, i in enumerate(index):
        sl = [slice(None)] * x.ndim
        sl[dim] = i
        sk = [slice(None)] * x.ndim
        sk[dim] = k
        out[tuple(sl)] = src[tuple(sk)]
    return out


def index_fill_ref(x, dim, index, value):
    out = x.copy()
    for i in index:
        sl = [slice(None)] * x.ndim
        sl[dim] = i
        out[tuple(sl)] = value
    return out


def masked_scatter_ref(x, m, src):
    out = x.copy()
    flat = iter(src.reshape(-1))
    mb = np.broadcast_to(m, x.shape)
    for pos in np.ndindex(*x.shape):
        if mb[pos]:
            out[pos] = next(flat)
    return out


def put_ref(x, index, src, accumulate=False):
    out = x.copy().reshape(-1)
    for i, v in zip(index.reshape(-1), src.reshape(-1)):
        out[i] = out[i] + v if accumulate else v
    return out.reshape(x.shape)


def diag_embed_ref(v, offset=0):
    n = v.shape[-1] + abs(offset)
    out = np.zeros(v.shape[:-1] + (n, n))
    for k in range(v.shape[-1]):
        i, j = (k, k + offset) if offset >= 0 else (k - offset, k)
        out[..., i, j] = v[..., k]
    return out


_PAD_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad_ref(x, widths, mode="constant", value=0.0):
    """F.pad by np.pad (widths >= 0), cropping for negative widths."""
    k = len(widths) // 2
    pads = [(0, 0)] * (x.ndim - k) + [
        (widths[2 * i], widths[2 * i + 1]) for i in reversed(range(k))
    ]
    grow = [(max(b, 0), max(a, 0)) for b, a in pads]
    kw = {"constant_values": value} if mode == "constant" else {}
    crop = tuple(slice(max(-b, 0), x.shape[d] - max(-a, 0)) for d, (b, a) in enumerate(pads))
    if mode == "circular":  # PyTorch wraps inside the cropped part
        return np.pad(x[crop], grow, "wrap")
    out = np.pad(x, grow, _PAD_MODE[mode], **kw)
    return out[tuple(slice(max(-b, 0), out.shape[d] - max(-a, 0)) for d, (b, a) in enumerate(pads))]


def _last_writes(index: np.ndarray, dim: int) -> np.ndarray:
    """True for each index element whose write is the last to its target."""
    won = np.zeros(index.shape, bool)
    seen = set()
    for pos in reversed(list(np.ndindex(*index.shape))):
        t = list(pos)
        t[dim] = int(index[pos])
        if tuple(t) not in seen:
            won[pos] = True
            seen.add(tuple(t))
    return won


def _torch_scatter_true_gradient(dim: int):
    """PyTorch's scatter with the gradient of the write that stayed (PyTorch's own sends
    it to every write to an element)."""

    def fn(x, i, v):
        import torch

        won = torch.tensor(_last_writes(i.numpy(), dim)[tuple(slice(0, n) for n in i.shape)])
        vv = v[tuple(slice(0, n) for n in i.shape)]
        return x.scatter(dim, i, torch.where(won, vv, vv.detach()))

    return fn


def _nonzero_ref(x):
    return np.argwhere(x)


SPECS = [
    # ---- gather and scatter_add: corner cases ------------------------------------------------
    S(
        "gather_negative_dim",
        lambda x, i: x.gather(-1, i),
        lambda x, i: np.take_along_axis(x, i, -1),
        (A((2, 3, 4)), A((2, 3, 2), indices(0, 4))),
        grad_fn="GatherBackward0",
    ),
    S(
        "gather_0d",
        lambda x, i: x.gather(0, i),
        lambda x, i: x,
        (A(()), A((), indices(0, 1))),
        grad_fn="GatherBackward0",
    ),
    S(
        "scatter_add_method_inplace",
        lambda x, i, v: (x * 1).scatter_add_(0, i, v),
        lambda x, i, v: scatter_reduce_ref(x, 0, i, v, "sum"),
        (A((3, 2)), A((4, 2), indices(0, 3)), A((4, 2))),
        grad_fn="ScatterAddBackward0",
    ),
    # ---- scatter -----------------------------------------------------------------------------
    S(
        "scatter_src",
        lambda x, i, v: x.scatter(0, i, v),
        lambda x, i, v: scatter_ref(x, 0, i, v),
        (A((3, 4)), A((2, 4), unique_along(3, 0)), A((2, 4))),
        grad_fn="ScatterBackward0",
    ),
    S(
        "scatter_src_larger_dim1",
        lambda x, i, v: lib(x).scatter(x, 1, i, v),
        lambda x, i, v: scatter_ref(x, 1, i, v[:2, :2]),
        (A((2, 4)), A((2, 2), unique_along(4, 1)), A((3, 3))),
        grad_fn="ScatterBackward0",
        torch_fn=lambda x, i, v: x.scatter(1, i, v[:2, :2]),
    ),
    # Repeated writes: the last stays and alone gets the gradient (PyTorch: every write)
    S(
        "scatter_repeated_last_wins",
        lambda x, i, v: x.scatter(0, i, v),
        lambda x, i, v: scatter_ref(x, 0, i, v),
        (A((2, 3)), A((4, 3), indices(0, 2)), A((4, 3))),
        grad_fn="ScatterBackward0",
        torch_fn=_torch_scatter_true_gradient(0),
    ),
    S(
        "scatter_value",
        lambda x, i: x.scatter(1, i, 2.5),
        lambda x, i: scatter_ref(x, 1, i, 2.5),
        (A((3, 4)), A((3, 2), indices(0, 4))),
        grad_fn="ScatterBackward1",
    ),
    S(
        "scatter_inplace_on_clone",
        lambda x, i, v: x.clone().scatter_(0, i, v) * 2,
        lambda x, i, v: scatter_ref(x, 0, i, v) * 2,
        (A((3, 2)), A((2, 2), unique_along(3, 0)), A((2, 2))),
        grad_fn="MulBackward0",
    ),
    S(
        "scatter_reduce_add_legacy",
        lambda x, i, v: x.scatter(0, i, v, reduce="add"),
        lambda x, i, v: scatter_reduce_ref(x, 0, i, v, "sum"),
        (A((3, 2)), A((4, 2), indices(0, 3)), A((4, 2))),
        grad_fn="ScatterReduceBackward0",
        # PyTorch's legacy reduce= has no gradient (NotImplemented): oracle on the equivalent
        torch_fn=lambda x, i, v: x.scatter_reduce(0, i, v, "sum"),
    ),
    S(
        "scatter_reduce_multiply_legacy",
        lambda x, i, v: x.scatter(1, i, v, reduce="multiply"),
        lambda x, i, v: scatter_reduce_ref(x, 1, i, v, "prod"),
        (A((2, 3), nonzero_real), A((2, 4), indices(0, 3)), A((2, 4), nonzero_real)),
        grad_fn="ScatterReduceBackward0",
        torch_fn=lambda x, i, v: x.scatter_reduce(1, i, v, "prod"),
    ),
    # ---- scatter_reduce ----------------------------------------------------------------------
    *[
        S(
            f"scatter_reduce_{r}{'' if inc else '_exclude_self'}",
            lambda x, i, v, r=r, inc=inc: x.scatter_reduce(0, i, v, r, include_self=inc),
            lambda x, i, v, r=r, inc=inc: scatter_reduce_ref(x, 0, i, v, r, inc),
            (A((3, 2), dom), A((5, 2), indices(0, 2)), A((5, 2), src)),
            grad_fn="ScatterReduceBackward0",
        )
        for r, dom, src in [
            ("sum", real, real),
            ("prod", nonzero_real, nonzero_real),
            ("mean", real, real),
            ("amax", distinct, offset),
            ("amin", distinct, offset),
        ]
        for inc in (True, False)
    ],
    S(
        "scatter_reduce_prod_with_zeros",
        lambda x, i, v: lib(x).scatter_reduce(x, 0, i, v, "prod"),
        lambda x, i, v: scatter_reduce_ref(x, 0, i, v, "prod"),
        (
            A((3,), fixed([0.0, 2.0, 1.5])),
            A((4,), fixed_int([0, 0, 1, 1])),
            A((4,), fixed([3.0, 0.5, 0.0, 4.0])),
        ),
        grad_fn="ScatterReduceBackward0",
    ),
    S(
        "scatter_reduce_prod_two_zeros",
        lambda x, i, v: x.scatter_reduce(0, i, v, "prod"),
        lambda x, i, v: scatter_reduce_ref(x, 0, i, v, "prod"),
        (A((2,), fixed([0.0, 2.0])), A((2,), fixed_int([0, 1])), A((2,), fixed([0.0, -1.5]))),
        grad_fn="ScatterReduceBackward0",
    ),
    S(
        "scatter_reduce_amax_ties",
        lambda x, i, v: x.scatter_reduce(0, i, v, "amax"),
        lambda x, i, v: scatter_reduce_ref(x, 0, i, v, "amax"),
        (
            A((2,), fixed([1.0, 2.0])),
            A((3,), fixed_int([0, 0, 1])),
            A((3,), fixed([1.0, 0.5, 2.0])),
        ),
        grad_fn="ScatterReduceBackward0",
        no_fd=KINK,
    ),
    S(
        "scatter_reduce_int_mean",
        lambda x, i, v: x.scatter_reduce(0, i, v, "mean"),
        lambda x, i, v: np.floor(
            scatter_reduce_ref(x, 0, i, v, "sum") / np.maximum(np.bincount(i, minlength=3) + 1, 1)
        ),
        (A((3,), indices(-9, 9)), A((4,), fixed_int([0, 0, 2, 0])), A((4,), indices(-9, 9))),
        dtypes=INTS,
    ),
    # ---- index_select / index_add / index_copy / index_fill ------------------------------------
    S(
        "index_select",
        lambda x, i: x.index_select(1, i),
        lambda x, i: x[:, i],
        (A((3, 4)), A((5,), indices(0, 4))),
        grad_fn="IndexSelectBackward0",
    ),
    S(
        "index_select_function_dim0_0d_index",
        lambda x, i: lib(x).index_select(x, 0, i),
        lambda x, i: x[[int(i)]],
        (A((3, 2)), A((), indices(0, 3))),
        grad_fn="IndexSelectBackward0",
    ),
    S(
        "index_add_alpha_repeated",
        lambda x, i, v: x.index_add(1, i, v, alpha=2.5),
        lambda x, i, v: index_add_ref(x, 1, i, v, 2.5),
        (A((2, 3)), A((4,), indices(0, 3)), A((2, 4))),
        grad_fn="IndexAddBackward0",
    ),
    S(
        "index_add_inplace",
        lambda x, i, v: (x * 1).index_add_(0, i, v),
        lambda x, i, v: index_add_ref(x, 0, i, v),
        (A((3, 2)), A((2,), indices(0, 3)), A((2, 2))),
        grad_fn="IndexAddBackward0",
    ),
    S(
        "index_copy",
        lambda x, i, v: x.index_copy(0, i, v),
        lambda x, i, v: index_copy_ref(x, 0, i, v),
        (A((4, 2)), A((2,), unique_along(4, 0)), A((2, 2))),
        grad_fn="IndexCopyBackward0",
    ),
    S(
        "index_copy_inplace",
        lambda x, i, v: (x * 1).index_copy_(1, i, v),
        lambda x, i, v: index_copy_ref(x, 1, i, v),
        (A((2, 3)), A((2,), unique_along(3, 0)), A((2, 2))),
        grad_fn="IndexCopyBackward0",
    ),
    S(
        "index_fill_negative_index",
        lambda x: x.index_fill(1, lib(x).tensor([0, -1]), -1.5),
        lambda x: index_fill_ref(x, 1, [0, -1], -1.5),
        (A((2, 4)),),
        grad_fn="IndexFillBackward0",
    ),
    S(
        "index_fill_tensor_value",
        lambda x, v: lib(x).index_fill(x, 0, lib(x).tensor([1]), v),
        lambda x, v: index_fill_ref(x, 0, [1], v),
        (A((3, 2)), A(())),
        grad_fn="IndexFillBackward1",
    ),
    S(
        "index_fill_inplace",
        lambda x: (x * 1).index_fill_(0, lib(x).tensor([2, 0]), 0.5),
        lambda x: index_fill_ref(x, 0, [2, 0], 0.5),
        (A((3, 2)),),
        grad_fn="IndexFillBackward0",
    ),
    # ---- index_put and put ------------------------------------------------------------------
    S(
        "index_put",
        lambda x, i, v: x.index_put((i,), v),
        lambda x, i, v: index_copy_ref(x, 0, i, np.broadcast_to(v, (2, 3))),
        (A((4, 3)), A((2,), unique_along(4, 0)), A((3,))),
        grad_fn="IndexPutBackward0",
    ),
    S(
        "index_put_accumulate_repeated",
        lambda x, i, j, v: lib(x).index_put(x, (i, j), v, accumulate=True),
        lambda x, i, j, v: _accumulate_ref(x, i, j, v),
        (A((3, 3)), A((4,), fixed_int([0, 2, 0, 0])), A((4,), fixed_int([1, 1, 1, 2])), A((4,))),
        grad_fn="IndexPutBackward0",
    ),
    S(
        "index_put_inplace_on_clone",
        lambda x, i, v: x.clone().index_put_((i,), v) * 2,
        lambda x, i, v: index_copy_ref(x, 0, i, v) * 2,
        (A((3, 2)), A((1,), indices(0, 3)), A((1, 2))),
        grad_fn="MulBackward0",
    ),
    S(
        "index_put_bool_mask",
        lambda x, m: x.index_put((m,), lib(x).tensor(0.5, dtype=x.dtype)),
        lambda x, m: np.where(m, 0.5, x),
        (A((2, 3)), A((2, 3), mask)),
        grad_fn="IndexPutBackward0",
        data_dependent=True,
    ),
    S(
        "put_negative_repeated",
        lambda x, v: x.put(lib(x).tensor([0, -1, 0]), v),
        lambda x, v: put_ref(x, np.array([0, -1, 0]), v),
        (A((2, 3)), A((3,))),
        grad_fn="PutBackward0",
        # PyTorch sends every repeated write a gradient; only the last one stays
        torch_fn=lambda x, v: x.put(lib(x).tensor([0, -1, 0]), lib(x).cat([v[:1].detach(), v[1:]])),
    ),
    S(
        "put_accumulate",
        lambda x, i, v: x.put(i, v, accumulate=True),
        lambda x, i, v: put_ref(x, i, v, True),
        (A((2, 2)), A((2, 2), indices(-4, 4)), A((2, 2))),
        grad_fn="PutBackward0",
    ),
    S(
        "put_inplace",
        lambda x, i, v: (x * 1).put_(i, v, accumulate=True),
        lambda x, i, v: put_ref(x, i, v, True),
        (A((3,)), A((2,), indices(0, 3)), A((2,))),
        grad_fn="PutBackward0",
    ),
    # ---- masks ---------------------------------------------------------------------------
    S(
        "masked_fill",
        lambda x, m: x.masked_fill(m, -0.5),
        lambda x, m: np.where(m, -0.5, x),
        (A((3, 4)), A((3, 4), mask)),
        grad_fn="MaskedFillBackward0",
    ),
    S(
        "masked_fill_broadcast_tensor_value",
        lambda x, m, v: lib(x).masked_fill(x, m, v),
        lambda x, m, v: np.where(m, v, x),
        (A((2, 3)), A((3,), mask), A(())),
        grad_fn="MaskedFillBackward1",
    ),
    # the filled elements get no gradient, even where x's own would be inf
    S(
        "masked_fill_selects_the_gradient",
        lambda x: x.sqrt().masked_fill(x == 0, 0.0),
        lambda x: np.sqrt(x),
        (A((3,), fixed([0.0, 1.0, 4.0])),),
        grad_fn="MaskedFillBackward0",
        no_fd="sqrt at 0 has no central difference",
        # PyTorch multiplies the zero gradient by sqrt's infinite derivative: nan at 0
        torch_fn=lambda x: x.masked_fill(x == 0, 1.0).sqrt().masked_fill(x == 0, 0.0),
    ),
    S(
        "masked_fill_inplace_int",
        lambda k, m: k.clone().masked_fill_(m, 7),
        lambda k, m: np.where(m, 7, k),
        (A((2, 3), indices(-5, 5)), A((2, 3), mask)),
        dtypes=INTS,
    ),
    S(
        "masked_scatter",
        lambda x, m, v: x.masked_scatter(m, v),
        lambda x, m, v: masked_scatter_ref(x, m, v),
        (A((2, 3)), A((2, 3), mask), A((2, 4))),
        grad_fn="MaskedScatterBackward0",
    ),
    S(
        "masked_scatter_broadcast_mask_inplace",
        lambda x, m, v: (x * 1).masked_scatter_(m, v),
        lambda x, m, v: masked_scatter_ref(x, m, v),
        (A((3, 2)), A((2,), mask), A((6,))),
        grad_fn="MaskedScatterBackward0",
    ),
    S(
        "masked_select",
        lambda x, m: x.masked_select(m),
        lambda x, m: x[m],
        (A((3, 4)), A((3, 4), mask)),
        grad_fn="MaskedSelectBackward0",
        data_dependent=True,
    ),
    S(
        "masked_select_broadcast",
        lambda x, m: lib(x).masked_select(x, m),
        lambda x, m: np.broadcast_to(x, (2, 3))[np.broadcast_to(m, (2, 3))],
        (A((3,)), A((2, 1), mask)),
        grad_fn="MaskedSelectBackward0",
        data_dependent=True,
    ),
    # ---- take, take_along_dim ------------------------------------------------------------------
    S(
        "take_negative_repeated",
        lambda x, i: x.take(i),
        lambda x, i: x.reshape(-1)[i],
        (A((2, 3)), A((2, 2), indices(-6, 6))),
        grad_fn="TakeBackward0",
    ),
    S(
        "take_along_dim",
        lambda x, i: x.take_along_dim(i, 1),
        lambda x, i: np.take_along_axis(x, i % 4, 1),
        (A((3, 4)), A((3, 2), indices(-4, 4))),
        grad_fn="GatherBackward0",
    ),
    S(
        "take_along_dim_broadcast",
        lambda x, i: lib(x).take_along_dim(x, i, 0),
        lambda x, i: np.take_along_axis(np.broadcast_to(x, (3, 2)), np.broadcast_to(i, (2, 2)), 0),
        (A((3, 1)), A((2, 2), indices(0, 3))),
        grad_fn="GatherBackward0",
    ),
    S(
        "take_along_dim_flat",
        lambda x, i: lib(x).take_along_dim(x, i),
        lambda x, i: x.reshape(-1)[i],
        (A((2, 3)), A((4,), indices(0, 6))),
        grad_fn="GatherBackward0",
    ),
    # ---- nonzero, argwhere, where(cond): eager only ------------------------------------------------
    S(
        "nonzero",
        lambda x: (x > 0).nonzero(),
        lambda x: _nonzero_ref(x > 0),
        (A((3, 4)),),
        data_dependent=True,
    ),
    S(
        "nonzero_as_tuple",
        lambda x: lib(x).nonzero(x > 0, as_tuple=True)[1],
        lambda x: np.nonzero(x > 0)[1],
        (A((3, 4)),),
        data_dependent=True,
    ),
    S(
        "argwhere",
        lambda x: lib(x).argwhere(x),
        _nonzero_ref,
        (A((2, 3), mask),),
        data_dependent=True,
    ),
    S(
        "where_condition_only",
        lambda x: lib(x).where(x > 0)[0],
        lambda x: np.nonzero(x > 0)[0],
        (A((3, 2)),),
        data_dependent=True,
    ),
    # ---- flip, roll, rot90 --------------------------------------------------------------------
    S(
        "flip",
        lambda x: x.flip(0, 2),
        lambda x: np.flip(x, (0, 2)),
        (A((2, 3, 2)),),
        "FlipBackward0",
    ),
    S(
        "flip_function_list",
        lambda x: lib(x).flip(x, [-1]),
        lambda x: x[:, ::-1],
        (A((2, 3)),),
        "FlipBackward0",
    ),
    S("fliplr", lambda x: lib(x).fliplr(x), np.fliplr, (A((2, 3)),), "FlipBackward0"),
    S(
        "flipud_then_add",
        lambda x: x.flipud() + x,
        lambda x: np.flipud(x) + x,
        (A((3, 3)),),
        "AddBackward0",
    ),
    S("roll", lambda x: x.roll(1, 0), lambda x: np.roll(x, 1, 0), (A((3, 2)),), "RollBackward0"),
    S(
        "roll_two_dims_negative",
        lambda x: lib(x).roll(x, (-1, 5), (1, 0)),
        lambda x: np.roll(x, (-1, 5), (1, 0)),
        (A((3, 4)),),
        "RollBackward0",
    ),
    S("roll_flat", lambda x: x.roll(-2), lambda x: np.roll(x, -2), (A((2, 3)),), "RollBackward0"),
    S("rot90", lambda x: x.rot90(), lambda x: np.rot90(x), (A((2, 3)),), "Rot90Backward0"),
    S(
        "rot90_k2_dims",
        lambda x: lib(x).rot90(x, 2, [2, 0]),
        lambda x: np.rot90(x, 2, (2, 0)),
        (A((2, 3, 4)),),
        "Rot90Backward0",
    ),
    S("rot90_k3", lambda x: x.rot90(-1), lambda x: np.rot90(x, -1), (A((2, 3)),), "Rot90Backward0"),
    # ---- repeat, tile, repeat_interleave ------------------------------------------------------
    S(
        "repeat",
        lambda x: x.repeat(2, 1, 3),
        lambda x: np.tile(x, (2, 1, 3)),
        (A((2, 2)),),
        "RepeatBackward0",
    ),
    S(
        "tile",
        lambda x: lib(x).tile(x, (2,)),
        lambda x: np.tile(x, 2),
        (A((2, 3)),),
        "RepeatBackward0",
    ),
    S(
        "repeat_interleave_dim",
        lambda x: x.repeat_interleave(2, dim=1),
        lambda x: np.repeat(x, 2, 1),
        (A((2, 3)),),
        "ViewBackward0",
    ),
    S(
        "repeat_interleave_flat",
        lambda x: lib(x).repeat_interleave(x, 3),
        lambda x: np.repeat(x, 3),
        (A((2, 2)),),
        "ViewBackward0",
    ),
    S(
        "repeat_interleave_tensor_repeats",
        lambda x, r: x.repeat_interleave(r, dim=0),
        lambda x, r: np.repeat(x, r, 0),
        (A((3, 2)), A((3,), indices(0, 3))),
        "IndexSelectBackward0",
        data_dependent=True,
    ),
    # ---- split family -------------------------------------------------------------------------
    S(
        "split_size",
        lambda x: x.split(2, 1)[1],
        lambda x: x[:, 2:4],
        (A((2, 5)),),
        "SplitBackward0",
    ),
    S(
        "split_sizes_function",
        lambda x: lib(x).split(x, [1, 3], 0)[1],
        lambda x: x[1:],
        (A((4, 2)),),
        "SplitWithSizesBackward0",
    ),
    S(
        "chunk_last",
        lambda x: x.chunk(3, -1)[-1],
        lambda x: x[:, 4:],
        (A((2, 5)),),
        "SplitBackward0",
    ),
    S(
        "chunk_sum_of_pieces",
        lambda x: sum(p.sum() * (k + 1) for k, p in enumerate(lib(x).chunk(x, 2))),
        lambda x: x[:2].sum() + 2 * x[2:].sum(),
        (A((3, 2)),),
        "AddBackward0",
    ),
    S(
        "tensor_split_sections",
        lambda x: x.tensor_split(3, 1)[0],
        lambda x: x[:, :2],
        (A((2, 5)),),
        "SliceBackward0",
    ),
    S(
        "tensor_split_indices",
        lambda x: lib(x).tensor_split(x, [1, 3])[1],
        lambda x: x[1:3],
        (A((4, 2)),),
        "SliceBackward0",
    ),
    S("unbind", lambda x: x.unbind(1)[2], lambda x: x[:, 2], (A((2, 3)),), "UnbindBackward0"),
    S("narrow", lambda x: x.narrow(1, 1, 2), lambda x: x[:, 1:3], (A((2, 4)),), "SliceBackward0"),
    S(
        "narrow_negative_start",
        lambda x: lib(x).narrow(x, 0, -2, 2),
        lambda x: x[-2:],
        (A((4, 2)),),
        "SliceBackward0",
    ),
    # ---- moving dims, views -------------------------------------------------------------------
    S(
        "movedim",
        lambda x: x.movedim((0, 1), (2, 0)),
        lambda x: np.moveaxis(x, (0, 1), (2, 0)),
        (A((2, 3, 4)),),
        "PermuteBackward0",
    ),
    S(
        "moveaxis",
        lambda x: lib(x).moveaxis(x, -1, 0),
        lambda x: np.moveaxis(x, -1, 0),
        (A((2, 3)),),
        "PermuteBackward0",
    ),
    S(
        "swapaxes",
        lambda x: x.swapaxes(0, 2),
        lambda x: np.swapaxes(x, 0, 2),
        (A((2, 3, 4)),),
        "TransposeBackward0",
    ),
    S(
        "swapdims",
        lambda x: lib(x).swapdims(x, 0, 1),
        lambda x: x.T,
        (A((2, 3)),),
        "TransposeBackward0",
    ),
    S(
        "reshape_as",
        lambda x, y: x.reshape_as(y),
        lambda x, y: x.reshape(y.shape),
        (A((6,)), A((3, 2))),
        "ViewBackward0",
    ),
    S(
        "contiguous_of_transpose",
        lambda x: x.t().contiguous(),
        lambda x: x.T.copy(),
        (A((2, 3)),),
        "CloneBackward0",
    ),
    S("clone_function", lambda x: lib(x).clone(x), np.copy, (A((2, 3)),), "CloneBackward0"),
    S(
        "unflatten",
        lambda x: x.unflatten(1, (2, -1)),
        lambda x: x.reshape(2, 2, 3),
        (A((2, 6)),),
        "ViewBackward0",
    ),
    S(
        "squeeze_tuple",
        lambda x: x.squeeze((0, 2)),
        lambda x: x.reshape(3, 2),
        (A((1, 3, 1, 2)),),
        "SqueezeBackward2",
    ),
    # ---- triangles, diagonals, trace --------------------------------------------------------------
    S("tril", lambda x: x.tril(), np.tril, (A((3, 4)),), "TrilBackward0"),
    S(
        "tril_batched_offset",
        lambda x: lib(x).tril(x, -1),
        lambda x: np.tril(x, -1),
        (A((2, 3, 3)),),
        "TrilBackward0",
    ),
    S("triu_offset", lambda x: x.triu(1), lambda x: np.triu(x, 1), (A((4, 3)),), "TriuBackward0"),
    S("tril_int", lambda k: k.tril(), np.tril, (A((3, 3), indices(-5, 5)),), dtypes=INTS),
    S(
        "diag_of_matrix",
        lambda x: x.diag(1),
        lambda x: np.diag(x, 1),
        (A((3, 4)),),
        "DiagonalBackward0_copy",
    ),
    S(
        "diag_of_vector",
        lambda x: lib(x).diag(x, -1),
        lambda x: np.diag(x, -1),
        (A((3,)),),
        "DiagEmbedBackward0",
    ),
    S(
        "diagonal",
        lambda x: x.diagonal(),
        lambda x: np.diagonal(x),
        (A((3, 3)),),
        "DiagonalBackward0",
    ),
    S(
        "diagonal_offset_dims",
        lambda x: lib(x).diagonal(x, -1, 2, 0),
        lambda x: np.diagonal(x, -1, 2, 0),
        (A((3, 2, 4)),),
        "DiagonalBackward0",
    ),
    S(
        "diagonal_then_use",
        lambda x: x.diagonal(1) * 3 + x.diagonal(1).sum(),
        lambda x: np.diagonal(x, 1) * 3 + np.diagonal(x, 1).sum(),
        (A((2, 4)),),
        "AddBackward0",
    ),
    S(
        "diagonal_scatter",
        lambda x, v: lib(x).diagonal_scatter(x, v, 1),
        lambda x, v: _diagonal_scatter_ref(x, v, 1),
        (A((3, 3)), A((2,))),
        "DiagonalScatterBackward0",
    ),
    S(
        "diag_embed",
        lambda x: x.diag_embed(),
        lambda x: diag_embed_ref(x),
        (A((2, 3)),),
        "DiagEmbedBackward0",
    ),
    S(
        "diag_embed_offset_dims",
        lambda x: lib(x).diag_embed(x, 1, 0, 2),
        lambda x: np.moveaxis(diag_embed_ref(x, 1), 0, 1),
        (A((2, 3)),),
        "DiagEmbedBackward0",
    ),
    S(
        "diagflat",
        lambda x: lib(x).diagflat(x, -1),
        lambda x: np.diagflat(x, -1),
        (A((2, 2)),),
        "DiagEmbedBackward0",
    ),
    S("trace_method", lambda x: x.trace(), np.trace, (A((3, 4)),), "TraceBackward0"),
    S("trace_function", lambda x: lib(x).trace(x), np.trace, (A((3, 3)),), "TraceBackward0"),
    S("trace_int", lambda k: k.trace(), np.trace, (A((2, 2), indices(-5, 5)),), dtypes=INTS),
    # ---- grids and stacks -----------------------------------------------------------------------
    S(
        "meshgrid_ij",
        lambda x, y: lib(x).meshgrid(x, y, indexing="ij")[1] * x.reshape(-1, 1),
        lambda x, y: np.meshgrid(x, y, indexing="ij")[1] * x.reshape(-1, 1),
        (A((2,)), A((3,))),
        "MulBackward0",
    ),
    S(
        "meshgrid_xy",
        lambda x, y: lib(x).meshgrid(x, y, indexing="xy")[0],
        lambda x, y: np.meshgrid(x, y, indexing="xy")[0],
        (A((2,)), A((3,))),
        "ExpandBackward0",
    ),
    S(
        "atleast_1d",
        lambda x: lib(x).atleast_1d(x),
        lambda x: x.reshape(1),
        (A(()),),
        "ViewBackward0",
    ),
    S(
        "atleast_2d",
        lambda x: lib(x).atleast_2d(x),
        lambda x: x[None],
        (A((3,)),),
        "UnsqueezeBackward0",
    ),
    S(
        "atleast_3d",
        lambda x: lib(x).atleast_3d(x),
        lambda x: x[..., None],
        (A((2, 3)),),
        "UnsqueezeBackward0",
    ),
    S(
        "atleast_3d_of_vector",
        lambda x: lib(x).atleast_3d((x,))[0],
        lambda x: x[None, :, None],
        (A((3,)),),
        "UnsqueezeBackward0",
    ),
    S(
        "hstack",
        lambda x, y: lib(x).hstack([x, y]),
        lambda x, y: np.hstack([x, y]),
        (A((2, 1)), A((2, 3))),
        "CatBackward0",
    ),
    S(
        "hstack_1d",
        lambda x, y: lib(x).hstack((x, y)),
        lambda x, y: np.hstack([x, y]),
        (A((2,)), A((3,))),
        "CatBackward0",
    ),
    S(
        "vstack",
        lambda x, y: lib(x).vstack([x, y]),
        lambda x, y: np.vstack([x, y]),
        (A((3,)), A((2, 3))),
        "CatBackward0",
    ),
    S(
        "row_stack",
        lambda x, y: lib(x).row_stack([x, y]),
        lambda x, y: np.vstack([x, y]),
        (A((1, 2)), A((2,))),
        "CatBackward0",
    ),
    S(
        "dstack",
        lambda x, y: lib(x).dstack([x, y]),
        lambda x, y: np.dstack([x, y]),
        (A((2, 3)), A((2, 3))),
        "CatBackward0",
    ),
    S(
        "column_stack",
        lambda x, y: lib(x).column_stack([x, y]),
        lambda x, y: np.column_stack([x, y]),
        (A((3,)), A((3, 2))),
        "CatBackward0",
    ),
    # ---- F.pad ----------------------------------------------------------------------------------
    S(
        "F_pad_constant",
        lambda x: F(x).pad(x, (1, 2)),
        lambda x: pad_ref(x, (1, 2)),
        (A((2, 3)),),
        "ConstantPadNdBackward0",
    ),
    S(
        "F_pad_constant_value_crop_3dims",
        lambda x: F(x).pad(x, (-1, 1, 0, 2, 1, 0), value=1.5),
        lambda x: pad_ref(x, (-1, 1, 0, 2, 1, 0), value=1.5),
        (A((2, 2, 3)),),
        "ConstantPadNdBackward0",
    ),
    S(
        "F_pad_reflect_1d",
        lambda x: F(x).pad(x, (2, 1), mode="reflect"),
        lambda x: pad_ref(x, (2, 1), "reflect"),
        (A((2, 4)),),
        "ReflectionPad1DBackward0",
    ),
    S(
        "F_pad_reflect_2d",
        lambda x: F(x).pad(x, (1, 1, 2, 0), mode="reflect"),
        lambda x: pad_ref(x, (1, 1, 2, 0), "reflect"),
        (A((1, 3, 3)),),
        "ReflectionPad2DBackward0",
    ),
    S(
        "F_pad_replicate_2d",
        lambda x: F(x).pad(x, (2, 0, 1, 1), mode="replicate"),
        lambda x: pad_ref(x, (2, 0, 1, 1), "replicate"),
        (A((1, 1, 2, 3)),),
        "ReplicationPad2DBackward0",
    ),
    S(
        "F_pad_replicate_3d",
        lambda x: F(x).pad(x, (1, 0, 0, 1, 1, 1), mode="replicate"),
        lambda x: pad_ref(x, (1, 0, 0, 1, 1, 1), "replicate"),
        (A((1, 2, 2, 2)),),
        "ReplicationPad3DBackward0",
    ),
    S(
        "F_pad_circular",
        lambda x: F(x).pad(x, (2, 1), mode="circular"),
        lambda x: pad_ref(x, (2, 1), "circular"),
        (A((2, 3)),),
        "CopySlices",
    ),
    S(
        "F_pad_circular_crop_2d",
        lambda x: F(x).pad(x, (-1, 2, 1, 1), mode="circular"),
        lambda x: pad_ref(x, (-1, 2, 1, 1), "circular"),
        (A((1, 2, 4)),),
        "CopySlices",
    ),
    S(
        "F_pad_reflect_int",
        lambda k: F(k).pad(k, (1, 1), mode="reflect"),
        lambda k: pad_ref(k, (1, 1), "reflect"),
        (A((2, 3), indices(-5, 5)),),
        dtypes=INTS,
    ),
    # ---- F.one_hot --------------------------------------------------------------------------------
    S(
        "F_one_hot",
        lambda k: F(k).one_hot(k, 4),
        lambda k: np.eye(4, dtype=np.int64)[k],
        (A((2, 3), indices(0, 4)),),
        dtypes=INTS,
    ),
    S(
        "F_one_hot_inferred_classes",
        lambda k: F(k).one_hot(k),
        lambda k: np.eye(k.max() + 1, dtype=np.int64)[k],
        (A((5,), indices(0, 3)),),
        dtypes=INTS,
        data_dependent=True,
    ),
]


def _accumulate_ref(x, i, j, v):
    out = x.copy()
    for a, b, c in zip(i, j, v):
        out[a, b] += c
    return out


def _diagonal_scatter_ref(x, v, offset):
    out = x.copy()
    for k, val in enumerate(v):
        out[k, k + offset] = val
    return out
