"""How an op lowers: one typed declaration per op, read by every backend.

Each `Op` in the registry carries exactly one of these as its `lowering`:

* `Elementwise(expr, typing)`: a scalar expression per element. `typing` says
  which dtype each input is converted to and what the result is (the one
  promotion rule shared by eager tensors, the graph builder and codegen);
  `expr(c, *xs)` writes the expression from the inputs' code, already in their
  compute dtypes (`c` is a `ScalarCode`: literals, math functions, params).
* `Reduction(monoid)`: folds the reduced axes with a `Monoid` (sum, product, max,
  min).
* `View(affine)`: reads its input through an affine index map, never copying.
* `Kernel(emit)`: a loop nest or library call of its own (matmul, gathers,
  scatters, concatenation, arg-reductions), written by `emit(w, eqn, refs)`.
* `Composite(fn)`: an op defined by other ops, `fn` written with the Operand
  methods; backends stage it into primitives (its numpy impl is `fn` run on
  arrays, see `compiler.evaluate`).
* `Constant(make)`: a value computed from shapes and params alone (full, iota,
  the element count of a shape).
* `Control(kind)`: structured control flow (cond, scan, while_loop) over the
  sub-graphs in its params; the backend lowers each sub-graph as a function of the
  same module and the op as a loop or branch calling them.

The code generator owns one emitter per kind and names no op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

__all__ = [
    "Composite",
    "Constant",
    "Control",
    "Elementwise",
    "Kernel",
    "LOWERINGS",
    "Layout",
    "Lowering",
    "MAX",
    "MIN",
    "Monoid",
    "PROD",
    "Reduction",
    "SUM",
    "ScalarCode",
    "SizeNames",
    "View",
]


class ScalarCode(Protocol):
    """What an elementwise `expr` may use to write its scalar expression."""

    #: the dtype the op computes in (its inputs' dtype after typing)
    dtype: np.dtype
    #: the result's dtype (bool for comparisons)
    out_dtype: np.dtype
    #: the equation's static params
    params: dict[str, Any]

    def lit(self, value: Any, dtype: Any = None) -> str:
        """A typed constant (in the compute dtype unless `dtype` is given)."""

    def math(self, fn: str, x: str) -> str:
        """`fn(x)` for exp, log, log1p, tanh, sigmoid, sqrt, ...: the vectorisable
        polynomial version where the runtime has one, else numpy's."""

    def helper(self, fn: str, *args: str) -> str:
        """A call of a scalar helper of `runtime.jit` (maximum, minimum, ...)."""

    def cast(self, x: str, frm: np.dtype, to: np.dtype) -> str:
        """`x` (of dtype `frm`) converted to `to`."""

    def error(self, what: str) -> str:
        """A string literal: the message of an error the expression raises (through a
        helper), naming the op and the user's line."""


@dataclass(frozen=True)
class Elementwise:
    expr: Callable[..., str]
    typing: Callable[..., tuple[tuple[np.dtype, ...], np.dtype]]


@dataclass(frozen=True)
class Monoid:
    """How a reduction folds values: its accumulator's dtype and start value, and
    one update step `acc = combine(acc, x)` as code (`update` gets the accumulator's
    and the new value's code and returns the statements that fold it in)."""

    name: str
    accumulate: Callable[[np.dtype], np.dtype]
    identity: Callable[[np.dtype], Any]
    #: (accumulator, value, dtype) -> lines; the value is an expression read once
    update: Callable[[str, str, np.dtype], list[str]]
    #: an associative `acc += x`: partial sums over blocks may run in the input's
    #: dtype (so a float32 loop vectorises), and numba combines a scalar accumulator
    #: across threads
    additive: bool = False


def _sum_dtype(d: np.dtype) -> np.dtype:
    # floats accumulate in float64 (numba's float32 sums lose precision), ints in int64
    return np.dtype(np.float64) if d.kind == "f" else np.dtype(np.int64)


def _extreme_identity(largest: bool) -> Callable[[np.dtype], Any]:
    def identity(d: np.dtype) -> Any:
        if d.kind == "f":
            return -np.inf if largest else np.inf
        if d.kind == "b":
            return not largest
        info = np.iinfo(d)
        return info.min if largest else info.max

    return identity


def _extreme_update(cmp: str) -> Callable[[str, str, np.dtype], list[str]]:
    def update(acc: str, x: str, d: np.dtype) -> list[str]:
        nan = " or _t != _t" if d.kind == "f" else ""  # NaN wins, as in numpy
        return [f"_t = {x}", f"if _t {cmp} {acc}{nan}:", f"    {acc} = _t"]

    return update


SUM = Monoid("sum", _sum_dtype, lambda d: 0, lambda acc, x, d: [f"{acc} += {x}"], additive=True)
MAX = Monoid("max", lambda d: d, _extreme_identity(True), _extreme_update(">"))
MIN = Monoid("min", lambda d: d, _extreme_identity(False), _extreme_update("<"))
# products accumulate as sums do (float64 / int64): a float32 product of many factors
# keeps its precision, and a partial product does not overflow float32's range early
PROD = Monoid("prod", _sum_dtype, lambda d: 1, lambda acc, x, d: [f"{acc} *= {x}"])


@dataclass(frozen=True)
class Reduction:
    monoid: Monoid


class Layout(NamedTuple):
    """How a value is read from a flat buffer: element (i0, i1, ...) of `shape` is at
    `offset + sum(strides[k] * ik)` (strides in elements; 0 along broadcast dims)."""

    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int


class SizeNames(Protocol):
    """Turns sizes taken from params into the kernel's size expressions."""

    def dim(self, n: int) -> int:
        """A size: a size argument (or product of two) when it equals one."""

    def within(self, n: int, size: int) -> int:
        """An index or length inside a dimension of `size` (size - 1, say)."""


@dataclass(frozen=True)
class View:
    """`affine(layout, sizes, **params)` gives the layout of the result in the input's
    buffer, or None when the view is not affine in that layout (the backend then
    reads a contiguous copy). `sizes` (a `SizeNames`) names the sizes it prints."""

    affine: Callable[..., Layout | None]


@dataclass(frozen=True)
class Kernel:
    """`emit(w, eqn, refs)` writes the op's code with a `compiler.kernels.Writer`.

    `contiguous(ref, eqn)`, when given, says whether the kernel can read an input
    through `ref` as it is; if not, the backend passes it a contiguous copy.
    """

    emit: Callable[..., None]
    contiguous: Callable[..., bool] | None = None


@dataclass(frozen=True)
class Composite:
    """An op defined by other ops: `fn(*inputs, **params)` with Operand methods."""

    fn: Callable[..., Any]


@dataclass(frozen=True)
class Constant:
    """`make(c, eqn)` returns the value as a `compiler.refs.Ref` built with `c`
    (a `ConstCode`: typed literals, iota, the kernel's symbolic sizes)."""

    make: Callable[..., Any]


@dataclass(frozen=True)
class Control:
    """`kind`: "cond", "scan", "while", "while_vjp" or "call" (how the sub-graphs are
    called); `graphs`: the params holding the graphs the lowering runs (a Graph, or a
    tuple of them: a cond's branches)."""

    kind: str
    graphs: tuple[str, ...]


Lowering = Elementwise | Reduction | View | Kernel | Composite | Constant | Control

#: every lowering kind; the code generator has one emitter for each
LOWERINGS: Sequence[type] = (Elementwise, Reduction, View, Kernel, Composite, Constant, Control)
