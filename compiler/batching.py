"""Batching: run a graph on values that carry an extra (batch) axis, one rule per op.

`batch_eval(graph, values, dims, size)` evaluates `graph` equation by equation on
operands (eager tensors, or traced values of the current trace) where input i holds
the per-example value of graph input i stacked along axis `bdims[i]` (None: not
batched, the same for every example). Each equation goes through its op's batching
rule (`Op.batch`), which returns the batched results and the axis each carries, so
results stay unbatched as long as nothing batched flows into them.
`batch_graph(graph, dims, size)` is the same as a pass over IR: the batched Graph.

Where an op declares no rule, one follows from its kind (so few are written by hand):

* elementwise ops: the batch axes move to the front and batched inputs get
  singleton axes so that every input lines up (unbatched inputs broadcast);
* reductions (an `axes` parameter): the batch axis moves to the front, the reduced
  axes shift by one;
* composite ops: their definition is staged on per-example values and that graph is
  batched equation by equation;
* anything else: the per-example loop, a `scan` over the batch axis of that one
  equation (`fallback`), so the result never depends on a rule being present.
  `fallback_ops()` lists the ops that take it.

The rules are registered in `compiler.batching_rules` (imported below), next to one
another, so the op declarations stay untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler.builder import GraphBuilder
from compiler.dispatch import apply, tracing
from compiler.ir import Eqn, Graph, Literal, Var
from compiler.lowering import Composite, Reduction
from compiler.operand import Operand
from compiler.registry import OPS, AVal, Op

__all__ = [
    "batch_eval",
    "batch_graph",
    "defbatch",
    "fallback_ops",
    "materialize",
    "move_to",
    "per_example",
    "rule_kind",
    "scan",
    "stage",
    "UseFallback",
]

Dim = int | None
Rule = Callable[..., tuple[Any, Any]]

_AXIS_PARAMS = ("axis", "dim", "dim1", "dim2")


class UseFallback(Exception):
    """Raised by a rule for a case it does not cover: the equation runs as a
    per-example loop instead."""


def defbatch(*names: str) -> Callable[[Rule], Rule]:
    """Register the decorated function as the batching rule of the ops `names`."""

    def wrap(rule: Rule) -> Rule:
        for name in names:
            op = OPS[name]
            if op.batch is not None:
                raise ValueError(f"op {name!r}: batching rule registered twice")
            object.__setattr__(op, "batch", rule)
        return rule

    return wrap


# ---- helpers the rules are written with ------------------------------------------------


def move_to(x: Any, d: Dim, to: int = 0) -> Any:
    """Batched `x` (batch axis `d`) with its batch axis at `to`."""
    if d is None or d == to % x.ndim:
        return x
    return x.movedim(d, to)


def materialize(x: Any, d: Dim, size: int, world: Any = None) -> Any:
    """`x` with a batch axis at 0: moved there, or (unbatched) broadcast along a new one."""
    if d is not None:
        return move_to(x, d, 0)
    if not isinstance(x, Operand):
        x = world._const(np.asarray(x))
    return x.reshape((1, *x.shape)).broadcast_to((size, *x.shape))


def per_example(x: Any, d: Dim) -> AVal:
    """The aval of one example of batched operand `x`."""
    shape = tuple(int(s) for s in x.shape)
    if d is not None:
        shape = shape[:d] + shape[d + 1 :]
    return AVal(shape, np.dtype(x.dtype))


# ---- generic rules ---------------------------------------------------------------------


def _elementwise_rule(op: Op) -> Rule:
    def rule(size: int, bdims: Sequence[Dim], *xs: Any, **params: Any) -> tuple[Any, Dim]:
        rank = max(
            (x.ndim - (d is not None) for x, d in zip(xs, bdims) if isinstance(x, Operand)),
            default=0,
        )
        args = []
        for x, d in zip(xs, bdims):
            if d is not None:
                x = move_to(x, d, 0)
                missing = rank - (x.ndim - 1)
                if missing:
                    x = x.reshape((int(x.shape[0]),) + (1,) * missing + tuple(x.shape[1:]))
            args.append(x)
        return apply(op.name, *args, **params), 0

    return rule


def _axes_rule(op: Op) -> Rule:
    """For ops acting along the axes named by an `axes` (tuple) or `axis` (int) param,
    whose other axes are independent: batch axis to the front, named axes shifted."""

    def rule(size: int, bdims: Sequence[Dim], *xs: Any, **params: Any) -> tuple[Any, Any]:
        w = _world(xs)
        if any(k in params for k in _AXIS_PARAMS) and any(
            isinstance(x, Operand) and x.ndim - (d is not None) == 0 for x, d in zip(xs, bdims)
        ):
            raise UseFallback  # a 0-d example: its axis 0 is not an axis of the batch
        # (a Python number stays one: the same for every example, and typed as before)
        args = [
            materialize(x, d, size, w) if isinstance(x, Operand) else x for x, d in zip(xs, bdims)
        ]
        p = dict(params)
        if "axes" in p:
            p["axes"] = tuple(a + 1 if a >= 0 else a for a in p["axes"])
        for k in _AXIS_PARAMS:
            if p.get(k) is not None:
                p[k] = p[k] + 1 if p[k] >= 0 else p[k]
        out = apply(op.name, *args, **p)
        return out, ((0,) * len(out) if op.multiple_results else 0)

    return rule


def axes_rule(name: str) -> Rule:
    return _axes_rule(OPS[name])


def _composite_rule(op: Op) -> Rule:
    def rule(size: int, bdims: Sequence[Dim], *xs: Any, **params: Any) -> tuple[Any, Any]:
        b = GraphBuilder(warn_above=None)
        args = [
            b.new_input(per_example(x, d)) if isinstance(x, Operand) else x
            for x, d in zip(xs, bdims)
        ]
        outer, tracing.builder = tracing.builder, b
        try:
            result = op.lowering.fn(*args, **params)
        finally:
            tracing.builder = outer
        results = result if op.multiple_results else (result,)
        graph = b.graph([b._atom(r) for r in results])
        ops = [(x, d) for x, d in zip(xs, bdims) if isinstance(x, Operand)]
        outs, odims = batch_eval(
            graph, [x for x, _ in ops], [d for _, d in ops], size, world=_world(xs)
        )
        if op.multiple_results:
            return tuple(outs), tuple(odims)
        return outs[0], odims[0]

    return rule


def fallback(eqn: Eqn, size: int, bdims: Sequence[Dim], xs: Sequence[Any]) -> tuple[list, list]:
    """The per-example loop for one equation: a scan over the batch axis, the unbatched
    inputs passed to every step whole."""
    consts, steps, body_in = [], [], []
    const_vars, step_vars = [], []
    for a, x, d in zip(eqn.inputs, xs, bdims):
        if isinstance(a, Literal):
            body_in.append(a)
        elif d is None:
            v = Var(a.aval)
            const_vars.append(v)
            consts.append(x)
            body_in.append(v)
        else:
            v = Var(per_example(x, d))
            step_vars.append(v)
            steps.append(move_to(x, d, 0))
            body_in.append(v)
    outs = [Var(v.aval) for v in eqn.outputs]
    body = Graph(
        const_vars + step_vars, [Eqn(eqn.op, body_in, eqn.params, outs, eqn.source_loc)], outs
    )
    res = scan(
        *consts, *steps, body=body, length=size, reverse=False, num_consts=len(consts), num_carry=0
    )
    return list(res), [0] * len(outs)


def scan(*ins: Any, **params: Any) -> tuple[Any, ...]:
    """The `scan` op on `ins`. Eagerly, with an input requiring grad, it saves its carries
    for its VJP (what autodiff arranges in a trace) and drops them from the results."""
    eager = tracing.builder is None and any(getattr(x, "requires_grad", False) for x in ins)
    if not eager or params["length"] == 0:
        return tuple(apply("scan", *ins, **params, save=False))
    # eagerly with autograd recording: the steps one by one (a scan's eager node would
    # need the carries of every step, which only a traced scan saves)
    nc, nk, n = params["num_consts"], params["num_carry"], params["length"]
    body = params["body"]
    consts, carry, xs = list(ins[:nc]), list(ins[nc : nc + nk]), ins[nc + nk :]
    world = _world(ins)
    ys = []
    for t in range(n - 1, -1, -1) if params["reverse"] else range(n):
        args = [*consts, *carry, *(x[t] for x in xs)]
        outs, _ = batch_eval(body, args, [None] * len(args), n, world=world)
        outs = [o if isinstance(o, Operand) else world._const(np.asarray(o)) for o in outs]
        carry, y = outs[:nk], outs[nk:]
        ys.append([v.reshape((1, *v.shape)) for v in y])
    if params["reverse"]:
        ys.reverse()
    stacked = [apply("concatenate", *col, axis=0) for col in zip(*ys)]
    return (*carry, *stacked)


def rule_kind(op: Op) -> str:
    """How `op` is batched: 'explicit', 'elementwise', 'reduction', 'composite',
    'nullary' (never batched: no inputs) or 'fallback' (a per-example loop)."""
    if op.batch is not None:
        return "explicit"
    if op.nullary:
        return "nullary"
    if op.elementwise:
        return "elementwise"
    if isinstance(op.lowering, Reduction):
        return "reduction"
    if isinstance(op.lowering, Composite):
        return "composite"
    return "fallback"


_GENERIC: dict[Op, Rule] = {}


def _rule(op: Op) -> Rule | None:
    if op.batch is not None:
        return op.batch
    if op not in _GENERIC:
        kind = rule_kind(op)
        make = {
            "elementwise": _elementwise_rule,
            "reduction": _axes_rule,
            "composite": _composite_rule,
        }.get(kind)
        _GENERIC[op] = make(op) if make else None
    return _GENERIC[op]


def fallback_ops() -> list[str]:
    """The registered ops batched by the per-example loop (no rule)."""
    return sorted(n for n, op in OPS.items() if rule_kind(op) == "fallback")


# ---- the pass --------------------------------------------------------------------------


def _world(xs: Sequence[Any]) -> Any:
    for x in xs:
        if isinstance(x, Operand):
            return x
    return None


def _check(eqn: Eqn, outs: Sequence[Any], odims: Sequence[Dim], size: int) -> None:
    for v, o, d in zip(eqn.outputs, outs, odims):
        shape = tuple(int(s) for s in o.shape) if isinstance(o, Operand) else ()
        if d is not None:
            if shape[d] != size:
                raise AssertionError(f"batching rule of {eqn.op.name}: batch axis {d} of {shape}")
            shape = shape[:d] + shape[d + 1 :]
        if shape != tuple(v.aval.shape):
            raise AssertionError(
                f"batching rule of {eqn.op.name}: one example is {shape}, expected "
                f"{tuple(v.aval.shape)}"
            )


def batch_eval(
    graph: Graph,
    values: Sequence[Any],
    bdims: Sequence[Dim],
    size: int,
    world: Any = None,
) -> tuple[list[Any], list[Dim]]:
    """Run `graph` batched: `values[i]` is input i's examples stacked along `bdims[i]`
    (None: one value shared by all). Returns the outputs and their batch axes (None for
    an output that does not depend on any batched input)."""
    world = world if world is not None else _world(values)
    env: dict[Var, tuple[Any, Dim]] = dict(zip(graph.inputs, zip(values, bdims)))
    for v, arr in graph.consts.items():
        env[v] = (world._const(arr), None)
    for e in graph.eqns:
        ins = [env[a] if isinstance(a, Var) else (a.value.item(), None) for a in e.inputs]
        xs = [x for x, _ in ins]
        ds = [d for _, d in ins]
        if all(d is None for d in ds):
            args = [world] if e.op.nullary else xs
            out = apply(e.op.name, *args, **e.params)
            outs = list(out) if e.op.multiple_results else [out]
            odims: list[Dim] = [None] * len(outs)
        else:
            rule = _rule(e.op)
            try:
                if rule is None:
                    raise UseFallback
                out, od = rule(size, tuple(ds), *xs, **e.params)
                outs, odims = (list(out), list(od)) if e.op.multiple_results else ([out], [od])
            except UseFallback:
                outs, odims = fallback(e, size, ds, xs)
            _check(e, outs, odims, size)
        env.update(zip(e.outputs, zip(outs, odims)))
    res = [env[a] if isinstance(a, Var) else (a.value.item(), None) for a in graph.outputs]
    return [x for x, _ in res], [d for _, d in res]


def batch_graph(
    graph: Graph, bdims: Sequence[Dim], size: int, out_dims: Sequence[Dim] | None = None
) -> tuple[Graph, list[Dim]]:
    """The batched graph: input i of `graph` stacked along `bdims[i]` (None: unbatched);
    returns it and the batch axis of each output. With `out_dims`, the outputs are moved
    to (or, unbatched, broadcast along) those axes."""
    b = GraphBuilder(warn_above=None)
    vals = []
    for v, d in zip(graph.inputs, bdims):
        shape = tuple(v.aval.shape)
        if d is not None:
            shape = shape[:d] + (size,) + shape[d:]
        vals.append(b.new_input(AVal(shape, v.aval.dtype, v.aval.weak)))
    outer, tracing.builder = tracing.builder, b
    try:
        outs, odims = batch_eval(graph, vals, bdims, size, world=vals[0] if vals else None)
        if out_dims is not None:
            outs = [to_axis(o, d, t, size, vals[0]) for o, d, t in zip(outs, odims, out_dims)]
            odims = list(out_dims)
    finally:
        tracing.builder = outer
    return b.graph([b._atom(o) for o in outs]), odims


def stage(fn: Callable[[list[Any]], list[Any]], avals: Sequence[AVal]) -> Graph:
    """`fn` (lists of traced values to lists) staged on new inputs of `avals`, as a
    Graph (for the sub-graphs of the control-flow rules)."""
    b = GraphBuilder(warn_above=None)
    args = [b.new_input(a) for a in avals]
    outer, tracing.builder = tracing.builder, b
    try:
        outs = fn(args)
    finally:
        tracing.builder = outer
    return b.graph([b._atom(o) for o in outs])


def to_axis(x: Any, d: Dim, to: Dim, size: int, world: Any) -> Any:
    """Batched `x` (axis `d`) with its batch axis at `to`; an unbatched `x` is broadcast
    along a new axis `to`; `to` None keeps `x` unbatched (it must be)."""
    if to is None:
        if d is not None:
            raise ValueError("an output that depends on the mapped inputs cannot be unmapped")
        return x
    x = materialize(x, d, size, world)
    return move_to(x, 0, to)


from compiler import batching_rules as _rules  # noqa: E402,F401  (registers the rules)
