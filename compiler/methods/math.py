"""Elementwise math as Operand methods: rounding, the divisions and `//` `%`, the
transcendental and special functions, the two-argument functions, clamps (with number
or tensor bounds), predicates (isnan, isclose, ...), comparisons by name, the bitwise
and logical ops with `& | ^ ~`, and their in-place forms (x.floor_(), x &= y, ...)."""

from __future__ import annotations

import math
from typing import Any

from compiler import dtypes
from compiler.args import is_number
from compiler.dispatch import apply
from compiler.errors import DTypeError

__all__ = ["MathMethods", "division_op"]

_DIVISIONS = {None: "div", "trunc": "trunc_divide", "floor": "floor_divide"}


def division_op(rounding_mode: str | None) -> str:
    """The op of div(..., rounding_mode=...), or PyTorch's ValueError."""
    if rounding_mode not in _DIVISIONS:
        raise ValueError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
            f"found {rounding_mode!r}"
        )
    return _DIVISIONS[rounding_mode]


def _is_operand(x: Any) -> bool:
    return hasattr(x, "_bind")


class MathMethods:
    """Mixin of `compiler.operand.Operand` (see there for the protocol)."""

    __slots__ = ()

    # ---- rounding ---------------------------------------------------------------------
    def floor(self) -> Any:
        return apply("floor", self)

    def ceil(self) -> Any:
        return apply("ceil", self)

    def trunc(self) -> Any:
        return apply("trunc", self)

    fix = trunc

    def round(self, decimals: int = 0) -> Any:
        """Round to `decimals` places, halves to even (PyTorch's: nearbyint(x * 10**d)
        / 10**d)."""
        if isinstance(decimals, bool) or not isinstance(decimals, int):
            raise TypeError(f"round: decimals must be an int, got {decimals!r}")
        return apply("round", self, decimals=decimals)

    def frac(self) -> Any:
        return apply("frac", self)

    # ---- division ---------------------------------------------------------------------
    def div(self, other: Any, *, rounding_mode: str | None = None) -> Any:
        """self / other; rounding_mode "trunc" rounds towards zero, "floor" down (both
        keep integer dtypes, and integer division by zero raises ZeroDivisionError)."""
        return apply(division_op(rounding_mode), self, other)

    divide = div

    def true_divide(self, other: Any) -> Any:
        return apply("div", self, other)

    def floor_divide(self, other: Any) -> Any:
        return apply("floor_divide", self, other)

    def __floordiv__(self, other: Any) -> Any:
        return apply("floor_divide", self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return apply("floor_divide", other, self)

    def remainder(self, other: Any) -> Any:
        return apply("remainder", self, other)

    def __mod__(self, other: Any) -> Any:
        return apply("remainder", self, other)

    def __rmod__(self, other: Any) -> Any:
        return apply("remainder", other, self)

    def fmod(self, other: Any) -> Any:
        return apply("fmod", self, other)

    # ---- unary functions ----------------------------------------------------------------
    def reciprocal(self) -> Any:
        return apply("reciprocal", self)

    def rsqrt(self) -> Any:
        return apply("rsqrt", self)

    def exp2(self) -> Any:
        return apply("exp2", self)

    def expm1(self) -> Any:
        return apply("expm1", self)

    def log2(self) -> Any:
        return apply("log2", self)

    def log10(self) -> Any:
        return apply("log10", self)

    def tan(self) -> Any:
        return apply("tan", self)

    def asin(self) -> Any:
        return apply("asin", self)

    def acos(self) -> Any:
        return apply("acos", self)

    def atan(self) -> Any:
        return apply("atan", self)

    def sinh(self) -> Any:
        return apply("sinh", self)

    def cosh(self) -> Any:
        return apply("cosh", self)

    def asinh(self) -> Any:
        return apply("asinh", self)

    def acosh(self) -> Any:
        return apply("acosh", self)

    def atanh(self) -> Any:
        return apply("atanh", self)

    arcsin, arccos, arctan = asin, acos, atan
    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def erf(self) -> Any:
        return apply("erf", self)

    def erfc(self) -> Any:
        return apply("erfc", self)

    def erfinv(self) -> Any:
        return apply("erfinv", self)

    def lgamma(self) -> Any:
        return apply("lgamma", self)

    def digamma(self) -> Any:
        return apply("digamma", self)

    def polygamma(self, n: int) -> Any:
        """The n-th derivative of digamma (n >= 0)."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"polygamma: n must be an int, got {n!r}")
        return apply("polygamma", self, n=n)

    def sinc(self) -> Any:
        return apply("sinc", self)

    def logit(self, eps: float | None = None) -> Any:
        """log(p / (1 - p)); with eps, p is first clamped to [eps, 1 - eps]."""
        return apply("logit", self, eps=None if eps is None else float(eps))

    def nan_to_num(
        self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
    ) -> Any:
        """nan, +inf and -inf replaced by `nan`, `posinf` and `neginf` (by default the
        dtype's largest and lowest finite values)."""
        return apply("nan_to_num", self, nan=float(nan), posinf=posinf, neginf=neginf)

    def sgn(self) -> Any:
        return apply("sign", self, name="SgnBackward0")

    def positive(self) -> Any:
        if self.dtype == dtypes.bool_:
            raise DTypeError(
                "positive: the unary + operator on a bool tensor is not supported; "
                "convert it first with .long()"
            )
        return self

    def negative(self) -> Any:
        return apply("neg", self)

    def absolute(self) -> Any:
        return apply("abs", self)

    # ---- two operands ---------------------------------------------------------------------
    def atan2(self, other: Any) -> Any:
        return apply("atan2", self, other)

    arctan2 = atan2

    def hypot(self, other: Any) -> Any:
        return apply("hypot", self, other)

    def lerp(self, end: Any, weight: Any) -> Any:
        """self + weight * (end - self), weight a number or a tensor."""
        return apply("lerp", self, end, weight)

    def logaddexp(self, other: Any) -> Any:
        return apply("logaddexp", self, other)

    def logaddexp2(self, other: Any) -> Any:
        return apply("logaddexp2", self, other)

    def xlogy(self, other: Any) -> Any:
        """self * log(other), 0 where self == 0 (unless other is nan)."""
        return apply("xlogy", self, other)

    def copysign(self, other: Any) -> Any:
        return apply("copysign", self, other)

    def fmax(self, other: Any) -> Any:
        """maximum, but a nan loses to a number."""
        return apply("fmax", self, other)

    def fmin(self, other: Any) -> Any:
        """minimum, but a nan loses to a number."""
        return apply("fmin", self, other)

    # ---- clamps ---------------------------------------------------------------------------
    def clamp(self, min: Any = None, max: Any = None) -> Any:
        """Clamp into [min, max]; the bounds are numbers or tensors (broadcast)."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        for bound in (min, max):
            if bound is not None and not is_number(bound) and not _is_operand(bound):
                raise TypeError(
                    f"clamp: min and max must be numbers or tensors, got {bound!r} "
                    f"({type(bound).__name__})"
                )
        if not _is_operand(min) and not _is_operand(max):
            return apply("clamp", self, lo=min, hi=max)
        if max is None:
            return apply("clamp_min", self, min, name="ClampBackward0")
        if min is None:
            return apply("clamp_max", self, max, name="ClampBackward0")
        return apply("clamp_tensor", self, min, max)

    clip = clamp

    def clamp_min(self, min: Any) -> Any:
        if _is_operand(min):
            return apply("clamp_min", self, min)
        return apply("clamp", self, lo=min, hi=None, name="ClampMinBackward0")

    def clamp_max(self, max: Any) -> Any:
        if _is_operand(max):
            return apply("clamp_max", self, max)
        return apply("clamp", self, lo=None, hi=max, name="ClampMaxBackward0")

    # ---- predicates ------------------------------------------------------------------------
    def isnan(self) -> Any:
        return self != self

    def isinf(self) -> Any:
        return self.abs() == math.inf if dtypes.is_float(self.dtype) else self != self

    def isfinite(self) -> Any:
        return self.abs() < math.inf if dtypes.is_float(self.dtype) else self == self

    def isposinf(self) -> Any:
        return self == math.inf if dtypes.is_float(self.dtype) else self != self

    def isneginf(self) -> Any:
        return self == -math.inf if dtypes.is_float(self.dtype) else self != self

    def signbit(self) -> Any:
        return apply("signbit", self)

    def isclose(
        self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> Any:
        """|self - other| <= atol + rtol * |other| elementwise (infinities close only to
        themselves; nan close to nan only with equal_nan)."""
        if _is_operand(other) and other.dtype != self.dtype:
            raise DTypeError(
                f"isclose: expected both tensors to have the same dtype, got {self.dtype} "
                f"and {other.dtype}; convert one first (.to(other.dtype))"
            )
        if rtol < 0 or atol < 0:
            raise ValueError(f"isclose: rtol and atol must be non-negative, got {rtol}, {atol}")
        close = self == other
        if equal_nan:
            close = close | (self.isnan() & (other != other))
        wide = self if dtypes.is_float(self.dtype) else self.to(dtypes.float64)
        error = (wide - other).abs()
        allowed = atol + (other * rtol).abs() if _is_operand(other) else atol + abs(other * rtol)
        return close | (error.isfinite() & (error <= allowed))

    def allclose(
        self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> bool:
        """Whether every element isclose (a Python bool)."""
        return bool(self.isclose(other, rtol, atol, equal_nan).all())

    def equal(self, other: Any) -> bool:
        """Same shape and the same values (a Python bool)."""
        if tuple(self.shape) != tuple(other.shape):
            return False
        return bool((self == other).all())

    # ---- comparisons by name ----------------------------------------------------------------
    def eq(self, other: Any) -> Any:
        return apply("eq", self, other)

    def ne(self, other: Any) -> Any:
        return apply("ne", self, other)

    def lt(self, other: Any) -> Any:
        return apply("lt", self, other)

    def le(self, other: Any) -> Any:
        return apply("le", self, other)

    def gt(self, other: Any) -> Any:
        return apply("gt", self, other)

    def ge(self, other: Any) -> Any:
        return apply("ge", self, other)

    not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge

    # ---- bitwise and logical -------------------------------------------------------------------
    def bitwise_and(self, other: Any) -> Any:
        return apply("bitwise_and", self, other)

    def bitwise_or(self, other: Any) -> Any:
        return apply("bitwise_or", self, other)

    def bitwise_xor(self, other: Any) -> Any:
        return apply("bitwise_xor", self, other)

    def bitwise_not(self) -> Any:
        return apply("bitwise_not", self)

    def __and__(self, other: Any) -> Any:
        return apply("bitwise_and", self, other)

    def __rand__(self, other: Any) -> Any:
        return apply("bitwise_and", other, self)

    def __or__(self, other: Any) -> Any:
        return apply("bitwise_or", self, other)

    def __ror__(self, other: Any) -> Any:
        return apply("bitwise_or", other, self)

    def __xor__(self, other: Any) -> Any:
        return apply("bitwise_xor", self, other)

    def __rxor__(self, other: Any) -> Any:
        return apply("bitwise_xor", other, self)

    def __invert__(self) -> Any:
        return apply("bitwise_not", self)

    def logical_and(self, other: Any) -> Any:
        return apply("logical_and", self, other)

    def logical_or(self, other: Any) -> Any:
        return apply("logical_or", self, other)

    def logical_xor(self, other: Any) -> Any:
        return apply("logical_xor", self, other)

    def logical_not(self) -> Any:
        return apply("logical_not", self)

    # ---- in-place forms: `_inplace(name, fn, *others)` of each world ----------------------------
    def floor_(self) -> Any:
        return self._inplace("floor_", lambda s: s.floor())

    def ceil_(self) -> Any:
        return self._inplace("ceil_", lambda s: s.ceil())

    def trunc_(self) -> Any:
        return self._inplace("trunc_", lambda s: s.trunc())

    fix_ = trunc_

    def round_(self, decimals: int = 0) -> Any:
        return self._inplace("round_", lambda s: s.round(decimals))

    def frac_(self) -> Any:
        return self._inplace("frac_", lambda s: s.frac())

    def div_(self, other: Any, *, rounding_mode: str | None = None) -> Any:
        return self._inplace("div_", lambda s: s.div(other, rounding_mode=rounding_mode), other)

    def floor_divide_(self, other: Any) -> Any:
        return self._inplace("floor_divide_", lambda s: s // other, other)

    def __ifloordiv__(self, other: Any) -> Any:
        return self.floor_divide_(other)

    def remainder_(self, other: Any) -> Any:
        return self._inplace("remainder_", lambda s: s % other, other)

    def __imod__(self, other: Any) -> Any:
        return self.remainder_(other)

    def fmod_(self, other: Any) -> Any:
        return self._inplace("fmod_", lambda s: s.fmod(other), other)

    def polygamma_(self, n: int) -> Any:
        return self._inplace("polygamma_", lambda s: s.polygamma(n))

    def logit_(self, eps: float | None = None) -> Any:
        return self._inplace("logit_", lambda s: s.logit(eps))

    def nan_to_num_(
        self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
    ) -> Any:
        return self._inplace("nan_to_num_", lambda s: s.nan_to_num(nan, posinf, neginf))

    def lerp_(self, end: Any, weight: Any) -> Any:
        return self._inplace("lerp_", lambda s: s.lerp(end, weight), end, weight)

    def clamp_(self, min: Any = None, max: Any = None) -> Any:
        return self._inplace("clamp_", lambda s: s.clamp(min, max), min, max)

    clip_ = clamp_

    def clamp_min_(self, min: Any) -> Any:
        return self._inplace("clamp_min_", lambda s: s.clamp_min(min), min)

    def clamp_max_(self, max: Any) -> Any:
        return self._inplace("clamp_max_", lambda s: s.clamp_max(max), max)

    def __iand__(self, other: Any) -> Any:
        return self.bitwise_and_(other)

    def __ior__(self, other: Any) -> Any:
        return self.bitwise_or_(other)

    def __ixor__(self, other: Any) -> Any:
        return self.bitwise_xor_(other)


def _unary_inplace(name: str) -> Any:
    def method(self: Any) -> Any:
        return self._inplace(f"{name}_", lambda s: getattr(s, name)())

    method.__name__ = method.__qualname__ = f"{name}_"
    method.__doc__ = f"In-place {name}()."
    return method


def _binary_inplace(name: str) -> Any:
    def method(self: Any, other: Any) -> Any:
        return self._inplace(f"{name}_", lambda s: getattr(s, name)(other), other)

    method.__name__ = method.__qualname__ = f"{name}_"
    method.__doc__ = f"In-place {name}(other)."
    return method


for _name in [
    "reciprocal", "rsqrt", "exp2", "expm1", "log2", "log10", "tan", "asin", "acos", "atan",
    "arcsin", "arccos", "arctan", "sinh", "cosh", "asinh", "acosh", "atanh", "arcsinh",
    "arccosh", "arctanh", "erf", "erfc", "erfinv", "lgamma", "digamma", "sinc", "sign",
    "sgn", "square", "negative", "absolute", "bitwise_not", "logical_not",
]:  # fmt: skip
    setattr(MathMethods, f"{_name}_", _unary_inplace(_name))
for _name in [
    "atan2", "arctan2", "hypot", "xlogy", "copysign", "bitwise_and", "bitwise_or",
    "bitwise_xor", "logical_and", "logical_or", "logical_xor", "eq", "ne", "lt", "le",
    "gt", "ge", "not_equal", "less", "less_equal", "greater", "greater_equal",
]:  # fmt: skip
    setattr(MathMethods, f"{_name}_", _binary_inplace(_name))
