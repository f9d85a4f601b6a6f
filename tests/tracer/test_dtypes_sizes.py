"""Dtypes and sizes as PyTorch scripts see them: `x.dtype` is a `tracer.dtype` object
(`tracer.float32`) that still works wherever numpy takes a dtype, `x.shape` is a
`tracer.Size`, and finfo/iinfo, promote_types, result_type and can_cast answer as
PyTorch's do. PyTorch, when installed, is the oracle for printed forms and values."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tracer

NAMES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]
ALIASES = [
    ("float", "float32"),
    ("double", "float64"),
    ("half", "float16"),
    ("long", "int64"),
    ("int", "int32"),
    ("short", "int16"),
]


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


# ---- tracer.dtype objects -------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_tensors_dtype_is_the_one_tracer_dtype_object(name):
    x = tracer.zeros(2, dtype=getattr(tracer, name))
    assert x.dtype is getattr(tracer, name)


@pytest.mark.parametrize("alias,name", ALIASES)
def test_aliases_are_the_same_object(alias, name):
    assert getattr(tracer, alias) is getattr(tracer, name)


@pytest.mark.parametrize("name", NAMES + [a for a, _ in ALIASES])
def test_dtype_prints_as_torch_prints_it(torch, name):
    assert repr(getattr(tracer, name)) == repr(getattr(torch, name)).replace("torch.", "tracer.")
    assert str(getattr(tracer, name)) == str(getattr(torch, name)).replace("torch.", "tracer.")


@pytest.mark.parametrize("name", NAMES)
def test_dtype_attributes_are_torchs(torch, name):
    ours, theirs = getattr(tracer, name), getattr(torch, name)
    assert (ours.itemsize, ours.is_floating_point, ours.is_complex, ours.is_signed) == (
        theirs.itemsize,
        theirs.is_floating_point,
        theirs.is_complex,
        theirs.is_signed,
    )


def test_dtype_is_a_tracer_dtype_instance():
    assert isinstance(tracer.ones(1).dtype, tracer.dtype)
    assert type(tracer.float32).__name__ == "dtype"


@pytest.mark.parametrize(
    "use",
    [
        lambda d: np.zeros(3, d).dtype,
        lambda d: np.arange(3).astype(d).dtype,
        lambda d: np.dtype(d),
        lambda d: np.array([1, 2], dtype=d).dtype,
        lambda d: np.empty(2, dtype=d).dtype,
        lambda d: np.full(2, 1, dtype=d).dtype,
    ],
    ids=["zeros", "astype", "np_dtype", "array", "empty", "full"],
)
@pytest.mark.parametrize("name", NAMES)
def test_numpy_takes_a_tracer_dtype_as_its_own(use, name):
    assert use(getattr(tracer, name)) == np.dtype(name)


@pytest.mark.parametrize("name", NAMES)
def test_dtype_equals_and_hashes_as_its_numpy_dtype(name):
    d = getattr(tracer, name)
    assert d == np.dtype(name) and np.dtype(name) == d
    assert d == np.dtype(name).type  # x.dtype == np.float32
    assert hash(d) == hash(np.dtype(name))
    assert {np.dtype(name): "numpy key"}[d] == "numpy key"
    assert {d: "tracer key"}[np.dtype(name)] == "tracer key"


@pytest.mark.parametrize(
    "other", [None, tracer.float64, np.float64, "float64", "junk", [1, 2], int], ids=repr
)
def test_dtype_is_not_equal_to_anything_else(other):
    assert tracer.float32 != other and not (tracer.float32 == other)


def test_a_dtype_equals_its_name_and_python_type_as_numpy_dtypes_do():
    # a known difference: torch.float32 == "float32" is False; ours follows numpy's rule
    assert tracer.float32 == "float32" and tracer.int64 == "int64"
    assert tracer.float64 == float  # noqa: E721


def test_dtypes_are_not_ordered_as_in_torch():
    with pytest.raises(TypeError):
        tracer.float32 < tracer.float64  # noqa: B015


def test_dtype_survives_pickle_and_copy_as_the_same_object():
    assert pickle.loads(pickle.dumps(tracer.int64)) is tracer.int64
    assert copy.deepcopy(tracer.int64) is tracer.int64 and copy.copy(tracer.bool) is tracer.bool


def test_dtypes_cannot_be_made_or_changed():
    with pytest.raises(TypeError, match="cannot create 'tracer.dtype' instances"):
        tracer.dtype()
    with pytest.raises(AttributeError, match="not writable"):
        tracer.float32.itemsize = 8


def test_an_attribute_neither_torch_nor_numpy_dtypes_have_names_tracer_dtype():
    with pytest.raises(AttributeError, match="'tracer.dtype' object has no attribute 'nope'"):
        tracer.float32.nope  # noqa: B018


def test_to_complex_says_complex_dtypes_are_unsupported():
    assert tracer.float32.to_real() is tracer.float32
    with pytest.raises(tracer.DTypeError, match="complex dtypes are not supported"):
        tracer.float32.to_complex()


@pytest.mark.parametrize("name", ["bfloat16", "complex64", "cfloat", "uint16"])
def test_a_torch_dtype_this_library_lacks_is_named(name):
    with pytest.raises(AttributeError, match=f"tracer.{name}: this dtype is not supported"):
        getattr(tracer, name)


@pytest.mark.parametrize("name", NAMES)
def test_dtypes_are_accepted_where_dtypes_are_taken(name):
    d = getattr(tracer, name)
    assert tracer.ones(2).to(d).dtype is d
    assert tracer.zeros(2, dtype=d).dtype is d
    assert tracer.tensor([1], dtype=np.dtype(name)).dtype is d


def test_default_dtype_is_reported_as_a_tracer_dtype():
    assert tracer.get_default_dtype() is tracer.float32


# ---- tracer.Size ----------------------------------------------------------------------


def test_shape_and_size_are_a_size_that_prints_like_torchs():
    x = tracer.ones(2, 3)
    assert type(x.shape) is tracer.Size and type(x.size()) is tracer.Size
    assert repr(x.shape) == "tracer.Size([2, 3])" and str(x.size()) == "tracer.Size([2, 3])"
    assert repr(tracer.ones(()).shape) == "tracer.Size([])"


@pytest.mark.parametrize(
    "expr,expected",
    [
        (lambda s: s[1:], (3, 4)),
        (lambda s: s + (5,), (2, 3, 4, 5)),
        (lambda s: (1,) + s, (1, 2, 3, 4)),
        (lambda s: s * 2, (2, 3, 4, 2, 3, 4)),
        (lambda s: 2 * s, (2, 3, 4, 2, 3, 4)),
        (lambda s: s + s, (2, 3, 4, 2, 3, 4)),
    ],
    ids=["slice", "add", "radd", "mul", "rmul", "add_size"],
)
def test_size_arithmetic_gives_sizes(expr, expected):
    out = expr(tracer.Size([2, 3, 4]))
    assert type(out) is tracer.Size and out == expected


@pytest.mark.parametrize("sizes,n", [([2, 3, 4], 24), ([], 1), ([0, 3], 0)])
def test_size_numel_is_the_product(sizes, n):
    assert tracer.Size(sizes).numel() == n


def test_size_is_a_tuple_of_ints():
    s = tracer.Size([np.int64(2), tracer.tensor(3)])
    assert s == (2, 3) and hash(s) == hash((2, 3)) and all(type(v) is int for v in s)
    assert type(s[0]) is int


@pytest.mark.parametrize("bad", [[2.5], [tracer.tensor(2.0)], ["a"]], ids=["float", "ft", "str"])
def test_size_of_non_ints_raises_type_error(bad):
    with pytest.raises(TypeError, match="tracer.Size\\(\\) takes an iterable of 'int'"):
        tracer.Size(bad)


def test_size_plus_a_list_raises_as_tuples_do():
    with pytest.raises(TypeError, match="can only concatenate tuple \\(not list\\)"):
        tracer.Size([2]) + [3]


def test_size_survives_pickle_as_a_size():
    out = pickle.loads(pickle.dumps(tracer.Size([2, 3])))
    assert type(out) is tracer.Size and out == (2, 3)


def test_numpy_takes_a_size_as_a_shape():
    assert np.zeros(tracer.ones(2, 3).shape).shape == (2, 3)


def test_shapes_and_dtypes_print_as_torchs(torch):
    for lib, prefix in ((tracer, "tracer"), (torch, "torch")):
        x = lib.ones(2, 3, dtype=lib.float64)
        text = f"{x.shape} {x.size()} {x.dtype} {x.size(1)}"
        assert text.replace(prefix, "lib") == ("lib.Size([2, 3]) lib.Size([2, 3]) lib.float64 3")


# ---- traced tensors show the same, the IR keeps numpy dtypes and tuples ---------------


def test_a_traced_tensor_shows_a_tracer_dtype_and_size():
    seen = []

    @tracer.trace
    def f(x):
        seen.append((x.dtype, x.shape))
        return x * 2

    f(tracer.ones(2, 3))
    assert seen == [(tracer.float32, (2, 3))]
    assert seen[0][0] is tracer.float32 and type(seen[0][1]) is tracer.Size


def test_dtypes_and_sizes_used_as_op_arguments_in_traced_code_stay_numpy_in_the_ir():
    @tracer.trace
    def f(x):
        y = x.to(tracer.float64).reshape(x.shape[::-1])
        return y + tracer.zeros(y.shape, dtype=y.dtype)

    text = f.ir(tracer.ones(2, 3))
    assert "convert[dtype=f64]" in text and "reshape[shape=(3, 2)]" in text
    assert "tracer." not in text and "Size" not in text
    np.testing.assert_array_equal(f(tracer.ones(2, 3)).numpy(), np.ones((3, 2)))


# ---- finfo and iinfo --------------------------------------------------------------------

FLOATS = ["float16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]


@pytest.mark.parametrize("name", FLOATS)
def test_finfo_is_torchs(torch, name):
    ours, theirs = tracer.finfo(getattr(tracer, name)), torch.finfo(getattr(torch, name))
    assert repr(ours) == repr(theirs)
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
        assert type(getattr(ours, attr)) is type(getattr(theirs, attr)), attr


@pytest.mark.parametrize("name", FLOATS)
def test_finfo_values_are_the_formats_limits(name):
    info, np_info = tracer.finfo(getattr(tracer, name)), np.finfo(name)
    assert (info.eps, info.max, info.tiny, info.bits) == (
        float(np_info.eps),
        float(np_info.max),
        float(np_info.smallest_normal),
        np_info.bits,
    )


@pytest.mark.parametrize("name", INTS)
def test_iinfo_is_torchs(torch, name):
    ours, theirs = tracer.iinfo(getattr(tracer, name)), torch.iinfo(getattr(torch, name))
    assert repr(ours) == repr(theirs)
    assert (ours.bits, ours.min, ours.max, ours.dtype) == (
        theirs.bits,
        theirs.min,
        theirs.max,
        theirs.dtype,
    )


@pytest.mark.parametrize("name", INTS)
def test_iinfo_values_are_the_formats_limits(name):
    info = tracer.iinfo(getattr(tracer, name))
    assert (info.min, info.max) == (int(np.iinfo(name).min), int(np.iinfo(name).max))


def test_finfo_without_a_dtype_describes_the_default_dtype():
    assert (
        tracer.finfo().dtype == "float32" and tracer.finfo().eps == tracer.finfo(tracer.float).eps
    )


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: tracer.finfo(tracer.int64), "requires a floating point input type"),
        (lambda: tracer.iinfo(tracer.float32), "requires an integer input type"),
        (lambda: tracer.iinfo(tracer.bool), "tracer.bool is not supported by tracer.iinfo"),
    ],
    ids=["finfo_int", "iinfo_float", "iinfo_bool"],
)
def test_info_of_the_wrong_kind_raises_type_error(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_info_objects_are_read_only():
    with pytest.raises(AttributeError, match="not writable"):
        tracer.finfo(tracer.float32).eps = 1.0


# ---- predicates and promotion ---------------------------------------------------------

PAIRS = [(a, b) for a in NAMES for b in NAMES]


@pytest.mark.parametrize("a,b", PAIRS)
def test_promote_types_is_torchs(torch, a, b):
    ours = tracer.promote_types(getattr(tracer, a), getattr(tracer, b))
    assert repr(ours) == repr(torch.promote_types(getattr(torch, a), getattr(torch, b))).replace(
        "torch.", "tracer."
    )


@pytest.mark.parametrize("a,b", PAIRS)
def test_can_cast_is_torchs(torch, a, b):
    assert tracer.can_cast(getattr(tracer, a), getattr(tracer, b)) == torch.can_cast(
        getattr(torch, a), getattr(torch, b)
    )


RESULT_TYPE_CASES = [
    lambda lib: (lib.tensor([1], dtype=lib.int32), 2.0),
    lambda lib: (2, 3.0),
    lambda lib: (True, 1),
    lambda lib: (lib.tensor(1.0, dtype=lib.float64), lib.tensor([1], dtype=lib.int64)),
    lambda lib: (lib.tensor(1.0, dtype=lib.float64), lib.tensor([1.0], dtype=lib.float16)),
    lambda lib: (lib.tensor([1], dtype=lib.uint8), lib.tensor([1], dtype=lib.int8)),
]


@pytest.mark.parametrize("case", RESULT_TYPE_CASES)
def test_result_type_is_torchs(torch, case):
    ours = tracer.result_type(*case(tracer))
    assert repr(ours) == repr(torch.result_type(*case(torch))).replace("torch.", "tracer.")


@pytest.mark.parametrize(
    "x,floating", [(tracer.ones(1), True), (tracer.ones(1, dtype=tracer.int64), False)]
)
def test_is_floating_point_and_is_complex(x, floating):
    assert tracer.is_floating_point(x) is floating and tracer.is_complex(x) is False
    assert x.is_floating_point() is floating


def test_predicates_of_a_non_tensor_raise_type_error_naming_input():
    with pytest.raises(TypeError, match="argument 'input' \\(position 1\\) must be Tensor"):
        tracer.is_floating_point(3.0)


@pytest.mark.parametrize("value,expected", [([0.0], False), ([2.0], True)])
def test_is_nonzero_of_one_element(value, expected):
    assert tracer.is_nonzero(tracer.tensor(value)) is expected


def test_is_nonzero_of_several_elements_is_ambiguous():
    with pytest.raises(RuntimeError, match="ambiguous"):
        tracer.is_nonzero(tracer.ones(2))
