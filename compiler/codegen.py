"""Lower a Graph to one generated numba module with one jitted entry function.

    compile_graph(graph)([arrays in graph.inputs order]) -> [arrays in graph.outputs order]

Same contract as `runtime.interpreter.run(to_plan(graph), arrays)`.

How (see DESIGN.md, "Lowering to numba"):

* Composite ops are first rewritten into primitives (`compiler.fusion.decompose`).
* Every array lives in the entry function as a flat, C-contiguous 1-D array.
  Views (broadcast_to, transpose, reshape, basic indexing) are not copied:
  a value is read through an affine index map `base[offset + sum(stride*i)]`
  (stride 0 for broadcast dims). `full` becomes a typed constant and `iota` an
  index expression.
* Elementwise ops are grouped into maximal loop nests over one iteration space,
  together with the reductions (reduce_sum, amax, amin) that consume them. A
  value lives in a scalar local inside its nest and is stored to a buffer only
  if something outside the nest (or through a view) reads it. Adjacent dims
  that every index map walks contiguously are collapsed into one loop.
  float32 sums accumulate in float64.
* matmul calls BLAS through `np.dot(a, b, out)` on 2-D reshaped (or
  transposed) views; gathers/scatters (index with arrays, index_add,
  index_put), concatenate and max_dim/min_dim are explicit loops.
* Shapes are baked into the code as constants (one module per shape signature).
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.fusion import decompose
from compiler.ir import Atom, Eqn, Graph, Literal, Var
from compiler.ops.elementwise import elementwise_dtypes
from compiler.registry import OPS, AVal
from runtime import jit

__all__ = ["compile_graph", "generate"]

_FASTMATH = "{" + ", ".join(repr(f) for f in sorted(jit.FASTMATH)) + "}"
_VIEW_OPS = ("reshape", "transpose", "broadcast_to")
_REDUCE_OPS = ("reduce_sum", "amax", "amin")
_NUMBA_TYPES = {"float32": "float32", "float64": "float64", "int64": "int64",
                "int32": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8",
                "bool": "boolean"}
_VMATH_FUNCS = ("exp", "log", "log1p", "tanh", "sigmoid")


def _c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _lit(value: Any, dtype: np.dtype) -> str:
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


def _cast(expr: str, frm: np.dtype, to: np.dtype) -> str:
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
        return Ref(self.kind, tuple(shape), self.dtype, self.base, offset, tuple(strides),
                   self.expr)

    def broadcast(self, shape: tuple[int, ...]) -> Ref:
        """Right-aligned numpy broadcasting to `shape` (stride 0 on new/size-1 dims)."""
        if self.kind == "const":
            return self.with_map(shape, 0, (0,) * len(shape))
        lead = len(shape) - len(self.shape)
        strides = (0,) * lead + tuple(0 if n == 1 and shape[lead + i] != 1 else st
                                      for i, (n, st) in enumerate(zip(self.shape, self.strides)))
        return self.with_map(shape, self.offset, strides)


def _reshape_ref(r: Ref, shape: tuple[int, ...]) -> Ref | None:
    if r.kind == "const":
        return r.with_map(shape, 0, (0,) * len(shape))
    kept = [(n, s) for n, s in zip(r.shape, r.strides) if n != 1]
    new_kept = [n for n in shape if n != 1]
    if [n for n, _ in kept] == new_kept:  # only size-1 dims come or go
        it = iter(s for _, s in kept)
        return r.with_map(shape, r.offset, tuple(next(it) if n != 1 else 0 for n in shape))
    if all(s == cs for (n, s), cs in zip(kept, _c_strides(tuple(n for n, _ in kept)))):
        return r.with_map(shape, r.offset, _c_strides(shape))
    return None


def _basic_index_ref(r: Ref, spec: tuple[Any, ...]) -> Ref:
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


def _adv_layout(spec: tuple[Any, ...], arr_shapes: list[tuple[int, ...]]
                ) -> tuple[tuple[int, ...], list[tuple[Any, ...]]]:
    """numpy advanced indexing: (result shape, per result dim its origin).

    Origins: ("basic", spec position) for slices/newaxis, ("adv", j) for dim j
    of the broadcast index shape."""
    bshape = np.broadcast_shapes(*arr_shapes) if arr_shapes else ()
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
            shape.append(1 if item[0] == "new" else len(range(*item[1:])))
    return tuple(shape), origins


@dataclass(eq=False)
class Item:
    kind: str  # "group" | "matmul" | "gather" | "index_add" | "index_put" | "concat" | "arg"
    pos: int
    shape: tuple[int, ...] = ()
    eqns: list[Eqn] = field(default_factory=list)
    locals: set[Var] = field(default_factory=set)
    refs: list[Ref] = field(default_factory=list)  # kernel items: refs of the inputs


class _Codegen:
    def __init__(self, graph: Graph, name: str) -> None:
        self.orig = graph
        self.graph_name = name
        self.graph, self.origin = decompose(graph)
        self.names: dict[Var, str] = {}
        self.refs: dict[Var, Ref] = {}
        self.producer: dict[Var, Item] = {}
        self.items: list[Item] = []
        self.needs_buf: set[Var] = set()
        self.lines: list[str] = []
        self._name_graph()

    # ---- naming (as compiler.ir.pretty does) --------------------------------
    def _name_graph(self) -> None:
        taken: set[str] = set()
        order: list[Var] = list(self.orig.inputs)
        for e in self.orig.eqns:
            order += list(e.outputs) + [a for a in e.inputs if isinstance(a, Var)]
        from compiler.ir import _var_name

        for v in order:
            if v not in self.names:
                n = _var_name(len(self.names))
                if keyword.iskeyword(n) or hasattr(builtins, n) or n in ("np", "numba", "jit"):
                    n += "_"
                self.names[v] = n
                taken.add(n)
        self._taken = taken

    def name(self, v: Var) -> str:
        n = self.names.get(v)
        if n is None:
            e = self.origin_of(v)
            base = self.names.get(e.outputs[0], "t") if e is not None else "t"
            k = 0
            while f"{base}_{k}" in self._taken:
                k += 1
            n = f"{base}_{k}"
            self._taken.add(n)
            self.names[v] = n
        return n

    def origin_of(self, v: Var) -> Eqn | None:
        for e, parent in self.origin.items():
            if v in e.outputs:
                return parent
        return None

    def atom(self, a: Atom) -> str:
        return repr(a) if isinstance(a, Literal) else self.name(a)

    def eqn_text(self, e: Eqn) -> str:
        params = {k: v for k, v in e.params.items() if v is not None and v is not False}
        p = ""
        if params:
            p = "[" + " ".join(f"{k}={dtypes.short_name(v) if isinstance(v, np.dtype) else v!r}"
                               for k, v in params.items()) + "]"
        lhs = " ".join(f"{self.name(v)}:{v.aval}" for v in e.outputs)
        rhs = " ".join(self.atom(a) for a in e.inputs)
        text = f"{lhs} = {e.op.name}{p} {rhs}".rstrip()
        parent = self.origin.get(e)
        if parent is not None:
            text += f"  (from {parent.op.name} -> {self.name(parent.outputs[0])})"
        return text

    # ---- planning: refs, groups, kernel items -------------------------------
    def mem_ref(self, v: Var) -> Ref:
        shape = tuple(v.aval.shape)
        return Ref("mem", shape, v.aval.dtype, v, 0, _c_strides(shape))

    def use(self, r: Ref) -> None:
        """A read through memory: the base value needs a buffer."""
        if r.kind == "mem" and r.base in self.producer:
            self.needs_buf.add(r.base)

    def available(self, r: Ref, pos: int) -> bool:
        if r.kind != "mem":
            return True
        p = self.producer.get(r.base)
        return p is None or p.pos < pos

    def new_item(self, kind: str, shape: tuple[int, ...] = ()) -> Item:
        it = Item(kind, len(self.items), tuple(shape))
        self.items.append(it)
        return it

    def materialise(self, v: Var) -> Var:
        """A contiguous copy of a value (for views that are not affine, BLAS operands)."""
        c = Var(AVal(tuple(v.aval.shape), v.aval.dtype))
        self.names[c] = self.name(v) + "_c"
        self.plan_fused(Eqn(OPS["copy"], [v], {}, [c]))
        return c

    def plan(self) -> None:
        g = self.graph
        self._def = {v: e for e in g.eqns for v in e.outputs}
        for v in g.inputs:
            self.refs[v] = self.mem_ref(v)
        for e in g.eqns:
            self.plan_eqn(e)
        # outputs: values the kernel does not write to a fresh buffer get a copy
        self.out_vars: list[Var | None] = []
        seen: set[Var] = set()
        self.out_specs: list[tuple[Any, ...]] = []
        for a in g.outputs:
            if isinstance(a, Literal):
                self.out_specs.append(("lit", a.value, a.aval.dtype))
                continue
            if a in seen:
                self.out_specs.append(("dup", self._first_out(a)))
                continue
            seen.add(a)
            v = a
            r = self.refs[a]
            if not (r.kind == "mem" and r.base is a and a in self.producer):
                v = Var(AVal(tuple(a.aval.shape), a.aval.dtype))
                e = Eqn(OPS["copy"], [a], {}, [v])
                self.names[v] = self.name(a) + "_c"
                self.plan_fused(e)
            self.needs_buf.add(v)
            self.out_vars.append(v)
            self.out_specs.append(("buf", tuple(v.aval.shape), v.aval.dtype))
        self.out_index = {}
        for k, (a, spec) in enumerate(zip(g.outputs, self.out_specs)):
            if spec[0] == "buf":
                self.out_index.setdefault(a, k)

    def _first_out(self, a: Var) -> int:
        return next(k for k, o in enumerate(self.graph.outputs) if o is a)

    def plan_eqn(self, e: Eqn) -> None:
        name = e.op.name
        out = e.outputs[0]
        if name == "full":
            self.refs[out] = Ref("const", tuple(out.aval.shape), out.aval.dtype,
                                 expr=_lit(e.params["value"], e.params["dtype"]))
        elif name == "iota":
            shape, axis = tuple(e.params["shape"]), e.params["axis"]
            strides = tuple(1 if d == axis else 0 for d in range(len(shape)))
            self.refs[out] = Ref("iota", shape, out.aval.dtype, None, 0, strides)
        elif name in _VIEW_OPS or (name == "index" and len(e.inputs) == 1):
            x = e.inputs[0]
            r = self.refs[x]
            shape = tuple(out.aval.shape)
            if name == "broadcast_to":
                nr = r.broadcast(shape)
            elif name == "transpose":
                perm = e.params["perm"]
                nr = r.with_map(shape, r.offset, tuple(r.strides[p] for p in perm)) \
                    if r.kind != "const" else r.with_map(shape, 0, (0,) * len(shape))
            elif name == "reshape":
                nr = _reshape_ref(r, shape)
                if nr is None:
                    nr = _reshape_ref(self.refs[self.materialise(x)], shape)
            else:
                nr = _basic_index_ref(r, e.params["spec"])
            self.use(nr)
            self.refs[out] = nr
        elif e.op.elementwise or name in _REDUCE_OPS:
            self.plan_fused(e)
        elif name in ("matmul", "index", "index_add", "index_put", "concatenate",
                      "max_dim", "min_dim"):
            self.plan_kernel(e)
        else:
            raise NotImplementedError(f"codegen: op {name!r} is not supported by the numba "
                                      "backend yet")

    def plan_fused(self, e: Eqn) -> None:
        reduce = e.op.name in _REDUCE_OPS
        out = e.outputs[0]
        shape = tuple(e.inputs[0].aval.shape) if reduce else tuple(out.aval.shape)
        chosen = None
        for g in reversed(self.items):
            if g.kind == "group" and g.shape == shape and self._fits(e, g):
                chosen = g
                break
        if chosen is None:
            chosen = self.new_item("group", shape)
        for a in e.inputs:
            if isinstance(a, Var) and a not in chosen.locals:
                self.use(self.refs[a])
        chosen.eqns.append(e)
        self.producer[out] = chosen
        self.refs[out] = self.mem_ref(out)
        if reduce:
            self.needs_buf.add(out)
        else:
            chosen.locals.add(out)

    def _fits(self, e: Eqn, g: Item) -> bool:
        for a in e.inputs:
            if isinstance(a, Literal) or a in g.locals:
                continue
            if not self.available(self.refs[a], g.pos):
                return False
        return True

    def plan_kernel(self, e: Eqn) -> None:
        name = e.op.name
        refs = []
        for a in e.inputs:
            if isinstance(a, Literal):
                refs.append(Ref("const", (), a.aval.dtype, expr=_lit(a.value, a.aval.dtype)))
                continue
            r = self.refs[a]
            if name == "matmul" and not self._blas_ok(r, e):
                r = self.refs[self.materialise(a)]
            refs.append(r)
        it = self.new_item({"index": "gather", "concatenate": "concat", "max_dim": "arg",
                            "min_dim": "arg"}.get(name, name))
        it.eqns.append(e)
        it.refs = refs
        for r in refs:
            self.use(r)
        for v in e.outputs:
            self.producer[v] = it
            self.refs[v] = self.mem_ref(v)
            self.needs_buf.add(v)

    @staticmethod
    def _blas_ok(r: Ref, e: Eqn) -> bool:
        if e.outputs[0].aval.dtype.kind != "f" or r.kind != "mem":
            return True  # loop kernel reads anything
        shape, strides = r.shape, r.strides
        if len(shape) == 1:
            return strides[0] == 1 or shape[0] == 1
        m, k = shape[-2:]
        sm, sk = strides[-2:]
        c = (k == 1 or sk == 1) and (m == 1 or sm == k)
        t = (m == 1 or sm == 1) and (k == 1 or sk == m)
        return c or t

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
        self.emit(f"{self.arr(v)} = np.empty({_size(tuple(v.aval.shape))}, "
                  f"np.{v.aval.dtype.name})", indent)

    def generate(self) -> str:
        self.plan()
        self.out_index_vars = {v: k for k, v in enumerate(self.out_vars)}
        params = [self.arr(v) for v in [*self.graph.inputs, *self.out_vars]]
        sig = ", ".join(
            f"{_NUMBA_TYPES[v.aval.dtype.name]}[::1]" if v.aval.dtype.name in _NUMBA_TYPES
            else self._unsupported_dtype(v) for v in [*self.graph.inputs, *self.out_vars])
        for it in self.items:
            getattr(self, "emit_" + it.kind)(it)
        vm = sorted({f"{f}_{d[0]}{d[-2:]}" for f, d in self._vmath_used})
        head = [
            f'"""Generated by compiler.codegen from graph {self.graph_name!r}; do not edit."""',
            "import numba",
            "import numpy as np",
            "",
            "from runtime.jit import maximum, minimum, sigmoid  # noqa: F401",
        ]
        if vm:
            head.append(f"from runtime.vmath import {', '.join(vm)}")
        head += [
            "",
            "",
            f'@numba.njit("void({sig})", cache=True, error_model="numpy",',
            f"            fastmath={_FASTMATH})",
            f"def kernel({', '.join(params)}):",
        ]
        body = self.lines or ["    pass"]
        return "\n".join(head + body) + "\n"

    def _unsupported_dtype(self, v: Var) -> str:
        raise NotImplementedError(f"codegen: dtype {v.aval.dtype} is not supported by the "
                                  "numba backend")

    # elementwise expressions
    _vmath_used: set[tuple[str, str]]

    def ew_expr(self, e: Eqn, ops: list[str]) -> str:
        name = e.op.name
        out = e.outputs[0].aval.dtype
        in_dt = [a.aval.dtype for a in e.inputs]
        kind = e.op.extra.get("kind")
        if kind in ("same", "float", "compare", "logical", "where"):
            xs = [a.value.item() if isinstance(a, Literal) else a.aval for a in e.inputs]
            cd = elementwise_dtypes(kind, name, tuple(xs))[0] if xs else out
            start = 1 if kind == "where" else 0
            ops = [ops[i] if i < start else _cast(ops[i], in_dt[i], cd) for i in range(len(ops))]
            if kind == "where":
                ops[0] = _cast(ops[0], in_dt[0], np.dtype(np.bool_))
            expr = self._ew_template(name, ops, cd)
            if out.kind in "iu" and out != np.int64 and name not in ("neg",):
                expr = _cast(expr, np.dtype(np.int64), out)
            return expr
        x = ops[0]
        if name == "pow_scalar":
            ex = e.params["exponent"]
            if out.kind == "f":
                x = _cast(x, in_dt[0], out)
                if ex == 2:
                    return f"{x} * {x}"
                return f"{x} ** {_lit(ex, out)}"
            return _cast(f"{x} ** {int(ex)}", np.dtype(np.int64), out)
        if name == "clamp":
            x = _cast(x, in_dt[0], out)
            if e.params["lo"] is not None:
                x = f"maximum({x}, {_lit(e.params['lo'], out)})"
            if e.params["hi"] is not None:
                x = f"minimum({x}, {_lit(e.params['hi'], out)})"
            return x
        if name == "convert":
            return _cast(x, in_dt[0], out)
        raise NotImplementedError(f"codegen: elementwise op {name!r}")

    def _ew_template(self, name: str, x: list[str], cd: np.dtype) -> str:
        if name in _VMATH_FUNCS and cd.name in ("float32", "float64") and jit.HAVE_VMATH:
            self._vmath_used.add((name, cd.name))
            return f"{name}_{cd.name[0]}{cd.name[-2:]}({x[0]})"
        simple = {"exp": "np.exp({0})", "log": "np.log({0})", "log1p": "np.log1p({0})",
                  "sqrt": "np.sqrt({0})", "sin": "np.sin({0})", "cos": "np.cos({0})",
                  "tanh": "np.tanh({0})", "sigmoid": "sigmoid({0})", "abs": "abs({0})",
                  "sign": "np.sign({0})", "maximum": "maximum({0}, {1})",
                  "minimum": "minimum({0}, {1})", "logical_and": "{0} & {1}",
                  "logical_or": "{0} | {1}", "logical_not": "not {0}", "pow": "{0} ** {1}"}
        if name == "relu":
            z = _lit(0, cd)
            return f"{z} if {x[0]} <= {z} else {x[0]}"
        if name in ("copy", "stop_gradient"):
            return x[0]
        tmpl = simple.get(name) or OPS[name].lowering
        return tmpl.format(*x)

    def emit_group(self, g: Item) -> None:
        shape = g.shape
        n = len(shape)
        # every index map of the nest, over the group's (uncollapsed) dims
        reads: dict[tuple[int, Var], Ref] = {}
        maps: list[tuple[int, ...]] = []
        for k, e in enumerate(g.eqns):
            for j, a in enumerate(e.inputs):
                if isinstance(a, Var) and a not in g.locals:
                    r = self.refs[a].broadcast(shape) if self.refs[a].kind != "const" \
                        else self.refs[a]
                    reads[(k, j)] = r
                    if r.kind != "const":
                        maps.append(r.strides)
        cs = _c_strides(shape)
        stores = [v for e in g.eqns for v in e.outputs if v in g.locals and v in self.needs_buf]
        maps += [cs] * bool(stores)
        red_maps: dict[Var, tuple[int, ...]] = {}
        for e in g.eqns:
            if e.op.name in _REDUCE_OPS:
                axes = set(e.params["axes"])
                kept = [d for d in range(n) if d not in axes]
                oshape = tuple(shape[d] for d in kept)
                ocs = dict(zip(kept, _c_strides(oshape)))
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
        sizes = [_size(tuple(shape[d] for d in grp)) for grp in groups]
        idx = [f"i{c}" for c in range(nc)]

        def cstr(m: tuple[int, ...]) -> list[int]:
            return [m[grp[-1]] for grp in groups]

        self.emit(f"# ---- fused loop nest over [{','.join(map(str, shape))}]: "
                  f"{' '.join(self.name(e.outputs[0]) for e in g.eqns)}", 0)
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
                    ops.append(_lit(a.value, a.aval.dtype))
                elif a in g.locals:
                    ops.append(self.name(a))
                else:
                    r = reads[(k, j)]
                    ops.append(self.read(r, cstr(r.strides) if r.kind != "const" else [], idx))
            out = e.outputs[0]
            nm = self.name(out)
            text = self.eqn_text(e)
            if e.op.name in _REDUCE_OPS:
                self._emit_reduce(e, ops[0], red_maps[out], cstr, idx, pre, post, body, after,
                                  text)
                continue
            body.append((f"{nm} = {self.ew_expr(e, ops)}", text))
            if out in self.needs_buf:
                body.append((f"{self.arr(out)}[{self.index_expr(0, cstr(cs), idx)}] = {nm}",
                             ""))

        def nest(level: int) -> None:
            for line in pre[level]:
                self.emit(line, level)
            if level == nc:
                for line, c in body:
                    self.emit(line, level, c)
            else:
                self.emit(f"for {idx[level]} in range({sizes[level]}):", level)
                nest(level + 1)
            for line in post[level]:
                self.emit(line, level)

        nest(0)
        for line in after:
            self.emit(line, 0)

    def _emit_reduce(self, e: Eqn, x: str, m: tuple[int, ...], cstr: Callable, idx: list[str],
                     pre: list[list[str]], post: list[list[str]], body: list[tuple[str, str]],
                     after: list[str], text: str) -> None:
        out = e.outputs[0]
        od = out.aval.dtype
        xd = e.inputs[0].aval.dtype
        name = self.name(out)
        self.alloc(out)
        arr = self.arr(out)
        osize = _size(tuple(out.aval.shape))
        strides = cstr(m)
        reduced = [c for c, s in enumerate(strides) if s == 0]
        nc = len(strides)
        suffix = reduced == list(range(nc - len(reduced), nc))
        op = e.op.name
        if op == "reduce_sum":
            ad = np.dtype(np.float64) if od.kind == "f" else np.dtype(np.int64)
            xv = x if xd == ad or xd.kind == "f" else _cast(x, xd, ad)
            init = _lit(0, ad)
        else:
            ad = od
            xv = x
            if od.kind == "f":
                init = _lit(-np.inf if op == "amax" else np.inf, od)
            elif od == np.bool_:
                init = repr(op == "amin")
            else:
                info = np.iinfo(od)
                init = _lit(info.min if op == "amax" else info.max, od)
        cmp = ">" if op == "amax" else "<"
        nan = " or _t != _t" if od.kind == "f" else ""
        if suffix:
            acc = f"{name}_acc"
            level = nc - len(reduced)
            pre[level].append(f"{acc} = {init}")
            if op == "reduce_sum":
                body.append((f"{acc} += {xv}", text))
            else:
                body.append((f"_t = {xv}", text))
                body.append((f"{acc} = _t if (_t {cmp} {acc}{nan}) else {acc}", ""))
            oi = self.index_expr(0, strides, idx)
            post[level].append(f"{arr}[{oi}] = {_cast(acc, ad, od)}")
            return
        oi = self.index_expr(0, strides, idx)
        if op == "reduce_sum" and ad != od:
            acc = f"{name}_acc"
            pre[0].append(f"{acc} = np.zeros({osize}, np.{ad.name})")
            after.append(f"for _j in range({osize}):")
            after.append(f"    {arr}[_j] = {_cast(f'{acc}[_j]', ad, od)}")
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
        batch = tuple(out.aval.shape[:len(out.aval.shape) - (len(a_sh) > 1) - (len(b_sh) > 1)])
        ra2 = Ref(ra.kind, a2, ra.dtype, ra.base, ra.offset, sa, ra.expr)
        rb2 = Ref(rb.kind, b2, rb.dtype, rb.base, rb.offset, sb, rb.expr)
        ra2 = ra2.broadcast(batch + (M, K)) if ra2.kind != "const" else ra2
        rb2 = rb2.broadcast(batch + (K, N)) if rb2.kind != "const" else rb2
        bidx, ind = self.loops(batch, "b", 0)
        nb = len(batch)
        ocs = _c_strides(batch + (M, N))
        oarr = self.arr(out)
        dt = out.aval.dtype
        if dt.kind == "f" and M * N * K > 0 and ra2.kind == rb2.kind == "mem":
            def operand(r: Ref, rows: int, cols: int) -> str:
                off = self.index_expr(r.offset, list(r.strides[:nb]), bidx)
                s0, s1 = r.strides[nb:]
                c = (cols == 1 or s1 == 1) and (rows == 1 or s0 == cols)
                arr = self.arr(r.base)
                whole = off == "0" and _size(r.base.aval.shape) == rows * cols
                src = arr if whole else f"{arr}[{off}:{off} + {rows * cols}]"
                return f"{src}.reshape(({rows}, {cols}))" if c else \
                    f"{src}.reshape(({cols}, {rows})).T"
            ooff = self.index_expr(0, list(ocs[:nb]), bidx)
            osrc = oarr if not nb else f"{oarr}[{ooff}:{ooff} + {M * N}]"
            self.emit(f"np.dot({operand(ra2, M, K)}, {operand(rb2, K, N)}, "
                      f"{osrc}.reshape(({M}, {N})))", ind)
            return
        mi, ni, ki = "_m", "_n", "_k"
        self.emit(f"for {mi} in range({M}):", ind)
        self.emit(f"for {ni} in range({N}):", ind + 1)
        ad = np.dtype(np.float64) if dt.kind == "f" else np.dtype(np.int64)
        self.emit(f"_acc = {_lit(0, ad)}", ind + 2)
        self.emit(f"for {ki} in range({K}):", ind + 2)
        av = self.read(ra2, list(ra2.strides), bidx + [mi, ki])
        bv = self.read(rb2, list(rb2.strides), bidx + [ki, ni])
        self.emit(f"_acc += {_cast(av, ra2.dtype, ad)} * {_cast(bv, rb2.dtype, ad)}", ind + 3)
        oi = self.index_expr(0, list(ocs), bidx + [mi, ni])
        self.emit(f"{oarr}[{oi}] = {_cast('_acc', ad, dt)}", ind + 2)

    def _indexed(self, spec: tuple[Any, ...], target: Ref, arr_refs: list[Ref], indent: int,
                 ) -> tuple[list[str], tuple[int, ...], str, int]:
        """Loops over the result of target[spec]; returns (loop indices, result shape,
        flat offset expression into target, indentation of the loop body)."""
        has_arr = any(item[0] == "arr" for item in spec)
        if has_arr:
            shape, origins = _adv_layout(spec, [r.shape for r in arr_refs])
        else:
            shape = tuple(1 if item[0] == "new" else len(range(*item[1:]))
                          for item in spec if item[0] != "int")
            origins = [("basic", k) for k, item in enumerate(spec) if item[0] != "int"]
        idx, ind = self.loops(shape, "j", indent)
        bshape = np.broadcast_shapes(*[r.shape for r in arr_refs]) if arr_refs else ()
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
                expr = f"({start} + {step}*{pos[k]})" if step != 1 else \
                    (f"({start} + {pos[k]})" if start else pos[k])
                terms.append(f"{st}*{expr}" if st != 1 else expr)
            else:
                r = arr_refs[item[1]].broadcast(tuple(bshape))
                t = f"_t{k}"
                self.emit(f"{t} = {self.read(r, list(r.strides), adv_idx)}", ind)
                self.emit(f"if {t} < 0:", ind)
                self.emit(f"{t} += {size}", ind + 1)
                self.emit(f"if {t} < 0 or {t} >= {size}:", ind)
                self.emit(f'raise IndexError("index out of bounds for an axis of size '
                          f'{size}")', ind + 1)
                terms.append(f"{st}*{t}" if st != 1 else t)
            dim += 1
        return idx, shape, " + ".join(terms) or "0", ind

    def emit_gather(self, it: Item) -> None:
        e = it.eqns[0]
        out = e.outputs[0]
        self.emit(f"# ---- {self.eqn_text(e)}", 0)
        self.alloc(out)
        idx, shape, src, ind = self._indexed(e.params["spec"], it.refs[0], it.refs[1:], 0)
        oi = self.index_expr(0, list(_c_strides(shape)), idx)
        x = it.refs[0]
        val = x.expr if x.kind == "const" else (
            f"np.{x.dtype.name}({src})" if x.kind == "iota" else f"{self.arr(x.base)}[{src}]")
        self.emit(f"{self.arr(out)}[{oi}] = {val}", ind)

    def emit_index_add(self, it: Item) -> None:
        e = it.eqns[0]
        out = e.outputs[0]
        self.emit(f"# ---- {self.eqn_text(e)}", 0)
        self.alloc(out)
        oarr = self.arr(out)
        self.emit(f"{oarr}[:] = 0", 0)
        target = self.mem_ref(out)
        idx, shape, dst, ind = self._indexed(e.params["spec"], target, it.refs[1:], 0)
        g = it.refs[0].broadcast(shape) if it.refs[0].kind != "const" else it.refs[0]
        self.emit(f"{oarr}[{dst}] += {self.read(g, list(g.strides), idx)}", ind)

    def emit_index_put(self, it: Item) -> None:
        e = it.eqns[0]
        out = e.outputs[0]
        self.emit(f"# ---- {self.eqn_text(e)}", 0)
        self.alloc(out)
        oarr = self.arr(out)
        x = it.refs[0]
        oshape = tuple(out.aval.shape)
        xi, ind = self.loops(oshape, "j", 0)
        xb = x.broadcast(oshape) if x.kind != "const" else x
        self.emit(f"{oarr}[{self.index_expr(0, list(_c_strides(oshape)), xi)}] = "
                  f"{self.read(xb, list(xb.strides), xi)}", ind)
        idx, shape, dst, ind = self._indexed(e.params["spec"], self.mem_ref(out),
                                             it.refs[2:], 0)
        v = it.refs[1].broadcast(shape) if it.refs[1].kind != "const" else it.refs[1]
        self.emit(f"{oarr}[{dst}] = {self.read(v, list(v.strides), idx)}", ind)

    def emit_concat(self, it: Item) -> None:
        e = it.eqns[0]
        out = e.outputs[0]
        axis = e.params["axis"]
        self.emit(f"# ---- {self.eqn_text(e)}", 0)
        self.alloc(out)
        ocs = _c_strides(tuple(out.aval.shape))
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
        oi = self.index_expr(0, list(_c_strides(outer)), idx)
        self.emit(f"{va}[{oi}] = _best", ind)
        self.emit(f"{ia}[{oi}] = _arg", ind)


def generate(graph: Graph, name: str = "graph") -> tuple[str, _Codegen]:
    """The generated module source for `graph` (and the planner, for the wrapper)."""
    cg = _Codegen(graph, name)
    cg._vmath_used = set()
    return cg.generate(), cg


def compile_graph(graph: Graph, name: str = "graph") -> Callable[[list[np.ndarray]],
                                                                  list[np.ndarray]]:
    """Compile `graph` to a numba-jitted callable: arrays in, list of arrays out."""
    source, cg = generate(graph, name)
    module = jit.load_graph_module(source, name=f"tg_{name}")
    inputs = [(tuple(v.aval.shape), v.aval.dtype) for v in graph.inputs]
    return jit.CompiledGraph(module.kernel, inputs, cg.out_specs, source)
