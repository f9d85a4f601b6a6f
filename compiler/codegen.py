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
* matmul calls numpy's BLAS, `np.dot(a, b, out)` on 2-D reshaped (or
  transposed) views, from a plain Python entry that runs the njit parts in
  turn (numba's own np.dot would need scipy); a long kernel is also cut into
  parts. Gathers/scatters (index with arrays, index_add, index_put),
  concatenate and max_dim/min_dim are explicit loops.
* Sizes are arguments of the kernel (`compiler.refs.Sizes`): the text does
  not depend on the batch size, so a retrace for a new batch size reuses the
  compiled machine code.

The split: this module plans (naming, refs, grouping, elementwise expressions);
`compiler.emit` writes the loops; `compiler.refs` holds sizes and index maps.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.emit import REDUCE_OPS, Emitter, Item
from compiler.fusion import decompose
from compiler.ir import Atom, Eqn, Graph, Literal, Var
from compiler.ops.elementwise import elementwise_dtypes
from compiler.refs import Ref, Sizes, basic_index_ref, c_strides, cast, literal, reshape_ref
from compiler.registry import OPS, AVal
from runtime import jit

__all__ = ["Unsupported", "compile_graph", "generate"]


class Unsupported(Exception):
    """The graph uses an op or dtype the numba backend cannot lower (not a bug: the
    caller may run the graph on the interpreter instead)."""


_FASTMATH = "{" + ", ".join(repr(f) for f in sorted(jit.FASTMATH)) + "}"
_VIEW_OPS = ("reshape", "transpose", "broadcast_to")
#: equations per fused loop nest at most: longer chains continue in the next nest
#: through a buffer (a loop body of thousands of lines compiles for minutes)
MAX_GROUP = 150
_NUMBA_TYPES = {
    "float32": "float32",
    "float64": "float64",
    "int64": "int64",
    "int32": "int32",
    "int16": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "boolean",
}
_VMATH_FUNCS = ("exp", "log", "log1p", "tanh", "sigmoid")


class _Codegen(Emitter):
    """Plans and writes the module of one graph (`generate()` returns its source)."""

    def __init__(self, graph: Graph, name: str) -> None:
        self.orig = graph
        self.graph_name = name
        self.graph, self.origin = decompose(graph)
        self.sizes = Sizes([tuple(v.aval.shape) for v in graph.inputs])
        self._f32_sums = []
        self.parallel = False
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
            p = "[" + " ".join(f"{k}={self._param_text(k, v)}" for k, v in params.items()) + "]"
        lhs = " ".join(
            f"{self.name(v)}:{dtypes.short_name(v.aval.dtype)}[{','.join(map(str, self.shape(v)))}]"
            for v in e.outputs
        )
        rhs = " ".join(self.atom(a) for a in e.inputs)
        text = f"{lhs} = {e.op.name}{p} {rhs}".rstrip()
        parent = self.origin.get(e)
        if parent is not None:
            text += f"  (from {parent.op.name} -> {self.name(parent.outputs[0])})"
        return text

    def _param_text(self, key: str, value: Any) -> str:
        if isinstance(value, np.dtype):
            return dtypes.short_name(value)
        if key == "shape":
            return repr(self.sizes.dims(value))
        return repr(value)

    # ---- planning: refs, groups, kernel items -------------------------------
    def mem_ref(self, v: Var) -> Ref:
        shape = self.shape(v)
        return Ref("mem", shape, v.aval.dtype, v, 0, c_strides(shape))

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
        c = Var(AVal(self.shape(v), v.aval.dtype))
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
                v = Var(AVal(self.shape(a), a.aval.dtype))
                e = Eqn(OPS["copy"], [a], {}, [v])
                self.names[v] = self.name(a) + "_c"
                self.plan_fused(e)
            self.needs_buf.add(v)
            self.out_vars.append(v)
            self.out_specs.append(("buf", tuple(map(int, v.aval.shape)), v.aval.dtype))
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
            self.refs[out] = Ref(
                "const",
                self.shape(out),
                out.aval.dtype,
                expr=literal(e.params["value"], e.params["dtype"]),
            )
        elif name == "iota":
            shape, axis = self.sizes.dims(e.params["shape"]), e.params["axis"]
            strides = tuple(1 if d == axis else 0 for d in range(len(shape)))
            self.refs[out] = Ref("iota", shape, out.aval.dtype, None, 0, strides)
        elif name in _VIEW_OPS or (name == "index" and len(e.inputs) == 1):
            x = e.inputs[0]
            r = self.refs[x]
            shape = self.shape(out)
            if name == "broadcast_to":
                nr = r.broadcast(shape)
            elif name == "transpose":
                perm = e.params["perm"]
                nr = (
                    r.with_map(shape, r.offset, tuple(r.strides[p] for p in perm))
                    if r.kind != "const"
                    else r.with_map(shape, 0, (0,) * len(shape))
                )
            elif name == "reshape":
                nr = reshape_ref(r, shape)
                if nr is None:
                    nr = reshape_ref(self.refs[self.materialise(x)], shape)
            else:
                nr = basic_index_ref(r, e.params["spec"])
            self.use(nr)
            self.refs[out] = nr
        elif e.op.elementwise or name in REDUCE_OPS:
            self.plan_fused(e)
        elif name in (
            "matmul",
            "index",
            "index_add",
            "index_put",
            "concatenate",
            "max_dim",
            "min_dim",
        ):
            self.plan_kernel(e)
        else:
            raise Unsupported(f"codegen: op {name!r} is not supported by the numba backend yet")

    def plan_fused(self, e: Eqn) -> None:
        reduce = e.op.name in REDUCE_OPS
        out = e.outputs[0]
        shape = self.shape(e.inputs[0]) if reduce else self.shape(out)
        chosen = None
        for g in reversed(self.items):
            if (
                g.kind == "group"
                and g.shape == shape
                and len(g.eqns) < MAX_GROUP
                and self._fits(e, g)
            ):
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
                refs.append(Ref("const", (), a.aval.dtype, expr=literal(a.value, a.aval.dtype)))
                continue
            r = self.refs[a]
            if name == "matmul" and not self._blas_ok(r, e):
                r = self.refs[self.materialise(a)]
            refs.append(r)
        it = self.new_item(
            {"index": "gather", "concatenate": "concat", "max_dim": "arg", "min_dim": "arg"}.get(
                name, name
            )
        )
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

    def generate(self) -> str:
        self.plan()
        self.out_index_vars = {v: k for k, v in enumerate(self.out_vars)}
        arrays = [*self.graph.inputs, *self.out_vars]
        params = self.sizes.names + [self.arr(v) for v in arrays]
        sig = ", ".join(
            ["int64"] * len(self.sizes.values)
            + [
                f"{_NUMBA_TYPES[v.aval.dtype.name]}[::1]"
                if v.aval.dtype.name in _NUMBA_TYPES
                else self._unsupported_dtype(v)
                for v in arrays
            ]
        )
        spans = []
        for it in self.items:
            start = len(self.lines)
            getattr(self, "emit_" + it.kind)(it)
            spans.append((start, len(self.lines), it.host))
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
        segments = _segments(self.lines, spans)
        if len(segments) == 1 and not segments[0][0]:
            head += [
                "",
                "",
                f'@numba.njit("void({sig})",',
                f"            {_FLAGS}" + (", parallel=True)" if self.parallel else ")"),
                f"def kernel({', '.join(params)}):",
            ]
            return "\n".join(head + (self.lines or ["    pass"])) + "\n"
        types = {n: "int64" for n in self.sizes.names}
        types.update({self.arr(v): f"{_NUMBA_TYPES[v.aval.dtype.name]}[::1]" for v in arrays})
        return "\n".join(head + self._split(segments, params, types)) + "\n"

    def _split(
        self, segments: list[tuple[bool, list[str]]], params: list[str], types: dict[str, str]
    ) -> list[str]:
        """The kernel as a plain Python entry that runs host segments itself (matmuls:
        numpy's BLAS) and calls one njit function per other segment. Long kernels are
        cut into segments too: numba's compile time grows faster than linearly with a
        function's length. Segments share only arrays: a buffer that more than one
        uses is allocated by the entry."""
        arrays = set(params) - set(self.sizes.names)
        owner: dict[str, int] = {}
        for k, (_, lines) in enumerate(segments):
            for line in lines:
                m = _ALLOC.match(line)
                if m:
                    owner[m.group(1)] = k
                    types[m.group(1)] = f"{_NUMBA_TYPES[m.group(2)]}[::1]"
        used = [
            [n for n in dict.fromkeys(_NAME.findall("\n".join(lines))) if n in arrays or n in owner]
            for _, lines in segments
        ]
        shared = {n for k, names in enumerate(used) for n in names if n in owner and owner[n] != k}
        out: list[str] = []
        entry: list[str] = []
        for k, (host, lines) in enumerate(segments):
            if host:
                entry += lines
                continue
            body = []
            for line in lines:
                m = _ALLOC.match(line)
                (entry if m and m.group(1) in shared else body).append(line)
            args = self.sizes.names + [n for n in used[k] if n in arrays or n in shared]
            sig = ", ".join(types[n] for n in args)
            par = ", parallel=True" if any("numba.prange" in line for line in body) else ""
            out += [
                "",
                "",
                f'@numba.njit("void({sig})",',
                f"            {_FLAGS}{par})",
                f"def _part{k}({', '.join(args)}):",
                *body,
            ]
            entry.append(f"    _part{k}({', '.join(args)})")
        return out + [
            "",
            "",
            f"def kernel({', '.join(params)}):",
            '    """Runs the parts in order; matmuls call numpy\'s BLAS here."""',
            *entry,
        ]

    def _unsupported_dtype(self, v: Var) -> str:
        raise Unsupported(f"codegen: dtype {v.aval.dtype} is not supported by the numba backend")

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
            ops = [ops[i] if i < start else cast(ops[i], in_dt[i], cd) for i in range(len(ops))]
            if kind == "where":
                ops[0] = cast(ops[0], in_dt[0], np.dtype(np.bool_))
            expr = self._ew_template(name, ops, cd)
            if out.kind in "iu" and out != np.int64 and name not in ("neg",):
                expr = cast(expr, np.dtype(np.int64), out)
            return expr
        x = ops[0]
        if name == "pow_scalar":
            ex = e.params["exponent"]
            if out.kind == "f":
                x = cast(x, in_dt[0], out)
                if ex == 2:
                    return f"{x} * {x}"
                return f"{x} ** {literal(ex, out)}"
            return cast(f"{x} ** {int(ex)}", np.dtype(np.int64), out)
        if name == "clamp":
            x = cast(x, in_dt[0], out)
            if e.params["lo"] is not None:
                x = f"maximum({x}, {literal(e.params['lo'], out)})"
            if e.params["hi"] is not None:
                x = f"minimum({x}, {literal(e.params['hi'], out)})"
            return x
        if name == "convert":
            return cast(x, in_dt[0], out)
        raise Unsupported(f"codegen: elementwise op {name!r}")

    def _ew_template(self, name: str, x: list[str], cd: np.dtype) -> str:
        if name in _VMATH_FUNCS and cd.name in ("float32", "float64") and jit.HAVE_VMATH:
            self._vmath_used.add((name, cd.name))
            return f"{name}_{cd.name[0]}{cd.name[-2:]}({x[0]})"
        simple = {
            "exp": "np.exp({0})",
            "log": "np.log({0})",
            "log1p": "np.log1p({0})",
            "sqrt": "np.sqrt({0})",
            "sin": "np.sin({0})",
            "cos": "np.cos({0})",
            "tanh": "np.tanh({0})",
            "sigmoid": "sigmoid({0})",
            "abs": "abs({0})",
            "sign": "np.sign({0})",
            "maximum": "maximum({0}, {1})",
            "minimum": "minimum({0}, {1})",
            "logical_and": "{0} & {1}",
            "logical_or": "{0} | {1}",
            "logical_not": "not {0}",
            "pow": "{0} ** {1}",
        }
        if name == "relu":
            z = literal(0, cd)
            return f"{z} if {x[0]} <= {z} else {x[0]}"
        if name in ("copy", "stop_gradient"):
            return x[0]
        tmpl = simple.get(name) or OPS[name].lowering
        return tmpl.format(*x)


_ALLOC = re.compile(r"^    (\w+) = np\.(?:empty|zeros)\(.*, np\.(\w+)\)$")
_NAME = re.compile(r"[A-Za-z_]\w*")
_FLAGS = f'cache=True, error_model="numpy", fastmath={_FASTMATH}'
#: lines of generated code per function, roughly (whole items are never split)
PART_LINES = 400


def _segments(lines: list[str], spans: list[tuple[int, int, bool]]) -> list[tuple[bool, list[str]]]:
    """Items in order as (host, lines) segments: each host item on its own, the others
    in runs of at most about PART_LINES lines."""
    segs: list[tuple[bool, list[str]]] = []
    for start, end, host in spans:
        if (
            host
            or not segs
            or segs[-1][0]
            or (segs[-1][1] and len(segs[-1][1]) + end - start > PART_LINES)
        ):
            segs.append((host, []))
        segs[-1][1].extend(lines[start:end])
    return segs or [(False, [])]


def generate(graph: Graph, name: str = "graph") -> tuple[str, _Codegen]:
    """The generated module source for `graph` (and the planner, for the wrapper)."""
    cg = _Codegen(graph, name)
    cg._vmath_used = set()
    return cg.generate(), cg


def compile_graph(
    graph: Graph, name: str = "graph"
) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """Compile `graph` to a numba-jitted callable: arrays in, list of arrays out."""
    source, cg = generate(graph, name)
    module = jit.load_graph_module(source, name=f"tg_{name}")
    inputs = [(tuple(v.aval.shape), v.aval.dtype) for v in graph.inputs]
    return jit.CompiledGraph(module.kernel, inputs, cg.out_specs, source, tuple(cg.sizes.values))
