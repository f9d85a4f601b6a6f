"""Reverse-mode differentiation of a graph with the registry's VJP rules.

The VJP rules run on `Sym`s, so they append their equations to a builder that
already holds the forward equations: the result is one joint graph. `split`
cuts it into a forward graph that also returns the residuals the backward
needs, and a backward graph taking (residuals, output cotangents).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compiler.builder import GraphBuilder, Sym
from compiler.dispatch import tracing
from compiler.errors import TraceError
from compiler.ir import Atom, Graph, Var
from compiler.passes import dce


@dataclass
class Joint:
    """A forward+backward graph: inputs are the primal inputs then the output
    cotangents (if any); outputs are the primal outputs then one gradient per
    differentiated input."""

    graph: Graph
    n_primal_inputs: int
    n_primal_outputs: int
    # per differentiated input: whether any output depends on it (else its gradient
    # is a zero constant)
    connected: list[bool] = field(default_factory=list)


def active_vars(graph: Graph, wrt: list[bool]) -> set[Var]:
    """Variables that depend differentiably on the inputs marked in `wrt`."""
    active = {v for v, w in zip(graph.inputs, wrt) if w}
    for e in graph.eqns:
        if not any(isinstance(a, Var) and a in active for a in e.inputs):
            continue
        if e.op.vjp is not None:
            active.update(v for v in e.outputs if v.aval.dtype.kind == "f")
        elif e.op.no_derivative is not None:
            where = f" at {e.source_loc}" if e.source_loc else ""
            raise TraceError(f"{e.op.no_derivative}{where}")
    return active


def _with_residuals(graph: Graph, active: set[Var]) -> Graph:
    """`graph` with each differentiated equation whose op keeps residuals of its own (a
    loop's carries) replaced by the equation that also returns them."""
    eqns = [
        e.op.with_residuals(e)
        if e.op.with_residuals is not None and any(v in active for v in e.outputs)
        else e
        for e in graph.eqns
    ]
    return Graph(list(graph.inputs), eqns, list(graph.outputs), dict(graph.consts))


def joint_vjp(
    graph: Graph, wrt: list[bool], seed_ones: bool = False, n_diff: int | None = None
) -> Joint:
    """Differentiate `graph` with respect to the inputs flagged in `wrt`.

    With `seed_ones`, the (scalar) outputs' cotangents are the constant 1
    (value_and_grad); otherwise they become extra graph inputs. Only the first `n_diff`
    outputs (all by default) are differentiated; the others (has_aux's auxiliary
    values) stay outputs of the joint graph, after the gradients:
    (outputs[:n_diff], grads, outputs[n_diff:]).
    """
    n_diff = len(graph.outputs) if n_diff is None else n_diff
    active = active_vars(graph, wrt)
    graph = _with_residuals(graph, active)
    b = GraphBuilder(warn_above=None)  # the trace itself has warned if it is large
    b.inputs = list(graph.inputs)
    b.eqns = list(graph.eqns)
    ct: dict[Var, Sym] = {}

    def add_ct(v: Atom, g: Any) -> None:
        if g is None or not isinstance(v, Var) or v not in active:
            return
        if not isinstance(g, Sym):  # a Python number (a rule scaled a literal)
            g = Sym(b, v).full_like(g)
        if tuple(g.shape) != tuple(v.aval.shape):
            g = g.sum_to(tuple(v.aval.shape))
        if g.dtype != v.aval.dtype:
            g = g.to(v.aval.dtype)
        ct[v] = g if v not in ct else ct[v] + g

    # VJP rules apply ops to b's values: b is the active trace while they run (also when
    # this runs inside another trace: a grad staged into an enclosing function)
    outer, tracing.builder = tracing.builder, b
    try:
        ct_inputs: list[Var] = []
        for out in graph.outputs[:n_diff]:
            if seed_ones:
                if isinstance(out, Var) and out in active:
                    add_ct(out, Sym(b, out).ones_like())
            else:
                s = Sym(b, Var(out.aval))
                ct_inputs.append(s.ir_var)
                add_ct(out, s)

        for e in reversed(graph.eqns):
            if e.op.vjp is None or not any(v in ct for v in e.outputs):
                continue
            b.location = e.source_loc
            ins = [Sym(b, a) if isinstance(a, Var) else a.value.item() for a in e.inputs]
            outs = [Sym(b, v) for v in e.outputs]
            if e.op.multiple_results:
                gs = tuple(ct.get(v) for v in e.outputs)
                gs = tuple(g if g is not None else o.zeros_like() for g, o in zip(gs, outs))
                results = e.op.vjp(gs, tuple(outs), *ins, **e.params)
            else:
                results = e.op.vjp(ct[e.outputs[0]], outs[0], *ins, **e.params)
            for a, g in zip(e.inputs, results):
                add_ct(a, g)
    finally:
        tracing.builder = outer
    b.location = None

    grads: list[Atom] = []
    connected: list[bool] = []
    for v, w in zip(graph.inputs, wrt):
        if not w:
            continue
        connected.append(v in ct)
        if v in ct:
            grads.append(ct[v].ir_var)
        else:  # the output does not depend on this input
            grads.append(Sym(b, v).zeros_like().ir_var)
    outputs = list(graph.outputs[:n_diff]) + grads + list(graph.outputs[n_diff:])
    joint = Graph(list(graph.inputs) + ct_inputs, b.eqns, outputs, dict(graph.consts))
    return Joint(dce(joint), len(graph.inputs), n_diff, connected)


@dataclass
class Split:
    forward: Graph  # inputs -> outputs + residuals
    backward: Graph  # residuals + output cotangents -> gradients
    n_residuals: int


def split(joint: Joint) -> Split:
    """Cut a joint graph (with cotangent inputs) into forward and backward graphs."""
    g = joint.graph
    # Partial evaluation: whatever does not depend on a cotangent is forward work.
    tainted = set(g.inputs[joint.n_primal_inputs :])
    fwd_eqns, bwd_eqns = [], []
    fwd_defined = set(g.inputs[: joint.n_primal_inputs])
    for e in g.eqns:
        if any(isinstance(a, Var) and a in tainted for a in e.inputs):
            bwd_eqns.append(e)
            tainted.update(e.outputs)
        else:
            fwd_eqns.append(e)
            fwd_defined.update(e.outputs)
    primal_outs = g.outputs[: joint.n_primal_outputs]
    grad_outs = g.outputs[joint.n_primal_outputs :]
    ct_inputs = g.inputs[joint.n_primal_inputs :]
    residuals: list[Var] = []
    seen: set[Var] = set()
    uses = [a for e in bwd_eqns for a in e.inputs] + list(grad_outs)
    for a in uses:
        if isinstance(a, Var) and a in fwd_defined and a not in seen:
            seen.add(a)
            residuals.append(a)
    consts = dict(g.consts)
    forward = dce(
        Graph(g.inputs[: joint.n_primal_inputs], fwd_eqns, list(primal_outs) + residuals, consts)
    )
    backward = dce(Graph(residuals + list(ct_inputs), bwd_eqns, list(grad_outs), {}))
    return Split(forward, backward, len(residuals))
