"""Composite ops run on numpy arrays: the numpy impl of a `Composite` lowering.

A composite op (softmax, logsumexp, the losses) is defined once, by a function
written with the Operand methods. Staged into a graph, that function records
primitive equations (`compiler.decompose`); here it runs on `Value`s, plain
arrays whose ops call each primitive's impl at once and record nothing. So the
eager result, the interpreter's and the compiled kernel's all come from the one
definition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.operand import Operand

__all__ = ["Value", "composite_impl"]


class Value(Operand):
    """A numpy array with the Operand methods; every op runs its numpy impl."""

    __slots__ = ("array",)
    # above the tracer's symbolic values: a composite evaluated while a trace is being
    # recorded (constant folding, say) must still compute, not stage
    _priority = 3

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    @property
    def shape(self) -> tuple[int, ...]:  # type: ignore[override]
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:  # type: ignore[override]
        return self.array.dtype

    def _const(self, value: np.ndarray) -> Value:
        return Value(np.asarray(value))

    def detach(self) -> Value:
        """A plain array has no history to cut (VJP rules call detach on their operands)."""
        return self

    def _bind(
        self, op_name: str, inputs: Sequence[Any], params: dict[str, Any], name: str | None
    ) -> Any:
        op, typing = _rule(op_name)
        if op.nullary:
            return Value(np.asarray(op.impl(**params)))
        values = [x.array if type(x) is Value else x for x in inputs]
        if typing is not None:
            values, _ = dtypes.cast_operands(typing, op_name, values, params)
        out = op.impl(*values, **params)
        if op.multiple_results:
            return tuple(Value(np.asarray(o)) for o in out)
        return Value(out if type(out) is np.ndarray else np.asarray(out))


# op name -> (op, its typing rule if elementwise), looked up once per op
_RULES: dict[str, tuple[Any, Any]] = {}


def _rule(op_name: str) -> tuple[Any, Any]:
    rule = _RULES.get(op_name)
    if rule is None:
        from compiler.registry import OPS

        op = OPS[op_name]
        rule = _RULES[op_name] = (op, op.lowering.typing if op.elementwise else None)
    return rule


def _aval(a: np.ndarray) -> Any:
    from compiler.registry import AVal

    return AVal(a.shape, a.dtype)


def composite_impl(op: Any) -> Callable[..., Any]:
    """The numpy impl of composite `op`: its definition run on `Value`s."""
    fn = op.lowering.fn

    def impl(*arrays: Any, **params: Any) -> Any:
        # the definition could compute something for operands the op refuses (an
        # integer softmax): its shape and dtype rule says first
        op.abstract_eval(
            *[a if dtypes.is_scalar(a) else _aval(np.asarray(a)) for a in arrays], **params
        )
        out = fn(
            *[Value(np.asarray(a)) if not dtypes.is_scalar(a) else a for a in arrays], **params
        )
        if op.multiple_results:
            return tuple(o.array for o in out)
        return out.array

    impl.__name__ = f"{op.name}_impl"
    return impl
