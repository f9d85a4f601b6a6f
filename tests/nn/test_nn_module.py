"""nn.Module: registration on attribute assignment and deletion, traversal, modes,
gradients, dtype conversion, hooks, lookup and attribute errors.

Expected values are written from the model definitions below (the specification);
where PyTorch is installed, the same scripts run on torch.nn must give the same
answers.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import tracer
import tracer.nn as nn
from tracer.nn import Parameter


def make_model(nn, lib):
    """root: scale (Parameter), head (Linear 3->3), body (Sequential: Block, ReLU); the
    Block holds fc (Linear 2->3), `shared` (the same module as head), a persistent
    buffer `steps` and a non-persistent buffer `mask`. Built with either library."""

    class Block(nn.Module):
        def __init__(self, shared):
            super().__init__()
            self.fc = nn.Linear(2, 3)
            self.shared = shared
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("mask", lib.ones(3), persistent=False)

        def forward(self, x):
            return self.shared(self.fc(x))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(lib.ones(1))
            self.head = nn.Linear(3, 3)
            self.body = nn.Sequential(Block(self.head), nn.ReLU())

        def forward(self, x):
            return self.head(self.body(x)) * self.scale

    return Model()


def observe(nn, lib):
    m = make_model(nn, lib)
    return {
        "named_parameters": [n for n, _ in m.named_parameters()],
        "named_parameters_all": [n for n, _ in m.named_parameters(remove_duplicate=False)],
        "named_parameters_prefix": [n for n, _ in m.named_parameters(prefix="net")],
        "own_parameters": [n for n, _ in m.named_parameters(recurse=False)],
        "parameters_count": len(list(m.parameters())),
        "named_buffers": [n for n, _ in m.named_buffers()],
        "named_children": [n for n, _ in m.named_children()],
        "named_modules": [n for n, _ in m.named_modules()],
        "named_modules_all": [n for n, _ in m.named_modules(remove_duplicate=False)],
        "modules_types": [type(x).__name__ for x in m.modules()],
        "state_dict": list(m.state_dict()),
    }


EXPECTED = {
    "named_parameters": [
        "scale",
        "head.weight",
        "head.bias",
        "body.0.fc.weight",
        "body.0.fc.bias",
    ],
    "named_parameters_all": [
        "scale",
        "head.weight",
        "head.bias",
        "body.0.fc.weight",
        "body.0.fc.bias",
        "body.0.shared.weight",
        "body.0.shared.bias",
    ],
    "named_parameters_prefix": [
        "net.scale",
        "net.head.weight",
        "net.head.bias",
        "net.body.0.fc.weight",
        "net.body.0.fc.bias",
    ],
    "own_parameters": ["scale"],
    "parameters_count": 5,
    "named_buffers": ["body.0.steps", "body.0.mask"],
    "named_children": ["head", "body"],
    "named_modules": ["", "head", "body", "body.0", "body.0.fc", "body.1"],
    "named_modules_all": ["", "head", "body", "body.0", "body.0.fc", "body.0.shared", "body.1"],
    "modules_types": ["Model", "Linear", "Sequential", "Block", "Linear", "ReLU"],
    "state_dict": [
        "scale",
        "head.weight",
        "head.bias",
        "body.0.steps",
        "body.0.fc.weight",
        "body.0.fc.bias",
        "body.0.shared.weight",
        "body.0.shared.bias",
    ],
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_traversal_follows_registration_order_and_skips_duplicates(key):
    assert observe(nn, tracer)[key] == EXPECTED[key]


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_traversal_matches_torch(key):
    torch = pytest.importorskip("torch")
    assert observe(nn, tracer)[key] == observe(torch.nn, torch)[key]


# ---- registration -----------------------------------------------------------------


def test_assigning_a_parameter_registers_it_and_reassigning_replaces_it():
    m = nn.Module()
    p, q = Parameter(tracer.zeros(2)), Parameter(tracer.ones(2))
    m.w = p
    m.w = q
    assert list(m.named_parameters()) == [("w", q)]
    assert "w" not in m.__dict__


def test_assigning_none_to_a_parameter_keeps_its_slot_empty():
    m = nn.Linear(2, 3)
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert m.bias is None
    assert list(m._parameters) == ["weight", "bias"]


def test_assigning_a_plain_tensor_to_a_parameter_name_raises_and_keeps_the_parameter():
    m = nn.Linear(2, 3)
    w = m.weight
    with pytest.raises(TypeError, match="cannot assign 'tracer.FloatTensor' as parameter 'weight'"):
        m.weight = tracer.zeros(3, 2)
    assert m.weight is w


def test_assigning_a_module_moves_the_name_from_plain_attributes():
    m = nn.Module()
    m.sub = 3
    m.sub = nn.ReLU()
    assert "sub" not in m.__dict__
    assert [n for n, _ in m.named_children()] == ["sub"]


def test_assigning_a_non_module_to_a_submodule_name_raises():
    m = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError, match="cannot assign 'int' as child module '0'"):
        setattr(m, "0", 3)


def test_tensor_assigned_to_a_buffer_name_replaces_the_buffer():
    m = nn.Module()
    m.register_buffer("b", tracer.zeros(2))
    new = tracer.ones(3)
    m.b = new
    assert m.b is new and list(m.buffers()) == [new]


def test_buffer_marker_registers_persistent_or_not():
    m = nn.Module()
    m.kept = nn.Buffer(tracer.zeros(2))
    m.dropped = nn.Buffer(tracer.ones(2), persistent=False)
    assert [n for n, _ in m.named_buffers()] == ["kept", "dropped"]
    assert list(m.state_dict()) == ["kept"]


def test_deleting_attributes_unregisters_them():
    m = nn.Linear(2, 3)
    m.register_buffer("b", tracer.zeros(1), persistent=False)
    m.sub = nn.ReLU()
    del m.bias, m.b, m.sub
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert list(m.buffers()) == [] and list(m.children()) == []
    assert "b" not in m._non_persistent_buffers_set
    with pytest.raises(AttributeError):
        del m.nothing


REGISTRATION_ERRORS = [
    (
        "buffer_name_not_str",
        lambda m: m.register_buffer(1, None),
        TypeError,
        "buffer name should be a string. Got int",
    ),
    (
        "buffer_name_dot",
        lambda m: m.register_buffer("a.b", None),
        KeyError,
        'buffer name can\'t contain "."',
    ),
    ("buffer_name_empty", lambda m: m.register_buffer("", None), KeyError, "empty string"),
    (
        "buffer_name_taken",
        lambda m: m.register_buffer("weight", None),
        KeyError,
        "attribute 'weight' already exists",
    ),
    (
        "buffer_not_tensor",
        lambda m: m.register_buffer("c", 3),
        TypeError,
        "cannot assign 'int' object to buffer 'c'",
    ),
    (
        "param_not_parameter",
        lambda m: m.register_parameter("c", tracer.zeros(1)),
        TypeError,
        "cannot assign 'tracer.FloatTensor' object to parameter 'c'",
    ),
    (
        "param_name_taken",
        lambda m: m.register_parameter("forward", None),
        KeyError,
        "attribute 'forward' already exists",
    ),
    (
        "module_not_module",
        lambda m: m.add_module("x", 3),
        TypeError,
        "int is not a Module subclass",
    ),
    (
        "module_name_dot",
        lambda m: m.add_module("a.b", nn.ReLU()),
        KeyError,
        "module name can't contain",
    ),
    (
        "module_name_taken",
        lambda m: m.add_module("bias", nn.ReLU()),
        KeyError,
        "attribute 'bias' already exists",
    ),
]


@pytest.mark.parametrize(
    "act,exc,text", [c[1:] for c in REGISTRATION_ERRORS], ids=[c[0] for c in REGISTRATION_ERRORS]
)
def test_bad_registration_raises_and_changes_nothing(act, exc, text):
    m = nn.Linear(2, 3)
    before = (dict(m._parameters), dict(m._buffers), dict(m._modules), dict(m.__dict__))
    with pytest.raises(exc, match=None) as info:
        act(m)
    assert text in info.value.args[0]
    assert (dict(m._parameters), dict(m._buffers), dict(m._modules), dict(m.__dict__)) == before


def test_non_leaf_parameter_is_refused():
    m = nn.Module()
    p = Parameter(tracer.ones(2))
    p_alias = p * 2
    bad = Parameter.__new__(Parameter)
    tracer.Tensor.__init__(bad, p_alias._data, _grad_fn=p_alias.grad_fn)
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'w'"):
        m.register_parameter("w", bad)


def test_assignment_before_init_says_to_call_super_init():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(
        AttributeError, match=r"cannot assign module before Module.__init__\(\) call"
    ):
        Bad()


# ---- attribute access -------------------------------------------------------------


def test_missing_attribute_error_names_the_class_like_pytorch():
    with pytest.raises(AttributeError) as info:
        _ = nn.Linear(2, 3).foo
    assert str(info.value) == "'Linear' object has no attribute 'foo'"


def test_missing_pytorch_attribute_says_it_is_not_supported():
    with pytest.raises(AttributeError, match="torch.nn.Module.bfloat16 is not supported by tracer"):
        nn.Linear(2, 3).bfloat16()


def test_dir_lists_registered_names_but_not_numeric_keys():
    m = nn.Sequential(nn.Linear(1, 1))
    m.extra = nn.ReLU()
    names = dir(m)
    assert "extra" in names and "forward" in names and "0" not in names
    assert "weight" in dir(nn.Linear(1, 1))


LOOKUPS = [
    ("submodule", lambda m: m.get_submodule("body.0.fc"), None),
    ("submodule_self", lambda m: m.get_submodule(""), None),
    ("parameter", lambda m: m.get_parameter("body.0.fc.bias"), None),
    ("buffer", lambda m: m.get_buffer("body.0.steps"), None),
    ("submodule_missing", lambda m: m.get_submodule("body.7"), "Sequential has no attribute `7`"),
    ("submodule_not_module", lambda m: m.get_submodule("scale"), "`scale` is not an nn.Module"),
    (
        "parameter_is_buffer",
        lambda m: m.get_parameter("body.0.steps"),
        "`steps` is not an nn.Parameter",
    ),
    ("buffer_is_parameter", lambda m: m.get_buffer("head.weight"), "`weight` is not a buffer"),
]


@pytest.mark.parametrize("get,error", [c[1:] for c in LOOKUPS], ids=[c[0] for c in LOOKUPS])
def test_get_submodule_parameter_buffer(get, error):
    m = make_model(nn, tracer)
    if error is None:
        assert get(m) is not None
    else:
        with pytest.raises(AttributeError) as info:
            get(m)
        assert str(info.value) == error


def test_lookups_return_the_registered_objects():
    m = make_model(nn, tracer)
    assert m.get_submodule("body.0.fc") is m.body[0].fc
    assert m.get_parameter("body.0.fc.bias") is m.body[0].fc.bias
    assert m.get_buffer("body.0.steps") is m.body[0].steps


def test_set_submodule_replaces_a_nested_module():
    m = make_model(nn, tracer)
    new = nn.Linear(2, 3)
    m.set_submodule("body.0.fc", new)
    assert m.body[0].fc is new


# ---- modes and gradients ----------------------------------------------------------


def test_train_and_eval_set_every_submodule():
    m = make_model(nn, tracer)
    assert m.eval() is m
    assert [x.training for x in m.modules()] == [False] * 6
    m.train()
    assert all(x.training for x in m.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train(1)


def test_zero_grad_sets_none_or_zeros_in_place():
    m = nn.Linear(2, 1)
    m(tracer.ones(3, 2)).sum().backward()
    g = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is g
    np.testing.assert_array_equal(g.numpy(), np.zeros((1, 2)))
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_requires_grad_false_freezes_every_parameter():
    m = make_model(nn, tracer)
    assert m.requires_grad_(False) is m
    assert not any(p.requires_grad for p in m.parameters())


def test_apply_visits_children_before_parents():
    seen = []
    m = make_model(nn, tracer)
    m.apply(lambda mod: seen.append(type(mod).__name__))
    # head, then body's Block: its fc and its `shared` (head again, a child of Block too)
    assert seen == ["Linear", "Linear", "Linear", "Block", "ReLU", "Sequential", "Model"]


def test_forward_gradient_reaches_shared_parameters_once_per_use():
    lin = nn.Linear(1, 1, bias=False)
    with tracer.no_grad():
        lin.weight.fill_(3.0)
    model = nn.Sequential(lin, lin)
    x = tracer.tensor([[2.0]])
    model(x).sum().backward()
    # y = w * (w * x): dy/dw = 2 w x = 12
    assert lin.weight.grad.item() == pytest.approx(12.0)


def test_missing_forward_is_a_clear_error():
    with pytest.raises(
        NotImplementedError, match=r'Module \[Module\] is missing the required "forward" function'
    ):
        nn.Module()(1)


# ---- conversion -------------------------------------------------------------------


@pytest.mark.parametrize(
    "convert,dtype",
    [
        (lambda m: m.double(), np.float64),
        (lambda m: m.to(tracer.float64), np.float64),
        (lambda m: m.to("cpu", tracer.float64), np.float64),
        (lambda m: m.to(dtype=tracer.float64), np.float64),
        (lambda m: m.to(tracer.zeros(1, dtype=tracer.float64)), np.float64),
        (lambda m: m.double().float(), np.float32),
        (lambda m: m.half(), np.float16),
    ],
    ids=["double", "to_dtype", "to_device_dtype", "to_kwarg", "to_tensor", "float", "half"],
)
def test_dtype_conversion_keeps_parameter_objects(convert, dtype):
    m = nn.Linear(2, 3)
    m.register_buffer("count", tracer.zeros(1, dtype=tracer.int64))
    m.register_buffer("stat", tracer.zeros(3))
    m(tracer.ones(1, 2)).sum().backward()
    w, before = m.weight, m.weight.detach().numpy().copy()
    assert convert(m) is m
    assert m.weight is w
    assert m.weight.dtype == dtype and m.weight.grad.dtype == dtype and m.stat.dtype == dtype
    assert m.count.dtype == np.int64
    np.testing.assert_allclose(m.weight.detach().numpy(), before, rtol=1e-3)


def test_optimizer_keeps_updating_after_double():
    m = nn.Linear(2, 1)
    opt = tracer.optim.SGD(m.parameters(), lr=0.1)
    m.double()
    m(tracer.ones(1, 2, dtype=tracer.float64)).sum().backward()
    before = m.weight.detach().numpy().copy()
    opt.step()
    np.testing.assert_allclose(m.weight.detach().numpy(), before - 0.1)


@pytest.mark.parametrize(
    "call",
    [lambda m: m.to("cuda"), lambda m: m.cuda(), lambda m: m.to("cuda:0", tracer.float64)],
    ids=["to_cuda", "cuda", "to_cuda_dtype"],
)
def test_asking_for_cuda_says_the_library_runs_on_the_cpu(call):
    m = nn.Linear(2, 3)
    with pytest.raises(RuntimeError, match="tracer runs on the CPU only"):
        call(m)
    assert m.weight.dtype == np.float32


def test_to_an_integer_dtype_is_refused():
    with pytest.raises(TypeError, match="only accepts floating point dtypes"):
        nn.Linear(2, 3).to(tracer.int64)


def test_cpu_is_the_identity():
    m = nn.Linear(2, 3)
    assert m.cpu() is m and m.to("cpu") is m


def test_deepcopy_gives_independent_parameters():
    m = make_model(nn, tracer)
    c = copy.deepcopy(m)
    assert type(c.head.weight) is Parameter and c.head.weight is not m.head.weight
    assert c.body[0].shared is c.head  # sharing survives inside the copy
    with tracer.no_grad():
        c.head.weight.fill_(7)
    assert not np.any(m.head.weight.detach().numpy() == 7)


# ---- hooks ------------------------------------------------------------------------


def test_forward_pre_hook_can_replace_the_arguments():
    m = nn.Identity()
    h = m.register_forward_pre_hook(lambda mod, args: args[0] * 10)
    assert m(tracer.tensor(2.0)).item() == 20
    h.remove()
    assert m(tracer.tensor(2.0)).item() == 2


def test_forward_hook_sees_args_and_can_replace_the_output():
    m = nn.Identity()
    seen = []

    def hook(mod, args, out):
        seen.append((mod, args[0].item(), out.item()))
        return out + 1

    with m.register_forward_hook(hook):
        assert m(tracer.tensor(2.0)).item() == 3
    assert seen == [(m, 2.0, 2.0)]
    assert m(tracer.tensor(2.0)).item() == 2  # the with block removed it


def test_hooks_run_in_registration_order_or_prepended():
    m = nn.Identity()
    order = []
    m.register_forward_hook(lambda *a: order.append("first"))
    m.register_forward_hook(lambda *a: order.append("second"))
    m.register_forward_hook(lambda *a: order.append("prepended"), prepend=True)
    m(tracer.tensor(1.0))
    assert order == ["prepended", "first", "second"]


def test_hooks_with_kwargs():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    seen = []
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(kwargs), with_kwargs=True)
    assert m(tracer.tensor(2.0)).item() == 6
    assert seen == [{"factor": 3.0}]


def test_always_call_hook_runs_when_forward_raises():
    class Fails(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Fails()
    calls = []
    m.register_forward_hook(lambda *a: calls.append("always"), always_call=True)
    m.register_forward_hook(lambda *a: calls.append("normal"))
    with pytest.raises(ValueError, match="boom"):
        m(1)
    assert calls == ["always"]


# ---- backward hooks -----------------------------------------------------------------


def _backward_hook_script(nn, lib):
    """Pre-hook triples grad_output, hook doubles grad_input; then a call whose input
    needs no gradient. Returns what the hooks saw and the gradients."""
    lin = nn.Linear(3, 2)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3)))
        lin.bias.fill_(0.5)
    seen = []

    def as_lists(gs):
        return [None if g is None else g.detach().numpy().tolist() for g in gs]

    def hook(m, grad_input, grad_output):
        seen.append(("hook", as_lists(grad_input), as_lists(grad_output)))
        return tuple(None if g is None else g * 2 for g in grad_input)

    def pre(m, grad_output):
        seen.append(("pre", as_lists(grad_output)))
        return (grad_output[0] * 3,)

    lin.register_full_backward_hook(hook)
    lin.register_full_backward_pre_hook(pre)
    x = lib.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    y = lin(x)
    seen.append(("node", type(y.grad_fn).__name__))
    y.sum().backward()
    seen.append(("grads", x.grad.numpy().tolist(), lin.weight.grad.numpy().tolist()))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        lin(lib.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    return seen


def test_backward_hooks_see_and_replace_gradients():
    seen = _backward_hook_script(nn, tracer)
    # y = W x + b with W = [[0,1,2],[3,4,5]]: grad_output = 3 * ones (after the pre-hook),
    # grad_input = W^T grad_output = [9, 15, 21], doubled by the hook into x.grad
    assert seen == [
        ("node", "BackwardHookFunctionBackward"),
        ("pre", [[[1.0, 1.0]]]),
        ("hook", [[[9.0, 15.0, 21.0]]], [[[3.0, 3.0]]]),
        ("grads", [[18.0, 30.0, 42.0]], [[3.0, 6.0, 9.0], [3.0, 6.0, 9.0]]),
        ("pre", [[[1.0, 1.0]]]),
        ("hook", [None], [[[3.0, 3.0]]]),
    ]


def test_backward_hooks_match_torch():
    torch = pytest.importorskip("torch")
    assert _backward_hook_script(nn, tracer) == _backward_hook_script(torch.nn, torch)


def test_backward_hook_must_return_one_gradient_per_input():
    lin = nn.Linear(2, 1)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    x = tracer.ones(1, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but expected 1"):
        lin(x).sum().backward()
    assert x.grad is None


def test_removed_backward_hook_no_longer_runs():
    lin = nn.Linear(2, 1)
    calls = []
    handle = lin.register_full_backward_hook(lambda *a: calls.append(1))
    handle.remove()
    lin(tracer.ones(1, 2, requires_grad=True)).sum().backward()
    assert calls == []
