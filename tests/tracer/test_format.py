"""Tests for tracer._format: tensor printing identical to PyTorch's ``repr``.

The expected strings in the golden tables were produced once by PyTorch 2.13
(``repr(torch.from_numpy(arr))``, with ``requires_grad_()`` or ``- 0`` on a leaf for the
``requires_grad=True`` / ``grad_fn=<SubBackward0>`` rows) and pasted as literals, with
``dtype=torch.`` renamed to ``dtype=tracer.``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tracer import _format
from tracer._format import format_tensor, get_printoptions, needs_dtype_suffix, set_printoptions


@pytest.fixture(autouse=True)
def _reset_printoptions():
    set_printoptions(profile="default")
    yield
    set_printoptions(profile="default")


GOLDEN = [
    pytest.param(
        np.array([-1.2365, 1.8245, -1.0701, 0.0869, -0.0376], np.float32) ** 2 - 5,
        (),
        "tensor([-3.4711, -1.6712, -3.8549, -4.9924, -4.9986])",
        id="notebook_y",
    ),
    pytest.param(
        np.array([-1.2365, 1.8245, -1.0701, 0.0869, -0.0376], np.float32) ** 2 - 5,
        ("grad_fn=<SubBackward0>",),
        "tensor([-3.4711, -1.6712, -3.8549, -4.9924, -4.9986], grad_fn=<SubBackward0>)",
        id="notebook_y_grad_fn",
    ),
    pytest.param(
        np.array([-1.2365, 1.8245, -1.0701, 0.0869, -0.0376], np.float32),
        ("requires_grad=True",),
        "tensor([-1.2365,  1.8245, -1.0701,  0.0869, -0.0376], requires_grad=True)",
        id="notebook_x_requires_grad",
    ),
    pytest.param(
        2 * np.array([-1.2365, 1.8245, -1.0701, 0.0869, -0.0376], np.float32),
        (),
        "tensor([-2.4730,  3.6490, -2.1402,  0.1738, -0.0752])",
        id="notebook_x_grad",
    ),
    pytest.param(
        np.array([1.5, -2.25, 3.0], np.float32),
        (),
        "tensor([ 1.5000, -2.2500,  3.0000])",
        id="fixed",
    ),
    pytest.param(
        np.array([0.1, 0.25, 100.0]),
        ("dtype=tracer.float64",),
        "tensor([  0.1000,   0.2500, 100.0000], dtype=tracer.float64)",
        id="fixed_f64",
    ),
    pytest.param(
        np.array([0.00015, 0.5, -0.99995], np.float32),
        (),
        "tensor([ 1.5000e-04,  5.0000e-01, -9.9995e-01])",
        id="fixed_round",
    ),
    pytest.param(
        np.array([1.0, 2.0], np.float32),
        (),
        "tensor([1., 2.])",
        id="int_valued",
    ),
    pytest.param(
        np.array([-1.0, 250.0, 3.0], np.float32),
        (),
        "tensor([ -1., 250.,   3.])",
        id="int_valued_wide",
    ),
    pytest.param(
        np.array([1.0, 2.0]),
        ("dtype=tracer.float64", "requires_grad=True"),
        "tensor([1., 2.], dtype=tracer.float64, requires_grad=True)",
        id="int_valued_f64_req",
    ),
    pytest.param(
        np.array([-0.0, 1.0], np.float32),
        (),
        "tensor([-0., 1.])",
        id="neg_zero",
    ),
    pytest.param(
        np.array([-0.0, 0.5], np.float32),
        (),
        "tensor([-0.0000, 0.5000])",
        id="neg_zero_fixed",
    ),
    pytest.param(
        np.zeros(3, np.float32),
        (),
        "tensor([0., 0., 0.])",
        id="zeros",
    ),
    pytest.param(
        np.array(-0.0, np.float32),
        (),
        "tensor(-0.)",
        id="scalar_neg_zero",
    ),
    pytest.param(
        np.array([1e10, 1.0], np.float32),
        (),
        "tensor([1.0000e+10, 1.0000e+00])",
        id="sci_large",
    ),
    pytest.param(
        np.array([1.0, 1001.0]),
        ("dtype=tracer.float64",),
        "tensor([1.0000e+00, 1.0010e+03], dtype=tracer.float64)",
        id="sci_ratio",
    ),
    pytest.param(
        np.array([1.0, 1000.0], np.float32),
        (),
        "tensor([   1., 1000.])",
        id="no_sci_ratio_1000",
    ),
    pytest.param(
        np.array([1e-5, 1.5], np.float32),
        (),
        "tensor([1.0000e-05, 1.5000e+00])",
        id="sci_small",
    ),
    pytest.param(
        np.array([-1.5e-7, 2.5e3, 3.0], np.float32),
        (),
        "tensor([-1.5000e-07,  2.5000e+03,  3.0000e+00])",
        id="sci_neg",
    ),
    pytest.param(
        np.array([1e-300, 1e300]),
        ("dtype=tracer.float64",),
        "tensor([1.0000e-300, 1.0000e+300], dtype=tracer.float64)",
        id="sci_huge_exp",
    ),
    pytest.param(
        np.array([1.5, np.nan, np.inf, -np.inf], np.float32),
        (),
        "tensor([1.5000,    nan,    inf,   -inf])",
        id="nonfinite_fixed",
    ),
    pytest.param(
        np.array([1.0, -np.inf, np.nan], np.float32),
        (),
        "tensor([1., -inf, nan])",
        id="nonfinite_int_mode",
    ),
    pytest.param(
        np.array([0.0, np.nan, -np.inf], np.float32),
        (),
        "tensor([0., nan, -inf])",
        id="nonfinite_only",
    ),
    pytest.param(
        np.array([1e-5, np.nan, -np.inf, 2.0], np.float32),
        (),
        "tensor([1.0000e-05,        nan,       -inf, 2.0000e+00])",
        id="nonfinite_sci",
    ),
    pytest.param(
        np.array([1, -20, 300]),
        (),
        "tensor([  1, -20, 300])",
        id="int64",
    ),
    pytest.param(
        np.array([7, -8], np.int32),
        ("dtype=tracer.int32",),
        "tensor([ 7, -8], dtype=tracer.int32)",
        id="int32",
    ),
    pytest.param(
        np.array([np.iinfo(np.int64).min, 0]),
        (),
        "tensor([-9223372036854775808,                    0])",
        id="int64_extreme",
    ),
    pytest.param(
        np.array([0, 255], np.uint8),
        ("dtype=tracer.uint8",),
        "tensor([  0, 255], dtype=tracer.uint8)",
        id="uint8",
    ),
    pytest.param(
        np.array([-128, 5], np.int8),
        ("dtype=tracer.int8",),
        "tensor([-128,    5], dtype=tracer.int8)",
        id="int8",
    ),
    pytest.param(
        np.array(-3, np.int16),
        ("dtype=tracer.int16",),
        "tensor(-3, dtype=tracer.int16)",
        id="int16_scalar",
    ),
    pytest.param(
        np.array([0.5, 1.25, -3.0], np.float16),
        ("dtype=tracer.float16",),
        "tensor([ 0.5000,  1.2500, -3.0000], dtype=tracer.float16)",
        id="float16",
    ),
    pytest.param(
        np.array([True, False]),
        (),
        "tensor([ True, False])",
        id="bool",
    ),
    pytest.param(
        np.array([[True, False, True], [False, False, True]]),
        (),
        ("tensor([[ True, False,  True],\n        [False, False,  True]])"),
        id="bool_2d",
    ),
    pytest.param(
        np.array(3.5, np.float32),
        (),
        "tensor(3.5000)",
        id="scalar_float",
    ),
    pytest.param(
        np.array(3.5, np.float32),
        ("requires_grad=True",),
        "tensor(3.5000, requires_grad=True)",
        id="scalar_float_req",
    ),
    pytest.param(
        np.array(2.0, np.float32),
        (),
        "tensor(2.)",
        id="scalar_int_valued",
    ),
    pytest.param(
        np.array(2.5),
        ("dtype=tracer.float64", "grad_fn=<SubBackward0>"),
        "tensor(2.5000, dtype=tracer.float64, grad_fn=<SubBackward0>)",
        id="scalar_f64",
    ),
    pytest.param(
        np.array(1e-5, np.float32),
        (),
        "tensor(1.0000e-05)",
        id="scalar_sci",
    ),
    pytest.param(
        np.array(np.nan, np.float32),
        (),
        "tensor(nan)",
        id="scalar_nan",
    ),
    pytest.param(
        np.array(-np.inf),
        ("dtype=tracer.float64",),
        "tensor(-inf, dtype=tracer.float64)",
        id="scalar_ninf",
    ),
    pytest.param(
        np.array(42),
        (),
        "tensor(42)",
        id="scalar_int",
    ),
    pytest.param(
        np.array(True),
        (),
        "tensor(True)",
        id="scalar_bool",
    ),
    pytest.param(
        np.arange(6, dtype=np.float32).reshape(2, 3),
        (),
        ("tensor([[0., 1., 2.],\n        [3., 4., 5.]])"),
        id="matrix",
    ),
    pytest.param(
        (np.arange(12, dtype=np.float32).reshape(3, 4) - 5) / 3,
        ("grad_fn=<SubBackward0>",),
        (
            "tensor([[-1.6667, -1.3333, -1.0000, -0.6667],\n"
            "        [-0.3333,  0.0000,  0.3333,  0.6667],\n"
            "        [ 1.0000,  1.3333,  1.6667,  2.0000]], grad_fn=<SubBackward0>)"
        ),
        id="matrix_fixed",
    ),
    pytest.param(
        np.array([[1e-8, 2.0], [-3e4, np.nan]], np.float32),
        (),
        ("tensor([[ 1.0000e-08,  2.0000e+00],\n        [-3.0000e+04,         nan]])"),
        id="matrix_sci",
    ),
    pytest.param(
        np.arange(3, dtype=np.float32).reshape(3, 1) / 4,
        (),
        ("tensor([[0.0000],\n        [0.2500],\n        [0.5000]])"),
        id="column",
    ),
    pytest.param(
        np.arange(3).reshape(1, 3),
        (),
        "tensor([[0, 1, 2]])",
        id="row",
    ),
    pytest.param(
        np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8,
        (),
        (
            "tensor([[[0.0000, 0.1250, 0.2500, 0.3750],\n"
            "         [0.5000, 0.6250, 0.7500, 0.8750],\n"
            "         [1.0000, 1.1250, 1.2500, 1.3750]],\n"
            "\n"
            "        [[1.5000, 1.6250, 1.7500, 1.8750],\n"
            "         [2.0000, 2.1250, 2.2500, 2.3750],\n"
            "         [2.5000, 2.6250, 2.7500, 2.8750]]])"
        ),
        id="tensor3d",
    ),
    pytest.param(
        np.arange(16).reshape(2, 2, 2, 2) - 8,
        (),
        (
            "tensor([[[[-8, -7],\n"
            "          [-6, -5]],\n"
            "\n"
            "         [[-4, -3],\n"
            "          [-2, -1]]],\n"
            "\n"
            "\n"
            "        [[[ 0,  1],\n"
            "          [ 2,  3]],\n"
            "\n"
            "         [[ 4,  5],\n"
            "          [ 6,  7]]]])"
        ),
        id="tensor4d",
    ),
    pytest.param(
        np.arange(16).reshape(2, 1, 2, 4) % 3 == 0,
        (),
        (
            "tensor([[[[ True, False, False,  True],\n"
            "          [False, False,  True, False]]],\n"
            "\n"
            "\n"
            "        [[[False,  True, False, False],\n"
            "          [ True, False, False,  True]]]])"
        ),
        id="tensor4d_bool",
    ),
    pytest.param(
        np.arange(30, dtype=np.float32) / 7,
        (),
        (
            "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
            "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
            "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
            "        3.8571, 4.0000, 4.1429])"
        ),
        id="wrap_1d",
    ),
    pytest.param(
        np.arange(40) * 1001,
        (),
        (
            "tensor([    0,  1001,  2002,  3003,  4004,  5005,  6006,  7007,  8008,  9009,\n"
            "        10010, 11011, 12012, 13013, 14014, 15015, 16016, 17017, 18018, 19019,\n"
            "        20020, 21021, 22022, 23023, 24024, 25025, 26026, 27027, 28028, 29029,\n"
            "        30030, 31031, 32032, 33033, 34034, 35035, 36036, 37037, 38038, 39039])"
        ),
        id="wrap_1d_int",
    ),
    pytest.param(
        np.arange(24, dtype=np.float32).reshape(2, 12) / 3,
        (),
        (
            "tensor([[0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
            "         3.0000, 3.3333, 3.6667],\n"
            "        [4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667, 6.0000, 6.3333, 6.6667,\n"
            "         7.0000, 7.3333, 7.6667]])"
        ),
        id="wrap_2d",
    ),
    pytest.param(
        np.arange(40, dtype=np.float32).reshape(2, 2, 10) * 1e5,
        (),
        (
            "tensor([[[      0.,  100000.,  200000.,  300000.,  400000.,  500000.,  600000.,\n"
            "           700000.,  800000.,  900000.],\n"
            "         [1000000., 1100000., 1200000., 1300000., 1400000., 1500000., 1600000.,\n"
            "          1700000., 1800000., 1900000.]],\n"
            "\n"
            "        [[2000000., 2100000., 2200000., 2300000., 2400000., 2500000., 2600000.,\n"
            "          2700000., 2800000., 2900000.],\n"
            "         [3000000., 3100000., 3200000., 3300000., 3400000., 3500000., 3600000.,\n"
            "          3700000., 3800000., 3900000.]]])"
        ),
        id="wrap_3d",
    ),
    pytest.param(
        np.arange(8) / 3,
        ("dtype=tracer.float64", "grad_fn=<SubBackward0>"),
        (
            "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333],\n"
            "       dtype=tracer.float64, grad_fn=<SubBackward0>)"
        ),
        id="suffix_wraps",
    ),
    pytest.param(
        np.arange(10, dtype=np.float32) / 3,
        ("requires_grad=True",),
        (
            "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
            "        3.0000], requires_grad=True)"
        ),
        id="suffix_wraps_req",
    ),
    pytest.param(
        np.arange(16, dtype=np.float32).reshape(4, 4) / 7,
        ("grad_fn=<SubBackward0>",),
        (
            "tensor([[0.0000, 0.1429, 0.2857, 0.4286],\n"
            "        [0.5714, 0.7143, 0.8571, 1.0000],\n"
            "        [1.1429, 1.2857, 1.4286, 1.5714],\n"
            "        [1.7143, 1.8571, 2.0000, 2.1429]], grad_fn=<SubBackward0>)"
        ),
        id="suffix_after_multiline",
    ),
    pytest.param(
        np.arange(20) / 3,
        ("dtype=tracer.float64", "grad_fn=<SubBackward0>"),
        (
            "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
            "        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n"
            "        6.0000, 6.3333], dtype=tracer.float64, grad_fn=<SubBackward0>)"
        ),
        id="suffix_after_wrapped_rows",
    ),
    pytest.param(
        np.arange(1001, dtype=np.float32),
        (),
        "tensor([   0.,    1.,    2.,  ...,  998.,  999., 1000.])",
        id="summarize_1d",
    ),
    pytest.param(
        np.arange(2000) - 1000,
        (),
        "tensor([-1000,  -999,  -998,  ...,   997,   998,   999])",
        id="summarize_1d_int",
    ),
    pytest.param(
        np.arange(1500) / 7,
        ("dtype=tracer.float64", "grad_fn=<SubBackward0>"),
        (
            "tensor([0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 2.1386e+02, 2.1400e+02,\n"
            "        2.1414e+02], dtype=tracer.float64, grad_fn=<SubBackward0>)"
        ),
        id="summarize_1d_fixed",
    ),
    pytest.param(
        np.arange(2000).reshape(20, 100),
        (),
        (
            "tensor([[   0,    1,    2,  ...,   97,   98,   99],\n"
            "        [ 100,  101,  102,  ...,  197,  198,  199],\n"
            "        [ 200,  201,  202,  ...,  297,  298,  299],\n"
            "        ...,\n"
            "        [1700, 1701, 1702,  ..., 1797, 1798, 1799],\n"
            "        [1800, 1801, 1802,  ..., 1897, 1898, 1899],\n"
            "        [1900, 1901, 1902,  ..., 1997, 1998, 1999]])"
        ),
        id="summarize_2d",
    ),
    pytest.param(
        np.arange(2000, dtype=np.float32).reshape(400, 5) / 9,
        (),
        (
            "tensor([[0.0000e+00, 1.1111e-01, 2.2222e-01, 3.3333e-01, 4.4444e-01],\n"
            "        [5.5556e-01, 6.6667e-01, 7.7778e-01, 8.8889e-01, 1.0000e+00],\n"
            "        [1.1111e+00, 1.2222e+00, 1.3333e+00, 1.4444e+00, 1.5556e+00],\n"
            "        ...,\n"
            "        [2.2056e+02, 2.2067e+02, 2.2078e+02, 2.2089e+02, 2.2100e+02],\n"
            "        [2.2111e+02, 2.2122e+02, 2.2133e+02, 2.2144e+02, 2.2156e+02],\n"
            "        [2.2167e+02, 2.2178e+02, 2.2189e+02, 2.2200e+02, 2.2211e+02]])"
        ),
        id="summarize_2d_short_rows",
    ),
    pytest.param(
        np.arange(2000, dtype=np.float32).reshape(4, 500) % 11 - 5,
        (),
        (
            "tensor([[-5., -4., -3.,  ..., -3., -2., -1.],\n"
            "        [ 0.,  1.,  2.,  ...,  2.,  3.,  4.],\n"
            "        [ 5., -5., -4.,  ..., -4., -3., -2.],\n"
            "        [-1.,  0.,  1.,  ...,  1.,  2.,  3.]])"
        ),
        id="summarize_2d_few_rows",
    ),
    pytest.param(
        (np.arange(1200, dtype=np.float32).reshape(10, 2, 60) % 17) / 3,
        (),
        (
            "tensor([[[0.0000, 0.3333, 0.6667,  ..., 2.0000, 2.3333, 2.6667],\n"
            "         [3.0000, 3.3333, 3.6667,  ..., 5.0000, 5.3333, 0.0000]],\n"
            "\n"
            "        [[0.3333, 0.6667, 1.0000,  ..., 2.3333, 2.6667, 3.0000],\n"
            "         [3.3333, 3.6667, 4.0000,  ..., 5.3333, 0.0000, 0.3333]],\n"
            "\n"
            "        [[0.6667, 1.0000, 1.3333,  ..., 2.6667, 3.0000, 3.3333],\n"
            "         [3.6667, 4.0000, 4.3333,  ..., 0.0000, 0.3333, 0.6667]],\n"
            "\n"
            "        ...,\n"
            "\n"
            "        [[2.3333, 2.6667, 3.0000,  ..., 4.3333, 4.6667, 5.0000],\n"
            "         [5.3333, 0.0000, 0.3333,  ..., 1.6667, 2.0000, 2.3333]],\n"
            "\n"
            "        [[2.6667, 3.0000, 3.3333,  ..., 4.6667, 5.0000, 5.3333],\n"
            "         [0.0000, 0.3333, 0.6667,  ..., 2.0000, 2.3333, 2.6667]],\n"
            "\n"
            "        [[3.0000, 3.3333, 3.6667,  ..., 5.0000, 5.3333, 0.0000],\n"
            "         [0.3333, 0.6667, 1.0000,  ..., 2.3333, 2.6667, 3.0000]]])"
        ),
        id="summarize_3d",
    ),
    pytest.param(
        np.arange(1200).reshape(12, 2, 50) * 1.5e6,
        ("dtype=tracer.float64", "requires_grad=True"),
        (
            "tensor([[[0.0000e+00, 1.5000e+06, 3.0000e+06,  ..., 7.0500e+07,\n"
            "          7.2000e+07, 7.3500e+07],\n"
            "         [7.5000e+07, 7.6500e+07, 7.8000e+07,  ..., 1.4550e+08,\n"
            "          1.4700e+08, 1.4850e+08]],\n"
            "\n"
            "        [[1.5000e+08, 1.5150e+08, 1.5300e+08,  ..., 2.2050e+08,\n"
            "          2.2200e+08, 2.2350e+08],\n"
            "         [2.2500e+08, 2.2650e+08, 2.2800e+08,  ..., 2.9550e+08,\n"
            "          2.9700e+08, 2.9850e+08]],\n"
            "\n"
            "        [[3.0000e+08, 3.0150e+08, 3.0300e+08,  ..., 3.7050e+08,\n"
            "          3.7200e+08, 3.7350e+08],\n"
            "         [3.7500e+08, 3.7650e+08, 3.7800e+08,  ..., 4.4550e+08,\n"
            "          4.4700e+08, 4.4850e+08]],\n"
            "\n"
            "        ...,\n"
            "\n"
            "        [[1.3500e+09, 1.3515e+09, 1.3530e+09,  ..., 1.4205e+09,\n"
            "          1.4220e+09, 1.4235e+09],\n"
            "         [1.4250e+09, 1.4265e+09, 1.4280e+09,  ..., 1.4955e+09,\n"
            "          1.4970e+09, 1.4985e+09]],\n"
            "\n"
            "        [[1.5000e+09, 1.5015e+09, 1.5030e+09,  ..., 1.5705e+09,\n"
            "          1.5720e+09, 1.5735e+09],\n"
            "         [1.5750e+09, 1.5765e+09, 1.5780e+09,  ..., 1.6455e+09,\n"
            "          1.6470e+09, 1.6485e+09]],\n"
            "\n"
            "        [[1.6500e+09, 1.6515e+09, 1.6530e+09,  ..., 1.7205e+09,\n"
            "          1.7220e+09, 1.7235e+09],\n"
            "         [1.7250e+09, 1.7265e+09, 1.7280e+09,  ..., 1.7955e+09,\n"
            "          1.7970e+09, 1.7985e+09]]], dtype=tracer.float64, requires_grad=True)"
        ),
        id="summarize_3d_sci",
    ),
    pytest.param(
        np.arange(1600).reshape(8, 1, 1, 200) % 5 == 0,
        (),
        (
            "tensor([[[[ True, False, False,  ..., False, False, False]]],\n"
            "\n"
            "\n"
            "        [[[ True, False, False,  ..., False, False, False]]],\n"
            "\n"
            "\n"
            "        [[[ True, False, False,  ..., False, False, False]]],\n"
            "\n"
            "\n"
            "        ...,\n"
            "\n"
            "\n"
            "        [[[ True, False, False,  ..., False, False, False]]],\n"
            "\n"
            "\n"
            "        [[[ True, False, False,  ..., False, False, False]]],\n"
            "\n"
            "\n"
            "        [[[ True, False, False,  ..., False, False, False]]]])"
        ),
        id="summarize_4d_bool",
    ),
    pytest.param(
        np.concatenate([[np.nan, 1e-6], np.ones(1000), [np.inf]]),
        ("dtype=tracer.float64",),
        (
            "tensor([       nan, 1.0000e-06, 1.0000e+00,  ..., 1.0000e+00, 1.0000e+00,\n"
            "               inf], dtype=tracer.float64)"
        ),
        id="summarize_edge_nonfinite",
    ),
    pytest.param(
        np.zeros(0, np.float32),
        (),
        "tensor([])",
        id="empty",
    ),
    pytest.param(
        np.zeros(0, np.float32),
        ("requires_grad=True",),
        "tensor([], requires_grad=True)",
        id="empty_req",
    ),
    pytest.param(
        np.zeros(0),
        ("dtype=tracer.float64",),
        "tensor([], dtype=tracer.float64)",
        id="empty_f64",
    ),
    pytest.param(
        np.zeros(0, np.int64),
        ("dtype=tracer.int64",),
        "tensor([], dtype=tracer.int64)",
        id="empty_int64",
    ),
    pytest.param(
        np.zeros(0, bool),
        ("dtype=tracer.bool",),
        "tensor([], dtype=tracer.bool)",
        id="empty_bool",
    ),
    pytest.param(
        np.zeros((0, 3), np.float32),
        (),
        "tensor([], size=(0, 3))",
        id="empty_2d",
    ),
    pytest.param(
        np.zeros((2, 0), np.float32),
        ("requires_grad=True",),
        "tensor([], size=(2, 0), requires_grad=True)",
        id="empty_2d_trailing",
    ),
    pytest.param(
        np.zeros((3, 0, 2), np.int32),
        ("dtype=tracer.int32",),
        "tensor([], size=(3, 0, 2), dtype=tracer.int32)",
        id="empty_3d_int32",
    ),
]

OPTION_CASES = [
    pytest.param(
        {"precision": 2},
        np.array([1.23456, -2.5], np.float32),
        (),
        "tensor([ 1.23, -2.50])",
        id="precision_2",
    ),
    pytest.param(
        {"precision": 0},
        np.array([1.5, 22.25], np.float32),
        (),
        "tensor([ 2, 22])",
        id="precision_0",
    ),
    pytest.param(
        {"precision": 8},
        np.array([1e-9, 1.0]),
        ("dtype=tracer.float64",),
        "tensor([1.00000000e-09, 1.00000000e+00], dtype=tracer.float64)",
        id="precision_8_sci",
    ),
    pytest.param(
        {"sci_mode": True},
        np.array([1.5, -100000.0]),
        ("dtype=tracer.float64",),
        "tensor([ 1.5000e+00, -1.0000e+05], dtype=tracer.float64)",
        id="sci_forced",
    ),
    pytest.param(
        {"sci_mode": True},
        np.array([1.0, 2.0, np.nan], np.float32),
        (),
        "tensor([1.0000e+00, 2.0000e+00,        nan])",
        id="sci_forced_int_valued",
    ),
    pytest.param(
        {"sci_mode": True},
        np.array([0.0, np.nan], np.float32),
        (),
        "tensor([0., nan])",
        id="sci_forced_no_finite",
    ),
    pytest.param(
        {"sci_mode": False},
        np.array([1.5, 1e10]),
        ("dtype=tracer.float64",),
        "tensor([          1.5000, 10000000000.0000], dtype=tracer.float64)",
        id="sci_disabled",
    ),
    pytest.param(
        {"sci_mode": False},
        np.array([1e-6, 1.5], np.float32),
        (),
        "tensor([0.0000, 1.5000])",
        id="sci_disabled_small",
    ),
    pytest.param(
        {"linewidth": 40},
        np.arange(12, dtype=np.float32) / 3,
        (),
        (
            "tensor([0.0000, 0.3333, 0.6667, 1.0000,\n"
            "        1.3333, 1.6667, 2.0000, 2.3333,\n"
            "        2.6667, 3.0000, 3.3333, 3.6667])"
        ),
        id="linewidth_40",
    ),
    pytest.param(
        {"linewidth": 5},
        np.arange(4).reshape(2, 2) * 1000,
        (),
        ("tensor([[   0,\n         1000],\n        [2000,\n         3000]])"),
        id="linewidth_tiny",
    ),
    pytest.param(
        {"edgeitems": 1},
        np.arange(2000, dtype=np.float32).reshape(20, 10, 10),
        (),
        (
            "tensor([[[   0.,  ...,    9.],\n"
            "         ...,\n"
            "         [  90.,  ...,   99.]],\n"
            "\n"
            "        ...,\n"
            "\n"
            "        [[1900.,  ..., 1909.],\n"
            "         ...,\n"
            "         [1990.,  ..., 1999.]]])"
        ),
        id="edgeitems_1",
    ),
    pytest.param(
        {"edgeitems": 0},
        np.arange(2000, dtype=np.float32).reshape(20, 100),
        (),
        "tensor([...], size=(20, 100))",
        id="edgeitems_0",
    ),
    pytest.param(
        {"edgeitems": 0},
        np.arange(4, dtype=np.float32),
        (),
        "tensor([0., 1., 2., 3.], size=(4,))",
        id="edgeitems_0_small",
    ),
    pytest.param(
        {"threshold": 5},
        np.arange(12).reshape(3, 4) / 2,
        ("dtype=tracer.float64",),
        (
            "tensor([[0.0000, 0.5000, 1.0000, 1.5000],\n"
            "        [2.0000, 2.5000, 3.0000, 3.5000],\n"
            "        [4.0000, 4.5000, 5.0000, 5.5000]], dtype=tracer.float64)"
        ),
        id="threshold_5",
    ),
    pytest.param(
        {"profile": "short"},
        np.arange(2000, dtype=np.float32) / 3,
        (),
        "tensor([0.00e+00, 3.33e-01,  ..., 6.66e+02, 6.66e+02])",
        id="profile_short",
    ),
    pytest.param(
        {"threshold": 6},
        np.arange(6).reshape(2, 3) / 2,
        ("dtype=tracer.float64",),
        (
            "tensor([[0.0000, 0.5000, 1.0000],\n"
            "        [1.5000, 2.0000, 2.5000]], dtype=tracer.float64)"
        ),
        id="threshold_equal",
    ),
]


@pytest.mark.parametrize(("values", "suffixes", "expected"), GOLDEN)
def test_golden(values: np.ndarray, suffixes: tuple[str, ...], expected: str) -> None:
    assert format_tensor(values, suffixes) == expected


@pytest.mark.parametrize(("options", "values", "suffixes", "expected"), OPTION_CASES)
def test_golden_with_options(
    options: dict, values: np.ndarray, suffixes: tuple[str, ...], expected: str
) -> None:
    set_printoptions(**options)
    assert format_tensor(values, suffixes) == expected


def test_threshold_boundary() -> None:
    assert "..." not in format_tensor(np.arange(1000.0))
    assert "..." in format_tensor(np.arange(1001.0))


def test_profiles_and_options_state() -> None:
    assert get_printoptions() == {
        "precision": 4,
        "threshold": 1000,
        "edgeitems": 3,
        "linewidth": 80,
        "sci_mode": None,
    }
    set_printoptions(profile="full")
    assert get_printoptions()["threshold"] == math.inf
    assert "..." not in format_tensor(np.arange(1200))
    set_printoptions(profile="short", precision=3)
    assert (_format.PRINT_OPTS.precision, _format.PRINT_OPTS.edgeitems) == (3, 2)
    with pytest.raises(ValueError):
        set_printoptions(profile="bogus")


def test_needs_dtype_suffix() -> None:
    assert not needs_dtype_suffix(np.zeros(2, np.float32))
    assert not needs_dtype_suffix(np.zeros(0, np.float32))
    assert needs_dtype_suffix(np.zeros(2, np.float64))
    assert not needs_dtype_suffix(np.zeros(2, np.int64))
    assert not needs_dtype_suffix(np.array(True))
    assert needs_dtype_suffix(np.zeros(0, np.int64))
    assert needs_dtype_suffix(np.zeros((0, 2), bool))
    assert needs_dtype_suffix(np.zeros(2, np.int32))


def test_accepts_non_contiguous_views() -> None:
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert format_tensor(a.T[::2]) == format_tensor(np.ascontiguousarray(a.T[::2]))


# --- oracle tests against a live PyTorch (skipped when torch or hypothesis is missing) ---

_SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0]
_DTYPES = ["float32", "float64", "int64", "bool"]


def _torch_repr(arr: np.ndarray) -> str:
    torch = pytest.importorskip("torch")
    return repr(torch.from_numpy(arr.copy()))


def _ours(arr: np.ndarray) -> str:
    # Use torch's own dtype names here: "tracer." is one character longer, which can move
    # the point where suffixes wrap onto a new line.
    suffixes = []
    if needs_dtype_suffix(arr):
        suffixes.append("dtype=torch." + ("bool" if arr.dtype == np.bool_ else arr.dtype.name))
    return format_tensor(arr, suffixes)


def _random_array(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Values spanning 1e-12..1e12 (or small/integer-valued ones), with specials sprinkled."""
    if dtype == "bool":
        return np.asarray(rng.random(shape) < 0.5)
    if dtype == "int64":
        bound = 10 ** int(rng.integers(1, 13))
        return np.asarray(rng.integers(-bound, bound, size=shape), dtype=np.int64)
    kind = rng.integers(0, 3)
    lo, hi = [(-12, 12), (-3, 3), (0, 6)][kind]
    vals = np.asarray(10.0 ** rng.uniform(lo, hi, size=shape))
    vals *= rng.choice([-1.0, 1.0], size=shape)
    if kind == 2:
        vals = np.round(vals)
    flat = vals.reshape(-1)
    if flat.size and rng.random() < 0.5:
        idx = rng.integers(0, flat.size, size=int(rng.integers(1, 4)))
        flat[idx] = rng.choice(_SPECIAL, size=idx.size)
    return np.asarray(vals, dtype=dtype)


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a test extra
    given = None

if given is not None:
    _shapes = st.lists(st.integers(0, 12), min_size=0, max_size=3).map(tuple)
    _big_shapes = st.sampled_from([(1001,), (1500,), (40, 30), (3, 400), (10, 10, 11), (2, 3, 200)])

    @settings(max_examples=150, deadline=None)
    @given(shape=_shapes, dtype=st.sampled_from(_DTYPES), seed=st.integers(0, 2**32 - 1))
    def test_matches_torch_small(shape: tuple[int, ...], dtype: str, seed: int) -> None:
        arr = _random_array(np.random.default_rng(seed), shape, dtype)
        assert _ours(arr) == _torch_repr(arr)

    @settings(max_examples=25, deadline=None)
    @given(shape=_big_shapes, dtype=st.sampled_from(_DTYPES), seed=st.integers(0, 2**32 - 1))
    def test_matches_torch_summarized(shape: tuple[int, ...], dtype: str, seed: int) -> None:
        arr = _random_array(np.random.default_rng(seed), shape, dtype)
        assert _ours(arr) == _torch_repr(arr)

    _floats = st.one_of(
        st.builds(
            lambda m, e: m * 10.0**e, st.floats(-10, 10, allow_nan=False), st.integers(-12, 12)
        ),
        st.integers(-1000, 1000).map(float),
        st.sampled_from(_SPECIAL),
    )

    @settings(max_examples=100, deadline=None)
    @given(values=st.lists(_floats, max_size=12), dtype=st.sampled_from(["float32", "float64"]))
    def test_matches_torch_float_values(values: list[float], dtype: str) -> None:
        arr = np.array(values, dtype=dtype)
        assert _ours(arr) == _torch_repr(arr)
        if arr.size:
            assert _ours(arr[:1].reshape(())) == _torch_repr(arr[:1].reshape(()))
