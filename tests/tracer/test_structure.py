"""tracer.structure.ModuleGuard: which changes to a module make a guard taken before
them fail, and which do not. The expected answers are the specification in the module
docstring (what the staged code of a module call depends on)."""

from __future__ import annotations

import copy
import pickle

import pytest

import tracer
from tracer import nn
from tracer.structure import ModuleGuard, Registry


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.act = nn.ReLU()
        self.sizes = [1, 2]
        self.scale = 2.0
        self.fn = abs
        self.register_buffer("shift", tracer.zeros(2))


def _bias_none(m):
    m.fc.bias = None


def _new_parameter_same_shape(m):
    m.fc.weight = nn.Parameter(tracer.ones(2, 2))


def _list_in_place(m):
    m.sizes.append(3)
    m.scale = 2.0  # an assignment (of the same value) makes the guard look again


CHANGES = [
    # (change, guard still holds)
    (lambda m: m.eval(), False),
    (lambda m: setattr(m, "scale", 3.0), False),
    (lambda m: setattr(m, "scale", 2), False),  # 2 and 2.0 stage different code
    (lambda m: setattr(m, "fn", round), False),
    (lambda m: delattr(m, "scale"), False),
    (lambda m: setattr(m, "act", nn.ReLU()), False),  # a new object: replaced
    (lambda m: setattr(m, "extra", nn.Tanh()), False),
    (lambda m: delattr(m, "act"), False),
    (_bias_none, False),
    (lambda m: m.register_buffer("more", tracer.zeros(1)), False),
    (lambda m: m.fc.register_forward_hook(lambda *a: None), False),
    (_list_in_place, False),
    (lambda m: m.train(), True),  # already training
    (lambda m: setattr(m, "scale", 2.0), True),
    (lambda m: setattr(m, "unrelated", "x"), True),  # not read when traced
    (_new_parameter_same_shape, True),  # values are read at each call, not guarded
    (lambda m: m.load_state_dict(_Net().state_dict()), True),
    (lambda m: setattr(m, "shift", tracer.ones(2)), True),
    (lambda m: nn.Linear(2, 2).eval(), True),  # another module
]


@pytest.mark.parametrize("change,holds", CHANGES)
def test_what_a_guard_sees(change, holds):
    m = _Net()
    guard = ModuleGuard.of([m])
    assert guard.holds()
    change(m)
    assert guard.holds() is holds
    assert (guard.change() is None) is holds


def test_a_guard_covers_the_submodules_of_a_called_module():
    m = _Net()
    guard = ModuleGuard.of([m])
    m.fc.in_features = 3
    assert not guard.holds()
    assert guard.change() == "Linear.in_features, read while tracing, changed: 2 -> 3"


def test_a_removed_hook_is_a_change():
    m = _Net()
    handle = m.register_forward_pre_hook(lambda *a: None)
    guard = ModuleGuard.of([m])
    handle.remove()
    assert not guard.holds() and "hooks" in guard.change()


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_copies_keep_registries_that_report_changes(clone):
    m = clone(nn.Sequential(nn.Linear(2, 2)))
    assert all(type(r) is Registry for r in (m._modules, m[0]._parameters, m[0]._buffers))
    guard = ModuleGuard.of([m])
    m._modules["1"] = nn.ReLU()  # as code that edits the registry directly does
    assert not guard.holds()
