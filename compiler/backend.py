"""How a staged graph runs: generated numba code, or the reference interpreter.

`lower(graph, name)` returns an `Executable`: call it with the input arrays (in
`graph.inputs` order) to get the output arrays. By default that is the numba
kernel of `compiler.codegen`, loaded through the disk cache; with the
environment variable ``TRACER_DISABLE_JIT=1`` (read at each lowering) it is the
reference interpreter. A compile that takes more than a second shows a progress
note on stderr where someone watches (`runtime.progress`). A graph the numba
backend cannot lower (an unsupported dtype such as float16) runs on the
interpreter with a `TracerWarning` that says why; it never falls back silently.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from compiler.codegen import Unsupported, compile_graph
from compiler.errors import TracerWarning
from compiler.ir import Graph
from compiler.plan import to_plan
from runtime import progress
from runtime.interpreter import run

__all__ = ["Executable", "Interpreted", "jit_enabled", "lower"]


class Executable(Protocol):
    #: the generated module's source, or None for the interpreter
    source: str | None
    #: outputs are new arrays that alias neither the inputs nor each other
    fresh: bool

    def __call__(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]: ...


class Interpreted:
    """A graph run step by step with numpy (`runtime.interpreter`)."""

    source = None
    fresh = False

    def __init__(self, graph: Graph) -> None:
        self.plan = to_plan(graph)

    def __call__(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        return run(self.plan, arrays)


def jit_enabled() -> bool:
    """False when ``TRACER_DISABLE_JIT`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get("TRACER_DISABLE_JIT", "").strip() in ("", "0")


def lower(graph: Graph, name: str = "graph") -> Executable:
    """The executable form of `graph`; `name` names the generated module."""
    if not jit_enabled():
        return Interpreted(graph)
    try:
        # a long compile shows a note on stderr (runtime.progress; TRACER_PROGRESS=0: never)
        with progress.compiling(f"{name} ({len(graph.eqns)} equations)"):
            return compile_graph(graph, name)
    except Unsupported as e:
        warnings.warn(
            f"{name}: running on the reference interpreter (slow): {e}", TracerWarning, stacklevel=2
        )
        return Interpreted(graph)
