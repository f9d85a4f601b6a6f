"""`nn.Parameter` (a Tensor a Module registers as a parameter) and `nn.Buffer`."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes
from tracer.legacy import tensor_type_name
from tracer.tensor import Tensor, set_data

__all__ = ["Buffer", "Parameter", "set_data", "tensor_typename"]


def tensor_typename(t: Tensor) -> str:
    """`tracer.FloatTensor` for a float32 tensor, as `torch.typename` names tensors."""
    return tensor_type_name(t)


def typename(obj: Any) -> str:
    """The name PyTorch's messages give an object: a tensor's type, else the class name."""
    if isinstance(obj, Tensor):
        return tensor_typename(obj)
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module in ("builtins", "") else f"{module}.{cls.__qualname__}"


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter when assigned as an attribute.

    `Parameter(data, requires_grad=True)` shares `data`'s memory (and version counter),
    detached from any graph. Ops on a Parameter give plain Tensors. Raises DTypeError
    for a non-floating `data` with requires_grad=True, TypeError for a non-tensor.
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            data = Tensor(np.empty((0,), dtypes.default_float()))
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter(): data must be a tensor, got {type(data).__name__}; "
                "wrap it with tracer.tensor(...)"
            )
        super().__init__(data._data, _version=data._version)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce__(self) -> Any:
        return (_rebuild_parameter, (self._data, self._requires_grad))

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(Tensor(self._data.copy()), self._requires_grad)
        memo[id(self)] = p
        return p


def _rebuild_parameter(data: np.ndarray, requires_grad: bool) -> Parameter:
    return Parameter(Tensor(data), requires_grad)


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute
    (`self.running_mean = nn.Buffer(tracer.zeros(3), persistent=True)`).

    It shares `data`'s memory and version counter, detached from any graph.
    """

    __slots__ = ("persistent",)

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True) -> None:
        if data is None:
            data = Tensor(np.empty((0,), dtypes.default_float()))
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Buffer(): data must be a tensor, got {type(data).__name__}; "
                "wrap it with tracer.tensor(...)"
            )
        super().__init__(data._data, _version=data._version)
        if data._requires_grad:
            self._requires_grad = True
        self.persistent = bool(persistent)

    def __deepcopy__(self, memo: dict[int, Any]) -> Buffer:
        if id(self) in memo:
            return memo[id(self)]
        b = Buffer(Tensor(self._data.copy(), self._requires_grad), persistent=self.persistent)
        memo[id(self)] = b
        return b
