"""The losses PyTorch computes as nodes of their own (BinaryCrossEntropyBackward0,
SmoothL1LossBackward0, ...): each a composite defined once with Operand methods, in
a form that stays finite for large inputs, with its VJP.

Optional tensor arguments (weight, pos_weight) are extra inputs, present as the
params `weighted` and `pos_weighted` say. Unlike PyTorch, which refuses them, the
weights get gradients too (the true ones).
"""

from __future__ import annotations

from typing import Any

from compiler import dtypes
from compiler.dispatch import apply
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Composite
from compiler.ops.elementwise import broadcast_shapes
from compiler.ops.shape import count
from compiler.registry import AVal, Op, register

REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(loss: Any, reduction: str) -> Any:
    """The elementwise `loss`, summed or averaged over every element (nan when empty)."""
    if reduction == "none":
        return loss
    axes = tuple(range(loss.ndim))
    total = apply("reduce_sum", loss, axes=axes, keepdims=False)
    return total if reduction == "sum" else total / count(loss, axes)


def spread(g: Any, like: Any, reduction: str) -> Any:
    """The cotangent of each element of the unreduced loss (shaped like `like`)."""
    if reduction == "mean":
        g = g / count(like, tuple(range(like.ndim)))
    return g if reduction == "none" else g.broadcast_to(tuple(like.shape))


def softplus(x: Any) -> Any:
    """log(1 + e^x), without overflow: max(x, 0) + log1p(e^-|x|)."""
    return x.relu() + (-x.abs()).exp().log1p()


def _abstract(name: str, n_same: int):
    """Shapes: the first `n_same` inputs share one shape; the rest (weights) broadcast to
    it. One float dtype throughout."""

    def abstract_eval(*xs: AVal, reduction: str, **params: Any) -> AVal:
        if reduction not in REDUCTIONS:
            raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        shape = tuple(xs[0].shape)
        for x in xs[1:n_same]:
            if tuple(x.shape) != shape:
                raise ShapeError(
                    f"{name}: input of shape {shape} and target of shape {tuple(x.shape)} "
                    "must have the same shape"
                )
        for x in xs[n_same:]:
            if broadcast_shapes(name, tuple(x.shape), shape) != shape:
                raise ShapeError(
                    f"{name}: a weight of shape {tuple(x.shape)} does not broadcast to the "
                    f"input's shape {shape}"
                )
        for x in xs:
            if not dtypes.is_float(x.dtype) or x.dtype != xs[0].dtype:
                shown = ", ".join(str(x.dtype) for x in xs)
                raise DTypeError(
                    f"{name}: expected floating point tensors of one dtype, got {shown}; "
                    "convert them with .to()"
                )
        return AVal(shape if reduction == "none" else (), xs[0].dtype)

    return abstract_eval


# ---- binary cross-entropy -------------------------------------------------------------


def _bce_terms(x: Any, y: Any) -> tuple[Any, Any]:
    """max(log x, -100) and max(log(1 - x), -100): PyTorch's clamp of the logs, so x = 0
    or 1 gives a loss of 100, not inf."""
    return x.log().clamp(min=-100), (-x).log1p().clamp(min=-100)


def _bce(x: Any, y: Any, *w: Any, reduction: str) -> Any:
    log_x, log_1mx = _bce_terms(x, y)
    loss = -(y * log_x + (1 - y) * log_1mx)
    return reduce_loss(loss * w[0] if w else loss, reduction)


def _bce_vjp(g: Any, out: Any, x: Any, y: Any, *w: Any, reduction: str) -> tuple:
    gl = spread(g, x, reduction)
    log_x, log_1mx = _bce_terms(x, y)
    gw = gl * w[0] if w else gl
    # PyTorch's derivative: (x - y) / max(x (1 - x), eps), its eps the C float 1e-12f
    # (9.999999960041972e-13 as a double)
    gx = gw * (x - y) / (x * (1 - x)).clamp(min=9.999999960041972e-13)
    gy = gw * (log_1mx - log_x)
    return (gx, gy, gl * -(y * log_x + (1 - y) * log_1mx)) if w else (gx, gy)


register(
    Op(
        "binary_cross_entropy",
        _abstract("binary_cross_entropy", 2),
        None,
        _bce_vjp,
        grad_fn="BinaryCrossEntropyBackward0",
        lowering=Composite(_bce),
    )
)


def _bce_logits_parts(x: Any, y: Any, rest: tuple, weighted: bool, pos_weighted: bool) -> tuple:
    w = rest[0] if weighted else None
    pw = rest[-1] if pos_weighted else None
    return w, pw


def _bce_logits_unweighted(x: Any, y: Any, pw: Any) -> Any:
    """(1 - y) x + (1 + (pw - 1) y) log(1 + e^-x), finite for any logit."""
    sp = softplus(-x)
    if pw is None:
        return (1 - y) * x + sp
    return (1 - y) * x + (1 + (pw - 1) * y) * sp


def _bce_logits(x: Any, y: Any, *rest: Any, reduction: str, weighted: bool, pos_weighted: bool):
    w, pw = _bce_logits_parts(x, y, rest, weighted, pos_weighted)
    loss = _bce_logits_unweighted(x, y, pw)
    return reduce_loss(loss if w is None else loss * w, reduction)


def _bce_logits_vjp(
    g: Any, out: Any, x: Any, y: Any, *rest: Any, reduction: str, weighted: bool, pos_weighted: bool
) -> tuple:
    w, pw = _bce_logits_parts(x, y, rest, weighted, pos_weighted)
    gl = spread(g, x, reduction)
    gw = gl if w is None else gl * w
    sp = softplus(-x)
    if pw is None:
        gx = gw * (x.sigmoid() - y)
        gy = gw * -x
    else:  # d/dx: (1 + (pw - 1) y) sigmoid(x) - pw y
        gx = gw * ((1 + (pw - 1) * y) * x.sigmoid() - pw * y)
        gy = gw * ((pw - 1) * sp - x)
    grads = [gx, gy]
    if w is not None:
        grads.append(gl * _bce_logits_unweighted(x, y, pw))
    if pw is not None:
        grads.append(gw * y * sp)
    return tuple(grads)


register(
    Op(
        "binary_cross_entropy_with_logits",
        _abstract("binary_cross_entropy_with_logits", 2),
        None,
        _bce_logits_vjp,
        grad_fn="BinaryCrossEntropyWithLogitsBackward0",
        lowering=Composite(_bce_logits),
    )
)


# ---- smooth L1, Huber, soft margin ---------------------------------------------------------


def _smooth_l1(x: Any, y: Any, reduction: str, beta: float) -> Any:
    d = x - y
    ad = d.abs()
    return reduce_loss((d * d * (0.5 / beta)).where(ad < beta, ad - 0.5 * beta), reduction)


def _smooth_l1_vjp(g: Any, out: Any, x: Any, y: Any, reduction: str, beta: float) -> tuple:
    d = x - y
    gd = spread(g, d, reduction) * (d / beta).where(d.abs() < beta, d.sign())
    return gd, -gd


register(
    Op(
        "smooth_l1_loss",
        _abstract("smooth_l1_loss", 2),
        None,
        _smooth_l1_vjp,
        grad_fn="SmoothL1LossBackward0",
        lowering=Composite(_smooth_l1),
    )
)


def _huber(x: Any, y: Any, reduction: str, delta: float) -> Any:
    d = x - y
    ad = d.abs()
    return reduce_loss((d * d * 0.5).where(ad < delta, (ad - 0.5 * delta) * delta), reduction)


def _huber_vjp(g: Any, out: Any, x: Any, y: Any, reduction: str, delta: float) -> tuple:
    d = x - y
    gd = spread(g, d, reduction) * d.where(d.abs() < delta, d.sign() * delta)
    return gd, -gd


register(
    Op(
        "huber_loss",
        _abstract("huber_loss", 2),
        None,
        _huber_vjp,
        grad_fn="HuberLossBackward0",
        lowering=Composite(_huber),
    )
)


def _soft_margin_vjp(g: Any, out: Any, x: Any, y: Any, reduction: str) -> tuple:
    # d/dz log(1 + e^-z) = -sigmoid(-z), z = y x
    s = -(-(y * x)).sigmoid() * spread(g, x, reduction)
    return s * y, s * x


register(
    Op(
        "soft_margin_loss",
        _abstract("soft_margin_loss", 2),
        None,
        _soft_margin_vjp,
        grad_fn="SoftMarginLossBackward0",
        lowering=Composite(lambda x, y, reduction: reduce_loss(softplus(-(y * x)), reduction)),
    )
)
