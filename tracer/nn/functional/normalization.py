"""Normalisations over batches, groups and channels: batch_norm, group_norm,
instance_norm, local_response_norm (layer_norm is in `core`).

Each is written with the library's ops (means of the centred values, biased
variance, 1 / sqrt(var + eps)), so its gradient and second-order gradient come from
their rules, and a traced use fuses into a few loops. Running statistics are
updated in place under no_grad, with the unbiased variance, as PyTorch does.
"""

from __future__ import annotations

from typing import Any

from compiler.errors import DTypeError, ShapeError
from compiler.operand import Operand, apply
from compiler.ops.conv import pad as pad_op
from compiler.ops.conv import windows
from tracer.grad_mode import no_grad

__all__ = ["batch_norm", "group_norm", "instance_norm", "local_response_norm"]


def _check(op: str, **tensors: Any) -> None:
    for name, t in tensors.items():
        if t is not None and not isinstance(t, Operand):
            raise TypeError(f"{op}(): {name} must be a tensor, got {type(t).__name__}")


def _channel_param(op: str, name: str, t: Any, c: int, x: Any) -> None:
    if t is None:
        return
    if tuple(t.shape) != (c,):
        raise ShapeError(
            f"{op}: {name} should contain {c} elements (one per channel of the input of "
            f"shape {tuple(x.shape)}), got shape {tuple(t.shape)}"
        )
    if t.dtype != x.dtype and name in ("weight", "bias"):
        raise DTypeError(f"{op}: input is {x.dtype} but {name} is {t.dtype}")


def _per_channel(t: Any, ndim: int) -> Any:
    """A (C,) tensor shaped to broadcast along dim 1 of an ndim-d input."""
    return t.reshape(-1, *(1,) * (ndim - 2))


def _affine(y: Any, weight: Any, bias: Any, name: str) -> Any:
    """y * weight + bias (each per channel, either may be None), the last op named."""
    if weight is None and bias is None:
        return apply("copy", y, name=name)
    if bias is None:
        return apply("mul", y, _per_channel(weight, y.ndim), name=name)
    if weight is not None:
        y = y * _per_channel(weight, y.ndim)
    return apply("add", y, _per_channel(bias, y.ndim), name=name)


def _update(running: Any, value: Any, momentum: float, op: str) -> None:
    """running = (1 - momentum) * running + momentum * value, in place, untracked
    (inside a traced function: written back to the buffers after each call)."""
    with no_grad():
        running.mul_(1 - momentum).add_(value.detach().to(running.dtype) * momentum)


def batch_norm(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Any:
    """Normalise each channel (dim 1) of a (N, C, *) input over the batch and the
    other dims: (x - mean) / sqrt(var + eps) * weight + bias. While `training` the
    batch's statistics are used (biased variance) and the running ones, when given,
    move towards them by `momentum` (with the unbiased variance); otherwise the running
    statistics are used.

    Raises ValueError for a single value per channel while training, RuntimeError for
    missing running statistics in eval mode. Inside a traced function the running
    statistics are updated by the compiled code, after each call."""
    _check("batch_norm", input=input, running_mean=running_mean, running_var=running_var)
    _check("batch_norm", weight=weight, bias=bias)
    if input.ndim < 2:
        raise ShapeError(
            f"batch_norm: expected an input of at least 2 dims (N, C, *), got shape "
            f"{tuple(input.shape)}"
        )
    if input.dtype.kind != "f":
        raise DTypeError(f"batch_norm: expected a floating point input, got {input.dtype}")
    c = input.shape[1]
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        _channel_param("batch_norm", name, t, c, input)
    axes = (0, *range(2, input.ndim))
    node = "NativeBatchNormBackward0"
    if training:
        count = input.numel() // max(c, 1)
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"of shape {tuple(input.shape)}"
            )
        mean = input.mean(axes, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(axes, keepdim=True)
        y = centered * (1 / (var + eps).sqrt())
        if running_mean is not None:
            _update(running_mean, mean.reshape(c), momentum, "batch_norm")
        if running_var is not None:
            _update(running_var, var.reshape(c) * (count / (count - 1)), momentum, "batch_norm")
        return _affine(y, weight, bias, node)
    if running_mean is None or running_var is None:
        raise RuntimeError(
            "batch_norm: running_mean and running_var must be defined in evaluation mode"
        )
    shape = (1, c, *(1,) * (input.ndim - 2))
    mean = running_mean.reshape(shape).to(input.dtype)
    std = (running_var.reshape(shape).to(input.dtype) + eps).sqrt()
    return _affine((input - mean) / std, weight, bias, node)


def group_norm(
    input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> Any:
    """Normalise each group of num_groups consecutive channels of a (N, C, *) input
    over the group's channels and the other dims, then scale and shift per channel.

    Raises ShapeError when C is not divisible by num_groups."""
    _check("group_norm", input=input, weight=weight, bias=bias)
    if input.ndim < 2:
        raise ShapeError(
            f"group_norm: expected an input of at least 2 dims (N, C, *), got shape "
            f"{tuple(input.shape)}"
        )
    n, c = input.shape[:2]
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups <= 0:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    if c % num_groups:
        raise ShapeError(
            f"group_norm: expected number of channels in input to be divisible by num_groups, "
            f"but got input of shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        _channel_param("group_norm", name, t, c, input)
    g = input.reshape(n, num_groups, -1)
    centered = g - g.mean(-1, keepdim=True)
    var = (centered * centered).mean(-1, keepdim=True)
    y = (centered * (1 / (var + eps).sqrt())).reshape(input.shape)
    return _affine(y, weight, bias, "NativeGroupNormBackward0")


def instance_norm(
    input: Any,
    running_mean: Any = None,
    running_var: Any = None,
    weight: Any = None,
    bias: Any = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Any:
    """Normalise each channel of each sample of a (N, C, *) input over its other dims.
    With use_input_stats=False the running statistics are used instead; with running
    statistics given and use_input_stats, they move towards the batch's average of the
    per-sample statistics (unbiased variance).

    Raises ValueError for a single spatial element while using input statistics."""
    _check("instance_norm", input=input, running_mean=running_mean, running_var=running_var)
    _check("instance_norm", weight=weight, bias=bias)
    if input.ndim < 3:
        raise ShapeError(
            f"instance_norm: expected an input of at least 3 dims (N, C, *), got shape "
            f"{tuple(input.shape)}"
        )
    c = input.shape[1]
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        _channel_param("instance_norm", name, t, c, input)
    node = "ViewBackward0"
    axes = tuple(range(2, input.ndim))
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError(
                "instance_norm: running_mean and running_var must be given when "
                "use_input_stats=False"
            )
        shape = (1, c, *(1,) * (input.ndim - 2))
        mean = running_mean.reshape(shape).to(input.dtype)
        std = (running_var.reshape(shape).to(input.dtype) + eps).sqrt()
        return _affine((input - mean) / std, weight, bias, node)
    count = input.numel() // max(input.shape[0] * c, 1)
    if count <= 1:
        raise ValueError(
            f"instance_norm: expected more than 1 spatial element when training, got input "
            f"of shape {tuple(input.shape)}"
        )
    mean = input.mean(axes, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(axes, keepdim=True)
    y = centered * (1 / (var + eps).sqrt())
    if running_mean is not None:
        _update(running_mean, mean.mean(0).reshape(c), momentum, "instance_norm")
    if running_var is not None:
        unbiased = var.mean(0).reshape(c) * (count / (count - 1))
        _update(running_var, unbiased, momentum, "instance_norm")
    return _affine(y, weight, bias, node)


def local_response_norm(
    input: Any, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Any:
    """x / (k + alpha * mean of x**2 over `size` neighbouring channels) ** beta, the
    neighbourhood of channel c being c - size // 2 to c + (size - 1) // 2 (zeros past
    the ends, counted in the mean)."""
    _check("local_response_norm", input=input)
    if input.ndim < 3:
        raise ValueError(
            f"local_response_norm: expected 3D or higher dimensionality input (got "
            f"{input.ndim} dimensions)"
        )
    if input.numel() == 0:
        return input
    sq = input * input
    x = sq.reshape(input.shape[0], input.shape[1], -1).transpose(1, 2)  # (N, rest, C)
    x = pad_op(x, ((0, 0), (0, 0), (size // 2, (size - 1) // 2)))
    div = windows(x, (size,), (1,), (1,)).sum(-1) / size  # (N, rest, C)
    div = div.transpose(1, 2).reshape(input.shape)
    return input / (div * alpha + k) ** beta
