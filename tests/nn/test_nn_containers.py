"""Containers (Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict) and
module reprs. Each scenario is a small script run with tracer (checked against the
expected keys written here) and, when PyTorch is installed, with torch (the answers
must agree); reprs must equal PyTorch's with "torch." spelled "tracer."."""

from __future__ import annotations

from collections import OrderedDict

import pytest

import tracer
import tracer.nn as tnn


def keys(m):
    return list(m._modules) if not isinstance(m, (list, tuple)) else m


def names(m):
    return [type(x).__name__ for x in m]


# (id, script(nn, lib) -> observable, expected observable)
SCENARIOS = [
    (
        "sequential_positional_names",
        lambda nn, lib: keys(nn.Sequential(nn.ReLU(), nn.Tanh())),
        ["0", "1"],
    ),
    (
        "sequential_ordered_dict_names",
        lambda nn, lib: keys(nn.Sequential(OrderedDict(a=nn.ReLU(), b=nn.Tanh()))),
        ["a", "b"],
    ),
    (
        "sequential_index_negative",
        lambda nn, lib: type(nn.Sequential(nn.ReLU(), nn.Tanh())[-1]).__name__,
        "Tanh",
    ),
    (
        "sequential_slice_keeps_names_and_class",
        lambda nn, lib: (
            type(
                s := nn.Sequential(OrderedDict(a=nn.ReLU(), b=nn.Tanh(), c=nn.Sigmoid()))[1:]
            ).__name__,
            keys(s),
        ),
        ("Sequential", ["b", "c"]),
    ),
    (
        "sequential_len_iter",
        lambda nn, lib: (len(s := nn.Sequential(nn.ReLU(), nn.Tanh())), names(s)),
        (2, ["ReLU", "Tanh"]),
    ),
    (
        "sequential_append_insert_extend",
        lambda nn, lib: names(
            nn.Sequential(nn.ReLU())
            .append(nn.Tanh())
            .insert(0, nn.Sigmoid())
            .extend([nn.Identity()])
        ),
        ["Sigmoid", "ReLU", "Tanh", "Identity"],
    ),
    (
        "sequential_delete_renumbers",
        lambda nn, lib: (lambda s: (s.__delitem__(0), keys(s), names(s))[1:])(
            nn.Sequential(OrderedDict(a=nn.ReLU(), b=nn.Tanh(), c=nn.Sigmoid()))
        ),
        (["0", "1"], ["Tanh", "Sigmoid"]),
    ),
    (
        "sequential_setitem",
        lambda nn, lib: (lambda s: (s.__setitem__(1, nn.Sigmoid()), names(s))[1])(
            nn.Sequential(nn.ReLU(), nn.Tanh())
        ),
        ["ReLU", "Sigmoid"],
    ),
    (
        "sequential_pop",
        lambda nn, lib: (lambda s: (type(s.pop(0)).__name__, names(s)))(
            nn.Sequential(nn.ReLU(), nn.Tanh())
        ),
        ("ReLU", ["Tanh"]),
    ),
    (
        "sequential_add_and_mul",
        lambda nn, lib: (
            names(nn.Sequential(nn.ReLU()) + nn.Sequential(nn.Tanh())),
            names(nn.Sequential(nn.ReLU(), nn.Tanh()) * 2),
        ),
        (["ReLU", "Tanh"], ["ReLU", "Tanh", "ReLU", "Tanh"]),
    ),
    (
        "sequential_out_of_range",
        lambda nn, lib: _raises(lambda: nn.Sequential(nn.ReLU())[3]),
        "IndexError",
    ),
    (
        "module_list_ops",
        lambda nn, lib: (
            lambda ml: (
                ml.append(nn.Tanh()),
                ml.insert(1, nn.Sigmoid()),
                ml.extend([nn.Identity()]),
                ml.__delitem__(0),
                keys(ml),
                names(ml),
                names(ml[1:]),
                type(ml[1:]).__name__,
            )[4:]
        )(nn.ModuleList([nn.ReLU()])),
        (["0", "1", "2"], ["Sigmoid", "Tanh", "Identity"], ["Tanh", "Identity"], "ModuleList"),
    ),
    (
        "module_list_registers_parameters",
        lambda nn, lib: [
            n for n, _ in nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 2)]).named_parameters()
        ],
        ["0.weight", "0.bias", "1.weight", "1.bias"],
    ),
    (
        "module_list_add_iadd",
        lambda nn, lib: (
            names(nn.ModuleList([nn.ReLU()]) + nn.ModuleList([nn.Tanh()])),
            names(_iadd(nn.ModuleList([nn.ReLU()]), [nn.Tanh()])),
        ),
        (["ReLU", "Tanh"], ["ReLU", "Tanh"]),
    ),
    (
        "module_dict_ops",
        lambda nn, lib: (
            lambda md: (
                md.update({"c": nn.Sigmoid()}),
                md.update([("d", nn.Identity())]),
                md.__delitem__("a"),
                list(md),
                list(md.keys()),
                names(md.values()),
                "b" in md,
                len(md),
                type(md.pop("b")).__name__,
                list(md),
            )[3:]
        )(nn.ModuleDict({"a": nn.ReLU(), "b": nn.Tanh()})),
        (
            ["b", "c", "d"],
            ["b", "c", "d"],
            ["Tanh", "Sigmoid", "Identity"],
            True,
            3,
            "Tanh",
            ["c", "d"],
        ),
    ),
    (
        "module_dict_bad_update",
        lambda nn, lib: _raises(lambda: nn.ModuleDict().update([("a", nn.ReLU(), 3)])),
        "ValueError",
    ),
    (
        "parameter_list_wraps_tensors",
        lambda nn, lib: (
            lambda pl: (
                len(pl),
                type(pl[0]).__name__,
                pl[0].requires_grad,
                [n for n, _ in pl.named_parameters()],
            )
        )(nn.ParameterList([lib.zeros(2), nn.Parameter(lib.ones(1), requires_grad=False)])),
        (2, "Parameter", True, ["0", "1"]),
    ),
    (
        "parameter_list_append_extend_slice",
        lambda nn, lib: (
            lambda pl: (
                pl.append(lib.zeros(1)),
                pl.extend([lib.ones(2)]),
                len(pl),
                len(pl[1:]),
                type(pl[1:]).__name__,
            )[2:]
        )(nn.ParameterList([lib.zeros(3)])),
        (3, 2, "ParameterList"),
    ),
    (
        "parameter_dict_ops",
        lambda nn, lib: (
            lambda pd: (
                pd.update({"z": lib.zeros(1), "a": lib.ones(1)}),
                list(pd),
                [n for n, _ in pd.named_parameters()],
                type(pd["a"]).__name__,
                "z" in pd,
                len(pd),
                type(pd.pop("z")).__name__,
                list(pd.keys()),
                pd.get("missing", 5),
            )[1:]
        )(nn.ParameterDict({"m": lib.ones(2)})),
        (["m", "a", "z"], ["m", "a", "z"], "Parameter", True, 3, "Parameter", ["m", "a"], 5),
    ),
    (
        "parameter_dict_non_string_key",
        lambda nn, lib: _raises(lambda: nn.ParameterDict()[1]),
        "TypeError",
    ),
    (
        "containers_cannot_be_called",
        lambda nn, lib: (
            _raises(lambda: nn.ParameterList()(1)),
            _raises(lambda: nn.ParameterDict()(1)),
            _raises(lambda: nn.ModuleList()(1)),
        ),
        ("RuntimeError", "RuntimeError", "NotImplementedError"),
    ),
]


def _raises(fn):
    try:
        fn()
    except Exception as e:
        return type(e).__name__
    return None


def _iadd(a, b):
    a += b
    return a


@pytest.mark.parametrize(
    "script,expected", [c[1:] for c in SCENARIOS], ids=[c[0] for c in SCENARIOS]
)
def test_container_behaviour(script, expected):
    assert script(tnn, tracer) == expected


@pytest.mark.parametrize("script", [c[1] for c in SCENARIOS], ids=[c[0] for c in SCENARIOS])
def test_container_behaviour_matches_torch(script):
    torch = pytest.importorskip("torch")
    assert script(tnn, tracer) == script(torch.nn, torch)


def test_sequential_runs_its_modules_in_order():
    lin = tnn.Linear(2, 2)
    x = tracer.ones(3, 2)
    out = tnn.Sequential(lin, tnn.ReLU())(x)
    assert tracer.tensor(out.detach().numpy()).tolist() == lin(x).relu().detach().numpy().tolist()


# ---- reprs --------------------------------------------------------------------------

ISSUE_EXAMPLE = (
    "Sequential(\n"
    "  (0): Linear(in_features=2, out_features=4, bias=True)\n"
    "  (1): ReLU()\n"
    "  (2): Linear(in_features=4, out_features=1, bias=True)\n"
    ")"
)


def test_sequential_repr_is_pytorchs_layout():
    model = tnn.Sequential(tnn.Linear(2, 4), tnn.ReLU(), tnn.Linear(4, 1))
    assert repr(model) == ISSUE_EXAMPLE


def _custom(nn, lib):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
            self.heads = nn.ModuleDict({"a": nn.Linear(3, 1), "b": nn.Identity()})
            self.missing = None
            self.register_module("nothing", None)

        def extra_repr(self):
            return "custom=1\nsecond line"

    return Net()


REPRS = [
    ("linear", lambda nn, lib: nn.Linear(2, 3, bias=False)),
    ("bilinear", lambda nn, lib: nn.Bilinear(2, 3, 4)),
    ("identity", lambda nn, lib: nn.Identity()),
    ("flatten", lambda nn, lib: nn.Flatten(0, 2)),
    ("unflatten", lambda nn, lib: nn.Unflatten(1, (2, 5))),
    ("unflatten_list", lambda nn, lib: nn.Unflatten(-1, [2, -1])),
    ("dropout", lambda nn, lib: nn.Dropout(0.25, inplace=True)),
    ("embedding", lambda nn, lib: nn.Embedding(10, 3, padding_idx=-2, max_norm=1.5, norm_type=1.0)),
    ("layer_norm", lambda nn, lib: nn.LayerNorm((3, 4), eps=1e-3, elementwise_affine=False)),
    ("layer_norm_no_bias", lambda nn, lib: nn.LayerNorm([5], bias=False)),
    ("relu", lambda nn, lib: nn.ReLU()),
    ("relu_inplace", lambda nn, lib: nn.ReLU(True)),
    ("softmax", lambda nn, lib: nn.Softmax(-1)),
    ("log_softmax_none", lambda nn, lib: nn.LogSoftmax()),
    ("losses", lambda nn, lib: nn.ModuleList([nn.MSELoss(), nn.CrossEntropyLoss(), nn.NLLLoss()])),
    (
        "nested",
        lambda nn, lib: nn.Sequential(
            nn.Sequential(nn.Linear(2, 4), nn.Sequential(nn.ReLU(), nn.Dropout())),
            nn.LayerNorm(4),
        ),
    ),
    (
        "module_list_runs",
        lambda nn, lib: nn.ModuleList(
            [nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU(), nn.Linear(2, 2)]
        ),
    ),
    ("module_list_empty", lambda nn, lib: nn.ModuleList()),
    ("module_list_nested", lambda nn, lib: nn.Sequential(nn.ModuleList([nn.ReLU(), nn.ReLU()]))),
    ("module_dict", lambda nn, lib: nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(1, 1)})),
    (
        "parameter_list",
        lambda nn, lib: nn.ParameterList(
            [
                nn.Parameter(lib.zeros(3, 4)),
                lib.zeros(2, dtype=lib.float64),
                nn.Parameter(lib.zeros(())),
            ]
        ),
    ),
    (
        "parameter_dict",
        lambda nn, lib: nn.ParameterDict(
            {"w": nn.Parameter(lib.zeros(3, 4)), "b": lib.zeros(3, dtype=lib.float64)}
        ),
    ),
    ("empty_module", lambda nn, lib: nn.Module()),
    ("custom_with_extra_lines_and_none_child", _custom),
]


@pytest.mark.parametrize("build", [c[1] for c in REPRS], ids=[c[0] for c in REPRS])
def test_repr_matches_torch(build):
    torch = pytest.importorskip("torch")
    assert repr(build(tnn, tracer)) == repr(build(torch.nn, torch)).replace("torch.", "tracer.")
