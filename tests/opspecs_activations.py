"""Spec rows of the activations of tracer.nn.functional and the distance functions
(normalize, cosine_similarity, pairwise_distance): each activation's smooth regions with
finite differences, its kinks with PyTorch's conventions (no_fd), its in-place form
(PyTorch names the node EluBackward1 there) and its options. References are numpy."""

from __future__ import annotations

import math

import numpy as np
from opspecs import INTS, KINK, A, F, S, away_from, fixed, indices, positive, real
from opspecs_math import between

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_ERF = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _softplus(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    return np.where(x * beta > threshold, x, np.logaddexp(0, x * beta) / beta)


def _elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(x > 0, x, alpha * np.expm1(x))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + _ERF(x / math.sqrt(2)))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _hardswish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3, 0, 6) / 6


def _glu(x: np.ndarray, dim: int) -> np.ndarray:
    a, b = np.split(x, 2, axis=dim)
    return a * _sigmoid(b)


def _norm(x: np.ndarray, p: float, axis: int, keepdims: bool = False) -> np.ndarray:
    return np.linalg.norm(x, ord=p, axis=axis, keepdims=keepdims)


def _normalize(x: np.ndarray, p: float, dim: int) -> np.ndarray:
    return x / np.maximum(_norm(x, p, dim, True), 1e-12)


def _cosine(x: np.ndarray, y: np.ndarray, dim: int) -> np.ndarray:
    x, y = np.broadcast_arrays(x, y)
    nx = np.maximum(_norm(x, 2, dim, True), 1e-8)
    ny = np.maximum(_norm(y, 2, dim, True), 1e-8)
    return (x / nx * y / ny).sum(dim)


def _softmin(x: np.ndarray, dim: int) -> np.ndarray:
    e = np.exp(-x - (-x).max(dim, keepdims=True))
    return e / e.sum(dim, keepdims=True)


def _prelu_channels(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, x * w.reshape(1, -1, 1))


def _shrink(x: np.ndarray, lambd: float) -> np.ndarray:
    return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0))


SPECS: list[S] = [
    # ---- smooth --------------------------------------------------------------------------
    S("F_gelu", lambda x: F(x).gelu(x * 2), lambda x: _gelu(x * 2), (A((2, 3)),), "GeluBackward0"),
    S(
        "F_gelu_tanh",
        lambda x: F(x).gelu(x * 2, approximate="tanh"),
        lambda x: _gelu_tanh(x * 2),
        (A((2, 3)),),
        "GeluBackward0",
    ),
    S(
        "F_silu",
        lambda x: F(x).silu(x * 3),
        lambda x: x * 3 * _sigmoid(x * 3),
        (A((2, 3)),),
        "SiluBackward0",
    ),
    S(
        "F_mish",
        lambda x: F(x).mish(x * 3),
        lambda x: x * 3 * np.tanh(np.logaddexp(0, x * 3)),
        (A((2, 3)),),
        "MishBackward0",
    ),
    S(
        "F_softplus",
        lambda x: F(x).softplus(x * 3),
        lambda x: _softplus(x * 3),
        (A((2, 3)),),
        "SoftplusBackward0",
    ),
    S(
        "F_softplus_beta_threshold",
        lambda x: F(x).softplus(x, beta=2, threshold=1.5),
        lambda x: _softplus(x, 2, 1.5),
        (A((2, 3), away_from(0.75)),),
        "SoftplusBackward0",
    ),
    S(
        "F_logsigmoid",
        lambda x: F(x).logsigmoid(x * 30),
        lambda x: -np.logaddexp(0, -x * 30),
        (A((2, 3)),),
        "LogSigmoidBackward0",
    ),
    S(
        "F_softsign",
        lambda x: F(x).softsign(x),
        lambda x: x / (1 + np.abs(x)),
        (A((2, 3), away_from(0)),),
        "DivBackward0",
    ),
    S(
        "F_tanhshrink",
        lambda x: F(x).tanhshrink(x),
        lambda x: x - np.tanh(x),
        (A((2, 3)),),
        "SubBackward0",
    ),
    # ---- the elu family ----------------------------------------------------------------------
    S("F_elu", lambda x: F(x).elu(x), _elu, (A((2, 3), away_from(0)),), "EluBackward0"),
    S(
        "F_elu_alpha_inplace",
        lambda x: F(x).elu(x * 1, alpha=0.5, inplace=True),
        lambda x: _elu(x, 0.5),
        (A((2, 3), away_from(0)),),
        "EluBackward1",
    ),
    S(
        "F_selu",
        lambda x: F(x).selu(x),
        lambda x: SELU_SCALE * _elu(x, SELU_ALPHA),
        (A((2, 3), away_from(0)),),
        "EluBackward0",
    ),
    S(
        "F_celu",
        lambda x: F(x).celu(x, alpha=2.0),
        lambda x: np.maximum(x, 0) + np.minimum(0, 2 * np.expm1(x / 2)),
        (A((2, 3), away_from(0)),),
        "CeluBackward0",
    ),
    S(
        "F_celu_inplace",
        lambda x: F(x).celu_(x * 1),
        lambda x: _elu(x),
        (A((4,), away_from(0)),),
        "CeluBackward1",
    ),
    S(
        "F_elu_at_zero",
        lambda x: F(x).selu(x),
        lambda x: SELU_SCALE * _elu(x, SELU_ALPHA),
        (A((3,), fixed([0.0, -1.0, 1.0])),),
        "EluBackward0",
        no_fd=KINK,
    ),
    # ---- piecewise linear ------------------------------------------------------------------------
    S(
        "F_leaky_relu",
        lambda x: F(x).leaky_relu(x, 0.2),
        lambda x: np.where(x > 0, x, 0.2 * x),
        (A((2, 3), away_from(0)),),
        "LeakyReluBackward0",
    ),
    S(
        "F_leaky_relu_inplace_kink",
        lambda x: F(x).leaky_relu(x * 1, inplace=True),
        lambda x: np.where(x > 0, x, 0.01 * x),
        (A((3,), fixed([0.0, -1.0, 2.0])),),
        "LeakyReluBackward1",
        no_fd=KINK,
    ),
    S(
        "F_rrelu_eval",
        lambda x: F(x).rrelu(x),
        lambda x: np.where(x > 0, x, x * (1 / 8 + 1 / 3) / 2),
        (A((2, 3), away_from(0)),),
        "RreluWithNoiseBackward0",
    ),
    S(
        "F_hardtanh",
        lambda x: F(x).hardtanh(x),
        lambda x: np.clip(x, -1, 1),
        (A((3, 4), away_from(-1, 1)),),
        "HardtanhBackward0",
    ),
    S(
        "F_hardtanh_bounds_kinks",
        lambda x: F(x).hardtanh(x, -0.5, 2.0),
        lambda x: np.clip(x, -0.5, 2.0),
        (A((4,), fixed([-0.5, 2.0, -3.0, 0.25])),),
        "HardtanhBackward0",
        no_fd=KINK,
    ),
    S(
        "F_relu6_inplace",
        lambda x: F(x).relu6(x * 4, inplace=True),
        lambda x: np.clip(x * 4, 0, 6),
        (A((3, 4), away_from(0, 1.5)),),
        "HardtanhBackward0",
    ),
    S(
        "F_hardtanh_int",
        lambda x: F(x).hardtanh(x, -2, 3),
        lambda x: np.clip(x, -2, 3),
        (A((6,), indices(-5, 6)),),
        dtypes=INTS,
    ),
    S(
        "F_hardsigmoid",
        lambda x: F(x).hardsigmoid(x * 2),
        lambda x: np.clip(x * 2 + 3, 0, 6) / 6,
        (A((3, 4), away_from(-1.5, 1.5)),),
        "HardsigmoidBackward0",
    ),
    S(
        "F_hardswish",
        lambda x: F(x).hardswish(x * 2),
        lambda x: _hardswish(x * 2),
        (A((3, 4), away_from(-1.5, 1.5)),),
        "HardswishBackward0",
    ),
    S(
        "F_hard_kinks",
        lambda x: F(x).hardswish(x) + F(x).hardsigmoid(x),
        lambda x: _hardswish(x) + np.clip(x + 3, 0, 6) / 6,
        (A((4,), fixed([-3.0, 3.0, -4.0, 0.0])),),
        "AddBackward0",
        no_fd=KINK,
    ),
    S(
        "F_softshrink",
        lambda x: F(x).softshrink(x, 0.75),
        lambda x: _shrink(x, 0.75),
        (A((3, 4), away_from(-0.75, 0.75)),),
        "SoftshrinkBackward0",
    ),
    S(
        "F_hardshrink",
        lambda x: F(x).hardshrink(x),
        lambda x: np.where(np.abs(x) > 0.5, x, 0),
        (A((3, 4), away_from(-0.5, 0.5)),),
        "HardshrinkBackward0",
    ),
    S(
        "F_shrink_kinks",
        lambda x: F(x).softshrink(x) * F(x).hardshrink(x, 0.25),
        lambda x: _shrink(x, 0.5) * np.where(np.abs(x) > 0.25, x, 0),
        (A((5,), fixed([0.5, -0.5, 0.25, -0.25, 1.0])),),
        "MulBackward0",
        no_fd=KINK,
    ),
    S(
        "F_threshold",
        lambda x: F(x).threshold(x, 0.5, -2.0),
        lambda x: np.where(x > 0.5, x, -2.0),
        (A((3, 4), away_from(0.5)),),
        "ThresholdBackward0",
    ),
    S(
        "F_threshold_inplace_kink",
        lambda x: F(x).threshold_(x * 1, 0.5, 3.0),
        lambda x: np.where(x > 0.5, x, 3.0),
        (A((3,), fixed([0.5, 0.25, 1.0])),),
        "ThresholdBackward1",
        no_fd=KINK,
    ),
    S(
        "F_threshold_int",
        lambda x: F(x).threshold(x, 1, 7),
        lambda x: np.where(x > 1, x, 7),
        (A((6,), indices(-3, 4)),),
        dtypes=INTS,
    ),
    # ---- with a second operand or a dim --------------------------------------------------------
    S(
        "F_prelu_scalar_weight",
        lambda x, w: F(x).prelu(x, w),
        lambda x, w: np.where(x > 0, x, x * w),
        (A((2, 3, 4), away_from(0)), A((1,), positive)),
        "PreluKernelBackward0",
    ),
    S(
        "F_prelu_channels",
        lambda x, w: F(x).prelu(x, w),
        _prelu_channels,
        (A((2, 3, 4), away_from(0)), A((3,), positive)),
        "PreluKernelBackward0",
    ),
    S("F_glu", lambda x: F(x).glu(x), lambda x: _glu(x, -1), (A((3, 4)),), "GluBackward0"),
    S("F_glu_dim0", lambda x: F(x).glu(x, 0), lambda x: _glu(x, 0), (A((4, 3)),), "GluBackward0"),
    S(
        "F_softmin",
        lambda x: F(x).softmin(x, 1),
        lambda x: _softmin(x, 1),
        (A((3, 4)),),
        "SoftmaxBackward0",
    ),
    # ---- norms and distances ---------------------------------------------------------------------
    S(
        "F_normalize",
        lambda x: F(x).normalize(x),
        lambda x: _normalize(x, 2, 1),
        (A((3, 4)),),
        "DivBackward0",
    ),
    S(
        "F_normalize_p1_dim0",
        lambda x: F(x).normalize(x, p=1, dim=0),
        lambda x: _normalize(x, 1, 0),
        (A((3, 4), away_from(0)),),
        "DivBackward0",
    ),
    S(
        "F_normalize_p3",
        lambda x: F(x).normalize(x, p=3.0, dim=-1),
        lambda x: _normalize(x, 3, -1),
        (A((2, 3), away_from(0)),),
        "DivBackward0",
    ),
    S(
        "F_normalize_zero_row",
        lambda x: F(x).normalize(x * (x > 0), dim=1),
        lambda x: _normalize(x * (x > 0), 2, 1),
        (A((2, 3), fixed([-1.0, -2.0, -0.5, 1.0, -1.0, 2.0])),),
        "DivBackward0",
        no_fd="x * (x > 0) has a kink at 0 (the row of zeros is the point)",
    ),
    S(
        "F_cosine_similarity",
        lambda x, y: F(x).cosine_similarity(x, y),
        lambda x, y: _cosine(x, y, 1),
        (A((3, 4)), A((3, 4))),
        "SumBackward1",
    ),
    S(
        "F_cosine_similarity_broadcast_dim",
        lambda x, y: F(x).cosine_similarity(x, y, dim=-1),
        lambda x, y: _cosine(x, y, -1),
        (A((2, 1, 4)), A((3, 4))),
        "SumBackward1",
    ),
    S(
        "F_pairwise_distance",
        lambda x, y: F(x).pairwise_distance(x, y),
        lambda x, y: _norm(x - y + 1e-6, 2, -1),
        (A((3, 4)), A((3, 4))),
        "NormBackward1",
    ),
    S(
        "F_pairwise_distance_p1_keepdim",
        lambda x, y: F(x).pairwise_distance(x, y, p=1.0, keepdim=True),
        lambda x, y: _norm(x - y + 1e-6, 1, -1, True),
        (A((3, 4)), A((4,), real)),
        "NormBackward1",
    ),
    S(
        "F_pairwise_distance_inf",
        lambda x, y: F(x).pairwise_distance(x, y, p=math.inf),
        lambda x, y: _norm(x - y + 1e-6, np.inf, -1),
        (A((3, 4), between(-2, 2)), A((3, 4), between(3, 4))),
        "NormBackward1",
    ),
]
