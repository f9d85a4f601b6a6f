"""Optimizer.state_dict()/load_state_dict(): PyTorch's structure (state keyed by
parameter index, groups with "params" as index lists), and resuming from a saved
state continues exactly the trajectory of an uninterrupted run."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import tracer
from tracer import optim

SHAPES = [(2, 3), (3,)]

# (optimizer, kwargs) covering every kind of state
CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adadelta", dict()),
    ("Adamax", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05)),
    ("LBFGS", dict(lr=0.5, max_iter=3, history_size=2)),
    ("LBFGS", dict(max_iter=3, line_search_fn="strong_wolfe")),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in CASES]


def _quadratic(lib, params):
    """A loss whose gradients vary from step to step: sum of (p - 1)**4 + p**2."""
    return sum((((p - 1) ** 2) ** 2 + p * p).sum() for p in params)


def _train(lib, opt, params, steps):
    def closure():
        opt.zero_grad()
        loss = _quadratic(lib, params)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)


def _params(lib, dtype="float64"):
    rng = np.random.default_rng(0)
    return [lib.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in SHAPES]


def _groups(params):
    return [{"params": params[:1]}, {"params": params[1:], "lr": 0.02}]


def _make(name, kwargs, params):
    groups = params if name == "LBFGS" else _groups(params)
    return getattr(optim, name)(groups, **kwargs)


@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_resuming_from_a_saved_state_continues_the_same_trajectory(name, kwargs):
    straight = _params(tracer)
    opt = _make(name, kwargs, straight)
    _train(tracer, opt, straight, 6)

    first = _params(tracer)
    opt = _make(name, kwargs, first)
    _train(tracer, opt, first, 3)
    saved = copy.deepcopy(opt.state_dict())
    resumed = [tracer.tensor(p.detach().numpy(), requires_grad=True) for p in first]
    opt = _make(name, dict(lr=123.0) if name != "LBFGS" else {}, resumed)  # lr comes from the dict
    opt.load_state_dict(saved)
    _train(tracer, opt, resumed, 3)
    assert [p.tolist() for p in resumed] == [p.tolist() for p in straight]


@pytest.mark.parametrize("name,kwargs", CASES, ids=CASE_IDS)
def test_state_dict_has_torchs_structure_and_values(name, kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = _params(tracer), _params(torch)
    our_opt = _make(name, kwargs, ours)
    groups = theirs if name == "LBFGS" else _groups(theirs)
    their_opt = getattr(torch.optim, name)(groups, **kwargs)
    _train(tracer, our_opt, ours, 3)
    _train(torch, their_opt, theirs, 3)
    our_sd, their_sd = our_opt.state_dict(), their_opt.state_dict()
    assert our_sd["param_groups"] == their_sd["param_groups"]

    def flat(value):
        """Nested state as plain Python values, tensors as lists."""
        if isinstance(value, dict):
            return {k: flat(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [flat(v) for v in value]
        if hasattr(value, "tolist"):
            return np.round(np.asarray(value.tolist(), dtype=float), 10).tolist()
        return round(value, 10) if isinstance(value, float) else value

    assert flat(our_sd["state"]) == flat(their_sd["state"])


def test_params_are_numbered_in_group_order():
    a, b, c = (tracer.ones(1, requires_grad=True) for _ in range(3))
    opt = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}])
    for p in (c, a):  # state is created in this order
        p.grad = tracer.ones(1)
        opt.step()
        p.grad = None
    sd = opt.state_dict()
    assert ([g["params"] for g in sd["param_groups"]], list(sd["state"])) == ([[0, 1], [2]], [2, 0])


def test_state_dict_holds_the_optimizers_own_tensors_like_torch():
    p = tracer.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = tracer.ones(2)
    opt.step()
    assert opt.state_dict()["state"][0]["momentum_buffer"] is opt.state[p]["momentum_buffer"]


def test_loading_copies_so_two_optimizers_never_share_buffers():
    p, q = tracer.ones(2, requires_grad=True), tracer.ones(2, requires_grad=True)
    source = optim.SGD([tracer.ones(2, requires_grad=True)], lr=0.1, momentum=0.9)
    source.param_groups[0]["params"][0].grad = tracer.ones(2)
    source.step()
    sd = source.state_dict()
    opt_p, opt_q = optim.SGD([p], lr=0.1), optim.SGD([q], lr=0.1)
    opt_p.load_state_dict(sd)
    opt_q.load_state_dict(sd)
    p.grad = tracer.ones(2)
    opt_p.step()
    assert (
        opt_q.state[q]["momentum_buffer"].tolist(),
        sd["state"][0]["momentum_buffer"].tolist(),
    ) == (
        [1.0, 1.0],
        [1.0, 1.0],
    )


def test_loading_casts_floating_state_to_the_parameters_dtype_but_not_step():
    p32 = tracer.ones(2, requires_grad=True)
    opt = optim.Adam([p32])
    p32.grad = tracer.ones(2)
    opt.step()
    p64 = tracer.ones(2, dtype=tracer.float64, requires_grad=True)
    resumed = optim.Adam([p64])
    resumed.load_state_dict(opt.state_dict())
    state = resumed.state[p64]
    assert (state["exp_avg"].dtype, state["step"].dtype) == (tracer.float64, tracer.float32)


def test_a_plain_number_step_is_loaded_as_a_tensor():
    p = tracer.ones(1, requires_grad=True)
    opt = optim.Adam([p], lr=0.25, betas=(0.5, 0.75), eps=0.0)
    sd = opt.state_dict()
    sd["state"] = {0: {"step": 1, "exp_avg": tracer.ones(1), "exp_avg_sq": tracer.ones(1)}}
    opt.load_state_dict(sd)
    p.grad = tracer.ones(1)
    opt.step()
    # step 2 with m = v = 1 and g = 1: m_hat = 1 / 0.75, sqrt(v_hat) = 1 / sqrt(0.4375)
    assert (opt.state[p]["step"].item(), p.item()) == pytest.approx(
        (2.0, 1 - 0.25 / 0.75 * np.sqrt(0.4375))
    )


def test_loaded_hyperparameters_replace_the_current_ones_and_keep_param_names():
    w = tracer.ones(1, requires_grad=True)
    opt = optim.SGD([("w", w)], lr=0.1, momentum=0.5)
    other = optim.SGD([("w", tracer.ones(1, requires_grad=True))], lr=0.7)
    opt.load_state_dict(other.state_dict())
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["params"][0] is w, group["param_names"]) == (
        0.7,
        0,
        True,
        ["w"],
    )


def _two_groups():
    return optim.SGD(
        [
            {"params": [tracer.ones(1, requires_grad=True)]},
            {"params": [tracer.ones(1, requires_grad=True)]},
        ],
        lr=0.1,
    )


LOAD_ERRORS = [
    ("not_a_dict", lambda opt: [1, 2], "expected a dict with 'state' and 'param_groups'"),
    (
        "group_count",
        lambda opt: optim.SGD([tracer.ones(1, requires_grad=True)], lr=0.1).state_dict(),
        "has 1 parameter group.*this optimizer has 2",
    ),
    (
        "group_size",
        lambda opt: optim.SGD(
            [
                {"params": [tracer.ones(1, requires_grad=True)]},
                {
                    "params": [
                        tracer.ones(1, requires_grad=True),
                        tracer.ones(1, requires_grad=True),
                    ]
                },
            ],
            lr=0.1,
        ).state_dict(),
        "parameter group 1 has 2 parameter.*and 1 in this optimizer",
    ),
    (
        "bad_hyperparameter",
        lambda opt: {
            **opt.state_dict(),
            "param_groups": [{**g, "lr": -1.0} for g in opt.state_dict()["param_groups"]],
        },
        "invalid lr=-1.0",
    ),
]


@pytest.mark.parametrize(
    "make,message", [c[1:] for c in LOAD_ERRORS], ids=[c[0] for c in LOAD_ERRORS]
)
def test_a_state_dict_that_does_not_fit_is_refused_and_changes_nothing(make, message):
    opt = _two_groups()
    before = opt.param_groups
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(make(opt))
    assert (opt.param_groups is before, [g["lr"] for g in opt.param_groups]) == (True, [0.1, 0.1])
