"""Deep graphs and long traces.

Eager backward walks the graph iteratively, so a chain of 100,000 ops neither hits
Python's recursion limit nor loses precision; a 1,000-step Python loop unrolled
into a trace gives eager mode's values and gradients; and a trace past
`compiler.builder.LARGE_TRACE` equations warns once, at the user's line, with a
better structure to use.
"""

from __future__ import annotations

import gc
import pathlib
import re
import sys
import warnings

import numpy as np
import pytest

import tracer
from compiler import builder
from compiler.errors import LargeTraceWarning, TracerWarning

HERE = pathlib.Path(__file__)
LINES = {
    m.group(1): i
    for i, text in enumerate(HERE.read_text().splitlines(), 1)
    if (m := re.search(r"# line: (\w+)$", text))
}

DEPTH = 100_000
A = 1.00001  # the chain's gradient is A ** (DEPTH / 2): about e**0.5


def deep_chain(x):
    """DEPTH ops alternating y * A and y - 1: dy/dx = A ** (DEPTH / 2)."""
    y = x
    for _ in range(DEPTH // 2):
        y = y * A
        y = y - 1.0
    return y


@pytest.fixture
def _small_recursion_limit():
    """The default limit, lowered: the walk must not depend on recursion at all."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    yield
    sys.setrecursionlimit(old)


def test_100k_eager_ops_then_backward(_small_recursion_limit):
    x = tracer.tensor([0.5, 2.0], dtype=tracer.float64, requires_grad=True)
    y = deep_chain(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [A ** (DEPTH // 2)] * 2, rtol=1e-9)


def test_100k_eager_ops_autograd_grad_twice_with_retain_graph(_small_recursion_limit):
    x = tracer.tensor(1.0, dtype=tracer.float64, requires_grad=True)
    y = deep_chain(x)
    (first,) = tracer.autograd.grad(y, x, retain_graph=True)
    (second,) = tracer.autograd.grad(y, x)
    assert first.item() == second.item() == pytest.approx(A ** (DEPTH // 2), rel=1e-9)


def test_a_100k_op_graph_is_freed_without_backward():
    x = tracer.ones(3, requires_grad=True)
    y = deep_chain(x)
    node = y.grad_fn
    del y
    gc.collect()
    assert node.next_functions  # still reachable from here, and dropping it is safe
    del node
    gc.collect()


# ---- long traces ----------------------------------------------------------------------

STEPS = 1_000


def unrolled(x, w):
    for i in range(STEPS):
        x = (x * w + 0.001 * i).tanh()
    return x


@pytest.fixture
def _interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the staged graphs on the reference interpreter: tracing, differentiation
    and the passes are under test here (a 1,000-step loop is one long fused loop
    for numba, which compiles it slowly)."""
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")


def long_args(requires_grad: bool = True):
    rng = np.random.default_rng(0)
    x = tracer.tensor(rng.standard_normal(4), dtype=tracer.float64, requires_grad=requires_grad)
    w = tracer.tensor(rng.uniform(0.5, 1.5, 4), dtype=tracer.float64, requires_grad=requires_grad)
    return x, w


def test_a_1000_step_unrolled_loop_traces_and_matches_eager(_interpreter):
    x, w = long_args()
    eager = unrolled(x, w)
    eager.sum().backward()
    expected = (eager.detach().numpy(), x.grad.numpy(), w.grad.numpy())

    x, w = long_args()
    with warnings.catch_warnings():
        warnings.simplefilter("error", LargeTraceWarning)  # 1,000 steps is not "very large"
        traced = tracer.trace(unrolled)(x, w)
        traced.sum().backward()
        value, (gx, gw) = tracer.value_and_grad(lambda x, w: unrolled(x, w).sum(), argnums=(0, 1))(
            *long_args(False)
        )
    np.testing.assert_allclose(traced.detach().numpy(), expected[0], rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), expected[1], rtol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), expected[2], rtol=1e-10)
    np.testing.assert_allclose(value.item(), expected[0].sum(), rtol=1e-12)
    np.testing.assert_allclose(gx.numpy(), expected[1], rtol=1e-10)
    np.testing.assert_allclose(gw.numpy(), expected[2], rtol=1e-10)


def very_long(x):
    for _ in range(builder.LARGE_TRACE // 2 + 1):  # two equations a step
        x = x * 0.5 + 1.0  # line: body
    return x


def test_a_very_large_trace_warns_once_at_the_users_line_with_a_better_structure():
    with pytest.warns(LargeTraceWarning) as record:
        tracer.trace(very_long).ir(tracer.ones(3))
    assert len(record) == 1
    w = record[0]
    assert issubclass(w.category, TracerWarning)
    assert (pathlib.Path(w.filename).name, w.lineno) == (HERE.name, LINES["body"])
    message = str(w.message)
    for fragment in (
        f"more than {builder.LARGE_TRACE:,} equations",
        f"{HERE}:{LINES['body']}",
        "x = x * 0.5 + 1.0",
        "vectorise",
        "move the loop out of the traced function",
    ):
        assert fragment in message, fragment


def test_differentiating_a_large_trace_does_not_warn_again(_interpreter):
    # ~2/3 of the threshold forward: its backward alone passes the threshold (with a
    # tensor factor: a constant one would be folded away by the optimiser)
    def f(x, y):
        for _ in range(builder.LARGE_TRACE // 3):
            x = x * y + 1.0
        return x.sum()

    with warnings.catch_warnings():
        warnings.simplefilter("error", LargeTraceWarning)
        text = tracer.value_and_grad(f, argnums=(0, 1)).ir(tracer.ones(3), tracer.ones(3))
    assert text.count(" = ") > builder.LARGE_TRACE
