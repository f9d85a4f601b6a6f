"""Structured control flow: cond, switch, while_loop, fori_loop, scan.

Every program runs eagerly (Python control flow), traced on the interpreter and
compiled, and its value and gradients are compared with each other and with
float64 central finite differences. Then the staged forms: errors at the user's
line, the IR text, and compiled text that does not depend on the trip count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tracer

F64 = tracer.float64


def t(values: Any) -> tracer.Tensor:
    return tracer.tensor(np.asarray(values, dtype=np.float64))


# ---- the programs: scalar functions of float64 tensors --------------------------------


def cond_both_ways(x, w):
    def pos(x, w):
        return (x * w).sin().sum()

    def neg(x, w):
        return (x - w).exp().sum() * 0.5

    return tracer.cond(x.sum() > 0, pos, neg, x, w) + tracer.cond(x.sum() < 0, pos, neg, x, w)


def switch_three(x, w):
    branches = [
        lambda x: (x * w).sum(),
        lambda x: (x * x).sum() * w.sum(),
        lambda x: x.tanh().sum(),
    ]
    k = (x > 0).sum()  # 0..3: the last index clamps to branch 2
    return tracer.switch(k, branches, x)


def newton_sqrt(a, w):
    """A data-dependent trip count: Newton's iteration for sqrt(a) to 1e-12."""

    def keep_going(c):
        return ((c[0] * c[0] - a).abs() > 1e-12 * a).any()

    def step(c):
        return ((c[0] + a / c[0]) * 0.5, c[1] + 1)

    y, n = tracer.while_loop(keep_going, step, (a + 1.0, 0))
    return (y * w).sum()


def spring(x, k):
    """A damped spring integrated for 40 steps (fori_loop with Python int bounds)."""

    def step(i, s):
        pos, vel = s
        acc = -k[0] * pos - k[1] * vel
        return pos + 0.05 * vel, vel + 0.05 * acc

    pos, vel = tracer.fori_loop(0, 40, step, (x, x * 0))
    return (pos * pos).sum() + vel.sum()


def fori_traced_bounds(x, w):
    n = (x.abs() * 0 + 3).sum().long()  # a traced trip count: a while_loop inside
    return tracer.fori_loop(0, n, lambda i, c: c * w + 0.1, x).sum()


def rnn_scan(h0, ws):
    """An Elman cell over a sequence, with pytree carry and outputs; ys stacked."""
    w, u, xs = ws[:4].reshape(2, 2), ws[4:8].reshape(2, 2), ws[8:].reshape(3, 2)

    def cell(carry, x):
        h, total = carry["h"], carry["total"]
        h = (h @ w + x @ u).tanh()
        return {"h": h, "total": total + h.sum()}, (h, h.sum())

    carry, (hs, sums) = tracer.scan(cell, {"h": h0, "total": 0.0}, xs)
    return carry["total"] + (hs * hs).sum() + sums[-1]


def rnn_blas(h0, w, u, xs):
    """A cell whose matmuls are big enough for BLAS (batch 4, hidden 8, input 6), one
    with a transposed operand: the loop body calls gemm from njit code."""

    def cell(h, x):
        h = (h @ w.T + x @ u).tanh()
        return h, h.sum()

    h, ys = tracer.scan(cell, h0, xs)
    return (h * h).sum() + (ys * ys).sum()


def reverse_scan(x, w):
    c, ys = tracer.scan(lambda c, xi: (c * w + xi, c.sin()), x[0] * 0, x, reverse=True)
    return c.sum() + (ys * tracer.arange(x.shape[0], dtype=F64).unsqueeze(1)).sum()


def zero_trips(x, w):
    a = tracer.fori_loop(3, 3, lambda i, c: c * 100.0, x)
    b = tracer.while_loop(lambda c: c.sum() > 1e9, lambda c: c * 2, x * w)
    c, _ = tracer.scan(lambda c, xi: (c + xi, None), x, x[:0])
    return (a + b + c).sum()


def scan_in_fori(x, w):
    def outer(i, c):
        c, _ = tracer.scan(lambda c, xi: (c * xi + w, None), c, x)
        return c * 0.5

    return tracer.fori_loop(0, 3, outer, x[0]).sum()


def cond_in_scan(x, w):
    def cell(c, xi):
        c = tracer.cond(xi.sum() > 0, lambda c: c * w, lambda c: c + xi, c)
        return c, c.sum()

    c, ys = tracer.scan(cell, x[0], x)
    return c.sum() + ys.sum()


RNG = np.random.default_rng(0)
PROGRAMS: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
    ("cond", cond_both_ways, (t([0.3, -0.1, 0.5]), t([1.2, 0.7, -0.4]))),
    ("cond_other_branch", cond_both_ways, (t([-0.3, -0.1, 0.5]), t([1.2, 0.7, -0.4]))),
    ("switch", switch_three, (t([0.3, -0.1, 0.5]), t([1.2, 0.7, -0.4]))),
    ("switch_clamped", switch_three, (t([0.3, 0.1, 0.5]), t([1.2, 0.7, -0.4]))),
    ("while_newton", newton_sqrt, (t([2.0, 9.0, 0.5]), t([1.0, -2.0, 3.0]))),
    ("fori_spring", spring, (t([1.0, -0.5]), t([4.0, 0.3]))),
    ("fori_traced_bounds", fori_traced_bounds, (t([0.2, -0.4]), t([0.9, 1.1]))),
    ("scan_rnn_pytree", rnn_scan, (t([0.1, -0.2]), t(RNG.standard_normal(14) * 0.5))),
    (
        "scan_rnn_blas",
        rnn_blas,
        (
            t(RNG.standard_normal((4, 8)) * 0.5),
            t(RNG.standard_normal((8, 8)) * 0.4),
            t(RNG.standard_normal((6, 8)) * 0.4),
            t(RNG.standard_normal((5, 4, 6))),
        ),
    ),
    ("scan_reverse", reverse_scan, (t(RNG.standard_normal((4, 2))), t([0.8, -0.6]))),
    ("zero_trip_loops", zero_trips, (t([0.5, 1.5]), t([0.3, 0.2]))),
    ("scan_inside_fori", scan_in_fori, (t(RNG.uniform(0.5, 1.0, (3, 2))), t([0.1, -0.2]))),
    ("cond_inside_scan", cond_in_scan, (t(RNG.standard_normal((5, 2))), t([0.9, 1.1]))),
]


def finite_differences(
    fn: Callable[..., Any], args: tuple[Any, ...], eps: float = 1e-6
) -> list[np.ndarray]:
    grads = []
    for k, a in enumerate(args):
        g = np.zeros(a.shape)
        for i in range(a.numpy().size):
            hi, lo = [x.numpy().copy() for x in args], [x.numpy().copy() for x in args]
            hi[k].flat[i] += eps
            lo[k].flat[i] -= eps
            g.flat[i] = (fn(*map(t, hi)).item() - fn(*map(t, lo)).item()) / (2 * eps)
        grads.append(g)
    return grads


def eager(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[float, list[np.ndarray]]:
    xs = [a.detach().clone().requires_grad_() for a in args]
    y = fn(*xs)
    y.backward()
    return y.item(), [np.zeros(x.shape) if x.grad is None else x.grad.numpy() for x in xs]


@pytest.mark.parametrize("name,fn,args", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_eager_gradients_match_finite_differences(name, fn, args):
    _, grads = eager(fn, args)
    for g, fd in zip(grads, finite_differences(fn, args)):
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["interpreted", pytest.param("compiled", marks=pytest.mark.jit)])
@pytest.mark.parametrize("name,fn,args", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_traced_value_and_gradients_equal_eager(name, fn, args, mode, monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1" if mode == "interpreted" else "0")
    value, grads = eager(fn, args)
    vg = tracer.value_and_grad(fn, argnums=tuple(range(len(args))))
    got, got_grads = vg(*args)
    np.testing.assert_allclose(got.item(), value, rtol=1e-12)
    for g, e in zip(got_grads, grads):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-10, atol=1e-12)
    # and through @trace + backward() (the split forward and backward graphs)
    xs = [a.detach().clone().requires_grad_() for a in args]
    tracer.trace(fn)(*xs).backward()
    for x, e in zip(xs, grads):
        got = np.zeros(x.shape) if x.grad is None else x.grad.numpy()
        np.testing.assert_allclose(got, e, rtol=1e-10, atol=1e-12)


def test_eager_second_order_through_python_control_flow():
    x = t([1.0, -0.5]).requires_grad_()
    k = t([4.0, 0.3])
    (g,) = tracer.autograd.grad(spring(x, k), x, create_graph=True)
    (h,) = tracer.autograd.grad(g.sum(), x)
    eps = 1e-5
    fd = [
        (
            eager(spring, (x.detach() + eps * np.eye(2)[i], k))[1][0].sum()
            - eager(spring, (x.detach() - eps * np.eye(2)[i], k))[1][0].sum()
        )
        / (2 * eps)
        for i in range(2)
    ]
    np.testing.assert_allclose(h.numpy(), fd, rtol=1e-5)


def test_a_while_loop_traced_once_runs_a_different_number_of_steps_per_call():
    f = tracer.trace(
        lambda a: tracer.while_loop(
            lambda c: c[0] < a, lambda c: (c[0] * 2, c[1] + 1), (a * 0 + 1, 0)
        )[1]
    )
    assert [f(t(v)).item() for v in (1.0, 5.0, 1000.0)] == [0, 3, 10]
    assert f.cache_info().misses == 1


# ---- errors, IR text, compiled text ------------------------------------------------------


def _line_of(marker: str) -> str:
    import inspect

    src = inspect.getsource(inspect.getmodule(_line_of))
    for i, line in enumerate(src.splitlines(), 1):
        if marker in line and "_line_of" not in line:
            return f"test_control_flow.py:{i}"
    raise AssertionError(marker)


def carry_changes_shape(x):
    return tracer.fori_loop(0, 3, lambda i, c: c.sum(), x)  # marker: carry-shape


def carry_changes_dtype(x):
    return tracer.while_loop(lambda c: c.sum() < 3, lambda c: c.long(), x)  # marker: carry-dtype


def branches_differ(x):
    return tracer.cond(x.sum() > 0, lambda x: x, lambda x: x.double(), x)  # marker: branches


def branches_structure(x):
    return tracer.cond(x.sum() > 0, lambda x: (x, x), lambda x: x, x)  # marker: structure


@pytest.mark.parametrize(
    "fn,marker,fragments",
    [
        (carry_changes_shape, "carry-shape", ["fori_loop", "float32[3]", "float32[]"]),
        (carry_changes_dtype, "carry-dtype", ["while_loop", "int64[3]", "float32[3]"]),
        (branches_differ, "branches", ["cond", "float32[3]", "float64[3]", "true branch"]),
        (branches_structure, "structure", ["cond", "(tensor, tensor)", "tensor"]),
    ],
)
def test_type_errors_name_the_leaf_both_types_and_the_users_line(fn, marker, fragments):
    with pytest.raises(tracer.TraceError) as info:
        tracer.trace(fn)(tracer.ones(3))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert _line_of(f"marker: {marker}") in message


def test_control_flow_on_a_traced_value_points_to_the_loop_primitives():
    def f(x):
        while x.sum() < 10:
            x = x * 2
        return x

    with pytest.raises(tracer.TraceError, match="tracer.while_loop"):
        tracer.trace(f)(tracer.ones(2))


GOLDEN_LOOP = """\
{ lambda a:f32[2] b:f32[] .
  let c:i64[] = full[shape=() dtype=i64 value=0]
      d:i64[] e:f32[2] = scan[length=4 num_consts=1 num_carry=2] b c a
        body={ lambda f:f32[] g:i64[] h:f32[2] .
               let i:i64[] = add g 1
                   j:f32[2] = broadcast_to[shape=(2,)] f
                   k:f32[2] = mul h j
                   l:f32[2] = add k 1.0
               in ( i l ) }
  in ( e ) }"""

GOLDEN_COND = """\
{ lambda a:f32[2] .
  let b:f32[] = reduce_sum[axes=(0,)] a
      c:bool[] = gt b 0.0
      d:f32[2] = cond c a
        branches[0]={ lambda e:f32[2] .
                      let f:f32[2] = neg e
                      in ( f ) }
        branches[1]={ lambda g:f32[2] .
                      let h:f32[2] = mul g 2.0
                      in ( h ) }
  in ( d ) }"""


def test_golden_ir_of_a_loop_and_a_cond():
    from compiler.ir import pretty

    loop = tracer.trace(lambda x, w: tracer.fori_loop(0, 4, lambda i, c: c * w + 1.0, x))
    graph = loop._entry((tracer.ones(2), tracer.tensor(0.5)), {})[0].graph
    assert pretty(graph, show_source=False) == GOLDEN_LOOP
    branch = tracer.trace(lambda x: tracer.cond(x.sum() > 0, lambda x: x * 2.0, lambda x: -x, x))
    assert pretty(branch._entry((tracer.ones(2),), {})[0].graph, show_source=False) == GOLDEN_COND


def test_a_10_step_and_a_1000_step_loop_generate_the_same_kernel_text():
    from compiler.autodiff import joint_vjp
    from compiler.codegen import generate
    from compiler.passes import optimize, strip_stop_gradient

    def texts(n: int) -> tuple[str, str]:
        f = tracer.trace(lambda x, k: tracer.fori_loop(0, n, lambda i, c: c * k[0] + k[1], x).sum())
        graph = f._entry((tracer.ones(2), tracer.ones(2)), {})[0].graph
        joint = optimize(strip_stop_gradient(joint_vjp(graph, [True, True], seed_ones=True).graph))
        return generate(graph)[0], generate(joint)[0]

    assert texts(10) == texts(1000)


@pytest.mark.jit
def test_a_loop_body_calls_blas_from_njit_code_with_scratch_allocated_by_its_caller():
    from runtime import blas

    if not blas.HAVE_BLAS:
        pytest.skip("numpy's OpenBLAS not found: matmuls run from the Python entry")
    _, fn, args = next(p for p in PROGRAMS if p[0] == "scan_rnn_blas")
    src = tracer.value_and_grad(fn, argnums=(0, 1, 2)).source(*args)
    bodies, entry = src.split("\ndef kernel(")
    assert "np.dot" not in src  # no matmul runs in a Python entry
    assert "@numba.njit" in bodies.rsplit("\n\n\n", 1)[-1]  # the entry is njit code too
    assert "dgemm(" in bodies  # the loop bodies' matmuls
    assert "np.empty(" not in bodies  # their buffers are passed in, not allocated per step
    assert "_scratch0" in entry


def _matmuls_in_scan_bodies(fn: Callable[..., Any], args: tuple[Any, ...], wrt: list[bool]) -> int:
    from compiler.autodiff import joint_vjp
    from compiler.passes import optimize, strip_stop_gradient

    graph = tracer.trace(fn)._entry(args, {})[0].graph
    joint = optimize(strip_stop_gradient(joint_vjp(graph, wrt, seed_ones=True).graph))
    bodies = [e.params["body"] for e in joint.eqns if e.op.name == "scan"]
    return sum(q.op.name == "matmul" for b in bodies for q in b.eqns)


@pytest.mark.parametrize("mode", ["interpreted", pytest.param("compiled", marks=pytest.mark.jit)])
def test_a_gradient_nobody_asked_for_is_not_computed_inside_the_loop(mode, monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1" if mode == "interpreted" else "0")
    _, fn, args = next(p for p in PROGRAMS if p[0] == "scan_rnn_blas")
    _, grads = eager(fn, args)
    _, (g_w, g_u) = tracer.value_and_grad(fn, argnums=(1, 2))(*args)
    np.testing.assert_allclose(g_w.numpy(), grads[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g_u.numpy(), grads[2], rtol=1e-10, atol=1e-12)
    # the backward step's matmul for the gradient of xs (an unused stacked output) is gone
    every = _matmuls_in_scan_bodies(fn, args, [True, True, True, True])
    assert _matmuls_in_scan_bodies(fn, args, [False, True, True, False]) == every - 1
