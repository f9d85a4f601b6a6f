"""@trace, grad and value_and_grad: stage Python functions into IR graphs.

On the first call for an input signature the function runs once on symbolic
tensors; the graph is optimised (and differentiated when gradients are needed)
and later calls with the same signature run the staged code instead of Python.
"""

from __future__ import annotations

import functools
import gc
import inspect
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from compiler import dtypes, operand
from compiler.autodiff import Split, active_vars, joint_vjp, split
from compiler.backend import Executable, Interpreted, fresh_outputs, lower
from compiler.builder import GraphBuilder, Sym
from compiler.errors import AutogradError, TraceError, TracerError, TracerWarning
from compiler.ir import Graph, Var, pretty
from compiler.passes import optimize, strip_stop_gradient
from compiler.registry import AVal
from compiler.source import traceback_location, warn_at_user_line
from tracer import autograd
from tracer._quiet import quiet
from tracer.capture import MISSING, Source, ValueGuard, find_sources, value_guards
from tracer.grad_mode import enable_grad, is_grad_enabled
from tracer.pytree import LEAF, TreeDef, flatten, static
from tracer.structure import ModuleGuard
from tracer.tensor import Tensor
from tracer.transforms import eval_graph, staged_value_and_grad
from tracer.viz import Drawing, display, draw_traced
from tracer.viz.display import PlainText


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    trace_seconds: float
    compile_seconds: float
    entries: int

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython and Jupyter
        p.text(display.pretty_cache_info(self))


@dataclass
class _Traced:
    """One staged signature: the optimised graph and how to call it."""

    graph: Graph
    out_tree: TreeDef
    captured: list[Tensor]
    consts: list[np.ndarray]
    arg_trees: tuple[TreeDef, ...]
    # Where each captured tensor lives (read afresh at each call, so `w = ...` or
    # `params["w"] = ...` outside is seen), or None: read by reference (tracer.capture)
    sources: list[Source | None] = field(default_factory=list)
    # numbers etc. read directly; the modules called (tracer.structure)
    guards: list[ValueGuard | ModuleGuard] = field(default_factory=list)
    exe: Executable | None = None
    diffs: dict[tuple[bool, ...], _Diff] = field(default_factory=dict)
    joint: tuple[Executable, Graph] | None = None  # value_and_grad's joint graph
    # the same graph with its stop_gradients, run op by op when an input requires grad
    joint_recorded: Graph | None = None
    # In-place updates written back after each call, one per trailing graph output:
    # ("arg", leaf position), ("captured", position in `captured`), ("made", weak
    # reference to a tensor the code made that outlived the trace), ("grad", tensor whose
    # .grad gets a new tensor) or ("grad_", tensor whose existing .grad is updated)
    writes: list[tuple[str, Any]] = field(default_factory=list)
    grads_to_none: list[Tensor] = field(default_factory=list)  # `.grad = None` each call
    # the trace made state that outlives it (an optimizer's first step): use this graph
    # for this call only, and trace again next time (the state then exists before)
    one_shot: bool = False
    # the function called backward() inside: its results have no history
    detached: bool = False
    checked: bool = field(init=False)  # anything to check at each call
    captured_avals: list[AVal] = field(init=False)
    # after a backward() inside, which captured tensors required grad at trace time: the
    # graph computes (and the optimizer applies) gradients for exactly those
    captured_requires_grad: list[bool] | None = field(init=False)

    def __post_init__(self) -> None:
        self.checked = bool(self.captured or self.guards or self.grads_to_none)
        n = len(self.graph.inputs) - len(self.captured) - len(self.consts)
        self.captured_avals = [v.aval for v in self.graph.inputs[n : n + len(self.captured)]]
        self.captured_requires_grad = (
            [c.requires_grad for c in self.captured] if self.detached else None
        )

    def current_captured(self) -> list[Tensor] | None:
        """The captured tensors as the function would read them now; None when the
        graph no longer fits what it would read (a captured name holds a tensor of
        another shape or dtype, or something else; a number it read changed; a module
        it called changed its structure)."""
        for guard in self.guards:
            if not guard.holds():
                return None
        out = []
        for c, src, aval in zip(self.captured, self.sources, self.captured_avals):
            t = c if src is None else src.read()
            if t is not c and (
                not isinstance(t, Tensor)
                or t._data.shape != aval.shape
                or t._data.dtype != aval.dtype
            ):
                return None
            out.append(t)
        if self.captured_requires_grad is not None and any(
            t.requires_grad != rg for t, rg in zip(out, self.captured_requires_grad)
        ):
            return None
        return out

    def why_stale(self) -> str:
        """What current_captured() found changed, for explain()."""
        for g in self.guards:
            if not isinstance(g, ValueGuard):
                change = g.change()
                if change is not None:
                    return change
                continue
            if not g.holds():
                now = g.source.read()
                shown = "unset" if now is MISSING else _short(now)
                return (
                    f"{g.source.path}, read from outside the function, changed: "
                    f"{_short(g.value)} -> {shown}"
                )
        for c, src, aval in zip(self.captured, self.sources, self.captured_avals):
            t = c if src is None else src.read()
            if t is c:
                continue
            if t is MISSING:
                return f"{src.path}, a tensor captured from outside the function, is gone"
            if not isinstance(t, Tensor):
                return (
                    f"{src.path}, a tensor captured from outside the function, now holds "
                    f"a {type(t).__name__}"
                )
            if t._data.shape != aval.shape:
                return (
                    f"a tensor captured from outside the function changed shape: "
                    f"{src.path} {aval.shape} -> {t._data.shape}"
                )
            if t._data.dtype != aval.dtype:
                return (
                    f"a tensor captured from outside the function changed dtype: "
                    f"{src.path} {aval.dtype} -> {t._data.dtype}"
                )
        for t, rg in zip(self.current_tensors(), self.captured_requires_grad or []):
            if t.requires_grad != rg:
                return (
                    f"a tensor of shape {tuple(t.shape)} captured from outside the function "
                    f"changed requires_grad {rg} -> {t.requires_grad} (the function calls "
                    "backward())"
                )
        return "a value captured from outside the function changed"

    def current_tensors(self) -> list[Any]:
        """The captured values as the function would read them now (unchecked)."""
        return [c if src is None else src.read() for c, src in zip(self.captured, self.sources)]


@dataclass
class _Diff:
    split: Split
    forward: Executable
    backward: Executable
    wrt: tuple[int, ...]  # input positions that get gradients
    out_avals: tuple[AVal, ...]
    connected: tuple[bool, ...] = ()  # per wrt input: do the outputs depend on it?
    active_outputs: tuple[bool, ...] = ()  # per output: does it depend on a wrt input?
    joint: Graph | None = None  # (inputs, output cotangents) -> (outputs, gradients)


class _Staged:
    """Signature cache, tracing, and introspection shared by the entry points."""

    def __init__(
        self,
        fn: Callable[..., Any],
        static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (),
        cache_size: int = 64,
    ) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cache_size must be a positive int, got {cache_size!r}")
        self.cache_size = cache_size
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
        # signature -> staged entry, least recently used first (at most cache_size)
        self._cache: OrderedDict[Any, _Traced] = OrderedDict()
        self._lock = threading.RLock()
        self._hits = self._misses = 0
        self._trace_s = self._compile_s = 0.0
        self._explain = "not called yet"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """Decorating a method: bind the instance, which becomes a static argument."""
        return self if obj is None else types.MethodType(self, obj)

    # ---- signatures -----------------------------------------------------
    def _signature(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, list[Any]]:
        if operand.tracing.builder is not None:
            # called while another function is traced: inline it there (even on concrete
            # tensors, whose values must then be read at each call of the outer one)
            raise _Nested
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
                _static(a, self._argname(i))
                if i in self.static_argnums
                else flatten(a, leaves, numbers=True)
            )
        kw = tuple(
            (k, _static(v, k) if k in self.static_argnames else flatten(v, leaves, numbers=True))
            for k, v in sorted(kwargs.items())
        )
        if any(isinstance(leaf, Sym) for leaf in leaves):
            raise _Nested
        avals = tuple((t._data.shape, t._data.dtype, t.requires_grad) for t in leaves)
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
        if entry is not None:
            if not entry.checked:
                self._hits += 1
                self._cache.move_to_end(key)
                return entry, leaves, []
            captured = entry.current_captured()
            if captured is not None:
                self._hits += 1
                self._cache.move_to_end(key)
                return entry, leaves, captured
        with self._lock:  # threads meeting one new signature trace it once
            again = self._cache.get(key)
            if again is not None and again is not entry:
                captured = again.current_captured()
                if captured is not None:
                    self._hits += 1
                    return again, leaves, captured
                entry = again
            self._misses += 1
            self._explain = (
                f"retraced: {entry.why_stale()}" if entry is not None else self._why(key)
            )
            entry = self._trace(key, leaves)
            if not entry.one_shot:
                self._store(key, entry)
        return entry, leaves, list(entry.captured)

    def _refuse_aliases(
        self,
        entry: _Traced,
        leaves: list[Any],
        captured: list[Tensor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        """TraceError when the graph updates an input in place that shares memory with
        another input (the same tensor passed twice, two views of one tensor, an
        argument that is also captured): the graph reads them as separate values."""
        alias = _written_alias(entry, leaves, captured)
        if alias is None:
            return
        (trees, kw, _), _ = self._signature(args, kwargs)
        paths = [p for i, t in enumerate(trees) for p in t.leaf_paths(self._argname(i))]
        paths += [p for k, t in kw for p in t.leaf_paths(k)]

        def name(i: int) -> str:
            if i < len(leaves):
                return f"argument {paths[i]!r} (shape {tuple(leaves[i].shape)})"
            t = captured[i - len(leaves)]
            return f"a tensor captured from outside the function (shape {tuple(t.shape)})"

        written, other = alias
        raise TraceError(
            f"{getattr(self.fn, '__name__', 'the function')}: {name(written)} is updated in "
            f"place and shares memory with {name(other)}; the compiled function reads them "
            "as separate values, so it would not see the update through the other one as "
            "eager mode does. Pass tensors that do not overlap (.clone() one of them), or "
            "pass the tensor once and take the views inside the function."
        )

    def _store(self, key: Any, entry: _Traced) -> None:
        """Cache `entry`, evicting the least recently used past `cache_size`."""
        self._cache[key] = entry
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _trace(self, key: Any, leaves: list[Any]) -> _Traced:
        b = GraphBuilder(is_grad_enabled)
        try:
            return self._stage(b, key, leaves)
        except BaseException:
            for undo in reversed(b.undo):
                undo()
            raise

    def _stage(self, b: GraphBuilder, key: Any, leaves: list[Any]) -> _Traced:
        t0 = time.perf_counter()
        trees, kw, avals = key
        b.accepts_writes = True  # in-place updates are written back after each call
        b.arg_requires_grad = [rg for _, _, rg in avals]
        weak = [w for t in (*trees, *(t for _, t in kw)) for w in t.weak_leaves()]
        syms = iter([b.new_input(AVal(tuple(t.shape), t.dtype, w)) for t, w in zip(leaves, weak)])
        args = [t.unflatten(syms) for t in trees]
        kwargs = {k: t.unflatten(syms) for k, t in kw}
        b.name = getattr(self.fn, "__name__", "the function")
        outer, operand.tracing.builder = operand.tracing.builder, b
        try:
            with enable_grad():
                out = self.fn(*args, **kwargs)
        except (TracerError, ValueError, TypeError, IndexError) as e:
            raise _with_user_line(e) from None
        finally:
            operand.tracing.builder = outer
            b.closed = True  # a traced value used from now on has escaped the trace
        out_leaves: list[Any] = []
        out_tree = flatten(out, out_leaves)
        atoms = [b._atom(o) for o in out_leaves]
        del out, out_leaves, args, kwargs  # what the code made and kept lives on after
        b.check_captured_unchanged()
        captured = [c for _, c in b.captured]
        b.made_inside.clear()  # drop them: those still alive now outlived the trace
        writes, grads_to_none, one_shot = _writes(b, captured)
        for _, _, value in writes:  # written back, without history
            atoms.append(b.emit("stop_gradient", [value], {})[0])
        statics = self._static_args(key)
        sources = find_sources(self.fn, captured, statics)
        for i, (var, _) in enumerate(b.captured):
            if var in b.random_keys:  # a new key from the generator at every call
                sources[i] = Source("a random key", b.random_keys[var])
            elif var in b.live_reads:
                sources[i] = Source(*b.live_reads[var])
        _warn_unfollowed(b, captured, sources, b.name)
        graph = optimize(b.graph(atoms))
        self._trace_s += time.perf_counter() - t0
        return _Traced(
            graph,
            out_tree,
            captured,
            list(b.consts.values()),
            trees,
            sources,
            value_guards(self.fn, statics)
            + ([ModuleGuard.of(b.observed.values())] if b.observed else [])
            + [GradGuard(s.p, s.initial is None) for s in b.grads.values() if s.read]
            + list(b.extra_guards.values()),
            writes=[(kind, target) for kind, target, _ in writes],
            grads_to_none=grads_to_none,
            one_shot=one_shot or b.one_shot,
            detached=b.did_backward,
        )

    def _static_args(self, key: Any) -> list[tuple[str, Any]]:
        """(argument name, value) of the static arguments (`self` of a method, ...)."""
        trees, kw, _ = key
        named = [(self._argname(i), t) for i, t in enumerate(trees)] + list(kw)
        return [(name, v) for name, t in named for v in t.static_values()]

    def _why(self, key: Any) -> str:
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

    def draw(
        self, *args: Any, which: str = "forward", compiled: bool = False, **kwargs: Any
    ) -> Drawing:
        """A picture of the graph staged for these arguments: `which` is 'forward',
        'backward' or 'joint'; `compiled=True` groups equations by fused loop nest
        (tracer.viz; rendering needs the [viz] extra)."""
        return draw_traced(self, args, kwargs, which, compiled)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython and Jupyter
        p.text(display.describe(self))

    def _repr_html_(self) -> str:
        return display.describe_html(self)

    def _entry(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_Traced, list[Any]]:
        try:
            key, leaves = self._signature(args, kwargs)
        except _Nested:
            raise TraceError("ir()/grad_ir() need concrete arguments, not traced values") from None
        entry = self._cache.get(key)
        if entry is None:
            entry = self._trace(key, leaves)
            self._store(key, entry)
        return entry, leaves


class GradGuard:
    """The traced code read or set `p.grad`: the graph holds while `p.grad` is None
    exactly when it was None at trace time (the graph adds to it, or sets it anew)."""

    __slots__ = ("p", "was_none")

    def __init__(self, p: Tensor, was_none: bool) -> None:
        self.p, self.was_none = p, was_none

    def holds(self) -> bool:
        return (self.p._grad is None) == self.was_none

    def change(self) -> str | None:
        if self.holds():
            return None
        now = "None" if self.p._grad is None else "a tensor"
        was = "None" if self.was_none else "a tensor"
        return f"the .grad of a tensor of shape {tuple(self.p.shape)} was {was}, now {now}"


def _writes(
    b: GraphBuilder, captured: list[Tensor]
) -> tuple[list[tuple[str, Any, Var]], list[Tensor], bool]:
    """The in-place updates and `.grad` settings a trace made, to write back after each
    call: (kind, target, value) per update (see _Traced.writes), the tensors whose .grad
    becomes None, and whether the code made state that outlives the trace."""
    position = {id(c): i for i, c in enumerate(captured)}
    writes: list[tuple[str, Any, Var]] = []
    one_shot = False
    for target, sym in b.written():
        if isinstance(target, int):
            writes.append(("arg", target, sym.ir_var))
        elif isinstance(target, Tensor):
            writes.append(("captured", position[id(target)], sym.ir_var))
        else:  # a weak reference to a tensor the code made: state if it is still alive
            if target() is not None:
                gc.collect()  # (not kept alive by a reference cycle only)
            if target() is not None:
                writes.append(("made", target, sym.ir_var))
                one_shot = True
    to_none: list[Tensor] = []
    for slot in b.grads.values():
        what = slot.write()
        if what is None:
            continue
        kind, value = what
        if value is None:
            to_none.append(slot.p)
        else:
            writes.append((kind, slot.p, value.ir_var))
    return writes, to_none, one_shot


def _written_alias(
    entry: _Traced, leaves: list[Any], captured: list[Tensor]
) -> tuple[int, int] | None:
    """(written, other): positions in leaves + captured of an input that the graph
    updates in place and of another input sharing memory with it, or None. The graph
    reads each input once, as a separate value, so it cannot follow such an update
    through the other input as eager mode does."""
    inputs = leaves + captured
    written = {t for kind, t in entry.writes if kind == "arg"}
    written |= {len(leaves) + t for kind, t in entry.writes if kind == "captured"}
    if not written or len(inputs) < 2:
        return None
    spans = []
    for i, t in enumerate(inputs):
        a = t._data
        if a.size:
            if a.flags.c_contiguous:  # (byte_bounds is the general, slower way)
                lo = a.__array_interface__["data"][0]
                hi = lo + a.nbytes
            else:
                lo, hi = np.lib.array_utils.byte_bounds(a)
            spans.append((lo, hi, i))
    spans.sort()
    open_: list[tuple[int, int]] = []  # (end, position) of the spans still open
    for lo, hi, i in spans:
        open_ = [(end, j) for end, j in open_ if end > lo]
        for _, j in open_:
            if (i in written or j in written) and _overlap(inputs[i]._data, inputs[j]._data):
                return (i, j) if i in written else (j, i)
        open_.append((hi, i))
    return None


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        return bool(np.shares_memory(a, b, max_work=10_000))
    except np.exceptions.TooHardError:
        return True


def _write_back(
    entry: _Traced, leaves: list[Any], captured: list[Tensor], arrays: list[np.ndarray]
) -> None:
    """Apply a call's in-place updates (`arrays`: the trailing outputs of the graph)."""
    for (kind, target), a in zip(entry.writes, arrays):
        if kind == "grad":
            target._grad = Tensor(a)
            continue
        if kind == "arg":
            t = leaves[target]
        elif kind == "captured":
            t = captured[target]
        elif kind == "made":
            t = target()
            if t is None:
                continue
        else:  # "grad_"
            t = target._grad
        if a.dtype == t._data.dtype:
            np.copyto(t._data, a)
        else:
            with quiet():
                t._data[...] = a
        t._version[0] += 1
    for p in entry.grads_to_none:
        p._grad = None


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


def _warn_unfollowed(
    b: GraphBuilder, captured: list[Tensor], sources: list[Source | None], name: str
) -> None:
    """Warn about captured tensors that the function reached by a way that
    find_sources could not follow (tensors it made itself are constants of its code)."""
    for (var, t), src in zip(b.captured, sources):
        if src is not None or id(t) in b.made_inside or id(t) in b.guarded_ids:
            continue
        used = next((e.source_loc for e in b.eqns if var in e.inputs and e.source_loc), "")
        warn_at_user_line(
            f"tracer.trace({name}): a {t.dtype.name} tensor of shape {tuple(t.shape)} "
            + (f"used at {used} " if used else "")
            + "comes from outside the function by a way tracing cannot follow (it is not "
            "a closure variable, a global, a default or static argument, or an item or "
            "attribute reached from one). The compiled code reads that tensor object at "
            "every call, so its in-place updates are seen, but not a new tensor put in its "
            "place. Pass it as an argument to the function instead.",
            TracerWarning,
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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


def _run(exe: Executable, arrays: list[np.ndarray]) -> list[np.ndarray]:
    outs = exe(arrays)
    return outs if exe.fresh else fresh_outputs(outs, arrays)


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
        if entry.writes:
            self._refuse_aliases(entry, leaves, captured, args, kwargs)
        inputs = leaves + captured
        arrays = [t._data for t in inputs] + entry.consts
        if is_grad_enabled() and not entry.detached:
            mask = tuple(t.requires_grad for t in inputs)
            if any(mask):
                return self._call_with_grad(entry, inputs, arrays, mask, len(leaves))
        if entry.one_shot:  # run once, then traced again: not worth compiling
            outs = _run(Interpreted(entry.graph), arrays)
        else:
            outs = _run(entry.exe or self._forward_exe(entry), arrays)
        if entry.writes or entry.grads_to_none:
            n = len(outs) - len(entry.writes)
            _write_back(entry, leaves, captured, outs[n:])
            outs = outs[:n]
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
            joint.graph,
        )
        self._compile_s += time.perf_counter() - t0
        return d

    def _call_with_grad(
        self,
        entry: _Traced,
        inputs: list[Tensor],
        arrays: list[np.ndarray],
        mask: tuple[bool, ...],
        n_leaves: int,
    ) -> Any:
        d = self._diff(entry, mask)
        results = d.forward(arrays)
        n_out = len(d.out_avals)
        outs = [
            Tensor(o)
            for o in (
                results[:n_out] if d.forward.fresh else fresh_outputs(results[:n_out], arrays)
            )
        ]
        residuals = results[n_out:]
        if entry.writes or entry.grads_to_none:
            n = n_out - len(entry.writes)
            written = [o._data for o in outs[n:]]
            # a residual must not see the update: copy those that share its memory
            targets = [
                inputs[t if k == "arg" else n_leaves + t]
                for k, t in entry.writes
                if k in ("arg", "captured")
            ]
            residuals = [
                r.copy() if any(np.may_share_memory(r, t._data) for t in targets) else r
                for r in residuals
            ]
            _write_back(entry, inputs[:n_leaves], inputs[n_leaves:], written)
            outs = outs[:n]
        # Inputs the outputs do not depend on get no edge: their .grad stays None.
        node = CompiledFunctionBackward(
            tuple(autograd._edge(inputs[i]) if c else (None, 0) for i, c in zip(d.wrt, d.connected))
        )
        node._diff = d
        node._inputs = (inputs, arrays[len(inputs) :])
        node._residuals = residuals
        node._updates = bool(entry.writes)
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
        return PlainText(pretty(self._entry(args, kwargs)[0].graph))

    def grad_ir(self, *args: Any, **kwargs: Any) -> str:
        """The backward graph for these arguments (w.r.t. the inputs that require grad,
        or every floating-point input if none does)."""
        return PlainText(pretty(self._split_for(args, kwargs).backward))

    def forward_ir(self, *args: Any, **kwargs: Any) -> str:
        """The forward graph that also returns the residuals for backward."""
        return PlainText(pretty(self._split_for(args, kwargs).forward))

    def source(self, *args: Any, **kwargs: Any) -> str:
        """The generated code that runs for these arguments: the forward kernel, or when
        an input requires grad, the forward-with-residuals and the backward kernels."""
        entry, leaves = self._entry(args, kwargs)
        inputs = leaves + (entry.current_captured() or entry.captured)
        mask = tuple(t.requires_grad for t in inputs)
        if is_grad_enabled() and any(mask):
            d = self._diff(entry, mask)
            return PlainText(
                _source(d.forward, "forward, also returning residuals for backward")
                + "\n"
                + _source(d.backward, "backward")
            )
        return PlainText(_source(entry.exe or self._forward_exe(entry), "forward"))

    def _forward_exe(self, entry: _Traced) -> Executable:
        """The executable of the forward graph, lowered on first use (once across threads)."""
        with self._lock:
            if entry.exe is None:
                t0 = time.perf_counter()
                # (stop_gradient only matters to differentiation; as a view it would
                # split the fused loops, as under no_grad, where every op has one)
                graph = optimize(strip_stop_gradient(entry.graph))
                entry.exe = lower(graph, self._module_name("forward"))
                self._compile_s += time.perf_counter() - t0
        return entry.exe

    def _split_for(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Split:
        entry, leaves = self._entry(args, kwargs)
        inputs = leaves + (entry.current_captured() or entry.captured)
        mask = tuple(t.requires_grad for t in inputs)
        if not any(mask):
            mask = tuple(dtypes.is_float(t.dtype) for t in inputs)
        return self._diff(entry, mask).split


class CompiledFunctionBackward(autograd.Node):
    """The autograd node of a traced function: runs its staged backward graph."""

    __slots__ = ("_diff", "_residuals", "_watch", "_inputs", "_updates")

    def apply(self, grads: list[Any], create_graph: bool, retain: bool) -> Sequence[Any]:
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
        if create_graph:  # a gradient that can be differentiated again
            if self._updates:
                raise AutogradError(
                    "backward(create_graph=True) through a traced function that updates "
                    "tensors in place is not supported: the inputs it would recompute from "
                    "have changed. Differentiate twice inside the traced function instead "
                    "(tracer.grad of tracer.grad)."
                )
            return self._recorded(grads, retain)
        cts = []
        for i, aval in enumerate(d.out_avals):
            g = grads[i] if i < len(grads) else None
            cts.append(g._data if g is not None else np.zeros(aval.shape, aval.dtype))
        out = d.backward(list(self._residuals) + cts)
        if not retain:
            self._residuals = None
        return [Tensor(o) for o in out]

    def _recorded(self, grads: list[Any], retain: bool) -> list[Any]:
        """create_graph=True: the joint forward+backward graph run eagerly op by op from
        the inputs, with autograd recording, so the gradients have a history (PyTorch's
        double backward). The compiled backward's residuals have none."""
        d = self._diff
        tensors, consts = self._inputs
        cts = []
        for i, aval in enumerate(d.out_avals):
            g = grads[i] if i < len(grads) else None
            cts.append(g if g is not None else Tensor(np.zeros(aval.shape, aval.dtype)))
        outs = eval_graph(d.joint, [*tensors, *(Tensor(c) for c in consts), *cts])
        if not retain:
            self._residuals = None
        return outs[len(d.out_avals) :]


class CompiledGradientBackward(autograd.Node):
    """The autograd node of value_and_grad's results when an input requires grad: its
    backward differentiates the joint value-and-gradient graph, run op by op with
    autograd recording (second-order derivatives, as with torch.func.grad)."""

    __slots__ = ("_graph", "_inputs")

    def apply(self, grads: list[Any], create_graph: bool, retain: bool) -> Sequence[Any]:
        inputs, consts = self._inputs
        wanted = [t for t in inputs if t.requires_grad]
        with enable_grad():
            outs = eval_graph(self._graph, [*inputs, *(Tensor(c) for c in consts)])
            pairs = [
                (o, g)
                for o, g in zip(outs, grads)
                if g is not None and isinstance(o, Tensor) and o.requires_grad
            ]
            got = iter(
                autograd.grad(
                    [o for o, _ in pairs],
                    wanted,
                    [g for _, g in pairs],
                    create_graph=create_graph,
                    allow_unused=True,
                )
                if pairs
                else [None] * len(wanted)
            )
        return [next(got) if t.requires_grad else None for t in inputs]


def trace(
    fn: Callable[..., Any] | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    cache_size: int = 64,
) -> Any:
    """Stage `fn` into a graph on its first call for each input signature.

    Usable as `@trace`, `@trace(static_argnums=1)` or `trace(fn, static_argnums=...)`.
    Tensors, numpy arrays and Python numbers (ints and floats) are traced: a new value
    reuses the compiled code; a new shape or dtype traces again. Strings, None, bools and
    the arguments named in `static_argnums`/`static_argnames` are static: part of the
    signature, each value traced once. At most `cache_size` signatures are kept (the
    least recently used is dropped). Raises ValueError for a bad cache_size.
    Given a tensor instead of a function, `trace(x)` is PyTorch's torch.trace: the sum
    of the main diagonal of the matrix x.
    """
    if isinstance(fn, operand.Operand):
        if static_argnums != () or static_argnames != ():
            raise TypeError("trace(matrix) takes no static_argnums/static_argnames")
        return fn.trace()
    if fn is None:
        return lambda f: TracedFunction(f, static_argnums, static_argnames, cache_size)
    return TracedFunction(fn, static_argnums, static_argnames, cache_size)


class ValueAndGrad(_Staged):
    """`value_and_grad(fn)`: forward and backward staged as one joint graph."""

    def __init__(
        self,
        fn: Callable[..., Any],
        argnums: int | Sequence[int] = 0,
        has_value: bool = True,
        has_aux: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(fn, **kw)
        self.argnums = argnums
        self.has_aux = has_aux
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
        loss_leaves = entry.out_tree.num_leaves
        if self.has_aux:
            pair = entry.out_tree
            if pair.kind != "tuple" or len(pair.children) != 2:
                raise TypeError(
                    f"{self.__name__}: with has_aux=True the function must return a pair "
                    f"(loss, aux); it returned {pair}"
                )
            loss_leaves = pair.children[0].num_leaves
        if (
            loss_leaves != 1
            or g.outputs[0].aval.shape != ()
            or not dtypes.is_float(g.outputs[0].aval.dtype)
        ):
            shapes = ", ".join(str(a.aval) for a in g.outputs[:loss_leaves])
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
                    f"{self._argname(i)!r}: it holds no tensor or number (it is static: a "
                    "string, None, a bool, or named in static_argnums); pass a tensor"
                )
            for j in range(starts[i], starts[i + 1]):
                if not dtypes.is_float(g.inputs[j].aval.dtype):
                    raise TypeError(
                        f"cannot differentiate with respect to argument "
                        f"{self._argname(i)!r}: it holds a {g.inputs[j].aval.dtype} "
                        "tensor (gradients need floating point)"
                    )
                wrt[j] = True
        joint = joint_vjp(g, wrt, seed_ones=True, n_diff=1)  # (loss, *grads, *aux)
        entry.joint_recorded = optimize(joint.graph)
        graph = optimize(strip_stop_gradient(joint.graph))
        result = (lower(graph, self._module_name("value_and_grad")), graph)
        self._compile_s += time.perf_counter() - t0
        return result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            entry, leaves, captured = self._lookup(args, kwargs)
        except _Nested:  # inside another trace: emit the gradient graph there
            return staged_value_and_grad(
                self.fn,
                args,
                kwargs,
                self.argnums,
                self.has_value,
                self.has_aux,
                self.static_argnums,
            )
        if entry.writes:
            self._refuse_aliases(entry, leaves, captured, args, kwargs)
        exe, graph = self._joint(entry)
        inputs = [*leaves, *captured]
        arrays = [t._data for t in inputs] + entry.consts
        results = _run(exe, arrays)
        if entry.writes or entry.grads_to_none:
            n = len(results) - len(entry.writes)
            _write_back(entry, leaves, captured, results[n:])
            results = results[:n]
        outs = [Tensor(o) for o in results]
        if any(t.requires_grad for t in inputs) and is_grad_enabled():
            # an input requires grad (an enclosing transform's, or the user's): the
            # results get a history, as torch.func.grad's do; differentiating them runs
            # the joint graph again op by op (only then)
            node = CompiledGradientBackward(
                tuple(autograd._edge(t) if t.requires_grad else (None, 0) for t in inputs)
            )
            node._graph, node._inputs = entry.joint_recorded, (inputs, entry.consts)
            for i, t in enumerate(outs):
                if t._data.dtype.kind == "f":
                    t._grad_fn, t._output_nr = node, i
        value = outs[0]
        if not self.has_aux:
            grads = iter(outs[1:])
            per_arg = tuple(entry.arg_trees[i].unflatten(grads, statics=False) for i in self._nums)
            g = per_arg[0] if isinstance(self.argnums, int) else per_arg
            return (value, g) if self.has_value else g
        n_aux = len(outs) - 1 - sum(entry.arg_trees[i].num_leaves for i in self._nums)
        grads = iter(outs[1 : len(outs) - n_aux])
        per_arg = tuple(entry.arg_trees[i].unflatten(grads, statics=False) for i in self._nums)
        g = per_arg[0] if isinstance(self.argnums, int) else per_arg
        aux = entry.out_tree.children[1].unflatten(iter(outs[len(outs) - n_aux :]))
        return ((value, aux), g) if self.has_value else (g, aux)

    def ir(self, *args: Any, **kwargs: Any) -> str:
        """The joint forward+backward graph that runs, as text."""
        entry, leaves = self._entry(args, kwargs)
        return PlainText(pretty(self._joint(entry)[1]))

    grad_ir = ir

    def source(self, *args: Any, **kwargs: Any) -> str:
        """The generated code of the joint value-and-gradient graph for these arguments."""
        entry, leaves = self._entry(args, kwargs)
        return PlainText(_source(self._joint(entry)[0], "value and gradients"))


def value_and_grad(
    fn: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False, **kw: Any
) -> ValueAndGrad:
    """`fn` returns a scalar; the result returns (value, gradients w.r.t. argnums)
    (jax.value_and_grad). With `has_aux`, `fn` returns (scalar, aux) and the result is
    ((value, aux), gradients). Called inside another traced function (or on the
    result of grad: grad(grad(f))) its gradient graph is staged there, so it nests."""
    return ValueAndGrad(fn, argnums, True, has_aux, **kw)


def grad(
    fn: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False, **kw: Any
) -> ValueAndGrad:
    """`fn` returns a scalar; the result returns its gradients w.r.t. argnums (jax.grad);
    with `has_aux`, (gradients, aux). Nests like value_and_grad."""
    return ValueAndGrad(fn, argnums, False, has_aux, **kw)
