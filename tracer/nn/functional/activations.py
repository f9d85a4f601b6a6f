"""Activations of `tracer.nn.functional` (gelu, silu, elu, hardtanh, softplus, glu,
prelu, rrelu, ...) and the distance functions normalize, cosine_similarity and
pairwise_distance, with PyTorch's signatures, `inplace=` where it has it, and its
autograd node names (an in-place elu's node is EluBackward1, as PyTorch's)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from compiler import dtypes, operand
from compiler.args import normalize_axis, reduction_axes
from compiler.errors import DTypeError, ShapeError, TraceError
from compiler.operand import Operand, apply
from compiler.ops.activations import SELU_ALPHA, SELU_SCALE
from compiler.source import describe_location
from tracer import _distributions as dist
from tracer.functions import softmax
from tracer.random import generator_or_default
from tracer.tensor import Tensor

__all__ = [
    "celu",
    "celu_",
    "cosine_similarity",
    "elu",
    "elu_",
    "gelu",
    "glu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hardtanh_",
    "leaky_relu",
    "leaky_relu_",
    "logsigmoid",
    "mish",
    "normalize",
    "pairwise_distance",
    "prelu",
    "relu",
    "relu6",
    "relu_",
    "rrelu",
    "rrelu_",
    "selu",
    "selu_",
    "silu",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "tanhshrink",
    "threshold",
    "threshold_",
]


def _tensor(op: str, x: Any, name: str = "input") -> None:
    if not isinstance(x, Operand):
        raise TypeError(f"{op}(): argument '{name}' must be a tensor, not {type(x).__name__}")


def _maybe_inplace(op: str, input: Any, inplace: bool, node: str, **params: Any) -> Any:
    """apply(op) to input, or in place into it (the node `name` PyTorch gives the
    in-place form)."""
    _tensor(op, input)
    if not inplace:
        return apply(op, input, **params)
    return input._inplace(f"{op}_", lambda x: apply(op, x, name=node, **params))


# ---- smooth activations ------------------------------------------------------------------


def gelu(input: Any, approximate: str = "none") -> Any:
    """x * Phi(x), Phi the standard normal CDF; approximate="tanh" uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    _tensor("gelu", input)
    return apply("gelu", input, approximate=approximate)


def silu(input: Any, inplace: bool = False) -> Any:
    """x * sigmoid(x)."""
    return _maybe_inplace("silu", input, inplace, "SiluBackward0")


def mish(input: Any, inplace: bool = False) -> Any:
    """x * tanh(softplus(x))."""
    return _maybe_inplace("mish", input, inplace, "MishBackward0")


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    _tensor("softplus", input)
    return apply("softplus", input, beta=float(beta), threshold=float(threshold))


def logsigmoid(input: Any) -> Any:
    """log(sigmoid(x)), without overflow for large |x|."""
    _tensor("logsigmoid", input)
    return apply("log_sigmoid", input)


def softsign(input: Any) -> Any:
    """x / (1 + |x|)."""
    _tensor("softsign", input)
    return input / (input.abs() + 1)


def tanhshrink(input: Any) -> Any:
    """x - tanh(x)."""
    _tensor("tanhshrink", input)
    return input - input.tanh()


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    """x for x > 0, alpha (exp(x) - 1) otherwise."""
    return _maybe_inplace("elu", input, inplace, "EluBackward1", alpha=float(alpha))


def elu_(input: Any, alpha: float = 1.0) -> Any:
    return elu(input, alpha, inplace=True)


def selu(input: Any, inplace: bool = False) -> Any:
    """scale * elu(x, alpha) with PyTorch's self-normalising constants."""
    return _maybe_inplace("elu", input, inplace, "EluBackward1", alpha=SELU_ALPHA, scale=SELU_SCALE)


def selu_(input: Any) -> Any:
    return selu(input, inplace=True)


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)).

    Raises ValueError for alpha == 0."""
    _tensor("celu", input)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (ZeroDivisionError in PyTorch)")
    params = dict(alpha=float(alpha), input_scale=1 / float(alpha))
    if inplace:
        return input._inplace("celu_", lambda x: apply("elu", x, name="CeluBackward1", **params))
    return apply("elu", input, name="CeluBackward0", **params)


def celu_(input: Any, alpha: float = 1.0) -> Any:
    return celu(input, alpha, inplace=True)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Any:
    """x for x > 0, negative_slope * x otherwise."""
    return _maybe_inplace(
        "leaky_relu", input, inplace, "LeakyReluBackward1", negative_slope=float(negative_slope)
    )


def leaky_relu_(input: Any, negative_slope: float = 0.01) -> Any:
    return leaky_relu(input, negative_slope, inplace=True)


def relu(input: Any, inplace: bool = False) -> Any:
    """max(x, 0)."""
    return _maybe_inplace("relu", input, inplace, "ReluBackward0")


def relu_(input: Any) -> Any:
    return relu(input, inplace=True)


# ---- piecewise linear ----------------------------------------------------------------------


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Any:
    """x clamped into [min_val, max_val]; its gradient is 0 on the bounds (PyTorch's).

    Raises ValueError when min_val > max_val."""
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val cannot be greater than max_val ({min_val} > {max_val})"
        )
    return _maybe_inplace(
        "hardtanh", input, inplace, "HardtanhBackward0", min_val=min_val, max_val=max_val
    )


def hardtanh_(input: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Any, inplace: bool = False) -> Any:
    """min(max(x, 0), 6) (a hardtanh)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input: Any, inplace: bool = False) -> Any:
    """relu6(x + 3) / 6."""
    return _maybe_inplace("hardsigmoid", input, inplace, "HardsigmoidBackward0")


def hardswish(input: Any, inplace: bool = False) -> Any:
    """x * relu6(x + 3) / 6."""
    return _maybe_inplace("hardswish", input, inplace, "HardswishBackward0")


def softshrink(input: Any, lambd: float = 0.5) -> Any:
    """x - lambd above lambd, x + lambd below -lambd, 0 between.

    Raises ValueError for a negative lambd."""
    _tensor("softshrink", input)
    if lambd < 0:
        raise ValueError(f"softshrink: lambda must be greater or equal to 0, but found {lambd}")
    return apply("softshrink", input, lambd=float(lambd))


def hardshrink(input: Any, lambd: float = 0.5) -> Any:
    """x where |x| > lambd, else 0."""
    _tensor("hardshrink", input)
    return apply("hardshrink", input, lambd=float(lambd))


def _threshold(input: Any, threshold: float, value: float, inplace: bool) -> Any:
    return _maybe_inplace(
        "threshold", input, inplace, "ThresholdBackward1", threshold=threshold, value=value
    )


def threshold(input: Any, threshold: float, value: float, inplace: bool = False) -> Any:
    """x where x > threshold, else value."""
    return _threshold(input, threshold, value, inplace)


def threshold_(input: Any, threshold: float, value: float) -> Any:
    return _threshold(input, threshold, value, True)


def glu(input: Any, dim: int = -1) -> Any:
    """a * sigmoid(b), a and b the two halves of input along dim."""
    _tensor("glu", input)
    return apply("glu", input, axis=normalize_axis(dim, input.ndim, "glu"))


def prelu(input: Any, weight: Any) -> Any:
    """x for x > 0, weight * x otherwise; weight holds 1 value or one per channel
    (dim 1 of input).

    Raises DTypeError when input and weight dtypes differ, ShapeError when the weight
    count is neither 1 nor the number of channels."""
    _tensor("prelu", input)
    _tensor("prelu", weight, "weight")
    if input.dtype != weight.dtype:
        raise DTypeError(
            f"prelu: input ({input.dtype}) and weight ({weight.dtype}) must have the same "
            "dtype (no type promotion, as PyTorch); convert the weight with .to(input.dtype)"
        )
    channels = input.shape[1] if input.ndim >= 2 else 1
    n = weight.numel()
    if weight.ndim > 1 or n not in (1, channels):
        raise ShapeError(
            f"prelu: the number of weights ({n}, shape {tuple(weight.shape)}) must be 1 or "
            f"the number of channels, dim 1 of the input ({channels}, input shape "
            f"{tuple(input.shape)})"
        )
    if n == 1:
        w = weight.reshape(())
    else:
        w = weight.reshape((n,) + (1,) * (input.ndim - 2))
    return apply("prelu", input, w)


def _rrelu_check(lower: float, upper: float) -> None:
    if lower > upper:
        raise ValueError(
            f"rrelu: lower bound should be less than or equal to upper bound, got "
            f"lower={lower}, upper={upper}"
        )


def rrelu(
    input: Any,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Any:
    """Randomized leaky relu: in training, each x <= 0 is multiplied by a slope drawn
    from U[lower, upper) (the global generator, as PyTorch draws it); otherwise the
    slope is (lower + upper) / 2.

    Raises TraceError in training mode inside a traced function (the slopes would be
    drawn once, at trace time)."""
    _tensor("rrelu", input)
    _rrelu_check(lower, upper)
    node = "RreluWithNoiseBackward1" if inplace else "RreluWithNoiseBackward0"
    if not training:
        slope = (lower + upper) / 2

        def fn(x: Any) -> Any:
            return apply("leaky_relu", x, negative_slope=slope, name=node)

    else:
        if operand.tracing.builder is not None:
            where = describe_location()
            raise TraceError(
                "rrelu in training mode inside a traced function would draw its slopes "
                "once, at trace time, and reuse them on every call"
                + (f"\n  at {where}" if where else "")
                + "\nCall model.eval() (or pass training=False) before tracing, or apply "
                "rrelu outside the traced function."
            )
        if not dtypes.is_float(input.dtype):
            raise DTypeError(f"rrelu: expected a floating point tensor, got {input.dtype}")

        def fn(x: Any) -> Any:
            return apply("mul", x, _rrelu_noise(x, lower, upper), name=node)

    return input._inplace("rrelu_", fn) if inplace else fn(input)


def _rrelu_noise(x: Tensor, lower: float, upper: float) -> Tensor:
    """1 where x > 0; elsewhere, in order, doubles of U[lower, upper) (PyTorch's
    uniform_real_distribution<double>, its bounds first rounded to float for float32
    and float16 input, PyTorch's opmath type there) rounded to x's dtype."""
    data = np.asarray(x._data)
    noise = np.ones(data.shape, data.dtype)
    neg = data <= 0
    if data.dtype != np.float64:
        lower, upper = float(np.float32(lower)), float(np.float32(upper))
    gen = generator_or_default(None, "rrelu")
    # x * (upper - lower) + lower without a fused multiply-add (PyTorch's rrelu kernel)
    unit = dist._unit(gen, int(neg.sum()), np.dtype(np.float64))
    noise[neg] = unit * (upper - lower) + lower
    return Tensor(noise)


def rrelu_(
    input: Any, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False
) -> Any:
    return rrelu(input, lower, upper, training, inplace=True)


def softmin(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Any:
    """softmax(-input, dim); with dtype, input is converted first. dim=None picks
    PyTorch's legacy dim (0 for 0-, 1- and 3-d input, else 1) and warns."""
    _tensor("softmin", input)
    if dim is None:
        warnings.warn(
            "Implicit dimension choice for softmin has been deprecated. Change the call "
            "to include dim=X as an argument.",
            UserWarning,
            stacklevel=_stacklevel,
        )
        dim = 0 if input.ndim in (0, 1, 3) else 1
    x = input if dtype is None else input.to(dtype)
    return softmax(-x, dim)


# ---- norms and distances ---------------------------------------------------------------------


def _vector_norm(x: Any, p: float, dim: Any, keepdim: bool, name: str | None = None) -> Any:
    """The p-norm over `dim`; its gradient is 0 where the norm is 0 (the subgradient
    PyTorch's norm gives there too). `name`: the node name of the result."""
    axes = reduction_axes(dim, x.ndim, "norm")
    a = x.abs()
    if p == math.inf:
        return apply("amax", a, axes=axes, keepdims=keepdim, name=name)
    if p == -math.inf:
        return apply("amin", a, axes=axes, keepdims=keepdim, name=name)
    if p == 0:
        return apply("reduce_sum", (x != 0).to(x.dtype), axes=axes, keepdims=keepdim, name=name)
    if p == 1:
        return apply("reduce_sum", a, axes=axes, keepdims=keepdim, name=name)
    s = apply("reduce_sum", x * x if p == 2 else a**p, axes=axes, keepdims=keepdim)
    positive = s > 0
    root = s.where(positive, 1).sqrt() if p == 2 else s.where(positive, 1) ** (1 / p)
    return apply("where", positive, root, 0, name=name)


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Any:
    """input / max(||input||_p over dim, eps).

    Raises TypeError for out= (not supported)."""
    _tensor("normalize", input)
    if out is not None:
        raise TypeError("normalize: out= is not supported; use the returned tensor")
    denom = _vector_norm(input, p, dim, keepdim=True).clamp_min(eps)
    return input / denom.expand_as(input)


def _float_pair(op: str, x1: Any, x2: Any) -> tuple[Any, Any]:
    _tensor(op, x1, "x1")
    _tensor(op, x2, "x2")
    d = dtypes.result_type([(x1.dtype, x1.ndim), (x2.dtype, x2.ndim)], [])
    if not dtypes.is_float(d):
        raise DTypeError(f"{op}: expected a floating point common dtype, got {d}")
    return x1.to(d), x2.to(d)


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Any:
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) over dim, x1 and x2
    broadcast together (PyTorch's formulation: the result stays within [-1, 1])."""
    x1, x2 = _float_pair("cosine_similarity", x1, x2)
    from compiler.ops.elementwise import broadcast_shapes

    shape = broadcast_shapes("cosine_similarity", tuple(x1.shape), tuple(x2.shape))
    x1, x2 = x1.broadcast_to(shape), x2.broadcast_to(shape)
    n1 = _vector_norm(x1, 2, dim, keepdim=True).clamp_min(eps)
    n2 = _vector_norm(x2, 2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(
    x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Any:
    """||x1 - x2 + eps||_p over the last dimension."""
    x1, x2 = _float_pair("pairwise_distance", x1, x2)
    last = max(x1.ndim, x2.ndim) - 1
    return _vector_norm(x1 - x2 + eps, p, max(last, 0), keepdim, name="NormBackward1")
