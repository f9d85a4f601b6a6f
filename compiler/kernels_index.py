"""Kernels of the indexing and layout ops of `compiler.ops.scatter` and
`compiler.ops.layout`: scatter, scatter_reduce, masked_scatter, masked_select,
diagonal_scatter, roll, pad and pad_adjoint.

Each emitter writes its loops through a `compiler.kernels.Writer`, like those of
`compiler.kernels`. Sizes come from the kernel's size arguments (`w.shape`, the
refs' shapes), so the text does not change with the batch size; shifts and pad
widths are the op's params and print as numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.ir import Eqn
from compiler.kernels import Writer
from compiler.refs import Ref, broadcast_shapes, c_strides, literal, size

__all__ = [
    "c_contiguous",
    "diagonal_scatter",
    "masked_scatter",
    "masked_select",
    "pad",
    "pad_adjoint",
    "pad_source",
    "roll",
    "scatter",
    "scatter_reduce",
]


def c_contiguous(r: Ref, e: Eqn) -> bool:
    """Can the kernel read `r` as a flat C-ordered run (constants always can)?"""
    if r.kind != "mem":
        return r.kind == "const"
    kept = [(n, s) for n, s in zip(r.shape, r.strides) if n != 1]
    return all(s == cs for (_, s), cs in zip(kept, c_strides(tuple(n for n, _ in kept))))


def _flat(w: Writer, r: Ref, k: str) -> str:
    """Element `k` (in C order) of a value the kernel reads as a flat run."""
    if r.kind == "const":
        return r.expr
    return f"{w.arr(r.base)}[{r.offset} + {k}]" if r.offset else f"{w.arr(r.base)}[{k}]"


def _store(w: Writer, out: Any, shape: tuple[int, ...], idx: list[str]) -> str:
    """The element of output `out` (C-contiguous, of `shape`) at `idx`."""
    return f"{w.arr(out)}[{w.index_expr(0, list(c_strides(shape)), idx)}]"


def _copy_in(w: Writer, out: Any, x: Ref) -> tuple[int, ...]:
    """out[...] = x (broadcast to out's shape); returns out's shape."""
    shape = w.shape(out)
    idx, ind = w.loops(shape, "j", 0)
    w.line(f"{_store(w, out, shape, idx)} = {w.read(x.broadcast(shape), idx)}", ind)
    return shape


def _target(
    w: Writer, e: Eqn, index: Ref, dim: int, shape: tuple[int, ...], ind: int, idx: list[str]
) -> list[str]:
    """The multi-index into a tensor of `shape` that index element `idx` addresses along
    `dim`, bounds-checked (no wrap-around, as PyTorch); a 0-d tensor has one position."""
    n = shape[dim] if shape else 1
    w.line(f"_i = {w.read(index, idx)}", ind)
    w.line(f"if _i < 0 or _i >= {n}:", ind)
    w.line(
        f"raise IndexError({w.error(e, f'an index is out of range for dimension {dim}')!r})",
        ind + 1,
    )
    return idx[:dim] + ["_i"] + idx[dim + 1 :] if shape else []


# ---- scatter and scatter_reduce ---------------------------------------------------------


def scatter(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """A copy of x with src[i] written at index[i] along `dim`, in C order of index: of
    several writes to one element the last wins."""
    out = e.outputs[0]
    x, index, src = refs
    shape = _copy_in(w, out, x)
    idx, ind = w.loops(index.shape, "k", 0)
    dst = _target(w, e, index, e.params["dim"], shape, ind, idx)
    w.line(f"{_store(w, out, shape, dst)} = {w.read(src, idx)}", ind)


def _identity(reduce: str, dtype: np.dtype) -> Any:
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    largest = reduce == "amax"
    if dtype.kind == "f":
        return -np.inf if largest else np.inf
    if dtype.kind == "b":
        return not largest
    info = np.iinfo(dtype)
    return info.min if largest else info.max


def scatter_reduce(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """A copy of x with src folded in at index along `dim` by `reduce`; without
    include_self the elements written start from the reduction's identity."""
    out = e.outputs[0]
    x, index, src = refs
    dim, reduce, include_self = e.params["dim"], e.params["reduce"], e.params["include_self"]
    dt = out.aval.dtype
    shape = _copy_in(w, out, x)
    if reduce == "mean":
        w.line(f"_cnt = np.zeros({size(shape)}, np.int64)")
    if not include_self:
        idx, ind = w.loops(index.shape, "k", 0)
        dst = _target(w, e, index, dim, shape, ind, idx)
        w.line(f"{_store(w, out, shape, dst)} = {literal(_identity(reduce, dt), dt)}", ind)
    idx, ind = w.loops(index.shape, "k", 0)
    dst = _target(w, e, index, dim, shape, ind, idx)
    o = _store(w, out, shape, dst)
    w.line(f"_v = {w.read(src, idx)}", ind)
    if reduce in ("sum", "mean"):
        w.line(f"{o} += _v", ind)
    elif reduce == "prod":
        w.line(f"{o} *= _v", ind)
    else:
        cmp = ">" if reduce == "amax" else "<"
        nan = " or _v != _v" if dt.kind == "f" else ""  # a NaN wins, as in numpy
        w.line(f"if _v {cmp} {o}{nan}:", ind)
        w.line(f"{o} = _v", ind + 1)
    if reduce != "mean":
        return
    w.line(f"_cnt[{w.index_expr(0, list(c_strides(shape)), dst)}] += 1", ind)
    n = size(shape)
    w.line(f"for _p in range({n}):")
    w.line(f"_c = _cnt[_p] + {int(include_self)}", 1)
    w.line("if _c > 0:", 1)
    div = "/" if dt.kind == "f" else "//"  # integers: floor division, as PyTorch
    w.line(f"{w.arr(out)}[_p] = {w.arr(out)}[_p] {div} _c", 2)


# ---- masks --------------------------------------------------------------------------------


def masked_scatter(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """A copy of x whose elements where mask holds take source's elements in order."""
    out = e.outputs[0]
    x, mask, src = refs
    shape = w.shape(out)
    n = size(src.shape)
    w.line("_k = 0")
    idx, ind = w.loops(shape, "j", 0)
    o = _store(w, out, shape, idx)
    w.line(f"if {w.read(mask.broadcast(shape), idx)}:", ind)
    w.line(f"if _k >= {n}:", ind + 1)
    what = "the mask selects more elements than source has"
    w.line(f"raise IndexError({w.error(e, what)!r})", ind + 2)
    w.line(f"{o} = {_flat(w, src, '_k')}", ind + 1)
    w.line("_k += 1", ind + 1)
    w.line("else:", ind)
    w.line(f"{o} = {w.read(x.broadcast(shape), idx)}", ind + 1)


def masked_select(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """The elements of x where mask holds (both broadcast), in C order, into a buffer
    of the output's size; the rest of the buffer is 0."""
    out = e.outputs[0]
    x, mask = refs
    shape = broadcast_shapes(x.shape, mask.shape)
    n = size(w.shape(out))
    w.line(f"{w.arr(out)}[:] = 0")
    w.line("_k = 0")
    idx, ind = w.loops(shape, "j", 0)
    w.line(f"if {w.read(mask.broadcast(shape), idx)}:", ind)
    w.line(f"if _k >= {n}:", ind + 1)
    w.line(f"raise IndexError({w.error(e, 'the mask selects more elements than fit')!r})", ind + 2)
    w.line(f"{w.arr(out)}[_k] = {w.read(x.broadcast(shape), idx)}", ind + 1)
    w.line("_k += 1", ind + 1)


# ---- diagonals ----------------------------------------------------------------------------


def diagonal_scatter(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """A copy of x with its diagonal (offset, dim1, dim2) replaced by src."""
    out = e.outputs[0]
    x, src = refs
    offset, d1, d2 = e.params["offset"], e.params["dim1"], e.params["dim2"]
    shape = _copy_in(w, out, x)
    idx, ind = w.loops(src.shape, "k", 0)
    others = iter(idx[:-1])
    k = idx[-1]
    dst = []
    for d in range(len(shape)):
        if d == d1:
            dst.append(f"({k} + {-offset})" if offset < 0 else k)
        elif d == d2:
            dst.append(f"({k} + {offset})" if offset > 0 else k)
        else:
            dst.append(next(others))
    w.line(f"{_store(w, out, shape, dst)} = {w.read(src, idx)}", ind)


# ---- roll and pad -------------------------------------------------------------------------


def roll(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """out[j] = x[(j - shift) mod n] along each rolled axis."""
    out = e.outputs[0]
    x = refs[0]
    shape = w.shape(out)
    idx, ind = w.loops(shape, "j", 0)
    src = list(idx)
    for a, s in zip(e.params["axes"], e.params["shifts"]):
        w.line(f"_r{a} = ({idx[a]} + {-s}) % ({x.shape[a]})", ind)
        src[a] = f"_r{a}"
    w.line(f"{_store(w, out, shape, idx)} = {w.read(x, src)}", ind)


def pad_source(
    w: Writer,
    pads: tuple[tuple[int, int], ...],
    mode: str,
    n: tuple[int, ...],
    idx: list[str],
    ind: int,
) -> tuple[list[str], list[str]]:
    """Per dim, the input index an output index `idx` reads (written as code), and the
    conditions under which it reads one at all (constant mode: inside the input)."""
    src, conds = [], []
    for d, (before, after) in enumerate(pads):
        if (before, after) == (0, 0):
            src.append(idx[d])
            continue
        s, j, m = f"_s{d}", idx[d], n[d]
        if mode == "constant":
            w.line(f"{s} = {j} + {-before}", ind)
            if before > 0 or after > 0:
                conds.append(f"{s} >= 0 and {s} < {m}")
        elif mode == "reflect":
            w.line(f"{s} = {j} + {-before}", ind)
            w.line(f"if {s} < 0:", ind)
            w.line(f"{s} = -{s}", ind + 1)
            w.line(f"if {s} >= {m}:", ind)
            w.line(f"{s} = ({2 * (m - 1)}) - {s}", ind + 1)
        elif mode == "replicate":
            w.line(f"{s} = min(max({j} + {-before}, 0), {m - 1})", ind)
        else:  # circular: wraps inside the part of the input that is kept
            start = max(-before, 0)
            kept = m - start - max(-after, 0)
            w.line(f"{s} = {start} + ({j} + {-max(before, 0)}) % ({kept})", ind)
        src.append(s)
    return src, conds


def pad(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """F.pad: each output element reads the input element its mode maps it to, or
    (constant mode, outside the input) the value."""
    out = e.outputs[0]
    x = refs[0]
    shape = w.shape(out)
    dt = out.aval.dtype
    idx, ind = w.loops(shape, "j", 0)
    src, conds = pad_source(w, e.params["pads"], e.params["mode"], x.shape, idx, ind)
    o = _store(w, out, shape, idx)
    if not conds:
        w.line(f"{o} = {w.read(x, src)}", ind)
        return
    w.line(f"if {' and '.join(conds)}:", ind)
    w.line(f"{o} = {w.read(x, src)}", ind + 1)
    w.line("else:", ind)
    w.line(f"{o} = {literal(e.params['value'], dt)}", ind + 1)


def pad_adjoint(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """The transpose of pad: each element of g is added to the input element it read."""
    out = e.outputs[0]
    g = refs[0]
    shape = w.shape(out)
    w.line(f"{w.arr(out)}[:] = 0")
    idx, ind = w.loops(g.shape, "j", 0)
    src, conds = pad_source(w, e.params["pads"], e.params["mode"], shape, idx, ind)
    o = _store(w, out, shape, src)
    if conds:
        w.line(f"if {' and '.join(conds)}:", ind)
        ind += 1
    w.line(f"{o} += {w.read(g, idx)}", ind)
