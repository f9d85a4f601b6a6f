"""A tensor's memory as PyTorch reports it (`is_contiguous`, `contiguous`, `stride`,
`storage_offset`, `element_size`, `nbytes`, `itemsize`, `data_ptr`), and the CPU methods
that run a Python function on each element in place (`apply_`, `map_`).

A tensor's memory is its numpy array's: strides are numpy's divided by the element
size. numpy may give a dimension of size 1 another stride than PyTorch would; such a
stride never changes which element is addressed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from compiler import operand
from compiler.args import normalize_axis
from compiler.errors import AutogradError, ShapeError, TraceError
from tracer._quiet import quiet
from tracer.tensor import Tensor

__all__: list[str] = []


def is_contiguous(self: Tensor, memory_format: Any = None) -> bool:
    """Whether the elements lie in memory in row-major order without gaps."""
    return bool(self._data.flags.c_contiguous)


def contiguous(self: Tensor, memory_format: Any = None) -> Tensor:
    """This tensor if it is contiguous, else a row-major copy (grad_fn CloneBackward0)."""
    if self._data.flags.c_contiguous:
        return self
    out = self.clone()
    if not out._data.flags.c_contiguous:  # clone keeps the layout (numpy's order='K')
        out._data = np.ascontiguousarray(out._data)
    return out


def stride(self: Tensor, dim: int | None = None) -> Any:
    """The step in elements between neighbours along each dim (a tuple), or along `dim`."""
    size = self._data.itemsize
    strides = tuple(s // size for s in self._data.strides)
    if dim is None:
        return strides
    if not strides:
        raise IndexError(f"stride: dim {dim} given, but a 0-d tensor has no dimensions")
    return strides[normalize_axis(dim, len(strides), "stride")]


def _address(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])


def storage_offset(self: Tensor) -> int:
    """Where this tensor's first element lies in the memory of the tensor it views, in
    elements (0 for a tensor that owns its memory)."""
    base = self._base
    if base is None:
        return 0
    delta = _address(self._data) - _address(base._data)
    size = self._data.itemsize
    if (
        base._data.dtype != self._data.dtype
        or delta % size
        or not 0 <= delta < max(base._data.nbytes, 1)
    ):
        return 0  # `.data` was reassigned: the view no longer lies in the base's memory
    return delta // size + storage_offset(base)


def element_size(self: Tensor) -> int:
    """The size of one element in bytes (4 for float32)."""
    return self._data.itemsize


def data_ptr(self: Tensor) -> int:
    """The address of the first element."""
    return _address(self._data)


def _check_writable(self: Tensor, name: str) -> None:
    if operand.tracing.builder is not None:
        raise TraceError(
            f"{name}: runs a Python function on a concrete tensor's elements in place inside "
            "a traced function, which would happen only once, while tracing; call it outside"
        )
    if self.requires_grad:
        raise AutogradError(
            f"Can't call {name}() on Variable that requires grad. Use "
            f"var.detach().{name}() instead."
        )


def apply_(self: Tensor, callable: Callable[[Any], Any]) -> Tensor:  # noqa: A002
    """Replace each element x by `callable(x)` (a Python function of a number), in place.
    Slow: it calls Python once per element. Raises RuntimeError on a tensor that requires
    grad."""
    _check_writable(self, "apply_")
    values = [callable(x) for x in self._data.reshape(-1).tolist()]
    with quiet():
        new = np.asarray(values).astype(self._data.dtype).reshape(self._data.shape)
    self._data[...] = new
    self._version[0] += 1
    return self


def map_(self: Tensor, tensor: Tensor, callable: Callable[[Any, Any], Any]) -> Tensor:  # noqa: A002
    """Replace each element x by `callable(x, y)`, y the matching element of `tensor`
    (broadcast to this tensor's shape), in place. Raises RuntimeError on a tensor that
    requires grad, ShapeError when `tensor` does not broadcast."""
    _check_writable(self, "map_")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"map_(): argument 'tensor' must be Tensor, not {type(tensor).__name__}")
    try:
        other = np.broadcast_to(tensor._data, self._data.shape)
    except ValueError:
        raise ShapeError(
            f"map_: a tensor of shape {tuple(tensor.shape)} does not broadcast to the shape "
            f"{tuple(self.shape)} of the tensor updated in place"
        ) from None
    pairs = zip(self._data.reshape(-1).tolist(), other.reshape(-1).tolist())
    values = [callable(x, y) for x, y in pairs]
    with quiet():
        new = np.asarray(values).astype(self._data.dtype).reshape(self._data.shape)
    self._data[...] = new
    self._version[0] += 1
    return self


Tensor.is_contiguous = is_contiguous  # type: ignore[attr-defined]
Tensor.contiguous = contiguous  # type: ignore[attr-defined]
Tensor.stride = stride  # type: ignore[attr-defined]
Tensor.storage_offset = storage_offset  # type: ignore[attr-defined]
Tensor.element_size = element_size  # type: ignore[attr-defined]
Tensor.data_ptr = data_ptr  # type: ignore[attr-defined]
Tensor.nbytes = property(lambda self: self._data.nbytes, doc="The size of the elements in bytes.")  # type: ignore[attr-defined]
Tensor.itemsize = property(  # type: ignore[attr-defined]
    lambda self: self._data.itemsize, doc="The size of one element in bytes."
)
Tensor.apply_ = apply_  # type: ignore[attr-defined]
Tensor.map_ = map_  # type: ignore[attr-defined]
