"""Devices as CPU-only PyTorch scripts use them: `tracer.device('cpu')`, `device=` arguments,
`.to(device)`, and a clear error for any other device.

This library computes on the CPU only. A device object can name any PyTorch device type (so
`tracer.device('cuda')` can be built and printed, as in PyTorch), but putting a tensor there
raises `DeviceError`, whose message shows the device-agnostic idiom.
"""

from __future__ import annotations

import operator
import re
from typing import Any

from compiler.errors import TracerError

# PyTorch's device types, in the order its error message lists them
_TYPES = (
    "cpu",
    "cuda",
    "ipu",
    "xpu",
    "mkldnn",
    "opengl",
    "opencl",
    "ideep",
    "hip",
    "ve",
    "fpga",
    "maia",
    "xla",
    "lazy",
    "vulkan",
    "mps",
    "meta",
    "hpu",
    "mtia",
    "privateuseone",
)
_STRING = re.compile(r"^([a-z_]+)(?::(0|[1-9][0-9]*))?$")

_AGNOSTIC = (
    "device = 'cuda' if tracer.cuda.is_available() else 'cpu'  (which picks 'cpu' here), "
    "then x.to(device) and tracer.zeros(..., device=device)"
)


class DeviceError(TracerError, RuntimeError, AssertionError):
    """A tensor was asked to live on a device other than the CPU.

    It is a RuntimeError and an AssertionError, so `except` clauses written for PyTorch's
    errors (AssertionError for CUDA, RuntimeError for MPS) still catch it."""


class device:  # noqa: N801  (PyTorch's name)
    """A device: `device('cpu')`, `device('cpu', 0)`, `device('cuda:1')`, `device(other)`.

    Prints as PyTorch's (`device(type='cpu')`); `str()` gives `'cpu'` / `'cuda:1'`. As in
    PyTorch, a device equals only another device (`device('cpu') == 'cpu'` is False; compare
    `.type` with a string). Raises ValueError for a string that names no PyTorch device type.
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type: Any = None, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device(): an index cannot be given with a device object")
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, str):
            name, parsed = _parse(type)
            if parsed is not None and index is not None:
                raise ValueError(
                    f"device(): type {type!r} already holds an index; pass the index once"
                )
            self._type = name
            self._index = parsed if index is None else _index(index)
            return
        if isinstance(type, bool) or not hasattr(type, "__index__"):
            raise TypeError(
                f"device(): expected a device string such as 'cpu' or a device, got "
                f"{type!r} ({type.__class__.__name__})"
            )
        raise DeviceError(
            f"device({operator.index(type)}): a bare index names an accelerator device, and "
            f"this library runs on the CPU only. Write device-agnostic code: {_AGNOSTIC}"
        )

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self) -> int | None:
        return self._index

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type={self._type!r})"
        return f"device(type={self._type!r}, index={self._index})"

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return False
        return (self._type, self._index) == (other._type, other._index)

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __reduce__(self) -> Any:
        return (device, (str(self),))


def _index(index: Any) -> int:
    if isinstance(index, bool) or not hasattr(index, "__index__"):
        raise TypeError(f"device(): the index must be an int, got {index!r}")
    index = operator.index(index)
    if index < 0:
        raise ValueError(f"device(): the index must be non-negative, got {index}")
    return index


def _parse(text: str) -> tuple[str, int | None]:
    if not text:
        raise ValueError("device(): the device string must not be empty")
    m = _STRING.match(text)
    if m is None or m.group(1) not in _TYPES:
        if m is None and text.split(":")[0] in _TYPES:
            raise ValueError(f"device(): invalid device string {text!r}")
        raise ValueError(
            f"device(): expected one of {', '.join(_TYPES)} at the start of the device "
            f"string, got {text!r}"
        )
    return m.group(1), None if m.group(2) is None else int(m.group(2))


CPU = device("cpu")


def as_cpu(dev: Any, op: str) -> device:
    """Check that `dev` (a device, a string, or None for the default) is the CPU and return
    the CPU device; raise DeviceError naming `op` for any other device."""
    if dev is None:
        return CPU
    d = dev if isinstance(dev, device) else device(dev)
    if d.type != "cpu":
        raise DeviceError(
            f"{op}: device {str(d)!r} is not available: this library runs on the CPU only. "
            f"Write device-agnostic code: {_AGNOSTIC}"
        )
    return CPU


def is_device_like(value: Any) -> bool:
    """A device object or a device string ('cpu', 'cuda:0'): the things `.to()` treats as a
    device rather than a dtype."""
    if isinstance(value, device):
        return True
    if isinstance(value, str):
        try:
            _parse(value)
        except ValueError:
            return False
        return True
    return False


def cuda_unavailable(what: str) -> DeviceError:
    return DeviceError(
        f"{what}: CUDA is not available: this library runs on the CPU only. "
        f"Write device-agnostic code: {_AGNOSTIC}"
    )


def set_default_device(dev: Any) -> None:
    """Accept the CPU (or None) as the default device; any other device raises DeviceError."""
    as_cpu(dev, "set_default_device")


def get_default_device() -> device:
    """The default device: always `device(type='cpu')`."""
    return CPU
