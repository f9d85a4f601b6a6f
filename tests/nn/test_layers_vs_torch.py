"""Every layer, activation and loss module against PyTorch: the same module built in
both libraries, PyTorch's (randomised) weights copied into ours, the same inputs and
output cotangent; outputs, grad_fn names, and the gradients of inputs and parameters
must agree to float32 rounding (float64 cases to 1e-12).

PyTorch is optional: without it this module is skipped.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from torch_compare import assert_same, copy_weights, np_

import tracer
import tracer.nn as tnn

torch = pytest.importorskip("torch")

TOL = {
    np.dtype("float32"): dict(rtol=2e-5, atol=2e-6),
    np.dtype("float64"): dict(rtol=1e-12, atol=1e-12),
}


def floats(*shape, dtype="float32", seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def ints(high, *shape, seed=1):
    return np.random.default_rng(seed).integers(0, high, size=shape)


# (id, build(nn, lib) -> module, inputs as numpy arrays)
LAYERS = [
    ("linear", lambda nn, lib: nn.Linear(3, 4), [floats(5, 3)]),
    ("linear_3d_input", lambda nn, lib: nn.Linear(3, 4), [floats(2, 5, 3)]),
    ("linear_1d_input", lambda nn, lib: nn.Linear(3, 4), [floats(3)]),
    ("linear_no_bias", lambda nn, lib: nn.Linear(3, 4, bias=False), [floats(5, 3)]),
    (
        "linear_float64",
        lambda nn, lib: nn.Linear(3, 2, dtype=lib.float64),
        [floats(4, 3, dtype="float64")],
    ),
    ("bilinear", lambda nn, lib: nn.Bilinear(2, 3, 4), [floats(5, 2), floats(5, 3, seed=2)]),
    (
        "bilinear_no_bias",
        lambda nn, lib: nn.Bilinear(2, 3, 4, bias=False),
        [floats(5, 2), floats(5, 3, seed=2)],
    ),
    (
        "bilinear_3d",
        lambda nn, lib: nn.Bilinear(2, 3, 4),
        [floats(2, 5, 2), floats(2, 5, 3, seed=2)],
    ),
    ("identity", lambda nn, lib: nn.Identity(7, unused=1), [floats(2, 3)]),
    ("flatten", lambda nn, lib: nn.Flatten(), [floats(2, 3, 4)]),
    ("flatten_0_1", lambda nn, lib: nn.Flatten(0, 1), [floats(2, 3, 4)]),
    ("unflatten", lambda nn, lib: nn.Unflatten(1, (2, 3)), [floats(4, 6)]),
    ("unflatten_inferred", lambda nn, lib: nn.Unflatten(-1, (-1, 2)), [floats(4, 6)]),
    ("layer_norm", lambda nn, lib: nn.LayerNorm(4), [floats(3, 4)]),
    ("layer_norm_2d_shape", lambda nn, lib: nn.LayerNorm((3, 4)), [floats(2, 3, 4)]),
    (
        "layer_norm_no_affine",
        lambda nn, lib: nn.LayerNorm(4, elementwise_affine=False),
        [floats(3, 4)],
    ),
    ("layer_norm_no_bias", lambda nn, lib: nn.LayerNorm(4, bias=False), [floats(3, 4)]),
    ("layer_norm_eps", lambda nn, lib: nn.LayerNorm(4, eps=0.5), [floats(3, 4)]),
    (
        "layer_norm_float64",
        lambda nn, lib: nn.LayerNorm(5, dtype=lib.float64),
        [floats(3, 5, dtype="float64")],
    ),
    ("embedding", lambda nn, lib: nn.Embedding(10, 3), [ints(10, 2, 4)]),
    ("embedding_padding", lambda nn, lib: nn.Embedding(6, 3, padding_idx=0), [ints(6, 3, 5)]),
    (
        "embedding_negative_padding",
        lambda nn, lib: nn.Embedding(6, 3, padding_idx=-1),
        [ints(6, 3, 5)],
    ),
    ("relu", lambda nn, lib: nn.ReLU(), [floats(3, 4)]),
    ("tanh", lambda nn, lib: nn.Tanh(), [floats(3, 4)]),
    ("sigmoid", lambda nn, lib: nn.Sigmoid(), [floats(3, 4)]),
    ("softmax", lambda nn, lib: nn.Softmax(dim=1), [floats(3, 4)]),
    ("softmax_dim0", lambda nn, lib: nn.Softmax(0), [floats(3, 4)]),
    ("log_softmax", lambda nn, lib: nn.LogSoftmax(dim=-1), [floats(3, 4)]),
    (
        "mlp",
        lambda nn, lib: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Tanh()),
        [floats(6, 4)],
    ),
    (
        "sequential_of_everything",
        lambda nn, lib: nn.Sequential(
            nn.Flatten(), nn.Linear(6, 5), nn.LayerNorm(5), nn.Sigmoid(), nn.Unflatten(1, (5, 1))
        ),
        [floats(4, 2, 3)],
    ),
]


def _first(nn, layer):
    """A module returning the first output of `layer` (RNN layers return (out, state))."""

    class First(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer

        def forward(self, *xs):
            return self.layer(*xs)[0]

    return First()


# the convolution family (issue 15): torch's defaults, padding modes, train-mode statistics
LAYERS += [
    ("conv1d_valid_dilation", lambda nn, lib: nn.Conv1d(2, 3, 3, padding="valid", dilation=2),
     [floats(2, 2, 9)]),
    ("conv2d_reflect_stride", lambda nn, lib: nn.Conv2d(2, 4, 3, 2, 1, padding_mode="reflect"),
     [floats(2, 2, 6, 5)]),
    ("conv2d_circular_same_groups",
     lambda nn, lib: nn.Conv2d(4, 2, (2, 3), padding="same", groups=2, padding_mode="circular",
                               bias=False),
     [floats(1, 4, 4, 5)]),
    ("conv2d_replicate_asymmetric",
     lambda nn, lib: nn.Conv2d(1, 2, 3, padding=(2, 1), padding_mode="replicate"),
     [floats(2, 1, 4, 4)]),
    ("conv3d", lambda nn, lib: nn.Conv3d(2, 2, 2, padding=1), [floats(1, 2, 3, 3, 2)]),
    ("conv_transpose2d",
     lambda nn, lib: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
     [floats(2, 3, 3, 2)]),
    ("max_pool2d_ceil", lambda nn, lib: nn.MaxPool2d(3, 2, ceil_mode=True), [floats(2, 2, 6, 7)]),
    ("avg_pool2d_exclude_pad",
     lambda nn, lib: nn.AvgPool2d(3, 2, 1, count_include_pad=False), [floats(1, 2, 5, 6)]),
    ("adaptive_avg_pool2d", lambda nn, lib: nn.AdaptiveAvgPool2d((2, 3)), [floats(2, 3, 5, 7)]),
    ("batch_norm2d_training", lambda nn, lib: nn.BatchNorm2d(3), [floats(4, 3, 2, 2)]),
    ("batch_norm1d_no_affine",
     lambda nn, lib: nn.BatchNorm1d(3, affine=False), [floats(5, 3, 2)]),
    ("group_norm", lambda nn, lib: nn.GroupNorm(2, 4), [floats(2, 4, 3)]),
    ("instance_norm2d_affine",
     lambda nn, lib: nn.InstanceNorm2d(3, affine=True), [floats(2, 3, 3, 2)]),
    ("upsample_bilinear_align",
     lambda nn, lib: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
     [floats(1, 2, 3, 2)]),
    ("lstm_two_layers_bidirectional_batch_first",
     lambda nn, lib: _first(nn, nn.LSTM(3, 4, num_layers=2, bidirectional=True,
                                        batch_first=True)),
     [floats(2, 5, 3)]),
    ("gru", lambda nn, lib: _first(nn, nn.GRU(3, 4)), [floats(5, 2, 3)]),
    ("rnn_relu", lambda nn, lib: _first(nn, nn.RNN(3, 4, nonlinearity="relu")), [floats(4, 2, 3)]),
    ("lstm_cell", lambda nn, lib: _first(nn, nn.LSTMCell(3, 4)), [floats(2, 3)]),
]  # fmt: skip


def _randomise(module) -> None:
    """Move torch's parameters away from ones/zeros so affine terms are exercised."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, dtype=p.dtype) * 0.5)


def _node_name(node) -> str | None:
    return None if node is None else type(node).__name__


def _run(module, inputs, lib, cotangent_seed=7):
    xs = [
        lib.tensor(a, requires_grad=a.dtype.kind == "f") if a.dtype.kind == "f" else lib.tensor(a)
        for a in inputs
    ]
    out = module(*xs)
    v = np.random.default_rng(cotangent_seed).normal(size=tuple(out.shape)).astype(np_(out).dtype)
    out.backward(lib.tensor(v))
    return (
        out,
        [x.grad for x in xs if x.requires_grad],
        {n: p.grad for n, p in module.named_parameters()},
    )


@pytest.mark.parametrize("build,inputs", [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(build, inputs):
    torch.manual_seed(0)
    theirs = build(torch.nn, torch)
    _randomise(theirs)
    ours = build(tnn, tracer)
    copy_weights(theirs, ours)
    out_t, gx_t, gp_t = _run(theirs, inputs, torch)
    out_o, gx_o, gp_o = _run(ours, inputs, tracer)
    tol = TOL[np_(out_t).dtype]
    assert_same(out_o, out_t, **tol)
    assert _node_name(out_o.grad_fn) == _node_name(out_t.grad_fn)
    for a, b in zip(gx_o, gx_t):
        assert_same(a, b, **tol)
    assert gp_o.keys() == gp_t.keys()
    for name in gp_t:
        assert_same(gp_o[name], gp_t[name], **tol)


# ---- losses -------------------------------------------------------------------------

LOGITS = floats(6, 4)
LABELS = np.array([0, 3, 1, 1, 2, 3])
LABELS_IGNORED = np.array([0, -100, 1, 2, -100, 3])

# (id, build(nn) -> loss module, input, target)
LOSSES = [
    ("mse_mean", lambda nn: nn.MSELoss(), LOGITS, floats(6, 4, seed=3)),
    ("mse_sum", lambda nn: nn.MSELoss(reduction="sum"), LOGITS, floats(6, 4, seed=3)),
    ("mse_none", lambda nn: nn.MSELoss(reduction="none"), LOGITS, floats(6, 4, seed=3)),
    ("cross_entropy", lambda nn: nn.CrossEntropyLoss(), LOGITS, LABELS),
    ("cross_entropy_sum", lambda nn: nn.CrossEntropyLoss(reduction="sum"), LOGITS, LABELS),
    ("cross_entropy_none", lambda nn: nn.CrossEntropyLoss(reduction="none"), LOGITS, LABELS),
    ("cross_entropy_ignore", lambda nn: nn.CrossEntropyLoss(), LOGITS, LABELS_IGNORED),
    (
        "cross_entropy_ignore_index",
        lambda nn: nn.CrossEntropyLoss(ignore_index=1),
        LOGITS,
        LABELS,
    ),
    ("nll", lambda nn: nn.NLLLoss(), LOGITS, LABELS),
    ("nll_positional_ignore_index", lambda nn: nn.NLLLoss(None, None, 3), LOGITS, LABELS),
    ("nll_none", lambda nn: nn.NLLLoss(reduction="none"), LOGITS, LABELS_IGNORED),
    ("legacy_size_average_false", lambda nn: nn.MSELoss(size_average=False), LOGITS, LOGITS * 2),
    ("legacy_reduce_false", lambda nn: nn.NLLLoss(reduce=False), LOGITS, LABELS),
]


@pytest.mark.parametrize("build,x,target", [c[1:] for c in LOSSES], ids=[c[0] for c in LOSSES])
def test_loss_matches_torch(build, x, target):
    results = []
    for lib, nn in ((torch, torch.nn), (tracer, tnn)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = build(nn)
        xt = lib.tensor(x, requires_grad=True)
        out = module(xt, lib.tensor(target))
        out.backward(lib.ones_like(out))
        results.append((out, xt.grad, module.reduction, [str(w.message) for w in caught]))
    (out_t, g_t, red_t, warn_t), (out_o, g_o, red_o, warn_o) = results
    assert red_o == red_t
    assert warn_o == warn_t
    assert_same(out_o, out_t, rtol=2e-6, atol=1e-7)
    assert_same(g_o, g_t, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize(
    "build",
    [
        lambda nn, lib: nn.Linear(3, 4),
        lambda nn, lib: nn.Bilinear(3, 2, 5),
        lambda nn, lib: nn.Embedding(7, 2),
        lambda nn, lib: nn.LayerNorm(3),
    ],
    ids=["linear", "bilinear", "embedding", "layer_norm"],
)
def test_default_parameters_have_torchs_names_shapes_and_dtypes(build):
    theirs = {
        n: (tuple(p.shape), p.requires_grad) for n, p in build(torch.nn, torch).named_parameters()
    }
    ours = {n: (tuple(p.shape), p.requires_grad) for n, p in build(tnn, tracer).named_parameters()}
    assert ours == theirs


def test_default_linear_init_spread_matches_torchs():
    """Both libraries draw U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias: over
    many weights, the extremes approach the bound and the std is bound / sqrt(3)."""
    stats = []
    for lib, nn in ((torch, torch.nn), (tracer, tnn)):
        lib.manual_seed(0)
        layer = nn.Linear(400, 300)
        w = np_(layer.weight)
        stats.append((np.abs(w).max(), w.std(), np.abs(np_(layer.bias)).max()))
    bound = 1 / np.sqrt(400)
    for w_max, w_std, b_max in stats:
        assert bound * 0.999 < w_max <= bound
        assert w_std == pytest.approx(bound / np.sqrt(3), rel=0.01)
        assert bound * 0.97 < b_max <= bound
