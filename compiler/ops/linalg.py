"""matmul: 1-D, 2-D and batched, with broadcasting of the batch dimensions."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import kernels
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Kernel
from compiler.ops.elementwise import broadcast_shapes
from compiler.registry import AVal, Op, has_value, register, save_other


def _matmul_abstract(a: AVal, b: AVal) -> AVal:
    for x in (a, b):
        if not isinstance(x, AVal):
            raise TypeError(f"matmul: both operands must be tensors, got {type(x).__name__} {x!r}")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul: both arguments need at least 1 dimension, got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.dtype != b.dtype:
        raise DTypeError(
            f"matmul: expected both operands to have the same dtype, got "
            f"{a.dtype} (shape {tuple(a.shape)}) and {b.dtype} (shape "
            f"{tuple(b.shape)}); convert one with .to(dtype)"
        )
    a2 = tuple(a.shape) if a.ndim > 1 else (1, a.shape[0])
    b2 = tuple(b.shape) if b.ndim > 1 else (b.shape[0], 1)
    if a2[-1] != b2[-2]:
        hint = ""
        if b.ndim > 1 and a2[-1] == b2[-1]:
            hint = "; did you mean to transpose the second (x @ y.mT, or y.T for 2-D)?"
        elif a.ndim > 1 and a2[-2] == b2[-2]:
            hint = "; did you mean to transpose the first (x.mT @ y, or x.T for 2-D)?"
        raise ShapeError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
            f"multiplied ({a2[-1]} != {b2[-2]}: the last dimension of the first "
            f"must equal the {'first' if b.ndim == 1 else 'second-to-last'} "
            f"of the second){hint}"
        )
    batch = broadcast_shapes("matmul (batch dimensions)", a2[:-2], b2[:-2])
    shape = batch + (a2[-2],) * (a.ndim > 1) + (b2[-1],) * (b.ndim > 1)
    return AVal(shape, a.dtype)


def _matmul_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    # An operand that was not saved (eager) means the other one needs no gradient.
    need_a, need_b = has_value(b), has_value(a)
    if a.ndim == 1 and b.ndim == 1:
        return (g * b if need_a else None), (g * a if need_b else None)
    g2 = g.unsqueeze(-2) if a.ndim == 1 else g
    g2 = g2.unsqueeze(-1) if b.ndim == 1 else g2
    ga = gb = None
    if need_a:
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        a2_shape = (1,) + tuple(a.shape) if a.ndim == 1 else tuple(a.shape)
        ga = (g2 @ b2.mT).sum_to(a2_shape).reshape(tuple(a.shape))
    if need_b:
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2_shape = tuple(b.shape) + (1,) if b.ndim == 1 else tuple(b.shape)
        gb = (a2.mT @ g2).sum_to(b2_shape).reshape(tuple(b.shape))
    return ga, gb


def _matmul_name(avals: tuple[AVal, ...]) -> str:
    a, b = avals
    if a.ndim == 2 and b.ndim == 2:
        return "MmBackward0"
    if a.ndim == 2 and b.ndim == 1:
        return "MvBackward0"
    if a.ndim == 1 and b.ndim == 1:
        return "DotBackward0"
    if a.ndim == 1 and b.ndim == 2:
        return "SqueezeBackward4"
    if a.ndim == 2:  # PyTorch folds b's batch dims and copies the result back
        return "CloneBackward0"
    return "UnsafeViewBackward0"


def _matmul_impl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not isinstance(b, np.ndarray) or not isinstance(a, np.ndarray) or a.dtype != b.dtype:
        # numpy would promote; the op is defined on one dtype
        raise TypeError("matmul: operands of different dtypes")
    return np.asarray(np.matmul(a, b))


register(
    Op(
        "matmul",
        _matmul_abstract,
        _matmul_impl,
        _matmul_vjp,
        grad_fn=_matmul_name,
        lowering=Kernel(kernels.matmul, contiguous=kernels.blas_ready),
        saves=save_other,
    )
)
