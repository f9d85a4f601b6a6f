"""nll_loss (with class weights and (N, C, d1, ...) inputs) and mse_loss: losses that
PyTorch exposes as single autograd nodes (NllLossBackward0, MseLossBackward0)."""

from __future__ import annotations

from typing import Any

from compiler import dtypes
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Composite
from compiler.operand import apply
from compiler.ops.elementwise import keep
from compiler.ops.shape import count
from compiler.registry import AVal, Op, has_value, register

REDUCTIONS = ("mean", "sum", "none")


def _nll_abstract(
    logp: AVal, target: AVal, *weight: AVal, reduction: str, ignore_index: int
) -> AVal:
    if logp.ndim < 2 or tuple(target.shape) != (logp.shape[0],) + tuple(logp.shape[2:]):
        raise ShapeError(
            f"nll_loss: expected input of shape (N, C) or (N, C, d1, ...) and target of "
            f"shape (N,) or (N, d1, ...), got {tuple(logp.shape)} and {tuple(target.shape)}"
        )
    if not dtypes.is_int(target.dtype):
        raise DTypeError(f"nll_loss: target must hold integer class labels, got {target.dtype}")
    if not dtypes.is_float(logp.dtype):
        raise DTypeError(f"nll_loss: input must be floating point, got {logp.dtype}")
    if weight and (tuple(weight[0].shape) != (logp.shape[1],) or weight[0].dtype != logp.dtype):
        raise ShapeError(
            f"nll_loss: weight must hold one {logp.dtype} value per class, shape "
            f"({logp.shape[1]},), got {weight[0].dtype} of shape {tuple(weight[0].shape)}"
        )
    if reduction not in REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return AVal(tuple(target.shape) if reduction == "none" else (), logp.dtype)


def _nll_parts(target: Any, weight: tuple, ignore_index: int) -> tuple[Any, Any, Any]:
    """(valid targets, the class each reads, each target's weight or None); an ignored
    target reads class 0, and its loss is then replaced by 0."""
    valid = target != ignore_index
    safe = target.where(valid, 0).to(dtypes.int64)
    return valid, safe, weight[0][safe] if weight else None


def _picked(logp: Any, safe: Any) -> Any:
    """Each target's log-probability."""
    return logp.gather(1, safe.unsqueeze(1)).squeeze(1) if logp.shape[1] else logp.sum(1)


def _nll_denominator(valid: Any, w: Any, dtype: Any) -> Any:
    """The divisor of the mean: the number of valid targets, or the sum of their
    weights (0/0 = nan when every target is ignored)."""
    return (valid.to(dtype) if w is None else w.where(valid, 0)).sum()


def _nll(logp: Any, target: Any, *weight: Any, reduction: str, ignore_index: int) -> Any:
    valid, safe, w = _nll_parts(target, weight, ignore_index)
    picked = _picked(logp, safe)
    loss = -(picked if w is None else picked * w).where(valid, 0)
    if reduction == "none":
        return loss
    total = loss.sum()
    return total if reduction == "sum" else total / _nll_denominator(valid, w, logp.dtype)


def _nll_vjp(
    g: Any, out: Any, logp: Any, target: Any, *weight: Any, reduction: str, ignore_index: int
) -> tuple[Any, ...]:
    valid, safe, w = _nll_parts(target, weight, ignore_index)
    if reduction == "mean":  # every target ignored: inf here, and `keep` gives 0 below
        g = g / _nll_denominator(valid, w, g.dtype)
    gl = g if reduction == "none" else g.broadcast_to(tuple(target.shape))
    onehot = (target.unsqueeze(1) == g.iota(tuple(logp.shape), 1)) & valid.unsqueeze(1)
    scale = -gl if w is None else -gl * w
    glogp = keep(scale.unsqueeze(1).broadcast_to(tuple(logp.shape)), onehot)
    if not weight:
        return glogp, None
    if not has_value(logp):  # not saved: the weight needs no gradient
        return glogp, None, None
    # d/dw_c: minus the sum, over the targets of class c, of g (log p + the mean's value)
    picked = _picked(logp, safe)
    per_target = gl * -(picked + out) if reduction == "mean" else gl * -picked
    by_class = keep(per_target.unsqueeze(1).broadcast_to(tuple(logp.shape)), onehot)
    axes = tuple(a for a in range(logp.ndim) if a != 1)
    return glogp, None, apply("reduce_sum", by_class, axes=axes, keepdims=False)


def _nll_name(avals: tuple[AVal, ...], reduction: str = "mean", ignore_index: int = -100) -> str:
    """PyTorch's node: NllLoss2D for inputs of 3 or more dims, whose unreduced loss it
    views back to the target's shape unless the input had exactly 4 dims."""
    ndim = avals[0].ndim
    if ndim < 3:
        return "NllLossBackward0"
    if reduction == "none" and ndim != 4:
        return "ViewBackward0"
    return "NllLoss2DBackward0"


register(
    Op(
        "nll_loss",
        _nll_abstract,
        None,
        _nll_vjp,
        grad_fn=_nll_name,
        lowering=Composite(_nll),
        saves=lambda ng: (len(ng) > 2 and ng[2], True) + (True,) * (len(ng) - 2),
        saves_out=True,
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
