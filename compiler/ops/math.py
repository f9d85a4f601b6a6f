"""Elementwise math primitives beyond the core arithmetic: rounding, PyTorch's integer
and floating-point divisions, the transcendental and special functions, the
two-argument functions (atan2, hypot, lerp, logaddexp, xlogy, copysign, fmax, fmin),
clamps with tensor bounds, and the bitwise ops.

Functions numpy computes to the last bit (floor, tan, log2, ...) are `elementwise`
primitives with numpy's impl and a scalar expression; those written with other ops
(frac, lerp, xlogy, fmax, ...) are `Composite`s, each still one node with PyTorch's
name and its own VJP. Every VJP is written with Operand methods, so it runs eagerly
and staged, and to any order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.dtypes import Typing, common_dtype, floating, is_scalar, logical, same
from compiler.errors import DTypeError
from compiler.lowering import Composite, ScalarCode
from compiler.ops.elementwise import broadcast_shapes, chain, drop, elementwise, keep, no_bool
from compiler.registry import DIAGONAL, AVal, Op, register, save_none
from runtime import special
from runtime.special import POLYGAMMA_MAX_N

__all__ = ["composite_elementwise", "float_only", "integral", "operands_text"]

_LN2 = math.log(2)
_LN10 = math.log(10)
_F64 = np.dtype(np.float64)


# ---- typing rules -----------------------------------------------------------------------


def operands_text(xs: Sequence[Any]) -> str:
    """The operands as an error shows them: `float32 (3, 4)`, `the number 2.5`."""
    return " and ".join(
        f"the number {x!r}" if is_scalar(x) else f"{x.dtype} {tuple(x.shape)}" for x in xs
    )


def float_only(op: str, xs: Sequence[Any], **params: Any) -> tuple[tuple[np.dtype, ...], np.dtype]:
    """Promote; the result must be floating point, as PyTorch's hypot, lerp, logaddexp,
    frac (no integer kernels)."""
    d, _ = common_dtype(xs)
    if not dtypes.is_float(d):
        raise DTypeError(
            f"{op}: expected floating point operands, got {operands_text(xs)}; convert "
            "them first with .float() or .double()"
        )
    return (d,) * len(xs), d


def integral(op: str, xs: Sequence[Any], **params: Any) -> tuple[tuple[np.dtype, ...], np.dtype]:
    """Promote; the result must be an integer or bool dtype (the bitwise ops)."""
    d, _ = common_dtype(xs)
    if dtypes.is_float(d):
        raise DTypeError(
            f"{op}: only integer and bool tensors have bits to combine, got "
            f"{operands_text(xs)}; for masks compare first (x > 0), for integers convert "
            "with .long()"
        )
    return (d,) * len(xs), d


# ---- composites that behave like elementwise ops -------------------------------------------


def _elementwise_abstract(name: str, typing: Typing) -> Callable[..., AVal]:
    def abstract_eval(*xs: Any, **params: Any) -> AVal:
        shapes = [tuple(x.shape) for x in xs if not is_scalar(x)]
        shape = broadcast_shapes(name, *shapes) if shapes else ()
        _, out = typing(name, xs, **params)
        return AVal(shape, out)

    return abstract_eval


def promoted(name: str, typing: Typing, xs: Sequence[Any], params: dict[str, Any]) -> list[Any]:
    """The operands converted to the dtypes `typing` gives them (numbers stay numbers)."""
    wanted, _ = typing(name, xs, **params)
    return [x if is_scalar(x) else x.to(d) for x, d in zip(xs, wanted)]


def composite_elementwise(
    name: str,
    fn: Callable[..., Any],
    vjp: Callable[..., Any] | None,
    *,
    typing: Typing,
    grad_fn: str | Callable[..., str] | None = None,
    **kw: Any,
) -> Op:
    """Declare a broadcasting op defined by other ops: `fn` gets its operands already
    converted by `typing` (abstract eval: broadcast shapes, typing's result dtype)."""

    def definition(*xs: Any, **params: Any) -> Any:
        return fn(*promoted(name, typing, xs, params), **params)

    return register(
        Op(
            name,
            _elementwise_abstract(name, typing),
            None,
            vjp,
            grad_fn=grad_fn,
            lowering=Composite(definition),
            **{"jvp": DIAGONAL, **kw},
        )
    )


def _zeros(g: Any, *xs: Any) -> tuple[Any, ...]:
    """The gradient of a piecewise-constant op: 0 for every tensor operand."""
    return tuple(None if is_scalar(x) else g.zeros_like() for x in xs)


# ---- rounding ------------------------------------------------------------------------------

_ROUND_BOOL = "rounding a bool tensor is not supported; convert it first with .long() or .float()"


def _rounding(name: str, fn: Callable[..., Any], numba_fn: str) -> None:
    def impl(x: np.ndarray) -> np.ndarray:
        return fn(x) if x.dtype.kind == "f" else x.copy()

    def expr(c: ScalarCode, x: str) -> str:
        return f"np.{numba_fn}({x})" if c.dtype.kind == "f" else x

    elementwise(
        name,
        impl,
        lambda g, out, x: _zeros(g, x),
        expr,
        typing=no_bool(same, f"{name}: {_ROUND_BOOL}"),
        saves=save_none,
    )


_rounding("floor", np.floor, "floor")
_rounding("ceil", np.ceil, "ceil")
_rounding("trunc", np.trunc, "trunc")


def _round_typing(
    op: str, xs: Sequence[Any], decimals: int = 0
) -> tuple[tuple[np.dtype, ...], np.dtype]:
    wanted, d = no_bool(same, f"round: {_ROUND_BOOL}")(op, xs)
    if decimals and not dtypes.is_float(d):
        raise DTypeError(
            f"round: decimals={decimals} needs a floating point tensor, got {d} (shape "
            f"{tuple(xs[0].shape)}); an integer tensor rounds to itself with decimals=0"
        )
    return wanted, d


def _round_impl(x: np.ndarray, decimals: int = 0) -> np.ndarray:
    # PyTorch: nearbyint(x * 10**d) / 10**d, or nearbyint(x / 10**-d) * 10**-d, in x's
    # dtype (halves to even)
    if x.dtype.kind != "f":
        return x.copy()
    if decimals == 0:
        return np.rint(x)
    p = x.dtype.type(10.0 ** abs(decimals))
    return np.rint(x * p) / p if decimals > 0 else np.rint(x / p) * p


def _round_expr(c: ScalarCode, x: str) -> str:
    d = c.params["decimals"]
    if c.dtype.kind != "f":
        return x
    if d == 0:
        return f"np.rint({x})"
    p = c.lit(10.0 ** abs(d))
    return f"(np.rint({x} * {p}) / {p})" if d > 0 else f"(np.rint({x} / {p}) * {p})"


elementwise(
    "round",
    _round_impl,
    lambda g, out, x, decimals: _zeros(g, x),
    _round_expr,
    typing=_round_typing,
    grad_fn=lambda avals, decimals=0: "RoundBackward1" if decimals else "RoundBackward0",
    saves=save_none,
)

register(
    Op(
        "frac",
        _elementwise_abstract("frac", float_only),
        None,
        lambda g, out, x: (g,),
        grad_fn="FracBackward0",
        lowering=Composite(lambda x: x - apply_op("trunc", x)),
        saves=save_none,
        jvp=DIAGONAL,
    )
)


def apply_op(op: str, *args: Any, **params: Any) -> Any:
    from compiler.operand import apply

    return apply(op, *args, **params)


# ---- integer and floating-point division ----------------------------------------------------

_DIV_BOOL = "bool operands are not supported; convert them first with .long()"


_SPELLED = {"trunc_divide": "div(rounding_mode='trunc')", "floor_divide": "floor_divide (//)"}
_ZERO_DIVISOR = (
    "integer division by zero (the divisor holds a 0), which PyTorch refuses too; divide "
    "float tensors to get inf/nan there, or replace the zeros first (tracer.where(y == 0, "
    "1, y))"
)


def _int_divisor(op: str, y: Any) -> None:
    if np.any(np.asarray(y) == 0):
        raise ZeroDivisionError(f"{_SPELLED.get(op, op)}: {_ZERO_DIVISOR}")


def _division(
    name: str,
    float_impl: Callable[..., Any],
    int_impl: Callable[..., Any],
    float_helper: Callable[[ScalarCode, str, str], str],
    int_helper: str,
    vjp: Callable[..., Any],
    grad_fn: str | Callable[..., str],
) -> None:
    def impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if x.dtype.kind == "f":
            return float_impl(x, y)
        _int_divisor(name, y)
        return int_impl(x, y)

    def expr(c: ScalarCode, x: str, y: str) -> str:
        if c.dtype.kind == "f":
            return float_helper(c, x, y)
        return c.helper(int_helper, x, y, c.error(_ZERO_DIVISOR))

    elementwise(
        name, impl, vjp, expr, typing=no_bool(same, f"{name}: {_DIV_BOOL}"), grad_fn=grad_fn
    )


def _remainder_float(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # fmod, moved to the divisor's sign (PyTorch's formula: -0.0 % 2 is -0.0)
    mod = np.fmod(x, y)
    wrong = (mod != 0) & ((y < 0) != (mod < 0))
    return np.where(wrong, mod + y, mod).astype(x.dtype, copy=False)


def _c_int_division(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    q = np.floor_divide(x, y)
    return q + ((q < 0) & (q * y != x)).astype(q.dtype)


def _c_int_remainder(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.fmod(x, y)


def _scalar_pair_name(tensor_other: str, number_other: str) -> Callable[..., str]:
    """grad_fn naming of remainder/fmod: `...Backward0` when the divisor is a number."""

    def name(avals: Sequence[Any], **params: Any) -> str:
        return number_other if len(avals) > 1 and is_scalar(avals[1]) else tensor_other

    return name


_division(
    "floor_divide",
    np.floor_divide,
    np.floor_divide,
    lambda c, x, y: c.helper("floor_divide_float", x, y),
    "floor_divide_int",
    lambda g, out, x, y: _zeros(g, x, y),
    # PyTorch's `//` node raises NotImplemented in backward; div(rounding_mode="floor")
    # computes the same and gives zero gradients: DivBackward2
    "DivBackward2",
)
_division(
    "trunc_divide",
    lambda x, y: np.trunc(x / y),
    _c_int_division,
    lambda c, x, y: f"np.trunc({x} / {y})",
    "trunc_divide_int",
    lambda g, out, x, y: _zeros(g, x, y),
    "DivBackward2",
)
# d/dy (x - q y) = -q with q = x // y (or trunc(x / y)): the gradient PyTorch gives
_division(
    "remainder",
    _remainder_float,
    np.remainder,
    lambda c, x, y: c.helper("remainder_float", x, y),
    "remainder_int",
    lambda g, out, x, y: (
        None if is_scalar(x) else g,
        None if is_scalar(y) else -g * apply_op("floor_divide", x, y),
    ),
    _scalar_pair_name("RemainderBackward1", "RemainderBackward0"),
)
_division(
    "fmod",
    np.fmod,
    _c_int_remainder,
    lambda c, x, y: f"np.fmod({x}, {y})",
    "fmod_int",
    lambda g, out, x, y: (
        None if is_scalar(x) else g,
        None if is_scalar(y) else -g * apply_op("trunc_divide", x, y),
    ),
    _scalar_pair_name("FmodBackward1", "FmodBackward0"),
)

# ---- unary functions -----------------------------------------------------------------------


def _unary(
    name: str,
    impl: Callable[..., Any],
    vjp: Callable[..., Any],
    expr: Callable[..., str],
    **kw: Any,
) -> None:
    elementwise(name, impl, vjp, expr, typing=floating, **kw)


def _np(fn: str) -> Callable[..., str]:
    return lambda c, x: f"np.{fn}({x})"


def _rsqrt(x: Any) -> Any:
    return apply_op("rsqrt", x)


_unary(
    "expm1",
    np.expm1,
    lambda g, out, x: (chain(g, out + 1),),
    lambda c, x: c.math("expm1", x),
    grad_fn="Expm1Backward0",
    saves=save_none,
    saves_out=True,
)
_unary("log2", np.log2, lambda g, out, x: (chain(g, 1 / (x * _LN2)),), _np("log2"))
_unary("log10", np.log10, lambda g, out, x: (chain(g, 1 / (x * _LN10)),), _np("log10"))
_unary(
    "tan",
    np.tan,
    lambda g, out, x: (g * (1 + out * out),),
    _np("tan"),
    saves=save_none,
    saves_out=True,
)
_unary("asin", np.arcsin, lambda g, out, x: (chain(g, _rsqrt(1 - x * x)),), _np("arcsin"))
_unary("acos", np.arccos, lambda g, out, x: (chain(g, -_rsqrt(1 - x * x)),), _np("arccos"))
_unary("atan", np.arctan, lambda g, out, x: (g / (1 + x * x),), _np("arctan"))
_unary("sinh", np.sinh, lambda g, out, x: (chain(g, apply_op("cosh", x)),), _np("sinh"))
_unary("cosh", np.cosh, lambda g, out, x: (chain(g, apply_op("sinh", x)),), _np("cosh"))
_unary("asinh", np.arcsinh, lambda g, out, x: (g * _rsqrt(x * x + 1),), _np("arcsinh"))
# (x - 1)(x + 1) rather than PyTorch's x*x - 1: exact near 1
_unary(
    "acosh", np.arccosh, lambda g, out, x: (chain(g, _rsqrt((x - 1) * (x + 1))),), _np("arccosh")
)
_unary("atanh", np.arctanh, lambda g, out, x: (chain(g, 1 / (1 - x * x)),), _np("arctanh"))
elementwise(
    "rsqrt",
    lambda x: 1 / np.sqrt(x),
    lambda g, out, x: (chain(g, out * out * out * -0.5),),
    lambda c, x: f"{c.lit(1)} / {c.math('sqrt', x)}",
    typing=floating,
    saves=save_none,
    saves_out=True,
)

register(
    Op(
        "reciprocal",
        _elementwise_abstract("reciprocal", floating),
        None,
        lambda g, out, x: (chain(g, -(out * out)),),
        grad_fn="ReciprocalBackward0",
        lowering=Composite(lambda x: 1 / x.to(floating("reciprocal", [x])[1])),
        saves=save_none,
        saves_out=True,
        jvp=DIAGONAL,
    )
)
register(
    Op(
        "exp2",
        _elementwise_abstract("exp2", floating),
        None,
        lambda g, out, x: (chain(g, out * _LN2),),
        grad_fn="Exp2Backward0",
        lowering=Composite(lambda x: 2.0 ** x.to(floating("exp2", [x])[1])),
        saves=save_none,
        saves_out=True,
        jvp=DIAGONAL,
    )
)


def _special(
    name: str, fn: Callable[..., Any], helper: str, vjp: Callable[..., Any], **kw: Any
) -> None:
    """A special function: numpy impl from runtime.special, compiled through a float64
    scalar helper of runtime.jit (float32 results are the float64 ones rounded, as
    eagerly)."""

    def expr(c: ScalarCode, x: str) -> str:
        return c.cast(c.helper(helper, c.cast(x, c.dtype, _F64)), _F64, c.dtype)

    _unary(name, fn, vjp, expr, **kw)


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_special("erf", special.erf, "erf", lambda g, out, x: (g * (-x * x).exp() * _TWO_OVER_SQRT_PI,))
_special("erfc", special.erfc, "erfc", lambda g, out, x: (g * (-x * x).exp() * -_TWO_OVER_SQRT_PI,))
_special(
    "erfinv",
    special.erfinv,
    "erfinv",
    lambda g, out, x: (chain(g, (out * out).exp() * (math.sqrt(math.pi) / 2)),),
    saves=save_none,
    saves_out=True,
)
_special("lgamma", special.lgamma, "lgamma", lambda g, out, x: (chain(g, apply_op("digamma", x)),))
_special(
    "digamma",
    special.digamma,
    "digamma",
    lambda g, out, x: (chain(g, apply_op("polygamma", x, n=1)),),
)


def _polygamma_typing(
    op: str, xs: Sequence[Any], n: int = 1
) -> tuple[tuple[np.dtype, ...], np.dtype]:
    if not 0 <= n <= POLYGAMMA_MAX_N:
        raise ValueError(
            f"polygamma: the order n must lie in 0..{POLYGAMMA_MAX_N}, got {n}"
            + (" (PyTorch refuses negative n too)" if n < 0 else "")
        )
    return floating(op, xs)


def _polygamma_expr(c: ScalarCode, x: str) -> str:
    n = c.params["n"]
    wide = c.cast(x, c.dtype, _F64)
    call = c.helper("digamma", wide) if n == 0 else c.helper("polygamma", str(n), wide)
    return c.cast(call, _F64, c.dtype)


elementwise(
    "polygamma",
    lambda x, n: special.polygamma(n, x),
    lambda g, out, x, n: (chain(g, apply_op("polygamma", x, n=n + 1)),),
    _polygamma_expr,
    typing=_polygamma_typing,
)

# ---- composites of one operand -------------------------------------------------------------


def _sinc(x: Any) -> Any:
    y = x * math.pi
    return (y.sin() / y).where(x != 0, 1)


def _sinc_vjp(g: Any, out: Any, x: Any) -> tuple[Any]:
    # d/dx sinc = (cos(pi x) - sinc(x)) / x; near 0 that difference cancels, so there
    # the series -pi^2 x/3 + pi^4 x^3/30 - pi^6 x^5/840 + pi^8 x^7/45360 (error < 1e-17
    # for |pi x| < 0.1); PyTorch's formula gives 0 at x = 1e-9 instead of -3.3e-9
    y = x * math.pi
    far = (y.cos() - _sinc(x)) / x
    t = y * y
    near = x * (
        -(math.pi**2) / 3
        + t * (math.pi**2 / 30 + t * (-(math.pi**2) / 840 + t * (math.pi**2 / 45360)))
    )
    return (g * near.where(y.abs() < 0.1, far),)


register(
    Op(
        "sinc",
        _elementwise_abstract("sinc", floating),
        None,
        _sinc_vjp,
        grad_fn="SincBackward0",
        lowering=Composite(lambda x: _sinc(x.to(floating("sinc", [x])[1]))),
        jvp=DIAGONAL,
    )
)


def _logit(x: Any, eps: float | None = None) -> Any:
    z = x if eps is None else x.clamp(eps, 1 - eps)
    return (z / (1 - z)).log()


def _logit_vjp(g: Any, out: Any, x: Any, eps: float | None = None) -> tuple[Any]:
    d = chain(g, 1 / (x * (1 - x)))
    if eps is None:
        return (d,)
    return (keep(d, (x >= eps) & (x <= 1 - eps)),)  # clamped: 0, as PyTorch


register(
    Op(
        "logit",
        _elementwise_abstract("logit", floating),
        None,
        _logit_vjp,
        grad_fn="LogitBackward0",
        lowering=Composite(lambda x, eps=None: _logit(x.to(floating("logit", [x])[1]), eps)),
        jvp=DIAGONAL,
    )
)


def _nan_to_num(
    x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Any:
    if not dtypes.is_float(x.dtype):
        return x.clone()
    info = np.finfo(x.dtype)
    hi = float(info.max) if posinf is None else posinf
    lo = float(info.min) if neginf is None else neginf
    out = x.where(x == x, nan)
    out = out.where(x != math.inf, hi)
    return out.where(x != -math.inf, lo)


register(
    Op(
        "nan_to_num",
        _elementwise_abstract("nan_to_num", same),
        None,
        lambda g, out, x, nan=0.0, posinf=None, neginf=None: (keep(g, x.abs() < math.inf),),
        grad_fn="NanToNumBackward0",
        lowering=Composite(_nan_to_num),
        jvp=DIAGONAL,
    )
)

# ---- two operands --------------------------------------------------------------------------


def _atan2_vjp(g: Any, out: Any, y: Any, x: Any) -> tuple[Any, Any]:
    # d atan2(y, x) = (x dy - y dx) / (x^2 + y^2); 0 at the origin, as PyTorch
    r2 = x * x + y * y
    inside = r2 != 0
    gy = None if is_scalar(y) else keep(g * x / r2, inside)
    gx = None if is_scalar(x) else keep(-g * y / r2, inside)
    return gy, gx


elementwise(
    "atan2",
    np.arctan2,
    _atan2_vjp,
    lambda c, y, x: f"np.arctan2({y}, {x})",
    typing=floating,
)


def _hypot_vjp(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    # x / hypot, y / hypot; at the origin (a kink, like a norm's) 0 where PyTorch gives nan
    inside = out != 0
    gx = None if is_scalar(x) else keep(g * x / out, inside)
    gy = None if is_scalar(y) else keep(g * y / out, inside)
    return gx, gy


elementwise(
    "hypot",
    np.hypot,
    _hypot_vjp,
    lambda c, x, y: f"np.hypot({x}, {y})",
    typing=float_only,
    saves_out=True,
)


def _lerp(start: Any, end: Any, weight: Any) -> Any:
    # PyTorch's two-sided form: exact at weight 0 and 1
    near = start + weight * (end - start)
    far = end - (end - start) * (1 - weight)
    if is_scalar(weight):
        return near if abs(weight) < 0.5 else far
    return apply_op("where", weight.abs() < 0.5, near, far)


def _lerp_vjp(g: Any, out: Any, start: Any, end: Any, weight: Any) -> tuple[Any, Any, Any]:
    gs = None if is_scalar(start) else g * (1 - weight)
    ge = None if is_scalar(end) else g * weight
    gw = None if is_scalar(weight) else g * (end - start)
    return gs, ge, gw


composite_elementwise(
    "lerp",
    _lerp,
    _lerp_vjp,
    typing=float_only,
    grad_fn=lambda avals, **p: (
        "LerpBackward0" if len(avals) > 2 and is_scalar(avals[2]) else "LerpBackward1"
    ),
)


def _logaddexp(base_log: float) -> Callable[..., Any]:
    def fn(a: Any, b: Any) -> Any:
        m = apply_op("maximum", a, b)
        d = -apply_op("abs", apply_op("sub", a, b))
        soft = (d * base_log).exp().log1p() / base_log if base_log != 1 else d.exp().log1p()
        # inf and inf (or -inf and -inf) give that infinity, not inf - inf = nan
        both_inf = apply_op("logical_and", apply_op("eq", a, b), m.abs() == math.inf)
        return apply_op("where", both_inf, m, m + soft)

    return fn


def _logaddexp_vjp(scale: float) -> Callable[..., Any]:
    def vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
        # d/da = 1 / (1 + base**(b - a)) = sigmoid((a - b) ln base)
        ga = None if is_scalar(a) else g * ((a - b) * scale).sigmoid()
        gb = None if is_scalar(b) else g * ((b - a) * scale).sigmoid()
        return ga, gb

    return vjp


composite_elementwise(
    "logaddexp",
    _logaddexp(1.0),
    _logaddexp_vjp(1.0),
    typing=float_only,
    grad_fn="LogaddexpBackward0",
)
composite_elementwise(
    "logaddexp2",
    _logaddexp(_LN2),
    _logaddexp_vjp(_LN2),
    typing=float_only,
    grad_fn="Logaddexp2Backward0",
)


def _xlogy(x: Any, y: Any) -> Any:
    # 0 where x == 0 (0 * log 0 = 0), unless y is nan
    if is_scalar(y):
        return x * math.log(y) if y > 0 else apply_op("where", x == 0, 0, x * _log(y))
    prod = apply_op("mul", x, y.log())
    if is_scalar(x):
        return prod if x != 0 else apply_op("where", y == y, 0.0, prod)
    return apply_op("where", (x == 0) & (y == y), 0, prod)


def _log(y: float) -> float:
    """log of a number as PyTorch's kernels: -inf at 0, nan below."""
    return -math.inf if y == 0 else math.nan if not y >= 0 else math.log(y)


def _xlogy_vjp(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    # d/dx = log y (0 at x == y == 0, PyTorch's convention); d/dy = x / y, which is 0 at
    # x == y == 0 too (the function is 0 along y there) where PyTorch divides 0 by 0
    gx = gy = None
    if not is_scalar(x):
        if is_scalar(y):
            gx = chain(g, _log(y)) if y != 0 else keep(g * -math.inf, x != 0)
        else:
            gx = chain(g, y.log().where((x != 0) | (y != 0), 0))
    if not is_scalar(y):
        gy = chain(g, x / y)  # 0 / y for x == 0, except 0 / 0:
        if not is_scalar(x):
            gy = drop(gy, (x == 0) & (y == 0))
        elif x == 0:
            gy = drop(gy, y == 0)
    return gx, gy


composite_elementwise(
    "xlogy",
    _xlogy,
    _xlogy_vjp,
    typing=floating,
    grad_fn=lambda avals, **p: (
        "XlogyBackward1"
        if is_scalar(avals[0])
        else "XlogyBackward2"
        if len(avals) > 1 and is_scalar(avals[1])
        else "XlogyBackward0"
    ),
)


def _copysign(x: Any, y: Any) -> Any:
    a = apply_op("abs", x)
    if is_scalar(y):
        return -a if math.copysign(1.0, y) < 0 else a
    return apply_op("where", apply_op("signbit", y), -a, a)


def _copysign_vjp(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    # out / x is +-1; 0 at x == 0, as PyTorch; the sign of y carries no gradient
    gx = None if is_scalar(x) else g * (out / x).where(x != 0, 0)
    gy = None if is_scalar(y) else g.zeros_like()
    return gx, gy


composite_elementwise(
    "copysign",
    _copysign,
    _copysign_vjp,
    typing=floating,
    saves_out=True,
    grad_fn=lambda avals, **p: (
        "CopysignBackward1" if len(avals) > 1 and is_scalar(avals[1]) else "CopysignBackward0"
    ),
)


def _signbit_typing(
    op: str, xs: Sequence[Any], **params: Any
) -> tuple[tuple[np.dtype, ...], np.dtype]:
    x = xs[0]
    return (dtypes.scalar_dtype(x) if is_scalar(x) else x.dtype,), dtypes.bool_


def _signbit_expr(c: ScalarCode, x: str) -> str:
    d = c.dtype
    if d.kind == "f":
        bits = {2: "int16", 4: "int32", 8: "int64"}[d.itemsize]
        return f"(np.{d.name}({x}).view(np.{bits}) < 0)"
    if d.kind == "i":
        return f"({x} < 0)"
    return "False"


elementwise(
    "signbit",
    lambda x: np.signbit(x) if x.dtype.kind in "fi" else np.zeros(x.shape, bool),
    None,
    _signbit_expr,
    typing=_signbit_typing,
)


def _fmax_vjp(keeps_x: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def vjp(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        # the operand that was taken gets the gradient; ties go to x, as PyTorch
        mask = keeps_x(x, y) | apply_op("ne", y, y)
        return (None if is_scalar(x) else keep(g, mask), None if is_scalar(y) else drop(g, mask))

    return vjp


def _fmax(taken: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    # the numbers win over nan: x where x is taken or y is nan
    return lambda x, y: apply_op("where", taken(x, y) | apply_op("ne", y, y), x, y)


composite_elementwise(
    "fmax",
    _fmax(lambda x, y: apply_op("ge", x, y)),
    _fmax_vjp(lambda x, y: apply_op("ge", x, y)),
    typing=same,
    grad_fn="FmaxBackward0",
)
composite_elementwise(
    "fmin",
    _fmax(lambda x, y: apply_op("le", x, y)),
    _fmax_vjp(lambda x, y: apply_op("le", x, y)),
    typing=same,
    grad_fn="FminBackward0",
)

# ---- clamps with tensor bounds -------------------------------------------------------------


def _clamp_min_vjp(g: Any, out: Any, x: Any, lo: Any) -> tuple[Any, Any]:
    kept = apply_op("ge", x, lo)  # ties keep x, as PyTorch
    return (
        None if is_scalar(x) else keep(g, kept),
        None if is_scalar(lo) else keep(g, apply_op("lt", x, lo)),
    )


def _clamp_max_vjp(g: Any, out: Any, x: Any, hi: Any) -> tuple[Any, Any]:
    kept = apply_op("le", x, hi)
    return (
        None if is_scalar(x) else keep(g, kept),
        None if is_scalar(hi) else keep(g, apply_op("gt", x, hi)),
    )


def _clamp_vjp(g: Any, out: Any, x: Any, lo: Any, hi: Any) -> tuple[Any, Any, Any]:
    # out = min(max(x, lo), hi): x between the bounds keeps x (ties too), below lo takes
    # lo while lo < hi, and hi is taken above it or when lo >= hi. (PyTorch gives no
    # gradient at all when lo == hi > x: the result moves with both bounds.)
    gt_hi = apply_op("gt", x, hi)
    lt_lo = apply_op("lt", x, lo)
    takes_x = apply_op("ge", x, lo) & apply_op("le", x, hi)
    takes_lo = lt_lo & apply_op("lt", lo, hi)
    takes_hi = gt_hi | (lt_lo & apply_op("ge", lo, hi))
    return (
        None if is_scalar(x) else keep(g, takes_x),
        None if is_scalar(lo) else keep(g, takes_lo),
        None if is_scalar(hi) else keep(g, takes_hi),
    )


composite_elementwise(
    "clamp_min",
    lambda x, lo: apply_op("maximum", x, lo),
    _clamp_min_vjp,
    typing=no_bool(same, "clamp_min: bool tensors are not supported; convert with .long()"),
    grad_fn="ClampMinBackward1",
)
composite_elementwise(
    "clamp_max",
    lambda x, hi: apply_op("minimum", x, hi),
    _clamp_max_vjp,
    typing=no_bool(same, "clamp_max: bool tensors are not supported; convert with .long()"),
    grad_fn="ClampMaxBackward1",
)
composite_elementwise(
    "clamp_tensor",
    lambda x, lo, hi: apply_op("minimum", apply_op("maximum", x, lo), hi),
    _clamp_vjp,
    typing=no_bool(same, "clamp: bool tensors are not supported; convert with .long()"),
    grad_fn="ClampBackward0",
)

# ---- bitwise and logical ---------------------------------------------------------------------

for _name, _fn, _sym in [
    ("bitwise_and", np.bitwise_and, "&"),
    ("bitwise_or", np.bitwise_or, "|"),
    ("bitwise_xor", np.bitwise_xor, "^"),
]:
    elementwise(_name, _fn, None, lambda c, x, y, s=_sym: f"({x} {s} {y})", typing=integral)
elementwise(
    "bitwise_not",
    np.invert,
    None,
    lambda c, x: f"(not {x})" if c.dtype == dtypes.bool_ else f"(~{x})",
    typing=integral,
)
elementwise("logical_xor", np.logical_xor, None, lambda c, x, y: f"({x} != {y})", typing=logical)
