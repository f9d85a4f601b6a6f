"""The math family traced: integer and bool ops through the generated kernels (the spec
table compiles float rows only), integer division by zero inside compiled code and on
the interpreter, numbers given to composite ops, and in-place forms in traced code."""

from __future__ import annotations

import numpy as np
import pytest

import tracer


def t(values, dtype=None):  # type: ignore[no-untyped-def]
    return tracer.tensor(values, dtype=dtype)


def integer_program(x, y, m):  # type: ignore[no-untyped-def]
    return (
        x // y,
        x % y,
        x.fmod(y),
        x.div(y, rounding_mode="trunc"),
        x & y,
        x | 5,
        x ^ y,
        ~x,
        m & (x > 0),
        m ^ ~m.logical_xor(x > 1),
        x.signbit(),
        x.floor() + x.round() + x.trunc(),
        x.isnan() | x.isinf(),
        x.clamp_min(y) * 2,
        tracer.fmax(x, y),
        x.nan_to_num(),
    )


INTS = (
    np.array([7, -7, 7, -7, 0, 9223372036854775807, -9223372036854775808], np.int64),
    np.array([2, 2, -2, -2, 3, -1, -1], np.int64),
    np.array([True, False, True, True, False, True, False]),
)


@pytest.mark.jit
@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_integer_and_bool_ops_compile_to_the_eager_results(dtype):
    x, y, m = (t(INTS[0].astype(dtype)), t(INTS[1].astype(dtype)), t(INTS[2]))
    f = tracer.trace(integer_program)
    got, expected = f(x, y, m), integer_program(x, y, m)
    assert "def kernel(" in f.source(x, y, m)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g.numpy(), e.numpy())


@pytest.mark.jit
def test_float_division_compiles_to_pythons_semantics():
    x = t([5.0, -5.0, 0.0, -0.0, 7.5, -7.5, 1.0], tracer.float64)
    y = t([0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.1], tracer.float64)
    f = tracer.trace(lambda a, b: (a // b, a % b, a.fmod(b), a.copysign(b), a.signbit()))
    for got, expected in zip(f(x, y), (x // y, x % y, x.fmod(y), x.copysign(y), x.signbit())):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
        np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(expected.numpy()))


@pytest.mark.jit
@pytest.mark.parametrize(
    "op,expected",
    [("floor_divide", [4, -3]), ("remainder", [2, 2]), ("fmod", [2, 0]), ("trunc", [4, -2])],
)
def test_integer_division_by_zero_raises_in_compiled_code_naming_the_line(op, expected):
    def fn(x, y):
        q = x.div(y, rounding_mode="trunc") if op == "trunc" else getattr(x, op)(y)
        return q + 1

    f = tracer.trace(fn)
    assert f(t([7, -7]), t([2, 2])).tolist() == expected
    with pytest.raises(ZeroDivisionError, match=r"integer division by zero.*test_trace_math"):
        f(t([7, -7]), t([2, 0]))


def test_integer_division_by_zero_raises_on_the_interpreter():
    f = tracer.trace(lambda x, y: x % y)
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        f(t([5, 3]), t([2, 0]))


@pytest.mark.parametrize("dtype", [tracer.float32, tracer.float64])
def test_a_number_given_to_a_composite_op_keeps_its_value(dtype):
    # 0.3 is a double: a float64 graph must not compute with 0.3 rounded to float32
    a, b = t([1.0, 2.0], dtype), t([3.0, -1.0], dtype)
    f = tracer.trace(lambda a, b: (a.lerp(b, 0.3), a.xlogy(3.7), tracer.logaddexp(a, 0.1)))
    assert " 0.3 " in f.ir(a, b) + " "
    for got, expected in zip(f(a, b), (a.lerp(b, 0.3), a.xlogy(3.7), tracer.logaddexp(a, 0.1))):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_in_place_forms_in_traced_code_equal_eager():
    def fn(x):
        y = x * 2
        y.floor_()
        y.clamp_(-1, 2)
        y.atan2_(x)
        y.lgamma_()
        return y

    x = t([-1.25, 0.3, 2.5, 0.9])
    np.testing.assert_allclose(tracer.trace(fn)(x).numpy(), fn(x).numpy(), rtol=1e-6)
    value, grad = tracer.value_and_grad(lambda x: fn(x).sum())(x)
    xe = t([-1.25, 0.3, 2.5, 0.9])
    xe.requires_grad_()
    fn(xe).sum().backward()
    np.testing.assert_allclose(grad.numpy(), xe.grad.numpy(), rtol=1e-6)
