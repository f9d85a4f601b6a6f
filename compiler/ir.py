"""The IR: a flat, typed graph in which every variable is assigned once.

{ lambda a:f32[5] .
  let b:f32[5] = mul a a        # tour.py:12
      c:f32[5] = sub b 5.0      # tour.py:12
  in ( c ) }
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.registry import AVal, Op

_ids = itertools.count()


class Var:
    """A value in a graph, bound once, by a graph input or an equation output."""

    __slots__ = ("aval", "id")

    def __init__(self, aval: AVal) -> None:
        self.aval = aval
        self.id = next(_ids)

    def __repr__(self) -> str:
        return f"Var#{self.id}:{self.aval}"


class Literal:
    """A scalar constant, typed (its dtype is the one the op computes in)."""

    __slots__ = ("value", "aval")

    def __init__(self, value: Any, dtype: np.dtype, weak: bool = False) -> None:
        self.value = dtype.type(value)
        self.aval = AVal((), dtype, weak)

    def __repr__(self) -> str:
        v = self.value.item()
        return repr(v)

    def key(self) -> tuple[Any, ...]:
        return ("lit", self.aval.dtype.str, self.aval.weak, self.value.tobytes())


Atom = Var | Literal


@dataclass(eq=False)
class Eqn:
    """outputs = op[params](*inputs), recorded at the user's `source_loc`."""

    op: Op
    inputs: list[Atom]
    params: dict[str, Any]
    outputs: list[Var]
    source_loc: str = ""


@dataclass(eq=False)
class Graph:
    inputs: list[Var]
    eqns: list[Eqn]
    outputs: list[Atom]
    # Non-scalar constants made during tracing (index lists, captured arrays) are
    # graph inputs too; `consts` maps such input vars to their fixed values.
    consts: dict[Var, np.ndarray] = field(default_factory=dict)

    def __str__(self) -> str:
        return pretty(self)


def _fmt_param(v: Any) -> str:
    if isinstance(v, np.dtype):
        from compiler.dtypes import short_name

        return short_name(v)
    return repr(v)


def pretty(graph: Graph, show_source: bool = True) -> str:
    """The graph as text: one equation a line, shapes and dtypes, source line as comment.
    The graphs an equation holds (a loop's body, a cond's branches) print nested below
    it, indented, with names unique across all of them."""
    return "\n".join(_pretty(graph, {}, show_source))


def _sub_graphs(params: dict[str, Any]) -> list[tuple[str, Graph]]:
    out = []
    for k, v in params.items():
        if isinstance(v, Graph):
            out.append((k, v))
        elif isinstance(v, tuple) and v and all(isinstance(g, Graph) for g in v):
            out += [(f"{k}[{j}]", g) for j, g in enumerate(v)]
    return out


def _pretty(graph: Graph, names: dict[Var, str], show_source: bool) -> list[str]:
    def name(v: Atom) -> str:
        if isinstance(v, Literal):
            return repr(v)
        if v not in names:
            names[v] = var_name(len(names))
        return names[v]

    def decl(v: Var) -> str:
        return f"{name(v)}:{v.aval}"

    head = " ".join(decl(v) for v in graph.inputs)
    lines: list[tuple[str, str, list[str]]] = []
    for e in graph.eqns:
        subs = _sub_graphs(e.params)
        params = {
            k: v
            for k, v in e.params.items()
            if v is not None and v is not False and not any(k == s.split("[")[0] for s, _ in subs)
        }
        p = (
            "[" + " ".join(f"{k}={_fmt_param(v)}" for k, v in params.items()) + "]"
            if params
            else ""
        )
        lhs = " ".join(decl(v) for v in e.outputs)
        rhs = " ".join(name(a) for a in e.inputs)
        nested: list[str] = []
        for label, g in subs:
            block = _pretty(g, names, show_source)
            nested += ["  " + label + "=" + block[0]]
            nested += ["  " + " " * (len(label) + 1) + line for line in block[1:]]
        lines.append((f"{lhs} = {e.op.name}{p} {rhs}".rstrip(), e.source_loc, nested))
    width = max((len(text) for text, _, _ in lines), default=0)
    body = []
    for i, (text, loc, nested) in enumerate(lines):
        prefix = "  let " if i == 0 else "      "
        comment = f"  # {loc}" if show_source and loc else ""
        body.append(prefix + text.ljust(width if comment else 0) + comment)
        body += ["      " + line for line in nested]
    outs = " ".join(name(v) for v in graph.outputs)
    return [f"{{ lambda {head} ."] + body + [f"  in ( {outs} ) }}"]


def var_name(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = letters[r] + s
    return s


class TypeCheckError(AssertionError):
    """The graph breaks an IR invariant (a compiler bug, not a user error)."""


def _check_explicit(e: Eqn) -> None:
    """An elementwise equation's inputs are already in the dtypes its typing rule
    converts them to, and already broadcast to its shape (code generators never
    convert or broadcast)."""
    wanted, _ = e.op.lowering.typing(e.op.name, [a.aval for a in e.inputs], **e.params)
    for a, d in zip(e.inputs, wanted):
        if a.aval.dtype != d:
            raise TypeCheckError(
                f"{e.op.name}: input {a!r} is {a.aval.dtype}, the op "
                f"computes in {d} (a convert is missing)"
            )
        if isinstance(a, Var) and tuple(a.aval.shape) != tuple(e.outputs[0].aval.shape):
            raise TypeCheckError(
                f"{e.op.name}: input {a!r} is not broadcast to the result's "
                f"shape {e.outputs[0].aval.shape}"
            )


def typecheck(graph: Graph) -> None:
    """Verify single assignment, def-before-use, constants, literals, and every
    equation's types."""
    defined: set[Var] = set()
    for v in graph.inputs:
        if v in defined:
            raise TypeCheckError(f"input {v} appears twice")
        defined.add(v)
    for v, value in graph.consts.items():
        if v not in defined:
            raise TypeCheckError(f"constant {v} is not a graph input")
        if (tuple(value.shape), value.dtype) != (tuple(v.aval.shape), v.aval.dtype):
            raise TypeCheckError(f"constant {v} holds a {value.dtype}{list(value.shape)} array")

    def check(a: Atom, where: str) -> None:
        if isinstance(a, Literal):
            if a.value.dtype != a.aval.dtype or a.aval.shape != ():
                raise TypeCheckError(f"{where}: literal {a!r} is not a {a.aval}")
        elif not isinstance(a, Var):
            raise TypeCheckError(f"{where}: {a!r} is neither a Var nor a Literal")
        elif a not in defined:
            raise TypeCheckError(f"{where}: {a} used before it is defined")

    for e in graph.eqns:
        for a in e.inputs:
            check(a, f"{e.op.name}")
        if e.op.elementwise:
            _check_explicit(e)
        expected = e.op.abstract_eval(*[a.aval for a in e.inputs], **e.params)
        expected = (
            expected
            if isinstance(expected, tuple) and not isinstance(expected, AVal)
            else (expected,)
        )
        if len(expected) != len(e.outputs):
            raise TypeCheckError(f"{e.op.name}: {len(e.outputs)} outputs, expected {len(expected)}")
        for v, aval in zip(e.outputs, expected):
            if v in defined:
                raise TypeCheckError(f"{e.op.name}: {v} assigned twice")
            if tuple(v.aval.shape) != tuple(aval.shape) or v.aval.dtype != aval.dtype:
                raise TypeCheckError(f"{e.op.name}: output {v} should be {aval}")
            defined.add(v)
    for a in graph.outputs:
        check(a, "graph output")
