"""Random programs, eager vs traced-and-interpreted (and, fewer of them, compiled), and
in float64 against finite differences.

Hypothesis builds straight-line programs from a subset of the registry: unary and
binary elementwise ops (with broadcasting), reductions, softmax, reshape,
transpose, broadcast_to, matmul and in-place updates of clones (`y += v`,
`y[i] = y[j] * 2`), over small random shapes. Each program runs
eagerly and through `tracer.trace` (whose results go back into eager autograd) and
`tracer.value_and_grad`; every intermediate value and every input's gradient must
agree.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trace_helpers import assert_close

import tracer

UNARY = {
    "neg": lambda x: -x,
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: tracer.cos(x),
    "relu": lambda x: x.relu(),
    "abs": lambda x: abs(x),
    "square": lambda x: x**2,
    "cube": lambda x: x**3,
    "exp_tanh": lambda x: x.tanh().exp(),
    "log1p_sq": lambda x: (x * x).log1p(),
    "sqrt_1p_sq": lambda x: (x * x + 1).sqrt(),
    "scale": lambda x: 0.5 * x - 1,
    "clamp": lambda x: x.clamp(-1.0, 1.5),
    "detach": lambda x: x.detach() * x,
}
BINARY = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / (y * y + 1),
    "maximum": lambda x, y: tracer.maximum(x, y),
    "minimum": lambda x, y: x.minimum(y),
    "where": lambda x, y: tracer.where(x > y, x, y * 2),
}


@dataclass(frozen=True)
class Step:
    op: str  # input unary binary reduce softmax reshape transpose expand matmul iadd setitem
    name: str = ""
    args: tuple[int, ...] = ()
    params: tuple = ()


dims = st.integers(1, 4)
shapes = st.lists(dims, min_size=0, max_size=3).map(tuple)


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


@st.composite
def programs(draw):
    """(steps, shapes of every value): a straight-line program and its value shapes."""
    steps: list[Step] = []
    value_shapes: list[tuple[int, ...]] = []

    def add(step: Step, shape: tuple[int, ...]) -> int:
        steps.append(step)
        value_shapes.append(shape)
        return len(value_shapes) - 1

    def new_input(shape: tuple[int, ...]) -> int:
        return add(Step("input", params=(shape,)), shape)

    new_input(draw(shapes))
    for _ in range(draw(st.integers(1, 7))):
        i = draw(st.integers(0, len(value_shapes) - 1))
        s = value_shapes[i]
        kind = draw(
            st.sampled_from(
                [
                    "unary",
                    "binary",
                    "binary",
                    "reduce",
                    "softmax",
                    "reshape",
                    "transpose",
                    "expand",
                    "matmul",
                    "iadd",
                    "setitem",
                ]
            )
        )
        if kind == "unary":
            add(Step("unary", draw(st.sampled_from(sorted(UNARY))), (i,)), s)
        elif kind == "binary":
            partners = [j for j, t in enumerate(value_shapes) if _broadcastable(s, t)]
            if draw(st.booleans()) and partners:
                j = draw(st.sampled_from(partners))
            else:  # a new input broadcasting against s: a suffix of s, some dims 1
                k = draw(st.integers(0, len(s)))
                j = new_input(tuple(1 if draw(st.booleans()) else d for d in s[len(s) - k :]))
            name = draw(st.sampled_from(sorted(BINARY)))
            operands = (i, j) if draw(st.booleans()) else (j, i)
            add(
                Step("binary", name, operands),
                np.broadcast_shapes(value_shapes[i], value_shapes[j]),
            )
        elif kind == "reduce":
            name = draw(st.sampled_from(["sum", "mean", "amax", "logsumexp"]))
            if not s:
                axes: tuple[int, ...] = ()
                name = "sum" if name == "logsumexp" else name
            else:
                axes = tuple(sorted(draw(st.sets(st.integers(0, len(s) - 1), min_size=1))))
            keep = draw(st.booleans())
            out = (
                tuple(1 if d in axes else n for d, n in enumerate(s))
                if keep
                else tuple(n for d, n in enumerate(s) if d not in axes)
            )
            add(Step("reduce", name, (i,), (axes, keep)), out)
        elif kind == "softmax" and s:
            axis = draw(st.integers(-len(s), len(s) - 1))
            add(
                Step("softmax", draw(st.sampled_from(["softmax", "log_softmax"])), (i,), (axis,)), s
            )
        elif kind == "reshape":
            size = math.prod(s)
            factors = [d for d in range(1, size + 1) if size % d == 0]
            first = draw(st.sampled_from(factors))
            new = (first, size // first) if draw(st.booleans()) else (size,)
            if draw(st.booleans()):
                new = (-1,) + new[1:]
            shape = tuple(
                size // math.prod(n for n in new if n != -1) if n == -1 else n for n in new
            )
            add(Step("reshape", args=(i,), params=(new,)), shape)
        elif kind == "transpose" and len(s) >= 2:
            perm = tuple(draw(st.permutations(range(len(s)))))
            add(Step("transpose", args=(i,), params=(perm,)), tuple(s[p] for p in perm))
        elif kind == "expand":
            lead = tuple(draw(st.lists(dims, max_size=1)))
            shape = lead + tuple(draw(dims) if n == 1 else n for n in s)
            add(Step("expand", args=(i,), params=(shape,)), shape)
        elif kind == "matmul" and s:
            n = draw(dims)
            rhs_shape = (s[-1], n) if draw(st.booleans()) else (s[-1],)
            j = new_input(rhs_shape)
            shape = np.matmul(np.empty(s), np.empty(rhs_shape)).shape
            add(Step("matmul", args=(i, j)), shape)
        elif kind == "iadd":
            fits = [
                j
                for j, t in enumerate(value_shapes)
                if _broadcastable(s, t) and np.broadcast_shapes(s, t) == s
            ]
            add(Step("iadd", args=(i, draw(st.sampled_from(fits)))), s)
        elif kind == "setitem" and s:
            rows = st.integers(-s[0], s[0] - 1)
            add(Step("setitem", args=(i,), params=(draw(rows), draw(rows))), s)
    return steps, value_shapes


def run(steps: list[Step], inputs: list) -> list:
    """Execute a program; returns every value (inputs included), in order."""
    values: list = []
    feed = iter(inputs)
    for step in steps:
        if step.op == "input":
            values.append(next(feed))
            continue
        x = values[step.args[0]]
        if step.op == "unary":
            v = UNARY[step.name](x)
        elif step.op == "binary":
            v = BINARY[step.name](x, values[step.args[1]])
        elif step.op == "reduce":
            axes, keep = step.params
            v = (
                x.sum(axes, keepdim=keep)
                if step.name == "sum"
                else getattr(x, step.name)(axes, keepdim=keep)
                if axes
                else getattr(x, step.name)()
            )
        elif step.op == "softmax":
            v = getattr(x, step.name)(step.params[0])
        elif step.op == "reshape":
            v = x.reshape(*step.params[0])
        elif step.op == "transpose":
            v = x.permute(*step.params[0])
        elif step.op == "expand":
            v = x.expand(*step.params[0])
        elif step.op == "iadd":
            v = x.clone()
            v += values[step.args[1]]
        elif step.op == "setitem":
            v = x.clone()
            v[step.params[0]] = v[step.params[1]] * 2
        else:
            v = x @ values[step.args[1]]
        values.append(v)
    return values


def loss_of(values: list, weights: list[np.ndarray]):
    total = None
    for v, w in zip(values, weights):
        term = (v * tracer.tensor(w)).sum()
        total = term if total is None else total + term
    return total


_SETTINGS = dict(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(max_examples=60, **_SETTINGS)
@given(program=programs(), dtype=st.sampled_from([np.float64, np.float32]))
def test_random_programs_traced_equal_eager(program, dtype):
    check_program(program, dtype)


@pytest.mark.jit
@settings(max_examples=int(os.environ.get("TRACER_JIT_EXAMPLES", "8")), **_SETTINGS)
@given(program=programs(), dtype=st.sampled_from([np.float64, np.float32]))
def test_random_programs_compiled_equal_eager(program, dtype):
    """The same through the numba backend: three kernels a program (forward with
    residuals, backward, joint), so fewer examples (TRACER_JIT_EXAMPLES for more)."""
    check_program(program, dtype)


def check_program(program, dtype):
    steps, value_shapes = program
    rng = np.random.default_rng(len(steps))
    arrays = [rng.uniform(-2, 2, s.params[0]).astype(dtype) for s in steps if s.op == "input"]
    weights = [rng.standard_normal(s).astype(dtype) for s in value_shapes]

    def outputs(*xs):
        values = run(steps, list(xs))
        return tuple(values), loss_of(values, weights)

    eager_in = [tracer.tensor(a, requires_grad=True) for a in arrays]
    eager_values, eager_loss = outputs(*eager_in)
    eager_loss.backward()

    traced_in = [tracer.tensor(a, requires_grad=True) for a in arrays]
    traced_values, traced_loss = tracer.trace(outputs)(*traced_in)
    for k, (t, e) in enumerate(zip(traced_values, eager_values)):
        assert tuple(t.shape) == value_shapes[k]
        assert_close(t.detach(), e.detach(), err_msg=f"value {k}: {steps[k]}")
    traced_loss.backward()

    value, grads = tracer.value_and_grad(
        lambda *xs: outputs(*xs)[1], argnums=tuple(range(len(arrays)))
    )(*[tracer.tensor(a) for a in arrays])
    assert_close(traced_loss.detach(), eager_loss.detach())
    assert_close(value, eager_loss.detach())
    for k, (t, g, e) in enumerate(zip(traced_in, grads, eager_in)):
        expected = tracer.zeros_like(e) if e.grad is None else e.grad
        assert_close(t.grad, expected, err_msg=f"backward, input {k}")
        assert_close(g, expected, err_msg=f"value_and_grad, input {k}")
    if dtype == np.float64 and not any(s.name == "detach" for s in steps):
        check_finite_differences(lambda *xs: outputs(*xs)[1], arrays, grads)


def check_finite_differences(loss, arrays, grads, eps: float = 1e-6) -> None:
    """value_and_grad's gradient along a random direction equals the central difference
    of the (eager) loss; skipped for programs with detach(), whose gradient differs
    from the function's derivative on purpose."""
    rng = np.random.default_rng(7)
    dirs = [rng.standard_normal(a.shape) for a in arrays]

    def at(t: float) -> float:
        with tracer.no_grad():
            return loss(*[tracer.tensor(a + t * d) for a, d in zip(arrays, dirs)]).item()

    fd = (at(eps) - at(-eps)) / (2 * eps)
    analytic = sum(float((g.numpy() * d).sum()) for g, d in zip(grads, dirs))
    np.testing.assert_allclose(analytic, fd, rtol=1e-5, atol=1e-6 * max(1.0, abs(fd)))
