"""Issue 10: inputs real users hit that gave silently wrong answers (or noise).

Each section is one kind of fault, with the example that found it and its siblings
(eager, traced, compiled; float32 and float64; the other ops that share the
pattern). Expected values are computed independently: analytically, by float64
finite differences, or by PyTorch when it is installed.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tracer

INF, NAN = math.inf, math.nan


def quiet_result(fn):
    """fn() with every warning an error: a numpy RuntimeWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn()


# ---- numpy's floating-point warnings do not leak out of eager ops -----------------

WARNING_CASES = [
    # (name, eager computation, expected value)
    ("log(0)", lambda: tracer.tensor([0.0, 1.0]).log(), [-INF, 0.0]),
    ("log1p(-1)", lambda: tracer.tensor([-1.0]).log1p(), [-INF]),
    ("1/0", lambda: tracer.tensor([1.0, -1.0]) / 0, [INF, -INF]),
    ("0/0", lambda: tracer.zeros(2) / tracer.zeros(2), [NAN, NAN]),
    ("2 / x at 0", lambda: 2 / tracer.zeros(1), [INF]),
    ("int / int at 0", lambda: tracer.tensor([1, 0]) / tracer.tensor([0, 0]), [INF, NAN]),
    ("exp overflow", lambda: tracer.tensor([1000.0]).exp(), [INF]),
    ("sqrt(-1)", lambda: tracer.tensor([-1.0]).sqrt(), [NAN]),
    ("(-1) ** 0.5", lambda: tracer.tensor([-1.0]) ** 0.5, [NAN]),
    ("mul overflow", lambda: tracer.tensor([1e30]) * 1e30, [INF]),
    ("inf - inf", lambda: tracer.tensor([INF]) - tracer.tensor([INF]), [NAN]),
    ("sin(inf)", lambda: tracer.tensor([INF]).sin(), [NAN]),
    ("float32 sum overflow", lambda: tracer.tensor([3e38, 3e38]).sum(), INF),
    (
        "matmul inf * 0",
        lambda: tracer.tensor([[INF, 1.0]]) @ tracer.tensor([[0.0], [1.0]]),
        [[NAN]],
    ),
    (
        "float64 -> float32 overflow",
        lambda: tracer.tensor([1e300], dtype=tracer.float64).float(),
        [INF],
    ),
    ("tensor(1e300, float32)", lambda: tracer.tensor([1e300], dtype=tracer.float32), [INF]),
    ("logsumexp of -inf", lambda: tracer.tensor([-INF, -INF]).logsumexp(0), -INF),
    ("in-place overflow", lambda: tracer.tensor([1e30]).mul_(1e30), [INF]),
    ("fill_ overflow", lambda: tracer.zeros(1).fill_(1e300), [INF]),
]


@pytest.mark.parametrize("name,fn,expected", WARNING_CASES, ids=[c[0] for c in WARNING_CASES])
def test_eager_ops_give_ieee_results_without_numpy_warnings(name, fn, expected):
    out = quiet_result(fn)
    np.testing.assert_array_equal(out.detach().numpy(), np.asarray(expected, out.dtype))


def test_backward_through_infinities_is_silent_and_right():
    x = tracer.tensor([0.0, 4.0], requires_grad=True)
    quiet_result(lambda: x.sqrt().sum().backward())  # d sqrt(x) = 1 / (2 sqrt x)
    np.testing.assert_array_equal(x.grad.numpy(), [INF, 0.25])
    y = tracer.tensor([3e38, 3e38], requires_grad=True)
    quiet_result(lambda: ((y * 2).sum() + (y * 2).sum()).backward())  # grads add: 2 + 2
    np.testing.assert_array_equal(y.grad.numpy(), [4.0, 4.0])
    z = tracer.tensor([3e38], requires_grad=True)
    z.grad = tracer.tensor([3e38])
    quiet_result(lambda: (z * 3e38).sum().backward())  # accumulating overflows to inf
    np.testing.assert_array_equal(z.grad.numpy(), [INF])


def test_traced_functions_on_the_interpreter_are_silent_too(monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    f = tracer.trace(lambda x: (x.log() / x).sum())
    assert quiet_result(lambda: f(tracer.zeros(2))).item() == -INF


def test_the_users_own_numpy_code_still_warns_and_keeps_its_settings():
    tracer.tensor([0.0]).log()  # our op ignores the error ...
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        np.log(np.zeros(1))  # ... the user's numpy call still warns
    with np.errstate(divide="raise"):
        assert tracer.tensor([0.0]).log().item() == -INF  # ours: silent, as PyTorch
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))
    assert np.geterr()["divide"] == "warn"
