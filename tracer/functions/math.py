"""Module-level elementwise math (`tracer.floor(x)`, `tracer.atan2(y, x)`,
`tracer.isclose(a, b)`, ...): each forwards to the tensor method of the same name, or,
when the first operand is a number (`tracer.remainder(2, t)`), to the op itself."""

from __future__ import annotations

from typing import Any

from compiler.methods.math import division_op
from compiler.operand import Operand, apply
from tracer.functions.core import _method, _operand

__all__ = [
    "absolute",
    "acos",
    "acosh",
    "allclose",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "bitwise_and",
    "bitwise_not",
    "bitwise_or",
    "bitwise_xor",
    "ceil",
    "clamp_max",
    "clamp_min",
    "copysign",
    "cosh",
    "digamma",
    "div",
    "divide",
    "eq",
    "equal",
    "erf",
    "erfc",
    "erfinv",
    "exp2",
    "expm1",
    "fix",
    "floor",
    "floor_divide",
    "fmax",
    "fmin",
    "fmod",
    "frac",
    "ge",
    "greater",
    "greater_equal",
    "gt",
    "hypot",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "le",
    "lerp",
    "less",
    "less_equal",
    "lgamma",
    "log10",
    "log2",
    "logaddexp",
    "logaddexp2",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "logit",
    "lt",
    "nan_to_num",
    "ne",
    "negative",
    "not_equal",
    "polygamma",
    "positive",
    "reciprocal",
    "remainder",
    "round",
    "rsqrt",
    "sgn",
    "signbit",
    "sinc",
    "sinh",
    "tan",
    "true_divide",
    "trunc",
    "xlogy",
]


def _binary(name: str, op: str, doc: str):  # type: ignore[no-untyped-def]
    """`name(input, other)`: input.name(other), or the op when input is a number."""

    def fn(input: Any, other: Any) -> Any:
        if isinstance(input, Operand) or not isinstance(other, Operand):
            return getattr(_operand(input), name)(other)
        return apply(op, input, other)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


floor = _method("floor", "Elementwise floor (integers unchanged).")
ceil = _method("ceil", "Elementwise ceiling (integers unchanged).")
trunc = _method("trunc", "Elementwise rounding towards zero (integers unchanged).")
fix = trunc
frac = _method("frac", "Elementwise x - trunc(x) (floating point only).")
reciprocal = _method("reciprocal", "Elementwise 1 / x (integers give floats).")
rsqrt = _method("rsqrt", "Elementwise 1 / sqrt(x).")
exp2 = _method("exp2", "Elementwise 2**x.")
expm1 = _method("expm1", "Elementwise exp(x) - 1, accurate for small x.")
log2 = _method("log2", "Elementwise base-2 logarithm.")
log10 = _method("log10", "Elementwise base-10 logarithm.")
tan = _method("tan", "Elementwise tangent.")
asin = arcsin = _method("asin", "Elementwise inverse sine.")
acos = arccos = _method("acos", "Elementwise inverse cosine.")
atan = arctan = _method("atan", "Elementwise inverse tangent.")
sinh = _method("sinh", "Elementwise hyperbolic sine.")
cosh = _method("cosh", "Elementwise hyperbolic cosine.")
asinh = arcsinh = _method("asinh", "Elementwise inverse hyperbolic sine.")
acosh = arccosh = _method("acosh", "Elementwise inverse hyperbolic cosine.")
atanh = arctanh = _method("atanh", "Elementwise inverse hyperbolic tangent.")
erf = _method("erf", "Elementwise error function.")
erfc = _method("erfc", "Elementwise 1 - erf(x), accurate where it is small.")
erfinv = _method("erfinv", "Elementwise inverse of erf on [-1, 1].")
lgamma = _method("lgamma", "Elementwise log|Gamma(x)|.")
digamma = _method("digamma", "Elementwise d/dx lgamma(x).")
sinc = _method("sinc", "Elementwise sin(pi x) / (pi x), 1 at 0.")
logit = _method("logit", "Elementwise log(p / (1 - p)), p clamped to [eps, 1 - eps] if given.")
nan_to_num = _method("nan_to_num", "nan, +inf, -inf replaced by finite numbers.")
sgn = _method("sgn", "Elementwise sign (-1, 0, 1).")
positive = _method("positive", "The input itself (refuses bool tensors).")
negative = _method("negative", "Elementwise -x.")
absolute = _method("absolute", "Elementwise |x|.")
clamp_min = _method("clamp_min", "Elementwise max(x, min), min a number or a tensor.")
clamp_max = _method("clamp_max", "Elementwise min(x, max), max a number or a tensor.")
isnan = _method("isnan", "Elementwise x is nan.")
isinf = _method("isinf", "Elementwise x is +-inf.")
isfinite = _method("isfinite", "Elementwise x is neither inf nor nan.")
isposinf = _method("isposinf", "Elementwise x is +inf.")
isneginf = _method("isneginf", "Elementwise x is -inf.")
signbit = _method("signbit", "Elementwise: the sign bit is set (-0.0 included).")
isclose = _method("isclose", "Elementwise |a - b| <= atol + rtol * |b|.")
allclose = _method("allclose", "Whether every element isclose (a Python bool).")
equal = _method("equal", "Same shape and values (a Python bool).")
bitwise_not = _method("bitwise_not", "Elementwise ~x (bool and integer tensors).")
logical_not = _method("logical_not", "Elementwise not x, a bool tensor.")
round = _method("round", "Elementwise rounding to `decimals` places, halves to even.")

floor_divide = _binary("floor_divide", "floor_divide", "Elementwise floor(input / other).")
remainder = _binary("remainder", "remainder", "Elementwise remainder with the divisor's sign.")
fmod = _binary("fmod", "fmod", "Elementwise remainder with the dividend's sign (C's).")
true_divide = _binary("true_divide", "div", "Elementwise input / other.")
atan2 = arctan2 = _binary("atan2", "atan2", "Elementwise angle of the point (other, input).")
hypot = _binary("hypot", "hypot", "Elementwise sqrt(input**2 + other**2) without overflow.")
logaddexp = _binary("logaddexp", "logaddexp", "Elementwise log(exp(input) + exp(other)).")
logaddexp2 = _binary("logaddexp2", "logaddexp2", "Elementwise log2(2**input + 2**other).")
xlogy = _binary("xlogy", "xlogy", "Elementwise input * log(other), 0 where input == 0.")
copysign = _binary("copysign", "copysign", "Elementwise |input| with the sign of other.")
fmax = _binary("fmax", "fmax", "Elementwise maximum where a nan loses to a number.")
fmin = _binary("fmin", "fmin", "Elementwise minimum where a nan loses to a number.")
eq = _binary("eq", "eq", "Elementwise input == other.")
ne = not_equal = _binary("ne", "ne", "Elementwise input != other.")
lt = less = _binary("lt", "lt", "Elementwise input < other.")
le = less_equal = _binary("le", "le", "Elementwise input <= other.")
gt = greater = _binary("gt", "gt", "Elementwise input > other.")
ge = greater_equal = _binary("ge", "ge", "Elementwise input >= other.")
bitwise_and = _binary("bitwise_and", "bitwise_and", "Elementwise input & other.")
bitwise_or = _binary("bitwise_or", "bitwise_or", "Elementwise input | other.")
bitwise_xor = _binary("bitwise_xor", "bitwise_xor", "Elementwise input ^ other.")
logical_and = _binary("logical_and", "logical_and", "Elementwise input and other (bool).")
logical_or = _binary("logical_or", "logical_or", "Elementwise input or other (bool).")
logical_xor = _binary("logical_xor", "logical_xor", "Elementwise input xor other (bool).")


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Any:
    """input / other; rounding_mode "trunc" or "floor" rounds the quotient (and keeps
    integer dtypes)."""
    if isinstance(input, Operand) or not isinstance(other, Operand):
        return _operand(input).div(other, rounding_mode=rounding_mode)
    return apply(division_op(rounding_mode), input, other)


divide = div


def polygamma(n: int, input: Any) -> Any:
    """The n-th derivative of digamma, elementwise (torch.polygamma(n, input))."""
    return _operand(input).polygamma(n)


def lerp(input: Any, end: Any, weight: Any) -> Any:
    """input + weight * (end - input); weight a number or a tensor."""
    return _operand(input).lerp(end, weight)
