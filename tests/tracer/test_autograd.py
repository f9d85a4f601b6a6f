"""The eager autograd engine: accumulation, retain_grad/retain_graph, higher-order
gradients, hooks, autograd.grad, gradcheck, deep graphs, grad modes, detach and
in-place ops with version counters. Expected values are the calculus (2x, 6x,
...) computed with numpy."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tracer
from tracer import AutogradError

X = [0.5, -1.25, 2.0]


def leaf(values=X, dtype=tracer.float64):
    return tracer.tensor(values, dtype=dtype, requires_grad=True)


def np_(t) -> np.ndarray:
    return t.detach().numpy()


# ---- accumulation, retain_grad, gradient=, retain_graph -----------------------------


def test_two_backward_calls_accumulate_into_grad():
    x = leaf()
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(np_(x.grad), 4 * np.array(X))


def test_grad_accumulates_over_two_uses_in_one_graph():
    x = leaf()
    (x * 3 + x.sin()).sum().backward()
    np.testing.assert_allclose(np_(x.grad), 3 + np.cos(X))


def test_zeroing_grad_restarts_accumulation():
    x = leaf()
    (x * 2).sum().backward()
    x.grad.zero_()
    (x * 5).sum().backward()
    np.testing.assert_allclose(np_(x.grad), [5.0, 5.0, 5.0])


def test_non_leaf_grad_is_none_without_retain_grad():
    x = leaf()
    y = x * 2
    y.sum().backward()
    assert y.grad is None


def test_retain_grad_keeps_non_leaf_gradient():
    x = leaf()
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward()
    assert (y.retains_grad, np_(y.grad).tolist()) == (True, (4 * np.array(X)).tolist())


def test_retain_grad_survives_an_in_place_op():
    x = leaf()
    y = x * 2
    y.retain_grad()
    y.add_(1)
    y.sum().backward()
    assert np_(y.grad).tolist() == [1.0, 1.0, 1.0]


def test_backward_gradient_weights_the_outputs():
    x = leaf()
    (x**2).backward(gradient=tracer.tensor([1.0, 0.0, -2.0], dtype=tracer.float64))
    np.testing.assert_allclose(np_(x.grad), 2 * np.array(X) * [1.0, 0.0, -2.0])


def test_retain_graph_allows_a_second_backward():
    x = leaf()
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(np_(x.grad), 2 * (np.exp(X) * (1 + np.array(X))))


def test_second_backward_without_retain_graph_raises():
    x = leaf()
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(AutogradError, match="second time"):
        y.backward()


def test_graph_of_linear_ops_saves_nothing_and_can_be_walked_twice():
    x = leaf()
    y = (x * 2 + 1).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(np_(x.grad), [4.0, 4.0, 4.0])


def test_backward_with_inputs_only_fills_those():
    x, w = leaf(), leaf([1.0, 2.0, 3.0])
    (x * w).sum().backward(inputs=[w])
    assert (x.grad, np_(w.grad).tolist()) == (None, X)


# ---- higher order -----------------------------------------------------------------------


def test_second_derivative_of_cube_is_six_x():
    x = leaf()
    (g,) = tracer.autograd.grad((x**3).sum(), x, create_graph=True)
    (gg,) = tracer.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(np_(gg), 6 * np.array(X))


def test_third_derivative_of_cube_is_six():
    x = leaf()
    (g,) = tracer.autograd.grad((x**3).sum(), x, create_graph=True)
    (gg,) = tracer.autograd.grad(g.sum(), x, create_graph=True)
    (ggg,) = tracer.autograd.grad(gg.sum(), x)
    np.testing.assert_allclose(np_(ggg), [6.0, 6.0, 6.0])


def test_second_derivative_of_tanh():
    x = leaf()
    (g,) = tracer.autograd.grad(x.tanh().sum(), x, create_graph=True)
    (gg,) = tracer.autograd.grad(g.sum(), x)
    t = np.tanh(X)
    np.testing.assert_allclose(np_(gg), -2 * t * (1 - t**2))


def test_backward_create_graph_gives_a_differentiable_grad():
    x = leaf()
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    x.grad = None
    g.sum().backward()
    assert (g.grad_fn is not None, np_(x.grad).tolist()) == (True, (6 * np.array(X)).tolist())


def test_hessian_vector_product_of_quadratic_form():
    a = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])
    x = leaf()
    A = tracer.tensor(a)
    (g,) = tracer.autograd.grad((x @ A @ x) / 2, x, create_graph=True)
    v = np.array([1.0, -1.0, 2.0])
    (hv,) = tracer.autograd.grad(g @ tracer.tensor(v), x)
    np.testing.assert_allclose(np_(hv), a @ v)


# ---- hooks ----------------------------------------------------------------------------


def test_leaf_hook_can_replace_the_gradient():
    x = leaf()
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    np.testing.assert_allclose(np_(x.grad), [20.0, 20.0, 20.0])


def test_leaf_hook_returning_none_observes_only():
    x = leaf()
    seen = []
    x.register_hook(lambda g: seen.append(np_(g).tolist()))
    (x * 2).sum().backward()
    assert (seen, np_(x.grad).tolist()) == ([[2.0, 2.0, 2.0]], [2.0, 2.0, 2.0])


def test_non_leaf_hook_changes_what_flows_upstream():
    x = leaf()
    y = x * 2
    y.register_hook(lambda g: g * 0.5)
    (y * 3).sum().backward()
    np.testing.assert_allclose(np_(x.grad), [3.0, 3.0, 3.0])


def test_removed_hook_is_not_called():
    x = leaf()
    y = x * 2
    handle = y.register_hook(lambda g: g * 100)
    handle.remove()
    y.sum().backward()
    np.testing.assert_allclose(np_(x.grad), [2.0, 2.0, 2.0])


def test_removed_leaf_hook_is_not_called():
    x = leaf()
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    x.sum().backward()
    np.testing.assert_allclose(np_(x.grad), [1.0, 1.0, 1.0])


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(AutogradError, match="doesn't require grad"):
        tracer.ones(2).register_hook(lambda g: g)


# ---- autograd.grad ------------------------------------------------------------------------


def test_autograd_grad_returns_without_touching_dot_grad():
    x = leaf()
    (g,) = tracer.autograd.grad((x**2).sum(), [x])
    assert (np_(g).tolist(), x.grad) == ((2 * np.array(X)).tolist(), None)


def test_autograd_grad_of_several_inputs_in_order():
    x, w = leaf(), leaf([1.0, 2.0, 3.0])
    gx, gw = tracer.autograd.grad((x * w).sum(), (x, w))
    assert (np_(gx).tolist(), np_(gw).tolist()) == ([1.0, 2.0, 3.0], X)


def test_autograd_grad_unused_input_raises_without_allow_unused():
    x, unused = leaf(), leaf()
    with pytest.raises(AutogradError, match="allow_unused=True"):
        tracer.autograd.grad((x * 2).sum(), [x, unused])


def test_autograd_grad_unused_input_is_none_with_allow_unused():
    x, unused = leaf(), leaf()
    gx, gu = tracer.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert (np_(gx).tolist(), gu) == ([2.0, 2.0, 2.0], None)


def test_autograd_grad_of_a_non_leaf_input():
    x = leaf()
    y = x * 2
    (gy,) = tracer.autograd.grad((y**2).sum(), y)
    np.testing.assert_allclose(np_(gy), 4 * np.array(X))


def test_autograd_grad_with_grad_outputs():
    x = leaf()
    (g,) = tracer.autograd.grad(
        x * 3, x, grad_outputs=tracer.tensor([1.0, 2.0, 0.0], dtype=tracer.float64)
    )
    np.testing.assert_allclose(np_(g), [3.0, 6.0, 0.0])


def test_autograd_grad_create_graph_result_requires_grad():
    x = leaf()
    (g,) = tracer.autograd.grad((x**2).sum(), x, create_graph=True)
    assert g.requires_grad


def test_autograd_grad_without_create_graph_result_is_constant():
    x = leaf()
    (g,) = tracer.autograd.grad((x**2).sum(), x)
    assert (g.requires_grad, g.grad_fn) == (False, None)


# ---- gradcheck ---------------------------------------------------------------------------


def test_gradcheck_passes_on_a_correct_function():
    x = leaf()
    w = tracer.tensor(
        [[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]], dtype=tracer.float64, requires_grad=True
    )
    assert tracer.autograd.gradcheck(lambda a, b: (a @ b).tanh() * a.sum(), (x, w))


def _wrong_square(x):
    """d/dx (x * x) with one factor detached: the analytic gradient is x, not 2x."""
    return x * x.detach()


def test_gradcheck_returns_false_on_a_wrong_gradient():
    assert tracer.autograd.gradcheck(_wrong_square, (leaf(),), raise_exception=False) is False


def test_gradcheck_raises_on_a_wrong_gradient():
    with pytest.raises(AutogradError, match="Jacobian mismatch"):
        tracer.autograd.gradcheck(_wrong_square, (leaf(),))


def test_gradcheck_catches_an_error_hidden_by_summation():
    """Values x[[1, 0, 2]] with an identity gradient: every column of the Jacobian
    sums to the right number, so only an element-wise check sees the error."""

    def permuted_with_identity_gradient(x):
        return x + (x[[1, 0, 2]] - x).detach()

    assert (
        tracer.autograd.gradcheck(permuted_with_identity_gradient, (leaf(),), raise_exception=False)
        is False
    )


def test_gradcheck_requires_float64_inputs():
    with pytest.raises(AutogradError, match="float64"):
        tracer.autograd.gradcheck(lambda x: x * 2, (leaf(dtype=tracer.float32),))


# ---- deep graphs, determinism -----------------------------------------------------------


def test_ten_thousand_op_chain_backward_without_recursion_error():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(np_(x.grad), [1.0001**10_000])
    del y  # freeing the chain must not recurse either


def test_ten_thousand_op_chain_create_graph():
    x = leaf([0.5])
    y = x
    for _ in range(10_000):
        y = y + x * 1e-4
    (g,) = tracer.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(np_(g), [2.0])


def test_backward_visits_nodes_in_the_same_order_every_time():
    def run():
        order = []
        x = leaf()
        a, b = x * 2, x.exp()
        c, d = a * b, a + b
        for name, t in (("a", a), ("b", b), ("c", c), ("d", d)):
            t.register_hook(lambda g, name=name: order.append(name))
        (c.sum() + d.sum()).backward()
        return order, np_(x.grad)

    (order1, g1), (order2, g2) = run(), run()
    assert (order1, g1.tobytes()) == (order2, g2.tobytes())
    assert order1[:2] == ["d", "c"]  # latest created first once ready


def test_shared_subgraph_runs_once_all_consumers_are_done():
    calls = []
    x = leaf()
    a = x * 2
    a.register_hook(lambda g: calls.append(np_(g).tolist()))
    (a * 3 + a * 4).sum().backward()
    assert calls == [[7.0, 7.0, 7.0]]


# ---- grad modes -------------------------------------------------------------------------


def test_no_grad_context_records_nothing():
    x = leaf()
    with tracer.no_grad():
        y = x * 2
    assert (y.requires_grad, y.grad_fn, tracer.is_grad_enabled()) == (False, None, True)


def test_enable_grad_inside_no_grad_records():
    x = leaf()
    with tracer.no_grad():
        with tracer.enable_grad():
            y = x * 2
        z = x * 2
    assert (y.requires_grad, z.requires_grad) == (True, False)


def test_set_grad_enabled_as_context_manager():
    x = leaf()
    with tracer.set_grad_enabled(False):
        y = x * 2
        inside = tracer.is_grad_enabled()
    assert (y.requires_grad, inside, tracer.is_grad_enabled()) == (False, False, True)


def test_set_grad_enabled_as_a_call_takes_effect_at_once():
    tracer.set_grad_enabled(False)
    off = tracer.is_grad_enabled()
    tracer.set_grad_enabled(True)
    assert (off, tracer.is_grad_enabled()) == (False, True)


@pytest.mark.parametrize(
    "make_mode",
    [tracer.no_grad, lambda: tracer.set_grad_enabled(False)],
    ids=["no_grad", "set_grad_enabled"],
)
def test_grad_mode_as_decorator(make_mode):
    x = leaf()

    @make_mode()
    def f(t):
        return t * 2

    assert (f(x).requires_grad, tracer.is_grad_enabled()) == (False, True)


def test_enable_grad_decorator_inside_no_grad():
    x = leaf()

    @tracer.enable_grad()
    def f(t):
        return t * 2

    with tracer.no_grad():
        y = f(x)
    assert y.requires_grad


def test_no_grad_decorated_function_keeps_its_name():
    """no_grad() instances decorate, as in PyTorch."""

    @tracer.no_grad()
    def step():
        return tracer.is_grad_enabled()

    assert (step(), step.__name__) == (False, "step")


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError), tracer.no_grad():
        raise ValueError
    assert tracer.is_grad_enabled()


def test_grad_mode_is_thread_local():
    inside, other_thread_saw = threading.Event(), []
    done = threading.Event()

    def other():
        inside.wait(5)
        x = leaf()
        other_thread_saw.append(((x * 2).requires_grad, tracer.is_grad_enabled()))
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with tracer.no_grad():
        inside.set()
        done.wait(5)
        main_saw = tracer.is_grad_enabled()
    t.join()
    assert (other_thread_saw, main_saw) == ([(True, True)], False)


# ---- detach, requires_grad_ --------------------------------------------------------------


def test_detach_shares_data_and_drops_history():
    x = leaf()
    d = (x * 2).detach()
    assert (d.requires_grad, d.grad_fn, d.is_leaf) == (False, None, True)


def test_detach_shares_memory_with_the_original():
    x = leaf()
    d = x.detach()
    d[0] = 100.0
    assert x.detach().numpy()[0] == 100.0


def test_detach_in_place_makes_a_leaf():
    x = leaf()
    y = x * 2
    y.detach_()
    assert (y.requires_grad, y.grad_fn, y.is_leaf) == (False, None, True)


def test_requires_grad_on_a_leaf_in_place():
    x = tracer.ones(2)
    assert x.requires_grad_() is x and x.requires_grad


def test_requires_grad_false_on_a_non_leaf_raises():
    y = leaf() * 2
    with pytest.raises(AutogradError, match="leaf"):
        y.requires_grad_(False)


def test_requires_grad_setter():
    x = tracer.zeros(3)
    x.requires_grad = True
    assert (x.requires_grad, x.is_leaf) == (True, True)


# ---- in-place ops and version counters ----------------------------------------------------


def test_sgd_update_under_no_grad_keeps_a_leaf():
    w = leaf()
    (w * w).sum().backward()
    with tracer.no_grad():
        w -= 0.1 * w.grad
    assert (np_(w).tolist(), w.is_leaf, w.requires_grad, w.grad_fn) == (
        (np.array(X) - 0.2 * np.array(X)).tolist(),
        True,
        True,
        None,
    )


def test_in_place_bumps_the_version_counter():
    t = tracer.zeros(3)
    t.add_(1)
    t.mul_(2)
    t[0] = 5.0
    assert t._version[0] == 3


def test_add_in_place_on_non_leaf_is_recorded():
    x = leaf()
    y = x * 2
    y.add_(x)
    y.sum().backward()
    assert (y.grad_fn.name(), np_(x.grad).tolist()) == ("AddBackward0", [3.0, 3.0, 3.0])


@pytest.mark.parametrize(
    "op,grad",
    [
        (lambda y, z: y.mul_(z), lambda x, z: 2 * z),
        (lambda y, z: y.div_(z), lambda x, z: 2 / z),
        (lambda y, z: y.sub_(z), lambda x, z: 2 + 0 * z),
        (lambda y, z: y.__iadd__(z), lambda x, z: 2 + 0 * z),
    ],
)
def test_in_place_with_a_tensor_that_requires_grad(op, grad):
    x, z = leaf(), leaf([3.0, 4.0, 5.0])
    y = x * 2
    op(y, z)
    y.sum().backward()
    np.testing.assert_allclose(np_(x.grad), grad(np.array(X), np.array([3.0, 4.0, 5.0])))


def test_mul_in_place_gives_the_other_operand_the_original_value():
    x, z = leaf(), leaf([3.0, 4.0, 5.0])
    y = x * 2
    y.mul_(z)
    y.sum().backward()
    np.testing.assert_allclose(np_(z.grad), 2 * np.array(X))


def test_changing_a_saved_input_in_place_raises_naming_the_op():
    x = leaf()
    a = x * 1
    y = a * a
    a.add_(1)
    with pytest.raises(AutogradError, match="MulBackward0"):
        y.sum().backward()


def test_changing_a_saved_output_in_place_raises_naming_the_op():
    x = leaf()
    y = x.exp()
    y.add_(1)
    with pytest.raises(AutogradError, match="ExpBackward0"):
        y.sum().backward()


def test_changing_a_saved_leaf_through_detach_raises():
    x = leaf()
    y = x.sin()
    x.detach().mul_(2)
    with pytest.raises(AutogradError, match="SinBackward0"):
        y.sum().backward()


def test_in_place_on_leaf_requiring_grad_raises_before_mutating():
    x = leaf()
    with pytest.raises(AutogradError, match="leaf"):
        x.add_(1)
    assert (np_(x).tolist(), x._version[0]) == (X, 0)


def test_in_place_on_leaf_requiring_grad_is_fine_under_no_grad():
    x = leaf()
    with tracer.no_grad():
        x.mul_(2)
    assert np_(x).tolist() == (2 * np.array(X)).tolist()


def test_setitem_without_grad_writes_in_place():
    t = tracer.zeros(2, 3)
    t[1, 1:] = tracer.tensor([7.0, 8.0])
    t[0] = 1.0
    assert t.tolist() == [[1.0, 1.0, 1.0], [0.0, 7.0, 8.0]]


def test_setitem_with_grad_routes_gradients_to_both_sides():
    x = leaf()
    v = tracer.tensor(5.0, dtype=tracer.float64, requires_grad=True)
    y = x.clone()
    y[0] = v
    (y * tracer.tensor([1.0, 2.0, 3.0], dtype=tracer.float64)).sum().backward()
    assert (y.grad_fn.name(), np_(x.grad).tolist(), v.grad.item()) == (
        "CopySlices",
        [0.0, 2.0, 3.0],
        1.0,
    )


def test_setitem_on_leaf_requiring_grad_raises_before_mutating():
    x = leaf()
    with pytest.raises(AutogradError, match="leaf"):
        x[0] = 3.0
    assert np_(x).tolist() == X


def test_setitem_of_a_tensor_requiring_grad_into_a_plain_tensor_records():
    buf = tracer.zeros(3, dtype=tracer.float64)
    v = leaf([2.0])
    buf[1:2] = v * 3
    buf.sum().backward()
    assert (buf.requires_grad, v.grad.tolist()) == (True, [3.0])


def test_in_place_on_a_view_while_recording_raises_clearly():
    x = leaf()
    y = x * 1
    with pytest.raises(AutogradError, match="view"):
        y[1:].mul_(2)


def test_retained_grad_sees_the_gradient_after_the_tensors_hooks():
    # PyTorch runs a retain_grad() tensor's other hooks first, whatever the order
    x = leaf()
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    np.testing.assert_allclose(np_(y.grad), np.full(3, 10.0))
    np.testing.assert_allclose(np_(x.grad), np.full(3, 20.0))
