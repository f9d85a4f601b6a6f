"""Pictures of IR graphs: what a traced function staged, and how its kernel runs it.

One box per equation, labelled as the IR text prints it (`c = sub b 5.0`, with the
same value names as `f.ir()`), its result types (`f32[5]`) and the user's source
line; arrows carry values from the equation (or input) that made them to the
equations that use them. Inputs are blue and named by where they come from in the
call (`x`, `params['w1']`, a captured `self.w`), outputs green.

With `compiled=True` the graph is drawn as the numba backend plans it
(`compiler.codegen.plan.plan_graph`): composite ops decomposed into their primitives
(each marked with the op it came from), and the equations of each fused loop nest
(one loop over one iteration space) or kernel call (a BLAS matmul, a gather) in a
box of their own. Views and constants, which generate no code (they become index
maps and literals in the loops that read them), are dashed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler.codegen.plan import KernelCall, KernelPlan, Nest, Unsupported, plan_graph
from compiler.dtypes import short_name
from compiler.ir import Eqn, Graph, Literal, Var, var_name
from compiler.lowering import Constant, View
from tracer.viz.drawing import Dot, Drawing

__all__ = ["draw_graph", "draw_traced"]

INPUT = "lightblue"
OUTPUT = "darkolivegreen1"
NEST = "lightyellow"
KERNEL = "lavender"
WHICH = ("forward", "backward", "joint")


def printer_names(graph: Graph) -> dict[Var, str]:
    """The names `compiler.ir.pretty` gives: inputs first, then each equation's
    outputs and inputs in order of first appearance."""
    names: dict[Var, str] = {}
    order: list[Any] = list(graph.inputs)
    for e in graph.eqns:
        order += list(e.outputs) + list(e.inputs)
    for v in order:
        if isinstance(v, Var) and v not in names:
            names[v] = var_name(len(names))
    return names


def _param(v: Any) -> str:
    if isinstance(v, np.dtype):
        return short_name(v)
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _equation_text(e: Eqn, name: Any) -> str:
    """`c = sub b 5.0`: the equation as the IR printer writes it, without types."""
    params = {k: v for k, v in e.params.items() if v is not None and v is not False}
    p = "[" + " ".join(f"{k}={_param(v)}" for k, v in params.items()) + "]" if params else ""
    lhs = " ".join(name(v) for v in e.outputs)
    rhs = " ".join(name(a) for a in e.inputs)
    return f"{lhs} = {e.op.name}{p} {rhs}".rstrip()


class _Picture:
    """Writes one or more graphs into a Dot, nodes first, then the edges (an edge
    written inside a cluster would pull the nodes it names into that cluster)."""

    def __init__(self, name: str) -> None:
        self.dot = Dot(
            name,
            graph_attrs={
                "rankdir": "TB",
                "ranksep": "0.25",
                "nodesep": "0.25",
                "fontname": "Helvetica",
                "fontsize": "11",
            },
            node_attrs={
                "shape": "box",
                "style": "filled",
                "fillcolor": "white",
                "fontname": "monospace",
                "fontsize": "10",
                "height": "0.2",
            },
            edge_attrs={"fontname": "monospace", "fontsize": "10"},
        )
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        self.clusters = 0

    def add(
        self,
        graph: Graph,
        prefix: str,
        input_labels: Sequence[str],
        output_labels: Sequence[str | None],
        compiled: bool = False,
        kernel_name: str = "graph",
        linked: dict[int, str] | None = None,
    ) -> list[str | None]:
        """Draw `graph`; node ids start with `prefix`. `output_labels[k]` None: output k
        gets no box of its own (the caller links it). `linked`: input index -> the
        node that makes it elsewhere in the picture (drawn as an arrow from there).
        Returns, per output, the node that makes it (None for a literal)."""
        plan: KernelPlan | None = None
        if compiled:
            try:
                plan = plan_graph(graph, kernel_name)
            except Unsupported as e:
                raise ValueError(
                    f"draw(compiled=True): this graph has no fused kernel to draw: {e}; it "
                    "runs on the reference interpreter. Draw it with compiled=False."
                ) from None
            graph, names = plan.graph, plan.names
        else:
            names = printer_names(graph)

        def name(a: Any) -> str:
            return repr(a) if isinstance(a, Literal) else names.get(a, "?")

        made: dict[Var, str] = {}
        linked = linked or {}
        for k, v in enumerate(graph.inputs):
            if k in linked:
                made[v] = linked[k]
                continue
            nid = f"{prefix}i{k}"
            label = input_labels[k] if k < len(input_labels) else f"input {k}"
            if v in graph.consts:
                label = "constant"
            self.dot.node(nid, f"{name(v)}: {v.aval}\n{label}", fillcolor=INPUT)
            made[v] = nid

        ids = {e: f"{prefix}e{k}" for k, e in enumerate(graph.eqns)}
        for e in graph.eqns:
            for v in e.outputs:
                made[v] = ids[e]
        if plan is None:
            for e in graph.eqns:
                self._equation(e, ids[e], name, None)
        else:
            self._planned(plan, ids, name)

        from_elsewhere = {graph.inputs[k] for k in linked}
        for e in graph.eqns:
            for a in dict.fromkeys(a for a in e.inputs if isinstance(a, Var)):
                attrs = {}
                if a in from_elsewhere:  # a residual: name it as the backward graph does
                    attrs = {"style": "dashed", "color": "darkorange", "label": name(a)}
                self.edges.append((made[a], ids[e], attrs))

        makers: list[str | None] = []
        for k, a in enumerate(graph.outputs):
            label = output_labels[k] if k < len(output_labels) else f"output {k}"
            if isinstance(a, Literal):
                makers.append(None)
                if label is not None:
                    self.dot.node(f"{prefix}o{k}", f"{label}\n{a!r}: {a.aval}", fillcolor=OUTPUT)
                continue
            makers.append(made[a])
            if label is not None:
                self.dot.node(f"{prefix}o{k}", f"{label}\n{name(a)}: {a.aval}", fillcolor=OUTPUT)
                self.edges.append((made[a], f"{prefix}o{k}", {}))
        return makers

    def _equation(self, e: Eqn, nid: str, name: Any, plan: KernelPlan | None) -> None:
        lines = [_equation_text(e, name), " ".join(str(v.aval) for v in e.outputs)]
        attrs: dict[str, str] = {}
        if plan is not None:
            parent = plan.origin.get(e)
            if parent is not None and parent is not e:
                lines.append(f"part of {parent.op.name}")
            if isinstance(e.op.lowering, View):
                lines.append("view: an index map, no code")
                attrs["style"] = "dashed"
            elif isinstance(e.op.lowering, Constant):
                lines.append("constant: inlined where read")
                attrs["style"] = "dashed"
        if e.source_loc:
            lines.append(e.source_loc)
        self.dot.node(nid, "\n".join(lines), **attrs)

    def _planned(self, plan: KernelPlan, ids: dict[Eqn, str], name: Any) -> None:
        """The equations of each loop nest or kernel call in a cluster of their own."""
        placed: set[Eqn] = set()
        for k, item in enumerate(plan.items, 1):
            if isinstance(item, Nest):
                eqns = [s for s in item.steps if isinstance(s, Eqn)]
                copies = len(item.steps) - len(eqns)
                shape = "(" + ", ".join(str(int(d)) for d in item.shape) + ")"
                label = f"loop nest {k} over {shape}: {len(eqns)} op{'s' * (len(eqns) != 1)}"
                if copies:
                    label += f", {copies} cop{'ies' if copies != 1 else 'y'}"
                color = NEST
            elif isinstance(item, KernelCall):
                eqns = [item.eqn]
                label = f"kernel call {k}: {item.eqn.op.name}"
                color = KERNEL
            else:  # pragma: no cover - a new item kind must be drawn here
                raise AssertionError(f"cannot draw plan item {type(item).__name__}")
            self.clusters += 1
            self.dot.open_cluster(
                f"{self.dot.name}_{self.clusters}", label, style="rounded,filled", fillcolor=color
            )
            for e in eqns:
                self._equation(e, ids[e], name, plan)
                placed.add(e)
            self.dot.close_cluster()
        for e in plan.graph.eqns:
            if e not in placed:
                self._equation(e, ids[e], name, plan)

    def open(self, label: str) -> None:
        self.clusters += 1
        self.dot.open_cluster(f"{self.dot.name}_{self.clusters}", label, style="rounded")

    def close(self) -> None:
        self.dot.close_cluster()

    def drawing(self, title: str) -> Drawing:
        for tail, head, attrs in self.edges:
            self.dot.edge(tail, head, **attrs)
        return self.dot.drawing(title)


def draw_graph(
    graph: Graph,
    input_labels: Sequence[str] = (),
    output_labels: Sequence[str] = (),
    compiled: bool = False,
    title: str = "graph",
) -> Drawing:
    """Draw one IR graph. `input_labels`/`output_labels`: what each input and output
    is (default `input k`, `output k`). `compiled`: group equations by the fused loop
    nest or kernel call that runs them (raises ValueError for a graph the numba
    backend cannot lower)."""
    pic = _Picture("ir")
    pic.add(graph, "", input_labels, output_labels, compiled, title)
    return pic.drawing(title)


# ---- traced functions -----------------------------------------------------------------


def _input_labels(fn: Any, entry: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    """Per graph input: where it comes from (`x`, `params['w1']`, a captured `self.w`)."""
    (trees, kw, _), _ = fn._signature(args, kwargs)
    labels = [p for i, t in enumerate(trees) for p in t.leaf_paths(fn._argname(i))]
    labels += [p for k, t in kw for p in t.leaf_paths(k)]
    for src in entry.sources or [None] * len(entry.captured):
        labels.append(f"captured {src.path}" if src is not None else "captured tensor")
    return labels + ["constant"] * len(entry.consts)


def draw_traced(
    fn: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    which: str = "forward",
    compiled: bool = False,
) -> Drawing:
    """The picture behind `f.draw(*args, which=..., compiled=...)` of a traced function
    (`tracer.trace`) or of `tracer.value_and_grad`/`tracer.grad`.

    `which`: 'forward' (the graph `f.ir()` prints), 'backward' (`f.grad_ir()`), or
    'joint': for a traced function its forward-with-residuals and backward graphs side
    by side, each residual an arrow from the forward into the backward; for
    value_and_grad the one joint graph that runs (its only graph with gradients)."""
    if which not in WHICH:
        raise ValueError(f"draw(which={which!r}): which must be one of {', '.join(WHICH)}")
    entry, _ = fn._entry(args, kwargs)
    labels = _input_labels(fn, entry, args, kwargs)
    fname = getattr(fn, "__name__", "fn")
    outs = entry.out_tree.leaf_paths("output")
    pic = _Picture("ir")
    kernel = f"{fname}_{which}"
    if which == "forward":
        pic.add(entry.graph, "", labels, outs, compiled, kernel)
        return pic.drawing(f"the forward graph of {fname}")
    if hasattr(fn, "_joint"):  # value_and_grad/grad: one joint graph (tracer.trace)
        if which == "backward":
            raise ValueError(
                f"draw(which='backward'): {fname} is a value_and_grad/grad function, which "
                "stages forward and backward as one graph; draw it with which='joint' (or "
                "which='forward' for the function alone)"
            )
        _, graph = fn._joint(entry)
        starts = np.cumsum([0] + [t.num_leaves for t in entry.arg_trees]).tolist()
        wrt = [j for i in fn._nums for j in range(starts[i], starts[i + 1])]
        grads = [f"gradient for {labels[j]}" for j in wrt]
        pic.add(graph, "", labels, ["value", *grads], compiled, kernel)
        return pic.drawing(f"the joint value-and-gradient graph of {fname}")

    split = fn._split_for(args, kwargs)
    diff = next(d for d in entry.diffs.values() if d.split is split)
    grads = [f"gradient for {labels[j]}" for j in diff.wrt]
    n_res = split.n_residuals
    cotangents = [f"gradient of {o}" for o in outs]
    if which == "backward":
        residuals = [f"residual {k}" for k in range(n_res)]
        pic.add(split.backward, "", residuals + cotangents, grads, compiled, kernel)
        return pic.drawing(f"the backward graph of {fname}")
    pic.open("forward (also returns residuals for backward)")
    n_out = len(split.forward.outputs) - n_res
    makers = pic.add(
        split.forward,
        "f",
        labels,
        outs[:n_out] + [None] * n_res,
        compiled,
        f"{fname}_forward_with_residuals",
    )
    pic.close()
    residual_makers = makers[n_out:]
    pic.open("backward")
    linked = {k: m for k, m in enumerate(residual_makers) if m is not None}
    residuals = [f"residual {k}" for k in range(n_res)]
    pic.add(
        split.backward,
        "b",
        residuals + cotangents,
        grads,
        compiled,
        f"{fname}_backward",
        linked=linked,
    )
    pic.close()
    return pic.drawing(f"the forward and backward graphs of {fname}")
