"""One test per entry of docs/errors.md: the message names the op, the shapes and
dtypes involved, the user's file and line for traced code, and the fix; and the
error leaves nothing half-done (tensor data, version counter, grad_fn and .grad
unchanged; a failed trace caches nothing and the next good call works).
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

import tracer
from tracer import AutogradError, DTypeError, ShapeError, TraceError

HERE = pathlib.Path(__file__)
LINES = {
    m.group(1): i
    for i, text in enumerate(HERE.read_text().splitlines(), 1)
    if (m := re.search(r"# line: (\w+)$", text))
}


def at(name: str) -> str:
    """`/abs/path/test_error_catalogue.py:<line>:` of the line marked `# line: name`."""
    return f"{HERE}:{LINES[name]}:"


def raises(exc, fn, *fragments) -> str:
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    missing = [f for f in fragments if f not in message]
    assert missing == [], f"message {message!r} lacks {missing}"
    return message


def state(*tensors):
    """What an error must not change: data, version counter, grad_fn and .grad."""
    return [
        (t.tolist(), t._version[0], t.grad_fn, None if t.grad is None else t.grad.tolist())
        for t in tensors
    ]


def leaf(values=(1.0, 2.0, 3.0)):
    return tracer.tensor(list(values), requires_grad=True)


@pytest.fixture(autouse=True)
def _interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Traced entries are about tracing; the interpreter runs their graphs at once."""
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")


def fails_then_works(fn, bad_args, good_args, exc, *fragments) -> str:
    """A traced `fn` raises on `bad_args`, caches nothing, and then runs `good_args`
    as eager mode does."""
    f = tracer.trace(fn)
    message = raises(exc, lambda: f(*bad_args), *fragments)
    assert f.cache_info().entries == 0
    np.testing.assert_allclose(f(*good_args).numpy(), fn(*good_args).numpy())
    assert f.cache_info().entries == 1
    return message


# ---- 1. backward() on a non-scalar ---------------------------------------------------------


def test_1_backward_on_a_non_scalar():
    x = leaf()
    y = x * 2
    before = state(x, y)
    raises(
        AutogradError,
        y.backward,
        "scalar outputs",
        "backward()",
        "float32",
        "(3,)",
        "MulBackward0",
        "loss.sum().backward()",
        "gradient=tracer.ones_like",
    )
    assert state(x, y) == before
    y.backward(tracer.ones_like(y))  # the fix
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


# ---- 2. backward() twice --------------------------------------------------------------------


def test_2_backward_twice():
    x = leaf()
    loss = x.exp().sum()
    loss.backward()
    before = state(x)
    raises(
        AutogradError,
        loss.backward,
        "second time",
        "ExpBackward0",
        "exp of float32 (3,)",
        "retain_graph=True",
    )
    assert state(x) == before


def test_2_backward_twice_through_a_traced_function():
    x = leaf()
    loss = tracer.trace(lambda x: x.exp())(x).sum()
    loss.backward()
    before = state(x)
    raises(AutogradError, loss.backward, "second time", "traced function", "retain_graph=True")
    assert state(x) == before


def test_2_retain_graph_is_the_fix():
    x = leaf()
    loss = x.exp().sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0, 3.0]), rtol=1e-6)


# ---- 3. gradient= of the wrong shape ----------------------------------------------------------


def test_3_gradient_of_the_wrong_shape():
    x = leaf()
    y = x * 2
    raises(
        AutogradError,
        lambda: y.backward(gradient=tracer.ones(2)),
        "mismatch in shape",
        "(2,)",
        "float32 tensor of shape (3,)",
        "MulBackward0",
        "tracer.ones_like",
    )
    assert x.grad is None


def test_3_a_list_is_one_gradient_per_output():
    x = leaf()
    raises(
        AutogradError,
        lambda: (x * 2).backward([1.0, 1.0, 1.0]),
        "3 gradients for 1 output",
        "tracer.tensor([...])",
    )
    assert x.grad is None


def test_3_a_gradient_that_is_not_numbers():
    x = leaf()
    raises(
        DTypeError,
        lambda: (x * 2).backward(np.array(["a", "b", "c"])),
        "tensor()",
        "<U1",
        "not supported",
    )
    assert x.grad is None


# ---- 4. broadcasting ----------------------------------------------------------------------------


def adds(x, y):
    return x + y  # line: add


def test_4_shapes_that_do_not_broadcast():
    raises(
        ShapeError,
        lambda: adds(tracer.ones(2, 3), tracer.ones(4)),
        "add:",
        "(2, 3)",
        "(4,)",
        "do not broadcast",
        "dimension -1",
        "[3, 4]",
        ".unsqueeze(dim)",
    )


def test_4_traced_names_the_users_line_and_the_next_call_works():
    message = fails_then_works(
        adds,
        (tracer.ones(2, 3), tracer.ones(4)),
        (tracer.ones(2, 3), tracer.ones(3)),
        ShapeError,
        "add:",
        "(2, 3)",
        "(4,)",
        ".unsqueeze(dim)",
    )
    assert f"traced at {at('add')} return x + y" in message


def test_4_an_in_place_op_with_a_larger_broadcast_shape_changes_nothing():
    t = tracer.zeros(3)
    before = state(t)
    raises(
        ShapeError,
        lambda: t.add_(tracer.ones(2, 3)),
        "add_",
        "(2, 3)",
        "(3,)",
        "float32",
        "out-of-place",
    )
    assert state(t) == before


# ---- 5. matmul ------------------------------------------------------------------------------------


def matmuls(x, y):
    return x @ y  # line: matmul


@pytest.mark.parametrize(
    "sa,sb,hint",
    [
        ((2, 3), (2, 3), "transpose the second"),
        ((3, 2), (3, 4), "transpose the first"),
        ((2, 3), (4, 5), ""),
        ((3,), (4,), ""),
    ],
    ids=["transpose_second", "transpose_first", "no_hint", "vectors"],
)
def test_5_matmul_shapes(sa, sb, hint):
    message = raises(
        ShapeError,
        lambda: matmuls(tracer.ones(*sa), tracer.ones(*sb)),
        "matmul",
        str(sa),
        str(sb),
        "cannot be multiplied",
        hint,
    )
    assert ("did you mean" in message) == bool(hint)


def test_5_traced_matmul_names_the_users_line():
    message = fails_then_works(
        matmuls,
        (tracer.ones(2, 3), tracer.ones(2, 3)),
        (tracer.ones(2, 3), tracer.ones(3, 2)),
        ShapeError,
        "matmul",
        "(2, 3)",
        "transpose the second",
    )
    assert at("matmul") in message


# ---- 6. dtypes ----------------------------------------------------------------------------------


def test_6_matmul_of_two_dtypes():
    raises(
        DTypeError,
        lambda: matmuls(tracer.ones(2, 3), tracer.ones(3, 2, dtype=tracer.float64)),
        "matmul",
        "float32",
        "float64",
        "(2, 3)",
        "(3, 2)",
        ".to(dtype)",
    )


def test_6_traced_matmul_of_two_dtypes_names_the_users_line():
    message = fails_then_works(
        matmuls,
        (tracer.ones(2, 3), tracer.ones(3, 2, dtype=tracer.float64)),
        (tracer.ones(2, 3), tracer.ones(3, 2)),
        DTypeError,
        "matmul",
        "float32",
        "float64",
        ".to(dtype)",
    )
    assert at("matmul") in message


@pytest.mark.parametrize(
    "fn,fragments",
    [
        (
            lambda: tracer.where(tracer.ones(3), tracer.ones(3), 0),
            ("where", "bool tensor", "float32", "(3,)", "x > 0", ".bool()"),
        ),
        (
            lambda: tracer.tensor([1, 2]).mean(),
            ("mean", "floating point", "int64", "(2,)", ".float()"),
        ),
        (
            lambda: tracer.tensor([1, 2]).softmax(0),
            ("softmax", "floating point", "int64", "(2,)", ".float()"),
        ),
        (
            lambda: tracer.tensor([1, 2]).logsumexp(0),
            ("logsumexp", "floating point", "int64", "(2,)", ".float()"),
        ),
    ],
    ids=["where_condition", "mean_of_ints", "softmax_of_ints", "logsumexp_of_ints"],
)
def test_6_an_op_that_needs_another_dtype(fn, fragments):
    raises(DTypeError, fn, *fragments)


def test_6_in_place_float_into_an_integer_tensor_changes_nothing():
    i = tracer.tensor([1, 2])
    before = state(i)
    raises(DTypeError, lambda: i.add_(0.5), "add_", "float32", "int64", "(2,)", "out-of-place")
    assert state(i) == before


# ---- 7. control flow on traced values -----------------------------------------------------------


def branches(x):
    if x.sum() > 0:  # line: branch
        return x
    return -x


def test_7_python_control_flow_on_a_traced_value():
    f = tracer.trace(branches)
    message = raises(
        TraceError,
        lambda: f(tracer.ones(3)),
        "bool()",
        "traced tensor",
        "if x.sum() > 0:",
        "tracer.where",
        "static_argnums",
    )
    assert at("branch") in message
    assert f.cache_info().entries == 0


def test_7_the_fixes_work():
    x = tracer.tensor([-1.0, 2.0])
    where = tracer.trace(lambda x: tracer.where(x.sum() > 0, x, -x))
    static = tracer.trace(lambda x, positive: x if positive else -x, static_argnums=1)
    assert where(x).tolist() == [-1.0, 2.0]
    assert static(x, True).tolist() == [-1.0, 2.0]


# ---- 8. what a traced function cannot do --------------------------------------------------------


def calls_numpy(x):
    return np.tanh(x)  # line: numpy


def masks(x):
    return x[x > 0].sum()  # line: mask


def draws(x):
    return x + tracer.randperm(3)  # line: randperm


def backwards(x):
    (x * 2).sum().backward()  # line: backward
    return x


@pytest.mark.parametrize(
    "fn,line,fragments",
    [
        (calls_numpy, "numpy", ("converting to a numpy array", "traced tensor", "tracer ops")),
        (masks, "mask", ("boolean tensor mask", "(3,)", "tracer.where(mask, x, 0)")),
        (draws, "randperm", ("randperm()", "once", "pass them in as an argument")),
        (backwards, "backward", ("backward()", "tracer.grad")),
    ],
    ids=["numpy", "bool_mask", "random", "backward"],
)
def test_8_what_a_traced_function_cannot_do(fn, line, fragments):
    x = tracer.ones(3, requires_grad=fn is backwards)
    before = state(x)
    f = tracer.trace(fn)
    message = raises(TraceError, lambda: f(x), *fragments)
    assert at(line) in message
    assert f.cache_info().entries == 0
    assert state(x) == before


def test_8_random_numbers_passed_in_are_the_fix():
    f = tracer.trace(lambda x, noise: x + noise)
    noise = tracer.randn(3)
    assert f(tracer.zeros(3), noise).tolist() == noise.tolist()


def test_8_reading_a_value_the_trace_updated_changes_nothing():
    running = tracer.ones(2)

    def f(x):
        running.mul_(0.9)  # updated by the compiled code at each call
        return x * running.tolist()[0]  # line: captured

    before = state(running)
    g = tracer.trace(f)
    message = raises(
        TraceError,
        lambda: g(tracer.ones(2)),
        ".tolist()",
        "(2,)",
        "updated in place",
        "Return it from the function",
    )
    assert at("captured") in message
    assert (state(running), g.cache_info().entries) == (before, 0)


# ---- 9. integer tensors requiring grad ----------------------------------------------------------


@pytest.mark.parametrize(
    "make,dtype",
    [
        (lambda: tracer.tensor([1, 2], requires_grad=True), "int64"),
        (lambda: tracer.zeros(2, dtype=tracer.int32, requires_grad=True), "int32"),
        (lambda: tracer.arange(3).requires_grad_(), "int64"),
    ],
    ids=["tensor", "zeros_int32", "requires_grad_"],
)
def test_9_integer_tensor_requiring_grad(make, dtype):
    raises(
        DTypeError,
        make,
        "floating point",
        "require gradients",
        dtype,
        "dtype=tracer.float32",
        ".float()",
    )


def test_9_requires_grad_on_an_int_tensor_changes_nothing():
    i = tracer.arange(3)
    with pytest.raises(DTypeError):
        i.requires_grad_()
    assert not i.requires_grad


# ---- 10. bad constructor data -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn,exc,fragments",
    [
        (
            lambda: tracer.tensor([[1.0, 2.0], [3.0]]),
            ValueError,
            ("tensor()", "ragged", "top level", "lengths 1, 2", "same length"),
        ),
        (
            lambda: tracer.tensor([[1.0, 2.0], [3.0, [4.0]]]),
            ValueError,
            ("tensor()", "ragged", "[1]"),
        ),
        (
            lambda: tracer.tensor([tracer.ones(2), tracer.ones(3)]),
            ValueError,
            ("tensor()", "ragged", "lengths 2, 3"),
        ),
        (lambda: tracer.tensor([1.0, "2"]), DTypeError, ("tensor()", "'2'", "str", "numbers")),
        (
            lambda: tracer.tensor([1.0, None], dtype=tracer.float64),
            DTypeError,
            ("tensor()", "None", "numbers"),
        ),
        (
            lambda: tracer.tensor(np.array([1 + 2j])),
            DTypeError,
            ("tensor()", "complex128", "bool, integer or floating point"),
        ),
        (
            lambda: tracer.tensor(np.ones(2, np.longdouble)),
            DTypeError,
            ("tensor()", str(np.dtype(np.longdouble)), "dtype="),
        ),
        (lambda: tracer.ones(3) + [[1.0], [1.0, 2.0]], ShapeError, ("add", "ragged")),
        (lambda: tracer.ones(3) + ["a", "b", "c"], DTypeError, ("add", "strings")),
        (lambda: tracer.ones(3) + None, TypeError, ("add", "NoneType", "a tensor")),
        (lambda: tracer.ones(3) + np.ones(3, complex), DTypeError, ("add", "complex")),
        (lambda: tracer.zeros(2.5), TypeError, ("zeros()", "ints", "2.5", "float")),
        (lambda: tracer.ones(6).reshape(2, "3"), TypeError, ("reshape", "int", "'3'")),
        (lambda: tracer.ones(6).sum(0.5), TypeError, ("sum", "dim", "int", "0.5")),
    ],
    ids=[
        "ragged",
        "ragged_deep",
        "ragged_tensors",
        "string",
        "none",
        "complex",
        "longdouble",
        "ragged_operand",
        "string_operand",
        "none_operand",
        "complex_operand",
        "float_size",
        "string_shape",
        "float_dim",
    ],
)
def test_10_data_a_tensor_cannot_be_made_of(fn, exc, fragments):
    if "longdouble" in str(fragments) and np.dtype(np.longdouble) == np.float64:
        pytest.skip("longdouble is float64 on this platform")
    raises(exc, fn, *fragments)


def test_10_bad_values_for_in_place_updates_change_nothing():
    t = tracer.zeros(3)
    before = state(t)
    for bad in (
        lambda: t.fill_(None),
        lambda: t.fill_("a"),
        lambda: t.copy_("abc"),
        lambda: t.__setitem__(0, "a"),
        lambda: t.__setitem__(slice(None), [[1.0], [1.0, 2.0]]),
    ):
        with pytest.raises((TypeError, ValueError)):
            bad()
        assert state(t) == before


# ---- 11. indices and dims out of range ----------------------------------------------------------


def indexes(x):
    return x[5]  # line: index


def indexes_with(x, i):
    return x[i]  # line: indexwith


def test_11_an_int_index_out_of_range():
    raises(
        IndexError,
        lambda: indexes(tracer.ones(2, 3)),
        "index 5",
        "dimension 0",
        "size 2",
        "(2, 3)",
        "valid indices are -2 to 1",
    )


def test_11_traced_int_index_names_the_users_line():
    message = fails_then_works(
        indexes,
        (tracer.ones(2, 3),),
        (tracer.ones(6, 3),),
        IndexError,
        "index 5",
        "(2, 3)",
        "valid indices are -2 to 1",
    )
    assert at("index") in message


def test_11_an_index_tensor_out_of_range():
    raises(
        IndexError,
        lambda: indexes_with(tracer.ones(2, 3), tracer.tensor([0, 7])),
        "index 7",
        "size 2",
        "(2, 3)",
        "-size to size - 1",
    )


def test_11_a_dim_out_of_range():
    raises(IndexError, lambda: tracer.ones(2, 3).sum(2), "sum", "dim 2", "2 dimensions", "-2 to 1")


@pytest.mark.parametrize("record", [False, True], ids=["plain", "recorded"])
def test_11_assignment_out_of_range_changes_nothing(record):
    t = tracer.zeros(3) * (tracer.ones(3, requires_grad=True) if record else 1)
    before = state(t)
    raises(IndexError, lambda: t.__setitem__(tracer.tensor([0, 7]), 1.0), "index 7", "(3,)")
    raises(IndexError, lambda: t.__setitem__(5, 1.0), "index 5", "valid indices are -3 to 2")
    assert state(t) == before


# ---- 12. in-place change of a tensor backward needs --------------------------------------------


def test_12_in_place_change_of_a_saved_input():
    x = leaf()
    a = x * 1
    loss = (a * a).sum()
    a.add_(1)
    raises(
        AutogradError,
        loss.backward,
        "float32 tensor of shape (3,)",
        "MulBackward0",
        "in-place",
        "version 1",
        "expected 0",
        "out-of-place",
        ".clone()",
    )
    assert x.grad is None


def test_12_in_place_change_of_a_saved_output():
    x = leaf()
    y = x.sigmoid()
    loss = y.sum()
    y.mul_(2)
    raises(
        AutogradError,
        loss.backward,
        "output 0 of SigmoidBackward0",
        "float32",
        "(3,)",
        "in-place",
        ".clone()",
    )
    assert x.grad is None


def test_12_a_failed_backward_leaves_every_grad_as_it_was():
    # b's gradient is ready before the stale node runs; it must not be written either
    a, b = leaf(), leaf()
    b.grad = tracer.ones(3)
    u = a.exp()
    loss = (u + b * 2).sum()
    u.mul_(2)
    before = state(a, b)
    raises(AutogradError, loss.backward, "ExpBackward0", "in-place")
    assert state(a, b) == before


def test_12_a_hook_that_raises_leaves_every_grad_as_it_was():
    a, b = leaf(), leaf()
    loss = (a * 2 + b * 3).sum()
    a.register_hook(lambda g: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        loss.backward(retain_graph=True)
    assert (a.grad, b.grad) == (None, None)


def test_12_clone_is_the_fix():
    x = leaf()
    a = x * 1
    loss = (a * a).sum()
    a.clone().add_(1)
    loss.backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


# ---- 13. in-place on a leaf that requires grad -------------------------------------------------


@pytest.mark.parametrize(
    "name,op",
    [
        ("add_", lambda x: x.add_(1)),
        ("sub_", lambda x: x.__isub__(1)),
        ("mul_", lambda x: x.mul_(2)),
        ("div_", lambda x: x.div_(2)),
        ("pow_", lambda x: x.pow_(2)),
        ("clamp_", lambda x: x.clamp_(0, 1)),
        ("fill_", lambda x: x.zero_()),
        ("copy_", lambda x: x.copy_(tracer.zeros(3))),
        ("__setitem__", lambda x: x.__setitem__(0, 5.0)),
    ],
    ids=["add_", "isub", "mul_", "div_", "pow_", "clamp_", "zero_", "copy_", "setitem"],
)
def test_13_in_place_on_a_leaf_requiring_grad(name, op):
    x = leaf()
    x.grad = tracer.ones(3)
    before = state(x)
    raises(
        AutogradError,
        lambda: op(x),
        name,
        "leaf tensor that requires grad",
        "float32",
        "(3,)",
        "tracer.no_grad()",
        "out-of-place",
    )
    assert state(x) == before


def test_13_no_grad_is_the_fix():
    x = leaf()
    with tracer.no_grad():
        x -= 0.5
    assert (x.tolist(), x.requires_grad, x.is_leaf) == ([0.5, 1.5, 2.5], True, True)


# ---- 14. a traced value used after its trace -------------------------------------------------


def test_14_a_traced_value_used_after_its_trace():
    kept = []

    @tracer.trace
    def f(x):
        kept.append(x * 2)  # line: escape
        return x.sum()

    f(tracer.ones(3))
    message = raises(
        TraceError,
        lambda: kept[0] + 1,  # line: escaped_use
        "(shape (3,), float32)",
        "escaped from another trace",
        f"made while tracing f(), at {HERE.name}:{LINES['escape']},",
        "used after that trace finished",
        at("escaped_use"),
        "Return it from the function",
    )
    assert "inside @tracer.trace" not in message


def test_14_returning_the_value_is_the_fix():
    @tracer.trace
    def f(x):
        return x.sum(), x * 2

    _, doubled = f(tracer.ones(3))
    assert (doubled + 1).tolist() == [3.0, 3.0, 3.0]


# ---- 15. a view made under no_grad(), then its base changed with gradients recorded -----


def test_15_a_no_grad_view_of_a_base_changed_with_gradients_recorded():
    x = leaf()
    y = x * 2
    with tracer.no_grad():
        v = y[0:2]
    y.mul_(3)
    raises(
        AutogradError,
        lambda: v.sum(),
        "a view (a float32 tensor of shape (2,))",
        "made under no_grad()",
        "modified in place with gradients recorded",
        "both inside no_grad()",
    )


def test_15_a_view_made_with_gradients_recorded_follows_the_update():
    x = leaf()
    y = x * 2
    v = y[0:2]
    y.mul_(3)
    v.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0, 0.0]


# ---- warnings --------------------------------------------------------------------------------


def test_warning_a_captured_tensor_tracing_cannot_read_again():
    hidden = {tracer.ones(3)}  # a set: no item to read again

    @tracer.trace
    def f(x):
        return x * next(iter(hidden))  # line: unfollowed

    with pytest.warns(tracer.TracerWarning) as record:
        f(tracer.ones(3))
    message = str(record[0].message)
    for fragment in (
        "tracer.trace(f)",
        "float32 tensor of shape (3,)",
        f"used at {HERE.name}:{LINES['unfollowed']}",
        "in-place updates are seen",
        "Pass it as an argument",
    ):
        assert fragment in message
