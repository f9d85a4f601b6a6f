"""`nn.init`: fill a tensor in place (under no_grad) from PyTorch's initialisation
formulas, drawing as PyTorch draws (`tensor.uniform_`, `tensor.normal_`) from the
library's generator (`tracer.manual_seed`, or `generator=`), so a seeded script gets
PyTorch's initial weights.

Each function returns the tensor it filled, so it also works on a Parameter that
requires grad.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import DTypeError
from tracer import sampling
from tracer.grad_mode import no_grad
from tracer.tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "sparse_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh,
    sqrt(2) for relu, sqrt(2 / (1 + slope**2)) for leaky_relu (slope `param`, default
    0.01), 3/4 for selu. Raises ValueError for any other name."""
    if nonlinearity in _LINEAR:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"Unsupported nonlinearity {nonlinearity}; use one of {', '.join(_LINEAR)}, tanh, "
        "relu, leaky_relu, selu"
    )


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): in * prod(kernel) and
    out * prod(kernel). Raises ValueError for fewer than 2 dims."""
    if tensor.ndim < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {tuple(tensor.shape)})"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _check(tensor: Any, name: str, generator: Any, random: bool = True) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{name}: expected a tensor, got {type(tensor).__name__}")
    if random and not dtypes.is_float(tensor.dtype):
        raise DTypeError(
            f"nn.init.{name}: random initialisation needs a floating point tensor, got "
            f"{tensor.dtype.name} (shape {tuple(tensor.shape)}); convert it with .float()"
        )


def _write(tensor: Tensor, values: np.ndarray) -> Tensor:
    with no_grad():
        tensor.copy_(Tensor(np.asarray(values)))
    return tensor


def _uniform(
    shape: tuple[int, ...], dtype: np.dtype, low: float, high: float, generator: Any = None
) -> np.ndarray:
    """U(low, high) samples drawn as PyTorch's `tensor.uniform_(low, high)` draws them."""
    t = Tensor(np.empty(shape, dtype))
    return sampling.uniform_(t, low, high, generator=generator)._data


def _normal(
    shape: tuple[int, ...], dtype: np.dtype, mean: float, std: float, generator: Any = None
) -> np.ndarray:
    """N(mean, std**2) samples drawn as PyTorch's `tensor.normal_(mean, std)` draws them."""
    t = Tensor(np.empty(shape, dtype))
    return sampling.normal_(t, mean, std, generator=generator)._data


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with samples of U(a, b)."""
    _check(tensor, "uniform_", generator)
    return _write(tensor, _uniform(tensor.shape, tensor.dtype, a, b, generator))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with samples of N(mean, std**2)."""
    _check(tensor, "normal_", generator)
    return _write(tensor, _normal(tensor.shape, tensor.dtype, mean, std, generator))


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Any = None,
) -> Tensor:
    """Fill with samples of N(mean, std**2) truncated to [a, b] (a and b are absolute
    bounds, not in units of std), by inverting the normal CDF on uniform draws."""
    _check(tensor, "trunc_normal_", generator)
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )
    normal = NormalDist()
    lo, hi = normal.cdf((a - mean) / std), normal.cdf((b - mean) / std)
    p = _uniform(tensor.shape, dtypes.float64, lo, hi, generator)
    # inv_cdf needs 0 < p < 1; the clamp below restores the bounds
    p = np.clip(p, np.nextafter(0.0, 1.0), np.nextafter(1.0, 0.0))
    z = np.frompyfunc(normal.inv_cdf, 1, 1)(p).astype(np.float64) if p.size else p
    return _write(tensor, np.clip(mean + std * z, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with `val`."""
    _check(tensor, "constant_", None, random=False)
    with no_grad():
        tensor.fill_(val)
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the main diagonal)."""
    _check(tensor, "eye_", None, random=False)
    if tensor.ndim != 2:
        raise ValueError(
            f"Only tensors with 2 dimensions are supported (got shape {tuple(tensor.shape)})"
        )
    return _write(tensor, np.eye(*tensor.shape, dtype=tensor.dtype))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta (identity
    convolution), per group of output channels."""
    _check(tensor, "dirac_", None, random=False)
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(
            "Only tensors with 3, 4, or 5 dimensions are supported "
            f"(got shape {tuple(tensor.shape)})"
        )
    out_channels = tensor.shape[0]
    if out_channels % groups:
        raise ValueError(f"dim 0 ({out_channels}) must be divisible by groups ({groups})")
    per_group = out_channels // groups
    values = np.zeros(tensor.shape, tensor.dtype)
    center = tuple(s // 2 for s in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(per_group, tensor.shape[1])):
            values[(g * per_group + d, d, *center)] = 1
    return _write(tensor, values)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    _check(tensor, "xavier_uniform_", generator)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _write(tensor, _uniform(tensor.shape, tensor.dtype, -bound, bound, generator))


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check(tensor, "xavier_normal_", generator)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _write(tensor, _normal(tensor.shape, tensor.dtype, 0.0, std, generator))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan), gain from `nonlinearity`
    (leaky_relu with slope `a`), fan = fan_in or fan_out by `mode`."""
    _check(tensor, "kaiming_uniform_", generator)
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return _write(tensor, _uniform(tensor.shape, tensor.dtype, -bound, bound, generator))


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """He normal: N(0, std**2) with std = gain / sqrt(fan)."""
    _check(tensor, "kaiming_normal_", generator)
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return _write(tensor, _normal(tensor.shape, tensor.dtype, 0.0, std, generator))


def orthogonal_(tensor: Tensor, gain: float = 1, generator: Any = None) -> Tensor:
    """A (semi-)orthogonal matrix, from the QR decomposition of a standard normal one
    (signs fixed by R's diagonal so the result is uniformly distributed), times `gain`.
    Dims after the first are flattened."""
    _check(tensor, "orthogonal_", generator)
    if tensor.ndim < 2:
        raise ValueError(
            "Only tensors with 2 or more dimensions are supported "
            f"(got shape {tuple(tensor.shape)})"
        )
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _normal((rows, cols), tensor.dtype, 0.0, 1.0, generator)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (q * q.dtype.type(gain)).reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Any = None) -> Tensor:
    """A 2-D matrix of N(0, std**2) samples with a fraction `sparsity` of each column's
    entries (rounded up) set to zero, at random rows."""
    _check(tensor, "sparse_", generator)
    if tensor.ndim != 2:
        raise ValueError(
            f"Only tensors with 2 dimensions are supported (got shape {tuple(tensor.shape)})"
        )
    rows, cols = tensor.shape
    zeros = int(math.ceil(sparsity * rows))
    values = _normal(tensor.shape, tensor.dtype, 0.0, std, generator)
    for col in range(cols):
        values[sampling.randperm(rows, generator=generator)._data[:zeros], col] = 0
    return _write(tensor, values)


def _deprecated(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    old, new = fn.__name__[:-1], fn.__name__

    def alias(*args: Any, **kwargs: Any) -> Tensor:
        warnings.warn(
            f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new}`.",
            FutureWarning,
            stacklevel=2,
        )
        return fn(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old
    alias.__doc__ = f"Deprecated alias of {new}."
    return alias


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
