"""Flatten nested arguments (tuples, lists, dicts) into tensor leaves + a hashable
structure that also carries the static values (numbers, strings, None)."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.operand import Operand

_STATIC = (int, float, bool, str, bytes, type(None), np.number, np.bool_, np.dtype)


class Static:
    """A static value in a structure. Equal only to the same value of the same type:
    1, 1.0 and True differ, and so do 0.0 and -0.0 (x * s gives -0.0 for one);
    NaN equals NaN, so a NaN static argument still hits the cache."""

    __slots__ = ("value", "_key")

    def __init__(self, value: Any) -> None:
        self.value = value
        self._key = _canonical(value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Static) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return repr(self.value)


def _canonical(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return (type(v).__name__, float(v).hex())
    if isinstance(v, (complex, np.complexfloating)):
        return (type(v).__name__, v.real.hex(), v.imag.hex())
    if isinstance(v, tuple):
        return (type(v).__name__,) + tuple(_canonical(x) for x in v)
    if isinstance(v, frozenset):
        return (type(v).__name__, frozenset(_canonical(x) for x in v))
    return (type(v).__name__, v)


def static(value: Any) -> tuple[str, str, Static]:
    """The structure node of a static value."""
    return ("static", type(value).__name__, Static(value))


def flatten(obj: Any, leaves: list[Any], as_leaf: type = Operand) -> Any:
    """Append tensor leaves of `obj` to `leaves`; return its structure (hashable)."""
    if isinstance(obj, as_leaf):
        leaves.append(obj)
        return "*"
    if isinstance(obj, np.ndarray):
        from tracer.creation import from_numpy

        leaves.append(from_numpy(obj))
        return "*"
    if isinstance(obj, tuple):
        return (
            "tuple",
            type(obj) if type(obj) is not tuple else None,
            tuple(flatten(x, leaves, as_leaf) for x in obj),
        )
    if isinstance(obj, list):
        return ("list", tuple(flatten(x, leaves, as_leaf) for x in obj))
    if isinstance(obj, dict):
        keys = tuple(obj)
        return ("dict", keys, tuple(flatten(obj[k], leaves, as_leaf) for k in keys))
    if isinstance(obj, _STATIC):
        return static(obj)
    try:
        hash(obj)
    except TypeError:
        raise TypeError(
            f"unsupported argument of type {type(obj).__name__}: traced functions "
            "take tensors, numpy arrays, numbers, strings, None and "
            "tuples/lists/dicts of them"
        ) from None
    return static(obj)


def unflatten(tree: Any, leaves: Any, statics: bool = True) -> Any:
    """Rebuild a structure from `flatten`, taking leaves from the iterator `leaves`.
    With `statics=False` the static values become None (a gradient structure)."""
    if tree == "*":
        return next(leaves)
    kind = tree[0]
    if kind == "tuple":
        items = tuple(unflatten(t, leaves, statics) for t in tree[2])
        return (
            tree[1](*items)
            if tree[1] is not None and hasattr(tree[1], "_fields")
            else tree[1](items)
            if tree[1] is not None
            else items
        )
    if kind == "list":
        return [unflatten(t, leaves, statics) for t in tree[1]]
    if kind == "dict":
        return {k: unflatten(t, leaves, statics) for k, t in zip(tree[1], tree[2])}
    return tree[2].value if statics else None


def describe(tree: Any, path: str = "") -> list[str]:
    """Paths of the leaves, in flatten order (for messages)."""
    if tree == "*":
        return [path or "value"]
    kind = tree[0]
    if kind in ("tuple", "list"):
        kids = tree[2] if kind == "tuple" else tree[1]
        return [p for i, t in enumerate(kids) for p in describe(t, f"{path}[{i}]")]
    if kind == "dict":
        return [p for k, t in zip(tree[1], tree[2]) for p in describe(t, f"{path}[{k!r}]")]
    return []
