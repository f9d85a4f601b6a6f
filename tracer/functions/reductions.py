"""Module-level reductions, scans and norms: `tracer.prod(x)`, `tracer.var_mean(x, 1)`,
`tracer.cumsum(x, 0)`, ... (each the method of the same name, except var_mean and
std_mean, which PyTorch has as functions only)."""

from __future__ import annotations

from typing import Any

from compiler.dispatch import apply
from compiler.methods.reductions import moment_params
from tracer.functions.core import _method, _operand

__all__ = [
    "aminmax",
    "all",
    "any",
    "count_nonzero",
    "cummax",
    "cummin",
    "cumprod",
    "cumsum",
    "logcumsumexp",
    "nanmean",
    "nansum",
    "norm",
    "prod",
    "std",
    "std_mean",
    "var",
    "var_mean",
]

prod = _method("prod", "Product of all elements, or over `dim` (exact gradients with zeros).")
nansum = _method("nansum", "Sum over `dim`, NaNs counted as zero.")
nanmean = _method("nanmean", "Mean over `dim` of the elements that are not NaN.")
all = _method("all", "Whether every element (over `dim`) is nonzero.")  # noqa: A001
any = _method("any", "Whether some element (over `dim`) is nonzero.")  # noqa: A001
count_nonzero = _method("count_nonzero", "The number of nonzero elements over `dim`.")
aminmax = _method("aminmax", "(min, max) over `dim` (keyword) or of all elements.")
var = _method("var", "Variance over `dim`, divided by max(0, N - correction).")
std = _method("std", "Standard deviation over `dim` (see var).")
norm = _method("norm", "Vector norm (p a number or 'fro') or nuclear norm ('nuc').")
cumsum = _method("cumsum", "Cumulative sums along `dim`.")
cumprod = _method("cumprod", "Cumulative products along `dim`.")
logcumsumexp = _method("logcumsumexp", "log(cumsum(exp(x))) along `dim`, stably.")
cummax = _method("cummax", "Running maximum along `dim`, with indices.")
cummin = _method("cummin", "Running minimum along `dim`, with indices.")


def var_mean(
    input: Any,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> tuple[Any, Any]:
    """(variance, mean) over `dim` in one node (VarMeanBackward0); see var."""
    x = _operand(input)
    return apply("var_mean", x, **moment_params(x, "var_mean", dim, unbiased, keepdim, correction))


def std_mean(
    input: Any,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> tuple[Any, Any]:
    """(standard deviation, mean) over `dim` in one node (StdMeanBackward0); see std."""
    x = _operand(input)
    return apply("std_mean", x, **moment_params(x, "std_mean", dim, unbiased, keepdim, correction))
