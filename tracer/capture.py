"""What a traced function reads from outside, and the check, at each call, that the
compiled code still computes with what the function would read now.

A tensor the function uses without taking it as an argument (a closure variable, a
global, `self.w`, `params["w"]`) is captured: it becomes an input of the graph. Once
per trace, `find_sources` looks for the access path by which the function reaches
each captured tensor, starting from what the function can name (its closure cells,
the globals its code names, its default arguments, its static arguments) and going
through dict items, list and tuple items, object attributes, and the closures and
globals of the functions and methods it can call. The search is breadth first (the
shortest path wins), deterministic (roots and children in order) and bounded
(MAX_DEPTH steps, MAX_CHILDREN children an object, MAX_OBJECTS objects).

Each path becomes a getter run at every call (a few item and attribute lookups). When
it finds the tensor the trace used, or another tensor of the same shape and dtype, the
compiled code runs on what it finds; anything else (another shape or dtype, not a
tensor, a path that no longer resolves) makes the function trace again.

Numbers, strings, None and numpy arrays that the function reads directly from its
closure cells and globals are built into the graph, so they are checked too: a new
value (a numpy array: another object) traces again.

The modules the function calls are watched too (tracer.structure.ModuleGuard): their
plain attributes (`training`, `p`), submodules, parameter and buffer names and hooks
are recorded when tracing, and `model.eval()`, `drop.p = 0.2` or `model.fc = nn.Tanh()`
afterwards makes the function trace again.

A captured tensor with no path is either made inside the function (a constant of its
code: `tracer.tensor([1.0, 2.0])`) or reached some way the search does not follow
(a set, an object beyond the bounds, a C extension): it is then read by reference
(its in-place updates are seen) and a TracerWarning says that rebinding whatever
holds it would not be, and to pass it as an argument instead.
"""

from __future__ import annotations

import functools
import operator
import types
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.operand import Operand
from tracer.pytree import Static

MAX_DEPTH = 8  # steps from a root
MAX_CHILDREN = 256  # items or attributes followed per object
MAX_OBJECTS = 20_000  # objects visited per search

MISSING = object()  # what a getter returns when its path no longer resolves

# values that hold nothing to search
_ATOMS = (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic, range)
# values built into a graph when a function reads them: checked at each call
_BUILT_IN = (int, float, complex, bool, str, bytes, type(None), np.generic)


@dataclass(frozen=True)
class Source:
    """Where a captured value lives: `path` for messages (`params['w']`, `self.w`),
    `read()` its current value (MISSING when the path no longer resolves)."""

    path: str
    read: Callable[[], Any]


@dataclass(frozen=True)
class ValueGuard:
    """A number, string or numpy array the function read directly: it must still be
    the same value (numbers, strings; NaN equals NaN) or object (arrays)."""

    source: Source
    value: Any

    def holds(self) -> bool:
        now = self.source.read()
        if now is self.value:
            return True
        if isinstance(self.value, np.ndarray) or not isinstance(now, _BUILT_IN):
            return False
        return Static(now) == Static(self.value)


# ---- paths: a root and steps, each step a function object -> object ----------------


def _item(key: Any) -> Callable[[Any], Any]:
    """`d[key]` of a dict, without calling a subclass's __missing__ (a defaultdict must
    not grow an entry because a path was checked)."""

    def get(d: Any) -> Any:
        v = dict.get(d, key, MISSING)
        if v is MISSING:
            raise KeyError(key)
        return v

    return get


def _closure(i: int) -> Callable[[Any], Any]:
    return lambda f: f.__closure__[i].cell_contents


def _function_global(name: str) -> Callable[[Any], Any]:
    return lambda f: f.__globals__[name]


def _getter(root: Callable[[], Any], steps: Sequence[Callable[[Any], Any]]) -> Callable[[], Any]:
    steps = tuple(steps)

    def read() -> Any:
        try:
            obj = root()
            for step in steps:
                obj = step(obj)
            return obj
        except (LookupError, AttributeError, TypeError, ValueError):  # ValueError: empty cell
            return MISSING

    return read


def _cell_root(cell: Any) -> Callable[[], Any]:
    return lambda: cell.cell_contents


def _global_root(glob: dict[str, Any], name: str) -> Callable[[], Any]:
    def read() -> Any:
        v = glob.get(name, MISSING)
        if v is MISSING:
            raise KeyError(name)
        return v

    return read


def _fixed_root(obj: Any) -> Callable[[], Any]:
    return lambda: obj


# ---- what a function can name ---------------------------------------------------------


def unwrap(fn: Any) -> Any:
    """The Python function behind a bound method, a decorator (`__wrapped__`) or a
    traced function."""
    for _ in range(10):
        inner = getattr(fn, "__func__", None) or getattr(fn, "__wrapped__", None)
        if inner is None:
            return fn
        fn = inner
    return fn


def code_names(code: Any) -> list[str]:
    """Names a code object (and the functions, lambdas and comprehensions defined in
    it) looks up as globals or attributes, in order of first use."""
    names: dict[str, None] = dict.fromkeys(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names.update(dict.fromkeys(code_names(c)))
    return list(names)


def _roots(
    fn: Any, statics: Sequence[tuple[str, Any]]
) -> Iterator[tuple[str, Callable[[], Any], Any]]:
    """(path, reader, value) of what the function names directly."""
    code = getattr(fn, "__code__", None)
    if code is not None:
        for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
            try:
                yield name, _cell_root(cell), cell.cell_contents
            except ValueError:  # an empty cell: a variable not assigned yet
                continue
        glob = getattr(fn, "__globals__", {})
        for name in code_names(code):
            if name in glob:
                yield name, _global_root(glob, name), glob[name]
    for i, value in enumerate(getattr(fn, "__defaults__", None) or ()):
        yield f"<default {i}>", _fixed_root(value), value
    for name, value in (getattr(fn, "__kwdefaults__", None) or {}).items():
        yield f"<default {name}>", _fixed_root(value), value
    for name, obj in statics:
        yield name, _fixed_root(obj), obj


def _children(obj: Any, names: set[str]) -> Iterator[tuple[str, Callable[[Any], Any], Any]]:
    """(path suffix, step, child) of an object, at most MAX_CHILDREN."""
    return _first(_all_children(obj, names), MAX_CHILDREN)


def _first(it: Iterator[Any], n: int) -> Iterator[Any]:
    for i, x in enumerate(it):
        if i == n:
            return
        yield x


def _all_children(obj: Any, names: set[str]) -> Iterator[tuple[str, Callable[[Any], Any], Any]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield f"[{k!r}]", _item(k), v
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield f"[{i}]", operator.itemgetter(i), v
    elif isinstance(obj, types.FunctionType):
        for i, cell in enumerate(obj.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            yield f".__closure__:{obj.__code__.co_freevars[i]}", _closure(i), value
        for name in code_names(obj.__code__):
            if name in obj.__globals__:
                yield f".__globals__[{name!r}]", _function_global(name), obj.__globals__[name]
    elif isinstance(obj, types.MethodType):
        yield ".__self__", operator.attrgetter("__self__"), obj.__self__
        yield ".__func__", operator.attrgetter("__func__"), obj.__func__
    elif isinstance(obj, functools.partial):
        yield ".func", operator.attrgetter("func"), obj.func
        yield ".args", operator.attrgetter("args"), obj.args
        yield ".keywords", operator.attrgetter("keywords"), obj.keywords
    elif "__wrapped__" in _attrs(obj):  # a decorated function (a traced function)
        yield ".__wrapped__", operator.attrgetter("__wrapped__"), obj.__wrapped__
    elif isinstance(obj, types.ModuleType):
        # modules and classes hold much: follow only the names the code uses (`mod.w`)
        for name in sorted(names):
            value = vars(obj).get(name, MISSING)
            if value is not MISSING:
                yield f".{name}", operator.attrgetter(name), value
    elif isinstance(obj, type):
        for name in sorted(names):
            if any(name in vars(c) for c in obj.__mro__):
                value = _safe_getattr(obj, name)
                if value is not MISSING:
                    yield f".{name}", operator.attrgetter(name), value
    else:
        attrs = _attrs(obj)
        for name, value in attrs.items():
            if isinstance(name, str) and not name.startswith("__"):
                yield f".{name}", operator.attrgetter(name), value
        for cls in type(obj).__mro__:
            slots = cls.__dict__.get("__slots__", ())
            for name in [slots] if isinstance(slots, str) else slots:
                if name not in attrs and not name.startswith("__"):
                    value = _safe_getattr(obj, name)
                    if value is not MISSING:
                        yield f".{name}", operator.attrgetter(name), value


def _attrs(obj: Any) -> dict[str, Any]:
    """An object's instance attributes (its __dict__), without running its code."""
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        return {}
    return attrs if isinstance(attrs, dict) else {}


def _safe_getattr(obj: Any, name: str) -> Any:
    """getattr for the search: a property that raises is skipped, not an error."""
    try:
        return getattr(obj, name)
    except Exception:
        return MISSING


def find_sources(
    fn: Callable[..., Any], captured: Sequence[Any], statics: Sequence[tuple[str, Any]] = ()
) -> list[Source | None]:
    """For each captured tensor, the shortest access path from what `fn` can name
    (`statics`: the static arguments, by name), as a Source whose getter was checked to
    find that tensor; None where there is none within the bounds."""
    found: list[Source | None] = [None] * len(captured)
    if not captured:
        return found
    fn = unwrap(fn)
    wanted = {id(t): i for i, t in enumerate(captured)}
    code = getattr(fn, "__code__", None)
    names = set(code_names(code)) if code is not None else set()
    seen: set[int] = set()
    queue: deque[tuple[Any, str, Callable[[], Any], tuple[Callable[[Any], Any], ...]]] = deque()
    for path, root, value in _roots(fn, statics):
        queue.append((value, path, root, ()))
    while queue and len(seen) < MAX_OBJECTS and wanted:
        obj, path, root, steps = queue.popleft()
        i = wanted.get(id(obj))
        if i is not None:
            read = _getter(root, steps)
            if read() is obj:  # the getter finds what the trace used
                found[i] = Source(path, read)
                del wanted[id(obj)]
            continue
        if id(obj) in seen or isinstance(obj, (*_ATOMS, Operand)) or len(steps) >= MAX_DEPTH:
            continue
        seen.add(id(obj))
        if isinstance(obj, types.FunctionType):
            names.update(code_names(obj.__code__))
        for suffix, step, child in _children(obj, names):
            queue.append((child, path + suffix, root, steps + (step,)))
    return found


def code_constants(code: Any) -> set[Any]:
    """The string and int constants of a code object and the code nested in it (the
    keys of `hp["lr"]`)."""
    out = {c for c in code.co_consts if isinstance(c, (str, int)) and not isinstance(c, bool)}
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out |= code_constants(c)
    return out


def value_guards(
    fn: Callable[..., Any], statics: Sequence[tuple[str, Any]] = ()
) -> list[ValueGuard]:
    """Guards for the numbers, strings, None and numpy arrays that `fn` reads from
    outside: held by its closure cells and globals (`lr`), or one attribute or item
    away from them or from its static arguments, under a name or key its code uses
    (`self.lr`, `cfg.lr`, `hp["lr"]`). Call it after tracing: values the function set
    while it was traced are the ones to compare with."""
    fn = unwrap(fn)
    code = getattr(fn, "__code__", None)
    names = set(code_names(code)) if code is not None else set()
    keys = code_constants(code) if code is not None else set()
    guards = []
    for path, root, value in _roots(fn, statics):
        if path.startswith("<"):  # default arguments
            continue
        if isinstance(value, (*_BUILT_IN, np.ndarray)):
            guards.append(ValueGuard(Source(path, _getter(root, ())), value))
        elif isinstance(value, dict):
            for k in keys:
                item = dict.get(value, k, MISSING)
                if isinstance(item, (*_BUILT_IN, np.ndarray)):
                    guards.append(
                        ValueGuard(Source(f"{path}[{k!r}]", _getter(root, (_item(k),))), item)
                    )
        elif not isinstance(value, (*_ATOMS, Operand, types.FunctionType, type)):
            attrs = vars(value) if isinstance(value, types.ModuleType) else _attrs(value)
            for name in sorted(names & set(attrs)):
                item = attrs[name]
                if isinstance(item, (*_BUILT_IN, np.ndarray)):
                    read = _getter(root, (operator.attrgetter(name),))
                    guards.append(ValueGuard(Source(f"{path}.{name}", read), item))
    return guards
