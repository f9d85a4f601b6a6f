"""Stage composite ops into the primitives they are defined with.

A `Composite` op (mean, softmax, the losses) is defined once by a function
written with the Operand methods. Before code generation, `decompose` runs that
function on symbolic values, so the equation becomes the primitives it is made
of and fuses with its neighbours. The new equations keep the composite's source
line, and `origin` maps each to the equation it came from (for the comments of
the generated code).
"""

from __future__ import annotations

from compiler.builder import GraphBuilder, Sym
from compiler.ir import Atom, Eqn, Graph, Var
from compiler.lowering import Composite

__all__ = ["decompose"]


def _sub(env: dict[Var, Atom], a: Atom) -> Atom:
    return env.get(a, a) if isinstance(a, Var) else a


def _once(graph: Graph, before: dict[Eqn, Eqn]) -> tuple[Graph, dict[Eqn, Eqn]]:
    b = GraphBuilder(warn_above=None)
    b.inputs = list(graph.inputs)
    env: dict[Var, Atom] = {}
    origin: dict[Eqn, Eqn] = {}
    for e in graph.eqns:
        inputs = [_sub(env, a) for a in e.inputs]
        if not isinstance(e.op.lowering, Composite):
            new = Eqn(e.op, inputs, e.params, e.outputs, e.source_loc)
            b.eqns.append(new)
            if e in before:
                origin[new] = before[e]
            continue
        start = len(b.eqns)
        b.location = e.source_loc
        args = [Sym(b, a) if isinstance(a, Var) else a.value.item() for a in inputs]
        result = e.op.lowering.fn(*args, **e.params)
        b.location = None
        results = result if e.op.multiple_results else (result,)
        for v, r in zip(e.outputs, results):
            env[v] = b._atom(r)
        for new in b.eqns[start:]:
            origin[new] = before.get(e, e)
    if b.consts or b.captured:
        raise AssertionError(
            "a composite's definition made a constant array or read a tensor "
            "from outside: it must be written with ops on its inputs only"
        )
    outputs = [_sub(env, a) for a in graph.outputs]
    return Graph(list(graph.inputs), b.eqns, outputs, dict(graph.consts)), origin


def decompose(graph: Graph) -> tuple[Graph, dict[Eqn, Eqn]]:
    """(the graph with every composite equation replaced by the primitives its
    definition stages, {new equation: the original equation it came from})."""
    origin: dict[Eqn, Eqn] = {}
    while any(isinstance(e.op.lowering, Composite) for e in graph.eqns):
        graph, origin = _once(graph, origin)  # a composite defined with another: again
    return graph, origin
