"""nn.Parameter: a Tensor subclass that requires grad by default, prints as
"Parameter containing:", shares memory with its data, keeps its identity through
`.data` assignment and in-place optimizer updates, and gives plain tensors from ops."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import tracer
from tracer.nn import Parameter


def test_parameter_is_a_tensor_requiring_grad_by_default():
    p = Parameter(tracer.zeros(2))
    assert isinstance(p, tracer.Tensor)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None


def test_requires_grad_false_is_kept():
    assert not Parameter(tracer.zeros(2), requires_grad=False).requires_grad


def test_no_data_gives_an_empty_float_parameter():
    p = Parameter()
    assert p.shape == (0,) and p.dtype == np.float32 and p.requires_grad


def test_integer_data_cannot_require_grad():
    with pytest.raises(TypeError, match="only tensors of floating point dtype can require"):
        Parameter(tracer.zeros(2, dtype=tracer.int64))
    assert not Parameter(tracer.zeros(2, dtype=tracer.int64), requires_grad=False).requires_grad


def test_non_tensor_data_is_refused():
    with pytest.raises(TypeError, match="data must be a tensor"):
        Parameter([1.0, 2.0])


def test_parameter_shares_memory_and_version_with_its_data():
    x = tracer.zeros(2)
    p = Parameter(x)
    x.add_(1)
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, 1.0])
    assert p._version[0] == x._version[0] == 1


def test_parameter_made_from_a_result_is_a_detached_leaf():
    a = tracer.ones(2, requires_grad=True)
    p = Parameter(a * 3)
    assert p.is_leaf and p.requires_grad
    np.testing.assert_array_equal(p.detach().numpy(), [3.0, 3.0])


REPRS = [
    (
        "float32",
        lambda: Parameter(tracer.zeros(2)),
        "Parameter containing:\ntensor([0., 0.], requires_grad=True)",
    ),
    (
        "no_grad",
        lambda: Parameter(tracer.zeros(2), requires_grad=False),
        "Parameter containing:\ntensor([0., 0.])",
    ),
    (
        "float64",
        lambda: Parameter(tracer.tensor([1.5, -2.0], dtype=tracer.float64)),
        "Parameter containing:\ntensor([ 1.5000, -2.0000], dtype=tracer.float64, requires_grad=True)",
    ),
]


@pytest.mark.parametrize("make,text", [c[1:] for c in REPRS], ids=[c[0] for c in REPRS])
def test_repr(make, text):
    assert repr(make()) == text and str(make()) == text


@pytest.mark.parametrize("values", [[0.0, 0.0], [1.5, -2.0]])
def test_repr_matches_torch(values):
    torch = pytest.importorskip("torch")
    for rg in (True, False):
        theirs = repr(torch.nn.Parameter(torch.tensor(values), requires_grad=rg))
        assert repr(Parameter(tracer.tensor(values), requires_grad=rg)) == theirs


@pytest.mark.parametrize(
    "op",
    [lambda p: p * 2, lambda p: p.detach(), lambda p: p[0], lambda p: p.data, lambda p: p.t()],
    ids=["mul", "detach", "index", "data", "t"],
)
def test_ops_on_a_parameter_give_plain_tensors(op):
    assert type(op(Parameter(tracer.ones(2, 2)))) is tracer.Tensor


def test_data_assignment_keeps_identity_grad_and_requires_grad():
    p = Parameter(tracer.zeros(2))
    p.grad = tracer.ones(2)
    new = tracer.tensor([1.0, 2.0, 3.0], dtype=tracer.float64)
    p.data = new
    assert p.shape == (3,) and p.dtype == np.float64 and p.requires_grad
    assert type(p) is Parameter and p.grad is not None
    new.add_(1)  # p now shares new's memory
    np.testing.assert_array_equal(p.detach().numpy(), [2.0, 3.0, 4.0])


@pytest.mark.parametrize(
    "value,exc,text",
    [
        (3, TypeError, "Variable data has to be a tensor, but got int"),
        (tracer.zeros(2, dtype=tracer.int64), RuntimeError, "must be floating point"),
    ],
    ids=["not_tensor", "int_for_a_grad_parameter"],
)
def test_bad_data_assignment_raises_and_keeps_the_data(value, exc, text):
    p = Parameter(tracer.zeros(2))
    with pytest.raises(exc, match=text):
        p.data = value
    assert p.shape == (2,) and p.dtype == np.float32


def test_in_place_update_under_no_grad_keeps_the_parameter():
    p = Parameter(tracer.ones(2))
    with tracer.no_grad():
        q = p.sub_(0.5)
    assert q is p and type(p) is Parameter
    np.testing.assert_array_equal(p.detach().numpy(), [0.5, 0.5])


def test_in_place_update_with_grad_on_raises_like_any_leaf():
    p = Parameter(tracer.ones(2))
    with pytest.raises(tracer.AutogradError, match="leaf tensor that requires grad"):
        p.add_(1)


def test_optimizer_step_updates_the_parameter_in_place():
    p = Parameter(tracer.tensor([1.0, 2.0]))
    (p * p).sum().backward()
    tracer.optim.SGD([p], lr=0.5).step()
    assert type(p) is Parameter
    np.testing.assert_allclose(p.detach().numpy(), [1.0 - 0.5 * 2, 2.0 - 0.5 * 4])


def test_deepcopy_gives_a_parameter_with_its_own_memory():
    p = Parameter(tracer.ones(2), requires_grad=False)
    c = copy.deepcopy(p)
    assert type(c) is Parameter and not c.requires_grad
    with tracer.no_grad():
        c.fill_(5)
    np.testing.assert_array_equal(p.numpy(), [1.0, 1.0])
