"""Module-level linear algebra (`tracer.mm(a, b)`, `tracer.einsum(...)`, ...): the
products, einsum, tensordot, kron, cross, the distances, and PyTorch's older spellings
of the matrix functions (`tracer.inverse`, `tracer.svd`, ...; their `linalg` forms are in
`tracer.linalg`).

Each forwards to the Tensor method or to `apply`, so it works eagerly and inside
@trace alike.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler.dispatch import apply
from compiler.errors import ShapeError
from compiler.methods.linalg import tensordot
from compiler.operand import Operand
from compiler.ops.linalg import label_text

__all__ = [
    "addbmm",
    "addmm",
    "addmv",
    "baddbmm",
    "bmm",
    "cdist",
    "chain_matmul",
    "cholesky",
    "cross",
    "det",
    "dist",
    "einsum",
    "ger",
    "inner",
    "inverse",
    "kron",
    "logdet",
    "matrix_power",
    "mv",
    "outer",
    "pinverse",
    "qr",
    "slogdet",
    "svd",
    "tensordot",
    "vdot",
]


def _tensor(x: Any) -> Any:
    if isinstance(x, Operand):
        return x
    from tracer.creation import tensor

    return tensor(x)


def _method(name: str, doc: str):
    def fn(input: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(_tensor(input), name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


mv = _method("mv", "(n, m) @ (m,).")
bmm = _method("bmm", "(b, n, m) @ (b, m, p).")
vdot = _method("vdot", "The inner product of two 1-D tensors (conjugating the first).")
inner = _method("inner", "Sum of products over the last dims.")
outer = _method("outer", "The outer product of two 1-D tensors.")
ger = _method("ger", "The outer product of two 1-D tensors (PyTorch's older name).")
kron = _method("kron", "The Kronecker product.")
matrix_power = _method("matrix_power", "The n-th power of square matrices (n < 0: inverse).")
inverse = _method("inverse", "The inverse of square matrices.")
det = _method("det", "Determinants of square matrices.")
logdet = _method("logdet", "log(det): NaN for a negative determinant.")
slogdet = _method("slogdet", "(sign, log|det|) of square matrices.")
cholesky = _method("cholesky", "The Cholesky factor (lower, or upper with upper=True).")
qr = _method("qr", "(Q, R), reduced unless some=False.")
svd = _method("svd", "(U, S, V) with A = U diag(S) V^T.")
pinverse = _method("pinverse", "The pseudo-inverse (singular values below rcond * max cut).")


def _addmm(name: str, doc: str):
    def fn(input: Any, a: Any, b: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        return getattr(_tensor(input), name)(a, b, beta=beta, alpha=alpha)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


addmm = _addmm("addmm", "beta * input + alpha * (mat1 @ mat2).")
addmv = _addmm("addmv", "beta * input + alpha * (mat @ vec).")
addbmm = _addmm("addbmm", "beta * input + alpha * sum_i batch1[i] @ batch2[i].")
baddbmm = _addmm("baddbmm", "beta * input + alpha * (batch1 @ batch2), matrix by matrix.")


def cross(input: Any, other: Any, dim: int | None = None) -> Any:
    """The cross product along `dim` (size 3); without `dim`, along the first dim of size
    3 (deprecated in PyTorch: prefer tracer.linalg.cross)."""
    return _tensor(input).cross(other, dim)


def dist(input: Any, other: Any, p: float = 2) -> Any:
    """The p-norm of input - other (broadcast)."""
    return _tensor(input).dist(other, p)


_COMPUTE_MODES = (
    "use_mm_for_euclid_dist_if_necessary",
    "use_mm_for_euclid_dist",
    "donot_use_mm_for_euclid_dist",
)


def cdist(
    x1: Any, x2: Any, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary"
) -> Any:
    """p-norm distances between the rows of x1 (..., P, M) and of x2 (..., R, M):
    (..., P, R), batch dims broadcast.

    The distances are always computed from the coordinate differences (so distances
    of nearly equal rows keep their precision); `compute_mode` only decides the node's
    name, ViewBackward0 where PyTorch would use its matrix-product formula (p = 2 and
    more than 25 rows, or use_mm_for_euclid_dist). Raises ValueError for p < 0 or an
    unknown compute_mode.
    """
    if compute_mode not in _COMPUTE_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    x1, x2 = _tensor(x1), _tensor(x2)
    p = float(p)
    name = None
    if p == 2 and x1.ndim >= 2 and x2.ndim >= 2:
        big = x1.shape[-2] > 25 or x2.shape[-2] > 25
        if compute_mode == "use_mm_for_euclid_dist" or (compute_mode == _COMPUTE_MODES[0] and big):
            name = "ViewBackward0"
    return apply("cdist", x1, x2, p=p, name=name)


def multi_dot(tensors: Sequence[Any]) -> Any:
    """A chain of matrix products in the cheapest order (dynamic programming over the
    shapes); the first tensor may be 1-D (a row) and the last 1-D (a column)."""
    ts = [_tensor(t) for t in tensors]
    if len(ts) < 2:
        raise ValueError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    first, last = ts[0].ndim == 1, ts[-1].ndim == 1
    mats = list(ts)
    if first:
        mats[0] = mats[0].unsqueeze(0)
    if last:
        mats[-1] = mats[-1].unsqueeze(-1)
    for k, t in enumerate(mats):
        if t.ndim != 2:
            where = "first and last" if k in (0, len(mats) - 1) else "middle"
            raise ShapeError(
                f"multi_dot(): tensor {k} must be 2D (the {where} tensors may be 1D), got "
                f"shape {tuple(ts[k].shape)}"
            )
    for k in range(len(mats) - 1):
        if mats[k].shape[1] != mats[k + 1].shape[0]:
            raise ShapeError(
                f"multi_dot(): tensors {k} and {k + 1} with shapes {tuple(ts[k].shape)} and "
                f"{tuple(ts[k + 1].shape)} cannot be multiplied"
            )
    dims = [mats[0].shape[0]] + [m.shape[1] for m in mats]
    order = _chain_order(dims)
    out = _chain(mats, order, 0, len(mats) - 1)
    shape = tuple(out.shape[int(first) : out.ndim - int(last)])
    return apply("reshape", out, shape=shape, name="ViewBackward0")


def _chain_order(dims: list[int]) -> list[list[int]]:
    """split[i][j]: where the optimal product of matrices i..j splits (the textbook
    matrix-chain dynamic program)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            best = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if best is None or c < best:
                    best, split[i][j] = c, k
            cost[i][j] = best
    return split


def _chain(mats: list[Any], split: list[list[int]], i: int, j: int) -> Any:
    if i == j:
        return mats[i]
    k = split[i][j]
    return _chain(mats, split, i, k) @ _chain(mats, split, k + 1, j)


def chain_matmul(*matrices: Any) -> Any:
    """The product of 2-D matrices in the cheapest order (deprecated in PyTorch for
    tracer.linalg.multi_dot, with its warning)."""
    warnings.warn(
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. "
        "Use torch.linalg.multi_dot instead, which accepts a list of two or more tensors "
        "rather than multiple parameters.",
        UserWarning,
        stacklevel=2,
    )
    ts = [_tensor(m) for m in matrices]
    for t in ts:
        if t.ndim != 2:
            raise ShapeError(f"chain_matmul(): expected 2D tensors, got shape {tuple(t.shape)}")
    if len(ts) == 1:
        return ts[0].clone()
    return multi_dot(ts)


# ---- einsum -----------------------------------------------------------------------------


def einsum(*args: Any) -> Any:
    """Einstein summation: `einsum("ij,jk->ik", a, b)` (operands also as one list), or
    the sublist form `einsum(a, [0, 1], b, [1, 2], [0, 2])`.

    Subscripts are letters; `...` stands for the same broadcast dims in every operand;
    without `->` the output is the ellipsis dims then the letters used once, in
    alphabetical order. A letter repeated in one operand takes its diagonal; a letter
    missing from the output is summed over. Sizes of 1 broadcast. Contractions run as
    (batched) matrix products, and the gradient of einsum is an einsum.

    Raises ValueError for a malformed equation, ShapeError for sizes that do not fit.
    """
    if not args:
        raise ValueError("einsum(): must specify the equation string and at least one operand")
    if isinstance(args[0], str):
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
        xs = [_tensor(x) for x in operands]
        spec, out = _parse(equation, [x.ndim for x in xs])
    else:
        xs, spec, out = _parse_sublists(args)
    if not xs:
        raise ValueError("einsum(): must provide at least one operand")
    pairs = [_diagonals(x, labels, k) for k, (x, labels) in enumerate(zip(xs, spec))]
    return apply(
        "einsum",
        *[x for x, _ in pairs],
        spec=tuple(tuple(labels) for _, labels in pairs),
        output=tuple(out),
    )


def _ellipsis_labels(n: int) -> list[int]:
    return list(range(-n, 0))


def _parse(equation: str, ndims: list[int]) -> tuple[list[list[int]], list[int]]:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(
            f"einsum(): the number of operands specified in the equation ({len(terms)}) does "
            f"not match the number of operands provided ({len(ndims)})"
        )
    parsed = [_term(t, "operand") for t in terms]
    ell = 0
    for k, (items, nd) in enumerate(zip(parsed, ndims)):
        letters = sum(1 for i in items if i != "...")
        has = "..." in items
        if (letters > nd) if has else (letters != nd):
            raise ValueError(
                f"einsum(): the number of subscripts in the equation ({letters}) "
                + ("is more than" if has else "does not match")
                + f" the number of dimensions ({nd}) for operand {k}"
                + ("" if has else " and no ellipsis was given")
            )
        if has:
            ell = max(ell, nd - letters)
    spec = []
    for items, nd in zip(parsed, ndims):
        labels: list[int] = []
        for i in items:
            if i == "...":
                labels += _ellipsis_labels(nd - (len(items) - 1))
            else:
                labels.append(ord(i))
        spec.append(labels)
    counts: dict[int, int] = {}
    for labels in spec:
        for c in labels:
            if c >= 0:
                counts[c] = counts.get(c, 0) + 1
    if arrow:
        items = _term(rhs, "output")
        out: list[int] = []
        for i in items:
            if i == "...":
                out += _ellipsis_labels(ell)
                continue
            c = ord(i)
            if c in out:
                raise ValueError(f"einsum(): subscript {i} appears more than once in the output")
            if c not in counts:
                raise ValueError(f"einsum(): output subscript {i} does not appear for any operand")
            out.append(c)
    else:
        out = _ellipsis_labels(ell) + sorted(c for c, n in counts.items() if n == 1)
    return spec, out


def _term(term: str, what: str) -> list[str]:
    items: list[str] = []
    i = 0
    while i < len(term):
        ch = term[i]
        if ch == ".":
            if term[i : i + 3] != "...":
                raise ValueError("einsum(): found '.' in equation that is not part of an ellipsis")
            if "..." in items:
                raise ValueError(f"einsum(): at most one ellipsis can be specified per {what}")
            items.append("...")
            i += 3
            continue
        if not ch.isascii() or not ch.isalpha():
            raise ValueError(f"einsum(): expected subscripts to be in range [A-Za-z], but got {ch}")
        items.append(ch)
        i += 1
    return items


def _parse_sublists(args: tuple[Any, ...]) -> tuple[list[Any], list[list[int]], list[int]]:
    """einsum(op0, sub0, op1, sub1, ..., [sub_out]): subscripts are ints in [0, 52) or
    Ellipsis; written back as letters (0-25 A-Z, 26-51 a-z, as PyTorch)."""
    pairs = list(args)
    out_sub = pairs.pop() if len(pairs) % 2 else None
    xs = [_tensor(x) for x in pairs[0::2]]

    def letters(sub: Any) -> str:
        text = ""
        for s in sub:
            if s is Ellipsis:
                text += "..."
            elif isinstance(s, (int, np.integer)) and 0 <= s < 52:
                text += chr(ord("A") + s) if s < 26 else chr(ord("a") + s - 26)
            else:
                raise ValueError(
                    f"einsum(): subscript in subscript list is not within the valid range "
                    f"[0, 52): {s}"
                )
        return text

    equation = ",".join(letters(s) for s in pairs[1::2])
    if out_sub is not None:
        equation += "->" + letters(out_sub)
    spec, out = _parse(equation, [x.ndim for x in xs])
    return xs, spec, out


def _diagonals(x: Any, labels: list[int], k: int) -> tuple[Any, list[int]]:
    """Take the diagonal for each label repeated in one operand (einsum('ii->i', a))."""
    labels = list(labels)
    while len(set(labels)) < len(labels):
        p = next(i for i, c in enumerate(labels) if labels.index(c) != i)
        first = labels.index(labels[p])
        if x.shape[first] != x.shape[p]:
            raise ShapeError(
                f"einsum(): subscript {label_text(labels[p])} is repeated for operand {k} but "
                f"the sizes don't match, {x.shape[first]} != {x.shape[p]}"
            )
        x = _take_diagonal(x, first, p)
        del labels[p]
    return x, labels


def _take_diagonal(x: Any, p: int, q: int) -> Any:
    """x with dims p < q (of equal size n) replaced by their diagonal, at position p: a
    view (the two dims flattened, every (n + 1)-th element)."""
    n = x.shape[p]
    rest = [d for d in range(x.ndim) if d not in (p, q)]
    y = x.permute(*(rest + [p, q])).reshape(tuple(x.shape[d] for d in rest) + (n * n,))
    y = y[..., :: n + 1] if n else y
    order = list(range(y.ndim - 1))
    order.insert(p, y.ndim - 1)
    return y.permute(*order) if order != list(range(y.ndim)) else y
