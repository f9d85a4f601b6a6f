"""Semantics of the elementwise math ops that the spec table cannot state: errors,
the bitwise operators on integers, in-place forms, the Python-bool predicates, and the
places where we knowingly differ from PyTorch because its answer is wrong (each case
gives the analytic value; with torch installed, the test also shows PyTorch's)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tracer
from compiler.errors import DTypeError, TraceError


def t(values, dtype=None, requires_grad=False):  # type: ignore[no-untyped-def]
    return tracer.tensor(values, dtype=dtype, requires_grad=requires_grad)


def grads(fn, *values, dtype=tracer.float64):  # type: ignore[no-untyped-def]
    xs = [t(v, dtype=dtype, requires_grad=True) for v in values]
    out = fn(*xs)
    return [g.numpy() for g in tracer.autograd.grad(out.sum(), xs)]


# ---- integer division ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "op,spelled",
    [
        (lambda x, y: x // y, "floor_divide"),
        (lambda x, y: x % y, "remainder"),
        (lambda x, y: x.fmod(y), "fmod"),
        (lambda x, y: x.div(y, rounding_mode="trunc"), "div(rounding_mode='trunc')"),
        (lambda x, y: tracer.floor_divide(x, 0), "floor_divide"),
    ],
)
def test_integer_division_by_zero_raises_as_in_pytorch(op, spelled):
    with pytest.raises(ZeroDivisionError, match=r"integer division by zero") as info:
        op(t([5, 3]), t([2, 0]))
    assert str(info.value).startswith(spelled)


def test_integer_floor_division_and_remainder_follow_python():
    x, y = t([7, -7, 7, -7]), t([2, 2, -2, -2])
    assert (x // y).tolist() == [7 // 2, -7 // 2, 7 // -2, -7 // -2]
    assert (x % y).tolist() == [7 % 2, -7 % 2, 7 % -2, -7 % -2]
    assert x.fmod(y).tolist() == [math.fmod(a, b) for a, b in [(7, 2), (-7, 2), (7, -2), (-7, -2)]]
    assert x.div(y, rounding_mode="trunc").tolist() == [3, -3, -3, 3]


def test_float_floor_division_by_zero_and_signed_zeros():
    out = t([5.0, -5.0, 0.0, -0.0]) // t([0.0, 0.0, 0.0, 2.0])
    assert out.tolist()[:2] == [math.inf, -math.inf] and math.isnan(out.tolist()[2])
    assert math.copysign(1, out.tolist()[3]) == -1  # -0.0 // 2 is -0.0, as in Python
    assert (t([-4.0]) % 2).tolist() == [-0.0] and math.copysign(1, (t([-4.0]) % 2).item()) == -1


def test_div_rejects_an_unknown_rounding_mode():
    with pytest.raises(ValueError, match="rounding_mode to be one of None, 'trunc', or 'floor'"):
        t([1.0]).div(2, rounding_mode="round")


# ---- bitwise and logical -------------------------------------------------------------------


def test_and_or_xor_invert_are_bitwise_on_integers():
    a, b = t([12, -7, 5]), t([10, 3, -2])
    assert (a & b).tolist() == [12 & 10, -7 & 3, 5 & -2]
    assert (a | b).tolist() == [12 | 10, -7 | 3, 5 | -2]
    assert (a ^ b).tolist() == [12 ^ 10, -7 ^ 3, 5 ^ -2]
    assert (~a).tolist() == [~12, ~-7, ~5]
    assert (a & b).dtype == tracer.int64


def test_and_or_xor_invert_are_logical_on_bools():
    m, n = t([True, True, False]), t([True, False, False])
    assert ((m & n).tolist(), (m | n).tolist(), (m ^ n).tolist(), (~m).tolist()) == (
        [True, False, False],
        [True, True, False],
        [False, True, False],
        [False, False, True],
    )
    assert (m & n).dtype == tracer.bool


def test_bitwise_ops_promote_bool_with_integers_and_refuse_floats():
    assert (t([True, False]) & 3).tolist() == [1, 0]
    with pytest.raises(DTypeError, match="bitwise_or"):
        t([1.5]) | t([2.0])
    with pytest.raises(DTypeError, match="bitwise_not"):
        ~t([1.5])


def test_in_place_bitwise_operators():
    x = t([12, 5])
    y = x
    x &= t([10, 4])
    x |= 1
    x ^= t([3, 3])
    assert x is y and x.tolist() == [((12 & 10) | 1) ^ 3, ((5 & 4) | 1) ^ 3]


# ---- predicates returning Python bools ---------------------------------------------------------


def test_allclose_and_equal_return_python_bools():
    a = t([1.0, 2.0])
    assert tracer.allclose(a, a + 1e-7) is True
    assert a.allclose(a + 1e-3) is False
    assert tracer.equal(t([1, 2]), t([1, 2])) is True
    assert tracer.equal(t([1, 2]), t([1, 2, 3])) is False


def test_isclose_refuses_mixed_dtypes_as_pytorch():
    with pytest.raises(DTypeError, match="same dtype"):
        t([1.0]).isclose(t([1.0], dtype=tracer.float64))


def test_allclose_in_a_traced_function_asks_for_a_concrete_value():
    f = tracer.trace(lambda x: x * 2 if x.allclose(x) else x)
    with pytest.raises(TraceError, match="bool"):
        f(t([1.0]))


# ---- in-place forms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,args,expected",
    [
        ("floor_", (), np.floor),
        ("round_", (), np.rint),
        ("exp2_", (), np.exp2),
        ("erf_", (), np.vectorize(math.erf)),
        ("clamp_", (-0.5, 0.5), lambda v: np.clip(v, -0.5, 0.5)),
        ("atan2_", (t([1.0, 1.0, 1.0]),), lambda v: np.arctan2(v, 1.0)),
        ("lt_", (0.0,), lambda v: (v < 0).astype(np.float32)),
    ],
)
def test_in_place_forms_update_the_tensor_and_record_the_op(name, args, expected):
    base = t([-1.25, 0.5, 2.5], requires_grad=True)
    x = base * 1
    before = np.array([-1.25, 0.5, 2.5], np.float32)
    y = getattr(x, name)(*args)
    assert y is x
    np.testing.assert_allclose(x.detach().numpy(), expected(before), rtol=1e-6)
    if name != "lt_":
        x.sum().backward()
        assert base.grad is not None


# ---- where PyTorch's gradient is wrong and ours is the true one ----------------------------------


def test_xlogy_gradient_at_zero_is_zero_for_y_where_pytorch_divides_zero_by_zero():
    # x * log(y) is 0 for x == 0 whatever y >= 0: d/dy = 0 there; d/dx = log y (0 by
    # convention at y == 0, as PyTorch)
    gx, gy = grads(tracer.xlogy, [0.0, 0.0, 2.0], [0.0, 0.5, 4.0])
    np.testing.assert_array_equal(gx, [0.0, math.log(0.5), math.log(4.0)])
    np.testing.assert_array_equal(gy, [0.0, 0.0, 0.5])


def test_hypot_gradient_at_the_origin_is_zero_as_a_norms():
    gx, gy = grads(tracer.hypot, [0.0, 3.0], [0.0, 4.0])
    np.testing.assert_array_equal(gx, [0.0, 0.6])
    np.testing.assert_array_equal(gy, [0.0, 0.8])


def test_clamp_with_equal_bounds_below_them_gives_the_gradient_to_max():
    # out = min(max(x, lo), hi) = hi when lo == hi > x: moving both bounds moves the
    # result one for one, so some bound must get the gradient (PyTorch gives none)
    gx, glo, ghi = grads(lambda x, lo, hi: x.clamp(lo, hi), [0.0], [1.0], [1.0])
    assert (gx.tolist(), glo.tolist(), ghi.tolist()) == ([0.0], [0.0], [1.0])


def test_sinc_gradient_near_zero_is_its_series():
    x = [1e-9, -1e-4, 0.0]
    (g,) = grads(tracer.sinc, x)
    expected = [-(math.pi**2) * v / 3 * (1 - (math.pi * v) ** 2 / 10) for v in x]
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=0)
    (g32,) = grads(tracer.sinc, x, dtype=tracer.float32)
    np.testing.assert_allclose(g32, expected, rtol=1e-6, atol=0)  # PyTorch: 2.8x off


def test_trigamma_is_accurate_where_pytorchs_truncated_series_is_not():
    mp = pytest.importorskip("mpmath")
    x = [2.2, 3.0, 0.7]
    got = tracer.polygamma(1, t(x, dtype=tracer.float64)).numpy()
    np.testing.assert_allclose(got, [float(mp.polygamma(1, v)) for v in x], rtol=2e-16)


def test_floor_divide_has_zero_gradients_where_pytorch_has_no_derivative():
    gx, gy = grads(lambda x, y: x // y, [5.5, -3.0], [2.0, 0.7])
    assert (gx.tolist(), gy.tolist()) == ([0.0, 0.0], [0.0, 0.0])
    assert (t([1.5], requires_grad=True) // 2).grad_fn.name() == "DivBackward2"


def test_remainder_of_a_number_by_a_tensor_is_differentiable():
    (g,) = grads(lambda y: 7.5 % y, [2.0, -4.0])
    np.testing.assert_array_equal(g, [-math.floor(7.5 / 2.0), -math.floor(7.5 / -4.0)])


# ---- float32 results and special values -------------------------------------------------------


def test_nan_to_num_defaults_are_the_dtypes_extremes():
    out = t([math.nan, math.inf, -math.inf]).nan_to_num()
    f32 = np.finfo(np.float32)
    assert out.tolist() == [0.0, float(f32.max), float(f32.min)]


def test_polygamma_refuses_orders_it_cannot_compute():
    with pytest.raises(ValueError, match="order n must lie in 0..64"):
        tracer.polygamma(-1, t([1.0]))
    with pytest.raises(TypeError, match="n must be an int"):
        t([1.0]).polygamma(1.5)


def test_round_with_decimals_refuses_integers():
    with pytest.raises(DTypeError, match="decimals=1 needs a floating point tensor"):
        t([1, 2]).round(decimals=1)
    assert t([1, 2]).round().tolist() == [1, 2]


def test_rounding_refuses_bools():
    with pytest.raises(DTypeError, match="floor: rounding a bool tensor"):
        t([True]).floor()
