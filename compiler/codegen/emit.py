"""Emission: one emitter per item kind of a `KernelPlan`.

`emit_item(plan, item)` returns the item's `ItemCode`: its lines, the arrays it
reads and the buffers it writes (the module writer splits long kernels and
places allocations from these, not from the text), and whether it runs in the
plain-Python entry (a BLAS call). A fused `Nest` becomes one loop nest with
each value in a scalar local; a `KernelCall` is written by the op's own kernel
emitter (`compiler.kernels`) through a `Writer`. Every generated line carries
the IR equation it came from as a comment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.codegen.plan import ControlCall, Copy, KernelCall, KernelPlan, Nest
from compiler.ir import Eqn, Graph, Literal, Var
from compiler.lowering import Reduction
from compiler.refs import Dim, Ref, c_strides, cast, literal, size
from runtime import jit

__all__ = ["ItemCode", "PARALLEL_MIN", "code_line", "emit_item", "eqn_text"]

#: loop nests over at least this many elements run their outer loop on threads
#: (when TRACER_PARALLEL=1)
PARALLEL_MIN = 1 << 18
_BLOCK = 256  # elements per float32 partial sum


@dataclass
class ItemCode:
    lines: list[str]
    reads: list[Var] = field(default_factory=list)  # arrays read
    writes: list[Var] = field(default_factory=list)  # buffers written
    host: bool = False  # runs in the plain-Python entry (numpy's BLAS), not in njit
    parallel: bool = False  # has a prange loop
    imports: set[str] = field(default_factory=set)  # runtime functions used: "vmath.exp_f32"
    defs: list[str] = field(default_factory=list)  # module-level functions it calls
    helpers: set[str] = field(default_factory=set)  # runtime.jit scalar helpers used


def emit_item(plan: KernelPlan, item: Nest | KernelCall | ControlCall) -> ItemCode:
    return _EMITTERS[type(item)](plan, item)


def eqn_text(plan: KernelPlan, e: Eqn) -> str:
    """The equation as the IR printer shows it, with symbolic shapes."""
    params = {
        k: v
        for k, v in e.params.items()
        if v is not None
        and v is not False
        and not isinstance(v, Graph)
        and not (isinstance(v, tuple) and v and isinstance(v[0], Graph))
    }
    p = ""
    if params:
        p = "[" + " ".join(f"{k}={_param_text(plan, e, k, v)}" for k, v in params.items()) + "]"
    lhs = " ".join(
        f"{plan.names[v]}:{dtypes.short_name(v.aval.dtype)}[{','.join(map(str, plan.shape(v)))}]"
        for v in e.outputs
    )
    rhs = " ".join(repr(a) if isinstance(a, Literal) else plan.names[a] for a in e.inputs)
    text = f"{lhs} = {e.op.name}{p} {rhs}".rstrip()
    parent = plan.origin.get(e)
    if parent is not None:
        text += f"  (from {parent.op.name} -> {plan.names[parent.outputs[0]]})"
    return text


def _param_text(plan: KernelPlan, e: Eqn, key: str, value: Any) -> str:
    """A param as text, its sizes as size expressions (the text must not depend on
    the sizes, or a new batch size would not reuse the kernel)."""
    if isinstance(value, np.dtype):
        return dtypes.short_name(value)
    if key == "shape":
        return repr(plan.sizes.dims(value))
    if key == "length":  # a loop's trip count is a size argument too
        return str(plan.sizes.dim(value))
    if key == "spec":
        shape = e.params.get("shape") or plan.shape(e.inputs[0])
        return _spec_text(plan, value, plan.sizes.dims(shape))
    return repr(value)


def _spec_text(plan: KernelPlan, spec: tuple[Any, ...], shape: tuple[int, ...]) -> str:
    """An index spec in Python's syntax: [(d0 - 1), 1:d1, None, idx0]."""
    parts, dim = [], 0
    for item in spec:
        if item[0] == "new":
            parts.append("None")
            continue
        n = shape[dim]
        if item[0] == "int":
            parts.append(str(plan.sizes.within(item[1], n)))
        elif item[0] == "slice":
            _, start, stop, step = item
            stop = str(plan.sizes.within(stop, n)) if stop >= 0 else ""
            parts.append(
                f"{plan.sizes.within(start, n)}:{stop}" + (f":{step}" if step != 1 else "")
            )
        else:
            parts.append(f"idx{item[1]}")
        dim += 1
    return "[" + ", ".join(parts) + "]"


def _index_expr(offset: int, strides: list[int], idx: list[str]) -> str:
    terms = [str(offset)] if offset else []
    for s, i in zip(strides, idx):
        if s == 1:
            terms.append(i)
        elif s:
            terms.append(f"{s}*{i}")
    return " + ".join(terms) or "0"


def _read(plan: KernelPlan, r: Ref, strides: list[int], idx: list[str]) -> str:
    if r.kind == "const":
        return r.expr
    ix = _index_expr(r.offset, strides, idx)
    if r.kind == "iota":
        return f"np.{r.dtype.name}({ix})"
    return f"{plan.arr(r.base)}[{ix}]"


def code_line(text: str, level: int, comment: str = "") -> str:
    """A line of a function body, `level` levels in, with an optional comment."""
    line = "    " * (level + 1) + text
    return line.ljust(60) + "  # " + comment if comment else line


class _ExprCode:
    """The `ScalarCode` an elementwise op's expression is written with."""

    def __init__(self, e: Eqn, imports: set[str], helpers: set[str]) -> None:
        self.dtype = _compute_dtype(e)
        self.out_dtype = e.outputs[0].aval.dtype
        self.params = e.params
        self._imports = imports
        self._helpers = helpers
        self._eqn = e

    def lit(self, value: Any, dtype: Any = None) -> str:
        return literal(value, self.dtype if dtype is None else np.dtype(dtype))

    def math(self, fn: str, x: str) -> str:
        if (fn, self.dtype.name) in jit.VMATH_FUNCTIONS:
            name = f"{fn}_{self.dtype.name[0]}{self.dtype.name[-2:]}"
            self._imports.add(f"vmath.{name}")
            return f"{name}({x})"
        return self.helper("sigmoid", x) if fn == "sigmoid" else f"np.{fn}({x})"

    def helper(self, fn: str, *args: str) -> str:
        self._helpers.add(fn)
        return f"{fn}({', '.join(args)})"

    def cast(self, x: str, frm: np.dtype, to: np.dtype) -> str:
        return cast(x, frm, to)

    def error(self, what: str) -> str:
        return repr(_error_message(self._eqn, what))


def _error_message(e: Eqn, what: str) -> str:
    return (
        f"{e.op.name}: {what}"
        + (f" (traced at {e.source_loc})" if e.source_loc else "")
        + "; TRACER_DISABLE_JIT=1 reports the value and the size"
    )


def _compute_dtype(e: Eqn) -> np.dtype:
    """The dtype the op computes in: its inputs', as the typing rule made them (the
    condition of a select aside)."""
    wanted, _ = e.op.lowering.typing(e.op.name, [a.aval for a in e.inputs], **e.params)
    return wanted[-1]


# ---- fused loop nests -------------------------------------------------------------------


@dataclass
class _Line:
    text: str
    comment: str = ""
    acc: str = ""  # a float sum `acc += value` that may run in float32 blocks
    value: str = ""


class _NestWriter:
    """Writes one `Nest`: maps, collapsed loops, the body, reductions (named steps)."""

    def __init__(self, plan: KernelPlan, nest: Nest) -> None:
        self.plan, self.nest = plan, nest
        self.shape = nest.shape
        self.code = ItemCode([])
        self.reads: dict[tuple[int, int], Ref] = {}
        self.red_maps: dict[Var, tuple[int, ...]] = {}
        self.stores: list[Var] = []
        self.outer_reduced = False  # a reduction over the outer loop: no threads
        self.blockable: list[str] = []  # accumulators of long float32 sums

    def write(self) -> ItemCode:
        maps = self._index_maps()
        groups = self._collapse(maps)
        self.nc = len(groups)
        self.sizes = [size(tuple(self.shape[d] for d in grp)) for grp in groups]
        self.idx = [f"i{c}" for c in range(self.nc)]
        self.cstr: Callable[[tuple[int, ...]], list[int]] = lambda m: [m[grp[-1]] for grp in groups]
        names = " ".join(self.plan.names[_out(s)] for s in self.nest.steps)
        self.code.lines.append(
            code_line(f"# ---- fused loop nest over [{','.join(map(str, self.shape))}]: {names}", 0)
        )
        self.pre: list[list[str]] = [[] for _ in range(self.nc + 1)]
        self.post: list[list[str]] = [[] for _ in range(self.nc + 1)]
        self.after: list[str] = []
        self.body: list[_Line] = []
        for k, step in enumerate(self.nest.steps):
            self._step(k, step)
        self._loops()
        return self.code

    def _index_maps(self) -> list[tuple[int, ...]]:
        """Every index map of the nest over its uncollapsed dims: reads of outside
        values, stores of locals, and the outputs of reductions."""
        plan, n = self.plan, len(self.shape)
        maps: list[tuple[int, ...]] = []
        for k, step in enumerate(self.nest.steps):
            for j, a in enumerate(_inputs(step)):
                if isinstance(a, Var) and a not in self.nest.locals:
                    r = plan.refs[a].broadcast(self.shape)
                    self.reads[(k, j)] = r
                    if r.kind != "const":
                        maps.append(r.strides)
                        if r.kind == "mem":
                            self.code.reads.append(r.base)
        self.stores = [
            _out(s)
            for s in self.nest.steps
            if _out(s) in self.nest.locals and _out(s) in plan.buffered
        ]
        if self.stores:
            maps.append(c_strides(self.shape))
        for step in self.nest.steps:
            if isinstance(step, Eqn) and isinstance(step.op.lowering, Reduction):
                axes = set(step.params["axes"])
                kept = [d for d in range(n) if d not in axes]
                ocs = dict(zip(kept, c_strides(tuple(self.shape[d] for d in kept))))
                m = tuple(0 if d in axes else ocs[d] for d in range(n))
                self.red_maps[step.outputs[0]] = m
                maps.append(m)
        self.code.writes = self.stores + list(self.red_maps)
        return maps

    def _collapse(self, maps: list[tuple[int, ...]]) -> list[list[int]]:
        """Drop size-1 dims; merge neighbouring dims that every map walks contiguously."""
        groups: list[list[int]] = []
        for d in (d for d in range(len(self.shape)) if self.shape[d] != 1):
            if groups:
                p = groups[-1][-1]
                if all(m[p] == m[d] * self.shape[d] for m in maps):
                    groups[-1].append(d)
                    continue
            groups.append([d])
        return groups

    def _operands(self, k: int, step: Eqn | Copy) -> list[str]:
        ops = []
        for j, a in enumerate(_inputs(step)):
            if isinstance(a, Literal):
                ops.append(literal(a.value, a.aval.dtype))
            elif a in self.nest.locals:
                ops.append(self.plan.names[a])
            else:
                r = self.reads[(k, j)]
                ops.append(_read(self.plan, r, self.cstr(r.strides), self.idx))
        return ops

    def _step(self, k: int, step: Eqn | Copy) -> None:
        ops = self._operands(k, step)
        out = _out(step)
        nm = self.plan.names[out]
        if isinstance(step, Copy):
            self.body.append(
                _Line(f"{nm} = {ops[0]}", f"{nm}: contiguous copy of {self.plan.names[step.src]}")
            )
        elif isinstance(step.op.lowering, Reduction):
            self._reduction(step, ops[0])
            return
        else:
            expr = step.op.lowering.expr(
                _ExprCode(step, self.code.imports, self.code.helpers), *ops
            )
            od = out.aval.dtype
            if od.kind in "iu" and od != np.int64:  # numba computes narrow ints in int64
                expr = cast(expr, np.dtype(np.int64), od)
            self.body.append(_Line(f"{nm} = {expr}", eqn_text(self.plan, step)))
        if out in self.stores:
            ix = _index_expr(0, self.cstr(c_strides(self.shape)), self.idx)
            self.body.append(_Line(f"{self.plan.arr(out)}[{ix}] = {nm}"))

    def _reduction(self, e: Eqn, x: str) -> None:
        out = e.outputs[0]
        monoid = e.op.lowering.monoid
        od, xd = out.aval.dtype, e.inputs[0].aval.dtype
        ad = monoid.accumulate(od)
        xv = x if xd == ad or xd.kind == "f" else cast(x, xd, ad)
        init = literal(monoid.identity(od), ad)
        arr = self.plan.arr(out)
        strides = self.cstr(self.red_maps[out])
        reduced = [c for c, s in enumerate(strides) if s == 0]
        nc = self.nc
        if 0 in reduced and not (nc == 1 and monoid.additive):
            self.outer_reduced = True  # threads would race on the accumulator
        oi = _index_expr(0, strides, self.idx)
        text = eqn_text(self.plan, e)
        if reduced == list(range(nc - len(reduced), nc)):  # the reduced loops are innermost
            acc = f"{self.plan.names[out]}_acc"
            level = nc - len(reduced)
            self.pre[level].append(f"{acc} = {init}")
            lines = monoid.update(acc, xv, od)
            blocked = (
                monoid.additive and xd == np.float32 and ad == np.float64 and reduced == [nc - 1]
            )
            if blocked:
                self.blockable.append(acc)
            self.body.append(_Line(lines[0], text, acc if blocked else "", xv))
            self.body += [_Line(t) for t in lines[1:]]
            self.post[level].append(f"{arr}[{oi}] = {cast(acc, ad, od)}")
            return
        osize = size(self.plan.shape(out))
        if ad != od:  # accumulate in an array of the wider dtype, then convert
            acc = f"{self.plan.names[out]}_acc"
            self.pre[0].append(f"{acc} = np.empty({osize}, np.{ad.name})")
            self.pre[0].append(f"{acc}[:] = {init}")  # the monoid's identity (1 for prod)
            self.after.append(f"for _j in range({osize}):")
            self.after.append(f"    {arr}[_j] = {cast(f'{acc}[_j]', ad, od)}")
        else:
            acc = arr
            self.pre[0].append(f"{acc}[:] = {init}")
        lines = monoid.update(f"{acc}[{oi}]", xv, od)
        self.body.append(_Line(lines[0], text))
        self.body += [_Line(t) for t in lines[1:]]

    def _loops(self) -> None:
        """The loop nest around the body: float32 sums over a long innermost loop add
        float32 partial sums over blocks of _BLOCK elements (the loop vectorises) into
        their float64 accumulator; the outer loop runs on threads when allowed."""
        nc, n_elems = self.nc, self.sizes
        blocked = (
            self.blockable
            if nc == 1 and (isinstance(n_elems[0], Dim) or n_elems[0] > _BLOCK)
            else []
        )
        par = (
            nc > 0
            and int(size(self.shape)) >= PARALLEL_MIN
            and not self.outer_reduced
            and jit.threads() > 1
        )
        self.code.parallel = par
        lines = self.code.lines

        def inner(indent: int, partial: bool) -> None:
            lines.extend(code_line(t, indent) for t in self.pre[nc])
            for ln in self.body:
                text = (
                    f"{ln.acc}_blk += {ln.value}"
                    if partial and ln.acc in blocked and ln.acc
                    else ln.text
                )
                lines.append(code_line(text, indent, ln.comment))
            lines.extend(code_line(t, indent) for t in self.post[nc])

        def nest(level: int) -> None:
            if level == nc:
                inner(level, False)
                return
            lines.extend(code_line(t, level) for t in self.pre[level])
            i, n = self.idx[level], n_elems[level]
            rng = "numba.prange" if par and level == 0 else "range"
            if blocked and level == nc - 1:
                lines.append(code_line(f"for {i}_b in {rng}({n} // {_BLOCK}):", level))
                lines.extend(
                    code_line(f"{acc}_blk = np.float32(0.0)", level + 1) for acc in blocked
                )
                lines.append(code_line(f"for {i}_k in range({_BLOCK}):", level + 1))
                lines.append(code_line(f"{i} = {i}_b * {_BLOCK} + {i}_k", level + 2))
                inner(level + 2, True)
                lines.extend(code_line(f"{acc} += {acc}_blk", level + 1) for acc in blocked)
                lines.append(
                    code_line(f"for {i} in range({n} // {_BLOCK} * {_BLOCK}, {n}):", level)
                )
                inner(level + 1, False)
            else:
                lines.append(code_line(f"for {i} in {rng}({n}):", level))
                nest(level + 1)
            lines.extend(code_line(t, level) for t in self.post[level])

        nest(0)
        lines.extend(code_line(t, 0) for t in self.after)


def _inputs(step: Eqn | Copy) -> list[Any]:
    return [step.src] if isinstance(step, Copy) else list(step.inputs)


def _out(step: Eqn | Copy) -> Var:
    return step.dst if isinstance(step, Copy) else step.outputs[0]


def _emit_nest(plan: KernelPlan, nest: Nest) -> ItemCode:
    return _NestWriter(plan, nest).write()


# ---- kernels of their own ----------------------------------------------------------------


class _KernelWriter:
    """The `compiler.kernels.Writer` a kernel emitter writes through."""

    def __init__(self, plan: KernelPlan, item: KernelCall) -> None:
        self.plan = plan
        self.code = ItemCode(
            [code_line(f"# ---- {eqn_text(plan, item.eqn)}", 0)],
            reads=[r.base for r in item.refs if r.kind == "mem"],
            writes=list(item.eqn.outputs),
        )

    def line(self, text: str, indent: int = 0) -> None:
        self.code.lines.append(code_line(text, indent))

    def loops(self, shape: tuple[int, ...], prefix: str, indent: int) -> tuple[list[str], int]:
        idx = [f"{prefix}{d}" for d in range(len(shape))]
        for d, s in enumerate(shape):
            self.line(f"for {idx[d]} in range({s}):", indent + d)
        return idx, indent + len(shape)

    def read(self, r: Ref, idx: list[str]) -> str:
        return _read(self.plan, r, list(r.strides), idx)

    def arr(self, v: Var) -> str:
        return self.plan.arr(v)

    def shape(self, v: Var) -> tuple[int, ...]:
        return self.plan.shape(v)

    def dim(self, n: int) -> int:
        return self.plan.sizes.dim(n)

    def within(self, n: int, size: int) -> int:
        return self.plan.sizes.within(n, size)

    def index_expr(self, offset: int, strides: list[int], idx: list[str]) -> str:
        return _index_expr(offset, strides, idx)

    def error(self, e: Eqn, what: str) -> str:
        return _error_message(e, what)

    def run_on_host(self) -> None:
        self.code.host = True

    def use(self, module: str, name: str) -> str:
        self.code.imports.add(f"{module}.{name}")
        return name


def _emit_kernel(plan: KernelPlan, item: KernelCall) -> ItemCode:
    w = _KernelWriter(plan, item)
    item.emit(w, item.eqn, item.refs)
    return w.code


#: one emitter per item kind (ControlCall's lives in compiler.codegen.control, which
#: adds itself: it generates the sub-kernels with compiler.codegen.module)
_EMITTERS: dict[type, Callable[[KernelPlan, Any], ItemCode]] = {
    Nest: _emit_nest,
    KernelCall: _emit_kernel,
}
