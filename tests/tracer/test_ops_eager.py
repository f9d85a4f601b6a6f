"""Every row of the op-spec table, run eagerly.

* forward values agree with the numpy reference, in float32 and float64;
* first-order gradients (vector-Jacobian products with a random cotangent) agree
  with central finite differences in float64, element by element;
* second-order gradients (create_graph=True: the gradient of grad . w) agree with
  finite differences of the first-order gradient;
* inputs are not modified by the forward or the backward pass;
* every primitive run (forward and backward) has the shape and dtype its
  abstract_eval predicts;
* results carry PyTorch's grad_fn name, and gradients have their input's dtype.
"""

from __future__ import annotations

import numpy as np
import pytest
from opspecs import SPECS, OpSpec, exercise

import tracer

EPS = 1e-6


def _params(pred, dtypes=True):
    out = []
    for s in SPECS:
        if not pred(s):
            continue
        for d in s.dtypes if dtypes else ("float64",):
            if dtypes or "float64" in s.dtypes:
                out.append(pytest.param(s, d, id=f"{s.name}-{d}" if dtypes else s.name))
    return out


def tensors(arrays, requires_grad=False):
    return [tracer.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f") for a in arrays]


def evaluate(spec: OpSpec, arrays) -> np.ndarray:
    with tracer.no_grad():
        return np.array(spec.fn(*tensors(arrays)), dtype=np.float64)


def vjp(spec: OpSpec, arrays, v: np.ndarray, create_graph=False):
    """(diff inputs, gradients of sum(fn(x) * v) w.r.t. each float input, zeros if unused)."""
    xs = tensors(arrays, requires_grad=True)
    diff = [x for x in xs if x.requires_grad]
    out = spec.fn(*xs)
    gs = tracer.autograd.grad(
        out, diff, tracer.tensor(v.astype(out.dtype)), create_graph=create_graph, allow_unused=True
    )
    return diff, [tracer.zeros_like(x) if g is None else g for x, g in zip(diff, gs)]


def numeric_gradient(f, arrays, which: int) -> np.ndarray:
    """d f(arrays) / d arrays[which], by central differences, f scalar-valued."""
    x = arrays[which]
    grad = np.zeros(x.shape)
    for i in range(x.size):
        hi = [a.copy() for a in arrays]
        lo = [a.copy() for a in arrays]
        hi[which].flat[i] += EPS
        lo[which].flat[i] -= EPS
        grad.flat[i] = (f(hi) - f(lo)) / (2 * EPS)
    return grad


def float_positions(arrays):
    return [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]


def cotangent(spec: OpSpec, arrays, seed=1) -> np.ndarray:
    shape = evaluate(spec, arrays).shape
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("spec,dtype", _params(lambda s: s.ref is not None))
def test_forward_matches_numpy_reference(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs(dtype)
    out = spec.fn(*tensors(arrays))
    wide = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
    expected = np.asarray(spec.ref(*wide))
    tol = spec.tol(dtype)
    assert out.shape == expected.shape
    np.testing.assert_allclose(
        np.asarray(out, dtype=np.float64), expected.astype(np.float64), rtol=tol.rtol, atol=tol.atol
    )


_first = _params(lambda s: s.differentiable and not s.no_fd and "float64" in s.dtypes, dtypes=False)
_second = _params(
    lambda s: s.differentiable and not s.no_fd and s.second_order and "float64" in s.dtypes,
    dtypes=False,
)


@pytest.mark.parametrize("spec,dtype", _first)
def test_gradient_matches_finite_differences(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs("float64")
    v = cotangent(spec, arrays)
    _, analytic = vjp(spec, arrays, v)
    for k, pos in enumerate(float_positions(arrays)):
        numeric = numeric_gradient(lambda a: float((evaluate(spec, a) * v).sum()), arrays, pos)
        np.testing.assert_allclose(
            np.asarray(analytic[k]),
            numeric,
            rtol=spec.grad_tol.rtol,
            atol=spec.grad_tol.atol,
            err_msg=f"input {pos}",
        )


@pytest.mark.parametrize("spec,dtype", _second)
def test_second_order_gradient_matches_finite_differences(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs("float64")
    v = cotangent(spec, arrays)
    rng = np.random.default_rng(2)
    positions = float_positions(arrays)
    ws = [rng.standard_normal(arrays[p].shape) for p in positions]

    def first_order_dot_w(a) -> float:
        _, gs = vjp(spec, a, v)
        return float(sum((np.asarray(g) * w).sum() for g, w in zip(gs, ws)))

    diff, gs = vjp(spec, arrays, v, create_graph=True)
    h = None
    for g, w in zip(gs, ws):
        term = (g * tracer.tensor(w)).sum()
        h = term if h is None else h + term
    if h.requires_grad:
        analytic = [
            np.zeros(x.shape) if g is None else np.asarray(g.detach())
            for x, g in zip(diff, tracer.autograd.grad(h, diff, allow_unused=True))
        ]
    else:  # the first-order gradient does not depend on the inputs: linear op
        analytic = [np.zeros(x.shape) for x in diff]
    for k, pos in enumerate(positions):
        numeric = numeric_gradient(first_order_dot_w, arrays, pos)
        np.testing.assert_allclose(
            analytic[k], numeric, rtol=1e-5, atol=1e-7, err_msg=f"input {pos}"
        )


@pytest.mark.parametrize("spec,dtype", _params(lambda s: True))
def test_inputs_left_unmodified(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs(dtype)
    xs = tensors(arrays, requires_grad=spec.differentiable)
    out = spec.fn(*xs)
    if out.requires_grad:
        out.backward(tracer.ones_like(out))
    for x, a in zip(xs, arrays):
        np.testing.assert_array_equal(x.detach().numpy(), a)


@pytest.mark.parametrize("spec,dtype", _params(lambda s: True))
def test_every_primitive_matches_its_abstract_eval(spec: OpSpec, dtype: str, op_log):
    exercise(spec, dtype)
    assert op_log.mismatches == []


@pytest.mark.parametrize("spec,dtype", _params(lambda s: s.differentiable))
def test_result_has_pytorch_grad_fn_name(spec: OpSpec, dtype: str):
    out = spec.fn(*tensors(spec.make_inputs(dtype), requires_grad=True))
    assert out.grad_fn.name() == spec.grad_fn


@pytest.mark.parametrize("spec,dtype", _params(lambda s: not s.differentiable))
def test_non_differentiable_result_has_no_grad_fn(spec: OpSpec, dtype: str):
    out = spec.fn(*tensors(spec.make_inputs(dtype), requires_grad=True))
    assert (out.requires_grad, out.grad_fn) == (False, None)


@pytest.mark.parametrize("spec,dtype", _params(lambda s: s.differentiable))
def test_gradients_have_their_inputs_dtype_and_shape(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs(dtype)
    v = cotangent(spec, arrays)
    diff, gs = vjp(spec, arrays, v)
    assert [(g.dtype, g.shape) for g in gs] == [(x.dtype, x.shape) for x in diff]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(s, id=s.name)
        for s in SPECS
        if s.differentiable and not s.no_fd and "float32" in s.dtypes
    ],
)
def test_float32_gradient_agrees_with_float64(spec: OpSpec):
    narrow = spec.make_inputs("float32")
    wide = tuple(a.astype(np.float64) if a.dtype == np.float32 else a for a in narrow)
    v = cotangent(spec, wide)
    _, g32 = vjp(spec, narrow, v)
    _, g64 = vjp(spec, wide, v)
    for a, b in zip(g32, g64):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("spec,dtype", _params(lambda s: s.differentiable))
def test_no_grad_records_nothing(spec: OpSpec, dtype: str):
    xs = tensors(spec.make_inputs(dtype), requires_grad=True)
    with tracer.no_grad():
        out = spec.fn(*xs)
    assert (out.requires_grad, out.grad_fn) == (False, None)
