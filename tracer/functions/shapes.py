"""Module-level shape ops: flip, roll, rot90, tile, repeat_interleave, chunk, split,
tensor_split, unbind, narrow, movedim, swapaxes, tril/triu, diag, diagonal,
diag_embed, diagflat, meshgrid, atleast_1d/2d/3d and the stacks (hstack, vstack,
dstack, column_stack, row_stack), unflatten and clone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compiler.errors import ShapeError
from tracer.functions.core import _method, _operand, cat

__all__ = [
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "chunk",
    "clone",
    "column_stack",
    "diag",
    "diag_embed",
    "diagflat",
    "diagonal",
    "dstack",
    "flip",
    "fliplr",
    "flipud",
    "hstack",
    "meshgrid",
    "moveaxis",
    "movedim",
    "narrow",
    "repeat_interleave",
    "roll",
    "rot90",
    "row_stack",
    "split",
    "swapaxes",
    "swapdims",
    "tensor_split",
    "tile",
    "tril",
    "triu",
    "unbind",
    "unflatten",
    "vstack",
]

fliplr = _method("fliplr", "Flip along dim 1.")
flipud = _method("flipud", "Flip along dim 0.")
roll = _method("roll", "Shift elements along dims, wrapping around.")
rot90 = _method("rot90", "Rotate by 90 degrees k times in the plane of two dims.")
tile = _method("tile", "Repeat the tensor along each dim.")
chunk = _method("chunk", "At most `chunks` equal pieces along `dim`.")
tensor_split = _method("tensor_split", "numpy's array_split along `dim`.")
unbind = _method("unbind", "The slices along `dim`.")
narrow = _method("narrow", "`length` elements along `dim` from `start`.")
movedim = _method("movedim", "Move dims to new positions.")
moveaxis = movedim
swapaxes = _method("swapaxes", "Swap two dims.")
swapdims = _method("swapdims", "Swap two dims.")
tril = _method("tril", "The lower triangle of the last two dims.")
triu = _method("triu", "The upper triangle of the last two dims.")
diag = _method("diag", "A diagonal matrix from a vector, or a matrix's diagonal.")
diagonal = _method("diagonal", "A diagonal of the (dim1, dim2) matrices, as a view.")
diag_embed = _method("diag_embed", "Matrices with the last dim on a diagonal.")
diagflat = _method("diagflat", "The matrix with the flattened input on a diagonal.")
unflatten = _method("unflatten", "Split one dim into several.")
clone = _method("clone", "A copy.")


def flip(input: Any, dims: Any) -> Any:
    """Reverse the order of elements along `dims` (a copy)."""
    return _operand(input).flip(dims)


def split(tensor: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[Any, ...]:
    """Pieces of a size, or of the listed sizes, along `dim`."""
    return _operand(tensor).split(split_size_or_sections, dim)


def repeat_interleave(
    input: Any, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None
) -> Any:
    """Repeat each element `repeats` times; with only a tensor of counts, the indices
    0, 1, ... each repeated that many times."""
    if repeats is None:
        counts = _operand(input)
        from tracer.creation import arange

        return arange(counts.shape[0] if counts.ndim else 1).repeat_interleave(
            counts, 0, output_size=output_size
        )
    return _operand(input).repeat_interleave(repeats, dim, output_size=output_size)


def _tensors(tensors: tuple[Any, ...], op: str) -> list[Any]:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise ValueError(f"{op}: expected at least one tensor")
    return [_operand(t) for t in tensors]


def _at_least(tensors: tuple[Any, ...], n: int) -> Any:
    op = f"atleast_{n}d"
    single = len(tensors) == 1 and not isinstance(tensors[0], (list, tuple))
    out = []
    for t in _tensors(tensors, op):
        if t.ndim >= n:
            out.append(t)
        elif t.ndim == 0:
            out.append(t.reshape((1,) * n))
        elif n == 2 or t.ndim == 2:  # (k,) -> (1, k); (m, k) -> (m, k, 1)
            out.append(t.unsqueeze(0 if t.ndim == 1 else -1))
        else:  # (k,) -> (1, k, 1)
            out.append(t.unsqueeze(0).unsqueeze(-1))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,))."""
    return _at_least(tensors, 1)


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims: (k,) becomes (1, k)."""
    return _at_least(tensors, 2)


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims: (k,) becomes (1, k, 1), (m, k) becomes (m, k, 1)."""
    return _at_least(tensors, 3)


def hstack(tensors: Sequence[Any]) -> Any:
    """Concatenate along dim 1 (dim 0 for 1-d tensors)."""
    ts = list(atleast_1d(*tensors)) if len(tensors) > 1 else [atleast_1d(*tensors)]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Any:
    """Concatenate along dim 0, 1-d tensors as rows."""
    ts = list(atleast_2d(*tensors)) if len(tensors) > 1 else [atleast_2d(*tensors)]
    return cat(ts, 0)


row_stack = vstack


def dstack(tensors: Sequence[Any]) -> Any:
    """Concatenate along dim 2 (depth), after atleast_3d."""
    ts = list(atleast_3d(*tensors)) if len(tensors) > 1 else [atleast_3d(*tensors)]
    return cat(ts, 2)


def column_stack(tensors: Sequence[Any]) -> Any:
    """Concatenate along dim 1, 0-d and 1-d tensors as columns."""
    ts = [
        t.reshape(t.numel(), 1) if t.ndim <= 1 else t
        for t in _tensors(tuple(tensors), "column_stack")
    ]
    return cat(ts, 1)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Any, ...]:
    """Coordinate grids from 0-d or 1-d tensors: with indexing='ij' dim k of each grid
    runs along tensor k; with 'xy' the first two dims are swapped (matrix vs Cartesian)."""
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = _tensors(tensors, "meshgrid")
    for t in ts:
        if t.ndim > 1:
            raise ShapeError(
                f"meshgrid: expects 0-d or 1-d tensors, got one of shape {tuple(t.shape)}"
            )
        if t.dtype != ts[0].dtype:
            raise ShapeError(
                f"meshgrid: expects all tensors to have the same dtype, got {ts[0].dtype} "
                f"and {t.dtype}"
            )
    flat = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(flat) >= 2
    order = list(range(len(flat)))
    if swap:
        order[0], order[1] = 1, 0
    shape = tuple(flat[k].shape[0] for k in order)
    out = []
    for k, t in enumerate(flat):
        pos = order.index(k)
        view = [1] * len(flat)
        view[pos] = t.shape[0]
        out.append(t.reshape(tuple(view)).expand(shape))
    return tuple(out)
