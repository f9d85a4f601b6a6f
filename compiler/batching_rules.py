"""The batching rules written by hand (see `compiler.batching` for the generic ones and
the rule contract). Each takes `(size, bdims, *inputs, **params)` and returns
`(outputs, out_dims)`; they are registered here, beside one another, so that the op
declarations themselves stay as they are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.batching import (
    UseFallback,
    axes_rule,
    batch_eval,
    batch_graph,
    defbatch,
    materialize,
    move_to,
    per_example,
    scan,
    stage,
)
from compiler.dispatch import apply
from compiler.ir import Graph
from compiler.ops.control import inline
from compiler.registry import OPS

Dim = int | None


def _world(xs: Sequence[Any]) -> Any:
    from compiler.operand import Operand

    return next(x for x in xs if isinstance(x, Operand))


# ---- ops acting along named axes: the batch axis goes first, the axes shift by one --------

for _name in (
    "max_dim",
    "min_dim",
    "cumsum",
    "cumprod",
    "logcumsumexp",
    "cummax",
    "cummin",
    "linrec",
    "sort",
    "topk",
    "kthvalue",
    "flip",
    "roll",
    "softmax",
    "log_softmax",
    "glu",
    "mean",
    "logsumexp",
    "vector_norm",
    "nansum",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "aminmax",
    "linalg_cross",
    "concatenate",
    "gather",
    "scatter",
    "scatter_add",
    "scatter_reduce",
    "diagonal",
    "diagonal_scatter",
):
    defbatch(_name)(axes_rule(_name))


@defbatch("count")
def _count(size: int, bdims: Sequence[Dim], x: Any, axes: Any, dtype: Any) -> tuple[Any, Dim]:
    # the number of elements over `axes`: the same for every example
    shifted = tuple(a + 1 if a >= 0 else a for a in axes)
    return apply("count", move_to(x, bdims[0]), axes=shifted, dtype=dtype), None


# ---- layout --------------------------------------------------------------------------------


@defbatch("reshape")
def _reshape(size: int, bdims: Sequence[Dim], x: Any, shape: tuple[int, ...]) -> tuple[Any, Dim]:
    return apply("reshape", move_to(x, bdims[0]), shape=(size, *shape)), 0


@defbatch("transpose")
def _transpose(size: int, bdims: Sequence[Dim], x: Any, perm: tuple[int, ...]) -> tuple[Any, Dim]:
    return apply("transpose", move_to(x, bdims[0]), perm=(0, *(p + 1 for p in perm))), 0


@defbatch("broadcast_to")
def _broadcast_to(
    size: int, bdims: Sequence[Dim], x: Any, shape: tuple[int, ...]
) -> tuple[Any, Dim]:
    x = move_to(x, bdims[0])
    missing = len(shape) - (x.ndim - 1)
    x = x.reshape((size,) + (1,) * missing + tuple(int(s) for s in x.shape[1:]))
    return apply("broadcast_to", x, shape=(size, *shape)), 0


@defbatch("stop_gradient")
def _stop_gradient(size: int, bdims: Sequence[Dim], x: Any) -> tuple[Any, Dim]:
    return apply("stop_gradient", x), bdims[0]


@defbatch("pad")
def _pad(size: int, bdims: Sequence[Dim], x: Any, pads: Any, **params: Any) -> tuple[Any, Dim]:
    return apply("pad", move_to(x, bdims[0]), pads=((0, 0), *pads), **params), 0


@defbatch("pad_adjoint")
def _pad_adjoint(
    size: int, bdims: Sequence[Dim], g: Any, pads: Any, shape: Any, **params: Any
) -> tuple[Any, Dim]:
    out = apply(
        "pad_adjoint", move_to(g, bdims[0]), pads=((0, 0), *pads), shape=(size, *shape), **params
    )
    return out, 0


def _lead(name: str, n_out: int = 1) -> None:
    """Ops that treat every axis before their trailing ones as independent (windows,
    pooling, the matrix functions): the batch axis becomes one more leading axis."""

    def rule(size: int, bdims: Sequence[Dim], *xs: Any, **params: Any) -> tuple[Any, Any]:
        w = _world(xs)
        out = apply(name, *(materialize(x, d, size, w) for x, d in zip(xs, bdims)), **params)
        return out, ((0,) * len(out) if OPS[name].multiple_results else 0)

    defbatch(name)(rule)


for _name in (
    "windows",
    "max_pool",
    "linalg_inv_ex",
    "linalg_det",
    "linalg_slogdet",
    "linalg_cholesky",
    "linalg_qr",
    "linalg_eigh",
    "linalg_svd",
    "linalg_pinv",
):
    _lead(_name)


@defbatch("window_add")
def _window_add(
    size: int, bdims: Sequence[Dim], g: Any, shape: Any, **params: Any
) -> tuple[Any, Dim]:
    return apply("window_add", move_to(g, bdims[0]), shape=(size, *shape), **params), 0


@defbatch("linalg_solve")
def _solve(size: int, bdims: Sequence[Dim], a: Any, b: Any, left: bool) -> tuple[Any, Dim]:
    # one example's b is a vector when it has one axis less than a (PyTorch's rule); with
    # both batched along axis 0 that still holds
    if a.ndim - (bdims[0] is not None) != 2:
        raise UseFallback
    w = _world((a, b))
    return apply(
        "linalg_solve",
        materialize(a, bdims[0], size, w),
        materialize(b, bdims[1], size, w),
        left=left,
    ), 0


# ---- matmul: batched matmul ------------------------------------------------------------------


@defbatch("matmul")
def _matmul(size: int, bdims: Sequence[Dim], a: Any, b: Any) -> tuple[Any, Dim]:
    ra, rb = a.ndim - (bdims[0] is not None), b.ndim - (bdims[1] is not None)
    a, b = move_to(a, bdims[0]), move_to(b, bdims[1])
    # one matrix shared by every example: fold the batch into the other operand's rows or
    # columns, so the whole batch is one matrix product (a GEMM, not `size` of them). (A
    # batch of vectors times a shared matrix stays a batched matmul below: folded, the
    # per-example gradients of an MLP compiled 3x slower, a code-generation matter.)
    if bdims[1] is None and rb == 2 and ra == 2:
        n, k = int(a.shape[1]), int(a.shape[2])
        out = apply("matmul", a.reshape((size * n, k)), b)
        return out.reshape((size, n, int(b.shape[1]))), 0
    if bdims[0] is None and ra == 2 and rb in (1, 2):
        if rb == 1:  # one matrix times a batch of vectors: the batch times its transpose
            return apply("matmul", b, apply("transpose", a, perm=(1, 0))), 0
        k, m = int(b.shape[1]), int(b.shape[2])
        cols = apply("transpose", b, perm=(1, 0, 2)).reshape((k, size * m))
        return apply("matmul", a, cols).reshape((int(a.shape[0]), size, m)), 1
    squeeze = []
    if ra == 1:  # a vector: one row
        a = a.unsqueeze(-2)
        ra = 2
        squeeze.append(-2)
    if rb == 1:  # a vector: one column
        b = b.unsqueeze(-1)
        rb = 2
        squeeze.append(-1)
    rank = max(ra, rb)
    args = []
    for x, d, r in ((a, bdims[0], ra), (b, bdims[1], rb)):
        if d is not None and r < rank:
            x = x.reshape((size,) + (1,) * (rank - r) + tuple(int(s) for s in x.shape[1:]))
        args.append(x)
    out = apply("matmul", *args)
    for ax in squeeze:
        out = out.squeeze(ax if ax == -1 or len(squeeze) == 1 else -1)
    return out, 0


# ---- indexing -------------------------------------------------------------------------------


def _batch_index(size: int, rank: int, world: Any) -> Any:
    """An index array numbering the examples: 0..size-1 along axis 0 of rank+1 axes."""
    return apply("iota", world, shape=(size,) + (1,) * rank, axis=0, dtype=dtypes.int64)


def _aligned(arrays: Sequence[Any], bdims: Sequence[Dim], size: int) -> tuple[list[Any], int]:
    """Index arrays with their batch axis first and singleton axes after it, so that they
    broadcast as one example's do; and that broadcast rank."""
    ranks = [a.ndim - (d is not None) for a, d in zip(arrays, bdims)]
    rank = max(ranks, default=0)
    out = []
    for a, d, r in zip(arrays, bdims, ranks):
        if d is not None:
            a = move_to(a, d)
            a = a.reshape((size,) + (1,) * (rank - r) + tuple(int(s) for s in a.shape[1:]))
        out.append(a)
    return out, rank


def _leading_advanced(spec: Any) -> bool:
    """The index starts with an array: its axes come first in the result, batched or
    not (numpy's rule), so an index numbering the examples can go in front of it."""
    return bool(spec) and spec[0][0] == "arr"


def _index_rule(name: str) -> None:
    def rule(size: int, bdims: Sequence[Dim], x: Any, *arrays: Any, spec: Any) -> tuple[Any, Dim]:
        if any(d is not None for d in bdims[1:]):
            # batched index arrays: x[batch_index, *arrays] (a gather)
            if not _leading_advanced(spec):
                raise UseFallback
            arrs, rank = _aligned(arrays, bdims[1:], size)
            if bdims[0] is None:  # the arrays' batch axis alone makes the result's
                return apply(name, x, *arrs, spec=spec), 0
            k = _batch_index(size, rank, x)
            return apply(name, move_to(x, bdims[0]), *arrs, k, spec=(("arr", len(arrs)), *spec)), 0
        has_arr = any(item[0] == "arr" for item in spec)
        out = apply(name, move_to(x, bdims[0]), *arrays, spec=(("slice", 0, size, 1), *spec))
        if not has_arr:
            return out, 0
        # numpy's rule: advanced indices (arrays, and ints beside them) separated by a
        # slice put their axes first; adjacent ones stay where they are
        adv = [i for i, item in enumerate(spec) if item[0] in ("arr", "int")]
        if adv == list(range(adv[0], adv[-1] + 1)):
            return out, 0
        shapes = [tuple(int(s) for s in a.shape) for a in arrays]
        return out, len(np.broadcast_shapes(*shapes))

    defbatch(name)(rule)


_index_rule("index")
_index_rule("slice")


@defbatch("index_add")
def _index_add(
    size: int, bdims: Sequence[Dim], g: Any, *arrays: Any, spec: Any, shape: Any
) -> tuple[Any, Dim]:
    # the adjoint of x[arrays]: adds one example's g into its own slice of the result
    if not _leading_advanced(spec):
        raise UseFallback
    w = _world((g, *arrays))
    arrs, rank = _aligned(arrays, bdims[1:], size)
    k = _batch_index(size, rank, w)
    g = materialize(g, bdims[0], size, w)
    spec = (("arr", len(arrs)), *spec)
    return apply("index_add", g, *arrs, k, spec=spec, shape=(size, *shape)), 0


@defbatch("index_put")
def _index_put(
    size: int, bdims: Sequence[Dim], x: Any, v: Any, *arrays: Any, spec: Any
) -> tuple[Any, Dim]:
    from compiler.ops.index import _index_abstract

    w = _world((x, v, *arrays))
    one = [per_example(a, d) for a, d in zip(arrays, bdims[2:])]
    target = _index_abstract(per_example(x, bdims[0]), *one, spec=spec).shape
    if any(d is not None for d in bdims[2:]) or any(item[0] == "arr" for item in spec):
        if not _leading_advanced(spec):
            raise UseFallback
        arrs, rank = _aligned(arrays, bdims[2:], size)
        arrs.append(_batch_index(size, rank, w))
        spec = (("arr", len(arrs) - 1), *spec)
    else:
        arrs = list(arrays)
        spec = (("slice", 0, size, 1), *spec)
    if bdims[1] is not None:  # one example's value broadcasts against its target
        v = move_to(v, bdims[1])
        missing = len(target) - (v.ndim - 1)
        v = v.reshape((size,) + (1,) * missing + tuple(int(s) for s in v.shape[1:]))
    x = materialize(x, bdims[0], size, w)
    return apply("index_put", x, v, *arrs, spec=spec), 0


# ---- control flow --------------------------------------------------------------------------


@defbatch("cond")
def _cond(
    size: int, bdims: Sequence[Dim], index: Any, *operands: Any, branches: tuple[Graph, ...]
) -> tuple[tuple[Any, ...], tuple[Dim, ...]]:
    w = _world((index, *operands))
    if bdims[0] is None:
        new = tuple(
            batch_graph(g, bdims[1:], size, out_dims=[0] * len(g.outputs))[0] for g in branches
        )
        out = apply("cond", index, *operands, branches=new)
        return tuple(out), (0,) * len(out)
    # a batched predicate: every branch runs on every example, and each example selects
    # its branch's results (as jax.vmap of lax.cond does)
    results = []
    for g in branches:
        outs, odims = batch_eval(g, list(operands), list(bdims[1:]), size, world=w)
        results.append([materialize(o, d, size, w) for o, d in zip(outs, odims)])
    k = move_to(index, bdims[0]).to(dtypes.int64).clamp(0, len(branches) - 1)
    chosen = list(results[0])
    for j in range(1, len(branches)):
        hit = k == j
        for i, o in enumerate(results[j]):
            h = hit.reshape((size,) + (1,) * (o.ndim - 1))
            chosen[i] = apply("where", h, o, chosen[i])
    return tuple(chosen), (0,) * len(chosen)


@defbatch("scan")
def _scan(
    size: int,
    bdims: Sequence[Dim],
    *ins: Any,
    body: Graph,
    num_consts: int,
    num_carry: int,
    **p: Any,
) -> tuple[tuple[Any, ...], tuple[Dim, ...]]:
    if p.get("save"):
        raise UseFallback
    w = _world(ins)
    consts = [move_to(x, d) for x, d in zip(ins[:num_consts], bdims[:num_consts])]
    cdims = [None if d is None else 0 for d in bdims[:num_consts]]
    carry = [
        materialize(x, d, size, w)
        for x, d in zip(
            ins[num_consts : num_consts + num_carry], bdims[num_consts : num_consts + num_carry]
        )
    ]
    xs, xdims = [], []
    for x, d in zip(ins[num_consts + num_carry :], bdims[num_consts + num_carry :]):
        xs.append(x if d is None else move_to(x, d, 1))  # axis 0 stays the scanned one
        xdims.append(None if d is None else 0)
    new, _ = batch_graph(
        body, cdims + [0] * num_carry + xdims, size, out_dims=[0] * len(body.outputs)
    )
    p.pop("save", None)
    out = scan(*consts, *carry, *xs, body=new, num_consts=num_consts, num_carry=num_carry, **p)
    return tuple(out), (0,) * num_carry + (1,) * (len(out) - num_carry)


@defbatch("while_loop")
def _while(
    size: int, bdims: Sequence[Dim], *ins: Any, cond: Graph, body: Graph, n_cond: int, n_body: int
) -> tuple[tuple[Any, ...], tuple[Dim, ...]]:
    w = _world(ins)
    cc = [move_to(x, d) for x, d in zip(ins[:n_cond], bdims[:n_cond])]
    bc = [
        move_to(x, d)
        for x, d in zip(ins[n_cond : n_cond + n_body], bdims[n_cond : n_cond + n_body])
    ]
    ccd = [None if d is None else 0 for d in bdims[:n_cond]]
    bcd = [None if d is None else 0 for d in bdims[n_cond : n_cond + n_body]]
    init = [
        materialize(x, d, size, w) for x, d in zip(ins[n_cond + n_body :], bdims[n_cond + n_body :])
    ]
    nk = len(init)
    cond_b, (pdim,) = batch_graph(cond, ccd + [0] * nk, size)
    body_b, _ = batch_graph(body, bcd + [0] * nk, size, out_dims=[0] * nk)
    if pdim is None:
        out = apply(
            "while_loop", *cc, *bc, *init, cond=cond_b, body=body_b, n_cond=n_cond, n_body=n_body
        )
        return tuple(out), (0,) * nk
    # a batched predicate: loop while any example goes on; an example that is done keeps
    # its carry (the body's results are discarded for it), as jax.vmap of while_loop does
    c_avals = [per_example(x, None) for x in cc]
    k_avals = [per_example(x, None) for x in init]
    b_avals = [per_example(x, None) for x in bc]

    def any_pred(args: list[Any]) -> list[Any]:
        (pred,) = inline_in(cond_b, args)
        return [apply("any", pred, axes=(0,), keepdims=False)]

    def step(args: list[Any]) -> list[Any]:
        c, b_, k = args[:n_cond], args[n_cond : n_cond + n_body], args[n_cond + n_body :]
        (pred,) = inline_in(cond_b, c + k)
        new = inline_in(body_b, b_ + k)
        return [
            apply("where", pred.reshape((size,) + (1,) * (o.ndim - 1)), o, old)
            for o, old in zip(new, k)
        ]

    cond_new = stage(any_pred, c_avals + k_avals)
    body_new = stage(step, c_avals + b_avals + k_avals)
    out = apply(
        "while_loop",
        *cc,
        *cc,
        *bc,
        *init,
        cond=cond_new,
        body=body_new,
        n_cond=n_cond,
        n_body=n_cond + n_body,
    )
    return tuple(out), (0,) * nk


def inline_in(graph: Graph, args: list[Any]) -> list[Any]:
    """`graph`'s equations emitted into the builder being staged, on `args`."""
    from compiler.dispatch import tracing

    return inline(tracing.builder, graph, args)
