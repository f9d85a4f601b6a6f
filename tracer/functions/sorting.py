"""Sorting and selection as module functions: `tracer.sort(x)`, `tracer.topk(x, k)`,
... (each forwards to the Tensor method of the same name; see
`compiler.methods.sorting` for the semantics)."""

from __future__ import annotations

from typing import Any

from tracer.functions.core import _operand

__all__ = [
    "argsort",
    "kthvalue",
    "median",
    "msort",
    "nanmedian",
    "quantile",
    "sort",
    "topk",
]


def sort(input: Any, dim: int = -1, descending: bool = False, *, stable: bool | None = None) -> Any:
    """(values, indices) sorted along `dim`; equal values keep their index order."""
    return _operand(input).sort(dim, descending, stable=stable)


def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """The int64 indices that sort `input` along `dim` (stable)."""
    return _operand(input).argsort(dim, descending, stable)


def msort(input: Any) -> Any:
    """`input` sorted along dim 0."""
    return _operand(input).msort()


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """(values, indices) of the k largest (or smallest) elements along `dim`."""
    return _operand(input).topk(k, dim, largest, sorted)


def kthvalue(input: Any, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """(values, indices) of the k-th smallest element along `dim`."""
    return _operand(input).kthvalue(k, dim, keepdim)


def median(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median of all elements, or (values, indices) along `dim`."""
    return _operand(input).median(dim, keepdim)


def nanmedian(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """median() ignoring NaNs."""
    return _operand(input).nanmedian(dim, keepdim)


def quantile(
    input: Any,  # noqa: A002  (PyTorch's name)
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
) -> Any:
    """torch.quantile: see Tensor.quantile."""
    return _operand(input).quantile(q, dim, keepdim, interpolation=interpolation)
