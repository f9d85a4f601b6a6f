"""The core of `tracer.nn.functional`: linear, the basic activations, mse_loss, dropout,
embedding, layer_norm, bilinear (the other losses are in `losses`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import operand
from compiler.errors import DTypeError, ShapeError, TraceError
from compiler.operand import Operand, apply
from compiler.ops.index import parse_index
from compiler.ops.nn import REDUCTIONS
from tracer.functions import log_softmax, sigmoid, softmax, tanh
from tracer.grad_mode import no_grad
from tracer.sampling import rand
from tracer.tensor import Tensor

__all__ = [
    "bilinear",
    "dropout",
    "embedding",
    "layer_norm",
    "linear",
    "log_softmax",
    "mse_loss",
    "sigmoid",
    "softmax",
    "tanh",
]


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


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """Mean squared error."""
    _check("mse_loss", reduction, input=input, target=target)
    if tuple(input.shape) != tuple(target.shape):
        from compiler.ops.elementwise import broadcast_shapes

        shape = broadcast_shapes("mse_loss", tuple(input.shape), tuple(target.shape))
        input, target = input.broadcast_to(shape), target.broadcast_to(shape)
    return apply("mse_loss", input, target, reduction=reduction)


def tracer_size(t: Any) -> str:
    return f"tracer.Size({list(t.shape)})"


def _tracing() -> bool:
    return operand.tracing.builder is not None


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Zero each element with probability `p` and scale the rest by 1 / (1 - p) while
    `training`; otherwise return `input` itself. The mask is drawn from the global
    generator (tracer.manual_seed) and saved for backward by the multiplication; inside
    a traced function, a new mask at every call (tracer.rand's traced form).

    Raises ValueError for p outside [0, 1].
    """
    if not isinstance(input, Operand):
        raise TypeError(f"dropout(): input must be a tensor, got {type(input).__name__}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0 or input.numel() == 0:
        return input
    dtype = input.dtype if input.dtype.kind == "f" else np.dtype(np.float32)
    if _tracing():
        keep = rand(*input.shape, dtype=dtype) < dtype.type(1 - p)
        noise = keep.to(dtype) / dtype.type(1 - p) if p < 1 else keep.to(dtype)
        return input.mul_(noise) if inplace else input * noise
    if p == 1:
        noise = Tensor(np.zeros(input.shape, dtype))
    else:
        keep = rand(*input.shape, dtype=dtype)._data < dtype.type(1 - p)
        noise = Tensor(keep.astype(dtype) / dtype.type(1 - p))
    return input.mul_(noise) if inplace else input * noise


def embedding(
    input: Any,
    weight: Any,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Any:
    """Rows of `weight` (num_embeddings, dim) picked by the integer tensor `input`:
    shape input.shape + (dim,). The gradient never reaches row `padding_idx`. With
    `max_norm`, the referenced rows whose `norm_type`-norm exceeds it are first rescaled
    in place (under no_grad) to norm max_norm, as PyTorch does.

    Raises DTypeError for a non-integer input, IndexError for an index outside
    [0, num_embeddings), ValueError for sparse=True or scale_grad_by_freq=True
    (not supported).
    """

    if not isinstance(input, Operand) or not isinstance(weight, Operand):
        raise TypeError("embedding(): input and weight must be tensors")
    if input.dtype.kind not in "iu":
        raise DTypeError(
            "embedding(): expected indices of an integer dtype (int64 or int32), but got "
            f"{input.dtype.name} (shape {tuple(input.shape)}); convert them with .long()"
        )
    if weight.ndim != 2:
        raise ValueError(f"embedding(): weight must be 2-D, got shape {tuple(weight.shape)}")
    if sparse or scale_grad_by_freq:
        option = "sparse=True" if sparse else "scale_grad_by_freq=True"
        raise ValueError(f"embedding(): {option} is not supported by tracer")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(
                f"Padding_idx must be within num_embeddings (got {padding_idx} for "
                f"{num} embeddings)"
            )
        padding_idx %= num
    concrete = not _tracing()
    if concrete and input.numel():
        idx = np.asarray(input)
        if idx.min() < 0 or idx.max() >= num:
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise IndexError(
                f"embedding(): index {bad} is out of range for a weight of {num} rows "
                f"(shape {tuple(weight.shape)}); indices must lie in 0 to {num - 1}"
            )
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    spec, arrays, _ = parse_index(weight, input)
    rows = apply("index", weight, *arrays, spec=spec, name="EmbeddingBackward0")
    if padding_idx is None:
        return rows
    # the padding row's gradient stays zero: its rows take the detached branch
    keep = (input != padding_idx).unsqueeze(-1)
    return apply("where", keep, rows, rows.detach(), name="EmbeddingBackward0")


def _renorm_rows(weight: Any, input: Any, max_norm: float, norm_type: float) -> None:
    """Rescale, in place, the rows of `weight` that `input` picks and whose norm exceeds
    `max_norm` to norm max_norm / (norm + 1e-7) * norm (PyTorch's embedding_renorm_)."""

    if _tracing():
        raise TraceError(
            "embedding(max_norm=...) rescales the weight in place, which a traced function "
            "cannot do; renormalise outside the traced function"
        )
    w = weight._data
    rows = np.unique(np.asarray(input))
    norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    if np.any(norms > max_norm):
        new = w.copy()
        new[rows] = w[rows] * scale[:, None].astype(w.dtype)
        with no_grad():
            weight.copy_(Tensor(new))


def layer_norm(
    input: Any,
    normalized_shape: Any,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Any:
    """Normalise over the last len(normalized_shape) dims: (x - mean) / sqrt(var + eps)
    * weight + bias, var being the mean of squared deviations (biased, as PyTorch).

    Raises ShapeError when the input's trailing dims differ from normalized_shape.
    """

    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k :]) != shape or input.ndim < k:
        raise ShapeError(
            f"layer_norm: given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size {list(input.shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(
                f"layer_norm: {name} of shape {tuple(t.shape)} does not match "
                f"normalized_shape {shape}"
            )
    dims = tuple(range(-k, 0))
    centered = input - input.mean(dims, keepdim=True)
    var = (centered * centered).mean(dims, keepdim=True)
    rstd = 1 / (var + eps).sqrt()
    name = "NativeLayerNormBackward0"
    if weight is None and bias is None:
        return apply("mul", centered, rstd, name=name)
    out = centered * rstd
    if bias is None:
        return apply("mul", out, weight, name=name)
    if weight is not None:
        out = out * weight
    return apply("add", out, bias, name=name)


def bilinear(input1: Any, input2: Any, weight: Any, bias: Any = None) -> Any:
    """y[..., o] = sum_ij input1[..., i] * weight[o, i, j] * input2[..., j] + bias[o].

    Raises ShapeError when the leading dims of the inputs differ or the weight's
    shape is not (out, in1, in2).
    """

    if (
        weight.ndim != 3
        or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1])
        or input1.shape[-1:] != weight.shape[1:2]
        or input2.shape[-1:] != weight.shape[2:3]
    ):
        raise ShapeError(
            f"bilinear: input1 {tuple(input1.shape)} and input2 {tuple(input2.shape)} must "
            f"have the same leading dims and last dims matching weight "
            f"(out, in1, in2) = {tuple(weight.shape)}"
        )
    out_f, in1, in2 = weight.shape
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    t = (x1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    y = (t * x2.unsqueeze(1)).sum(-1).reshape(*lead, out_f)
    return y if bias is None else y + bias
