"""Safe gradients through `where`: the branch where() did not select gets a zero
cotangent, and a zero cotangent gives a zero gradient even where the branch's
derivative is infinite or nan (sqrt and log at 0, 1/x at 0, x**0.5 below 0, exp
overflowing). PyTorch and JAX give nan there unless the user writes the
double-where trick; see docs/where.md.

Each case is checked eagerly, with tracer.grad (one compiled forward+backward
graph) and with @tracer.trace + backward(); where the function is smooth its
gradient must still agree with central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import tracer


def fd_grad(fn, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of sum(fn(x)), in float64, one coordinate at a time."""
    out = np.zeros_like(x)
    for i in range(x.size):
        hi, lo = x.copy(), x.copy()
        hi.flat[i] += eps
        lo.flat[i] -= eps
        with np.errstate(all="ignore"):
            f_hi = fn(tracer.tensor(hi)).sum().item()
            f_lo = fn(tracer.tensor(lo)).sum().item()
        out.flat[i] = (f_hi - f_lo) / (2 * eps)
    return out


where = tracer.where

# name, function, inputs (masked points included), the true gradient at them,
# inputs away from the where() boundary for the finite-difference check
CASES = [
    (
        "sqrt",
        lambda x: where(x > 0, x.sqrt(), 0),
        [-1.0, 0.0, 4.0],
        [0.0, 0.0, 0.25],
        [-1.5, 0.7, 2.0],
    ),
    (
        "log",
        lambda x: where(x > 0, x.log(), 0),
        [-1.0, 0.0, 4.0],
        [0.0, 0.0, 0.25],
        [-1.5, 0.7, 2.0],
    ),
    (
        "x_log_x",
        lambda x: where(x > 0, x * x.log(), 0),
        [-1.0, 0.0, 1.0],
        [0.0, 0.0, 1.0],
        [-1.5, 0.7, 2.0],
    ),
    (
        "log1p",
        lambda x: where(x > -1, x.log1p(), 0),
        [-2.0, -1.0, 3.0],
        [0.0, 0.0, 0.25],
        [-2.5, -0.5, 1.0],
    ),
    ("reciprocal", lambda x: where(x != 0, 1 / x, 0), [0.0, 2.0], [0.0, -0.25], [-1.5, 2.0]),
    ("divide", lambda x: where(x != 0, (x + 1) / x, 0), [0.0, 2.0], [0.0, -0.25], [-1.5, 2.0]),
    (
        "pow_half",
        lambda x: where(x > 0, x**0.5, 0),
        [-1.0, 0.0, 4.0],
        [0.0, 0.0, 0.25],
        [-1.5, 0.7, 2.0],
    ),
    (
        "pow_negative",
        lambda x: where(x > 0, x**-1.5, 0),
        [-1.0, 0.0, 1.0],
        [0.0, 0.0, -1.5],
        [-1.5, 0.7, 2.0],
    ),
    (
        "pow_tensor",
        lambda x: where(x > 0, x**x, 0),
        [-1.0, 0.0, 1.0],
        [0.0, 0.0, 1.0],
        [-1.5, 0.7, 2.0],
    ),
    (
        "exp_overflow",
        lambda x: where(x < 50, x.exp(), 0),
        [0.0, 100.0, 1000.0],
        [1.0, 0.0, 0.0],
        [0.5, 800.0, 1000.0],
    ),
    (
        "rpow_overflow",
        lambda x: where(x < 30, 10**x, 0),
        [0.0, 50.0, 400.0],
        [np.log(10.0), 0.0, 0.0],
        [0.5, 350.0, 400.0],
    ),
    (
        "softplus",
        lambda x: where(x < 20, x.exp().log1p(), x),
        [0.0, 100.0, 1000.0],
        [0.5, 1.0, 1.0],
        [-1.0, 0.5, 800.0],
    ),
]
IDS = [c[0] for c in CASES]


def eager(fn, x):
    t = tracer.tensor(x, requires_grad=True)
    fn(t).sum().backward()
    return t.grad


def compiled_grad(fn, x):
    return tracer.grad(lambda t: fn(t).sum())(tracer.tensor(x))


def traced_backward(fn, x):
    t = tracer.tensor(x, requires_grad=True)
    tracer.trace(fn)(t).sum().backward()
    return t.grad


MODES = [pytest.param(m, id=m.__name__) for m in (eager, compiled_grad, traced_backward)]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on the unselected branch
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,fn,x,expected,_", CASES, ids=IDS)
def test_the_unselected_branch_contributes_zero_not_nan(mode, name, fn, x, expected, _):
    got = mode(fn, x).numpy()
    np.testing.assert_allclose(got, np.float32(expected), rtol=1e-6, atol=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,fn,_,__,x", CASES, ids=IDS)
def test_gradients_still_match_finite_differences(mode, name, fn, _, __, x):
    x = np.array(x, np.float64)
    got = mode(fn, x).numpy()
    np.testing.assert_allclose(got, fd_grad(fn, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name,fn,_,__,x", CASES, ids=IDS)
def test_gradcheck_where_the_function_is_smooth(name, fn, _, __, x):
    with np.errstate(all="ignore"):
        assert tracer.autograd.gradcheck(
            fn, tracer.tensor(x, dtype=tracer.float64, requires_grad=True)
        )


# ---- a real infinity or nan is still reported ---------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("mode", MODES)
def test_a_selected_infinite_derivative_is_still_infinite(mode):
    # d/dx sqrt(x) at 0 is inf, as in PyTorch
    assert np.isposinf(mode(lambda x: x.sqrt(), [0.0]).item())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("mode", MODES)
def test_a_selected_nan_derivative_is_still_nan(mode):
    assert np.isnan(mode(lambda x: x.sqrt(), [-1.0]).item())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_nan_cotangent_still_propagates():
    x = tracer.tensor([4.0], requires_grad=True)
    x.sqrt().backward(tracer.tensor([float("nan")]))
    assert np.isnan(x.grad.item())


# ---- second order -------------------------------------------------------------------------


def test_second_order_through_a_zero_cotangent_is_exact():
    # d2/dx dy of x * sqrt(y) is 1 / (2 sqrt(y)), also at x == 0, where the cotangent
    # reaching sqrt is 0: the guard must not cut the path from x.
    x = tracer.tensor(0.0, dtype=tracer.float64, requires_grad=True)
    y = tracer.tensor(4.0, dtype=tracer.float64, requires_grad=True)
    (gy,) = tracer.autograd.grad(x * y.sqrt(), [y], create_graph=True)
    (gxy,) = tracer.autograd.grad(gy, [x])
    assert gxy.item() == 0.25


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name,fn,x,_,__", CASES, ids=IDS)
def test_second_order_of_the_unselected_branch_is_finite(name, fn, x, _, __):
    t = tracer.tensor(x, dtype=tracer.float64, requires_grad=True)
    (g,) = tracer.autograd.grad(fn(t).sum(), [t], create_graph=True)
    if not g.requires_grad:  # the gradient is constant
        return
    (gg,) = tracer.autograd.grad(g.sum(), [t], allow_unused=True)
    assert gg is None or np.isfinite(gg.numpy()).all()


# ---- what it costs in the graphs ------------------------------------------------------


def test_the_guard_is_one_equation_in_the_backward_graph():
    f = tracer.trace(lambda x: where(x > 0, x.sqrt(), 0))
    backward = f.grad_ir(tracer.ones(3, requires_grad=True))
    assert [line.split("=")[1].split()[0] for line in backward.splitlines() if " = " in line] == [
        "where",
        "safe_mul",
    ]


def test_rules_with_bounded_derivatives_are_unchanged():
    f = tracer.trace(lambda x: x.tanh().sigmoid().sin().relu() - x)
    assert "safe_mul" not in f.grad_ir(tracer.ones(3, requires_grad=True))
