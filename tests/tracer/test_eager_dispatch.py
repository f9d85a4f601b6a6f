"""The eager fast paths change no answer.

Eager ops remember their typing rules' answers (by op, params, operand dtypes and
number types, and the default dtype), and backward() without create_graph runs the
VJP rules on plain arrays. Questions that look alike but have different answers
must still get their own: `2` and `2.0`, `1` and `True`, before and after
set_default_dtype. Expected dtypes follow PyTorch's promotion rules; expected
gradients are analytic."""

from __future__ import annotations

import numpy as np
import pytest

import tracer

# (case, make the result, expected dtype); run in order, each twice, so a remembered
# answer of one case would show up as a wrong dtype in the next
PROMOTION = [
    ("int ** int exponent stays int", lambda: tracer.tensor([2, 3]) ** 2, tracer.int64),
    ("int ** float exponent is float", lambda: tracer.tensor([2, 3]) ** 2.0, tracer.float32),
    ("bool + True stays bool", lambda: tracer.tensor([True]) + True, tracer.bool),
    ("bool + 1 is int64", lambda: tracer.tensor([True]) + 1, tracer.int64),
    ("int32 * 2 stays int32", lambda: tracer.tensor([1], dtype=tracer.int32) * 2, tracer.int32),
    (
        "int32 * 2.5 is float32",
        lambda: tracer.tensor([1], dtype=tracer.int32) * 2.5,
        tracer.float32,
    ),
    (
        "float32 + 0-d float64 stays float32",
        lambda: tracer.ones(2) + tracer.tensor(1.0, dtype=tracer.float64),
        tracer.float32,
    ),
    (
        "float32 + 1-d float64 is float64",
        lambda: tracer.ones(2) + tracer.ones(1, dtype=tracer.float64),
        tracer.float64,
    ),
]


@pytest.mark.parametrize("case, make, expected", PROMOTION, ids=[c[0] for c in PROMOTION])
def test_alike_operands_promote_as_pytorch(case, make, expected):
    for _ in range(2):
        for _, other, _ in PROMOTION:
            other()
        assert make().dtype is expected


def test_int_times_float_follows_the_default_dtype_when_it_changes():
    x = tracer.tensor([1, 2])
    before = (x * 1.5).dtype
    tracer.set_default_dtype(tracer.float64)
    try:
        during = (x * 1.5).dtype
    finally:
        tracer.set_default_dtype(tracer.float32)
    assert (before, during, (x * 1.5).dtype) == (tracer.float32, tracer.float64, tracer.float32)


def test_an_int_too_large_for_the_tensor_is_refused_every_time():
    x = tracer.tensor([1], dtype=tracer.int32)
    x + 1  # the same question with a number that fits
    for _ in range(2):
        with pytest.raises(tracer.DTypeError, match="does not fit"):
            x + 2**40


CUBE = np.array([-1.5, 0.5, 2.0])


@pytest.mark.parametrize("create_graph", [False, True])
def test_backward_gradients_are_analytic_with_or_without_create_graph(create_graph):
    x = tracer.tensor(CUBE, requires_grad=True)
    ((x**3).sum() + (x * 2 - 1).exp().mean()).backward(create_graph=create_graph)
    expected = 3 * CUBE**2 + 2 * np.exp(2 * CUBE - 1) / 3
    np.testing.assert_allclose(x.grad.detach().numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("create_graph", [False, True])
def test_broadcast_gradient_is_summed_back_to_the_inputs_shape_and_dtype(create_graph):
    w = tracer.ones(3, 1, dtype=tracer.float32, requires_grad=True)
    x = tracer.tensor([[1.0, 2.0]], dtype=tracer.float64)
    (w * x).sum().backward(create_graph=create_graph)
    assert (w.grad.dtype, tuple(w.grad.shape)) == (tracer.float32, (3, 1))
    np.testing.assert_array_equal(w.grad.detach().numpy(), np.full((3, 1), 3.0, np.float32))
