"""The op contract: a new op is one declaration, and then it works everywhere.

This module declares two ops of its own, each in one place: an elementwise op
(`cube`, with its numpy impl, VJP, typing rule and scalar expression) and a
composite op (`demo_softplus`, a softplus defined once with Operand methods in its stable form).
Nothing else in the library is touched, yet both run eagerly, traced on the
interpreter (tests/e2e runs it unless a test is marked `jit`), differentiated to
second order and compiled to numba. Expected
values come from numpy and float64 finite differences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from trace_helpers import assert_close

import tracer
from compiler.dtypes import floating
from compiler.lowering import Composite
from compiler.operand import apply
from compiler.ops.elementwise import elementwise
from compiler.registry import OPS, AVal, Op, register


def _softplus(x: Any) -> Any:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x
    return x.relu() + (-x.abs()).exp().log1p()


def _softplus_abstract(x: AVal) -> AVal:
    return AVal(tuple(x.shape), x.dtype)


@pytest.fixture(scope="module")
def ops():
    """Declare the two ops (one statement each); remove them afterwards."""
    elementwise(
        "cube",
        lambda x: x * x * x,
        lambda g, out, x: (g * x * x * 3,),
        lambda c, x: f"{x} * {x} * {x}",
        typing=floating,
        grad_fn="CubeBackward0",
    )
    register(
        Op(
            "demo_softplus",
            _softplus_abstract,
            None,
            lambda g, out, x: (g * x.sigmoid(),),
            grad_fn="SoftplusBackward0",
            lowering=Composite(_softplus),
        )
    )
    yield
    del OPS["cube"], OPS["demo_softplus"]


def program(x: Any) -> Any:
    return (apply("cube", x) * 0.5 + apply("demo_softplus", x * 3)).sum()


def expected(x: np.ndarray) -> float:
    return float((x**3 * 0.5 + np.logaddexp(0, x * 3)).sum())


def finite_difference(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        g.flat[i] = (expected(x + e) - expected(x - e)) / (2 * eps)
    return g


X = np.array([[-30.0, -1.5, 0.0], [0.25, 2.0, 40.0]])  # softplus at 120: no overflow


def test_eager_value_gradient_and_node_names(ops):
    x = tracer.tensor(X, requires_grad=True)
    y = program(x)
    y.backward()
    np.testing.assert_allclose(y.item(), expected(X), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), finite_difference(X), rtol=1e-6, atol=1e-8)
    assert apply("cube", x).grad_fn.name() == "CubeBackward0"
    assert apply("demo_softplus", x).grad_fn.name() == "SoftplusBackward0"


def test_eager_second_order_matches_the_analytic_second_derivative(ops):
    x = tracer.tensor(X, requires_grad=True)
    (g,) = tracer.autograd.grad(program(x), x, create_graph=True)
    (h,) = tracer.autograd.grad(g.sum(), x)
    s = 1 / (1 + np.exp(-3 * X))  # d2/dx2 [x**3 / 2 + softplus(3x)] = 3x + 9 s (1 - s)
    np.testing.assert_allclose(h.numpy(), 3 * X + 9 * s * (1 - s), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_traced_on_the_interpreter_equals_eager(ops, dtype):
    x = tracer.tensor(X.astype(dtype))
    value, grad = tracer.value_and_grad(program)(x)
    xe = tracer.tensor(X.astype(dtype), requires_grad=True)
    eager = program(xe)
    eager.backward()
    assert_close(value, eager.detach())
    assert_close(grad, xe.grad)


@pytest.mark.jit
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_equals_eager_and_the_expression_is_in_the_kernel(ops, dtype):
    x = tracer.tensor(X.astype(dtype))
    vg = tracer.value_and_grad(program)
    value, grad = vg(x)
    xe = tracer.tensor(X.astype(dtype), requires_grad=True)
    eager = program(xe)
    eager.backward()
    assert (value.dtype, grad.dtype) == (np.dtype(dtype), np.dtype(dtype))
    assert_close(value, eager.detach())
    assert_close(grad, xe.grad)
    assert " = demo_softplus " in vg.ir(x)  # one equation in the IR, staged when lowered
    source = vg.source(x)
    assert " = cube " in source and "(from demo_softplus -> " in source
