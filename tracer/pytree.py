"""Flatten nested arguments (tuples, lists, dicts) into tensor leaves + a hashable
structure that also carries the static values (numbers, strings, None)."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.operand import Operand

_STATIC = (int, float, bool, str, bytes, type(None), np.number, np.bool_, np.dtype)


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
        return ("tuple", type(obj) if type(obj) is not tuple else None,
                tuple(flatten(x, leaves, as_leaf) for x in obj))
    if isinstance(obj, list):
        return ("list", tuple(flatten(x, leaves, as_leaf) for x in obj))
    if isinstance(obj, dict):
        keys = tuple(obj)
        return ("dict", keys, tuple(flatten(obj[k], leaves, as_leaf) for k in keys))
    if isinstance(obj, _STATIC):
        return ("static", type(obj).__name__, obj)
    try:
        hash(obj)
    except TypeError:
        raise TypeError(f"unsupported argument of type {type(obj).__name__}: traced functions "
                        "take tensors, numpy arrays, numbers, strings, None and "
                        "tuples/lists/dicts of them") from None
    return ("static", type(obj).__name__, obj)


def unflatten(tree: Any, leaves: Any) -> Any:
    """Rebuild a structure from `flatten`, taking leaves from the iterator `leaves`."""
    if tree == "*":
        return next(leaves)
    kind = tree[0]
    if kind == "tuple":
        items = tuple(unflatten(t, leaves) for t in tree[2])
        return tree[1](*items) if tree[1] is not None and hasattr(tree[1], "_fields") else \
            tree[1](items) if tree[1] is not None else items
    if kind == "list":
        return [unflatten(t, leaves) for t in tree[1]]
    if kind == "dict":
        return {k: unflatten(t, leaves) for k, t in zip(tree[1], tree[2])}
    return tree[2]


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
