"""Converting user data (nested lists of numbers, numpy arrays, tensors) to arrays,
with PyTorch's dtype inference and errors that say what is wrong with the data."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import DTypeError
from compiler.operand import Operand
from tracer._quiet import quiet

__all__ = ["array_from"]


def _infer_python(data: Any) -> np.dtype:
    """PyTorch's dtype inference for nested Python data: float beats int beats bool."""
    kinds: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, Operand):
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
            raise DTypeError(
                f"tensor(): could not convert {item!r} ({type(item).__name__}) to "
                "a number; data must be numbers or nested lists of numbers"
            )
    if "f" in kinds:
        return dtypes.default_float()
    if "i" in kinds or "u" in kinds:
        return dtypes.DEFAULT_INT
    return dtypes.bool_ if kinds else dtypes.default_float()


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
                raise ValueError(
                    f"tensor(): ragged nested sequence at {where}: its elements "
                    f"have lengths {', '.join(desc)}; all must have the same length"
                )
            stack.extend((x, p + (i,)) for i, x in enumerate(item))


def array_from(data: Any, dtype: Any = None, op: str = "tensor") -> np.ndarray:
    """A new array holding `data`, as tensor(data, dtype) stores it: nested lists of
    numbers (with PyTorch's dtype inference), numbers, numpy arrays, tensors. Raises
    DTypeError for data that is not numbers, ValueError for ragged lists."""
    if isinstance(data, Operand):
        with quiet():  # 1e300 into float32 is inf, as in PyTorch
            return np.array(
                np.asarray(data), dtype=None if dtype is None else dtypes.canonical(dtype)
            )
    if isinstance(data, np.generic):  # a numpy scalar keeps its dtype, as in PyTorch
        data = np.asarray(data)
    if isinstance(data, np.ndarray):
        if not data.dtype.isnative:  # big-endian data: the same values, native order
            data = data.astype(data.dtype.newbyteorder("="))
        if data.dtype.kind not in "biuf":
            raise DTypeError(
                f"{op}(): numpy arrays of dtype {data.dtype} are not supported; "
                "tensors hold bool, integer or floating point numbers"
            )
        if dtype is None and data.dtype not in dtypes.SUPPORTED:
            raise DTypeError(
                f"{op}(): numpy arrays of dtype {data.dtype} are not supported; "
                "pass dtype=... (tracer.float64, tracer.int64, ...) to convert"
            )
        target = data.dtype if dtype is None else dtypes.canonical(dtype)
        with quiet():
            return np.array(data, dtype=target)
    inferred = _infer_python(data)  # also refuses data that is not numbers
    target = inferred if dtype is None else dtypes.canonical(dtype)
    if isinstance(data, (list, tuple)):
        data = (
            [x.tolist() if isinstance(x, (Operand, np.ndarray)) else x for x in data]
            if any(isinstance(x, (Operand, np.ndarray)) for x in data)
            else data
        )
        _check_ragged(data)
    try:
        with quiet():
            arr = np.array(data, dtype=target)
    except (ValueError, TypeError, OverflowError) as e:
        raise ValueError(f"{op}(): could not build a {target} tensor from the data: {e}") from None
    return arr
