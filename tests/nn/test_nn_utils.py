"""nn.utils: clip_grad_norm_ (every norm type, non-finite norms), clip_grad_value_,
parameters_to_vector and vector_to_parameters, against hand-computed values and, when
installed, PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tracer
from tracer.nn import Parameter
from tracer.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    get_total_norm,
    parameters_to_vector,
    vector_to_parameters,
)

GRADS = [np.array([3.0, -4.0], np.float32), np.array([[1.0, 2.0], [-2.0, 0.0]], np.float32)]


def params_with_grads(lib, grads=GRADS):
    ps = []
    for g in grads:
        p = lib.zeros(g.shape, requires_grad=True)
        p.grad = lib.tensor(g)
        ps.append(p)
    return ps


# (norm_type, the joint norm of GRADS worked out by hand)
NORMS = [
    (2.0, math.sqrt(9 + 16 + 1 + 4 + 4)),
    (1.0, 3 + 4 + 1 + 2 + 2),
    (math.inf, 4.0),
    (3.0, (27 + 64 + 1 + 8 + 8) ** (1 / 3)),
    (0.5, (math.sqrt(3) + 2 + 1 + math.sqrt(2) * 2) ** 2),
]


@pytest.mark.parametrize("norm_type,total", NORMS)
def test_clip_grad_norm_returns_the_norm_and_scales_to_max_norm(norm_type, total):
    ps = params_with_grads(tracer)
    norm = clip_grad_norm_(ps, max_norm=1.0, norm_type=norm_type)
    assert norm.item() == pytest.approx(total, rel=1e-6)
    scale = 1.0 / (total + 1e-6)
    for p, g in zip(ps, GRADS):
        np.testing.assert_allclose(p.grad.numpy(), g * scale, rtol=1e-6)


def test_clip_grad_norm_leaves_small_gradients_alone():
    ps = params_with_grads(tracer)
    clip_grad_norm_(ps, max_norm=100.0)
    for p, g in zip(ps, GRADS):
        np.testing.assert_array_equal(p.grad.numpy(), g)


def test_clip_grad_norm_accepts_a_single_tensor_and_skips_missing_grads():
    p = tracer.zeros(2, requires_grad=True)
    assert clip_grad_norm_(p, 1.0).item() == 0.0
    q = params_with_grads(tracer)[0]
    assert clip_grad_norm_([p, q], 1.0).item() == pytest.approx(5.0)


def test_non_finite_norm_raises_when_asked_and_changes_nothing():
    ps = params_with_grads(tracer, [np.array([np.inf, 1.0], np.float32)])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(ps[0].grad.numpy(), [np.inf, 1.0])


@pytest.mark.parametrize("norm_type,_", NORMS)
def test_clip_grad_norm_matches_torch(norm_type, _):
    torch = pytest.importorskip("torch")
    ours, theirs = params_with_grads(tracer), params_with_grads(torch)
    n_o = clip_grad_norm_(ours, 2.0, norm_type)
    n_t = torch.nn.utils.clip_grad_norm_(theirs, 2.0, norm_type)
    assert n_o.item() == pytest.approx(n_t.item(), rel=1e-6)
    assert n_o.dtype == np.float32 and n_o.shape == ()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)


def test_get_total_norm_of_no_tensors_is_zero():
    assert get_total_norm([]).item() == 0.0


def test_clip_grad_value_clamps_in_place():
    ps = params_with_grads(tracer)
    g = ps[1].grad
    clip_grad_value_(ps, 1.5)
    assert ps[1].grad is g
    np.testing.assert_array_equal(ps[0].grad.numpy(), [1.5, -1.5])
    np.testing.assert_array_equal(ps[1].grad.numpy(), [[1.0, 1.5], [-1.5, 0.0]])


def test_parameters_to_vector_concatenates_and_is_differentiable():
    a = Parameter(tracer.tensor([[1.0, 2.0], [3.0, 4.0]]))
    b = Parameter(tracer.tensor([5.0]))
    v = parameters_to_vector([a, b])
    np.testing.assert_array_equal(v.detach().numpy(), [1, 2, 3, 4, 5])
    (v * tracer.arange(5.0)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[0, 1], [2, 3]])
    np.testing.assert_array_equal(b.grad.numpy(), [4])


def test_vector_to_parameters_shares_the_vectors_memory():
    a, b = Parameter(tracer.zeros(2, 2)), Parameter(tracer.zeros(1))
    vec = tracer.arange(5.0)
    vector_to_parameters(vec, [a, b])
    np.testing.assert_array_equal(a.detach().numpy(), [[0, 1], [2, 3]])
    assert b.item() == 4.0 and type(a) is Parameter
    vec.add_(10)
    assert b.item() == 14.0


@pytest.mark.parametrize(
    "vec,exc",
    [([1.0, 2.0], TypeError), (tracer.zeros(4), ValueError)],
    ids=["not_tensor", "wrong_size"],
)
def test_vector_to_parameters_refuses_bad_vectors(vec, exc):
    a = Parameter(tracer.zeros(5))
    with pytest.raises(exc):
        vector_to_parameters(vec, [a])
    assert not a.detach().numpy().any()
