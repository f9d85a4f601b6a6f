"""The op registry: every primitive is declared once, with all its rules.

An `Op` carries what each interpretation needs: `abstract_eval` (shapes and
dtypes, raising clear errors), `impl` (numpy, for eager mode and the reference
interpreter), `vjp` and `jvp` (written with the library's own ops, so they run on
eager Tensors and on symbolic IR values alike) and `lowering` (how codegen emits it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from compiler.dtypes import short_name
from compiler.lowering import Composite, Elementwise, Lowering, View


class AVal(NamedTuple):
    """Abstract value: what is known about an array before running anything.

    `weak`: a 0-d value standing for a Python number passed to a traced function;
    it promotes like one (`compiler.dtypes.is_weak`)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    weak: bool = False

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        return f"{short_name(self.dtype)}[{','.join(map(str, self.shape))}]"


def has_value(x: Any) -> bool:
    """False for an input the eager engine did not save (its gradient is not needed)."""
    return not isinstance(x, AVal)


def _save_all(needs_grad: tuple[bool, ...]) -> tuple[bool, ...]:
    return (True,) * len(needs_grad)


def save_none(needs_grad: tuple[bool, ...]) -> tuple[bool, ...]:
    """For linear ops: the VJP needs only the inputs' shapes and dtypes."""
    return (False,) * len(needs_grad)


def save_other(needs_grad: tuple[bool, ...]) -> tuple[bool, ...]:
    """For bilinear ops (mul, matmul): each input's gradient needs the other input."""
    a, b = needs_grad[:2]
    return (b, a) + (False,) * (len(needs_grad) - 2)


@dataclass(frozen=True)
class Linear:
    """A JVP rule saying the op is linear in the inputs at `positions` (all inputs when
    empty): its output tangent is the op itself applied to those inputs' tangents (zeros
    where an input has none), its other inputs (indices, masks) unchanged."""

    positions: tuple[int, ...] = ()

    def linear_in(self, i: int) -> bool:
        return not self.positions or i in self.positions


#: The JVP rule of an op linear in all its inputs (reshape, transpose, sum, concatenate).
LINEAR = Linear()


class Diagonal:
    """A JVP rule saying the op's Jacobian is diagonal (an elementwise op defined as a
    composite): its output tangent comes from its VJP rule, as for `Elementwise` ops
    (compiler.forward), rather than from its definition, whose derivative may choose
    another value at a kink or a tie than the VJP does."""

    def __repr__(self) -> str:
        return "DIAGONAL"


DIAGONAL = Diagonal()


def linear_in(*positions: int) -> Linear:
    """The JVP rule of an op linear in the inputs at `positions` (gather in its source,
    not its indices)."""
    return Linear(tuple(positions))


@dataclass(frozen=True, eq=False)
class Op:
    """One primitive: its name and one rule per interpretation.

    * `abstract_eval(*avals, **params)`: output AVal(s), or a clear error.
    * `impl(*arrays, **params)`: numpy, for eager mode and the reference interpreter.
      Elementwise ops receive their inputs already converted by their typing rule;
      a `Composite` op's impl is its definition run on arrays (`compiler.evaluate`).
    * `vjp(g, out, *inputs, **params)`: one cotangent (or None) per input, written
      with Operand methods. For ops with several results, `g` and `out` are tuples.
      Inputs whose values the rule does not need (per `saves`) arrive as `AVal`s in
      eager mode. None: not differentiable.
    * `jvp(tangents, out, *inputs, **params)`: the output tangent (a tuple of them, None
      for a zero one, for ops with several results), written with Operand methods.
      `tangents` has one entry per input, None for an input without one (an integer
      input, or one not differentiated: a symbolic zero); the rule returns None for a
      zero output tangent. `LINEAR` / `linear_in(*positions)` instead of a function: the
      op is linear in those inputs, its JVP is the op applied to their tangents.
      `DIAGONAL`: an elementwise composite, differentiated from its VJP rule. None:
      compiler.forward's generic rules apply (the VJP rule for elementwise ops, the
      definition of composites, else the transpose of the VJP for that equation).
    * `batch(size, bdims, *inputs, **params)`: the batching rule (vmap). `inputs` hold
      `size` examples stacked along axis `bdims[i]` (None: input i is the same for every
      example); returns `(outputs, out_dims)` (for several results, tuples), each output
      with the axis its examples are stacked along (None: the same for all). Written with
      Operand methods and `apply`, like `vjp`, so it runs eagerly and staged. None: the
      rule follows from the op's kind (elementwise, reduction, composite) or is a
      per-example loop (`compiler.batching`, where the rules are registered).
    * `lowering`: how backends emit it, one kind of `compiler.lowering`.
    * `grad_fn`: PyTorch's name for the eager autograd node.
    * `nullary`: the operand only chooses the world to build in (full, iota); it
      is not an input of the equation.
    * `with_residuals(eqn)`: for ops whose VJP needs values from inside the op (a
      loop's carries at every step), the equation that also returns them; autodiff
      swaps it in before differentiating.
    * `no_derivative`: for an op without a VJP whose float results do depend on its
      float inputs (a loop's reverse sweep), why: differentiating through it raises a
      TraceError saying so, instead of treating it as constant. (Without it, an op
      without a VJP blocks gradients, as stop_gradient and comparisons do.)
    * `prune(eqn, live)`: for ops with several results that are computed together (a
      loop's stacked outputs), the equation without the results not in `live` (or
      `eqn` itself); dead-code elimination calls it, so an unused gradient is never
      computed inside a loop.
    """

    name: str
    abstract_eval: Callable[..., AVal | tuple[AVal, ...]]
    impl: Callable[..., Any] | None
    vjp: Callable[..., tuple[Any, ...]] | None = None
    grad_fn: str | Callable[..., str] | None = None
    lowering: Lowering | None = None
    multiple_results: bool = False
    saves: Callable[[tuple[bool, ...]], tuple[bool, ...]] = _save_all
    saves_out: bool = False
    nullary: bool = False
    with_residuals: Callable[..., Any] | None = None
    no_derivative: str | None = None
    prune: Callable[..., Any] | None = None
    jvp: Callable[..., Any] | Linear | Diagonal | None = None
    batch: Callable[..., tuple[Any, Any]] | None = None

    def __post_init__(self) -> None:
        if self.impl is None:
            if not isinstance(self.lowering, Composite):
                raise ValueError(f"op {self.name!r}: only composite ops may omit impl")
            from compiler.evaluate import composite_impl

            object.__setattr__(self, "impl", composite_impl(self))

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None

    @property
    def elementwise(self) -> bool:
        return isinstance(self.lowering, Elementwise)

    @property
    def view(self) -> bool:
        """The result reads its input's memory (eager: shares it)."""
        return isinstance(self.lowering, View)

    def grad_fn_name(self, params: dict[str, Any], avals: tuple[AVal, ...]) -> str:
        if callable(self.grad_fn):
            return self.grad_fn(avals, **params)
        return self.grad_fn or f"{self.name.title().replace('_', '')}Backward0"

    def __repr__(self) -> str:
        return f"Op({self.name})"


OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} registered twice")
    OPS[op.name] = op
    return op


def defop(name: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Op]:
    """Decorator form: the decorated function is the op's abstract_eval."""

    def wrap(abstract_eval: Callable[..., Any]) -> Op:
        return register(Op(name, abstract_eval, **kwargs))

    return wrap
