"""Function transforms (issue 18): vjp, jvp, jacrev, jacfwd, hessian, vmap, has_aux,
nested grad, checkpoint, eagerly and inside traced functions.

Expected values come from float64 central finite differences of numpy versions of the
functions (and from JAX when it is installed). Traced cases run on the interpreter,
the `jit` ones compiled."""

from __future__ import annotations

import numpy as np
import pytest

import tracer

RNG = np.random.default_rng(7)
X = RNG.uniform(-1.0, 1.0, 4)
W = RNG.normal(size=(3, 4))


def t(a):
    return tracer.tensor(np.asarray(a, dtype=np.float64))


WT = t(W)  # a global: traced functions read it at every call


# (name, tracer function, numpy function) of one float64 vector
SCALAR = [
    ("tanh2_exp", lambda x: (x.tanh() ** 2 * x.exp()).sum(), lambda x: (np.tanh(x) ** 2 * np.exp(x)).sum()),
    ("matmul_logsumexp", lambda x: (WT @ x).logsumexp(0), lambda x: np.log(np.exp(W @ x).sum())),
    ("prod_pair", lambda x: (x[:2] * x[2:]).sin().sum() * x.sum(), lambda x: np.sin(x[:2] * x[2:]).sum() * x.sum()),
]  # fmt: skip
VECTOR = [
    ("sin_times_sum", lambda x: x.sin() * x.sum(), lambda x: np.sin(x) * x.sum()),
    ("tanh_matmul", lambda x: (WT @ x).tanh(), lambda x: np.tanh(W @ x)),
    ("softmax", lambda x: x.softmax(0), lambda x: np.exp(x) / np.exp(x).sum()),
]  # fmt: skip


def fd_jacobian(f, x, h=1e-6):
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)


def fd_hessian(f, x, h=1e-4):
    n = x.size
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            out[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * h * h
            )
    return out


MODES = ["eager", "traced", pytest.param("compiled", marks=pytest.mark.jit)]


def run(mode, fn, *args):
    """fn(*args) eagerly, or as a traced function (interpreted or compiled)."""
    return fn(*args) if mode == "eager" else tracer.trace(fn)(*args)


@pytest.mark.parametrize("mode", MODES[:2])
@pytest.mark.parametrize("name,f,fn", VECTOR, ids=[v[0] for v in VECTOR])
def test_jacrev_and_jacfwd_equal_finite_differences(name, f, fn, mode):
    expected = fd_jacobian(fn, X)
    for transform in (tracer.jacrev, tracer.jacfwd):
        got = run(mode, transform(f), t(X))
        assert tuple(got.shape) == expected.shape
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,f,fn", SCALAR, ids=[s[0] for s in SCALAR])
def test_hessian_equals_finite_differences(name, f, fn, mode):
    got = run(mode, tracer.hessian(f), t(X))
    np.testing.assert_allclose(got.numpy(), fd_hessian(fn, X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES[:2])
@pytest.mark.parametrize("name,f,fn", VECTOR, ids=[v[0] for v in VECTOR])
def test_jvp_and_vjp_are_the_jacobian_products(name, f, fn, mode):
    J = fd_jacobian(fn, X)
    v = RNG.normal(size=X.size)
    u = RNG.normal(size=J.shape[0])

    def products(x, v, u):
        out, t_out = tracer.jvp(f, (x,), (v,))
        out2, f_vjp = tracer.vjp(f, x)
        return out, t_out, out2, f_vjp(u)[0]

    out, t_out, out2, ct = run(mode, products, t(X), t(v), t(u))
    np.testing.assert_allclose(out.numpy(), fn(X), rtol=1e-12)
    np.testing.assert_allclose(out2.numpy(), fn(X), rtol=1e-12)
    np.testing.assert_allclose(t_out.numpy(), J @ v, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ct.numpy(), u @ J, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_grad_of_grad_is_the_hessians_column_sums(mode):
    name, f, fn = SCALAR[0]
    gg = tracer.grad(lambda x: tracer.grad(f)(x).sum())
    got = gg(t(X)) if mode == "eager" else tracer.trace(lambda x: gg(x))(t(X))
    np.testing.assert_allclose(got.numpy(), fd_hessian(fn, X).sum(axis=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_per_example_gradients_with_vmap_of_grad(mode):
    w, xs, ys = RNG.normal(size=(3, 2)), RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))

    def loss(w, x, y):
        return ((x @ w - y) ** 2).sum()

    per_example = tracer.vmap(tracer.grad(loss), in_axes=(None, 0, 0))
    got = run(mode, per_example, t(w), t(xs), t(ys))
    # d/dw sum((x w - y)^2) = 2 x^T (x w - y), one example at a time
    expected = np.stack([2 * np.outer(x, x @ w - y) for x, y in zip(xs, ys)])
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("mode", MODES[:2])
def test_vmap_moves_the_mapped_and_the_output_axes(mode):
    a = RNG.normal(size=(3, 5))
    got = run(mode, tracer.vmap(lambda r, s: r * s, in_axes=(1, None), out_axes=1), t(a), t(2.0))
    np.testing.assert_allclose(got.numpy(), 2 * a)
    rows = run(mode, tracer.vmap(lambda r: {"n": (r * r).sum()}), t(a))
    np.testing.assert_allclose(rows["n"].numpy(), (a * a).sum(axis=1))


@pytest.mark.parametrize("mode", MODES[:2])
def test_has_aux_returns_the_auxiliary_values_beside_the_gradient(mode):
    name, f, fn = SCALAR[0]

    def with_aux(x):
        return f(x), {"double": x * 2}

    def both(x):
        (value, aux), g = tracer.value_and_grad(with_aux, has_aux=True)(x)
        g2, aux2 = tracer.grad(with_aux, has_aux=True)(x)
        return value, aux["double"], g, g2, aux2["double"]

    value, double, g, g2, double2 = run(mode, both, t(X))
    expected = fd_jacobian(fn, X)
    np.testing.assert_allclose(value.item(), fn(X), rtol=1e-12)
    for d in (double, double2):
        np.testing.assert_allclose(d.numpy(), 2 * X)
    for grad in (g, g2):
        np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-6, atol=1e-8)


def test_eager_transforms_return_plain_tensors_unless_an_input_requires_grad():
    name, f, fn = SCALAR[0]
    assert tracer.hessian(f)(t(X)).grad_fn is None
    x = t(X).requires_grad_()
    g = tracer.jacrev(lambda x: x**3)(x)  # diag(3 x^2): differentiable further
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * X, rtol=1e-12)


def test_checkpoint_gives_the_same_gradients_and_recomputes_the_same_dropout_mask():
    name, f, fn = SCALAR[0]
    x = t(X).requires_grad_()
    tracer.checkpoint(f)(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), fd_jacobian(fn, X), rtol=1e-6, atol=1e-8)
    assert tracer.checkpoint(f)(x).grad_fn.name() == "CheckpointFunctionBackward"

    from tracer.utils.checkpoint import checkpoint

    x = tracer.ones(1000, dtype=tracer.float64, requires_grad=True)
    out = checkpoint(lambda x, p: tracer.nn.functional.dropout(x, p), x, p=0.5, use_reentrant=False)
    out.sum().backward()  # the recomputation draws the forward's mask again
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())


def test_errors_name_the_transform_and_the_fix():
    with pytest.raises(TypeError, match="jacrev: fn must return one tensor"):
        tracer.jacrev(lambda x: (x, x))(t(X))
    with pytest.raises(ValueError, match="different sizes"):
        tracer.vmap(lambda a, b: a + b)(t(np.ones(3)), t(np.ones(4)))
    with pytest.raises(ValueError, match="maps no argument"):
        tracer.vmap(lambda a: a, in_axes=None)(t(X))
    _, f_vjp = tracer.vjp(lambda x: x * 2, t(X))
    with pytest.raises(TypeError, match="cotangent leaf 0 has shape"):
        f_vjp(t(np.ones(3)))
    with pytest.raises(TypeError, match="jvp: tangent 0 has shape"):
        tracer.jvp(lambda x: x, (t(X),), (t(np.ones(3)),))
    with pytest.raises(TypeError, match="has_aux=True needs fn to return a pair"):
        tracer.trace(lambda x: tracer.grad(lambda y: y.sum(), has_aux=True)(x))(t(X))


def test_forward_mode_through_a_while_loop_is_a_loop_over_tangents():
    def f(x):
        return tracer.while_loop(lambda c: c[1] < 3, lambda c: (c[0] * 1.5, c[1] + 1), (x, 0))[0]

    jvp = tracer.trace(lambda x: tracer.jvp(f, (x,), (tracer.ones_like(x),))[1])
    np.testing.assert_allclose(jvp(t(X)).numpy(), np.full(4, 3.375))  # d(1.5**3 x)
    _, tangent = tracer.jvp(f, (t(X),), (tracer.ones(4, dtype=tracer.float64),))
    np.testing.assert_allclose(tangent.numpy(), np.full(4, 3.375))


def test_reverse_mode_twice_through_a_while_loop_is_refused_not_zero():
    def f(x):
        return tracer.while_loop(lambda c: c[1] < 3, lambda c: (c[0] ** 2, c[1] + 1), (x, 0))[0]

    hess = tracer.trace(tracer.hessian(lambda x: f(x).sum()))
    with pytest.raises(tracer.TraceError, match="gradient of a while_loop cannot be") as info:
        hess(t(X))
    assert "test_transforms.py" in str(info.value)


def test_hessian_agrees_with_jax_when_installed():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    jax.config.update("jax_enable_x64", True)
    expected = jax.hessian(lambda x: (jnp.tanh(x) ** 2 * jnp.exp(x)).sum())(X)
    got = tracer.trace(tracer.hessian(SCALAR[0][1]))(t(X))
    np.testing.assert_allclose(got.numpy(), np.asarray(expected), rtol=1e-12, atol=1e-14)


def test_eager_jacobians_of_grad_are_the_hessian():
    # grad's result keeps its history when its input requires grad (torch.func.grad's
    # does), so the outer transform sees the dependence instead of a constant
    name, f, fn = SCALAR[0]
    expected = fd_hessian(fn, X)
    for jac in (tracer.jacrev, tracer.jacfwd):
        got = jac(tracer.grad(f))(t(X))
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)
    x = t(X).requires_grad_()
    (tracer.grad(f)(x) ** 2).sum().backward()  # d/dx |grad f|^2 = 2 H grad f
    g = fd_jacobian(fn, X)
    np.testing.assert_allclose(x.grad.numpy(), 2 * expected @ g, rtol=1e-5, atol=1e-6)


def test_checkpoint_gives_parameters_closed_over_their_gradients():
    tracer.manual_seed(0)
    first, block = tracer.nn.Linear(5, 5).double(), tracer.nn.Linear(5, 2).double()
    x = t(RNG.normal(size=(4, 5)))
    block(first(x)).tanh().sum().backward()
    expected = [p.grad.numpy().copy() for p in (*first.parameters(), *block.parameters())]
    for p in (*first.parameters(), *block.parameters()):
        p.grad = None
    tracer.checkpoint(lambda h: block(h).tanh())(first(x)).sum().backward()
    got = [p.grad.numpy() for p in (*first.parameters(), *block.parameters())]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12)
    for p in block.parameters():  # no input requiring grad: fn runs as it is
        p.grad = None
    tracer.checkpoint(block)(x).sum().backward()
    assert all(p.grad is not None for p in block.parameters())


def test_vmap_refuses_axes_it_cannot_map_and_passes_keywords_through():
    x = t(np.ones((3, 2)))
    with pytest.raises(ValueError, match="mapped along axis 5, but it has 2 dimensions"):
        tracer.vmap(lambda a: a * 1, in_axes=5)(x)
    with pytest.raises(ValueError, match="does not match its structure"):
        tracer.vmap(lambda a: a, in_axes=({"a": 0},))(x)
    with pytest.raises(TypeError, match="in_axes entries must be ints, None or pytrees"):
        tracer.vmap(lambda a: a, in_axes=("0",))(x)
    got = tracer.vmap(lambda a, scale=1.0: a * scale)(x, scale=3.0)
    np.testing.assert_allclose(got.numpy(), 3 * np.ones((3, 2)))


def _loop(x):
    y = tracer.fori_loop(0, 2, lambda i, c: c * c.cos(), x)
    return (y**3).sum()


def _unrolled(x):
    y = x
    for _ in range(2):
        y = y * y.cos()
    return (y**3).sum()


@pytest.mark.parametrize("mode", MODES[:2])
def test_second_order_through_a_loop_counts_the_saved_carries(mode):
    # d/dx |grad f|^2 sends cotangents into the carries the loop's gradient saved
    def sq(f):
        return tracer.grad(lambda x: (tracer.grad(f)(x) ** 2).sum())

    got = run(mode, sq(_loop), t(X))
    np.testing.assert_allclose(got.numpy(), sq(_unrolled)(t(X)).numpy(), rtol=1e-12)


@tracer.custom_vjp
def _sin(x):
    return x.sin()


_sin.defvjp(lambda x: (x.sin(), x.cos()), lambda c, g: (g * c,))  # residual: cos(x)


@pytest.mark.parametrize("mode", MODES[:2])
def test_second_order_through_custom_vjp_differentiates_its_residuals(mode):
    def f(x):
        return _sin(x).sum()

    # grad f = cos x (from the residual); d/dx |cos x|^2 = -2 cos x sin x; H = diag(-sin x)
    got = run(mode, tracer.grad(lambda x: (tracer.grad(f)(x) ** 2).sum()), t(X))
    np.testing.assert_allclose(got.numpy(), -2 * np.cos(X) * np.sin(X), rtol=1e-12)
    np.testing.assert_allclose(run(mode, tracer.hessian(f), t(X)).numpy(), np.diag(-np.sin(X)))


def test_grad_inside_vmap_differentiates_under_no_grad_as_torch_func_does(monkeypatch):
    # found by the transforms benchmark: all-zero per-example gradients, silently
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    w = tracer.tensor([1.0, 2.0])
    xs = tracer.tensor([[0.5, 1.0], [2.0, -1.0]])
    g = tracer.vmap(tracer.grad(lambda w, x: (x * w).sin().sum()), in_axes=(None, 0))
    expected = (xs * w).cos() * xs  # d/dw sum(sin(x w)) per example, analytic
    with tracer.no_grad():
        eager, traced = g(w, xs), tracer.trace(g)(w, xs)
    np.testing.assert_allclose(eager.numpy(), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(traced.numpy(), expected.numpy(), rtol=1e-6)
