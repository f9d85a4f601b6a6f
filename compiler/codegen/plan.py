"""Planning a kernel: the data the emitters walk.

`plan_graph(graph, name)` decides, per equation and by its lowering kind alone,
how each value is read (a `Ref`: an affine map into a buffer, a constant, an
index expression), which equations fuse into which loop nests (`Nest`), which
ops run as kernels of their own (`KernelCall`), and which values need a buffer.
The result, a `KernelPlan`, is plain data: `compiler.codegen.emit` turns each
item into code and `compiler.codegen.module` assembles the module.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.decompose import decompose
from compiler.ir import Eqn, Graph, Literal, Var, var_name
from compiler.lowering import (
    Composite,
    Constant,
    Control,
    Elementwise,
    Kernel,
    Layout,
    Reduction,
    View,
)
from compiler.ops.reduce import reduced_shape
from compiler.refs import Dim, Ref, Sizes, c_strides, literal, size

__all__ = [
    "ControlCall",
    "Copy",
    "KernelCall",
    "KernelPlan",
    "Nest",
    "Unsupported",
    "plan_graph",
]

#: equations per fused loop nest at most: longer chains continue in the next nest
#: through a buffer (a loop body of thousands of lines compiles for minutes)
MAX_NEST = 150


class Unsupported(Exception):
    """The graph uses a dtype the numba backend cannot lower (not a bug: the caller
    may run the graph on the interpreter instead)."""


@dataclass(eq=False)
class Copy:
    """Store an outside value contiguously: `dst` becomes a copy of `src` (for a
    view no affine map can express, a BLAS operand, a returned view)."""

    src: Var
    dst: Var


@dataclass(eq=False)
class Nest:
    """One fused loop nest over `shape`: elementwise equations, the reductions that
    consume them, and copies. Values in `locals` live in scalar variables."""

    shape: tuple[int, ...]
    steps: list[Eqn | Copy] = field(default_factory=list)
    locals: set[Var] = field(default_factory=set)


@dataclass(eq=False)
class KernelCall:
    """One op with a kernel of its own (`compiler.kernels`), reading through `refs`."""

    eqn: Eqn
    refs: list[Ref]
    emit: Callable[..., None]


@dataclass(eq=False)
class ControlCall:
    """Structured control flow (`compiler.lowering.Control`): the op's sub-graphs are
    planned as kernels of their own (`subs`, by role: "branch0", "body", ...), generated
    as functions of the same module, and called in a loop or a branch. Inputs are read
    from contiguous buffers (`refs`)."""

    eqn: Eqn
    refs: list[Ref]
    kind: str
    subs: dict[str, KernelPlan]


Item = Nest | KernelCall | ControlCall


@dataclass(eq=False)
class KernelPlan:
    name: str
    graph: Graph  # the graph after decomposition
    origin: dict[Eqn, Eqn]  # decomposed equation -> the composite it came from
    sizes: Sizes
    names: dict[Var, str]
    shapes: dict[Var, tuple[int, ...]]  # symbolic shapes (sizes as expressions)
    refs: dict[Var, Ref]
    items: list[Item]
    buffered: set[Var]  # values the kernel writes to a buffer
    outputs: list[Var]  # output buffers, each once, in graph-output order
    out_specs: list[tuple[Any, ...]]  # per graph output: ("buf"|"lit"|"dup", ...)
    producer: dict[Var, int]  # value -> index of the item that computes it

    def shape(self, v: Var) -> tuple[int, ...]:
        return self.shapes.get(v) or self.sizes.dims(v.aval.shape)

    def arr(self, v: Var) -> str:
        """The flat array holding `v`: an argument (inputs, outputs) or a local buffer."""
        if v in self.input_set:
            return self.names[v]
        return self.names[v] + ("_out" if v in self.output_set else "_buf")

    #: a kernel function of the module other kernels call (a loop body): every output
    #: is a buffer it writes, and its functions' names start with `prefix`
    prefix: str = ""

    def __post_init__(self) -> None:
        self.input_set = set(self.graph.inputs)
        self.output_set = set(self.outputs)


def _names(orig: Graph, graph: Graph, origin: dict[Eqn, Eqn]) -> dict[Var, str]:
    """The IR printer's names for the original graph's values; a value made by a
    decomposition is named after the composite's output (`d_0`, `d_1`, ...)."""
    names: dict[Var, str] = {}
    order: list[Var] = list(orig.inputs)
    for e in orig.eqns:
        order += list(e.outputs) + [a for a in e.inputs if isinstance(a, Var)]
    for v in order:
        if v not in names:
            n = var_name(len(names))
            if keyword.iskeyword(n) or hasattr(builtins, n) or n in ("np", "numba", "jit"):
                n += "_"
            names[v] = n
    taken = set(names.values())
    for e in graph.eqns:
        for v in e.outputs:
            if v not in names:
                parent = origin.get(e)
                base = names.get(parent.outputs[0], "t") if parent is not None else "t"
                k = 0
                while f"{base}_{k}" in taken:
                    k += 1
                names[v] = f"{base}_{k}"
                taken.add(names[v])
    return names


class _Planner:
    def __init__(self, graph: Graph, name: str, prefix: str = "") -> None:
        self.name = name
        self.prefix = prefix
        self.graph, self.origin = decompose(graph)
        # the trip counts of loops are sizes too: a 10-step and a 1000-step loop share code
        self.sizes = Sizes(
            [tuple(v.aval.shape) for v in graph.inputs]
            + [
                (e.params["length"],)
                for e in self.graph.eqns
                if isinstance(e.op.lowering, Control) and "length" in e.params
            ]
        )
        self.names = _names(graph, self.graph, self.origin)
        self.shapes: dict[Var, tuple[int, ...]] = {}
        self.refs: dict[Var, Ref] = {}
        self.producer: dict[Var, int] = {}
        self.items: list[Item] = []
        self.buffered: set[Var] = set()
        self._copies = 0

    def shape(self, v: Var) -> tuple[int, ...]:
        return self.shapes.get(v) or self.sizes.dims(v.aval.shape)

    def mem_ref(self, v: Var) -> Ref:
        shape = self.shape(v)
        return Ref("mem", shape, v.aval.dtype, v, 0, c_strides(shape))

    def use(self, r: Ref) -> None:
        """A read through memory: the value read needs a buffer."""
        if r.kind == "mem" and r.base in self.producer:
            self.buffered.add(r.base)

    # ---- one planner per lowering kind -------------------------------------------
    def plan(self) -> KernelPlan:
        for v in self.graph.inputs:
            if v.aval.dtype.name not in _SUPPORTED:
                raise Unsupported(
                    f"codegen: dtype {v.aval.dtype} is not supported by the numba backend"
                )
            self.refs[v] = self.mem_ref(v)
        for e in self.graph.eqns:
            for v in e.outputs:
                if v.aval.dtype.name not in _SUPPORTED:
                    raise Unsupported(
                        f"codegen: dtype {v.aval.dtype} is not supported by the numba backend"
                    )
            _PLANNERS[type(e.op.lowering)](self, e)
        outputs, specs = self._outputs()
        return KernelPlan(
            self.name,
            self.graph,
            self.origin,
            self.sizes,
            self.names,
            self.shapes,
            self.refs,
            self.items,
            self.buffered,
            outputs,
            specs,
            self.producer,
            self.prefix,
        )

    def fused(self, e: Eqn) -> None:
        """Elementwise ops and reductions: into the latest nest over the same shape
        whose inputs are all computed before it."""
        x = e.inputs[0]
        if isinstance(e.op.lowering, Reduction):
            shape = self.shape(x)
            self.shapes[e.outputs[0]] = reduced_shape(shape, e.params["axes"], e.params["keepdims"])
        else:
            spans = [a for a in e.inputs if isinstance(a, Var)]
            shape = self.shape(spans[0]) if spans else self.sizes.dims(e.outputs[0].aval.shape)
            self.shapes[e.outputs[0]] = shape
        self._add_step(
            e,
            shape,
            [a for a in e.inputs if isinstance(a, Var)],
            e.outputs[0],
            local=not isinstance(e.op.lowering, Reduction),
        )

    def _add_step(
        self, step: Eqn | Copy, shape: tuple[int, ...], reads: list[Var], out: Var, local: bool
    ) -> None:
        nest = None
        for k in range(len(self.items) - 1, -1, -1):
            it = self.items[k]
            if (
                isinstance(it, Nest)
                and it.shape == shape
                and len(it.steps) < MAX_NEST
                and all(a in it.locals or self._ready(self.refs[a], k) for a in reads)
            ):
                nest = k
                break
        if nest is None:
            self.items.append(Nest(shape))
            nest = len(self.items) - 1
        n = self.items[nest]
        for a in reads:
            if a not in n.locals:
                self.use(self.refs[a])
        n.steps.append(step)
        self.producer[out] = nest
        self.refs[out] = self.mem_ref(out)
        if local:
            n.locals.add(out)
        else:
            self.buffered.add(out)

    def _ready(self, r: Ref, k: int) -> bool:
        """Is the value behind `r` computed before item `k`?"""
        return r.kind != "mem" or self.producer.get(r.base, -1) < k

    def copy(self, v: Var) -> Var:
        """A contiguous copy of `v`, computed in a nest."""
        c = Var(v.aval)
        self.names[c] = f"{self.names[v]}_c{self._copies or ''}"
        self._copies += 1
        self.shapes[c] = self.shape(v)
        self._add_step(Copy(v, c), self.shape(v), [v], c, local=True)
        return c

    def view(self, e: Eqn) -> None:
        x, out = e.inputs[0], e.outputs[0]
        r = self.refs[x]
        layout = self._layout(e, r)
        if layout is None:  # not affine in this layout: view a contiguous copy
            r = self.refs[self.copy(x)]
            layout = self._layout(e, r)
            assert layout is not None, f"{e.op.name}: no affine view of a contiguous value"
        self.shapes[out] = layout.shape
        if r.kind == "const":
            nr = Ref("const", layout.shape, r.dtype, expr=r.expr, strides=(0,) * len(layout.shape))
        else:
            nr = r.with_map(layout.shape, layout.offset, layout.strides)
        self.use(nr)
        self.refs[out] = nr

    def _layout(self, e: Eqn, r: Ref) -> Layout | None:
        strides = r.strides if r.kind != "const" else (0,) * len(r.shape)
        return e.op.lowering.affine(Layout(r.shape, strides, r.offset), self.sizes, **e.params)

    def kernel(self, e: Eqn) -> None:
        lowering: Kernel = e.op.lowering
        refs = []
        for a in e.inputs:
            if isinstance(a, Literal):
                refs.append(Ref("const", (), a.aval.dtype, expr=literal(a.value, a.aval.dtype)))
                continue
            r = self.refs[a]
            if lowering.contiguous is not None and not lowering.contiguous(r, e):
                r = self.refs[self.copy(a)]
            refs.append(r)
        self.items.append(KernelCall(e, refs, lowering.emit))
        for r in refs:
            self.use(r)
        self._symbolic_shapes(e)
        for v in e.outputs:
            self.producer[v] = len(self.items) - 1
            self.refs[v] = self.mem_ref(v)
            self.buffered.add(v)

    def _symbolic_shapes(self, e: Eqn) -> None:
        """The outputs' shapes as size expressions: the op's shape rule run on the
        inputs' symbolic shapes (a `Dim` is an int that keeps its expression through
        + and *: concatenation's size along its axis is `d0 + d0`)."""
        avals = [
            a.aval if isinstance(a, Literal) else a.aval._replace(shape=self.shape(a))
            for a in e.inputs
        ]
        try:
            out = e.op.abstract_eval(*avals, **e.params)
        except Exception:  # a rule that needs concrete sizes: name them one by one
            return
        for v, aval in zip(e.outputs, out if e.op.multiple_results else (out,)):
            self.shapes[v] = tuple(
                d if isinstance(d, Dim) else self.sizes.dim(d) for d in aval.shape
            )

    def constant(self, e: Eqn) -> None:
        self.refs[e.outputs[0]] = e.op.lowering.make(_ConstCode(self, e), e)

    def control(self, e: Eqn) -> None:
        """A loop or branch: its sub-graphs become kernels of their own; its inputs are
        read from contiguous buffers (copies of views and constants)."""
        refs = []
        for a in e.inputs:
            r = self.refs[a]
            whole = (
                r.kind == "mem"
                and r.offset == 0
                and r.strides == c_strides(r.shape)
                and int(size(r.shape)) == int(size(self.shape(r.base)))
            )
            if not whole:  # a view of part of a buffer, or a constant: a copy of its own
                r = self.refs[self.copy(a)]
            refs.append(r)
        base = f"{self.prefix}{self.names[e.outputs[0]]}_"
        subs: dict[str, KernelPlan] = {}
        for key in e.op.lowering.graphs:
            value = e.params[key]
            graphs = value if isinstance(value, tuple) else (value,)
            for j, g in enumerate(graphs):
                if isinstance(g, Graph):
                    role = key + (str(j) if isinstance(value, tuple) else "")
                    subs[role] = _Planner(g, f"{self.name}/{role}", base + role + "_").plan()
        self.items.append(ControlCall(e, refs, e.op.lowering.kind, subs))
        for r in refs:
            self.use(r)
        for v in e.outputs:
            self.producer[v] = len(self.items) - 1
            self.refs[v] = self.mem_ref(v)
            self.buffered.add(v)

    def composite(self, e: Eqn) -> None:  # pragma: no cover - decompose() removed them
        raise AssertionError(f"composite op {e.op.name} reached code generation")

    def _outputs(self) -> tuple[list[Var], list[tuple[Any, ...]]]:
        """Each graph output: a literal, a duplicate of an earlier output, or a buffer
        the kernel writes (a value that is not one already gets a copy)."""
        outs: list[Var] = []
        specs: list[tuple[Any, ...]] = []
        first: dict[Var, int] = {}
        for k, a in enumerate(self.graph.outputs):
            if isinstance(a, Literal) and self.prefix:  # a called kernel writes every output
                c = Var(a.aval)
                self.names[c] = f"lit{k}"
                self.refs[c] = Ref("const", (), a.aval.dtype, expr=literal(a.value, a.aval.dtype))
                a = c
            if isinstance(a, Literal):
                specs.append(("lit", a.value, a.aval.dtype))
                continue
            if a in first and self.prefix:
                a = self.copy(a)
            if a in first:
                specs.append(("dup", first[a]))
                continue
            first[a] = k
            r = self.refs[a]
            v = a if r.kind == "mem" and r.base is a and a in self.producer else self.copy(a)
            self.buffered.add(v)
            outs.append(v)
            specs.append(("buf", tuple(map(int, v.aval.shape)), v.aval.dtype))
        return outs, specs


class _ConstCode:
    """What a `Constant` lowering builds its value with."""

    def __init__(self, planner: _Planner, e: Eqn) -> None:
        self.planner = planner
        self.out = e.outputs[0]
        self.shape = planner.shape(self.out)

    def lit(self, value: Any, dtype: Any) -> str:
        return literal(value, np.dtype(dtype))

    def const(self, expr: str) -> Ref:
        """A value equal to `expr` everywhere."""
        return Ref(
            "const", self.shape, self.out.aval.dtype, expr=expr, strides=(0,) * len(self.shape)
        )

    def iota(self, axis: int) -> Ref:
        """Each element's index along `axis`."""
        strides = tuple(1 if d == axis else 0 for d in range(len(self.shape)))
        return Ref("iota", self.shape, self.out.aval.dtype, None, 0, strides)

    def count(self, x: Var, axes: tuple[int, ...], dtype: Any) -> str:
        """The number of elements of `x` over `axes`, from the kernel's sizes."""
        shape = self.planner.shape(x)
        return f"np.{np.dtype(dtype).name}({size(tuple(shape[a] for a in axes))})"


_PLANNERS: dict[type, Callable[[_Planner, Eqn], None]] = {
    Elementwise: _Planner.fused,
    Reduction: _Planner.fused,
    View: _Planner.view,
    Kernel: _Planner.kernel,
    Constant: _Planner.constant,
    Composite: _Planner.composite,
    Control: _Planner.control,
}

_SUPPORTED = ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")


def plan_graph(graph: Graph, name: str = "graph") -> KernelPlan:
    """The plan of the kernel computing `graph` (raises Unsupported for dtypes numba
    cannot lower)."""
    return _Planner(graph, name).plan()
