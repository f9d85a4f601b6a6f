"""Linear algebra and losses beyond the spec table (tests/opspecs_linalg.py).

* Where PyTorch is wrong we are right: the gradient of det at a singular matrix is its
  cofactor matrix (PyTorch gives 0 for [[1, 2], [2, 4]]); addmm with beta=0 ignores a
  NaN or inf input, gradient included (PyTorch's gradient through it is NaN); dist
  with p=0 has a zero gradient (PyTorch leaves .grad None).
* Gradients PyTorch refuses are computed: class weights of nll_loss and cross_entropy,
  weight and pos_weight of the binary cross-entropies (checked by finite differences).
* Numerics at extremes: huge logits through label smoothing, probabilities as targets,
  BCE with logits, soft margin; the clamped logs of binary_cross_entropy.
* Errors name the op and say what is wrong: singular and non-positive-definite
  matrices (eagerly, on the interpreter and compiled), shapes, dtypes, einsum
  equations; the documented caveats (repeated eigenvalues) hold.

Expected values are analytic, or float64 finite differences of numpy references.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tracer
import tracer.nn as nn
import tracer.nn.functional as F
from tracer.linalg import LinAlgError

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


def t64(x: Any) -> tracer.Tensor:
    return tracer.tensor(np.asarray(x, dtype=np.float64))


def numeric_grad(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in range(x.size):
        hi, lo = x.copy(), x.copy()
        hi.flat[i] += eps
        lo.flat[i] -= eps
        g.flat[i] = (f(hi) - f(lo)) / (2 * eps)
    return g


# ---- where PyTorch is wrong ------------------------------------------------------------------

SINGULAR = [
    # matrix, its cofactor matrix (d det / dA)
    ([[1.0, 2.0], [2.0, 4.0]], [[4.0, -2.0], [-2.0, 1.0]]),
    ([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]], [[4, 4, -4], [-2, -2, 2], [0, 0, 0]]),
    ([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 6.0, 9.0]], np.zeros((3, 3))),  # rank 1
    ([[0.0, 0.0], [0.0, 0.0]], np.zeros((2, 2))),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("a,cof", SINGULAR, ids=["rank1_2x2", "rank2_3x3", "rank1_3x3", "zero"])
def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix(mode, a, cof, monkeypatch):
    value, grad = run(mode, lambda x: tracer.linalg.det(x), t64(a), monkeypatch=monkeypatch)
    np.testing.assert_allclose(value, 0.0, atol=1e-12)
    np.testing.assert_allclose(grad, np.asarray(cof, np.float64), atol=1e-9)


def test_det_second_order_at_a_singular_matrix():
    """det [[a, b], [c, d]] = ad - bc: the gradient of sum(grad det) is [[1, -1], [-1, 1]]."""
    a = t64([[1.0, 2.0], [2.0, 4.0]]).requires_grad_()
    (g,) = tracer.autograd.grad(tracer.linalg.det(a), a, create_graph=True)
    (h,) = tracer.autograd.grad(g.sum(), a)
    np.testing.assert_allclose(h.numpy(), [[1.0, -1.0], [-1.0, 1.0]], atol=1e-9)


def test_batched_det_gradient_mixes_singular_and_regular_matrices():
    a = np.array([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [0.5, 3.0]]])
    x = t64(a).requires_grad_()
    tracer.linalg.det(x).sum().backward()
    expected = [[[4.0, -2.0], [-2.0, 1.0]], [[3.0, -0.5], [-1.0, 2.0]]]
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_addmm_with_beta_zero_ignores_nan_and_inf_in_input(mode, monkeypatch):
    a, b = t64([[1.0, 2.0]]), t64([[3.0], [4.0]])
    c = t64([[math.nan]]) / t64([[1.0]])
    value, grad = run(
        mode,
        lambda c, a, b: (tracer.addmm(c * tracer.tensor(np.inf), a, b, beta=0) * 2).sum(),
        c,
        a,
        b,
        monkeypatch=monkeypatch,
    )
    np.testing.assert_allclose(value, 22.0)
    np.testing.assert_array_equal(grad, [[0.0]])


def test_dist_p0_counts_nonzero_differences_and_has_zero_gradient():
    a = t64([1.0, 2.0, 3.0]).requires_grad_()
    d = tracer.dist(a, t64([1.0, 0.0, 0.0]), p=0)
    d.backward()
    assert (d.item(), d.grad_fn.name()) == (2.0, "DistBackward0")
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0, 0.0])


def test_pytorch_still_differs_where_these_tests_say_it_is_wrong():
    """If this fails, PyTorch changed: the cases above may now match it."""
    torch = pytest.importorskip("torch")
    a = torch.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=torch.float64, requires_grad=True)
    torch.linalg.det(a).backward()
    assert not np.allclose(a.grad.numpy(), [[4.0, -2.0], [-2.0, 1.0]])
    c = torch.tensor([[1.0]], dtype=torch.float64, requires_grad=True)
    m = torch.ones(1, 1, dtype=torch.float64)
    torch.addmm(c / 0, m, m, beta=0).sum().backward()
    assert np.isnan(c.grad.numpy()).all()
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    torch.dist(x, torch.zeros(2), p=0).backward()
    assert x.grad is None  # no gradient at all, where ours is 0


# ---- gradients PyTorch refuses: class weights ---------------------------------------------


def _nll_np(logp: np.ndarray, y: np.ndarray, w: np.ndarray, reduction: str, ignore: int):
    lp = np.moveaxis(logp, 1, -1)
    valid = y != ignore
    safe = np.where(valid, y, 0)
    picked = np.take_along_axis(lp, safe[..., None], -1)[..., 0]
    wy = np.where(valid, w[safe], 0.0)
    loss = -picked * wy
    if reduction == "none":
        return loss
    return loss.sum() / wy.sum() if reduction == "mean" else loss.sum()


WEIGHT_CASES = [
    # logp shape, labels, reduction, ignore_index
    ((5, 3), [0, 2, 1, 2, 1], "mean", 1),
    ((5, 3), [0, 2, 1, 2, 1], "sum", -100),
    ((2, 3, 2), [[0, 2], [1, 1]], "mean", -100),
    ((2, 3, 2), [[0, 2], [1, 1]], "none", 2),
]


@pytest.mark.parametrize("shape,labels,reduction,ignore", WEIGHT_CASES)
def test_nll_loss_class_weights_get_their_true_gradient(shape, labels, reduction, ignore):
    rng = np.random.default_rng(0)
    logp, w = rng.standard_normal(shape), rng.uniform(0.5, 2.0, 3)
    y = np.array(labels)
    v = rng.standard_normal(np.shape(_nll_np(logp, y, w, reduction, ignore)))
    wt = t64(w).requires_grad_()
    loss = F.nll_loss(
        t64(logp), tracer.tensor(y), weight=wt, reduction=reduction, ignore_index=ignore
    )
    (loss * t64(v)).sum().backward()
    numeric = numeric_grad(lambda q: float((_nll_np(logp, y, q, reduction, ignore) * v).sum()), w)
    np.testing.assert_allclose(wt.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_cross_entropy_weight_gradient_with_label_smoothing():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((4, 3)), rng.uniform(0.5, 2.0, 3)
    y = np.array([0, 2, 1, 1])

    def ref(q: np.ndarray) -> float:
        e = x - x.max(1, keepdims=True)
        logp = e - np.log(np.exp(e).sum(1, keepdims=True))
        nll = _nll_np(logp, y, q, "mean", -100)
        smooth = -(logp * q).sum(1).sum() / q[y].sum()
        return float(0.8 * nll + smooth * 0.2 / 3)

    wt = t64(w).requires_grad_()
    F.cross_entropy(t64(x), tracer.tensor(y), weight=wt, label_smoothing=0.2).backward()
    np.testing.assert_allclose(wt.grad.numpy(), numeric_grad(ref, w), rtol=1e-6, atol=1e-8)


def test_cross_entropy_converts_a_class_weight_of_another_float_dtype():
    """PyTorch raises for a float32 weight with float64 logits; we convert it."""
    x, y = np.array([[0.3, -1.2, 2.0], [1.0, 0.5, -0.5]]), np.array([2, 0])
    w = np.array([1.0, 2.0, 0.5], np.float32)
    out = F.cross_entropy(t64(x), tracer.tensor(y), weight=tracer.tensor(w))
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    assert out.dtype == tracer.float64
    np.testing.assert_allclose(out.item(), _nll_np(logp, y, w.astype(np.float64), "mean", -100))


def test_binary_cross_entropy_weights_get_their_true_gradients():
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0.1, 0.9, (3, 2)), rng.uniform(0.1, 0.9, (3, 2))
    w, pw = rng.uniform(0.5, 2.0, (2,)), rng.uniform(0.5, 2.0, (2,))

    def bce(q: np.ndarray) -> float:
        return float((-q * (y * np.log(x) + (1 - y) * np.log1p(-x))).mean())

    def bce_logits(q: np.ndarray, p: np.ndarray) -> float:
        sp = np.logaddexp(0, -x)
        return float((q * ((1 - y) * x + (1 + (p - 1) * y) * sp)).sum())

    wt = t64(w).requires_grad_()
    F.binary_cross_entropy(t64(x), t64(y), weight=wt).backward()
    np.testing.assert_allclose(wt.grad.numpy(), numeric_grad(bce, w), rtol=1e-6, atol=1e-8)
    wt, pwt = t64(w).requires_grad_(), t64(pw).requires_grad_()
    F.binary_cross_entropy_with_logits(
        t64(x), t64(y), weight=wt, pos_weight=pwt, reduction="sum"
    ).backward()
    np.testing.assert_allclose(
        wt.grad.numpy(), numeric_grad(lambda q: bce_logits(q, pw), w), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        pwt.grad.numpy(), numeric_grad(lambda p: bce_logits(w, p), pw), rtol=1e-6, atol=1e-8
    )


# ---- numerics at extremes ----------------------------------------------------------------------

LN2 = math.log(2.0)
EXTREMES = [
    # name, fn, args, value, gradient w.r.t. the first argument
    (
        "cross_entropy_label_smoothing_1e8_f32",
        lambda x, y: F.cross_entropy(x, y, label_smoothing=0.2),
        (tracer.tensor([[1e8, 1e8]]), tracer.tensor([1])),
        LN2,
        [[0.4, -0.4]],
    ),
    (
        "cross_entropy_probabilities_1e8_f32",
        lambda x, t: F.cross_entropy(x, t),
        (tracer.tensor([[1e8, 1e8]]), tracer.tensor([[0.25, 0.75]])),
        LN2,
        [[0.25, -0.25]],
    ),
    (
        "cross_entropy_probabilities_1e30_f64",
        lambda x, t: F.cross_entropy(x, t, reduction="sum"),
        (t64([[1e30, 1e30]]), t64([[1.0, 0.0]])),
        LN2,
        [[-0.5, 0.5]],
    ),
    (
        "bce_with_logits_1e4_f32",
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="sum"),
        (tracer.tensor([1e4, -1e4, 1e4]), tracer.tensor([0.0, 0.0, 1.0])),
        1e4,
        [1.0, 0.0, 0.0],
    ),
    (
        "bce_with_logits_pos_weight_minus_1e4",
        lambda x, y: F.binary_cross_entropy_with_logits(
            x, y, pos_weight=tracer.tensor([3.0]), reduction="sum"
        ),
        (tracer.tensor([-1e4]), tracer.tensor([1.0])),
        3e4,
        [-3.0],
    ),
    (
        "soft_margin_minus_1e4",
        lambda x, y: F.soft_margin_loss(x, y, reduction="sum"),
        (tracer.tensor([-1e4, 1e4]), tracer.tensor([1.0, 1.0])),
        1e4,
        [-1.0, 0.0],
    ),
    (
        "multilabel_soft_margin_1e4",
        lambda x, y: F.multilabel_soft_margin_loss(x, y),
        (tracer.tensor([[1e4, -1e4]]), tracer.tensor([[0.0, 0.0]])),
        5e3,
        [[0.5, 0.0]],
    ),
    (
        # log clamped at -100 (PyTorch's rule); the gradient's denominator x (1 - x) at
        # least PyTorch's eps, the C float 1e-12f: finite, not inf
        "binary_cross_entropy_at_0_and_1",
        lambda x, y: F.binary_cross_entropy(x, y, reduction="sum"),
        (t64([0.0, 1.0, 0.5]), t64([1.0, 0.0, 1.0])),
        200 + LN2,
        [-1 / float(np.float32(1e-12)), 1 / float(np.float32(1e-12)), -2.0],
    ),
    (
        "nll_loss_weighted_all_ignored",
        lambda x, y: F.nll_loss(x, y, weight=tracer.tensor([1.0, 2.0])),
        (tracer.tensor([[-1.0, -2.0]]), tracer.tensor([-100])),
        math.nan,
        [[0.0, 0.0]],
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,fn,args,value,grad", EXTREMES, ids=[c[0] for c in EXTREMES])
def test_losses_at_extremes_are_right(mode, name, fn, args, value, grad, monkeypatch):
    got_value, got_grad = run(mode, fn, *args, monkeypatch=monkeypatch)
    rtol = 1e-6 if args[0].dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got_value, value, rtol=rtol, err_msg="value")
    np.testing.assert_allclose(got_grad, np.asarray(grad), rtol=rtol, atol=1e-7, err_msg="grad")


# ---- the documented caveats: repeated eigenvalues and singular values ----------------------


def test_eigenvalues_and_singular_values_of_repeated_spectra_have_finite_gradients():
    a = t64(np.eye(3) * 2).requires_grad_()
    tracer.linalg.eigvalsh(a).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.eye(3), atol=1e-12)
    b = t64(np.eye(3) * 2).requires_grad_()
    tracer.linalg.svdvals(b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), np.eye(3), atol=1e-12)


def test_eigenvectors_of_a_repeated_eigenvalue_have_no_finite_gradient():
    """As PyTorch documents: the gradient through the eigenvectors is inf or nan there."""
    a = t64(np.eye(3)).requires_grad_()
    v = tracer.linalg.eigh(a).eigenvectors
    (v * t64(np.arange(9.0).reshape(3, 3))).sum().backward()
    assert not np.isfinite(a.grad.numpy()).all()


def _top_eigenvector_np(a: np.ndarray) -> np.ndarray:
    v = np.linalg.eigh((a + a.T) / 2)[1][:, -1]
    return v * np.sign(v[np.argmax(np.abs(v))])


def _top_left_singular_vector_np(a: np.ndarray) -> np.ndarray:
    u = np.linalg.svd(a)[0][:, 0]
    return u * np.sign(u[np.argmax(np.abs(u))])


WEIGHTS3 = np.array([1.0, 2.0, 3.0])
DEGENERATE = [
    # name, fn of a tracer matrix, numpy reference (smooth at the point), the point. The
    # loss reads only a vector of a simple eigenvalue / singular value: the other two
    # repeat, and their pair's 1 / 0 must not reach the gradient (PyTorch: all nan).
    (
        "eigh_vector_of_the_simple_eigenvalue",
        lambda a: (tracer.linalg.eigh(a).eigenvectors[:, 2] * t64(WEIGHTS3)).sum(),
        lambda a: float(_top_eigenvector_np(a) @ WEIGHTS3),
        np.diag([1.0, 1.0, 3.0]),
    ),
    (
        "svd_vector_of_the_simple_singular_value",
        lambda a: (tracer.linalg.svd(a).U[:, 0] * t64(WEIGHTS3)).sum(),
        lambda a: float(_top_left_singular_vector_np(a) @ WEIGHTS3),
        np.diag([3.0, 1.0, 1.0]),
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,fn,ref,a", DEGENERATE, ids=[c[0] for c in DEGENERATE])
def test_vectors_of_simple_eigenvalues_have_finite_gradients_beside_repeated_ones(
    mode, name, fn, ref, a, monkeypatch
):
    value, grad = run(mode, fn, t64(a), monkeypatch=monkeypatch)
    numeric = numeric_grad(ref, a)
    if name.startswith("eigh"):  # eigh reads A as symmetric: compare symmetric parts
        numeric = (numeric + numeric.T) / 2
    np.testing.assert_allclose(value, ref(a), rtol=1e-12)
    np.testing.assert_allclose(grad, numeric, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["eigh", "svd"])
def test_gauge_invariant_loss_of_repeated_vectors_is_nan_not_a_made_up_number(
    mode, op, monkeypatch
):
    """A V diag(L) V^T (= A) at A = 2 I: the true gradient of its sum is all ones, but
    the decomposition's formula is 0 / 0 there. PyTorch gives nan; so do we (a finite
    0 for the pair would be a silently wrong gradient)."""

    def rebuild(a):
        if op == "eigh":
            lam, v = tracer.linalg.eigh(a)
            return (v * lam.unsqueeze(-2) @ v.mT).sum()
        u, s, vh = tracer.linalg.svd(a)
        return (u * s.unsqueeze(-2) @ vh).sum()

    value, grad = run(mode, rebuild, t64(np.eye(3) * 2), monkeypatch=monkeypatch)
    np.testing.assert_allclose(value, 6.0, rtol=1e-12)
    assert np.isnan(grad).all()


def test_lstsq_of_a_rank_deficient_matrix_returns_no_residuals_eagerly():
    a = t64([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    full = tracer.linalg.lstsq(t64([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), t64([1.0, 2.0, 3.0]))
    out = tracer.linalg.lstsq(a, t64([[1.0], [2.0], [4.0]]), driver="gelsd")
    assert (tuple(out.residuals.shape), int(out.rank)) == ((0,), 1)
    assert tuple(full.residuals.shape) == (0,)  # gelsy (the default) never computes them
    np.testing.assert_allclose(out.solution.numpy(), np.linalg.pinv(a.numpy()) @ [[1], [2], [4]])


# ---- errors ----------------------------------------------------------------------------------

ERRORS = [
    # name, fn, inputs, exception, message pattern
    (
        "inv_singular",
        lambda a: tracer.linalg.inv(a),
        [[1.0, 2.0], [2.0, 4.0]],
        LinAlgError,
        "singular",
    ),
    (
        "cholesky_not_positive_definite",
        lambda a: tracer.linalg.cholesky(a),
        [[1.0, 2.0], [2.0, 1.0]],
        LinAlgError,
        "leading minor of order 2 is not positive-definite",
    ),
    (
        "solve_singular",
        lambda a: tracer.linalg.solve(a, a[0]),
        [[0.0, 0.0], [0.0, 0.0]],
        LinAlgError,
        "singular",
    ),
    ("inv_not_square", lambda a: tracer.linalg.inv(a), [[1.0, 2.0]], tracer.ShapeError, "square"),
    (
        "det_of_a_vector",
        lambda a: tracer.linalg.det(a),
        [1.0, 2.0],
        tracer.ShapeError,
        "at least 2 dimensions",
    ),
    (
        "einsum_size_mismatch",
        lambda a: tracer.einsum("ij,jk->ik", a, a),
        [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
        tracer.ShapeError,
        "subscript j has size 2 for operand 1",
    ),
    (
        "einsum_operand_count",
        lambda a: tracer.einsum("ij,jk->ik", a),
        [[1.0, 2.0]],
        ValueError,
        "does not match the number of operands",
    ),
    (
        "einsum_bad_subscript",
        lambda a: tracer.einsum("i1->i", a),
        [[1.0, 2.0]],
        ValueError,
        "subscripts to be in range",
    ),
    (
        "einsum_unknown_output",
        lambda a: tracer.einsum("ij->k", a),
        [[1.0, 2.0]],
        ValueError,
        "output subscript k does not appear",
    ),
    (
        "einsum_repeated_sizes",
        lambda a: tracer.einsum("ii->i", a),
        [[1.0, 2.0]],
        tracer.ShapeError,
        "repeated for operand 0",
    ),
    (
        "solve_row_count",
        lambda a: tracer.linalg.solve(a, a[0][:1]),
        [[1.0, 2.0], [3.0, 4.0]],
        tracer.ShapeError,
        "linalg.solve: incompatible shapes",
    ),
    (
        "cholesky_of_integers",
        lambda a: tracer.linalg.cholesky(a.long()),
        [[1.0, 0.0], [0.0, 1.0]],
        tracer.DTypeError,
        "linalg.cholesky: expected a float32 or float64 tensor, got int64",
    ),
    (
        "eigh_not_square",
        lambda a: tracer.linalg.eigh(a),
        [[1.0, 2.0]],
        tracer.ShapeError,
        "linalg.eigh: A must be batches of square matrices",
    ),
    (
        "huber_weight_shape",
        lambda a: F.huber_loss(a, a, weight=a[0]),
        [[1.0, 2.0], [3.0, 4.0]],
        ValueError,
        r"huber_loss: Weights and input must have the same size, got \(2,\) and \(2, 2\)",
    ),
    ("dot_of_matrices", lambda a: a.dot(a), [[1.0]], tracer.ShapeError, "1D tensors expected"),
    ("bmm_of_matrices", lambda a: a.bmm(a), [[1.0]], tracer.ShapeError, "3-D"),
    (
        "cross_entropy_smoothing_range",
        lambda a: F.cross_entropy(a, tracer.tensor([0]), label_smoothing=1.5),
        [[1.0, 2.0]],
        ValueError,
        "label_smoothing",
    ),
    (
        "bce_logits_shapes",
        lambda a: F.binary_cross_entropy_with_logits(a, a[0]),
        [[1.0, 2.0]],
        ValueError,
        "must be the same as input size",
    ),
]


@pytest.mark.parametrize("mode", ["eager", "interpreted"])
@pytest.mark.parametrize("name,fn,x,exc,match", ERRORS, ids=[c[0] for c in ERRORS])
def test_errors_name_the_problem(mode, name, fn, x, exc, match, monkeypatch):
    a = t64(x)
    if mode == "interpreted":
        monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
        fn = tracer.trace(fn)
    with pytest.raises(exc, match=match) as info:
        fn(a)
    assert "Sym" not in str(info.value)


@pytest.mark.jit
def test_compiled_lapack_error_names_the_op_and_the_line(monkeypatch):
    monkeypatch.delenv("TRACER_DISABLE_JIT", raising=False)

    def invert(a):
        return tracer.linalg.inv(a) * 2

    f = tracer.trace(invert)
    np.testing.assert_allclose(f(t64([[2.0, 0.0], [0.0, 4.0]])).numpy(), [[1.0, 0.0], [0.0, 0.5]])
    with pytest.raises(LinAlgError, match=r"linalg.inv: .*singular(.|\n)*traced at .*test_linalg"):
        f(t64([[1.0, 2.0], [2.0, 4.0]]))


@pytest.mark.parametrize(
    "name,fn",
    [("cholesky", lambda a: a.cholesky()), ("qr", lambda a: tracer.qr(a))],
)
def test_deprecated_spellings_warn_as_pytorch_does(name, fn):
    a = t64([[2.0, 1.0], [1.0, 2.0]])
    with pytest.warns(UserWarning, match=f"torch.{name} is deprecated in favor of torch.linalg"):
        fn(a)


def test_qr_without_q_is_not_differentiable():
    a = t64([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]]).requires_grad_()
    r = tracer.linalg.qr(a, mode="r").R
    with pytest.raises(ValueError, match="mode='r'"):
        r.sum().backward()


@pytest.mark.jit
def test_compiled_kernels_call_blas_and_lapack(monkeypatch):
    monkeypatch.delenv("TRACER_DISABLE_JIT", raising=False)

    def f(a, b):
        return tracer.einsum("bij,bjk->bik", a, b).sum() + tracer.linalg.slogdet(a[0])[1]

    a, b = t64(np.eye(3)[None] * 2 + 0.1), t64(np.ones((1, 3, 2)))
    vg = tracer.value_and_grad(f)
    value, grad = vg(a, b)
    source = vg.source(a, b)
    # the matmul is BLAS (from njit code, or numpy's np.dot where that is unavailable)
    blas = "gemm(" in source or "np.dot(" in source
    assert blas and "from runtime.lapack import slogdet" in source
    x = a.detach().requires_grad_()
    expected = f(x, b)
    expected.backward()
    np.testing.assert_allclose(value.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad.numpy(), x.grad.numpy(), rtol=1e-12)


# ---- loss modules --------------------------------------------------------------------------

X, Y = np.array([[0.2, -1.0, 0.5], [1.5, 0.3, -0.7]]), np.array([[0.3, 0.9, 0.5], [0.1, 0.6, 0.2]])
MODULES = [
    (nn.L1Loss(reduction="sum"), lambda x, y: F.l1_loss(x, y, reduction="sum"), "pair"),
    (nn.SmoothL1Loss(beta=0.5), lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), "pair"),
    (nn.HuberLoss(delta=0.3), lambda x, y: F.huber_loss(x, y, delta=0.3), "pair"),
    (nn.BCELoss(weight=t64([1.0, 2.0, 3.0])), None, "probs"),
    (nn.BCEWithLogitsLoss(pos_weight=t64([2.0, 1.0, 0.5])), None, "pair"),
    (
        nn.KLDivLoss(reduction="batchmean"),
        lambda x, y: F.kl_div(x, y, reduction="batchmean"),
        "pair",
    ),
    (nn.PoissonNLLLoss(full=True), lambda x, y: F.poisson_nll_loss(x, y, full=True), "pair"),
    (nn.SoftMarginLoss(), lambda x, y: F.soft_margin_loss(x, y), "pair"),
    (nn.HingeEmbeddingLoss(margin=0.5), lambda x, y: F.hinge_embedding_loss(x, y, 0.5), "pair"),
    (nn.MultiLabelSoftMarginLoss(), lambda x, y: F.multilabel_soft_margin_loss(x, y), "pair"),
    (
        nn.CrossEntropyLoss(weight=t64([1.0, 2.0, 3.0]), label_smoothing=0.1),
        lambda x, y: F.cross_entropy(x, y, weight=t64([1.0, 2.0, 3.0]), label_smoothing=0.1),
        "pair",
    ),
    (nn.NLLLoss(weight=t64([1.0, 2.0, 3.0])), None, "labels"),
    (nn.GaussianNLLLoss(full=True), None, "triple"),
    (nn.CosineEmbeddingLoss(margin=0.1), None, "triple"),
    (nn.MarginRankingLoss(margin=0.2), None, "triple"),
    (nn.TripletMarginLoss(margin=0.5, p=1.0), None, "triple"),
]


@pytest.mark.parametrize("module,fn,kind", MODULES, ids=[type(m[0]).__name__ for m in MODULES])
def test_loss_modules_compute_their_functional(module, fn, kind):
    x, y = t64(X), t64(Y)
    if kind == "probs":
        got, want = (
            module(t64(Y), x.sigmoid()),
            F.binary_cross_entropy(t64(Y), x.sigmoid(), weight=t64([1.0, 2.0, 3.0])),
        )
    elif kind == "labels":
        labels = tracer.tensor([2, 0])
        got = module(x.log_softmax(1), labels)
        want = F.nll_loss(x.log_softmax(1), labels, weight=t64([1.0, 2.0, 3.0]))
    elif kind == "triple":
        name = type(module).__name__
        third = {
            "GaussianNLLLoss": t64(Y + 0.5),
            "CosineEmbeddingLoss": tracer.tensor([1, -1]),
            "MarginRankingLoss": t64(np.sign(Y - 0.5)),
            "TripletMarginLoss": t64(X * 2),
        }[name]
        got = module(x, y, third)
        want = {
            "GaussianNLLLoss": lambda: F.gaussian_nll_loss(x, y, third, full=True),
            "CosineEmbeddingLoss": lambda: F.cosine_embedding_loss(x, y, third, margin=0.1),
            "MarginRankingLoss": lambda: F.margin_ranking_loss(x, y, third, margin=0.2),
            "TripletMarginLoss": lambda: F.triplet_margin_loss(x, y, third, margin=0.5, p=1.0),
        }[name]()
    elif fn is None:  # BCEWithLogitsLoss
        got = module(x, y)
        want = F.binary_cross_entropy_with_logits(x, y, pos_weight=t64([2.0, 1.0, 0.5]))
    else:
        target = y if type(module).__name__ != "CrossEntropyLoss" else tracer.tensor([2, 0])
        if type(module).__name__ in ("SoftMarginLoss", "HingeEmbeddingLoss"):
            target = t64(np.sign(Y - 0.5))
        got, want = module(x, target), fn(x, target)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    assert got.grad_fn is None or got.grad_fn.name() == want.grad_fn.name()


def test_weighted_loss_modules_keep_their_weight_as_a_buffer():
    m = nn.CrossEntropyLoss(weight=t64([1.0, 2.0]))
    assert list(m.state_dict()) == ["weight"]
    assert "pos_weight" in nn.BCEWithLogitsLoss(pos_weight=t64([1.0])).state_dict()


# ---- einsum's node names (PyTorch as an optional oracle) -------------------------------------

EQUATIONS = [
    ("i,j->", [(3,), (4,)]),
    ("ij,k->i", [(3, 4), (5,)]),
    ("ij,jk->ik", [(3, 1), (1, 5)]),
    ("i,ij,j->", [(3,), (3, 4), (4,)]),
    ("ij,jk,ik->ik", [(3, 4), (4, 5), (3, 5)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("iji->j", [(2, 3, 2)]),
    ("ij,ji->", [(3, 4), (4, 3)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("ij,ij,ij->", [(3, 4), (3, 4), (3, 4)]),
    ("ij,j->ij", [(3, 4), (4,)]),
    ("ij,jk->ik", [(0, 4), (4, 5)]),
    ("...ij->...ji", [(2, 3, 4)]),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 5), (5, 6)]),
]


@pytest.mark.parametrize("eq,shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_values_gradients_and_node_names_match_pytorch(eq, shapes):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [t64(a).requires_grad_() for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = tracer.einsum(eq, *ours), torch.einsum(eq, *theirs)
    assert out.grad_fn.name() == type(ref.grad_fn).__name__
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    v = rng.standard_normal(tuple(ref.shape))
    out.backward(t64(v))
    ref.backward(torch.tensor(v))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-12)
