"""Creation ops: PyTorch's argument forms, dtypes and values.

Against PyTorch (optional) the values are compared bit for bit; without it, against their
definitions: exact rational values within one rounding, numpy's index functions, and the
dtype rules PyTorch documents.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

import tracer


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def float64_default():
    tracer.set_default_dtype(tracer.float64)
    try:
        yield
    finally:
        tracer.set_default_dtype(tracer.float32)


def assert_same(ours, theirs) -> None:
    a, b = np.asarray(ours.numpy()), theirs.detach().numpy()
    assert (a.dtype, a.shape) == (b.dtype, b.shape)
    assert np.array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))


# ---- against PyTorch ----------------------------------------------------------------------
TORCH_CASES = {
    "arange_0_1_0.1": lambda T: T.arange(0, 1, 0.1),
    "arange_-1_1_0.3": lambda T: T.arange(-1, 1, 0.3),
    "arange_0_1_0.1_f64": lambda T: T.arange(0, 1, 0.1, dtype=T.float64),
    "arange_-1_1_0.3_f64": lambda T: T.arange(-1, 1, 0.3, dtype=T.float64),
    "arange_thirds": lambda T: T.arange(-3, 3, 1 / 3),
    "arange_long_f32": lambda T: T.arange(1.5, 1000.3, 0.7131),
    "arange_long_f64": lambda T: T.arange(1.5, 1000.3, 0.7131, dtype=T.float64),
    "arange_20000_f32": lambda T: T.arange(0.1, 20000.7, 0.9),
    "arange_20000_f64": lambda T: T.arange(0.1, 20000.7, 0.9, dtype=T.float64),
    "arange_f16": lambda T: T.arange(0, 100, 0.77, dtype=T.float16),
    "arange_descending": lambda T: T.arange(1, 0, -0.1),
    "arange_int": lambda T: T.arange(10, 0, -3),
    "arange_end_only": lambda T: T.arange(5),
    "arange_float_end": lambda T: T.arange(5.0),
    "arange_keywords": lambda T: T.arange(start=1, end=4),
    "arange_end_keyword": lambda T: T.arange(end=4),
    "arange_tensor_bound": lambda T: T.arange(T.tensor(3)),
    "arange_bool_start": lambda T: T.arange(True, 5),
    "arange_int64_truncates": lambda T: T.arange(0.5, 7.9, 2.6, dtype=T.int64),
    "arange_int32_truncated_step": lambda T: T.arange(0, 5, 0.5, dtype=T.int32),
    "arange_uint8": lambda T: T.arange(0, 5, dtype=T.uint8),
    "arange_huge_int": lambda T: T.arange(0, 2**60, 2**59),
    "linspace": lambda T: T.linspace(-1, 1, 7),
    "linspace_f64": lambda T: T.linspace(0.1, 7.3, 100, dtype=T.float64),
    "linspace_1001": lambda T: T.linspace(-3.3, 11.7, 1001),
    "linspace_descending": lambda T: T.linspace(3, -2, 17, dtype=T.float64),
    "linspace_int64": lambda T: T.linspace(0, 10, 5, dtype=T.int64),
    "linspace_int32_negative": lambda T: T.linspace(-7, 10, 6, dtype=T.int32),
    "linspace_int_float_bounds": lambda T: T.linspace(-7.5, 10.2, 9, dtype=T.int64),
    "linspace_f16": lambda T: T.linspace(0.3, 17.1, 33, dtype=T.float16),
    "linspace_one": lambda T: T.linspace(0, 1, 1),
    "linspace_none": lambda T: T.linspace(0, 1, 0),
    "logspace": lambda T: T.logspace(-1.5, 3.3, 50),
    "logspace_f64": lambda T: T.logspace(-1.5, 3.3, 50, dtype=T.float64),
    "logspace_base": lambda T: T.logspace(-2, 2, 101, base=2.5, dtype=T.float64),
    "logspace_int": lambda T: T.logspace(0, 3, 4, dtype=T.int64),
    "logspace_one": lambda T: T.logspace(1.5, 3, 1),
    "logspace_f16": lambda T: T.logspace(0.5, 2.5, 9, dtype=T.float16),
    "logspace_large": lambda T: T.logspace(0, 3, 1000, dtype=T.float64),
    "tril_indices": lambda T: T.tril_indices(3, 3),
    "triu_indices_offset": lambda T: T.triu_indices(3, 4, 1),
    "tril_indices_below": lambda T: T.tril_indices(4, 3, -1),
    "triu_indices_all": lambda T: T.triu_indices(3, 3, offset=-5),
    "tril_indices_empty": lambda T: T.tril_indices(0, 3),
    "tril_indices_int32": lambda T: T.tril_indices(3, 3, dtype=T.int32),
    "eye_rectangular": lambda T: T.eye(2, 3),
    "eye_int": lambda T: T.eye(3, dtype=T.int64),
    "eye_keywords": lambda T: T.eye(n=2, m=1),
    "full_int": lambda T: T.full((2,), 3),
    "full_bool": lambda T: T.full((2,), True),
    "full_float": lambda T: T.full([2, 3], 1.5),
    "full_like_truncates": lambda T: T.full_like(T.ones(2, dtype=T.int64), 2.7),
    "zeros_like_dtype": lambda T: T.zeros_like(T.ones(2), dtype=T.int64),
    "zeros_size_keyword": lambda T: T.zeros(size=(2, 3)),
    "ones_list": lambda T: T.ones([2, 3], dtype=T.int32),
    "zeros_0d": lambda T: T.zeros(()),
    "new_zeros": lambda T: T.ones(2).new_zeros(3),
    "new_zeros_tuple": lambda T: T.ones(2).new_zeros((3, 2)),
    "new_ones_keeps_dtype": lambda T: T.ones(2, dtype=T.int32).new_ones(2),
    "new_full_keeps_dtype": lambda T: T.ones(2).new_full((2,), 7),
    "new_tensor_keeps_dtype": lambda T: T.ones(2, dtype=T.float64).new_tensor([1, 2]),
    "new_tensor_truncates": lambda T: T.ones(2, dtype=T.int64).new_tensor([1.5]),
    "new_zeros_dtype": lambda T: T.ones(2).new_zeros(2, dtype=T.int64),
    "tensor_dtype_float_is_float64": lambda T: T.tensor([1], dtype=float),
    "tensor_keywords": lambda T: T.tensor([[1, 2]], requires_grad=False, device="cpu"),
    "tensor_numpy_scalar": lambda T: T.tensor(np.float32(1.5)),
    "as_tensor_list": lambda T: T.as_tensor([1, 2.5]),
}


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_creation_is_pytorchs(torch, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(TORCH_CASES[case](tracer), TORCH_CASES[case](torch))


@pytest.mark.parametrize("case", ["arange_0_1_0.1", "linspace", "full_float", "tensor_keywords"])
def test_creation_with_float64_default_is_pytorchs(torch, case, float64_default):
    torch.set_default_dtype(torch.float64)
    try:
        assert_same(TORCH_CASES[case](tracer), TORCH_CASES[case](torch))
    finally:
        torch.set_default_dtype(torch.float32)


# ---- arange against its definition ----------------------------------------------------------
RANGES = [(0, 1, 0.1), (-1, 1, 0.3), (1, 0, -0.1), (1.5, 1000.3, 0.7131), (-3, 3, 1 / 3)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("start,end,step", RANGES)
def test_arange_length_is_the_ceiling_of_the_span_over_the_step(start, end, step, dtype):
    # PyTorch divides in float64: arange(-3, 3, 1/3) has 18 elements, not the 19 that exact
    # arithmetic on the double nearest 1/3 would give
    n = math.ceil((end - start) / step)
    assert tracer.arange(start, end, step, dtype=getattr(tracer, dtype)).shape == (n,)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("start,end,step", RANGES)
def test_arange_values_are_start_plus_i_step_within_an_ulp(start, end, step, dtype):
    got = tracer.arange(start, end, step, dtype=getattr(tracer, dtype)).numpy()
    exact = np.array([float(Fraction(start) + i * Fraction(step)) for i in range(got.size)])
    ulp = np.spacing(np.abs(exact).astype(got.dtype)).astype(np.float64)
    assert np.all(np.abs(got - exact) <= ulp + np.spacing(got.dtype.type(abs(step))))


INT_ARANGES = [  # PyTorch truncates float arguments when the result is an integer dtype
    ((0, 5, 1.5), "int64", [0, 1, 2, 3, 4]),
    ((0.5, 7.9, 2.6), "int64", [0, 2, 4, 6]),
    ((0, 5, 0.5), "int32", [0] * 10),
    ((10, 0, -3), "int64", [10, 7, 4, 1]),
]


@pytest.mark.parametrize("args,dtype,expected", INT_ARANGES)
def test_integer_aranges_truncate_their_arguments(args, dtype, expected):
    assert tracer.arange(*args, dtype=getattr(tracer, dtype)).tolist() == expected


@pytest.mark.parametrize(
    "args,message",
    [
        ((0, 5, 0), "step must be nonzero"),
        ((5, 0), "inconsistent with step sign"),
        ((0, 5, -1), "inconsistent with step sign"),
        ((0, math.inf), "must be finite"),
        ((0, math.nan), "must be finite"),
        ((0, 5, 0.5, tracer.int64), "truncates to 0"),
    ],
    ids=["zero_step", "backwards", "wrong_sign", "inf", "nan", "int64_zero_step"],
)
def test_bad_aranges_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        tracer.arange(*args[:3], dtype=args[3] if len(args) > 3 else None)


def test_arange_dtype_follows_the_arguments():
    assert [tracer.arange(*a).dtype for a in [(3,), (3.0,), (0, 3, 1), (0, 3, 0.5)]] == [
        np.int64,
        np.float32,
        np.int64,
        np.float32,
    ]


# ---- linspace and logspace --------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "start,end,steps", [(0, 1, 11), (-1, 1, 7), (-3.3, 11.7, 1001), (3, -2, 17)]
)
def test_linspace_hits_both_ends_and_is_within_an_ulp(start, end, steps, dtype):
    d = getattr(tracer, dtype)
    got = tracer.linspace(start, end, steps, dtype=d).numpy()
    s, e = Fraction(float(d.type(start))), Fraction(float(d.type(end)))
    exact = np.array([float(s + (e - s) * i / (steps - 1)) for i in range(steps)])
    ulp = np.spacing(np.abs(exact).astype(got.dtype)).astype(np.float64)
    assert got[0] == d.type(start) and got[-1] == d.type(end)
    assert np.all(
        np.abs(got - exact) <= 2 * ulp + 2 * np.spacing(got.dtype.type(max(abs(start), abs(end))))
    )


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: tracer.linspace(0, 1, -1), "negative"),
        (lambda: tracer.linspace(-7, 10, 6, dtype=tracer.uint8), "-7 does not fit in uint8"),
        (lambda: tracer.linspace(0, 1e6, 3, dtype=tracer.float16), "does not fit in float16"),
        (lambda: tracer.logspace(0, 300, 3, dtype=tracer.int8), "300 does not fit in int8"),
    ],
    ids=["negative_steps", "uint8_start", "float16_end", "int8_end"],
)
def test_bad_linspaces_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_logspace_is_base_to_the_linspace():
    got = tracer.logspace(-1.5, 3.3, 50, base=3.0, dtype=tracer.float64).numpy()
    expected = 3.0 ** np.linspace(-1.5, 3.3, 50)
    assert np.allclose(got, expected, rtol=1e-14, atol=0)


# ---- shapes, fills and dtypes --------------------------------------------------------------
class Shape(tuple):
    """A tuple subclass, as tracer.Size / torch.Size are."""


SIZE_FORMS = {
    "varargs": lambda f: f(2, 3),
    "tuple": lambda f: f((2, 3)),
    "list": lambda f: f([2, 3]),
    "size_keyword": lambda f: f(size=(2, 3)),
    "tuple_subclass": lambda f: f(Shape((2, 3))),
    "shape_of_a_tensor": lambda f: f(tracer.ones(2, 3).shape),
    "numpy_ints": lambda f: f(np.int64(2), np.int32(3)),
    "int_tensors": lambda f: f(tracer.tensor(2), tracer.tensor(3)),
}
SIZED = {
    "zeros": tracer.zeros,
    "ones": tracer.ones,
    "empty": tracer.empty,
    "rand": tracer.rand,
    "randn": tracer.randn,
    "new_zeros": tracer.ones(1).new_zeros,
    "new_ones": tracer.ones(1).new_ones,
    "new_empty": tracer.ones(1).new_empty,
}


@pytest.mark.parametrize("form", sorted(SIZE_FORMS))
@pytest.mark.parametrize("name", sorted(SIZED))
def test_every_size_form_gives_the_shape(name, form):
    if form == "size_keyword" and name.startswith("new_"):
        pytest.skip("PyTorch's new_* take the size positionally")
    assert SIZE_FORMS[form](SIZED[name]).shape == (2, 3)


@pytest.mark.parametrize(
    "call,error",
    [
        (lambda: tracer.zeros(2.0), TypeError),
        (lambda: tracer.zeros(-1), ValueError),
        (lambda: tracer.zeros(2, size=(2,)), TypeError),
        (lambda: tracer.ones(True), TypeError),
        (lambda: tracer.full((2,), "a"), TypeError),
        (lambda: tracer.eye(-1), ValueError),
        (lambda: tracer.tril_indices(3, 3, dtype=tracer.float32), TypeError),
    ],
    ids=["float_size", "negative", "size_twice", "bool_size", "string_fill", "eye", "tril_float"],
)
def test_bad_sizes_and_fills_are_refused(call, error):
    with pytest.raises(error):
        call()


FILL_DTYPES = [  # full() infers the dtype from the fill value, as PyTorch does
    (3, np.int64),
    (True, np.bool_),
    (1.5, np.float32),
    (np.float64(1.5), np.float32),
]


@pytest.mark.parametrize("value,dtype", FILL_DTYPES)
def test_full_infers_its_dtype_from_the_value(value, dtype):
    assert tracer.full((2,), value).dtype == dtype


def test_empty_is_zero_filled():
    assert (
        not tracer.empty(100).numpy().any() and not tracer.empty_like(tracer.ones(9)).numpy().any()
    )


NEW_DTYPES = {  # new_* keep the tensor's dtype unless given one
    "new_zeros": (lambda x: x.new_zeros(2), np.int32),
    "new_ones": (lambda x: x.new_ones(2), np.int32),
    "new_empty": (lambda x: x.new_empty(2), np.int32),
    "new_full_float_value": (lambda x: x.new_full((2,), 2.5), np.int32),
    "new_tensor_floats": (lambda x: x.new_tensor([1.5, 2.5]), np.int32),
    "new_zeros_dtype": (lambda x: x.new_zeros(2, dtype=tracer.float64), np.float64),
}


@pytest.mark.parametrize("name", sorted(NEW_DTYPES))
def test_new_tensors_keep_the_dtype(name):
    call, dtype = NEW_DTYPES[name]
    assert call(tracer.ones(3, dtype=tracer.int32)).dtype == dtype


def test_new_tensor_copies_and_truncates():
    assert tracer.ones(1, dtype=tracer.int64).new_tensor([1.9, -1.9]).tolist() == [1, -1]


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize(
    "row,col,offset", [(3, 3, 0), (3, 4, 1), (4, 3, -1), (3, 3, -5), (0, 3, 0)]
)
def test_triangle_indices_are_numpys(row, col, offset, upper):
    f = tracer.triu_indices if upper else tracer.tril_indices
    expected = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    got = f(row, col, offset)
    assert got.dtype == np.int64 and got.numpy().tolist() == [list(expected[0]), list(expected[1])]


def test_eye_is_the_identity():
    assert np.array_equal(tracer.eye(3, 4).numpy(), np.eye(3, 4, dtype=np.float32))


def test_requires_grad_keyword():
    assert tracer.arange(3.0, requires_grad=True).requires_grad
    assert tracer.zeros(2, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="floating point"):
        tracer.zeros(2, dtype=tracer.int64, requires_grad=True)


# ---- data in, memory shared or not ------------------------------------------------------
def test_from_numpy_shares_memory_both_ways():
    a = np.zeros(3)
    t = tracer.from_numpy(a)
    a[0] = 1.0
    t[1] = 2.0
    assert a.tolist() == [1.0, 2.0, 0.0] and t.tolist() == [1.0, 2.0, 0.0]


def test_as_tensor_shares_memory_when_the_dtype_fits():
    a = np.zeros(3, dtype=np.float32)
    t = tracer.as_tensor(a)
    a[0] = 5.0
    assert t.tolist()[0] == 5.0
    assert tracer.as_tensor(t) is t and tracer.as_tensor(t, dtype=tracer.float64) is not t


def test_tensor_copies_its_data():
    a = np.zeros(3)
    t = tracer.tensor(a)
    a[0] = 1.0
    assert t.tolist() == [0.0, 0.0, 0.0]


def test_tensor_of_a_tensor_warns_as_pytorch_does():
    with pytest.warns(tracer.TracerWarning, match=r"detach\(\)\.clone\(\)"):
        tracer.tensor(tracer.ones(2))


TENSOR_DTYPES = [  # PyTorch's inference and dtype= spellings
    ([1.0, 2], None, np.float32),
    ([1, 2], None, np.int64),
    ([True, False], None, np.bool_),
    ([1], float, np.float64),
    ([1.5], int, np.int64),
    (np.float32(1.5), None, np.float32),
    (np.arange(3, dtype=np.int32), None, np.int32),
    ([1, 2], tracer.float16, np.float16),
]


@pytest.mark.parametrize("data,dtype,expected", TENSOR_DTYPES)
def test_tensor_dtypes(data, dtype, expected):
    assert tracer.tensor(data, dtype=dtype).dtype == expected


# ---- the default dtype ----------------------------------------------------------------------
DEFAULT_FOLLOWERS = {  # what takes the default dtype in PyTorch
    "tensor_of_floats": lambda: tracer.tensor([1.0]),
    "tensor_of_a_float": lambda: tracer.tensor(2.5),
    "zeros": lambda: tracer.zeros(2),
    "ones": lambda: tracer.ones(2),
    "empty": lambda: tracer.empty(2),
    "eye": lambda: tracer.eye(2),
    "full_of_a_float": lambda: tracer.full((2,), 1.5),
    "arange_of_floats": lambda: tracer.arange(0, 1, 0.5),
    "linspace": lambda: tracer.linspace(0, 1, 3),
    "logspace": lambda: tracer.logspace(0, 1, 3),
    "rand": lambda: tracer.rand(2),
    "randn": lambda: tracer.randn(2),
    "normal": lambda: tracer.normal(0.0, 1.0, size=(2,)),
    "int_tensor_times_a_float": lambda: tracer.tensor([1, 2]) * 1.5,
    "int_tensor_true_division": lambda: tracer.tensor([1, 2]) / 2,
    "sigmoid_of_ints": lambda: tracer.tensor([1, 2]).sigmoid(),
    "int_tensor_to_a_float_power": lambda: tracer.tensor([1, 2]) ** 0.5,
}
DEFAULT_IGNORERS = {  # what keeps its own dtype
    "tensor_of_ints": (lambda: tracer.tensor([1]), np.int64),
    "float32_tensor_times_a_float": (
        lambda: tracer.ones(2, dtype=tracer.float32) * 1.5,
        np.float32,
    ),
    "float_method": (lambda: tracer.tensor([1]).float(), np.float32),
    "numpy_float32": (lambda: tracer.tensor(np.float32(1.0)), np.float32),
    "randint": (lambda: tracer.randint(0, 3, (2,)), np.int64),
    "arange_of_ints": (lambda: tracer.arange(3), np.int64),
    "dtype_float_keyword": (lambda: tracer.zeros(2, dtype=tracer.float), np.float32),
}


@pytest.mark.parametrize("name", sorted(DEFAULT_FOLLOWERS))
def test_the_default_dtype_is_honoured(name, float64_default):
    assert DEFAULT_FOLLOWERS[name]().dtype == np.float64


@pytest.mark.parametrize("name", sorted(DEFAULT_IGNORERS))
def test_what_has_a_dtype_keeps_it_under_another_default(name, float64_default):
    call, dtype = DEFAULT_IGNORERS[name]
    assert call().dtype == dtype


@pytest.mark.parametrize("name", sorted(DEFAULT_FOLLOWERS))
def test_default_dtype_followers_match_pytorch(torch, name, float64_default):
    torch_calls = {
        "tensor_of_floats": lambda: torch.tensor([1.0]),
        "tensor_of_a_float": lambda: torch.tensor(2.5),
        "zeros": lambda: torch.zeros(2),
        "ones": lambda: torch.ones(2),
        "empty": lambda: torch.empty(2),
        "eye": lambda: torch.eye(2),
        "full_of_a_float": lambda: torch.full((2,), 1.5),
        "arange_of_floats": lambda: torch.arange(0, 1, 0.5),
        "linspace": lambda: torch.linspace(0, 1, 3),
        "logspace": lambda: torch.logspace(0, 1, 3),
        "rand": lambda: torch.rand(2),
        "randn": lambda: torch.randn(2),
        "normal": lambda: torch.normal(0.0, 1.0, size=(2,)),
        "int_tensor_times_a_float": lambda: torch.tensor([1, 2]) * 1.5,
        "int_tensor_true_division": lambda: torch.tensor([1, 2]) / 2,
        "sigmoid_of_ints": lambda: torch.tensor([1, 2]).sigmoid(),
        "int_tensor_to_a_float_power": lambda: torch.tensor([1, 2]) ** 0.5,
    }
    torch.set_default_dtype(torch.float64)
    try:
        theirs = torch_calls[name]().dtype
    finally:
        torch.set_default_dtype(torch.float32)
    assert str(DEFAULT_FOLLOWERS[name]().dtype) == str(theirs).replace("torch.", "tracer.")


def test_get_default_dtype_reports_it(float64_default):
    assert tracer.get_default_dtype() == np.float64


@pytest.mark.parametrize("dtype", [tracer.int64, tracer.bool])
def test_only_float_dtypes_can_be_the_default(dtype):
    with pytest.raises(tracer.DTypeError, match="floating point"):
        tracer.set_default_dtype(dtype)
    assert tracer.get_default_dtype() == np.float32
