"""Matrix functions computed by LAPACK: inverse, determinants, solve, Cholesky, QR,
eigh, SVD, pseudo-inverse and least squares.

Each is one op whose numerics live in `runtime.lapack` (numpy's LAPACK), called
eagerly by the impl and, in compiled code, from the kernel's plain-Python entry
(`compiler.kernels.host_call`). The VJP rules are PyTorch's documented formulas,
written with Operand methods (so they run eagerly, staged, and to second order):

* inv: -A^{-T} g A^{-T}. det: g times the cofactor matrix, det A^{-T} where det != 0
  and, for singular matrices, U diag(prod_{j != i} s_j) V^T det(U) det(V) from the SVD
  (PyTorch gives 0 there for some matrices, e.g. [[1, 2], [2, 4]], whose cofactor
  matrix is [[4, -2], [-2, 1]]).
* cholesky, eigh: symmetric gradients, as PyTorch's (the input is taken to be
  symmetric; only one triangle is read).
* eigh, svd: the terms 1 / (l_j - l_i) are infinite for repeated eigenvalues or
  singular values: the gradient is then inf or nan unless the eigenvectors'
  (singular vectors') cotangent is zero there, as PyTorch documents; with a zero
  cotangent (eigvalsh, svdvals) it stays finite.
* qr: for mode='reduced' (or m <= n); mode='r' and mode='complete' with m > n are
  not differentiable (an error, as PyTorch).
* pinv, lstsq: the derivative of the pseudo-inverse at constant rank (Golub and
  Pereyra, 1973).
"""

from __future__ import annotations

from typing import Any

from compiler import dtypes, kernels
from compiler.dispatch import apply
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Kernel
from compiler.ops.elementwise import broadcast_shapes, chain, drop, keep
from compiler.ops.linalg import diag_embed, eye_mask, tril_mask
from compiler.registry import AVal, Op, register, save_none
from runtime import lapack


def _check_float(op: str, *xs: AVal) -> None:
    for x in xs:
        if x.dtype not in (dtypes.float32, dtypes.float64):
            raise DTypeError(
                f"{op}: expected a float32 or float64 tensor, got {x.dtype} (shape "
                f"{tuple(x.shape)}); convert it first with .double() or .float()"
            )
    if len({x.dtype for x in xs}) > 1:
        shown = " and ".join(f"{x.dtype} (shape {tuple(x.shape)})" for x in xs)
        raise DTypeError(f"{op}: expected operands of one dtype, got {shown}; convert with .to()")


def _matrices(op: str, a: AVal, square: bool = False) -> None:
    if a.ndim < 2:
        raise ShapeError(
            f"{op}: expected a matrix or a batch of matrices (at least 2 dimensions), got "
            f"shape {tuple(a.shape)}"
        )
    if square and a.shape[-1] != a.shape[-2]:
        raise ShapeError(
            f"{op}: A must be batches of square matrices, but they are {a.shape[-2]} by "
            f"{a.shape[-1]} matrices (shape {tuple(a.shape)})"
        )
    _check_float(op, a)


def _lapack(fn: str) -> Kernel:
    return Kernel(kernels.host_call(fn), contiguous=kernels.host_ready)


def _checked(abstract_eval: Any, fn: Any) -> Any:
    """An impl that runs the op's shape and dtype rule first (eager mode calls impls
    directly), so a wrong operand gets the op's own error, not LAPACK's."""

    def impl(*arrays: Any, **params: Any) -> Any:
        abstract_eval(*[AVal(a.shape, a.dtype) for a in arrays], **params)
        return fn(*arrays, **params)

    return impl


def _mat(x: Any) -> Any:
    """A batch of scalars (...,) as (..., 1, 1), to scale a batch of matrices."""
    return x.unsqueeze(-1).unsqueeze(-1)


# ---- inverse ------------------------------------------------------------------------------


def _inv_abstract(a: AVal, check_errors: bool) -> tuple[AVal, AVal]:
    _matrices("linalg.inv", a, square=True)
    return AVal(tuple(a.shape), a.dtype), AVal(tuple(a.shape[:-2]), dtypes.int32)


def _inv_vjp(g: Any, out: Any, a: Any, check_errors: bool) -> tuple[Any]:
    inv_t = out[0].mT
    return (-(inv_t @ g[0] @ inv_t),)


def _inv_jvp(t: tuple[Any], out: Any, a: Any, check_errors: bool) -> tuple[Any, None]:
    """d(A^-1) = -A^-1 dA A^-1."""
    return -(out[0] @ t[0] @ out[0]), None


register(
    Op(
        "linalg_inv_ex",
        _inv_abstract,
        _checked(_inv_abstract, lambda a, check_errors: lapack.inv_ex(a, check_errors)),
        _inv_vjp,
        grad_fn="LinalgInvExBackward0",
        lowering=_lapack("inv_ex"),
        multiple_results=True,
        saves=save_none,
        saves_out=True,
        jvp=_inv_jvp,
    )
)


def inv(a: Any) -> Any:
    """A^{-1} that never raises: NaN for a singular matrix (for rules that select it
    away)."""
    return apply("linalg_inv_ex", a, check_errors=False)[0]


# ---- determinants -------------------------------------------------------------------------


def _det_abstract(a: AVal) -> AVal:
    _matrices("linalg.det", a, square=True)
    return AVal(tuple(a.shape[:-2]), a.dtype)


def _shifted(x: Any, d: int, forward: bool) -> Any:
    """x moved d places along the last axis (towards higher indices if `forward`),
    filled with ones."""
    n = x.shape[-1]
    ones = x[..., :d].ones_like()
    if forward:
        return apply("concatenate", ones, x[..., : n - d], axis=x.ndim - 1)
    return apply("concatenate", x[..., d:], ones, axis=x.ndim - 1)


def exclusive_prod(s: Any) -> Any:
    """prod_{j != i} s_j along the last axis, without division (so zeros are fine and
    the result is differentiable everywhere): prefix times suffix products, each a
    log2(n)-step scan."""
    n = s.shape[-1]
    if n == 1:
        return s.ones_like()
    prefix, suffix = _shifted(s, 1, True), _shifted(s, 1, False)
    d = 1
    while d < n:
        prefix = prefix * _shifted(prefix, d, True)
        suffix = suffix * _shifted(suffix, d, False)
        d *= 2
    return prefix * suffix


def cofactor(a: Any, det: Any) -> Any:
    """The cofactor matrix of square `a` (the gradient of det), for singular matrices too:
    det A^{-T} where det != 0, else from the SVD A = U S V^T as det(U) det(V) U diag(prod_
    {j != i} s_j) V^T. Each branch reads a harmless stand-in where it is not selected, so
    neither an inverse of a singular matrix nor an SVD's 1 / (s_j - s_i) reaches the
    result or its gradient there."""
    n = a.shape[-1]
    if n == 0:
        return a.zeros_like()
    eye = eye_mask(a, n)
    regular = _mat(det != 0)
    identity = eye.to(a.dtype)
    invertible = a.where(regular, identity)
    inverse_part = _mat(det) * inv(invertible).mT
    distinct = diag_embed(a.iota((n,), 0, a.dtype) + 1)  # singular values 1..n
    u, s, vh = apply("linalg_svd", distinct.where(regular, a), full_matrices=False)
    sign = (apply("linalg_det", u) * apply("linalg_det", vh)).detach()
    singular_part = _mat(sign) * ((u * exclusive_prod(s).unsqueeze(-2)) @ vh)
    return inverse_part.where(regular, singular_part)


register(
    Op(
        "linalg_det",
        _det_abstract,
        _checked(_det_abstract, lambda a: lapack.det(a)[0]),
        lambda g, out, a: (chain(_mat(g), cofactor(a, out)),),
        grad_fn="LinalgDetBackward0",
        lowering=_lapack("det"),
        saves_out=True,
    )
)


def _slogdet_abstract(a: AVal) -> tuple[AVal, AVal]:
    _matrices("linalg.slogdet", a, square=True)
    batch = AVal(tuple(a.shape[:-2]), a.dtype)
    return batch, batch


register(
    Op(
        "linalg_slogdet",
        _slogdet_abstract,
        _checked(_slogdet_abstract, lambda a: lapack.slogdet(a)),
        # d log|det A| = tr(A^{-1} dA); the sign is locally constant
        lambda g, out, a: (chain(_mat(g[1]), inv(a).mT),),
        grad_fn="LinalgSlogdetBackward0",
        lowering=_lapack("slogdet"),
        multiple_results=True,
        saves_out=True,
    )
)


# ---- solve --------------------------------------------------------------------------------


def _solve_abstract(a: AVal, b: AVal, left: bool) -> AVal:
    _matrices("linalg.solve", a, square=True)
    _matrices("linalg.solve", b)
    _check_float("linalg.solve", a, b)
    n = a.shape[-1]
    if (b.shape[-2] if left else b.shape[-1]) != n:
        raise ShapeError(
            f"linalg.solve: incompatible shapes of A {tuple(a.shape)} and B "
            f"{tuple(b.shape)}: B must have {n} {'rows' if left else 'columns'}"
        )
    batch = broadcast_shapes("linalg.solve (batch dimensions)", a.shape[:-2], b.shape[:-2])
    return AVal(batch + tuple(b.shape[-2:]), a.dtype)


def _solve_vjp(g: Any, out: Any, a: Any, b: Any, left: bool) -> tuple[Any, Any]:
    gb = apply("linalg_solve", a.mT, g, left=left)
    return (-(gb @ out.mT) if left else -(out.mT @ gb)), gb


def _solve_jvp(t: tuple[Any, Any], out: Any, a: Any, b: Any, left: bool) -> Any:
    """From A X = B: A dX = dB - dA X (X A = B: dX A = dB - X dA)."""
    ta, tb = t
    rhs = None if ta is None else -(ta @ out if left else out @ ta)
    rhs = tb if rhs is None else (rhs if tb is None else tb + rhs)
    return apply("linalg_solve", a, rhs, left=left)


register(
    Op(
        "linalg_solve",
        _solve_abstract,
        _checked(_solve_abstract, lambda a, b, left: lapack.solve(a, b, left)[0]),
        _solve_vjp,
        grad_fn="LinalgSolveExBackward0",
        lowering=_lapack("solve"),
        saves=lambda ng: (True, False),
        saves_out=True,
        jvp=_solve_jvp,
    )
)


# ---- Cholesky -----------------------------------------------------------------------------


def _cholesky_abstract(a: AVal, upper: bool) -> AVal:
    _matrices("linalg.cholesky", a, square=True)
    return AVal(tuple(a.shape), a.dtype)


def _cholesky_vjp(g: Any, out: Any, a: Any, upper: bool) -> tuple[Any]:
    low, gl = (out.mT, g.mT) if upper else (out, g)
    n = low.shape[-1]
    phi = keep(low.mT @ gl, tril_mask(low, n))
    phi = (phi * 0.5).where(eye_mask(low, n), phi)
    low_inv = inv(low)
    ga = low_inv.mT @ phi @ low_inv
    return ((ga + ga.mT) * 0.5,)


register(
    Op(
        "linalg_cholesky",
        _cholesky_abstract,
        _checked(_cholesky_abstract, lambda a, upper: lapack.cholesky(a, upper)[0]),
        _cholesky_vjp,
        grad_fn="LinalgCholeskyExBackward0",
        lowering=_lapack("cholesky"),
        saves=save_none,
        saves_out=True,
    )
)


# ---- QR -----------------------------------------------------------------------------------

QR_MODES = ("reduced", "complete", "r")


def _qr_abstract(a: AVal, mode: str) -> tuple[AVal, AVal]:
    _matrices("linalg.qr", a)
    if mode not in QR_MODES:
        raise ValueError(f"linalg.qr: mode must be one of {QR_MODES}, got {mode!r}")
    m, n = a.shape[-2:]
    k = m if mode == "complete" else min(m, n)
    batch = tuple(a.shape[:-2])
    q = AVal((0,), a.dtype) if mode == "r" else AVal(batch + (m, k), a.dtype)
    return q, AVal(batch + (k, n), a.dtype)


def _qr_tall_vjp(gq: Any, gr: Any, q: Any, r: Any) -> Any:
    """A = QR with m >= n: gA = [gQ + Q (triu(M) + tril(M^T, -1))] R^{-T}, with
    M = gR R^T - Q^T gQ (from Q^T dQ skew and dR R^{-1} upper triangular)."""
    n = r.shape[-1]
    m = gr @ r.mT - q.mT @ gq
    strict_lower = tril_mask(m, n, k=-1)
    sym = keep(m, ~strict_lower) + keep(m.mT, strict_lower)
    return apply("linalg_solve", r.mT, gq + q @ sym, left=False)


def _qr_vjp(g: Any, out: Any, a: Any, mode: str) -> tuple[Any]:
    m, n = a.shape[-2:]
    if mode == "r":
        raise ValueError(
            "linalg.qr: the derivative of linalg.qr depends on Q, which is not computed "
            "when mode='r'; use mode='reduced' to differentiate through linalg.qr"
        )
    if mode == "complete" and m > n:
        raise ValueError(
            "linalg.qr: the QR decomposition is not differentiable when mode='complete' "
            f"and the matrices have more rows than columns ({m} > {n}); use mode='reduced'"
        )
    (gq, gr), (q, r) = g, out
    if m >= n:
        return (_qr_tall_vjp(gq, gr, q, r),)
    # A = [X | Y] with X = QU square and Y = QV
    y, u = a[..., m:], r[..., :m]
    gu, gv = gr[..., :m], gr[..., m:]
    gx = _qr_tall_vjp(gq + y @ gv.mT, gu, q, u)
    return (apply("concatenate", gx, q @ gv, axis=a.ndim - 1),)


register(
    Op(
        "linalg_qr",
        _qr_abstract,
        _checked(_qr_abstract, lambda a, mode: lapack.qr(a, mode)),
        _qr_vjp,
        grad_fn="LinalgQrBackward0",
        lowering=_lapack("qr"),
        multiple_results=True,
        saves_out=True,
    )
)


# ---- eigh and SVD -------------------------------------------------------------------------


def _eigh_abstract(a: AVal, UPLO: str) -> tuple[AVal, AVal]:
    _matrices("linalg.eigh", a, square=True)
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    return AVal(tuple(a.shape[:-1]), a.dtype), AVal(tuple(a.shape), a.dtype)


def _pair_quotients(w: Any, x: Any) -> Any:
    """(w_ij - w_ji) / (x_j - x_i): the off-diagonal terms of the eigh and svd VJPs.

    0 on the diagonal, and for every pair the cotangent does not reach (w_ij = w_ji = 0),
    whatever its gap: a loss of the eigenvalues, or of eigenvectors outside a repeated
    eigenvalue's space, has the finite gradient it should. Where x_i = x_j for a pair the
    cotangent reaches, the quotient is inf, or nan when w_ij = w_ji != 0: the limit (if
    any) depends on how the loss reads the degenerate space, which the decomposition
    cannot see (PyTorch gives inf or nan there too, see docs/linalg.md), so no finite
    number is made up. The gap is replaced by 1 where the result is not used, so neither
    this result nor its gradient divides by zero there."""
    n = w.shape[-1]
    unused = eye_mask(w, n) | ((w == 0) & (w.mT == 0))
    gap = apply("where", unused, 1, x.unsqueeze(-2) - x.unsqueeze(-1))
    return drop((w - w.mT) / gap, unused)


def _eigh_vjp(g: Any, out: Any, a: Any, UPLO: str) -> tuple[Any]:
    """gA = V (diag(gL) + skew(V^T gV) / 2 / E) V^T, E_ij = l_j - l_i (symmetric)."""
    (gl, gv), (lam, v) = g, out
    w = v.mT @ gv
    inner = _pair_quotients(w, lam) * 0.5 + diag_embed(gl)
    return (v @ inner @ v.mT,)


register(
    Op(
        "linalg_eigh",
        _eigh_abstract,
        _checked(_eigh_abstract, lambda a, UPLO: lapack.eigh(a, UPLO)),
        _eigh_vjp,
        grad_fn="LinalgEighBackward0",
        lowering=_lapack("eigh"),
        multiple_results=True,
        saves=save_none,
        saves_out=True,
    )
)


def _svd_abstract(a: AVal, full_matrices: bool) -> tuple[AVal, AVal, AVal]:
    _matrices("linalg.svd", a)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = tuple(a.shape[:-2])
    if full_matrices:
        return (
            AVal(batch + (m, m), a.dtype),
            AVal(batch + (k,), a.dtype),
            AVal(batch + (n, n), a.dtype),
        )
    return AVal(batch + (m, k), a.dtype), AVal(batch + (k,), a.dtype), AVal(batch + (k, n), a.dtype)


def _svd_vjp(g: Any, out: Any, a: Any, full_matrices: bool) -> tuple[Any]:
    """gA = U [J S + S K + diag(gS)] V^T + (I - UU^T) gU S^{-1} V^T + U S^{-1} gV^T (I - VV^T),
    J = skew(U^T gU) / E, K = skew(V^T gV) / E, E_ij = s_j^2 - s_i^2."""
    (gu, gs, gvh), (u, s, vh) = g, out
    m, n = a.shape[-2:]
    k = min(m, n)
    if full_matrices:  # the extra columns are arbitrary bases: their cotangents are ignored
        u, gu, vh, gvh = u[..., :k], gu[..., :k], vh[..., :k, :], gvh[..., :k, :]
    v, gv = vh.mT, gvh.mT
    utgu, vtgv = u.mT @ gu, v.mT @ gv
    s2 = s * s
    j = _pair_quotients(utgu, s2) * s.unsqueeze(-2)
    kk = s.unsqueeze(-1) * _pair_quotients(vtgv, s2)
    ga = u @ (j + kk + diag_embed(gs)) @ vh
    inv_s = 1 / s
    if m > k:
        ga = ga + chain(gu - u @ utgu, inv_s.unsqueeze(-2)) @ vh
    if n > k:
        ga = ga + u @ chain((gv - v @ vtgv).mT, inv_s.unsqueeze(-1))
    return (ga,)


register(
    Op(
        "linalg_svd",
        _svd_abstract,
        _checked(_svd_abstract, lambda a, full_matrices: lapack.svd(a, full_matrices)),
        _svd_vjp,
        grad_fn="LinalgSvdBackward0",
        lowering=_lapack("svd"),
        multiple_results=True,
        saves=save_none,
        saves_out=True,
    )
)


# ---- pseudo-inverse and least squares -----------------------------------------------------


def pinv_grad(gp: Any, p: Any, a: Any) -> Any:
    """The VJP of P = pinv(A) at constant rank (from dP = -P dA P + P P^T dA^T (I - A P)
    + (I - P A) dA^T P^T P): -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)."""
    pt, gt = p.mT, gp.mT
    x = gt @ (p @ pt)
    y = (pt @ p) @ gt
    return -(pt @ gp @ pt) + (x - a @ (p @ x)) + (y - (y @ p) @ a)


def _pinv_abstract(a: AVal, atol: float | None, rtol: float | None, hermitian: bool) -> AVal:
    _matrices("linalg.pinv", a, square=hermitian)
    return AVal(tuple(a.shape[:-2]) + (a.shape[-1], a.shape[-2]), a.dtype)


register(
    Op(
        "linalg_pinv",
        _pinv_abstract,
        _checked(
            _pinv_abstract,
            lambda a, atol, rtol, hermitian: lapack.pinv(a, atol, rtol, hermitian)[0],
        ),
        lambda g, out, a, atol, rtol, hermitian: (pinv_grad(g, out, a),),
        grad_fn="LinalgPinvBackward0",
        lowering=_lapack("pinv"),
        saves_out=True,
    )
)

LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _lstsq_abstract(a: AVal, b: AVal, rcond: float | None, driver: str) -> tuple[AVal, ...]:
    _matrices("linalg.lstsq", a)
    _matrices("linalg.lstsq", b)
    _check_float("linalg.lstsq", a, b)
    if driver not in LSTSQ_DRIVERS:
        raise ValueError(f"linalg.lstsq: driver must be one of {LSTSQ_DRIVERS}, got {driver!r}")
    m, n = a.shape[-2:]
    if b.shape[-2] != m:
        raise ShapeError(
            f"linalg.lstsq: A {tuple(a.shape)} and B {tuple(b.shape)} must have the same number "
            "of rows"
        )
    k = b.shape[-1]
    batch = broadcast_shapes("linalg.lstsq (batch dimensions)", a.shape[:-2], b.shape[:-2])
    residuals = batch + (k,) if m > n and driver != "gelsy" else (0,)
    rank = batch if driver != "gels" else (0,)
    sv = batch + (min(m, n),) if driver in ("gelsd", "gelss") else (0,)
    return (
        AVal(batch + (n, k), a.dtype),
        AVal(residuals, a.dtype),
        AVal(rank, dtypes.int64),
        AVal(sv, a.dtype),
    )


def lstsq_cutoff(a: Any, rcond: float | None) -> float:
    """The relative cut-off of small singular values (PyTorch's default eps * max(m, n))."""
    import numpy as np

    m, n = a.shape[-2:]
    return float(np.finfo(a.dtype).eps * max(m, n)) if rcond is None or rcond < 0 else rcond


def _lstsq_vjp(
    g: Any, out: Any, a: Any, b: Any, rcond: float | None, driver: str
) -> tuple[Any, Any]:
    gx, gres = g[0], g[1]
    x = out[0]
    p = apply("linalg_pinv", a, atol=None, rtol=lstsq_cutoff(a, rcond), hermitian=False)
    ga = pinv_grad(gx @ b.mT, p, a)
    gb = p.mT @ gx
    if gres.shape != (0,):  # residuals: d ||A X - B||^2 = 2 r . (dA X - dB), A^T r = 0
        r2 = (a @ x - b) * (gres.unsqueeze(-2) * 2)
        ga = ga + r2 @ x.mT
        gb = gb - r2
    return ga, gb


register(
    Op(
        "linalg_lstsq",
        _lstsq_abstract,
        _checked(_lstsq_abstract, lambda a, b, rcond, driver: lapack.lstsq(a, b, rcond, driver)),
        _lstsq_vjp,
        grad_fn="LinalgLstsqBackward0",
        lowering=_lapack("lstsq"),
        multiple_results=True,
        saves_out=True,
    )
)
