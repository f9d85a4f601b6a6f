"""Graph passes: each removes what it should, keeps `typecheck` happy, keeps the
outputs' types, and never changes a value (NaN, inf and -0.0 included).

Graphs are built with the compiler alone (GraphBuilder and its symbolic values) and
run by the reference interpreter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from opspecs import SPECS, OpSpec

import compiler.ops  # noqa: F401  (fills the registry)
from compiler.autodiff import joint_vjp
from compiler.builder import GraphBuilder
from compiler.ir import Eqn, Graph, Literal, TypeCheckError, Var, typecheck
from compiler.operand import apply
from compiler.passes import (
    cse,
    dce,
    fold_constants,
    inline_fills,
    optimize,
    simplify,
    strip_stop_gradient,
)
from compiler.plan import to_plan
from compiler.registry import OPS, AVal
from runtime.interpreter import run

F32 = np.dtype("float32")
F64 = np.dtype("float64")
I64 = np.dtype("int64")
PASSES = {
    "dce": dce,
    "cse": cse,
    "fold_constants": fold_constants,
    "simplify": simplify,
    "strip_stop_gradient": strip_stop_gradient,
    "optimize": optimize,
}
SPECIAL = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.0, 3e38], F32)


def stage(fn: Callable[..., Any], *avals: AVal) -> Graph:
    b = GraphBuilder()
    xs = [b.new_input(a) for a in avals]
    out = fn(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    return b.graph([b._atom(o) for o in outs])


def evaluate(graph: Graph, *args: np.ndarray) -> list[np.ndarray]:
    n = len(graph.inputs) - len(graph.consts)
    return run(to_plan(graph), list(args[:n]) + [graph.consts[v] for v in graph.inputs[n:]])


def op_names(graph: Graph) -> list[str]:
    return [e.op.name for e in graph.eqns]


def assert_identical(got: list[np.ndarray], expected: list[np.ndarray]) -> None:
    """Same dtypes, shapes and values, signs of zeros included (NaN equals NaN, whatever
    its sign bit)."""
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        g, e = np.asarray(g), np.asarray(e)
        assert (g.dtype, g.shape) == (e.dtype, e.shape)
        np.testing.assert_array_equal(g, e)
        if g.dtype.kind == "f":
            np.testing.assert_array_equal(
                np.signbit(g) & ~np.isnan(g), np.signbit(e) & ~np.isnan(e)
            )


def checked(pass_: Callable[[Graph], Graph], graph: Graph) -> Graph:
    """Run a pass; the result typechecks and has the same inputs and output types."""
    out = pass_(graph)
    typecheck(out)
    assert out.inputs == graph.inputs
    assert [a.aval for a in out.outputs] == [a.aval for a in graph.outputs]
    return out


# ---- dce -------------------------------------------------------------------------------


def test_dce_drops_unused_equations_and_keeps_the_rest():
    def fn(x):
        unused = (x * 2).exp()  # two dead equations
        del unused
        return x + 1, x

    g = stage(fn, AVal((3,), F32))
    assert op_names(g) == ["mul", "exp", "add"]
    out = checked(dce, g)
    assert op_names(out) == ["add"]
    assert out.outputs[1] is g.inputs[0]  # an input returned as is stays an output
    x = np.arange(3, dtype=F32)
    assert_identical(evaluate(out, x), evaluate(g, x))


def test_dce_keeps_every_result_of_a_used_multiple_result_equation():
    g = stage(lambda x: x.max(1).values, AVal((2, 3), F32))
    out = checked(dce, g)
    assert op_names(out) == ["max_dim"]


# ---- cse -------------------------------------------------------------------------------


def test_cse_merges_duplicate_equations():
    g = stage(lambda x, y: (x * y).exp() + (x * y).exp(), AVal((3,), F32), AVal((3,), F32))
    assert op_names(g) == ["mul", "exp", "mul", "exp", "add"]
    out = checked(lambda g: dce(cse(g)), g)
    assert op_names(out) == ["mul", "exp", "add"]
    add = out.eqns[-1]
    assert add.inputs[0] is add.inputs[1]
    x, y = np.array([1, 2, 3], F32), np.array([-1, 0.5, 2], F32)
    assert_identical(evaluate(out, x, y), evaluate(g, x, y))


def test_cse_merges_multiple_result_equations_output_by_output():
    g = stage(lambda x: (x.max(1).values, x.max(1).indices), AVal((2, 3), F32))
    out = checked(lambda g: dce(cse(g)), g)
    assert op_names(out) == ["max_dim"]
    assert out.outputs == out.eqns[0].outputs


@pytest.mark.parametrize(
    "name,fn,dtype",
    [
        ("different params", lambda x: (x.sum(0), x.sum(1).sum()), F32),
        ("literal 0.0 and -0.0", lambda x: (x * 0.0, x * -0.0), F32),
        ("full 0.0 and -0.0", lambda x: (x.full_like(0.0), x.full_like(-0.0)), F32),
        ("int and float params of equal value", lambda x: (x.clamp(min=0), x.clamp(min=0.0)), I64),
        ("pow 2 and 2.0 on integers", lambda x: (x**2, x**2.0), I64),
        ("different dtypes", lambda x: (x.to(F64), x.to(I64)), F32),
    ],
)
def test_cse_keeps_equations_that_differ(name, fn, dtype):
    g = stage(fn, AVal((2, 3), dtype))
    out = checked(cse, g)
    assert op_names(out) == op_names(g)
    x = np.array([[-0.0, 1, 2], [3, -4, 5]], dtype)
    assert_identical(evaluate(out, x), evaluate(g, x))


# ---- constant folding -------------------------------------------------------------------


def literal_graph(op: str, *values: Any, dtype: np.dtype = F32, **params: Any) -> Graph:
    """x op' (op applied to literals): `mul x (op lit lit)`-shaped graph."""
    lits = [Literal(v, dtype) for v in values]
    aval = OPS[op].abstract_eval(*[a.aval for a in lits], **params)
    t = Var(aval)
    x = Var(AVal((3,), aval.dtype))
    y = Var(AVal((3,), aval.dtype))
    combine = "logical_and" if aval.dtype == np.bool_ else "mul"
    return Graph([x], [Eqn(OPS[op], lits, params, [t]), Eqn(OPS[combine], [x, t], {}, [y])], [y])


@pytest.mark.parametrize(
    "op,values,params,expected",
    [
        ("mul", (2.0, 3.0), {}, 6.0),
        ("add", (0.5, -0.5), {}, 0.0),
        ("neg", (0.0,), {}, -0.0),
        ("mul", (0.0, np.inf), {}, np.nan),
        ("div", (1.0, -0.0), {}, -np.inf),
        ("sub", (np.inf, np.inf), {}, np.nan),
        ("exp", (0.0,), {}, 1.0),
        ("pow_scalar", (3.0,), {"exponent": 2}, 9.0),
        ("lt", (1.0, 2.0), {}, True),
    ],
)
def test_fold_constants_evaluates_literal_equations_exactly(op, values, params, expected):
    g = literal_graph(op, *values, **params)
    with np.errstate(all="ignore"):
        out = checked(fold_constants, g)
    assert op_names(out) != op_names(g) and len(out.eqns) == 1
    lit = out.eqns[0].inputs[1]
    assert isinstance(lit, Literal)
    assert lit.aval == g.eqns[0].outputs[0].aval
    np.testing.assert_array_equal(lit.value, expected)
    if not np.isnan(expected):
        assert np.signbit(lit.value) == np.signbit(expected)
    x = (
        np.array([1.0, -2.0, 0.5], lit.aval.dtype)
        if lit.aval.dtype != np.bool_
        else np.array([True, False, True])
    )
    with np.errstate(all="ignore"):
        assert_identical(evaluate(out, x), evaluate(g, x))


def test_fold_constants_leaves_equations_with_variable_inputs():
    g = stage(lambda x: (x * 2.0).exp(), AVal((3,), F32))
    assert op_names(checked(fold_constants, g)) == op_names(g)


# ---- simplification ---------------------------------------------------------------------

REWRITES = [
    # name, fn, ops left after inline_fills + simplify + dce
    ("x*1", lambda x: x * 1, []),
    ("1*x", lambda x: 1.0 * x, []),
    ("x/1", lambda x: x / 1, []),
    ("x-0", lambda x: x - 0, []),
    ("-(-x)", lambda x: -x.neg(), []),
    ("x**1", lambda x: x**1, []),
    ("x**2 -> x*x", lambda x: x**2, ["mul"]),
    ("x*ones", lambda x: x * x.ones_like(), []),
    ("no-op reshape", lambda x: apply("reshape", x, shape=(8,)), []),
    ("no-op transpose", lambda x: apply("transpose", x, perm=(0,)), []),
    ("no-op broadcast", lambda x: apply("broadcast_to", x, shape=(8,)), []),
    ("no-op convert", lambda x: apply("convert", x, dtype=F32), []),
]

NOT_REWRITTEN = [
    # x*0 is NaN for NaN and inf, -0.0 for negative x; x+0.0 turns -0.0 into 0.0
    ("x*0", lambda x: x * 0, ["mul"]),
    ("0*x", lambda x: 0.0 * x, ["mul"]),
    ("x*zeros", lambda x: x * x.zeros_like(), ["mul"]),
    ("x+0.0", lambda x: x + 0.0, ["add"]),
    ("0.0+x", lambda x: 0.0 + x, ["add"]),
    ("x+zeros", lambda x: x + x.zeros_like(), ["add"]),
    ("x-(-0.0)", lambda x: x - (-0.0), ["sub"]),
    ("x/(-1)", lambda x: x / -1, ["div"]),
    ("x-x", lambda x: x - x, ["sub"]),
    ("x**0", lambda x: x**0, ["pow_scalar"]),
    ("x*(-1)*(-1)", lambda x: x * -1 * -1, ["mul", "mul"]),
    # a float sum starts from +0.0, so even over no axes it is not the identity
    ("sum over no axes", lambda x: apply("reduce_sum", x, axes=(), keepdims=False), ["reduce_sum"]),
]


@pytest.mark.parametrize(
    "name,fn,left", REWRITES + NOT_REWRITTEN, ids=[r[0] for r in REWRITES + NOT_REWRITTEN]
)
def test_simplify_rewrites_exactly(name, fn, left):
    g = stage(fn, AVal((8,), F32))
    out = checked(lambda g: dce(simplify(inline_fills(g))), g)
    assert op_names(out) == left
    if not left:
        assert out.outputs == [g.inputs[0]]
    with np.errstate(all="ignore"):
        assert_identical(evaluate(out, SPECIAL), evaluate(g, SPECIAL))


def test_simplify_x_squared_becomes_one_multiplication_of_x_by_itself():
    g = checked(simplify, stage(lambda x: x**2, AVal((8,), F32)))
    (mul,) = g.eqns
    assert mul.inputs == [g.inputs[0], g.inputs[0]]


def test_simplify_on_integers_keeps_dtypes():
    g = stage(
        lambda x: (x * 1, x**2, x**1.0, apply("reduce_sum", x, axes=(), keepdims=False)),
        AVal((4,), I64),
    )
    out = checked(lambda g: dce(simplify(g)), g)
    x = np.array([-3, 0, 2, 7], I64)
    assert_identical(evaluate(out, x), evaluate(g, x))
    assert out.outputs[0] is g.inputs[0] and out.outputs[3] is g.inputs[0]
    assert out.outputs[2].aval.dtype == F32  # x**1.0 is a float


def test_sum_of_negative_zero_is_positive_zero_traced_as_eagerly():
    g = optimize(stage(lambda x: x.sum(), AVal((), F32)))
    (result,) = evaluate(g, np.array(-0.0, F32))
    assert result == 0 and not np.signbit(result)


# ---- stop_gradient -----------------------------------------------------------------------


def test_strip_stop_gradient_removes_it_and_rewires_its_users():
    g = stage(lambda x: x.detach() * x, AVal((3,), F32))
    assert op_names(g) == ["stop_gradient", "mul"]
    out = checked(strip_stop_gradient, g)
    assert op_names(out) == ["mul"]
    assert out.eqns[0].inputs == [g.inputs[0], g.inputs[0]]


# ---- every op of the table: each pass is type- and value-preserving ---------------------


def spec_graph(spec: OpSpec, dtype: str) -> tuple[Graph, list[np.ndarray]]:
    arrays = spec.make_inputs(dtype)
    b = GraphBuilder()
    xs = [b.new_input(AVal(a.shape, a.dtype)) for a in arrays]
    out = spec.fn(*xs)
    graph = b.graph([b._atom(out)])
    return graph, list(arrays) + [np.asarray(t._data) for _, t in b.captured]


def _table(dtype_filter=None, differentiable=False):
    return [
        pytest.param(s, d, id=f"{s.name}-{d}")
        for s in SPECS
        if not s.data_dependent and (s.differentiable or not differentiable)
        for d in s.dtypes
        if dtype_filter is None or d == dtype_filter
    ]


@pytest.mark.parametrize("spec,dtype", _table())
def test_every_pass_preserves_types_and_values_of_the_op_table(spec: OpSpec, dtype: str):
    graph, args = spec_graph(spec, dtype)
    typecheck(graph)
    with np.errstate(all="ignore"):
        expected = evaluate(graph, *args)
        for p in PASSES.values():
            out = checked(p, graph)
            assert_identical(evaluate(out, *args), expected)
        assert_identical(evaluate(optimize(optimize(graph)), *args), expected)


@pytest.mark.parametrize("spec,dtype", _table("float64", differentiable=True))
def test_every_pass_preserves_the_joint_graph_of_the_op_table(spec: OpSpec, dtype: str):
    graph, args = spec_graph(spec, dtype)
    wrt = [v.aval.dtype.kind == "f" for v in graph.inputs]
    joint = joint_vjp(graph, wrt)
    typecheck(joint.graph)
    rng = np.random.default_rng(0)
    cts = [
        rng.standard_normal(v.aval.shape).astype(v.aval.dtype)
        for v in joint.graph.inputs[joint.n_primal_inputs :]
    ]
    with np.errstate(all="ignore"):
        n = len(graph.inputs) - len(graph.consts)
        full = args[:n] + [graph.consts[v] for v in graph.inputs[n:]] + cts
        expected = run(to_plan(joint.graph), full)
        for p in PASSES.values():
            out = checked(p, joint.graph)
            assert_identical(run(to_plan(out), full), expected)


# ---- the verifier itself ------------------------------------------------------------------


def _broken(kind: str) -> Graph:
    x = Var(AVal((3,), F32))
    y, z = Var(AVal((3,), F32)), Var(AVal((3,), F32))
    mul, neg = OPS["mul"], OPS["neg"]
    if kind == "use before definition":
        return Graph([x], [Eqn(neg, [y], {}, [z]), Eqn(neg, [x], {}, [y])], [z])
    if kind == "assigned twice":
        return Graph([x], [Eqn(neg, [x], {}, [y]), Eqn(neg, [x], {}, [y])], [y])
    if kind == "wrong output type":
        return Graph(
            [x], [Eqn(OPS["reduce_sum"], [x], {"axes": (0,), "keepdims": False}, [y])], [y]
        )
    if kind == "undefined output":
        return Graph([x], [], [y])
    if kind == "input twice":
        return Graph([x, x], [], [x])
    if kind == "bad literal":
        lit = Literal(1.0, F32)
        lit.value = np.float64(1.0)
        return Graph([x], [Eqn(mul, [x, lit], {}, [y])], [y])
    if kind == "constant of another shape":
        return Graph([x], [Eqn(neg, [x], {}, [y])], [y], {x: np.zeros(4, F32)})
    if kind == "constant not an input":
        return Graph([x], [Eqn(neg, [x], {}, [y])], [y], {z: np.zeros(3, F32)})
    if kind == "elementwise input not converted":
        w = Var(AVal((3,), np.dtype(np.float64)))
        return Graph([x, w], [Eqn(mul, [x, w], {}, [y])], [y])
    if kind == "elementwise input not broadcast":
        w = Var(AVal((1,), F32))
        return Graph([x, w], [Eqn(mul, [x, w], {}, [y])], [y])
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "use before definition",
        "assigned twice",
        "wrong output type",
        "undefined output",
        "input twice",
        "bad literal",
        "constant of another shape",
        "constant not an input",
        "elementwise input not converted",
        "elementwise input not broadcast",
    ],
)
def test_typecheck_rejects_broken_graphs(kind):
    with pytest.raises(TypeCheckError):
        typecheck(_broken(kind))
