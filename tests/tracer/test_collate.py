"""default_collate and default_convert build PyTorch's batches: each supported sample type
against a batch written out by hand, and, when PyTorch is importable, the whole result
(container types, tensor dtypes, shapes and values) against torch's default_collate."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import tracer
from tracer.utils.data import default_collate, default_convert

Point = collections.namedtuple("Point", "x y")


class Record(dict):
    """A dict subclass: collation keeps the mapping's type."""


def _describe(value):
    """A library-neutral description: tensors as (dtype name, shape, values)."""
    if hasattr(value, "tolist") and hasattr(value, "dtype") and not isinstance(value, np.ndarray):
        return (
            "tensor",
            str(value.dtype).replace("torch.", "").replace("tracer.", ""),
            tuple(value.shape),
            value.tolist(),
        )
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__, [_describe(v) for v in value])
    if isinstance(value, dict):
        return (type(value).__name__, {k: _describe(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_describe(v) for v in value])
    return value


# (id, batch builder(lib), expected description)
CASES = [
    (
        "tensors",
        lambda lib: [lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0])],
        ("tensor", "float32", (2, 2), [[1.0, 2.0], [3.0, 4.0]]),
    ),
    (
        "int_tensors_0d",
        lambda lib: [lib.tensor(1), lib.tensor(2)],
        ("tensor", "int64", (2,), [1, 2]),
    ),
    (
        "numpy_arrays",
        lambda lib: [np.array([1, 2], np.int16), np.array([3, 4], np.int16)],
        ("tensor", "int16", (2, 2), [[1, 2], [3, 4]]),
    ),
    (
        "numpy_float_scalars",
        lambda lib: [np.float64(0.5), np.float64(1.5)],
        ("tensor", "float64", (2,), [0.5, 1.5]),
    ),
    (
        "numpy_int32_scalars",
        lambda lib: [np.int32(3), np.int32(4)],
        ("tensor", "int32", (2,), [3, 4]),
    ),
    (
        "numpy_bool_scalars",
        lambda lib: [np.bool_(True), np.bool_(False)],
        ("tensor", "bool", (2,), [True, False]),
    ),
    # mixed numpy scalars promote within the widest category; a Python float counts as
    # float32, a Python int as int64
    (
        "numpy_mixed_floats",
        lambda lib: [np.float32(1), np.float64(2)],
        ("tensor", "float64", (2,), [1.0, 2.0]),
    ),
    (
        "numpy_float32_and_int64",
        lambda lib: [np.float32(1), np.int64(2)],
        ("tensor", "float32", (2,), [1.0, 2.0]),
    ),
    (
        "numpy_float32_and_python_float",
        lambda lib: [np.float32(1), 2.0],
        ("tensor", "float32", (2,), [1.0, 2.0]),
    ),
    ("numpy_int32_and_python_int", lambda lib: [np.int32(1), 2], ("tensor", "int64", (2,), [1, 2])),
    ("floats", lambda lib: [1.5, 2.0], ("tensor", "float64", (2,), [1.5, 2.0])),
    ("ints", lambda lib: [1, 2, 3], ("tensor", "int64", (3,), [1, 2, 3])),
    ("bools", lambda lib: [True, False], ("tensor", "bool", (2,), [True, False])),
    ("strings", lambda lib: ["a", "b"], ("list", ["a", "b"])),
    ("bytes", lambda lib: [b"a", b"b"], ("list", [b"a", b"b"])),
    (
        "tuples",
        lambda lib: [(1, "x"), (2, "y")],
        ("list", [("tensor", "int64", (2,), [1, 2]), ("tuple", ["x", "y"])]),
    ),
    (
        "lists",
        lambda lib: [[1.0, 2.0], [3.0, 4.0]],
        (
            "list",
            [("tensor", "float64", (2,), [1.0, 3.0]), ("tensor", "float64", (2,), [2.0, 4.0])],
        ),
    ),
    (
        "dicts",
        lambda lib: [{"a": 1, "b": lib.tensor([1.0])}, {"a": 2, "b": lib.tensor([2.0])}],
        (
            "dict",
            {
                "a": ("tensor", "int64", (2,), [1, 2]),
                "b": ("tensor", "float32", (2, 1), [[1.0], [2.0]]),
            },
        ),
    ),
    (
        "dict_subclass",
        lambda lib: [Record(v=1.0), Record(v=2.0)],
        ("Record", {"v": ("tensor", "float64", (2,), [1.0, 2.0])}),
    ),
    (
        "namedtuples",
        lambda lib: [Point(1, 2.0), Point(3, 4.0)],
        (
            "Point",
            [("tensor", "int64", (2,), [1, 3]), ("tensor", "float64", (2,), [2.0, 4.0])],
        ),
    ),
    (
        "nested",
        lambda lib: [
            {"x": (lib.tensor([1.0]), np.array([1.0])), "label": "cat"},
            {"x": (lib.tensor([2.0]), np.array([2.0])), "label": "dog"},
        ],
        (
            "dict",
            {
                "x": (
                    "list",
                    [
                        ("tensor", "float32", (2, 1), [[1.0], [2.0]]),
                        ("tensor", "float64", (2, 1), [[1.0], [2.0]]),
                    ],
                ),
                "label": ("list", ["cat", "dog"]),
            },
        ),
    ),
]


@pytest.mark.parametrize("make,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_collates_each_type_as_documented(make, expected):
    assert _describe(default_collate(make(tracer))) == expected


@pytest.mark.parametrize("make", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_collate_equals_torchs_default_collate(make):
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    assert _describe(default_collate(make(tracer))) == _describe(torch_collate(make(torch)))


ERRORS = [
    ("unequal_lengths", lambda lib: [[1, 2], [3]], RuntimeError, "equal size"),
    (
        "unequal_shapes",
        lambda lib: [lib.ones(2), lib.ones(3)],
        RuntimeError,
        r"different shapes \(\(2,\), \(3,\)\)",
    ),
    ("object", lambda lib: [object()], TypeError, "found <class 'object'>"),
    ("string_array", lambda lib: [np.array(["a"])], TypeError, "found <U1"),
]


@pytest.mark.parametrize("make,error,message", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_uncollatable_batches_raise_pytorchs_error_types(make, error, message):
    with pytest.raises(error, match=message):
        default_collate(make(tracer))


@pytest.mark.parametrize("make,error", [(c[1], c[2]) for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_torch_raises_the_same_types(make, error):
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    with pytest.raises(error):
        torch_collate(make(torch))


CONVERT = [
    ("array", lambda: np.array([1, 2]), ("tensor", "int64", (2,), [1, 2])),
    ("scalar", lambda: np.float64(1.5), ("tensor", "float64", (), 1.5)),
    ("number", lambda: 3, 3),
    ("string_array_kept", lambda: np.array(["a"]), None),
    ("tuple", lambda: (np.array([1]), 3), ("list", [("tensor", "int64", (1,), [1]), 3])),
    ("namedtuple", lambda: Point(np.array([1]), 2), ("Point", [("tensor", "int64", (1,), [1]), 2])),
    ("dict", lambda: {"a": np.float32(1.0)}, ("dict", {"a": ("tensor", "float32", (), 1.0)})),
]


@pytest.mark.parametrize("make,expected", [c[1:] for c in CONVERT], ids=[c[0] for c in CONVERT])
def test_default_convert_turns_numpy_into_tensors_and_keeps_the_rest(make, expected):
    value = make()
    converted = default_convert(value)
    if expected is None:
        assert converted is value
    else:
        assert _describe(converted) == expected


@pytest.mark.parametrize("make", [c[1] for c in CONVERT], ids=[c[0] for c in CONVERT])
def test_default_convert_equals_torchs(make):
    pytest.importorskip("torch")
    from torch.utils.data import default_convert as torch_convert

    ours, theirs = default_convert(make()), torch_convert(make())
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray)
    else:
        assert _describe(ours) == _describe(theirs)
