"""`tracer.linalg`, as `torch.linalg`: the norms (vector_norm, matrix_norm, norm).

The code lives in `compiler.methods.norms` (and the `vector_norm` op in
`compiler.ops.norms`); these are the public signatures.
"""

from __future__ import annotations

from typing import Any

from compiler.methods import norms as _norms
from tracer.functions.core import _operand

__all__ = ["matrix_norm", "norm", "vector_norm"]


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
