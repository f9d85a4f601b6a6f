"""Spec rows of the linear-algebra family: products, einsum, tensordot, kron, cross,
the matrix functions of `tracer.linalg`, the distances, and the losses of
`tracer.nn.functional`.

Matrices are drawn well-conditioned for finite differences: near 2 I for inverses and
solves, symmetric positive-definite for Cholesky, with well-separated eigenvalues or
singular values for eigh and svd. Rows of functions that read one triangle (cholesky,
eigh) symmetrize their input first, so that finite differences over all entries see
the function PyTorch's symmetric gradient describes; rows of eigenvectors and
singular vectors return sign-invariant quantities (V V^T-like products).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from opspecs import INTS, A, F, S, indices, labels, lib, positive, real

# ---- domains ---------------------------------------------------------------------------


def _cholesky_quietly(a: Any) -> Any:
    """a.cholesky() without its deprecation warning (tests/tracer/test_linalg_losses.py
    checks the warning)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "torch.cholesky is deprecated", UserWarning)
        return a.cholesky()


def binary(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """0.0 or 1.0 targets in the dtype under test: a float64 target would promote a
    float32 row's loss to float64 with float32 intermediates, which eager and fused
    kernels round in different places (1e-8 apart, beyond float64 tolerances)."""
    return rng.integers(0, 2, shape).astype(np.float64)


def wellcond(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """2 I + entries in [-0.4, 0.4]: condition numbers below 3 or so."""
    n = shape[-1]
    return 2 * np.eye(n) + rng.uniform(-0.4, 0.4, shape)


def spd(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Symmetric positive-definite, eigenvalues in about [1, 4]."""
    m = rng.uniform(-0.5, 0.5, shape)
    return m @ np.swapaxes(m, -1, -2) + np.eye(shape[-1]) * (1 + shape[-1] * 0.1)


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def spread_sym(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Symmetric with eigenvalues 1, 2, 3, ... (times -1 for odd ones): gaps >= 1."""
    n = shape[-1]
    out = np.empty(shape)
    for b in np.ndindex(*shape[:-2]):
        q = _orthogonal(rng, n)
        lam = np.arange(1, n + 1) * np.where(np.arange(n) % 2, -1.0, 1.0)
        out[b] = (q * lam) @ q.T
    return out


def spread(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Singular values 1, 2, 3, ...: no ties, none near zero."""
    m, n = shape[-2:]
    k = min(m, n)
    out = np.empty(shape)
    for b in np.ndindex(*shape[:-2]):
        u, v = _orthogonal(rng, m)[:, :k], _orthogonal(rng, n)[:, :k]
        out[b] = (u * np.arange(1, k + 1)) @ v.T
    return out


def pm_one(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def unit_open(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """(0.1, 0.9): probabilities away from 0 and 1."""
    return rng.uniform(0.1, 0.9, shape)


def prob_rows(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Rows of probabilities along dim 1 (soft labels)."""
    e = rng.uniform(0.2, 1.0, shape)
    return e / e.sum(axis=1, keepdims=True)


# ---- numpy references ---------------------------------------------------------------------


def sym(a: Any) -> Any:
    return (a + a.mT) * 0.5 if hasattr(a, "mT") else (a + np.swapaxes(a, -1, -2)) * 0.5


def _einsum_ref(eq: str):
    return lambda *xs: np.einsum(eq, *xs)


def _cdist_ref(p: float):
    def ref(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
        d = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
        if p == 0:
            return (d != 0).sum(-1).astype(float)
        if p == np.inf:
            return d.max(-1)
        return (d**p).sum(-1) ** (1 / p)

    return ref


def _kron_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.kron(a, b)


def _cross_ref(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.cross(a, b, axis=axis)


def _pinv_ref(a: np.ndarray) -> np.ndarray:
    return np.linalg.pinv(a)


# ---- loss references (numpy) -----------------------------------------------------------


def _red(loss: np.ndarray, reduction: str) -> np.ndarray:
    return loss if reduction == "none" else loss.mean() if reduction == "mean" else loss.sum()


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _bce_ref(x, y, w=1.0, reduction="mean"):
    return _red(-w * (y * np.log(x) + (1 - y) * np.log1p(-x)), reduction)


def _bce_logits_ref(x, y, w=1.0, pw=1.0, reduction="mean"):
    return _red(w * ((1 - y) * x + (1 + (pw - 1) * y) * _softplus(-x)), reduction)


def _smooth_l1_ref(x, y, beta=1.0, reduction="mean"):
    d = np.abs(x - y)
    return _red(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


def _huber_ref(x, y, delta=1.0, reduction="mean"):
    d = np.abs(x - y)
    return _red(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def _nll_ref(logp, y, w=None, reduction="mean", ignore=-100):
    """(N, C, d...) log-probabilities and (N, d...) labels."""
    logp = np.moveaxis(logp, 1, -1)
    valid = y != ignore
    safe = np.where(valid, y, 0)
    picked = np.take_along_axis(logp, safe[..., None], -1)[..., 0]
    wt = np.ones(logp.shape[-1]) if w is None else np.asarray(w)
    wy = np.where(valid, wt[safe], 0.0)
    loss = -picked * wy
    if reduction == "none":
        return loss
    return loss.sum() / wy.sum() if reduction == "mean" else loss.sum()


def _ce_smooth_ref(x, y, eps, w=None, reduction="mean", ignore=-100):
    logp = _log_softmax(x, 1)
    c = x.shape[1]
    wt = np.ones(c) if w is None else np.asarray(w)
    valid = y != ignore
    shape = [1] * x.ndim
    shape[1] = c
    smooth = np.where(valid, -(logp * wt.reshape(shape)).sum(1), 0.0)
    nll = _nll_ref(logp, y, w, reduction, ignore)
    if reduction == "mean":
        smooth = smooth.sum() / np.where(valid, wt[np.where(valid, y, 0)], 0).sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - eps) * nll + smooth * eps / c


def _ce_soft_ref(x, t, eps=0.0, w=None, reduction="mean"):
    c = x.shape[1]
    t = t * (1 - eps) + eps / c
    shape = [1] * x.ndim
    shape[1] = c
    wt = np.ones(shape) if w is None else np.asarray(w).reshape(shape)
    loss = -(_log_softmax(x, 1) * t * wt).sum(1)
    return _red(loss, reduction) if reduction != "mean" else loss.sum() / (x.size // c)


def _kl_ref(x, t, reduction, log_target=False):
    loss = np.exp(t) * (t - x) if log_target else t * np.log(t) - t * x
    if reduction == "batchmean":
        return loss.sum() / x.shape[0]
    return _red(loss, reduction)


def _poisson_ref(x, t, log_input=True, full=False, reduction="mean", eps=1e-8):
    loss = np.exp(x) - t * x if log_input else x - t * np.log(x + eps)
    if full:
        st = t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t)
        loss = loss + np.where(t > 1, st, 0.0)
    return _red(loss, reduction)


def _gaussian_ref(x, t, v, full=False, reduction="mean"):
    v = v if v.shape == x.shape else v.reshape(v.shape + (1,) * (x.ndim - v.ndim))
    loss = 0.5 * (np.log(v) + (x - t) ** 2 / v)
    if full:
        loss = loss + 0.5 * np.log(2 * np.pi)
    return _red(loss, reduction)


def _cosine_ref(a, b, y, margin=0.0, reduction="mean"):
    cos = (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + 1e-12) * ((b * b).sum(-1) + 1e-12))
    loss = np.where(y == 1, 1 - cos, 0.0) + np.where(y == -1, np.maximum(cos - margin, 0), 0.0)
    return _red(loss, reduction)


def _triplet_ref(a, p_, n, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    def dist(u, v):
        return (np.abs(u - v + eps) ** p).sum(-1) ** (1 / p)

    dn = dist(a, n)
    if swap:
        dn = np.minimum(dn, dist(p_, n))
    return _red(np.maximum(margin + dist(a, p_) - dn, 0), reduction)


def _multilabel_ref(x, y, w=1.0, reduction="mean"):
    loss = w * (y * _softplus(-x) + (1 - y) * _softplus(x))
    return _red(loss.sum(-1) / x.shape[-1], reduction)


W3 = [0.2, 1.0, 3.0]


def _w(x: Any, values: list[float] = W3) -> Any:
    """Class weights as a constant of x's library (PyTorch refuses weights that require
    grad; tests/tracer/test_linalg_losses.py checks their gradients)."""
    return lib(x).tensor(values, dtype=x.dtype)


# ---- the rows -----------------------------------------------------------------------------

SPECS = [
    # ---- products ----------------------------------------------------------------------
    S("mv", lambda a, v: a.mv(v), np.matmul, (A((3, 4)), A((4,))), grad_fn="MvBackward0"),
    S(
        "mv_function",
        lambda a, v: lib(a).mv(a, v),
        np.matmul,
        (A((2, 3)), A((3,))),
        grad_fn="MvBackward0",
    ),
    S(
        "bmm",
        lambda a, b: lib(a).bmm(a, b),
        np.matmul,
        (A((2, 3, 4)), A((2, 4, 2))),
        grad_fn="BmmBackward0",
    ),
    S("dot_method", lambda a, b: a.dot(b), np.dot, (A((4,)), A((4,))), grad_fn="DotBackward0"),
    S("vdot", lambda a, b: lib(a).vdot(a, b), np.vdot, (A((4,)), A((4,))), grad_fn="VdotBackward0"),
    S(
        "inner_1d",
        lambda a, b: lib(a).inner(a, b),
        np.inner,
        (A((4,)), A((4,))),
        grad_fn="ViewBackward0",
    ),
    S(
        "inner_nd",
        lambda a, b: a.inner(b),
        np.inner,
        (A((2, 3, 4)), A((2, 4))),
        grad_fn="ViewBackward0",
    ),
    S(
        "inner_0d",
        lambda a, b: lib(a).inner(a, b),
        np.inner,
        (A((3,)), A(())),
        grad_fn="MulBackward0",
    ),
    S(
        "outer",
        lambda a, b: lib(a).outer(a, b),
        np.outer,
        (A((3,)), A((4,))),
        grad_fn="MulBackward0",
    ),
    S("ger", lambda a, b: a.ger(b), np.outer, (A((2,)), A((3,))), grad_fn="MulBackward0"),
    S(
        "addmm",
        lambda c, a, b: lib(c).addmm(c, a, b),
        lambda c, a, b: c + a @ b,
        (A((3, 2)), A((3, 4)), A((4, 2))),
        grad_fn="AddmmBackward0",
    ),
    S(
        "addmm_broadcast_beta_alpha",
        lambda c, a, b: c.addmm(a, b, beta=0.5, alpha=-2.0),
        lambda c, a, b: 0.5 * c + -2.0 * (a @ b),
        (A((2,)), A((3, 4)), A((4, 2))),
        grad_fn="AddmmBackward0",
    ),
    S(
        "addmm_beta_zero",
        lambda c, a, b: lib(c).addmm(c, a, b, beta=0),
        lambda c, a, b: a @ b,
        (A((3, 2)), A((3, 4)), A((4, 2))),
        grad_fn="AddmmBackward0",
    ),
    S(
        "addmv",
        lambda c, a, v: lib(c).addmv(c, a, v, alpha=3),
        lambda c, a, v: c + 3 * (a @ v),
        (A((3,)), A((3, 4)), A((4,))),
        grad_fn="AddmvBackward0",
    ),
    S(
        "addbmm",
        lambda c, a, b: lib(c).addbmm(c, a, b, beta=2),
        lambda c, a, b: 2 * c + (a @ b).sum(0),
        (A((3, 2)), A((4, 3, 5)), A((4, 5, 2))),
        grad_fn="AddbmmBackward0",
    ),
    S(
        "baddbmm",
        lambda c, a, b: c.baddbmm(a, b, alpha=0.5),
        lambda c, a, b: c + 0.5 * (a @ b),
        (A((2, 3, 2)), A((2, 3, 4)), A((2, 4, 2))),
        grad_fn="BaddbmmBackward0",
    ),
    S(
        "int_mm",
        lambda a, b: a.mm(b),
        np.matmul,
        (A((2, 3), indices(-3, 4)), A((3, 2), indices(-3, 4))),
        dtypes=INTS,
    ),
    # ---- einsum --------------------------------------------------------------------------
    *[
        S(
            f"einsum_{name}",
            lambda *xs, eq=eq: lib(xs[0]).einsum(eq, *xs),
            ref[0] if ref else _einsum_ref(eq),
            tuple(A(s) for s in shapes),
            grad_fn=node,
        )
        for name, eq, shapes, node, *ref in [
            ("matmul", "ij,jk->ik", [(3, 4), (4, 2)], "ViewBackward0"),
            ("implicit_output", "ij,jk", [(3, 4), (4, 2)], "ViewBackward0"),
            ("batched_transposed_out", "bij,bkj->bki", [(2, 3, 4), (2, 5, 4)], "ViewBackward0"),
            ("attention", "bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)], "ViewBackward0"),
            ("trace", "ii", [(3, 3)], "SumBackward1"),
            ("diagonal", "ii->i", [(3, 3)], "PermuteBackward0"),
            ("diagonal_of_batch", "bii->bi", [(2, 3, 3)], "PermuteBackward0"),
            ("outer", "i,j->ij", [(3,), (4,)], "MulBackward0"),
            ("transpose", "ij->ji", [(3, 4)], "PermuteBackward0"),
            ("column_sums", "ij->j", [(3, 4)], "SumBackward1"),
            ("hadamard_rows", "ij,ij->i", [(3, 4), (3, 4)], "ViewBackward0"),
            ("three_operands", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)], "ViewBackward0"),
            ("ellipsis_broadcast", "...ij,...jk->...ik", [(2, 3, 4), (4, 2)], "ViewBackward0"),
            ("ellipsis_summed", "...i->i", [(2, 3, 4)], "SumBackward1", lambda x: x.sum((0, 1))),
            ("size_one_broadcasts", "i,i->i", [(3,), (1,)], "MulBackward0"),
            ("repeated_with_other", "iij,jk->ik", [(3, 3, 4), (4, 2)], "ViewBackward0"),
            ("bilinear", "bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)], "ViewBackward0"),
            ("summed_in_one_operand", "ij,k->i", [(3, 4), (2,)], "ViewBackward0"),
        ]
    ],
    S(
        "einsum_sublist",
        lambda a, b: lib(a).einsum(a, [0, 1], b, [1, 2], [0, 2]),
        np.matmul,
        (A((3, 4)), A((4, 2))),
        grad_fn="ViewBackward0",
    ),
    S(
        "einsum_operand_list",
        lambda a, b: lib(a).einsum("i,i->", [a, b]),
        np.dot,
        (A((4,)), A((4,))),
        grad_fn="ViewBackward0",
    ),
    S(
        "einsum_int",
        lambda a, b: lib(a).einsum("ij,j->i", a, b),
        lambda a, b: a @ b,
        (A((2, 3), indices(-3, 4)), A((3,), indices(-3, 4))),
        dtypes=INTS,
    ),
    # ---- tensordot, kron, cross ----------------------------------------------------------
    S(
        "tensordot_int_dims",
        lambda a, b: lib(a).tensordot(a, b, 2),
        lambda a, b: np.tensordot(a, b, 2),
        (A((2, 3, 4)), A((3, 4, 2))),
        grad_fn="ViewBackward0",
    ),
    S(
        "tensordot_dim_lists",
        lambda a, b: lib(a).tensordot(a, b, dims=([0, 2], [2, 0])),
        lambda a, b: np.tensordot(a, b, ([0, 2], [2, 0])),
        (A((2, 3, 4)), A((4, 5, 2))),
        grad_fn="ViewBackward0",
    ),
    S(
        "tensordot_outer",
        lambda a, b: lib(a).tensordot(a, b, dims=0),
        lambda a, b: np.tensordot(a, b, 0),
        (A((3,)), A((2, 2))),
        grad_fn="ViewBackward0",
    ),
    S(
        "kron",
        lambda a, b: lib(a).kron(a, b),
        _kron_ref,
        (A((2, 3)), A((3, 2))),
        grad_fn="UnsafeViewBackward0",
    ),
    S(
        "kron_mixed_rank",
        lambda a, b: a.kron(b),
        _kron_ref,
        (A((3,)), A((2, 2))),
        grad_fn="UnsafeViewBackward0",
    ),
    S(
        "linalg_cross",
        lambda a, b: lib(a).linalg.cross(a, b),
        _cross_ref,
        (A((4, 3)), A((4, 3))),
        grad_fn="LinalgCrossBackward0",
    ),
    S(
        "cross_dim_broadcast",
        lambda a, b: lib(a).cross(a, b, dim=0),
        lambda a, b: np.cross(a, b, axis=0),
        (A((3, 4)), A((3, 1))),
        grad_fn="LinalgCrossBackward0",
    ),
    S(
        "multi_dot",
        lambda a, b, c: lib(a).linalg.multi_dot([a, b, c]),
        lambda a, b, c: a @ b @ c,
        (A((2, 5)), A((5, 3)), A((3, 4))),
        grad_fn="ViewBackward0",
    ),
    S(
        "multi_dot_vectors",
        lambda v, a, b, w: lib(a).linalg.multi_dot([v, a, b, w]),
        lambda v, a, b, w: v @ a @ b @ w,
        (A((3,)), A((3, 4)), A((4, 2)), A((2,))),
        grad_fn="ViewBackward0",
    ),
    *[
        S(
            f"matrix_power_{name}",
            lambda a, n=n: lib(a).linalg.matrix_power(a, n),
            lambda a, n=n: np.linalg.matrix_power(a, n),
            (A(shape, wellcond),),
            grad_fn=node,
        )
        for name, n, shape, node in [
            ("0", 0, (3, 3), "CopyBackwards"),
            ("1", 1, (3, 3), "CloneBackward0"),
            ("3", 3, (3, 3), "MmBackward0"),
            ("5_batched", 5, (2, 3, 3), "UnsafeViewBackward0"),
            ("minus_2", -2, (3, 3), "MmBackward0"),
        ]
    ],
    # ---- inverse, determinants, solve ------------------------------------------------------
    S(
        "linalg_inv",
        lambda a: lib(a).linalg.inv(a),
        np.linalg.inv,
        (A((3, 3), wellcond),),
        grad_fn="LinalgInvExBackward0",
    ),
    S(
        "inverse_batched",
        lambda a: a.inverse(),
        np.linalg.inv,
        (A((2, 3, 3), wellcond),),
        grad_fn="LinalgInvExBackward0",
    ),
    S(
        "linalg_det",
        lambda a: lib(a).linalg.det(a),
        np.linalg.det,
        (A((3, 3), wellcond),),
        grad_fn="LinalgDetBackward0",
    ),
    S(
        "det_batched",
        lambda a: a.det(),
        np.linalg.det,
        (A((2, 4, 4), real),),
        grad_fn="LinalgDetBackward0",
    ),
    S(
        "slogdet_logabsdet",
        lambda a: lib(a).linalg.slogdet(a).logabsdet,
        lambda a: np.linalg.slogdet(a)[1],
        (A((2, 3, 3), real),),
        grad_fn="LinalgSlogdetBackward0",
    ),
    S(
        "slogdet_sign_times_logabs",
        lambda a: lib(a).slogdet(a)[0] * lib(a).slogdet(a)[1],
        lambda a: np.prod(np.linalg.slogdet(a), axis=0),
        (A((3, 3), real),),
        grad_fn="MulBackward0",
    ),
    S(
        "logdet",
        lambda a: lib(a).logdet(a),
        lambda a: np.linalg.slogdet(a)[1],
        (A((3, 3), spd),),
        grad_fn="WhereBackward0",
    ),
    S(
        "linalg_solve",
        lambda a, b: lib(a).linalg.solve(a, b),
        np.linalg.solve,
        (A((3, 3), wellcond), A((3, 2))),
        grad_fn="LinalgSolveExBackward0",
    ),
    S(
        "solve_vector",
        lambda a, b: lib(a).linalg.solve(a, b),
        lambda a, b: np.linalg.solve(a, b),
        (A((3, 3), wellcond), A((3,))),
        grad_fn="LinalgSolveExBackward0",
    ),
    S(
        "solve_batch_broadcast",
        lambda a, b: lib(a).linalg.solve(a, b),
        lambda a, b: np.linalg.solve(a, b),
        (A((2, 3, 3), wellcond), A((3, 2))),
        grad_fn="LinalgSolveExBackward0",
    ),
    S(
        "solve_right",
        lambda a, b: lib(a).linalg.solve(a, b, left=False),
        lambda a, b: b @ np.linalg.inv(a),
        (A((3, 3), wellcond), A((2, 3))),
        grad_fn="LinalgSolveExBackward0",
    ),
    # ---- Cholesky, QR, eigh, SVD -------------------------------------------------------------
    S(
        "linalg_cholesky",
        lambda a: lib(a).linalg.cholesky(sym(a)),
        np.linalg.cholesky,
        (A((3, 3), spd),),
        grad_fn="LinalgCholeskyExBackward0",
    ),
    S(
        "linalg_cholesky_upper_batched",
        lambda a: lib(a).linalg.cholesky(sym(a), upper=True),
        lambda a: np.swapaxes(np.linalg.cholesky(a), -1, -2),
        (A((2, 3, 3), spd),),
        grad_fn="LinalgCholeskyExBackward0",
    ),
    S(
        "cholesky_method",
        _cholesky_quietly,
        np.linalg.cholesky,
        (A((3, 3), spd),),
        grad_fn="CholeskyBackward0",
        no_fd="reads only the lower triangle: its finite differences are not the "
        "symmetric gradient (linalg_cholesky checks it on a symmetrized input)",
    ),
    S(
        "linalg_qr_q",
        lambda a: lib(a).linalg.qr(a).Q,
        lambda a: np.linalg.qr(a)[0],
        (A((4, 3)),),
        grad_fn="LinalgQrBackward0",
    ),
    S(
        "linalg_qr_both",
        lambda a: lib(a).cat([x.reshape(-1) for x in lib(a).linalg.qr(a)]),
        lambda a: np.concatenate([x.reshape(-1) for x in np.linalg.qr(a)]),
        (A((2, 4, 3)),),
        grad_fn="CatBackward0",
    ),
    S(
        "linalg_qr_wide",
        lambda a: lib(a).cat([x.reshape(-1) for x in lib(a).linalg.qr(a)]),
        lambda a: np.concatenate([x.reshape(-1) for x in np.linalg.qr(a)]),
        (A((3, 5)),),
        grad_fn="CatBackward0",
    ),
    S(
        "linalg_qr_complete_square",
        lambda a: lib(a).linalg.qr(a, mode="complete").R,
        lambda a: np.linalg.qr(a, mode="complete")[1],
        (A((3, 3)),),
        grad_fn="LinalgQrBackward0",
    ),
    S(
        "linalg_eigh_values",
        lambda a: lib(a).linalg.eigh(sym(a)).eigenvalues,
        lambda a: np.linalg.eigvalsh(a),
        (A((3, 3), spread_sym),),
        grad_fn="LinalgEighBackward0",
    ),
    S(
        "linalg_eigh_vectors",
        lambda a: (lambda e: e.eigenvectors * e.eigenvectors)(lib(a).linalg.eigh(sym(a))),
        lambda a: np.linalg.eigh(a)[1] ** 2,
        (A((2, 3, 3), spread_sym),),
        grad_fn="MulBackward0",
    ),
    S(
        "linalg_eigh_raw_upper",
        lambda a: (lambda e: e[1] @ e[1].mT * 2 + e[0].sum())(lib(a).linalg.eigh(a, UPLO="U")),
        lambda a: 2 * np.eye(3) + np.linalg.eigvalsh(a, UPLO="U").sum(),
        (A((3, 3), spread_sym),),
        grad_fn="AddBackward0",
        no_fd="reads only the upper triangle: its finite differences are not the "
        "symmetric gradient (checked against PyTorch)",
    ),
    S(
        "linalg_eigvalsh",
        lambda a: lib(a).linalg.eigvalsh(sym(a)),
        np.linalg.eigvalsh,
        (A((4, 4), spread_sym),),
        grad_fn="LinalgEighBackward0",
    ),
    S(
        "linalg_svd_values",
        lambda a: lib(a).linalg.svd(a).S,
        lambda a: np.linalg.svd(a)[1],
        (A((4, 3), spread),),
        grad_fn="LinalgSvdBackward0",
    ),
    S(
        "linalg_svd_polar",
        lambda a: (lambda u, s, vh: u @ vh + s.sum())(*lib(a).linalg.svd(a, full_matrices=False)),
        lambda a: (lambda u, s, vh: u @ vh + s.sum())(*np.linalg.svd(a, full_matrices=False)),
        (A((2, 4, 3), spread),),
        grad_fn="AddBackward0",
    ),
    S(
        "linalg_svd_wide_projectors",
        lambda a: (lambda u, s, vh: lib(a).cat([(u * u).reshape(-1), (vh * vh).reshape(-1)]))(
            *lib(a).linalg.svd(a, full_matrices=False)
        ),
        lambda a: (lambda u, s, vh: np.concatenate([(u * u).reshape(-1), (vh * vh).reshape(-1)]))(
            *np.linalg.svd(a, full_matrices=False)
        ),
        (A((3, 5), spread),),
        grad_fn="CatBackward0",
    ),
    S(
        "linalg_svd_full_matrices",
        lambda a: (lambda u, s, vh: u[:, :3] @ vh * 2)(*lib(a).linalg.svd(a)),
        lambda a: (lambda u, s, vh: u[:, :3] @ vh * 2)(*np.linalg.svd(a)),
        (A((5, 3), spread),),
        grad_fn="MulBackward0",
    ),
    S(
        "linalg_svdvals",
        lambda a: lib(a).linalg.svdvals(a),
        lambda a: np.linalg.svd(a, compute_uv=False),
        (A((3, 5), spread),),
        grad_fn="LinalgSvdBackward0",
    ),
    S(
        "svd_method_polar",
        lambda a: (lambda u, s, v: u @ v.mT)(*a.svd()),
        lambda a: (lambda u, s, vh: u @ vh)(*np.linalg.svd(a, full_matrices=False)),
        (A((4, 3), spread),),
        grad_fn="MmBackward0",
    ),
    # ---- pseudo-inverse, least squares, rank ----------------------------------------------------
    S(
        "linalg_pinv",
        lambda a: lib(a).linalg.pinv(a),
        _pinv_ref,
        (A((4, 3), spread),),
        grad_fn="LinalgPinvBackward0",
    ),
    S(
        "linalg_pinv_wide_batched",
        lambda a: lib(a).linalg.pinv(a),
        _pinv_ref,
        (A((2, 2, 4), spread),),
        grad_fn="LinalgPinvBackward0",
    ),
    S(
        "linalg_pinv_hermitian",
        lambda a: lib(a).linalg.pinv(sym(a), hermitian=True),
        _pinv_ref,
        (A((3, 3), spread_sym),),
        grad_fn="LinalgPinvBackward0",
    ),
    S(
        "pinverse",
        lambda a: a.pinverse(),
        _pinv_ref,
        (A((3, 4), spread),),
        grad_fn="LinalgPinvBackward0",
    ),
    S(
        "linalg_lstsq_solution",
        lambda a, b: lib(a).linalg.lstsq(a, b).solution,
        lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
        (A((5, 3), spread), A((5, 2))),
        grad_fn="LinalgLstsqBackward0",
    ),
    S(
        "linalg_lstsq_vector_gelsd",
        lambda a, b: lib(a).linalg.lstsq(a, b, driver="gelsd").solution,
        lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
        (A((5, 3), spread), A((5,))),
        grad_fn="LinalgLstsqBackward0",
    ),
    S(
        "linalg_lstsq_residuals",
        lambda a, b: lib(a).linalg.lstsq(a, b, driver="gelsd").residuals,
        lambda a, b: np.linalg.lstsq(a, b, rcond=None)[1],
        (A((5, 3), spread), A((5, 2))),
        grad_fn="LinalgLstsqBackward0",
    ),
    S(
        "linalg_lstsq_underdetermined_batched",
        lambda a, b: lib(a).linalg.lstsq(a, b, driver="gelss").solution,
        lambda a, b: np.stack([np.linalg.lstsq(x, y, rcond=None)[0] for x, y in zip(a, b)]),
        (A((2, 3, 4), spread), A((2, 3, 2))),
        grad_fn="LinalgLstsqBackward0",
    ),
    S(
        "linalg_matrix_rank",
        lambda a: lib(a).linalg.matrix_rank(a[..., :1] * a[..., :1, :]),
        lambda a: np.linalg.matrix_rank(a[..., :1] * a[..., :1, :]),
        (A((2, 3, 4), spread),),
    ),
    # ---- distances ---------------------------------------------------------------------------
    *[
        S(
            f"cdist_p{name}",
            lambda a, b, p=p: lib(a).cdist(a, b, p=p),
            _cdist_ref(p),
            (A((4, 3)), A((5, 3))),
            grad_fn="CdistBackward0",
        )
        for name, p in [("2", 2.0), ("1", 1.0), ("3", 3.0), ("0_5", 0.5), ("inf", np.inf)]
    ],
    S(
        "cdist_p0",
        lambda a, b: lib(a).cdist(a, b, p=0),
        _cdist_ref(0),
        (A((3, 2)), A((2, 2))),
        grad_fn="CdistBackward0",
    ),
    S(
        "cdist_batch_broadcast",
        lambda a, b: lib(a).cdist(a, b),
        _cdist_ref(2),
        (A((2, 3, 4)), A((5, 4))),
        grad_fn="CdistBackward0",
    ),
    S(
        "cdist_matrix_product_mode",
        lambda a, b: lib(a).cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
        _cdist_ref(2),
        (A((3, 2)), A((4, 2))),
        grad_fn="ViewBackward0",
    ),
    *[
        S(
            f"dist_p{name}",
            lambda a, b, p=p: lib(a).dist(a, b, p),
            lambda a, b, p=p: _cdist_ref(p)((a - b).reshape(1, -1), np.zeros((1, (a - b).size)))[
                0, 0
            ],
            (A((3, 4)), A((4,))),
            grad_fn="DistBackward0",
        )
        for name, p in [("2", 2), ("1", 1), ("3_5", 3.5), ("inf", float("inf"))]
    ],
    # ---- losses ----------------------------------------------------------------------------
    *[
        S(
            f"F_binary_cross_entropy_{r}",
            lambda x, y, r=r: F(x).binary_cross_entropy(x, y, reduction=r),
            lambda x, y, r=r: _bce_ref(x, y, reduction=r),
            (A((3, 4), unit_open), A((3, 4), unit_open)),
            grad_fn="BinaryCrossEntropyBackward0",
        )
        for r in ("mean", "none")
    ],
    S(
        "F_binary_cross_entropy_weighted_sum",
        lambda x, y: F(x).binary_cross_entropy(x, y, weight=_w(x), reduction="sum"),
        lambda x, y: _bce_ref(x, y, np.array(W3), reduction="sum"),
        (A((2, 3), unit_open), A((2, 3), unit_open)),
        grad_fn="BinaryCrossEntropyBackward0",
    ),
    *[
        S(
            f"F_binary_cross_entropy_with_logits_{r}",
            lambda x, y, r=r: F(x).binary_cross_entropy_with_logits(x, y, reduction=r),
            lambda x, y, r=r: _bce_logits_ref(x, y, reduction=r),
            (A((3, 4)), A((3, 4), unit_open)),
            grad_fn="BinaryCrossEntropyWithLogitsBackward0",
        )
        for r in ("mean", "none")
    ],
    S(
        "F_binary_cross_entropy_with_logits_weights_sum",
        lambda x, y: F(x).binary_cross_entropy_with_logits(
            x, y, weight=_w(x, [2.0, 0.5]).reshape(2, 1), pos_weight=_w(x), reduction="sum"
        ),
        lambda x, y: _bce_logits_ref(x, y, np.array([[2.0], [0.5]]), np.array(W3), reduction="sum"),
        (A((2, 3)), A((2, 3), unit_open)),
        grad_fn="BinaryCrossEntropyWithLogitsBackward0",
    ),
    S(
        "F_binary_cross_entropy_with_logits_large",
        lambda x, y: F(x).binary_cross_entropy_with_logits(x * 60, y, reduction="none"),
        lambda x, y: _bce_logits_ref(x * 60, y, reduction="none"),
        (A((5,)), A((5,), unit_open)),
        grad_fn="BinaryCrossEntropyWithLogitsBackward0",
    ),
    *[
        S(
            f"F_l1_loss_{r}",
            lambda x, y, r=r: F(x).l1_loss(x, y, reduction=r),
            lambda x, y, r=r: _red(np.abs(x - y), r),
            (A((3, 4)), A((3, 4))),
            grad_fn=node,
        )
        for r, node in (("mean", "MeanBackward0"), ("none", "AbsBackward0"))
    ],
    S(
        "F_smooth_l1_loss",
        lambda x, y: F(x).smooth_l1_loss(x, y),
        _smooth_l1_ref,
        (A((3, 4)), A((3, 4))),
        grad_fn="SmoothL1LossBackward0",
    ),
    S(
        "F_smooth_l1_loss_beta_sum",
        lambda x, y: F(x).smooth_l1_loss(x, y, reduction="sum", beta=0.5),
        lambda x, y: _smooth_l1_ref(x, y, 0.5, "sum"),
        (A((3, 4)), A((3, 4))),
        grad_fn="SmoothL1LossBackward0",
    ),
    S(
        "F_smooth_l1_loss_beta_zero",
        lambda x, y: F(x).smooth_l1_loss(x, y, reduction="none", beta=0.0),
        lambda x, y: np.abs(x - y),
        (A((4,)), A((4,))),
        grad_fn="AbsBackward0",
    ),
    S(
        "F_huber_loss",
        lambda x, y: F(x).huber_loss(x, y),
        _huber_ref,
        (A((3, 4)), A((3, 4))),
        grad_fn="HuberLossBackward0",
    ),
    S(
        "F_huber_loss_delta_none",
        lambda x, y: F(x).huber_loss(x, y, reduction="none", delta=0.5),
        lambda x, y: _huber_ref(x, y, 0.5, "none"),
        (A((3, 4)), A((3, 4))),
        grad_fn="HuberLossBackward0",
    ),
    S(
        "F_huber_loss_weighted",
        lambda x, y, w: F(x).huber_loss(x, y, reduction="sum", weight=w),
        lambda x, y, w: (w * _huber_ref(x, y, 1.0, "none")).sum(),
        (A((3, 4)), A((3, 4)), A((3, 4), positive)),
        grad_fn="SumBackward0",
    ),
    *[
        S(
            f"F_kl_div_{r}",
            lambda x, t, r=r: F(x).kl_div(x, t, reduction=r),
            lambda x, t, r=r: _kl_ref(x, t, r),
            (A((3, 4)), A((3, 4), positive)),
            grad_fn=node,
        )
        for r, node in (("batchmean", "DivBackward0"), ("none", "SubBackward0"))
    ],
    S(
        "F_kl_div_log_target_sum",
        lambda x, t: F(x).kl_div(x, t, reduction="sum", log_target=True),
        lambda x, t: _kl_ref(x, t, "sum", True),
        (A((3, 4)), A((3, 4))),
        grad_fn="SumBackward0",
    ),
    S(
        "F_poisson_nll_loss",
        lambda x, t: F(x).poisson_nll_loss(x, t),
        _poisson_ref,
        (A((3, 4)), A((3, 4), positive)),
        grad_fn="MeanBackward0",
    ),
    S(
        "F_poisson_nll_loss_full_rates",
        lambda x, t: F(x).poisson_nll_loss(x, t * 2, log_input=False, full=True, reduction="none"),
        lambda x, t: _poisson_ref(x, t * 2, False, True, "none"),
        (A((3, 4), positive), A((3, 4), positive)),
        grad_fn="AddBackward0",
    ),
    S(
        "F_gaussian_nll_loss",
        lambda x, t, v: F(x).gaussian_nll_loss(x, t, v),
        _gaussian_ref,
        (A((3, 4)), A((3, 4)), A((3, 4), positive)),
        grad_fn="MeanBackward0",
    ),
    S(
        "F_gaussian_nll_loss_one_var_per_sample_full",
        lambda x, t, v: F(x).gaussian_nll_loss(x, t, v, full=True, reduction="none"),
        lambda x, t, v: _gaussian_ref(x, t, v, True, "none"),
        (A((3, 4)), A((3, 4)), A((3,), positive)),
        grad_fn="AddBackward0",
    ),
    S(
        "F_cosine_embedding_loss",
        lambda a, b, y: F(a).cosine_embedding_loss(a, b, y),
        _cosine_ref,
        (A((4, 3)), A((4, 3)), A((4,), pm_one, dtype="int64")),
        grad_fn="MeanBackward0",
    ),
    S(
        "F_cosine_embedding_loss_margin_none",
        lambda a, b, y: F(a).cosine_embedding_loss(a, b, y, margin=-0.5, reduction="none"),
        lambda a, b, y: _cosine_ref(a, b, y, -0.5, "none"),
        (A((4, 3)), A((4, 3)), A((4,), pm_one, dtype="int64")),
        grad_fn="AddBackward0",
    ),
    S(
        "F_margin_ranking_loss",
        lambda a, b, y: F(a).margin_ranking_loss(a, b, y, margin=0.5),
        lambda a, b, y: np.maximum(-y * (a - b) + 0.5, 0).mean(),
        (A((5,)), A((5,)), A((5,), pm_one, dtype="int64")),
        grad_fn="MeanBackward0",
    ),
    S(
        "F_margin_ranking_loss_none",
        lambda a, b, y: F(a).margin_ranking_loss(a, b, y, reduction="none"),
        lambda a, b, y: np.maximum(-y * (a - b), 0),
        (A((5,)), A((5,)), A((5,), pm_one, dtype="int64")),
        grad_fn="ClampMinBackward0",
    ),
    *[
        S(
            f"F_soft_margin_loss_{r}",
            lambda x, y, r=r: F(x).soft_margin_loss(x * 20, y, reduction=r),
            lambda x, y, r=r: _red(_softplus(-y * x * 20), r),
            (A((3, 4)), A((3, 4), pm_one, dtype="int64")),
            grad_fn="SoftMarginLossBackward0",
        )
        for r in ("mean", "none")
    ],
    S(
        "F_hinge_embedding_loss",
        lambda x, y: F(x).hinge_embedding_loss(x, y, margin=0.5, reduction="none"),
        lambda x, y: np.where(y == 1, x, np.maximum(0.5 - x, 0)),
        (A((3, 4)), A((3, 4), pm_one, dtype="int64")),
        grad_fn="AddBackward0",
    ),
    S(
        "F_multilabel_soft_margin_loss",
        lambda x, y: F(x).multilabel_soft_margin_loss(x, y),
        _multilabel_ref,
        (A((4, 3)), A((4, 3), binary)),
        grad_fn="MeanBackward0",
    ),
    S(
        "F_multilabel_soft_margin_loss_weighted_none",
        lambda x, y: F(x).multilabel_soft_margin_loss(x, y, weight=_w(x), reduction="none"),
        lambda x, y: _multilabel_ref(x, y, np.array(W3), "none"),
        (A((4, 3)), A((4, 3), binary)),
        grad_fn="DivBackward0",
    ),
    S(
        "F_triplet_margin_loss",
        lambda a, p, n: F(a).triplet_margin_loss(a, p, n),
        _triplet_ref,
        (A((4, 3)), A((4, 3)), A((4, 3))),
        grad_fn="MeanBackward0",
    ),
    S(
        "F_triplet_margin_loss_p1_swap_none",
        lambda a, p, n: F(a).triplet_margin_loss(a, p, n, p=1, swap=True, reduction="none"),
        lambda a, p, n: _triplet_ref(a, p, n, p=1, swap=True, reduction="none"),
        (A((4, 3)), A((4, 3)), A((4, 3))),
        grad_fn="ClampMinBackward0",
    ),
    # ---- cross_entropy and nll_loss: weights, smoothing, soft labels, (N, C, d1, ...) -----
    S(
        "F_cross_entropy_label_smoothing",
        lambda x, y: F(x).cross_entropy(x, y, label_smoothing=0.1),
        lambda x, y: _ce_smooth_ref(x, y, 0.1),
        (A((4, 3)), A((4,), labels(3))),
        grad_fn="AddBackward0",
    ),
    S(
        "F_cross_entropy_weight_ignore_index",
        lambda x, y: F(x).cross_entropy(x, y, weight=_w(x), ignore_index=1),
        lambda x, y: _nll_ref(_log_softmax(x, 1), y, W3, "mean", 1),
        (A((5, 3)), A((5,), labels(3, ignore=1))),
        grad_fn="NllLossBackward0",
    ),
    S(
        "F_cross_entropy_weight_smoothing_sum",
        lambda x, y: F(x).cross_entropy(
            x, y, weight=_w(x), reduction="sum", label_smoothing=0.2, ignore_index=2
        ),
        lambda x, y: _ce_smooth_ref(x, y, 0.2, W3, "sum", 2),
        (A((5, 3)), A((5,), labels(3, ignore=2))),
        grad_fn="AddBackward0",
    ),
    S(
        "F_cross_entropy_weight_smoothing_mean",
        lambda x, y: F(x).cross_entropy(x, y, weight=_w(x), label_smoothing=0.3, ignore_index=0),
        lambda x, y: _ce_smooth_ref(x, y, 0.3, W3, "mean", 0),
        (A((5, 3)), A((5,), labels(3, ignore=0))),
        grad_fn="AddBackward0",
    ),
    S(
        "F_cross_entropy_1d_label_smoothing",
        lambda x, y: F(x).cross_entropy(x, y, label_smoothing=0.1),
        lambda x, y: _ce_smooth_ref(x[None], y[None], 0.1),
        (A((3,)), A((), labels(3))),
        grad_fn="AddBackward0",
    ),
    *[
        S(
            f"F_cross_entropy_probabilities_{r}",
            lambda x, t, r=r: F(x).cross_entropy(x, t, reduction=r),
            lambda x, t, r=r: _ce_soft_ref(x, t, reduction=r),
            (A((4, 3)), A((4, 3), prob_rows)),
            grad_fn=node,
        )
        for r, node in (("mean", "DivBackward1"), ("sum", "NegBackward0"), ("none", "NegBackward0"))
    ],
    S(
        "F_cross_entropy_probabilities_weight_smoothing_nd",
        lambda x, t: F(x).cross_entropy(x, t, weight=_w(x), label_smoothing=0.1),
        lambda x, t: _ce_soft_ref(x, t, 0.1, W3),
        (A((2, 3, 4)), A((2, 3, 4), prob_rows)),
        grad_fn="DivBackward1",
    ),
    S(
        "F_cross_entropy_nd_ignore_index",
        lambda x, y: F(x).cross_entropy(x, y, ignore_index=2),
        lambda x, y: _nll_ref(_log_softmax(x, 1), y, None, "mean", 2),
        (A((2, 3, 4, 2)), A((2, 4, 2), labels(3, ignore=2))),
        grad_fn="NllLoss2DBackward0",
    ),
    S(
        "F_cross_entropy_3d_none",
        lambda x, y: F(x).cross_entropy(x, y, reduction="none"),
        lambda x, y: _nll_ref(_log_softmax(x, 1), y, None, "none"),
        (A((2, 3, 4)), A((2, 4), labels(3))),
        grad_fn="ViewBackward0",
    ),
    S(
        "F_nll_loss_4d_none_weighted",
        lambda x, y: F(x).nll_loss(x, y, weight=_w(x), reduction="none"),
        lambda x, y: _nll_ref(x, y, W3, "none"),
        (A((2, 3, 2, 2)), A((2, 2, 2), labels(3))),
        grad_fn="NllLoss2DBackward0",
    ),
    S(
        "F_nll_loss_weight_ignore_mean",
        lambda x, y: F(x).nll_loss(x, y, _w(x), ignore_index=0),
        lambda x, y: _nll_ref(x, y, W3, "mean", 0),
        (A((6, 3)), A((6,), labels(3, ignore=0))),
        grad_fn="NllLossBackward0",
    ),
    S(
        "F_nll_loss_nd_weighted_sum",
        lambda x, y: F(x).nll_loss(x, y, weight=_w(x), reduction="sum"),
        lambda x, y: _nll_ref(x, y, W3, "sum"),
        (A((2, 3, 5)), A((2, 5), labels(3))),
        grad_fn="NllLoss2DBackward0",
    ),
]
