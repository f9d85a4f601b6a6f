"""Pre-codegen lowering: rewrite the composite ops into primitives codegen fuses.

`decompose(graph)` returns a new Graph in which `mean`, `logsumexp`, `softmax`,
`log_softmax`, `nll_loss` and `mse_loss` are spelled with elementwise ops,
reductions and an index gather, so that the fusion in `compiler.codegen` puts
them into the loop nests of their neighbours. Every new equation keeps the
source location of the op it came from and records it in `origin` (for the
comments of the generated code).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.ir import Atom, Eqn, Graph, Literal, Var
from compiler.ops.reduce import reduced_shape
from compiler.registry import OPS, AVal

__all__ = ["decompose", "DECOMPOSED"]

DECOMPOSED = ("mean", "logsumexp", "softmax", "log_softmax", "nll_loss", "mse_loss")


class _Emitter:
    """Appends primitive equations; `origin` maps each new Eqn to the original one."""

    def __init__(self, eqns: list[Eqn], origin: dict[Eqn, Eqn]) -> None:
        self.eqns = eqns
        self.origin = origin
        self.parent: Eqn | None = None

    def __call__(
        self,
        op: str,
        inputs: list[Atom],
        shape: tuple[int, ...],
        dtype: Any,
        out: Var | None = None,
        /,
        **params: Any,
    ) -> Var:
        v = out if out is not None else Var(AVal(tuple(shape), np.dtype(dtype)))
        e = Eqn(OPS[op], list(inputs), params, [v], self.parent.source_loc if self.parent else "")
        self.eqns.append(e)
        if self.parent is not None:
            self.origin[e] = self.parent
        return v


def _lit(value: Any, dtype: np.dtype) -> Literal:
    return Literal(value, np.dtype(dtype))


def _bcast(emit: _Emitter, x: Var, shape: tuple[int, ...]) -> Var:
    if tuple(x.aval.shape) == tuple(shape):
        return x
    return emit("broadcast_to", [x], shape, x.aval.dtype, shape=tuple(shape))


def _logsumexp(
    emit: _Emitter, x: Var, axes: tuple[int, ...], keepdims: bool, out: Var | None
) -> Var:
    shape, d = tuple(x.aval.shape), x.aval.dtype
    kshape = reduced_shape(shape, axes, True)
    rshape = reduced_shape(shape, axes, keepdims)
    if int(np.prod(shape)) == 0:
        return emit("full", [], rshape, d, out, shape=rshape, dtype=d, value=-np.inf)
    m = emit("amax", [x], kshape, d, axes=axes, keepdims=True)
    finite = emit("lt", [emit("abs", [m], kshape, d), _lit(np.inf, d)], kshape, np.bool_)
    m0 = emit("where", [finite, m, _lit(0, d)], kshape, d)
    e = emit("exp", [emit("sub", [x, _bcast(emit, m0, shape)], shape, d)], shape, d)
    s = emit("reduce_sum", [e], kshape, d, axes=axes, keepdims=True)
    lse = emit("add", [emit("log", [s], kshape, d), m0], kshape, d, out if keepdims else None)
    if keepdims:
        return lse
    return emit("reshape", [lse], rshape, d, out, shape=rshape)


def _decompose_eqn(emit: _Emitter, e: Eqn) -> None:
    name, p, out = e.op.name, e.params, e.outputs[0]
    x = e.inputs[0]
    shape, d = tuple(x.aval.shape), x.aval.dtype
    oshape = tuple(out.aval.shape)
    if name == "mean":
        n = int(np.prod([shape[a] for a in p["axes"]], dtype=np.int64))
        s = emit("reduce_sum", [x], oshape, d, axes=p["axes"], keepdims=p["keepdims"])
        emit("div", [s, _lit(n, d)], oshape, d, out)
    elif name == "logsumexp":
        _logsumexp(emit, x, tuple(p["axes"]), p["keepdims"], out)
    elif name in ("softmax", "log_softmax"):
        axis = p["axis"]
        if int(np.prod(shape)) == 0:
            emit("copy", [x], shape, d, out)
        elif name == "log_softmax":
            lse = _logsumexp(emit, x, (axis,), True, None)
            emit("sub", [x, _bcast(emit, lse, shape)], shape, d, out)
        else:
            kshape = reduced_shape(shape, (axis,), True)
            m = emit("amax", [x], kshape, d, axes=(axis,), keepdims=True)
            ex = emit("exp", [emit("sub", [x, _bcast(emit, m, shape)], shape, d)], shape, d)
            s = emit("reduce_sum", [ex], kshape, d, axes=(axis,), keepdims=True)
            emit("div", [ex, _bcast(emit, s, shape)], shape, d, out)
    elif name == "nll_loss":
        target = e.inputs[1]
        n = shape[0]
        td = target.aval.dtype
        valid = emit("ne", [target, _lit(p["ignore_index"], td)], (n,), np.bool_)
        safe = emit("where", [valid, target, _lit(0, td)], (n,), td)
        if td != np.int64:
            safe = emit("convert", [safe], (n,), np.int64, dtype=np.dtype(np.int64))
        rows = emit("iota", [], (n,), np.int64, shape=(n,), axis=0, dtype=np.dtype(np.int64))
        picked = emit("index", [x, rows, safe], (n,), d, spec=(("arr", 0), ("arr", 1)))
        w = emit("convert", [valid], (n,), d, dtype=d)
        red = p["reduction"]
        loss = emit(
            "mul", [emit("neg", [picked], (n,), d), w], (n,), d, out if red == "none" else None
        )
        if red == "sum":
            emit("reduce_sum", [loss], (), d, out, axes=(0,), keepdims=False)
        elif red == "mean":
            total = emit("reduce_sum", [loss], (), d, axes=(0,), keepdims=False)
            count = emit("reduce_sum", [w], (), d, axes=(0,), keepdims=False)
            emit("div", [total, count], (), d, out)
    elif name == "mse_loss":
        y = e.inputs[1]
        diff = emit("sub", [x, y], shape, d)
        red = p["reduction"]
        sq = emit("mul", [diff, diff], shape, d, out if red == "none" else None)
        if red != "none":
            axes = tuple(range(len(shape)))
            if red == "sum":
                emit("reduce_sum", [sq], (), d, out, axes=axes, keepdims=False)
            else:
                s = emit("reduce_sum", [sq], (), d, axes=axes, keepdims=False)
                emit("div", [s, _lit(max(int(np.prod(shape)), 1), d)], (), d, out)
    else:  # pragma: no cover
        raise AssertionError(name)


def decompose(graph: Graph) -> tuple[Graph, dict[Eqn, Eqn]]:
    """(graph with the composite ops rewritten, {new eqn: the eqn it came from})."""
    eqns: list[Eqn] = []
    origin: dict[Eqn, Eqn] = {}
    emit = _Emitter(eqns, origin)
    for e in graph.eqns:
        if e.op.name in DECOMPOSED:
            emit.parent = e
            _decompose_eqn(emit, e)
            emit.parent = None
        else:
            eqns.append(e)
    return Graph(list(graph.inputs), eqns, list(graph.outputs), dict(graph.consts)), origin
