"""nn.init: deterministic initialisers against their definitions (and PyTorch), random
ones against the distribution they promise (bounds, moments, orthogonality) on many
samples, all in place under no_grad and reproducible under manual_seed.

Statistical checks use 100,000 samples and allow six standard errors.
"""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist

import numpy as np
import pytest

import tracer
from tracer.nn import Parameter, init

N = 100_000


def big(*shape):
    return tracer.empty(*shape)


def np_(t):
    return t.detach().numpy()


GAINS = [
    ("linear", None, 1.0),
    ("conv2d", None, 1.0),
    ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3),
    ("relu", None, math.sqrt(2)),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
    ("leaky_relu", 0.2, math.sqrt(2 / (1 + 0.2**2))),
    ("leaky_relu", math.sqrt(5), math.sqrt(2 / 6)),
    ("selu", None, 0.75),
]


@pytest.mark.parametrize("name,param,gain", GAINS)
def test_calculate_gain(name, param, gain):
    assert init.calculate_gain(name, param) == pytest.approx(gain, rel=1e-15)


@pytest.mark.parametrize("name,param,gain", GAINS)
def test_calculate_gain_matches_torch(name, param, gain):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


@pytest.mark.parametrize(
    "name,param", [("swish", None), ("leaky_relu", "0.1"), ("leaky_relu", True)]
)
def test_calculate_gain_refuses_unknown_input(name, param):
    with pytest.raises(ValueError):
        init.calculate_gain(name, param)


@pytest.mark.parametrize(
    "shape,fans",
    [((3, 4), (4, 3)), ((5, 3, 2, 2), (12, 20)), ((2, 7, 3), (21, 6)), ((1, 1), (1, 1))],
)
def test_fan_in_and_fan_out(shape, fans):
    assert init._calculate_fan_in_and_fan_out(tracer.empty(*shape)) == fans


def test_fan_needs_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(tracer.empty(3))


# ---- deterministic ------------------------------------------------------------------

DETERMINISTIC = [
    ("constant", lambda t: init.constant_(t, 0.25), (2, 3), np.full((2, 3), 0.25)),
    ("zeros", init.zeros_, (2, 3), np.zeros((2, 3))),
    ("ones", init.ones_, (4,), np.ones(4)),
    ("eye_wide", init.eye_, (2, 3), np.eye(2, 3)),
    ("eye_tall", init.eye_, (3, 2), np.eye(3, 2)),
    (
        "dirac_3d",
        init.dirac_,
        (2, 3, 3),
        np.array([[[0, 1, 0], [0, 0, 0], [0, 0, 0]], [[0, 0, 0], [0, 1, 0], [0, 0, 0]]]),
    ),
    (
        "dirac_groups",
        lambda t: init.dirac_(t, groups=2),
        (4, 1, 1),
        np.array([[[1]], [[0]], [[1]], [[0]]]),
    ),
]


@pytest.mark.parametrize(
    "fill,shape,expected", [c[1:] for c in DETERMINISTIC], ids=[c[0] for c in DETERMINISTIC]
)
def test_deterministic_initialisers(fill, shape, expected):
    t = tracer.empty(*shape)
    assert fill(t) is t
    np.testing.assert_array_equal(np_(t), expected)


@pytest.mark.parametrize(
    "fill,shape", [c[1:3] for c in DETERMINISTIC], ids=[c[0] for c in DETERMINISTIC]
)
def test_deterministic_initialisers_match_torch(fill, shape):
    torch = pytest.importorskip("torch")
    ours = fill(tracer.empty(*shape))
    name = {init.zeros_: "zeros_", init.ones_: "ones_", init.eye_: "eye_", init.dirac_: "dirac_"}
    theirs = torch.empty(*shape)
    if fill in name:
        getattr(torch.nn.init, name[fill])(theirs)
    elif fill is DETERMINISTIC[0][1]:
        torch.nn.init.constant_(theirs, 0.25)
    else:
        torch.nn.init.dirac_(theirs, groups=2)
    np.testing.assert_array_equal(np_(ours), theirs.numpy())


@pytest.mark.parametrize(
    "fill,shape,error",
    [
        (init.eye_, (2, 2, 2), "Only tensors with 2 dimensions"),
        (init.dirac_, (2, 2), "Only tensors with 3, 4, or 5 dimensions"),
        (lambda t: init.dirac_(t, groups=2), (3, 1, 1), "divisible by groups"),
        (init.orthogonal_, (3,), "Only tensors with 2 or more dimensions"),
        (lambda t: init.sparse_(t, 0.5), (2, 2, 2), "Only tensors with 2 dimensions"),
        (lambda t: init.kaiming_uniform_(t, mode="fan_avg"), (2, 2), "Mode fan_avg not supported"),
    ],
    ids=["eye", "dirac", "dirac_groups", "orthogonal", "sparse", "kaiming_mode"],
)
def test_initialisers_refuse_bad_shapes_and_options(fill, shape, error):
    t = tracer.zeros(*shape)
    with pytest.raises(ValueError, match=error):
        fill(t)
    assert not np_(t).any()


# ---- random -------------------------------------------------------------------------


def _uniform_bound(fill, shape):
    """(max |x|, std) of the values `fill` draws, and the count."""
    t = fill(big(*shape))
    v = np_(t).astype(np.float64)
    return np.abs(v).max(), v.mean(), v.std(), v.size


# (id, fill, shape, bound b of U(-b, b))
UNIFORMS = [
    ("uniform", lambda t: init.uniform_(t, -0.5, 0.5), (N,), 0.5),
    ("xavier_uniform", init.xavier_uniform_, (200, 500), math.sqrt(6 / 700)),
    (
        "xavier_uniform_gain",
        lambda t: init.xavier_uniform_(t, gain=2.0),
        (200, 500),
        2 * math.sqrt(6 / 700),
    ),
    # a = 0: the leaky_relu gain is sqrt(2 / (1 + 0**2))
    ("kaiming_uniform", init.kaiming_uniform_, (200, 500), math.sqrt(2) * math.sqrt(3 / 500)),
    (
        "kaiming_uniform_relu_fan_out",
        lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
        (200, 500),
        math.sqrt(2) * math.sqrt(3 / 200),
    ),
    (
        "kaiming_uniform_linear_default",
        lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
        (200, 500),
        1 / math.sqrt(500),
    ),
]


@pytest.mark.parametrize("fill,shape,b", [c[1:] for c in UNIFORMS], ids=[c[0] for c in UNIFORMS])
def test_uniform_initialisers_fill_their_range(fill, shape, b):
    top, mean, std, n = _uniform_bound(fill, shape)
    assert b * 0.999 < top <= b
    assert abs(mean) < 6 * b / math.sqrt(3 * n)
    assert std == pytest.approx(b / math.sqrt(3), rel=0.01)


def test_uniform_with_an_offset_range():
    v = np_(init.uniform_(big(N), 2.0, 3.0))
    # float32 rounding may give the upper end itself (as in PyTorch)
    assert v.min() >= 2.0 and v.max() <= 3.0 and abs(v.mean() - 2.5) < 0.01


# (id, fill, shape, mean, std of the normal)
NORMALS = [
    ("normal", lambda t: init.normal_(t, 1.5, 0.5), (N,), 1.5, 0.5),
    ("xavier_normal", init.xavier_normal_, (200, 500), 0.0, math.sqrt(2 / 700)),
    (
        "kaiming_normal_tanh",
        lambda t: init.kaiming_normal_(t, nonlinearity="tanh"),
        (200, 500),
        0.0,
        (5 / 3) / math.sqrt(500),
    ),
]


@pytest.mark.parametrize(
    "fill,shape,mean,std", [c[1:] for c in NORMALS], ids=[c[0] for c in NORMALS]
)
def test_normal_initialisers_have_their_moments(fill, shape, mean, std):
    v = np_(fill(big(*shape))).astype(np.float64)
    assert abs(v.mean() - mean) < 6 * std / math.sqrt(v.size)
    assert v.std() == pytest.approx(std, rel=0.01)


@pytest.mark.parametrize(
    "mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (1.0, 2.0, 0.0, 3.0), (0.0, 0.02, -0.04, 0.04)]
)
def test_trunc_normal_is_the_truncated_distribution(mean, std, a, b):
    v = np_(init.trunc_normal_(big(N), mean, std, a, b)).astype(np.float64)
    assert v.min() >= a and v.max() <= b
    # moments of the truncated normal: alpha, beta standardised bounds, Z = Phi(beta) - Phi(alpha)
    nd = NormalDist()
    alpha, beta = (a - mean) / std, (b - mean) / std
    z = nd.cdf(beta) - nd.cdf(alpha)
    t_mean = mean + std * (nd.pdf(alpha) - nd.pdf(beta)) / z
    t_var = std**2 * (
        1
        + (alpha * nd.pdf(alpha) - beta * nd.pdf(beta)) / z
        - ((nd.pdf(alpha) - nd.pdf(beta)) / z) ** 2
    )
    assert abs(v.mean() - t_mean) < 6 * math.sqrt(t_var / N)
    assert v.var() == pytest.approx(t_var, rel=0.02)


def test_trunc_normal_warns_when_the_mean_is_far_outside():
    with pytest.warns(UserWarning, match="mean is more than 2 std"):
        init.trunc_normal_(big(10), mean=10.0, std=1.0, a=-2.0, b=2.0)


@pytest.mark.parametrize(
    "shape,gain", [((6, 4), 1.0), ((4, 6), 1.0), ((3, 2, 2, 2), 2.0), ((5, 5), 0.5)]
)
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain):
    m = np_(init.orthogonal_(tracer.empty(*shape, dtype=tracer.float64), gain=gain)).reshape(
        shape[0], -1
    )
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(small), atol=1e-12)


def test_sparse_zeroes_the_same_count_in_every_column():
    rows, cols = 10, 300
    v = np_(init.sparse_(tracer.empty(rows, cols), sparsity=0.25, std=0.5))
    assert ((v == 0).sum(axis=0) == math.ceil(0.25 * rows)).all()
    assert v[v != 0].std() == pytest.approx(0.5, rel=0.05)


@pytest.mark.parametrize(
    "fill",
    [
        init.uniform_,
        init.normal_,
        init.xavier_uniform_,
        init.kaiming_normal_,
        init.orthogonal_,
        init.trunc_normal_,
        lambda t: init.sparse_(t, 0.5),
    ],
    ids=[
        "uniform",
        "normal",
        "xavier_uniform",
        "kaiming_normal",
        "orthogonal",
        "trunc_normal",
        "sparse",
    ],
)
def test_random_initialisers_are_reproducible_under_manual_seed(fill):
    draws = []
    for _ in range(2):
        tracer.manual_seed(123)
        draws.append(np_(fill(tracer.empty(4, 5))).copy())
    np.testing.assert_array_equal(draws[0], draws[1])
    assert np.unique(draws[0]).size > 1


def test_initialisers_work_in_place_on_parameters_that_require_grad():
    p = Parameter(tracer.zeros(3, 4))
    version = p._version[0]
    assert init.xavier_uniform_(p) is p
    assert p.requires_grad and p.is_leaf and p._version[0] > version
    assert np_(p).any()


def test_random_initialisers_need_floating_point_tensors():
    with pytest.raises(TypeError, match="floating point tensor"):
        init.uniform_(tracer.zeros(3, dtype=tracer.int64))


def test_generator_argument_must_be_a_generator():
    with pytest.raises(TypeError, match="generator must be a tracer.Generator"):
        init.normal_(tracer.zeros(3), generator=object())


SEEDED = [
    ("uniform_", lambda m, t, g: m.uniform_(t, -0.5, 2.0, generator=g)),
    ("normal_", lambda m, t, g: m.normal_(t, 1.0, 0.5, generator=g)),
    ("xavier_uniform_", lambda m, t, g: m.xavier_uniform_(t, gain=2.0, generator=g)),
    ("xavier_normal_", lambda m, t, g: m.xavier_normal_(t, generator=g)),
    ("kaiming_uniform_", lambda m, t, g: m.kaiming_uniform_(t, a=math.sqrt(5), generator=g)),
    ("kaiming_normal_", lambda m, t, g: m.kaiming_normal_(t, mode="fan_out", generator=g)),
]


@pytest.mark.parametrize("name,fill", SEEDED, ids=[s[0] for s in SEEDED])
def test_seeded_initialisers_draw_pytorchs_numbers(name, fill):
    """The same draws as PyTorch's, from a seeded generator and from the global one."""
    torch = pytest.importorskip("torch")
    for seed in (0, 7):
        got = fill(init, tracer.zeros(17, 9), tracer.Generator().manual_seed(seed))
        want = fill(torch.nn.init, torch.zeros(17, 9), torch.Generator().manual_seed(seed))
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    tracer.manual_seed(3)
    torch.manual_seed(3)
    got, want = tracer.nn.Linear(6, 4), torch.nn.Linear(6, 4)
    np.testing.assert_array_equal(got.weight.detach().numpy(), want.weight.detach().numpy())
    np.testing.assert_array_equal(got.bias.detach().numpy(), want.bias.detach().numpy())


def test_kaiming_on_an_empty_tensor_warns_and_does_nothing():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        t = init.kaiming_uniform_(tracer.zeros(0, 3))
    assert t.shape == (0, 3)


def test_deprecated_names_warn_and_work():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = init.constant(tracer.zeros(2), 3.0)
    assert [str(w.message) for w in caught] == [
        "`nn.init.constant` is now deprecated in favor of `nn.init.constant_`."
    ]
    np.testing.assert_array_equal(np_(t), [3.0, 3.0])
