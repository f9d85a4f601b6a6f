"""Dtypes and PyTorch's type-promotion rules, over numpy dtypes."""

from __future__ import annotations

import numpy as np

from compiler.errors import DTypeError, ShapeError

float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
int16 = np.dtype("int16")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

DEFAULT_INT = int64
SUPPORTED = (float16, float32, float64, int8, int16, int32, int64, uint8, bool_)

_default_float = [float32]  # set by tracer.set_default_dtype


def default_float() -> np.dtype:
    """The dtype of Python floats and of float tensors made without a dtype (float32 unless
    tracer.set_default_dtype changed it)."""
    return _default_float[0]


def set_default_float(d: np.dtype) -> None:
    if d.kind != "f":
        raise DTypeError(f"the default dtype must be a floating point dtype, got {d}")
    _default_float[0] = d


def canonical(dtype: object) -> np.dtype:
    """Normalise a user dtype (np.float32, 'float64', tracer.int64, float...) to np.dtype."""
    if dtype is float:  # Python's float is a double, as in PyTorch (dtype=float -> float64)
        return float64
    if dtype is int:
        return DEFAULT_INT
    if dtype is bool:
        return bool_
    try:
        d = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        raise DTypeError(f"{dtype!r} is not a dtype") from None
    if d not in SUPPORTED:
        names = ", ".join(map(str, SUPPORTED))
        raise DTypeError(f"dtype {d} is not supported (use one of {names})")
    return d


def operand_array(x: object, op: str) -> np.ndarray:
    """A numpy array or nested list of numbers used as an operand of `op`, as an array,
    with an error that says what is wrong with it (ragged, not numbers, a dtype the
    library does not support)."""
    try:
        a = np.asarray(x)
    except (ValueError, TypeError):
        raise ShapeError(
            f"{op}: the list operand is ragged (its nested lists have "
            "different lengths); tracer.tensor(data) says where"
        ) from None
    if a.dtype.kind not in "biuf":
        what = {
            "U": "strings",
            "S": "bytes",
            "c": "complex numbers",
            "O": "objects that are not numbers (or ints too large for int64)",
        }
        raise DTypeError(
            f"{op}: an operand holds {what.get(a.dtype.kind, a.dtype)}; "
            "operands must be tensors, numbers, or lists of numbers"
        )
    if a.dtype not in SUPPORTED:
        raise DTypeError(
            f"{op}: operand dtype {a.dtype} is not supported; convert it first "
            f"(array.astype(np.float64)), or use one of "
            f"{', '.join(map(str, SUPPORTED))}"
        )
    return a


def is_float(d: np.dtype) -> bool:
    return d.kind == "f"


def is_int(d: np.dtype) -> bool:
    return d.kind in "iu"


def _category(d: np.dtype) -> int:
    return 2 if d.kind == "f" else 1 if d.kind in "iu" else 0


def scalar_dtype(value: object) -> np.dtype:
    """The dtype a Python scalar takes when it stands alone."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return DEFAULT_INT
    if isinstance(value, (float, np.floating)):
        return default_float()
    raise DTypeError(f"expected a number, got {type(value).__name__}")


def result_type(tensor_dtypes: list[tuple[np.dtype, int]], scalars: list[object]) -> np.dtype:
    """PyTorch promotion: dimensioned tensors win over 0-d tensors, which win over
    Python scalars, unless the weaker group is of a higher category (bool < int < float).

    `tensor_dtypes` holds (dtype, ndim) pairs; `scalars` holds Python numbers.
    """
    dims = zero = wrapped = None
    for d, ndim in tensor_dtypes:
        if ndim > 0:
            dims = d if dims is None else promote_types(dims, d)
        else:
            zero = d if zero is None else promote_types(zero, d)
    for s in scalars:
        d = scalar_dtype(s)
        wrapped = d if wrapped is None else (d if _category(d) > _category(wrapped) else wrapped)
    result = None
    for group in (dims, zero, wrapped):
        if group is None:
            continue
        if result is None or _category(group) > _category(result):
            result = group  # a weaker group only counts if its category is higher
    assert result is not None
    return result


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch.promote_types: a float beats any integer as is (float32 + int64 -> float32,
    where numpy says float64); within a category, the wider type."""
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def short_name(d: np.dtype) -> str:
    """Compact name used in IR text: f32, i64, bool."""
    return {"f": "f", "i": "i", "u": "u", "b": "bool"}[d.kind] + (
        "" if d.kind == "b" else str(8 * d.itemsize)
    )
