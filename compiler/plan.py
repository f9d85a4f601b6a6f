"""Lower a graph to a runtime `Plan` of numpy calls (the reference interpreter)."""

from __future__ import annotations

from typing import Any

from compiler.ir import Atom, Graph, Literal, Var, pretty
from runtime.interpreter import Plan, Step


def to_plan(graph: Graph) -> Plan:
    """Number the graph's variables as slots; free each slot after its last use."""
    slots: dict[Var, int] = {}

    def slot(v: Var) -> int:
        if v not in slots:
            slots[v] = len(slots)
        return slots[v]

    def ref(a: Atom) -> Any:
        return ("lit", a.value) if isinstance(a, Literal) else slot(a)

    inputs = tuple(slot(v) for v in graph.inputs)
    last_use: dict[Var, int] = {}
    for i, e in enumerate(graph.eqns):
        for a in e.inputs:
            if isinstance(a, Var):
                last_use[a] = i
    keep = {a for a in graph.outputs if isinstance(a, Var)}
    steps = []
    for i, e in enumerate(graph.eqns):
        free = tuple(
            slot(a)
            for a in dict.fromkeys(e.inputs)
            if isinstance(a, Var) and last_use.get(a) == i and a not in keep
        )
        label = f"{e.op.name}" + (f" (traced at {e.source_loc})" if e.source_loc else "")
        steps.append(
            Step(
                e.op.impl,
                tuple(ref(a) for a in e.inputs),
                tuple(slot(v) for v in e.outputs),
                dict(e.params),
                e.op.multiple_results,
                free,
                label,
            )
        )
    outputs = tuple(ref(a) for a in graph.outputs)
    return Plan(len(slots), inputs, steps, outputs, tuple(a.aval.dtype for a in graph.outputs))


__all__ = ["to_plan", "pretty"]
