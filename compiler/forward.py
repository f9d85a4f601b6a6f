"""Forward-mode differentiation of a graph with the registry's JVP rules.

`jvp_graph` walks a graph's equations in order, keeps each one, and after it emits
the equations of its output tangents, one JVP rule per equation (the rules run on
`Sym`s of a builder that already holds the primal equations, as the VJP rules do in
compiler.autodiff). A value without a tangent is a symbolic zero: an equation none of
whose inputs has a tangent costs nothing.

Which rule an op gets (`jvp_kind`), so that few rules are written by hand:

* `rule`: its own `jvp` (matmul's product rule, max_dim's gather at the argmax, the
  control-flow ops' loops over (primal, tangent) carries);
* `linear`: the op applied to the tangents (`Op.jvp = LINEAR`: views, sums, gathers);
* `elementwise`: from its VJP rule. An elementwise op's Jacobian is diagonal, so its
  VJP rule applied to a cotangent equal to input i's tangent gives input i's share of
  the output tangent (the rule's result before any summing to the input's shape);
* `composite`: forward mode through the op's definition (softmax, the losses);
* `transpose`: any other differentiable op, by transposing its VJP for that one
  equation: J t is the gradient, with respect to the cotangent g, of <VJP(g), t>.
  Correctness never depends on a rule being present; the cost is a VJP of a VJP.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from compiler.builder import GraphBuilder, Sym
from compiler.dispatch import apply, tracing
from compiler.errors import TraceError
from compiler.ir import Graph, Var
from compiler.lowering import Composite
from compiler.operand import Operand
from compiler.passes import dce
from compiler.registry import DIAGONAL, AVal, Linear, Op

__all__ = ["apply_jvp", "call_graph", "jvp_graph", "jvp_kind"]


@contextmanager
def building(b: GraphBuilder) -> Iterator[None]:
    """Ops on `b`'s values (and on tensors) are staged into `b` while this is open."""
    outer, tracing.builder = tracing.builder, b
    try:
        yield
    finally:
        tracing.builder = outer


def _aval(x: Any) -> AVal:
    return AVal(tuple(x.shape), np.dtype(x.dtype))


def _is_float(x: Any) -> bool:
    return np.dtype(x.dtype).kind == "f"


def jvp_kind(op: Op) -> str:
    """How forward mode differentiates `op`: "rule", "linear", "elementwise",
    "composite", "transpose", or "none" (not differentiable: its tangent is zero)."""
    if op.vjp is None:
        return "none"
    if isinstance(op.jvp, Linear):
        return "linear"
    if op.jvp is DIAGONAL or (op.jvp is None and op.elementwise and not op.multiple_results):
        return "elementwise"
    if op.jvp is not None:
        return "rule"
    if isinstance(op.lowering, Composite):
        return "composite"
    return "transpose"


def apply_jvp(
    op: Op, tangents: Sequence[Any], out: Any, inputs: Sequence[Any], params: dict
) -> Any:
    """The output tangent of `op` applied to `inputs` (giving `out`) along `tangents`
    (one per input, None for zero): a value, None for zero, or a tuple of them for an
    op with several results. Runs on eager tensors and on traced values."""
    tangents = tuple(tangents)
    kind = jvp_kind(op)
    if kind == "none" or all(t is None for t in tangents):
        return (None,) * len(out) if op.multiple_results else None
    if kind == "rule":
        return op.jvp(tangents, out, *inputs, **params)
    if kind == "linear":
        return _linear_jvp(op, tangents, out, inputs, params)
    if kind == "elementwise":
        return _elementwise_jvp(op, tangents, out, inputs, params)
    if kind == "composite":
        return _composite_jvp(op, tangents, out, inputs, params)
    return _transposed_vjp(op, tangents, out, inputs, params)


def _linear_jvp(op: Op, tangents: tuple, out: Any, inputs: Sequence[Any], params: dict) -> Any:
    outs = out if op.multiple_results else (out,)
    if not any(_is_float(o) for o in outs):
        return (None,) * len(outs) if op.multiple_results else None
    args = []
    for i, (x, t) in enumerate(zip(inputs, tangents)):
        if not op.jvp.linear_in(i):
            args.append(x)
        elif t is not None:
            args.append(t)
        else:
            args.append(x.zeros_like() if isinstance(x, Operand) else 0.0)
    result = apply(op.name, *args, **params)
    if op.multiple_results:
        return tuple(r if _is_float(o) else None for r, o in zip(result, outs))
    return result


def _elementwise_jvp(op: Op, tangents: tuple, out: Any, inputs: Sequence[Any], params: dict) -> Any:
    if not _is_float(out):
        return None
    total = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        g = t if t.dtype == out.dtype else t.to(out.dtype)
        if tuple(g.shape) != tuple(out.shape):  # eager operands broadcast implicitly
            g = g.broadcast_to(tuple(out.shape))
        part = op.vjp(g, out, *inputs, **params)[i]
        if part is None:
            continue
        if not isinstance(part, Operand):  # a rule scaled a Python number
            part = g * part
        if part.dtype != out.dtype:
            part = part.to(out.dtype)
        total = part if total is None else total + part
    return total


def _stage_one(op: Op, inputs: Sequence[Any], params: dict, expand: bool) -> Graph:
    """`op` on new inputs shaped like `inputs`' tensors (numbers stay numbers) as a
    graph; with `expand`, the op's definition (a composite) instead of the op."""
    sb = GraphBuilder(warn_above=None)
    xs = [sb.new_input(_aval(x)) if isinstance(x, Operand) else x for x in inputs]
    with building(sb):
        result = op.lowering.fn(*xs, **params) if expand else apply(op.name, *xs, **params)
    results = result if op.multiple_results else (result,)
    outs = [sb._atom(r) for r in results]
    outs = [o if isinstance(o, Var) else sb.emit(*_full_of(o))[0] for o in outs]
    return Graph(list(sb.inputs), list(sb.eqns), outs, dict(sb.consts))


def _full_of(value: Any) -> tuple[str, list, dict]:
    return "full", [], {"shape": (), "dtype": np.asarray(value).dtype, "value": value}


# The graphs the composite and transposed rules build depend only on the op, its params,
# its inputs' avals (and Python numbers) and which inputs have tangents: made once each.
_GRAPHS: dict[Any, Graph] = {}
_GRAPHS_MAX = 512


def _cached(kind: str, op: Op, inputs: Sequence[Any], tangents: tuple, params: dict, make: Any):
    sig = tuple(
        (_aval(x), t is not None) if isinstance(x, Operand) else (type(x), x)
        for x, t in zip(inputs, tangents)
    )
    try:
        key = (kind, op.name, sig, tuple(sorted(params.items())))
        hash(key)
    except TypeError:  # a param that is not hashable: build it every time
        return make()
    graph = _GRAPHS.get(key)
    if graph is None:
        if len(_GRAPHS) >= _GRAPHS_MAX:
            _GRAPHS.clear()
        graph = _GRAPHS[key] = make()
    return graph


def _composite_jvp(op: Op, tangents: tuple, out: Any, inputs: Sequence[Any], params: dict) -> Any:
    operands = [(x, t) for x, t in zip(inputs, tangents) if isinstance(x, Operand)]
    outs = out if op.multiple_results else (out,)
    floats = [_is_float(o) for o in outs]

    def make() -> Graph:
        graph = _stage_one(op, inputs, params, expand=True)
        return jvp_graph(graph, [t is not None for _, t in operands], floats)

    fwd = _cached("composite", op, inputs, tangents, params, make)
    res = call_graph(fwd, [x for x, _ in operands] + [t for _, t in operands if t is not None])
    it = iter(res[len(outs) :])
    result = tuple(next(it) if f else None for f in floats)
    return result if op.multiple_results else result[0]


def _transposed_vjp(op: Op, tangents: tuple, out: Any, inputs: Sequence[Any], params: dict) -> Any:
    from compiler.autodiff import joint_vjp
    from compiler.ops.control import inline, vjp_graph
    from compiler.passes import optimize, strip_stop_gradient

    outs = out if op.multiple_results else (out,)
    floats = [_is_float(o) for o in outs]
    if not any(floats):
        return (None,) * len(outs) if op.multiple_results else None
    operands = [(x, t) for x, t in zip(inputs, tangents) if isinstance(x, Operand)]

    def make() -> Graph:
        one = _stage_one(op, inputs, params, expand=False)
        wrt = [t is not None for _, t in operands]
        back = vjp_graph(one, wrt)  # (inputs, one cotangent per output) -> flagged gradients
        # <VJP(g), t> as a graph of (inputs, g, t); its gradient with respect to g is J t
        db = GraphBuilder(warn_above=None)
        args = [db.new_input(v.aval) for v in back.inputs]
        ts = [db.new_input(_aval(t)) for _, t in operands if t is not None]
        with building(db):
            grads = inline(db, back, args)
            dot = sum((g * t).sum() for g, t in zip(grads, ts))
        dot_graph = Graph(list(db.inputs), list(db.eqns), [db._atom(dot)], {})
        flags = [False] * len(one.inputs) + floats + [False] * len(ts)
        g = joint_vjp(dot_graph, flags, seed_ones=True, n_diff=1).graph
        return optimize(strip_stop_gradient(Graph(list(g.inputs), list(g.eqns), g.outputs[1:], {})))

    lin = _cached("transpose", op, inputs, tangents, params, make)
    # the map is linear in g, but a VJP rule may skip the terms a zero cotangent does not
    # reach (eigh's pairs): evaluate its derivative at g = 1, where every term is live
    values = [x for x, _ in operands] + [o.ones_like() for o in outs]
    it = iter(call_graph(lin, values + [t for _, t in operands if t is not None]))
    result = tuple(next(it) if f else None for f in floats)
    return result if op.multiple_results else result[0]


def call_graph(graph: Graph, values: Sequence[Any]) -> list[Any]:
    """Run `graph` on `values` (one per input: eager tensors, or traced values, which
    stage its equations into their trace) op by op with `apply`."""
    anchor = next(v for v in values if isinstance(v, Operand))
    env: dict[Var, Any] = dict(zip(graph.inputs, values))
    for v, arr in graph.consts.items():
        env[v] = anchor._const(arr)
    for e in graph.eqns:
        ins = [env[a] if isinstance(a, Var) else a.value.item() for a in e.inputs]
        if e.op.nullary:
            result = apply(e.op.name, anchor, **e.params)
        elif not any(isinstance(x, Operand) for x in ins):  # an op on literals only
            result = anchor._const(np.asarray(e.op.impl(*ins, **e.params)))
        else:
            result = apply(e.op.name, *ins, **e.params)
        env.update(zip(e.outputs, result if e.op.multiple_results else (result,)))
    return [env[o] if isinstance(o, Var) else o.value.item() for o in graph.outputs]


def jvp_graph(
    graph: Graph, tangent_in: Sequence[bool], tangent_out: Sequence[bool] | None = None
) -> Graph:
    """Forward mode on `graph`: a graph of (its inputs, one tangent per input flagged in
    `tangent_in`) -> (its outputs, one tangent per output flagged in `tangent_out`,
    by default every floating-point output; zeros where it does not depend on the
    flagged inputs). Raises TraceError for an op whose derivative is not defined
    (`Op.no_derivative`)."""
    if tangent_out is None:
        tangent_out = [a.aval.dtype.kind == "f" for a in graph.outputs]
    b = GraphBuilder(warn_above=None)
    b.inputs = list(graph.inputs)
    tan: dict[Var, Any] = {}
    for v, w in zip(graph.inputs, tangent_in):
        if w:
            tan[v] = b.new_input(AVal(tuple(v.aval.shape), v.aval.dtype))
    with building(b):
        for e in graph.eqns:
            b.eqns.append(e)
            ts = [tan.get(a) if isinstance(a, Var) else None for a in e.inputs]
            if all(t is None for t in ts):
                continue
            if e.op.no_derivative is not None:
                where = f" at {e.source_loc}" if e.source_loc else ""
                raise TraceError(f"{e.op.no_derivative}{where}")
            b.location = e.source_loc
            ins = [Sym(b, a) if isinstance(a, Var) else a.value.item() for a in e.inputs]
            outs = [Sym(b, v) for v in e.outputs]
            out = tuple(outs) if e.op.multiple_results else outs[0]
            result = apply_jvp(e.op, ts, out, ins, e.params)
            results = result if e.op.multiple_results else (result,)
            for v, t in zip(e.outputs, results):
                if t is not None and v.aval.dtype.kind == "f":
                    tan[v] = _fit(b, t, v)
        b.location = None
        t_out = []
        for o, w in zip(graph.outputs, tangent_out):
            if not w:
                continue
            t = tan.get(o) if isinstance(o, Var) else None
            if t is None:
                t = Sym(b, b.emit("full", [], _zeros_params(o.aval))[0])
            t_out.append(t.ir_var)
    consts = {**graph.consts, **b.consts}  # rules may make constants (a basis, a mask)
    return dce(Graph(list(b.inputs), b.eqns, list(graph.outputs) + t_out, consts))


def _zeros_params(aval: AVal) -> dict:
    return {"shape": tuple(aval.shape), "dtype": aval.dtype, "value": 0}


def _fit(b: GraphBuilder, t: Any, v: Var) -> Sym:
    """Tangent `t` as a value of `b` with `v`'s shape and dtype."""
    if not isinstance(t, Sym):  # a Python number
        t = Sym(b, b.emit("full", [], {**_zeros_params(v.aval), "value": t})[0])
    if t.dtype != v.aval.dtype:
        t = t.to(v.aval.dtype)
    if tuple(t.shape) != tuple(v.aval.shape):
        t = t.broadcast_to(tuple(v.aval.shape))
    return t
