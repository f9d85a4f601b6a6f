"""Dtypes and sizes as PyTorch scripts use them: `tracer.float32` and its aliases,
`tracer.dtype`, `tracer.Size`, `finfo`/`iinfo`, and the dtype predicates and promotion
functions (`is_floating_point`, `promote_types`, `result_type`, `can_cast`)."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.meta import DType, Size, public_dtype
from compiler.operand import Operand
from tracer.tensor import Tensor

__all__ = [
    "Size",
    "UNSUPPORTED_DTYPES",
    "bool",
    "can_cast",
    "double",
    "dtype",
    "finfo",
    "float",
    "float16",
    "float32",
    "float64",
    "half",
    "iinfo",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_complex",
    "is_floating_point",
    "is_nonzero",
    "long",
    "promote_types",
    "result_type",
    "short",
    "uint8",
]

dtype = DType

float16 = half = public_dtype(dtypes.float16)
float32 = float = public_dtype(dtypes.float32)  # noqa: A001
float64 = double = public_dtype(dtypes.float64)
int8 = public_dtype(dtypes.int8)
int16 = short = public_dtype(dtypes.int16)
int32 = int = public_dtype(dtypes.int32)  # noqa: A001
int64 = long = public_dtype(dtypes.int64)
uint8 = public_dtype(dtypes.uint8)
bool = public_dtype(dtypes.bool_)  # noqa: A001

# PyTorch dtypes this library does not have (its tensors hold bool, integer or floating
# point numbers of the widths above): `tracer.<name>` says so.
UNSUPPORTED_DTYPES = (
    "bfloat16",
    "complex32",
    "complex64",
    "complex128",
    "chalf",
    "cfloat",
    "cdouble",
    "uint16",
    "uint32",
    "uint64",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
    "qint8",
    "quint8",
    "qint32",
    "quint4x2",
)


def _public(d: Any, fn: str) -> DType:
    if d is None:
        return public_dtype(dtypes.default_float())
    return public_dtype(dtypes.canonical(d))


def _format(value: builtins.float | builtins.int) -> str:
    return f"{value:g}"


class finfo:
    """Machine limits of a floating point dtype, as `torch.finfo`: `bits`, `eps`, `max`,
    `min`, `tiny` (= `smallest_normal`), `resolution` (10**-decimal digits) and `dtype`
    (its name). `finfo()` describes the default dtype. Raises TypeError for a dtype that
    is not floating point."""

    __slots__ = ("bits", "dtype", "eps", "max", "min", "resolution", "smallest_normal", "tiny")

    def __init__(self, type: Any = None) -> None:  # noqa: A002  (PyTorch's name)
        d = _public(type, "finfo")
        if not d.is_floating_point:
            raise TypeError(
                f"tracer.finfo() requires a floating point input type, got {d}. Use "
                "tracer.iinfo to handle integer types"
            )
        info = np.finfo(d.dtype)
        s = object.__setattr__
        s(self, "bits", builtins.int(info.bits))
        s(self, "dtype", d.name)
        s(self, "eps", builtins.float(info.eps))
        s(self, "max", builtins.float(info.max))
        s(self, "min", builtins.float(info.min))
        s(self, "tiny", builtins.float(info.smallest_normal))
        s(self, "smallest_normal", builtins.float(info.smallest_normal))
        s(self, "resolution", 10.0 ** -builtins.int(info.precision))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute {name!r} of 'tracer.finfo' objects is not writable")

    def __eq__(self, other: object) -> builtins.bool:
        return isinstance(other, finfo) and other.dtype == self.dtype

    __hash__ = None  # type: ignore[assignment]  (unhashable, as torch.finfo)

    def __repr__(self) -> str:
        f = _format
        return (
            f"finfo(resolution={f(self.resolution)}, min={f(self.min)}, max={f(self.max)}, "
            f"eps={f(self.eps)}, smallest_normal={f(self.smallest_normal)}, "
            f"tiny={f(self.tiny)}, dtype={self.dtype})"
        )


class iinfo:
    """Machine limits of an integer dtype, as `torch.iinfo`: `bits`, `max`, `min` (ints)
    and `dtype` (its name). Raises TypeError for a floating point dtype or bool."""

    __slots__ = ("bits", "dtype", "max", "min")

    def __init__(self, type: Any) -> None:  # noqa: A002  (PyTorch's name)
        d = _public(type, "iinfo")
        if d.kind == "b":
            raise TypeError("tracer.bool is not supported by tracer.iinfo")
        if d.kind not in "iu":
            raise TypeError(
                f"tracer.iinfo() requires an integer input type, got {d}. Use tracer.finfo "
                "to handle floating point types"
            )
        info = np.iinfo(d.dtype)
        s = object.__setattr__
        s(self, "bits", builtins.int(info.bits))
        s(self, "dtype", d.name)
        s(self, "max", builtins.int(info.max))
        s(self, "min", builtins.int(info.min))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute {name!r} of 'tracer.iinfo' objects is not writable")

    def __eq__(self, other: object) -> builtins.bool:
        return isinstance(other, iinfo) and other.dtype == self.dtype

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"iinfo(min={_format(self.min)}, max={_format(self.max)}, dtype={self.dtype})"


finfo.__module__ = iinfo.__module__ = "tracer"


def _tensor(input: Any, fn: str) -> Operand:
    if not isinstance(input, Operand):
        raise TypeError(
            f"{fn}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    return input


def is_floating_point(input: Any) -> builtins.bool:
    """Whether the tensor's dtype is a floating point type. Raises TypeError for a
    non-tensor."""
    return _tensor(input, "is_floating_point").dtype.kind == "f"


def is_complex(input: Any) -> builtins.bool:
    """Whether the tensor's dtype is complex (never, here). Raises TypeError for a
    non-tensor."""
    _tensor(input, "is_complex")
    return False


def is_nonzero(input: Any) -> builtins.bool:
    """Whether a one-element tensor is not zero (`bool(input)`); more or fewer elements
    raise RuntimeError, as `bool()` does."""
    return builtins.bool(_tensor(input, "is_nonzero"))


def promote_types(type1: Any, type2: Any) -> DType:
    """The dtype PyTorch computes in when tensors of the two dtypes meet (float32 and
    int64 give float32, where numpy says float64)."""
    return public_dtype(dtypes.promote_types(dtypes.canonical(type1), dtypes.canonical(type2)))


def result_type(tensor1: Any, tensor2: Any) -> DType:
    """The dtype of an arithmetic op on the two operands (tensors or Python numbers),
    under PyTorch's promotion: dimensioned tensors over 0-d tensors over numbers, unless
    the weaker one is of a higher category (bool < integer < float)."""
    ops = (tensor1, tensor2)
    for x in ops:
        if not isinstance(x, Operand) and not dtypes.is_scalar(x):
            raise TypeError(
                f"result_type(): operands must be tensors or numbers, got {type(x).__name__}"
            )
    tensors = [(dtypes.canonical(x.dtype), x.ndim) for x in ops if isinstance(x, Operand)]
    numbers = [x for x in ops if not isinstance(x, Operand)]
    if not tensors:  # two numbers: the default dtype of the higher category
        c = max(dtypes.category(dtypes.scalar_dtype(x)) for x in numbers)
        return public_dtype(
            dtypes.default_float() if c == 2 else dtypes.DEFAULT_INT if c == 1 else dtypes.bool_
        )
    return public_dtype(dtypes.result_type(tensors, numbers))


def can_cast(from_: Any, to: Any) -> builtins.bool:
    """Whether PyTorch's casting rules allow an in-place op to write `from_` values into
    a `to` tensor: not to a lower category (float -> integer, integer -> bool)."""
    return dtypes.category(dtypes.canonical(to)) >= dtypes.category(dtypes.canonical(from_))


def _method_is_floating_point(self: Tensor) -> builtins.bool:
    """Whether this tensor's dtype is a floating point type."""
    return self._data.dtype.kind == "f"


def _method_is_complex(self: Tensor) -> builtins.bool:
    """Whether this tensor's dtype is complex (never, here)."""
    return False


def _method_is_signed(self: Tensor) -> builtins.bool:
    """Whether this tensor's dtype holds negative numbers (not bool, not uint8)."""
    return self._data.dtype.kind in "if"


Tensor.is_floating_point = _method_is_floating_point  # type: ignore[attr-defined]
Tensor.is_complex = _method_is_complex  # type: ignore[attr-defined]
Tensor.is_signed = _method_is_signed  # type: ignore[attr-defined]
