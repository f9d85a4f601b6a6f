"""Forward mode (issue 18): every op's JVP, checked two independent ways.

For every differentiable row of the op-spec table, in float64 and eagerly:

* the JVP along a random tangent equals central finite differences of the op along
  that tangent (rows whose inputs sit on a kink or a tie skip this, as in the gradient
  checks);
* the transpose identity <v, J t> = <J^T v, t> holds against the VJP (reverse-mode
  autograd) for a random cotangent v: forward and reverse mode are one derivative.

Then the JVP traced on the interpreter equals the eager one, control flow is
differentiated as loops over (primal, tangent) carries, linearize evaluates only the
linear part, and one compiled kernel equals eager.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from opspecs import SPECS, OpSpec

import tracer
from compiler.forward import jvp_kind
from compiler.registry import OPS
from tracer import transforms

EPS = 1e-6
DIFFERENTIABLE = [s for s in SPECS if s.differentiable]


@pytest.fixture(autouse=True)
def _forward_mode_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """jvp falls back to transposing reverse mode for functions it cannot stage (rows
    whose result's shape depends on values: boolean masks); everywhere else these tests
    check the forward rules, so the fallback fails them."""
    spec = getattr(request.node, "callspec", None) and request.node.callspec.params.get("spec")
    if spec is not None and spec.data_dependent:
        return

    def refuse(*args: Any) -> Any:
        raise AssertionError("jvp did not stage the function (transposed reverse mode)")

    monkeypatch.setattr(transforms, "_jvp_by_transposition", refuse)


def _split(spec: OpSpec, seed: int = 0) -> tuple[list[np.ndarray], Any]:
    """(the float inputs, fn of the float inputs with the others fixed)."""
    arrays = spec.make_inputs("float64", seed)
    floats = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]

    def fn(*xs: Any) -> Any:
        full: list[Any] = [tracer.tensor(a) for a in arrays]
        for i, x in zip(floats, xs):
            full[i] = x
        return spec.fn(*full)

    return [arrays[i] for i in floats], fn


def _tangents(xs: list[np.ndarray], seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(x.shape) for x in xs]


def _eager_jvp(fn: Any, xs: list[np.ndarray], ts: list[np.ndarray]) -> tuple[Any, Any]:
    return tracer.jvp(fn, tuple(tracer.tensor(x) for x in xs), tuple(tracer.tensor(t) for t in ts))


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=lambda s: s.name)
def test_jvp_equals_central_finite_differences(spec: OpSpec) -> None:
    if spec.no_fd:
        pytest.skip(f"no finite differences: {spec.no_fd}")
    xs, fn = _split(spec)
    ts = _tangents(xs)
    _, t_out = _eager_jvp(fn, xs, ts)
    plus = fn(*[tracer.tensor(x + EPS * t) for x, t in zip(xs, ts)]).numpy()
    minus = fn(*[tracer.tensor(x - EPS * t) for x, t in zip(xs, ts)]).numpy()
    tol = spec.grad_tol
    np.testing.assert_allclose(
        t_out.numpy(), (plus - minus) / (2 * EPS), rtol=tol.rtol, atol=tol.atol
    )


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=lambda s: s.name)
def test_jvp_is_the_transpose_of_the_vjp(spec: OpSpec) -> None:
    xs, fn = _split(spec)
    ts = _tangents(xs)
    out, t_out = _eager_jvp(fn, xs, ts)
    v = np.random.default_rng(2).standard_normal(tuple(out.shape))
    leaves = [tracer.tensor(x, requires_grad=True) for x in xs]
    y = fn(*leaves)
    grads = tracer.autograd.grad(y, leaves, tracer.tensor(v), allow_unused=True)
    forward = float((v * t_out.numpy()).sum())
    reverse = sum(float((g.numpy() * t).sum()) for g, t in zip(grads, ts) if g is not None)
    rel = 1e-9 if out.dtype == tracer.float64 else 1e-5  # .float() rows: a float32 result
    assert forward == pytest.approx(reverse, rel=rel, abs=rel * 1e-2)


# ---- which rule each op gets ----------------------------------------------------------------

# The ops differentiated in forward mode by transposing their VJP for the one equation (a
# VJP of a VJP: correct, but about twice a rule's cost). Adding an op here is a decision.
TRANSPOSED = {
    "cumprod",
    "custom_vjp_call",  # the user's derivative is a VJP: forward mode transposes it
    "linalg_cholesky",
    "linalg_det",
    "linalg_eigh",
    "linalg_lstsq",
    "linalg_pinv",
    "linalg_qr",
    "linalg_slogdet",
    "linalg_svd",
    "linrec",
    "logcumsumexp",
    "prod",
    "scatter_reduce",
}
COMMON = (
    "add mul div exp tanh sigmoid relu where convert broadcast_to reshape transpose slice "
    "index gather concatenate reduce_sum amax max_dim matmul softmax log_softmax logsumexp "
    "mean cond scan while_loop sort pad"
).split()


def test_only_the_listed_ops_use_the_transposed_vjp() -> None:
    assert {n for n, op in OPS.items() if jvp_kind(op) == "transpose"} == TRANSPOSED


@pytest.mark.parametrize("name", COMMON)
def test_common_ops_have_a_forward_rule(name: str) -> None:
    assert jvp_kind(OPS[name]) in ("rule", "linear", "elementwise", "composite")


def test_every_differentiable_op_is_differentiated_forward_and_only_those() -> None:
    kinds = {n: jvp_kind(op) for n, op in OPS.items()}
    assert {n for n, k in kinds.items() if k == "none"} == {
        n for n, op in OPS.items() if op.vjp is None
    }


# ---- traced forward mode, control flow, linearize ----------------------------------------------

SAMPLE = [s for s in DIFFERENTIABLE if not s.data_dependent][::9]


# a row's fixed integer inputs are tensors made outside the traced function
@pytest.mark.filterwarnings("ignore:.*comes from outside the function")
@pytest.mark.parametrize("spec", SAMPLE, ids=lambda s: s.name)
def test_traced_forward_mode_equals_eager(spec: OpSpec) -> None:
    xs, fn = _split(spec)
    ts = _tangents(xs)
    _, eager = _eager_jvp(fn, xs, ts)
    n = len(xs)
    traced = tracer.trace(lambda *a: tracer.jvp(fn, a[:n], a[n:])[1])
    got = traced(*[tracer.tensor(a) for a in xs + ts])
    np.testing.assert_allclose(got.numpy(), eager.numpy(), rtol=1e-12, atol=1e-13)


X = np.array([0.3, -1.2, 0.7, 2.0])
T = np.array([1.0, 0.5, -0.3, 0.2])


def _scan(x: Any) -> Any:
    c, ys = tracer.scan(lambda c, xi: (c * xi.sin() + xi, c * xi), x[0] * 1.0, x)
    return ys * c


def _cond(x: Any) -> Any:
    return tracer.cond(x.sum() > 0, lambda a: a.sin() * a, lambda a: a.exp(), x)


def _while(x: Any) -> Any:
    step = lambda c: (c[0] * c[0].cos() + 1.5, c[1] + 1)  # noqa: E731
    return tracer.while_loop(lambda c: c[1] < 3, step, (x, 0))[0]


def _fori(x: Any) -> Any:
    return tracer.fori_loop(0, 4, lambda i, c: c.tanh() * x + i, x)


CONTROL = [("scan", _scan), ("cond", _cond), ("while_loop", _while), ("fori_loop", _fori)]


def _fd(f: Any, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    plus, minus = f(tracer.tensor(x + EPS * t)), f(tracer.tensor(x - EPS * t))
    return (plus.numpy() - minus.numpy()) / (2 * EPS)


@pytest.mark.parametrize("where", ["eager", "traced"])
@pytest.mark.parametrize("name,f", CONTROL, ids=[c[0] for c in CONTROL])
def test_control_flow_jvp_is_a_loop_over_tangents(name: str, f: Any, where: str) -> None:
    def tangent(x: Any, t: Any) -> Any:
        return tracer.jvp(f, (x,), (t,))[1]

    run = tracer.trace(tangent) if where == "traced" else tangent
    got = run(tracer.tensor(X), tracer.tensor(T))
    np.testing.assert_allclose(got.numpy(), _fd(f, X, T), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("where", ["eager", "traced"])
def test_linearize_evaluates_the_linear_part_without_running_f_again(where: str) -> None:
    calls = []

    def f(x: Any) -> Any:
        calls.append(1)
        return (x.sin() * x).cumsum(0) @ x.tanh()

    def lin(x: Any, t1: Any, t2: Any) -> Any:
        out, f_jvp = tracer.linearize(f, x)
        return out, f_jvp(t1), f_jvp(t2)

    run = tracer.trace(lin) if where == "traced" else lin
    T2 = np.array([0.0, 2.0, 1.0, -1.0])
    out, j1, j2 = run(*[tracer.tensor(a) for a in (X, T, T2)])
    assert len(calls) == 1
    np.testing.assert_allclose(out.numpy(), f(tracer.tensor(X)).numpy())
    for got, t in ((j1, T), (j2, T2)):
        np.testing.assert_allclose(got.numpy(), _fd(f, X, t), rtol=1e-6, atol=1e-8)


def test_forward_over_reverse_is_the_hessian_vector_product() -> None:
    def loss(x: Any) -> Any:
        return (x.exp() * x.roll(1, 0)).sum()

    hvp = tracer.jvp(tracer.grad(loss), (tracer.tensor(X),), (tracer.tensor(T),))[1]
    hess = tracer.hessian(loss)(tracer.tensor(X)).numpy()
    np.testing.assert_allclose(hvp.numpy(), hess @ T, rtol=1e-12)


T_TENSOR = tracer.tensor(T)


def test_reverse_over_forward_differentiates_the_tangent() -> None:
    def tangent_sum(x: Any) -> Any:
        return tracer.jvp(lambda y: y.sin() * y, (x,), (T_TENSOR,))[1].sum()

    x = tracer.tensor(X, requires_grad=True)
    (g,) = tracer.autograd.grad(tangent_sum(x), [x])
    # d/dx sum(T (sin x + x cos x)) = T (2 cos x - x sin x)
    np.testing.assert_allclose(g.numpy(), T * (2 * np.cos(X) - X * np.sin(X)), rtol=1e-12)
    traced = tracer.trace(tracer.grad(tangent_sum))(tracer.tensor(X))
    np.testing.assert_allclose(traced.numpy(), g.numpy(), rtol=1e-12)


def test_jvp_has_aux_returns_aux_without_a_tangent() -> None:
    out, t_out, aux = tracer.jvp(
        lambda x: (x * x, x.sum()), (tracer.tensor(X),), (tracer.tensor(T),), has_aux=True
    )
    np.testing.assert_allclose(t_out.numpy(), 2 * X * T)
    assert float(aux) == pytest.approx(X.sum())


W = tracer.tensor(np.random.default_rng(3).standard_normal((4, 3)))


@pytest.mark.jit
def test_compiled_forward_mode_equals_eager() -> None:
    def f(x: Any) -> Any:
        h = (x @ W).tanh().softmax(-1)
        _, ys = tracer.scan(lambda c, r: (c + r.amax(), c * r), h[0] * 0.0, h)
        return ys.sum(0)

    def tangent(x: Any, t: Any) -> Any:
        return tracer.jvp(f, (x,), (t,))[1]

    x, t = tracer.tensor(np.outer(X, [1.0, 0.5, -1.0, 2.0])), tracer.tensor(np.outer(T, T))
    compiled = tracer.trace(tangent)(x, t)
    eager = tangent(x, t)
    np.testing.assert_allclose(compiled.numpy(), eager.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(eager.numpy(), _fd(f, x.numpy(), t.numpy()), rtol=1e-6, atol=1e-8)


@tracer.custom_vjp
def _scaled_sin(x: Any) -> Any:
    return x.sin()


# the user's derivative is twice the true one: forward mode must follow it, not the body
_scaled_sin.defvjp(lambda x: (x.sin(), x.cos()), lambda c, g: (2 * g * c,))


@pytest.mark.parametrize("where", ["eager", "traced"])
def test_forward_mode_through_custom_vjp_uses_the_users_derivative(where: str) -> None:
    def tangent(x: Any, t: Any) -> Any:
        return tracer.jvp(_scaled_sin, (x,), (t,))[1]

    run = tracer.trace(tangent) if where == "traced" else tangent
    got = run(tracer.tensor(X), tracer.tensor(T))
    np.testing.assert_allclose(got.numpy(), 2 * np.cos(X) * T, rtol=1e-12)


def test_func_linearize_agrees_with_torch_func_when_installed() -> None:
    torch_func = pytest.importorskip("torch.func")
    torch = pytest.importorskip("torch")
    out, f_jvp = tracer.func.linearize(lambda x: x.sin() * x.cumsum(0), tracer.tensor(X))
    t_out, t_jvp = torch_func.linearize(lambda x: x.sin() * x.cumsum(0), torch.tensor(X))
    np.testing.assert_allclose(out.numpy(), t_out.numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        f_jvp(tracer.tensor(T)).numpy(), t_jvp(torch.tensor(T)).numpy(), rtol=1e-12
    )
