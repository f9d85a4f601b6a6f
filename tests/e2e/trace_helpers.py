"""Helpers shared by the tracing tests: comparisons, and the graphs behind a traced
function (the optimised forward graph, the split forward/backward pair, and
value_and_grad's joint graph)."""

from __future__ import annotations

from typing import Any

import numpy as np

import tracer
from compiler.ir import Graph


def assert_close(actual: Any, expected: Any, err_msg: str = "") -> None:
    """Equal dtype and shape; values within float32 (rtol 1e-5, atol 1e-6) or float64
    (rtol 1e-12, atol 1e-13) tolerance, atol scaled by the expected magnitude."""
    a, e = np.asarray(actual), np.asarray(expected)
    assert (a.dtype, a.shape) == (e.dtype, e.shape), err_msg
    if a.dtype.kind != "f":
        np.testing.assert_array_equal(a, e, err_msg=err_msg)
        return
    rtol, atol = (1e-5, 1e-6) if a.dtype == np.float32 else (1e-12, 1e-13)
    finite = np.abs(e[np.isfinite(e)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * scale, err_msg=err_msg)


def tensors(arrays: Any, requires_grad: bool = False) -> list[tracer.Tensor]:
    """Fresh tensors (copies); floating point ones require grad if asked."""
    return [tracer.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f") for a in arrays]


def float_positions(arrays: Any) -> tuple[int, ...]:
    return tuple(i for i, a in enumerate(arrays) if a.dtype.kind == "f")


def forward_graph(f: Any, *args: Any) -> Graph:
    """The optimised forward graph a traced function runs for these arguments."""
    return f._entry(args, {})[0].graph


def split_graphs(f: Any, *args: Any) -> tuple[Graph, Graph]:
    """(forward with residuals, backward) of a traced function, w.r.t. the inputs that
    require grad (every float input if none does)."""
    s = f._split_for(args, {})
    return s.forward, s.backward


def joint_graph(vg: Any, *args: Any) -> Graph:
    """The joint forward+backward graph of a value_and_grad / grad function."""
    entry, leaves = vg._entry(args, {})
    return vg._joint(entry)[1]
