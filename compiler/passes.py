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
    """Drop equations whose outputs nothing uses (and the unused results of ops that
    can prune them: a scan's unused stacked outputs, with their part of the body)."""
    live = {a for a in graph.outputs if isinstance(a, Var)}
    kept = []
    for e in reversed(graph.eqns):
        if any(v in live for v in e.outputs):
            if e.op.prune is not None:
                e = e.op.prune(e, live)
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


def _rewrite(graph: Graph, rule: Callable[[Eqn], Atom | Eqn | None]) -> Graph:
    """Apply a per-equation rule: an atom replaces the equation's output, an equation
    replaces the equation, None keeps it."""
    env: dict[Var, Atom] = {}
    eqns = []
    for e in graph.eqns:
        e = Eqn(e.op, [_sub(env, a) for a in e.inputs], e.params, e.outputs, e.source_loc)
        replacement = rule(e)
        if isinstance(replacement, Eqn):
            eqns.append(replacement)
        elif replacement is None:
            eqns.append(e)
        else:
            env[e.outputs[0]] = replacement
    return _rebuild(graph, env, eqns)


# ---- simplify: a table of small named rules ----------------------------------------------
# Each rule looks at one equation (its inputs already rewritten) and returns an atom that
# replaces its output, a cheaper equation, or None. `producer` maps a variable to the
# equation that computes it. Every rule is exact (see the module docstring).

Rule = Callable[[Eqn, dict[Var, Eqn]], Atom | Eqn | None]
RULES: dict[str, list[Rule]] = {}


def rule(*ops: str) -> Callable[[Rule], Rule]:
    """Register a simplification rule for equations of `ops`."""

    def register(fn: Rule) -> Rule:
        for op in ops:
            RULES.setdefault(op, []).append(fn)
        return fn

    return register


def _is_lit(a: Atom, value: float) -> bool:
    return isinstance(a, Literal) and a.value == value and not np.signbit(a.value)


def _same_type(a: Atom, e: Eqn) -> bool:
    return a.aval == e.outputs[0].aval


@rule("mul")
def mul_by_one(e: Eqn, producer: dict[Var, Eqn]) -> Atom | None:
    for x, y in ((e.inputs[0], e.inputs[1]), (e.inputs[1], e.inputs[0])):
        if _is_lit(y, 1) and _same_type(x, e):
            return x
    return None


@rule("safe_mul")
def safe_mul_without_guard(e: Eqn, producer: dict[Var, Eqn]) -> Eqn | None:
    """g * d, unless g == 0 and d is inf or nan: a plain mul when neither can be."""
    g, d = e.inputs
    if isinstance(g, Literal) and g.value != 0 or isinstance(d, Literal) and np.isfinite(d.value):
        return Eqn(OPS["mul"], e.inputs, e.params, e.outputs, e.source_loc)
    return None


@rule("div")
def div_by_one(e: Eqn, producer: dict[Var, Eqn]) -> Atom | None:
    return e.inputs[0] if _is_lit(e.inputs[1], 1) and _same_type(e.inputs[0], e) else None


@rule("sub")
def sub_zero(e: Eqn, producer: dict[Var, Eqn]) -> Atom | None:
    return e.inputs[0] if _is_lit(e.inputs[1], 0) and _same_type(e.inputs[0], e) else None


@rule("neg")
def neg_neg(e: Eqn, producer: dict[Var, Eqn]) -> Atom | None:
    inner = producer.get(e.inputs[0]) if isinstance(e.inputs[0], Var) else None
    return inner.inputs[0] if inner is not None and inner.op.name == "neg" else None


@rule("pow_scalar")
def pow_one(e: Eqn, producer: dict[Var, Eqn]) -> Atom | None:
    return e.inputs[0] if e.params["exponent"] == 1 and _same_type(e.inputs[0], e) else None


@rule("pow_scalar")
def pow_two_is_a_product(e: Eqn, producer: dict[Var, Eqn]) -> Eqn | None:
    x = e.inputs[0]
    if e.params["exponent"] == 2 and _same_type(x, e):
        return Eqn(OPS["mul"], [x, x], {}, e.outputs, e.source_loc)
    return None


@rule("convert", "reshape", "broadcast_to", "copy")
def no_op(e: Eqn, producer: dict[Var, Eqn]) -> Atom | None:
    return e.inputs[0] if _same_type(e.inputs[0], e) else None


@rule("transpose")
def identity_transpose(e: Eqn, producer: dict[Var, Eqn]) -> Atom | None:
    return e.inputs[0] if e.params["perm"] == tuple(range(len(e.params["perm"]))) else None


@rule("reduce_sum")
def integer_sum_over_no_axes(e: Eqn, producer: dict[Var, Eqn]) -> Atom | None:
    # A float sum starts from +0.0: over no axes it turns -0.0 into 0.0, so it stays.
    x = e.inputs[0]
    if not e.params["axes"] and x.aval.dtype.kind != "f" and _same_type(x, e):
        return x
    return None


def simplify(graph: Graph) -> Graph:
    """Algebraic simplification with the rules of `RULES` (exact rewrites only)."""
    producer: dict[Var, Eqn] = {}

    def apply_rules(e: Eqn) -> Atom | Eqn | None:
        replaced = False
        while not e.op.multiple_results:
            for r in RULES.get(e.op.name, ()):
                result = r(e, producer)
                if result is not None:
                    break
            else:
                break
            if not isinstance(result, Eqn):
                return result
            e, replaced = result, True
        for v in e.outputs:
            producer[v] = e
        return e if replaced else None

    return _rewrite(graph, apply_rules)


def inline_fills(graph: Graph) -> Graph:
    """Constant propagation of filled values: a view of a fill, or an elementwise op
    whose inputs are all fills or literals, is a fill too (a `full` equation); and an
    elementwise op reads a filled input as a scalar literal where another input spans
    the result (so no broadcast is lost)."""
    known: dict[Var, Any] = {}

    def propagate(e: Eqn) -> Eqn | None:
        op, out = e.op, e.outputs[0]
        if op.name == "full":
            known[out] = e.params["value"]
            return None
        if op.multiple_results:
            return None
        ins = [known.get(a, a) if isinstance(a, Var) else a.value for a in e.inputs]
        if op.view and isinstance(e.inputs[0], Var) and e.inputs[0] in known:
            value = known[e.inputs[0]]
        elif op.elementwise and e.inputs and not any(isinstance(v, Var) for v in ins):
            with np.errstate(all="ignore"):  # numpy's result, as the op's impl gives it
                args = [np.asarray(v, a.aval.dtype) for v, a in zip(ins, e.inputs)]
                value = np.asarray(op.impl(*args, **e.params)).astype(out.aval.dtype).item()
        else:
            return _with_literals(e, known)
        known[out] = value
        params = {"shape": tuple(out.aval.shape), "dtype": out.aval.dtype, "value": value}
        return Eqn(OPS["full"], [], params, e.outputs, e.source_loc)

    return _rewrite(graph, propagate)


def _with_literals(e: Eqn, known: dict[Var, Any]) -> Eqn | None:
    if not e.op.elementwise or not any(isinstance(a, Var) and a in known for a in e.inputs):
        return None
    shape = e.outputs[0].aval.shape
    if not any(isinstance(a, Var) and a not in known and a.aval.shape == shape for a in e.inputs):
        return None
    ins = [
        Literal(known[a], a.aval.dtype, a.aval.weak) if isinstance(a, Var) and a in known else a
        for a in e.inputs
    ]
    return Eqn(e.op, ins, e.params, e.outputs, e.source_loc)


def _fold(e: Eqn) -> Atom | None:
    if (
        e.inputs
        and all(isinstance(a, Literal) for a in e.inputs)
        and not e.op.multiple_results
        and e.outputs[0].aval.shape == ()
    ):
        value = np.asarray(e.op.impl(*[a.value for a in e.inputs], **e.params))
        return Literal(value.item(), e.outputs[0].aval.dtype, e.outputs[0].aval.weak)
    return None


def fold_constants(graph: Graph) -> Graph:
    """Evaluate scalar equations whose inputs are all literals."""
    return _rewrite(graph, _fold)


def strip_stop_gradient(graph: Graph) -> Graph:
    """After differentiation, stop_gradient is the identity."""
    return _rewrite(graph, lambda e: e.inputs[0] if e.op.name == "stop_gradient" else None)


def optimize(graph: Graph) -> Graph:
    """The standard pipeline, run before and after differentiation."""
    for p in (fold_constants, inline_fills, simplify, cse, dce):
        graph = p(graph)
    return graph
