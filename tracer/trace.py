"""@trace, grad and value_and_grad: stage Python functions into IR graphs.

On the first call for an input signature the function runs once on symbolic
tensors; the graph is optimised (and differentiated when gradients are needed)
and later calls with the same signature run the staged code instead of Python.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from compiler import dtypes, operand
from compiler.autodiff import Split, active_vars, joint_vjp, split
from compiler.backend import Executable, lower
from compiler.builder import GraphBuilder, Sym
from compiler.errors import AutogradError, TraceError, TracerError
from compiler.ir import Graph, Var, pretty
from compiler.passes import optimize, strip_stop_gradient
from compiler.registry import AVal
from compiler.source import traceback_location
from tracer import autograd
from tracer.grad_mode import enable_grad, is_grad_enabled
from tracer.pytree import LEAF, TreeDef, flatten, static
from tracer.tensor import Tensor


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    trace_seconds: float
    compile_seconds: float
    entries: int


@dataclass
class _Traced:
    """One staged signature: the optimised graph and how to call it."""

    graph: Graph
    out_tree: TreeDef
    captured: list[Tensor]
    consts: list[np.ndarray]
    arg_trees: tuple[TreeDef, ...]
    # How to read each captured tensor afresh: the closure cell or global name it
    # was found under (so rebinding `w = ...` outside is seen), or None.
    sources: list[Callable[[Any], Any] | None] = field(default_factory=list)
    exe: Executable | None = None
    diffs: dict[tuple[bool, ...], _Diff] = field(default_factory=dict)
    joint: tuple[Executable, Graph] | None = None  # value_and_grad's joint graph

    def current_captured(self) -> list[Any]:
        return [c if src is None else src(c) for c, src in zip(self.captured, self.sources)]


@dataclass
class _Diff:
    split: Split
    forward: Executable
    backward: Executable
    wrt: tuple[int, ...]  # input positions that get gradients
    out_avals: tuple[AVal, ...]
    connected: tuple[bool, ...] = ()  # per wrt input: do the outputs depend on it?
    active_outputs: tuple[bool, ...] = ()  # per output: does it depend on a wrt input?


class _Staged:
    """Signature cache, tracing, and introspection shared by the entry points."""

    def __init__(
        self,
        fn: Callable[..., Any],
        static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (),
    ) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.static_argnums = frozenset(
            (static_argnums,) if isinstance(static_argnums, int) else static_argnums
        )
        self.static_argnames = frozenset(
            (static_argnames,) if isinstance(static_argnames, str) else static_argnames
        )
        self._argnames: list[str] = []
        self._varargs: str | None = None  # the name of a *args parameter
        try:
            for p in inspect.signature(fn).parameters.values():
                if p.kind == p.VAR_POSITIONAL:
                    self._varargs = p.name
                    break
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                    self._argnames.append(p.name)
        except (TypeError, ValueError):
            pass
        # a static argument is static however it is passed, by position or by name
        self.static_argnames |= {
            self._argnames[i] for i in self.static_argnums if 0 <= i < len(self._argnames)
        }
        self.static_argnums |= {
            i for i, n in enumerate(self._argnames) if n in self.static_argnames
        }
        self._cache: dict[Any, _Traced] = {}
        self._lock = threading.RLock()
        self._hits = self._misses = 0
        self._trace_s = self._compile_s = 0.0
        self._explain = "not called yet"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """Decorating a method: bind the instance, which becomes a static argument."""
        return self if obj is None else types.MethodType(self, obj)

    # ---- signatures -----------------------------------------------------
    def _signature(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, list[Any]]:
        if not kwargs and not self.static_argnums and all(type(a) is Tensor for a in args):
            # the common call, tensors only: the same key as the general path below
            return (
                (
                    (LEAF,) * len(args),
                    (),
                    tuple((a._data.shape, a._data.dtype, a.requires_grad) for a in args),
                ),
                list(args),
            )
        leaves: list[Any] = []
        trees = []
        for i, a in enumerate(args):
            trees.append(
                _static(a, self._argname(i)) if i in self.static_argnums else flatten(a, leaves)
            )
        kw = tuple(
            (k, _static(v, k) if k in self.static_argnames else flatten(v, leaves))
            for k, v in sorted(kwargs.items())
        )
        if any(isinstance(leaf, Sym) for leaf in leaves):
            raise _Nested
        avals = tuple((t.shape, t.dtype, t.requires_grad) for t in leaves)
        return (tuple(trees), kw, avals), leaves

    def _argname(self, i: int) -> str:
        if i < len(self._argnames):
            return self._argnames[i]
        return f"{self._varargs or 'args'}[{i - len(self._argnames)}]"

    def _lookup(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[_Traced, list[Any], list[Tensor]]:
        """The staged entry for these arguments, their tensor leaves, and the captured
        tensors as they are now."""
        key, leaves = self._signature(args, kwargs)
        entry = self._cache.get(key)
        if entry is not None and not entry.captured:
            self._hits += 1
            return entry, leaves, []
        if entry is not None:
            captured = entry.current_captured()
            if all(
                isinstance(c, Tensor) and tuple(c.shape) == v.aval.shape and c.dtype == v.aval.dtype
                for c, v in zip(captured, self._captured_vars(entry))
            ):
                self._hits += 1
                return entry, leaves, captured
        with self._lock:  # threads meeting one new signature trace it once
            again = self._cache.get(key)
            if again is not None and again is not entry:
                self._hits += 1
                return again, leaves, again.current_captured()
            self._misses += 1
            self._explain = self._why(key, entry is not None)
            entry = self._trace(key, leaves)
            self._cache[key] = entry
        return entry, leaves, list(entry.captured)

    @staticmethod
    def _captured_vars(entry: _Traced) -> list[Any]:
        n = len(entry.graph.inputs) - len(entry.captured) - len(entry.consts)
        return entry.graph.inputs[n : n + len(entry.captured)]

    def _trace(self, key: Any, leaves: list[Any]) -> _Traced:
        t0 = time.perf_counter()
        trees, kw, _ = key
        b = GraphBuilder(is_grad_enabled)
        syms = iter([b.new_input(AVal(tuple(t.shape), t.dtype)) for t in leaves])
        args = [t.unflatten(syms) for t in trees]
        kwargs = {k: t.unflatten(syms) for k, t in kw}
        outer, operand.tracing.builder = operand.tracing.builder, b
        try:
            with enable_grad():
                out = self.fn(*args, **kwargs)
        except (TracerError, ValueError, TypeError, IndexError) as e:
            raise _with_user_line(e) from None
        finally:
            operand.tracing.builder = outer
        out_leaves: list[Any] = []
        out_tree = flatten(out, out_leaves)
        atoms = [b._atom(o) for o in out_leaves]
        b.check_captured_unchanged()
        graph = optimize(b.graph(atoms))
        self._trace_s += time.perf_counter() - t0
        captured = [c for _, c in b.captured]
        return _Traced(
            graph,
            out_tree,
            captured,
            list(b.consts.values()),
            trees,
            _capture_sources(self.fn, captured, _static_objects(key)),
        )

    def _why(self, key: Any, stale_capture: bool) -> str:
        if stale_capture:
            return (
                "retraced: a tensor captured from outside the function changed shape or "
                "dtype (or its name now holds something else)"
            )
        if not self._cache:
            return "first call: traced for this signature"
        return "retraced: " + min((_diff(old, key, self._argname) for old in self._cache), key=len)

    # ---- introspection --------------------------------------------------
    def cache_info(self) -> CacheInfo:
        """Hits, misses, seconds spent tracing and compiling, cached signatures."""
        return CacheInfo(self._hits, self._misses, self._trace_s, self._compile_s, len(self._cache))

    def explain(self) -> str:
        """Why the last call traced (which part of the signature changed)."""
        return self._explain

    def _module_name(self, role: str) -> str:
        return f"{getattr(self.fn, '__name__', 'fn')}_{role}"

    def clear_cache(self) -> None:
        self._cache.clear()
        self._explain = "cache cleared"

    def _entry(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_Traced, list[Any]]:
        try:
            key, leaves = self._signature(args, kwargs)
        except _Nested:
            raise TraceError("ir()/grad_ir() need concrete arguments, not traced values") from None
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = self._trace(key, leaves)
        return entry, leaves


def _static(value: Any, name: str) -> Any:
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"static argument {name!r} must be hashable, got {type(value).__name__}"
        ) from None
    if isinstance(value, Tensor):
        raise TypeError(
            f"static argument {name!r} is a tensor; static arguments are Python "
            "values baked into the graph"
        )
    return static(value)


def _with_user_line(e: Exception) -> Exception:
    """An error raised inside the library while tracing, with the user's line added."""
    where = traceback_location(e.__traceback__)
    if where is None or isinstance(e, TraceError) or "traced at " in str(e):
        return e.with_traceback(e.__traceback__)
    try:
        new = type(e)(f"{e}\n  traced at {where}")
    except TypeError:  # an exception type with another constructor
        e.add_note(f"traced at {where}")
        return e
    return new.with_traceback(e.__traceback__)


def _capture_sources(
    fn: Any, captured: list[Tensor], objects: Sequence[Any] = ()
) -> list[Callable[[Any], Any] | None]:
    """For each captured tensor, a reader of the closure cell or global name of `fn`, or
    the attribute of a static argument (`self.w`), that held it: so that a later
    `w = new_tensor` outside is seen at the next call."""
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    sources: list[Callable[[Any], Any] | None] = [None] * len(captured)
    if code is None or not captured:
        return sources
    index = {id(t): i for i, t in enumerate(captured)}

    def found(obj: Any, reader: Callable[[Any], Any]) -> None:
        i = index.get(id(obj))
        if i is not None and sources[i] is None:
            sources[i] = reader

    for cell in getattr(fn, "__closure__", None) or ():
        try:
            found(cell.cell_contents, _cell_reader(cell))
        except ValueError:  # an empty cell
            continue
    glob = getattr(fn, "__globals__", {})
    for name in _global_names(code):
        if name in glob:
            found(glob[name], _global_reader(glob, name))
    for obj in objects:
        for name, value in getattr(obj, "__dict__", {}).items():
            if isinstance(value, Tensor):
                found(value, _attribute_reader(obj, name))
    return sources


def _static_objects(key: Any) -> list[Any]:
    """Static arguments that are objects with attributes (`self` of a method)."""
    trees, kw, _ = key
    return [
        v
        for t in list(trees) + [t for _, t in kw]
        for v in t.static_values()
        if hasattr(v, "__dict__") and not isinstance(v, type)
    ]


def _attribute_reader(obj: Any, name: str) -> Callable[[Any], Any]:
    return lambda default: getattr(obj, name, default)


def _cell_reader(cell: Any) -> Callable[[Any], Any]:
    def read(default: Any) -> Any:
        try:
            return cell.cell_contents
        except ValueError:
            return default

    return read


def _global_reader(glob: dict[str, Any], name: str) -> Callable[[Any], Any]:
    return lambda default: glob.get(name, default)


def _global_names(code: Any) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_names"):
            names |= _global_names(c)
    return names


def _diff(old: Any, new: Any, argname: Callable[[int], str]) -> str:
    """A short description of what differs between two signatures."""
    (otrees, okw, oavals), (ntrees, nkw, navals) = old, new
    if otrees != ntrees or okw != nkw:
        parts = []
        for i in range(max(len(otrees), len(ntrees))):
            a = otrees[i] if i < len(otrees) else None
            b = ntrees[i] if i < len(ntrees) else None
            if a != b:
                parts.append(f"argument {argname(i)!r}: {_show(a)} -> {_show(b)}")
        okd, nkd = dict(okw), dict(nkw)
        for k in sorted(set(okd) | set(nkd)):
            if okd.get(k) != nkd.get(k):
                parts.append(f"keyword argument {k!r}: {_show(okd.get(k))} -> {_show(nkd.get(k))}")
        return "; ".join(parts)
    paths = [p for i, t in enumerate(ntrees) for p in t.leaf_paths(argname(i))] + [
        p for k, t in nkw for p in t.leaf_paths(k)
    ]
    parts = []
    for path, (s0, d0, r0), (s1, d1, r1) in zip(paths, oavals, navals):
        if s0 != s1:
            parts.append(f"{path}: shape {tuple(s0)} -> {tuple(s1)}")
        if d0 != d1:
            parts.append(f"{path}: dtype {d0} -> {d1}")
        if r0 != r1:
            parts.append(f"{path}: requires_grad {r0} -> {r1}")
    return "; ".join(parts)


def _show(tree: TreeDef | None) -> str:
    return "not passed" if tree is None else str(tree)


def _fresh(outs: list[np.ndarray], arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs must be writeable and alias neither the caller's arrays nor each other
    (two gradients may be one array in the graph; a gradient may be a broadcast view)."""
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


def _run(exe: Executable, arrays: list[np.ndarray]) -> list[np.ndarray]:
    outs = exe(arrays)
    return outs if exe.fresh else _fresh(outs, arrays)


def _source(exe: Executable, title: str) -> str:
    if exe.source is None:
        return (
            f"# {title}: runs on the reference interpreter (TRACER_DISABLE_JIT is set, "
            "or the numba backend cannot lower this graph)\n"
        )
    sizes = getattr(exe, "sizes", ())
    bound = ", ".join(f"d{i}={n}" for i, n in enumerate(sizes))
    return f"# {title}" + (f" (called with {bound})" if bound else "") + "\n" + exe.source


class _Nested(Exception):
    """A staged function was called on traced values, inside another trace."""


class TracedFunction(_Staged):
    """A function staged by @trace. Call it like the original."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            entry, leaves, captured = self._lookup(args, kwargs)
        except _Nested:  # inside another trace: inline the Python function
            return self.fn(*args, **kwargs)
        inputs = leaves + captured
        arrays = [t._data for t in inputs] + entry.consts
        if is_grad_enabled():
            mask = tuple(t.requires_grad for t in inputs)
            if any(mask):
                return self._call_with_grad(entry, inputs, arrays, mask)
        outs = _run(entry.exe or self._forward_exe(entry), arrays)
        return entry.out_tree.unflatten(iter([Tensor(o) for o in outs]))

    def _diff(self, entry: _Traced, mask: tuple[bool, ...]) -> _Diff:
        d = entry.diffs.get(mask)
        if d is None:
            with self._lock:
                d = entry.diffs.get(mask) or self._new_diff(entry, mask)
        return d

    def _new_diff(self, entry: _Traced, mask: tuple[bool, ...]) -> _Diff:
        t0 = time.perf_counter()
        g = entry.graph
        wrt = list(mask) + [False] * (len(g.inputs) - len(mask))
        joint = joint_vjp(g, wrt)
        joint.graph = optimize(joint.graph)
        s = split(joint)
        s.forward = optimize(strip_stop_gradient(s.forward))
        s.backward = optimize(s.backward)
        active = active_vars(g, wrt)
        d = entry.diffs[mask] = _Diff(
            s,
            lower(s.forward, self._module_name("forward_with_residuals")),
            lower(s.backward, self._module_name("backward")),
            tuple(i for i, m in enumerate(mask) if m),
            tuple(a.aval for a in g.outputs),
            tuple(joint.connected),
            tuple(isinstance(o, Var) and o in active for o in g.outputs),
        )
        self._compile_s += time.perf_counter() - t0
        return d

    def _call_with_grad(
        self, entry: _Traced, inputs: list[Tensor], arrays: list[np.ndarray], mask: tuple[bool, ...]
    ) -> Any:
        d = self._diff(entry, mask)
        results = d.forward(arrays)
        n_out = len(d.out_avals)
        outs = [
            Tensor(o)
            for o in (results[:n_out] if d.forward.fresh else _fresh(results[:n_out], arrays))
        ]
        # Inputs the outputs do not depend on get no edge: their .grad stays None.
        node = CompiledFunctionBackward(
            tuple(autograd._edge(inputs[i]) if c else (None, 0) for i, c in zip(d.wrt, d.connected))
        )
        node._diff = d
        node._residuals = residuals = results[n_out:]
        # Residuals may be views of any input (transposes, reshapes), and an output may be
        # a residual itself (exp's result): watch them for in-place changes.
        node._watch = [("an input", t, t._version[0]) for t in inputs] + [
            ("an output", t, t._version[0])
            for t in outs
            if any(np.may_share_memory(t._data, r) for r in residuals)
        ]
        for i, t in enumerate(outs):
            if d.active_outputs[i]:
                t._grad_fn, t._output_nr = node, i
        return entry.out_tree.unflatten(iter(outs))

    def ir(self, *args: Any, **kwargs: Any) -> str:
        """The optimised forward graph for these arguments, as text."""
        return pretty(self._entry(args, kwargs)[0].graph)

    def grad_ir(self, *args: Any, **kwargs: Any) -> str:
        """The backward graph for these arguments (w.r.t. the inputs that require grad,
        or every floating-point input if none does)."""
        return pretty(self._split_for(args, kwargs).backward)

    def forward_ir(self, *args: Any, **kwargs: Any) -> str:
        """The forward graph that also returns the residuals for backward."""
        return pretty(self._split_for(args, kwargs).forward)

    def source(self, *args: Any, **kwargs: Any) -> str:
        """The generated code that runs for these arguments: the forward kernel, or when
        an input requires grad, the forward-with-residuals and the backward kernels."""
        entry, leaves = self._entry(args, kwargs)
        inputs = leaves + entry.current_captured()
        mask = tuple(t.requires_grad for t in inputs)
        if is_grad_enabled() and any(mask):
            d = self._diff(entry, mask)
            return (
                _source(d.forward, "forward, also returning residuals for backward")
                + "\n"
                + _source(d.backward, "backward")
            )
        return _source(entry.exe or self._forward_exe(entry), "forward")

    def _forward_exe(self, entry: _Traced) -> Executable:
        """The executable of the forward graph, lowered on first use (once across threads)."""
        with self._lock:
            if entry.exe is None:
                t0 = time.perf_counter()
                entry.exe = lower(entry.graph, self._module_name("forward"))
                self._compile_s += time.perf_counter() - t0
        return entry.exe

    def _split_for(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Split:
        entry, leaves = self._entry(args, kwargs)
        inputs = leaves + entry.current_captured()
        mask = tuple(t.requires_grad for t in inputs)
        if not any(mask):
            mask = tuple(dtypes.is_float(t.dtype) for t in inputs)
        return self._diff(entry, mask).split


class CompiledFunctionBackward(autograd.Node):
    """The autograd node of a traced function: runs its staged backward graph."""

    __slots__ = ("_diff", "_residuals", "_watch")

    def apply(self, grads: list[Any], create_graph: bool, retain: bool) -> Sequence[Any]:
        if create_graph:
            raise AutogradError(
                "create_graph=True through a traced function is not supported: its backward "
                "is a staged graph. For higher-order gradients call the undecorated "
                "function eagerly."
            )
        if self._residuals is None:
            raise AutogradError(
                "trying to backward through a traced function a second time: its saved "
                "values were freed by the first backward(). Pass retain_graph=True to the "
                "first backward()."
            )
        for role, t, version in self._watch:
            if t._version[0] != version:
                raise AutogradError(
                    f"{role} of shape {tuple(t.shape)} of a traced function was modified by an "
                    "in-place operation after the call, but its value is needed for the "
                    "gradient; .clone() it before changing it"
                )
        d = self._diff
        cts = []
        for i, aval in enumerate(d.out_avals):
            g = grads[i] if i < len(grads) else None
            cts.append(g._data if g is not None else np.zeros(aval.shape, aval.dtype))
        out = d.backward(list(self._residuals) + cts)
        if not retain:
            self._residuals = None
        return [Tensor(o) for o in out]


def trace(
    fn: Callable[..., Any] | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
) -> Any:
    """Stage `fn` into a graph on its first call for each input signature.

    Usable as `@trace`, `@trace(static_argnums=1)` or `trace(fn, static_argnums=...)`.
    """
    if fn is None:
        return lambda f: TracedFunction(f, static_argnums, static_argnames)
    return TracedFunction(fn, static_argnums, static_argnames)


class ValueAndGrad(_Staged):
    """`value_and_grad(fn)`: forward and backward staged as one joint graph."""

    def __init__(
        self,
        fn: Callable[..., Any],
        argnums: int | Sequence[int] = 0,
        has_value: bool = True,
        **kw: Any,
    ) -> None:
        super().__init__(fn, **kw)
        self.argnums = argnums
        self._nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        self.has_value = has_value
        for i in self._nums:
            if i in self.static_argnums:
                raise ValueError(f"argnums {i} is also static; cannot differentiate it")

    def _joint(self, entry: _Traced) -> tuple[Executable, Graph]:
        if entry.joint is None:
            with self._lock:
                if entry.joint is None:
                    entry.joint = self._new_joint(entry)
        return entry.joint

    def _new_joint(self, entry: _Traced) -> tuple[Executable, Graph]:
        t0 = time.perf_counter()
        g = entry.graph
        if (
            len(g.outputs) != 1
            or g.outputs[0].aval.shape != ()
            or not dtypes.is_float(g.outputs[0].aval.dtype)
        ):
            shapes = ", ".join(str(a.aval) for a in g.outputs)
            raise TypeError(
                f"{self.__name__}: grad/value_and_grad need a function returning "
                f"one floating-point scalar; it returned {shapes or 'nothing'}. "
                "Reduce it with .sum() or .mean()."
            )
        starts = np.cumsum([0] + [t.num_leaves for t in entry.arg_trees]).tolist()
        wrt = [False] * len(g.inputs)
        for i in self._nums:
            if i >= len(entry.arg_trees):
                raise ValueError(
                    f"argnums {i} is out of range for {len(entry.arg_trees)} positional arguments"
                )
            if starts[i] == starts[i + 1]:
                raise TypeError(
                    f"cannot differentiate with respect to argument "
                    f"{self._argname(i)!r}: it holds no tensor (Python numbers "
                    "are static); pass it as a tensor"
                )
            for j in range(starts[i], starts[i + 1]):
                if not dtypes.is_float(g.inputs[j].aval.dtype):
                    raise TypeError(
                        f"cannot differentiate with respect to argument "
                        f"{self._argname(i)!r}: it holds a {g.inputs[j].aval.dtype} "
                        "tensor (gradients need floating point)"
                    )
                wrt[j] = True
        joint = joint_vjp(g, wrt, seed_ones=True)
        graph = optimize(strip_stop_gradient(joint.graph))
        result = (lower(graph, self._module_name("value_and_grad")), graph)
        self._compile_s += time.perf_counter() - t0
        return result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            entry, leaves, captured = self._lookup(args, kwargs)
        except _Nested:
            raise TraceError(
                "tracer.grad / tracer.value_and_grad called on traced values inside another "
                "traced function is not supported; differentiate the outer function "
                "instead"
            ) from None
        exe, _ = self._joint(entry)
        arrays = [t._data for t in leaves] + [t._data for t in captured] + entry.consts
        outs = _run(exe, arrays)
        value = Tensor(outs[0])
        grads = iter([Tensor(o) for o in outs[1:]])
        per_arg = tuple(entry.arg_trees[i].unflatten(grads, statics=False) for i in self._nums)
        g = per_arg[0] if isinstance(self.argnums, int) else per_arg
        return (value, g) if self.has_value else g

    def ir(self, *args: Any, **kwargs: Any) -> str:
        """The joint forward+backward graph that runs, as text."""
        entry, leaves = self._entry(args, kwargs)
        return pretty(self._joint(entry)[1])

    grad_ir = ir

    def source(self, *args: Any, **kwargs: Any) -> str:
        """The generated code of the joint value-and-gradient graph for these arguments."""
        entry, leaves = self._entry(args, kwargs)
        return _source(self._joint(entry)[0], "value and gradients")


def value_and_grad(
    fn: Callable[..., Any], argnums: int | Sequence[int] = 0, **kw: Any
) -> ValueAndGrad:
    """`fn` returns a scalar; the result returns (value, gradients w.r.t. argnums)."""
    return ValueAndGrad(fn, argnums, True, **kw)


def grad(fn: Callable[..., Any], argnums: int | Sequence[int] = 0, **kw: Any) -> ValueAndGrad:
    """`fn` returns a scalar; the result returns its gradients w.r.t. argnums."""
    return ValueAndGrad(fn, argnums, False, **kw)
