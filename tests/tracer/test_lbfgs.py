"""tracer.optim.LBFGS: the first iteration and the quasi-Newton step are pinned by hand
on quadratics, convergence against the linear system's solution; with PyTorch, whole
trajectories (both line-search modes) against torch.optim.LBFGS on the same losses."""

from __future__ import annotations

import numpy as np
import pytest

import tracer
from tracer.optim import LBFGS


def _closure(opt, p, f_and_grad, lib=tracer):
    """A closure computing the loss and gradient with numpy, identically for both libraries,
    so that only the optimizers' arithmetic can differ."""

    def closure():
        opt.zero_grad()
        loss, grad = f_and_grad(p.detach().numpy())
        p.grad = lib.tensor(grad)
        return lib.tensor(loss)

    return closure


def _quadratic_1d(x):
    return 2.0 * x[0] ** 2, 4.0 * x


def test_first_iteration_steps_along_minus_g_scaled_by_min_of_1_and_1_over_l1_norm():
    # g = 4 * 3 = 12: t = min(1, 1/12) * lr(0.5)
    p = tracer.tensor([3.0], dtype=tracer.float64, requires_grad=True)
    opt = LBFGS([p], lr=0.5, max_iter=1)
    opt.step(_closure(opt, p, _quadratic_1d))
    assert p.item() == pytest.approx(3.0 - 0.5 / 12 * 12, abs=1e-15)


def test_second_iteration_on_a_1d_quadratic_is_the_newton_step():
    # x1 = 3 - 1/12 * 12 = 2; with one (s, y) pair the two-loop recursion gives
    # -g / f'' (H_diag = y.s / y.y = 1/4), landing on the minimum 0
    p = tracer.tensor([3.0], dtype=tracer.float64, requires_grad=True)
    opt = LBFGS([p], max_iter=2, max_eval=10)
    opt.step(_closure(opt, p, _quadratic_1d))
    state = opt.state[p]
    assert (p.item(), state["H_diag"].item(), state["n_iter"], state["func_evals"]) == (
        pytest.approx(0.0, abs=1e-15),
        pytest.approx(0.25),
        2,
        2,
    )


def _spd_system(n=6, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, n))
    a = m @ m.T + n * np.eye(n)
    b = rng.standard_normal(n)
    return a, b


# the line search compares losses, whose rounding (~1e-16) limits |x - x*| to ~sqrt(eps)
@pytest.mark.parametrize("line_search_fn,tol", [(None, 1e-12), ("strong_wolfe", 1e-7)])
def test_converges_to_the_solution_of_the_linear_system(line_search_fn, tol):
    a, b = _spd_system()
    p = tracer.tensor(np.zeros(6), requires_grad=True)
    opt = LBFGS(
        [p], line_search_fn=line_search_fn, tolerance_change=0, tolerance_grad=1e-13, max_iter=50
    )

    def f(x):
        return 0.5 * x @ a @ x - b @ x, a @ x - b

    for _ in range(5):
        opt.step(_closure(opt, p, f))
    np.testing.assert_allclose(p.detach().numpy(), np.linalg.solve(a, b), rtol=0, atol=tol)


def test_a_small_gradient_stops_at_once_without_moving():
    p = tracer.tensor([1e-9], dtype=tracer.float64, requires_grad=True)
    opt = LBFGS([p])
    loss = opt.step(_closure(opt, p, _quadratic_1d))
    assert (p.item(), opt.state[p]["func_evals"], opt.state[p]["n_iter"], loss.item()) == (
        1e-9,
        1,
        0,
        2e-18,
    )


@pytest.mark.parametrize("max_eval", [2, 3, 7])
def test_a_step_stops_when_the_closure_was_called_max_eval_times(max_eval):
    a, b = _spd_system()
    p = tracer.tensor(np.zeros(6), requires_grad=True)
    opt = LBFGS([p], max_iter=20, max_eval=max_eval, tolerance_change=0, tolerance_grad=0)
    calls = []

    def f(x):
        calls.append(1)
        return 0.5 * x @ a @ x - b @ x, a @ x - b

    opt.step(_closure(opt, p, f))
    assert len(calls) == max_eval


def test_works_with_autograd_and_several_parameters():
    w = tracer.tensor([0.5, -0.5], dtype=tracer.float64, requires_grad=True)
    c = tracer.tensor([2.0], dtype=tracer.float64, requires_grad=True)
    x = tracer.tensor([[1.0, 2.0], [3.0, 1.0], [0.0, 1.0]], dtype=tracer.float64)
    y = tracer.tensor([1.0, 2.0, 3.0], dtype=tracer.float64)
    opt = LBFGS([w, c], line_search_fn="strong_wolfe", tolerance_change=0)

    def closure():
        opt.zero_grad()
        loss = ((x @ w + c - y) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    design = np.hstack([x.numpy(), np.ones((3, 1))])
    solution = np.linalg.lstsq(design, y.numpy(), rcond=None)[0]
    np.testing.assert_allclose(np.concatenate([w.tolist(), c.tolist()]), solution, atol=1e-8)


ERRORS = [
    (
        "two_groups",
        lambda p, q: LBFGS([{"params": [p]}, {"params": [q]}]),
        ValueError,
        "doesn't support per-parameter options",
    ),
    (
        "line_search",
        lambda p, q: LBFGS([p], line_search_fn="armijo"),
        ValueError,
        "line_search_fn must be None or 'strong_wolfe', got 'armijo'",
    ),
    ("history", lambda p, q: LBFGS([p], history_size=0), ValueError, "history_size"),
    ("no_closure", lambda p, q: LBFGS([p]).step(None), TypeError, "LBFGS.step needs a closure"),
]


@pytest.mark.parametrize("make,error,message", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors(make, error, message):
    p, q = tracer.ones(2, requires_grad=True), tracer.ones(2, requires_grad=True)
    with pytest.raises(error, match=message):
        make(p, q)


# ---- PyTorch as the oracle ------------------------------------------------------------

_A = np.random.default_rng(3).standard_normal((12, 5))
_Y = np.where(np.random.default_rng(4).random(12) > 0.5, 1.0, -1.0)


def _logistic(x):
    """Mean logistic loss with L2 (smooth, well conditioned) and its gradient, in x's dtype."""
    a, y = _A.astype(x.dtype), _Y.astype(x.dtype)
    z = -(a @ x) * y
    loss = np.logaddexp(0, z).mean() + x.dtype.type(0.05) * (x * x).sum()
    grad = a.T @ (-y / (1 + np.exp(-z))) / len(y) + x.dtype.type(0.1) * x
    return np.asarray(loss, dtype=x.dtype), grad.astype(x.dtype)


TORCH_CASES = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.5, max_iter=5, history_size=3),
    dict(line_search_fn="strong_wolfe", max_iter=7, history_size=2),
    dict(max_iter=4, max_eval=3),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", TORCH_CASES, ids=[str(c) for c in TORCH_CASES])
def test_trajectory_matches_torch(kwargs, dtype):
    torch = pytest.importorskip("torch")
    # float32 noise decides the tolerance tests once converged: compare the early steps
    steps = 4 if dtype == "float64" else 1
    runs = []
    for lib in (tracer, torch):
        p = lib.tensor(np.ones(5, dtype=dtype), requires_grad=True)
        opt = lib.optim.LBFGS([p], **kwargs)
        trajectory = []
        for _ in range(steps):
            opt.step(_closure(opt, p, _logistic, lib))
            state = opt.state[p]
            trajectory.append((p.detach().numpy().copy(), state["func_evals"], state["n_iter"]))
        runs.append(trajectory)
    for step, (ours, theirs) in enumerate(zip(*runs)):
        assert ours[1:] == theirs[1:], f"step {step}: evaluations and iterations"
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(
            ours[0], theirs[0], rtol=0, atol=64 * eps, err_msg=f"step {step}"
        )
