"""Running generated numba code: scalar helpers it calls, and the call wrapper.

Generated modules (see compiler/codegen.py) import the helpers below and, when
it is importable and passes its tests, the vectorisable math of
`runtime.vmath`. `load_graph_module` imports generated source through the disk
cache (`runtime.cache.load_module`); `CompiledGraph` is the Python-side caller:
it flattens the inputs to contiguous 1-D arrays (copying the few that numba's
signature cannot take as they are), preallocates the outputs
and calls the module's entry once (an njit kernel, or a Python function that
runs njit parts and numpy's BLAS).

This module knows numpy and numba only (no compiler or tracer imports).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numba
import numpy as np

from runtime.cache import is_cached, load_module

__all__ = [
    "FASTMATH",
    "RUNTIME_KEY",
    "CompiledGraph",
    "graph_module_cached",
    "load_graph_module",
    "maximum",
    "minimum",
    "sigmoid",
    "threads",
    "HAVE_VMATH",
    "VMATH_FUNCTIONS",
]

from runtime.flags import FASTMATH  # noqa: E402  (re-exported: generated code uses it)
from runtime.scalarmath import *  # noqa: E402, F403  (helpers of the math ops)
from runtime.scalarmath import __all__ as _scalarmath

try:  # the vectorisable math; generated code falls back to libm if it is not usable
    from runtime.vmath import VMATH as _VMATH

    #: (function, dtype name) pairs with a vectorisable version in runtime.vmath
    VMATH_FUNCTIONS = frozenset(_VMATH)
except Exception:  # pragma: no cover - depends on the checkout
    VMATH_FUNCTIONS = frozenset()
HAVE_VMATH = bool(VMATH_FUNCTIONS)

# plain njit functions: LLVM inlines them into the generated loops (cheaper to compile
# than numba-level inline='always')
_scalar = numba.njit(error_model="numpy", fastmath=set(FASTMATH))


@_scalar
def maximum(a, b):
    """np.maximum on scalars: NaN if either is NaN."""
    return a if (a >= b or a != a) else b


@_scalar
def minimum(a, b):
    """np.minimum on scalars: NaN if either is NaN."""
    return a if (a <= b or a != a) else b


@_scalar
def sigmoid(x):
    """1/(1+exp(-x)) without overflow (libm fallback when vmath is unavailable)."""
    e = np.exp(-np.abs(x))
    one = e - e + 1
    return one / (one + e) if x >= 0 else e / (one + e)


__all__ += list(_scalarmath)


def threads() -> int:
    """Threads a generated loop may use: 1 unless TRACER_PARALLEL=1, then numba's
    NUMBA_NUM_THREADS (default: all cores).

    Off by default: on a machine whose cores are busy with other work, a threaded loop
    waits for its descheduled worker at every barrier, and numba's OpenMP workers and
    the BLAS threads oversubscribe the cores; measured on 2 shared cores, loops that
    take 0.1-2 ms serially then took 5-10 ms."""
    if os.environ.get("TRACER_PARALLEL", "").strip() not in ("1", "true", "yes"):
        return 1
    return int(numba.config.NUMBA_NUM_THREADS)


def _runtime_key() -> str:
    """Hash of the code generated modules call into (numba's cache does not track it)."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in ("jit.py", "vmath.py", "flags.py", "scalarmath.py", "special.py", "blas.py"):
        try:
            h.update((here / name).read_bytes())
        except OSError:
            pass
    return h.hexdigest()[:16]


RUNTIME_KEY = _runtime_key()


#: the cache key parts of generated graph modules
GRAPH_KEY = ("jit", RUNTIME_KEY)


def load_graph_module(
    source: str, name: str = "graph", directory: Path | None = None
) -> ModuleType:
    """Import generated source via the disk cache (compiles its entry on first import);
    `directory`: the cache directory (default `runtime.cache.cache_dir()`)."""
    return load_module(source, name=name, key_parts=GRAPH_KEY, directory=directory)


def graph_module_cached(source: str, name: str = "graph") -> bool:
    """Whether loading generated source compiles nothing (`runtime.cache.is_cached`)."""
    return is_cached(source, name=name, key_parts=GRAPH_KEY)


class CompiledGraph:
    """Calls a generated entry `kernel(*sizes, *inputs_flat, *outputs_flat)`.

    `inputs`: (shape, dtype) per input. `outputs`: per graph output one of
    ("buf", shape, dtype) - written by the kernel, ("lit", value, dtype) - a
    constant, ("dup", k) - a copy of output k. `sizes`: the kernel's size
    arguments for this signature (one kernel serves many signatures).
    """

    def __init__(
        self,
        kernel: Any,
        inputs: Sequence[tuple[tuple[int, ...], np.dtype]],
        outputs: Sequence[tuple[Any, ...]],
        source: str = "",
        sizes: tuple[int, ...] = (),
    ) -> None:
        self.kernel = kernel
        self.sizes = tuple(sizes)
        self.fresh = True  # every output is a new array
        self.inputs = [(tuple(s), np.dtype(d)) for s, d in inputs]
        self.outputs = list(outputs)
        self.source = source
        self._bufs = [(tuple(o[1]), np.dtype(o[2])) for o in outputs if o[0] == "buf"]
        self._simple = all(o[0] == "buf" for o in outputs)

    def __call__(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(arrays) != len(self.inputs):
            raise TypeError(f"compiled graph takes {len(self.inputs)} inputs, got {len(arrays)}")
        flat = []
        for a, (shape, dtype) in zip(arrays, self.inputs):
            # The kernel's signature takes C-contiguous, aligned, writeable arrays of the
            # native dtype (`flags.carray`). Anything else that numpy can read (a
            # read-only buffer, a broadcast or strided view, another byte order) is
            # copied into that form; the common case costs one flags check.
            if type(a) is not np.ndarray or a.dtype != dtype or not a.flags.carray:
                a = np.array(a, dtype=dtype, order="C")
            if a.shape != shape:
                raise ValueError(
                    f"compiled graph input {len(flat)}: expected shape {shape}, "
                    f"got {a.shape} (the code is specialised on shapes)"
                )
            flat.append(a.ravel())
        bufs = [np.empty(shape, dtype) for shape, dtype in self._bufs]
        try:
            self.kernel(*self.sizes, *flat, *[b.ravel() for b in bufs])
        except TypeError as e:  # numba's dispatcher refused the arguments: our bug
            raise TypeError(
                "the compiled kernel refused its inputs ("
                + ", ".join(f"{a.dtype}{list(a.shape)}" for a in flat)
                + "); this is a bug in tracegrad, please report it. TRACER_DISABLE_JIT=1 "
                "runs the same graph on the reference interpreter meanwhile."
            ) from e
        if self._simple:
            return bufs
        results: list[np.ndarray] = []
        it = iter(bufs)
        for kind, *rest in self.outputs:
            if kind == "buf":
                results.append(next(it))
            elif kind == "lit":
                results.append(np.asarray(rest[0], dtype=rest[1]))
            else:
                results.append(results[rest[0]].copy())
        return results
