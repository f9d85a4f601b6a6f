"""Emission of the loop nests and kernels planned by compiler.codegen.

`Emitter` is the half of the code generator that writes lines: one fused loop
nest per elementwise group (with the reductions it feeds), numpy BLAS calls for
matmuls, and explicit loops for gathers, scatters, concatenation and arg-max.
Every size it prints comes from `compiler.refs` and so reads the kernel's size
arguments where it can.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.ir import Eqn, Graph, Literal, Var
from compiler.refs import (
    Dim,
    Ref,
    Sizes,
    adv_layout,
    broadcast_shapes,
    c_strides,
    cast,
    literal,
    size,
)
from runtime import jit

__all__ = ["Emitter", "Item", "REDUCE_OPS"]

REDUCE_OPS = ("reduce_sum", "amax", "amin")
_BLOCK = 256  # elements per float32 partial sum
#: loop nests over at least this many elements run their outer loop on threads
PARALLEL_MIN = 1 << 18


@dataclass(eq=False)
class Item:
    """One unit of the kernel body, in program order."""

    kind: str  # "group" | "matmul" | "gather" | "index_add" | "index_put" | "concat" | "arg"
    pos: int
    shape: tuple[int, ...] = ()
    eqns: list[Eqn] = field(default_factory=list)
    locals: set[Var] = field(default_factory=set)
    refs: list[Ref] = field(default_factory=list)  # kernel items: refs of the inputs
    host: bool = False  # runs in the Python entry (a BLAS call through numpy), not in njit


class Emitter:
    """Line-writing methods of the code generator (mixed into `_Codegen`)."""

    graph: Graph
    sizes: Sizes
    refs: dict[Var, Ref]
    needs_buf: set[Var]
    lines: list[str]
    out_index_vars: dict[Var, int]
    _f32_sums: list[str]  # accumulators marked by _emit_reduce, taken by _blocked_sums
    # (lists, not sets, wherever order reaches the text: it must not depend on hashing)
    _outer_reduced: bool  # the current nest reduces over its outer loop
    parallel: bool  # some loop is a prange

    def name(self, v: Var) -> str:
        raise NotImplementedError

    def eqn_text(self, e: Eqn) -> str:
        raise NotImplementedError

    def ew_expr(self, e: Eqn, ops: list[str]) -> str:
        raise NotImplementedError

    def shape(self, v: Var) -> tuple[int, ...]:
        """The shape of `v` with sizes as `Dim`s."""
        return self.sizes.dims(v.aval.shape)

    # ---- emission -----------------------------------------------------------
    def arr(self, v: Var) -> str:
        if v in self.graph.inputs:
            return self.name(v)
        return self.name(v) + ("_out" if v in self.out_index_vars else "_buf")

    def index_expr(self, offset: int, strides: list[int], idx: list[str]) -> str:
        terms = [str(offset)] if offset else []
        for s, i in zip(strides, idx):
            if s == 1:
                terms.append(i)
            elif s:
                terms.append(f"{s}*{i}")
        return " + ".join(terms) or "0"

    def read(self, r: Ref, strides: list[int], idx: list[str]) -> str:
        if r.kind == "const":
            return r.expr
        ix = self.index_expr(r.offset, strides, idx)
        if r.kind == "iota":
            return f"np.{r.dtype.name}({ix})"
        return f"{self.arr(r.base)}[{ix}]"

    def emit(self, line: str, indent: int, comment: str = "") -> None:
        text = "    " * (indent + 1) + line
        if comment:
            text = text.ljust(60) + "  # " + comment
        self.lines.append(text)

    def alloc(self, v: Var, indent: int = 0) -> None:
        if v in self.out_index_vars or v in self.graph.inputs:
            return
        self.emit(
            f"{self.arr(v)} = np.empty({size(self.shape(v))}, np.{v.aval.dtype.name})", indent
        )

    def emit_group(self, g: Item) -> None:
        shape = g.shape
        n = len(shape)
        self._outer_reduced = False
        # every index map of the nest, over the group's (uncollapsed) dims
        reads: dict[tuple[int, Var], Ref] = {}
        maps: list[tuple[int, ...]] = []
        for k, e in enumerate(g.eqns):
            for j, a in enumerate(e.inputs):
                if isinstance(a, Var) and a not in g.locals:
                    r = self.refs[a].broadcast(shape)
                    reads[(k, j)] = r
                    if r.kind != "const":
                        maps.append(r.strides)
        cs = c_strides(shape)
        stores = [v for e in g.eqns for v in e.outputs if v in g.locals and v in self.needs_buf]
        maps += [cs] * bool(stores)
        red_maps: dict[Var, tuple[int, ...]] = {}
        for e in g.eqns:
            if e.op.name in REDUCE_OPS:
                axes = set(e.params["axes"])
                kept = [d for d in range(n) if d not in axes]
                oshape = tuple(shape[d] for d in kept)
                ocs = dict(zip(kept, c_strides(oshape)))
                red_maps[e.outputs[0]] = tuple(0 if d in axes else ocs[d] for d in range(n))
                maps.append(red_maps[e.outputs[0]])
        # collapse: drop size-1 dims, merge neighbours every map walks contiguously
        dims = [d for d in range(n) if shape[d] != 1]
        groups: list[list[int]] = []
        for d in dims:
            if groups:
                p = groups[-1][-1]
                if all(m[p] == m[d] * shape[d] for m in maps):
                    groups[-1].append(d)
                    continue
            groups.append([d])
        nc = len(groups)
        sizes = [size(tuple(shape[d] for d in grp)) for grp in groups]
        idx = [f"i{c}" for c in range(nc)]

        def cstr(m: tuple[int, ...]) -> list[int]:
            return [m[grp[-1]] for grp in groups]

        self.emit(
            f"# ---- fused loop nest over [{','.join(map(str, shape))}]: "
            f"{' '.join(self.name(e.outputs[0]) for e in g.eqns)}",
            0,
        )
        for v in stores:
            self.alloc(v)
        pre: list[list[str]] = [[] for _ in range(nc + 1)]
        post: list[list[str]] = [[] for _ in range(nc + 1)]
        body: list[tuple[str, str]] = []
        after: list[str] = []
        for k, e in enumerate(g.eqns):
            ops = []
            for j, a in enumerate(e.inputs):
                if isinstance(a, Literal):
                    # a divisor equal to a size (a mean) reads the size argument
                    lit = self.sizes.literal if e.op.name == "div" and j == 1 else literal
                    ops.append(lit(a.value, a.aval.dtype))
                elif a in g.locals:
                    ops.append(self.name(a))
                else:
                    r = reads[(k, j)]
                    ops.append(self.read(r, cstr(r.strides), idx))
            out = e.outputs[0]
            nm = self.name(out)
            text = self.eqn_text(e)
            if e.op.name in REDUCE_OPS:
                self._emit_reduce(e, ops[0], red_maps[out], cstr, idx, pre, post, body, after, text)
                continue
            body.append((f"{nm} = {self.ew_expr(e, ops)}", text))
            if out in self.needs_buf:
                body.append((f"{self.arr(out)}[{self.index_expr(0, cstr(cs), idx)}] = {nm}", ""))

        blocked = self._blocked_sums(sizes, nc)
        # the outer loop runs on threads when its iterations are independent (a sum over
        # it is a scalar that numba reduces across threads)
        par = (
            nc > 0
            and int(size(shape)) >= PARALLEL_MIN
            and not self._outer_reduced
            and jit.threads() > 1
        )
        self.parallel |= par

        def loop(level: int, var: str, extent: str) -> str:
            rng = "numba.prange" if par and level == 0 else "range"
            return f"for {var} in {rng}({extent}):"

        def inner(indent: int, partial: bool) -> None:
            for line in pre[nc]:
                self.emit(line, indent)
            for line, c in body:
                acc = line.split(" += ", 1)[0]
                if partial and acc in blocked:
                    line = f"{acc}_blk += " + line.split(" += ", 1)[1]
                self.emit(line, indent, c)
            for line in post[nc]:
                self.emit(line, indent)

        def nest(level: int) -> None:
            if level == nc:
                inner(level, False)
                return
            for line in pre[level]:
                self.emit(line, level)
            i, n = idx[level], sizes[level]
            if blocked and level == nc - 1:
                # float32 sums: float32 partial sums over blocks of _BLOCK elements (the
                # loop vectorises), added into the float64 accumulator after each block
                self.emit(loop(level, f"{i}_b", f"{n} // {_BLOCK}"), level)
                for acc in blocked:
                    self.emit(f"{acc}_blk = np.float32(0.0)", level + 1)
                self.emit(f"for {i}_k in range({_BLOCK}):", level + 1)
                self.emit(f"{i} = {i}_b * {_BLOCK} + {i}_k", level + 2)
                inner(level + 2, True)
                for acc in blocked:
                    self.emit(f"{acc} += {acc}_blk", level + 1)
                self.emit(f"for {i} in range({n} // {_BLOCK} * {_BLOCK}, {n}):", level)
                inner(level + 1, False)
            else:
                self.emit(loop(level, i, str(n)), level)
                nest(level + 1)
            for line in post[level]:
                self.emit(line, level)

        nest(0)
        for line in after:
            self.emit(line, 0)

    def _blocked_sums(self, sizes: list[int], nc: int) -> list[str]:
        """Accumulators of float32 sums worth blocking: those `_emit_reduce` marked, in a
        one-loop nest (a whole-array sum) that may be long. Row sums stay unblocked
        (rows are usually short, and blocking doubles the loop body)."""
        marked = self._f32_sums
        self._f32_sums = []
        if not marked or nc != 1 or (not isinstance(sizes[0], Dim) and sizes[0] <= _BLOCK):
            return []
        return marked

    def _emit_reduce(
        self,
        e: Eqn,
        x: str,
        m: tuple[int, ...],
        cstr: Callable,
        idx: list[str],
        pre: list[list[str]],
        post: list[list[str]],
        body: list[tuple[str, str]],
        after: list[str],
        text: str,
    ) -> None:
        out = e.outputs[0]
        od = out.aval.dtype
        xd = e.inputs[0].aval.dtype
        name = self.name(out)
        self.alloc(out)
        arr = self.arr(out)
        osize = size(self.shape(out))
        strides = cstr(m)
        reduced = [c for c, s in enumerate(strides) if s == 0]
        nc = len(strides)
        suffix = reduced == list(range(nc - len(reduced), nc))
        if 0 in reduced and not (nc == 1 and e.op.name == "reduce_sum"):
            self._outer_reduced = True  # threads would race on the accumulator
        op = e.op.name
        if op == "reduce_sum":
            ad = np.dtype(np.float64) if od.kind == "f" else np.dtype(np.int64)
            xv = x if xd == ad or xd.kind == "f" else cast(x, xd, ad)
            init = literal(0, ad)
        else:
            ad = od
            xv = x
            if od.kind == "f":
                init = literal(-np.inf if op == "amax" else np.inf, od)
            elif od == np.bool_:
                init = repr(op == "amin")
            else:
                info = np.iinfo(od)
                init = literal(info.min if op == "amax" else info.max, od)
        cmp = ">" if op == "amax" else "<"
        nan = " or _t != _t" if od.kind == "f" else ""
        if suffix:
            acc = f"{name}_acc"
            level = nc - len(reduced)
            pre[level].append(f"{acc} = {init}")
            if op == "reduce_sum":
                body.append((f"{acc} += {xv}", text))
                if xd == np.float32 and ad == np.float64 and reduced == [nc - 1]:
                    self._f32_sums.append(acc)
            else:
                body.append((f"_t = {xv}", text))
                body.append((f"{acc} = _t if (_t {cmp} {acc}{nan}) else {acc}", ""))
            oi = self.index_expr(0, strides, idx)
            post[level].append(f"{arr}[{oi}] = {cast(acc, ad, od)}")
            return
        oi = self.index_expr(0, strides, idx)
        if op == "reduce_sum" and ad != od:
            acc = f"{name}_acc"
            pre[0].append(f"{acc} = np.zeros({osize}, np.{ad.name})")
            after.append(f"for _j in range({osize}):")
            after.append(f"    {arr}[_j] = {cast(f'{acc}[_j]', ad, od)}")
        else:
            acc = arr
            pre[0].append(f"{acc}[:] = {init}")
        if op == "reduce_sum":
            body.append((f"{acc}[{oi}] += {xv}", text))
        else:
            body.append((f"_t = {xv}", text))
            body.append((f"if _t {cmp} {acc}[{oi}]{nan}:", ""))
            body.append((f"    {acc}[{oi}] = _t", ""))

    # ---- kernel items ---------------------------------------------------------
    def loops(self, shape: tuple[int, ...], prefix: str, indent: int) -> tuple[list[str], int]:
        idx = [f"{prefix}{d}" for d in range(len(shape))]
        for d, s in enumerate(shape):
            self.emit(f"for {idx[d]} in range({s}):", indent + d)
        return idx, indent + len(shape)

    def emit_matmul(self, it: Item) -> None:
        e = it.eqns[0]
        out = e.outputs[0]
        ra, rb = it.refs
        self.emit(f"# ---- {self.eqn_text(e)}", 0)
        self.alloc(out)
        a_sh, b_sh = ra.shape, rb.shape
        a2 = a_sh if len(a_sh) > 1 else (1,) + a_sh
        b2 = b_sh if len(b_sh) > 1 else b_sh + (1,)
        sa = ra.strides if len(a_sh) > 1 else (0,) + tuple(ra.strides)
        sb = rb.strides if len(b_sh) > 1 else tuple(rb.strides) + (0,)
        M, K = a2[-2:]
        N = b2[-1]
        batch = tuple(self.shape(out)[: len(out.aval.shape) - (len(a_sh) > 1) - (len(b_sh) > 1)])
        ra2 = Ref(ra.kind, a2, ra.dtype, ra.base, ra.offset, sa, ra.expr)
        rb2 = Ref(rb.kind, b2, rb.dtype, rb.base, rb.offset, sb, rb.expr)
        ra2 = ra2.broadcast(batch + (M, K))
        rb2 = rb2.broadcast(batch + (K, N))
        bidx, ind = self.loops(batch, "b", 0)
        nb = len(batch)
        ocs = c_strides(batch + (M, N))
        oarr = self.arr(out)
        dt = out.aval.dtype
        if dt.kind == "f" and M * N * K > 0 and ra2.kind == rb2.kind == "mem":
            it.host = True  # numpy's np.dot: BLAS without numba's scipy requirement

            def operand(r: Ref, rows: int, cols: int) -> str:
                off = self.index_expr(r.offset, list(r.strides[:nb]), bidx)
                s0, s1 = r.strides[nb:]
                c = (cols == 1 or s1 == 1) and (rows == 1 or s0 == cols)
                arr = self.arr(r.base)
                whole = off == "0" and size(self.shape(r.base)) == rows * cols
                src = arr if whole else f"{arr}[{off}:{off} + {rows * cols}]"
                return (
                    f"{src}.reshape(({rows}, {cols}))"
                    if c
                    else f"{src}.reshape(({cols}, {rows})).T"
                )

            ooff = self.index_expr(0, list(ocs[:nb]), bidx)
            osrc = oarr if not nb else f"{oarr}[{ooff}:{ooff} + {M * N}]"
            self.emit(
                f"np.dot({operand(ra2, M, K)}, {operand(rb2, K, N)}, {osrc}.reshape(({M}, {N})))",
                ind,
            )
            return
        mi, ni, ki = "_m", "_n", "_k"
        self.emit(f"for {mi} in range({M}):", ind)
        self.emit(f"for {ni} in range({N}):", ind + 1)
        ad = np.dtype(np.float64) if dt.kind == "f" else np.dtype(np.int64)
        self.emit(f"_acc = {literal(0, ad)}", ind + 2)
        self.emit(f"for {ki} in range({K}):", ind + 2)
        av = self.read(ra2, list(ra2.strides), bidx + [mi, ki])
        bv = self.read(rb2, list(rb2.strides), bidx + [ki, ni])
        self.emit(f"_acc += {cast(av, ra2.dtype, ad)} * {cast(bv, rb2.dtype, ad)}", ind + 3)
        oi = self.index_expr(0, list(ocs), bidx + [mi, ni])
        self.emit(f"{oarr}[{oi}] = {cast('_acc', ad, dt)}", ind + 2)

    def _indexed(
        self,
        spec: tuple[Any, ...],
        target: Ref,
        arr_refs: list[Ref],
        indent: int,
        e: Eqn | None = None,
    ) -> tuple[list[str], tuple[int, ...], str, int]:
        """Loops over the result of target[spec]; returns (loop indices, result shape,
        flat offset expression into target, indentation of the loop body)."""
        has_arr = any(item[0] == "arr" for item in spec)
        if has_arr:
            shape, origins = adv_layout(spec, [r.shape for r in arr_refs])
        else:
            shape = tuple(
                1 if item[0] == "new" else len(range(*item[1:]))
                for item in spec
                if item[0] != "int"
            )
            origins = [("basic", k) for k, item in enumerate(spec) if item[0] != "int"]
        idx, ind = self.loops(shape, "j", indent)
        bshape = broadcast_shapes(*[r.shape for r in arr_refs])
        adv_idx = [idx[d] for d, o in enumerate(origins) if o[0] == "adv"]
        pos = {o[1]: idx[d] for d, o in enumerate(origins) if o[0] == "basic"}
        terms = [str(target.offset)] if target.offset else []
        dim = 0
        for k, item in enumerate(spec):
            if item[0] == "new":
                continue
            st = target.strides[dim]
            size = target.shape[dim]
            if item[0] == "int":
                terms.append(str(item[1] * st))
            elif item[0] == "slice":
                _, start, _, step = item
                expr = (
                    f"({start} + {step}*{pos[k]})"
                    if step != 1
                    else (f"({start} + {pos[k]})" if start else pos[k])
                )
                terms.append(f"{st}*{expr}" if st != 1 else expr)
            else:
                r = arr_refs[item[1]].broadcast(tuple(bshape))
                t = f"_t{k}"
                self.emit(f"{t} = {self.read(r, list(r.strides), adv_idx)}", ind)
                self.emit(f"if {t} < 0:", ind)
                self.emit(f"{t} += {size}", ind + 1)
                self.emit(f"if {t} < 0 or {t} >= {size}:", ind)
                msg = (
                    f"{e.op.name if e else 'index'}: an index tensor holds a value out of "
                    f"range for dimension {dim} of the indexed tensor"
                    + (f" (traced at {e.source_loc})" if e and e.source_loc else "")
                    + "; TRACER_DISABLE_JIT=1 reports the value and the size"
                )
                self.emit(f"raise IndexError({msg!r})", ind + 1)
                terms.append(f"{st}*{t}" if st != 1 else t)
            dim += 1
        return idx, shape, " + ".join(terms) or "0", ind

    def emit_gather(self, it: Item) -> None:
        e = it.eqns[0]
        out = e.outputs[0]
        self.emit(f"# ---- {self.eqn_text(e)}", 0)
        self.alloc(out)
        idx, shape, src, ind = self._indexed(e.params["spec"], it.refs[0], it.refs[1:], 0, e)
        oi = self.index_expr(0, list(c_strides(shape)), idx)
        x = it.refs[0]
        val = (
            x.expr
            if x.kind == "const"
            else (f"np.{x.dtype.name}({src})" if x.kind == "iota" else f"{self.arr(x.base)}[{src}]")
        )
        self.emit(f"{self.arr(out)}[{oi}] = {val}", ind)

    def emit_index_add(self, it: Item) -> None:
        e = it.eqns[0]
        out = e.outputs[0]
        self.emit(f"# ---- {self.eqn_text(e)}", 0)
        self.alloc(out)
        oarr = self.arr(out)
        self.emit(f"{oarr}[:] = 0", 0)
        target = self.mem_ref(out)
        idx, shape, dst, ind = self._indexed(e.params["spec"], target, it.refs[1:], 0, e)
        g = it.refs[0].broadcast(shape)
        self.emit(f"{oarr}[{dst}] += {self.read(g, list(g.strides), idx)}", ind)

    def emit_index_put(self, it: Item) -> None:
        e = it.eqns[0]
        out = e.outputs[0]
        self.emit(f"# ---- {self.eqn_text(e)}", 0)
        self.alloc(out)
        oarr = self.arr(out)
        x = it.refs[0]
        oshape = self.shape(out)
        xi, ind = self.loops(oshape, "j", 0)
        xb = x.broadcast(oshape)
        self.emit(
            f"{oarr}[{self.index_expr(0, list(c_strides(oshape)), xi)}] = "
            f"{self.read(xb, list(xb.strides), xi)}",
            ind,
        )
        idx, shape, dst, ind = self._indexed(e.params["spec"], self.mem_ref(out), it.refs[2:], 0, e)
        v = it.refs[1].broadcast(shape)
        self.emit(f"{oarr}[{dst}] = {self.read(v, list(v.strides), idx)}", ind)

    def emit_concat(self, it: Item) -> None:
        e = it.eqns[0]
        out = e.outputs[0]
        axis = e.params["axis"]
        self.emit(f"# ---- {self.eqn_text(e)}", 0)
        self.alloc(out)
        ocs = c_strides(self.shape(out))
        start = 0
        for r in it.refs:
            idx, ind = self.loops(r.shape, "j", 0)
            oi = self.index_expr(start * ocs[axis], list(ocs), idx)
            self.emit(f"{self.arr(out)}[{oi}] = {self.read(r, list(r.strides), idx)}", ind)
            start += r.shape[axis]

    def emit_arg(self, it: Item) -> None:
        e = it.eqns[0]
        vals, inds = e.outputs
        x = it.refs[0]
        axis = e.params["axis"]
        self.emit(f"# ---- {self.eqn_text(e)}", 0)
        self.alloc(vals)
        self.alloc(inds)
        va, ia = self.arr(vals), self.arr(inds)
        if not x.shape:
            self.emit(f"{va}[0] = {self.read(x, [], [])}", 0)
            self.emit(f"{ia}[0] = 0", 0)
            return
        outer = tuple(s for d, s in enumerate(x.shape) if d != axis)
        idx, ind = self.loops(outer, "j", 0)
        full_idx = idx[:axis] + ["0"] + idx[axis:]
        self.emit(f"_best = {self.read(x, list(x.strides), full_idx)}", ind)
        self.emit("_arg = 0", ind)
        self.emit(f"for _k in range(1, {x.shape[axis]}):", ind)
        full_idx = idx[:axis] + ["_k"] + idx[axis:]
        self.emit(f"_t = {self.read(x, list(x.strides), full_idx)}", ind + 1)
        cmp = ">" if e.op.name == "max_dim" else "<"
        nan = " or (_t != _t and _best == _best)" if x.dtype.kind == "f" else ""
        self.emit(f"if _t {cmp} _best{nan}:", ind + 1)
        self.emit("_best = _t", ind + 2)
        self.emit("_arg = _k", ind + 2)
        oi = self.index_expr(0, list(c_strides(outer)), idx)
        self.emit(f"{va}[{oi}] = _best", ind)
        self.emit(f"{ia}[{oi}] = _arg", ind)
