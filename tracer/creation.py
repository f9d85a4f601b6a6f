"""Tensor creation: tensor(), zeros(), arange(), linspace(), ... and the default dtype.

Every function takes PyTorch's arguments: sizes as `zeros(2, 3)`, `zeros((2, 3))`,
`zeros([2, 3])`, `zeros(x.shape)` or `zeros(size=(2, 3))`; `dtype=`, `device=` (the CPU
only: any other device raises DeviceError) and `requires_grad=`. A float result without a
dtype takes the default dtype (`set_default_dtype`, float32 unless changed).
"""

from __future__ import annotations

import math
import operator
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler import dtypes, operand
from compiler.errors import DTypeError, TraceError, TracerWarning
from compiler.meta import DType, public_dtype
from runtime import libm
from tracer._data import array_from
from tracer._floatmath import fma32, fma64
from tracer.devices import as_cpu
from tracer.tensor import Tensor

_MAX_ELEMENTS = sys.maxsize // 8
_NUMBER = (int, float, bool, np.number, np.bool_)


# ---- default dtype ------------------------------------------------------------------
def set_default_dtype(d: Any) -> None:
    """Make `d` (tracer.float32, float64 or float16) the dtype of Python floats and of float
    tensors created without a dtype, as torch.set_default_dtype does. Raises DTypeError for
    a dtype that is not floating point.

    Traced functions read it when they are traced: retrace (or call the function with new
    input shapes) after changing it."""
    d = dtypes.canonical(d)
    if d.kind != "f":
        raise DTypeError(
            f"set_default_dtype: only floating point dtypes can be the default, got {d}"
        )
    dtypes.set_default_float(d)


def get_default_dtype() -> DType:
    """The default float dtype (tracer.float32 unless set_default_dtype changed it)."""
    return public_dtype(dtypes.default_float())


# ---- argument parsing ---------------------------------------------------------------
def _make(data: np.ndarray, requires_grad: bool, device: Any = None, op: str = "") -> Tensor:
    as_cpu(device, op or "tensor")
    t = Tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    builder = operand.tracing.builder
    if builder is not None:  # made inside a traced function: a constant of its code
        builder.made_inside[id(t)] = t
    return t


def parse_size(args: Sequence[Any], op: str, size: Any = None) -> tuple[int, ...]:
    """The shape given as `f(2, 3)`, `f((2, 3))`, `f([2, 3])`, `f(x.shape)` or `f(size=...)`.

    Raises TypeError for sizes that are not ints, ValueError for negative ones."""
    if size is not None:
        if args:
            raise TypeError(f"{op}() got the size both positionally and as size=")
        args = (size,)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for s in args:
        if isinstance(s, (bool, np.bool_)) or not hasattr(s, "__index__"):
            raise TypeError(
                f"{op}(): sizes must be ints, got {s!r} ({type(s).__name__}) in {tuple(args)}"
            )
    shape = tuple(operator.index(s) for s in args)
    if any(s < 0 for s in shape):
        raise ValueError(f"{op}(): negative dimension in size {shape}")
    # numpy's own errors for these are obscure, or wrong (arange(2**63 - 1) was empty)
    if math.prod(shape) > _MAX_ELEMENTS or any(s > _MAX_ELEMENTS for s in shape):
        raise ValueError(f"{op}(): size {shape} is more elements than an array can hold")
    return shape


def _float_dtype(dtype: Any) -> np.dtype:
    return dtypes.default_float() if dtype is None else dtypes.canonical(dtype)


def _like(t: Any, op: str) -> Tensor:
    if not isinstance(t, operand.Operand):
        raise TypeError(f"{op}(): expected a tensor, got {type(t).__name__}")
    return t


def _filled_like(
    input: Any,  # noqa: A002
    value: Any,
    dtype: Any,
    device: Any,
    requires_grad: bool,
    op: str,
) -> Any:
    """`value` in `input`'s shape and dtype (unless `dtype`): a new tensor, or inside a
    trace a `full` equation (a float into an integer dtype is truncated, as in PyTorch)."""
    t = _like(input, op)
    d = _like_dtype(t, dtype)
    if not isinstance(t, Tensor):
        return _traced_like(t, value, d, requires_grad, op)
    return _make(_filled(t.shape, value, d, op), requires_grad, device, op)


def _traced_like(t: Any, value: Any, dtype: np.dtype, requires_grad: bool, op: str) -> Any:
    """`op` on a traced value: a `full` equation of its shape (a constant of the trace)."""
    if requires_grad:
        raise TraceError(
            f"{op}(requires_grad=True) inside a traced function: create parameters outside "
            "it and pass them in"
        )
    return t.full_like(_filled((), value, dtype, op).item(), dtype=dtype)


def _number(value: Any, what: str, op: str) -> int | float:
    """A finite Python number from a number, a numpy scalar or a one-element tensor."""
    if isinstance(value, Tensor):
        if value._data.size != 1:
            raise ValueError(
                f"{op}(): {what} must be a number or a one-element tensor, got a tensor "
                f"of shape {tuple(value.shape)}"
            )
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (int, float)):
        raise TypeError(f"{op}(): {what} must be a number, got {value!r} ({type(value).__name__})")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond float range
        finite = False
    if not finite:
        raise ValueError(f"{op}(): {what} must be finite, got {value}")
    return value


def tensor(
    data: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """A new tensor holding a copy of `data`: nested lists or tuples of numbers, a number, a
    numpy array or scalar (keeping its dtype), or a tensor (copied, with PyTorch's warning).

    Python floats take the default dtype, ints int64, bools bool. Raises DTypeError for data
    that is not numbers, ValueError for ragged lists."""
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use "
            "sourceTensor.detach().clone() or "
            "sourceTensor.detach().clone().requires_grad_(True), rather than "
            "tracer.tensor(sourceTensor).",
            TracerWarning,
            stacklevel=2,
        )
    return _make(array_from(data, dtype, "tensor"), requires_grad, device, "tensor")


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """`data` as a tensor without copying when possible: a tensor of the right dtype is
    returned as is, a numpy array of the right dtype shares its memory."""
    as_cpu(device, "as_tensor")
    d = None if dtype is None else dtypes.canonical(dtype)
    if isinstance(data, Tensor):
        return data if d is None or d == data.dtype else data.to(d)
    if isinstance(data, np.ndarray) and (d is None or d == data.dtype):
        return from_numpy(data)
    return _make(array_from(data, d, "as_tensor"), False)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`: writes to either show in the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy(): expected a numpy array, got {type(array).__name__}")
    if not array.dtype.isnative:  # ValueError, as PyTorch
        raise ValueError(
            f"from_numpy(): the array's dtype {array.dtype.str} is not in the machine's byte "
            "order, so a tensor cannot share its memory; copy it with tracer.tensor(array), "
            "or convert it first: array.astype(array.dtype.newbyteorder('='))"
        )
    dtypes.canonical(array.dtype)
    return Tensor(array)


# ---- filled -------------------------------------------------------------------------
def _filled(shape: tuple[int, ...], value: Any, d: np.dtype, op: str) -> np.ndarray:
    if isinstance(value, Tensor):
        value = _number(value, "fill_value", op) if value._data.size == 1 else value
    if not isinstance(value, _NUMBER):
        raise TypeError(
            f"{op}(): fill_value must be a number, got {value!r} ({type(value).__name__})"
        )
    try:
        with np.errstate(all="ignore"):
            return np.full(shape, value, d)
    except (OverflowError, ValueError) as e:  # 10**30 or nan into an integer dtype
        raise ValueError(f"{op}(): fill_value {value!r} does not fit in {d}: {e}") from None


def zeros(
    *sizes: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of zeros (default dtype unless `dtype`)."""
    shape = parse_size(sizes, "zeros", size)
    return _make(np.zeros(shape, _float_dtype(dtype)), requires_grad, device, "zeros")


def ones(
    *sizes: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of ones (default dtype unless `dtype`)."""
    shape = parse_size(sizes, "ones", size)
    return _make(np.ones(shape, _float_dtype(dtype)), requires_grad, device, "ones")


def empty(
    *sizes: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor to be overwritten. Unlike PyTorch's, its memory is zero-filled (never
    garbage), so reading it before writing gives zeros."""
    shape = parse_size(sizes, "empty", size)
    return _make(np.zeros(shape, _float_dtype(dtype)), requires_grad, device, "empty")


def full(
    size: Sequence[int],
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor filled with `fill_value`; without `dtype`, bool for a bool, int64 for an
    int, the default dtype for a float."""
    shape = parse_size((size,), "full")
    if dtype is None and isinstance(fill_value, Tensor):
        d = fill_value.dtype
    elif dtype is None and isinstance(fill_value, _NUMBER):
        d = dtypes.scalar_dtype(fill_value)
    else:
        d = _float_dtype(dtype)
    return _make(_filled(shape, fill_value, d, "full"), requires_grad, device, "full")


def _like_dtype(t: Tensor, dtype: Any) -> np.dtype:
    return t.dtype if dtype is None else dtypes.canonical(dtype)


def zeros_like(
    input: Tensor,  # noqa: A002  (PyTorch's name)
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
) -> Tensor:
    """Zeros of `input`'s shape (and dtype, unless `dtype`)."""
    return _filled_like(input, 0, dtype, device, requires_grad, "zeros_like")


def ones_like(
    input: Tensor,  # noqa: A002
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
) -> Tensor:
    """Ones of `input`'s shape (and dtype, unless `dtype`)."""
    return _filled_like(input, 1, dtype, device, requires_grad, "ones_like")


def empty_like(
    input: Tensor,  # noqa: A002
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
) -> Tensor:
    """A tensor of `input`'s shape (and dtype, unless `dtype`); zero-filled, see empty()."""
    return _filled_like(input, 0, dtype, device, requires_grad, "empty_like")


def full_like(
    input: Tensor,  # noqa: A002
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
) -> Tensor:
    """`fill_value` in `input`'s shape and dtype (unless `dtype`; a float into an integer
    dtype is truncated, as in PyTorch)."""
    return _filled_like(input, fill_value, dtype, device, requires_grad, "full_like")


def eye(
    n: int,
    m: int | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """The n x m identity (m = n by default)."""
    n, m = parse_size((n, n if m is None else m), "eye")
    return _make(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device, "eye")


# ---- ranges -------------------------------------------------------------------------
# PyTorch's vectorised arange: element b + k of a 32-byte vector starting at element b is
# base_b + k * step, with base_b = start + b * step rounded to the dtype first
_VECTOR_BYTES = 32


def _arange_float(start: float, step: float, n: int, d: np.dtype) -> np.ndarray:
    """start + i * step as PyTorch's CPU kernel computes it: fused multiply-adds in float64
    (float32 for a float16 result), where the vectorised part rounds each vector's first
    value to `d` and counts from it. Measured against PyTorch 2.13 (one thread; the chunks
    its threads split ranges of more than 32768 elements into start vectors elsewhere)."""
    acc = np.float32 if d == np.float16 else np.float64
    fma = fma32 if acc is np.float32 else fma64
    s, st = acc(start), acc(step)
    v = _VECTOR_BYTES // d.itemsize
    vec_end = (n // (2 * v)) * 2 * v  # the loop handles two vectors at a time
    out = np.empty(n, d)
    if vec_end:
        bases = fma(st, np.arange(0, vec_end, v, dtype=acc), s).astype(d).astype(acc)
        k = np.arange(v, dtype=acc)
        out[:vec_end] = fma(k[None, :], st, bases[:, None]).astype(d).reshape(-1)
    if vec_end < n:
        out[vec_end:] = fma(st, np.arange(vec_end, n, dtype=acc), s).astype(d)
    return out


def _in_dtype(value: int | float, d: np.dtype, what: str, op: str) -> np.generic:
    """`value` converted to dtype `d` as PyTorch's Scalar.to does: floats truncated toward
    zero for integer dtypes; a value the dtype cannot hold raises ValueError."""
    try:
        with np.errstate(over="raise"):
            return d.type(value) if d.kind == "f" else d.type(int(value))
    except (OverflowError, FloatingPointError):
        raise ValueError(f"{op}(): {what} = {value} does not fit in {d}") from None


def _float_length(start: float, end: float, step: float) -> int:
    """ceil((end - start) / step) in float64, PyTorch's length of a float arange."""
    q = (float(end) - float(start)) / float(step)
    if not math.isfinite(q):
        raise ValueError(
            f"arange(): from {start} to {end} in steps of {step} is more elements than an "
            "array can hold"
        )
    (n,) = parse_size((math.ceil(q),), "arange")
    return n


def arange(
    start: Any = None,
    end: Any = None,
    step: Any = 1,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from `start` (default 0) up to but excluding `end`, `step` apart: int64 when
    all arguments are ints, else the default dtype.

    The length is ceil((end - start) / step) computed in float64 (an exact integer formula
    for int64 results); values are computed as PyTorch's CPU kernel computes them (see
    `_arange_float`), so `arange(0, 1, 0.1)` and `arange(-1, 1, 0.3)` print PyTorch's
    numbers in float32 and float64. An integer dtype truncates the arguments to integers
    first, as PyTorch does. Raises ValueError for a zero step, a step whose sign points
    away from `end`, or non-finite bounds."""
    if end is None:
        if start is None:
            raise TypeError("arange() missing required argument 'end'")
        start, end = 0, start
    elif start is None:
        start = 0
    start, end, step = (
        _number(v, w, "arange") for v, w in ((start, "start"), (end, "end"), (step, "step"))
    )
    integral = all(isinstance(v, int) for v in (start, end, step))
    if dtype is None:
        d = dtypes.DEFAULT_INT if integral else dtypes.default_float()
    else:
        d = dtypes.canonical(dtype)
    if step == 0:
        raise ValueError("arange(): step must be nonzero")
    if not ((step > 0 and end >= start) or (step < 0 and end <= start)):
        raise ValueError(
            f"arange(): upper bound and lower bound inconsistent with step sign (from "
            f"{start} to {end} in steps of {step})"
        )
    if d.kind == "f":
        n = _float_length(start, end, step)
        return _make(_arange_float(start, step, n, d), requires_grad, device, "arange")
    # integer results: the arguments truncated to integers, values start + i * step in int64
    istart, iend, istep = int(start), int(end), int(step)
    if d == np.int64:
        if istep == 0:
            raise ValueError(f"arange(): step {step} truncates to 0 for an int64 result")
        sgn = 1 if istep > 0 else -1
        n = (iend - istart + istep - sgn) // istep
    else:
        n = _float_length(start, end, step)
    parse_size((n,), "arange")
    if not (-(2**63) <= istart < 2**63 and -(2**63) <= istep < 2**63):
        raise ValueError(f"arange(): {start} to {end} does not fit in int64")
    with np.errstate(all="ignore"):
        values = np.int64(istart) + np.int64(istep) * np.arange(n, dtype=np.int64)
    return _make(values.astype(d), requires_grad, device, "arange")


def linspace(
    start: Any,
    end: Any,
    steps: int,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """`steps` evenly spaced values from `start` to `end` inclusive (default dtype).

    As PyTorch computes them: step = (end - start) / (steps - 1) in the result dtype, the
    first half start + i * step and the second half end - (steps - 1 - i) * step, each a
    fused multiply-add (float16: each operation rounded to float16); integer dtypes compute
    in float64 and truncate."""
    (steps,) = parse_size((steps,), "linspace")
    start = _number(start, "start", "linspace")
    end = _number(end, "end", "linspace")
    d = _float_dtype(dtype)
    if steps == 0:
        return _make(np.empty(0, d), requires_grad, device, "linspace")
    if steps == 1:
        return _make(np.full(1, start, d), requires_grad, device, "linspace")
    i = np.arange(steps)
    half = steps // 2
    if d == np.float16:
        return _make(_linspace_half(start, end, steps), requires_grad, device, "linspace")
    if d.kind == "f":
        s, e = _in_dtype(start, d, "start", "linspace"), _in_dtype(end, d, "end", "linspace")
        step = (e - s) / d.type(steps - 1)
        fma = fma64 if d == np.float64 else fma32
        out = np.empty(steps, d)
        out[:half] = fma(step, i[:half].astype(d), s)
        out[half:] = fma(-step, (steps - 1 - i[half:]).astype(d), e)
        return _make(out, requires_grad, device, "linspace")
    s, e = (float(_in_dtype(v, d, w, "linspace")) for v, w in ((start, "start"), (end, "end")))
    step = (e - s) / (steps - 1)
    out = np.empty(steps)
    out[:half] = fma64(step, i[:half].astype(np.float64), s)
    out[half:] = fma64(-step, (steps - 1 - i[half:]).astype(np.float64), e)
    return _make(np.trunc(out).astype(d), requires_grad, device, "linspace")


def _linspace_half(start: float, end: float, steps: int) -> np.ndarray:
    """linspace in float16 as PyTorch computes it: every operation rounded to float16 (its
    Half arithmetic), no fused multiply-add."""
    h, f = np.float16, np.float32
    s, e = (_in_dtype(v, np.dtype(h), w, "linspace") for v, w in ((start, "start"), (end, "end")))
    step = h(f(h(f(e) - f(s))) / f(h(steps - 1)))
    i = np.arange(steps)
    half = steps // 2

    def times_step(k: np.ndarray) -> np.ndarray:
        return (f(step) * k.astype(h).astype(f)).astype(h).astype(f)

    out = np.empty(steps, h)
    out[:half] = (f(s) + times_step(i[:half])).astype(h)
    out[half:] = (f(e) - times_step(steps - 1 - i[half:])).astype(h)
    return out


def logspace(
    start: Any,
    end: Any,
    steps: int,
    base: float = 10.0,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """`base ** x` for `steps` exponents x evenly spaced from `start` to `end` (default
    dtype); exponents and powers in float64 with the C library's pow, as PyTorch does."""
    (steps,) = parse_size((steps,), "logspace")
    start = _number(start, "start", "logspace")
    end = _number(end, "end", "logspace")
    base = float(_number(base, "base", "logspace"))
    d = _float_dtype(dtype)
    if steps == 0:
        return _make(np.empty(0, d), requires_grad, device, "logspace")
    if steps == 1:
        x = np.array([float(start)])
    else:
        # start and end in the result dtype, their difference too, then float64
        s, e = _in_dtype(start, d, "start", "logspace"), _in_dtype(end, d, "end", "logspace")
        step = float(d.type(e - s) if d.kind == "f" else int(e) - int(s)) / (steps - 1)
        i = np.arange(steps)
        half = steps // 2
        x = np.empty(steps)
        x[:half] = float(s) + step * i[:half]
        x[half:] = float(e) - step * (steps - 1 - i[half:])
    with np.errstate(all="ignore"):
        values = libm.pow(base, x)
        if d.kind != "f":
            values = np.trunc(values)  # as C++ converts a double to an integer
        values = values.astype(d)
    return _make(values, requires_grad, device, "logspace")


def _tri_indices(
    row: int, col: int, offset: int, dtype: Any, device: Any, op: str, upper: bool
) -> Tensor:
    row, col = parse_size((row, col), op)
    offset = operator.index(offset)
    d = dtypes.DEFAULT_INT if dtype is None else dtypes.canonical(dtype)
    if d.kind not in "iu":
        raise DTypeError(f"{op}(): dtype must be an integer dtype, got {d}")
    rows, cols = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    return _make(np.stack([rows, cols]).astype(d).reshape(2, -1), False, device, op)


def tril_indices(
    row: int, col: int, offset: int = 0, dtype: Any = None, device: Any = None
) -> Tensor:
    """Indices (2 x N, int64) of the lower triangle of a row x col matrix, row by row;
    `offset` moves the diagonal up (> 0) or down (< 0)."""
    return _tri_indices(row, col, offset, dtype, device, "tril_indices", upper=False)


def triu_indices(
    row: int, col: int, offset: int = 0, dtype: Any = None, device: Any = None
) -> Tensor:
    """Indices (2 x N, int64) of the upper triangle of a row x col matrix, row by row;
    `offset` moves the diagonal up (> 0) or down (< 0)."""
    return _tri_indices(row, col, offset, dtype, device, "triu_indices", upper=True)


# ---- Tensor.new_* -------------------------------------------------------------------
def new_full(
    self: Tensor,
    size: Any,
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    shape = parse_size((size,), "new_full")
    d = _like_dtype(self, dtype)
    return _make(_filled(shape, fill_value, d, "new_full"), requires_grad, device, "new_full")


def new_filled(
    self: Tensor, op: str, value: int, size: Sequence[Any], dtype: Any, device: Any, rg: bool
) -> Tensor:
    shape = parse_size(size, op)
    return _make(np.full(shape, value, _like_dtype(self, dtype)), rg, device, op)


def new_tensor(
    self: Tensor, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use "
            "sourceTensor.detach().clone() or "
            "sourceTensor.detach().clone().requires_grad_(True), rather than "
            "tensor.new_tensor(sourceTensor).",
            TracerWarning,
            stacklevel=3,
        )
    arr = array_from(data, _like_dtype(self, dtype), "new_tensor")
    return _make(arr, requires_grad, device, "new_tensor")


# ---- Tensor methods that make new tensors ---------------------------------------------
# They live with the functions they call (tracer.tensor cannot import this module, which
# imports it); `import tracer` attaches them.


def _method_new_zeros(
    self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Zeros of the given size, with this tensor's dtype unless `dtype`."""
    return new_filled(self, "new_zeros", 0, size, dtype, device, requires_grad)


def _method_new_ones(
    self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Ones of the given size, with this tensor's dtype unless `dtype`."""
    return new_filled(self, "new_ones", 1, size, dtype, device, requires_grad)


def _method_new_empty(
    self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of the given size and this tensor's dtype (zero-filled, see empty())."""
    return new_filled(self, "new_empty", 0, size, dtype, device, requires_grad)


def _method_new_full(
    self,
    size: Any,
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """`fill_value` in the given size, with this tensor's dtype unless `dtype`."""
    return new_full(self, size, fill_value, dtype, device, requires_grad)


def _method_new_tensor(
    self, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A copy of `data` with this tensor's dtype unless `dtype` (floats into an integer
    dtype are truncated, as in PyTorch)."""
    return new_tensor(self, data, dtype, device, requires_grad)


Tensor.new_zeros = _method_new_zeros  # type: ignore[attr-defined]
Tensor.new_ones = _method_new_ones  # type: ignore[attr-defined]
Tensor.new_empty = _method_new_empty  # type: ignore[attr-defined]
Tensor.new_full = _method_new_full  # type: ignore[attr-defined]
Tensor.new_tensor = _method_new_tensor  # type: ignore[attr-defined]
