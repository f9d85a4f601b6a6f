"""PyTorch's legacy tensor types: the `tracer.Tensor(...)` constructor, `tracer.FloatTensor`
and its siblings, and `Tensor.type()`.

`Tensor([1, 2])` holds data in the default dtype, `Tensor(2, 3)` is a (zero-filled)
tensor of those sizes, `Tensor()` is empty and `Tensor(t)` an alias of tensor `t`.
`FloatTensor(...)` takes the same arguments and makes float32 tensors (`LongTensor`
int64, ...); `isinstance(t, tracer.FloatTensor)` asks whether `t` is a float32 tensor,
and what they construct is a `tracer.Tensor`, as in PyTorch.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.dispatch import apply
from compiler.meta import Size
from tracer._data import array_from
from tracer.devices import as_cpu
from tracer.tensor import _LEGACY_INIT, _NO_DATA, Tensor

__all__ = [
    "BoolTensor",
    "ByteTensor",
    "CharTensor",
    "DoubleTensor",
    "FloatTensor",
    "HalfTensor",
    "IntTensor",
    "LongTensor",
    "ShortTensor",
    "tensor_type_name",
]

# torch.typename of a tensor: `torch.FloatTensor`, ... (here `tracer.FloatTensor`).
TYPE_NAMES = {
    "float16": "HalfTensor",
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "int8": "CharTensor",
    "int16": "ShortTensor",
    "int32": "IntTensor",
    "int64": "LongTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}


def tensor_type_name(t: Tensor) -> str:
    """`tracer.FloatTensor` for a float32 tensor, as `Tensor.type()` and `torch.typename`
    name tensors."""
    return "tracer." + TYPE_NAMES[t._data.dtype.name]


def _legacy_array(given: tuple[Any, ...], dtype: np.dtype | None, name: str) -> Any:
    """The array (or, for an alias, the tensor) of a legacy constructor call with the
    positional arguments `given`; `dtype` None means the default dtype (`tracer.Tensor`)."""
    if len(given) == 1 and isinstance(given[0], Tensor):
        return given[0]
    target = dtypes.default_float() if dtype is None else dtype
    if len(given) == 1 and isinstance(given[0], np.ndarray):  # FloatTensor(array) converts
        return array_from(given[0], target, name)
    if len(given) == 1 and isinstance(given[0], (list, tuple)) and not isinstance(given[0], Size):
        return array_from(given[0], target, name)
    sizes = given[0] if len(given) == 1 and isinstance(given[0], tuple) else given
    for i, s in enumerate(sizes):
        if isinstance(s, (bool, float, complex, np.floating)) or not hasattr(s, "__index__"):
            if len(given) == 1:
                raise TypeError(
                    f"{name}(): data must be a sequence (got {type(s).__name__}); pass a list "
                    "of numbers, or sizes as ints"
                )
            raise TypeError(
                f"{name}(): argument 'size' failed to unpack the object at pos {i + 1}: "
                f"sizes must be ints, got {type(s).__name__}"
            )
    shape = tuple(operator.index(s) for s in sizes)
    negative = [s for s in shape if s < 0]
    if negative:
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {negative[0]}: {list(shape)}"
        )
    return np.zeros(shape, target)  # zero-filled where PyTorch leaves memory uninitialised


def _legacy(given: tuple[Any, ...], dtype: np.dtype | None, name: str, device: Any) -> Any:
    if device is not None:
        as_cpu(device, name)
    if any(isinstance(g, bool) for g in given[1:]):
        raise TypeError(
            f"{name}() takes data or sizes, not requires_grad; use "
            "tracer.tensor(data, requires_grad=True)"
        )
    made = _legacy_array(given, dtype, name)
    if isinstance(made, Tensor) and dtype is not None and made._data.dtype != dtype:
        raise TypeError(
            f"{name}(): expected a tensor of dtype {dtype}, got one of dtype "
            f"{made._data.dtype}; convert it first (t.to(tracer.{dtype.name}))"
        )
    return made


def init_legacy(self: Tensor, given: tuple[Any, ...], device: Any) -> None:
    """Make `self` what `tracer.Tensor(*given, device=device)` is in PyTorch (called by
    Tensor.__init__ when its first argument is not a numpy array)."""
    # the positional arguments the user gave: trailing defaults of Tensor.__init__ dropped
    args = list(given)
    defaults = (_NO_DATA, False, None, None, None, None)
    while args and len(args) <= len(defaults) and args[-1] is defaults[len(args) - 1]:
        args.pop()
    name = "tracer.Tensor" if type(self) is Tensor else type(self).__name__
    if args:
        made = _legacy(tuple(args), None, name, device)
    else:
        made = np.zeros((0,), dtypes.default_float())
    if not isinstance(made, Tensor):
        Tensor.__init__(self, made)
        return
    alias = apply("reshape", made, shape=tuple(made._data.shape), name="AliasBackward0")
    Tensor.__init__(self, alias._data, alias._requires_grad, alias._grad_fn, alias._output_nr)
    self._version, self._base = alias._version, alias._base
    self._graph_at, self._view_of = alias._graph_at, alias._view_of


_LEGACY_INIT.append(init_legacy)


class _LegacyType(type):
    """The metaclass of FloatTensor & co: calling one builds a Tensor of its dtype;
    `isinstance(t, FloatTensor)` asks whether `t` is a float32 tensor."""

    dtype: np.dtype

    def __call__(cls, *args: Any, device: Any = None) -> Tensor:  # type: ignore[override]
        made = _legacy(args, cls.dtype, cls.__name__, device) if args else np.zeros((0,), cls.dtype)
        return Tensor(made)  # of an array: wraps it; of a tensor: an alias

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj._data.dtype == cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'tracer.{cls.__name__}'>"


def _legacy_type(name: str, dtype: np.dtype) -> type:
    doc = (
        f"PyTorch's legacy constructor of {dtype} tensors: `{name}([1, 2])` (data), "
        f"`{name}(2, 3)` (sizes, zero-filled), `{name}()` (empty), `{name}(t)` (an alias of "
        f"a {dtype} tensor t). It returns a tracer.Tensor; `isinstance(t, {name})` asks "
        f"whether t is a {dtype} tensor."
    )
    return _LegacyType(name, (), {"dtype": dtype, "__doc__": doc, "__module__": "tracer"})


FloatTensor = _legacy_type("FloatTensor", dtypes.float32)
DoubleTensor = _legacy_type("DoubleTensor", dtypes.float64)
HalfTensor = _legacy_type("HalfTensor", dtypes.float16)
LongTensor = _legacy_type("LongTensor", dtypes.int64)
IntTensor = _legacy_type("IntTensor", dtypes.int32)
ShortTensor = _legacy_type("ShortTensor", dtypes.int16)
CharTensor = _legacy_type("CharTensor", dtypes.int8)
ByteTensor = _legacy_type("ByteTensor", dtypes.uint8)
BoolTensor = _legacy_type("BoolTensor", dtypes.bool_)

_BY_NAME = {
    cls.__name__: cls
    for cls in (
        FloatTensor,
        DoubleTensor,
        HalfTensor,
        LongTensor,
        IntTensor,
        ShortTensor,
        CharTensor,
        ByteTensor,
        BoolTensor,
    )
}


def _type(self: Tensor, dtype: Any = None, non_blocking: bool = False, **kwargs: Any) -> Any:
    """`t.type()`: the tensor's type name ('tracer.FloatTensor'). `t.type(dtype)`: the
    tensor converted to `dtype` (a dtype, a legacy type such as tracer.DoubleTensor, or
    its name 'tracer.DoubleTensor' / 'torch.DoubleTensor'); itself when it already has it.
    Raises ValueError for a name that is not a tensor type."""
    unknown = set(kwargs) - {"async"}
    if unknown:
        raise TypeError(f"type() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    if dtype is None:
        return tensor_type_name(self)
    if isinstance(dtype, str):
        prefix, _, name = dtype.rpartition(".")
        cls = _BY_NAME.get(name) if prefix in ("tracer", "torch") else None
        if cls is None:
            raise ValueError(f"invalid type: {dtype!r}")
        dtype = cls.dtype
    elif isinstance(dtype, _LegacyType):
        dtype = dtype.dtype
    elif dtype is Tensor:
        return self
    return self.to(dtype)


Tensor.type = _type  # type: ignore[assignment,method-assign]
