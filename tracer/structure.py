"""The structure of the Modules a traced function calls, checked before each call.

A traced function reads its modules' parameters and buffers afresh at every call
(tracer.capture), but the code it staged follows what the modules were when it was
traced: which submodules they had and of what type, train or eval mode, their hooks,
and the plain settings their forward reads (Dropout's `p`, LeakyReLU's `negative_slope`).
So the modules called while tracing, and their submodules, are recorded with a
fingerprint of that structure; when any module changed since (`VERSION`, bumped by
every attribute assignment, registration and hook change of any module), the
fingerprints are compared again and a difference traces the function again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from compiler.operand import Operand
from tracer.pytree import Static

__all__ = ["VERSION", "Registry", "changed", "describe_change", "fingerprint", "recording"]

VERSION = [0]  # bumped whenever any module's structure may have changed


def changed() -> None:
    """Note that some module's attributes, registrations or hooks changed."""
    VERSION[0] += 1


class Registry(dict):  # type: ignore[type-arg]
    """A module's `_parameters`, `_buffers` or `_modules`: a dict whose writes (by the
    module or by code that edits it directly, as containers do) bump VERSION."""

    __slots__ = ()

    def __setitem__(self, key: Any, value: Any) -> None:
        changed()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        changed()
        dict.__delitem__(self, key)

    def pop(self, *args: Any) -> Any:
        changed()
        return dict.pop(self, *args)

    def popitem(self) -> Any:
        changed()
        return dict.popitem(self)

    def clear(self) -> None:
        changed()
        dict.clear(self)

    def update(self, *args: Any, **kwargs: Any) -> None:
        changed()
        dict.update(self, *args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        changed()
        return dict.setdefault(self, key, default)

    def __reduce__(self) -> Any:  # pickles and deep-copies as a Registry
        return (Registry, (dict(self),))


# ---- recording the modules a trace calls ---------------------------------------------

_local = threading.local()


@contextmanager
def recording() -> Iterator[list[Any]]:
    """Collect, in call order, the modules called (Module.__call__) inside the block."""
    outer = getattr(_local, "modules", None)
    _local.modules = modules = []
    try:
        yield modules
    finally:
        _local.modules = outer
        if outer is not None:  # an inlined traced function: the outer trace calls them too
            outer.extend(modules)


def note_call(module: Any) -> None:
    """Called by Module.__call__ while a function is traced."""
    modules = getattr(_local, "modules", None)
    if modules is not None:
        modules.append(module)


def with_submodules(modules: list[Any]) -> list[Any]:
    """The modules and all their submodules, each once, in a stable order."""
    seen: dict[int, Any] = {}
    for m in modules:
        for sub in m.modules():
            seen.setdefault(id(sub), sub)
    return list(seen.values())


# ---- fingerprints ------------------------------------------------------------------------

_REGISTRIES = ("_parameters", "_buffers", "_modules")
_HOOKS = (
    "_forward_pre_hooks",
    "_forward_hooks",
    "_backward_pre_hooks",
    "_backward_hooks",
)
_IGNORED = frozenset(
    (
        *_REGISTRIES,
        *_HOOKS,
        "_non_persistent_buffers_set",
        "_state_dict_pre_hooks",
        "_state_dict_hooks",
        "_load_state_dict_pre_hooks",
        "_load_state_dict_post_hooks",
    )
)
_ATOMS = (int, float, complex, bool, str, bytes, type(None))


def _value_key(v: Any) -> Any:
    """What of an attribute's value the staged code may depend on: numbers and strings
    (and tuples or lists of them) by value, tensors not at all (they are read at each
    call), anything else by identity."""
    if isinstance(v, _ATOMS):
        return Static(v)
    if isinstance(v, (tuple, list)) and all(isinstance(x, _ATOMS) for x in v):
        return (type(v).__name__, Static(tuple(v)))
    if isinstance(v, Operand):
        return "tensor"
    return ("object", id(v))


def fingerprint(m: Any) -> dict[str, Any]:
    """The structure of module `m` that its staged forward depends on."""
    d = m.__dict__
    fp: dict[str, Any] = {"type": type(m)}
    for k, v in d.items():
        if k not in _IGNORED:
            fp[k] = _value_key(v)
    fp["parameters"] = tuple((k, v is None) for k, v in d["_parameters"].items())
    fp["buffers"] = tuple((k, v is None) for k, v in d["_buffers"].items())
    fp["submodules"] = tuple((k, id(v)) for k, v in d["_modules"].items())
    fp["hooks"] = tuple(tuple(d[h]) for h in _HOOKS)
    return fp


def describe_change(m: Any, old: dict[str, Any]) -> str | None:
    """What changed in module `m` since fingerprint `old` was taken (None: nothing)."""
    new = fingerprint(m)
    if new == old:
        return None
    name = type(m).__name__
    for key in sorted(set(old) | set(new), key=lambda k: (k not in ("type", "training"), k)):
        if old.get(key) != new.get(key):
            what = {
                "training": "its train/eval mode",
                "parameters": "its registered parameters",
                "buffers": "its registered buffers",
                "submodules": "its submodules (added, removed or replaced)",
                "hooks": "its hooks",
            }.get(key, f"its attribute {key!r}")
            return f"module {name} changed: {what}"
    return f"module {name} changed"
