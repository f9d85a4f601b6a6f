"""Linear algebra as Operand methods: matmul and its relatives (mm, mv, bmm, dot, vdot,
inner, outer, addmm, ...), kron, cross, matrix_power, the determinants, inverse,
cholesky, qr, svd, pinverse and dist.

Where PyTorch has a node of its own the method applies that op
(`compiler/ops/linalg.py`, `compiler/ops/decompositions.py`); where PyTorch composes
other ops (outer, inner, kron, matrix_power), so do these, and the result's grad_fn
is the one PyTorch shows.
"""

from __future__ import annotations

import collections
import warnings
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.args import int_arg, is_number, normalize_axis
from compiler.dispatch import apply
from compiler.errors import DTypeError, ShapeError

__all__ = [
    "LinalgMethods",
    "linalg_eigh",
    "linalg_inv_ex",
    "linalg_lstsq",
    "linalg_qr",
    "linalg_slogdet",
    "linalg_svd",
    "svd_result",
    "tensordot",
]

# torch.return_types: named tuples of results
linalg_slogdet = collections.namedtuple("linalg_slogdet", ["sign", "logabsdet"])
linalg_eigh = collections.namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
linalg_qr = collections.namedtuple("linalg_qr", ["Q", "R"])
linalg_svd = collections.namedtuple("linalg_svd", ["U", "S", "Vh"])
svd_result = collections.namedtuple("svd", ["U", "S", "V"])
linalg_lstsq = collections.namedtuple(
    "linalg_lstsq", ["solution", "residuals", "rank", "singular_values"]
)
linalg_inv_ex = collections.namedtuple("linalg_inv_ex", ["inverse", "info"])


def _shape(x: Any) -> tuple[int, ...] | None:
    return tuple(x.shape) if hasattr(x, "shape") else None


def _is_operand(x: Any) -> bool:
    return hasattr(x, "_bind")


def _need_tensor(op: str, x: Any, what: str = "other") -> None:
    if not _is_operand(x):
        raise TypeError(f"{op}(): {what} must be a tensor, got {type(x).__name__}")


def _ndims(op: str, a: Any, b: Any, na: int, nb: int) -> None:
    if a.ndim != na or b.ndim != nb:
        raise ShapeError(
            f"{op}: expected {na}-D and {nb}-D tensors, got shapes {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )


def _same_dtype(op: str, *xs: Any) -> None:
    if len({x.dtype for x in xs}) > 1:
        shown = " and ".join(f"{x.dtype} (shape {tuple(x.shape)})" for x in xs)
        raise DTypeError(
            f"{op}: expected both operands to have the same dtype, got {shown}; convert one "
            "with .to(dtype)"
        )


def _scale(op: str, x: Any, **factors: Any) -> None:
    """beta and alpha must be numbers, whole numbers for integer tensors (PyTorch)."""
    for name, v in factors.items():
        if not is_number(v):
            raise TypeError(f"{op}(): {name} must be a number, got {type(v).__name__}")
        if not dtypes.is_float(x.dtype) and not float(v).is_integer():
            raise TypeError(
                f"{op}(): for integral input tensors, argument {name} must not be a floating "
                f"point number, got {v}"
            )


class LinalgMethods:
    """Mixin of `compiler.operand.Operand` (see there for the protocol)."""

    __slots__ = ()

    # ---- products -------------------------------------------------------------------
    def matmul(self, other: Any) -> Any:
        """Matrix product with NumPy's rules: 1-D, 2-D and batched (batch dims broadcast)."""
        return apply("matmul", self, other)

    def mm(self, mat2: Any) -> Any:
        """(n, m) @ (m, p)."""
        _need_tensor("mm", mat2, "mat2")
        _ndims("mm", self, mat2, 2, 2)
        _same_dtype("mm", self, mat2)
        return apply("matmul", self, mat2)

    def mv(self, vec: Any) -> Any:
        """(n, m) @ (m,)."""
        _need_tensor("mv", vec, "vec")
        _ndims("mv", self, vec, 2, 1)
        _same_dtype("mv", self, vec)
        return apply("matmul", self, vec)

    def bmm(self, mat2: Any) -> Any:
        """(b, n, m) @ (b, m, p), the same number of matrices on both sides (no
        broadcasting)."""
        _need_tensor("bmm", mat2, "mat2")
        _ndims("bmm", self, mat2, 3, 3)
        if self.shape[0] != mat2.shape[0]:
            raise ShapeError(
                f"bmm: batch1 and batch2 must hold the same number of matrices, got shapes "
                f"{tuple(self.shape)} and {tuple(mat2.shape)}"
            )
        _same_dtype("bmm", self, mat2)
        return apply("matmul", self, mat2, name="BmmBackward0")

    def _vectors(self, op: str, other: Any) -> None:
        _need_tensor(op, other)
        if self.ndim != 1 or other.ndim != 1:
            raise ShapeError(
                f"{op}: 1D tensors expected, but got {self.ndim}D and {other.ndim}D tensors "
                f"(shapes {tuple(self.shape)} and {tuple(other.shape)})"
            )
        if self.shape != other.shape:
            raise ShapeError(
                f"{op}: inconsistent tensor size, expected both vectors to have the same "
                f"number of elements, but got {self.shape[0]} and {other.shape[0]}"
            )
        _same_dtype(op, self, other)

    def dot(self, other: Any) -> Any:
        """The inner product of two 1-D tensors of the same size and dtype."""
        self._vectors("dot", other)
        return apply("matmul", self, other)

    def vdot(self, other: Any) -> Any:
        """dot(conj(self), other); for real tensors the same as dot."""
        self._vectors("vdot", other)
        return apply("matmul", self, other, name="VdotBackward0")

    def inner(self, other: Any) -> Any:
        """Sum of products over the last dims (a product with a 0-d operand)."""
        if not _is_operand(other) or self.ndim == 0 or other.ndim == 0:
            return self * other
        if self.shape[-1] != other.shape[-1]:
            raise ShapeError(
                f"inner: the last dims of shapes {tuple(self.shape)} and "
                f"{tuple(other.shape)} must match"
            )
        return tensordot(self, other, ([-1], [-1]))

    def outer(self, vec2: Any) -> Any:
        """The outer product of two 1-D tensors: (n,) x (m,) -> (n, m)."""
        _need_tensor("outer", vec2, "vec2")
        _ndims("outer", self, vec2, 1, 1)
        return self.reshape(-1, 1) * vec2

    ger = outer

    def kron(self, other: Any) -> Any:
        """The Kronecker product; the operands' dims are aligned from the right."""
        _need_tensor("kron", other)
        nd = max(self.ndim, other.ndim)
        a = self.reshape((1,) * (nd - self.ndim) + tuple(self.shape))
        b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
        sa = [n for pair in zip(a.shape, (1,) * nd) for n in pair]
        sb = [n for pair in zip((1,) * nd, b.shape) for n in pair]
        out = a.reshape(sa) * b.reshape(sb)
        shape = tuple(x * y for x, y in zip(a.shape, b.shape))
        return apply("reshape", out, shape=shape, name="UnsafeViewBackward0")

    def _addmm(self, op: str, a: Any, b: Any, beta: Any, alpha: Any) -> Any:
        _need_tensor(op, a, "the first matrix")
        _need_tensor(op, b, "the second matrix")
        _scale(op, self, beta=beta, alpha=alpha)
        return apply(op, self, a, b, beta=beta, alpha=alpha)

    def addmm(self, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """beta * self + alpha * (mat1 @ mat2), self broadcasting to (n, p); with beta=0
        self is ignored (its NaN and inf do not propagate)."""
        return self._addmm("addmm", mat1, mat2, beta, alpha)

    def addmv(self, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """beta * self + alpha * (mat @ vec)."""
        return self._addmm("addmv", mat, vec, beta, alpha)

    def addbmm(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """beta * self + alpha * sum_i batch1[i] @ batch2[i]."""
        return self._addmm("addbmm", batch1, batch2, beta, alpha)

    def baddbmm(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """beta * self + alpha * (batch1 @ batch2), matrix by matrix."""
        return self._addmm("baddbmm", batch1, batch2, beta, alpha)

    def addmm_(self, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        return self._inplace("addmm_", lambda s: s.addmm(mat1, mat2, beta=beta, alpha=alpha))

    def addmv_(self, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        return self._inplace("addmv_", lambda s: s.addmv(mat, vec, beta=beta, alpha=alpha))

    def addbmm_(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        return self._inplace("addbmm_", lambda s: s.addbmm(batch1, batch2, beta=beta, alpha=alpha))

    def baddbmm_(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        return self._inplace(
            "baddbmm_", lambda s: s.baddbmm(batch1, batch2, beta=beta, alpha=alpha)
        )

    def cross(self, other: Any, dim: int | None = None) -> Any:
        """The cross product along `dim` (size 3); without `dim`, along the first dim of
        size 3, with PyTorch's deprecation warning. The operands broadcast."""
        _need_tensor("cross", other)
        if dim is None:
            from compiler.ops.elementwise import broadcast_shapes

            shape = broadcast_shapes("cross", tuple(self.shape), tuple(other.shape))
            dim = next((d for d, n in enumerate(shape) if n == 3), None)
            warnings.warn(
                "Using torch.cross without specifying the dim arg is deprecated. Please "
                "either pass the dim explicitly or simply use torch.linalg.cross. The default "
                "value of dim will change to agree with that of linalg.cross in a future "
                "release.",
                UserWarning,
                stacklevel=2,
            )
            if dim is None:
                raise ShapeError(
                    f"cross: no dimension of size 3 in shapes {tuple(self.shape)} and "
                    f"{tuple(other.shape)}"
                )
        return linalg_cross(self, other, dim)

    def matrix_power(self, n: int) -> Any:
        """self @ self @ ... (n times) by repeated squaring, as PyTorch; n = 0 gives the
        identity, n < 0 powers of the inverse."""
        n = int_arg(n, "n", "matrix_power")
        if self.ndim < 2 or self.shape[-1] != self.shape[-2]:
            raise ShapeError(
                f"linalg.matrix_power: A must be batches of square matrices, got shape "
                f"{tuple(self.shape)}"
            )
        if n == 0:
            k = self.shape[-1]
            eye = (self.iota((k, k), 0) == self.iota((k, k), 1)).to(self.dtype)
            every = self.iota(tuple(self.shape), 0) >= 0
            return apply("where", every, eye.broadcast_to(self.shape), self, name="CopyBackwards")
        if n == 1:
            return self.clone()
        base = self.inverse() if n < 0 else self
        z = result = None
        n = abs(n)
        while n:
            n, bit = divmod(n, 2)
            z = base if z is None else z @ z
            if bit:
                result = z if result is None else result @ z
        return result

    # ---- matrix functions (LAPACK) ------------------------------------------------------
    def inverse(self) -> Any:
        """The inverse of square matrices; LinAlgError for a singular one."""
        return apply("linalg_inv_ex", self, check_errors=True)[0]

    def det(self) -> Any:
        """Determinants of square matrices (..., n, n) -> (...)."""
        return apply("linalg_det", self)

    def slogdet(self) -> Any:
        """(sign, log|det|) of square matrices; sign is 0 and log|det| -inf for singular
        ones."""
        return linalg_slogdet(*apply("linalg_slogdet", self))

    def logdet(self) -> Any:
        """log(det): NaN for a negative determinant, -inf for a singular matrix."""
        sign, logabs = apply("linalg_slogdet", self)
        return logabs.where(sign >= 0, np.nan)

    def cholesky(self, upper: bool = False) -> Any:
        """torch.cholesky (deprecated in PyTorch for linalg.cholesky, with its warning)."""
        warnings.warn(
            "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed "
            "in a future PyTorch release. Use torch.linalg.cholesky(A) for the lower factor and "
            "torch.linalg.cholesky(A).mH for upper=True.",
            UserWarning,
            stacklevel=2,
        )
        return apply("linalg_cholesky", self, upper=bool(upper), name="CholeskyBackward0")

    def qr(self, some: bool = True) -> Any:
        """torch.qr: (Q, R), reduced when `some` (else complete); deprecated in PyTorch
        for linalg.qr, with its warning."""
        warnings.warn(
            "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future "
            "PyTorch release. Use torch.linalg.qr(A, 'reduced') for some=True and "
            "torch.linalg.qr(A, 'complete') for some=False.",
            UserWarning,
            stacklevel=2,
        )
        return linalg_qr(*apply("linalg_qr", self, mode="reduced" if some else "complete"))

    def svd(self, some: bool = True, compute_uv: bool = True) -> Any:
        """torch.svd: (U, S, V) with V = Vh^T (reduced when `some`); without compute_uv,
        U and V are zero matrices."""
        u, s, vh = apply("linalg_svd", self, full_matrices=not some)
        if not compute_uv:
            m, n = self.shape[-2:]
            lead = tuple(self.shape[:-2])
            return svd_result(
                s.full_like(0, shape=lead + (m, m)), s, s.full_like(0, shape=lead + (n, n))
            )
        return svd_result(u, s, vh.mT)

    def pinverse(self, rcond: float = 1e-15) -> Any:
        """The pseudo-inverse, singular values below rcond * the largest treated as 0."""
        return apply("linalg_pinv", self, atol=None, rtol=float(rcond), hermitian=False)

    def dist(self, other: Any, p: float = 2) -> Any:
        """The p-norm of self - other (broadcast)."""
        _need_tensor("dist", other)
        if not is_number(p):
            raise TypeError(f"dist(): p must be a number, got {type(p).__name__}")
        return apply("dist", self, other, p=float(p))


def linalg_cross(a: Any, b: Any, dim: int = -1) -> Any:
    """The cross product of broadcast `a` and `b` along `dim` (size 3)."""
    from compiler.ops.elementwise import broadcast_shapes

    shape = broadcast_shapes("linalg.cross", tuple(a.shape), tuple(b.shape))
    axis = normalize_axis(dim, len(shape), "linalg.cross")
    if shape[axis] != 3:
        raise ShapeError(
            f"linalg.cross: inputs dimension {dim} must have length 3, got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    _same_dtype("linalg.cross", a, b)
    return apply("linalg_cross", a.broadcast_to(shape), b.broadcast_to(shape), axis=axis)


def _dims_list(d: Any) -> list[int]:
    if _is_operand(d):
        d = np.asarray(d).tolist()  # a concrete tensor of dims
    return [d] if isinstance(d, (int, np.integer)) else list(d)


def tensordot(a: Any, b: Any, dims: Any = 2) -> Any:
    """Sum of products over dims `dims` of a and b: an int n (a's last n with b's first
    n) or a pair of lists ([a's dims], [b's dims]); the result has a's free dims then
    b's. Computed as one matmul of the reshaped operands."""
    _need_tensor("tensordot", a, "a")
    _need_tensor("tensordot", b, "b")
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        if dims < 0:
            raise ValueError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise ShapeError(
                f"tensordot: dims={dims} exceeds the dimensions of shapes {tuple(a.shape)} "
                f"and {tuple(b.shape)}"
            )
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        try:
            first, second = dims
        except (TypeError, ValueError):
            raise TypeError(
                f"tensordot expects dims to be an int or a pair of lists of dims, got {dims!r}"
            ) from None
        da = [normalize_axis(d, a.ndim, "tensordot") for d in _dims_list(first)]
        db = [normalize_axis(d, b.ndim, "tensordot") for d in _dims_list(second)]
    if len(da) != len(db):
        raise ShapeError(
            f"tensordot: both dimension lists should have the same length, got {da} and {db}"
        )
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(
                f"tensordot: contracted dimensions need to match, but first has size "
                f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in dim {j} (shapes "
                f"{tuple(a.shape)} and {tuple(b.shape)})"
            )
    _same_dtype("tensordot", a, b)
    free_a = [i for i in range(a.ndim) if i not in da]
    free_b = [j for j in range(b.ndim) if j not in db]
    k = int(np.prod([a.shape[i] for i in da], dtype=np.int64))
    xa = (
        a.permute(*(free_a + da)).reshape(-1, k)
        if a.numel()
        else a.reshape(int(np.prod([a.shape[i] for i in free_a], dtype=np.int64)), k)
    )
    xb = (
        b.permute(*(db + free_b)).reshape(k, -1)
        if b.numel()
        else b.reshape(k, int(np.prod([b.shape[j] for j in free_b], dtype=np.int64)))
    )
    shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b)
    return apply("reshape", xa @ xb, shape=shape, name="ViewBackward0")
