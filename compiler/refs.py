"""Sizes and index maps of generated code.

Generated kernels take every array as a flat 1-D buffer and read it through an
affine index map `base[offset + sum(stride*i)]` (a `Ref`). Sizes are kernel
arguments: `Sizes` names each distinct input dimension (`d0`, `d1`, ...) and a
`Dim` is an int that remembers how it was computed from them, so strides, loop
bounds and buffer sizes print as expressions (`d0*d1`) rather than numbers.

Correctness never depends on this: the code for a signature is generated from
that signature's own sizes, and identical text is an identical program. What it
buys is reuse: a new batch size usually yields the same text, hence the same
compiled machine code. A size that ends up printed as a number (say, a slice
bound) only makes the text, and so the compile, specific to that size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.ir import Var

__all__ = [
    "Dim",
    "Ref",
    "Sizes",
    "adv_layout",
    "basic_index_ref",
    "broadcast_shapes",
    "c_strides",
    "cast",
    "literal",
    "reshape_ref",
    "size",
]


class Dim(int):
    """An int that prints as the expression computing it from the size arguments.

    Comparisons and hashing use the value; `*`, `+`, `-` and `//` keep the expression.
    """

    expr: str

    def __new__(cls, value: int, expr: str) -> Dim:
        self = super().__new__(cls, value)
        self.expr = expr
        return self

    def __str__(self) -> str:
        return self.expr

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return self.expr if not spec else format(int(self), spec)

    def _op(self, other: Any, fn: Any, fmt: str, swap: bool = False) -> Any:
        if not isinstance(other, int) or isinstance(other, bool):
            return fn(int(other), int(self)) if swap else fn(int(self), other)
        a, b = (other, self) if swap else (self, other)
        return Dim(fn(int(a), int(b)), fmt.format(_text(a), _text(b)))

    def __mul__(self, other: Any) -> Any:
        if type(other) is int and other in (0, 1):
            return self if other else 0
        return self._op(other, int.__mul__, "{}*{}")

    def __rmul__(self, other: Any) -> Any:
        if type(other) is int and other in (0, 1):
            return self if other else 0
        return self._op(other, int.__mul__, "{}*{}", swap=True)

    def __add__(self, other: Any) -> Any:
        if type(other) is int and other == 0:
            return self
        if type(other) is int and other < 0:
            return self - -other
        return self._op(other, int.__add__, "({} + {})")

    def __radd__(self, other: Any) -> Any:
        if type(other) is int and other == 0:
            return self
        return self._op(other, int.__add__, "({} + {})", swap=True)

    def __sub__(self, other: Any) -> Any:
        if type(other) is int and other == 0:
            return self
        if type(other) is int and other < 0:
            return self + -other
        return self._op(other, int.__sub__, "({} - {})")

    def __rsub__(self, other: Any) -> Any:
        return self._op(other, int.__sub__, "({} - {})", swap=True)

    def __floordiv__(self, other: Any) -> Any:
        return self._op(other, int.__floordiv__, "({} // {})")

    def __neg__(self) -> Dim:
        return Dim(-int(self), f"(-{self.expr})")


def _text(x: int) -> str:
    return x.expr if isinstance(x, Dim) else f"({x})" if x < 0 else str(x)


class Sizes:
    """The size arguments of a kernel: each distinct dimension (> 1) of its inputs.

    `dims(shape)` gives the shape with every size that equals an argument, or a
    product of two, as a `Dim`; sizes 0 and 1 stay plain ints because index maps
    depend on them (broadcasting).
    """

    def __init__(self, shapes: list[tuple[int, ...]]) -> None:
        self.values: list[int] = []
        self._table: dict[int, Dim | int] = {}
        for shape in shapes:
            for n in shape:
                if n > 1 and n not in self._table:
                    self._table[n] = Dim(n, f"d{len(self.values)}")
                    self.values.append(int(n))

    @property
    def names(self) -> list[str]:
        return [f"d{i}" for i in range(len(self.values))]

    def dim(self, n: int) -> int:
        """`n` as a size argument, or a product of two, when it is one; else `n`."""
        n = int(n)
        if n <= 1:
            return n
        d = self._table.get(n)
        if d is None:
            d = n
            for a in self.values:
                if n % a == 0 and (n // a) in self.values:
                    d = self._table[a] * self._table[n // a]
                    break
            self._table[n] = d
        return d

    def within(self, n: int, size: int) -> int:
        """`n`, an index or length inside a dimension of `size` (a size expression):
        as `size` or `size - 1`/`size - 2` when it is one of those (x[-1], x[1:],
        x[:-1], x[1:-1]), else as `dim(n)`."""
        n = int(n)
        if isinstance(size, Dim) and 0 <= int(size) - n <= 2 and n > 1:
            return size - (int(size) - n)
        return self.dim(n)

    def dims(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(self.dim(n) for n in shape)


def c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Strides (in elements) of a C-contiguous array of `shape`."""
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


def size(shape: tuple[int, ...]) -> int:
    """The product of `shape` (a `Dim` when its factors are)."""
    out = 1
    for n in shape:
        out = out * n
    return out


def literal(value: Any, dtype: np.dtype) -> str:
    """A typed constant: np.float32(0.5), np.int64(3), True."""
    dtype = np.dtype(dtype)
    v = dtype.type(value).item()
    if dtype == np.bool_:
        return repr(bool(v))
    if dtype.kind == "f":
        if v != v:
            text = "np.nan"
        elif v in (np.inf, -np.inf):
            text = "np.inf" if v > 0 else "-np.inf"
        else:
            text = repr(float(v))
        return f"np.{dtype.name}({text})"
    return f"np.{dtype.name}({int(v)})"


def cast(expr: str, frm: np.dtype, to: np.dtype) -> str:
    """`expr` (of dtype `frm`) converted to `to`."""
    if frm == to:
        return expr
    if to == np.bool_:
        return f"({expr} != 0)"
    return f"np.{np.dtype(to).name}({expr})"


@dataclass
class Ref:
    """How to read a value: from memory through an affine map, or computed."""

    kind: str  # "mem" | "const" | "iota"
    shape: tuple[int, ...]
    dtype: np.dtype
    base: Var | None = None  # mem: the value whose flat array holds the data
    offset: int = 0
    strides: tuple[int, ...] = ()
    expr: str = ""  # const

    def with_map(self, shape: tuple[int, ...], offset: int, strides: tuple[int, ...]) -> Ref:
        return Ref(
            self.kind, tuple(shape), self.dtype, self.base, offset, tuple(strides), self.expr
        )

    def broadcast(self, shape: tuple[int, ...]) -> Ref:
        """Right-aligned numpy broadcasting to `shape` (stride 0 on new/size-1 dims)."""
        if self.kind == "const":
            return self.with_map(shape, 0, (0,) * len(shape))
        lead = len(shape) - len(self.shape)
        strides = (0,) * lead + tuple(
            0 if n == 1 and shape[lead + i] != 1 else st
            for i, (n, st) in enumerate(zip(self.shape, self.strides))
        )
        return self.with_map(shape, self.offset, strides)


def reshape_ref(r: Ref, shape: tuple[int, ...]) -> Ref | None:
    if r.kind == "const":
        return r.with_map(shape, 0, (0,) * len(shape))
    kept = [(n, s) for n, s in zip(r.shape, r.strides) if n != 1]
    new_kept = [n for n in shape if n != 1]
    if [n for n, _ in kept] == new_kept:  # only size-1 dims come or go
        it = iter(s for _, s in kept)
        return r.with_map(shape, r.offset, tuple(next(it) if n != 1 else 0 for n in shape))
    if all(s == cs for (n, s), cs in zip(kept, c_strides(tuple(n for n, _ in kept)))):
        return r.with_map(shape, r.offset, c_strides(shape))
    return None


def basic_index_ref(r: Ref, spec: tuple[Any, ...]) -> Ref:
    shape, strides, off = [], [], r.offset
    dim = 0
    for item in spec:
        if item[0] == "new":
            shape.append(1)
            strides.append(0)
            continue
        st = r.strides[dim] if r.kind != "const" else 0
        if item[0] == "int":
            off += item[1] * st
        else:
            _, start, stop, step = item
            n = len(range(start, stop, step))
            shape.append(n)
            strides.append(st * step)
            if n:
                off += start * st
        dim += 1
    return r.with_map(tuple(shape), off if r.kind != "const" else 0, tuple(strides))


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """numpy's broadcast of already compatible shapes, keeping `Dim`s."""
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for s in shapes:
        for i, d in enumerate(s, n - len(s)):
            if d != 1:
                out[i] = d
    return tuple(out)


def adv_layout(
    spec: tuple[Any, ...], arr_shapes: list[tuple[int, ...]], dim: Any = int
) -> tuple[tuple[int, ...], list[tuple[Any, ...]]]:
    """numpy advanced indexing: (result shape, per result dim its origin).

    Origins: ("basic", spec position) for slices/newaxis, ("adv", j) for dim j
    of the broadcast index shape."""
    bshape = broadcast_shapes(*arr_shapes)
    adv = [k for k, item in enumerate(spec) if item[0] in ("arr", "int")]
    adjacent = adv == list(range(adv[0], adv[-1] + 1))
    basic = [("basic", k) for k, item in enumerate(spec) if item[0] in ("slice", "new")]
    advd = [("adv", j) for j in range(len(bshape))]
    if adjacent:
        before = [b for b in basic if b[1] < adv[0]]
        after = [b for b in basic if b[1] > adv[-1]]
        origins = before + advd + after
    else:
        origins = advd + basic
    shape = []
    for o in origins:
        if o[0] == "adv":
            shape.append(bshape[o[1]])
        else:
            item = spec[o[1]]
            shape.append(1 if item[0] == "new" else dim(len(range(*item[1:]))))
    return tuple(shape), origins
