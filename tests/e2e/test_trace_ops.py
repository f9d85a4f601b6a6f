"""Every row of the op-spec table, traced and run by the reference interpreter.

* the traced forward equals the eager forward (same dtype, shape and values), in
  every dtype the row lists, and leaves its inputs unmodified;
* gradients equal eager ones through all three entry points: `out.backward(v)` on a
  `tracer.trace`d function, `tracer.grad` and `tracer.value_and_grad` of
  `(fn(*xs) * v).sum()`; an input the output does not depend on gets no `.grad`
  (None, as eagerly) from backward() and a zero gradient from grad();
* in float64 the traced gradient agrees with finite differences of the traced forward;
* `typecheck` accepts the forward graph, the split forward and backward graphs and
  value_and_grad's joint graph;
* rows whose output shape depends on values (boolean masks) raise a TraceError.
"""

from __future__ import annotations

import numpy as np
import pytest
from opspecs import SPECS, OpSpec
from trace_helpers import (
    assert_close,
    float_positions,
    forward_graph,
    joint_graph,
    split_graphs,
    tensors,
)

import tracer
from compiler.ir import typecheck

EPS = 1e-6
TRACEABLE = [s for s in SPECS if not s.data_dependent]


def _params(pred, dtypes=None):
    return [
        pytest.param(s, d, id=f"{s.name}-{d}")
        for s in TRACEABLE
        if pred(s)
        for d in s.dtypes
        if dtypes is None or d in dtypes
    ]


def cotangent(out: tracer.Tensor, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)


def eager_value(spec: OpSpec, arrays) -> tracer.Tensor:
    with tracer.no_grad():
        return spec.fn(*tensors(arrays))


def eager_grads(spec: OpSpec, arrays, v: np.ndarray) -> list:
    """The .grad of every float input after fn(*xs).backward(v), eagerly (None: unused)."""
    xs = tensors(arrays, requires_grad=True)
    spec.fn(*xs).backward(tracer.tensor(v))
    return [xs[i].grad for i in float_positions(arrays)]


def as_array(g, like: np.ndarray) -> np.ndarray:
    return np.zeros_like(like) if g is None else np.asarray(g)


@pytest.mark.parametrize("spec,dtype", _params(lambda s: True))
def test_traced_forward_equals_eager(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs(dtype)
    expected = eager_value(spec, arrays)
    xs = tensors(arrays)
    f = tracer.trace(spec.fn)
    out = f(*xs)
    assert out.grad_fn is None
    assert_close(out, expected)
    assert_close(f(*xs), expected)  # the cached graph, again
    assert f.cache_info()[:2] == (1, 1)
    for x, a in zip(xs, arrays):
        np.testing.assert_array_equal(x.numpy(), a)


@pytest.mark.parametrize("spec,dtype", _params(lambda s: s.differentiable))
def test_backward_through_traced_function_equals_eager(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs(dtype)
    v = cotangent(eager_value(spec, arrays))
    expected = eager_grads(spec, arrays, v)
    xs = tensors(arrays, requires_grad=True)
    out = tracer.trace(spec.fn)(*xs)
    assert out.grad_fn.name() == "CompiledFunctionBackward"
    out.backward(tracer.tensor(v))
    for i, e in zip(float_positions(arrays), expected):
        g = xs[i].grad
        assert (g is None) == (e is None), f"input {i}: .grad {g} but eagerly {e}"
        if g is not None:
            assert_close(g, e, err_msg=f"input {i}")
        np.testing.assert_array_equal(xs[i].detach().numpy(), arrays[i])


@pytest.mark.parametrize("spec,dtype", _params(lambda s: s.differentiable))
def test_grad_and_value_and_grad_equal_eager(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs(dtype)
    v = tracer.tensor(cotangent(eager_value(spec, arrays)))
    positions = float_positions(arrays)

    def loss(*xs):
        return (spec.fn(*xs) * v).sum()

    xs = tensors(arrays, requires_grad=True)
    eager_loss = loss(*xs)
    eager_loss.backward()
    expected = [as_array(xs[i].grad, arrays[i]) for i in positions]

    xs = tensors(arrays)
    grads = tracer.grad(loss, argnums=positions)(*xs)
    value, grads2 = tracer.value_and_grad(loss, argnums=positions)(*xs)
    assert_close(value, eager_loss.detach())
    for i, e, g, g2 in zip(positions, expected, grads, grads2):
        assert_close(g, e, err_msg=f"grad, input {i}")
        assert_close(g2, e, err_msg=f"value_and_grad, input {i}")
    for x, a in zip(xs, arrays):
        np.testing.assert_array_equal(x.numpy(), a)


@pytest.mark.parametrize(
    "spec,dtype", _params(lambda s: s.differentiable and not s.no_fd, dtypes=("float64",))
)
def test_traced_gradient_matches_finite_differences(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs("float64")
    f = tracer.trace(spec.fn)
    v = cotangent(f(*tensors(arrays)))

    def value(a) -> float:
        return float((np.asarray(f(*tensors(a))) * v).sum())

    positions = float_positions(arrays)
    grads = tracer.grad(lambda *xs: (spec.fn(*xs) * tracer.tensor(v)).sum(), argnums=positions)(
        *tensors(arrays)
    )
    for i, g in zip(positions, grads):
        numeric = np.zeros(arrays[i].shape)
        for k in range(arrays[i].size):
            hi = [a.copy() for a in arrays]
            lo = [a.copy() for a in arrays]
            hi[i].flat[k] += EPS
            lo[i].flat[k] -= EPS
            numeric.flat[k] = (value(hi) - value(lo)) / (2 * EPS)
        np.testing.assert_allclose(
            np.asarray(g),
            numeric,
            rtol=spec.grad_tol.rtol,
            atol=spec.grad_tol.atol,
            err_msg=f"input {i}",
        )


@pytest.mark.parametrize("spec,dtype", _params(lambda s: True))
def test_graphs_typecheck(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs(dtype)
    f = tracer.trace(spec.fn)
    typecheck(forward_graph(f, *tensors(arrays)))
    if not spec.differentiable:
        return
    forward, backward = split_graphs(f, *tensors(arrays, requires_grad=True))
    typecheck(forward)
    typecheck(backward)
    v = tracer.tensor(cotangent(eager_value(spec, arrays)))
    vg = tracer.value_and_grad(
        lambda *xs: (spec.fn(*xs) * v).sum(), argnums=float_positions(arrays)
    )
    typecheck(joint_graph(vg, *tensors(arrays)))


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in SPECS if s.data_dependent])
def test_data_dependent_shapes_raise_trace_error(spec: OpSpec):
    arrays = spec.make_inputs(spec.dtypes[0])
    with pytest.raises(tracer.TraceError, match="depends on the mask's values"):
        tracer.trace(spec.fn)(*tensors(arrays))
