"""tracer.autograd.functional: jacobian, hessian, vjp, jvp, hvp and vhp against
Jacobians and Hessians worked out by hand, float64 finite differences and, when
installed, torch.autograd.functional (same signatures, same result structure)."""

from __future__ import annotations

import numpy as np
import pytest

import tracer
from tracer import AutogradError
from tracer.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp

A = np.array([0.5, -1.25, 2.0])
B = np.array([[1.0, 2.0], [-0.5, 0.25]])


def t(a, lib=tracer):
    return lib.tensor(np.asarray(a, dtype=np.float64))


def np_(x):
    if isinstance(x, tuple):
        return tuple(np_(e) for e in x)
    return x.detach().numpy()


# (id, f(lib) -> function, inputs as numpy arrays (a tuple means several inputs))
FUNCTIONS = [
    ("square", lambda lib: lambda x: x**2, A),
    ("sin_times_sum", lambda lib: lambda x: x.sin() * x.sum(), A),
    ("matrix", lambda lib: lambda m: (m @ m).exp(), B),
    ("two_inputs", lambda lib: lambda x, y: x * y.sum() + y[0], (A, A[::-1].copy())),
    ("two_outputs", lambda lib: lambda x: (x.exp(), (x * x).sum()), A),
    ("both_tuples", lambda lib: lambda x, m: (x.sum() * m, m.tanh()), (A, B)),
    ("unused_input", lambda lib: lambda x, y: x * 3, (A, B)),
]


def _inputs(arrays, lib):
    return tuple(t(a, lib) for a in arrays) if isinstance(arrays, tuple) else t(arrays, lib)


def _flat(res):
    if isinstance(res, tuple):
        return [e for r in res for e in _flat(r)]
    return [np_(res)]


@pytest.mark.parametrize("f,arrays", [c[1:] for c in FUNCTIONS], ids=[c[0] for c in FUNCTIONS])
def test_jacobian_matches_torch(f, arrays):
    torch = pytest.importorskip("torch")
    ours = jacobian(f(tracer), _inputs(arrays, tracer))
    theirs = torch.autograd.functional.jacobian(f(torch), _inputs(arrays, torch))
    assert _structure(ours) == _structure(theirs)
    for a, b in zip(_flat(ours), _flat(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def _structure(res):
    if isinstance(res, tuple):
        return tuple(_structure(r) for r in res)
    return tuple(res.shape)


def test_jacobian_of_elementwise_square_is_diagonal():
    np.testing.assert_allclose(np_(jacobian(lambda x: x**2, t(A))), np.diag(2 * A))


def test_jacobian_matches_finite_differences():
    def f(m):
        return (m @ m).exp()

    jac = np_(jacobian(f, t(B)))
    eps = 1e-6
    for idx in np.ndindex(B.shape):
        hi, lo = B.copy(), B.copy()
        hi[idx] += eps
        lo[idx] -= eps
        column = (np_(f(t(hi))) - np_(f(t(lo)))) / (2 * eps)
        np.testing.assert_allclose(jac[(..., *idx)], column, rtol=1e-6)


def test_jacobian_is_zero_for_an_unused_input_unless_strict():
    _, jy = jacobian(lambda x, y: x * 3, (t(A), t(B)))
    assert jy.shape == (3, 2, 2) and not np_(jy).any()
    with pytest.raises(
        AutogradError, match="Output 0 of the user-provided function is independent of input 1"
    ):
        jacobian(lambda x, y: x * 3, (t(A), t(B)), strict=True)


def test_jacobian_results_are_detached_unless_create_graph():
    x = t(A)
    assert not jacobian(lambda v: v**3, x).requires_grad
    x.requires_grad_()
    jac = jacobian(lambda v: v**3, x, create_graph=True)
    jac.sum().backward()  # d/dx of sum_i 3 x_i**2
    np.testing.assert_allclose(np_(x.grad), 6 * A)


def test_forward_mode_strategy_is_not_supported():
    with pytest.raises(NotImplementedError, match="reverse mode only"):
        jacobian(lambda x: x, t(A), strategy="forward-mode")


def test_inputs_must_be_tensors():
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        jacobian(lambda x: x, [1.0, 2.0])


# ---- hessian -------------------------------------------------------------------------

SCALARS = [
    ("cubes", lambda x: (x**3).sum(), A),
    ("coupled", lambda x: (x[0] * x[1] * x[2]) + x.exp().sum(), A),
    ("matrix", lambda m: (m @ m).sin().sum(), B),
    ("two_inputs", lambda x, m: (x.sum() * m).tanh().sum(), (A, B)),
]


def test_hessian_of_cubes_is_diagonal_six_x():
    np.testing.assert_allclose(np_(hessian(lambda x: (x**3).sum(), t(A))), np.diag(6 * A))


def test_hessian_of_a_product_has_the_other_entries_off_the_diagonal():
    h = np_(hessian(lambda x: x[0] * x[1] * x[2], t(A)))
    a, b, c = A
    np.testing.assert_allclose(h, [[0, c, b], [c, 0, a], [b, a, 0]])


@pytest.mark.parametrize("f,arrays", [c[1:] for c in SCALARS], ids=[c[0] for c in SCALARS])
def test_hessian_matches_torch(f, arrays):
    torch = pytest.importorskip("torch")
    ours = hessian(f, _inputs(arrays, tracer))
    theirs = torch.autograd.functional.hessian(f, _inputs(arrays, torch))
    assert _structure(ours) == _structure(theirs)
    for a, b in zip(_flat(ours), _flat(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_hessian_needs_a_single_element_output():
    with pytest.raises(ValueError, match="should contain a single element"):
        hessian(lambda x: x**2, t(A))


# ---- products ------------------------------------------------------------------------

V_IN = np.array([1.0, -2.0, 0.5])


def test_vjp_and_jvp_of_a_linear_map_are_its_transpose_and_itself():
    m = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    f = lambda x: t(m) @ x  # noqa: E731
    out, vj = vjp(f, t(A), t([1.0, 2.0]))
    np.testing.assert_allclose(np_(out), m @ A)
    np.testing.assert_allclose(np_(vj), m.T @ [1.0, 2.0])
    out, jv = jvp(f, t(A), t(V_IN))
    np.testing.assert_allclose(np_(jv), m @ V_IN)


def test_hvp_and_vhp_of_a_quadratic_form():
    q = np.array([[2.0, 1.0, 0.0], [0.5, 3.0, 1.0], [0.0, 0.0, 1.0]])  # H = q + q.T
    f = lambda x: x @ (t(q) @ x)  # noqa: E731
    _, hv = hvp(f, t(A), t(V_IN))
    _, vh = vhp(f, t(A), t(V_IN))
    np.testing.assert_allclose(np_(hv), (q + q.T) @ V_IN)
    np.testing.assert_allclose(np_(vh), V_IN @ (q + q.T))


PRODUCTS = [
    ("vjp", vjp, lambda x: x.sin() * x.sum(), A, A * 2),
    ("vjp_tuple", vjp, lambda x, y: (x * y, y.exp()), (A, A + 1), (A, A * 3)),
    ("jvp", jvp, lambda x: x.sin() * x.sum(), A, V_IN),
    ("jvp_tuple", jvp, lambda x, y: (x * y, (x - y).exp()), (A, A + 1), (V_IN, V_IN * 2)),
    ("hvp", hvp, lambda x: (x.sin() * x.sum()).sum(), A, V_IN),
    ("vhp", vhp, lambda x: (x.sin() * x.sum()).sum(), A, V_IN),
    ("hvp_tuple", hvp, lambda x, m: (x.sum() * m.exp()).sum(), (A, B), (V_IN, B * 2)),
]


@pytest.mark.parametrize("ours,f,arrays,v", [c[1:] for c in PRODUCTS], ids=[c[0] for c in PRODUCTS])
def test_products_match_torch(ours, f, arrays, v):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.autograd.functional, ours.__name__)
    out_o, prod_o = ours(f, _inputs(arrays, tracer), _inputs(v, tracer))
    out_t, prod_t = theirs(f, _inputs(arrays, torch), _inputs(v, torch))
    assert _structure(prod_o) == _structure(prod_t) and _structure(out_o) == _structure(out_t)
    for a, b in zip(_flat(prod_o) + _flat(out_o), _flat(prod_t) + _flat(out_t)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_v_may_be_omitted_only_for_single_elements():
    out, g = vjp(lambda x: (x**2).sum(), t(A))
    np.testing.assert_allclose(np_(g), 2 * A)
    _, d = jvp(lambda x: x**3, t([2.0]))
    np.testing.assert_allclose(np_(d), [12.0])
    with pytest.raises(ValueError, match="v can only be None"):
        vjp(lambda x: x**2, t(A))


def test_v_must_have_the_right_shape():
    with pytest.raises(ValueError, match="v has invalid size"):
        jvp(lambda x: x, t(A), t([1.0, 2.0]))


def test_products_with_create_graph_are_differentiable():
    x = t(A)
    x.requires_grad_()
    _, hv = hvp(lambda z: (z**4).sum(), x, t(V_IN), create_graph=True)
    hv.sum().backward()  # d/dx sum_i 12 x_i**2 v_i
    np.testing.assert_allclose(np_(x.grad), 24 * A * V_IN)


def test_strict_refuses_a_constant_output():
    with pytest.raises(AutogradError, match="does not require gradients"):
        vjp(lambda x: tracer.ones(3, dtype=tracer.float64), t(A), t(A), strict=True)
    _, g = vjp(lambda x: tracer.ones(3, dtype=tracer.float64), t(A), t(A))
    assert not np_(g).any()
