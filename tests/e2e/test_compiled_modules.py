"""Modules inside traced functions: parameters and buffers are read at every call (new
values from load_state_dict, assignment or an optimizer step are used without
retracing), gradients land in the parameters' .grad, and a changed structure (a
replaced or added submodule, train/eval, a setting its forward reads, hooks)
traces again. `tracer.func.functional_call`, eagerly, traced and in value_and_grad over
a dict of parameters. Expected values: the same code run eagerly, and PyTorch (weights
copied) when installed."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import tracer
import tracer.nn.functional as F
from tracer import nn
from tracer.func import functional_call


def _mlp(seed=0):
    tracer.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def _data(seed=1):
    tracer.manual_seed(seed)
    return tracer.randn(5, 3), tracer.randn(5, 2)


def _close(a, b, tol=1e-6):
    np.testing.assert_allclose(np.asarray(a.detach()), np.asarray(b.detach()), rtol=tol, atol=tol)


class _Traced:
    """A model called in a traced function and eagerly, to compare the two."""

    def __init__(self, model):
        self.model = model

        @tracer.trace
        def f(x):
            return self.model(x)

        self.f = f

    def check(self, x):
        _close(self.f(x), self.model(x))
        return self.f.cache_info().misses


# ---- values are read at every call ----------------------------------------------------


def _load_state_dict(m):
    m.load_state_dict(_mlp(seed=5).state_dict())


def _assign_parameter(m):
    m[0].weight = nn.Parameter(tracer.randn(4, 3))


def _assign_data(m):
    m[2].bias.data = tracer.randn(2)


def _optimizer_step(m):
    opt = tracer.optim.SGD(m.parameters(), lr=0.5)
    m(tracer.ones(2, 3)).sum().backward()
    opt.step()


def _in_place(m):
    with tracer.no_grad():
        m[0].weight.mul_(-2)


@pytest.mark.parametrize(
    "change",
    [_load_state_dict, _assign_parameter, _assign_data, _optimizer_step, _in_place],
    ids=["load_state_dict", "assign_parameter", "assign_data", "optimizer_step", "in_place"],
)
def test_new_parameter_values_are_used_without_retracing(change):
    t = _Traced(_mlp())
    x, _ = _data()
    assert t.check(x) == 1
    change(t.model)
    assert t.check(x) == 1  # the same graph, the new values


def test_a_parameter_of_another_shape_retraces():
    t = _Traced(_mlp())
    x, _ = _data()
    t.check(x)
    t.model[2].weight = nn.Parameter(tracer.randn(3, 4))
    t.model[2].bias = nn.Parameter(tracer.zeros(3))
    assert t.check(x) == 2 and t.f(x).shape == (5, 3)


def test_gradients_through_a_traced_call_land_in_the_parameters_grad():
    model = _mlp()
    x, y = _data()

    @tracer.trace
    def loss(x, y):
        return F.mse_loss(model(x), y)

    loss(x, y).backward()
    traced = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    F.mse_loss(model(x), y).backward()
    for a, p in zip(traced, model.parameters()):
        _close(a, p.grad)


def test_a_training_loop_on_a_traced_step_follows_the_eager_one():
    x, y = _data()
    results = []
    for traced in (True, False):
        model = _mlp()
        opt = tracer.optim.Adam(model.parameters(), lr=0.05)

        def step(x, y, model=model):
            return F.mse_loss(model(x), y)

        fn = tracer.trace(step) if traced else step
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = fn(x, y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        results.append((losses, [p.detach().clone() for p in model.parameters()]))
        if traced:
            assert fn.cache_info().misses == 1
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        _close(a, b, 1e-5)


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.jit)])
def test_a_training_loop_on_a_traced_step_gives_torchs_parameters(jit):
    torch = pytest.importorskip("torch")
    from torch_compare import copy_weights, to_torch

    model = _mlp()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    copy_weights(theirs, model)
    x, y = _data()
    opt = tracer.optim.Adam(model.parameters(), lr=0.05)
    topt = torch.optim.Adam(theirs.parameters(), lr=0.05)
    step = tracer.trace(lambda x, y: F.mse_loss(model(x), y))
    for _ in range(5):
        opt.zero_grad()
        step(x, y).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.mse_loss(theirs(to_torch(x)), to_torch(y)).backward()
        topt.step()
    for ours, ref in zip(model.parameters(), theirs.parameters()):
        np.testing.assert_allclose(
            ours.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6
        )
    assert step.cache_info().misses == 1


# ---- a changed structure traces again --------------------------------------------------


class _Scaled(nn.Module):
    """Scales its input while training: forward reads self.training and self.factor."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor if self.training else x


def _replace_activation(m):
    m[1] = nn.Tanh()


def _replace_linear(m):
    tracer.manual_seed(9)
    m[2] = nn.Linear(4, 2)  # same type and shape, other weights: they must be the ones used


def _append_layer(m):
    m.append(nn.Sigmoid())


def _delete_layer(m):
    del m[2]


def _eval(m):
    m.eval()


def _setting(m):
    m[3].factor = 0.5


def _forward_hook(m):
    m[0].register_forward_hook(lambda mod, args, out: out * 3)


def _pre_hook(m):
    m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))


def _structural_model():
    tracer.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), _Scaled(2.0))


@pytest.mark.parametrize(
    "change,why",
    [
        (_replace_activation, r"Sequential's submodule '1' was replaced .*\(ReLU -> Tanh\)"),
        (_replace_linear, r"Sequential's submodule '2' was replaced .*\(Linear -> Linear\)"),
        (_append_layer, "Sequential gained the submodule '4'"),
        (_delete_layer, "Sequential's submodule '3' was removed"),
        (_eval, r"Sequential.training, read while tracing, changed: True -> False"),
        (_setting, r"_Scaled.factor, read while tracing, changed: 2.0 -> 0.5"),
        (_forward_hook, "Linear's hooks were added or removed"),
        (_pre_hook, "Sequential's hooks were added or removed"),
    ],
    ids=[
        "replace",
        "replace_same_type",
        "append",
        "delete",
        "eval",
        "setting",
        "forward_hook",
        "pre_hook",
    ],
)
def test_a_changed_structure_retraces_and_explains(change, why):
    t = _Traced(_structural_model())
    x, _ = _data()
    t.check(x)
    change(t.model)
    assert t.check(x) == 2  # traced again, and equal to the eager call (check)
    assert re.search(why, t.f.explain())


def test_removing_a_hook_retraces():
    t = _Traced(_structural_model())
    x, _ = _data()
    handle = t.model[0].register_forward_hook(lambda mod, args, out: out * 3)
    t.check(x)
    handle.remove()
    assert t.check(x) == 2


def test_back_to_train_mode_retraces_again():
    t = _Traced(_structural_model())
    x, _ = _data()
    t.check(x)
    t.model.eval()
    t.check(x)
    t.model.train()
    assert t.check(x) == 3


def test_unrelated_module_changes_do_not_retrace():
    t = _Traced(_structural_model())
    x, _ = _data()
    t.check(x)
    other = nn.Linear(2, 2)
    other.eval()
    other.weight = nn.Parameter(tracer.ones(2, 2))
    t.model.train()  # already training: the same structure
    assert t.check(x) == 1


# ---- functional_call ----------------------------------------------------------------


def _params_like(model, scale):
    return {k: (v.detach() * scale).requires_grad_() for k, v in model.named_parameters()}


def test_functional_call_uses_the_given_tensors_and_restores_the_module():
    model = _mlp()
    x, _ = _data()
    own = {k: v for k, v in model.named_parameters()}
    p = _params_like(model, 2.0)
    out = functional_call(model, p, (x,))
    expected = F.linear(F.relu(F.linear(x, p["0.weight"], p["0.bias"])), p["2.weight"], p["2.bias"])
    _close(out, expected)
    assert all(model.get_parameter(k) is v for k, v in own.items())


def test_functional_call_gradients_reach_the_given_tensors():
    model = _mlp()
    x, y = _data()
    p = _params_like(model, 1.0)
    F.mse_loss(functional_call(model, p, (x,)), y).backward()
    F.mse_loss(model(x), y).backward()
    for k, v in model.named_parameters():
        _close(p[k].grad, v.grad)


def test_functional_call_is_torchs():
    torch = pytest.importorskip("torch")
    from torch_compare import copy_weights, to_torch

    model = _mlp()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    copy_weights(theirs, model)
    x, y = _data()
    p = _params_like(model, 0.5)
    tp = {k: to_torch(v, requires_grad=True) for k, v in p.items()}
    ours = F.mse_loss(functional_call(model, p, (x,)), y)
    ref = torch.nn.functional.mse_loss(
        torch.func.functional_call(theirs, tp, (to_torch(x),)), to_torch(y)
    )
    ours.backward()
    ref.backward()
    np.testing.assert_allclose(ours.item(), ref.item(), rtol=1e-6)
    for k in p:
        np.testing.assert_allclose(p[k].grad.numpy(), tp[k].grad.numpy(), rtol=1e-5, atol=1e-7)


class _WithBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.register_buffer("scale", tracer.tensor([1.0, 10.0]))

    def forward(self, x, shift=0.0):
        return self.lin(x) * self.scale + shift


def test_functional_call_takes_buffers_several_dicts_and_kwargs():
    m = _WithBuffer()
    x = tracer.ones(1, 2)
    scale = tracer.tensor([2.0, 3.0])
    out = functional_call(m, ({}, {"scale": scale}), (x,), {"shift": 1.0})
    _close(out, m.lin(x) * scale + 1.0)
    assert m.scale.tolist() == [1.0, 10.0]


class _Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("calls", tracer.zeros(()))

    def forward(self, x):
        self.calls.add_(1)  # as running statistics are updated
        return x * self.calls


def test_functional_call_updates_a_given_buffer_in_place_not_the_modules():
    m = _Counter()
    mine = tracer.tensor(10.0)
    out = functional_call(m, {"calls": mine}, (tracer.ones(2),))
    assert out.tolist() == [11.0, 11.0] and mine.item() == 11.0 and m.calls.item() == 0.0


def test_traced_functional_call_updates_the_given_buffer_at_every_call():
    m = _Counter()
    own = m.calls
    f = tracer.trace(lambda c, x: functional_call(m, {"calls": c}, (x,)))
    mine = tracer.tensor(10.0)
    for n in (11.0, 12.0):  # as eagerly: the tensor passed in is updated in place
        assert f(mine, tracer.ones(2)).tolist() == [n, n]
        assert mine.item() == n
    assert m.calls is own and own.item() == 0.0


def test_functional_call_of_one_argument_not_in_a_tuple():
    m = nn.Linear(2, 2)
    x = tracer.ones(1, 2)
    _close(functional_call(m, {}, x), m(x))


class _Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 2, bias=False)
        self.b = nn.Linear(2, 2, bias=False)
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.b(self.a(x))


def test_tied_weights_take_the_value_given_for_either_name():
    m = _Tied()
    w = tracer.eye(2) * 2
    x = tracer.ones(1, 2)
    assert functional_call(m, {"a.weight": w}, (x,)).tolist() == [[4.0, 4.0]]
    untied = functional_call(m, {"a.weight": w}, (x,), tie_weights=False)
    _close(untied, (x @ w.T) @ m.a.weight.T)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (
            lambda m, x: functional_call(m, {"0.weight": tracer.ones(4, 3)}, (x,), strict=True),
            RuntimeError,
            "Missing key\\(s\\): '0.bias', '2.bias', '2.weight'",
        ),
        (
            lambda m, x: functional_call(
                m, {**dict(m.named_parameters()), "nope": tracer.ones(1)}, (x,), strict=True
            ),
            RuntimeError,
            "Unexpected key\\(s\\): 'nope'",
        ),
        (
            lambda m, x: functional_call(m, ({"0.bias": tracer.ones(4)},) * 2, (x,)),
            ValueError,
            "appeared in multiple dictionaries",
        ),
        (
            lambda m, x: functional_call(m, {"0.weight": 3.0}, (x,)),
            TypeError,
            "is not an instance of tracer.Tensor",
        ),
        (
            lambda m, x: functional_call(m, {"0": tracer.ones(1)}, (x,)),
            TypeError,
            "names a submodule",
        ),
        (
            lambda m, x: functional_call(m, {"0.weight": tracer.ones(3, 3)}, (x,)),
            ValueError,
            "shape",
        ),
    ],
    ids=["missing", "unexpected", "two_dicts", "not_tensor", "submodule", "bad_shape"],
)
def test_functional_call_errors_leave_the_module_as_it_was(call, exc, match):
    m = _mlp()
    x, _ = _data()
    before = {k: v for k, v in m.named_parameters()}
    with pytest.raises(exc, match=match):
        call(m, x)
    assert {k: v for k, v in m.named_parameters()} == before
    assert all(m.get_parameter(k) is v for k, v in before.items())


def test_tied_names_given_different_values_raise():
    with pytest.raises(ValueError, match="which are tied"):
        functional_call(_Tied(), {"a.weight": tracer.eye(2), "b.weight": tracer.eye(2)}, ())


def test_unsupported_torch_func_names_say_so():
    with pytest.raises(AttributeError, match="tracer.func.functionalize is not supported"):
        tracer.func.functionalize  # noqa: B018


def test_torch_func_transforms_take_pytorchs_argument_names():
    x = tracer.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    sums = tracer.func.vmap(lambda c: (c * c).sum(), in_dims=1)(x)
    assert sums.tolist() == [17.0, 29.0, 45.0]  # column sums of squares
    g, value = tracer.func.grad_and_value(lambda v: (v * v).sum())(x[0])
    assert (g.tolist(), value.item()) == ([2.0, 4.0, 6.0], 14.0)


# ---- value_and_grad over a dict of parameters ------------------------------------------


def _loss(model):
    return lambda p, x, y: F.mse_loss(functional_call(model, p, (x,)), y)


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.jit)])
def test_value_and_grad_over_a_parameter_dict_equals_eager(jit):
    model = _mlp()
    x, y = _data()
    params = dict(model.named_parameters())
    value, grads = tracer.value_and_grad(_loss(model))(params, x, y)
    eager = _params_like(model, 1.0)
    expected = _loss(model)(eager, x, y)
    expected.backward()
    _close(value, expected)
    assert set(grads) == set(params)
    for k in params:
        _close(grads[k], eager[k].grad)


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.jit)])
def test_traced_functional_call_sends_gradients_to_the_dict(jit):
    model = _mlp()
    x, y = _data()
    p = _params_like(model, 1.0)
    tracer.trace(_loss(model))(p, x, y).backward()
    eager = _params_like(model, 1.0)
    _loss(model)(eager, x, y).backward()
    for k in p:
        _close(p[k].grad, eager[k].grad)


def _eager_value_and_grad(loss):
    """value_and_grad over a dict of parameters, computed by eager autograd."""

    def vg(params, x, y):
        value = loss(params, x, y)
        grads = tracer.autograd.grad(value, list(params.values()))
        return value, dict(zip(params, grads))

    return vg


def test_jax_style_training_loop_follows_the_eager_one_without_retracing():
    x, y = _data()
    runs = []
    for compiled in (True, False):
        model = _mlp()
        params = {k: v.detach().clone() for k, v in model.named_parameters()}
        vg = tracer.value_and_grad(_loss(model)) if compiled else None
        for _ in range(4):
            if compiled:
                value, grads = vg(params, x, y)
            else:
                live = {k: v.requires_grad_() for k, v in params.items()}
                value, grads = _eager_value_and_grad(_loss(model))(live, x, y)
            with tracer.no_grad():
                params = {k: p - 0.1 * grads[k] for k, p in params.items()}
        runs.append(params)
        if compiled:
            assert vg.cache_info().misses == 1  # new tensors of the same shapes: no retrace
    for k in runs[0]:
        _close(runs[0][k], runs[1][k])
    assert not np.allclose(runs[0]["0.weight"].numpy(), _mlp()[0].weight.detach().numpy())


def test_tracer_func_is_there_as_torch_func():
    # a fresh interpreter: `import tracer` alone must make tracer.func available
    code = "import tracer as torch; print(torch.func.functional_call.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "functional_call"


def test_value_and_grad_over_a_parameter_dict_is_torchs():
    torch = pytest.importorskip("torch")
    from torch_compare import copy_weights, to_torch

    model = _mlp()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    copy_weights(theirs, model)
    x, y = _data()
    value, grads = tracer.value_and_grad(_loss(model))(dict(model.named_parameters()), x, y)
    tparams = {k: v.detach() for k, v in theirs.named_parameters()}

    def tloss(p):
        out = torch.func.functional_call(theirs, p, (to_torch(x),))
        return torch.nn.functional.mse_loss(out, to_torch(y))

    tgrads = torch.func.grad(tloss)(tparams)
    np.testing.assert_allclose(value.item(), tloss(tparams).item(), rtol=1e-6)
    for k in tgrads:
        # parameters require grad, so the gradients have a history (as torch.func.grad's)
        np.testing.assert_allclose(
            grads[k].detach().numpy(), tgrads[k].numpy(), rtol=1e-5, atol=1e-7
        )
