"""Layer behaviour that needs no PyTorch: Dropout's mask (train/eval, p = 0 and 1, the
gradient is the mask), Embedding's padding row and max_norm, LayerNorm's statistics,
Linear's formula, activation and loss module options, and traced use of modules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tracer
import tracer.nn as nn
import tracer.nn.functional as F
from tracer.nn.modules.loss import REDUCTION


def np_(t):
    return t.detach().numpy()


# ---- Dropout ------------------------------------------------------------------------


def test_every_functional_name_is_a_function_not_a_submodule():
    # a family module named like a function (functional/dropout.py) hid F.dropout
    for name in F.__all__:
        assert callable(getattr(F, name)), f"F.{name} is {getattr(F, name)!r}"


def test_dropout_in_eval_mode_returns_the_input_itself():
    x = tracer.ones(5)
    assert nn.Dropout(0.5).eval()(x) is x


def test_dropout_with_p_zero_returns_the_input_itself():
    x = tracer.ones(5, requires_grad=True)
    assert nn.Dropout(0.0)(x) is x


def test_dropout_with_p_one_zeroes_everything_and_its_gradient():
    x = tracer.ones(4, requires_grad=True)
    y = nn.Dropout(1.0)(x)
    y.sum().backward()
    assert not np_(y).any() and not np_(x.grad).any()
    assert y.grad_fn.name() == "MulBackward0"


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_or_scales_and_the_gradient_is_the_mask(p):
    tracer.manual_seed(0)
    x = tracer.rand(N := 100_000) + 1.0
    x.requires_grad_()
    y = F.dropout(x, p)
    y.backward(tracer.ones_like(y))
    out, grad, xs = np_(y), np_(x.grad), np_(x)
    kept = out != 0
    np.testing.assert_allclose(out[kept], xs[kept] / np.float32(1 - p), rtol=1e-6)
    # d out / d x is the saved mask: 1 / (1 - p) where kept, 0 where dropped
    np.testing.assert_allclose(grad, np.where(kept, 1 / np.float32(1 - p), 0), rtol=1e-6)
    dropped = 1 - kept.mean()
    assert abs(dropped - p) < 6 * math.sqrt(p * (1 - p) / N)


def test_dropout_is_reproducible_under_manual_seed():
    masks = []
    for _ in range(2):
        tracer.manual_seed(7)
        masks.append(np_(nn.Dropout()(tracer.ones(50))))
    np.testing.assert_array_equal(*masks)


def test_dropout_in_place_writes_into_its_input():
    tracer.manual_seed(1)
    x = tracer.ones(20)
    y = nn.Dropout(0.5, inplace=True)(x)
    assert y is x and set(np_(x).tolist()) <= {0.0, 2.0}


@pytest.mark.parametrize("p", [-0.1, 1.5, True])
def test_dropout_probability_must_lie_in_zero_one(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.dropout(tracer.ones(2), p)


def test_dropout_inside_a_trace_masks_in_training_and_is_the_identity_after_eval():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    f = tracer.trace(lambda x: model(x))
    x = tracer.ones(200, 2)
    dense = np_(model[0](x))
    out = np_(f(x))
    kept = out != 0
    assert 0.3 < kept.mean() < 0.7  # a mask of p = 0.5 was drawn
    np.testing.assert_allclose(out[kept], 2 * dense[kept], rtol=1e-6)
    model.eval()
    np.testing.assert_allclose(np_(f(x)), dense, rtol=1e-6)


# ---- Embedding ----------------------------------------------------------------------


def test_embedding_picks_rows():
    e = nn.Embedding(4, 2)
    idx = tracer.tensor([[3, 0], [1, 1]])
    np.testing.assert_array_equal(np_(e(idx)), np_(e.weight)[[[3, 0], [1, 1]]])
    assert e(idx).grad_fn.name() == "EmbeddingBackward0"


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    e = nn.Embedding(5, 3, padding_idx=2)
    assert not np_(e.weight)[2].any()
    with tracer.no_grad():
        e.weight[2] = 1.0  # even a non-zero padding row gets no gradient
    out = e(tracer.tensor([2, 2, 4, 0]))
    np.testing.assert_array_equal(np_(out)[0], [1.0, 1.0, 1.0])
    out.sum().backward()
    expected = np.zeros((5, 3))
    expected[[4, 0]] = 1.0
    np.testing.assert_array_equal(np_(e.weight.grad), expected)


def test_embedding_max_norm_renormalises_the_rows_it_looks_up():
    weight = tracer.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    e = nn.Embedding.from_pretrained(weight, freeze=False, max_norm=1.0)
    e(tracer.tensor([0, 1]))
    w = np_(e.weight)
    np.testing.assert_allclose(w[0], np.array([3.0, 4.0]) / (5 + 1e-7), rtol=1e-6)
    np.testing.assert_array_equal(w[1], np.float32([0.3, 0.4]))  # under the norm
    np.testing.assert_array_equal(w[2], [6.0, 8.0])  # not looked up


def test_from_pretrained_freezes_by_default_and_keeps_the_values():
    weight = tracer.tensor([[1.0, 2.0], [3.0, 4.0]])
    e = nn.Embedding.from_pretrained(weight)
    assert not e.weight.requires_grad
    np.testing.assert_array_equal(np_(e.weight), np_(weight))


@pytest.mark.parametrize(
    "idx,exc,text",
    [
        (tracer.tensor([0.0, 1.0]), TypeError, "expected indices of an integer dtype"),
        (tracer.tensor([0, 4]), IndexError, "index 4 is out of range"),
        (tracer.tensor([-1]), IndexError, "index -1 is out of range"),
    ],
    ids=["float_indices", "too_large", "negative"],
)
def test_embedding_refuses_bad_indices(idx, exc, text):
    with pytest.raises(exc, match=text):
        nn.Embedding(4, 2)(idx)


@pytest.mark.parametrize("option", [dict(sparse=True), dict(scale_grad_by_freq=True)])
def test_embedding_options_that_are_not_supported_say_so(option):
    with pytest.raises(ValueError, match="is not supported by tracer"):
        nn.Embedding(4, 2, **option)


# ---- LayerNorm ----------------------------------------------------------------------


def test_layer_norm_output_has_zero_mean_and_unit_variance():
    x = tracer.tensor(np.random.default_rng(0).normal(3.0, 2.0, size=(4, 64)), dtype=tracer.float64)
    y = np_(nn.LayerNorm(64, eps=0.0, dtype=tracer.float64)(x))
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=1), 1, rtol=1e-12)


def test_layer_norm_gradient_matches_finite_differences():
    ln = nn.LayerNorm(5, dtype=tracer.float64)
    with tracer.no_grad():
        ln.weight.copy_(tracer.tensor([1.0, 2.0, -1.0, 0.5, 3.0]))
        ln.bias.copy_(tracer.tensor([0.1, 0.0, -0.2, 0.3, 0.0]))
    x = tracer.tensor(np.random.default_rng(1).normal(size=(3, 5)), requires_grad=True)
    assert tracer.autograd.gradcheck(lambda t: ln(t), (x,))


def test_layer_norm_refuses_a_mismatched_shape():
    with pytest.raises(ValueError, match=r"expected input with shape \[\*, 4\]"):
        nn.LayerNorm(4)(tracer.ones(2, 3))


# ---- Linear, activations, losses ----------------------------------------------------


def test_linear_is_x_w_transpose_plus_b():
    lin = nn.Linear(3, 2)
    x = tracer.tensor(np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32))
    expected = np_(x) @ np_(lin.weight).T + np_(lin.bias)
    np.testing.assert_allclose(np_(lin(x)), expected, rtol=1e-6)


def test_layers_accept_device_cpu_and_refuse_cuda():
    assert nn.Linear(2, 2, device="cpu").weight.dtype == np.float32
    with pytest.raises(RuntimeError, match="runs on the CPU only"):
        nn.Linear(2, 2, device="cuda")


def test_relu_in_place_records_like_an_in_place_op():
    x = tracer.tensor([-1.0, 2.0], requires_grad=True)
    h = x * 1
    y = nn.ReLU(inplace=True)(h)
    assert y is h
    y.sum().backward()
    np.testing.assert_array_equal(np_(x.grad), [0.0, 1.0])


def test_softmax_without_dim_warns_and_uses_the_legacy_dim():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = nn.Softmax()(tracer.ones(2, 4))
    np.testing.assert_allclose(np_(y), np.full((2, 4), 0.25))


def test_new_activation_modules_are_one_line():
    Softplusish = nn.activation_module(
        "Softplusish", lambda input, beta=1.0: (input * beta).exp().log1p() / beta, beta=1.0
    )
    m = Softplusish(2.0)
    assert repr(m) == "Softplusish(beta=2.0)"
    np.testing.assert_allclose(np_(m(tracer.tensor([0.0]))), [math.log(2) / 2], rtol=1e-6)


def test_new_loss_modules_are_one_line():
    def l1_loss(input, target, reduction="mean"):
        d = (input - target).abs()
        return d.mean() if reduction == "mean" else d.sum() if reduction == "sum" else d

    L1Loss = nn.loss_module("L1Loss", l1_loss, *REDUCTION)
    assert repr(L1Loss()) == "L1Loss()"
    assert L1Loss(reduction="sum")(tracer.tensor([1.0, -2.0]), tracer.zeros(2)).item() == 3.0


@pytest.mark.parametrize(
    "module, functional",
    [
        (
            lambda w: nn.CrossEntropyLoss(weight=w),
            lambda x, y, w: F.cross_entropy(x, y, weight=w),
        ),
        (
            lambda w: nn.CrossEntropyLoss(label_smoothing=0.1),
            lambda x, y, w: F.cross_entropy(x, y, label_smoothing=0.1),
        ),
        (lambda w: nn.NLLLoss(w), lambda x, y, w: F.nll_loss(x, y, w)),
    ],
    ids=["weight", "label_smoothing", "nll_weight_positional"],
)
def test_loss_module_options_reach_the_functional(module, functional):
    x = tracer.tensor([[0.2, -1.0, 0.5], [1.5, 0.3, -0.2]])
    y, w = tracer.tensor([2, 0]), tracer.tensor([0.5, 1.0, 2.0])
    assert module(w)(x, y).item() == functional(x, y, w).item()


def test_loss_module_weight_slot_is_a_buffer():
    loss = nn.CrossEntropyLoss()
    assert "weight" in loss._buffers and loss.weight is None


# ---- modules inside traced functions -----------------------------------------------


def test_a_module_inside_a_traced_function_gives_the_eager_values_and_gradients():
    tracer.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.LayerNorm(4), nn.Linear(4, 1))
    x = tracer.tensor(np.random.default_rng(3).normal(size=(5, 3)).astype(np.float32))
    eager = model(x).sum()
    eager.backward()
    expected = {n: np_(p.grad).copy() for n, p in model.named_parameters()}
    model.zero_grad()
    traced = tracer.trace(lambda t: model(t).sum())(x)
    traced.backward()
    np.testing.assert_allclose(np_(traced), np_(eager), rtol=1e-5)
    for n, p in model.named_parameters():
        np.testing.assert_allclose(np_(p.grad), expected[n], rtol=1e-4, atol=1e-6)
