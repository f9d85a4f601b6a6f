"""BCELoss and BCEWithLogitsLoss (and their functionals) against PyTorch: values,
gradients of input and target, node names, weights, reductions, edge probabilities."""

from __future__ import annotations

import numpy as np
import pytest

import tracer

CASES = [  # (loss class, input values, target values)
    ("BCELoss", [0.2, 0.9, 0.5, 0.01], [0.0, 1.0, 0.3, 1.0]),
    ("BCELoss", [0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]),  # logs clamped at -100
    ("BCEWithLogitsLoss", [-3.0, 0.5, 40.0, -40.0], [0.0, 1.0, 0.2, 1.0]),
]


@pytest.mark.parametrize("cls, x, t", CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_losses_match_pytorch(cls, x, t, reduction, weighted):
    torch = pytest.importorskip("torch")
    w = [1.0, 2.0, 0.5, 3.0] if weighted else None

    def run(lib):
        xi = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        ti = lib.tensor(t, dtype=lib.float64, requires_grad=True)
        weight = None if w is None else lib.tensor(w, dtype=lib.float64)
        loss = getattr(lib.nn, cls)(weight=weight, reduction=reduction)(xi, ti)
        loss.backward(lib.ones_like(loss))
        return loss.detach().numpy(), xi.grad.numpy(), ti.grad.numpy(), type(loss.grad_fn)

    got, want = run(tracer), run(torch)
    # at x = 0 or 1 PyTorch's target gradient is log(1-x) - log(x) = +-inf; ours is the
    # derivative of the loss as computed (logs clamped at -100): +-100 (docs/semantics.md)
    edge = ~np.isfinite(want[2])
    scale = 1.0 if reduction != "mean" else 1 / len(x)
    expected_edge = np.sign(want[2][edge]) * 100 * scale * (np.array(w)[edge] if w else 1)
    np.testing.assert_allclose(got[2][edge], expected_edge, rtol=1e-12)
    want = (want[0], want[1], np.where(edge, got[2], want[2]), want[3])
    for g, e in zip(got[:3], want[:3]):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
    assert got[3].__name__ == want[3].__name__


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: tracer.nn.BCELoss()(tracer.tensor([1.5]), tracer.tensor([1.0])), RuntimeError),
        (lambda: tracer.nn.BCELoss()(tracer.rand(3), tracer.rand(3, 1)), ValueError),
    ],
)
def test_bce_refuses_what_it_cannot_take(call, error):
    with pytest.raises(error):
        call()


def test_bce_with_logits_pos_weight_matches_pytorch():
    torch = pytest.importorskip("torch")
    x, t, pw = (
        [[0.3, -1.2, 2.0], [0.0, 4.0, -3.0]],
        [[1.0, 0.0, 1.0], [0.5, 1.0, 0.0]],
        [2.0, 0.5, 3.0],
    )
    ours = tracer.tensor(x, dtype=tracer.float64, requires_grad=True)
    theirs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    lo = tracer.nn.BCEWithLogitsLoss(pos_weight=tracer.tensor(pw, dtype=tracer.float64))
    lt = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw, dtype=torch.float64))
    a = lo(ours, tracer.tensor(t, dtype=tracer.float64))
    b = lt(theirs, torch.tensor(t, dtype=torch.float64))
    a.backward()
    b.backward()
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
