"""How a tensor's dtype and shape look to users: `tracer.dtype` objects and `tracer.Size`.

Internally (AVals, op params, kernels) dtypes are numpy dtypes and shapes plain tuples.
Users see what PyTorch shows: `x.dtype` is `tracer.float32`, one object per dtype, and
`x.shape` is `tracer.Size([2, 3])`. Both still work where numpy takes a dtype or a shape:
a `tracer.dtype` has numpy's `.dtype` attribute (numpy reads it to convert any object to
a dtype), equals and hashes as its numpy dtype, and a `Size` is a tuple.

`numpy_dtype(d)` and `plain(value)` turn them back into numpy dtypes and tuples at the
boundary (GraphBuilder.emit for op params, AVal construction).
"""

from __future__ import annotations

import operator
from typing import Any, NoReturn

import numpy as np

from compiler.errors import DTypeError

__all__ = ["DType", "Size", "numpy_dtype", "plain", "public_dtype"]

_SIGNED_KINDS = "if"


class DType:
    """A tensor's element type, as `torch.dtype`: `tracer.float32`, `tracer.int64`, ...

    One object per dtype (`x.dtype is tracer.float32`). It prints as `tracer.float32`,
    has torch.dtype's `itemsize`, `is_floating_point`, `is_complex`, `is_signed`,
    `to_real()`, and works wherever numpy takes a dtype (`np.zeros(3, x.dtype)`,
    `a.astype(x.dtype)`): numpy reads its `.dtype`. It equals (and hashes as) its numpy
    dtype, so `x.dtype == np.float32` holds and dict lookups by either key agree; numpy
    dtype attributes (`kind`, `name`, `char`, `type`, ...) are there too.
    """

    __slots__ = (
        "dtype",
        "kind",
        "name",
        "char",
        "type",
        "str",
        "itemsize",
        "is_floating_point",
        "is_complex",
        "is_signed",
        "_hash",
    )

    def __new__(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("cannot create 'tracer.dtype' instances; use tracer.float32, ...")

    @classmethod
    def _make(cls, d: np.dtype) -> DType:
        self = object.__new__(cls)
        s = object.__setattr__
        s(self, "dtype", d)
        for attr in ("kind", "name", "char", "type", "str", "itemsize"):
            s(self, attr, getattr(d, attr))
        s(self, "is_floating_point", d.kind == "f")
        s(self, "is_complex", d.kind == "c")
        s(self, "is_signed", d.kind in _SIGNED_KINDS)
        s(self, "_hash", hash(d))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute {name!r} of 'tracer.dtype' objects is not writable")

    def __repr__(self) -> str:
        return f"tracer.{self.name}"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if other is None or isinstance(other, DType):  # numpy says dtype('float64') == None
            return False
        try:
            return bool(self.dtype == other)
        except (TypeError, ValueError):
            return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (public_dtype, (self.name,))

    def __copy__(self) -> DType:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> DType:
        return self

    def to_real(self) -> DType:
        """This dtype (every dtype of this library is real)."""
        return self

    def to_complex(self) -> NoReturn:
        raise DTypeError(
            f"{self}.to_complex(): complex dtypes are not supported by this library "
            "(tensors hold bool, integer or floating point numbers)"
        )

    def __getattr__(self, name: str) -> Any:
        # the rest of numpy's dtype attributes (byteorder, isnative, num, ...)
        if not name.startswith("_"):
            try:
                return getattr(object.__getattribute__(self, "dtype"), name)
            except AttributeError:
                pass
        raise AttributeError(f"'tracer.dtype' object has no attribute {name!r}")


DType.__name__ = DType.__qualname__ = "dtype"
DType.__module__ = "tracer"

_PUBLIC: dict[np.dtype, DType] = {}


def public_dtype(d: Any) -> DType:
    """The `tracer.dtype` object of a numpy dtype (or of a dtype name)."""
    try:
        return _PUBLIC[d]
    except (KeyError, TypeError):
        nd = np.dtype(d)
        p = _PUBLIC.get(nd)
        if p is None:
            p = _PUBLIC[nd] = DType._make(nd)
        return p


def numpy_dtype(d: Any) -> Any:
    """`d` with a `tracer.dtype` replaced by its numpy dtype (anything else unchanged)."""
    return d.dtype if type(d) is DType else d


class Size(tuple):
    """A tensor's shape, as `torch.Size`: a tuple of ints that prints `tracer.Size([2, 3])`.

    Slicing, `+` and `*` give a Size; `numel()` is the product of the sizes. Raises
    TypeError when built from anything but ints (or one-element integer tensors).
    """

    __slots__ = ()

    def __new__(cls, sizes: Any = ()) -> Size:
        items = []
        for i, s in enumerate(sizes):
            try:
                if isinstance(s, (float, complex)):
                    raise TypeError
                items.append(operator.index(s))
            except TypeError:
                raise TypeError(
                    f"tracer.Size() takes an iterable of 'int' (item {i} is '{type(s).__name__}')"
                ) from None
        return tuple.__new__(cls, items)

    def __repr__(self) -> str:
        return f"tracer.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for `Size([])`)."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, key: Any) -> Any:
        item = tuple.__getitem__(self, key)
        return tuple.__new__(Size, item) if isinstance(key, slice) else item

    def __add__(self, other: Any) -> Size:
        if not isinstance(other, tuple):
            raise TypeError(
                f"can only concatenate tuple (not {type(other).__name__}) to tracer.Size"
            )
        return tuple.__new__(Size, tuple.__add__(self, other))

    def __radd__(self, other: Any) -> Size:
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(other, self))

    def __mul__(self, n: Any) -> Size:
        return tuple.__new__(Size, tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __reduce__(self) -> tuple[Any, ...]:
        return (Size, (tuple(self),))


Size.__module__ = "tracer"


def as_size(shape: tuple[int, ...]) -> Size:
    """A Size of a tuple of ints known to be valid (no checks: used on every `.shape`)."""
    return tuple.__new__(Size, shape)


def plain(value: Any) -> Any:
    """An op param without the user-facing forms: Size (also inside tuples) becomes a
    tuple, a tracer.dtype its numpy dtype."""
    t = type(value)
    if t is DType:
        return value.dtype
    if t is Size:
        return tuple(value)
    if t is tuple and any(type(v) in (Size, DType, tuple) for v in value):
        return tuple(plain(v) for v in value)
    return value
