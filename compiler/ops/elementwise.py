"""Elementwise primitives: arithmetic, math functions, comparisons, where."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import DTypeError, ShapeError
from compiler.registry import AVal, Op, has_value, register, save_none, save_other

# How each kind of elementwise op types its operands: (compute dtype, result dtype).
#   same:     promote the operands, result in that dtype      (add, maximum, relu)
#   float:    promote, then to the default float if integral  (exp, div, sigmoid)
#   compare:  promote to compare, result bool                 (lt, eq)
#   logical:  bool in, bool out                               (logical_and)


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (int, float, bool, np.number, np.bool_))


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """numpy/PyTorch broadcasting, with an error that names the op and every shape."""
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(ndim):
        sizes = {s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0} - {1}
        if len(sizes) > 1:
            shown = " and ".join(str(tuple(s)) for s in shapes)
            raise ShapeError(
                f"{op}: shapes {shown} do not broadcast (dimension {i - ndim} has sizes "
                f"{sorted(sizes)}; sizes must be equal or 1, counting from the last "
                "dimension). Line up the dimensions you mean with .unsqueeze(dim) or "
                ".reshape(...), or transpose one operand."
            )
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def elementwise_dtypes(kind: str, op: str, xs: tuple[Any, ...]) -> tuple[np.dtype, np.dtype]:
    """(compute dtype, result dtype) of an elementwise op; xs are AVals/arrays or scalars."""
    avals = [(x.dtype, len(x.shape)) for x in xs if not _is_scalar(x)]
    scalars = [x for x in xs if _is_scalar(x)]
    common = dtypes.result_type(avals, scalars)
    if kind == "same":
        return common, common
    if kind == "float":
        d = common if dtypes.is_float(common) else dtypes.default_float()
        return d, d
    if kind == "compare":
        return common, dtypes.bool_
    if kind == "logical":
        return dtypes.bool_, dtypes.bool_
    if kind == "where":
        cond, rest = xs[0], xs[1:]
        if not _is_scalar(cond) and cond.dtype != dtypes.bool_:
            raise DTypeError(
                f"{op}: condition must be a bool tensor, got {cond.dtype} (shape "
                f"{tuple(cond.shape)}); compare to make one (x > 0), or "
                "convert with .bool()"
            )
        return elementwise_dtypes("same", op, rest)
    raise AssertionError(kind)


# Ops that PyTorch (and numpy) refuse on bools, with its advice.
_NO_BOOL = {
    "neg": "negation, the `-` operator, on a bool tensor is not supported; to invert a "
    "mask use `~mask`",
    "sub": "subtraction, the `-` operator, of bools is not supported; use `^` (xor) or "
    "convert first with .long()",
    "pow": "powers of bools are not supported; convert first with .long() or .float()",
}


def _abstract_eval(kind: str, name: str):
    def abstract_eval(*xs: Any, **params: Any) -> AVal:
        shapes = [tuple(x.shape) for x in xs if not _is_scalar(x)]
        shape = broadcast_shapes(name, *shapes) if shapes else ()
        dtype = elementwise_dtypes(kind, name, xs)[1]
        if dtype == dtypes.bool_ and name in _NO_BOOL:
            raise DTypeError(f"{name}: {_NO_BOOL[name]} (shapes {', '.join(map(str, shapes))})")
        return AVal(shape, dtype)

    return abstract_eval


def elementwise(
    name: str,
    impl: Any,
    vjp: Any,
    *,
    kind: str = "same",
    template: str = "",
    grad_fn: str | None = None,
    **kw: Any,
) -> Op:
    return register(
        Op(
            name,
            _abstract_eval(kind, name),
            impl,
            vjp,
            grad_fn=grad_fn,
            lowering=template,
            elementwise=True,
            extra={"kind": kind},
            **kw,
        )
    )


def _vjp_none(*_: Any, **__: Any) -> None:
    return None


def chain(g: Any, d: Any) -> Any:
    """The chain rule's `g * d`, for a local derivative `d` that can be inf or nan:
    where the cotangent `g` is 0 the contribution is 0, not 0 * inf = nan.

    That is what makes `where(x > 0, x.sqrt(), 0)` differentiable at x <= 0: where()
    sends a zero cotangent into the branch it did not select, and that branch's
    infinite derivative must not turn it into nan (see docs/where.md).
    """
    if _is_scalar(d) and math.isfinite(d):
        return g * d
    return apply_op("safe_mul", g, d)


def apply_op(op: str, *args: Any, **params: Any) -> Any:
    from compiler.operand import apply

    return apply(op, *args, **params)


def _reciprocal(y: Any) -> Any:
    if _is_scalar(y):
        return math.copysign(math.inf, y) if y == 0 else 1 / y
    return 1 / y


# ---- arithmetic -------------------------------------------------------------
elementwise(
    "add", np.add, lambda g, out, x, y: (g, g), template="{0} + {1}", linear=True, saves=save_none
)
elementwise(
    "sub",
    np.subtract,
    lambda g, out, x, y: (g, -g),
    template="{0} - {1}",
    linear=True,
    saves=save_none,
)
# mul's derivative is the other operand, which can be inf or nan itself (x * log(x)
# at x == 0): it goes through `chain` too.
elementwise(
    "mul",
    np.multiply,
    lambda g, out, x, y: (
        chain(g, y) if has_value(y) else None,
        chain(g, x) if has_value(x) else None,
    ),
    template="{0} * {1}",
    saves=save_other,
)


def _safe_mul_impl(g: np.ndarray, d: np.ndarray) -> np.ndarray:
    out = np.multiply(g, d)
    nan = np.isnan(out)
    if nan.any():  # 0 * inf or 0 * nan: the zero cotangent wins
        out = np.where(nan & (g == 0), g, out)
    return out


def _safe_mul_vjp(gg: Any, out: Any, g: Any, d: Any) -> tuple[Any, Any]:
    # d(g*d)/dg is d, except where the guard fired (g == 0, d inf or nan): there the
    # contribution is 0 whatever g's neighbourhood, so its derivative is 0 too. Where d
    # is finite it stays d, even at g == 0 (the Hessian of x * sqrt(y) at x == 0).
    if _is_scalar(d):
        dg = d if math.isfinite(d) else apply_op("where", g == 0, 0, d)
    else:
        dg = apply_op("where", (g == 0) & ~(d.abs() < math.inf), 0, d)
    return chain(gg, dg), chain(gg, g)


# `g * d`, but 0 where g == 0 even if d is inf or nan (see `chain`). The template
# tests g == 0 rather than isfinite(d): numba's fastmath subset (nsz + reassoc) folds
# `g * d if isfinite(d) ... else g` back into g * d.
elementwise(
    "safe_mul",
    _safe_mul_impl,
    _safe_mul_vjp,
    template="({0} if {0} == 0 else {0} * {1})",
    grad_fn="MulBackward0",
)


def _div_vjp(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    if not _is_scalar(y):
        y = y.to(g.dtype)  # an integer divisor: the derivative in the result's dtype
    gx = None if _is_scalar(x) else chain(g, _reciprocal(y))
    return gx, None if _is_scalar(y) or not has_value(x) else chain(g, -x / (y * y))


elementwise(
    "div",
    np.true_divide,
    _div_vjp,
    kind="float",
    template="{0} / {1}",
    saves=lambda ng: (ng[1], True),
)
elementwise(
    "neg", np.negative, lambda g, out, x: (-g,), template="-{0}", linear=True, saves=save_none
)
elementwise(
    "maximum",
    np.maximum,
    lambda g, out, x, y: _minmax_vjp(g, x, y, x > y),
    template="max({0}, {1})",
)
elementwise(
    "minimum",
    np.minimum,
    lambda g, out, x, y: _minmax_vjp(g, x, y, x < y),
    template="min({0}, {1})",
)


def _minmax_vjp(g: Any, x: Any, y: Any, x_wins: Any) -> tuple[Any, Any]:
    # PyTorch splits the gradient evenly between tied operands.
    gx = (x_wins.to(g.dtype) + (x == y).to(g.dtype) * 0.5) * g
    return gx, g - gx


def _pow_impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if np.asarray(x).dtype == np.bool_:  # numpy answers in int8: refuse as abstract_eval does
        raise TypeError("pow of bools")
    try:
        return np.power(x, y)
    except ValueError:  # numpy refuses negative integer powers of integers, as PyTorch
        raise ValueError(
            "pow: integers to negative integer powers are not allowed; "
            "convert the base to float first (x.float() ** y)"
        ) from None


def _pow_vjp(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    # d/dx x**y = y x**(y-1), defined as 0 where y == 0 (as PyTorch: no 0 * inf at x == 0).
    gx = None if _is_scalar(x) else chain(g, (y * x ** (y - 1)).where(y != 0, 0))
    if _is_scalar(y):
        return gx, None
    # d/dy x**y = x**y log x; PyTorch defines it as 0 where x == 0 and y >= 0.
    if _is_scalar(x):  # 2 ** t: log x is a constant
        log_x = math.log(x) if x > 0 else -math.inf if x == 0 else math.nan
        return gx, chain(g, (out * log_x).where(y < 0, 0) if x == 0 else out * log_x)
    safe = (x == 0) & (y >= 0)
    return gx, chain(g, (out * x.where(~safe, 1).log()).where(~safe, 0))


# kind "same": integer ** integer stays integer, as in PyTorch
elementwise(
    "pow",
    _pow_impl,
    _pow_vjp,
    kind="same",
    template="{0} ** {1}",
    grad_fn="PowBackward1",
    saves_out=True,
)


def _pow_scalar_abstract(x: AVal, exponent: float) -> AVal:
    d = x.dtype
    if d == dtypes.bool_:
        raise DTypeError(f"pow: {_NO_BOOL['pow']} (a tensor of shape {tuple(x.shape)})")
    if isinstance(exponent, float) and not dtypes.is_float(d):
        d = dtypes.default_float()
    if dtypes.is_int(d) and not np.iinfo(d).min <= exponent <= np.iinfo(d).max:
        raise DTypeError(
            f"pow: the exponent {exponent} does not fit in {d} (a tensor of "
            f"shape {tuple(x.shape)}); convert the tensor first (.double())"
        )
    return AVal(tuple(x.shape), d)


def _pow_scalar_impl(x: np.ndarray, exponent: float) -> np.ndarray:
    if x.dtype == np.bool_:
        raise TypeError("pow of bools")  # abstract_eval says why
    if exponent == 2:
        return x * x
    if isinstance(exponent, int) and exponent < 0 and not dtypes.is_float(x.dtype):
        raise ValueError("pow: integers to negative integer powers are not allowed")
    if isinstance(exponent, float) and not dtypes.is_float(x.dtype):
        x = x.astype(dtypes.default_float())  # as _pow_scalar_abstract says (numpy: float64)
    return np.power(x, x.dtype.type(exponent) if dtypes.is_float(x.dtype) else exponent)


def _pow_scalar_vjp(g: Any, out: Any, x: Any, exponent: float) -> tuple[Any]:
    if exponent == 0:
        return (g.zeros_like(),)
    if exponent == 1:
        return (g,)
    if exponent == 2:  # finite wherever x is
        return (g * x * 2,)
    return (chain(g, x ** (exponent - 1) * exponent),)


register(
    Op(
        "pow_scalar",
        _pow_scalar_abstract,
        _pow_scalar_impl,
        _pow_scalar_vjp,
        grad_fn="PowBackward0",
        lowering="pow_scalar",
        elementwise=True,
        extra={"kind": "pow_scalar"},
    )
)

# ---- unary math ---------------------------------------------------------------
# Rules whose derivative can be infinite or nan at a finite input (exp overflows,
# 1/x at 0) go through `chain`, so that a zero cotangent gives a zero gradient.
elementwise(
    "exp",
    np.exp,
    lambda g, out, x: (chain(g, out),),
    kind="float",
    template="exp({0})",
    saves=save_none,
    saves_out=True,
)
elementwise("log", np.log, lambda g, out, x: (chain(g, 1 / x),), kind="float", template="log({0})")
elementwise(
    "log1p",
    np.log1p,
    lambda g, out, x: (chain(g, 1 / (x + 1)),),
    kind="float",
    template="log1p({0})",
    grad_fn="Log1PBackward0",
)
elementwise(
    "sqrt",
    np.sqrt,
    lambda g, out, x: (chain(g, 0.5 / out),),
    kind="float",
    template="sqrt({0})",
    saves=save_none,
    saves_out=True,
)
elementwise("sin", np.sin, lambda g, out, x: (g * x.cos(),), kind="float", template="sin({0})")
elementwise("cos", np.cos, lambda g, out, x: (-g * x.sin(),), kind="float", template="cos({0})")
elementwise(
    "tanh",
    np.tanh,
    lambda g, out, x: (g * (1 - out * out),),
    kind="float",
    template="tanh({0})",
    saves=save_none,
    saves_out=True,
)


def _sigmoid_impl(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive number never overflows: split on the sign.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


elementwise(
    "sigmoid",
    _sigmoid_impl,
    lambda g, out, x: (g * out * (1 - out),),
    kind="float",
    template="sigmoid({0})",
    saves=save_none,
    saves_out=True,
)


def _relu_impl(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, x.dtype.type(0))


elementwise(
    "relu",
    _relu_impl,
    lambda g, out, x: (g * (out > 0).to(g.dtype),),
    template="relu({0})",
    saves=save_none,
    saves_out=True,
)


def _sign_impl(x: np.ndarray) -> np.ndarray:
    return x.copy() if x.dtype == np.bool_ else np.sign(x)  # numpy has no bool sign


elementwise("abs", np.abs, lambda g, out, x: (g * x.sign(),), template="abs({0})")
elementwise(
    "sign", _sign_impl, lambda g, out, x: (g.zeros_like(),), template="sign({0})", saves=save_none
)


def _clamp_abstract(x: AVal, lo: float | None, hi: float | None) -> AVal:
    scalars = [v for v in (lo, hi) if v is not None]
    d = dtypes.result_type([(x.dtype, len(x.shape))], scalars)
    for v in scalars:
        if dtypes.is_int(d) and not np.iinfo(d).min <= v <= np.iinfo(d).max:
            raise DTypeError(
                f"clamp: the bound {v} does not fit in {d} (a tensor of shape "
                f"{tuple(x.shape)}); convert the tensor first (.long())"
            )
    return AVal(tuple(x.shape), d)


def _clamp_impl(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    d = _clamp_abstract(AVal(x.shape, x.dtype), lo, hi).dtype
    x = x.astype(d, copy=False)
    if lo is not None:
        x = np.maximum(x, d.type(lo))
    if hi is not None:
        x = np.minimum(x, d.type(hi))
    return x


def _clamp_vjp(g: Any, out: Any, x: Any, lo: float | None, hi: float | None) -> tuple[Any]:
    keep = None
    if lo is not None:
        keep = x >= lo
    if hi is not None:
        keep = (x <= hi) if keep is None else keep & (x <= hi)
    return (g * keep.to(g.dtype),)


register(
    Op(
        "clamp",
        _clamp_abstract,
        _clamp_impl,
        _clamp_vjp,
        grad_fn="ClampBackward1",
        lowering="clamp",
        elementwise=True,
        extra={"kind": "clamp"},
    )
)


def _convert_abstract(x: AVal, dtype: np.dtype) -> AVal:
    return AVal(tuple(x.shape), dtype)


def _convert_vjp(g: Any, out: Any, x: Any, dtype: np.dtype) -> tuple[Any]:
    return (g.to(x.dtype) if dtypes.is_float(x.dtype) else None,)


register(
    Op(
        "convert",
        _convert_abstract,
        lambda x, dtype: x.astype(dtype),
        _convert_vjp,
        grad_fn="ToCopyBackward0",
        lowering="convert",
        elementwise=True,
        linear=True,
        saves=save_none,
        extra={"kind": "convert"},
    )
)
register(
    Op(
        "copy",
        lambda x: AVal(tuple(x.shape), x.dtype),
        np.copy,
        lambda g, out, x: (g,),
        grad_fn="CloneBackward0",
        lowering="{0}",
        elementwise=True,
        linear=True,
        saves=save_none,
        extra={"kind": "same"},
    )
)
register(
    Op(
        "stop_gradient",
        lambda x: AVal(tuple(x.shape), x.dtype),
        lambda x: x,
        None,
        lowering="{0}",
        elementwise=True,
        view=True,
        extra={"kind": "same"},
    )
)

# ---- comparisons and logic (no gradient) ---------------------------------------
for _name, _fn, _tmpl in [
    ("lt", np.less, "<"),
    ("le", np.less_equal, "<="),
    ("gt", np.greater, ">"),
    ("ge", np.greater_equal, ">="),
    ("eq", np.equal, "=="),
    ("ne", np.not_equal, "!="),
]:
    elementwise(_name, _fn, None, kind="compare", template=f"{{0}} {_tmpl} {{1}}")
elementwise("logical_and", np.logical_and, None, kind="logical", template="{0} and {1}")
elementwise("logical_or", np.logical_or, None, kind="logical", template="{0} or {1}")
elementwise("logical_not", np.logical_not, None, kind="logical", template="not {0}")


def _where_vjp(g: Any, out: Any, c: Any, x: Any, y: Any) -> tuple[None, Any, Any]:
    zero = g.zeros_like()
    return None, g.where(c, zero), zero.where(c, g)


elementwise(
    "where",
    np.where,
    _where_vjp,
    kind="where",
    template="{1} if {0} else {2}",
    saves=lambda ng: (True, False, False),
)
