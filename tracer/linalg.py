"""`tracer.linalg`, as `torch.linalg`: matrix functions, on stacks of matrices
(..., m, n), and the norms (vector_norm, matrix_norm, norm; their code is in
`compiler.methods.norms`).

The factorizations run numpy's LAPACK (eagerly, and from compiled kernels), in the
input's dtype (float32 or float64). Gradients follow PyTorch's documented formulas
(see `compiler.ops.decompositions` for their caveats: repeated eigenvalues or singular
values make the eigenvector or singular vector gradients inf or nan).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.dispatch import apply
from compiler.methods import norms as _norms
from compiler.methods.linalg import (
    linalg_cross,
    linalg_eigh,
    linalg_inv_ex,
    linalg_lstsq,
    linalg_qr,
    linalg_slogdet,
    linalg_svd,
)
from compiler.ops.decompositions import LSTSQ_DRIVERS
from runtime.lapack import LinAlgError
from tracer.functions.core import _operand
from tracer.functions.linalg import _tensor, multi_dot
from tracer.functions.linalg import matrix_power as _matrix_power

LinAlgError.__module__ = __name__  # shown as tracer.linalg.LinAlgError

__all__ = [
    "LinAlgError",
    "cholesky",
    "cross",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "inv_ex",
    "lstsq",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "vector_norm",
]


def vector_norm(
    x: Any, ord: Any = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Any:
    """The ord-norm of `x` over `dim` (None: all elements): (sum |x|**ord)**(1/ord);
    inf/-inf: max/min |x|; 0: the number of nonzero elements. Floating point inputs
    only (DTypeError otherwise); `dtype` (wider) converts first. The gradient is 0
    where the norm is 0."""
    return _norms.vector_norm(_operand(x), ord, dim, keepdim, dtype)


def matrix_norm(
    A: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *, dtype: Any = None
) -> Any:
    """The matrix norm of `A` (..., m, n) over the two dims `dim`: 'fro', 1, -1, inf,
    -inf (column and row sums of |A|). 'nuc', 2 and -2 raise NotImplementedError."""
    return _norms.matrix_norm(_operand(A), ord, dim, keepdim, dtype)


def norm(
    A: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Any:
    """A vector or a matrix norm, chosen by `dim` (one dim or two) or, without it, by
    `ord` and A's dims; with neither, the 2-norm of all elements."""
    return _norms.linalg_norm(_operand(A), ord, dim, keepdim, dtype)


def inv(A: Any) -> Any:
    """The inverse of square matrices (..., n, n). Raises LinAlgError for a singular one."""
    return apply("linalg_inv_ex", _tensor(A), check_errors=True)[0]


def inv_ex(A: Any, *, check_errors: bool = False) -> Any:
    """(inverse, info): info (int32) is 0, or for a singular matrix the 1-based index of
    the zero pivot of its LU factorization (its inverse is then NaN)."""
    return linalg_inv_ex(*apply("linalg_inv_ex", _tensor(A), check_errors=bool(check_errors)))


def det(A: Any) -> Any:
    """Determinants of square matrices (..., n, n) -> (...). The gradient is the cofactor
    matrix, also for singular matrices."""
    return apply("linalg_det", _tensor(A))


def slogdet(A: Any) -> Any:
    """(sign, logabsdet) of square matrices; for a singular one sign is 0 and logabsdet
    -inf."""
    return linalg_slogdet(*apply("linalg_slogdet", _tensor(A)))


def _is_vector_rhs(A: Any, B: Any) -> bool:
    """PyTorch's rule: B is a (batch of) vector(s) if 1-D, or if it has A's batch shape
    plus one dim of A's size."""
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve(A: Any, B: Any, *, left: bool = True) -> Any:
    """X with A X = B (or X A = B with left=False) for square A (..., n, n) and B
    (..., n, k) or vectors (..., n); batch dims broadcast. Raises LinAlgError for a
    singular A."""
    A, B = _tensor(A), _tensor(B)
    if A.ndim >= 2 and _is_vector_rhs(A, B):
        col = B.unsqueeze(-1) if left else B.unsqueeze(-2)
        x = apply("linalg_solve", A, col, left=bool(left))
        shape = tuple(x.shape[:-1] if left else x.shape[:-2] + x.shape[-1:])
        return apply("reshape", x, shape=shape, name="LinalgSolveExBackward0")
    return apply("linalg_solve", A, B, left=bool(left))


def cholesky(A: Any, *, upper: bool = False) -> Any:
    """L with A = L L^T (the lower triangle of A read), or with upper=True U with
    A = U^T U (the upper triangle read). Raises LinAlgError if A is not
    positive-definite. The gradient is symmetric."""
    return apply("linalg_cholesky", _tensor(A), upper=bool(upper))


def qr(A: Any, mode: str = "reduced") -> Any:
    """(Q, R) with A = QR: mode 'reduced' (Q (m, k), R (k, n), k = min(m, n)),
    'complete' (Q (m, m)) or 'r' (R only; Q empty, and no gradient)."""
    return linalg_qr(*apply("linalg_qr", _tensor(A), mode=mode))


def eigh(A: Any, UPLO: str = "L") -> Any:
    """(eigenvalues ascending, eigenvectors as columns) of symmetric matrices, reading
    the lower ('L') or upper ('U') triangle."""
    return linalg_eigh(*apply("linalg_eigh", _tensor(A), UPLO=UPLO))


def eigvalsh(A: Any, UPLO: str = "L") -> Any:
    """The eigenvalues of symmetric matrices, ascending."""
    return apply("linalg_eigh", _tensor(A), UPLO=UPLO)[0]


def svd(A: Any, full_matrices: bool = True) -> Any:
    """(U, S, Vh) with A = U diag(S) Vh, S descending. Singular vectors are unique only
    up to sign (they may differ in sign from PyTorch's); with full_matrices the
    cotangents of the extra columns of U and rows of Vh are ignored, as PyTorch does."""
    return linalg_svd(*apply("linalg_svd", _tensor(A), full_matrices=bool(full_matrices)))


def svdvals(A: Any) -> Any:
    """The singular values, descending."""
    return apply("linalg_svd", _tensor(A), full_matrices=False)[1]


def _tol(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if hasattr(value, "shape"):
        arr = np.asarray(value)  # a concrete tensor (a traced one refuses here)
        if arr.size != 1:
            raise ValueError(f"linalg: a tensor {what} must hold one value, got shape {arr.shape}")
        return float(arr.reshape(()))
    return float(value)


def pinv(
    A: Any,
    *,
    atol: float | None = None,
    rtol: float | None = None,
    hermitian: bool = False,
    rcond: float | None = None,
) -> Any:
    """The Moore-Penrose pseudo-inverse (..., n, m): singular values below
    max(atol, rtol * the largest) count as zero; rtol defaults to eps * max(m, n) when
    atol is absent or zero (rcond is PyTorch's older name of rtol). `hermitian` uses
    the eigendecomposition of a symmetric A."""
    if rcond is not None:
        if rtol is not None:
            raise ValueError("linalg.pinv: rcond and rtol are the same option; give one")
        rtol = rcond
    return apply(
        "linalg_pinv",
        _tensor(A),
        atol=_tol(atol, "atol"),
        rtol=_tol(rtol, "rtol"),
        hermitian=bool(hermitian),
    )


def matrix_rank(
    A: Any, *, atol: float | None = None, rtol: float | None = None, hermitian: bool = False
) -> Any:
    """The number of singular values above max(atol, rtol * the largest) (int64), with
    pinv's defaults."""
    A = _tensor(A)
    atol_, rtol_ = _tol(atol, "atol"), _tol(rtol, "rtol")
    s = eigvalsh(A).abs() if hermitian else svdvals(A)
    s = s.detach()
    if rtol_ is None:
        rtol_ = float(np.finfo(A.dtype).eps * max(A.shape[-2:])) if not atol_ else 0.0
    top = s.amax(-1, keepdim=True) if s.shape[-1] else s.sum(-1, keepdim=True)
    cut = top * rtol_
    if atol_:
        cut = cut.clamp(min=atol_)
    return (s > cut).sum(-1)


def lstsq(A: Any, B: Any, rcond: float | None = None, *, driver: str | None = None) -> Any:
    """(solution, residuals, rank, singular_values) of min ||A X - B|| per matrix (batch
    dims broadcast; B may be a vector). As PyTorch on the CPU: driver 'gelsy' by
    default; residuals (squared column norms of A X - B) only when m > n, A has full
    rank and the driver is not 'gelsy'; rank except with 'gels'; singular values with
    'gelsd' and 'gelss'; what a driver does not compute is an empty tensor. Inside a
    traced function the residuals of a rank-deficient A are returned (computed) rather
    than made empty, since the shape cannot depend on the values."""
    A, B = _tensor(A), _tensor(B)
    driver = "gelsy" if driver is None else driver
    if driver not in LSTSQ_DRIVERS:
        raise ValueError(f"linalg.lstsq: parameter `driver` should be one of {LSTSQ_DRIVERS}")
    vector = A.ndim >= 2 and _is_vector_rhs(A, B)
    rhs = B.unsqueeze(-1) if vector else B
    x, residuals, rank, sv = apply(
        "linalg_lstsq", A, rhs, rcond=None if rcond is None else float(rcond), driver=driver
    )
    if vector:  # the residuals keep their (..., 1) shape, as PyTorch's
        x = apply("reshape", x, shape=tuple(x.shape[:-1]), name="LinalgLstsqBackward0")
    from tracer.tensor import Tensor

    if isinstance(rank, Tensor) and rank.numel() and residuals.numel():
        if (np.asarray(rank) < A.shape[-1]).any():  # rank-deficient: no residuals
            residuals = residuals.new_zeros((0,))
    return linalg_lstsq(x, residuals, rank, sv)


def cross(input: Any, other: Any, *, dim: int = -1) -> Any:
    """The cross product along `dim` (size 3); the inputs broadcast."""
    return linalg_cross(_tensor(input), _tensor(other), dim)


def matrix_power(A: Any, n: int) -> Any:
    """The n-th power of square matrices (n = 0: identity; n < 0: of the inverse)."""
    return _matrix_power(A, n)


def matmul(input: Any, other: Any) -> Any:
    """The same as tracer.matmul."""
    return _tensor(input).matmul(other)
