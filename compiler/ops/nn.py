"""Losses that PyTorch exposes as single autograd nodes (NllLossBackward0, ...)."""

from __future__ import annotations

from typing import Any

from compiler import dtypes
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Composite
from compiler.operand import apply
from compiler.ops.elementwise import keep
from compiler.ops.shape import count
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


def _nll(logp: Any, target: Any, reduction: str, ignore_index: int) -> Any:
    valid = target != ignore_index
    # an ignored target reads class 0 (if any), and its loss is then replaced by 0
    safe = target.where(valid, 0).to(dtypes.int64).unsqueeze(1)
    picked = logp.gather(1, safe).squeeze(1) if logp.shape[1] else logp.sum(1)
    loss = -picked.where(valid, 0)
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / valid.to(logp.dtype).sum()  # 0/0 = nan when every target is ignored


def _nll_vjp(
    g: Any, out: Any, logp: Any, target: Any, reduction: str, ignore_index: int
) -> tuple[Any, None]:
    valid = target != ignore_index
    if reduction == "mean":  # every target ignored: inf here, and `keep` gives 0 below
        g = g / valid.to(g.dtype).sum()
    onehot = (target.unsqueeze(1) == g.iota(tuple(logp.shape), 1)) & valid.unsqueeze(1)
    gl = g.unsqueeze(1) if reduction == "none" else g
    return keep(-gl, onehot), None


register(
    Op(
        "nll_loss",
        _nll_abstract,
        None,
        _nll_vjp,
        grad_fn="NllLossBackward0",
        lowering=Composite(_nll),
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


def _mse(x: Any, y: Any, reduction: str) -> Any:
    d = x - y
    sq = d * d
    if reduction == "none":
        return sq
    axes = tuple(range(sq.ndim))
    total = apply("reduce_sum", sq, axes=axes, keepdims=False)
    return total if reduction == "sum" else total / count(sq, axes)  # nan when empty


def _mse_vjp(g: Any, out: Any, x: Any, y: Any, reduction: str) -> tuple[Any, Any]:
    d = x - y
    if reduction == "mean":
        g = g / count(d, tuple(range(d.ndim)))
    gx = d * (g * 2)
    return gx, -gx


register(
    Op(
        "mse_loss",
        _mse_abstract,
        None,
        _mse_vjp,
        grad_fn="MseLossBackward0",
        lowering=Composite(_mse),
    )
)


def _bce_abstract(name: str) -> Any:
    def abstract(x: AVal, y: AVal, reduction: str) -> AVal:
        if tuple(x.shape) != tuple(y.shape):
            raise ShapeError(
                f"{name}: input shape {tuple(x.shape)} and target shape {tuple(y.shape)} differ"
            )
        if not dtypes.is_float(x.dtype) or not dtypes.is_float(y.dtype):
            raise DTypeError(
                f"{name}: input and target must be floating point, got {x.dtype} and {y.dtype}"
            )
        if reduction not in REDUCTIONS:
            raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        return AVal(tuple(x.shape) if reduction == "none" else (), x.dtype)

    return abstract


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction == "none":
        return loss
    axes = tuple(range(loss.ndim))
    total = apply("reduce_sum", loss, axes=axes, keepdims=False)
    return total if reduction == "sum" else total / count(loss, axes)  # nan when empty


def _scale(g: Any, like: Any, reduction: str) -> Any:
    """The cotangent of each element's loss."""
    if reduction == "mean":
        g = g / count(like, tuple(range(like.ndim)))
    return g


_BCE_EPS = 9.999999960041972e-13


def _bce(x: Any, y: Any, reduction: str) -> Any:
    # PyTorch's CPU kernel: logs clamped at -100, so a probability of 0 or 1 gives 100
    log_x, log_1mx = x.log().clamp(min=-100), (-x).log1p().clamp(min=-100)
    return _reduce((y - 1) * log_1mx - y * log_x, reduction)


def _bce_vjp(g: Any, out: Any, x: Any, y: Any, reduction: str) -> tuple[Any, Any]:
    g = _scale(g, x, reduction)
    # PyTorch's formula: (x - y) / max(x (1 - x), eps), finite at x = 0 and 1; its eps is
    # the C float 1e-12f, 9.999999960041972e-13 as a double
    gx = g * (x - y) / ((1 - x) * x).clamp(min=_BCE_EPS)
    gy = g * ((-x).log1p().clamp(min=-100) - x.log().clamp(min=-100))
    return gx, gy


def _bce_logits(x: Any, y: Any, reduction: str) -> Any:
    # (1 - y) x - log sigmoid(x), with log sigmoid(x) = min(x, 0) - log1p(exp(-|x|))
    log_sigmoid = x.clamp(max=0) - (-x.abs()).exp().log1p()
    return _reduce((1 - y) * x - log_sigmoid, reduction)


def _bce_logits_vjp(g: Any, out: Any, x: Any, y: Any, reduction: str) -> tuple[Any, Any]:
    g = _scale(g, x, reduction)
    return g * (x.sigmoid() - y), -g * x


register(
    Op(
        "binary_cross_entropy",
        _bce_abstract("binary_cross_entropy"),
        None,
        _bce_vjp,
        grad_fn="BinaryCrossEntropyBackward0",
        lowering=Composite(_bce),
    )
)
register(
    Op(
        "binary_cross_entropy_with_logits",
        _bce_abstract("binary_cross_entropy_with_logits"),
        None,
        _bce_logits_vjp,
        grad_fn="BinaryCrossEntropyWithLogitsBackward0",
        lowering=Composite(_bce_logits),
    )
)
