"""Products: matmul (1-D, 2-D and batched, broadcasting the batch dimensions), the
fused addmm family, einsum, cross, and the distances cdist and dist.

matmul is a BLAS kernel; the others are composites written with Operand methods,
so they compile into matmuls and fused loops. einsum contracts its operands pairwise
(transpose, reshape, matmul), and its VJP is an einsum too. The helpers at the end
(`eye_mask`, `tril_mask`, `diag_embed`, `diagonal`) build the matrix VJP rules of
`compiler.ops.decompositions`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes, kernels
from compiler.dispatch import apply
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Composite, Kernel
from compiler.ops.elementwise import broadcast_shapes, keep
from compiler.registry import AVal, Op, has_value, register, save_other


def _matmul_abstract(a: AVal, b: AVal) -> AVal:
    for x in (a, b):
        if not isinstance(x, AVal):
            raise TypeError(f"matmul: both operands must be tensors, got {type(x).__name__} {x!r}")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul: both arguments need at least 1 dimension, got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.dtype != b.dtype:
        raise DTypeError(
            f"matmul: expected both operands to have the same dtype, got "
            f"{a.dtype} (shape {tuple(a.shape)}) and {b.dtype} (shape "
            f"{tuple(b.shape)}); convert one with .to(dtype)"
        )
    a2 = tuple(a.shape) if a.ndim > 1 else (1, a.shape[0])
    b2 = tuple(b.shape) if b.ndim > 1 else (b.shape[0], 1)
    if a2[-1] != b2[-2]:
        hint = ""
        if b.ndim > 1 and a2[-1] == b2[-1]:
            hint = "; did you mean to transpose the second (x @ y.mT, or y.T for 2-D)?"
        elif a.ndim > 1 and a2[-2] == b2[-2]:
            hint = "; did you mean to transpose the first (x.mT @ y, or x.T for 2-D)?"
        raise ShapeError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
            f"multiplied ({a2[-1]} != {b2[-2]}: the last dimension of the first "
            f"must equal the {'first' if b.ndim == 1 else 'second-to-last'} "
            f"of the second){hint}"
        )
    batch = broadcast_shapes("matmul (batch dimensions)", a2[:-2], b2[:-2])
    shape = batch + (a2[-2],) * (a.ndim > 1) + (b2[-1],) * (b.ndim > 1)
    return AVal(shape, a.dtype)


def _matmul_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    # An operand that was not saved (eager) means the other one needs no gradient.
    need_a, need_b = has_value(b), has_value(a)
    if a.ndim == 1 and b.ndim == 1:
        return (g * b if need_a else None), (g * a if need_b else None)
    g2 = g.unsqueeze(-2) if a.ndim == 1 else g
    g2 = g2.unsqueeze(-1) if b.ndim == 1 else g2
    ga = gb = None
    if need_a:
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        a2_shape = (1,) + tuple(a.shape) if a.ndim == 1 else tuple(a.shape)
        ga = (g2 @ b2.mT).sum_to(a2_shape).reshape(tuple(a.shape))
    if need_b:
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2_shape = tuple(b.shape) + (1,) if b.ndim == 1 else tuple(b.shape)
        gb = (a2.mT @ g2).sum_to(b2_shape).reshape(tuple(b.shape))
    return ga, gb


def _matmul_name(avals: tuple[AVal, ...]) -> str:
    a, b = avals
    if a.ndim == 2 and b.ndim == 2:
        return "MmBackward0"
    if a.ndim == 2 and b.ndim == 1:
        return "MvBackward0"
    if a.ndim == 1 and b.ndim == 1:
        return "DotBackward0"
    if a.ndim == 1 and b.ndim == 2:
        return "SqueezeBackward4"
    if a.ndim == 2:  # PyTorch folds b's batch dims and copies the result back
        return "CloneBackward0"
    return "UnsafeViewBackward0"


def _matmul_impl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not isinstance(b, np.ndarray) or not isinstance(a, np.ndarray) or a.dtype != b.dtype:
        # numpy would promote; the op is defined on one dtype
        raise TypeError("matmul: operands of different dtypes")
    return np.asarray(np.matmul(a, b))


def _matmul_jvp(t: tuple[Any, Any], out: Any, a: Any, b: Any) -> Any:
    """The product rule: ta b + a tb."""
    ta, tb = t
    if ta is None:
        return a @ tb
    return ta @ b if tb is None else ta @ b + a @ tb


register(
    Op(
        "matmul",
        _matmul_abstract,
        _matmul_impl,
        _matmul_vjp,
        grad_fn=_matmul_name,
        lowering=Kernel(kernels.matmul, contiguous=kernels.blas_ready),
        saves=save_other,
        jvp=_matmul_jvp,
    )
)


# ---- helpers of the matrix rules --------------------------------------------------------


def eye_mask(x: Any, n: int) -> Any:
    """The (n, n) identity as a bool mask, in `x`'s world."""
    return x.iota((n, n), 0) == x.iota((n, n), 1)


def tril_mask(x: Any, n: int, m: int | None = None, k: int = 0) -> Any:
    """True on and below diagonal `k` of an (n, m) matrix (numpy's tril)."""
    shape = (n, n if m is None else m)
    return x.iota(shape, 1) - x.iota(shape, 0) <= k


def diag_embed(v: Any) -> Any:
    """(..., n) -> (..., n, n) with `v` on the diagonal and zeros elsewhere."""
    n = v.shape[-1]
    return keep(v.unsqueeze(-1).broadcast_to(tuple(v.shape) + (n,)), eye_mask(v, n))


def diagonal(m: Any) -> Any:
    """The diagonal of square matrices (..., n, n) -> (..., n)."""
    return keep(m, eye_mask(m, m.shape[-1])).sum(-1)


def _float_matrix(op: str, *xs: AVal) -> None:
    for x in xs:
        if not dtypes.is_float(x.dtype) or x.dtype == dtypes.float16:
            raise DTypeError(
                f"{op}: expected a float32 or float64 tensor, got {x.dtype} (shape "
                f"{tuple(x.shape)}); convert it first with .double() or .float()"
            )
    if len({x.dtype for x in xs}) > 1:
        shown = " and ".join(f"{x.dtype} (shape {tuple(x.shape)})" for x in xs)
        raise DTypeError(f"{op}: expected operands of one dtype, got {shown}; convert with .to()")


# ---- addmm, addmv, addbmm, baddbmm: beta * input + alpha * (product) ----------------------


def _same_dtype(op: str, *xs: AVal) -> np.dtype:
    if len({x.dtype for x in xs}) > 1:
        shown = ", ".join(f"{x.dtype} (shape {tuple(x.shape)})" for x in xs)
        raise DTypeError(
            f"{op}: expected all operands to have the same dtype, got {shown}; convert them "
            "to one with .to(dtype)"
        )
    return xs[0].dtype


def _product_shape(op: str, a: AVal, b: AVal, kind: str) -> tuple[int, ...]:
    """The shape of the product term: mm (n,m)@(m,p); mv (n,m)@(m,); bmm and sum_bmm
    (b,n,m)@(b,m,p) (sum_bmm then sums over the batch)."""
    want = {"mm": (2, 2), "mv": (2, 1), "bmm": (3, 3), "sum_bmm": (3, 3)}[kind]
    if (a.ndim, b.ndim) != want:
        raise ShapeError(
            f"{op}: expected {want[0]}-D and {want[1]}-D operands, got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.shape[-1] != b.shape[1 if kind in ("bmm", "sum_bmm") else 0]:
        raise ShapeError(
            f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
            f"({a.shape[-1]} != {b.shape[-2] if b.ndim > 1 else b.shape[0]})"
        )
    if kind in ("bmm", "sum_bmm") and a.shape[0] != b.shape[0]:
        raise ShapeError(
            f"{op}: the operands must hold the same number of matrices, got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    if kind == "mm":
        return (a.shape[0], b.shape[1])
    if kind == "mv":
        return (a.shape[0],)
    if kind == "bmm":
        return (a.shape[0], a.shape[1], b.shape[2])
    return (a.shape[1], b.shape[2])


def _addmm_family(name: str, kind: str, node: str) -> None:
    def abstract_eval(c: AVal, a: AVal, b: AVal, beta: float, alpha: float) -> AVal:
        d = _same_dtype(name, c, a, b)
        shape = _product_shape(name, a, b, kind)
        try:
            broadcast_shapes(name, tuple(c.shape), shape)
        except ShapeError:
            raise ShapeError(
                f"{name}: input of shape {tuple(c.shape)} does not broadcast to the "
                f"product's shape {shape}"
            ) from None
        if broadcast_shapes(name, tuple(c.shape), shape) != shape:
            raise ShapeError(
                f"{name}: input of shape {tuple(c.shape)} does not broadcast to the "
                f"product's shape {shape}"
            )
        return AVal(shape, d)

    def product(a: Any, b: Any) -> Any:
        p = a @ b
        return p.sum(0) if kind == "sum_bmm" else p

    def fn(c: Any, a: Any, b: Any, beta: float, alpha: float) -> Any:
        p = product(a, b)
        p = p if alpha == 1 else p * alpha
        if beta == 0:  # input is ignored: its NaN and inf do not propagate (PyTorch's rule)
            return p
        return p + (c if beta == 1 else c * beta)

    def vjp(g: Any, out: Any, c: Any, a: Any, b: Any, beta: float, alpha: float) -> tuple:
        gc = g.zeros_like() if beta == 0 else g if beta == 1 else g * beta
        gp = g if alpha == 1 else g * alpha
        if kind == "sum_bmm":
            gp = gp.unsqueeze(0).broadcast_to((a.shape[0],) + tuple(gp.shape))
        ga = gb = None
        if has_value(b):
            ga = gp.unsqueeze(-1) * b if kind == "mv" else gp @ b.mT
        if has_value(a):
            gb = a.mT @ gp if kind != "mv" else a.mT @ gp
        return gc, ga, gb

    register(
        Op(
            name,
            abstract_eval,
            None,
            vjp,
            grad_fn=node,
            lowering=Composite(fn),
            saves=lambda ng: (False, ng[2], ng[1]),
        )
    )


_addmm_family("addmm", "mm", "AddmmBackward0")
_addmm_family("addmv", "mv", "AddmvBackward0")
_addmm_family("baddbmm", "bmm", "BaddbmmBackward0")
_addmm_family("addbmm", "sum_bmm", "AddbmmBackward0")


# ---- einsum -------------------------------------------------------------------------------
# Labels are ints: ord(letter) for letters, -1, -2, ... for the dims an ellipsis covers.
# The front end (tracer.functions.linalg.einsum) parses the equation and takes the
# diagonals of labels repeated within an operand, so here each operand's labels are
# distinct; a label of size 1 broadcasts against the others, as in PyTorch.


def label_text(label: int) -> str:
    return chr(label) if label >= 0 else "..."


def label_sizes(shapes: list[tuple[int, ...]], spec: tuple[tuple[int, ...], ...]) -> dict:
    """{label: size} over all operands (a size 1 broadcasts), or a ShapeError."""
    sizes: dict[int, int] = {}
    for k, (shape, labels) in enumerate(zip(shapes, spec)):
        if len(shape) != len(labels):
            raise ShapeError(
                f"einsum(): operand {k} has {len(shape)} dimensions (shape {tuple(shape)}) "
                f"but {len(labels)} subscripts"
            )
        for label, n in zip(labels, shape):
            seen = sizes.get(label, 1)
            if n != 1 and seen != 1 and n != seen:
                raise ShapeError(
                    f"einsum(): subscript {label_text(label)} has size {n} for operand {k} "
                    f"(shape {tuple(shape)}), which does not broadcast with the size {seen} "
                    "seen before"
                )
            sizes[label] = max(seen, n) if n != 1 else seen
    return sizes


def _einsum_abstract(*xs: AVal, spec: tuple[tuple[int, ...], ...], output: tuple[int, ...]) -> AVal:
    if len(xs) != len(spec):
        raise ShapeError(f"einsum(): {len(spec)} operands in the equation, {len(xs)} given")
    if len({x.dtype for x in xs}) > 1:
        shown = ", ".join(str(x.dtype) for x in xs)
        raise DTypeError(
            f"einsum(): expected operands of one dtype, got {shown}; convert them with .to()"
        )
    sizes = label_sizes([tuple(x.shape) for x in xs], spec)
    return AVal(tuple(sizes[label] for label in output), xs[0].dtype)


def _sum_labels(x: Any, labels: list[int], drop: list[int]) -> tuple[Any, list[int]]:
    if not drop:
        return x, labels
    axes = tuple(labels.index(label) for label in drop)
    x = apply("reduce_sum", x, axes=tuple(sorted(axes)), keepdims=False)
    return x, [label for label in labels if label not in drop]


def _arrange(x: Any, labels: list[int], order: list[int], full: dict) -> Any:
    """`x` with its dims permuted to `order`, the labels in `full` broadcast to their size."""
    perm = [labels.index(label) for label in order]
    if perm != list(range(len(perm))):
        x = x.permute(*perm)
    shape = tuple(full.get(label, x.shape[i]) for i, label in enumerate(order))
    return x.broadcast_to(shape) if shape != tuple(x.shape) else x


def _prod(ns: Any) -> int:
    return int(np.prod(list(ns), dtype=np.int64))


def _contract_pair(
    a: Any, la: list[int], b: Any, lb: list[int], keep_labels: set[int]
) -> tuple[Any, list[int]]:
    """sum over the labels shared by a and b that nothing later needs of a * b, as one
    (batched) matmul; a product broadcast over the labels when nothing is contracted."""
    a, la = _sum_labels(a, la, [c for c in la if c not in lb and c not in keep_labels])
    b, lb = _sum_labels(b, lb, [c for c in lb if c not in la and c not in keep_labels])
    size_a = dict(zip(la, a.shape))
    size_b = dict(zip(lb, b.shape))
    batch = [c for c in la if c in lb and c in keep_labels]
    contract = [c for c in la if c in lb and c not in keep_labels]
    a_only = [c for c in la if c not in lb]
    b_only = [c for c in lb if c not in la]
    shared = {c: max(size_a[c], size_b[c]) for c in batch + contract}
    labels = batch + a_only + b_only
    if not contract:
        xa = _arrange(a, la, batch + a_only, {})
        xb = _arrange(b, lb, batch + b_only, {})
        nb = len(batch)
        xa = xa.reshape(tuple(xa.shape) + (1,) * len(b_only))
        xb = xb.reshape(tuple(xb.shape[:nb]) + (1,) * len(a_only) + tuple(xb.shape[nb:]))
        return xa * xb, labels
    xa = _arrange(a, la, batch + a_only + contract, shared)
    xb = _arrange(b, lb, batch + contract + b_only, shared)
    nb, m = _prod(shared[c] for c in batch), _prod(size_a[c] for c in a_only)
    k, n = _prod(shared[c] for c in contract), _prod(size_b[c] for c in b_only)
    lead = (nb,) if batch else ()
    r = xa.reshape(lead + (m, k)) @ xb.reshape(lead + (k, n))
    shape = tuple(shared[c] for c in batch) + tuple(size_a[c] for c in a_only)
    return r.reshape(shape + tuple(size_b[c] for c in b_only)), labels


def _next_pair(ops: list[tuple[Any, list[int]]], out: tuple[int, ...]) -> tuple[int, int]:
    """Greedy order: the pair whose contraction gives the smallest result (first wins)."""
    if len(ops) == 2:
        return 0, 1
    best, pick = None, (0, 1)
    for i in range(len(ops)):
        for j in range(i + 1, len(ops)):
            later = {c for k, (_, lk) in enumerate(ops) if k not in (i, j) for c in lk}
            later |= set(out)
            sizes = dict(zip(ops[i][1], ops[i][0].shape))
            for c, n in zip(ops[j][1], ops[j][0].shape):
                sizes[c] = max(n, sizes.get(c, 1))
            cost = _prod(n for c, n in sizes.items() if c in later)
            if best is None or cost < best:
                best, pick = cost, (i, j)
    return pick


def _einsum(*xs: Any, spec: tuple[tuple[int, ...], ...], output: tuple[int, ...]) -> Any:
    out = output
    ops = [(x, list(labels)) for x, labels in zip(xs, spec)]
    while len(ops) > 1:
        i, j = _next_pair(ops, out)
        later = {c for k, (_, lk) in enumerate(ops) if k not in (i, j) for c in lk} | set(out)
        pair = _contract_pair(*ops[i], *ops[j], later)
        ops = [o for k, o in enumerate(ops) if k not in (i, j)] + [pair]
    x, labels = ops[0]
    computed = len(xs) > 1 or any(c not in out for c in labels)
    x, labels = _sum_labels(x, labels, [c for c in labels if c not in out])
    perm = [labels.index(c) for c in out]
    if perm != list(range(len(perm))):
        x = x.permute(*perm)
    return x if computed else x.clone()  # never the input's own memory


def _einsum_grads(g: Any, xs: tuple[Any, ...], spec: tuple, out: tuple[int, ...]) -> list[Any]:
    """Each operand's gradient: the einsum of the cotangent with the other operands,
    broadcast over the labels only that operand has."""
    grads = []
    for k, (x, labels) in enumerate(zip(xs, spec)):
        others = [j for j in range(len(xs)) if j != k]
        if others and not all(has_value(xs[j]) for j in others):
            grads.append(None)  # not saved: its gradient is not needed
            continue
        present = set(out).union(*[spec[j] for j in others])
        kept = tuple(c for c in labels if c in present)
        gk = apply(
            "einsum",
            g,
            *[xs[j] for j in others],
            spec=(tuple(out), *[spec[j] for j in others]),
            output=kept,
        )
        if len(kept) < len(labels):
            it = iter(gk.shape)
            shape = tuple(next(it) if c in present else 1 for c in labels)
            full = tuple(
                n if c in present else x.shape[i] for i, (c, n) in enumerate(zip(labels, shape))
            )
            gk = gk.reshape(shape).broadcast_to(full)
        grads.append(gk)
    return grads


def _einsum_name(avals: tuple[AVal, ...], spec: tuple = ((),), output: tuple = ()) -> str:
    """PyTorch's node for einsum: one operand gives a sum (labels summed) or a permute;
    several give a view of a batched matmul (labels contracted) or a product."""
    summed = any(c not in output for labels in spec for c in labels)
    if len(spec) == 1:
        return "SumBackward1" if summed else "PermuteBackward0"
    return "ViewBackward0" if summed else "MulBackward0"


def _einsum_saves(needs: tuple[bool, ...]) -> tuple[bool, ...]:
    return tuple(any(n for j, n in enumerate(needs) if j != i) for i in range(len(needs)))


register(
    Op(
        "einsum",
        _einsum_abstract,
        None,
        lambda g, out, *xs, spec, output: tuple(_einsum_grads(g, xs, spec, output)),
        grad_fn=_einsum_name,
        lowering=Composite(_einsum),
        saves=_einsum_saves,
    )
)


# ---- cross product ----------------------------------------------------------------------


def _cross_abstract(a: AVal, b: AVal, axis: int) -> AVal:
    if tuple(a.shape) != tuple(b.shape) or a.shape[axis] != 3:
        raise ShapeError(
            f"linalg.cross: expected two tensors of one shape with size 3 in dimension "
            f"{axis}, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return AVal(tuple(a.shape), _same_dtype("linalg.cross", a, b))


def _cross(a: Any, b: Any, axis: int) -> Any:
    def part(x: Any, k: int) -> Any:
        return x[(slice(None),) * axis + (slice(k, k + 1),)]

    a0, a1, a2 = (part(a, k) for k in range(3))
    b0, b1, b2 = (part(b, k) for k in range(3))
    return apply("concatenate", a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0, axis=axis)


register(
    Op(
        "linalg_cross",
        _cross_abstract,
        None,
        lambda g, out, a, b, axis: (
            apply("linalg_cross", b, g, axis=axis) if has_value(b) else None,
            apply("linalg_cross", g, a, axis=axis) if has_value(a) else None,
        ),
        grad_fn="LinalgCrossBackward0",
        lowering=Composite(_cross),
        saves=save_other,
    )
)


# ---- distances ----------------------------------------------------------------------------
# The gradients follow PyTorch's conventions at the kinks: 0 where a distance is 0 (and, for
# p < 1, where a coordinate difference is 0); for p = inf, cdist gives each tied coordinate
# the whole gradient and dist splits it evenly among them.


def _p_norm(d: Any, p: float, axes: tuple[int, ...]) -> Any:
    """The p-norm of `d` over `axes` (p = 0 counts the non-zero entries)."""
    if p == 0:
        return apply("reduce_sum", (d != 0).to(d.dtype), axes=axes, keepdims=False)
    if p == 1:
        return apply("reduce_sum", d.abs(), axes=axes, keepdims=False)
    if p == 2:
        return apply("reduce_sum", d * d, axes=axes, keepdims=False).sqrt()
    if p == np.inf:
        return apply("amax", d.abs(), axes=axes, keepdims=False)
    if p == -np.inf:
        return apply("amin", d.abs(), axes=axes, keepdims=False)
    return apply("reduce_sum", d.abs() ** p, axes=axes, keepdims=False) ** (1 / p)


def _p_norm_grad(g: Any, d: Any, norm: Any, p: float, axes: tuple[int, ...], split: bool) -> Any:
    """g times d norm_p(d) / d d, with g and norm kept (keepdims) over `axes`; `split`:
    tied maxima share the gradient of an infinity norm, else each gets all of it."""
    if p == 0:
        return d.zeros_like()
    if p == 1:
        return g * d.sign()
    if abs(p) == np.inf:
        hit = d.abs() == norm
        if split:
            g = g / apply("reduce_sum", hit.to(d.dtype), axes=axes, keepdims=True)
        return keep(g * d.sign(), hit)
    zero = norm == 0
    safe = norm.where(~zero, 1)
    if p == 2:
        return (g / safe).where(~zero, 0) * d
    # sign(d) |d|^(p-1), 0 where d == 0 (so p < 1 gives no inf there)
    part = d.abs().where(d != 0, 1) ** (p - 1) * d.sign()
    return part * (g / safe ** (p - 1)).where(~zero, 0)


def _cdist_abstract(x1: AVal, x2: AVal, p: float) -> AVal:
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ShapeError(
            f"cdist: expected x1 (..., P, M) and x2 (..., R, M) with the same M, got shapes "
            f"{tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    _float_matrix("cdist", x1, x2)
    if p < 0:
        raise ValueError(f"cdist only supports non-negative p values, got {p}")
    batch = broadcast_shapes("cdist (batch dimensions)", x1.shape[:-2], x2.shape[:-2])
    return AVal(batch + (x1.shape[-2], x2.shape[-2]), x1.dtype)


def _cdist(x1: Any, x2: Any, p: float) -> Any:
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return _p_norm(d, p, (d.ndim - 1,))


def _cdist_vjp(g: Any, out: Any, x1: Any, x2: Any, p: float) -> tuple[Any, Any]:
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    gd = _p_norm_grad(g.unsqueeze(-1), d, out.unsqueeze(-1), p, (d.ndim - 1,), split=False)
    return gd.sum(-2), -gd.sum(-3)


register(
    Op(
        "cdist",
        _cdist_abstract,
        None,
        _cdist_vjp,
        grad_fn="CdistBackward0",
        lowering=Composite(_cdist),
        saves_out=True,
    )
)


def _dist_abstract(a: AVal, b: AVal, p: float) -> AVal:
    broadcast_shapes("dist", tuple(a.shape), tuple(b.shape))
    _float_matrix("dist", a, b)
    return AVal((), a.dtype)


def _dist_vjp(g: Any, out: Any, a: Any, b: Any, p: float) -> tuple[Any, Any]:
    d = a - b
    axes = tuple(range(d.ndim))
    gd = _p_norm_grad(g, d, out, p, axes, split=True)
    return gd, -gd


register(
    Op(
        "dist",
        _dist_abstract,
        None,
        _dist_vjp,
        grad_fn="DistBackward0",
        lowering=Composite(lambda a, b, p: _p_norm(a - b, p, tuple(range(max(a.ndim, b.ndim))))),
        saves_out=True,
    )
)
