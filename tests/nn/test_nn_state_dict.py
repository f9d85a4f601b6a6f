"""state_dict() and load_state_dict(): keys, detached values sharing memory, round
trips, strict and non-strict loading with (missing_keys, unexpected_keys), errors
naming keys and shapes (and changing nothing), assign=True, extra state and hooks."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import tracer
import tracer.nn as tnn


def mlp(nn):
    return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))


def values(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def test_state_dict_is_ordered_detached_and_shares_memory():
    m = mlp(tnn)
    sd = m.state_dict()
    assert type(sd) is OrderedDict
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(not v.requires_grad and type(v) is tracer.Tensor for v in sd.values())
    with tracer.no_grad():
        m[0].bias.fill_(4.0)
    np.testing.assert_array_equal(sd["0.bias"].numpy(), [4.0, 4.0, 4.0])


def test_keep_vars_gives_the_parameters_themselves():
    m = mlp(tnn)
    assert m.state_dict(keep_vars=True)["0.weight"] is m[0].weight


def test_state_dict_prefix_and_destination():
    dest = OrderedDict(existing=1)
    out = tnn.Linear(1, 1).state_dict(destination=dest, prefix="enc.")
    assert out is dest and list(dest) == ["existing", "enc.weight", "enc.bias"]


def test_round_trip_copies_values_into_the_same_parameters():
    src, dst = mlp(tnn), mlp(tnn)
    w = dst[0].weight
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert dst[0].weight is w
    for k, v in values(src).items():
        np.testing.assert_array_equal(values(dst)[k], v)


def test_loading_converts_to_the_module_dtype():
    m = tnn.Linear(2, 1)
    sd = {k: v.double() + 1 for k, v in m.state_dict().items()}
    m.load_state_dict(sd)
    assert m.weight.dtype == np.float32
    np.testing.assert_allclose(m.weight.detach().numpy(), sd["weight"].numpy())


def test_zero_d_parameter_loads_from_a_one_element_checkpoint():
    m = tnn.Module()
    m.s = tnn.Parameter(tracer.tensor(0.0))
    m.load_state_dict({"s": tracer.tensor([2.5])})
    assert m.s.shape == () and m.s.item() == 2.5


def test_non_persistent_buffers_and_none_entries_are_left_out():
    m = tnn.Linear(2, 1, bias=False)
    m.register_buffer("tmp", tracer.zeros(1), persistent=False)
    m.register_buffer("empty", None)
    assert list(m.state_dict()) == ["weight"]


# (id, state dict built from a fresh Linear(2, 3)'s, strict, expected result or error lines)
LOAD_CASES = [
    (
        "missing_and_unexpected_strict",
        lambda sd: {"weight": sd["weight"], "x": tracer.zeros(1), "y.z": tracer.zeros(1)},
        True,
        [
            'Missing key(s) in state_dict: "bias". ',
            'Unexpected key(s) in state_dict: "x", "y.z". ',
        ],
    ),
    (
        "size_mismatch_strict",
        lambda sd: {"weight": tracer.zeros(2, 2), "bias": sd["bias"]},
        True,
        [
            "size mismatch for weight: copying a param with shape tracer.Size([2, 2]) from "
            "checkpoint, the shape in current model is tracer.Size([3, 2])."
        ],
    ),
    (
        "everything_strict",
        lambda sd: {"weight": tracer.zeros(2, 2), "extra": tracer.zeros(1)},
        True,
        [
            'Missing key(s) in state_dict: "bias". ',
            'Unexpected key(s) in state_dict: "extra". ',
            "size mismatch for weight: copying a param with shape tracer.Size([2, 2]) from "
            "checkpoint, the shape in current model is tracer.Size([3, 2]).",
        ],
    ),
    (
        "size_mismatch_raises_even_when_not_strict",
        lambda sd: {"weight": tracer.zeros(2, 2), "bias": sd["bias"]},
        False,
        [
            "size mismatch for weight: copying a param with shape tracer.Size([2, 2]) from "
            "checkpoint, the shape in current model is tracer.Size([3, 2])."
        ],
    ),
    (
        "not_a_tensor",
        lambda sd: {"weight": sd["weight"], "bias": [1.0, 2.0, 3.0]},
        True,
        [
            'While copying the parameter named "bias", expected tracer.Tensor or Tensor-like '
            "object from checkpoint but received <class 'list'>"
        ],
    ),
    (
        "non_strict_reports_keys",
        lambda sd: {"weight": sd["weight"] + 1, "x": tracer.zeros(1)},
        False,
        (["bias"], ["x"]),
    ),
]


@pytest.mark.parametrize(
    "make,strict,expected", [c[1:] for c in LOAD_CASES], ids=[c[0] for c in LOAD_CASES]
)
def test_load_state_dict(make, strict, expected):
    m = tnn.Linear(2, 3)
    before = values(m)
    sd = make(m.state_dict())
    if isinstance(expected, tuple):
        result = m.load_state_dict(sd, strict=strict)
        assert (result.missing_keys, result.unexpected_keys) == expected
        assert (
            repr(result)
            == f"_IncompatibleKeys(missing_keys={expected[0]!r}, unexpected_keys={expected[1]!r})"
        )
        np.testing.assert_array_equal(values(m)["weight"], sd["weight"].numpy())
        return
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd, strict=strict)
    lines = str(info.value).split("\n")
    assert lines[0] == "Error(s) in loading state_dict for Linear:"
    assert [line.removeprefix("\t") for line in lines[1:-1]] == expected
    assert lines[-1].startswith("(nothing was loaded")
    for k, v in before.items():  # an error changes nothing
        np.testing.assert_array_equal(values(m)[k], v)


@pytest.mark.parametrize("case", [c for c in LOAD_CASES], ids=[c[0] for c in LOAD_CASES])
def test_load_state_dict_matches_torch(case):
    torch = pytest.importorskip("torch")
    _, make, strict, _ = case
    outcomes = []
    for lib, nn in ((torch, torch.nn), (tracer, tnn)):
        m = nn.Linear(2, 3)
        sd = make({k: tracer.tensor(v.detach().numpy()) for k, v in m.state_dict().items()})
        if lib is torch:
            sd = {
                k: torch.tensor(v.numpy()) if isinstance(v, tracer.Tensor) else v
                for k, v in sd.items()
            }
        try:
            outcomes.append(tuple(m.load_state_dict(sd, strict=strict)))
        except RuntimeError as e:
            text = str(e).replace("torch.", "tracer.")
            # ours adds a last line saying nothing was loaded
            outcomes.append(text if lib is torch else text.rsplit("\n", 1)[0])
    assert outcomes[1] == outcomes[0]


def test_nested_missing_and_unexpected_keys_follow_module_order():
    m = mlp(tnn)
    sd = {"0.weight": tracer.zeros(3, 2), "1.weight": tracer.zeros(1), "5.bias": tracer.zeros(1)}
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias", "2.weight", "2.bias"]
    # the root reports keys of children it does not have, before its children report
    # the keys they do not own (PyTorch's order)
    assert result.unexpected_keys == ["5.bias", "1.weight"]


def test_load_refuses_a_non_mapping():
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        tnn.Linear(1, 1).load_state_dict([1, 2])


def test_assign_makes_the_module_hold_the_given_tensors():
    m = tnn.Linear(2, 1)
    new = {
        "weight": tracer.ones(1, 2, dtype=tracer.float64),
        "bias": tracer.zeros(1, dtype=tracer.float64),
    }
    m.load_state_dict(new, assign=True)
    assert type(m.weight) is tnn.Parameter and m.weight.requires_grad
    assert m.weight.dtype == np.float64
    new["weight"].add_(1)  # shares memory
    np.testing.assert_array_equal(m.weight.detach().numpy(), [[2.0, 2.0]])


def test_extra_state_round_trips():
    class Counter(tnn.Module):
        def __init__(self):
            super().__init__()
            self.count = 0

        def get_extra_state(self):
            return {"count": self.count}

        def set_extra_state(self, state):
            self.count = state["count"]

    a, b = Counter(), Counter()
    a.count = 7
    sd = a.state_dict()
    assert sd == {"_extra_state": {"count": 7}}
    b.load_state_dict(sd)
    assert b.count == 7
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "_extra_state"'):
        b.load_state_dict({})


def test_state_dict_and_load_hooks():
    m = tnn.Linear(1, 1)
    seen = []
    m.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: seen.append(("pre", prefix)))
    m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: seen.append(("post", list(sd))))

    def rename(mod, sd, prefix, meta, strict, missing, unexpected, errors):
        if prefix + "w" in sd:
            sd[prefix + "weight"] = sd.pop(prefix + "w")

    m.register_load_state_dict_pre_hook(rename)
    m.register_load_state_dict_post_hook(lambda mod, keys: seen.append(("load", tuple(keys))))
    m.state_dict()
    m.load_state_dict({"w": tracer.full((1, 1), 3.0), "bias": tracer.zeros(1)})
    assert m.weight.item() == 3.0
    assert seen == [("pre", ""), ("post", ["weight", "bias"]), ("load", ([], []))]
