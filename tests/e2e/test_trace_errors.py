"""Errors while tracing name the user's file and line and say the way out.

Python control flow on traced values raises tracer.TraceError suggesting
tracer.where or a static argument; a shape error names the op, both shapes and the
line; misuse of in-place updates, boolean masks and nested traces is refused with a
message instead of giving an answer that differs from eager mode.
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

import tracer

HERE = pathlib.Path(__file__)
LINES = {
    m.group(1): i
    for i, text in enumerate(HERE.read_text().splitlines(), 1)
    if (m := re.search(r"# line: (\w+)$", text))
}


def at(name: str) -> str:
    """`test_trace_errors.py:<line>` of the line marked `# line: name`."""
    return f"{HERE.name}:{LINES[name]}"


# ---- Python needs a concrete value -----------------------------------------------------------


def uses_bool(x):
    return x * 2 if bool(x.sum()) else x  # line: bool


def uses_if(x):
    if x.sum() > 0:  # line: if
        return x
    return -x


def uses_float(x):
    return x * float(x.mean())  # line: float


def uses_item(x):
    return x * x.max().item()  # line: item


def uses_numpy(x):
    return np.tanh(x.numpy())  # line: numpy


def uses_int(x):
    return x[: int(x.sum())]  # line: int


def uses_tolist(x):
    return tracer.tensor(x.tolist())  # line: tolist


def uses_np_asarray(x):
    return np.asarray(x) * 2  # line: asarray


def uses_while(x):
    while x.sum() < 10:  # line: while
        x = x * 2
    return x


def uses_and(x):
    return (x > 0) and x  # line: and


CONCRETE = [
    ("bool", uses_bool, "bool()"),
    ("if", uses_if, "bool()"),
    ("float", uses_float, "float()"),
    ("item", uses_item, ".item()"),
    ("numpy", uses_numpy, ".numpy()"),
    ("int", uses_int, "int()"),
    ("tolist", uses_tolist, ".tolist()"),
    ("asarray", uses_np_asarray, "converting to a numpy array"),
    ("while", uses_while, "bool()"),
    ("and", uses_and, "bool()"),
]


@pytest.mark.parametrize("line,fn,what", CONCRETE, ids=[c[0] for c in CONCRETE])
def test_python_needing_a_value_raises_trace_error_at_the_users_line(line, fn, what):
    with pytest.raises(tracer.TraceError) as info:
        tracer.trace(fn)(tracer.ones(3))
    message = str(info.value)
    assert what in message
    assert "traced tensor inside @tracer.trace" in message
    assert f"{at(line)}:" in message  # file:line: followed by the source text
    assert str(HERE) in message
    assert "tracer.where" in message
    assert "static" in message


def test_the_message_quotes_the_source_line():
    with pytest.raises(tracer.TraceError) as info:
        tracer.trace(uses_if)(tracer.ones(3))
    assert "if x.sum() > 0:" in str(info.value)


def test_a_failed_trace_caches_nothing_and_a_static_argument_is_the_fix():
    f = tracer.trace(lambda x, flag: x * 2 if flag else x)
    with pytest.raises(tracer.TraceError):
        f(tracer.ones(2), tracer.tensor(True))
    assert f.cache_info().entries == 0
    assert f(tracer.ones(2), True).tolist() == [2.0, 2.0]


def test_grad_and_value_and_grad_raise_the_same_trace_errors():
    for entry in (tracer.grad, tracer.value_and_grad):
        with pytest.raises(tracer.TraceError, match=re.escape(at("item"))):
            entry(lambda x: uses_item(x).sum())(tracer.ones(3))


def test_where_is_the_traceable_spelling():
    f = tracer.trace(lambda x: tracer.where(x > 0, x, -x))
    assert f(tracer.tensor([-1.0, 2.0])).tolist() == [1.0, 2.0]


# ---- shape and dtype errors -------------------------------------------------------------------


def adds_mismatched(x, y):
    return x + y  # line: add


def matmul_mismatched(x, y):
    return x @ y  # line: matmul


def reshapes_badly(x):
    return x.reshape(5, -1)  # line: reshape


def indexes_out_of_bounds(x):
    return x[3]  # line: index


def matmul_mixed_dtypes(x, y):
    return x @ y  # line: mmdtype


@pytest.mark.parametrize(
    "fn,args,op,shapes,line",
    [
        (adds_mismatched, (tracer.ones(3, 2), tracer.ones(4)), "add", ["(3, 2)", "(4,)"], "add"),
        (
            matmul_mismatched,
            (tracer.ones(2, 3), tracer.ones(2, 3)),
            "matmul",
            ["(2, 3)", "(2, 3)"],
            "matmul",
        ),
        (reshapes_badly, (tracer.ones(6),), "reshape", ["(6,)", "[5, -1]"], "reshape"),
        (indexes_out_of_bounds, (tracer.ones(3, 2),), "index 3", ["(3, 2)"], "index"),
    ],
    ids=["add", "matmul", "reshape", "index"],
)
def test_a_shape_error_names_the_op_both_shapes_and_the_users_line(fn, args, op, shapes, line):
    with pytest.raises((tracer.ShapeError, IndexError)) as info:
        tracer.trace(fn)(*args)
    message = str(info.value)
    assert op in message
    for s in shapes:
        assert s in message
    assert f"traced at {HERE}:{LINES[line]}:" in message


def test_a_dtype_error_names_both_dtypes_and_the_line():
    with pytest.raises(tracer.DTypeError) as info:
        tracer.trace(matmul_mixed_dtypes)(
            tracer.ones(2, 2), tracer.ones(2, 2, dtype=tracer.float64)
        )
    message = str(info.value)
    assert "float32" in message and "float64" in message and at("mmdtype") in message


def test_the_same_shape_error_eagerly_has_no_trace_location():
    with pytest.raises(tracer.ShapeError) as info:
        adds_mismatched(tracer.ones(3, 2), tracer.ones(4))
    assert "traced at" not in str(info.value)


def test_an_error_raised_by_user_code_is_left_alone():
    def raises(x):
        raise ValueError("the user's own message")

    with pytest.raises(ValueError, match=r"^the user's own message$"):
        tracer.trace(raises)(tracer.ones(2))


# ---- value_and_grad misuse --------------------------------------------------------------------


def test_value_and_grad_needs_a_scalar():
    with pytest.raises(TypeError, match=r"one floating-point scalar.*f32\[3\].*\.sum\(\)"):
        tracer.value_and_grad(lambda x: x * 2)(tracer.ones(3))


def test_gradient_with_respect_to_a_static_argument_is_refused():
    with pytest.raises(TypeError, match="argument 's': it holds no tensor or number"):
        tracer.grad(lambda x, s: (x * len(s)).sum(), argnums=1)(tracer.ones(2), "ab")


def test_argnums_out_of_range_and_static_argnums_conflict():
    with pytest.raises(ValueError, match="argnums 2 is out of range"):
        tracer.grad(lambda x: x.sum(), argnums=2)(tracer.ones(3))
    with pytest.raises(ValueError, match="also static"):
        tracer.grad(lambda x, n: (x * n).sum(), argnums=1, static_argnums=1)


# ---- boolean masks: data-dependent shapes --------------------------------------------------------


def masks(x):
    return x[x > 0].sum()  # line: mask


def test_boolean_mask_indexing_is_refused_with_the_way_out():
    with pytest.raises(tracer.TraceError) as info:
        tracer.trace(masks)(tracer.ones(3))
    message = str(info.value)
    assert "depends on the mask's values" in message
    assert "tracer.where" in message and at("mask") in message


def test_masked_assignment_of_one_value_per_selected_element_is_refused():
    def assign(x):
        y = x.clone()
        y[x > 0] = tracer.ones(2)  # line: maskassign
        return y

    with pytest.raises(tracer.TraceError, match="depends on the mask's values") as info:
        tracer.trace(assign)(tracer.tensor([1.0, -1.0, 2.0]))
    assert at("maskassign") in str(info.value)


# ---- in-place updates that traced code cannot reproduce ------------------------------------------


def updates_a_broadcast_view(x):
    y = x.clone()
    wide = y[0:1].expand(2, 2)
    wide.add_(1)  # line: expand
    return y


def updates_an_outside_value_in_a_loop_body(x):
    total = x.sum() * 0

    def body(i, c):
        total.add_(c.sum())  # line: loopbody
        return c * 2

    return tracer.fori_loop(0, 3, body, x), total


def reads_a_stale_view(x):
    y = x.clone()
    row = y[0]
    y.mul_(2)
    return row * 1  # line: stale


@pytest.mark.parametrize(
    "fn,line,what",
    [
        (updates_a_broadcast_view, "expand", "view made by expand/broadcast_to"),
        (updates_an_outside_value_in_a_loop_body, "loopbody", "inside the body of fori_loop"),
        (reads_a_stale_view, "stale", "a view of a tensor"),
    ],
    ids=["expand-view", "loop-body", "stale-view"],
)
def test_in_place_updates_traced_code_cannot_follow_are_refused(fn, line, what):
    with pytest.raises(tracer.TraceError) as info:
        tracer.trace(fn)(tracer.ones(2, 2))
    assert what in str(info.value)
    assert at(line) in str(info.value)


def test_in_place_update_that_changes_dtype_category_is_refused():
    def f(x):
        y = x.long() * 1
        y += 0.5
        return y

    with pytest.raises(tracer.DTypeError, match="can't be cast"):
        tracer.trace(f)(tracer.ones(2))


def test_backward_inside_a_traced_function_is_refused():
    def f(x):
        (x * 2).sum().backward()  # line: backward
        return x

    with pytest.raises(tracer.TraceError, match="tracer.grad") as info:
        tracer.trace(f)(tracer.ones(2, requires_grad=True))
    assert at("backward") in str(info.value)


# ---- nested traces and escaped values ---------------------------------------------------------


def test_grad_of_a_non_scalar_inside_a_trace_names_the_output_and_the_fix():
    inner = tracer.grad(lambda x: x * x)  # (grad of traced values nests: test_transforms.py)
    with pytest.raises(TypeError, match=r"one floating-point scalar.*\.sum\(\)"):
        tracer.trace(lambda x: inner(x) + 1)(tracer.ones(2))


def test_a_traced_value_leaked_from_an_earlier_trace_is_refused():
    leaked = []

    def keep(x):
        leaked.append(x * 1)
        return x + leaked[0]

    f = tracer.trace(keep)
    f(tracer.ones(2))
    with pytest.raises(tracer.TraceError, match="escaped from another trace"):
        f(tracer.ones(3))
