"""`nn.utils`: gradient clipping and flattening parameters into one vector."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from compiler import operand
from compiler.errors import ShapeError, TraceError
from compiler.operand import Operand
from compiler.source import describe_location
from tracer.grad_mode import no_grad
from tracer.nn.parameter import set_data
from tracer.tensor import Tensor

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
    "parameters_to_vector",
    "vector_to_parameters",
]


def _tensors(parameters: Tensor | Iterable[Tensor], what: str) -> list[Tensor]:
    items = [parameters] if isinstance(parameters, Operand) else list(parameters)
    for t in items:
        if not isinstance(t, Tensor if operand.tracing.builder is None else Operand):
            raise TypeError(f"{what}: expected tensors, got {type(t).__name__}")
    return items


def _norm(values: np.ndarray, norm_type: float) -> np.ndarray:
    """The vector norm of all of `values`, in their dtype."""
    a = np.abs(values.reshape(-1))
    if norm_type == math.inf:
        return a.max(initial=0).astype(values.dtype)
    if norm_type == -math.inf:
        return a.min(initial=np.inf).astype(values.dtype)
    if norm_type == 0:
        return np.asarray(np.count_nonzero(a), values.dtype)
    if norm_type == 1:
        return a.sum(dtype=values.dtype)
    if norm_type == 2:
        return np.sqrt(np.sum(a * a, dtype=values.dtype))
    p = values.dtype.type(norm_type)
    return np.sum(a**p, dtype=values.dtype) ** (1 / p)


def get_total_norm(
    tensors: Tensor | Iterable[Tensor],
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The `norm_type`-norm of all `tensors` together (the norm of their norms), as a
    0-d tensor (0. for no tensors). `foreach` is accepted and ignored.

    Raises RuntimeError when error_if_nonfinite and the norm is nan or inf.
    """
    ts = _tensors(tensors, "get_total_norm")
    norm_type = float(norm_type)
    if not ts:
        return Tensor(np.asarray(0.0, np.float32))
    if operand.tracing.builder is not None:  # traced: the norm is computed at each call
        return _traced_total_norm(ts, norm_type, error_if_nonfinite)
    norms = [_norm(t._data, norm_type) for t in ts]
    dtype = np.result_type(*norms)
    total = _norm(np.stack([n.astype(dtype) for n in norms]), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor(np.asarray(total))


def _traced_total_norm(ts: list[Operand], norm_type: float, error_if_nonfinite: bool) -> Any:
    from tracer.functions import stack
    from tracer.linalg import vector_norm
    from tracer.typeinfo import promote_types

    if error_if_nonfinite:
        raise TraceError(
            "get_total_norm/clip_grad_norm_(error_if_nonfinite=True) inside a traced "
            "function: whether the norm is finite is known only when the compiled function "
            "runs. Pass error_if_nonfinite=False and check the returned norm outside."
            + (f"\n  at {describe_location()}" if describe_location() else "")
        )
    norms = [vector_norm(t, norm_type) for t in ts]
    dtype = functools.reduce(promote_types, [n.dtype for n in norms])
    return vector_norm(stack([n.to(dtype) for n in norms]), norm_type)


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    total_norm: Tensor,
    foreach: bool | None = None,
) -> None:
    """Scale every `.grad` by min(1, max_norm / (total_norm + 1e-6)), in place."""
    grads = [p.grad for p in _tensors(parameters, "clip_grads_with_norm_") if p.grad is not None]
    if not grads:
        return
    if operand.tracing.builder is not None:  # traced: the factor is computed at each call
        coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        with no_grad():
            for g in grads:
                g.mul_(coef)
        return
    coef = float(max_norm) / (float(total_norm) + 1e-6)
    if coef < 1 or math.isnan(coef):
        with no_grad():
            for g in grads:
                g.mul_(min(coef, 1.0) if not math.isnan(coef) else coef)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Rescale the gradients so that their joint `norm_type`-norm (inf for the largest
    magnitude) is at most `max_norm`: each `.grad` is multiplied in place by
    min(1, max_norm / (total_norm + 1e-6)). Returns the norm before clipping.

    Raises RuntimeError when error_if_nonfinite and that norm is nan or inf.
    """
    params = _tensors(parameters, "clip_grad_norm_")
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every `.grad` into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _tensors(parameters, "clip_grad_value_"):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    from tracer.functions import cat

    params = _tensors(parameters, "parameters_to_vector")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each parameter's data the next slice of the 1-D `vec` (sharing its memory,
    as `param.data = ...` does). Raises ShapeError when the sizes do not add up."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected tracer.Tensor, but got: {type(vec).__name__}")
    params = _tensors(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ShapeError(
            f"vector_to_parameters: vec of shape {tuple(vec.shape)} does not hold the "
            f"{total} elements of the parameters"
        )
    start = 0
    for p in params:
        n = p.numel()
        set_data(p, Tensor(vec._data[start : start + n].reshape(p.shape)))
        start += n
