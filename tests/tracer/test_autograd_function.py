"""Custom autograd.Function, eager: forward/backward, the ctx (save_for_backward with
version checks, needs_input_grad, mark_non_differentiable, mark_dirty,
set_materialize_grads), the setup_context style, higher-order gradients, the checks
on what backward returns, once_differentiable, and the refusal inside @trace.

Expected gradients are the calculus, worked out in numpy; where PyTorch is installed,
the same Function definitions run on torch must agree.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tracer
from tracer import AutogradError
from tracer.autograd import Function, once_differentiable

X = [0.5, -1.25, 2.0]


def leaf(values=X, dtype=tracer.float64):
    return tracer.tensor(values, dtype=dtype, requires_grad=True)


def np_(t):
    return t.detach().numpy()


def functions(autograd):
    """Custom functions written against either library's autograd module."""

    class Exp(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class Cube(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x**2

    class ScaleBy(autograd.Function):
        """x * k for a Python number k: one gradient per argument, None for k."""

        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    class MulAdd(autograd.Function):
        """(x * y, x + y): two outputs, two tensor inputs."""

        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y, x + y

        @staticmethod
        def backward(ctx, g_mul, g_add):
            x, y = ctx.saved_tensors
            return g_mul * y + g_add, g_mul * x + g_add

    class Clip(autograd.Function):
        """Straight-through clamp: the gradient passes unchanged."""

        @staticmethod
        def forward(ctx, x):
            return x.clamp(-1.0, 1.0)

        @staticmethod
        def backward(ctx, g):
            return g

    class Square(autograd.Function):
        """setup_context style."""

        @staticmethod
        def forward(x, power=2):
            return x**power

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.power = inputs[1]

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * ctx.power * x ** (ctx.power - 1), None

    return Exp, Cube, ScaleBy, MulAdd, Clip, Square


Exp, Cube, ScaleBy, MulAdd, Clip, Square = functions(tracer.autograd)

# (id, f(functions, x) -> scalar, d f / d x in numpy)
x_ = np.array(X)
CASES = [
    ("exp", lambda F, x: F[0].apply(x).sum(), np.exp(x_)),
    ("cube", lambda F, x: F[1].apply(x).sum(), 3 * x_**2),
    ("scale_by", lambda F, x: F[2].apply(x, 2.5).sum(), np.full(3, 2.5)),
    ("two_outputs", lambda F, x: sum(t.sum() for t in F[3].apply(x, x * 2)), 4 * x_ + 3),
    ("one_output_used", lambda F, x: F[3].apply(x, x * 2)[0].sum(), 4 * x_),
    ("straight_through", lambda F, x: (F[4].apply(x) * 3).sum(), np.full(3, 3.0)),
    ("setup_context", lambda F, x: F[5].apply(x).sum(), 2 * x_),
    ("setup_context_kwarg", lambda F, x: F[5].apply(x, power=3).sum(), 3 * x_**2),
    ("composed", lambda F, x: F[0].apply(F[1].apply(x)).sum(), np.exp(x_**3) * 3 * x_**2),
]


@pytest.mark.parametrize("f,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gradient_comes_from_the_users_backward(f, expected):
    x = leaf()
    f((Exp, Cube, ScaleBy, MulAdd, Clip, Square), x).backward()
    np.testing.assert_allclose(np_(x.grad), expected, rtol=1e-12)


@pytest.mark.parametrize("f", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_gradient_matches_torch(f):
    torch = pytest.importorskip("torch")
    ours, theirs = leaf(), torch.tensor(X, dtype=torch.float64, requires_grad=True)
    f(functions(tracer.autograd), ours).backward()
    f(functions(torch.autograd), theirs).backward()
    np.testing.assert_allclose(np_(ours.grad), theirs.grad.numpy(), rtol=1e-12)


def test_output_node_is_named_after_the_function_and_is_the_ctx():
    x = leaf()
    y = Exp.apply(x)
    assert y.grad_fn.name() == "ExpBackward"
    assert type(y.grad_fn).__name__ == "ExpBackward"
    assert repr(y).endswith("grad_fn=<ExpBackward>)")
    assert y.grad_fn.next_functions == ((x.grad_fn or _accumulator(x), 0),)


def _accumulator(x):
    return (x * 1).grad_fn.next_functions[0][0]


def test_needs_input_grad_has_one_flag_per_argument():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen.append(ctx.needs_input_grad)
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    Probe.apply(leaf(), tracer.ones(3, dtype=tracer.float64), 2.0)
    with tracer.no_grad():
        Probe.apply(leaf(), leaf(), 2.0)
    assert seen == [(True, False, False), (True, True, False)]


def test_under_no_grad_outputs_do_not_require_grad():
    with tracer.no_grad():
        y = Exp.apply(leaf())
    assert not y.requires_grad and y.grad_fn is None


def test_forward_runs_without_recording():
    class Peek(Function):
        @staticmethod
        def forward(ctx, x):
            inner = x * 2
            assert inner.grad_fn is None
            return inner

        @staticmethod
        def backward(ctx, g):
            return g * 2

    assert Peek.apply(leaf()).grad_fn.name() == "PeekBackward"


# ---- higher order ------------------------------------------------------------------


def test_second_derivative_through_a_differentiable_backward():
    x = leaf()
    (g,) = tracer.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(np_(g), 3 * x_**2)
    (h,) = tracer.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(np_(h), 6 * x_)


def test_second_derivative_through_a_saved_output():
    x = leaf()
    (g,) = tracer.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(np_(x.grad), np.exp(x_))


def test_gradcheck_of_a_custom_function():
    assert tracer.autograd.gradcheck(lambda t: MulAdd.apply(t, t.sin()), (leaf(),))


def test_once_differentiable_backward_runs_but_refuses_a_second_derivative():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = leaf()
    v = tracer.ones(3, dtype=tracer.float64, requires_grad=True)
    (g,) = tracer.autograd.grad(Sq.apply(x), x, v, create_graph=True)
    np.testing.assert_allclose(np_(g), 2 * x_)
    assert g.grad_fn.name() == "Error"
    with pytest.raises(AutogradError, match="marked with @once_differentiable"):
        g.sum().backward()


# ---- saved tensors -----------------------------------------------------------------


def test_changing_a_saved_input_in_place_is_detected_at_backward():
    x = leaf()
    h = x * 1
    y = Cube.apply(h)
    h.add_(1)
    with pytest.raises(AutogradError, match="CubeBackward is at version 1; expected version 0"):
        y.sum().backward()
    assert x.grad is None


def test_changing_a_saved_output_in_place_is_detected_at_backward():
    y = Exp.apply(leaf())
    z = y * 1
    with tracer.no_grad():
        y.mul_(2)
    with pytest.raises(AutogradError, match="modified by an inplace operation"):
        z.sum().backward()


def test_saved_tensors_are_freed_after_backward_unless_retained():
    x = leaf()
    y = Cube.apply(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    np.testing.assert_allclose(np_(x.grad), 6 * x_**2)
    with pytest.raises(AutogradError, match="backward through the graph a second time"):
        y.sum().backward()
    with pytest.raises(AutogradError, match="backward through the graph a second time"):
        _ = y.grad_fn.saved_tensors


def test_saved_output_comes_back_attached_to_the_node():
    y = Exp.apply(leaf())
    (saved,) = y.grad_fn.saved_tensors
    assert saved.grad_fn is y.grad_fn
    np.testing.assert_array_equal(np_(saved), np_(y))


def test_save_for_backward_takes_tensors_or_none_only():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, None, 3)
            return x * 1

    with pytest.raises(TypeError, match="argument 2 is of type int"):
        Bad.apply(leaf())


# ---- output marking ---------------------------------------------------------------


class Sort(Function):
    """Sorted values and their (non-differentiable) order."""

    @staticmethod
    def forward(ctx, x):
        order = np.argsort(x.detach().numpy(), kind="stable")
        ctx.save_for_backward(tracer.tensor(order))
        ctx.mark_non_differentiable(ordered := tracer.tensor(order))
        ctx.ordered = ordered
        return x[tracer.tensor(order)], ordered

    @staticmethod
    def backward(ctx, g_values, g_order):
        ctx.g_order = g_order
        (order,) = ctx.saved_tensors
        g = tracer.zeros_like(g_values)
        g[order] = g_values
        return g


def test_non_differentiable_output_does_not_require_grad_and_gets_zeros():
    x = leaf([3.0, 1.0, 2.0])
    values, order = Sort.apply(x)
    assert not order.requires_grad and order.grad_fn is None
    assert values.grad_fn.name() == "SortBackward"
    (values * tracer.tensor([1.0, 10.0, 100.0], dtype=tracer.float64)).sum().backward()
    np.testing.assert_array_equal(np_(x.grad), [100.0, 1.0, 10.0])
    np.testing.assert_array_equal(values.grad_fn.g_order.numpy(), [0, 0, 0])


def test_without_materialized_grads_unused_outputs_give_none():
    seen = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append((g1 is None, g2 is None))
            return (g1 * 2 if g1 is not None else 0) + (g2 * 3 if g2 is not None else 0)

    x = leaf()
    Two.apply(x)[1].sum().backward()
    assert seen == [(True, False)]
    np.testing.assert_array_equal(np_(x.grad), [3.0, 3.0, 3.0])


def test_materialized_grads_are_zeros_by_default():
    seen = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append(np_(g1).tolist())
            return g1 * 2 + g2 * 3

    Two.apply(leaf())[1].sum().backward()
    assert seen == [[0.0, 0.0, 0.0]]


class Double_(Function):
    """Doubles its input in place."""

    @staticmethod
    def forward(ctx, x):
        x.mul_(2)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return 2 * g


def test_dirty_input_is_returned_and_takes_the_new_node():
    x = leaf()
    h = x * 1
    y = Double_.apply(h)
    assert y is h and h.grad_fn.name() == "Double_Backward"
    np.testing.assert_array_equal(np_(h), 2 * x_)
    (y * y).sum().backward()
    np.testing.assert_allclose(np_(x.grad), 2 * (2 * x_) * 2)


def test_dirty_leaf_that_requires_grad_is_refused():
    with pytest.raises(
        AutogradError, match="leaf Variable that requires grad has been used in an in-place"
    ):
        Double_.apply(leaf())


def test_dirty_tensor_must_be_returned():
    class Forgets(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(AutogradError, match="marked dirty"):
        Forgets.apply(leaf() * 1)


def test_returning_an_input_gives_a_new_tensor_with_the_node():
    class Id(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = leaf()
    y = Id.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn.name() == "IdBackward"
    y.sum().backward()
    np.testing.assert_array_equal(np_(x.grad), [5.0, 5.0, 5.0])


def test_hooks_and_retain_grad_on_outputs():
    x = leaf()
    y = Exp.apply(x)
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    np.testing.assert_allclose(np_(y.grad), np.full(3, 10.0))
    np.testing.assert_allclose(np_(x.grad), 10 * np.exp(x_))


# ---- what backward returns ----------------------------------------------------------


def _returns(result, forward=lambda ctx, x, k: x * k):
    class Custom(Function):
        pass

    Custom.forward = staticmethod(forward)
    Custom.backward = staticmethod(lambda ctx, g: result(g))
    return Custom


BACKWARD_ERRORS = [
    ("too_few", lambda g: g, r"incorrect number of gradients \(expected 2, got 1\)"),
    ("too_many", lambda g: (g, None, g), r"incorrect number of gradients \(expected 2, got 3\)"),
    (
        "gradient_for_a_number",
        lambda g: (g, g),
        "returned a gradient different than None at position 2",
    ),
    (
        "wrong_shape",
        lambda g: (tracer.ones(2, dtype=tracer.float64), None),
        r"got \[2\] but expected shape compatible with \[3\]",
    ),
    ("not_a_tensor", lambda g: ([1.0, 2.0, 3.0], None), "returned a list as the gradient"),
]


@pytest.mark.parametrize(
    "result,text", [c[1:] for c in BACKWARD_ERRORS], ids=[c[0] for c in BACKWARD_ERRORS]
)
def test_bad_backward_results_are_refused_and_no_grad_is_written(result, text):
    x = leaf()
    with pytest.raises(AutogradError, match=text):
        _returns(result).apply(x, 2.0).sum().backward()
    assert x.grad is None


def test_extra_trailing_nones_and_broadcast_gradients_are_accepted():
    x = leaf()
    Custom = _returns(lambda g: (g.unsqueeze(0).expand(4, 3), None, None))
    Custom.apply(x, 2.0).sum().backward()
    np.testing.assert_array_equal(np_(x.grad), [4.0, 4.0, 4.0])


def test_gradient_is_cast_to_the_input_dtype():
    x = leaf(dtype=tracer.float32)
    _returns(lambda g: (g.double(), None)).apply(x, 2.0).sum().backward()
    assert x.grad.dtype == np.float32


def test_gradients_for_inputs_that_do_not_require_grad_are_dropped():
    x, w = leaf(), tracer.ones(3, dtype=tracer.float64)
    MulAdd.apply(x, w)[0].sum().backward()
    assert w.grad is None
    np.testing.assert_array_equal(np_(x.grad), [1.0, 1.0, 1.0])


def test_vjp_may_stand_in_for_backward():
    class ViaVjp(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 4

        @staticmethod
        def vjp(ctx, g):
            return g * 4

    x = leaf()
    ViaVjp.apply(x).sum().backward()
    np.testing.assert_array_equal(np_(x.grad), [4.0, 4.0, 4.0])


def test_missing_backward_is_a_clear_error():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with pytest.raises(NotImplementedError, match="You must implement either the backward or vjp"):
        NoBackward.apply(leaf()).sum().backward()


def test_instantiating_warns_and_calling_an_instance_raises():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = Exp()
    assert caught and issubclass(caught[0].category, DeprecationWarning)
    with pytest.raises(RuntimeError, match="Legacy autograd function"):
        f(leaf())


def test_keyword_arguments_bind_to_forward():
    x = leaf()
    ScaleBy.apply(x, k=3.0).sum().backward()
    np.testing.assert_array_equal(np_(x.grad), [3.0, 3.0, 3.0])


# ---- traced -------------------------------------------------------------------------


class ClipGrad(Function):
    """Identity forward, a backward that is not forward's derivative: proves the user's
    rule is what runs."""

    @staticmethod
    def forward(ctx, x, bound):
        ctx.bound = bound
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        return g.clamp(-ctx.bound, ctx.bound), None


@pytest.mark.parametrize("disable_jit", ["1", pytest.param("0", marks=pytest.mark.jit)])
def test_apply_inside_a_traced_function_uses_the_users_backward(disable_jit, monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", disable_jit)

    def loss(x):
        return (ClipGrad.apply(x, 0.5) * tracer.tensor([3.0, -0.25, 1.0])).sum() + Exp.apply(
            x
        ).sum()

    x = leaf()
    loss(x).backward()
    expected = np_(x.grad)
    np.testing.assert_allclose(expected, np.clip([3.0, -0.25, 1.0], -0.5, 0.5) + np.exp(np_(x)))
    y = leaf()
    tracer.trace(loss)(y).backward()
    np.testing.assert_allclose(np_(y.grad), expected, rtol=1e-6)
    _, g = tracer.value_and_grad(loss)(leaf().detach())
    np.testing.assert_allclose(np_(g), expected, rtol=1e-6)


def test_custom_vjp_with_pytree_arguments_eager_traced_and_compiled():
    @tracer.custom_vjp
    def scaled_norm(params, x):
        return (params["w"] * x).pow(2).sum()

    def fwd(params, x):
        return scaled_norm(params, x), (params["w"], x)

    def bwd(res, g):  # deliberately half the true gradient
        w, x = res
        return {"w": g * w * x * x}, g * w * w * x

    scaled_norm.defvjp(fwd, bwd)
    w, x = tracer.tensor([1.0, 2.0]), tracer.tensor([3.0, -1.0])
    eager_w = w.detach().clone().requires_grad_()
    scaled_norm({"w": eager_w}, x).backward()
    np.testing.assert_allclose(np_(eager_w.grad), np_(w) * np_(x) ** 2)
    value, grads = tracer.value_and_grad(lambda p, x: scaled_norm(p, x))({"w": w}, x)
    np.testing.assert_allclose(value.item(), ((np_(w) * np_(x)) ** 2).sum())
    np.testing.assert_allclose(np_(grads["w"]), np_(eager_w.grad))


def test_custom_vjp_without_a_rule_says_how_to_give_one():
    @tracer.custom_vjp
    def f(x):
        return x

    with pytest.raises(TypeError, match="defvjp"):
        f(tracer.ones(2))
