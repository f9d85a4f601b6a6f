"""The losses of `tracer.nn.functional`, with PyTorch's signatures, reductions and nodes.

Where PyTorch has a node of its own (nll_loss, binary_cross_entropy, smooth_l1_loss,
...) the loss is one op (`compiler/ops/losses.py`, `compiler/ops/nn.py`); the others
compose ops as PyTorch does, so their results carry the same grad_fn. Every form is
finite for large logits (log-sum-exp and softplus, never a rounded probability's
log), and ignored targets are selected away, never multiplied by a 0/1 mask.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from compiler import dtypes, operand
from compiler.dispatch import apply
from compiler.errors import ShapeError
from compiler.operand import Operand
from compiler.ops.elementwise import broadcast_shapes
from compiler.ops.losses import REDUCTIONS, softplus
from tracer.functions import log_softmax
from tracer.nn.functional.core import _check
from tracer.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
]


def _reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """`reduction`, or what PyTorch's deprecated size_average/reduce pair means (with its
    warning)."""
    if size_average is None and reduce is None:
        return reduction
    from tracer.nn.modules.loss import legacy_reduction

    return legacy_reduction(size_average, reduce)


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _concrete(x: Any) -> bool:
    return isinstance(x, Tensor) and operand.tracing.builder is None


def _broadcast_pair(op: str, input: Any, target: Any) -> tuple[Any, Any]:
    """input and target broadcast to one shape, with PyTorch's warning when they differ."""
    if tuple(input.shape) == tuple(target.shape):
        return input, target
    warnings.warn(
        f"Using a target size ({tuple(target.shape)}) that is different to the input size "
        f"({tuple(input.shape)}). This will likely lead to incorrect results due to "
        "broadcasting. Please ensure they have the same size.",
        UserWarning,
        stacklevel=3,
    )
    shape = broadcast_shapes(op, tuple(input.shape), tuple(target.shape))
    return input.broadcast_to(shape), target.broadcast_to(shape)


def _same_shape(op: str, input: Any, target: Any) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{op}: target size ({tuple(target.shape)}) must be the same as input size "
            f"({tuple(input.shape)})"
        )


# ---- class labels: nll_loss and cross_entropy ----------------------------------------------


def _check_targets(input: Any, target: Any, ignore_index: int) -> None:
    """Class labels must lie in 0..C-1 (or be ignore_index); checked on concrete
    targets (traced code checks them in the kernel)."""
    if not _concrete(target) or not dtypes.is_int(target.dtype):
        return
    c = input.shape[1] if input.ndim > 1 else input.shape[0] if input.ndim else 0
    t = target._data
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(
            f"nll_loss: target {int(t[bad].flat[0])} is out of bounds for {c} classes "
            f"(input of shape {tuple(input.shape)}); labels must lie in 0..{c - 1}, or be "
            f"ignore_index={ignore_index}"
        )


def _weight(op: str, weight: Any, input: Any) -> tuple[Any, ...]:
    """The class weights as extra op inputs (none when None)."""
    if weight is None:
        return ()
    if not isinstance(weight, Operand):
        raise TypeError(f"{op}(): weight must be a tensor, got {type(weight).__name__}")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    if tuple(weight.shape) != (c,):
        raise ShapeError(
            f"{op}: weight tensor should be defined either for all {c} classes or no classes "
            f"but got weight tensor of shape: {list(weight.shape)}"
        )
    return (weight.to(input.dtype),)


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Any:
    """Negative log-likelihood of integer class labels. `input` holds log-probabilities:
    (N, C) with target (N,), (N, C, d1, ...) with target (N, d1, ...), or (C,) with a 0-d
    target. With class weights w, each loss is scaled by w[target], and the mean divides
    by the sum of the weights of the targets that are not ignored (PyTorch's rule).

    Raises IndexError for a label outside 0..C-1 (other than ignore_index), ShapeError
    for mismatched shapes, ValueError for an unknown reduction.
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check("nll_loss", reduction, input=input, target=target)
    _check_targets(input, target, ignore_index)
    w = _weight("nll_loss", weight, input)
    if input.ndim == 1:
        loss = apply(
            "nll_loss",
            input.unsqueeze(0),
            target.reshape(1),
            *w,
            reduction=reduction,
            ignore_index=ignore_index,
        )
        # PyTorch gives a 0-d loss for 1-D input whatever the reduction
        if reduction != "none":
            return loss
        return apply("reshape", loss, shape=(), name="NllLossBackward0")
    return apply("nll_loss", input, target, *w, reduction=reduction, ignore_index=ignore_index)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Any:
    """Softmax cross-entropy over the class dim (1, or 0 for a 1-D input).

    `target` holds class labels ((N,), (N, d1, ...), or 0-d for a 1-D input) or class
    probabilities of the input's shape (soft labels). `label_smoothing` mixes the
    labels with the uniform distribution; `weight` scales each class. The mean over
    class labels divides by the summed weights of the targets that are not ignored;
    over probabilities, by the number of samples. Computed from log_softmax, so huge
    logits give the right loss.

    Raises ValueError for label_smoothing outside [0, 1] or ignore_index with
    probabilities; see nll_loss for the rest.
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check("cross_entropy", reduction, input=input, target=target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    dim = 1 if input.ndim > 1 else 0
    logp = log_softmax(input, dim)
    if dtypes.is_float(target.dtype):
        return _soft_cross_entropy(logp, target, weight, ignore_index, reduction, label_smoothing)
    loss = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return loss
    w = _weight("cross_entropy", weight, input)
    classes = input.shape[dim]
    ignored = target == ignore_index
    if w:
        shape = [1] * input.ndim
        shape[dim] = classes
        smooth = -(logp * w[0].reshape(shape)).sum(dim)
    else:
        smooth = -logp.sum(dim)
    smooth = smooth.where(~ignored, 0)
    if reduction == "mean":
        if w:
            kept = w[0][target.where(~ignored, 0)].where(~ignored, 0).sum()
        else:
            kept = (~ignored).sum()
        smooth = smooth.sum() / kept
    elif reduction == "sum":
        smooth = smooth.sum()
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / classes)


def _soft_cross_entropy(
    logp: Any, target: Any, weight: Any, ignore_index: int, reduction: str, smoothing: float
) -> Any:
    """Cross-entropy against class probabilities of the input's shape."""
    if tuple(target.shape) != tuple(logp.shape):
        raise ShapeError(
            f"cross_entropy: class probabilities as target need the input's shape "
            f"{tuple(logp.shape)}, got {tuple(target.shape)}"
        )
    if ignore_index >= 0:
        raise ValueError("cross_entropy: ignore_index is not supported for floating point target")
    dim = 1 if logp.ndim > 1 else 0
    classes = logp.shape[dim]
    if smoothing > 0:
        target = target * (1 - smoothing) + smoothing / classes
    prod = logp * target
    w = _weight("cross_entropy", weight, logp)
    if w:
        shape = [1] * logp.ndim
        shape[dim] = classes
        prod = prod * w[0].reshape(shape)
    if reduction == "none":
        return -prod.sum(dim)
    total = -prod.sum()
    if reduction == "sum":
        return total
    samples = logp.numel() // classes if classes else 0
    return apply("div", total, samples if samples else math.nan, name="DivBackward1")


# ---- regression losses ---------------------------------------------------------------------


def l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Any:
    """Mean (or sum, or elementwise) absolute error; the operands broadcast (warning)."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("l1_loss", reduction, input=input, target=target)
    input, target = _broadcast_pair("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Any:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta = 0
    is l1_loss. Raises ValueError for beta < 0."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("smooth_l1_loss", reduction, input=input, target=target)
    if beta < 0:
        raise ValueError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    input, target = _broadcast_pair("smooth_l1_loss", input, target)
    return apply("smooth_l1_loss", input, target, reduction=reduction, beta=float(beta))


def huber_loss(
    input: Any, target: Any, reduction: str = "mean", delta: float = 1.0, weight: Any = None
) -> Any:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); delta > 0. `weight`
    (of the input's shape) scales each element before the reduction."""
    _check("huber_loss", reduction, input=input, target=target)
    if delta <= 0:
        raise ValueError(f"huber_loss does not support non-positive values for delta, got {delta}")
    input, target = _broadcast_pair("huber_loss", input, target)
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise ValueError(
            f"huber_loss: Weights and input must have the same size, got {tuple(weight.shape)} "
            f"and {tuple(input.shape)}"
        )
    if weight is None:
        return apply("huber_loss", input, target, reduction=reduction, delta=float(delta))
    loss = apply("huber_loss", input, target, reduction="none", delta=float(delta)) * weight
    return _reduce(loss, reduction)


def soft_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Any:
    """log(1 + exp(-target * input)) for targets +-1, computed without overflow."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("soft_margin_loss", reduction, input=input, target=target)
    input, target = _broadcast_pair("soft_margin_loss", input, target.to(input.dtype))
    return apply("soft_margin_loss", input, target, reduction=reduction)


def kl_div(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Any:
    """KL(target || input) pointwise: target (log target - input), with 0 log 0 = 0, for
    `input` holding log-probabilities (and `target` too when log_target). reduction
    'batchmean' divides the sum by the batch size (the true KL divergence); 'mean'
    divides by every element, with PyTorch's warning."""
    reduction = _reduction(size_average, reduce, reduction)
    if reduction not in (*REDUCTIONS, "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            UserWarning,
            stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        t_log_t = target * target.where(target != 0, 1).log()
        loss = t_log_t - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Any:
    """Poisson negative log-likelihood: exp(input) - target input with log_input, else
    input - target log(input + eps); `full` adds Stirling's approximation of
    log(target!) where target > 1."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("poisson_nll_loss", reduction, input=input, target=target)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + (target * (2 * math.pi)).log() * 0.5
        loss = loss + stirling.where(target > 1, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Any,
    target: Any,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Any:
    """0.5 (log var + (input - target)^2 / var) (+ 0.5 log 2 pi with `full`). `var` has
    the input's shape, or one dim less, or a last dim of 1 (one variance per sample), or
    is a number; it is clamped to at least eps for the value, while its gradient passes
    as if unclamped (as PyTorch's clamp under no_grad). Raises ValueError for a var of
    the wrong size or with negative entries."""
    if isinstance(var, (int, float)):
        var = input.full_like(float(var), shape=(1,) * max(input.ndim, 1))
    _check("gaussian_nll_loss", reduction, input=input, target=target, var=var)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif (
            not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1:] == (1,))
            and var.numel() != 1
        ):
            raise ValueError("var is of incorrect size")
    if _concrete(var) and (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    var = var.clamp(min=eps).detach() + (var - var.detach())
    loss = ((input - target) ** 2 / var + var.log()) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ---- margin and embedding losses --------------------------------------------------------------


def _clamp_min(x: Any, low: float) -> Any:
    return apply("clamp", x, lo=low, hi=None, name="ClampMinBackward0")


def margin_ranking_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Any:
    """max(0, -target (input1 - input2) + margin), targets +-1."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("margin_ranking_loss", reduction, input1=input1, input2=input2, target=target)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ShapeError(
            f"margin_ranking_loss: All input tensors should have same dimension but got sizes: "
            f"input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, target: "
            f"{tuple(target.shape)}"
        )
    return _reduce(_clamp_min(-target * (input1 - input2) + margin, 0), reduction)


def hinge_embedding_loss(
    input: Any,
    target: Any,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Any:
    """input where target is 1, max(0, margin - input) where it is -1."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("hinge_embedding_loss", reduction, input=input, target=target)
    hinge = _clamp_min(margin - input, 0).where(target != 1, 0)
    return _reduce(hinge + input.where(target != -1, 0), reduction)


_COSINE_EPS = 1e-12  # added to each squared norm, as PyTorch


def cosine_embedding_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Any:
    """1 - cos(input1, input2) where target is 1, max(0, cos - margin) where it is -1;
    inputs (N, D) with target (N,), or (D,) with a 0-d target."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("cosine_embedding_loss", reduction, input1=input1, input2=input2, target=target)
    if input1.ndim not in (1, 2) or target.ndim != input1.ndim - 1:
        raise ShapeError(
            f"cosine_embedding_loss: expected inputs (N, D) with target (N,), or (D,) with a "
            f"0-d target, got {tuple(input1.shape)}, {tuple(input2.shape)} and "
            f"{tuple(target.shape)}"
        )
    dim = target.ndim
    dot = (input1 * input2).sum(dim)
    sq1 = (input1 * input1).sum(dim) + _COSINE_EPS
    sq2 = (input2 * input2).sum(dim) + _COSINE_EPS
    cos = dot / (sq1 * sq2).sqrt()
    positive = (1 - cos).where(target == 1, 0)
    negative = _clamp_min(cos - margin, 0).where(target == -1, 0)
    return _reduce(positive + negative, reduction)


def _log_sigmoid(x: Any) -> Any:
    """log(sigmoid(x)) = -softplus(-x), finite for any x."""
    return -softplus(-x)


def multilabel_soft_margin_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Any:
    """Binary cross-entropy of each class's logit against targets in {0, 1}, averaged
    over the classes (the last dim); `weight` scales each class."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("multilabel_soft_margin_loss", reduction, input=input, target=target)
    loss = -(target * _log_sigmoid(input) + (1 - target) * _log_sigmoid(-input))
    if weight is not None:
        loss = loss * weight
    classes = input.shape[-1]
    loss = loss.sum(input.ndim - 1) / classes
    return _reduce(loss, reduction)


def _pairwise_distance(x1: Any, x2: Any, p: float, eps: float) -> Any:
    """||x1 - x2 + eps||_p over the last dim (PyTorch's pairwise_distance)."""
    d = x1 - x2 + eps
    if p == 2:
        return (d * d).sum(-1).sqrt()
    if p == 1:
        return d.abs().sum(-1)
    if p == math.inf:
        return d.abs().amax(-1)
    return (d.abs() ** p).sum(-1) ** (1 / p)


def triplet_margin_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Any:
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d the p-norm distance
    of pairwise_distance; with `swap`, d(anchor, negative) is replaced by the smaller of
    it and d(positive, negative)."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("triplet_margin_loss", reduction, anchor=anchor, positive=positive, negative=negative)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ShapeError(
            "triplet_margin_loss: The anchor, positive, and negative tensors are expected to "
            f"have the same number of dimensions, but got: anchor {anchor.ndim}D, positive "
            f"{positive.ndim}D, and negative {negative.ndim}D inputs"
        )
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(_pairwise_distance(positive, negative, p, eps))
    return _reduce(_clamp_min(d_pos - d_neg + margin, 0), reduction)


# ---- binary cross-entropy ---------------------------------------------------------------------


def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Any:
    """-w (target log(input) + (1 - target) log(1 - input)), each log clamped at -100 as
    PyTorch does (so input 0 or 1 gives a finite loss). `weight` broadcasts to the input.

    Raises ValueError when target's shape differs from input's, and RuntimeError for
    input values outside [0, 1] (checked on concrete tensors)."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("binary_cross_entropy", reduction, input=input, target=target)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}) is deprecated. Please ensure they have the same size."
        )
    if _concrete(input) and input.numel():
        data = input._data
        if not ((data >= 0) & (data <= 1)).all():
            raise RuntimeError(
                "binary_cross_entropy: all elements of input should be between 0 and 1 "
                "(use binary_cross_entropy_with_logits for logits)"
            )
    extra = () if weight is None else (weight.to(input.dtype).broadcast_to(input.shape),)
    return apply("binary_cross_entropy", input, target.to(input.dtype), *extra, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Any:
    """Binary cross-entropy of sigmoid(input), computed from the logits as
    (1 - t) x + (1 + (pos_weight - 1) t) log(1 + e^-x) (finite for any logit).
    `weight` scales each element, `pos_weight` the positive term (broadcasting over the
    last dim, one per class). Raises ValueError when target's shape differs."""
    reduction = _reduction(size_average, reduce, reduction)
    _check("binary_cross_entropy_with_logits", reduction, input=input, target=target)
    _same_shape("binary_cross_entropy_with_logits", input, target)
    extra = []
    for t in (weight, pos_weight):
        if t is not None:
            extra.append(t.to(input.dtype).broadcast_to(input.shape))
    return apply(
        "binary_cross_entropy_with_logits",
        input,
        target.to(input.dtype),
        *extra,
        reduction=reduction,
        weighted=weight is not None,
        pos_weighted=pos_weight is not None,
    )
