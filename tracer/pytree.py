"""Pytrees: nested tuples, lists and dicts of tensors and static values.

`flatten(obj, leaves)` appends the tensor leaves of `obj` to `leaves` and returns a
`TreeDef`: the structure without the tensors, hashable (it is part of a traced
function's cache key) and carrying the static values (numbers, strings, None).
`TreeDef.unflatten` rebuilds the structure from new leaves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from compiler import dtypes
from compiler.operand import Operand
from tracer.creation import from_numpy
from tracer.tensor import Tensor

_STATIC = (int, float, bool, str, bytes, type(None), np.number, np.bool_, np.dtype)

# TreeDef kinds
LEAF_KIND = "leaf"  # a tensor
NUMBER = "number"  # a Python number traced as a weakly typed 0-d value (meta: its type)
TUPLE = "tuple"  # meta: the tuple's class when it is not `tuple` (a namedtuple), else None
LIST = "list"
DICT = "dict"  # meta: the keys, in order
STATIC = "static"  # meta: a Static holding the value


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


class TreeDef(NamedTuple):
    """One node of a structure: its kind, what the kind needs to rebuild it (`meta`),
    and its children."""

    kind: str
    meta: Any = None
    children: tuple[TreeDef, ...] = ()

    @property
    def num_leaves(self) -> int:
        if self.kind in (LEAF_KIND, NUMBER):
            return 1
        return sum(c.num_leaves for c in self.children)

    def numbers_as_tensors(self) -> TreeDef:
        """The same structure with its Python-number leaves as tensor leaves (a loop's
        carry: a number in the initial value comes back as a tensor)."""
        if self.kind == NUMBER:
            return LEAF
        if not self.children:
            return self
        return TreeDef(self.kind, self.meta, tuple(c.numbers_as_tensors() for c in self.children))

    def weak_leaves(self) -> Iterator[bool]:
        """For each leaf in flatten order: is it a Python number (a weak value)?"""
        if self.kind in (LEAF_KIND, NUMBER):
            yield self.kind == NUMBER
        for c in self.children:
            yield from c.weak_leaves()

    def unflatten(self, leaves: Iterator[Any], statics: bool = True) -> Any:
        """The structure with its tensors taken, in order, from the iterator `leaves`.
        With `statics=False` the static values become None (a gradient structure)."""
        kind = self.kind
        if kind in (LEAF_KIND, NUMBER):
            return next(leaves)
        if kind == STATIC:
            return self.meta.value if statics else None
        items = [c.unflatten(leaves, statics) for c in self.children]
        if kind == LIST:
            return items
        if kind == DICT:
            return dict(zip(self.meta, items))
        cls = self.meta
        if cls is None:
            return tuple(items)
        return cls(*items) if hasattr(cls, "_fields") else cls(items)

    def leaf_paths(self, prefix: str = "") -> list[str]:
        """Where each leaf sits (`x[0]['w']`), in flatten order, for messages."""
        if self.kind in (LEAF_KIND, NUMBER):
            return [prefix or "value"]
        if self.kind == DICT:
            keys = [f"[{k!r}]" for k in self.meta]
        else:
            keys = [f"[{i}]" for i in range(len(self.children))]
        return [p for k, c in zip(keys, self.children) for p in c.leaf_paths(prefix + k)]

    def static_values(self) -> Iterator[Any]:
        """The static values in the structure, depth first."""
        if self.kind == STATIC:
            yield self.meta.value
        for c in self.children:
            yield from c.static_values()

    def __str__(self) -> str:
        """`(tensor, [tensor, 2])`: the structure as a user wrote it."""
        if self.kind == LEAF_KIND:
            return "tensor"
        if self.kind == NUMBER:
            return f"a Python {self.meta.__name__}"
        if self.kind == STATIC:
            return repr(self.meta)
        if self.kind == DICT:
            return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(self.meta, self.children)) + "}"
        inner = ", ".join(str(c) for c in self.children)
        return f"[{inner}]" if self.kind == LIST else f"({inner})"


LEAF = TreeDef(LEAF_KIND)


def static(value: Any) -> TreeDef:
    """The structure node of a static value."""
    return TreeDef(STATIC, Static(value))


def flatten(obj: Any, leaves: list[Any], as_leaf: type = Operand, numbers: bool = False) -> TreeDef:
    """Append the tensor leaves of `obj` to `leaves` (numpy arrays become tensors);
    return its structure. With `numbers`, Python ints and floats (not bools) are leaves
    too, as weakly typed 0-d tensors of float64/int64 (traced arguments: a new value
    does not retrace). Raises TypeError for an unhashable object that is not a tuple,
    list or dict."""
    if isinstance(obj, as_leaf):
        leaves.append(obj)
        return LEAF
    if (
        numbers
        and isinstance(obj, (int, float, np.integer, np.floating))
        and not isinstance(obj, (bool, np.bool_))
    ):
        leaves.append(Tensor(np.asarray(obj, dtypes.weak_dtype(obj))))
        return TreeDef(NUMBER, type(obj))
    if isinstance(obj, np.ndarray):
        leaves.append(from_numpy(_native(obj)))
        return LEAF
    if isinstance(obj, tuple):
        kids = tuple(flatten(x, leaves, as_leaf, numbers) for x in obj)
        return TreeDef(TUPLE, type(obj) if type(obj) is not tuple else None, kids)
    if isinstance(obj, list):
        return TreeDef(LIST, None, tuple(flatten(x, leaves, as_leaf, numbers) for x in obj))
    if isinstance(obj, dict):
        keys = tuple(obj)
        return TreeDef(DICT, keys, tuple(flatten(obj[k], leaves, as_leaf, numbers) for k in keys))
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


def _native(a: np.ndarray) -> np.ndarray:
    """A numpy argument in native byte order (a copy if it was not): the traced
    function reads its values, its outputs never alias it."""
    return a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))
