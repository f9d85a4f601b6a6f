"""In-place updates inside traced functions behave as in eager mode, at every call.

An update of a tensor from outside the function (a buffer, a parameter under no_grad),
of an argument, or through a view (`.data`, `detach()`, indexing, reshape, transpose,
flip) is staged into the graph and written back after each call. Every case runs the
same Python function eagerly on one set of tensors and traced on a copy, over several
calls, and compares results and tensors after each call (the oracle is eager mode).
"""

from __future__ import annotations

import numpy as np
import pytest

import tracer


def _copies(*arrays):
    return [tracer.tensor(np.array(a, dtype=np.float32)) for a in arrays]


def data_add(w, x):
    w.data.add_(x)  # the old way of updating a parameter
    return x * w


def detach_mul(w, x):
    w.detach().mul_(2)
    return w + x


def row_zero(w, x):
    w[0].zero_()
    return (w * x).sum()


def reshape_setitem(w, x):
    w.view(-1)[1] = x.sum()
    return w * 1


def transpose_update(w, x):
    w.t()[0].add_(x[0])
    return w.sum()


def flip_update(w, x):
    flipped = w.flip(0)  # a copy, as in PyTorch: w does not change
    flipped[0] = x[1]
    return w * 1 + flipped


def slice_of_slice(w, x):
    w[1:][0, 1:].sub_(x[1, 0])
    return w * 1


VIEWS = [
    data_add,
    detach_mul,
    row_zero,
    reshape_setitem,
    transpose_update,
    flip_update,
    slice_of_slice,
]


@pytest.mark.parametrize("fn", VIEWS, ids=[f.__name__ for f in VIEWS])
def test_updates_of_an_outside_tensor_through_views_match_eager(fn):
    start = [[1.0, 2.0], [3.0, 4.0]]
    (eager_w,) = _copies(start)
    (traced_w,) = _copies(start)
    f = tracer.trace(lambda x: fn(traced_w, x))
    for k in range(3):
        x = tracer.tensor([[0.5 + k, -1.0], [2.0, 0.25 * k]])
        want = fn(eager_w, x)
        got = f(x)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
        np.testing.assert_allclose(traced_w.numpy(), eager_w.numpy(), rtol=1e-6)
    assert f.cache_info().misses == 1


def add_to_argument(x, y):
    x += y
    return x * 2


def set_argument_item(x, y):
    x[0] = y.sum()
    return x.sum()


def update_argument_view(x, y):
    x.view(4)[::2].mul_(y.view(4)[1::2])
    return x


ARGS = [add_to_argument, set_argument_item, update_argument_view]


@pytest.mark.parametrize("fn", ARGS, ids=[f.__name__ for f in ARGS])
def test_updates_of_arguments_reach_the_callers_tensor(fn):
    f = tracer.trace(fn)
    for k in range(3):
        y = tracer.tensor([[1.0 + k, 2.0], [-3.0, 0.5]])
        eager_x, traced_x = _copies([[1.0, 2.0], [3.0, 4.0 + k]], [[1.0, 2.0], [3.0, 4.0 + k]])
        want = fn(eager_x, y)
        got = f(traced_x, y)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
        np.testing.assert_allclose(traced_x.numpy(), eager_x.numpy(), rtol=1e-6)


def test_a_buffer_the_function_makes_starts_fresh_at_every_call():
    def f(x):
        buf = tracer.zeros(3)
        buf += x  # eager: a new zero buffer per call, so no accumulation across calls
        buf[0] = 7.0
        return buf * 2

    g = tracer.trace(f)
    for k in range(3):
        x = tracer.tensor([1.0, 2.0, 3.0]) * (k + 1)
        assert g(x).tolist() == f(x).tolist()
    assert g.cache_info().misses == 1


def test_state_the_function_creates_and_keeps_is_updated_then_read_at_every_call():
    def step(state, x):
        if "m" not in state:
            state["m"] = tracer.zeros(3)  # made by the first call, kept afterwards
        state["m"].mul_(0.5).add_(x)
        return state["m"] * 1

    eager_state, traced_state = {}, {}
    f = tracer.trace(lambda x: step(traced_state, x))
    for k in range(4):
        x = tracer.tensor([1.0, -2.0, 0.5]) * (k + 1)
        np.testing.assert_allclose(f(x).numpy(), step(eager_state, x).numpy(), rtol=1e-6)
        np.testing.assert_allclose(traced_state["m"].numpy(), eager_state["m"].numpy())
    # traced again once: the state did not exist during the first trace
    assert f.cache_info().misses == 2


def test_value_and_grad_writes_back_its_updates_and_differentiates_the_rest():
    count = tracer.zeros(())
    w = tracer.tensor([1.0, 2.0])

    def loss(x):
        with tracer.no_grad():
            count.add_(1)
        return (x * w).pow(2).sum() * count.detach()

    vg = tracer.value_and_grad(loss)
    x = tracer.tensor([0.5, -1.0])
    for n in (1.0, 2.0, 3.0):
        value, g = vg(x)
        assert count.item() == n
        expected = ((x * w) ** 2).sum() * n
        np.testing.assert_allclose(value.item(), expected.item(), rtol=1e-6)
        np.testing.assert_allclose(g.numpy(), (2 * x * w * w * n).numpy(), rtol=1e-6)


def test_a_leaf_that_requires_grad_is_refused_outside_no_grad_as_eagerly():
    w = tracer.ones(2, requires_grad=True)
    f = tracer.trace(lambda x: w.add_(x))
    with pytest.raises(tracer.AutogradError, match="leaf tensor that requires grad"):
        f(tracer.ones(2))
    assert w.tolist() == [1.0, 1.0]
