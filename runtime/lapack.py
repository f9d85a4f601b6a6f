"""LAPACK through numpy: the numerics of the linear-algebra ops, in one place.

Eager mode, the reference interpreter and the generated kernels (from their
plain-Python entry) all call these functions, so every mode factors a matrix the
same way. Each takes stacks of matrices (`(..., m, n)`), returns a tuple of
arrays in the input's dtype, and raises `LinAlgError` with a message naming the
op (and, from a kernel, the user's line in `where`) when the factorization
fails, as PyTorch does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "LinAlgError",
    "cholesky",
    "det",
    "eigh",
    "inv_ex",
    "lstsq",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
]


class LinAlgError(RuntimeError):
    """A matrix function was given a matrix it cannot factor (singular for inv and
    solve, not positive-definite for cholesky): `torch.linalg.LinAlgError`."""


def _fail(where: str, text: str, batch: tuple[int, ...] | None) -> LinAlgError:
    at = f" (batch element {batch})" if batch else ""
    return LinAlgError(f"{text}{at}" + (f"\n  traced at {where}" if where else ""))


def _first_zero_pivot(a: np.ndarray) -> int:
    """1-based index of the first zero diagonal element of U in the LU factorization
    with partial pivoting of square `a` (0 if none): the element PyTorch names."""
    u = np.array(a, dtype=np.float64)
    n = u.shape[0]
    for k in range(n):
        p = k + int(np.argmax(np.abs(u[k:, k])))
        if u[p, k] == 0:
            return k + 1
        u[[k, p]] = u[[p, k]]
        u[k + 1 :, k:] -= np.outer(u[k + 1 :, k] / u[k, k], u[k, k:])
    return 0


def _failing_minor(a: np.ndarray) -> int:
    """The order of the first leading minor of symmetric `a` (lower triangle read)
    that is not positive-definite, as Cholesky finds it."""
    low = np.tril(np.array(a, dtype=np.float64))
    s = low + np.tril(low, -1).T
    for k in range(1, s.shape[0] + 1):
        try:
            np.linalg.cholesky(s[:k, :k])
        except np.linalg.LinAlgError:
            return k
    return 0


def _batches(shape: tuple[int, ...]):
    return np.ndindex(*shape) if shape else [()]


def inv_ex(a: np.ndarray, check_errors: bool, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(inverse, info) of square matrices `a`; info (int32, per matrix) is 0, or the
    1-based index of the zero pivot of a singular matrix, whose inverse is then NaN.
    Raises LinAlgError for a singular matrix when `check_errors`."""
    info = np.zeros(a.shape[:-2], np.int32)
    try:
        return np.linalg.inv(a), info
    except np.linalg.LinAlgError:
        pass
    out = np.empty_like(a)
    for b in _batches(a.shape[:-2]):
        try:
            out[b] = np.linalg.inv(a[b])
        except np.linalg.LinAlgError:
            info[b] = _first_zero_pivot(a[b]) or 1
            if check_errors:
                raise _fail(
                    where,
                    f"linalg.inv: The diagonal element {info[b]} is zero, the inversion could "
                    "not be completed because the input matrix is singular.",
                    b,
                ) from None
            out[b] = np.nan
    return out, info


def det(a: np.ndarray, where: str = "") -> tuple[np.ndarray]:
    return (np.asarray(np.linalg.det(a), a.dtype),)


def slogdet(a: np.ndarray, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    sign, logabs = np.linalg.slogdet(a)
    return np.asarray(sign, a.dtype), np.asarray(logabs, a.dtype)


def solve(a: np.ndarray, b: np.ndarray, left: bool, where: str = "") -> tuple[np.ndarray]:
    """X with A X = B (`left`) or X A = B; B is a stack of matrices, broadcasting
    against A's batch dims."""
    if not left:
        a, b = np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    try:
        x = np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        bad = next(i for i in _batches(batch) if _first_zero_pivot(a[i]))
        raise _fail(
            where,
            "linalg.solve: The solver failed because the input matrix is singular.",
            bad,
        ) from None
    x = np.asarray(x, a.dtype)
    return (np.ascontiguousarray(np.swapaxes(x, -1, -2)) if not left else x,)


def cholesky(a: np.ndarray, upper: bool, where: str = "") -> tuple[np.ndarray]:
    """The lower factor L (A = L L^T, lower triangle of A read), or with `upper` the
    upper factor U (A = U^T U, upper triangle read)."""
    src = np.swapaxes(a, -1, -2) if upper else a
    try:
        low = np.linalg.cholesky(src)
    except np.linalg.LinAlgError:
        for b in _batches(a.shape[:-2]):
            k = _failing_minor(src[b])
            if k:
                raise _fail(
                    where,
                    "linalg.cholesky: The factorization could not be completed because the "
                    f"input is not positive-definite (the leading minor of order {k} is not "
                    "positive-definite).",
                    b,
                ) from None
        raise
    low = np.asarray(low, a.dtype)
    return (np.ascontiguousarray(np.swapaxes(low, -1, -2)) if upper else low,)


def qr(a: np.ndarray, mode: str, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(Q, R); mode 'r' gives an empty Q, as PyTorch."""
    if mode == "r":
        return np.zeros((0,), a.dtype), np.asarray(np.linalg.qr(a, mode="r"), a.dtype)
    q, r = np.linalg.qr(a, mode=mode)
    return np.asarray(q, a.dtype), np.asarray(r, a.dtype)


def eigh(a: np.ndarray, UPLO: str, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues in ascending order, orthonormal eigenvectors as columns)."""
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return np.asarray(w, a.dtype), np.asarray(v, a.dtype)


def svd(a: np.ndarray, full_matrices: bool, where: str = "") -> tuple[np.ndarray, ...]:
    """(U, S, Vh), singular values in descending order."""
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return np.asarray(u, a.dtype), np.asarray(s, a.dtype), np.asarray(vh, a.dtype)


def _threshold(s: np.ndarray, m: int, n: int, atol: float | None, rtol: float | None) -> Any:
    """PyTorch's cut-off for small singular values: max(atol, rtol * largest), rtol
    defaulting to eps * max(m, n) when atol is absent or zero, else to 0."""
    eps = np.finfo(s.dtype).eps
    if rtol is None:
        rtol = eps * max(m, n) if not atol else 0.0
    big = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,), s.dtype)
    return np.maximum(atol or 0.0, rtol * big)


def pinv(
    a: np.ndarray, atol: float | None, rtol: float | None, hermitian: bool, where: str = ""
) -> tuple[np.ndarray]:
    """The Moore-Penrose pseudo-inverse, singular values below PyTorch's threshold
    treated as zero."""
    m, n = a.shape[-2:]
    if hermitian:
        w, v = np.linalg.eigh(a)
        cut = _threshold(np.abs(w), m, n, atol, rtol)
        keep = np.abs(w) > cut
        inv_w = np.where(keep, 1 / np.where(keep, w, 1), 0)
        out = (v * inv_w[..., None, :]) @ np.swapaxes(v, -1, -2)
    else:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        cut = _threshold(s, m, n, atol, rtol)
        keep = s > cut
        inv_s = np.where(keep, 1 / np.where(keep, s, 1), 0)
        out = (np.swapaxes(vh, -1, -2) * inv_s[..., None, :]) @ np.swapaxes(u, -1, -2)
    return (np.asarray(out, a.dtype),)


def lstsq(
    a: np.ndarray, b: np.ndarray, rcond: float | None, driver: str, where: str = ""
) -> tuple[np.ndarray, ...]:
    """(solution, residuals, rank, singular_values) of min ||A X - B|| for stacks of
    matrices (batch dims broadcast), shaped as PyTorch's per driver: residuals (the
    squared column norms of A X - B) when m > n, except for 'gelsy'; rank except for
    'gels'; singular values for 'gelsd' and 'gelss' only; the others empty.
    Rank-deficient problems get the minimum-norm solution (singular values below
    rcond times the largest count as zero)."""
    m, n = a.shape[-2:]
    k = b.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + (m, n))
    b = np.broadcast_to(b, batch + (m, k))
    eps = np.finfo(a.dtype).eps
    cut = eps * max(m, n) if rcond is None or rcond < 0 else rcond
    x = np.empty(batch + (n, k), a.dtype)
    rank = np.empty(batch, np.int64)
    sv = np.empty(batch + (min(m, n),), a.dtype)
    for i in _batches(batch):
        xi, _, ri, si = np.linalg.lstsq(a[i], b[i], rcond=cut)
        x[i], rank[i], sv[i] = xi, ri, si
    if m > n and driver != "gelsy":
        r = a @ x - b
        residuals = np.asarray((r * r).sum(axis=-2), a.dtype)
    else:
        residuals = np.zeros((0,), a.dtype)
    if driver == "gels":
        rank = np.zeros((0,), np.int64)
    if driver not in ("gelsd", "gelss"):
        sv = np.zeros((0,), a.dtype)
    return x, residuals, rank, sv
