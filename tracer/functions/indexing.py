"""Module-level indexing ops: tracer.index_select(x, dim, index), tracer.scatter(...),
tracer.masked_fill(...), tracer.nonzero(x), ... (each forwards to the Tensor method
of the same name, so it works eagerly and inside @trace alike)."""

from __future__ import annotations

from typing import Any

from tracer.functions.core import _method, _operand

__all__ = [
    "argwhere",
    "diagonal_scatter",
    "index_add",
    "index_copy",
    "index_fill",
    "index_put",
    "index_select",
    "masked_fill",
    "masked_scatter",
    "masked_select",
    "nonzero",
    "put",
    "scatter",
    "scatter_reduce",
    "take",
    "take_along_dim",
]

index_select = _method("index_select", "The slices of input at `index` (a vector) along `dim`.")
index_add = _method(
    "index_add", "A copy of input with alpha * source added at `index` along `dim`."
)
index_copy = _method("index_copy", "A copy of input with source written at `index` along `dim`.")
index_fill = _method("index_fill", "A copy of input with the slices at `index` set to `value`.")
index_put = _method("index_put", "A copy of input with `values` written (or added) at `indices`.")
masked_fill = _method("masked_fill", "input where mask is False, `value` where it holds.")
masked_scatter = _method(
    "masked_scatter", "A copy of input with source's elements where mask holds."
)
masked_select = _method("masked_select", "The elements where mask holds, 1-d (eager only).")
take = _method("take", "input read as 1-d at `index`.")
put = _method("put", "A copy of input, read as 1-d, with source written at `index`.")
scatter_reduce = _method(
    "scatter_reduce", "A copy of input with src folded in at index by `reduce`."
)
diagonal_scatter = _method("diagonal_scatter", "A copy of input with a diagonal replaced by src.")
argwhere = _method("argwhere", "The (n, ndim) indices of the nonzero elements (eager only).")


def scatter(
    input: Any, dim: int, index: Any, src: Any = None, value: Any = None, *, reduce: Any = None
) -> Any:
    """A copy of input with src (or `value`) written at index along `dim`."""
    return _operand(input).scatter(dim, index, src, value, reduce=reduce)


def take_along_dim(input: Any, indices: Any, dim: int | None = None) -> Any:
    """Values along `dim` at `indices` (broadcast against input outside dim)."""
    return _operand(input).take_along_dim(indices, dim)


def nonzero(input: Any, *, as_tuple: bool = False) -> Any:
    """The indices of the nonzero elements (eager only: the size depends on the values)."""
    return _operand(input).nonzero(as_tuple=as_tuple)
