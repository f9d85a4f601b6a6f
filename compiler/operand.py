"""The operator mixin shared by eager Tensors and symbolic IR values.

Every method forwards to `apply(op_name, *inputs, **params)` (compiler.dispatch),
which hands the call to the highest-priority operand among the inputs (`_bind`). Eager Tensors
run numpy and record autograd nodes; symbolic values record IR equations. This
is what lets one VJP rule, written with these methods, serve both worlds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.args import (  # noqa: F401  (normalize_axis, ... are re-exported)
    infer_reshape,
    int_arg,
    is_number,
    normalize_axes,
    normalize_axis,
    reduction_axes,
    shape_arg,
)
from compiler.dispatch import apply, tracing  # noqa: F401  (re-exported)
from compiler.errors import ShapeError, missing_attribute
from compiler.methods.indexing import IndexingMethods
from compiler.methods.linalg import LinalgMethods
from compiler.methods.math import MathMethods
from compiler.methods.norms import NormMethods
from compiler.methods.reductions import ReductionMethods
from compiler.methods.shapes import ShapeMethods
from compiler.methods.sorting import SortingMethods
from compiler.source import warn_at_user_line


class Operand(
    ReductionMethods,
    IndexingMethods,
    ShapeMethods,
    MathMethods,
    NormMethods,
    SortingMethods,
    LinalgMethods,
):
    """Mixin: PyTorch-named methods over `apply`. Subclasses provide `shape`,
    `dtype`, `_bind`, `_const` (wrap a numpy array as an operand of the same
    world) and `_priority`."""

    __slots__ = ()
    _priority = 0
    __array_priority__ = 1000  # numpy defers `ndarray + tensor` to us

    shape: tuple[int, ...]
    dtype: np.dtype

    def _bind(
        self, op: str, inputs: Sequence[Any], params: dict[str, Any], name: str | None
    ) -> Any:
        raise NotImplementedError

    def _const(self, value: np.ndarray) -> Operand:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        # called only when normal lookup failed: name what PyTorch has and we lack
        if name.startswith("_"):
            raise AttributeError(name)
        if hasattr(type(self), name):  # a property or slot that itself failed:
            return object.__getattribute__(self, name)  # re-raise its own error
        raise missing_attribute("Tensor", "'Tensor' object", name, dir(type(self)))

    # ---- metadata -------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        axis = normalize_axis(dim, self.ndim, "size")
        if not self.shape:
            raise IndexError(f"size: dim {dim} given, but a 0-d tensor has no dimensions")
        return self.shape[axis]

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    # ---- arithmetic -----------------------------------------------------
    def __add__(self, other: Any) -> Any:
        return apply("add", self, other)

    def __radd__(self, other: Any) -> Any:
        return apply("add", other, self)

    def __sub__(self, other: Any) -> Any:
        return apply("sub", self, other)

    def __rsub__(self, other: Any) -> Any:
        return apply("sub", other, self, name="RsubBackward1")

    def __mul__(self, other: Any) -> Any:
        return apply("mul", self, other)

    def __rmul__(self, other: Any) -> Any:
        return apply("mul", other, self)

    def __truediv__(self, other: Any) -> Any:
        return apply("div", self, other)

    def __rtruediv__(self, other: Any) -> Any:
        # PyTorch computes `2 / x` as x.reciprocal() * 2: its node is a MulBackward0
        return apply("div", other, self, name="MulBackward0" if is_number(other) else None)

    def __pow__(self, other: Any) -> Any:
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return apply("pow_scalar", self, exponent=other)
        return apply("pow", self, other)

    def __rpow__(self, other: Any) -> Any:
        return apply("pow", other, self, name="PowBackward2")

    def __neg__(self) -> Any:
        return apply("neg", self)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return apply("abs", self)

    def __matmul__(self, other: Any) -> Any:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Any:
        return apply("matmul", other, self)

    def __lt__(self, other: Any) -> Any:
        return apply("lt", self, other)

    def __le__(self, other: Any) -> Any:
        return apply("le", self, other)

    def __gt__(self, other: Any) -> Any:
        return apply("gt", self, other)

    def __ge__(self, other: Any) -> Any:
        return apply("ge", self, other)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:  # `t == None` is False, as in PyTorch
            return NotImplemented
        return apply("eq", self, other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:
            return NotImplemented
        return apply("ne", self, other)

    __hash__ = object.__hash__

    def add(self, other: Any, alpha: float = 1) -> Any:
        return self + (other if _is_one(alpha) else other * alpha)

    def sub(self, other: Any, alpha: float = 1) -> Any:
        return self - (other if _is_one(alpha) else other * alpha)

    def mul(self, other: Any) -> Any:
        return self * other

    def pow(self, exponent: Any) -> Any:
        return self**exponent

    def neg(self) -> Any:
        return -self

    def maximum(self, other: Any) -> Any:
        return apply("maximum", self, other)

    def minimum(self, other: Any) -> Any:
        return apply("minimum", self, other)

    def where(self, condition: Any, other: Any) -> Any:
        return apply("where", condition, self, other)

    # ---- in-place ops: each world's `_inplace(name, fn, *others)` applies
    # `fn(old value)` and makes the result this operand's new value.
    def _inplace(self, name: str, fn: Any, *others: Any) -> Any:
        raise NotImplementedError

    def add_(self, other: Any, alpha: float = 1) -> Any:
        return self._inplace("add_", lambda s: s.add(other, alpha=alpha), other)

    def sub_(self, other: Any, alpha: float = 1) -> Any:
        return self._inplace("sub_", lambda s: s.sub(other, alpha=alpha), other)

    def mul_(self, other: Any) -> Any:
        return self._inplace("mul_", lambda s: s * other, other)

    def div_(self, other: Any) -> Any:
        return self._inplace("div_", lambda s: s / other, other)

    def pow_(self, exponent: Any) -> Any:
        return self._inplace("pow_", lambda s: s**exponent, exponent)

    def neg_(self) -> Any:
        return self._inplace("neg_", lambda s: -s)

    def abs_(self) -> Any:
        return self._inplace("abs_", lambda s: s.abs())

    def exp_(self) -> Any:
        return self._inplace("exp_", lambda s: s.exp())

    def log_(self) -> Any:
        return self._inplace("log_", lambda s: s.log())

    def log1p_(self) -> Any:
        return self._inplace("log1p_", lambda s: s.log1p())

    def sqrt_(self) -> Any:
        return self._inplace("sqrt_", lambda s: s.sqrt())

    def sin_(self) -> Any:
        return self._inplace("sin_", lambda s: s.sin())

    def cos_(self) -> Any:
        return self._inplace("cos_", lambda s: s.cos())

    def tanh_(self) -> Any:
        return self._inplace("tanh_", lambda s: s.tanh())

    def sigmoid_(self) -> Any:
        return self._inplace("sigmoid_", lambda s: s.sigmoid())

    def relu_(self) -> Any:
        return self._inplace("relu_", lambda s: s.relu())

    def __iadd__(self, other: Any) -> Any:
        return self.add_(other)

    def __isub__(self, other: Any) -> Any:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Any:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Any:
        return self.div_(other)

    # ---- unary math -----------------------------------------------------
    def abs(self) -> Any:
        return apply("abs", self)

    def exp(self) -> Any:
        return apply("exp", self)

    def log(self) -> Any:
        return apply("log", self)

    def log1p(self) -> Any:
        return apply("log1p", self)

    def sqrt(self) -> Any:
        return apply("sqrt", self)

    def sin(self) -> Any:
        return apply("sin", self)

    def cos(self) -> Any:
        return apply("cos", self)

    def tanh(self) -> Any:
        return apply("tanh", self)

    def sigmoid(self) -> Any:
        return apply("sigmoid", self)

    def relu(self) -> Any:
        return apply("relu", self)

    def sign(self) -> Any:
        return apply("sign", self)

    def square(self) -> Any:
        return self**2

    # ---- dtype ----------------------------------------------------------
    def to(self, dtype: Any) -> Any:
        d = dtypes.canonical(dtype)
        return self if d == self.dtype else apply("convert", self, dtype=d)

    type_as = None  # set below

    def float(self) -> Any:
        return self.to(dtypes.float32)

    def double(self) -> Any:
        return self.to(dtypes.float64)

    def long(self) -> Any:
        return self.to(dtypes.int64)

    def int(self) -> Any:
        return self.to(dtypes.int32)

    def bool(self) -> Any:
        return self.to(dtypes.bool_)

    def half(self) -> Any:
        return self.to(dtypes.float16)

    def short(self) -> Any:
        return self.to(dtypes.int16)

    def char(self) -> Any:
        return self.to(dtypes.int8)

    def byte(self) -> Any:
        return self.to(dtypes.uint8)

    def clone(self, *, memory_format: Any = None) -> Any:
        """A copy (every copy here is contiguous; memory_format is accepted and ignored)."""
        return apply("copy", self)

    # ---- shapes ---------------------------------------------------------
    def reshape(self, *shape: Any) -> Any:
        new = infer_reshape(tuple(self.shape), shape_arg(shape, "reshape"))
        return apply("reshape", self, shape=new, name=self._reshape_name(new))

    def _reshape_name(self, shape: tuple[int, ...]) -> str:
        """The grad_fn name of reshape(shape); eager Tensors tell views from copies."""
        return "ViewBackward0"

    def view(self, *shape: Any) -> Any:
        new = infer_reshape(tuple(self.shape), shape_arg(shape, "view"))
        return apply("reshape", self, shape=new, name="ViewBackward0")

    def view_as(self, other: Any) -> Any:
        return self.reshape(other.shape)

    def reshape_as(self, other: Any) -> Any:
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Any:
        if self.ndim == 0:
            return self.reshape(1)
        s = normalize_axis(start_dim, self.ndim, "flatten")
        e = normalize_axis(end_dim, self.ndim, "flatten")
        merged = int(np.prod(self.shape[s : e + 1], dtype=np.int64))
        shape = tuple(self.shape[:s]) + (merged,) + tuple(self.shape[e + 1 :])
        return self.reshape(shape)

    def unsqueeze(self, dim: int) -> Any:
        d = normalize_axis(dim, self.ndim + 1, "unsqueeze")
        return apply(
            "reshape", self, shape=self.shape[:d] + (1,) + self.shape[d:], name="UnsqueezeBackward0"
        )

    def squeeze(self, dim: Any = None) -> Any:
        if dim is None:
            shape = tuple(s for s in self.shape if s != 1)
            name = "SqueezeBackward0"
        else:
            axes = normalize_axes(dim, self.ndim, "squeeze")
            shape = tuple(s for i, s in enumerate(self.shape) if not (i in axes and s == 1))
            name = "SqueezeBackward2" if isinstance(dim, (tuple, list)) else "SqueezeBackward1"
        return apply("reshape", self, shape=shape, name=name)

    def permute(self, *dims: Any) -> Any:
        perm = tuple(normalize_axis(d, self.ndim, "permute") for d in shape_arg(dims, "permute"))
        if sorted(perm) != list(range(self.ndim)):
            raise ValueError(
                f"permute: {shape_arg(dims)} is not a permutation of the "
                f"{self.ndim} dims of a tensor of shape {tuple(self.shape)}"
            )
        return apply("transpose", self, perm=perm, name="PermuteBackward0")

    def transpose(self, dim0: int, dim1: int) -> Any:
        perm = list(range(self.ndim))
        a = normalize_axis(dim0, self.ndim, "transpose")
        b = normalize_axis(dim1, self.ndim, "transpose")
        if perm:  # a 0-d tensor accepts dims 0 and -1, and stays as it is
            perm[a], perm[b] = perm[b], perm[a]
        return apply("transpose", self, perm=tuple(perm), name="TransposeBackward0")

    def t(self) -> Any:
        if self.ndim > 2:
            raise ShapeError(
                f"t(): expects a tensor with <= 2 dimensions, got shape {tuple(self.shape)}"
            )
        return apply("transpose", self, perm=tuple(reversed(range(self.ndim))), name="TBackward0")

    @property
    def T(self) -> Any:
        """The dims reversed (a matrix transposed). As in PyTorch, other than 2-D it
        warns that this use is deprecated (0-d: the identity; n-d: use mT or permute)."""
        if self.ndim == 0:
            warn_at_user_line(
                "Tensor.T is deprecated on 0-D tensors. This function is the identity in "
                "these cases.",
                UserWarning,
            )
        elif self.ndim != 2:
            warn_at_user_line(
                "The use of `x.T` on tensors of dimension other than 2 to reverse their shape "
                "is deprecated and it will throw an error in a future release. Consider "
                "`x.mT` to transpose batches of matrices or `x.permute(*range(x.ndim - 1, "
                "-1, -1))` to reverse the dimensions of a tensor.",
                UserWarning,
            )
        return apply(
            "transpose", self, perm=tuple(reversed(range(self.ndim))), name="PermuteBackward0"
        )

    @property
    def mT(self) -> Any:
        """The last two dims swapped (a batch of matrices transposed); needs 2+ dims."""
        if self.ndim < 2:
            raise ShapeError(
                "tensor.mT is only supported on matrices or batches of matrices. Got "
                f"{self.ndim}-D tensor."
            )
        return self.transpose(-2, -1)

    @property
    def H(self) -> Any:
        """The conjugate transpose of a matrix: its transpose (tensors here are real)."""
        if self.ndim == 0:
            warn_at_user_line(
                "Tensor.H is deprecated on 0-D tensors. Consider using x.conj().", UserWarning
            )
            return self
        if self.ndim != 2:
            raise ShapeError(
                "tensor.H is only supported on matrices (2-D tensors). Got "
                f"{self.ndim}-D tensor. For batches of matrices, consider using tensor.mH"
            )
        return self.transpose(0, 1)

    @property
    def mH(self) -> Any:
        """The conjugate transpose of a batch of matrices: mT (tensors here are real)."""
        if self.ndim < 2:
            raise ShapeError(
                "tensor.mH is only supported on matrices or batches of matrices. Got "
                f"{self.ndim}-D tensor."
            )
        return self.transpose(-2, -1)

    def adjoint(self) -> Any:
        """The conjugate transpose of the last two dims: mH."""
        return self.mH

    def expand(self, *sizes: Any) -> Any:
        sizes = shape_arg(sizes, "expand")
        if len(sizes) < self.ndim:
            raise ShapeError(
                f"expand: the number of sizes ({len(sizes)}) must be at least "
                f"the tensor's dims ({self.ndim}); shape {tuple(self.shape)}"
            )
        lead = len(sizes) - self.ndim
        shape = tuple(s if n == -1 else n for s, n in zip((1,) * lead + tuple(self.shape), sizes))
        return self.broadcast_to(shape, name="ExpandBackward0")

    def expand_as(self, other: Any) -> Any:
        return self.expand(other.shape)

    def broadcast_to(self, shape: Any, name: str = "ExpandBackward0") -> Any:
        shape = shape_arg(
            (shape,) if isinstance(shape, (tuple, list)) else (shape,), "broadcast_to"
        )
        if shape == tuple(self.shape):
            return self
        return apply("broadcast_to", self, shape=shape, name=name)

    def sum_to(self, shape: tuple[int, ...]) -> Any:
        """Sum a broadcast result back to `shape` (the inverse of broadcasting)."""
        shape = tuple(shape)
        if tuple(self.shape) == shape:
            return self
        lead = self.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and self.shape[lead + i] != 1
        )
        out = apply("reduce_sum", self, axes=axes, keepdims=False) if axes else self
        return out.reshape(shape) if tuple(out.shape) != shape else out

    def __getitem__(self, key: Any) -> Any:
        from compiler.ops.index import parse_index

        spec, arrays, name = parse_index(self, key)
        return apply("index" if arrays else "slice", self, *arrays, spec=spec, name=name)

    # ---- constants in the operand's own world (used by VJP rules) -------
    def full_like(self, value: float, shape: Any = None, dtype: Any = None) -> Any:
        return apply(
            "full",
            self,
            shape=tuple(self.shape if shape is None else shape),
            dtype=self.dtype if dtype is None else dtypes.canonical(dtype),
            value=value,
        )

    def zeros_like(self) -> Any:
        return self.full_like(0)

    def ones_like(self) -> Any:
        return self.full_like(1)

    def iota(self, shape: tuple[int, ...], axis: int, dtype: Any = dtypes.int64) -> Any:
        """Integers 0..shape[axis]-1 laid along `axis` (arange, broadcast)."""
        return apply("iota", self, shape=tuple(shape), axis=axis, dtype=dtypes.canonical(dtype))


Operand.type_as = lambda self, other: self.to(other.dtype)  # type: ignore[assignment,method-assign]


def _is_one(alpha: Any) -> bool:
    """alpha == 1 for a number (a tensor alpha, traced or not, always multiplies)."""
    return not isinstance(alpha, Operand) and alpha == 1
