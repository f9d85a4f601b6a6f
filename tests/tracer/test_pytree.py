"""Pytrees: flatten takes the tensors out of nested structures, TreeDef rebuilds them."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import tracer
from tracer.pytree import LEAF, Static, TreeDef, flatten, static

Point = namedtuple("Point", "x y")


class Pair(tuple):
    """A tuple subclass that is not a namedtuple: rebuilt from one iterable."""


def t(*values: float) -> tracer.Tensor:
    return tracer.tensor(list(values))


STRUCTURES = [
    ("a tensor", t(1.0), 1, ["value"]),
    ("a number", 3, 0, []),
    ("a tuple", (t(1.0), 2.0, t(3.0)), 2, ["value[0]", "value[2]"]),
    ("a list", [t(1.0), [t(2.0), "s"]], 2, ["value[0]", "value[1][0]"]),
    ("a dict", {"w": t(1.0), "b": None, "c": [t(2.0)]}, 2, ["value['w']", "value['c'][0]"]),
    ("a namedtuple", Point(t(1.0), 5), 1, ["value[0]"]),
    ("a tuple subclass", Pair((t(1.0), t(2.0))), 2, ["value[0]", "value[1]"]),
    ("an empty list", [], 0, []),
]


@pytest.mark.parametrize("what,obj,n,paths", STRUCTURES, ids=[s[0] for s in STRUCTURES])
def test_flatten_counts_names_and_rebuilds_the_leaves(what, obj, n, paths):
    leaves: list = []
    tree = flatten(obj, leaves)
    assert isinstance(tree, TreeDef)
    assert len(leaves) == tree.num_leaves == n
    assert tree.leaf_paths("value") == paths
    rebuilt = tree.unflatten(iter(leaves))
    assert type(rebuilt) is type(obj)
    assert _same(rebuilt, obj)


def _same(a, b) -> bool:
    if isinstance(a, tracer.Tensor):
        return a is b
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_unflatten_takes_new_leaves_and_can_drop_statics():
    tree = flatten({"w": t(1.0), "lr": 0.1, "xs": (t(2.0), "tag")}, [])
    out = tree.unflatten(iter(["W", "X"]))
    assert out == {"w": "W", "lr": 0.1, "xs": ("X", "tag")}
    assert tree.unflatten(iter(["W", "X"]), statics=False) == {
        "w": "W",
        "lr": None,
        "xs": ("X", None),
    }


def test_treedefs_are_equal_and_hash_alike_exactly_when_structure_and_statics_agree():
    def tree(obj):
        return flatten(obj, [])

    same = [tree((t(1.0), {"a": 2})), tree((t(5.0, 6.0), {"a": 2}))]
    assert same[0] == same[1] and hash(same[0]) == hash(same[1])
    differ = [
        tree((t(1.0), {"a": 2})),
        tree([t(1.0), {"a": 2}]),
        tree((t(1.0), {"b": 2})),
        tree((t(1.0), {"a": 2.0})),
        tree((t(1.0), {"a": True})),
        tree((t(1.0), {"a": t(2.0)})),
        tree(Point(t(1.0), {"a": 2})),
    ]
    assert len(set(differ)) == len(differ)


@pytest.mark.parametrize(
    "a,b,equal",
    [(0.0, -0.0, False), (float("nan"), float("nan"), True), (1, 1.0, False), (2, 2, True)],
)
def test_static_values_compare_by_type_and_bits(a, b, equal):
    assert (Static(a) == Static(b)) is equal
    assert (static(a) == static(b)) is equal


def test_static_values_and_str_show_the_structure():
    tree = flatten((t(1.0), [2, "s"], {"k": None}), [])
    assert list(tree.static_values()) == [2, "s", None]
    assert str(tree) == "(tensor, [2, 's'], {'k': None})"
    assert str(LEAF) == "tensor"


def test_numpy_leaves_become_tensors_in_native_byte_order():
    leaves: list = []
    big_endian = np.arange(3, dtype=">f8")
    assert flatten([big_endian], leaves) == TreeDef("list", None, (LEAF,))
    assert leaves[0].dtype == np.float64
    np.testing.assert_array_equal(leaves[0].numpy(), [0.0, 1.0, 2.0])


def test_unhashable_unknown_objects_are_refused():
    with pytest.raises(TypeError, match="unsupported argument of type set"):
        flatten({1, 2}, [])
