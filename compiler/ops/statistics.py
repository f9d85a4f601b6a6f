"""Reductions beyond sum and max: prod, all, any, nansum, var, std, var_mean, std_mean,
aminmax.

prod is a `Reduction` with the PROD monoid. Its gradient is the product of the
other elements of each slice, formed from exclusive cumulative products from both
ends (`compiler.ops.scans`): exact with one zero, with several zeros, and again
for second derivatives, where out / x would divide by zero.

var and std are composites of two passes (the mean, then the centred squares),
never the one-pass E[x^2] - E[x]^2 that cancels catastrophically. The divisor is
max(0, N - correction), as in PyTorch: a correction of N or more gives inf (nan
where all deviations are 0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import DTypeError
from compiler.lowering import MAX, MIN, PROD, Composite, Reduction
from compiler.operand import apply
from compiler.ops.elementwise import keep
from compiler.ops.reduce import _extremum_vjp, _reduce_abstract, expand_back, reduced_shape
from compiler.ops.scans import checked, shift
from compiler.registry import AVal, Op, register

__all__ = ["product_of_others"]

# ---- prod ---------------------------------------------------------------------------------


def _prod_impl(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    acc = np.float64 if x.dtype.kind == "f" else np.int64
    return np.asarray(np.prod(x, axis=axes, keepdims=keepdims, dtype=acc), x.dtype)


def _others_along(x: Any, axis: int) -> Any:
    """For each element, the product of the other elements along `axis`: the product
    of those before it times the product of those after it."""
    before = shift(apply("cumprod", x, axis=axis, reverse=False), axis, 1, toward_end=True)
    after = shift(apply("cumprod", x, axis=axis, reverse=True), axis, 1, toward_end=False)
    return before * after


def product_of_others(x: Any, axes: tuple[int, ...]) -> Any:
    """For each element of `x`, the product of the other elements of its slice over
    `axes` (d prod / d x), computed without dividing."""
    if not axes or x.numel() == 0:
        return x.full_like(1)
    if len(axes) == 1:
        return _others_along(x, axes[0])
    kept = [d for d in range(x.ndim) if d not in axes]
    perm = tuple(kept + list(axes))
    moved = x.permute(perm)
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    flat = moved.reshape(tuple(moved.shape[: len(kept)]) + (n,))
    others = _others_along(flat, len(kept)).reshape(tuple(moved.shape))
    return others.permute(tuple(int(i) for i in np.argsort(perm)))


def _prod_vjp(g: Any, out: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[Any]:
    return (expand_back(g, tuple(x.shape), axes, keepdims) * product_of_others(x, axes),)


def _prod_abstract(x: AVal, axes: tuple[int, ...], keepdims: bool) -> AVal:
    if x.dtype == dtypes.bool_:
        raise DTypeError("prod: bool inputs multiply as int64; convert them with .long()")
    return AVal(reduced_shape(tuple(x.shape), axes, keepdims), x.dtype)


register(
    Op(
        "prod",
        _prod_abstract,
        checked(_prod_abstract, _prod_impl),
        _prod_vjp,
        grad_fn="ProdBackward0",
        lowering=Reduction(PROD),
    )
)

# ---- all, any: bool in, bool out ------------------------------------------------------------


def _logic_abstract(name: str):
    def abstract_eval(x: AVal, axes: tuple[int, ...], keepdims: bool) -> AVal:
        if x.dtype != dtypes.bool_:
            raise DTypeError(
                f"{name}: expected a bool tensor, got {x.dtype}; compare first (x != 0)"
            )
        return AVal(reduced_shape(tuple(x.shape), axes, keepdims), x.dtype)

    return abstract_eval


# on bools, min is "all" (True is the identity) and max is "any" (False is)
register(
    Op(
        "all",
        _logic_abstract("all"),
        checked(
            _logic_abstract("all"),
            lambda x, axes, keepdims: np.asarray(np.all(x, axis=axes, keepdims=keepdims)),
        ),
        lowering=Reduction(MIN),
    )
)
register(
    Op(
        "any",
        _logic_abstract("any"),
        checked(
            _logic_abstract("any"),
            lambda x, axes, keepdims: np.asarray(np.any(x, axis=axes, keepdims=keepdims)),
        ),
        lowering=Reduction(MAX),
    )
)

# ---- nansum ---------------------------------------------------------------------------------


def _nansum(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    return apply("reduce_sum", x.where(x == x, 0), axes=axes, keepdims=keepdims)


register(
    Op(
        "nansum",
        _reduce_abstract("nansum", float_only=True),
        None,
        lambda g, out, x, axes, keepdims: (
            keep(expand_back(g, tuple(x.shape), axes, keepdims), x == x),
        ),
        grad_fn="NansumBackward0",
        lowering=Composite(_nansum),
    )
)

# ---- var, std, var_mean, std_mean ----------------------------------------------------------


def _dof(x: Any, axes: tuple[int, ...], correction: float) -> float:
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    return max(0, n - correction)


def _moments_abstract(name: str, both: bool):
    def abstract_eval(
        x: AVal, axes: tuple[int, ...], correction: float, keepdims: bool
    ) -> AVal | tuple[AVal, AVal]:
        if not dtypes.is_float(x.dtype):
            raise DTypeError(
                f"{name}: std and var need a floating point tensor, got {x.dtype} (shape "
                f"{tuple(x.shape)}); convert it first with .float()"
            )
        out = AVal(reduced_shape(tuple(x.shape), axes, keepdims), x.dtype)
        return (out, out) if both else out

    return abstract_eval


def _mean(x: Any, axes: tuple[int, ...]) -> Any:
    return apply("mean", x, axes=axes, keepdims=True)


def _var(x: Any, axes: tuple[int, ...], correction: float, keepdims: bool) -> Any:
    d = x - _mean(x, axes)
    return apply("reduce_sum", d * d, axes=axes, keepdims=keepdims) / _dof(x, axes, correction)


def _std(x: Any, axes: tuple[int, ...], correction: float, keepdims: bool) -> Any:
    return _var(x, axes, correction, keepdims).sqrt()


def _var_grad(g: Any, x: Any, axes: tuple[int, ...], correction: float, keepdims: bool) -> Any:
    dof = _dof(x, axes, correction)
    gx = expand_back(g, tuple(x.shape), axes, keepdims) * (x - _mean(x, axes))
    # with no degrees of freedom var is inf (or nan) whatever x is: no derivative
    return gx * (2 / dof) if dof > 0 else gx * math.nan


def _std_grad(
    g: Any, std: Any, x: Any, axes: tuple[int, ...], correction: float, keepdims: bool
) -> Any:
    # d std = d var / (2 std); 0 where std == 0 (all values equal), as in PyTorch
    s = expand_back(std, tuple(x.shape), axes, keepdims)
    gx = expand_back(g, tuple(x.shape), axes, keepdims) * (x - _mean(x, axes))
    return keep(gx / (s * _dof(x, axes, correction)), s != 0)


def _mean_grad(g: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    return expand_back(g, tuple(x.shape), axes, keepdims) / n


register(
    Op(
        "var",
        _moments_abstract("var", both=False),
        None,
        lambda g, out, x, **p: (_var_grad(g, x, **p),),
        grad_fn="VarBackward0",
        lowering=Composite(_var),
    )
)
register(
    Op(
        "std",
        _moments_abstract("std", both=False),
        None,
        lambda g, out, x, **p: (_std_grad(g, out, x, **p),),
        grad_fn="StdBackward0",
        lowering=Composite(_std),
        saves_out=True,
    )
)


def _var_mean(x: Any, axes: tuple[int, ...], correction: float, keepdims: bool) -> Any:
    mean = apply("mean", x, axes=axes, keepdims=keepdims)
    return _var(x, axes, correction, keepdims), mean


def _std_mean(x: Any, axes: tuple[int, ...], correction: float, keepdims: bool) -> Any:
    mean = apply("mean", x, axes=axes, keepdims=keepdims)
    return _std(x, axes, correction, keepdims), mean


def _var_mean_vjp(
    g: tuple[Any, Any], out: Any, x: Any, axes: tuple[int, ...], correction: float, keepdims: bool
) -> tuple[Any]:
    gv, gm = g
    return (_var_grad(gv, x, axes, correction, keepdims) + _mean_grad(gm, x, axes, keepdims),)


def _std_mean_vjp(
    g: tuple[Any, Any], out: Any, x: Any, axes: tuple[int, ...], correction: float, keepdims: bool
) -> tuple[Any]:
    gs, gm = g
    return (
        _std_grad(gs, out[0], x, axes, correction, keepdims) + _mean_grad(gm, x, axes, keepdims),
    )


register(
    Op(
        "var_mean",
        _moments_abstract("var_mean", both=True),
        None,
        _var_mean_vjp,
        grad_fn="VarMeanBackward0",
        lowering=Composite(_var_mean),
        multiple_results=True,
        saves_out=True,  # (so that eager backward fills an unused output's cotangent)
    )
)
register(
    Op(
        "std_mean",
        _moments_abstract("std_mean", both=True),
        None,
        _std_mean_vjp,
        grad_fn="StdMeanBackward0",
        lowering=Composite(_std_mean),
        multiple_results=True,
        saves_out=True,
    )
)

# ---- aminmax: (min, max) in one node ----------------------------------------------------------


def _aminmax_abstract(x: AVal, axes: tuple[int, ...], keepdims: bool) -> tuple[AVal, AVal]:
    out = _reduce_abstract("aminmax", nonempty=True)(x, axes, keepdims)
    return out, out


def _aminmax(x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[Any, Any]:
    return (
        apply("amin", x, axes=axes, keepdims=keepdims),
        apply("amax", x, axes=axes, keepdims=keepdims),
    )


def _aminmax_vjp(
    g: tuple[Any, Any], out: tuple[Any, Any], x: Any, axes: tuple[int, ...], keepdims: bool
) -> tuple[Any]:
    # each half as amin's and amax's: tied extremes share the gradient evenly
    (lo,) = _extremum_vjp(g[0], out[0], x, axes, keepdims)
    (hi,) = _extremum_vjp(g[1], out[1], x, axes, keepdims)
    return (lo + hi,)


register(
    Op(
        "aminmax",
        _aminmax_abstract,
        None,
        _aminmax_vjp,
        grad_fn="AminmaxBackward0",
        lowering=Composite(_aminmax),
        multiple_results=True,
        saves_out=True,
    )
)
