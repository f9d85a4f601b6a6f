"""The structure of the Modules a traced function calls, checked before each call.

A traced function reads its modules' parameters and buffers afresh at every call
(tracer.capture), but the code it staged follows what the modules were when it was
traced: which submodules they had and of what type, which parameters and buffers are
set (a bias set to None), train or eval mode, their hooks, and the plain settings their
forward reads (Dropout's `p`, LeakyReLU's `negative_slope`). So the modules called while
tracing (Module.__call__ reports them to the trace's builder, `GraphBuilder.observe`),
with all their submodules, are recorded with a fingerprint of that structure
(`ModuleGuard`). Every attribute assignment, registration or hook change of any module
bumps one counter (`changed`); a call compares the fingerprints again only when the
counter moved since its last check, and a difference traces the function again (a
replaced submodule is never run with the old one's code or weights).

Attributes added after tracing are not compared (the staged code did not read them).
A list attribute changed in place (`m.sizes.append(3)`) is seen at the next check,
which happens after the next module assignment, not by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from compiler.operand import Operand
from tracer.pytree import Static

__all__ = ["ModuleGuard", "Registry", "changed"]

_version = [0]  # bumped whenever any module's structure may have changed


def changed() -> None:
    """Note that some module's attributes, registrations or hooks changed."""
    _version[0] += 1


class Registry(dict):  # type: ignore[type-arg]
    """A module's `_parameters`, `_buffers` or `_modules`: a dict whose writes (by the
    module or by code that edits it directly, as containers do) call `changed()`."""

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


# ---- fingerprints ------------------------------------------------------------------------

_HOOKS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")
_IGNORED = frozenset(
    (
        "_parameters",
        "_buffers",
        "_modules",
        *_HOOKS,
        "_non_persistent_buffers_set",
        "_state_dict_pre_hooks",
        "_state_dict_hooks",
        "_load_state_dict_pre_hooks",
        "_load_state_dict_post_hooks",
    )
)
_ATOMS = (int, float, complex, bool, str, bytes, type(None))
_ABSENT = object()


def _plain(v: Any) -> bool:
    if isinstance(v, (tuple, list)):
        return all(_plain(x) for x in v)
    return isinstance(v, _ATOMS)


def _snapshot(v: Any) -> Any:
    """What of an attribute's value is kept: plain values by value (a list copied, so an
    in-place change shows), anything else by reference (compared by identity)."""
    return list(v) if isinstance(v, list) and _plain(v) else v


def _same(old: Any, now: Any) -> bool:
    if old is now:
        return True
    if now is _ABSENT:
        return False
    if _plain(old) and _plain(now):
        freeze = (lambda v: (type(v).__name__, tuple(v))) if isinstance(old, list) else None
        if freeze is not None:
            return isinstance(now, list) and Static(freeze(old)) == Static(freeze(now))
        return Static(old) == Static(now)
    # a tensor attribute is read at each call through its path (tracer.capture), which
    # checks its shape and dtype; anything else must be the same object
    return isinstance(old, Operand) and isinstance(now, Operand)


def _fingerprint(m: Any) -> dict[str, Any]:
    d = object.__getattribute__(m, "__dict__")
    return {
        "type": type(m),
        "attrs": {k: _snapshot(v) for k, v in d.items() if k not in _IGNORED},
        "parameters": {k: v is None for k, v in d["_parameters"].items()},
        "buffers": {k: v is None for k, v in d["_buffers"].items()},
        "submodules": dict(d["_modules"]),
        "hooks": tuple(tuple(d[h]) for h in _HOOKS),
    }


def _short(value: Any) -> str:
    if isinstance(value, Operand):
        return "a tensor"
    if hasattr(value, "_modules") and hasattr(value, "forward"):
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _registry_change(name: str, what: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    for k in old:
        if k not in new:
            return f"{name}'s {what} {k!r} was removed after tracing"
    for k in new:
        if k not in old:
            return f"{name} gained the {what} {k!r} after tracing"
    k = next(k for k in old if old[k] != new[k])
    state = "set to None" if new[k] else "set (it was None)"
    return f"{name}'s {what} {k!r} was {state} after tracing"


def _describe(m: Any, old: dict[str, Any]) -> str | None:
    """What changed in module `m` since fingerprint `old` (None: nothing)."""
    new = _fingerprint(m)
    name = type(m).__name__
    if new["type"] is not old["type"]:
        return f"{old['type'].__name__} became a {name} after tracing (its __class__ was set)"
    for k, v in old["attrs"].items():
        now = new["attrs"].get(k, _ABSENT)
        if not _same(v, now):
            shown = "unset" if now is _ABSENT else _short(now)
            return f"{name}.{k}, read while tracing, changed: {_short(v)} -> {shown}"
    for what, key in (("parameter", "parameters"), ("buffer", "buffers")):
        if old[key] != new[key]:
            return _registry_change(name, what, old[key], new[key])
    osub, nsub = old["submodules"], new["submodules"]
    if any(osub.get(k) is not nsub.get(k) for k in {*osub, *nsub}):
        for k in osub:
            if k not in nsub:
                return f"{name}'s submodule {k!r} was removed after tracing"
        for k in nsub:
            if k not in osub:
                return f"{name} gained the submodule {k!r} after tracing"
        k = next(k for k in osub if osub[k] is not nsub[k])
        return (
            f"{name}'s submodule {k!r} was replaced after tracing "
            f"({_short(osub[k])} -> {_short(nsub[k])})"
        )
    if old["hooks"] != new["hooks"]:
        return f"{name}'s hooks were added or removed after tracing"
    return None


def _with_submodules(modules: Iterable[Any]) -> list[Any]:
    """The modules and all their submodules, each once, in a stable order."""
    seen: dict[int, Any] = {}
    for m in modules:
        for sub in m.modules():
            seen.setdefault(id(sub), sub)
    return list(seen.values())


@dataclass
class ModuleGuard:
    """The modules a trace called (and their submodules), each with its structure as it
    was when traced; `holds()` while all of them still have it."""

    modules: list[tuple[Any, dict[str, Any]]]
    seen: int = -1  # the change counter when they were last found unchanged

    @classmethod
    def of(cls, called: Iterable[Any]) -> ModuleGuard:
        """The guard for the modules called while tracing (GraphBuilder.observed)."""
        return cls([(m, _fingerprint(m)) for m in _with_submodules(called)], _version[0])

    def change(self) -> str | None:
        """What changed, for explain(): the first module found changed (None: none)."""
        for m, fp in self.modules:
            what = _describe(m, fp)
            if what is not None:
                return what
        return None

    def holds(self) -> bool:
        if self.seen == _version[0]:
            return True
        if self.change() is not None:
            return False
        self.seen = _version[0]
        return True
