"""BatchNorm's running statistics against PyTorch: several training calls (momentum and
the cumulative average), eval mode afterwards, eagerly and inside a traced function
(whose compiled code updates the buffers at every call)."""

from __future__ import annotations

import numpy as np
import pytest
from torch_compare import assert_same, copy_weights

import tracer
import tracer.nn as tnn

torch = pytest.importorskip("torch")

TOL = dict(rtol=2e-5, atol=2e-6)


def _batches(shape, n=3):
    rng = np.random.default_rng(5)
    return [(rng.normal(size=shape) * (k + 1) + k).astype("float32") for k in range(n)]


def _pair(build):
    theirs = build(torch.nn)
    ours = build(tnn)
    copy_weights(theirs, ours)
    return theirs, ours


def _assert_buffers(ours, theirs):
    for name, buf in theirs.named_buffers():
        assert_same(dict(ours.named_buffers())[name], buf, **TOL)


@pytest.mark.parametrize(
    "build,shape",
    [
        (lambda nn: nn.BatchNorm2d(3), (4, 3, 2, 2)),
        (lambda nn: nn.BatchNorm1d(2, momentum=None), (5, 2)),  # cumulative average
        (lambda nn: nn.BatchNorm1d(2, momentum=0.5, affine=False), (3, 2, 4)),
    ],
    ids=["momentum", "cumulative", "no_affine"],
)
def test_running_statistics_follow_torch_over_training_calls_then_eval(build, shape):
    theirs, ours = _pair(build)
    for x in _batches(shape):
        assert_same(ours(tracer.tensor(x)), theirs(torch.tensor(x)), **TOL)
        _assert_buffers(ours, theirs)
    theirs.eval(), ours.eval()
    staged = tracer.trace(lambda x: ours(x))
    for x in _batches(shape):
        expected = theirs(torch.tensor(x))
        assert_same(ours(tracer.tensor(x)), expected, **TOL)
        assert_same(staged(tracer.tensor(x)), expected, **TOL)


def test_traced_eval_reads_running_statistics_updated_eagerly_since_tracing():
    theirs, ours = _pair(lambda nn: nn.BatchNorm1d(2))
    x0, x1, x2 = map(tracer.tensor, _batches((4, 2)))
    ours.eval()
    staged = tracer.trace(lambda x: ours(x))
    staged(x0)
    ours.train(), theirs.train()
    ours(x1), theirs(torch.tensor(x1.numpy()))  # an eager training step moves the buffers
    ours.eval(), theirs.eval()
    assert_same(staged(x2), theirs(torch.tensor(x2.numpy())), **TOL)


@pytest.mark.parametrize(
    "build,shape",
    [
        (lambda nn: nn.BatchNorm2d(3), (4, 3, 2, 2)),
        (lambda nn: nn.BatchNorm1d(2, momentum=None), (5, 2)),  # cumulative average
        (lambda nn: nn.InstanceNorm1d(2, track_running_stats=True), (3, 2, 4)),
    ],
    ids=["momentum", "cumulative", "instance_norm"],
)
@pytest.mark.parametrize("how", ["trace", "value_and_grad"])
def test_training_mode_inside_a_trace_updates_the_buffers_at_every_call(build, shape, how):
    theirs, ours = _pair(build)
    if how == "trace":
        staged = tracer.trace(lambda x: ours(x))
    else:
        staged = tracer.value_and_grad(lambda x: (ours(x) ** 2).sum())
    for x in _batches(shape, n=4):
        expected = theirs(torch.tensor(x))
        got = staged(tracer.tensor(x))
        if how == "trace":
            assert_same(got, expected, **TOL)
        _assert_buffers(ours, theirs)  # num_batches_tracked included
    assert staged.cache_info().misses == 1


def test_train_after_tracing_in_eval_mode_does_not_reuse_the_eval_graph():
    theirs, ours = _pair(lambda nn: nn.BatchNorm1d(2))
    ours.eval(), theirs.eval()
    staged = tracer.trace(lambda x: ours(x))
    x = _batches((4, 2))[0]
    staged(tracer.tensor(x))
    ours.train(), theirs.train()
    assert_same(staged(tracer.tensor(x)), theirs(torch.tensor(x)), **TOL)  # traced again
    _assert_buffers(ours, theirs)
    ours.eval(), theirs.eval()
    assert_same(staged(tracer.tensor(x)), theirs(torch.tensor(x)), **TOL)
