"""Staging ops into a graph: `GraphBuilder` and its symbolic values, `Sym`.

A `Sym` is an Operand, so the same methods (and the same VJP rules) that run
eagerly on Tensors record equations here. The builder makes the IR explicit:
mixed dtypes get `convert`, differing shapes get `broadcast_to`, Python scalars
become typed literals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import DTypeError, LargeTraceWarning, ShapeError, TraceError, TracerError
from compiler.ir import Atom, Eqn, Graph, Literal, Var
from compiler.meta import DType, Size, as_size, plain, public_dtype
from compiler.operand import Operand, apply
from compiler.ops.elementwise import broadcast_shapes
from compiler.ops.index import parse_index
from compiler.registry import OPS, AVal, Op
from compiler.source import describe_location, user_location, warn_at_user_line

_SCALARS = (int, float, bool, np.number, np.bool_)

# A trace that stages more equations than this warns, once (LargeTraceWarning).
# Tracing and optimising cost about 30 us per equation; compiling the graph with
# numba costs far more, and grows faster than linearly with a fused loop's length.
LARGE_TRACE = 10_000


class GraphBuilder:
    """Collects equations. `capture` turns concrete operands into graph inputs.

    `warn_above`: past this many equations, warn once that the trace is very large
    (None: never, as for the builder that differentiates an existing graph).
    """

    def __init__(
        self,
        grad_enabled: Callable[[], bool] = lambda: True,
        warn_above: int | None = LARGE_TRACE,
        parent: GraphBuilder | None = None,
    ) -> None:
        # A builder with a parent stages a sub-graph (a branch or a loop body): values of
        # the enclosing traces that it uses become inputs of the sub-graph (`closure`: each
        # such input, and the parent's value it stands for).
        self.parent = parent
        # where a traced value lives, for errors that need a concrete one
        self.inside = "inside @tracer.trace"
        self.closure: list[tuple[Var, Atom]] = []
        self._closure_ids: dict[int, Var] = {}
        self.inputs: list[Var] = []
        self.eqns: list[Eqn] = []
        self.consts: dict[Var, np.ndarray] = {}
        self.captured: list[tuple[Var, Any]] = []  # (input var, concrete operand)
        self._captured_ids: dict[int, Var] = {}
        self._captured_versions: list[Any] = []
        self.grad_enabled = grad_enabled
        self.location: str | None = None  # overrides the user's line (autodiff)
        self.warn_above = warn_above
        # Set by the tracer: the traced function's name, ids of the concrete tensors
        # made while it ran (constants of its code), and whether the trace is over
        # (its values then have escaped if anything uses them).
        self.name = "the function"
        self.made_inside: set[int] = set()
        self.closed = False
        # A loop body or condition runs many times per call: set to what it is ("the
        # body of while_loop") so that random numbers, which would repeat, are refused.
        self.repeats: str | None = None
        # Captured inputs that are random keys: a fresh one is drawn at each call.
        self.random_keys: dict[Var, Callable[[], Any]] = {}
        # Objects whose plain attributes the traced code may have read (the modules it
        # called: `self.training`, `self.p`), by id; the tracer guards them.
        self.observed: dict[int, Any] = {}

    def new_input(self, aval: AVal) -> Sym:
        v = Var(aval)
        self.inputs.append(v)
        return Sym(self, v)

    def const(self, value: np.ndarray) -> Sym:
        if self.parent is not None:  # constants belong to the outermost graph
            return Sym(self, self._close_over(self.parent.const(value).ir_var))
        v = Var(AVal(tuple(value.shape), value.dtype))
        self.consts[v] = value
        return Sym(self, v)

    def capture(self, x: Any) -> Var:
        """A concrete tensor used inside the trace: read afresh on every call."""
        var = self._captured_ids.get(id(x))
        if var is None:
            var = self._captured_ids[id(x)] = Var(AVal(tuple(x.shape), dtypes.canonical(x.dtype)))
            self.captured.append((var, x))
            self._captured_versions.append(_version(x))
        return var

    def random_key(self, first: Operand, draw: Callable[[], Operand], op: str) -> Sym:
        """A 0-d int64 key input of the outermost trace, `first` for this trace and
        `draw()` on every later call of the compiled function. Raises TraceError inside a
        loop body, where one key per call would repeat the numbers at every step."""
        b: GraphBuilder | None = self
        root = self
        while b is not None:
            if b.repeats is not None:
                where = describe_location()
                raise TraceError(
                    f"{op}() inside {b.repeats} would draw the same numbers at every step"
                    + (f"\n  at {where}" if where else "")
                    + "\nDraw all of them before the loop (one row per step, e.g. "
                    f"tracer.{op}(steps, ...)) and pass them in: as xs of scan, or indexed "
                    "by the step counter."
                )
            root, b = b, b.parent
        var = root.capture(first)
        root.random_keys[var] = draw
        return Sym(root, var)

    def observe(self, obj: Any) -> None:
        """Note that the traced code reads `obj`'s attributes (recorded on the
        outermost trace, which is the one whose cache entry depends on them)."""
        root = self
        while root.parent is not None:
            root = root.parent
        root.observed.setdefault(id(obj), obj)

    def check_captured_unchanged(self) -> None:
        """Refuse a trace that updated a captured tensor in place after using it: the
        update ran once, now, and would not run on later calls."""
        for (_, x), version in zip(self.captured, self._captured_versions):
            if _version(x) != version:
                raise TraceError(
                    f"a tensor of shape {tuple(x.shape)} from outside the traced function "
                    "was modified in place while tracing; that update would run only once, "
                    "when tracing, not on every call. Return the new value from the traced "
                    "function and assign it outside."
                )

    def _encloses(self, other: GraphBuilder) -> bool:
        b = self.parent
        while b is not None:
            if b is other:
                return True
            b = b.parent
        return False

    def _close_over(self, outer: Atom) -> Var:
        """An input of this sub-graph standing for `outer`, a value of the parent."""
        var = self._closure_ids.get(id(outer))
        if var is None:
            var = self._closure_ids[id(outer)] = Var(outer.aval)
            self.closure.append((var, outer))
        return var

    def _atom(self, x: Any, op: str = "traced op") -> Atom | Any:
        if isinstance(x, Sym):
            if x.builder is not self and self._encloses(x.builder):
                return self._close_over(self.parent._atom(x, op))
            if x.builder is not self and x.builder.closed:
                raise x._escaped()
            if x.builder is not self:
                raise TraceError(
                    "a traced value escaped from another trace (was it stored in a global "
                    "or closure during an earlier trace?). Pass it as an argument instead."
                )
            if x._base is not None and x._base._version != x._base_version:
                raise _no_concrete_view()
            return x.ir_var
        if isinstance(x, Operand):
            if self.parent is not None:  # captured by the outermost trace, passed in
                return self._close_over(self.parent._atom(x, op))
            return self.capture(x)
        if isinstance(x, _SCALARS):
            return x
        if isinstance(x, (np.ndarray, list, tuple)):
            if self.parent is not None:
                return self._close_over(self.parent._atom(x, op))
            return self.const(dtypes.operand_array(x, op)).ir_var
        raise TypeError(
            f"{op}: unsupported operand of type {type(x).__name__} in traced code; "
            "use a tensor, a Python number, or a (nested) list of numbers"
        )

    def graph(self, outputs: Sequence[Atom]) -> Graph:
        inputs = self.inputs + [v for v, _ in self.captured] + list(self.consts)
        return Graph(inputs, list(self.eqns), list(outputs), dict(self.consts))

    # ---- recording ------------------------------------------------------
    def emit(self, op_name: str, inputs: Sequence[Atom], params: dict[str, Any]) -> list[Var]:
        op = OPS[op_name]
        avals = [a.aval for a in inputs]
        # the IR keeps numpy dtypes and plain tuples (x.dtype and x.shape give tracer's)
        params = {k: plain(v) for k, v in params.items()}
        try:
            out = op.abstract_eval(*avals, **params)
        except (TracerError, ValueError, TypeError, IndexError) as e:
            raise _located(e) from None
        outs = out if op.multiple_results else (out,)
        outvars = [Var(a) for a in outs]
        loc = self.location if self.location is not None else user_location()
        self.eqns.append(Eqn(op, list(inputs), params, outvars, loc))
        if self.warn_above is not None and len(self.eqns) > self.warn_above:
            self._warn_large()
        return outvars

    def _warn_large(self) -> None:
        where = describe_location()
        warn_at_user_line(
            f"this trace has staged more than {self.warn_above:,} equations"
            + (f", the last at {where}" if where else "")
            + ". Tracing, optimising and "
            "above all compiling it take time that grows with its size. A Python loop over "
            "traced values is unrolled into the trace, one copy of its body per step: "
            "vectorise it (one op over a stacked or batched tensor instead of one op per "
            "step or element), or move the loop out of the traced function and trace only "
            "its body (call the traced step in a Python loop).",
            LargeTraceWarning,
        )
        self.warn_above = None  # once per trace

    def bind(self, op_name: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        op = OPS[op_name]
        atoms = [] if op.nullary else [self._atom(x, op_name) for x in inputs]
        if op.elementwise:
            try:
                atoms = self._make_explicit(op, atoms, params)
            except (TracerError, ValueError, TypeError) as e:
                raise _located(e) from None
        else:
            # a Python number keeps its value (a float is a double) and promotes weakly
            atoms = [
                a if isinstance(a, Var) else Literal(a, dtypes.weak_dtype(a), weak=True)
                for a in atoms
            ]
        outvars = self.emit(op_name, atoms, params)
        if not self.grad_enabled() and op.vjp is not None:
            outvars = [self.emit("stop_gradient", [v], {})[0] for v in outvars]
        # Results of view ops share memory with their input in eager mode.
        base = inputs[0] if op.view and len(inputs) == 1 and isinstance(inputs[0], Sym) else None
        syms = [Sym(self, v, base) for v in outvars]
        return tuple(syms) if op.multiple_results else syms[0]

    def _make_explicit(self, op: Op, atoms: list[Any], params: dict[str, Any]) -> list[Atom]:
        """Convert each input to the dtype the op's typing rule gives it, broadcast it to
        the result's shape, and make Python numbers typed literals."""
        values = [a.aval if isinstance(a, Var) else a for a in atoms]
        wanted, _ = op.lowering.typing(op.name, values, **params)
        shapes = [tuple(a.aval.shape) for a in atoms if isinstance(a, Var)]
        shape = broadcast_shapes(op.name, *shapes) if shapes else ()
        out: list[Atom] = []
        for a, want in zip(atoms, wanted):
            if not isinstance(a, Var):
                out.append(_literal(a, want, op.name))
                continue
            if a.aval.dtype != want:
                a = self.emit("convert", [a], {"dtype": want})[0]
            if tuple(a.aval.shape) != shape:
                a = self.emit("broadcast_to", [a], {"shape": shape})[0]
            out.append(a)
        return out


def _literal(value: Any, dtype: np.dtype, op: str) -> Literal:
    try:
        return Literal(value, dtype)
    except OverflowError:  # int32 tensor + 2**31, refused as eager mode refuses it
        raise DTypeError(
            f"{op}: the Python number {value} does not fit in {dtype}, the dtype the op "
            "computes in; convert the tensor first (.long() or .double())"
        ) from None


def _version(x: Any) -> Any:
    """The in-place version counter of an eager tensor (None if it has none)."""
    v = getattr(x, "_version", None)
    return v[0] if isinstance(v, list) else v


def _located(e: Exception) -> Exception:
    """`e` with the user's line appended (once), as the same exception type."""
    where = describe_location()
    if not where or "traced at " in str(e):
        return e
    try:
        return type(e)(f"{e}\n  traced at {where}")
    except TypeError:  # an exception type with another constructor
        e.add_note(f"traced at {where}")
        return e


def _traced_error(what: str, fix: str) -> TraceError:
    where = describe_location()
    return TraceError(what + (f"\n  at {where}" if where else "") + f"\n{fix}")


def _no_concrete(what: str, fix: str, inside: str = "inside @tracer.trace") -> TraceError:
    return _traced_error(
        f"{what} needs a concrete value, but this is a traced tensor {inside}", fix
    )


_STATIC_FIX = "make the argument static (static_argnums=... / static_argnames=... in tracer.trace)"
_CONTROL_FLOW_FIX = (
    "Python control flow cannot depend on traced values. Use tracer.where(cond, a, b) "
    "to select values, tracer.cond(pred, true_fn, false_fn, *operands) to choose a branch, "
    "tracer.while_loop / tracer.fori_loop / tracer.scan for loops, or " + _STATIC_FIX + "."
)
_NUMPY_FIX = (
    "Use tracer ops on traced tensors instead of numpy (tracer.exp, tracer.where(cond, a, "
    "b), ...), return the tensor and convert it outside the traced function, or "
    + _STATIC_FIX
    + "."
)
_MUTATION_FIX = "Clone it first (y = x.clone()) and update the clone, or use out-of-place ops."


def _no_concrete_view() -> TraceError:
    return _traced_error(
        "a view of a tensor (from indexing, reshape, transpose, expand or detach) is used "
        "after that tensor was modified in place; in eager mode the view would show the "
        "new values, which traced code cannot reproduce",
        "Take the view after the in-place update, or clone() before updating.",
    )


class Sym(Operand):
    """A symbolic tensor: an IR variable in a builder, with the Operand methods.

    In-place updates (`y[i] = v`, `y += 1`, `y.add_(...)`) rebind `var` to the
    result of an out-of-place op. They are refused where eager mode would write
    through memory that traced code cannot alias: arguments of the traced
    function, and views. A view read after its base was updated is refused too.
    """

    __slots__ = ("builder", "ir_var", "_base", "_base_version", "_version")
    _priority = 2

    def __init__(self, builder: GraphBuilder, var: Var, base: Sym | None = None) -> None:
        self.builder = builder
        self.ir_var = var
        self._version = 0
        root = None if base is None else base._base if base._base is not None else base
        self._base = root
        self._base_version = 0 if root is None else root._version

    @property
    def shape(self) -> Size:  # type: ignore[override]
        """The traced tensor's shape, a `tracer.Size` (the IR keeps a plain tuple)."""
        return as_size(self.ir_var.aval.shape)

    @property
    def dtype(self) -> DType:  # type: ignore[override]
        """The traced tensor's `tracer.dtype` (the IR keeps the numpy dtype)."""
        return public_dtype(self.ir_var.aval.dtype)

    @property
    def aval(self) -> AVal:
        return self.ir_var.aval

    @property
    def requires_grad(self) -> bool:
        return False

    @property
    def device(self) -> str:
        return "cpu"

    def _escaped(self) -> TraceError:
        """The error for a value of a finished trace that is used again."""
        b = self.builder
        made = next((e.source_loc for e in b.eqns if self.ir_var in e.outputs), None)
        return TraceError(
            f"a traced value (shape {tuple(self.shape)}, {self.dtype.name}) escaped from another "
            f"trace: it was made while tracing {b.name}()"
            + (f", at {made}," if made else "")
            + " and is used after that trace finished"
            + (f"\n  used at {describe_location()}" if describe_location() else "")
            + "\nWhile tracing, tensors are placeholders that exist only inside the traced "
            "function; this one was stored outside it (appended to an outer list, assigned "
            "to a global or an attribute). Return it from the function instead: the outputs "
            "of a traced function are real tensors."
        )

    def _live(self) -> None:
        if self.builder.closed:
            raise self._escaped()

    def _no_concrete(self, what: str, fix: str) -> TraceError:
        if self.builder.closed:
            return self._escaped()
        root = self.builder
        while root.parent is not None:
            root = root.parent
        return _no_concrete(what, fix, root.inside)

    def backward(self, *args: Any, **kwargs: Any) -> None:
        self._live()
        raise _traced_error(
            "backward() inside a traced function is not supported",
            "Differentiate the traced function from outside (call backward() on its "
            "result), or use tracer.grad / tracer.value_and_grad.",
        )

    def _bind(
        self, op: str, inputs: Sequence[Any], params: dict[str, Any], name: str | None
    ) -> Any:
        self._live()
        return self.builder.bind(op, inputs, params)

    def _const(self, value: np.ndarray) -> Sym:
        return self.builder.const(np.asarray(value))

    def _sym(self, x: Any) -> Sym:
        """`x` (a tensor, array, list or number) as a value of this trace."""
        if isinstance(x, Sym):
            return x
        if isinstance(x, _SCALARS):
            return self.full_like(x, shape=())
        atom = self.builder._atom(x)
        return Sym(self.builder, atom)

    def detach(self) -> Sym:
        self._live()
        self.builder._atom(self)  # a stale view may not be read
        return Sym(self.builder, self.builder.emit("stop_gradient", [self.ir_var], {})[0], self)

    def __repr__(self) -> str:
        return f"TracedTensor(shape={tuple(self.shape)}, dtype={self.dtype.name})"

    # ---- indexing ---------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        for k in key if isinstance(key, tuple) else (key,):
            if isinstance(k, Operand) and k.dtype == dtypes.bool_:
                raise _traced_error(
                    f"indexing with a boolean tensor mask (shape {tuple(k.shape)}) gives a "
                    "result whose shape depends on the mask's values, which a traced "
                    "function cannot have",
                    "Use tracer.where(mask, x, 0) to keep the shape (then reduce), or "
                    "index eagerly outside the traced function.",
                )
        return super().__getitem__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check_mutable("item assignment (x[...] = value)")
        if isinstance(key, Operand) and key.dtype == dtypes.bool_:
            self._assign(self._masked_fill(key, value), "__setitem__")
            return
        for k in key if isinstance(key, tuple) else ():
            if isinstance(k, Operand) and k.dtype == dtypes.bool_:
                raise _traced_error(
                    "item assignment with a boolean tensor mask combined with other indices "
                    "is not supported in traced code",
                    "Write it as y = tracer.where(mask, value, y) with a mask of y's shape.",
                )
        spec, arrays, _ = parse_index(self, key)
        target = OPS["index"].abstract_eval(
            self.aval,
            *[AVal(tuple(a.shape), dtypes.canonical(a.dtype)) for a in arrays],
            spec=spec,
        )
        if isinstance(value, _SCALARS):
            v = self.full_like(value, shape=target.shape)
        else:
            v = self._sym(value).to(self.dtype).broadcast_to(target.shape)
        self._assign(apply("index_put", self, v, *arrays, spec=spec), "__setitem__")

    def _masked_fill(self, mask: Operand, value: Any) -> Any:
        """`x[mask] = value` as where(mask, value, x), when `value` does not depend
        on how many elements the mask selects."""
        k = mask.ndim
        if tuple(mask.shape) != tuple(self.shape[:k]):
            raise IndexError(
                f"boolean mask of shape {tuple(mask.shape)} does not match the "
                f"indexed dimensions {tuple(self.shape[:k])} of shape "
                f"{tuple(self.shape)}"
            )
        rest = tuple(self.shape[k:])
        v = value if isinstance(value, _SCALARS) else self._sym(value)
        vshape = () if isinstance(v, _SCALARS) else tuple(v.shape)
        if len(vshape) == len(rest) + 1 and vshape[0] == 1:
            v, vshape = v.reshape(vshape[1:]), vshape[1:]
        try:
            fits = len(vshape) <= len(rest) and broadcast_shapes("setitem", vshape, rest) == rest
        except ShapeError:
            fits = False
        if not fits:
            raise _traced_error(
                f"x[mask] = value with a value of shape {vshape} needs one value per "
                "selected element: its shape depends on the mask's values, which traced "
                "code cannot have",
                "Assign a value that broadcasts to the unmasked dims (a scalar), or use "
                "tracer.where(mask, values, x) with values of x's shape.",
            )
        cond = mask.reshape(tuple(mask.shape) + (1,) * len(rest)) if rest else mask
        if isinstance(v, _SCALARS):
            return apply("where", cond, self.full_like(v, shape=()), self)
        return apply("where", cond, v.to(self.dtype), self)

    # ---- in-place ops: rebind to the out-of-place result ----------------------
    def _check_mutable(self, what: str) -> None:
        self._live()
        if self.ir_var in self.builder.inputs:
            raise _traced_error(
                f"{what}: in-place modification of an argument of a traced function is not "
                "supported (the caller's tensor would not change, as it would in eager "
                "mode)",
                _MUTATION_FIX,
            )
        if self._base is not None:
            raise _traced_error(
                f"{what}: in-place modification of a view (from indexing, reshape, "
                "transpose, expand or detach) is not supported in traced code: eager mode "
                "would also change the tensor it views",
                _MUTATION_FIX,
            )

    def _assign(self, result: Any, what: str) -> Sym:
        result = self._sym(result)
        if tuple(result.shape) != tuple(self.shape):
            raise _located(
                ShapeError(
                    f"{what}: the result has shape {tuple(result.shape)}, which does not fit the "
                    f"tensor of shape {tuple(self.shape)} updated in place"
                )
            )
        if result.dtype != self.dtype:
            if dtypes.category(result.dtype) > dtypes.category(self.dtype):
                raise _located(
                    DTypeError(
                        f"{what}: result type {result.dtype.name} can't be cast to the in-place "
                        f"output type {self.dtype.name}"
                    )
                )
            result = result.to(self.dtype)
        self.builder._atom(result)  # no stale view
        self.ir_var = result.ir_var
        self._version += 1
        return self

    def _inplace(self, what: str, fn: Callable[[Sym], Any], *others: Any) -> Sym:
        self._check_mutable(what)
        return self._assign(fn(self), what)

    def fill_(self, value: Any) -> Sym:
        if isinstance(value, Operand):
            return self._inplace(
                "fill_",
                lambda _: self._sym(value).to(self.dtype).reshape(()).broadcast_to(self.shape),
            )
        return self._inplace("fill_", lambda _: self.full_like(value))

    def zero_(self) -> Sym:
        return self.fill_(0)

    def copy_(self, src: Any) -> Sym:
        return self._inplace(
            "copy_", lambda _: self._sym(src).to(self.dtype).broadcast_to(self.shape)
        )

    # ---- Python needs a concrete value ------------------------------------
    def __bool__(self) -> bool:
        raise self._no_concrete(
            "bool() of a tensor (an `if`, `while`, `and`/`or` or `not`)", _CONTROL_FLOW_FIX
        )

    def __float__(self) -> float:
        raise self._no_concrete("float()", _CONTROL_FLOW_FIX)

    def __int__(self) -> int:
        raise self._no_concrete("int()", _CONTROL_FLOW_FIX)

    def __index__(self) -> int:
        raise self._no_concrete("using a tensor as a Python index", _CONTROL_FLOW_FIX)

    def item(self) -> Any:
        raise self._no_concrete(".item()", _CONTROL_FLOW_FIX)

    def tolist(self) -> Any:
        raise self._no_concrete(".tolist()", _CONTROL_FLOW_FIX)

    def numpy(self) -> np.ndarray:
        raise self._no_concrete(".numpy()", _NUMPY_FIX)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self._no_concrete("converting to a numpy array", _NUMPY_FIX)

    def __iter__(self):  # type: ignore[no-untyped-def]
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))
