"""Elementwise primitives: arithmetic, math functions, comparisons, where.

Each is one `elementwise(...)` declaration: its numpy impl, its VJP rule, its
typing rule (`compiler.dtypes`: which dtype each operand is converted to) and
its scalar expression for generated code. The abstract eval (broadcasting and
the result dtype) follows from the typing rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.dtypes import compare, floating, is_scalar, is_weak, logical, same, select
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Elementwise, ScalarCode
from compiler.registry import AVal, Op, has_value, register, save_none, save_other

__all__ = ["broadcast_shapes", "chain", "drop", "elementwise", "keep"]


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


def _abstract_eval(name: str, typing: dtypes.Typing) -> Callable[..., AVal]:
    def abstract_eval(*xs: Any, **params: Any) -> AVal:
        shapes = [tuple(x.shape) for x in xs if not is_scalar(x)]
        shape = broadcast_shapes(name, *shapes) if shapes else ()
        _, out = typing(name, xs, **params)
        weak = all(is_weak(x) for x in xs) and not all(is_scalar(x) for x in xs)
        return AVal(shape, out, weak)

    return abstract_eval


def elementwise(
    name: str,
    impl: Callable[..., Any],
    vjp: Callable[..., Any] | None,
    expr: Callable[..., str],
    *,
    typing: dtypes.Typing = same,
    grad_fn: str | None = None,
    **kw: Any,
) -> Op:
    """Declare an elementwise op (see the module docstring)."""
    lowering = Elementwise(expr, typing)
    return register(
        Op(name, _abstract_eval(name, typing), impl, vjp, grad_fn=grad_fn, lowering=lowering, **kw)
    )


def no_bool(typing: dtypes.Typing, why: str) -> dtypes.Typing:
    """`typing`, refusing bool operands as PyTorch (and numpy) do, with its advice."""

    def rule(op: str, xs: Sequence[Any], **params: Any) -> tuple[tuple[np.dtype, ...], np.dtype]:
        wanted, out = typing(op, xs, **params)
        if out == dtypes.bool_:
            shapes = ", ".join(str(tuple(x.shape)) for x in xs if not is_scalar(x))
            raise DTypeError(f"{op}: {why} (shapes {shapes})")
        return wanted, out

    return rule


def chain(g: Any, d: Any) -> Any:
    """The chain rule's `g * d`, for a local derivative `d` that can be inf or nan:
    where the cotangent `g` is 0 the contribution is 0, not 0 * inf = nan.

    That is what makes `where(x > 0, x.sqrt(), 0)` differentiable at x <= 0: where()
    sends a zero cotangent into the branch it did not select, and that branch's
    infinite derivative must not turn it into nan (see docs/where.md).
    """
    if is_scalar(d) and math.isfinite(d):
        return g * d
    return apply_op("safe_mul", g, d)


def keep(g: Any, mask: Any) -> Any:
    """`g` where `mask` holds, else 0: the VJP of an op that selects.

    Where the op's output does not depend on an input (clamped, below relu's
    threshold, the losing side of a max), that input's gradient is 0 whatever
    flows in; multiplying by a 0/1 mask would turn an inf or nan cotangent into
    nan there (see docs/where.md)."""
    return g.where(mask, 0)


def drop(g: Any, mask: Any) -> Any:
    """0 where `mask` holds, else `g` (see `keep`)."""
    return apply_op("where", mask, 0, g)


def apply_op(op: str, *args: Any, **params: Any) -> Any:
    from compiler.operand import apply

    return apply(op, *args, **params)


def _reciprocal(y: Any) -> Any:
    if is_scalar(y):
        return math.copysign(math.inf, y) if y == 0 else 1 / y
    return 1 / y


def _math(fn: str) -> Callable[..., str]:
    return lambda c, x: c.math(fn, x)


# ---- arithmetic -------------------------------------------------------------
_SUB_BOOL = (
    "subtraction, the `-` operator, of bools is not supported; use `^` (xor) or "
    "convert first with .long()"
)
elementwise(
    "add", np.add, lambda g, out, x, y: (g, g), lambda c, x, y: f"{x} + {y}", saves=save_none
)
elementwise(
    "sub",
    np.subtract,
    lambda g, out, x, y: (g, -g),
    lambda c, x, y: f"{x} - {y}",
    typing=no_bool(same, _SUB_BOOL),
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
    lambda c, x, y: f"{x} * {y}",
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
    if is_scalar(d):
        dg = d if math.isfinite(d) else apply_op("where", g == 0, 0, d)
    else:
        dg = apply_op("where", (g == 0) & ~(d.abs() < math.inf), 0, d)
    return chain(gg, dg), chain(gg, g)


# `g * d`, but 0 where g == 0 even if d is inf or nan (see `chain`). The expression
# tests g == 0 rather than isfinite(d): numba's fastmath subset (nsz + reassoc) folds
# `g * d if isfinite(d) ... else g` back into g * d.
elementwise(
    "safe_mul",
    _safe_mul_impl,
    _safe_mul_vjp,
    lambda c, g, d: f"({g} if {g} == 0 else {g} * {d})",
    grad_fn="MulBackward0",
)


def _div_vjp(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    gx = None if is_scalar(x) else chain(g, _reciprocal(y))
    return gx, None if is_scalar(y) or not has_value(x) else chain(g, -x / (y * y))


elementwise(
    "div",
    np.true_divide,
    _div_vjp,
    lambda c, x, y: f"{x} / {y}",
    typing=floating,
    saves=lambda ng: (ng[1], True),
)
elementwise(
    "neg",
    np.negative,
    lambda g, out, x: (-g,),
    lambda c, x: f"-{x}",
    typing=no_bool(
        same,
        "negation, the `-` operator, on a bool tensor is not "
        "supported; to invert a mask use `~mask`",
    ),
    saves=save_none,
)


def _extremum_vjp(g: Any, x: Any, y: Any, x_loses: Any, y_loses: Any) -> tuple[Any, Any]:
    # The winner takes the gradient, tied operands share it evenly, and a NaN (which
    # neither wins nor loses) passes it to both, as in PyTorch.
    split = (g * 0.5).where(x == y, g)
    return drop(split, x_loses), drop(split, y_loses)


elementwise(
    "maximum",
    np.maximum,
    lambda g, out, x, y: _extremum_vjp(g, x, y, x < y, x > y),
    lambda c, x, y: c.helper("maximum", x, y),
)
elementwise(
    "minimum",
    np.minimum,
    lambda g, out, x, y: _extremum_vjp(g, x, y, x > y, x < y),
    lambda c, x, y: c.helper("minimum", x, y),
)

_POW_BOOL = "powers of bools are not supported; convert first with .long() or .float()"


def _pow_impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    try:
        return np.power(x, y)
    except ValueError:  # numpy refuses negative integer powers of integers, as PyTorch
        raise ValueError(
            "pow: integers to negative integer powers are not allowed; "
            "convert the base to float first (x.float() ** y)"
        ) from None


def _pow_vjp(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    # d/dx x**y = y x**(y-1), defined as 0 where y == 0 (as PyTorch: no 0 * inf at x == 0).
    gx = None if is_scalar(x) else chain(g, (y * x ** (y - 1)).where(y != 0, 0))
    if is_scalar(y):
        return gx, None
    # d/dy x**y = x**y log x; PyTorch defines it as 0 where x == 0 and y >= 0.
    if is_scalar(x):  # 2 ** t: log x is a constant
        log_x = math.log(x) if x > 0 else -math.inf if x == 0 else math.nan
        return gx, chain(g, (out * log_x).where(y < 0, 0) if x == 0 else out * log_x)
    safe = (x == 0) & (y >= 0)
    return gx, chain(g, (out * x.where(~safe, 1).log()).where(~safe, 0))


# typing "same": integer ** integer stays integer, as in PyTorch
elementwise(
    "pow",
    _pow_impl,
    _pow_vjp,
    lambda c, x, y: f"{x} ** {y}",
    typing=no_bool(same, _POW_BOOL),
    grad_fn="PowBackward1",
    saves_out=True,
)


def _pow_scalar_typing(
    op: str, xs: Sequence[Any], exponent: float
) -> tuple[tuple[np.dtype, ...], np.dtype]:
    x = xs[0]
    d = x.dtype
    if d == dtypes.bool_:
        raise DTypeError(f"pow: {_POW_BOOL} (a tensor of shape {tuple(x.shape)})")
    if isinstance(exponent, float) and not dtypes.is_float(d):
        d = dtypes.float64 if is_weak(x) else dtypes.default_float()
    if dtypes.is_int(d) and not np.iinfo(d).min <= exponent <= np.iinfo(d).max:
        raise DTypeError(
            f"pow: the exponent {exponent} does not fit in {d} (a tensor of "
            f"shape {tuple(x.shape)}); convert the tensor first (.double())"
        )
    return (d,), d


def _pow_scalar_impl(x: np.ndarray, exponent: float) -> np.ndarray:
    if exponent == 2:
        return x * x
    if isinstance(exponent, int) and exponent < 0 and not dtypes.is_float(x.dtype):
        raise ValueError("pow: integers to negative integer powers are not allowed")
    return np.power(x, x.dtype.type(exponent) if dtypes.is_float(x.dtype) else exponent)


def _pow_scalar_vjp(g: Any, out: Any, x: Any, exponent: float) -> tuple[Any]:
    if exponent == 0:
        return (g.zeros_like(),)
    if exponent == 1:
        return (g,)
    if exponent == 2:  # finite wherever x is
        return (g * x * 2,)
    return (chain(g, x ** (exponent - 1) * exponent),)


def _pow_scalar_expr(c: ScalarCode, x: str) -> str:
    ex = c.params["exponent"]
    if c.dtype.kind != "f":
        return f"{x} ** {int(ex)}"
    return f"{x} * {x}" if ex == 2 else f"{x} ** {c.lit(ex)}"


elementwise(
    "pow_scalar",
    _pow_scalar_impl,
    _pow_scalar_vjp,
    _pow_scalar_expr,
    typing=_pow_scalar_typing,
    grad_fn="PowBackward0",
)

# ---- unary math ---------------------------------------------------------------
# Rules whose derivative can be infinite or nan at a finite input (exp overflows,
# 1/x at 0) go through `chain`, so that a zero cotangent gives a zero gradient.
elementwise(
    "exp",
    np.exp,
    lambda g, out, x: (chain(g, out),),
    _math("exp"),
    typing=floating,
    saves=save_none,
    saves_out=True,
)
elementwise("log", np.log, lambda g, out, x: (chain(g, 1 / x),), _math("log"), typing=floating)
elementwise(
    "log1p",
    np.log1p,
    lambda g, out, x: (chain(g, 1 / (x + 1)),),
    _math("log1p"),
    typing=floating,
    grad_fn="Log1PBackward0",
)
elementwise(
    "sqrt",
    np.sqrt,
    lambda g, out, x: (chain(g, 0.5 / out),),
    _math("sqrt"),
    typing=floating,
    saves=save_none,
    saves_out=True,
)
elementwise("sin", np.sin, lambda g, out, x: (g * x.cos(),), _math("sin"), typing=floating)
elementwise("cos", np.cos, lambda g, out, x: (-g * x.sin(),), _math("cos"), typing=floating)
elementwise(
    "tanh",
    np.tanh,
    lambda g, out, x: (g * (1 - out * out),),
    _math("tanh"),
    typing=floating,
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
    _math("sigmoid"),
    typing=floating,
    saves=save_none,
    saves_out=True,
)


def _relu_impl(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, x.dtype.type(0))


def _relu_expr(c: ScalarCode, x: str) -> str:
    z = c.lit(0)
    return f"{z} if {x} <= {z} else {x}"


elementwise(
    "relu",
    _relu_impl,
    lambda g, out, x: (keep(g, out > 0),),
    _relu_expr,
    saves=save_none,
    saves_out=True,
)


def _sign_impl(x: np.ndarray) -> np.ndarray:
    return x.copy() if x.dtype == np.bool_ else np.sign(x)  # numpy has no bool sign


elementwise("abs", np.abs, lambda g, out, x: (g * x.sign(),), lambda c, x: f"abs({x})")
elementwise(
    "sign",
    _sign_impl,
    lambda g, out, x: (g.zeros_like(),),
    lambda c, x: f"np.sign({x})",
    saves=save_none,
)


def _clamp_typing(
    op: str, xs: Sequence[Any], lo: float | None, hi: float | None
) -> tuple[tuple[np.dtype, ...], np.dtype]:
    x = xs[0]
    bounds = [v for v in (lo, hi) if v is not None]
    d, _ = dtypes.common_dtype([x, *bounds])
    for v in bounds:
        if dtypes.is_int(d) and not np.iinfo(d).min <= v <= np.iinfo(d).max:
            raise DTypeError(
                f"clamp: the bound {v} does not fit in {d} (a tensor of shape "
                f"{tuple(x.shape)}); convert the tensor first (.long())"
            )
    return (d,), d


def _clamp_impl(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    d = x.dtype
    if lo is not None:
        x = np.maximum(x, d.type(lo))
    if hi is not None:
        x = np.minimum(x, d.type(hi))
    return x


def _clamp_vjp(g: Any, out: Any, x: Any, lo: float | None, hi: float | None) -> tuple[Any]:
    inside = None
    if lo is not None:
        inside = x >= lo
    if hi is not None:
        inside = (x <= hi) if inside is None else inside & (x <= hi)
    return (keep(g, inside),)


def _clamp_expr(c: ScalarCode, x: str) -> str:
    if c.params["lo"] is not None:
        x = c.helper("maximum", x, c.lit(c.params["lo"]))
    if c.params["hi"] is not None:
        x = c.helper("minimum", x, c.lit(c.params["hi"]))
    return x


elementwise(
    "clamp", _clamp_impl, _clamp_vjp, _clamp_expr, typing=_clamp_typing, grad_fn="ClampBackward1"
)


def _convert_typing(
    op: str, xs: Sequence[Any], dtype: np.dtype
) -> tuple[tuple[np.dtype, ...], np.dtype]:
    return (xs[0].dtype if not is_scalar(xs[0]) else dtypes.scalar_dtype(xs[0]),), dtype


def _convert_vjp(g: Any, out: Any, x: Any, dtype: np.dtype) -> tuple[Any]:
    return (g.to(x.dtype) if dtypes.is_float(x.dtype) else None,)


elementwise(
    "convert",
    lambda x, dtype: x.astype(dtype),
    _convert_vjp,
    lambda c, x: c.cast(x, c.dtype, c.out_dtype),
    typing=_convert_typing,
    grad_fn="ToCopyBackward0",
    saves=save_none,
)
elementwise(
    "copy",
    np.copy,
    lambda g, out, x: (g,),
    lambda c, x: x,
    grad_fn="CloneBackward0",
    saves=save_none,
)

# ---- comparisons and logic (no gradient) ---------------------------------------
for _name, _fn, _sym in [
    ("lt", np.less, "<"),
    ("le", np.less_equal, "<="),
    ("gt", np.greater, ">"),
    ("ge", np.greater_equal, ">="),
    ("eq", np.equal, "=="),
    ("ne", np.not_equal, "!="),
]:
    elementwise(_name, _fn, None, lambda c, x, y, s=_sym: f"{x} {s} {y}", typing=compare)
elementwise("logical_and", np.logical_and, None, lambda c, x, y: f"{x} & {y}", typing=logical)
elementwise("logical_or", np.logical_or, None, lambda c, x, y: f"{x} | {y}", typing=logical)
elementwise("logical_not", np.logical_not, None, lambda c, x: f"not {x}", typing=logical)


def _where_vjp(g: Any, out: Any, c: Any, x: Any, y: Any) -> tuple[None, Any, Any]:
    return None, keep(g, c), drop(g, c)


elementwise(
    "where",
    np.where,
    _where_vjp,
    lambda c, cond, x, y: f"{x} if {cond} else {y}",
    typing=select,
    saves=lambda ng: (True, False, False),
)
