"""A whole training step, written the PyTorch way, traced into one function.

`opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); opt.step()` under
@tracer.trace stages forward, backward and the optimizer update into one graph; the
parameters, their .grad and the optimizer's state are updated after each call. The
oracle is the same step run eagerly on a copy of the model: over 20 steps the losses,
parameters and optimizer state must agree to float32 rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

import tracer
import tracer.nn as nn
import tracer.nn.functional as F

pytestmark = pytest.mark.filterwarnings("ignore::tracer.TracerWarning")

TOL = dict(rtol=2e-5, atol=2e-6)

OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.1, maximize=True)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=1e-2)),
    ("AdamW", dict(lr=1e-2)),
    ("Adamax", dict(lr=1e-2)),
    ("NAdam", dict(lr=1e-2)),
    ("RAdam", dict(lr=1e-2)),  # the first five steps take the unrectified branch
    ("RMSprop", dict(lr=1e-2, centered=True, momentum=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=1e-2)),
    ("Adadelta", dict(lr=1.0)),
]


def _model(seed=0, batch_norm=False):
    tracer.manual_seed(seed)
    layers = [nn.Linear(4, 8)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(8))
    layers += [nn.Tanh(), nn.Linear(8, 3)]
    return nn.Sequential(*layers)


def _data(n=20, seed=1):
    rng = np.random.default_rng(seed)
    return [
        (
            tracer.tensor(rng.normal(size=(6, 4)).astype(np.float32)),
            tracer.tensor(rng.integers(0, 3, size=6)),
        )
        for _ in range(n)
    ]


def step(model, opt, x, y):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def _assert_same_state(m_eager, o_eager, m_traced, o_traced):
    for (name, a), b in zip(m_eager.state_dict().items(), m_traced.state_dict().values()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), err_msg=name, **TOL)
    for pa, pb in zip(m_eager.parameters(), m_traced.parameters()):
        np.testing.assert_allclose(pb.grad.numpy(), pa.grad.numpy(), **TOL)
        sa, sb = o_eager.state[pa], o_traced.state[pb]
        assert sorted(sa) == sorted(sb)
        for k in sa:
            np.testing.assert_allclose(np.asarray(sb[k]), np.asarray(sa[k]), err_msg=k, **TOL)


def _run_both(make_opt, steps=20, batch_norm=False, check_every=True):
    m_eager, m_traced = _model(batch_norm=batch_norm), _model(batch_norm=batch_norm)
    o_eager, o_traced = make_opt(m_eager), make_opt(m_traced)
    traced = tracer.trace(lambda x, y: step(m_traced, o_traced, x, y))
    for x, y in _data(steps):
        want = step(m_eager, o_eager, x, y)
        got = traced(x, y)
        np.testing.assert_allclose(got.item(), want.item(), **TOL)
        if check_every:
            _assert_same_state(m_eager, o_eager, m_traced, o_traced)
    _assert_same_state(m_eager, o_eager, m_traced, o_traced)
    return traced


@pytest.mark.parametrize(
    "name,options", OPTIMIZERS, ids=[f"{n}-{'-'.join(o)}" for n, o in OPTIMIZERS]
)
def test_a_traced_step_equals_the_eager_loop_for_every_optimizer(name, options, monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")  # the compiled kernels: the test below
    traced = _run_both(lambda m: getattr(tracer.optim, name)(m.parameters(), **options))
    # zero_grad() sets .grad without reading it, so only SGD's momentum traces again,
    # once, after the call that made its buffers
    made_buffers = name == "SGD" and options.get("momentum")
    assert traced.cache_info().misses == (2 if made_buffers else 1)


def test_compiled_steps_equal_the_eager_loop():
    # one compile per model and optimizer: Adam on a model with BatchNorm (whose running
    # statistics the step also updates), SGD with momentum on one without
    _run_both(lambda m: tracer.optim.Adam(m.parameters(), lr=1e-2), batch_norm=True)
    _run_both(lambda m: tracer.optim.SGD(m.parameters(), lr=0.05, momentum=0.9), steps=8)


def test_a_learning_rate_schedule_applies_without_tracing_again(monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    m_eager, m_traced = _model(), _model()
    o_eager = tracer.optim.Adam(m_eager.parameters(), lr=0.05)
    o_traced = tracer.optim.Adam(m_traced.parameters(), lr=0.05)
    s_eager = tracer.optim.lr_scheduler.StepLR(o_eager, step_size=2, gamma=0.5)
    s_traced = tracer.optim.lr_scheduler.StepLR(o_traced, step_size=2, gamma=0.5)
    traced = tracer.trace(lambda x, y: step(m_traced, o_traced, x, y))
    for x, y in _data(8):
        np.testing.assert_allclose(traced(x, y).item(), step(m_eager, o_eager, x, y).item(), **TOL)
        s_eager.step(), s_traced.step()
    _assert_same_state(m_eager, o_eager, m_traced, o_traced)
    assert traced.cache_info().misses == 1


def test_loading_optimizer_state_traces_again_and_uses_the_loaded_tensors(monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    m_eager, m_traced = _model(), _model()
    o_eager = tracer.optim.Adam(m_eager.parameters(), lr=0.05)
    o_traced = tracer.optim.Adam(m_traced.parameters(), lr=0.05)
    traced = tracer.trace(lambda x, y: step(m_traced, o_traced, x, y))
    data = _data(6)
    for x, y in data[:3]:
        step(m_eager, o_eager, x, y), traced(x, y)
    saved = o_eager.state_dict()
    o_eager.load_state_dict(saved)
    o_traced.load_state_dict(saved)  # new state tensors: the old graph must not be reused
    for x, y in data[3:]:
        np.testing.assert_allclose(traced(x, y).item(), step(m_eager, o_eager, x, y).item(), **TOL)
    _assert_same_state(m_eager, o_eager, m_traced, o_traced)
    assert "optimizer" in traced.explain()


def test_gradients_accumulate_across_calls_without_zero_grad(monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    m_eager, m_traced = _model(), _model()

    def accumulate(model, x, y):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    traced = tracer.trace(lambda x, y: accumulate(m_traced, x, y))
    for x, y in _data(3):
        accumulate(m_eager, x, y), traced(x, y)
        for a, b in zip(m_eager.parameters(), m_traced.parameters()):
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), **TOL)


def test_two_steps_in_one_call_differentiate_the_updated_parameters(monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    m_eager, m_traced = _model(), _model()
    o_eager = tracer.optim.SGD(m_eager.parameters(), lr=0.1)
    o_traced = tracer.optim.SGD(m_traced.parameters(), lr=0.1)

    def two_steps(model, opt, x, y):
        first = step(model, opt, x, y)
        return first, step(model, opt, x * 2, y)  # the gradient at the updated weights

    traced = tracer.trace(lambda x, y: two_steps(m_traced, o_traced, x, y))
    for x, y in _data(3):
        want, got = two_steps(m_eager, o_eager, x, y), traced(x, y)
        np.testing.assert_allclose([g.item() for g in got], [w.item() for w in want], **TOL)
    _assert_same_state(m_eager, o_eager, m_traced, o_traced)


def test_zero_grad_to_zeros_keeps_the_grad_tensors(monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    m_eager, m_traced = _model(), _model()
    o_eager = tracer.optim.SGD(m_eager.parameters(), lr=0.1)
    o_traced = tracer.optim.SGD(m_traced.parameters(), lr=0.1)

    def keep_grads(model, opt, x, y):
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    data = _data(4)
    keep_grads(m_eager, o_eager, *data[0]), keep_grads(m_traced, o_traced, *data[0])
    grads = [p.grad for p in m_traced.parameters()]
    traced = tracer.trace(lambda x, y: keep_grads(m_traced, o_traced, x, y))
    for x, y in data[1:]:
        keep_grads(m_eager, o_eager, x, y), traced(x, y)
    assert all(p.grad is g for p, g in zip(m_traced.parameters(), grads))  # the same tensors
    _assert_same_state(m_eager, o_eager, m_traced, o_traced)
    assert traced.cache_info().misses == 1


def test_backward_of_a_non_scalar_needs_a_gradient_as_eagerly():
    model = _model()
    f = tracer.trace(lambda x: model(x).backward())
    with pytest.raises(tracer.AutogradError, match="implicitly created only for scalar"):
        f(tracer.ones(2, 4))
    assert all(p.grad is None for p in model.parameters())


def test_backward_inside_a_loop_body_says_where_it_can_go():
    model = _model()

    def f(x):
        def body(i, c):
            model(c).sum().backward()
            return c

        return tracer.fori_loop(0, 2, body, x)

    with pytest.raises(tracer.TraceError, match="backward\\(\\) inside a loop body"):
        tracer.trace(f)(tracer.ones(2, 4))


def test_a_cnn_with_batch_norm_trains_in_one_traced_step(monkeypatch):
    # issue 15: conv, BatchNorm2d (running statistics), pooling and a linear head, with
    # forward, backward and the optimizer update in one graph
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")

    def cnn():
        tracer.manual_seed(3)
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(4 * 4 * 4, 3),
        )

    m_eager, m_traced = cnn(), cnn()
    o_eager = tracer.optim.SGD(m_eager.parameters(), lr=0.05, momentum=0.9)
    o_traced = tracer.optim.SGD(m_traced.parameters(), lr=0.05, momentum=0.9)
    traced = tracer.trace(lambda x, y: step(m_traced, o_traced, x, y))
    rng = np.random.default_rng(4)
    for _ in range(5):
        x = tracer.tensor(rng.normal(size=(5, 1, 8, 8)).astype(np.float32))
        y = tracer.tensor(rng.integers(0, 3, size=5))
        np.testing.assert_allclose(traced(x, y).item(), step(m_eager, o_eager, x, y).item(), **TOL)
    _assert_same_state(m_eager, o_eager, m_traced, o_traced)  # running stats included


def test_the_functional_style_updates_the_parameters_passed_in(monkeypatch):
    # value_and_grad inside the traced step, then an SGD update of the arguments in place
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")

    def loss_fn(params, x, y):
        return F.cross_entropy(F.relu(x @ params["w1"]) @ params["w2"], y)

    def sgd_step(params, x, y):
        loss, grads = tracer.value_and_grad(loss_fn)(params, x, y)
        with tracer.no_grad():
            for k in params:
                params[k].sub_(0.1 * grads[k])
        return loss

    rng = np.random.default_rng(6)
    start = {"w1": rng.normal(size=(4, 8)), "w2": rng.normal(size=(8, 3))}
    eager = {k: tracer.tensor(v.astype(np.float32)) for k, v in start.items()}
    traced_params = {k: tracer.tensor(v.astype(np.float32)) for k, v in start.items()}
    traced = tracer.trace(sgd_step)
    for x, y in _data(5):
        want, got = sgd_step(eager, x, y), traced(traced_params, x, y)
        np.testing.assert_allclose(got.item(), want.item(), **TOL)
        for k in eager:
            np.testing.assert_allclose(traced_params[k].numpy(), eager[k].numpy(), **TOL)
    assert traced.cache_info().misses == 1
