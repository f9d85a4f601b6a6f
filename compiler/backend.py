"""How a staged graph runs: generated numba code, or the reference interpreter.

`lower(graph, name)` returns an `Executable`: call it with the input arrays (in
`graph.inputs` order) to get the output arrays. By default that is the numba
kernel of `compiler.codegen`, loaded through the disk cache; with the
environment variable ``TRACER_DISABLE_JIT=1`` (read at each lowering) it is the
reference interpreter.

A kernel not in the disk cache compiles per the compile mode (`runtime.background`:
``TRACER_COMPILE``, `tracer.set_compile_mode`). In the background mode (the default)
`lower` returns a `Background` executable at once: it runs the graph on the
interpreter until another process has compiled the kernel, then switches to it. In
the sync mode the call compiles and waits; a compile that takes more than a second
then shows a progress note on stderr where someone watches (`runtime.progress`). A
graph the numba
backend cannot lower (an unsupported dtype such as float16) runs on the
interpreter with a `TracerWarning` that says why; it never falls back silently.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Protocol

import numpy as np

from compiler.codegen import Unsupported, executable, generate, module_name
from compiler.codegen.plan import KernelPlan
from compiler.errors import TracerWarning
from compiler.ir import Graph
from compiler.plan import to_plan
from runtime import background, jit, progress
from runtime.interpreter import run

__all__ = ["Background", "Executable", "Interpreted", "jit_enabled", "lower"]


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


class Background:
    """A graph whose kernel compiles in another process (`runtime.background`): calls
    run on the interpreter until the kernel is loaded, then on the kernel. Both compute
    the same values up to float rounding (the interpreter is the kernel's test oracle).
    If the compile fails, calls stay on the interpreter and the next one warns why."""

    fresh = True

    def __init__(self, graph: Graph, plan: KernelPlan, source: str, name: str) -> None:
        self.source = source
        self.sizes = tuple(plan.sizes.values)
        self.name = name
        self._plan = plan
        self._interpreted = Interpreted(graph)
        self._kernel: jit.CompiledGraph | None = None
        self._failure: str | None = None
        self._done = threading.Event()
        background.submit(source, module_name(name), self._switch, self._fail)

    @property
    def ready(self) -> bool:
        """Whether calls run the compiled kernel now."""
        return self._kernel is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the compile has finished (or failed), at most `timeout` seconds;
        returns `ready`."""
        self._done.wait(timeout)
        return self.ready

    def _switch(self, module: ModuleType) -> None:
        try:
            self._kernel = executable(module, self._plan, self.source)
        except Exception as e:  # noqa: BLE001  (stays on the interpreter, with a warning)
            self._fail(f"{type(e).__name__}: {e}")
        self._done.set()

    def _fail(self, why: str) -> None:
        self._failure = why
        self._done.set()

    def __call__(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        kernel = self._kernel
        if kernel is not None:
            return kernel(arrays)
        if self._failure is not None:
            why, self._failure = self._failure, None
            warnings.warn(
                f"{self.name}: the background compile failed, so this function keeps "
                f"running on the reference interpreter (slow): {why}. "
                "TRACER_COMPILE=sync compiles in this process instead.",
                TracerWarning,
                stacklevel=3,
            )
        return fresh_outputs(self._interpreted(arrays), arrays)


def fresh_outputs(outs: list[np.ndarray], arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Outputs as the kernel gives them: writeable, aliasing no input and no other output
    (two gradients may be one array in a graph; a gradient may be a broadcast view)."""
    fresh: list[np.ndarray] = []
    for o in outs:
        if (
            not o.flags.writeable
            or any(np.may_share_memory(o, a) for a in arrays)
            or any(np.may_share_memory(o, f) for f in fresh)
        ):
            o = o.copy()
        fresh.append(o)
    return fresh


def jit_enabled() -> bool:
    """False when ``TRACER_DISABLE_JIT`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get("TRACER_DISABLE_JIT", "").strip() in ("", "0")


def lower(graph: Graph, name: str = "graph") -> Executable:
    """The executable form of `graph`; `name` names the generated module."""
    if not jit_enabled():
        return Interpreted(graph)
    try:
        source, plan = generate(graph, name)
    except Unsupported as e:
        warnings.warn(
            f"{name}: running on the reference interpreter (slow): {e}", TracerWarning, stacklevel=2
        )
        return Interpreted(graph)
    if background.compile_mode() == "background" and not jit.graph_module_cached(
        source, module_name(name)
    ):
        try:
            return Background(graph, plan, source, name)
        except background.Unavailable:  # at interpreter exit: compile here instead
            pass
    # a long compile shows a note on stderr (runtime.progress; TRACER_PROGRESS=0: never)
    with progress.compiling(f"{name} ({len(graph.eqns)} equations)"):
        return executable(jit.load_graph_module(source, module_name(name)), plan, source)
