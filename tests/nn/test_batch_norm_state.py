"""BatchNorm's running statistics against PyTorch: several training calls (momentum and
the cumulative average), eval mode afterwards, eagerly and inside a traced function,
and the training-mode update refused inside a trace before any buffer changes."""

from __future__ import annotations

import numpy as np
import pytest
from torch_compare import assert_same, copy_weights, np_

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


def test_training_mode_inside_a_trace_is_refused_at_the_users_line_before_any_update():
    _, ours = _pair(lambda nn: nn.BatchNorm2d(3))
    before = {k: np_(v).copy() for k, v in ours.state_dict().items()}
    staged = tracer.trace(lambda x: ours(x))
    with pytest.raises(tracer.TraceError, match="batch_norm in training mode") as info:
        staged(tracer.tensor(_batches((4, 3, 2, 2))[0]))
    assert "test_batch_norm_state.py" in str(info.value)
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(np_(v), before[k])  # num_batches_tracked included


def test_train_after_tracing_in_eval_mode_does_not_reuse_the_eval_graph():
    _, ours = _pair(lambda nn: nn.BatchNorm1d(2))
    ours.eval()
    staged = tracer.trace(lambda x: ours(x))
    x = tracer.tensor(_batches((4, 2))[0])
    staged(x)
    ours.train()
    with pytest.raises(tracer.TraceError, match="batch_norm in training mode"):
        staged(x)  # traced again, in training mode: refused (not the eval-mode result)
    ours.eval()
    assert_same(staged(x), ours(x), **TOL)
