"""tracer.capture: the access paths by which a traced function reaches the tensors it
captures, and the checks of the values it reads from outside."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

import tracer
from tracer import capture
from tracer.capture import MISSING, find_sources, value_guards


class Obj:
    pass


W = tracer.ones(2)
HOLDER = Obj()
HOLDER.inner = Obj()
HOLDER.inner.w = W


def uses_both(x):
    return x * HOLDER.inner.w + x * W


def test_the_shortest_path_wins_and_reads_the_current_value():
    global W
    (src,) = find_sources(uses_both, [W])
    assert src.path == "W"
    saved, W = W, tracer.zeros(2)
    try:
        assert src.read() is W
    finally:
        W = saved


def path_of(fn, t, statics=()):
    (src,) = find_sources(fn, [t], statics)
    return None if src is None else src.path


def test_paths_through_closures_items_attributes_functions_and_static_arguments():
    t = tracer.ones(2)
    cfg = {"layers": [Obj(), Obj()]}
    cfg["layers"][1].w = t
    assert path_of(lambda x: x * cfg["layers"][1].w, t) == "cfg['layers'][1].w"

    def helper(x):
        return x * t

    assert path_of(lambda x: helper(x), t) == "helper.__closure__:t"
    me = Obj()
    me.params = {"w": t}
    assert path_of(lambda self, x: x * self.params["w"], t, [("self", me)]) == "self.params['w']"


def test_a_defaultdict_is_not_grown_by_checking_a_path():
    t = tracer.ones(2)
    table = defaultdict(lambda: tracer.zeros(2), {"w": t})
    (src,) = find_sources(lambda x: x * table["w"], [t])
    del table["w"]
    assert src.read() is MISSING and "w" not in table


def test_the_search_is_bounded_in_depth():
    t = tracer.ones(2)
    chain: list = [t]
    for _ in range(capture.MAX_DEPTH + 1):
        chain = [chain]
    assert path_of(lambda x: x * chain, t) is None
    short = [[t]]
    assert path_of(lambda x: x * short, t) == "short[0][0]"


def test_a_property_that_raises_does_not_stop_the_search():
    t = tracer.ones(2)

    class Touchy:
        __slots__ = ("w", "broken")

        def __getattr__(self, name):
            raise RuntimeError("do not touch")

    obj = Touchy()
    obj.w = t
    assert path_of(lambda x: x * obj.w, t) == "obj.w"


def test_the_search_is_deterministic():
    t = tracer.ones(2)
    a, b = Obj(), Obj()
    a.w = b.w = t
    fn = lambda x: x * a.w + x * b.w  # noqa: E731
    assert {path_of(fn, t) for _ in range(5)} == {"a.w"}


N_LAYERS = 3


@pytest.mark.parametrize(
    "change,holds",
    [
        (lambda: None, True),
        (lambda: globals().update(N_LAYERS=3), True),  # an equal value
        (lambda: globals().update(N_LAYERS=4), False),
        (lambda: globals().update(N_LAYERS=3.0), False),  # 3 and 3.0 differ in a graph
    ],
)
def test_numbers_read_from_globals_are_guarded(change, holds):
    saved = N_LAYERS
    try:
        guards = value_guards(lambda x: x * N_LAYERS)
        assert [g.source.path for g in guards] == ["N_LAYERS"]
        change()
        assert guards[0].holds() is holds
    finally:
        globals()["N_LAYERS"] = saved


def test_nan_read_from_outside_stays_equal_to_itself():
    nan = float("nan")
    (guard,) = value_guards(lambda x: x * nan)
    nan = float("nan")  # noqa: F841 - another object, the same value
    assert guard.holds()


def test_numpy_arrays_are_guarded_by_identity():
    table = np.ones(2)
    (guard,) = value_guards(lambda x: x * table)
    table[0] = 5.0  # the same object
    assert guard.holds()
    table = np.ones(2)  # noqa: F841
    assert not guard.holds()
