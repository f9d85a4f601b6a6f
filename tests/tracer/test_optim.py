"""tracer.optim: SGD and Adam follow torch.optim's update formulas.

Each option is pinned by two steps worked out by hand on one float64 parameter
(p = 1, gradients 2 then 5); then, when PyTorch is importable, several steps of
option combinations are compared against torch.optim on the same problem.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tracer
from tracer.optim import SGD, Adam


def _steps(make_opt, grads, p0=1.0):
    """Values of a 1-element parameter after each step with the given gradients."""
    p = tracer.tensor([p0], dtype=tracer.float64, requires_grad=True)
    opt = make_opt([p])
    values = []
    for g in grads:
        p.grad = tracer.tensor([g], dtype=tracer.float64)
        opt.step()
        values.append(p.item())
    return values


# (name, constructor kwargs, p after step 1, p after step 2); p0 = 1, grads 2 then 5.
SGD_CASES = [
    ("plain", dict(lr=0.1), 1 - 0.2, 0.8 - 0.5),
    # buffer b1 = g1 = 2 (no dampening on the first step), b2 = 0.5 * 2 + 5 = 6
    ("momentum", dict(lr=0.1, momentum=0.5), 1 - 0.2, 0.8 - 0.6),
    # b1 = 2, b2 = 0.5 * 2 + (1 - 0.25) * 5 = 4.75
    ("dampening", dict(lr=0.1, momentum=0.5, dampening=0.25), 1 - 0.2, 0.8 - 0.475),
    # step = g + 0.5 * b: 2 + 1 = 3, then 5 + 0.5 * 6 = 8
    ("nesterov", dict(lr=0.1, momentum=0.5, nesterov=True), 1 - 0.3, 0.7 - 0.8),
    # g + 0.5 * p: 2 + 0.5 = 2.5, then 5 + 0.5 * 0.75 = 5.375
    ("weight_decay", dict(lr=0.1, weight_decay=0.5), 1 - 0.25, 0.75 - 0.5375),
    ("maximize", dict(lr=0.1, maximize=True), 1 + 0.2, 1.2 + 0.5),
    # the gradient is negated before weight decay is added: -2 + 0.5 = -1.5,
    # then -5 + 0.5 * 1.15 = -4.425
    (
        "maximize_weight_decay",
        dict(lr=0.1, maximize=True, weight_decay=0.5),
        1 + 0.15,
        1.15 + 0.4425,
    ),
]


@pytest.mark.parametrize(
    "kwargs,step1,step2", [c[1:] for c in SGD_CASES], ids=[c[0] for c in SGD_CASES]
)
def test_sgd_matches_hand_computed_steps(kwargs, step1, step2):
    assert _steps(lambda ps: SGD(ps, **kwargs), [2.0, 5.0]) == pytest.approx(
        [step1, step2], abs=1e-12
    )


# betas (0.5, 0.75) keep the numbers small: after g = 2, m = 1 and v = 1, the bias
# corrections are 0.5 and 0.25, so m_hat = 2, sqrt(v_hat) = 2; after g = 5, m = 3,
# v = 0.75 + 0.25 * 25 = 7, corrections 0.75 and 0.4375, m_hat = 4, sqrt(v_hat) = 4.
ADAM_CASES = [
    ("bias_corrected", dict(lr=0.25, betas=(0.5, 0.75), eps=0.0), 1 - 0.25, 0.75 - 0.25),
    # eps is added to sqrt(v_hat): 0.25 * 2 / (2 + 2), then 0.25 * 4 / (4 + 2)
    ("eps", dict(lr=0.25, betas=(0.5, 0.75), eps=2.0), 1 - 0.125, 0.875 - 1 / 6),
    # weight decay 4 adds 4p to g: g1 = 6 (m = 3, v = 9, update 0.25 * 6 / 6);
    # g2 = 5 + 4 * 0.75 = 8 (m = 5.5, v = 22.75, update 0.25 * (5.5/0.75) / sqrt(52))
    (
        "weight_decay",
        dict(lr=0.25, betas=(0.5, 0.75), eps=0.0, weight_decay=4.0),
        1 - 0.25,
        0.75 - 0.25 * (5.5 / 0.75) / math.sqrt(22.75 / 0.4375),
    ),
    ("maximize", dict(lr=0.25, betas=(0.5, 0.75), eps=0.0, maximize=True), 1 + 0.25, 1.25 + 0.25),
    # the defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8): step 1 moves lr * g / (|g| + eps);
    # then m = 0.18 + 0.5 = 0.68, v = 0.003996 + 0.025 = 0.028996, corrections 0.19, 0.001999
    (
        "defaults",
        dict(),
        1 - 1e-3 * 2 / (2 + 1e-8),
        1 - 1e-3 * 2 / (2 + 1e-8) - 1e-3 * (0.68 / 0.19) / (math.sqrt(0.028996 / 0.001999) + 1e-8),
    ),
]


@pytest.mark.parametrize(
    "kwargs,step1,step2", [c[1:] for c in ADAM_CASES], ids=[c[0] for c in ADAM_CASES]
)
def test_adam_matches_hand_computed_steps(kwargs, step1, step2):
    assert _steps(lambda ps: Adam(ps, **kwargs), [2.0, 5.0]) == pytest.approx(
        [step1, step2], abs=1e-12
    )


def test_adam_amsgrad_keeps_the_largest_raw_second_moment():
    # steps 1-2 as in "bias_corrected"; then g = 0: m = 1.5, v = 0.75 * 7 = 5.25, but
    # AMSGrad normalises by max(7, 5.25) = 7 (corrected by 1 - 0.75**3 = 0.578125)
    kwargs = dict(lr=0.25, betas=(0.5, 0.75), eps=0.0)
    with_max = _steps(lambda ps: Adam(ps, amsgrad=True, **kwargs), [2.0, 5.0, 0.0])
    without = _steps(lambda ps: Adam(ps, **kwargs), [2.0, 5.0, 0.0])
    step3 = 0.25 / 0.875 * 1.5
    assert with_max == pytest.approx([0.75, 0.5, 0.5 - step3 / math.sqrt(7 / 0.578125)])
    assert without[2] == pytest.approx(0.5 - step3 / math.sqrt(5.25 / 0.578125))


def test_adam_state_holds_step_and_moments():
    p = tracer.tensor([1.0], dtype=tracer.float64, requires_grad=True)
    opt = Adam([p], lr=0.25, betas=(0.5, 0.75), amsgrad=True)
    for g in (2.0, 5.0):
        p.grad = tracer.tensor([g], dtype=tracer.float64)
        opt.step()
    state = opt.state[p]
    assert (
        state["step"].item(),
        state["step"].dtype,
        state["exp_avg"].tolist(),
        state["exp_avg_sq"].tolist(),
        state["max_exp_avg_sq"].tolist(),
    ) == (2.0, tracer.float32, [3.0], [7.0], [7.0])


def test_sgd_momentum_buffer_is_a_copy_of_the_first_gradient():
    p = tracer.tensor([1.0], requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = tracer.tensor([2.0])
    opt.step()
    p.grad.zero_()  # must not change the buffer
    assert opt.state[p]["momentum_buffer"].tolist() == [2.0]


# ---- bookkeeping ---------------------------------------------------------------


def test_step_updates_the_same_tensor_in_place_and_bumps_its_version():
    p = tracer.tensor([1.0, 2.0], requires_grad=True)
    array, version, view = p._data, p._version[0], p.detach()
    p.grad = tracer.tensor([1.0, 1.0])
    opt = SGD([p], lr=0.5)
    opt.step()
    assert (
        opt.param_groups[0]["params"][0] is p,
        p._data is array,
        p._version[0],
        view.tolist(),
        p.is_leaf,
        p.requires_grad,
    ) == (True, True, version + 1, [0.5, 1.5], True, True)


def test_step_records_nothing_and_works_with_grad_mode_on():
    p = tracer.tensor([1.0], requires_grad=True)
    (p * 3).sum().backward()
    Adam([p], lr=0.1).step()
    assert (p.grad_fn, p.is_leaf, tracer.is_grad_enabled()) == (None, True, True)


def test_params_without_grad_are_skipped():
    a = tracer.tensor([1.0], requires_grad=True)
    b = tracer.tensor([1.0], requires_grad=True)
    a.grad = tracer.tensor([1.0])
    for opt in (SGD([a, b], lr=0.5, momentum=0.9, weight_decay=1.0), Adam([a, b], lr=0.5)):
        opt.step()
        assert (b.tolist(), b._version[0], b in opt.state, a in opt.state) == (
            [1.0],
            0,
            False,
            True,
        )


def test_zero_grad_sets_grads_to_none_by_default():
    p = tracer.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    SGD([p], lr=0.1).zero_grad()
    assert p.grad is None


def test_zero_grad_set_to_none_false_zeroes_the_same_grad_tensor():
    p = tracer.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    grad = p.grad
    SGD([p], lr=0.1).zero_grad(set_to_none=False)
    (p * 3).sum().backward()  # accumulates into the zeroed tensor
    assert (p.grad is grad, p.grad.tolist()) == (True, [3.0, 3.0])


def test_zero_grad_set_to_none_false_detaches_a_grad_with_history():
    p = tracer.tensor([1.0, 2.0], requires_grad=True)
    (p**3).sum().backward(create_graph=True)
    assert p.grad.grad_fn is not None
    SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert (p.grad.tolist(), p.grad.grad_fn, p.grad.requires_grad) == ([0.0, 0.0], None, False)


def test_param_groups_override_defaults_per_group():
    a = tracer.tensor([1.0], requires_grad=True)
    b = tracer.tensor([1.0], requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    a.grad, b.grad = tracer.tensor([1.0]), tracer.tensor([1.0])
    opt.step()
    assert [(g["lr"], g["momentum"], g["params"]) for g in opt.param_groups] == [
        (0.1, 0, [a]),
        (0.5, 0.9, [b]),
    ]
    assert (a.item(), b.item()) == pytest.approx((0.9, 0.5))


def test_changing_a_groups_lr_between_steps_takes_effect():
    p = tracer.tensor([1.0], requires_grad=True)
    opt = SGD([p], lr=0.1)
    p.grad = tracer.tensor([1.0])
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    assert p.item() == pytest.approx(0.4)


def test_add_param_group_fills_in_the_defaults():
    opt = Adam([tracer.ones(1, requires_grad=True)], lr=0.01, betas=(0.8, 0.9))
    opt.add_param_group({"params": [tracer.ones(2, requires_grad=True)], "lr": 0.1})
    assert (opt.param_groups[1]["lr"], opt.param_groups[1]["betas"]) == (0.1, (0.8, 0.9))


def test_params_may_be_a_generator():
    ps = [tracer.ones(1, requires_grad=True), tracer.ones(2, requires_grad=True)]
    assert SGD(iter(ps), lr=0.1).param_groups[0]["params"] == ps


def test_step_with_closure_returns_its_loss_and_evaluates_with_grad():
    p = tracer.tensor([2.0], requires_grad=True)
    opt = SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with tracer.no_grad():
        loss = opt.step(closure)
    assert (loss.item(), p.item()) == pytest.approx((4.0, 2.0 - 0.1 * 4.0))


def _leaf():
    return tracer.ones(2, requires_grad=True)


ERROR_CASES = [
    ("non_leaf", lambda: SGD([_leaf() * 2], lr=0.1), ValueError, "non-leaf.*MulBackward0"),
    ("not_a_tensor", lambda: SGD([np.ones(2)], lr=0.1), TypeError, "expected a tracer.Tensor"),
    ("single_tensor", lambda: SGD(_leaf(), lr=0.1), TypeError, "single Tensor"),
    ("empty", lambda: Adam([]), ValueError, "empty parameter list"),
    ("duplicate", lambda: (lambda p: SGD([p, p], lr=0.1))(_leaf()), ValueError, "more than once"),
    ("negative_lr", lambda: SGD([_leaf()], lr=-0.1), ValueError, "lr=-0.1"),
    (
        "negative_lr_in_group",
        lambda: Adam([{"params": [_leaf()], "lr": -1.0}]),
        ValueError,
        "param group 0: invalid lr=-1.0",
    ),
    (
        "negative_momentum",
        lambda: SGD([_leaf()], lr=0.1, momentum=-0.5),
        ValueError,
        "momentum=-0.5",
    ),
    (
        "negative_weight_decay",
        lambda: Adam([_leaf()], weight_decay=-1),
        ValueError,
        "weight_decay=-1",
    ),
    (
        "nesterov_without_momentum",
        lambda: SGD([_leaf()], lr=0.1, nesterov=True),
        ValueError,
        "nesterov=True needs momentum > 0",
    ),
    (
        "nesterov_with_dampening",
        lambda: SGD([_leaf()], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
        ValueError,
        "dampening == 0",
    ),
    ("beta1_one", lambda: Adam([_leaf()], betas=(1.0, 0.999)), ValueError, r"betas\[0\]=1.0"),
    ("beta2_negative", lambda: Adam([_leaf()], betas=(0.9, -0.1)), ValueError, r"betas\[1\]"),
    ("negative_eps", lambda: Adam([_leaf()], eps=-1e-8), ValueError, "eps=-1e-08"),
    ("group_without_params", lambda: SGD([{"lr": 0.1}], lr=0.1), KeyError, "no 'params' key"),
    (
        "set_of_params",
        lambda: SGD([_leaf()], lr=0.1).add_param_group({"params": {_leaf(), _leaf()}}),
        TypeError,
        "params is a set, whose order changes",
    ),
    (
        "names_for_some",
        lambda: SGD([("w", _leaf()), _leaf()], lr=0.1),
        ValueError,
        "either every parameter has a name or none",
    ),
    ("string_lr", lambda: SGD([_leaf()], lr="0.1"), TypeError, "lr must be a number"),
]


@pytest.mark.parametrize(
    "make,error,message", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_invalid_arguments_raise_naming_the_problem(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_params_that_do_not_require_grad_are_kept_and_never_stepped():
    # a frozen layer passed with model.parameters(): PyTorch accepts it too
    frozen, live = tracer.ones(2), tracer.ones(2, requires_grad=True)
    opt = SGD([frozen, live], lr=0.5)
    live.grad = tracer.ones(2)
    opt.step()
    assert (opt.param_groups[0]["params"][0] is frozen, frozen.tolist(), live.tolist()) == (
        True,
        [1.0, 1.0],
        [0.5, 0.5],
    )


def test_extra_group_keys_are_kept_for_the_user_and_for_schedulers():
    p = _leaf()
    opt = SGD([{"params": [p], "name": "head", "initial_lr": 0.3}], lr=0.1)
    assert (opt.param_groups[0]["name"], opt.param_groups[0]["initial_lr"]) == ("head", 0.3)


def test_add_param_group_keeps_the_callers_dict_as_the_group():
    opt = SGD([_leaf()], lr=0.1)
    group = {"params": [_leaf()], "lr": 0.2}
    opt.add_param_group(group)
    assert (opt.param_groups[1] is group, group["momentum"]) == (True, 0)


def test_named_parameters_give_param_names():
    w, b = _leaf(), _leaf()
    opt = SGD([("layer.weight", w), ("layer.bias", b)], lr=0.1)
    group = opt.param_groups[0]
    assert (group["params"] == [w, b], group["param_names"]) == (
        True,
        ["layer.weight", "layer.bias"],
    )


def test_a_failed_add_param_group_changes_nothing():
    opt = SGD([_leaf()], lr=0.1)
    group = {"params": [_leaf()], "lr": -1.0}
    with pytest.raises(ValueError, match="lr=-1.0"):
        opt.add_param_group(group)
    assert (len(opt.param_groups), group) == (1, {"params": group["params"], "lr": -1.0})


def test_sgd_without_momentum_keeps_no_state():
    p = _leaf()
    opt = SGD([p], lr=0.1)
    p.grad = tracer.ones(2)
    opt.step()
    assert opt.state_dict()["state"] == {}


def test_the_same_param_in_two_groups_is_refused():
    p = _leaf()
    opt = SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="param group 1: a parameter appears more than once"):
        opt.add_param_group({"params": [p]})


# ---- PyTorch as the oracle ---------------------------------------------------------

TORCH_CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True, weight_decay=0.1)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.02, amsgrad=True, maximize=True)),
]


def _problem(lib, arrays):
    """A two-layer regression loss on fixed data, written once for both libraries."""
    w1, b1, w2, x, y = (lib.tensor(a) for a in arrays)
    params = [w1, b1, w2]
    for p in params:
        p.requires_grad_(True)

    def loss_fn(step):
        h = lib.tanh(x @ params[0] + params[1])
        loss = ((h @ params[2] - y) ** 2).mean()
        # b1 has no gradient on every third step: the optimizer must skip it
        return loss if step % 3 else (lib.tanh(x @ params[0]) @ params[2] - y).pow(2).mean()

    return params, loss_fn


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "name,kwargs",
    TORCH_CASES,
    ids=[
        f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in TORCH_CASES
    ],
)
def test_matches_torch_optim_over_several_steps(name, kwargs, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in [(3, 4), (4,), (4, 2), (8, 3), (8, 2)]]
    ours, our_loss = _problem(tracer, arrays)
    theirs, their_loss = _problem(torch, arrays)
    # two groups, the second with its own lr, to check groups are stepped alike
    groups = lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.03}]  # noqa: E731
    our_opt = getattr(tracer.optim, name)(groups(ours), **kwargs)
    their_opt = getattr(torch.optim, name)(groups(theirs), **kwargs)
    for step in range(8):
        for opt, loss_fn in ((our_opt, our_loss), (their_opt, their_loss)):
            opt.zero_grad()
            loss_fn(step).backward()
            opt.step()
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    for ours_p, theirs_p in zip(ours, theirs):
        np.testing.assert_allclose(ours_p.detach().numpy(), theirs_p.detach().numpy(), **tol)
        assert ours_p.dtype == np.dtype(dtype)


def test_a_user_defined_optimizer_written_for_pytorch_works():
    class SignSGD(tracer.optim.Optimizer):
        def __init__(self, params, step_size=0.1):
            super().__init__(params, dict(step_size=step_size))

        @tracer.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    self.state[p]["steps"] = self.state[p].get("steps", 0) + 1
                    p.sub_(p.grad.sign() * group["step_size"])

    p = tracer.tensor([1.0, -1.0], requires_grad=True)
    opt = SignSGD([p])
    p.grad = tracer.tensor([3.0, -0.5])
    opt.step()
    assert (p.tolist(), opt.state_dict()["state"]) == (
        pytest.approx([0.9, -0.9]),
        {0: {"steps": 1}},
    )
