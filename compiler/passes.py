"""Graph -> Graph passes, each a loop over equations with an environment dict.

All rewrites are exact under IEEE arithmetic: x*1 -> x, x/1 -> x, x-0 -> x,
safe_mul -> mul where its guard cannot fire,
-(-x) -> x, x**1 -> x, x**2 -> x*x, no-op reshapes/converts/broadcasts. Never
x*0 -> 0 (NaN and inf) and never x+0.0 -> x (it turns -0.0 into +0.0; so does a
float sum over no axes, which is why that one stays too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from compiler.ir import Atom, Eqn, Graph, Literal, Var
from compiler.registry import OPS


def _sub(env: dict[Var, Atom], a: Atom) -> Atom:
    return env.get(a, a) if isinstance(a, Var) else a


def _rebuild(graph: Graph, env: dict[Var, Atom], eqns: list[Eqn]) -> Graph:
    return Graph(
        list(graph.inputs), eqns, [_sub(env, a) for a in graph.outputs], dict(graph.consts)
    )


def dce(graph: Graph) -> Graph:
    """Drop equations whose outputs nothing uses."""
    live = {a for a in graph.outputs if isinstance(a, Var)}
    kept = []
    for e in reversed(graph.eqns):
        if any(v in live for v in e.outputs):
            kept.append(e)
            live.update(a for a in e.inputs if isinstance(a, Var))
    kept.reverse()
    return Graph(list(graph.inputs), kept, list(graph.outputs), dict(graph.consts))


def _key(x: Any) -> Any:
    """A hashable identity for an input or param value. Numbers keep their type and
    sign: clamp[lo=0] and clamp[lo=0.0] differ in dtype, full 0.0 and -0.0 in value."""
    if isinstance(x, Literal):
        return x.key()
    if isinstance(x, Var):
        return ("var", x.id)
    if isinstance(x, np.dtype):
        return ("dtype", x.str)
    if isinstance(x, (bool, np.bool_)):
        return ("bool", bool(x))
    if isinstance(x, (int, np.integer)):
        return ("int", int(x))
    if isinstance(x, (float, np.floating)):
        return ("float", float(x).hex())
    if isinstance(x, (tuple, list)):
        return (type(x).__name__,) + tuple(_key(i) for i in x)
    return (type(x).__name__, x)


def cse(graph: Graph) -> Graph:
    """Merge equations that apply the same op to the same inputs and params."""
    env: dict[Var, Atom] = {}
    seen: dict[Any, Eqn] = {}
    eqns = []
    for e in graph.eqns:
        inputs = [_sub(env, a) for a in e.inputs]
        key = (
            e.op.name,
            tuple(_key(a) for a in inputs),
            tuple(sorted((k, _key(v)) for k, v in e.params.items())),
        )
        prev = seen.get(key)
        if prev is not None:
            env.update(zip(e.outputs, prev.outputs))
            continue
        new = Eqn(e.op, inputs, e.params, e.outputs, e.source_loc)
        seen[key] = new
        eqns.append(new)
    return _rebuild(graph, env, eqns)


def _is_lit(a: Atom, value: float) -> bool:
    return isinstance(a, Literal) and a.value == value and not np.signbit(a.value)


def _simplify_eqn(e: Eqn) -> Atom | Eqn | None:
    """An atom that replaces the output, a cheaper equation, or None."""
    name, ins, p = e.op.name, e.inputs, e.params
    out = e.outputs[0]
    same = [a for a in ins if a.aval == out.aval]
    if name == "mul":
        for x, y in ((ins[0], ins[1]), (ins[1], ins[0])):
            if _is_lit(y, 1) and x.aval == out.aval:
                return x
    elif name == "safe_mul":
        # g * d, unless g == 0 and d is inf or nan: a plain mul when neither can be
        g, d = ins
        if (
            isinstance(g, Literal)
            and g.value != 0
            or isinstance(d, Literal)
            and np.isfinite(d.value)
        ):
            mul = Eqn(OPS["mul"], ins, p, e.outputs, e.source_loc)
            return _simplify_eqn(mul) or mul
    elif name == "div":
        if _is_lit(ins[1], 1) and ins[0].aval == out.aval:
            return ins[0]
    elif name == "sub":
        if _is_lit(ins[1], 0) and ins[0].aval == out.aval:
            return ins[0]
    elif name == "pow_scalar":
        if p["exponent"] == 1 and same:
            return ins[0]
        if p["exponent"] == 2 and ins[0].aval == out.aval:
            return Eqn(OPS["mul"], [ins[0], ins[0]], {}, e.outputs, e.source_loc)
    elif name in ("convert", "reshape", "broadcast_to", "copy"):
        if ins[0].aval == out.aval:
            return ins[0]
    elif name == "transpose":
        if p["perm"] == tuple(range(len(p["perm"]))):
            return ins[0]
    elif name == "reduce_sum":
        # A float sum starts from +0.0: over no axes it turns -0.0 into 0.0.
        if not p["axes"] and ins[0].aval.dtype.kind != "f" and ins[0].aval == out.aval:
            return ins[0]
    return None


_KNOWN_THROUGH = ("reshape", "broadcast_to", "transpose", "copy", "convert")
_ELEMENTWISE_KINDS = ("same", "float", "compare", "logical", "where")


def _inline_constants(e: Eqn, known: dict[Var, Any]) -> Eqn:
    """Replace inputs that are filled with one known value by scalar literals, where
    another input already spans the output (so no broadcasting is lost)."""
    if e.op.extra.get("kind") not in _ELEMENTWISE_KINDS:
        return e
    out_shape = e.outputs[0].aval.shape
    if not any(
        isinstance(a, Var) and a not in known and a.aval.shape == out_shape for a in e.inputs
    ):
        return e
    ins = [
        Literal(known[a], a.aval.dtype) if isinstance(a, Var) and a in known else a
        for a in e.inputs
    ]
    return Eqn(e.op, ins, e.params, e.outputs, e.source_loc)


def simplify(graph: Graph) -> Graph:
    """Algebraic simplification (exact rewrites only, see the module docstring)."""
    env: dict[Var, Atom] = {}
    producer: dict[Var, Eqn] = {}
    known: dict[Var, Any] = {}  # variables filled with one value
    eqns = []
    for e in graph.eqns:
        e = Eqn(e.op, [_sub(env, a) for a in e.inputs], e.params, e.outputs, e.source_loc)
        if e.op.name == "full":
            known[e.outputs[0]] = e.params["value"]
        elif e.op.name in _KNOWN_THROUGH and isinstance(e.inputs[0], Var) and e.inputs[0] in known:
            # numpy's cast, as `convert` runs it (NaN to int does not raise)
            with np.errstate(all="ignore"):
                value = np.array(known[e.inputs[0]], e.inputs[0].aval.dtype)
                known[e.outputs[0]] = value.astype(e.outputs[0].aval.dtype).item()
        e = _inline_constants(e, known)
        if e.op.name == "neg" and isinstance(e.inputs[0], Var):
            inner = producer.get(e.inputs[0])
            if inner is not None and inner.op.name == "neg":
                env[e.outputs[0]] = inner.inputs[0]
                continue
        if not e.op.multiple_results:
            r = _simplify_eqn(e)
            if isinstance(r, Eqn):
                e = r
            elif r is not None:
                env[e.outputs[0]] = r
                continue
        eqns.append(e)
        for v in e.outputs:
            producer[v] = e
    return _rebuild(graph, env, eqns)


def _rewrite(graph: Graph, rule: Callable[[Eqn], Atom | None]) -> Graph:
    """Apply a per-equation rule: an atom replaces the equation's output, None keeps it."""
    env: dict[Var, Atom] = {}
    eqns = []
    for e in graph.eqns:
        e = Eqn(e.op, [_sub(env, a) for a in e.inputs], e.params, e.outputs, e.source_loc)
        replacement = rule(e)
        if replacement is None:
            eqns.append(e)
        else:
            env[e.outputs[0]] = replacement
    return _rebuild(graph, env, eqns)


def _fold(e: Eqn) -> Atom | None:
    if (
        e.inputs
        and all(isinstance(a, Literal) for a in e.inputs)
        and not e.op.multiple_results
        and e.outputs[0].aval.shape == ()
    ):
        value = np.asarray(e.op.impl(*[a.value for a in e.inputs], **e.params))
        return Literal(value.item(), e.outputs[0].aval.dtype)
    return None


def fold_constants(graph: Graph) -> Graph:
    """Evaluate scalar equations whose inputs are all literals."""
    return _rewrite(graph, _fold)


def strip_stop_gradient(graph: Graph) -> Graph:
    """After differentiation, stop_gradient is the identity."""
    return _rewrite(graph, lambda e: e.inputs[0] if e.op.name == "stop_gradient" else None)


def optimize(graph: Graph) -> Graph:
    """The standard pipeline, run before and after differentiation."""
    for p in (fold_constants, simplify, cse, dce):
        graph = p(graph)
    return graph
