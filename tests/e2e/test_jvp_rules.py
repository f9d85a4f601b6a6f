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
