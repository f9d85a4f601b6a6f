"""Shared fixtures. `tests/` is on sys.path (rootdir conftest), so tests can
`import opspecs`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import tracer
from compiler.registry import OPS, AVal
from tracer.tensor import Tensor


@dataclass
class OpLog:
    """Every primitive run eagerly while active, checked against its abstract_eval
    (and its `saves` rule against its number of inputs)."""

    names: set[str] = field(default_factory=set)
    mismatches: list[str] = field(default_factory=list)

    def check(self, op_name: str, inputs: Any, params: dict[str, Any], result: Any) -> None:
        self.names.add(op_name)
        op = OPS[op_name]
        avals = [AVal(tuple(x.shape), x.dtype) if isinstance(x, Tensor) else x for x in inputs]
        expected = op.abstract_eval(*avals, **params)
        expected = expected if isinstance(expected, tuple) and op.multiple_results else (expected,)
        got = result if op.multiple_results else (result,)
        if op.differentiable and len(op.saves((True,) * len(inputs))) != len(inputs):
            self.mismatches.append(f"{op_name}: saves() does not answer one flag per input")
        for e, g in zip(expected, got):
            if (tuple(e.shape), np.dtype(e.dtype)) != (tuple(g.shape), g.dtype):
                self.mismatches.append(
                    f"{op_name}{params}: abstract_eval says {AVal(tuple(e.shape), e.dtype)}, "
                    f"impl gave {AVal(tuple(g.shape), g.dtype)}"
                )


@pytest.fixture
def op_log(monkeypatch: pytest.MonkeyPatch) -> OpLog:
    """Record (and shape/dtype-check) every op that Tensor._bind runs."""
    log = OpLog()
    bind = Tensor._bind

    def recording_bind(
        self: Tensor, op: str, inputs: Any, params: dict[str, Any], name: Any
    ) -> Any:
        result = bind(self, op, inputs, params, name)
        log.check(op, inputs, params, result)
        return result

    monkeypatch.setattr(Tensor, "_bind", recording_bind)
    return log


@pytest.fixture(autouse=True)
def _grad_mode_restored():
    """A test that leaves grad mode off would silently change the tests after it."""
    yield
    left_disabled = not tracer.is_grad_enabled()
    tracer.set_grad_enabled(True)
    assert not left_disabled, "test left grad mode disabled"
