"""Staging ops into a graph: `GraphBuilder` and its symbolic values, `Sym`.

A `Sym` is an Operand, so the same methods (and the same VJP rules) that run
eagerly on Tensors record equations here. The builder makes the IR explicit:
mixed dtypes get `convert`, differing shapes get `broadcast_to`, Python scalars
become typed literals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import TraceError, TracerError
from compiler.ir import Atom, Eqn, Graph, Literal, Var
from compiler.operand import Operand
from compiler.ops.elementwise import broadcast_shapes, elementwise_dtypes
from compiler.registry import OPS, AVal
from compiler.source import describe_location, user_location

_ELEMENTWISE_KINDS = ("same", "float", "compare", "logical", "where")
_SCALARS = (int, float, bool, np.number, np.bool_)


class GraphBuilder:
    """Collects equations. `capture` turns concrete operands into graph inputs."""

    def __init__(self, grad_enabled: Callable[[], bool] = lambda: True) -> None:
        self.inputs: list[Var] = []
        self.eqns: list[Eqn] = []
        self.consts: dict[Var, np.ndarray] = {}
        self.captured: list[tuple[Var, Any]] = []  # (input var, concrete operand)
        self._captured_ids: dict[int, Var] = {}
        self.grad_enabled = grad_enabled
        self.location: str | None = None  # overrides the user's line (autodiff)

    def new_input(self, aval: AVal) -> Sym:
        v = Var(aval)
        self.inputs.append(v)
        return Sym(self, v)

    def const(self, value: np.ndarray) -> Sym:
        v = Var(AVal(tuple(value.shape), value.dtype))
        self.consts[v] = value
        return Sym(self, v)

    def capture(self, x: Any) -> Var:
        """A concrete tensor used inside the trace: read afresh on every call."""
        var = self._captured_ids.get(id(x))
        if var is None:
            var = self._captured_ids[id(x)] = Var(AVal(tuple(x.shape), x.dtype))
            self.captured.append((var, x))
        return var

    def _atom(self, x: Any) -> Atom | Any:
        if isinstance(x, Sym):
            if x.builder is not self:
                raise TraceError(
                    "a traced value escaped from another trace (was it stored in a global "
                    "or closure during an earlier trace?). Pass it as an argument instead.")
            return x.var
        if isinstance(x, Operand):
            return self.capture(x)
        if isinstance(x, np.ndarray):
            return self.const(x).var
        if isinstance(x, _SCALARS):
            return x
        if isinstance(x, (list, tuple)):
            return self.const(np.asarray(x)).var
        raise TypeError(f"unsupported operand of type {type(x).__name__} in traced code")

    def graph(self, outputs: Sequence[Atom]) -> Graph:
        inputs = self.inputs + [v for v, _ in self.captured] + list(self.consts)
        return Graph(inputs, list(self.eqns), list(outputs), dict(self.consts))

    # ---- recording ------------------------------------------------------
    def emit(self, op_name: str, inputs: Sequence[Atom], params: dict[str, Any]) -> list[Var]:
        op = OPS[op_name]
        avals = [a.aval for a in inputs]
        try:
            out = op.abstract_eval(*avals, **params)
        except (TracerError, ValueError, TypeError, IndexError) as e:
            where = describe_location()
            if where:
                raise type(e)(f"{e}\n  traced at {where}") from None
            raise
        outs = out if op.multiple_results else (out,)
        outvars = [Var(a) for a in outs]
        loc = self.location if self.location is not None else user_location()
        self.eqns.append(Eqn(op, list(inputs), params, outvars, loc))
        return outvars

    def bind(self, op_name: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        op = OPS[op_name]
        if op.extra.get("nullary"):
            atoms: list[Any] = []
        else:
            atoms = [self._atom(x) for x in inputs]
        kind = op.extra.get("kind")
        if kind in _ELEMENTWISE_KINDS:
            atoms = self._make_explicit(op_name, kind, atoms)
        else:
            atoms = [a if isinstance(a, Var) else
                     Literal(a, dtypes.scalar_dtype(a)) for a in atoms]
        outvars = self.emit(op_name, atoms, params)
        if not self.grad_enabled() and op.vjp is not None:
            outvars = [self.emit("stop_gradient", [v], {})[0] for v in outvars]
        syms = [Sym(self, v) for v in outvars]
        return tuple(syms) if op.multiple_results else syms[0]

    def _make_explicit(self, op: str, kind: str, atoms: list[Any]) -> list[Atom]:
        """Insert converts and broadcasts; turn scalars into typed literals."""
        values = [a.aval if isinstance(a, Var) else a for a in atoms]
        compute, _ = elementwise_dtypes(kind, op, tuple(values))
        shapes = [tuple(a.aval.shape) for a in atoms if isinstance(a, Var)]
        shape = broadcast_shapes(op, *shapes) if shapes else ()
        out: list[Atom] = []
        for i, a in enumerate(atoms):
            want = dtypes.bool_ if (kind == "where" and i == 0) else compute
            if not isinstance(a, Var):
                out.append(Literal(a, want))
                continue
            if a.aval.dtype != want:
                a = self.emit("convert", [a], {"dtype": want})[0]
            if tuple(a.aval.shape) != shape:
                a = self.emit("broadcast_to", [a], {"shape": shape})[0]
            out.append(a)
        return out


def _no_concrete(what: str, fix: str) -> TraceError:
    where = describe_location()
    return TraceError(
        f"{what} needs a concrete value, but this is a traced tensor inside @tracer.trace"
        + (f"\n  at {where}" if where else "") + f"\n{fix}")


_CONTROL_FLOW_FIX = (
    "Python control flow cannot depend on traced values. Use tracer.where(cond, a, b) "
    "to select values, or make the argument static (static_argnums=... / a Python number).")


class Sym(Operand):
    """A symbolic tensor: an IR variable in a builder, with the Operand methods."""

    __slots__ = ("builder", "var")
    _priority = 2

    def __init__(self, builder: GraphBuilder, var: Var) -> None:
        self.builder = builder
        self.var = var

    @property
    def shape(self) -> tuple[int, ...]:  # type: ignore[override]
        return self.var.aval.shape

    @property
    def dtype(self) -> np.dtype:  # type: ignore[override]
        return self.var.aval.dtype

    @property
    def aval(self) -> AVal:
        return self.var.aval

    @property
    def requires_grad(self) -> bool:
        return False

    def _bind(self, op: str, inputs: Sequence[Any], params: dict[str, Any],
              name: str | None) -> Any:
        return self.builder.bind(op, inputs, params)

    def _const(self, value: np.ndarray) -> Sym:
        return self.builder.const(np.asarray(value))

    def detach(self) -> Sym:
        return Sym(self.builder, self.builder.emit("stop_gradient", [self.var], {})[0])

    def __repr__(self) -> str:
        return f"TracedTensor(shape={tuple(self.shape)}, dtype={self.dtype.name})"

    def __bool__(self) -> bool:
        raise _no_concrete("bool() of a tensor (an `if`, `while`, `and`/`or` or `not`)",
                           _CONTROL_FLOW_FIX)

    def __float__(self) -> float:
        raise _no_concrete("float()", _CONTROL_FLOW_FIX)

    def __int__(self) -> int:
        raise _no_concrete("int()", _CONTROL_FLOW_FIX)

    def __index__(self) -> int:
        raise _no_concrete("using a tensor as a Python index", _CONTROL_FLOW_FIX)

    def item(self) -> Any:
        raise _no_concrete(".item()", _CONTROL_FLOW_FIX)

    def tolist(self) -> Any:
        raise _no_concrete(".tolist()", _CONTROL_FLOW_FIX)

    def numpy(self) -> np.ndarray:
        raise _no_concrete(".numpy()", "Return the tensor from the traced function and "
                                       "convert it outside, or use tracer ops inside.")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise _no_concrete("converting to a numpy array",
                           "Use tracer ops on traced tensors instead of numpy functions "
                           "(tracer.exp, tracer.where, ...), or make the value static.")

    def __iter__(self):  # type: ignore[no-untyped-def]
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))
