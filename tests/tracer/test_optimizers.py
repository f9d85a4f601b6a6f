"""tracer.optim's optimizers beyond SGD and Adam follow torch.optim's formulas.

Each option is pinned by a few steps worked out by hand on one float64 parameter
(p = 1, gradients 2 then 5 unless said otherwise). When PyTorch is importable, every
optimizer runs 10 steps of several option sets next to torch.optim on the same
gradients, comparing parameters and state after each step; signatures, defaults,
group contents and which hyperparameters are refused are compared too.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import tracer
from tracer import optim


def _steps(make_opt, grads, p0=1.0):
    """Values of a 1-element float64 parameter after each step with the given gradients."""
    p = tracer.tensor([p0], dtype=tracer.float64, requires_grad=True)
    opt = make_opt([p])
    values = []
    for g in grads:
        p.grad = tracer.tensor([g], dtype=tracer.float64)
        opt.step()
        values.append(p.item())
    return values


def _radam_rect(beta2, t):
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
    return rho, math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))


# (id, optimizer, kwargs, gradients, p after each step)
HAND_CASES = [
    # betas (0.5, 0.75): m_hat = g-average, sqrt(v_hat) equal to it for these gradients
    # (see test_optim.py); decoupled decay first shrinks p by 1 - lr * wd = 0.9
    (
        "adamw",
        "AdamW",
        dict(lr=0.25, betas=(0.5, 0.75), eps=0.0, weight_decay=0.4),
        [2.0, 5.0],
        [0.9 - 0.25, 0.65 * 0.9 - 0.25],
    ),
    (
        "adam_decoupled",
        "Adam",
        dict(lr=0.25, betas=(0.5, 0.75), eps=0.0, weight_decay=0.4, decoupled_weight_decay=True),
        [2.0, 5.0],
        [0.9 - 0.25, 0.65 * 0.9 - 0.25],
    ),
    # v = 0.5 * 4 = 2, then 0.5 * 2 + 0.5 * 25 = 13.5
    (
        "rmsprop",
        "RMSprop",
        dict(lr=0.1, alpha=0.5, eps=0.0),
        [2.0, 5.0],
        [1 - 0.2 / math.sqrt(2), 1 - 0.2 / math.sqrt(2) - 0.5 / math.sqrt(13.5)],
    ),
    # the gradient average a = 1 then 3: d = sqrt(2 - 1) then sqrt(13.5 - 9)
    (
        "rmsprop_centered",
        "RMSprop",
        dict(lr=0.1, alpha=0.5, eps=0.0, centered=True),
        [2.0, 5.0],
        [0.8, 0.8 - 0.5 / math.sqrt(4.5)],
    ),
    # b = g / d = sqrt(2), then 0.5 * sqrt(2) + 5 / sqrt(13.5)
    (
        "rmsprop_momentum",
        "RMSprop",
        dict(lr=0.1, alpha=0.5, eps=0.0, momentum=0.5),
        [2.0, 5.0],
        [
            1 - 0.1 * math.sqrt(2),
            1 - 0.1 * math.sqrt(2) - 0.1 * (0.5 * math.sqrt(2) + 5 / math.sqrt(13.5)),
        ],
    ),
    # eps is added outside the square root: d = sqrt(2) + 1
    (
        "rmsprop_eps",
        "RMSprop",
        dict(lr=0.1, alpha=0.5, eps=1.0),
        [2.0],
        [1 - 0.2 / (math.sqrt(2) + 1)],
    ),
    # s = 4 then 29
    ("adagrad", "Adagrad", dict(lr=0.1, eps=0.0), [2.0, 5.0], [0.9, 0.9 - 0.5 / math.sqrt(29)]),
    # the second step's lr is 0.1 / (1 + 1 * 0.5)
    (
        "adagrad_lr_decay",
        "Adagrad",
        dict(lr=0.1, eps=0.0, lr_decay=0.5),
        [2.0, 5.0],
        [0.9, 0.9 - 0.1 / 1.5 * 5 / math.sqrt(29)],
    ),
    # s starts at 5: 9 then 34
    (
        "adagrad_initial_accumulator",
        "Adagrad",
        dict(lr=0.1, eps=0.0, initial_accumulator_value=5.0),
        [2.0, 5.0],
        [1 - 0.2 / 3, 1 - 0.2 / 3 - 0.5 / math.sqrt(34)],
    ),
    # v = 2: delta = sqrt(0 + 1) / sqrt(2 + 1) * 2, u = 0.5 * delta**2 = 2 / 3;
    # v = 13.5: delta = sqrt(2/3 + 1) / sqrt(14.5) * 5
    (
        "adadelta",
        "Adadelta",
        dict(lr=1.0, rho=0.5, eps=1.0),
        [2.0, 5.0],
        [1 - 2 / math.sqrt(3), 1 - 2 / math.sqrt(3) - math.sqrt(5 / 3) / math.sqrt(14.5) * 5],
    ),
    (
        "adadelta_lr",
        "Adadelta",
        dict(lr=0.5, rho=0.5, eps=1.0),
        [2.0],
        [1 - 1 / math.sqrt(3)],
    ),
    # m = 1, u = 2: p -= 0.25 / 0.5 * 1 / 2; m = 3, u = max(1.5, 5): p -= 0.25 / 0.75 * 3 / 5;
    # g = 1: m = 2, u = max(3.75, 1) keeps the decayed norm: p -= 0.25 / 0.875 * 2 / 3.75
    (
        "adamax",
        "Adamax",
        dict(lr=0.25, betas=(0.5, 0.75), eps=0.0),
        [2.0, 5.0, 1.0],
        [0.75, 0.55, 0.55 - 0.25 / 0.875 * 2 / 3.75],
    ),
    # momentum_decay 0 makes mu_t = beta1 * 0.5 = 0.25 every step (exact in float32);
    # step 1: m = 1, v = 1, d = sqrt(1 / 0.25) = 2:
    #   p -= 0.25 * 0.75 / 0.75 * 2 / 2, then p -= 0.25 * 0.25 / (1 - 0.0625) * 1 / 2
    (
        "nadam",
        "NAdam",
        dict(lr=0.25, betas=(0.5, 0.75), eps=0.0, momentum_decay=0.0),
        [2.0],
        [1 - 0.25 - 0.0625 / 0.9375 / 2],
    ),
    # with a constant gradient 1, m_hat = 1 and sqrt(1 - beta2**t) / sqrt(v) = 1: RAdam
    # steps by lr while rho_t <= 5 (t <= 5 for beta2 = 0.9), then by lr * rect(rho_6)
    (
        "radam",
        "RAdam",
        dict(lr=0.1, betas=(0.5, 0.9), eps=0.0),
        [1.0] * 6,
        [1 - 0.1 * t for t in range(1, 6)] + [0.5 - 0.1 * _radam_rect(0.9, 6)[1]],
    ),
]


@pytest.mark.parametrize(
    "name,kwargs,grads,expected", [c[1:] for c in HAND_CASES], ids=[c[0] for c in HAND_CASES]
)
def test_matches_hand_computed_steps(name, kwargs, grads, expected):
    opt_class = getattr(optim, name)
    assert _steps(lambda ps: opt_class(ps, **kwargs), grads) == pytest.approx(
        expected, rel=1e-12, abs=1e-12
    )


def test_radam_rectification_starts_at_step_six_for_beta2_09():
    assert (_radam_rect(0.9, 5)[0] <= 5, _radam_rect(0.9, 6)[0] > 5) == (True, True)


MAXIMIZE_CASES = ["AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam"]


@pytest.mark.parametrize("name", MAXIMIZE_CASES)
def test_maximize_is_minimizing_the_negated_gradient(name):
    opt_class = getattr(optim, name)
    up = _steps(lambda ps: opt_class(ps, lr=0.1, maximize=True), [2.0, -1.0, 3.0], p0=0.0)
    down = _steps(lambda ps: opt_class(ps, lr=0.1), [-2.0, 1.0, -3.0], p0=0.0)
    assert up == pytest.approx(down, abs=1e-15)


@pytest.mark.parametrize("name", ["Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "RMSprop"])
def test_l2_weight_decay_adds_wd_times_p_to_the_gradient(name):
    # p = 2, weight_decay 0.5: the first step sees the gradient 1 + 0.5 * 2 = 2
    opt_class = getattr(optim, name)
    decayed = _steps(lambda ps: opt_class(ps, lr=0.1, weight_decay=0.5), [1.0], p0=2.0)
    plain = _steps(lambda ps: opt_class(ps, lr=0.1), [2.0], p0=2.0)
    assert decayed == pytest.approx(plain, abs=1e-15)


@pytest.mark.parametrize("name", ["NAdam", "RAdam"])
def test_decoupled_weight_decay_shrinks_p_before_the_step(name):
    # p = 2, lr 0.1, weight_decay 0.5: p becomes 2 * 0.95 = 1.9, then takes the plain step
    opt_class = getattr(optim, name)
    decoupled = _steps(
        lambda ps: opt_class(ps, lr=0.1, weight_decay=0.5, decoupled_weight_decay=True),
        [1.0],
        p0=2.0,
    )
    plain = _steps(lambda ps: opt_class(ps, lr=0.1), [1.0], p0=1.9)
    assert decoupled == pytest.approx(plain, abs=1e-15)


def test_nadam_keeps_its_momentum_product_in_float32_like_pytorch():
    p = tracer.tensor([1.0], dtype=tracer.float64, requires_grad=True)
    opt = optim.NAdam([p])
    for g in (1.0, 2.0):
        p.grad = tracer.tensor([g], dtype=tracer.float64)
        opt.step()
    mu = [0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3)) for t in (1, 2)]
    product = np.float32(np.float32(mu[0]) * np.float32(mu[1]))
    state = opt.state[p]
    assert (state["mu_product"].dtype, state["mu_product"].item()) == (np.float32, product)


def test_adagrad_creates_its_state_in_the_constructor():
    p = tracer.ones(2, requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.5)
    assert (opt.state[p]["step"].item(), opt.state[p]["sum"].tolist()) == (0.0, [0.5, 0.5])


def test_adagrad_group_initial_accumulator_value_is_used():
    # PyTorch reads the constructor's value for every group; the group's own value is
    # the one documented, so tracegrad uses it
    a, b = tracer.ones(1, requires_grad=True), tracer.ones(1, requires_grad=True)
    opt = optim.Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 3.0}])
    assert (opt.state[a]["sum"].item(), opt.state[b]["sum"].item()) == (0.0, 3.0)


@pytest.mark.parametrize("key", ["amsgrad", "momentum", "centered"])
def test_an_option_switched_on_mid_run_gets_its_buffer(key):
    name = "Adam" if key == "amsgrad" else "RMSprop"
    p = tracer.ones(2, requires_grad=True)
    opt = getattr(optim, name)([p], lr=0.1)
    p.grad = tracer.ones(2)
    opt.step()
    opt.param_groups[0][key] = 0.5 if key == "momentum" else True
    opt.step()
    buffer = {"amsgrad": "max_exp_avg_sq", "momentum": "momentum_buffer", "centered": "grad_avg"}
    assert buffer[key] in opt.state[p]


# ---- hyperparameters the constructors refuse ------------------------------------------

# (optimizer, kwargs, message); PyTorch refuses each of these too (checked below)
INVALID = [
    ("AdamW", dict(lr=-1.0), "lr=-1.0"),
    ("AdamW", dict(betas=(0.9, 1.0)), r"betas\[1\]=1.0"),
    ("AdamW", dict(eps=-1e-3), "eps"),
    ("AdamW", dict(weight_decay=-0.1), "weight_decay"),
    ("RMSprop", dict(lr=-0.1), "lr"),
    ("RMSprop", dict(alpha=-0.5), "alpha"),
    ("RMSprop", dict(eps=-1.0), "eps"),
    ("RMSprop", dict(momentum=-0.9), "momentum"),
    ("RMSprop", dict(weight_decay=-1.0), "weight_decay"),
    ("Adagrad", dict(lr=-0.1), "lr"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("Adagrad", dict(eps=-1.0), "eps"),
    ("Adagrad", dict(weight_decay=-1.0), "weight_decay"),
    ("Adadelta", dict(lr=-1.0), "lr"),
    ("Adadelta", dict(rho=1.5), r"rho=1.5; it must be in \[0, 1\]"),
    ("Adadelta", dict(rho=-0.1), "rho"),
    ("Adadelta", dict(eps=-1.0), "eps"),
    ("Adadelta", dict(weight_decay=-1.0), "weight_decay"),
    ("Adamax", dict(lr=-1.0), "lr"),
    ("Adamax", dict(betas=(-0.1, 0.9)), r"betas\[0\]"),
    ("Adamax", dict(eps=-1.0), "eps"),
    ("Adamax", dict(weight_decay=-1.0), "weight_decay"),
    ("NAdam", dict(lr=-1.0), "lr"),
    ("NAdam", dict(betas=(0.9, 1.5)), r"betas\[1\]"),
    ("NAdam", dict(momentum_decay=-1.0), "momentum_decay"),
    ("NAdam", dict(weight_decay=-1.0), "weight_decay"),
    ("RAdam", dict(lr=-1.0), "lr"),
    ("RAdam", dict(betas=(1.0, 0.9)), r"betas\[0\]"),
    ("RAdam", dict(eps=-1.0), "eps"),
    ("RAdam", dict(weight_decay=-1.0), "weight_decay"),
    ("LBFGS", dict(lr=-1.0), "lr"),
    ("SGD", dict(lr=-1.0), "lr"),
    ("SGD", dict(momentum=0.0, nesterov=True), "nesterov"),
    ("Adam", dict(betas=(0.9, -0.5)), r"betas\[1\]"),
]
INVALID_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw, _ in INVALID]


@pytest.mark.parametrize("name,kwargs,message", INVALID, ids=INVALID_IDS)
def test_invalid_hyperparameters_raise_value_error_naming_them(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)([tracer.ones(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("name,kwargs,message", INVALID, ids=INVALID_IDS)
def test_torch_refuses_the_same_hyperparameters(name, kwargs, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(capturable=True), "capturable=True is for CUDA graph capture"),
        (dict(differentiable=True), "differentiable=True"),
    ],
)
def test_options_for_cuda_graphs_and_differentiable_steps_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.Adam([tracer.ones(2, requires_grad=True)], **kwargs)


def test_fused_and_foreach_are_accepted_and_change_nothing():
    plain = _steps(lambda ps: optim.AdamW(ps, lr=0.1), [2.0, 5.0])
    fused = _steps(lambda ps: optim.AdamW(ps, lr=0.1, fused=True), [2.0, 5.0])
    foreach = _steps(lambda ps: optim.AdamW(ps, lr=0.1, foreach=True), [2.0, 5.0])
    assert plain == fused == foreach


def test_fused_with_foreach_is_refused():
    with pytest.raises(RuntimeError, match="fused=True and foreach=True"):
        optim.SGD([tracer.ones(2, requires_grad=True)], fused=True, foreach=True)


def test_a_non_number_lr_is_a_type_error():
    with pytest.raises(TypeError, match="lr must be a number, got '0.1'"):
        optim.RMSprop([tracer.ones(2, requires_grad=True)], lr="0.1")


# ---- PyTorch as the oracle ------------------------------------------------------------

OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam"]

TORCH_CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, maximize=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05, decoupled_weight_decay=True, weight_decay=0.1)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, amsgrad=True)),
    ("AdamW", dict(lr=0.02, weight_decay=0.5, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1, eps=1e-4)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.2, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    ("Adamax", dict(maximize=True, eps=1e-3)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(decoupled_weight_decay=True, weight_decay=0.2, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.9), weight_decay=0.1)),
    ("RAdam", dict(betas=(0.8, 0.8), decoupled_weight_decay=True, weight_decay=0.2)),
]
SHAPES = [(3, 4), (4,), (2,)]


def _assert_same(ours, theirs, what):
    """Equal up to float rounding: 16 ulps of the tensor's largest magnitude (FMA in
    PyTorch's kernels rounds some products once where numpy rounds twice)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype, what
    eps = np.finfo(theirs.dtype).eps
    np.testing.assert_allclose(
        ours, theirs, rtol=0, atol=16 * eps * max(np.abs(theirs).max(), 1e-30), err_msg=what
    )


def _run_side_by_side(torch, name, kwargs, dtype, steps=10):
    """Both libraries step the same parameters with the same gradients (some None, in
    two param groups); yields (step, ours, theirs, our_opt, their_opt) after each step."""
    rng = np.random.default_rng(0)
    p0 = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    ours = [tracer.tensor(a, requires_grad=True) for a in p0]
    theirs = [torch.tensor(a, requires_grad=True) for a in p0]
    lr = kwargs.get("lr", 0.01)
    our_opt = getattr(optim, name)(
        [{"params": ours[:2]}, {"params": ours[2:], "lr": lr / 2}], **kwargs
    )
    their_opt = getattr(torch.optim, name)(
        [{"params": theirs[:2]}, {"params": theirs[2:], "lr": lr / 2}], **kwargs
    )
    for step in range(steps):
        for i in range(len(SHAPES)):
            g = None if (step + i) % 4 == 3 else grads[step][i]
            ours[i].grad = None if g is None else tracer.tensor(g)
            theirs[i].grad = None if g is None else torch.tensor(g)
        our_opt.step()
        their_opt.step()
        yield step, ours, theirs, our_opt, their_opt


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "name,kwargs",
    TORCH_CASES,
    ids=[
        f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in TORCH_CASES
    ],
)
def test_parameters_and_state_match_torch_after_every_step(name, kwargs, dtype):
    torch = pytest.importorskip("torch")
    for step, ours, theirs, our_opt, their_opt in _run_side_by_side(torch, name, kwargs, dtype):
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a.detach().numpy(), b.detach().numpy(), f"step {step}, param {i}")
            our_state, their_state = our_opt.state.get(a, {}), their_opt.state.get(b, {})
            assert list(our_state) == list(their_state), f"step {step}, param {i}"
            for key, value in their_state.items():
                _assert_same(our_state[key].numpy(), value.numpy(), f"step {step}, {key}")


@pytest.mark.parametrize("name", OPTIMIZERS + ["LBFGS"])
def test_signature_and_defaults_match_torch(name):
    torch = pytest.importorskip("torch")

    def described(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert described(getattr(optim, name)) == described(getattr(torch.optim, name))


@pytest.mark.parametrize("name", OPTIMIZERS + ["LBFGS"])
def test_param_group_hyperparameters_match_torch(name):
    torch = pytest.importorskip("torch")
    ours = getattr(optim, name)([tracer.ones(2, requires_grad=True)])
    theirs = getattr(torch.optim, name)([torch.ones(2, requires_grad=True)])
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


def test_adagrad_state_before_any_step_matches_torch():
    torch = pytest.importorskip("torch")
    ours = optim.Adagrad([tracer.ones(2, requires_grad=True)], initial_accumulator_value=0.1)
    theirs = torch.optim.Adagrad([torch.ones(2, requires_grad=True)], initial_accumulator_value=0.1)
    ours_state, theirs_state = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert {k: {n: v.tolist() for n, v in s.items()} for k, s in ours_state.items()} == {
        k: {n: v.tolist() for n, v in s.items()} for k, s in theirs_state.items()
    }


def test_repr_matches_torch_with_two_groups():
    torch = pytest.importorskip("torch")

    def groups(lib):
        return [
            {"params": [lib.ones(1, requires_grad=True)]},
            {"params": [lib.ones(1, requires_grad=True)], "lr": 0.5},
        ]

    assert repr(optim.RMSprop(groups(tracer), lr=0.1)) == repr(
        torch.optim.RMSprop(groups(torch), lr=0.1)
    )


def test_tensor_betas_are_refused_by_name():
    with pytest.raises(TypeError, match=r"betas\[0\] is a tensor"):
        optim.Adam([tracer.ones(2, requires_grad=True)], betas=(tracer.tensor(0.9), 0.999))
