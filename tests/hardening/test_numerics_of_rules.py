"""Right answers where a formula can go wrong (issue: silent wrong answers).

Kind 1, cancellation against a rounded reduction: softmax-family forwards and
gradients work from max-shifted values, so huge logits (1e8 in float32, 1e30 in
float64) give log(2), not 0, and the gradient of logsumexp is the softmax of its
input (PyTorch's exp(x - result) gives [1, 1] for [1e8, 1e8]).

Kind 2, masking by multiplication: where a rule selects (clamp, relu, max/min,
amax, max along a dim, the ignored targets of nll_loss), an input the output does
not depend on gets gradient 0 whatever flows in: an inf cotangent times a 0/1
mask would be nan (PyTorch's amax gives nan there).

Kind 6, PyTorch's conventions: an empty list of dims reduces over all of them; a
mean over no elements is nan (mse_loss and nll_loss included).

Every case runs eagerly, traced on the interpreter and compiled; expected values
are analytic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tracer
import tracer.nn.functional as F

MODES = ["eager", "interpreted", pytest.param("compiled", marks=pytest.mark.jit)]


def run(mode: str, fn: Callable[..., Any], *args: Any, monkeypatch: Any) -> tuple[Any, Any]:
    """(value, gradient w.r.t. the first argument) of scalar fn, in `mode`."""
    if mode == "eager":
        x = args[0].detach().requires_grad_()
        y = fn(x, *args[1:])
        y.backward()
        return y.detach().numpy(), x.grad.numpy()
    if mode == "interpreted":
        monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    else:
        monkeypatch.delenv("TRACER_DISABLE_JIT", raising=False)
    value, grad = tracer.value_and_grad(fn)(*args)
    return value.numpy(), grad.numpy()


LN2 = math.log(2.0)
E1 = math.log1p(math.exp(-1.0))

CASES: list[tuple[str, Callable[..., Any], tuple[Any, ...], Any, Any]] = [
    # name, fn, args, value, gradient
    (
        "cross_entropy_1e8_f32",
        lambda x, y: F.cross_entropy(x, y),
        (tracer.tensor([[1e8, 1e8]]), tracer.tensor([1])),
        LN2,
        [[0.5, -0.5]],
    ),
    (
        "cross_entropy_1e30_f64",
        lambda x, y: F.cross_entropy(x, y),
        (tracer.tensor([[1e30, 1e30]], dtype=tracer.float64), tracer.tensor([0])),
        LN2,
        [[-0.5, 0.5]],
    ),
    (
        "cross_entropy_sum_rows_1e8",
        lambda x, y: F.cross_entropy(x, y, reduction="sum"),
        (tracer.tensor([[1e8, 1e8], [-1e8, -1e8]]), tracer.tensor([0, 1])),
        2 * LN2,
        [[-0.5, 0.5], [0.5, -0.5]],
    ),
    (
        "log_softmax_1e4_f32",
        lambda x: (F.log_softmax(x, 0) * tracer.tensor([1.0, 0.0])).sum(),
        (tracer.tensor([1e4, 1e4 - 1]),),
        -E1,
        [1 - 1 / (1 + math.exp(-1)), -math.exp(-1) / (1 + math.exp(-1))],
    ),
    (
        "logsumexp_gradient_1e8",
        lambda x: x.logsumexp(0),
        (tracer.tensor([1e8, 1e8]),),
        1e8,
        [0.5, 0.5],
    ),
    (
        "logsumexp_gradient_1e30_f64",
        lambda x: x.logsumexp(0) - 1e30,
        (tracer.tensor([1e30, 1e30], dtype=tracer.float64),),
        0.0,
        [0.5, 0.5],
    ),
    (
        "softmax_1e8",
        lambda x: (F.softmax(x, 0) * tracer.tensor([1.0, 0.0])).sum(),
        (tracer.tensor([1e8, 1e8]),),
        0.5,
        [0.25, -0.25],
    ),
    (
        "clamp_then_sqrt",
        lambda x: x.clamp(min=0.0).sqrt().sum(),
        (tracer.tensor([-1.0, 4.0]),),
        2.0,
        [0.0, 0.25],
    ),
    (
        "clamp_max_then_sqrt",
        lambda x: (-x.clamp(max=0.0)).sqrt().sum(),
        (tracer.tensor([1.0, -4.0]),),
        2.0,
        [0.0, -0.25],
    ),
    (
        "relu_then_sqrt",
        lambda x: x.relu().sqrt().sum(),
        (tracer.tensor([-1.0, 4.0]),),
        2.0,
        [0.0, 0.25],
    ),
    (
        "maximum_then_sqrt",
        lambda x: tracer.maximum(x, tracer.zeros(2)).sqrt().sum(),
        (tracer.tensor([-1.0, 4.0]),),
        2.0,
        [0.0, 0.25],
    ),
    (
        "minimum_then_sqrt",
        lambda x: (-tracer.minimum(x, tracer.zeros(2))).sqrt().sum(),
        (tracer.tensor([1.0, -4.0]),),
        2.0,
        [0.0, -0.25],
    ),
    (
        "amax_then_sqrt",
        lambda x: x.amax(1).sqrt().sum(),
        (tracer.tensor([[0.0, -1.0]]),),
        0.0,
        [[math.inf, 0.0]],
    ),
    (
        "max_dim_then_sqrt",
        lambda x: x.max(1).values.sqrt().sum(),
        (tracer.tensor([[0.0, -1.0]]),),
        0.0,
        [[math.inf, 0.0]],
    ),
    (
        "where_then_sqrt",
        lambda x: tracer.where(x > 0, x, tracer.zeros(2)).sqrt().sum(),
        (tracer.tensor([-1.0, 4.0]),),
        2.0,
        [0.0, 0.25],
    ),
    (
        "cross_entropy_all_ignored",
        lambda x, y: F.cross_entropy(x, y),
        (tracer.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), tracer.tensor([-100, -100])),
        math.nan,
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
    ),
    (
        "nll_loss_all_ignored_sum",
        lambda x, y: F.nll_loss(x, y, reduction="sum"),
        (tracer.tensor([[1.0, 2.0]]), tracer.tensor([-100])),
        0.0,
        [[0.0, 0.0]],
    ),
    (
        "cross_entropy_some_ignored",
        lambda x, y: F.cross_entropy(x, y, ignore_index=2),
        (tracer.tensor([[0.0, 0.0, 0.0], [5.0, 5.0, 5.0]]), tracer.tensor([2, 0])),
        math.log(3.0),
        [[0.0, 0.0, 0.0], [-2 / 3, 1 / 3, 1 / 3]],
    ),
    (
        "mean_over_empty_dim_list",
        lambda x: x.mean(dim=[]),
        (tracer.tensor([1.0, 2.0, 6.0]),),
        3.0,
        [1 / 3] * 3,
    ),
    (
        "sum_over_empty_dim_list",
        lambda x: x.sum(dim=[]) * 1.0,
        (tracer.tensor([[1.0], [2.0]]),),
        3.0,
        [[1.0], [1.0]],
    ),
    (
        "amax_over_empty_dim_tuple",
        lambda x: x.amax(dim=()),
        (tracer.tensor([1.0, 5.0]),),
        5.0,
        [0.0, 1.0],
    ),
    (
        "mse_loss_empty",
        lambda x, y: F.mse_loss(x, y),
        (tracer.zeros(0), tracer.zeros(0)),
        math.nan,
        np.zeros(0),
    ),
    (
        "mse_loss_empty_sum",
        lambda x, y: F.mse_loss(x, y, reduction="sum"),
        (tracer.zeros(0), tracer.zeros(0)),
        0.0,
        np.zeros(0),
    ),
    (
        "cross_entropy_empty_batch",
        lambda x, y: F.cross_entropy(x, y),
        (tracer.zeros(0, 3), tracer.zeros(0, dtype=tracer.int64)),
        math.nan,
        np.zeros((0, 3)),
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,fn,args,value,grad", CASES, ids=[c[0] for c in CASES])
def test_value_and_gradient_are_right(mode, name, fn, args, value, grad, monkeypatch):
    got_value, got_grad = run(mode, fn, *args, monkeypatch=monkeypatch)
    dtype = args[0].dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got_value, value, rtol=rtol, err_msg="value")
    np.testing.assert_allclose(
        got_grad, np.asarray(grad, dtype), rtol=rtol, atol=1e-7, err_msg="gradient"
    )
    assert got_grad.dtype == dtype


@pytest.mark.parametrize("mode", MODES)
def test_log_softmax_rows_of_huge_logits_sum_to_one(mode, monkeypatch):
    """exp(log_softmax) of rows of size 1e30 (float64) and 1e8 (float32) sums to 1."""
    for x in (
        tracer.tensor([[1e30, 1e30 * (1 - 1e-15), -1e30]], dtype=tracer.float64),
        tracer.tensor([[1e8, 1e8 - 8, 1e8 + 8]]),
    ):
        if mode == "eager":
            out = F.log_softmax(x, 1)
        else:
            monkeypatch.setenv("TRACER_DISABLE_JIT", "1" if mode == "interpreted" else "0")
            out = tracer.trace(lambda t: F.log_softmax(t, 1))(x)
        total = np.exp(out.numpy().astype(np.float64)).sum()
        np.testing.assert_allclose(total, 1.0, rtol=1e-6)
