"""Shared fixtures. `tests/` is on sys.path (rootdir conftest), so tests can
`import opspecs`.

The suite compiles into a temporary cache directory, never the user's: this module
points TRACER_CACHE_DIR at a directory made for the session before any test runs.
pytest-xdist workers and the subprocesses that tests start inherit the variable, so
they share that directory; it is removed when the session's main process exits.
Kernels compile synchronously (TRACER_COMPILE=sync), likewise inherited.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pytest

import tracer
from compiler.registry import OPS, AVal
from tracer.tensor import Tensor


def _use_session_cache() -> None:
    if "PYTEST_XDIST_WORKER" in os.environ:  # a worker: its controller already set it
        return
    path = tempfile.mkdtemp(prefix="tracegrad-tests-cache-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["TRACER_CACHE_DIR"] = path
    # numba's machine code goes next to the generated modules, not to a user's
    # NUMBA_CACHE_DIR (read at each compile; the variable matters for subprocesses)
    os.environ.pop("NUMBA_CACHE_DIR", None)
    numba.config.CACHE_DIR = ""
    # kernels compile in the calling thread, as before background compilation: a test
    # checks the kernel it asked for (tests/runtime/test_background.py checks the rest)
    os.environ["TRACER_COMPILE"] = "sync"


_use_session_cache()


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
