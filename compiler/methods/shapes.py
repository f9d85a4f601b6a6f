"""Shape and layout ops as Operand methods: flip, roll, rot90, repeat, tile,
repeat_interleave, chunk, split, tensor_split, unbind, narrow, movedim, swapaxes,
contiguous, tril/triu, diag, diagonal, diag_embed, diagflat, diagonal_scatter, the
matrix trace and unflatten.

Most are one existing primitive under PyTorch's node name (narrow is a slice,
movedim a permutation, tril a select against an index mask, trace a sum of the
diagonal); flip, roll and diagonal are primitives of `compiler.ops.layout`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.args import infer_reshape, int_arg, normalize_axis, shape_arg
from compiler.dispatch import apply
from compiler.errors import DTypeError, ShapeError
from compiler.methods.indexing import concrete, values_of

__all__ = ["ShapeMethods"]


def _dims(dims: Sequence[Any], ndim: int, op: str) -> tuple[int, ...]:
    """Normalised dims, refusing repeats (PyTorch: 'dim 0 appears multiple times')."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    axes = [normalize_axis(d, ndim, op) for d in dims]
    if len(set(axes)) != len(axes):
        raise ValueError(
            f"{op}: dim {axes[0]} appears multiple times in the list of dims {list(dims)}"
        )
    return tuple(axes) if ndim else ()


def _slice(x: Any, axis: int, start: int, stop: int, name: str) -> Any:
    spec = tuple(
        ("slice", start, stop, 1) if d == axis else ("slice", 0, n, 1)
        for d, n in enumerate(x.shape)
    )
    return apply("slice", x, spec=spec, name=name)


def _ints(value: Any, op: str, what: str) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(int_arg(v, what, op) for v in value)
    return (int_arg(value, what, op),)


class ShapeMethods:
    """Mixin of `compiler.operand.Operand` (see there for the protocol)."""

    __slots__ = ()

    # ---- reversing and rotating ----------------------------------------------------------------
    def flip(self, *dims: Any) -> Any:
        """Reverse the order of elements along `dims` (a copy, as in PyTorch)."""
        return apply("flip", self, axes=tuple(sorted(_dims(dims, self.ndim, "flip"))))

    def fliplr(self) -> Any:
        """Flip along dim 1 (left/right); needs at least 2 dims."""
        if self.ndim < 2:
            raise ShapeError(f"fliplr: input must be >= 2-d, got shape {tuple(self.shape)}")
        return self.flip(1)

    def flipud(self) -> Any:
        """Flip along dim 0 (up/down); needs at least 1 dim."""
        if self.ndim < 1:
            raise ShapeError("flipud: input must be >= 1-d, got a 0-d tensor")
        return self.flip(0)

    def roll(self, shifts: Any, dims: Any = None) -> Any:
        """Shift elements along `dims` by `shifts`, wrapping around; without dims, along
        the tensor read as 1-d."""
        s = _ints(shifts, "roll", "shifts")
        if dims is None:
            if len(s) != 1:
                raise ValueError(
                    f"roll: shifts and dimensions must align: {len(s)} shifts without dims "
                    "(give one shift to roll the flattened tensor)"
                )
            flat = apply("roll", self.reshape(-1), shifts=s, axes=(0,))
            return apply("reshape", flat, shape=tuple(self.shape), name="RollBackward0")
        d = _ints(dims, "roll", "dims")
        if len(s) != len(d):
            raise ValueError(
                f"roll: shifts and dimensions must align: {len(s)} shifts, {len(d)} dims"
            )
        total: dict[int, int] = {}
        for shift, dim in zip(s, d):
            a = normalize_axis(dim, self.ndim, "roll")
            total[a] = total.get(a, 0) + shift
        if not self.ndim:
            return apply("roll", self, shifts=(), axes=())
        axes = tuple(sorted(total))
        return apply("roll", self, shifts=tuple(total[a] for a in axes), axes=axes)

    def rot90(self, k: int = 1, dims: Sequence[int] = (0, 1)) -> Any:
        """Rotate by 90 degrees k times, from the first of `dims` towards the second."""
        if len(dims) != 2:
            raise ValueError(f"rot90: expected 2 rotation dims, got {len(dims)}")
        if self.ndim < 2:
            raise ShapeError(f"rot90: expected total dims >= 2, got shape {tuple(self.shape)}")
        d0, d1 = (normalize_axis(d, self.ndim, "rot90") for d in dims)
        if d0 == d1:
            raise ValueError(f"rot90: expected the rotation dims to differ, got {list(dims)}")
        k = int_arg(k, "k", "rot90") % 4
        perm = list(range(self.ndim))
        perm[d0], perm[d1] = perm[d1], perm[d0]
        name = "Rot90Backward0"
        if k == 0:
            return apply("copy", self, name=name)
        if k == 2:
            return apply("flip", self, axes=tuple(sorted((d0, d1))), name=name)
        flipped = self.flip(d1 if k == 1 else d0)
        return apply("transpose", flipped, perm=tuple(perm), name=name)

    # ---- repeating ------------------------------------------------------------------------------
    def repeat(self, *sizes: Any) -> Any:
        """Tile the tensor: `sizes` copies along each dim (at least self.ndim of them;
        extra leading ones make new dims)."""
        reps = shape_arg(sizes, "repeat")
        if len(reps) < self.ndim:
            raise ShapeError(
                f"repeat: the number of repeat dims ({len(reps)}) can not be smaller than the "
                f"number of dims of the tensor ({self.ndim}, shape {tuple(self.shape)})"
            )
        if any(r < 0 for r in reps):
            raise ValueError(f"repeat: repeats must be non-negative, got {list(reps)}")
        shape = (1,) * (len(reps) - self.ndim) + tuple(self.shape)
        spread = tuple(v for n in shape for v in (1, n))
        full = tuple(v for r, n in zip(reps, shape) for v in (r, n))
        out = tuple(r * n for r, n in zip(reps, shape))
        x = self.reshape(spread).broadcast_to(full)
        return apply("reshape", x, shape=out, name="RepeatBackward0")

    def tile(self, *dims: Any) -> Any:
        """repeat(), with fewer `dims` than self's padded with leading ones."""
        reps = shape_arg(dims, "tile")
        return self.repeat((1,) * (self.ndim - len(reps)) + reps)

    def repeat_interleave(
        self, repeats: Any, dim: int | None = None, *, output_size: int | None = None
    ) -> Any:
        """Repeat each element (or slice along `dim`) `repeats` times, an int or one count
        per element; without dim, of the tensor read as 1-d. Counts from a tensor with more
        than one element set the result's size from their values: eager only."""
        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else normalize_axis(dim, x.ndim, "repeat_interleave")
        if x.ndim == 0:
            x = x.reshape(1)
        n = x.shape[d]
        if hasattr(repeats, "_bind"):
            if not dtypes.is_int(repeats.dtype):
                raise DTypeError(
                    f"repeat_interleave: repeats must be integers, got {repeats.dtype}"
                )
            counts = concrete(
                repeats,
                "repeat_interleave",
                "Give repeats as a Python int (or a tensor made inside the traced function).",
            ).reshape(-1)
            if counts.size == 1:
                repeats = int(counts[0])
            else:
                if counts.size != n:
                    raise ShapeError(
                        f"repeat_interleave: repeats must have 1 element or one per element "
                        f"along dim {d} ({n}), got {counts.size}"
                    )
                if (counts < 0).any():
                    raise ValueError("repeat_interleave: repeats can not be negative")
                idx = x._const(np.repeat(np.arange(n, dtype=np.int64), counts))
                out = x.index_select(d, idx)
                _check_output_size(out, d, output_size)
                return out
        r = int_arg(repeats, "repeats", "repeat_interleave")
        if r < 0:
            raise ValueError(f"repeat_interleave: repeats can not be negative, got {r}")
        y = x.unsqueeze(d + 1)
        full = tuple(x.shape[: d + 1]) + (r,) + tuple(x.shape[d + 1 :])
        shape = tuple(x.shape[:d]) + (n * r,) + tuple(x.shape[d + 1 :])
        out = apply("reshape", y.broadcast_to(full), shape=shape, name="ViewBackward0")
        _check_output_size(out, d, output_size)
        return out

    # ---- splitting ------------------------------------------------------------------------------
    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Any, ...]:
        """Pieces of `split_size_or_sections` along `dim` (the last may be smaller), or of
        the listed sizes, which must add up to the dim's size."""
        if self.ndim == 0:
            raise ShapeError("split: a 0-d tensor cannot be split; it has no dims")
        d = normalize_axis(dim, self.ndim, "split")
        n = self.shape[d]
        if isinstance(split_size_or_sections, (tuple, list)):
            sizes = _ints(split_size_or_sections, "split", "split sizes")
            if sum(sizes) != n or any(s < 0 for s in sizes):
                raise ValueError(
                    f"split: split sizes must be non-negative and sum exactly to {n} (the "
                    f"size of dim {d} of a tensor of shape {tuple(self.shape)}), got "
                    f"{list(sizes)}"
                )
            name = "SplitWithSizesBackward0"
        else:
            size = int_arg(split_size_or_sections, "split_size", "split")
            if size < 0 or (size == 0 and n):
                raise ValueError(
                    f"split: split_size must be positive (0 only for an empty dim), got {size} "
                    f"for a dim of size {n}"
                )
            sizes = tuple(min(size, n - s) for s in range(0, n, size)) if n else (0,)
            name = "SplitBackward0"
        out, start = [], 0
        for s in sizes:
            out.append(_slice(self, d, start, start + s, name))
            start += s
        return tuple(out)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Any, ...]:
        """At most `chunks` pieces of equal size along `dim` (the last may be smaller)."""
        chunks = int_arg(chunks, "chunks", "chunk")
        if chunks <= 0:
            raise ValueError(f"chunk: expects `chunks` to be greater than 0, got {chunks}")
        if self.ndim == 0:
            raise ShapeError("chunk: a 0-d tensor cannot be split; it has no dims")
        n = self.shape[normalize_axis(dim, self.ndim, "chunk")]
        return self.split(max(math.ceil(n / chunks), 1) if n else 0, dim)

    def tensor_split(self, indices_or_sections: Any, dim: int = 0) -> tuple[Any, ...]:
        """numpy's array_split: `sections` near-equal pieces (the first n % sections one
        longer), or the pieces between the given indices, along `dim`."""
        if self.ndim == 0:
            raise ShapeError("tensor_split: a 0-d tensor cannot be split; it has no dims")
        d = normalize_axis(dim, self.ndim, "tensor_split")
        n = self.shape[d]
        spec = indices_or_sections
        if hasattr(spec, "_bind"):
            values = values_of(spec)
            if values is None:
                values = concrete(spec, "tensor_split", "Give the indices as Python ints.")
            if values.ndim > 1 or not dtypes.is_int(values.dtype):
                raise ValueError(
                    "tensor_split: a tensor of indices_or_sections must be a 0-d or 1-d "
                    f"integer tensor, got {values.dtype} of shape {values.shape}"
                )
            spec = int(values) if values.ndim == 0 else [int(v) for v in values]
        if isinstance(spec, (tuple, list)):
            bounds = [int_arg(i, "indices", "tensor_split") for i in spec]
            starts = [0, *bounds]
            stops = [*bounds, n]
        else:
            k = int_arg(spec, "sections", "tensor_split")
            if k <= 0:
                raise ValueError(f"tensor_split: number of sections must be positive, got {k}")
            sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
            starts = [sum(sizes[:i]) for i in range(k)]
            stops = [s + z for s, z in zip(starts, sizes)]
        out = []
        for a, b in zip(starts, stops):
            lo, hi, _ = slice(a, b).indices(n)
            out.append(_slice(self, d, lo, max(lo, hi), "SliceBackward0"))
        return tuple(out)

    def unbind(self, dim: int = 0) -> tuple[Any, ...]:
        """The slices along `dim`, that dim removed."""
        if self.ndim == 0:
            raise ShapeError("unbind: a 0-d tensor has no dims to unbind")
        d = normalize_axis(dim, self.ndim, "unbind")
        out = []
        for i in range(self.shape[d]):
            spec = tuple(
                ("int", i) if k == d else ("slice", 0, n, 1) for k, n in enumerate(self.shape)
            )
            out.append(apply("slice", self, spec=spec, name="UnbindBackward0"))
        return tuple(out)

    def narrow(self, dim: int, start: Any, length: int) -> Any:
        """The `length` elements along `dim` from `start` (negative: from the end)."""
        if self.ndim == 0:
            raise ShapeError("narrow: a 0-d tensor has no dims to narrow")
        d = normalize_axis(dim, self.ndim, "narrow")
        n = self.shape[d]
        if hasattr(start, "_bind"):
            start = int(concrete(start, "narrow", "Give start as a Python int.").reshape(()))
        start = int_arg(start, "start", "narrow")
        length = int_arg(length, "length", "narrow")
        if not -n <= start <= n:
            raise IndexError(f"narrow: start {start} is out of range for dim {d} of size {n}")
        start = start + n if start < 0 else start
        if length < 0 or start + length > n:
            raise IndexError(
                f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) "
                f"of a tensor of shape {tuple(self.shape)}"
            )
        return _slice(self, d, start, start + length, "SliceBackward0")

    # ---- moving dims ----------------------------------------------------------------------------
    def movedim(self, source: Any, destination: Any) -> Any:
        """Move the dims `source` to the positions `destination`; the others keep their
        order."""
        src = _ints(source, "movedim", "source")
        dst = _ints(destination, "movedim", "destination")
        if len(src) != len(dst):
            raise ValueError(
                f"movedim: invalid source or destination dims: source ({list(src)}) and "
                f"destination ({list(dst)}) must have the same number of elements"
            )
        src = tuple(normalize_axis(s, self.ndim, "movedim") for s in src)
        dst = tuple(normalize_axis(s, self.ndim, "movedim") for s in dst)
        for what, dims in (("source", src), ("destination", dst)):
            if len(set(dims)) != len(dims):
                raise ValueError(f"movedim: repeated dim in `{what}` ({list(dims)})")
        perm = [-1] * self.ndim
        for s, t in zip(src, dst):
            perm[t] = s
        rest = iter(d for d in range(self.ndim) if d not in src)
        perm = [p if p >= 0 else next(rest) for p in perm]
        return self.permute(*perm)

    moveaxis = movedim

    def swapaxes(self, axis0: int, axis1: int) -> Any:
        return self.transpose(axis0, axis1)

    def swapdims(self, dim0: int, dim1: int) -> Any:
        return self.transpose(dim0, dim1)

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Any:
        """Split dim `dim` into `sizes` (one of them may be -1)."""
        d = normalize_axis(dim, self.ndim, "unflatten")
        sizes = shape_arg((tuple(sizes),), "unflatten")
        if not sizes:
            raise ValueError("unflatten: sizes must be non-empty")
        n = self.shape[d]
        try:
            sizes = infer_reshape((n,), sizes)
        except ShapeError:
            raise ShapeError(
                f"unflatten: provided sizes {list(sizes)} don't multiply up to the size of "
                f"dim {d} ({n}) of a tensor of shape {tuple(self.shape)}"
            ) from None
        shape = tuple(self.shape[:d]) + tuple(sizes) + tuple(self.shape[d + 1 :])
        return apply("reshape", self, shape=shape, name="ViewBackward0")

    def contiguous(self, memory_format: Any = None) -> Any:
        """self if it is laid out contiguously (row-major), else a contiguous copy."""
        data = values_of(self)
        if data is None or data.flags.c_contiguous:
            return self
        return self.clone()

    def is_contiguous(self, memory_format: Any = None) -> bool:
        data = values_of(self)
        return data is None or bool(data.flags.c_contiguous)

    # ---- triangles and diagonals ----------------------------------------------------------------
    def _triangle(self, diagonal: int, lower: bool) -> Any:
        op = "tril" if lower else "triu"
        if self.ndim < 2:
            raise ShapeError(
                f"{op}: input tensor must have at least 2 dimensions, got shape {tuple(self.shape)}"
            )
        k = int_arg(diagonal, "diagonal", op)
        square = tuple(self.shape[-2:])
        offset = self.iota(square, 1) - self.iota(square, 0)  # column - row
        keep = offset <= k if lower else offset >= k
        zero = self.full_like(0, shape=())
        return apply("where", keep, self, zero, name="TrilBackward0" if lower else "TriuBackward0")

    def tril(self, diagonal: int = 0) -> Any:
        """The lower triangle (on and below the `diagonal`-th diagonal) of the last two
        dims; the rest 0. The gradient is selected, so the rest gets none."""
        return self._triangle(diagonal, True)

    def triu(self, diagonal: int = 0) -> Any:
        """The upper triangle (on and above the `diagonal`-th diagonal), the rest 0."""
        return self._triangle(diagonal, False)

    def tril_(self, diagonal: int = 0) -> Any:
        return self._inplace("tril_", lambda s: s.tril(diagonal))

    def triu_(self, diagonal: int = 0) -> Any:
        return self._inplace("triu_", lambda s: s.triu(diagonal))

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
        """The `offset`-th diagonal of the (dim1, dim2) matrices, as a view whose last dim
        runs along the diagonal."""
        a, b = self._diagonal_dims("diagonal", offset, dim1, dim2)
        return apply("diagonal", self, offset=int(offset), dim1=a, dim2=b)

    def _diagonal_dims(self, op: str, offset: int, dim1: int, dim2: int) -> tuple[int, int]:
        int_arg(offset, "offset", op)
        a = normalize_axis(dim1, self.ndim, op)
        b = normalize_axis(dim2, self.ndim, op)
        if self.ndim < 2:
            raise ShapeError(f"{op}: needs at least 2 dims, got shape {tuple(self.shape)}")
        if a == b:
            raise ValueError(f"{op}: diagonal dimensions cannot be identical {dim1}, {dim2}")
        return a, b

    def diagonal_scatter(self, src: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
        """A copy of self with its `offset`-th diagonal (dim1, dim2) replaced by src."""
        a, b = self._diagonal_dims("diagonal_scatter", offset, dim1, dim2)
        return apply("diagonal_scatter", self, src, offset=int(offset), dim1=a, dim2=b)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Any:
        """Matrices whose `offset`-th diagonal (in dims dim1, dim2 of the result) holds
        the last dim of self; zeros elsewhere."""
        ndim = self.ndim + 1
        offset = int_arg(offset, "offset", "diag_embed")
        a = normalize_axis(dim1, ndim, "diag_embed")
        b = normalize_axis(dim2, ndim, "diag_embed")
        if a == b:
            raise ValueError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
        x = self.reshape(1) if not self.ndim else self
        n = x.shape[-1] + abs(offset)
        rest = iter(x.shape[:-1])
        shape = tuple(n if d in (a, b) else next(rest) for d in range(ndim))
        zeros = x.full_like(0, shape=shape)
        return apply(
            "diagonal_scatter", zeros, x, offset=offset, dim1=a, dim2=b, name="DiagEmbedBackward0"
        )

    def diag(self, diagonal: int = 0) -> Any:
        """A 1-d tensor: the matrix with it on the `diagonal`-th diagonal; a 2-d tensor:
        its `diagonal`-th diagonal (a copy)."""
        if self.ndim == 1:
            return self.diag_embed(diagonal, 0, 1)
        if self.ndim != 2:
            raise ShapeError(f"diag: expected a 1-d or 2-d tensor, got shape {tuple(self.shape)}")
        return apply("copy", self.diagonal(diagonal), name="DiagonalBackward0_copy")

    def diagflat(self, offset: int = 0) -> Any:
        """The matrix with self, read as 1-d, on its `offset`-th diagonal."""
        return self.reshape(-1).diag_embed(offset, 0, 1)

    def trace(self) -> Any:
        """The sum of the main diagonal of a matrix (integers sum to int64)."""
        if self.ndim != 2:
            raise ShapeError(
                f"trace: expected a matrix, but got a tensor of shape {tuple(self.shape)}"
            )
        if self.dtype == dtypes.bool_:
            raise DTypeError("trace: not implemented for bool tensors; convert with .long()")
        d = self.diagonal()
        if d.dtype.kind in "iu":
            d = d.to(dtypes.int64)
        return apply("reduce_sum", d, axes=(0,), keepdims=False, name="TraceBackward0")


def _check_output_size(out: Any, d: int, output_size: int | None) -> None:
    if output_size is not None and out.shape[d] != output_size:
        raise ValueError(
            f"repeat_interleave: output_size {output_size} does not match the result's "
            f"size {out.shape[d]} along dim {d}"
        )
