"""The op registry is the single source of truth: every entry must be complete,
and every entry must be exercised by the op-spec table (so that adding an op
without a spec fails here)."""

from __future__ import annotations

import inspect

import pytest
from opspecs import SPECS, exercise

import tracer
from compiler.lowering import LOWERINGS
from compiler.registry import OPS, AVal, Op

# Ops without a VJP rule, and why. A new op without a VJP must be listed here.
NON_DIFFERENTIABLE = {
    "lt": "comparison: bool result",
    "le": "comparison: bool result",
    "gt": "comparison: bool result",
    "ge": "comparison: bool result",
    "eq": "comparison: bool result",
    "ne": "comparison: bool result",
    "logical_and": "bool in, bool out",
    "logical_or": "bool in, bool out",
    "logical_not": "bool in, bool out",
    "logical_xor": "bool in, bool out",
    "bitwise_and": "integer and bool operands only",
    "bitwise_or": "integer and bool operands only",
    "bitwise_xor": "integer and bool operands only",
    "bitwise_not": "integer and bool operands only",
    "signbit": "bool result",
    "full": "a constant",
    "count": "depends on its input's shape only",
    "iota": "a constant",
    "stop_gradient": "blocks gradients by definition",
    "while_vjp": "the reverse sweep of a while_loop; differentiating it raises (no_derivative)",
    "random": "random numbers: no gradient",
    "all": "bool in, bool out",
    "any": "bool in, bool out",
}

# Ops that eager mode never runs, and why (they still need a row in the tracing tests).
NOT_EAGER = {
    "stop_gradient": "emitted by tracing for detach()/no_grad(); eager detach() needs no op",
    "cond": "eager mode runs Python control flow; checked by tests/e2e/test_control_flow.py",
    "while_loop": "eager mode runs Python control flow; checked by tests/e2e/test_control_flow.py",
    "while_vjp": "eager mode runs Python control flow; checked by tests/e2e/test_control_flow.py",
    "scan": "eager mode runs Python control flow; checked by tests/e2e/test_control_flow.py",
    "custom_vjp_call": (
        "eagerly a custom_vjp is an autograd node running bwd; "
        "checked by tests/tracer/test_autograd_function.py"
    ),
    "random": (
        "eager rand draws PyTorch's mt19937 stream; checked by tests/e2e/test_random_in_trace.py"
    ),
}

OP_NAMES = sorted(OPS)


@pytest.mark.parametrize("name", OP_NAMES)
def test_entry_has_abstract_eval_impl_and_one_lowering_of_a_known_kind(name: str):
    op = OPS[name]
    assert (
        isinstance(op, Op),
        op.name,
        callable(op.abstract_eval),
        callable(op.impl),
        type(op.lowering) in LOWERINGS,
    ) == (True, name, True, True, True)


def test_every_lowering_kind_has_a_planner_and_every_item_an_emitter():
    from compiler.codegen import emit, plan

    assert set(plan._PLANNERS) == set(LOWERINGS)
    assert set(emit._EMITTERS) == {plan.Nest, plan.KernelCall, plan.ControlCall}


@pytest.mark.parametrize("name", OP_NAMES)
def test_entry_has_vjp_exactly_when_differentiable(name: str):
    op = OPS[name]
    assert (op.vjp is None) == (name in NON_DIFFERENTIABLE)


@pytest.mark.parametrize("name", [n for n in OP_NAMES if OPS[n].differentiable])
def test_differentiable_entry_names_a_pytorch_style_node(name: str):
    op = OPS[name]
    avals = tuple(AVal((2, 2), tracer.float32) for _ in range(2))
    node = op.grad_fn(avals) if callable(op.grad_fn) else op.grad_fn_name({}, avals)
    assert node == "CopySlices" or node[:-1].endswith("Backward") and node[-1].isdigit()


@pytest.mark.parametrize("name", [n for n in OP_NAMES if OPS[n].differentiable])
def test_vjp_takes_cotangent_output_and_the_inputs(name: str):
    params = list(inspect.signature(OPS[name].vjp).parameters.values())
    assert [p.name for p in params[:2]] in (["g", "out"], ["gg", "out"])


def _exercise(spec, op_log) -> None:
    for dtype in spec.dtypes:
        exercise(spec, dtype)


def test_every_registered_op_is_exercised_by_a_spec(op_log):
    for spec in SPECS:
        _exercise(spec, op_log)
    assert op_log.mismatches == []
    missing = set(OPS) - op_log.names - set(NOT_EAGER)
    assert missing == set(), f"ops without a row in tests/opspecs.py: {sorted(missing)}"


def test_exemption_lists_name_registered_ops():
    assert set(NON_DIFFERENTIABLE) | set(NOT_EAGER) <= set(OPS)
