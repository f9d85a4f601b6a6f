"""tracer.optim.lr_scheduler gives PyTorch's learning rates.

Closed forms worked out by hand pin each scheduler without PyTorch; with PyTorch, every
scheduler's lr sequence (and cycled momentum) over enough steps to cover its phases is
compared exactly (==) against torch.optim.lr_scheduler, in both the chainable step() and
the closed-form step(epoch) forms, and so are resuming and the warnings.
"""

from __future__ import annotations

import math
import warnings

import pytest

import tracer
from tracer.optim import lr_scheduler as ours_sched


def _optimizer(lib, kind="SGD", lrs=(0.1, 0.05)):
    params = [lib.zeros(1, requires_grad=True) for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs)]
    if kind == "SGD":
        return lib.optim.SGD(groups, lr=lrs[0], momentum=0.9)
    return getattr(lib.optim, kind)(groups, lr=lrs[0])


def _run(lib, make, steps, kind="SGD", metrics=None, epochs=None):
    """lrs (and momentum or beta1) of every group after construction and each step."""
    opt = _optimizer(lib, kind)
    sched = make(lib.optim.lr_scheduler, opt)
    key = "betas" if kind != "SGD" else "momentum"

    def snapshot():
        momenta = [g[key][0] if key == "betas" else g[key] for g in opt.param_groups]
        return (
            [float(lr) for lr in sched.get_last_lr()],
            [g["lr"] for g in opt.param_groups],
            momenta,
        )

    history = [snapshot()]
    for i in range(steps):
        opt.step()
        if metrics is not None:
            sched.step(metrics[i])
        elif epochs is not None:
            sched.step(epochs[i])
        else:
            sched.step()
        history.append(snapshot())
    return history


# (id, factory(lr_scheduler module, optimizer), steps, optimizer kind)
SCHEDULERS = [
    ("StepLR", lambda m, o: m.StepLR(o, step_size=3, gamma=0.5), 12, "SGD"),
    ("MultiStepLR", lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3), 12, "SGD"),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.9), 15, "SGD"),
    ("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, T_max=5, eta_min=0.001), 23, "SGD"),
    ("CosineAnnealingLR-eta0", lambda m, o: m.CosineAnnealingLR(o, T_max=4), 13, "SGD"),
    (
        "CosineAnnealingWarmRestarts",
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, eta_min=0.01),
        10,
        "SGD",
    ),
    (
        "CosineAnnealingWarmRestarts-Tmult",
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2),
        16,
        "SGD",
    ),
    ("LambdaLR", lambda m, o: m.LambdaLR(o, lr_lambda=lambda e: 1 / (1 + e)), 8, "SGD"),
    (
        "LambdaLR-per-group",
        lambda m, o: m.LambdaLR(o, lr_lambda=[lambda e: 0.9**e, lambda e: e // 2 + 1]),
        8,
        "SGD",
    ),
    ("MultiplicativeLR", lambda m, o: m.MultiplicativeLR(o, lr_lambda=lambda e: 0.95), 8, "SGD"),
    ("LinearLR", lambda m, o: m.LinearLR(o, start_factor=0.25, total_iters=4), 8, "SGD"),
    (
        "LinearLR-down",
        lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=6),
        9,
        "SGD",
    ),
    ("ConstantLR", lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=3), 7, "SGD"),
    ("PolynomialLR", lambda m, o: m.PolynomialLR(o, total_iters=6, power=2.0), 9, "SGD"),
    ("OneCycleLR-cos", lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=20), 19, "SGD"),
    (
        "OneCycleLR-linear-three-phase",
        lambda m, o: m.OneCycleLR(
            o, max_lr=[1.0, 0.5], total_steps=21, anneal_strategy="linear", three_phase=True
        ),
        20,
        "SGD",
    ),
    (
        "OneCycleLR-adam-betas",
        lambda m, o: m.OneCycleLR(o, max_lr=0.01, epochs=3, steps_per_epoch=4, pct_start=0.25),
        11,
        "Adam",
    ),
    (
        "OneCycleLR-no-momentum",
        lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=10, cycle_momentum=False),
        9,
        "SGD",
    ),
    ("CyclicLR", lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3), 14, "SGD"),
    (
        "CyclicLR-triangular2-asymmetric",
        lambda m, o: m.CyclicLR(
            o, base_lr=0.01, max_lr=0.1, step_size_up=2, step_size_down=4, mode="triangular2"
        ),
        20,
        "SGD",
    ),
    (
        "CyclicLR-exp-range-adam",
        lambda m, o: m.CyclicLR(
            o, base_lr=[0.001, 0.002], max_lr=0.01, step_size_up=3, mode="exp_range", gamma=0.9
        ),
        14,
        "Adam",
    ),
    (
        "SequentialLR",
        lambda m, o: m.SequentialLR(
            o,
            [m.LinearLR(o, start_factor=0.1, total_iters=3), m.ExponentialLR(o, gamma=0.9)],
            milestones=[3],
        ),
        10,
        "SGD",
    ),
    (
        "SequentialLR-three",
        lambda m, o: m.SequentialLR(
            o,
            [
                m.ConstantLR(o, factor=0.5, total_iters=2),
                m.CosineAnnealingLR(o, T_max=4),
                m.StepLR(o, step_size=2, gamma=0.5),
            ],
            milestones=[2, 6],
        ),
        12,
        "SGD",
    ),
    (
        "ChainedScheduler",
        lambda m, o: m.ChainedScheduler(
            [m.ConstantLR(o, factor=0.1, total_iters=2), m.ExponentialLR(o, gamma=0.9)]
        ),
        8,
        "SGD",
    ),
    (
        "two-schedulers-on-one-optimizer",
        lambda m, o: (m.StepLR(o, step_size=2, gamma=0.5), m.ExponentialLR(o, gamma=0.9))[1],
        8,
        "SGD",
    ),
]


@pytest.mark.parametrize(
    "make,steps,kind", [c[1:] for c in SCHEDULERS], ids=[c[0] for c in SCHEDULERS]
)
def test_lr_sequence_equals_torchs(make, steps, kind):
    torch = pytest.importorskip("torch")
    assert _run(tracer, make, steps, kind) == _run(torch, make, steps, kind)


@pytest.mark.parametrize(
    "make,steps,kind", [c[1:] for c in SCHEDULERS], ids=[c[0] for c in SCHEDULERS]
)
def test_optimizer_step_then_scheduler_step_is_warning_free(make, steps, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(tracer, make, steps, kind)


def _silently(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


CLOSED_FORM = [c for c in SCHEDULERS if c[0].split("-")[0] in {
    "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "ConstantLR",
    "PolynomialLR", "LambdaLR", "CosineAnnealingWarmRestarts",
}]  # fmt: skip
EPOCHS = [0, 1, 2, 5, 3, 7, 7, 10, 4, 2.5, 6]


@pytest.mark.parametrize(
    "make,kind", [(c[1], c[3]) for c in CLOSED_FORM], ids=[c[0] for c in CLOSED_FORM]
)
def test_step_with_an_epoch_equals_torchs(make, kind):
    torch = pytest.importorskip("torch")
    run = lambda lib: _run(lib, make, len(EPOCHS), kind, epochs=EPOCHS)  # noqa: E731
    assert _silently(lambda: run(tracer)) == _silently(lambda: run(torch))


PLATEAU = [
    ("defaults", dict(patience=2), [5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3]),
    ("max_abs_cooldown", dict(mode="max", threshold_mode="abs", threshold=0.5, patience=1,
                              cooldown=2, factor=0.5), [1, 1.2, 1.4, 1.5, 3, 3, 3, 3, 3, 3, 3]),
    ("min_lr_eps", dict(patience=0, factor=0.5, min_lr=[0.02, 0.03], eps=1e-3),
     [9, 9, 9, 9, 9, 9, 9, 9]),
    ("max_rel", dict(mode="max", threshold=0.1, patience=1), [1, 1.05, 1.1, 1.2, 1.21, 1.22, 1.3]),
]  # fmt: skip


@pytest.mark.parametrize("kwargs,metrics", [c[1:] for c in PLATEAU], ids=[c[0] for c in PLATEAU])
def test_reduce_lr_on_plateau_equals_torchs(kwargs, metrics):
    torch = pytest.importorskip("torch")
    make = lambda m, o: m.ReduceLROnPlateau(o, **kwargs)  # noqa: E731
    assert _run(tracer, make, len(metrics), metrics=metrics) == _run(
        torch, make, len(metrics), metrics=metrics
    )


# ---- closed forms by hand (no PyTorch needed) -----------------------------------------

HAND = [
    # initial lr 0.1: halved at epochs 3, 6, 9
    ("StepLR", lambda m, o: m.StepLR(o, 3, gamma=0.5), [0.1 * 0.5 ** (e // 3) for e in range(10)]),
    (
        "MultiStepLR",
        lambda m, o: m.MultiStepLR(o, [2, 4, 4], gamma=0.1),
        [0.1, 0.1, 0.01, 0.01, 1e-4, 1e-4],
    ),
    (
        "CosineAnnealingLR",
        lambda m, o: m.CosineAnnealingLR(o, T_max=4, eta_min=0.02),
        [0.02 + 0.08 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(9)],
    ),
    (
        "CosineAnnealingWarmRestarts",
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2),
        [0.1 * (1 + math.cos(math.pi * t / T)) / 2 for t, T in
         [(0, 2), (1, 2), (0, 4), (1, 4), (2, 4), (3, 4), (0, 8)]],
    ),  # fmt: skip
    (
        "LinearLR",
        lambda m, o: m.LinearLR(o, start_factor=0.5, total_iters=4),
        [0.1 * (0.5 + 0.5 * min(e, 4) / 4) for e in range(7)],
    ),
    ("ConstantLR", lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=2), [0.025] * 2 + [0.1] * 3),
    (
        "PolynomialLR",
        lambda m, o: m.PolynomialLR(o, total_iters=4, power=2.0),
        [0.1 * (1 - min(e, 4) / 4) ** 2 for e in range(6)],
    ),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, 0.5), [0.1 * 0.5**e for e in range(6)]),
    (
        "LambdaLR",
        lambda m, o: m.LambdaLR(o, lambda e: 1 / (e + 1)),
        [0.1 / (e + 1) for e in range(5)],
    ),
    ("MultiplicativeLR", lambda m, o: m.MultiplicativeLR(o, lambda e: 0.5), [0.1 * 0.5**e for e in range(5)]),
    # 10 steps, pct_start 0.3: up from 1/25 to 1 over steps 0..2, then down to 1/25/1e4
    # over steps 2..9 along a half cosine
    (
        "OneCycleLR",
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=10, cycle_momentum=False),
        [0.04 + (1 - 0.04) * (1 - math.cos(math.pi * s / 2)) / 2 for s in range(3)]
        + [4e-6 + (1 - 4e-6) * (1 + math.cos(math.pi * (s - 2) / 7)) / 2 for s in range(3, 10)],
    ),
    # triangle between 0.01 and 0.1 with 2 steps up and 2 down
    (
        "CyclicLR",
        lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=2, cycle_momentum=False),
        [0.01, 0.055, 0.1, 0.055, 0.01, 0.055, 0.1],
    ),
]  # fmt: skip


@pytest.mark.parametrize("make,expected", [c[1:] for c in HAND], ids=[c[0] for c in HAND])
def test_lrs_follow_the_documented_formula(make, expected):
    lrs = [lr for lrs, _, _ in _run(tracer, make, len(expected) - 1) for lr in lrs[:1]]
    assert lrs == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_reduce_lr_on_plateau_waits_patience_epochs_then_cooldown():
    opt = _optimizer(tracer)
    sched = ours_sched.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5)
    lrs = []
    for metric in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]:
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    # bad epochs 2 and 3 (> patience 1) halve the lr; epoch 4 is cooldown; 5, 6 halve again
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])


def test_cyclic_momentum_moves_opposite_to_the_lr():
    history = _run(tracer, lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2), 4)
    momenta = [m[0] for _, _, m in history]
    assert momenta == pytest.approx([0.9, 0.85, 0.8, 0.85, 0.9])


def test_one_cycle_with_adam_cycles_beta1_and_keeps_beta2():
    opt = _optimizer(tracer, "Adam")
    ours_sched.OneCycleLR(opt, max_lr=0.01, total_steps=10)
    assert (opt.param_groups[0]["betas"], opt.param_groups[0]["initial_lr"]) == (
        (0.95, 0.999),
        0.01 / 25,
    )


# ---- bookkeeping ------------------------------------------------------------------


def test_construction_sets_initial_lr_and_takes_the_first_step():
    opt = _optimizer(tracer)
    sched = ours_sched.StepLR(opt, 2)
    assert (
        [g["initial_lr"] for g in opt.param_groups],
        sched.base_lrs,
        sched.last_epoch,
        sched.get_last_lr(),
    ) == ([0.1, 0.05], [0.1, 0.05], 0, [0.1, 0.05])


RESUMABLE = [c for c in SCHEDULERS if c[0] not in {"two-schedulers-on-one-optimizer"}]


@pytest.mark.parametrize(
    "make,steps,kind", [c[1:] for c in RESUMABLE], ids=[c[0] for c in RESUMABLE]
)
def test_state_dicts_resume_the_same_schedule(make, steps, kind):
    straight = _run(tracer, make, steps, kind)
    opt = _optimizer(tracer, kind)
    sched = make(ours_sched, opt)
    half = steps // 2
    for _ in range(half):
        opt.step()
        sched.step()
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    opt = _optimizer(tracer, kind)
    sched = make(ours_sched, opt)
    opt.load_state_dict(saved_opt)
    sched.load_state_dict(saved_sched)
    resumed = []
    for _ in range(steps - half):
        opt.step()
        sched.step()
        resumed.append([float(lr) for lr in sched.get_last_lr()])
    assert resumed == [lrs for lrs, _, _ in straight[half + 1 :]]


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="param group 0 has no 'initial_lr'"):
        ours_sched.StepLR(_optimizer(tracer), 2, last_epoch=4)


@pytest.mark.parametrize("last_epoch", [3, 7])
def test_resuming_with_last_epoch_equals_torch(last_epoch):
    torch = pytest.importorskip("torch")

    def make(m, o):
        for group in o.param_groups:
            group["initial_lr"] = group["lr"]
        return m.CosineAnnealingLR(o, T_max=5, last_epoch=last_epoch)

    assert _run(tracer, make, 6) == _run(torch, make, 6)


def test_no_warning_when_the_optimizer_steps_first():
    opt = _optimizer(tracer)
    sched = ours_sched.StepLR(opt, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()


def test_stepping_the_scheduler_first_warns_like_torch():
    opt = _optimizer(tracer)
    sched = ours_sched.StepLR(opt, 2)
    with pytest.warns(UserWarning, match=r"before optimizer.step\(\)"):
        sched.step()


def test_get_lr_outside_step_warns_to_use_get_last_lr():
    sched = ours_sched.StepLR(_optimizer(tracer), 2)
    with pytest.warns(UserWarning, match=r"use get_last_lr\(\)"):
        sched.get_lr()


def test_an_epoch_argument_warns_that_it_is_deprecated():
    opt = _optimizer(tracer)
    sched = ours_sched.StepLR(opt, 2)
    opt.step()
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(3)


def test_a_group_added_after_the_scheduler_is_named_in_the_error():
    opt = _optimizer(tracer)
    sched = ours_sched.LambdaLR(opt, lambda e: 1.0)
    opt.add_param_group({"params": [tracer.zeros(1, requires_grad=True)]})
    opt.step()
    with pytest.raises(ValueError, match="computed 2 lrs but the optimizer has 3 param groups"):
        sched.step()


def test_lambda_state_dict_saves_callable_objects_but_not_functions():
    class Warmup:
        def __init__(self):
            self.length = 3

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.length)

    warmup = Warmup()
    sched = ours_sched.LambdaLR(_optimizer(tracer), [warmup, lambda e: 1.0])
    warmup.length = 7
    state = sched.state_dict()
    fresh = Warmup()
    again = ours_sched.LambdaLR(_optimizer(tracer), [fresh, lambda e: 1.0])
    again.load_state_dict(state)
    assert (state["lr_lambdas"], fresh.length) == ([{"length": 7}, None], 7)


INVALID = [
    ("ConstantLR", lambda m, o: m.ConstantLR(o, factor=1.5), ValueError),
    ("LinearLR-start", lambda m, o: m.LinearLR(o, start_factor=0), ValueError),
    ("LinearLR-end", lambda m, o: m.LinearLR(o, end_factor=1.5), ValueError),
    ("CosineAnnealingWarmRestarts-T_0", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0), ValueError),
    ("CosineAnnealingWarmRestarts-T_mult", lambda m, o: m.CosineAnnealingWarmRestarts(o, 2, T_mult=0), ValueError),
    ("OneCycleLR-steps", lambda m, o: m.OneCycleLR(o, max_lr=1.0), ValueError),
    ("OneCycleLR-pct", lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=1.5), ValueError),
    ("OneCycleLR-anneal", lambda m, o: m.OneCycleLR(o, 1.0, 5, anneal_strategy="exp"), ValueError),
    ("OneCycleLR-max_lr-list", lambda m, o: m.OneCycleLR(o, max_lr=[1.0], total_steps=5), ValueError),
    ("ReduceLROnPlateau-factor", lambda m, o: m.ReduceLROnPlateau(o, factor=1.0), ValueError),
    ("ReduceLROnPlateau-mode", lambda m, o: m.ReduceLROnPlateau(o, mode="lowest"), ValueError),
    ("ReduceLROnPlateau-min_lr", lambda m, o: m.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError),
    ("CyclicLR-mode", lambda m, o: m.CyclicLR(o, 0.1, 1.0, mode="sine"), ValueError),
    ("LambdaLR-count", lambda m, o: m.LambdaLR(o, [lambda e: 1.0]), ValueError),
    ("MultiplicativeLR-not-callable", lambda m, o: m.MultiplicativeLR(o, 0.5), TypeError),
    ("SequentialLR-milestones", lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2)], [1]), ValueError),
    ("SequentialLR-plateau", lambda m, o: m.SequentialLR(
        o, [m.StepLR(o, 2), m.ReduceLROnPlateau(o)], [1]), ValueError),
    ("not-an-optimizer", lambda m, o: m.StepLR(object(), 2), TypeError),
]  # fmt: skip


@pytest.mark.parametrize("make,error", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_arguments_raise_as_in_torch(make, error):
    with pytest.raises(error):
        make(ours_sched, _optimizer(tracer))


@pytest.mark.parametrize("make,error", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_torch_raises_the_same_error_type(make, error):
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        make(torch.optim.lr_scheduler, _optimizer(torch))


def test_one_cycle_stepping_past_total_steps_raises():
    opt = _optimizer(tracer)
    sched = ours_sched.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times.*total steps is 3"):
        sched.step()


def test_a_tensor_lr_is_updated_in_place():
    p = tracer.zeros(1, requires_grad=True)
    lr = tracer.tensor(0.1, dtype=tracer.float64)
    opt = tracer.optim.SGD([p], lr=lr)
    sched = ours_sched.StepLR(opt, step_size=1, gamma=0.5)
    p.grad = tracer.ones(1)
    for _ in range(2):
        opt.step()
        sched.step()
    # steps of 0.1 then 0.05; the group keeps the same tensor, now 0.025
    assert (opt.param_groups[0]["lr"] is lr, lr.item(), p.item()) == (
        True,
        0.025,
        pytest.approx(-0.15),
    )
