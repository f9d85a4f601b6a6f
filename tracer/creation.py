"""Tensor creation: tensor(), zeros(), rand(), arange(), ... and the global RNG."""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler import dtypes, operand
from compiler.errors import TraceError
from compiler.source import describe_location
from tracer._data import array_from
from tracer.tensor import Tensor

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind rand(), randn() and randint()."""
    global _rng
    _rng = np.random.default_rng(seed)


def _make(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    builder = operand.tracing.builder
    if builder is not None:  # made inside a traced function: a constant of its code
        builder.made_inside.add(id(t))
    return t


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Build a tensor from nested lists, numbers, a numpy array or a tensor (copied)."""
    return _make(array_from(data, dtype), requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    if isinstance(data, Tensor) and (dtype is None or dtypes.canonical(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray) and dtype is None:
        return from_numpy(data)
    return tensor(data, dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`."""
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


def _size(size: Sequence[Any], op: str = "size") -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if isinstance(s, (bool, np.bool_)) or not hasattr(s, "__index__"):
            raise TypeError(
                f"{op}(): sizes must be ints, got {s!r} ({type(s).__name__}) in {tuple(size)}"
            )
    shape = tuple(operator.index(s) for s in size)
    if any(s < 0 for s in shape):
        raise ValueError(f"{op}(): negative dimension in size {shape}")
    # numpy's own errors for these are obscure, or wrong (arange(2**63 - 1) was empty)
    if math.prod(shape) > _MAX_ELEMENTS or any(s > _MAX_ELEMENTS for s in shape):
        raise ValueError(f"{op}(): size {shape} is more elements than an array can hold")
    return shape


_MAX_ELEMENTS = sys.maxsize // 8


def _number(value: Any, what: str, op: str) -> Any:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{op}(): {what} must be a number, got {value!r} ({type(value).__name__})")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond float range
        finite = False
    if not finite:
        raise ValueError(f"{op}(): {what} must be finite, got {value}")
    return value


def _like(t: Any, op: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): expected a tensor, got {type(t).__name__}")
    return t


def _filled(shape: tuple[int, ...], value: Any, d: np.dtype, op: str) -> np.ndarray:
    if not isinstance(value, (int, float, bool, np.number, np.bool_)):
        raise TypeError(
            f"{op}(): fill_value must be a number, got {value!r} ({type(value).__name__})"
        )
    try:
        with np.errstate(all="ignore"):
            return np.full(shape, value, d)
    except (OverflowError, ValueError) as e:  # 10**30 or nan into an integer dtype
        raise ValueError(f"{op}(): fill_value {value!r} does not fit in {d}: {e}") from None


def _float_dtype(dtype: Any) -> np.dtype:
    return dtypes.DEFAULT_FLOAT if dtype is None else dtypes.canonical(dtype)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_size(size, "zeros"), _float_dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_size(size, "ones"), _float_dtype(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.empty(_size(size, "empty"), _float_dtype(dtype)), requires_grad)


def full(
    size: Sequence[int], fill_value: Any, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    shape = _size((size,), "full")
    if dtype is None and isinstance(fill_value, (int, float, bool, np.number, np.bool_)):
        d = dtypes.scalar_dtype(fill_value)
    else:
        d = _float_dtype(dtype)
    return _make(_filled(shape, fill_value, d, "full"), requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    t = _like(t, "zeros_like")
    return _make(
        np.zeros(t.shape, t.dtype if dtype is None else dtypes.canonical(dtype)), requires_grad
    )


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    t = _like(t, "ones_like")
    return _make(
        np.ones(t.shape, t.dtype if dtype is None else dtypes.canonical(dtype)), requires_grad
    )


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    t = _like(t, "full_like")
    d = t.dtype if dtype is None else dtypes.canonical(dtype)
    return _make(_filled(t.shape, fill_value, d, "full_like"), requires_grad)


def empty_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return zeros_like(t, dtype, requires_grad)


def _not_traced(op: str) -> None:
    """Random numbers drawn inside a traced function would be drawn once, at trace time,
    and reused by every later call: refuse."""
    if operand.tracing.builder is not None:
        where = describe_location()
        raise TraceError(
            f"{op}() inside a traced function would draw its numbers once, when tracing, "
            "and every later call would reuse them"
            + (f"\n  at {where}" if where else "")
            + f"\nDraw them outside and pass them in as an argument "
            f"(f(x, noise=tracer.{op}(...)))."
        )


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    _not_traced("rand")
    d = _float_dtype(dtype)
    return _make(_rng.random(_size(size, "rand"), dtype=np.float64).astype(d), requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    _not_traced("randn")
    d = _float_dtype(dtype)
    return _make(_rng.standard_normal(_size(size, "randn")).astype(d), requires_grad)


def randint(
    low: int, high: int | None = None, size: Sequence[int] = (), dtype: Any = None
) -> Tensor:
    _not_traced("randint")
    if high is None:
        low, high = 0, low
    low, high = _int_bound(low), _int_bound(high)
    if low >= high:
        raise ValueError(f"randint(): low ({low}) must be less than high ({high})")
    d = dtypes.DEFAULT_INT if dtype is None else dtypes.canonical(dtype)
    if not np.iinfo(np.int64).min <= low < high - 1 <= np.iinfo(np.int64).max:
        raise ValueError(f"randint(): bounds [{low}, {high}) do not fit in int64")
    return Tensor(_rng.integers(low, high, size=_size((size,), "randint")).astype(d))


def _int_bound(v: Any) -> int:
    if isinstance(v, (bool, np.bool_)) or not hasattr(v, "__index__"):
        raise TypeError(f"randint(): low and high must be ints, got {v!r} ({type(v).__name__})")
    return operator.index(v)


def randperm(n: int) -> Tensor:
    _not_traced("randperm")
    return Tensor(_rng.permutation(_size((n,), "randperm")[0]).astype(np.int64))


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        d = dtypes.DEFAULT_INT if is_int else dtypes.DEFAULT_FLOAT
    else:
        d = dtypes.canonical(dtype)
    for name, v in (("start", start), ("end", end), ("step", step)):
        _number(v, name, "arange")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    if integral:
        n = max(-((int(start) - int(end)) // int(step)), 0)  # exact, however large
    else:
        q = (end - start) / step
        if not math.isfinite(q):
            raise ValueError(
                f"arange(): from {start} to {end} in steps of {step} is more "
                "elements than an array can hold"
            )
        n = max(math.ceil(q), 0)
    _size((n,), "arange")
    # start + step * i, in int64 for integer arguments, else float64; then cast (an int8
    # result wraps, as PyTorch's does)
    try:
        with np.errstate(all="ignore"):
            values = start + step * np.arange(n, dtype=np.int64 if integral else np.float64)
    except OverflowError:
        raise ValueError(f"arange(): {start} to {end} does not fit in int64") from None
    return _make(values.astype(d), requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    (steps,) = _size((steps,), "linspace")
    start = float(_number(start, "start", "linspace"))
    end = float(_number(end, "end", "linspace"))
    return _make(np.linspace(start, end, steps).astype(_float_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    n, m = _size((n, n if m is None else m), "eye")
    return _make(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)
