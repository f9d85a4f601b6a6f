"""Optimizer steps as kernels (issue 16): the default path (one runtime.optim kernel per
group and dtype) against the per-parameter reference (foreach=False), and against
torch.optim when it is installed, over 20 steps of every optimizer and option set."""

from __future__ import annotations

import numpy as np
import pytest

import tracer
from tracer import optim

SHAPES = [(5, 3), (3,), (4,)]
STEPS = 20

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), decoupled_weight_decay=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("Adamax", dict(weight_decay=0.1)),
    ("Adamax", dict(betas=(0.2, 0.9), maximize=True)),
    ("NAdam", dict(weight_decay=0.1)),
    ("NAdam", dict(decoupled_weight_decay=True, weight_decay=0.1, momentum_decay=0.01)),
    ("RAdam", dict(weight_decay=0.1)),
    ("RAdam", dict(betas=(0.9, 0.5), decoupled_weight_decay=True, weight_decay=0.1)),
    ("RMSprop", dict()),
    ("RMSprop", dict(centered=True, momentum=0.9, weight_decay=0.1)),
    ("Adagrad", dict(lr_decay=0.1, initial_accumulator_value=0.1, weight_decay=0.1)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("Adadelta", dict(rho=0.5, maximize=True)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


def _grads(dtype: type, seed: int = 0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]


def _initial(dtype: type) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _run_tracer(name: str, kw: dict, dtype: type, **flags: object):
    params = [tracer.tensor(a, requires_grad=True) for a in _initial(dtype)]
    opt = getattr(optim, name)(params, **kw, **flags)
    for grads in _grads(dtype):
        for p, g in zip(params, grads):
            p.grad = tracer.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params], opt.state_dict()


def _state_arrays(state_dict: dict) -> dict:
    return {
        (i, k): np.asarray(v.detach().numpy() if hasattr(v, "detach") else v)
        for i, s in state_dict["state"].items()
        for k, v in s.items()
    }


def _groups(state_dict: dict) -> list[dict]:
    return [{k: v for k, v in g.items() if k != "foreach"} for g in state_dict["param_groups"]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kw"), CASES, ids=IDS)
def test_kernel_equals_the_reference_update(name, kw, dtype):
    kernel, kernel_state = _run_tracer(name, kw, dtype)
    ref, ref_state = _run_tracer(name, kw, dtype, foreach=False)
    got, want = _state_arrays(kernel_state), _state_arrays(ref_state)
    assert (
        all(np.array_equal(a, b) for a, b in zip(kernel, ref)),
        set(got) == set(want) and all(np.array_equal(got[k], want[k]) for k in want),
        _groups(kernel_state) == _groups(ref_state),
    ) == (True, True, True)


@pytest.mark.parametrize(("name", "kw"), CASES, ids=IDS)
def test_kernel_matches_torch_optim(name, kw):
    torch = pytest.importorskip("torch")
    kernel, _ = _run_tracer(name, kw, np.float32)
    params = [torch.tensor(a, requires_grad=True) for a in _initial(np.float32)]
    opt = getattr(torch.optim, name)(params, **kw)
    for grads in _grads(np.float32):
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        opt.step()
    for got, p in zip(kernel, params):
        np.testing.assert_allclose(got, p.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_fused_and_foreach_true_take_the_kernel_and_equal_the_reference():
    ref, _ = _run_tracer("Adam", dict(lr=0.01), np.float32, foreach=False)
    for flags in (dict(fused=True), dict(foreach=True)):
        got, _ = _run_tracer("Adam", dict(lr=0.01), np.float32, **flags)
        assert all(np.array_equal(a, b) for a, b in zip(got, ref))


def test_a_state_dict_moves_between_the_kernel_and_the_reference():
    params = [tracer.tensor(a, requires_grad=True) for a in _initial(np.float32)]
    grads = _grads(np.float32)
    opt = optim.Adam(params, lr=0.01, amsgrad=True)
    for step in grads[:10]:
        for p, g in zip(params, step):
            p.grad = tracer.tensor(g)
        opt.step()
    saved = opt.state_dict()
    twin_params = [tracer.tensor(p.detach().numpy(), requires_grad=True) for p in params]
    twin = optim.Adam(twin_params, lr=0.01, amsgrad=True, foreach=False)
    twin.load_state_dict(saved)
    twin.param_groups[0]["foreach"] = False
    for step in grads[10:]:
        for p, q, g in zip(params, twin_params, step):
            p.grad, q.grad = tracer.tensor(g), tracer.tensor(g)
        opt.step()
        twin.step()
    assert all(
        np.array_equal(p.detach().numpy(), q.detach().numpy()) for p, q in zip(params, twin_params)
    )


def test_params_that_do_not_fit_a_kernel_take_the_reference():
    # a non-contiguous parameter (a transposed view) and a float64 one in a float32 group
    base = tracer.tensor(_initial(np.float32)[0].T.copy().T, requires_grad=True)
    ref_base = tracer.tensor(base.detach().numpy().copy(), requires_grad=True)
    wide = tracer.tensor(_initial(np.float64)[1], requires_grad=True)
    ref_wide = tracer.tensor(wide.detach().numpy().copy(), requires_grad=True)
    opt = optim.Adam([base, wide], lr=0.01)
    ref = optim.Adam([ref_base, ref_wide], lr=0.01, foreach=False)
    for grads in _grads(np.float32)[:5]:
        base.grad, ref_base.grad = tracer.tensor(grads[0]), tracer.tensor(grads[0])
        g = grads[1].astype(np.float64)
        wide.grad, ref_wide.grad = tracer.tensor(g), tracer.tensor(g)
        opt.step()
        ref.step()
    assert (
        np.array_equal(base.detach().numpy(), ref_base.detach().numpy()),
        np.array_equal(wide.detach().numpy(), ref_wide.detach().numpy()),
    ) == (True, True)


def test_the_step_advances_version_counters_as_the_reference():
    p = tracer.tensor(_initial(np.float32)[0], requires_grad=True)
    opt = optim.Adam([p], lr=0.01)
    p.grad = tracer.ones(*SHAPES[0])
    before = p._version[0]
    opt.step()
    assert p._version[0] > before
