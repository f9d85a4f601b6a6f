"""Broadcasting of the binary ops, property-based: random mutually broadcastable
shapes; values against numpy and each gradient summed back to its input's shape
(the engine's one central unbroadcast, tracer/autograd.py `_fit`)."""

from __future__ import annotations

import numpy as np
import pytest

import tracer

hypothesis = pytest.importorskip("hypothesis")
hnp = pytest.importorskip("hypothesis.extra.numpy")
st = hypothesis.strategies

BROADCASTING_OPS = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "maximum": (lambda a, b: tracer.maximum(a, b), np.maximum),
}


def _sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    return (
        g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True) if shape else g
    )


@hypothesis.settings(max_examples=40, deadline=None, derandomize=True)
@hypothesis.given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
    op=st.sampled_from(sorted(BROADCASTING_OPS)),
    seed=st.integers(0, 2**16),
)
def test_broadcasting_binary_ops_sum_gradients_back_to_each_shape(shapes, op, seed):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, sa), rng.uniform(-2, 2, sb) + 5.0  # b > a: no maximum ties
    fn, ref = BROADCASTING_OPS[op]
    ta, tb = tracer.tensor(a, requires_grad=True), tracer.tensor(b, requires_grad=True)
    out = fn(ta, tb)
    v = rng.standard_normal(out_shape)
    out.backward(tracer.tensor(v))
    da = {"add": 1.0, "sub": 1.0, "mul": np.broadcast_to(b, out_shape), "maximum": 0.0}[op]
    db = {"add": 1.0, "sub": -1.0, "mul": np.broadcast_to(a, out_shape), "maximum": 1.0}[op]
    np.testing.assert_allclose(out.detach().numpy(), ref(a, b))
    np.testing.assert_allclose(ta.grad.numpy(), _sum_to(v * da, sa), atol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), _sum_to(v * db, sb), atol=1e-12)
