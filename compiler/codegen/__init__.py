"""Lower a Graph to one generated numba module with one entry function.

    compile_graph(graph)([arrays in graph.inputs order]) -> [arrays in graph.outputs order]

Same contract as `runtime.interpreter.run(to_plan(graph), arrays)`. Three steps,
each working from data, never from generated text:

* `plan.plan_graph`: composite ops are staged into primitives
  (`compiler.decompose`), then every equation is planned by its lowering kind
  (`compiler.lowering`): elementwise ops and the reductions consuming them fuse
  into loop nests over one iteration space, views become affine index maps
  (`compiler.refs`; never copies), kernels (matmul, gathers, scatters) get items
  of their own, constants become expressions. Sizes are kernel arguments, so a
  new batch size usually generates the same text and reuses the machine code.
* `emit.emit_item`: one emitter per item kind writes each item's code; every
  line carries the IR equation it came from as a comment.
* `module.render`: the module, split into njit parts around BLAS calls and in
  long kernels, with each buffer allocated where it is first written.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from compiler.codegen import control  # noqa: F401  (adds the control-flow emitter)
from compiler.codegen.emit import emit_item
from compiler.codegen.module import render
from compiler.codegen.plan import KernelPlan, Unsupported, plan_graph
from compiler.ir import Graph
from runtime import jit

__all__ = ["Unsupported", "compile_graph", "executable", "generate", "module_name"]


def generate(graph: Graph, name: str = "graph") -> tuple[str, KernelPlan]:
    """The generated module's source for `graph`, and its plan."""
    plan = plan_graph(graph, name)
    return render(plan, [emit_item(plan, item) for item in plan.items]), plan


def compile_graph(
    graph: Graph, name: str = "graph"
) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """Compile `graph` to a numba-jitted callable: arrays in, list of arrays out."""
    source, plan = generate(graph, name)
    return executable(jit.load_graph_module(source, name=module_name(name)), plan, source)


def module_name(name: str) -> str:
    """The cache name of the generated module of graph `name`."""
    return f"tg_{name}"


def executable(module: ModuleType, plan: KernelPlan, source: str) -> jit.CompiledGraph:
    """The caller of `module` (generated from `plan` as `source`)."""
    inputs = [(tuple(v.aval.shape), v.aval.dtype) for v in plan.graph.inputs]
    return jit.CompiledGraph(
        module.kernel, inputs, plan.out_specs, source, tuple(plan.sizes.values)
    )
