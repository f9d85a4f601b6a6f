"""Reductions and the normalisations built on them (softmax, logsumexp)."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import DTypeError, ShapeError
from compiler.registry import AVal, Op, register, save_none


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _reduce_abstract(name: str, float_only: bool = False, nonempty: bool = False):
    def abstract_eval(x: AVal, axes: tuple[int, ...], keepdims: bool) -> AVal:
        if nonempty and any(x.shape[a] == 0 for a in axes):
            raise ShapeError(
                f"{name}: cannot reduce over a zero-size dimension of shape {tuple(x.shape)}"
            )
        d = x.dtype
        if float_only and not dtypes.is_float(d):
            raise DTypeError(
                f"{name}: expected a floating point tensor, got {d} (shape "
                f"{tuple(x.shape)}); convert it first with .float()"
            )
        return AVal(reduced_shape(tuple(x.shape), axes, keepdims), d)

    return abstract_eval


def expand_back(g: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    """Broadcast a reduction's cotangent back over the reduced axes."""
    if not keepdims:
        g = g.reshape(reduced_shape(shape, axes, True))
    return g.broadcast_to(shape)


def _sum_impl(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    if x.dtype.kind == "f" and x.dtype.itemsize < 8:
        # accumulate low-precision floats in float64, as the compiled kernels do
        return np.asarray(np.sum(x, axis=axes, keepdims=keepdims, dtype=np.float64), x.dtype)
    return np.asarray(np.sum(x, axis=axes, keepdims=keepdims), x.dtype)


register(
    Op(
        "reduce_sum",
        _reduce_abstract("sum"),
        _sum_impl,
        lambda g, out, x, axes, keepdims: (expand_back(g, x.shape, axes, keepdims),),
        grad_fn="SumBackward0",
        lowering="reduce",
        linear=True,
        saves=save_none,
    )
)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def _require_float(x: np.ndarray) -> None:
    """Eager impls don't run abstract_eval; raising here makes the caller run it for
    its clear error (numpy would silently compute an integer softmax)."""
    if x.dtype.kind != "f":
        raise TypeError("expected a floating point array")


def _mean_impl(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    _require_float(x)
    n = _count(x.shape, axes)
    return np.asarray(
        _sum_impl(x, axes, keepdims) / x.dtype.type(n)
        if n
        else np.full(reduced_shape(x.shape, axes, keepdims), np.nan),
        x.dtype,
    )


register(
    Op(
        "mean",
        _reduce_abstract("mean", float_only=True),
        _mean_impl,
        lambda g, out, x, axes, keepdims: (
            expand_back(g / _count(x.shape, axes), x.shape, axes, keepdims),
        ),
        grad_fn="MeanBackward0",
        lowering="decompose",
        linear=True,
        saves=save_none,
    )
)


def _extremum_vjp(g: Any, out: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[Any]:
    # Ties share the gradient evenly, as in PyTorch's amax/amin.
    hit = (x == expand_back(out, x.shape, axes, keepdims)).to(g.dtype)
    count = hit.sum(axes, keepdim=True) if axes else hit
    return (expand_back(g, x.shape, axes, keepdims) * hit / count,)


def _amax_impl(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    return np.asarray(np.amax(x, axis=axes, keepdims=keepdims))


def _amin_impl(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    return np.asarray(np.amin(x, axis=axes, keepdims=keepdims))


register(
    Op(
        "amax",
        _reduce_abstract("amax", nonempty=True),
        _amax_impl,
        _extremum_vjp,
        grad_fn="AmaxBackward0",
        lowering="reduce",
        saves_out=True,
    )
)
register(
    Op(
        "amin",
        _reduce_abstract("amin", nonempty=True),
        _amin_impl,
        _extremum_vjp,
        grad_fn="AminBackward0",
        lowering="reduce",
        saves_out=True,
    )
)


def _arg_abstract(name: str):
    def abstract_eval(x: AVal, axis: int, keepdims: bool) -> tuple[AVal, AVal]:
        if x.ndim and x.shape[axis] == 0:
            raise ShapeError(
                f"{name}: cannot reduce over a zero-size dimension of shape {tuple(x.shape)}"
            )
        shape = reduced_shape(tuple(x.shape), (axis,) if x.ndim else (), keepdims)
        return AVal(shape, x.dtype), AVal(shape, dtypes.int64)

    return abstract_eval


def _arg_impl(reduce: Any, arg: Any):
    def impl(x: np.ndarray, axis: int, keepdims: bool) -> tuple[np.ndarray, np.ndarray]:
        if x.ndim == 0:
            return x.copy(), np.zeros((), np.int64)
        idx = np.expand_dims(arg(x, axis=axis), axis)
        vals = np.take_along_axis(x, idx, axis)
        if not keepdims:
            idx, vals = idx.squeeze(axis), vals.squeeze(axis)
        # np.array, not np.ascontiguousarray: that one turns 0-d results into 1-d
        return np.array(vals, order="C"), np.array(idx, np.int64, order="C")

    return impl


def _arg_vjp(
    g: tuple[Any, Any], out: tuple[Any, Any], x: Any, axis: int, keepdims: bool
) -> tuple[Any]:
    # The gradient goes to the one element that was selected.
    gv, idx = g[0], out[1]
    if x.ndim == 0:
        return (gv,)
    if not keepdims:
        gv, idx = gv.unsqueeze(axis), idx.unsqueeze(axis)
    onehot = idx == g[0].iota(tuple(x.shape), axis)
    return (onehot.to(gv.dtype) * gv,)


register(
    Op(
        "max_dim",
        _arg_abstract("max"),
        _arg_impl(np.max, np.argmax),
        _arg_vjp,
        grad_fn="MaxBackward0",
        lowering="kernel",
        multiple_results=True,
        saves=save_none,
        saves_out=True,
    )
)
register(
    Op(
        "min_dim",
        _arg_abstract("min"),
        _arg_impl(np.min, np.argmin),
        _arg_vjp,
        grad_fn="MinBackward0",
        lowering="kernel",
        multiple_results=True,
        saves=save_none,
        saves_out=True,
    )
)


def _logsumexp_impl(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    _require_float(x)
    if x.size == 0:
        return np.full(reduced_shape(x.shape, axes, keepdims), -np.inf, x.dtype)
    m = np.amax(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    s = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    return np.asarray(s if keepdims else np.squeeze(s, axes), x.dtype)


def _logsumexp_vjp(g: Any, out: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[Any]:
    return (
        expand_back(g, x.shape, axes, keepdims)
        * (x - expand_back(out, x.shape, axes, keepdims)).exp(),
    )


register(
    Op(
        "logsumexp",
        _reduce_abstract("logsumexp", float_only=True),
        _logsumexp_impl,
        _logsumexp_vjp,
        grad_fn="LogsumexpBackward0",
        lowering="decompose",
        saves_out=True,
    )
)


def _softmax_abstract(name: str):
    def abstract_eval(x: AVal, axis: int) -> AVal:
        if not dtypes.is_float(x.dtype):
            raise DTypeError(
                f"{name}: expected a floating point tensor, got {x.dtype} (shape "
                f"{tuple(x.shape)}); convert it first with .float()"
            )
        return AVal(tuple(x.shape), x.dtype)

    return abstract_eval


def _softmax_impl(x: np.ndarray, axis: int) -> np.ndarray:
    _require_float(x)
    if x.size == 0:
        return x.copy()
    if x.ndim == 0:  # one element: softmax 1 (nan stays nan), as PyTorch
        return (x - x + 1).astype(x.dtype)
    e = np.exp(x - np.amax(x, axis=axis, keepdims=True))
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(x.dtype, copy=False)


def _log_softmax_impl(x: np.ndarray, axis: int) -> np.ndarray:
    _require_float(x)
    if x.size == 0:
        return x.copy()
    if x.ndim == 0:
        return (x - x).astype(x.dtype)
    return (x - _logsumexp_impl(x, (axis,), True)).astype(x.dtype, copy=False)


register(
    Op(
        "softmax",
        _softmax_abstract("softmax"),
        _softmax_impl,
        lambda g, out, x, axis: (out * (g - (g * out).sum(axis, keepdim=True)),),
        grad_fn="SoftmaxBackward0",
        lowering="decompose",
        saves=save_none,
        saves_out=True,
    )
)
register(
    Op(
        "log_softmax",
        _softmax_abstract("log_softmax"),
        _log_softmax_impl,
        lambda g, out, x, axis: (g - out.exp() * g.sum(axis, keepdim=True),),
        grad_fn="LogSoftmaxBackward0",
        lowering="decompose",
        saves=save_none,
        saves_out=True,
    )
)
