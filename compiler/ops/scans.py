"""Scans along one dim: cumsum, cumprod, logcumsumexp, cummax, cummin, and `linrec`,
the first-order linear recurrence their gradients are written with.

Each lowers to one kernel: loops over the other dims, and a sequential loop along
`axis` carrying an accumulator (in float64 for float sums and products, as the
reductions accumulate).

The gradients are exact with zeros and with huge values. cumprod's is
`E * R`, with `E` the product of the elements before (an exclusive cumprod) and
`R_j = g_j + x_{j+1} R_{j+1}` a reverse recurrence (`linrec`): no division, so a
zero in the input is no special case, and the rule differentiates again. The VJP
of `linrec` is `linrec` in the other direction, so every order stays exact.
logcumsumexp's gradient `sum_{i>=j} g_i exp(x_j - y_i)` is computed from the
running maximum M and the running sum S of exp(x - M) (both recurrences), never
from the rounded result y: for x = [1e30, 1e30] the gradient is [1.5, 0.5], where
PyTorch's formula (exp(x - y), y rounded to 1e30) gives [1, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import DTypeError, ShapeError
from compiler.ir import Eqn, Var
from compiler.kernels import Writer
from compiler.lowering import Kernel
from compiler.operand import apply
from compiler.refs import Ref, c_strides, cast, literal
from compiler.registry import LINEAR, AVal, Op, register, save_none

__all__ = ["checked", "shift"]


def checked(abstract_eval: Callable[..., Any], impl: Callable[..., Any]) -> Callable[..., Any]:
    """`impl`, checking its arrays with the op's shape and dtype rule first: eager mode
    runs impls directly, and numpy would accept what the op refuses (a k past the end,
    an integer input of a float op)."""

    def run(*arrays: np.ndarray, **params: Any) -> Any:
        abstract_eval(*[AVal(tuple(a.shape), a.dtype) for a in arrays], **params)
        return impl(*arrays, **params)

    run.__name__ = impl.__name__
    return run


def shift(x: Any, axis: int, fill: float, toward_end: bool) -> Any:
    """`x` moved one step along `axis`: toward the end (y[i] = x[i-1], y[0] = fill) or
    toward the start (y[i] = x[i+1], y[-1] = fill)."""
    n = x.shape[axis]
    if n == 0:
        return x
    edge = x.full_like(fill, shape=tuple(x.shape[:axis]) + (1,) + tuple(x.shape[axis + 1 :]))
    if n == 1:
        return edge
    before = (slice(None),) * axis
    if toward_end:
        return apply("concatenate", edge, x[before + (slice(0, n - 1),)], axis=axis)
    return apply("concatenate", x[before + (slice(1, n),)], edge, axis=axis)


def _moved(x: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    """A view of `x` with `axis` last, reversed along it if `reverse`."""
    v = np.moveaxis(x, axis, -1)
    return v[..., ::-1] if reverse else v


def _back(y: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    """The inverse of `_moved`, as a new C-contiguous array."""
    return np.ascontiguousarray(np.moveaxis(y[..., ::-1] if reverse else y, -1, axis))


def _accumulator(d: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if d.kind == "f" else np.dtype(np.int64)


# ---- the kernels ------------------------------------------------------------------------


def _scan(
    w: Writer,
    e: Eqn,
    refs: list[Ref],
    init: list[str],
    step: Callable[[list[str]], list[str]],
    results: list[tuple[Var, str]],
) -> None:
    """Loops over every dim but `axis`; per row the `init` lines, then along `axis`
    (backwards if `reverse`) the `step` lines (given the inputs' values at `_p`) and
    the store of each result expression."""
    shape = w.shape(e.outputs[0])
    axis, reverse = e.params["axis"], e.params.get("reverse", False)
    if shape:
        idx, ind = w.loops(shape[:axis] + shape[axis + 1 :], "j", 0)
        full = idx[:axis] + ["_p"] + idx[axis:]
    else:  # a 0-d scan: one element
        ind, full = 0, []
    for t in init:
        w.line(t, ind)
    if shape:
        n = shape[axis]
        w.line(f"for _k in range({n}):", ind)
        ind += 1
        w.line(f"_p = {n} - 1 - _k" if reverse else "_p = _k", ind)
    else:
        w.line("_p = 0", ind)
    for t in step([w.read(r, full) for r in refs]):
        w.line(t, ind)
    oi = w.index_expr(0, list(c_strides(shape)), full)
    for v, expr in results:
        w.line(f"{w.arr(v)}[{oi}] = {expr}", ind)


def _fold_kernel(identity: int, update: str) -> Callable[..., None]:
    """cumsum, cumprod and linrec: `_acc = update` with `{acc}` and the inputs `{0}`,
    `{1}` (converted to the accumulator's dtype) substituted."""

    def emit(w: Writer, e: Eqn, refs: list[Ref]) -> None:
        od = e.outputs[0].aval.dtype
        ad = _accumulator(od)

        def step(xs: list[str]) -> list[str]:
            args = [cast(x, r.dtype, ad) for x, r in zip(xs, refs)]
            return [f"_acc = {update.format(*args, acc='_acc')}"]

        _scan(
            w,
            e,
            refs,
            [f"_acc = {literal(identity, ad)}"],
            step,
            [(e.outputs[0], cast("_acc", ad, od))],
        )

    return emit


def _logcumsumexp_kernel(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """acc = logaddexp(acc, x), as numpy computes it: the larger plus log1p(exp(the
    difference)); equal values (also both infinite) add log(2); a NaN sticks."""
    d = e.outputs[0].aval.dtype

    def step(xs: list[str]) -> list[str]:
        return [
            f"_t = {xs[0]}",
            "if _t > _acc:",
            "    _t, _acc = _acc, _t",
            "if _t == _acc:",
            f"    _acc = _acc + {literal(np.log(2.0), d)}",
            "elif _t > -np.inf or _t != _t:",
            "    _acc = _acc + np.log1p(np.exp(_t - _acc))",
        ]

    _scan(w, e, refs, [f"_acc = {literal(-np.inf, d)}"], step, [(e.outputs[0], "_acc")])


def _cumextreme_kernel(largest: bool) -> Callable[..., None]:
    """Running max (min) and the index where it was last reached: a later equal value
    takes over, and so does a NaN (which then stays), as in PyTorch."""
    cmp = ">=" if largest else "<="

    def emit(w: Writer, e: Eqn, refs: list[Ref]) -> None:
        vals, inds = e.outputs
        d = vals.aval.dtype
        if d.kind == "f":
            start = -np.inf if largest else np.inf
        elif d.kind == "b":
            start = not largest
        else:
            info = np.iinfo(d)
            start = info.min if largest else info.max
        nan = " or _t != _t" if d.kind == "f" else ""

        def step(xs: list[str]) -> list[str]:
            return [f"_t = {xs[0]}", f"if _t {cmp} _best{nan}:", "    _best = _t", "    _arg = _p"]

        init = [f"_best = {literal(start, d)}", "_arg = 0"]
        _scan(w, e, refs, init, step, [(vals, "_best"), (inds, "_arg")])

    return emit


# ---- cumsum, cumprod --------------------------------------------------------------------


def _scan_abstract(name: str) -> Callable[..., AVal]:
    def abstract_eval(x: AVal, axis: int, reverse: bool = False) -> AVal:
        if x.dtype == dtypes.bool_:
            raise DTypeError(f"{name}: bool inputs are summed as int64; convert with .long()")
        return AVal(tuple(x.shape), x.dtype)

    return abstract_eval


def _cumsum_impl(x: np.ndarray, axis: int, reverse: bool = False) -> np.ndarray:
    if x.ndim == 0:
        return x.copy()
    y = np.cumsum(_moved(x, axis, reverse), axis=-1, dtype=_accumulator(x.dtype))
    return _back(y, axis, reverse).astype(x.dtype, copy=False)


def _cumprod_impl(x: np.ndarray, axis: int, reverse: bool = False) -> np.ndarray:
    if x.ndim == 0:
        return x.copy()
    y = np.cumprod(_moved(x, axis, reverse), axis=-1, dtype=_accumulator(x.dtype))
    return _back(y, axis, reverse).astype(x.dtype, copy=False)


register(
    Op(
        "cumsum",
        _scan_abstract("cumsum"),
        checked(_scan_abstract("cumsum"), _cumsum_impl),
        lambda g, out, x, axis, reverse=False: (
            apply("cumsum", g, axis=axis, reverse=not reverse),
        ),
        grad_fn="CumsumBackward0",
        lowering=Kernel(_fold_kernel(0, "{acc} + {0}")),
        saves=save_none,
        jvp=LINEAR,
    )
)


def _cumprod_vjp(g: Any, out: Any, x: Any, axis: int, reverse: bool = False) -> tuple[Any]:
    # d y_i / d x_j = prod_{l <= i, l != j} x_l for j <= i (forward scan), so
    # gx_j = E_j * R_j with E_j = prod_{l < j} x_l and R_j = g_j + x_{j+1} R_{j+1}.
    if x.ndim == 0:
        return (g,)
    before = shift(out, axis, 1, toward_end=not reverse)
    after = shift(x, axis, 0, toward_end=reverse)
    return (before * apply("linrec", g, after, axis=axis, reverse=not reverse),)


register(
    Op(
        "cumprod",
        _scan_abstract("cumprod"),
        checked(_scan_abstract("cumprod"), _cumprod_impl),
        _cumprod_vjp,
        grad_fn="CumprodBackward0",
        lowering=Kernel(_fold_kernel(1, "{acc} * {0}")),
        saves_out=True,
    )
)

# ---- linrec: y_i = b_i + a_i * y_{i-1} (forward) or b_i + a_i * y_{i+1} (reverse) -----


def _linrec_abstract(b: AVal, a: AVal, axis: int, reverse: bool) -> AVal:
    if tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype or not dtypes.is_float(b.dtype):
        raise ShapeError(
            f"linrec: expected two float tensors of one shape and dtype, got {b} and {a}"
        )
    return AVal(tuple(b.shape), b.dtype)


def _linrec_impl(b: np.ndarray, a: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    if b.ndim == 0:
        return b.copy()
    bs, as_ = _moved(b, axis, reverse), _moved(a, axis, reverse)
    y = np.empty(bs.shape, np.float64)
    acc = np.zeros(bs.shape[:-1], np.float64)
    for k in range(bs.shape[-1]):
        acc = bs[..., k] + as_[..., k] * acc
        y[..., k] = acc
    return _back(y, axis, reverse).astype(b.dtype, copy=False)


def _linrec_vjp(g: Any, out: Any, b: Any, a: Any, axis: int, reverse: bool) -> tuple[Any, Any]:
    # The adjoint recurrence runs the other way: lam_i = g_i + a_{i+1} lam_{i+1}
    # (forward scan); then d/db = lam and d/da_i = lam_i * y_{i-1}.
    if b.ndim == 0:
        return g, g * 0
    lam = apply("linrec", g, shift(a, axis, 0, toward_end=reverse), axis=axis, reverse=not reverse)
    return lam, lam * shift(out, axis, 0, toward_end=not reverse)


register(
    Op(
        "linrec",
        _linrec_abstract,
        checked(_linrec_abstract, _linrec_impl),
        _linrec_vjp,
        grad_fn="LinrecBackward0",
        lowering=Kernel(_fold_kernel(0, "{0} + {1} * {acc}")),
        saves_out=True,
    )
)

# ---- logcumsumexp -------------------------------------------------------------------------


def _logcumsumexp_abstract(x: AVal, axis: int) -> AVal:
    if not dtypes.is_float(x.dtype):
        raise DTypeError(
            f"logcumsumexp: expected a floating point tensor, got {x.dtype} (shape "
            f"{tuple(x.shape)}); convert it first with .float()"
        )
    return AVal(tuple(x.shape), x.dtype)


def _logcumsumexp_impl(x: np.ndarray, axis: int) -> np.ndarray:
    if x.ndim == 0:
        return x.copy()
    return np.ascontiguousarray(np.logaddexp.accumulate(x, axis=axis))


def _logcumsumexp_vjp(g: Any, out: Any, x: Any, axis: int) -> tuple[Any]:
    # gx_j = sum_{i >= j} g_i exp(x_j - y_i), with exp(x_j - y_i) = exp(x_j - M_i) / S_i
    # (M the running max, S_i = sum_{l <= i} exp(x_l - M_i) >= 1): every exponent is a
    # difference of inputs, <= 0. Equal values (also -inf with -inf) weigh exp(0) = 1,
    # so a leading -inf gets its gradient g_0 (PyTorch: nan).
    if x.ndim == 0:
        return (g,)
    m = apply("cummax", x, axis=axis)[0]
    here = (x - m).exp().where(x != m, 1)  # exp(x_i - M_i)
    m_before = shift(m, axis, -np.inf, toward_end=True)
    step = (m_before - m).exp().where(m_before != m, 1)  # exp(M_{i-1} - M_i)
    s = apply("linrec", here, step, axis=axis, reverse=False)
    after = shift(step, axis, 0, toward_end=False)  # exp(M_i - M_{i+1})
    return (here * apply("linrec", g / s, after, axis=axis, reverse=True),)


register(
    Op(
        "logcumsumexp",
        _logcumsumexp_abstract,
        checked(_logcumsumexp_abstract, _logcumsumexp_impl),
        _logcumsumexp_vjp,
        grad_fn="LogcumsumexpBackward0",
        lowering=Kernel(_logcumsumexp_kernel),
    )
)

# ---- cummax, cummin: (values, indices) ----------------------------------------------------


def _cumextreme_abstract(x: AVal, axis: int) -> tuple[AVal, AVal]:
    return AVal(tuple(x.shape), x.dtype), AVal(tuple(x.shape), dtypes.int64)


def _cumextreme_impl(largest: bool) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    def impl(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
        if x.ndim == 0:
            return x.copy(), np.zeros((), np.int64)
        xs = _moved(x, axis, False)
        vals = np.empty(xs.shape, x.dtype)
        inds = np.empty(xs.shape, np.int64)
        if xs.shape[-1] == 0:
            return _back(vals, axis, False), _back(inds, axis, False)
        best = xs[..., 0].copy()
        arg = np.zeros(xs.shape[:-1], np.int64)
        for k in range(xs.shape[-1]):
            t = xs[..., k]
            take = t >= best if largest else t <= best
            if x.dtype.kind == "f":
                take |= np.isnan(t)
            best = np.where(take, t, best)
            arg = np.where(take, k, arg)
            vals[..., k], inds[..., k] = best, arg
        return _back(vals, axis, False), _back(inds, axis, False)

    return impl


def _cumextreme_vjp(g: tuple[Any, Any], out: tuple[Any, Any], x: Any, axis: int) -> tuple[Any]:
    # each running extreme is one input element: its gradient goes there
    gv, idx = g[0], out[1]
    if x.ndim == 0:
        return (gv,)
    return (apply("scatter_add", gv.full_like(0, shape=tuple(x.shape)), idx, gv, dim=axis),)


def _cumextreme_jvp(t: tuple[Any], out: tuple[Any, Any], x: Any, axis: int) -> tuple:
    """Each running extreme is one input element: its tangent."""
    if x.ndim == 0:
        return t[0], None
    return apply("gather", t[0], out[1], dim=axis), None


for _name, _largest in (("cummax", True), ("cummin", False)):
    register(
        Op(
            _name,
            _cumextreme_abstract,
            _cumextreme_impl(_largest),
            _cumextreme_vjp,
            grad_fn=f"{_name.title()}Backward0",
            lowering=Kernel(_cumextreme_kernel(_largest)),
            multiple_results=True,
            saves=save_none,
            saves_out=True,
            jvp=_cumextreme_jvp,
        )
    )
