"""PyTorch's `torch.nn.functional` subset: activations and losses."""

from __future__ import annotations

from typing import Any

from compiler import dtypes
from compiler.operand import Operand, apply
from compiler.ops.nn import REDUCTIONS
from tracer.functions import log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401
from tracer.tensor import Tensor


def _check(op: str, reduction: str, **tensors: Any) -> None:
    """Refuse what the loss cannot take before running anything, eagerly or traced."""
    for name, t in tensors.items():
        if not isinstance(t, Operand):
            raise TypeError(f"{op}(): {name} must be a tensor, got {type(t).__name__}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}(): reduction must be one of {REDUCTIONS}, got {reduction!r}")


def linear(input: Any, weight: Any, bias: Any = None) -> Any:
    """input @ weight.T + bias, weight of shape (out_features, in_features).

    Any leading dims are flattened into one 2-D matmul, as PyTorch does (and its
    node names follow: AddmmBackward0 for 2-D input with bias, else ViewBackward0).
    """
    if bias is None:
        return input @ weight.t()
    if input.ndim != 2:
        flat = input.reshape(-1, input.shape[-1]) if input.ndim else input
        return linear(flat, weight, bias).reshape(*input.shape[:-1], weight.shape[0])
    return apply("add", input @ weight.t(), bias, name="AddmmBackward0")


def _check_targets(input: Any, target: Any, ignore_index: int) -> None:
    """Class labels must lie in 0..C-1 (or be ignore_index); checked on concrete
    targets (traced code checks them in the kernel)."""
    if not isinstance(target, Tensor) or not dtypes.is_int(target.dtype):
        return
    c = input.shape[-1] if input.ndim else 0
    t = target._data
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(
            f"nll_loss: target {int(t[bad].flat[0])} is out of bounds for {c} classes "
            f"(input of shape {tuple(input.shape)}); labels must lie in 0..{c - 1}, or be "
            f"ignore_index={ignore_index}"
        )


def nll_loss(input: Any, target: Any, reduction: str = "mean", ignore_index: int = -100) -> Any:
    """Negative log-likelihood of integer class labels; `input` holds log-probabilities
    of shape (N, C) with target (N,), or (C,) with a 0-d target (a 0-d loss)."""
    _check("nll_loss", reduction, input=input, target=target)
    _check_targets(input, target, ignore_index)
    if input.ndim == 1:
        loss = apply(
            "nll_loss",
            input.unsqueeze(0),
            target.reshape(1),
            reduction=reduction,
            ignore_index=ignore_index,
        )
        # PyTorch gives a 0-d loss for 1-D input whatever the reduction
        if reduction != "none":
            return loss
        return apply("reshape", loss, shape=(), name="NllLossBackward0")
    return apply("nll_loss", input, target, reduction=reduction, ignore_index=ignore_index)


def cross_entropy(
    input: Any, target: Any, reduction: str = "mean", ignore_index: int = -100
) -> Any:
    """Softmax cross-entropy against integer class labels, over dim 1."""
    _check("cross_entropy", reduction, input=input, target=target)
    return nll_loss(log_softmax(input, 1 if input.ndim > 1 else 0), target, reduction, ignore_index)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """Mean squared error."""
    _check("mse_loss", reduction, input=input, target=target)
    if tuple(input.shape) != tuple(target.shape):
        from compiler.ops.elementwise import broadcast_shapes

        shape = broadcast_shapes("mse_loss", tuple(input.shape), tuple(target.shape))
        input, target = input.broadcast_to(shape), target.broadcast_to(shape)
    return apply("mse_loss", input, target, reduction=reduction)
