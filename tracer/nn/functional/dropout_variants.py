"""Channel-wise and self-normalising dropout: dropout1d/2d/3d, alpha_dropout,
feature_alpha_dropout (plain `dropout` is in `core`).

Masks are drawn eagerly from the global generator (tracer.manual_seed), as `dropout`
does; inside a traced function these raise while training, since the mask would be
drawn once, at trace time.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from compiler import operand
from compiler.errors import ShapeError, TraceError
from compiler.operand import Operand
from compiler.source import describe_location
from tracer.sampling import rand
from tracer.tensor import Tensor

__all__ = ["alpha_dropout", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout"]

#: SELU's scale * alpha: the value a dropped unit takes in alpha dropout is -ALPHA
ALPHA = 1.7580993408473766


def _check(op: str, input: Any, p: float) -> None:
    if not isinstance(input, Operand):
        raise TypeError(f"{op}(): input must be a tensor, got {type(input).__name__}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _refuse_in_trace(op: str) -> None:
    if operand.tracing.builder is not None:
        where = describe_location()
        raise TraceError(
            f"{op} in training mode inside a traced function would draw its mask once, at "
            "trace time, and reuse it on every call"
            + (f"\n  at {where}" if where else "")
            + "\nCall model.eval() (or pass training=False) before tracing, or apply dropout "
            "outside the traced function."
        )


def _keep_mask(shape: tuple[int, ...], p: float, dtype: np.dtype) -> np.ndarray:
    """1 where a unit is kept (probability 1 - p), else 0, in `dtype`."""
    if p == 1:
        return np.zeros(shape, dtype)
    return (rand(*shape, dtype=dtype)._data < dtype.type(1 - p)).astype(dtype)


def _feature_shape(input: Any, batched_ndim: int, op: str) -> tuple[int, ...]:
    """The mask's shape: one value per (sample, channel), or per channel unbatched."""
    if input.ndim == batched_ndim:
        return (*input.shape[:2], *(1,) * (batched_ndim - 2))
    if input.ndim == batched_ndim - 1:
        return (input.shape[0], *(1,) * (batched_ndim - 2))
    raise ShapeError(
        f"{op}: expected a {batched_ndim - 1}-d (unbatched) or {batched_ndim}-d (batched) "
        f"input, got shape {tuple(input.shape)}"
    )


def _feature_dropout(input: Any, p: float, training: bool, inplace: bool, nd: int, op: str) -> Any:
    _check(op, input, p)
    shape = _feature_shape(input, nd, op)
    if not training or p == 0:
        return input
    _refuse_in_trace(op)
    dtype = input.dtype if input.dtype.kind == "f" else np.dtype(np.float32)
    keep = _keep_mask(shape, p, dtype)
    noise = Tensor(keep / dtype.type(1 - p) if p < 1 else keep)
    return input.mul_(noise) if inplace else input * noise


def dropout1d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Zero whole channels of a (N, C, L) or (C, L) input, each with probability p, and
    scale the rest by 1 / (1 - p) while training; otherwise the input itself."""
    return _feature_dropout(input, p, training, inplace, 3, "dropout1d")


def dropout2d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Channel dropout of a (N, C, H, W) input; see dropout1d. A 3-d input is read as
    (N, C, L) with a warning, as PyTorch does (use dropout1d for that)."""
    if isinstance(input, Operand) and input.ndim == 3:
        warnings.warn(
            "dropout2d: received a 3D input and assuming that channel-wise 1D dropout "
            "behavior is desired: the input is interpreted as shape (N, C, L), as PyTorch "
            "does. Use dropout1d for that.",
            UserWarning,
            stacklevel=2,
        )
        return _feature_dropout(input, p, training, inplace, 3, "dropout2d")
    return _feature_dropout(input, p, training, inplace, 4, "dropout2d")


def dropout3d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Channel dropout of a (N, C, D, H, W) or (C, D, H, W) input; see dropout1d."""
    return _feature_dropout(input, p, training, inplace, 5, "dropout3d")


def _alpha(input: Any, p: float, training: bool, inplace: bool, shape: Any, op: str) -> Any:
    _check(op, input, p)
    if not training or p == 0:
        return input
    _refuse_in_trace(op)
    dtype = input.dtype if input.dtype.kind == "f" else np.dtype(np.float32)
    if p == 1:  # every unit dropped: zeros, as PyTorch
        zero = Tensor(np.zeros((), dtype))
        return input.mul_(zero) if inplace else input * zero
    keep = _keep_mask(tuple(shape), p, dtype)
    # keep the mean and variance of SELU activations: a * (x * keep - ALPHA * (1 - keep))
    # + ALPHA * a * p, i.e. input * (keep * a) + b (Klambauer et al. 2017)
    a = 1.0 / np.sqrt((ALPHA * ALPHA * p + 1) * (1 - p))
    b = Tensor(((keep - 1) * (ALPHA * a) + ALPHA * a * p).astype(dtype))
    scale = Tensor((keep * a).astype(dtype))
    out = input.mul_(scale) if inplace else input * scale
    return out.add_(b) if inplace else out + b


def alpha_dropout(input: Any, p: float = 0.5, training: bool = False, inplace: bool = False) -> Any:
    """Dropout for self-normalising (SELU) networks: dropped units are set to SELU's
    negative saturation and the result is rescaled to keep zero mean and unit
    variance. Note the default training=False, as in PyTorch."""
    return _alpha(input, p, training, inplace, input.shape, "alpha_dropout")


def feature_alpha_dropout(
    input: Any, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Any:
    """alpha_dropout of whole channels (dim 1 of an input of at least 2 dims)."""
    _check("feature_alpha_dropout", input, p)
    if input.ndim < 2:
        raise ShapeError(
            f"feature_alpha_dropout: expected an input of at least 2 dims, got shape "
            f"{tuple(input.shape)}"
        )
    shape = (*input.shape[:2], *(1,) * (input.ndim - 2))
    return _alpha(input, p, training, inplace, shape, "feature_alpha_dropout")
