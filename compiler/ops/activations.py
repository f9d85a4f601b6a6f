"""The activation functions PyTorch gives autograd nodes of their own (GeluBackward0,
EluBackward0, HardtanhBackward0, ...), as composites: each is defined once with the
Operand methods (its numpy impl and its fused kernel both come from that definition)
and has its own VJP, written with the same methods so it can be differentiated again.

Where an activation is constant on a region (hardtanh beyond its bounds, a threshold),
its VJP selects (`keep`/`drop`) instead of multiplying by a 0/1 mask, so an inf or nan
cotangent does not leak into that region. The boundary conventions (which side a tie
at a kink takes) and the treatment of nan inputs are PyTorch's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from compiler import dtypes
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Composite
from compiler.operand import apply
from compiler.ops.elementwise import drop, keep
from compiler.ops.math import composite_elementwise, float_only, operands_text
from compiler.registry import DIAGONAL, AVal, Op, register

__all__ = ["SELU_ALPHA", "SELU_SCALE"]

#: selu(x) = SELU_SCALE * elu(x, SELU_ALPHA) (Klambauer et al. 2017, to 17 digits)
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715


def _unary_float(name: str) -> Callable[..., AVal]:
    def abstract_eval(x: AVal, **params: Any) -> AVal:
        float_only(name, [x])
        return AVal(tuple(x.shape), x.dtype)

    return abstract_eval


def _activation(
    name: str,
    fn: Callable[..., Any],
    vjp: Callable[..., Any],
    grad_fn: str,
    abstract_eval: Callable[..., AVal] | None = None,
    jvp: Any = DIAGONAL,
) -> None:
    register(
        Op(
            name,
            abstract_eval or _unary_float(name),
            None,
            vjp,
            grad_fn=grad_fn,
            lowering=Composite(fn),
            jvp=jvp,
        )
    )


def _softplus(z: Any) -> Any:
    """log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|))."""
    return z.relu() + (-z.abs()).exp().log1p()


# ---- gelu -----------------------------------------------------------------------------------


def _gelu(x: Any, approximate: str = "none") -> Any:
    if approximate == "tanh":
        # (1 + tanh(u)) / 2 = sigmoid(2u): no cancellation for negative x
        return x * _gelu_tanh_sigmoid(x)
    # x * Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2: no cancellation for negative x
    return x * 0.5 * apply("erfc", x * -_SQRT_HALF)


def _gelu_tanh_sigmoid(x: Any) -> Any:
    """sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3)."""
    return ((x + x * x * x * _GELU_CUBIC) * (2 * _SQRT_2_OVER_PI)).sigmoid()


def _gelu_vjp(g: Any, out: Any, x: Any, approximate: str = "none") -> tuple[Any]:
    if approximate == "tanh":
        # d/dx x s(2u) = s + x 2 s (1 - s) u', with (1 - tanh(u)^2) / 2 = 2 s (1 - s)
        s = _gelu_tanh_sigmoid(x)
        d_inner = (1 + x * x * (3 * _GELU_CUBIC)) * (2 * _SQRT_2_OVER_PI)
        return (g * (s + x * s * (1 - s) * d_inner),)
    cdf = apply("erfc", x * -_SQRT_HALF) * 0.5
    pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
    return (g * (cdf + x * pdf),)


def _gelu_abstract(x: AVal, approximate: str = "none") -> AVal:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _unary_float("gelu")(x)


_activation("gelu", _gelu, _gelu_vjp, "GeluBackward0", _gelu_abstract)

# ---- sigmoid-based ----------------------------------------------------------------------------


def _silu_vjp(g: Any, out: Any, x: Any) -> tuple[Any]:
    s = x.sigmoid()
    return (g * s * (1 + x * (1 - s)),)


_activation("silu", lambda x: x * x.sigmoid(), _silu_vjp, "SiluBackward0")


def _mish_vjp(g: Any, out: Any, x: Any) -> tuple[Any]:
    t = _softplus(x).tanh()
    return (g * (t + x * x.sigmoid() * (1 - t * t)),)


_activation("mish", lambda x: x * _softplus(x).tanh(), _mish_vjp, "MishBackward0")


def _softplus_op(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    z = x * beta
    return (_softplus(z) / beta).where(z <= threshold, x)


def _softplus_vjp(g: Any, out: Any, x: Any, beta: float = 1.0, threshold: float = 20.0) -> tuple:
    z = x * beta
    return (g * z.sigmoid().where(~(z > threshold), 1),)  # nan for a nan input


_activation("softplus", _softplus_op, _softplus_vjp, "SoftplusBackward0")
# log(sigmoid(x)) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|))
_activation(
    "log_sigmoid",
    lambda x: -_softplus(-x),
    lambda g, out, x: (g * (-x).sigmoid(),),
    "LogSigmoidBackward0",
)

# ---- elu family ------------------------------------------------------------------------------


def _elu(x: Any, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0) -> Any:
    neg = (x * input_scale).expm1() * (alpha * scale)
    return (x * scale).where(x > 0, neg)


def _elu_vjp(
    g: Any, out: Any, x: Any, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0
) -> tuple[Any]:
    d_neg = (x * input_scale).exp() * (alpha * scale * input_scale)
    return (g * d_neg.where(~(x > 0), scale),)  # nan for a nan input


_activation("elu", _elu, _elu_vjp, "EluBackward0")


def _leaky_relu_vjp(g: Any, out: Any, x: Any, negative_slope: float = 0.01) -> tuple[Any]:
    return (g.where(x > 0, g * negative_slope),)


_activation(
    "leaky_relu",
    lambda x, negative_slope=0.01: x.where(x > 0, x * negative_slope),
    _leaky_relu_vjp,
    "LeakyReluBackward0",
)

# ---- piecewise linear, constant outside a range --------------------------------------------------


def _bounded(name: str) -> Callable[..., AVal]:
    """hardtanh and threshold take integer tensors too (not bool), as PyTorch."""

    def abstract_eval(x: AVal, **params: Any) -> AVal:
        if x.dtype == dtypes.bool_:
            raise DTypeError(f"{name}: bool tensors are not supported, got {operands_text([x])}")
        for key, v in params.items():
            if dtypes.is_int(x.dtype) and isinstance(v, float) and not v.is_integer():
                raise DTypeError(
                    f"{name}: {key}={v} is not an integer, but the input is {x.dtype}; "
                    "convert the input first with .float()"
                )
        return AVal(tuple(x.shape), x.dtype)

    return abstract_eval


def _hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    return x.clamp(min_val, max_val)


def _hardtanh_vjp(
    g: Any, out: Any, x: Any, min_val: float = -1.0, max_val: float = 1.0
) -> tuple[Any]:
    # 0 on the bounds and for a nan input, as PyTorch
    return (keep(g, (x > min_val) & (x < max_val)),)


_activation("hardtanh", _hardtanh, _hardtanh_vjp, "HardtanhBackward0", _bounded("hardtanh"))
_activation(
    "hardsigmoid",
    lambda x: ((x + 3) / 6).clamp(0, 1),
    lambda g, out, x: (keep(g / 6, (x > -3) & (x < 3)),),
    "HardsigmoidBackward0",
)


def _hardswish_vjp(g: Any, out: Any, x: Any) -> tuple[Any]:
    # 0 up to -3, 1 from 3 on, x/3 + 1/2 between (PyTorch's sides at the kinks); a nan
    # input takes the middle branch (nan), a nan cotangent stays out of x <= -3
    inner = (g * (x / 3 + 0.5)).where(~(x >= 3), g)
    return (drop(inner, x <= -3),)


_activation(
    "hardswish", lambda x: x * ((x + 3) / 6).clamp(0, 1), _hardswish_vjp, "HardswishBackward0"
)


def _softshrink(x: Any, lambd: float = 0.5) -> Any:
    # a nan input falls outside [-lambd, lambd] and stays nan, as PyTorch
    inside = (x >= -lambd) & (x <= lambd)
    return (x - lambd).where(x > lambd, x + lambd).where(~inside, 0)


_activation(
    "softshrink",
    _softshrink,
    lambda g, out, x, lambd=0.5: (keep(g, (x > lambd) | (x < -lambd)),),
    "SoftshrinkBackward0",
)


def _hardshrink_inside(x: Any, lambd: float) -> Any:
    return (x >= -lambd) & (x <= lambd)


_activation(
    "hardshrink",
    lambda x, lambd=0.5: x.where(~_hardshrink_inside(x, lambd), 0),
    # 0 for a nan input too, as PyTorch
    lambda g, out, x, lambd=0.5: (keep(g, (x < -lambd) | (x > lambd)),),
    "HardshrinkBackward0",
)
_activation(
    "threshold",
    lambda x, threshold, value: x.where(~(x <= threshold), value),
    lambda g, out, x, threshold, value: (drop(g, x <= threshold),),
    "ThresholdBackward0",
    _bounded("threshold"),
)

# ---- two operands ------------------------------------------------------------------------------


def _prelu_vjp(g: Any, out: Any, x: Any, w: Any) -> tuple[Any, Any]:
    pos = x > 0
    return g.where(pos, g * w), drop(g * x, pos)


composite_elementwise(
    "prelu",
    lambda x, w: x.where(x > 0, x * w),
    _prelu_vjp,
    typing=float_only,
    grad_fn="PreluKernelBackward0",
)


def _halves(x: Any, axis: int) -> tuple[Any, Any]:
    n = x.shape[axis] // 2
    head = (slice(None),) * axis
    return x[head + (slice(0, n),)], x[head + (slice(n, 2 * n),)]


def _glu_abstract(x: AVal, axis: int) -> AVal:
    float_only("glu", [x])
    if x.ndim == 0:
        raise ShapeError("glu: does not support 0-d tensors (it halves a dimension)")
    if x.shape[axis] % 2:
        raise ShapeError(
            f"glu: halving dimension must be even, but dimension {axis} is size "
            f"{x.shape[axis]} (shape {tuple(x.shape)})"
        )
    shape = list(x.shape)
    shape[axis] //= 2
    return AVal(tuple(shape), x.dtype)


def _glu(x: Any, axis: int) -> Any:
    a, b = _halves(x, axis)
    return a * b.sigmoid()


def _glu_vjp(g: Any, out: Any, x: Any, axis: int) -> tuple[Any]:
    a, b = _halves(x, axis)
    s = b.sigmoid()
    return (apply("concatenate", g * s, g * a * s * (1 - s), axis=axis),)


_activation("glu", _glu, _glu_vjp, "GluBackward0", _glu_abstract, jvp=None)
