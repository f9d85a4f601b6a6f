"""Losses that PyTorch exposes as single autograd nodes (NllLossBackward0, ...)."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import DTypeError, ShapeError
from compiler.registry import AVal, Op, register

REDUCTIONS = ("mean", "sum", "none")


def _nll_abstract(logp: AVal, target: AVal, reduction: str, ignore_index: int) -> AVal:
    if logp.ndim != 2 or target.ndim != 1 or target.shape[0] != logp.shape[0]:
        raise ShapeError(
            f"nll_loss: expected input of shape (N, C) and target of shape (N,), "
            f"got {tuple(logp.shape)} and {tuple(target.shape)}"
        )
    if not dtypes.is_int(target.dtype):
        raise DTypeError(f"nll_loss: target must hold integer class labels, got {target.dtype}")
    if not dtypes.is_float(logp.dtype):
        raise DTypeError(f"nll_loss: input must be floating point, got {logp.dtype}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return AVal((logp.shape[0],) if reduction == "none" else (), logp.dtype)


def _nll_impl(
    logp: np.ndarray, target: np.ndarray, reduction: str, ignore_index: int
) -> np.ndarray:
    n, c = logp.shape
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= c))
    if bad.any():
        raise IndexError(f"nll_loss: target {int(target[bad][0])} is out of bounds for {c} classes")
    if c == 0:  # every target was ignored (or there are none)
        picked = np.zeros(n, logp.dtype)
    else:
        picked = -logp[np.arange(n), np.where(valid, target, 0)] * valid
    if reduction == "none":
        return picked.astype(logp.dtype, copy=False)
    total = picked.sum(dtype=np.float64)
    if reduction == "mean":
        total = total / valid.sum()
    return np.asarray(total, logp.dtype)


def _nll_vjp(
    g: Any, out: Any, logp: Any, target: Any, reduction: str, ignore_index: int
) -> tuple[Any, None]:
    valid = (target != ignore_index).to(g.dtype)
    onehot = (target.unsqueeze(1) == g.iota(tuple(logp.shape), 1)).to(g.dtype)
    w = valid if reduction != "mean" else valid / valid.sum()
    scale = (g * w) if reduction == "none" else w * g
    return -(onehot * scale.unsqueeze(1)), None


register(
    Op(
        "nll_loss",
        _nll_abstract,
        _nll_impl,
        _nll_vjp,
        grad_fn="NllLossBackward0",
        lowering="decompose",
        saves=lambda ng: (False, True),
    )
)


def _mse_abstract(x: AVal, y: AVal, reduction: str) -> AVal:
    if tuple(x.shape) != tuple(y.shape):
        raise ShapeError(
            f"mse_loss: input shape {tuple(x.shape)} and target shape {tuple(y.shape)} differ"
        )
    if reduction not in REDUCTIONS:
        raise ValueError(f"mse_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return AVal(tuple(x.shape) if reduction == "none" else (), x.dtype)


def _mse_impl(x: np.ndarray, y: np.ndarray, reduction: str) -> np.ndarray:
    d = (x - y) ** 2
    if reduction == "none":
        return d
    total = d.sum(dtype=np.float64)
    return np.asarray(total / max(d.size, 1) if reduction == "mean" else total, x.dtype)


def _mse_vjp(g: Any, out: Any, x: Any, y: Any, reduction: str) -> tuple[Any, Any]:
    scale = g * 2 if reduction != "mean" else g * (2 / max(int(np.prod(x.shape)), 1))
    gx = (x - y) * scale
    return gx, -gx


register(
    Op(
        "mse_loss",
        _mse_abstract,
        _mse_impl,
        _mse_vjp,
        grad_fn="MseLossBackward0",
        lowering="decompose",
    )
)
