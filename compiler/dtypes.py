"""Dtypes and PyTorch's type-promotion rules, over numpy dtypes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from compiler.errors import DTypeError, ShapeError
from compiler.meta import DType, public_dtype

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
for _d in SUPPORTED:  # the tracer.dtype objects users see (x.dtype), made once
    public_dtype(_d)

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
    if type(dtype) is DType:
        return dtype.dtype
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


def category(d: np.dtype) -> int:
    """bool < integer < floating point: PyTorch promotes across categories upwards."""
    return 2 if d.kind == "f" else 1 if d.kind in "iu" else 0


def is_scalar(x: object) -> bool:
    """A Python (or numpy) number: it promotes like PyTorch's wrapped scalars."""
    return isinstance(x, (int, float, bool, np.number, np.bool_))


def is_weak(x: object) -> bool:
    """A Python number, or a traced value standing for one (a weakly typed 0-d value:
    a Python float passed to a traced function). Weak values take the dtype of the
    tensors they meet, as Python numbers do."""
    return is_scalar(x) or getattr(x, "weak", False)


def scalar_dtype(value: object) -> np.dtype:
    """The dtype a Python scalar takes when it stands alone."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return DEFAULT_INT
    if isinstance(value, (float, np.floating)):
        return default_float()
    raise DTypeError(f"expected a number, got {type(value).__name__}")


_WEAK_DTYPE = {0: bool_, 1: int64, 2: float64}


def weak_dtype(value: object) -> np.dtype:
    """The dtype that holds a Python number exactly (a weak value's own dtype)."""
    return _WEAK_DTYPE[category(scalar_dtype(value))]


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
        d = scalar_dtype(s) if is_scalar(s) else _default_of(s)
        wrapped = d if wrapped is None else (d if category(d) > category(wrapped) else wrapped)
    result = None
    for group in (dims, zero, wrapped):
        if group is None:
            continue
        if result is None or category(group) > category(result):
            result = group  # a weaker group only counts if its category is higher
    assert result is not None
    return result


def _weak_of(x: object) -> np.dtype:
    return scalar_dtype(x) if is_scalar(x) else x.dtype  # type: ignore[attr-defined]


def _default_of(weak: object) -> np.dtype:
    """The dtype a weak value takes against tensors of a lower category (the default
    dtype of its category, as a Python number of that kind would)."""
    c = category(weak.dtype)  # type: ignore[attr-defined]
    return default_float() if c == 2 else DEFAULT_INT if c == 1 else bool_


def common_dtype(xs: Sequence[object]) -> tuple[np.dtype, bool]:
    """The dtype operands `xs` (arrays, AVals, Python numbers, weak values) compute
    in under PyTorch's promotion, and whether the result is weak (every operand is).

    Operands that are all weak compute in the widest weak dtype of their category
    (Python arithmetic: float64, int64, bool) and stay weak."""
    if all(is_weak(x) for x in xs):
        c = max(category(_weak_of(x)) for x in xs)
        return _WEAK_DTYPE[c], any(not is_scalar(x) for x in xs)
    first = None
    for x in xs:  # the common case: one dtype, and weak operands not above its category
        if is_weak(x):
            continue
        if first is None:
            first = x.dtype
        elif x.dtype != first:
            break
    else:
        c = category(first)
        if all(category(_weak_of(x)) <= c for x in xs if is_weak(x)):
            return first, False
    tensors = [(x.dtype, len(x.shape)) for x in xs if not is_weak(x)]
    return result_type(tensors, [x for x in xs if is_weak(x)]), False


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch.promote_types: a float beats any integer as is (float32 + int64 -> float32,
    where numpy says float64); within a category, the wider type."""
    ca, cb = category(a), category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


# ---- elementwise typing rules ---------------------------------------------------------
# Each takes the op's name, its operands (AVals, arrays or Python numbers) and params,
# and returns (the dtype each operand is converted to, the result dtype). The one rule
# serves eager tensors (`cast_operands`), the graph builder (explicit converts) and
# the type checker.

Typing = Callable[..., tuple[tuple[np.dtype, ...], np.dtype]]


def same(op: str, xs: Sequence[object], **params: object) -> tuple[tuple[np.dtype, ...], np.dtype]:
    """Promote the operands; the result has their common dtype (add, maximum)."""
    d, _ = common_dtype(xs)
    return (d,) * len(xs), d


def floating(
    op: str, xs: Sequence[object], **params: object
) -> tuple[tuple[np.dtype, ...], np.dtype]:
    """Promote, then to the default float if integral (exp, div, sigmoid)."""
    d, weak = common_dtype(xs)
    if not is_float(d):
        d = float64 if weak else default_float()
    return (d,) * len(xs), d


def compare(
    op: str, xs: Sequence[object], **params: object
) -> tuple[tuple[np.dtype, ...], np.dtype]:
    """Promote to compare; the result is bool (lt, eq)."""
    d, _ = common_dtype(xs)
    return (d,) * len(xs), bool_


def logical(
    op: str, xs: Sequence[object], **params: object
) -> tuple[tuple[np.dtype, ...], np.dtype]:
    """Bool in, bool out (logical_and)."""
    return (bool_,) * len(xs), bool_


def select(
    op: str, xs: Sequence[object], **params: object
) -> tuple[tuple[np.dtype, ...], np.dtype]:
    """where(cond, x, y): a bool condition, the branches promoted together."""
    cond = xs[0]
    if not is_scalar(cond) and cond.dtype != bool_:  # type: ignore[attr-defined]
        raise DTypeError(
            f"{op}: condition must be a bool tensor, got {cond.dtype} (shape "  # type: ignore[attr-defined]
            f"{tuple(cond.shape)}); compare to make one (x > 0), or convert with .bool()"  # type: ignore[attr-defined]
        )
    d, _ = common_dtype(xs[1:])
    return (bool_, d, d), d


# The typing rules' answers, by what they depend on: the op, its params, the default
# float dtype and, per operand, its dtype and whether it is 0-d (arrays) or its type
# (numbers). Eager mode asks the same question for every op of a loop's every step.
_TYPING_CACHE: dict[tuple[object, ...], tuple[tuple[np.dtype, ...], np.dtype]] = {}
_TYPING_CACHE_SIZE = 4096
_NUMBER_TYPES = frozenset((int, float, bool))


def _typing_key(op: str, values: Sequence[object], params: dict) -> tuple[object, ...] | None:
    """The cache key of a typing question, or None if it cannot be cached."""
    key: list[object] = [op, _default_float[0]]
    for v in values:
        if type(v) is np.ndarray:
            key.append(v.dtype)
            key.append(v.ndim == 0)
        elif type(v) in _NUMBER_TYPES or isinstance(v, (np.number, np.bool_)):
            key.append(type(v))
        else:
            return None
    for name, value in params.items():  # 2 and 2.0 (True and 1) are equal, not alike
        key.append(name)
        key.append(type(value))
        key.append(value)
    return tuple(key)


def cast_operands(
    typing: Typing, op: str, values: Sequence[object], params: dict
) -> tuple[list[object], np.dtype]:
    """Eager mode: arrays and Python numbers converted to the dtypes `typing` gives
    (numbers become numpy scalars); also returns the result dtype."""
    key = _typing_key(op, values, params)
    try:
        found = _TYPING_CACHE.get(key) if key is not None else None
    except TypeError:  # a param that cannot be hashed (a list)
        key = found = None
    if found is None:
        found = typing(op, values, **params)
        if key is not None:
            if len(_TYPING_CACHE) >= _TYPING_CACHE_SIZE:  # params that vary (clamp bounds)
                _TYPING_CACHE.clear()
            _TYPING_CACHE[key] = found
    wanted, out = found
    cast: list[object] = []
    for v, d in zip(values, wanted):
        if type(v) is np.ndarray:
            cast.append(v if v.dtype == d else v.astype(d))
            continue
        try:
            cast.append(d.type(v))
        except OverflowError:  # int32 tensor + 2**31, as PyTorch refuses
            raise DTypeError(
                f"{op}: the Python number {v} does not fit in {d}, the dtype the op "
                "computes in; convert the tensor first (.long() or .double())"
            ) from None
    return cast, out


def short_name(d: np.dtype) -> str:
    """Compact name used in IR text: f32, i64, bool."""
    return {"f": "f", "i": "i", "u": "u", "b": "bool"}[d.kind] + (
        "" if d.kind == "b" else str(8 * d.itemsize)
    )
