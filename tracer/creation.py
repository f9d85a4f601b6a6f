"""Tensor creation: tensor(), zeros(), rand(), arange(), ... and the global RNG."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler import dtypes, operand
from compiler.errors import DTypeError, TraceError
from compiler.source import describe_location
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
    return t


def _infer_python(data: Any) -> np.dtype:
    """PyTorch's dtype inference for nested Python data: float beats int beats bool."""
    kinds: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, Tensor):
            kinds.add(item.dtype.kind)
        elif isinstance(item, np.ndarray):
            kinds.add(item.dtype.kind)
        elif isinstance(item, (bool, np.bool_)):
            kinds.add("b")
        elif isinstance(item, (int, np.integer)):
            kinds.add("i")
        elif isinstance(item, (float, np.floating)):
            kinds.add("f")
        else:
            raise DTypeError(f"tensor(): could not convert {item!r} ({type(item).__name__}) to "
                             "a number; data must be numbers or nested lists of numbers")
    if "f" in kinds:
        return dtypes.DEFAULT_FLOAT
    if "i" in kinds or "u" in kinds:
        return dtypes.DEFAULT_INT
    return dtypes.bool_ if kinds else dtypes.DEFAULT_FLOAT


def _check_ragged(data: Any, path: tuple[int, ...] = ()) -> None:
    """Find the first sublist whose length differs from its siblings'."""
    stack = [(data, path)]
    while stack:
        item, p = stack.pop()
        if isinstance(item, (list, tuple)):
            lengths = {len(x) if isinstance(x, (list, tuple)) else None for x in item}
            if len(lengths) > 1:
                desc = sorted(str(n) if n is not None else "a scalar" for n in lengths)
                where = "".join(f"[{i}]" for i in p) or "the top level"
                raise ValueError(f"tensor(): ragged nested sequence at {where}: its elements "
                                 f"have lengths {', '.join(desc)}; all must have the same length")
            stack.extend((x, p + (i,)) for i, x in enumerate(item))


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Build a tensor from nested lists, numbers, a numpy array or a tensor (copied)."""
    if isinstance(data, Tensor):
        arr = np.array(data._data, dtype=None if dtype is None else dtypes.canonical(dtype))
        return _make(arr, requires_grad)
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "biuf":
            raise DTypeError(f"tensor(): numpy arrays of dtype {data.dtype} are not supported; "
                             "tensors hold bool, integer or floating point numbers")
        if dtype is None and data.dtype not in dtypes.SUPPORTED:
            raise DTypeError(f"tensor(): numpy arrays of dtype {data.dtype} are not supported; "
                             "pass dtype=... (tracer.float64, tracer.int64, ...) to convert")
        target = data.dtype if dtype is None else dtypes.canonical(dtype)
        return _make(np.array(data, dtype=target), requires_grad)
    inferred = _infer_python(data)  # also refuses data that is not numbers
    target = inferred if dtype is None else dtypes.canonical(dtype)
    if isinstance(data, (list, tuple)):
        data = [x.tolist() if isinstance(x, (Tensor, np.ndarray)) else x for x in data] \
            if any(isinstance(x, (Tensor, np.ndarray)) for x in data) else data
        _check_ragged(data)
    try:
        arr = np.array(data, dtype=target)
    except (ValueError, TypeError, OverflowError) as e:
        raise ValueError(f"tensor(): could not build a {target} tensor from the data: {e}") \
            from None
    return _make(arr, requires_grad)


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
    dtypes.canonical(array.dtype)
    return Tensor(array)


def _size(size: Sequence[Any], op: str = "size") -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if isinstance(s, (bool, np.bool_)) or not hasattr(s, "__index__"):
            raise TypeError(f"{op}(): sizes must be ints, got {s!r} ({type(s).__name__}) in "
                            f"{tuple(size)}")
    shape = tuple(operator.index(s) for s in size)
    if any(s < 0 for s in shape):
        raise ValueError(f"{op}(): negative dimension in size {shape}")
    return shape


def _float_dtype(dtype: Any) -> np.dtype:
    return dtypes.DEFAULT_FLOAT if dtype is None else dtypes.canonical(dtype)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_size(size, "zeros"), _float_dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_size(size, "ones"), _float_dtype(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.empty(_size(size, "empty"), _float_dtype(dtype)), requires_grad)


def full(size: Sequence[int], fill_value: Any, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    if not isinstance(fill_value, (int, float, bool, np.number, np.bool_)):
        raise TypeError(f"full(): fill_value must be a number, got {fill_value!r} "
                        f"({type(fill_value).__name__})")
    d = dtypes.canonical(dtype) if dtype is not None else dtypes.scalar_dtype(fill_value)
    return _make(np.full(_size((size,), "full"), fill_value, d), requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(t.shape, t.dtype if dtype is None else dtypes.canonical(dtype)),
                 requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(t.shape, t.dtype if dtype is None else dtypes.canonical(dtype)),
                 requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None,
              requires_grad: bool = False) -> Tensor:
    d = t.dtype if dtype is None else dtypes.canonical(dtype)
    return _make(np.full(t.shape, fill_value, d), requires_grad)


def empty_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return zeros_like(t, dtype, requires_grad)


def _not_traced(op: str) -> None:
    """Random numbers drawn inside a traced function would be drawn once, at trace time,
    and reused by every later call: refuse."""
    if operand.tracing.builder is not None:
        where = describe_location()
        raise TraceError(
            f"{op}() inside a traced function would draw its numbers once, when tracing, "
            "and every later call would reuse them" + (f"\n  at {where}" if where else "")
            + f"\nDraw them outside and pass them in as an argument "
            f"(f(x, noise=tracer.{op}(...))).")


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


def randint(low: int, high: int | None = None, size: Sequence[int] = (),
            dtype: Any = None) -> Tensor:
    _not_traced("randint")
    if high is None:
        low, high = 0, low
    if low >= high:
        raise ValueError(f"randint(): low ({low}) must be less than high ({high})")
    d = dtypes.DEFAULT_INT if dtype is None else dtypes.canonical(dtype)
    return Tensor(_rng.integers(low, high, size=_size((size,), "randint")).astype(d))


def randperm(n: int) -> Tensor:
    _not_traced("randperm")
    return Tensor(_rng.permutation(_size((n,), "randperm")[0]).astype(np.int64))


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        d = dtypes.DEFAULT_INT if is_int else dtypes.DEFAULT_FLOAT
    else:
        d = dtypes.canonical(dtype)
    for name, v in (("start", start), ("end", end), ("step", step)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
            raise TypeError(f"arange(): {name} must be a number, got {v!r} "
                            f"({type(v).__name__})")
        if not math.isfinite(v):
            raise ValueError(f"arange(): {name} must be finite, got {v}")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    n = max(int(np.ceil((end - start) / step)), 0)
    return _make((start + step * np.arange(n, dtype=np.float64)).astype(d)
                 if d.kind == "f" else np.arange(start, end, step, dtype=d), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             requires_grad: bool = False) -> Tensor:
    (steps,) = _size((steps,), "linspace")
    return _make(np.linspace(start, end, steps).astype(_float_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    n, m = _size((n, n if m is None else m), "eye")
    return _make(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)
