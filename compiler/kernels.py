"""Code of the ops that lower to kernels of their own (`compiler.lowering.Kernel`).

Each emitter writes one op's loops (or library call) through a `Writer`, the
small interface the code generator gives it: lines, loops over a shape, reads
through index maps, buffer names. Every size it prints comes from the kernel's
size arguments where it can (`compiler.refs`), so the text does not change with
the batch size. Outputs are allocated by the generator, before the kernel runs.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from compiler.ir import Eqn, Var
from compiler.refs import Dim, Ref, adv_layout, broadcast_shapes, c_strides, cast, literal, size
from runtime import blas

__all__ = [
    "Writer",
    "argreduce",
    "blas_ready",
    "concatenate",
    "gather",
    "host_call",
    "host_ready",
    "index",
    "index_add",
    "index_put",
    "matmul",
    "max_pool",
    "scatter_add",
    "window_add",
    "sort_select",
]


class Writer(Protocol):
    """What a kernel emitter may call (implemented by `compiler.codegen`)."""

    def line(self, text: str, indent: int = 0) -> None:
        """Append a line of the kernel body, `indent` levels in."""

    def loops(self, shape: tuple[int, ...], prefix: str, indent: int) -> tuple[list[str], int]:
        """Open one loop per dim of `shape`; returns the index names and the body's
        indentation."""

    def read(self, r: Ref, idx: list[str]) -> str:
        """The value of `r` at multi-index `idx` (one index per dim of `r`)."""

    def arr(self, v: Var) -> str:
        """The flat buffer holding `v`."""

    def shape(self, v: Var) -> tuple[int, ...]:
        """`v`'s shape, with sizes as the kernel's size expressions."""

    def dim(self, n: int) -> int:
        """A concrete size from a param (an index, an offset) as a size expression."""

    def within(self, n: int, size: int) -> int:
        """An index or length inside a dimension of `size` (size - 1, say)."""

    def index_expr(self, offset: int, strides: list[int], idx: list[str]) -> str:
        """`offset + sum(stride * index)` as code."""

    def error(self, e: Eqn, what: str) -> str:
        """The message of an error raised by the kernel of `e` (names the op and the
        user's line)."""

    def run_on_host(self) -> None:
        """This item runs in the module's plain-Python entry (numpy's BLAS), not in
        njit code."""

    def use(self, module: str, name: str) -> str:
        """Import `name` from `runtime.<module>` into the generated module; returns the
        name to call it by."""


# ---- matmul ---------------------------------------------------------------------------


def blas_ready(r: Ref, e: Eqn) -> bool:
    """Can BLAS read this matmul operand as it is (each matrix C- or F-contiguous)?"""
    if e.outputs[0].aval.dtype.kind != "f" or r.kind != "mem":
        return True  # the loop kernel reads anything
    shape, strides = r.shape, r.strides
    if len(shape) == 1:
        return strides[0] == 1 or shape[0] == 1
    m, k = shape[-2:]
    sm, sk = strides[-2:]
    c = (k == 1 or sk == 1) and (m == 1 or sm == k)
    t = (m == 1 or sm == 1) and (k == 1 or sk == m)
    return c or t


#: float matmuls of at most this many multiply-adds (M*N*K) are an inline loop: a BLAS
#: call costs ~0.1 µs before it multiplies anything, the loop ~1 ns per multiply-add
SMALL_MATMUL = 128


def matmul(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """Batched matmul. Floats: BLAS gemm called from njit code (`runtime.blas`), or
    numpy's np.dot from the Python entry where that is unavailable; small products,
    integers and constant operands: a loop nest accumulating in 64 bits."""
    out = e.outputs[0]
    ra, rb = refs
    a_sh, b_sh = ra.shape, rb.shape
    a2 = a_sh if len(a_sh) > 1 else (1,) + a_sh
    b2 = b_sh if len(b_sh) > 1 else b_sh + (1,)
    sa = ra.strides if len(a_sh) > 1 else (0,) + tuple(ra.strides)
    sb = rb.strides if len(b_sh) > 1 else tuple(rb.strides) + (0,)
    M, K = a2[-2:]
    N = b2[-1]
    oshape = w.shape(out)
    batch = tuple(oshape[: len(oshape) - (len(a_sh) > 1) - (len(b_sh) > 1)])
    ra2 = Ref(ra.kind, a2, ra.dtype, ra.base, ra.offset, sa, ra.expr).broadcast(batch + (M, K))
    rb2 = Ref(rb.kind, b2, rb.dtype, rb.base, rb.offset, sb, rb.expr).broadcast(batch + (K, N))
    bidx, ind = w.loops(batch, "b", 0)
    nb = len(batch)
    ocs = c_strides(batch + (M, N))
    oarr = w.arr(out)
    dt = out.aval.dtype
    # a size that is a kernel argument (a Dim) may be anything at run time: BLAS then, so
    # that the generated text never depends on one call's sizes
    symbolic = any(isinstance(d, Dim) for d in (M, N, K))
    small = not symbolic and int(M * N * K) <= SMALL_MATMUL
    big = dt.kind == "f" and not small and ra2.kind == rb2.kind == "mem"
    if big and blas.HAVE_BLAS and dt.name in ("float32", "float64"):
        gemm = w.use("blas", "sgemm" if dt.name == "float32" else "dgemm")

        def layout(r: Ref, rows: int, cols: int) -> tuple[str, str, int, int]:
            """(array, element offset, CBLAS transpose flag, leading dimension)."""
            off = w.index_expr(r.offset, list(r.strides[:nb]), bidx)
            s0, s1 = r.strides[nb:]
            if (cols == 1 or s1 == 1) and (rows == 1 or s0 == cols):
                return w.arr(r.base), off, blas.NO_TRANS, cols
            return w.arr(r.base), off, blas.TRANS, rows  # the transpose is C-contiguous

        a, a_off, ta, lda = layout(ra2, M, K)
        b, b_off, tb, ldb = layout(rb2, K, N)
        o_off = w.index_expr(0, list(ocs[:nb]), bidx)
        w.line(
            f"{gemm}({ta}, {tb}, {M}, {N}, {K}, {a}, {a_off}, {lda}, {b}, {b_off}, {ldb}, "
            f"{oarr}, {o_off}, {N})",
            ind,
        )
        return
    if big:
        w.run_on_host()  # numpy's np.dot: BLAS without numba's scipy requirement

        def operand(r: Ref, rows: int, cols: int) -> str:
            off = w.index_expr(r.offset, list(r.strides[:nb]), bidx)
            s0, s1 = r.strides[nb:]
            c = (cols == 1 or s1 == 1) and (rows == 1 or s0 == cols)
            arr = w.arr(r.base)
            whole = off == "0" and size(w.shape(r.base)) == rows * cols
            src = arr if whole else f"{arr}[{off}:{off} + {rows * cols}]"
            return f"{src}.reshape(({rows}, {cols}))" if c else f"{src}.reshape(({cols}, {rows})).T"

        ooff = w.index_expr(0, list(ocs[:nb]), bidx)
        osrc = oarr if not nb else f"{oarr}[{ooff}:{ooff} + {M * N}]"
        w.line(
            f"np.dot({operand(ra2, M, K)}, {operand(rb2, K, N)}, {osrc}.reshape(({M}, {N})))", ind
        )
        return
    ad = np.dtype(np.float64) if dt.kind == "f" else np.dtype(np.int64)
    w.line(f"for _m in range({M}):", ind)
    w.line(f"for _n in range({N}):", ind + 1)
    w.line(f"_acc = {literal(0, ad)}", ind + 2)
    w.line(f"for _k in range({K}):", ind + 2)
    av = w.read(ra2, bidx + ["_m", "_k"])
    bv = w.read(rb2, bidx + ["_k", "_n"])
    w.line(f"_acc += {cast(av, ra2.dtype, ad)} * {cast(bv, rb2.dtype, ad)}", ind + 3)
    oi = w.index_expr(0, list(ocs), bidx + ["_m", "_n"])
    w.line(f"{oarr}[{oi}] = {cast('_acc', ad, dt)}", ind + 2)


# ---- LAPACK through numpy ------------------------------------------------------------------


def host_ready(r: Ref, e: Eqn) -> bool:
    """Can numpy read this operand as a C-contiguous block of its buffer?"""
    if r.kind != "mem":
        return False
    return all(n == 1 or s == cs for n, s, cs in zip(r.shape, r.strides, c_strides(r.shape)))


def host_call(fn: str) -> Any:
    """The emitter of an op computed by `runtime.lapack.<fn>(*inputs, **params)` from the
    kernel's plain-Python entry (numpy's LAPACK, as matmul calls its BLAS); the function
    returns one array per output, copied into the output buffers."""

    def emit(w: Writer, e: Eqn, refs: list[Ref]) -> None:
        w.run_on_host()
        args = []
        for r in refs:
            n = size(tuple(r.shape))
            arr = w.arr(r.base)
            whole = r.offset == 0 and size(w.shape(r.base)) == n
            src = arr if whole else f"{arr}[{r.offset}:{r.offset} + {n}]"
            args.append(f"{src}.reshape({tuple(r.shape)!r})")
        args += [f"{k}={v!r}" for k, v in e.params.items()]
        args.append(f"where={e.source_loc or ''!r}")
        w.line(f"from runtime.lapack import {fn} as _{fn}")
        w.line(f"_r = _{fn}({', '.join(args)})")
        for k, v in enumerate(e.outputs):
            w.line(f"{w.arr(v)}.reshape({tuple(w.shape(v))!r})[...] = _r[{k}]")

    return emit


# ---- indexing -------------------------------------------------------------------------


def _indexed(
    w: Writer, e: Eqn, spec: tuple[Any, ...], target: Ref, arr_refs: list[Ref], indent: int
) -> tuple[list[str], tuple[int, ...], str, int]:
    """Loops over the result of target[spec] (numpy advanced indexing); returns (loop
    indices, result shape, flat offset expression into target, body indentation)."""
    if arr_refs:
        shape, origins = adv_layout(spec, [r.shape for r in arr_refs], w.dim)
    else:  # basic indexing only: the result keeps the sliced and new dims in order
        shape, origins, dim = (), [], 0
        for k, item in enumerate(spec):
            if item[0] == "new":
                shape += (1,)
            elif item[0] == "slice":
                shape += (w.within(len(range(*item[1:])), target.shape[dim]),)
            if item[0] != "int":
                origins.append(("basic", k))
            dim += item[0] != "new"
    idx, ind = w.loops(shape, "j", indent)
    bshape = broadcast_shapes(*[r.shape for r in arr_refs])
    adv_idx = [idx[d] for d, o in enumerate(origins) if o[0] == "adv"]
    pos = {o[1]: idx[d] for d, o in enumerate(origins) if o[0] == "basic"}
    terms = [str(target.offset)] if target.offset else []
    dim = 0
    for k, item in enumerate(spec):
        if item[0] == "new":
            continue
        st = target.strides[dim]
        n = target.shape[dim]
        if item[0] == "int":
            terms.append(str(w.within(item[1], n) * st))
        elif item[0] == "slice":
            _, start, _, step = item
            start = w.within(start, n)
            expr = (
                f"({start} + {step}*{pos[k]})"
                if step != 1
                else (f"({start} + {pos[k]})" if start else pos[k])
            )
            terms.append(f"{st}*{expr}" if st != 1 else expr)
        else:
            r = arr_refs[item[1]].broadcast(tuple(bshape))
            t = f"_t{k}"
            w.line(f"{t} = {w.read(r, adv_idx)}", ind)
            w.line(f"if {t} < 0:", ind)
            w.line(f"{t} += {n}", ind + 1)
            w.line(f"if {t} < 0 or {t} >= {n}:", ind)
            what = f"an index tensor holds a value out of range for dimension {dim}"
            w.line(f"raise IndexError({w.error(e, what + ' of the indexed tensor')!r})", ind + 1)
            terms.append(f"{st}*{t}" if st != 1 else t)
        dim += 1
    return idx, shape, " + ".join(terms) or "0", ind


def index(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """x[key] with index tensors: a gather loop."""
    out = e.outputs[0]
    idx, shape, src, ind = _indexed(w, e, e.params["spec"], refs[0], refs[1:], 0)
    oi = w.index_expr(0, list(c_strides(shape)), idx)
    x = refs[0]
    val = (
        x.expr
        if x.kind == "const"
        else f"np.{x.dtype.name}({src})"
        if x.kind == "iota"
        else f"{w.arr(x.base)}[{src}]"
    )
    w.line(f"{w.arr(out)}[{oi}] = {val}", ind)


def index_add(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """zeros(shape) with g added at [key]: repeated indices accumulate."""
    out = e.outputs[0]
    oarr = w.arr(out)
    w.line(f"{oarr}[:] = 0")
    target = Ref("mem", w.shape(out), out.aval.dtype, out, 0, c_strides(w.shape(out)))
    idx, shape, dst, ind = _indexed(w, e, e.params["spec"], target, refs[1:], 0)
    g = refs[0].broadcast(shape)
    w.line(f"{oarr}[{dst}] += {w.read(g, idx)}", ind)


def index_put(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """A copy of x with v written at [key], in order (the last write wins)."""
    out = e.outputs[0]
    oarr = w.arr(out)
    oshape = w.shape(out)
    xi, ind = w.loops(oshape, "j", 0)
    xb = refs[0].broadcast(oshape)
    w.line(f"{oarr}[{w.index_expr(0, list(c_strides(oshape)), xi)}] = {w.read(xb, xi)}", ind)
    target = Ref("mem", oshape, out.aval.dtype, out, 0, c_strides(oshape))
    idx, shape, dst, ind = _indexed(w, e, e.params["spec"], target, refs[2:], 0)
    v = refs[1].broadcast(shape)
    w.line(f"{oarr}[{dst}] = {w.read(v, idx)}", ind)


def _along(
    w: Writer, e: Eqn, r_index: Ref, dim: int, n: int, ind: int, idx: list[str], what: str
) -> list[str]:
    """The multi-index into the indexed tensor: `idx` with dim `dim` replaced by the
    index tensor's value there, bounds-checked (no wrap-around, as PyTorch)."""
    w.line(f"_i = {w.read(r_index, idx)}", ind)
    w.line(f"if _i < 0 or _i >= {n}:", ind)
    message = f"{what} is out of range for dimension {dim}"
    w.line(f"raise IndexError({w.error(e, message)!r})", ind + 1)
    return idx[:dim] + ["_i"] + idx[dim + 1 :]


def gather(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """torch.gather: out[..., i, ...] = x[..., index[..., i, ...], ...] along `dim`."""
    out = e.outputs[0]
    x, ix = refs
    dim = e.params["dim"]
    shape = w.shape(out)
    idx, ind = w.loops(shape, "j", 0)
    src = _along(w, e, ix, dim, x.shape[dim] if x.shape else 1, ind, idx, "an index")
    w.line(f"{w.arr(out)}[{w.index_expr(0, list(c_strides(shape)), idx)}] = {w.read(x, src)}", ind)


def scatter_add(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """torch.scatter_add: a copy of x with src added at index along `dim`."""
    out = e.outputs[0]
    x, ix, src = refs
    dim = e.params["dim"]
    oshape = w.shape(out)
    oarr = w.arr(out)
    xi, ind = w.loops(oshape, "j", 0)
    w.line(f"{oarr}[{w.index_expr(0, list(c_strides(oshape)), xi)}] = {w.read(x, xi)}", ind)
    idx, ind = w.loops(ix.shape, "k", 0)
    dst = _along(w, e, ix, dim, oshape[dim] if oshape else 1, ind, idx, "an index")
    w.line(f"{oarr}[{w.index_expr(0, list(c_strides(oshape)), dst)}] += {w.read(src, idx)}", ind)


# ---- concatenation and arg-reductions ---------------------------------------------------


def concatenate(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """One copy loop per piece, each at its offset along `axis`."""
    out = e.outputs[0]
    axis = e.params["axis"]
    ocs = c_strides(w.shape(out))
    start = 0
    for r in refs:
        idx, ind = w.loops(r.shape, "j", 0)
        oi = w.index_expr(start * ocs[axis], list(ocs), idx)
        w.line(f"{w.arr(out)}[{oi}] = {w.read(r, idx)}", ind)
        start = start + r.shape[axis]


def argreduce(largest: bool) -> Any:
    """The emitter of (values, indices) of the max (`largest`) or min along `axis`:
    the first extreme wins, and a NaN counts as the extreme (numpy's and PyTorch's
    rule)."""
    cmp = ">" if largest else "<"

    def emit(w: Writer, e: Eqn, refs: list[Ref]) -> None:
        vals, inds = e.outputs
        x = refs[0]
        axis = e.params["axis"]
        va, ia = w.arr(vals), w.arr(inds)
        if not x.shape:
            w.line(f"{va}[0] = {w.read(x, [])}")
            w.line(f"{ia}[0] = 0")
            return
        outer = tuple(s for d, s in enumerate(x.shape) if d != axis)
        idx, ind = w.loops(outer, "j", 0)
        w.line(f"_best = {w.read(x, idx[:axis] + ['0'] + idx[axis:])}", ind)
        w.line("_arg = 0", ind)
        w.line(f"for _k in range(1, {x.shape[axis]}):", ind)
        w.line(f"_t = {w.read(x, idx[:axis] + ['_k'] + idx[axis:])}", ind + 1)
        nan = " or (_t != _t and _best == _best)" if x.dtype.kind == "f" else ""
        w.line(f"if _t {cmp} _best{nan}:", ind + 1)
        w.line("_best = _t", ind + 2)
        w.line("_arg = _k", ind + 2)
        oi = w.index_expr(0, list(c_strides(outer)), idx)
        w.line(f"{va}[{oi}] = _best", ind)
        w.line(f"{ia}[{oi}] = _arg", ind)

    return emit


# ---- sorting and selection ------------------------------------------------------------


def sort_select(kind: str) -> Any:
    """The emitter of `sort`, `topk` or `kthvalue` (with the medians): each row along
    `axis` is copied into a scratch row and ordered by numba's stable
    `np.argsort(kind='mergesort')` (NaN last, as numpy and PyTorch order them); a
    descending order sorts the reversed row and reads it backwards, so equal values
    stay in index order. `compiler.ops.sorting` is the same rule in numpy."""

    def emit(w: Writer, e: Eqn, refs: list[Ref]) -> None:
        vals, inds = e.outputs
        x = refs[0]
        p = e.params
        va, ia = w.arr(vals), w.arr(inds)
        if not x.shape:
            w.line(f"{va}[0] = {w.read(x, [])}")
            w.line(f"{ia}[0] = 0")
            return
        axis = p["axis"]
        n = x.shape[axis]
        desc = p["descending"] if kind == "sort" else p["largest"] if kind == "topk" else False
        scratch = np.dtype(np.int8) if x.dtype == np.bool_ else x.dtype
        outer = tuple(s for d, s in enumerate(x.shape) if d != axis)
        w.line(f"_row = np.empty({n}, np.{scratch.name})")
        idx, ind = w.loops(outer, "j", 0)

        def at(i: str) -> list[str]:
            return idx[:axis] + [i] + idx[axis:]

        w.line(f"for _k in range({n}):", ind)
        value = w.read(x, at(f"({n} - 1 - _k)" if desc else "_k"))
        w.line(f"_row[_k] = {value if scratch == x.dtype else f'np.int8({value})'}", ind + 1)
        w.line("_p = np.argsort(_row, kind='mergesort')", ind)
        if kind == "kthvalue":
            if p["kind"] == "kthvalue":
                w.line(f"_q = {p['k'] - 1}", ind)
            else:
                w.line(f"_m = {n}", ind)
                if x.dtype.kind == "f":  # the numbers in the row: NaNs sort last
                    w.line("_m = 0", ind)
                    w.line(f"for _k in range({n}):", ind)
                    w.line("if _row[_k] == _row[_k]:", ind + 1)
                    w.line("_m += 1", ind + 2)
                if p["kind"] == "median":  # NaN in the row: the first NaN
                    w.line(f"_q = _m if _m < {n} else ({n} - 1) // 2", ind)
                else:
                    w.line("_q = (_m - 1) // 2 if _m > 0 else 0", ind)
            w.line("_o = _p[_q]", ind)
            oi = w.index_expr(0, list(c_strides(outer)), idx)
            w.line(f"{va}[{oi}] = {w.read(x, at('_o'))}", ind)
            w.line(f"{ia}[{oi}] = _o", ind)
            return
        m = p["k"] if kind == "topk" else n
        oshape = w.shape(vals)
        w.line(f"for _j in range({m}):", ind)
        if desc:
            w.line(f"_o = {n} - 1 - _p[{n} - 1 - _j]", ind + 1)
        else:
            w.line("_o = _p[_j]", ind + 1)
        oi = w.index_expr(0, list(c_strides(oshape)), at("_j"))
        w.line(f"{va}[{oi}] = {w.read(x, at('_o'))}", ind + 1)
        w.line(f"{ia}[{oi}] = _o", ind + 1)

    return emit


# ---- random numbers -------------------------------------------------------------------

# SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
# OOPSLA 2014): element c of a stream keyed by k is mix(k + (c + 1) * GAMMA).
SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
SPLITMIX_MIX = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def _splitmix_lines(w: Writer, dst: str, counter: str, ind: int) -> None:
    """`dst = splitmix64(_key, counter)` as uint64 arithmetic (wrapping)."""
    m1, m2 = SPLITMIX_MIX
    w.line(
        f"{dst} = _key + (np.uint64({counter}) + np.uint64(1)) * np.uint64({SPLITMIX_GAMMA})", ind
    )
    w.line(f"{dst} = ({dst} ^ ({dst} >> np.uint64(30))) * np.uint64({m1})", ind)
    w.line(f"{dst} = ({dst} ^ ({dst} >> np.uint64(27))) * np.uint64({m2})", ind)
    w.line(f"{dst} = {dst} ^ ({dst} >> np.uint64(31))", ind)


def random(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """Element c of `random[dist]`: U[0, 1) from the top 24 (float32) or 53 (float64)
    bits of splitmix64(key, c); N(0, 1) by Box-Muller from the words 2c and 2c + 1
    (computed in float64). `compiler.ops.random` is the same in numpy."""
    out = e.outputs[0]
    shape = w.shape(out)
    w.line(f"_key = np.uint64({w.read(refs[0], [])})")
    idx, ind = w.loops(shape, "j", 0)
    oi = w.index_expr(0, list(c_strides(shape)), idx)
    if e.params["dist"] == "uniform":
        _splitmix_lines(w, "_z", oi, ind)
        if out.aval.dtype == np.float32:
            value = "np.float32(np.float64(_z >> np.uint64(40)) * 5.9604644775390625e-08)"
        else:
            value = "np.float64(_z >> np.uint64(11)) * 1.1102230246251565e-16"
    else:
        _splitmix_lines(w, "_z", f"2 * ({oi})", ind)
        _splitmix_lines(w, "_y", f"2 * ({oi}) + 1", ind)
        w.line("_u = (np.float64(_z >> np.uint64(11)) + 1.0) * 1.1102230246251565e-16", ind)
        w.line("_v = np.float64(_y >> np.uint64(11)) * 1.1102230246251565e-16", ind)
        value = "np.sqrt(-2.0 * np.log(_u)) * np.cos(6.283185307179586 * _v)"
    w.line(f"{w.arr(out)}[{oi}] = {value}", ind)


# ---- padding, windows and pooling (compiler.ops.conv) ---------------------------------


def window_add(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """col2im: zero the output, then add every window element at the position it was
    read from. The loops follow the windows' memory order (largest stride outside)."""
    out = e.outputs[0]
    g = refs[0]
    kernel, stride, dilation = e.params["kernel"], e.params["stride"], e.params["dilation"]
    d = len(kernel)
    oarr = w.arr(out)
    oshape = w.shape(out)
    w.line(f"{oarr}[:] = 0")
    gshape = g.shape
    order = sorted(range(len(gshape)), key=lambda k: -abs(int(g.strides[k] if g.strides else 0)))
    idx = [f"j{k}" for k in range(len(gshape))]
    for depth, k in enumerate(order):
        w.line(f"for {idx[k]} in range({gshape[k]}):", depth)
    ind = len(order)
    lead = len(gshape) - 2 * d
    pos = idx[:lead] + [
        f"{idx[lead + i]}*{stride[i]} + {idx[lead + d + i]}*{dilation[i]}" for i in range(d)
    ]
    oi = w.index_expr(0, list(c_strides(oshape)), [f"({p})" for p in pos])
    w.line(f"{oarr}[{oi}] += {w.read(g, idx)}", ind)


def max_pool(w: Writer, e: Eqn, refs: list[Ref]) -> None:
    """The maximum of each pooling window and its flat index in the spatial dims: a
    larger value or a NaN replaces the current maximum, scanning in C order (PyTorch's
    rule); padding is never read. Adaptive windows (output_size) span
    [i*n // out, ceil((i+1)*n / out))."""
    vals, inds = e.outputs
    x = refs[0]
    p = e.params
    adaptive = bool(p["output_size"])
    d = len(p["output_size"] or p["kernel"])
    oshape = w.shape(vals)
    lead = len(oshape) - d
    spatial = x.shape[lead:]
    plane = c_strides(spatial)
    idx, ind = w.loops(oshape, "j", 0)
    for i in range(d):
        n, o = spatial[i], idx[lead + i]
        if adaptive:
            m = oshape[lead + i]
            w.line(f"_a{i} = ({o} * {n}) // {m}", ind)
            w.line(f"_b{i} = (({o} + 1) * {n} + {m} - 1) // {m}", ind)
        else:
            k, s, pad_, dil = p["kernel"][i], p["stride"][i], p["padding"][i], p["dilation"][i]
            w.line(f"_a{i} = {o} * {s} - {pad_}" if pad_ else f"_a{i} = {o} * {s}", ind)
            w.line(f"_b{i} = min(_a{i} + {dil * (k - 1) + 1}, {n})", ind)
            if pad_:
                w.line(f"while _a{i} < 0:", ind)
                w.line(f"_a{i} += {dil}", ind + 1)
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    w.line(f"_best = {literal(lowest, x.dtype)}", ind)
    w.line(f"_arg = {w.index_expr(0, list(plane), [f'_a{i}' for i in range(d)])}", ind)
    for i in range(d):
        step = 1 if adaptive else p["dilation"][i]
        w.line(f"for _p{i} in range(_a{i}, _b{i}{f', {step}' if step != 1 else ''}):", ind + i)
    body = ind + d
    here = [f"_p{i}" for i in range(d)]
    w.line(f"_v = {w.read(x, idx[:lead] + here)}", body)
    w.line("if _v > _best or _v != _v:" if x.dtype.kind == "f" else "if _v > _best:", body)
    w.line("_best = _v", body + 1)
    w.line(f"_arg = {w.index_expr(0, list(plane), here)}", body + 1)
    oi = w.index_expr(0, list(c_strides(oshape)), idx)
    w.line(f"{w.arr(vals)}[{oi}] = _best", ind)
    w.line(f"{w.arr(inds)}[{oi}] = _arg", ind)
