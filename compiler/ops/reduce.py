"""Reductions and the normalisations built on them (mean, softmax, logsumexp).

mean, logsumexp, softmax and log_softmax are composites: each is defined once
below with the Operand methods, and that definition is its numpy impl and its
lowering alike. The normalisations work from max-shifted values, never from a
rounded large result subtracted back from the inputs (so the answers stay right
for inputs like 1e8 in float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes, kernels
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import MAX, MIN, SUM, Composite, Kernel, Reduction
from compiler.operand import apply
from compiler.ops.elementwise import keep
from compiler.ops.shape import count
from compiler.registry import LINEAR, AVal, Op, register, save_none


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
        # (np.add.reduce is np.sum without its Python wrapper: a microsecond per call)
        out = np.add.reduce(x, axis=axes, dtype=np.float64, keepdims=keepdims)
        return np.asarray(out, x.dtype)
    return np.asarray(np.sum(x, axis=axes, keepdims=keepdims), x.dtype)


register(
    Op(
        "reduce_sum",
        _reduce_abstract("sum"),
        _sum_impl,
        lambda g, out, x, axes, keepdims: (expand_back(g, x.shape, axes, keepdims),),
        grad_fn="SumBackward0",
        lowering=Reduction(SUM),
        saves=save_none,
        jvp=LINEAR,
    )
)


def _sum(x: Any, axes: tuple[int, ...], keepdims: bool = True) -> Any:
    return apply("reduce_sum", x, axes=axes, keepdims=keepdims)


def _max(x: Any, axes: tuple[int, ...]) -> Any:
    return apply("amax", x, axes=axes, keepdims=True)


def _mean(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    return _sum(x, axes, keepdims) / count(x, axes)


def _mean_vjp(g: Any, out: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[Any]:
    gx = expand_back(g, x.shape, axes, keepdims)
    return (gx / count(gx, axes),)


register(
    Op(
        "mean",
        _reduce_abstract("mean", float_only=True),
        None,
        _mean_vjp,
        grad_fn="MeanBackward0",
        lowering=Composite(_mean),
        saves=save_none,
    )
)


def _extremum_vjp(g: Any, out: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[Any]:
    # The gradient goes to the maximal elements; ties share it evenly, as in PyTorch.
    hit = x == expand_back(out, x.shape, axes, keepdims)
    ties = _sum(hit.to(dtypes.int64), axes)
    return (keep(expand_back(g, x.shape, axes, keepdims) / ties, hit),)


def _extremum_jvp(t: tuple[Any], out: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """The mean tangent of the maximal elements (the transpose of the VJP's even share)."""
    hit = x == expand_back(out, x.shape, axes, keepdims)
    total = _sum(keep(t[0], hit), axes, keepdims)
    return total / _sum(hit.to(t[0].dtype), axes, keepdims)


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
        lowering=Reduction(MAX),
        saves_out=True,
        jvp=_extremum_jvp,
    )
)
register(
    Op(
        "amin",
        _reduce_abstract("amin", nonempty=True),
        _amin_impl,
        _extremum_vjp,
        grad_fn="AminBackward0",
        lowering=Reduction(MIN),
        saves_out=True,
        jvp=_extremum_jvp,
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


def _arg_impl(arg: Any):
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
    return (keep(gv, idx == gv.iota(tuple(x.shape), axis)),)


def pick_jvp(t: tuple[Any], out: tuple[Any, Any], x: Any, axis: int, keepdims: bool) -> tuple:
    """One element picked along `axis` (kthvalue, max(dim)): the tangent of that element."""
    if x.ndim == 0:
        return t[0], None
    idx = out[1] if keepdims else out[1].unsqueeze(axis)
    picked = apply("gather", t[0], idx, dim=axis)
    return (picked if keepdims else picked.squeeze(axis)), None


for _name, _node, _arg, _largest in [
    ("max_dim", "MaxBackward0", np.argmax, True),
    ("min_dim", "MinBackward0", np.argmin, False),
]:
    register(
        Op(
            _name,
            _arg_abstract(_name[:3]),
            _arg_impl(_arg),
            _arg_vjp,
            grad_fn=_node,
            lowering=Kernel(kernels.argreduce(_largest)),
            multiple_results=True,
            saves=save_none,
            saves_out=True,
            jvp=pick_jvp,
        )
    )


def _shifted(x: Any, axes: tuple[int, ...]) -> Any:
    """x minus its max over `axes` (a max of +-inf counts as 0, so that all -inf gives
    -inf, not inf - inf = nan)."""
    m = _max(x, axes)
    return x - m.where(m.abs() < np.inf, 0)


def _logsumexp(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    shape = reduced_shape(tuple(x.shape), axes, keepdims)
    if x.numel() == 0:
        return x.full_like(-np.inf, shape=shape)
    m = _max(x, axes)
    m = m.where(m.abs() < np.inf, 0)
    s = _sum((x - m).exp(), axes).log() + m
    return s if keepdims else s.reshape(shape)


def _logsumexp_jvp(t: tuple[Any], out: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """The softmax-weighted sum of the tangent (softmax from the shifted inputs)."""
    e = _shifted(x, axes).exp()
    return _sum(t[0] * e, axes, keepdims) / _sum(e, axes, keepdims)


def _logsumexp_vjp(g: Any, out: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[Any]:
    # The gradient is the softmax of x over axes, from the shifted inputs: not
    # exp(x - out), which loses everything when out is large and rounded (PyTorch's
    # formula, wrong for [1e8, 1e8] in float32).
    e = _shifted(x, axes).exp()
    return (expand_back(g, x.shape, axes, keepdims) * (e / _sum(e, axes)),)


register(
    Op(
        "logsumexp",
        _reduce_abstract("logsumexp", float_only=True),
        None,
        _logsumexp_vjp,
        grad_fn="LogsumexpBackward0",
        lowering=Composite(_logsumexp),
        jvp=_logsumexp_jvp,
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


def _softmax(x: Any, axis: int) -> Any:
    if x.numel() == 0:
        return x.clone()
    axes = (axis,) if x.ndim else ()
    e = (x - _max(x, axes)).exp()
    return e / _sum(e, axes)


def _log_softmax(x: Any, axis: int) -> Any:
    if x.numel() == 0:
        return x.clone()
    z = _shifted(x, (axis,) if x.ndim else ())
    return z - _sum(z.exp(), (axis,) if x.ndim else ()).log()


def _softmax_jvp(t: tuple[Any], out: Any, x: Any, axis: int) -> Any:
    """diag(y) - y y^T is symmetric: the same formula as the VJP."""
    return out * (t[0] - _sum(t[0] * out, (axis,) if x.ndim else ()))


def _log_softmax_jvp(t: tuple[Any], out: Any, x: Any, axis: int) -> Any:
    return t[0] - _sum(out.exp() * t[0], (axis,) if x.ndim else ())


register(
    Op(
        "softmax",
        _softmax_abstract("softmax"),
        None,
        lambda g, out, x, axis: (out * (g - _sum(g * out, (axis,) if x.ndim else ())),),
        grad_fn="SoftmaxBackward0",
        lowering=Composite(_softmax),
        saves=save_none,
        saves_out=True,
        jvp=_softmax_jvp,
    )
)
register(
    Op(
        "log_softmax",
        _softmax_abstract("log_softmax"),
        None,
        lambda g, out, x, axis: (g - out.exp() * _sum(g, (axis,) if x.ndim else ()),),
        grad_fn="LogSoftmaxBackward0",
        lowering=Composite(_log_softmax),
        saves=save_none,
        saves_out=True,
        jvp=_log_softmax_jvp,
    )
)
