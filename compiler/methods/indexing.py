"""Indexing as Operand methods: gather and the scatters, index_select/add/copy/fill/put,
masked_fill/scatter/select, take, take_along_dim, put, nonzero and argwhere, with
the in-place variants PyTorch has.

Ops that are one existing primitive with PyTorch's name for the node (index_select
is a gather along a broadcast index, masked_fill a select) apply that primitive under
PyTorch's grad_fn name. Ops whose result's shape depends on the values of a tensor
(nonzero, masked_select, boolean masks in index_put) need that tensor's values: they
run eagerly, and inside a trace raise a TraceError naming the op (`concrete`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes
from compiler.args import is_number, normalize_axis
from compiler.dispatch import apply, tracing
from compiler.errors import DTypeError, ShapeError, TraceError
from compiler.source import describe_location

__all__ = ["IndexingMethods", "as_index", "concrete", "values_of"]

REDUCES = ("sum", "prod", "mean", "amax", "amin")  # scatter_reduce's (compiler.ops.scatter)


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    # compiler.ops imports compiler.operand, which this module is a base of: import late
    from compiler.ops.elementwise import broadcast_shapes as shapes_of

    return shapes_of(op, *shapes)


def values_of(x: Any) -> np.ndarray | None:
    """The values of a concrete operand (an eager tensor, a numpy Value), else None."""
    data = getattr(x, "_data", None)
    if data is None:
        data = getattr(x, "array", None)
    return data if isinstance(data, np.ndarray) else None


def concrete(x: Any, op: str, fix: str) -> np.ndarray:
    """The values of `x`, for an op whose result's shape depends on them. Inside a trace
    (a symbolic value, or a tensor from outside the traced function, which would be read
    once and frozen into the graph) this raises a TraceError naming the op."""
    data = values_of(x)
    builder = tracing.builder
    inside = builder is not None and id(x) in builder.made_inside and not builder.pending(x)
    if data is None or (builder is not None and not inside):
        where = describe_location()
        raise TraceError(
            f"{op}: the shape of its result depends on the mask's values (the values of a "
            "tensor), which a traced function cannot have"
            + (f"\n  at {where}" if where else "")
            + f"\n{fix}"
        )
    return data


def as_index(x: Any, index: Any, op: str) -> Any:
    """`index` as an integer operand of x's world (lists and arrays become constants)."""
    if not hasattr(index, "_bind"):
        a = np.asarray(index)
        if a.dtype.kind not in "iu" and a.size:
            raise TypeError(f"{op}: index must be an integer tensor, got {index!r}")
        index = x._const(a.astype(np.int64))
    if not dtypes.is_int(index.dtype):
        raise DTypeError(
            f"{op}: index must be an integer tensor, got {index.dtype} (shape "
            f"{tuple(index.shape)}); convert it with .long()"
        )
    return index


def _long_only(index: Any, op: str) -> None:
    if index.dtype != dtypes.int64:
        raise DTypeError(
            f"{op}: expected an int64 (long) tensor for the indices, got {index.dtype} "
            "(as PyTorch); convert it with .long()"
        )


def _in_range(index: Any, n: int, op: str, dim: int, negative: bool = False) -> None:
    """Check a concrete index's values against a dim of size n (with `negative`, -n..-1
    count from the end); symbolic indices are checked by the kernel."""
    a = values_of(index)
    if a is None or not a.size:
        return
    low = -n if negative else 0
    bad = (a < low) | (a >= n)
    if bad.any():
        raise IndexError(
            f"{op}: index {int(a[bad].flat[0])} is out of range for dimension {dim} with "
            f"size {n} (valid: {low} to {n - 1})"
        )


def _wrap(index: Any, x: Any, axis: int) -> Any:
    """Negative indices counted from the end of x's dim `axis` (its size read from the
    kernel's sizes, not baked in as a number)."""
    from compiler.ops.shape import count

    n = count(x, (axis,) if x.ndim else (), dtypes.int64)
    return apply("where", index < 0, index + n, index)


def _vector(index: Any, op: str) -> Any:
    if index.ndim > 1:
        raise IndexError(
            f"{op}: the index must be a vector (0-d or 1-d), got shape {tuple(index.shape)}"
        )
    return index.reshape(-1)


def _along(x: Any, index: Any, dim: int, shape: tuple[int, ...]) -> Any:
    """A 1-d index laid along `dim` and broadcast to `shape` (for gather/scatter)."""
    view = [1] * len(shape)
    if shape:
        view[dim] = index.shape[0]
        return index.reshape(tuple(view)).broadcast_to(shape)
    return index.reshape(())


def _value(x: Any, value: Any, op: str) -> Any:
    """A fill value: a number, or a 0-d tensor, as a 0-d operand of x's dtype."""
    if is_number(value) or isinstance(value, (bool, np.bool_)):
        return x.full_like(value, shape=())
    if not hasattr(value, "_bind"):
        raise TypeError(f"{op}: value must be a number or a 0-d tensor, got {value!r}")
    if value.ndim != 0:
        raise ShapeError(
            f"{op}: only supports a 0-dimensional value tensor, but got one of shape "
            f"{tuple(value.shape)}"
        )
    return value.to(x.dtype)


def _same_dtype(x: Any, src: Any, op: str, what: str = "source") -> None:
    if src.dtype != x.dtype:
        raise DTypeError(
            f"{op}: {what} is {src.dtype} but the tensor is {x.dtype}; they must have one "
            f"dtype (convert with .to({x.dtype.name}))"
        )


def _bool_mask(mask: Any, op: str) -> None:
    if not hasattr(mask, "_bind"):
        raise TypeError(f"{op}: the mask must be a bool tensor, got {type(mask).__name__}")
    if mask.dtype != dtypes.bool_:
        raise DTypeError(
            f"{op}: only supports boolean masks, but got a mask of dtype {mask.dtype}; "
            "compare to make one (x > 0) or convert with .bool()"
        )


_MASK_FIX = (
    "Keep the shape with tracer.where(mask, x, 0) (then reduce), or run this op outside "
    "the traced function."
)


class IndexingMethods:
    """Mixin of `compiler.operand.Operand` (see there for the protocol)."""

    __slots__ = ()

    # ---- gather and the scatters -----------------------------------------------------------
    def gather(self, dim: int, index: Any, *, sparse_grad: bool = False) -> Any:
        """out[i][j] = self[i][index[i][j]] along `dim` (torch.gather); index values
        outside 0..size-1 raise IndexError."""
        index = as_index(self, index, "gather")
        return apply("gather", self, index, dim=normalize_axis(dim, self.ndim, "gather"))

    def scatter_add(self, dim: int, index: Any, src: Any) -> Any:
        """A copy of self with src[i][j] added at [i][index[i][j]] along `dim`
        (torch.scatter_add); repeated indices accumulate."""
        index = as_index(self, index, "scatter_add")
        d = normalize_axis(dim, self.ndim, "scatter_add")
        return apply("scatter_add", self, index, src, dim=d)

    def scatter_add_(self, dim: int, index: Any, src: Any) -> Any:
        return self._inplace("scatter_add_", lambda s: s.scatter_add(dim, index, src), src)

    def scatter(
        self, dim: int, index: Any, src: Any = None, value: Any = None, *, reduce: str | None = None
    ) -> Any:
        """A copy of self with src[i][j] (or `value` everywhere) written at
        [i][index[i][j]] along `dim` (torch.scatter). Of repeated writes to one element
        the last in index's C order wins, and only it gets a gradient. `reduce` ('add' or
        'multiply', PyTorch's legacy argument) folds the writes in instead."""
        if src is not None and value is not None:
            raise TypeError("scatter: give either src or value, not both")
        if src is None and value is None:
            raise TypeError("scatter: missing src (a tensor) or value (a number)")
        if src is None or not hasattr(src, "_bind"):
            src, named = (value if src is None else src), "ScatterBackward1"
            index = as_index(self, index, "scatter")
            src = self.full_like(_number(src, "scatter"), shape=tuple(index.shape))
        else:
            named = "ScatterBackward0"
        d = normalize_axis(dim, self.ndim, "scatter")
        index = as_index(self, index, "scatter")
        if reduce is not None:
            how = {"add": "sum", "multiply": "prod"}.get(reduce)
            if how is None:
                raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
            return self.scatter_reduce(d, index, src, how)
        return apply("scatter", self, index, src, dim=d, name=named)

    def scatter_(
        self, dim: int, index: Any, src: Any = None, value: Any = None, *, reduce: str | None = None
    ) -> Any:
        return self._inplace(
            "scatter_", lambda s: s.scatter(dim, index, src, value, reduce=reduce), src
        )

    def scatter_reduce(
        self, dim: int, index: Any, src: Any, reduce: str, *, include_self: bool = True
    ) -> Any:
        """A copy of self with src folded in at index along `dim` by `reduce` ('sum',
        'prod', 'mean', 'amax', 'amin'); include_self=False leaves self's values at the
        written positions out. Gradients: prod is exact with zeros among the factors,
        amax/amin share among ties evenly (as PyTorch)."""
        if reduce not in REDUCES:
            raise ValueError(f"scatter_reduce: reduce must be one of {REDUCES}, got {reduce!r}")
        index = as_index(self, index, "scatter_reduce")
        d = normalize_axis(dim, self.ndim, "scatter_reduce")
        return apply(
            "scatter_reduce",
            self,
            index,
            src,
            dim=d,
            reduce=reduce,
            include_self=bool(include_self),
        )

    def scatter_reduce_(
        self, dim: int, index: Any, src: Any, reduce: str, *, include_self: bool = True
    ) -> Any:
        return self._inplace(
            "scatter_reduce_",
            lambda s: s.scatter_reduce(dim, index, src, reduce, include_self=include_self),
            src,
        )

    # ---- index_* along one dim ---------------------------------------------------------------
    def index_select(self, dim: int, index: Any) -> Any:
        """The slices of self at `index` (a vector) along `dim`."""
        op = "index_select"
        d = normalize_axis(dim, self.ndim, op)
        index = _vector(as_index(self, index, op), op)
        n = self.shape[d] if self.ndim else 1
        _in_range(index, n, op, d)
        if not self.ndim:
            if index.shape[0] != 1:
                raise IndexError(
                    f"{op}: the index of a 0-d tensor can have only 1 value, got {index.shape[0]}"
                )
            return apply("gather", self, index.reshape(()), dim=0, name="IndexSelectBackward0")
        shape = tuple(self.shape[:d]) + (index.shape[0],) + tuple(self.shape[d + 1 :])
        return apply(
            "gather", self, _along(self, index, d, shape), dim=d, name="IndexSelectBackward0"
        )

    def _index_write(self, op: str, dim: int, index: Any, source: Any) -> tuple[int, Any]:
        d = normalize_axis(dim, self.ndim, op)
        index = _vector(as_index(self, index, op), op)
        n = self.shape[d] if self.ndim else 1
        _in_range(index, n, op, d)
        if not hasattr(source, "_bind"):
            raise TypeError(f"{op}: source must be a tensor, got {type(source).__name__}")
        want = tuple(self.shape[:d]) + (index.shape[0],) + tuple(self.shape[d + 1 :])
        if (self.ndim and tuple(source.shape) != want) or (
            not self.ndim and source.numel() != index.shape[0]
        ):
            raise ShapeError(
                f"{op}: source of shape {tuple(source.shape)} does not fit: a tensor of "
                f"shape {tuple(self.shape)} with an index of {index.shape[0]} elements "
                f"along dim {d} needs a source of shape {want}"
            )
        _same_dtype(self, source, op)
        return d, _along(self, index, d, tuple(source.shape) if self.ndim else ())

    def index_add(self, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Any:
        """A copy of self with alpha * source[..., i, ...] added at index[i] along `dim`
        (repeated indices accumulate)."""
        d, idx = self._index_write("index_add", dim, index, source)
        src = source if alpha == 1 else source * alpha
        return apply(
            "scatter_add", self, idx, src.reshape(idx.shape), dim=d, name="IndexAddBackward0"
        )

    def index_add_(self, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Any:
        return self._inplace(
            "index_add_", lambda s: s.index_add(dim, index, source, alpha=alpha), source
        )

    def index_copy(self, dim: int, index: Any, source: Any) -> Any:
        """A copy of self with source[..., i, ...] written at index[i] along `dim` (of
        repeated indices the last wins)."""
        d, idx = self._index_write("index_copy", dim, index, source)
        return apply(
            "scatter", self, idx, source.reshape(idx.shape), dim=d, name="IndexCopyBackward0"
        )

    def index_copy_(self, dim: int, index: Any, source: Any) -> Any:
        return self._inplace("index_copy_", lambda s: s.index_copy(dim, index, source), source)

    def index_fill(self, dim: int, index: Any, value: Any) -> Any:
        """A copy of self with the slices at `index` along `dim` set to `value` (a number
        or a 0-d tensor, which gets the sum of their gradient); negative indices count
        from the end."""
        op = "index_fill"
        d = normalize_axis(dim, self.ndim, op)
        index = _vector(as_index(self, index, op), op)
        n = self.shape[d] if self.ndim else 1
        _in_range(index, n, op, d, negative=True)
        v = _value(self, value, op)
        hit = apply(
            "scatter",
            self.full_like(False, shape=(n,), dtype=dtypes.bool_),
            _wrap(index, self, d),
            self.full_like(True, shape=tuple(index.shape), dtype=dtypes.bool_),
            dim=0,
        )
        view = [1] * self.ndim
        if self.ndim:
            view[d] = n
        name = "IndexFillBackward1" if hasattr(value, "_bind") else "IndexFillBackward0"
        return apply("where", hit.reshape(tuple(view)), v, self, name=name)

    def index_fill_(self, dim: int, index: Any, value: Any) -> Any:
        return self._inplace("index_fill_", lambda s: s.index_fill(dim, index, value), value)

    def index_put(self, indices: Any, values: Any, accumulate: bool = False) -> Any:
        """A copy of self with `values` written at self[indices] (a tuple of index
        tensors), or added there with accumulate=True (repeated indices accumulate; without
        it the last write wins)."""
        from compiler.ops.index import parse_index
        from compiler.registry import OPS, AVal

        op = "index_put"
        key = tuple(indices) if isinstance(indices, (tuple, list)) else (indices,)
        for k in key:
            if hasattr(k, "_bind") and k.dtype == dtypes.bool_:
                concrete(k, op, "Use tracer.where(mask, values, x) with a mask of x's shape.")
        spec, arrays, _ = parse_index(self, key)
        values = values if hasattr(values, "_bind") else self._const(np.asarray(values, self.dtype))
        _same_dtype(self, values, op, "values")
        target = (
            OPS["index"]
            .abstract_eval(
                AVal(tuple(self.shape), self.dtype),
                *[AVal(tuple(a.shape), a.dtype) for a in arrays],
                spec=spec,
            )
            .shape
        )
        v = values.broadcast_to(tuple(target))
        if not accumulate:
            return apply("index_put", self, v, *arrays, spec=spec, name="IndexPutBackward0")
        added = apply("index_add", v, *arrays, spec=spec, shape=tuple(self.shape))
        return apply("add", self, added, name="IndexPutBackward0")

    def index_put_(self, indices: Any, values: Any, accumulate: bool = False) -> Any:
        return self._inplace(
            "index_put_", lambda s: s.index_put(indices, values, accumulate), values
        )

    # ---- masks ---------------------------------------------------------------------------
    def masked_fill(self, mask: Any, value: Any) -> Any:
        """self where mask is False, `value` (a number or a 0-d tensor, converted to
        self's dtype) where it holds. The gradient is selected, not multiplied by the
        mask: self gets none where filled, value the sum of the rest."""
        _bool_mask(mask, "masked_fill")
        v = _value(self, value, "masked_fill")
        name = "MaskedFillBackward1" if hasattr(value, "_bind") else "MaskedFillBackward0"
        return apply("where", mask, v, self, name=name)

    def masked_fill_(self, mask: Any, value: Any) -> Any:
        return self._inplace("masked_fill_", lambda s: s.masked_fill(mask, value), value)

    def masked_scatter(self, mask: Any, source: Any) -> Any:
        """A copy of self whose elements where mask holds take source's elements in
        order (source needs at least as many elements as the mask selects)."""
        _bool_mask(mask, "masked_scatter")
        return apply("masked_scatter", self, mask, source)

    def masked_scatter_(self, mask: Any, source: Any) -> Any:
        return self._inplace("masked_scatter_", lambda s: s.masked_scatter(mask, source), source)

    def masked_select(self, mask: Any) -> Any:
        """The elements of self where mask holds (both broadcast), as a 1-d tensor. Its
        length depends on the mask's values: eager only."""
        _bool_mask(mask, "masked_select")
        m = concrete(mask, "masked_select", _MASK_FIX)
        shape = broadcast_shapes("masked_select", tuple(self.shape), tuple(mask.shape))
        n = int(np.broadcast_to(m, shape).sum())
        return apply("masked_select", self, mask, shape=(n,))

    # ---- flat and along-dim takes ---------------------------------------------------------------
    def take(self, index: Any) -> Any:
        """self read as a 1-d tensor at `index` (result of index's shape); negative
        indices count from the end."""
        index = as_index(self, index, "take")
        _long_only(index, "take")
        _in_range(index, self.numel(), "take", 0, negative=True)
        return apply("index", self.reshape(-1), index, spec=(("arr", 0),), name="TakeBackward0")

    def take_along_dim(self, indices: Any, dim: int | None = None) -> Any:
        """Values along `dim` at `indices`, which broadcast against self outside `dim`
        (gather); with dim=None both are read as 1-d. Negative indices count from the
        end, as in PyTorch."""
        op = "take_along_dim"
        indices = as_index(self, indices, op)
        _long_only(indices, op)
        if dim is None:
            flat = self.reshape(-1)
            idx = _wrap(indices.reshape(-1), flat, 0)
            return apply("gather", flat, idx, dim=0)
        d = normalize_axis(dim, self.ndim, op)
        if indices.ndim != self.ndim:
            raise ShapeError(
                f"{op}: the input (shape {tuple(self.shape)}) and the indices (shape "
                f"{tuple(indices.shape)}) must have the same number of dimensions"
            )
        if not self.ndim:
            return apply("gather", self, _wrap(indices, self, 0), dim=0)
        rest = broadcast_shapes(
            op,
            tuple(1 if k == d else n for k, n in enumerate(self.shape)),
            tuple(1 if k == d else n for k, n in enumerate(indices.shape)),
        )
        xs = rest[:d] + (self.shape[d],) + rest[d + 1 :]
        ids = rest[:d] + (indices.shape[d],) + rest[d + 1 :]
        x = self.broadcast_to(xs)
        return apply("gather", x, _wrap(indices.broadcast_to(ids), x, d), dim=d)

    def put(self, index: Any, source: Any, accumulate: bool = False) -> Any:
        """A copy of self, read as a 1-d tensor, with source written at `index` (added
        with accumulate=True); negative indices count from the end, the last of
        repeated writes wins."""
        op = "put"
        index = as_index(self, index, op)
        _long_only(index, op)
        if index.numel() != source.numel():
            raise ShapeError(
                f"{op}: source and index must have the same number of elements, got "
                f"{source.numel()} and {index.numel()}"
            )
        _same_dtype(self, source, op)
        _in_range(index, self.numel(), op, 0, negative=True)
        flat, idx, src = self.reshape(-1), index.reshape(-1), source.reshape(-1)
        spec = (("arr", 0),)
        if accumulate:
            out = flat + apply("index_add", src, idx, spec=spec, shape=tuple(flat.shape))
        else:
            out = apply("index_put", flat, src, idx, spec=spec)
        return apply("reshape", out, shape=tuple(self.shape), name="PutBackward0")

    def put_(self, index: Any, source: Any, accumulate: bool = False) -> Any:
        return self._inplace("put_", lambda s: s.put(index, source, accumulate), source)

    # ---- where the nonzero elements are (eager only) ---------------------------------------------
    def nonzero(self, *, as_tuple: bool = False) -> Any:
        """The indices of the nonzero elements: an (n, ndim) int64 tensor, or with
        as_tuple=True one 1-d tensor per dim. Its size depends on the values: eager only."""
        a = concrete(self, "nonzero", _MASK_FIX)
        if as_tuple:
            if not a.ndim:
                return (self._const(np.arange(int(a != 0), dtype=np.int64)),)
            return tuple(self._const(ix.astype(np.int64)) for ix in np.nonzero(a))
        return self._const(np.argwhere(a).astype(np.int64))

    def argwhere(self) -> Any:
        """nonzero(): the (n, ndim) indices of the nonzero elements (eager only)."""
        return self.nonzero()


def _number(value: Any, op: str) -> Any:
    if is_number(value) or isinstance(value, (bool, np.bool_)):
        return value
    raise TypeError(f"{op}: value must be a number, got {value!r} ({type(value).__name__})")
