"""Symbolic reverse mode: joint_vjp and its split into forward and backward graphs,
and what tracing makes of them (stop_gradient, unused inputs, missing cotangents,
integer values, max with indices)."""

from __future__ import annotations

import numpy as np
import pytest

import tracer
from compiler.autodiff import joint_vjp, split
from compiler.builder import GraphBuilder
from compiler.ir import Graph, Var, typecheck
from compiler.passes import optimize
from compiler.plan import to_plan
from compiler.registry import AVal
from runtime.interpreter import run

F32 = np.dtype("float32")
F64 = np.dtype("float64")
I64 = np.dtype("int64")


def stage(fn, *avals: AVal) -> Graph:
    b = GraphBuilder()
    xs = [b.new_input(a) for a in avals]
    out = fn(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    return b.graph([b._atom(o) for o in outs])


def evaluate(graph: Graph, *args) -> list[np.ndarray]:
    return run(to_plan(graph), list(args))


def rand(*shape, dtype=F64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---- stop_gradient: detach() and no_grad() inside traced code ----------------------------


def through_detach(x):
    return x * x.detach()  # d/dx = x.detach(): one path only


def through_no_grad(x):
    with tracer.no_grad():
        y = x * 3
    return (x * y).sum() + y.sum()  # d/dx = y only


@pytest.mark.parametrize(
    "fn,expected",
    [
        (lambda x: (through_detach(x)).sum(), lambda x: x),
        (through_no_grad, lambda x: 3 * x),
        (lambda x: x.detach().exp().sum(), lambda x: np.zeros_like(x)),
    ],
)
def test_stop_gradient_blocks_its_path(fn, expected):
    x = rand(4)
    g = tracer.grad(fn)(tracer.tensor(x))
    np.testing.assert_allclose(np.asarray(g), expected(x), rtol=1e-12)
    xt = tracer.tensor(x, requires_grad=True)
    out = tracer.trace(fn)(xt)
    if out.requires_grad:
        out.backward()
        np.testing.assert_allclose(np.asarray(xt.grad), expected(x), rtol=1e-12)
    else:  # only a stopped path: like eager mode, no graph at all
        assert xt.grad is None and out.grad_fn is None


def test_no_grad_inside_a_trace_records_stop_gradient_and_restores_grad_mode():
    x = tracer.ones(3, requires_grad=True)
    f = tracer.trace(through_no_grad)
    assert "stop_gradient" in f.ir(x)
    assert tracer.is_grad_enabled()
    assert "stop_gradient" not in f.forward_ir(x)  # stripped once differentiated


def test_a_traced_function_called_under_no_grad_records_nothing():
    x = tracer.ones(3, requires_grad=True)
    f = tracer.trace(lambda x: (x * 2).sum())
    with tracer.no_grad():
        out = f(x)
    assert out.grad_fn is None and not out.requires_grad
    assert f(x).grad_fn is not None  # same graph, now with its backward


# ---- unused inputs ----------------------------------------------------------------------


def test_unused_inputs_get_zero_gradients_from_joint_vjp():
    g = stage(lambda x, y, z: (x * 2).sum() + z.sum() * 0, *[AVal((3,), F64)] * 3)
    joint = joint_vjp(g, [True, True, True], seed_ones=True)
    typecheck(joint.graph)
    assert joint.connected == [True, False, True]
    outs = evaluate(optimize(joint.graph), rand(3), rand(3, seed=1), rand(3, seed=2))
    np.testing.assert_array_equal(outs[1], [2, 2, 2])
    np.testing.assert_array_equal(outs[2], [0, 0, 0])  # y: unused
    np.testing.assert_array_equal(outs[3], [0, 0, 0])  # z: used, times 0


def test_unused_inputs_get_zero_gradients_from_grad_and_none_from_backward():
    def f(x, y, z):
        return (x * z).sum()

    x, y, z = (tracer.tensor(rand(3, seed=i)) for i in range(3))
    gx, gy, gz = tracer.grad(f, argnums=(0, 1, 2))(x, y, z)
    np.testing.assert_array_equal(gy.numpy(), np.zeros(3))
    assert gy.dtype == y.dtype
    xs = [tracer.tensor(t.numpy(), requires_grad=True) for t in (x, y, z)]
    tracer.trace(f)(*xs).backward()
    assert xs[1].grad is None  # as eagerly: y is not in the graph
    np.testing.assert_array_equal(xs[0].grad.numpy(), z.numpy())
    with pytest.raises(tracer.AutogradError, match="not used"):
        tracer.autograd.grad(tracer.trace(f)(*xs), [xs[1]])


def test_outputs_that_do_not_depend_on_grad_inputs_have_no_grad_fn():
    f = tracer.trace(lambda x, y: (x * 2, y * 3, x.detach() + 1, (x > 0)))
    a, b, c, d = f(tracer.ones(2, requires_grad=True), tracer.ones(2))
    assert a.grad_fn is not None
    assert [t.requires_grad for t in (b, c, d)] == [False, False, False]


# ---- several outputs, some cotangents missing ---------------------------------------------


def two_outputs(x, w):
    h = x @ w
    return h.tanh(), (h * h).sum(1)


def test_backward_through_one_of_several_outputs():
    x, w = rand(3, 4), rand(4, 2, seed=1)
    xs = [tracer.tensor(x, requires_grad=True), tracer.tensor(w, requires_grad=True)]
    a, b = tracer.trace(two_outputs)(*xs)
    b.sum().backward()  # a gets no cotangent
    eager = [tracer.tensor(x, requires_grad=True), tracer.tensor(w, requires_grad=True)]
    two_outputs(*eager)[1].sum().backward()
    for t, e in zip(xs, eager):
        np.testing.assert_allclose(t.grad.numpy(), e.grad.numpy(), rtol=1e-12)


def test_autograd_grad_of_one_output_then_the_other_with_retain_graph():
    x, w = rand(3, 4), rand(4, 2, seed=1)
    xt, wt = tracer.tensor(x, requires_grad=True), tracer.tensor(w, requires_grad=True)
    a, b = tracer.trace(two_outputs)(xt, wt)
    (ga,) = tracer.autograd.grad(a.sum(), [wt], retain_graph=True)
    (gb,) = tracer.autograd.grad(b.sum(), [wt])
    ea, eb = two_outputs(tracer.tensor(x), we := tracer.tensor(w, requires_grad=True))
    (ea_w,) = tracer.autograd.grad(ea.sum(), [we], retain_graph=True)
    (eb_w,) = tracer.autograd.grad(eb.sum(), [we])
    np.testing.assert_allclose(ga.numpy(), ea_w.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), eb_w.numpy(), rtol=1e-12)


def test_joint_vjp_with_a_zero_cotangent_for_one_output():
    g = stage(two_outputs, AVal((3, 4), F64), AVal((4, 2), F64))
    joint = joint_vjp(g, [True, True])
    x, w, ct_b = rand(3, 4), rand(4, 2, seed=1), rand(3, seed=2)
    outs = evaluate(optimize(joint.graph), x, w, np.zeros((3, 2)), ct_b)
    only_b = evaluate(
        optimize(
            joint_vjp(
                stage(lambda x, w: two_outputs(x, w)[1], AVal((3, 4), F64), AVal((4, 2), F64)),
                [True, True],
            ).graph
        ),
        x,
        w,
        ct_b,
    )
    for got, expected in zip(outs[2:], only_b[1:]):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


# ---- integer inputs and outputs -------------------------------------------------------------


def gather_and_count(x, idx):
    picked = x[idx]
    return (picked * 2).sum(), (idx > 0).sum(), idx * 2


def test_integer_inputs_and_outputs():
    x, idx = rand(5), np.array([0, 3, 3, 1])
    xt = tracer.tensor(x, requires_grad=True)
    total, count, doubled = tracer.trace(gather_and_count)(xt, tracer.tensor(idx))
    assert (count.dtype, doubled.dtype) == (tracer.int64, tracer.int64)
    assert count.grad_fn is None and doubled.grad_fn is None
    assert count.item() == 3 and doubled.tolist() == [0, 6, 6, 2]
    total.backward()
    np.testing.assert_array_equal(xt.grad.numpy(), [2, 2, 0, 4, 0])  # repeats accumulate
    g = tracer.grad(lambda x, i: gather_and_count(x, i)[0])(tracer.tensor(x), tracer.tensor(idx))
    np.testing.assert_array_equal(g.numpy(), [2, 2, 0, 4, 0])


def test_gradient_with_respect_to_an_integer_argument_is_refused():
    with pytest.raises(TypeError, match="int64"):
        tracer.grad(lambda x, i: gather_and_count(x, i)[0], argnums=1)(
            tracer.tensor(rand(5)), tracer.tensor(np.array([0, 1]))
        )


def test_joint_vjp_gives_no_cotangent_to_integer_values():
    g = stage(lambda x, i: (x * i.to(F64)).sum(), AVal((3,), F64), AVal((3,), I64))
    joint = joint_vjp(g, [True, False], seed_ones=True)
    typecheck(joint.graph)
    assert len(joint.graph.outputs) == 2  # the value and one gradient
    _, gx = evaluate(joint.graph, rand(3), np.array([1, 2, 3]))
    np.testing.assert_array_equal(gx, [1, 2, 3])


def test_gradient_of_a_float32_input_used_in_float64_has_float32_dtype():
    x = tracer.tensor(rand(3, dtype=F32), requires_grad=True)
    out = tracer.trace(lambda x: (x.double() * tracer.tensor(rand(3))).sum())(x)
    out.backward()
    assert (out.dtype, x.grad.dtype) == (tracer.float64, tracer.float32)


# ---- max(dim): values and indices ------------------------------------------------------------


def max_with_indices(x):
    values, indices = x.max(1)
    return values * 2, indices


def test_max_dim_values_and_indices():
    x = np.array([[1.0, 5.0, 2.0], [7.0, -1.0, 3.0]])
    xt = tracer.tensor(x, requires_grad=True)
    values, indices = tracer.trace(max_with_indices)(xt)
    assert indices.tolist() == [1, 0] and indices.grad_fn is None
    np.testing.assert_array_equal(values.detach().numpy(), [10.0, 14.0])
    values.backward(tracer.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(xt.grad.numpy(), [[0, 2, 0], [20, 0, 0]])
    g = tracer.grad(lambda x: max_with_indices(x)[0].sum())(tracer.tensor(x))
    np.testing.assert_array_equal(g.numpy(), [[0, 2, 0], [2, 0, 0]])


# ---- split: forward returns outputs and residuals, backward consumes them -------------------


def mlp_layer(x, w, b):
    return (x @ w + b).tanh().sum(1), (x @ w).exp().mean()


AVALS = (AVal((4, 3), F64), AVal((3, 5), F64), AVal((5,), F64))


def split_of(fn, avals, wrt):
    g = optimize(stage(fn, *avals))
    joint = joint_vjp(g, wrt)
    joint.graph = optimize(joint.graph)
    return g, joint, split(joint)


def depends_on(graph: Graph, sources: set[Var]) -> set[Var]:
    reached = set(sources)
    for e in graph.eqns:
        if any(isinstance(a, Var) and a in reached for a in e.inputs):
            reached.update(e.outputs)
    return reached


def test_split_forward_returns_outputs_then_residuals_and_backward_takes_them():
    g, joint, s = split_of(mlp_layer, AVALS, [True, True, True])
    typecheck(s.forward)
    typecheck(s.backward)
    n_out = len(g.outputs)
    assert s.forward.inputs == g.inputs
    assert len(s.forward.outputs) == n_out + s.n_residuals
    residuals = s.forward.outputs[n_out:]
    assert s.backward.inputs[: s.n_residuals] == residuals
    cts = s.backward.inputs[s.n_residuals :]
    assert [v.aval for v in cts] == [o.aval for o in g.outputs]
    assert [o.aval for o in s.backward.outputs] == [v.aval for v in g.inputs]
    # partial evaluation: every backward equation needs a cotangent (no forward work)
    tainted = depends_on(s.backward, set(cts))
    assert all(e.outputs[0] in tainted for e in s.backward.eqns)


def test_split_forward_then_backward_equals_the_joint_graph():
    g, joint, s = split_of(mlp_layer, AVALS, [True, True, True])
    args = [rand(4, 3), rand(3, 5, seed=1), rand(5, seed=2)]
    cts = [rand(4, seed=3), rand(seed=4)]
    expected = evaluate(joint.graph, *args, *cts)
    fwd = evaluate(s.forward, *args)
    n_out = len(g.outputs)
    grads = evaluate(s.backward, *fwd[n_out:], *cts)
    for got, want in zip(fwd[:n_out] + grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    for got, want in zip(fwd[:n_out], evaluate(g, *args)):
        np.testing.assert_array_equal(got, want)


def test_split_with_respect_to_some_inputs_only():
    g, joint, s = split_of(mlp_layer, AVALS, [False, True, False])
    typecheck(s.backward)
    assert [o.aval for o in s.backward.outputs] == [AVALS[1]]
    assert joint.connected == [True]


def test_traced_forward_ir_lists_the_residuals_the_backward_ir_takes():
    f = tracer.trace(mlp_layer)
    args = [
        tracer.tensor(rand(4, 3)),
        tracer.tensor(rand(3, 5, seed=1), requires_grad=True),
        tracer.tensor(rand(5, seed=2), requires_grad=True),
    ]
    fwd, bwd = f.forward_ir(*args), f.grad_ir(*args)
    fwd_outs = fwd.splitlines()[-1]
    bwd_inputs = bwd.splitlines()[0]
    n_res = len(fwd_outs.split()) - 4 - 2  # "in ( o1 o2 r... ) }"
    assert len(bwd_inputs.split()) - 3 == n_res + 2  # "{ lambda r... ct1 ct2 ."
