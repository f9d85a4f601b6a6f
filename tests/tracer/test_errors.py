"""Every misuse gets an error that says, in the user's terms, what was wrong (the
op, the shapes, the dtype) and how to fix it, and leaves nothing half-changed.

Each case asserts the exception type (PyTorch's family: autograd misuse is a
RuntimeError) and every fragment the message must contain."""

from __future__ import annotations

import numpy as np
import pytest

import tracer
from tracer import AutogradError, DTypeError, ShapeError


def leaf(values=(1.0, 2.0, 3.0)):
    return tracer.tensor(list(values), requires_grad=True)


def raises(exc, fn, *fragments):
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    missing = [f for f in fragments if f not in message]
    assert missing == [], f"message {message!r} lacks {missing}"
    return info.value


# ---- backward misuse -------------------------------------------------------------------


def test_backward_on_non_scalar_without_gradient():
    x = leaf()
    y = x * 2
    raises(AutogradError, y.backward, "scalar outputs", "(3,)", ".sum()", "gradient=")
    assert x.grad is None


def test_second_backward_through_freed_buffers():
    x = leaf()
    y = x.exp().sum()
    y.backward()
    before = x.grad.tolist()
    raises(AutogradError, y.backward, "second time", "ExpBackward0", "retain_graph=True")
    assert x.grad.tolist() == before


def test_second_autograd_grad_through_freed_buffers():
    x = leaf()
    y = (x * x).sum()
    tracer.autograd.grad(y, x)
    raises(AutogradError, lambda: tracer.autograd.grad(y, x), "MulBackward0", "retain_graph=True")


def test_gradient_of_wrong_shape():
    x = leaf()
    y = x * 2
    raises(AutogradError, lambda: y.backward(gradient=tracer.ones(2)), "shape", "(2,)", "(3,)")
    assert x.grad is None


def test_backward_on_tensor_without_history():
    raises(
        AutogradError, lambda: tracer.ones(2).sum().backward(), "does not require grad", "no_grad"
    )


def test_autograd_grad_of_unused_input():
    x, unused = leaf(), leaf()
    raises(
        AutogradError,
        lambda: tracer.autograd.grad((x * 2).sum(), [x, unused]),
        "input 1",
        "allow_unused=True",
    )


# ---- shapes ---------------------------------------------------------------------------------

BROADCAST_CASES = [
    pytest.param(lambda a, b: a + b, (2, 3), (4,), "add", id="add"),
    pytest.param(lambda a, b: a - b, (2, 3), (3, 2), "sub", id="sub"),
    pytest.param(lambda a, b: a * b, (5,), (2, 4), "mul", id="mul"),
    pytest.param(lambda a, b: a / b, (2, 1, 3), (4, 2), "div", id="div"),
    pytest.param(lambda a, b: tracer.maximum(a, b), (3,), (2,), "maximum", id="maximum"),
    pytest.param(lambda a, b: tracer.where(a > 0, a, b), (3,), (2,), "where", id="where"),
    pytest.param(lambda a, b: a**b, (3,), (4,), "pow", id="pow"),
    pytest.param(lambda a, b: a < b, (3,), (4,), "lt", id="lt"),
]


@pytest.mark.parametrize("fn,sa,sb,op", BROADCAST_CASES)
def test_broadcast_mismatch_names_the_op_and_both_shapes(fn, sa, sb, op):
    a, b = tracer.ones(*sa, requires_grad=True), tracer.ones(*sb)
    raises(ShapeError, lambda: fn(a, b), f"{op}:", str(sa), str(sb), "broadcast")


@pytest.mark.parametrize(
    "sa,sb",
    [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (4,)), ((4,), (3, 2)), ((2, 2, 3), (2, 4, 5))],
)
def test_matmul_mismatch_names_both_shapes(sa, sb):
    a, b = tracer.ones(*sa), tracer.ones(*sb)
    raises(ShapeError, lambda: a @ b, "matmul", str(sa), str(sb), "cannot be multiplied")


def test_matmul_batch_mismatch_names_both_batch_shapes():
    raises(
        ShapeError, lambda: tracer.ones(2, 3, 4) @ tracer.ones(5, 4, 2), "matmul", "(2,)", "(5,)"
    )


def test_matmul_of_different_dtypes_says_how_to_convert():
    raises(
        DTypeError,
        lambda: tracer.ones(2, 3) @ tracer.ones(3, 2, dtype=tracer.float64),
        "matmul",
        "float32",
        "float64",
        ".to(dtype)",
    )


def test_matmul_of_a_0d_tensor():
    raises(ShapeError, lambda: tracer.ones(()) @ tracer.ones(3), "matmul", "()", "(3,)")


@pytest.mark.parametrize(
    "fn,fragments",
    [
        (lambda: tracer.ones(2, 3).reshape(4, 2), ("reshape", "[4, 2]", "(2, 3)")),
        (lambda: tracer.ones(2, 3).view(-1, 4), ("reshape", "(2, 3)")),
        (lambda: tracer.ones(2, 3).expand(4, 3), ("expand", "(2, 3)", "(4, 3)")),
        (lambda: tracer.cat([tracer.ones(2, 3), tracer.ones(2, 4)]), ("cat", "(2, 3)", "(2, 4)")),
        (lambda: tracer.stack([tracer.ones(2), tracer.ones(3)]), ("stack", "(2,)", "(3,)")),
        (
            lambda: tracer.nn.functional.mse_loss(tracer.ones(2, 3), tracer.ones(4)),
            ("mse_loss", "(2, 3)", "(4,)"),
        ),
        (
            lambda: tracer.nn.functional.nll_loss(tracer.ones(2, 3), tracer.tensor([0, 1, 2])),
            ("nll_loss", "(2, 3)", "(3,)"),
        ),
        (lambda: tracer.ones(3, 4).t().t().permute(0), ("permute", "(3, 4)")),
    ],
    ids=["reshape", "view", "expand", "cat", "stack", "mse_loss", "nll_loss", "permute"],
)
def test_shape_errors_name_the_op_and_shapes(fn, fragments):
    raises(ValueError, fn, *fragments)


@pytest.mark.parametrize(
    "fn,fragments",
    [
        (lambda: tracer.ones(2, 3).sum(2), ("sum", "dim 2", "-2 to 1")),
        (lambda: tracer.ones(2, 3).softmax(-3), ("softmax", "dim -3")),
        (lambda: tracer.ones(2, 3)[5], ("index 5", "size 2", "(2, 3)")),
        (lambda: tracer.ones(2, 3)[0, 0, 0], ("too many indices", "(2, 3)")),
        (
            lambda: tracer.nn.functional.cross_entropy(tracer.ones(2, 3), tracer.tensor([0, 3])),
            ("target 3", "3 classes"),
        ),
    ],
    ids=["sum_dim", "softmax_dim", "index", "too_many_indices", "cross_entropy_target"],
)
def test_index_errors_name_the_dim_and_size(fn, fragments):
    raises(IndexError, fn, *fragments)


# ---- in-place ---------------------------------------------------------------------------------


def test_in_place_change_of_a_saved_tensor_names_the_op():
    x = leaf()
    a = x * 1
    y = (a * a).sum()
    a.add_(1)
    raises(
        AutogradError, y.backward, "MulBackward0", "in-place", "version 1", "expected 0", ".clone()"
    )
    assert x.grad is None


def test_in_place_change_of_a_saved_output_names_the_op():
    x = leaf()
    y = x.sigmoid()
    z = y.sum()
    y.mul_(2)
    raises(AutogradError, z.backward, "SigmoidBackward0", "in-place", ".clone()")
    assert x.grad is None


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.add_(1),
        lambda x: x.sub_(1),
        lambda x: x.mul_(2),
        lambda x: x.div_(2),
        lambda x: x.zero_(),
        lambda x: x.fill_(3.0),
        lambda x: x.copy_(tracer.zeros(3)),
        lambda x: x.clamp_(0, 1),
        lambda x: x.pow_(2),
        lambda x: x.__setitem__(0, 5.0),
        lambda x: x.__iadd__(1),
    ],
    ids=[
        "add_",
        "sub_",
        "mul_",
        "div_",
        "zero_",
        "fill_",
        "copy_",
        "clamp_",
        "pow_",
        "setitem",
        "iadd",
    ],
)
def test_in_place_on_leaf_requiring_grad_raises_before_mutating(op):
    x = leaf()
    raises(AutogradError, lambda: op(x), "leaf", "in-place", "no_grad")
    assert (x.tolist(), x._version[0], x.grad_fn) == ([1.0, 2.0, 3.0], 0, None)


def test_in_place_result_of_a_larger_broadcast_shape_leaves_data_unchanged():
    x = tracer.zeros(3)
    raises(ShapeError, lambda: x.add_(tracer.ones(2, 3)), "add_", "(2, 3)", "(3,)")
    assert (x.tolist(), x._version[0]) == ([0.0, 0.0, 0.0], 0)


def test_in_place_float_into_integer_tensor_leaves_data_unchanged():
    i = tracer.tensor([1, 2, 3])
    raises(DTypeError, lambda: i.add_(1.5), "add_", "float32", "int64")
    assert (i.tolist(), i._version[0]) == ([1, 2, 3], 0)


@pytest.mark.parametrize("record", [False, True], ids=["plain", "recorded"])
def test_setitem_with_a_value_of_the_wrong_shape_leaves_data_unchanged(record):
    t = tracer.zeros(3) * (tracer.ones(3, requires_grad=True) if record else 1)
    raises(ShapeError, lambda: t.__setitem__(slice(0, 2), tracer.ones(3)), "(3,)", "(2,)")
    assert (t.tolist(), t._version[0]) == ([0.0, 0.0, 0.0], 0)


def test_copy_from_a_source_of_the_wrong_shape_leaves_data_unchanged():
    t = tracer.zeros(3)
    raises(ShapeError, lambda: t.copy_(tracer.ones(4)), "copy_", "(4,)", "(3,)")
    assert (t.tolist(), t._version[0]) == ([0.0, 0.0, 0.0], 0)


# ---- creation and conversion -------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,dtype",
    [
        (lambda: tracer.tensor([1, 2], requires_grad=True), "int64"),
        (lambda: tracer.ones(2, dtype=tracer.int32, requires_grad=True), "int32"),
        (lambda: tracer.tensor([True, False]).requires_grad_(), "bool"),
        (lambda: tracer.arange(3).requires_grad_(), "int64"),
    ],
    ids=["tensor_int", "ones_int32", "bool_requires_grad_", "arange_requires_grad_"],
)
def test_requires_grad_on_non_float_tensor_names_the_dtype(make, dtype):
    raises(TypeError, make, "floating point", "require gradients", dtype, ".float()")


@pytest.mark.parametrize(
    "data,fragments",
    [
        ([[1, 2], [3]], ("ragged", "lengths 1, 2")),
        ([[1.0, 2.0], [3.0, [4.0]]], ("ragged", "[1]")),
        ([[[1, 2], [3, 4]], [[1, 2], [3]]], ("ragged", "[1]")),
        ([1.0, [2.0]], ("ragged", "top level")),
    ],
    ids=["rows", "nested_scalar_vs_list", "deep", "top_level"],
)
def test_ragged_data_says_where(data, fragments):
    raises(ValueError, lambda: tracer.tensor(data), "tensor()", *fragments)


@pytest.mark.parametrize(
    "data,shown",
    [
        (["a", "b"], "'b'"),
        ([1.0, None], "None"),
        ([[1.0], [{}]], "{}"),
        (np.array(["x"]), "<U1"),
    ],
    ids=["str", "none", "dict", "numpy_str"],
)
def test_non_numeric_data_names_the_value(data, shown):
    raises(TypeError, lambda: tracer.tensor(data), "tensor()", shown)


@pytest.mark.parametrize(
    "convert,exc",
    [(lambda t: t.item(), RuntimeError), (float, ValueError), (int, ValueError)],
    ids=["item", "float", "int"],
)
def test_item_of_a_multi_element_tensor_says_how_many_and_how_to_fix(convert, exc):
    # the exception types are PyTorch's: RuntimeError from item(), ValueError from float()
    t = tracer.ones(2, 3)
    raises(exc, lambda: convert(t), "6 elements", "(2, 3)", ".sum()")


def test_truth_value_of_a_multi_element_tensor_is_ambiguous():
    raises(RuntimeError, lambda: bool(tracer.ones(2)), "2 elements", "ambiguous", ".any()")


def test_numpy_of_a_tensor_requiring_grad_suggests_detach():
    raises(AutogradError, lambda: leaf().numpy(), "requires grad", "detach().numpy()")


def test_unsupported_dtype_lists_the_supported_ones():
    raises(TypeError, lambda: tracer.zeros(2, dtype="complex64"), "complex64", "float32")


def test_clamp_without_bounds():
    raises(ValueError, lambda: tracer.ones(2).clamp(), "clamp", "min", "max")


@pytest.mark.parametrize(
    "fn,op",
    [
        (lambda t: t.mean(), "mean"),
        (lambda t: t.softmax(0), "softmax"),
        (lambda t: t.log_softmax(0), "log_softmax"),
        (lambda t: t.logsumexp(0), "logsumexp"),
    ],
    ids=["mean", "softmax", "log_softmax", "logsumexp"],
)
def test_float_only_op_on_an_integer_tensor_names_the_dtype(fn, op):
    raises(TypeError, lambda: fn(tracer.tensor([1, 2])), op, "floating point", "int64")


def test_autograd_errors_are_runtime_errors_as_in_pytorch():
    assert issubclass(AutogradError, RuntimeError)
