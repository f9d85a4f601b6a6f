"""Staging ops into a graph: `GraphBuilder` and its symbolic values, `Sym`.

A `Sym` is an Operand, so the same methods (and the same VJP rules) that run
eagerly on Tensors record equations here. The builder makes the IR explicit:
mixed dtypes get `convert`, differing shapes get `broadcast_to`, Python scalars
become typed literals.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import DTypeError, LargeTraceWarning, ShapeError, TraceError, TracerError
from compiler.ir import Atom, Eqn, Graph, Literal, Var
from compiler.meta import DType, Size, as_size, plain, public_dtype
from compiler.operand import Operand, apply, tracing
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
        self.made_inside: dict[int, Any] = {}  # (held: their ids stay theirs)
        self.closed = False
        # A loop body or condition runs many times per call: set to what it is ("the
        # body of while_loop") so that random numbers, which would repeat, are refused.
        self.repeats: str | None = None
        # Captured inputs that are random keys: a fresh one is drawn at each call.
        self.random_keys: dict[Var, Callable[[], Any]] = {}
        # Objects whose plain attributes the traced code may have read (the modules it
        # called: `self.training`, `self.p`), by id; the tracer guards them.
        self.observed: dict[int, Any] = {}
        # In-place updates that outlive the trace (set by the tracer on the builder of the
        # traced function itself, never on a sub-graph's). `owners`: by id, the tensors
        # from outside updated in place, each as the Sym standing for its current value;
        # `grads`: the `.grad` of tensors read or set by the traced code (GradSlot).
        self.accepts_writes = False
        self.owners: dict[int, Sym] = {}
        self.grads: dict[int, GradSlot] = {}
        self.arg_syms: list[Sym] = []
        self._inside_consts: dict[int, Var] = {}  # (made_inside holds the tensors)
        self.did_backward = False
        self.arg_requires_grad: list[bool] = []
        # Captured inputs read at each call by a function of their own (a `.grad`):
        # (what it is, how to read it).
        self.live_reads: dict[Var, tuple[str, Callable[[], Any]]] = {}
        self._live_scalars: dict[Any, Sym] = {}
        # Library objects the traced code used whose state the graph depends on (an
        # optimizer: its hyperparameters, its state tensors), by id: each a guard with
        # holds() and change(), checked at every call.
        self.extra_guards: dict[int, Any] = {}
        # Captured tensors that such a guard watches (read by reference, no warning).
        self.guarded_ids: set[int] = set()
        # The graph holds for this call only (it set up state that changes the next
        # call's graph: a momentum buffer's first step).
        self.one_shot = False
        # Undo what the traced code did outside the trace (an optimizer's state made on
        # its first step), run when tracing fails: a failed trace changes nothing.
        self.undo: list[Callable[[], None]] = []

    def new_input(self, aval: AVal) -> Sym:
        v = Var(aval)
        self.inputs.append(v)
        s = Sym(self, v)
        if self.accepts_writes:  # an argument of the traced function: may be updated
            s._owner = len(self.arg_syms)
            self.arg_syms.append(s)
        return s

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

    # ---- in-place updates that outlive the trace ------------------------------
    def root(self) -> GraphBuilder:
        b = self
        while b.parent is not None:
            b = b.parent
        return b

    def owner(self, t: Any, what: str, check: bool = True) -> Sym:
        """The Sym standing for the current value of `t`, a tensor from outside the
        traced function (or made by it), so that an in-place update of it is staged and
        written back to `t` after each call. `check`: raise a TraceError where that cannot
        be done (inside a loop body or branch, or a graph that is not a traced
        function's)."""
        s = self.owners.get(id(t))
        if s is not None:
            return s
        if check and (self.parent is not None or not self.accepts_writes):
            where = self.repeats or "a branch or function being staged"
            raise _traced_error(
                f"{what}: in-place update, inside {where}, of a tensor of shape "
                f"{tuple(t.shape)} from outside it: the update would run once, when "
                "tracing, not at every step",
                "Pass the tensor in (as a loop carry or operand) and return its new value.",
            )
        s = Sym(self, self._atom(t, what))
        # a tensor the traced code made itself is written back only while it lives on
        # after the trace (stored in an optimizer's state, say): see `written`
        s._owner = weakref.ref(t) if id(t) in self.made_inside else t
        self.owners[id(t)] = s
        return s

    def live_input(self, key: Any, fresh: Callable[[], Any], what: str) -> Sym:
        """An input of the traced function's graph holding `fresh()` (a concrete tensor)
        read afresh at every call: a hyperparameter that schedules change between calls
        (a learning rate), which a constant would freeze. One per `key`."""
        root = self.root()
        s = root._live_scalars.get(key)
        if s is None:
            first = fresh()
            var = root.capture(first)
            root.live_reads[var] = (what, fresh)
            s = root._live_scalars[key] = Sym(root, var)
        return s

    def pending(self, t: Any) -> bool:
        """Whether the traced code updated `t`, a tensor from outside, in place: its
        concrete value is then out of date until the compiled function runs."""
        s = self.root().owners.get(id(t))
        return s is not None and s._version > 0

    def written(self) -> list[tuple[Any, Sym]]:
        """(target, final value) of each update to write back after a call: an argument's
        position (int), a tensor from outside, or a weak reference to a tensor the traced
        code made (alive only if it escaped the function)."""
        out: list[tuple[Any, Sym]] = [(s._owner, s) for s in self.arg_syms if s._version]
        out += [(s._owner, s) for s in self.owners.values() if s._version]
        return out

    def grad_slot(self, p: Any) -> GradSlot:
        """The traced `.grad` of `p`, a tensor from outside the function."""
        root = self.root()
        slot = root.grads.get(id(p))
        if slot is None:
            slot = root.grads[id(p)] = GradSlot(root, p)
        return slot

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
            owned = self.owners.get(id(x))
            if owned is not None:  # updated in place by the traced code: its new value
                return owned.ir_var
            if id(x) in self.made_inside:  # a constant of the traced code
                var = self._inside_consts.get(id(x))
                if var is None:
                    var = self._inside_consts[id(x)] = self.const(np.array(x._data)).ir_var
                return var
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
        # Results of view ops share memory with their input in eager mode: an in-place
        # update of the view writes through to it (a tensor from outside too).
        base = None
        if (
            op.view
            and len(inputs) == 1
            and isinstance(inputs[0], Operand)
            and (op_name not in _EAGER_COPIES)
        ):
            x0 = inputs[0]
            if isinstance(x0, Sym):
                base = x0
            elif self.parent is None and self.accepts_writes:
                base = self.owner(x0, op_name, check=False)
        if base is not None:
            syms = [Sym(self, v, base, (base, op_name, params)) for v in outvars]
        else:
            syms = [Sym(self, v) for v in outvars]
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


def _stage_backward(
    b: GraphBuilder, out: Sym, gradient: Any, create_graph: bool, inputs: Any
) -> None:
    """`out.backward(gradient)` inside the traced function of builder `b`."""
    from compiler.autodiff import active_vars, joint_vjp
    from compiler.errors import AutogradError

    if gradient is None:
        if int(np.prod(out.shape)) != 1:
            raise _located(
                AutogradError(
                    "grad can be implicitly created only for scalar outputs: backward() was "
                    f"called on a traced tensor of shape {tuple(out.shape)}. Reduce it first "
                    "(loss.sum().backward()) or pass gradient=tracer.ones_like(loss)."
                )
            )
        loss = out.sum() if out.shape else out
    else:
        loss = (out * out._sym(gradient).detach().to(out.dtype)).sum()
    # the leaves: tensors from outside that require grad (their values now, after any
    # in-place update, stand in as inputs of the graph that is differentiated)
    wanted = None if inputs is None else {id(t) for t in _as_list(inputs)}
    targets: list[tuple[Any, Var]] = []
    for var, x in b.captured:
        if getattr(x, "_requires_grad", False) and getattr(x, "_grad_fn", 1) is None:
            if wanted is None or id(x) in wanted:
                owned = b.owners.get(id(x))
                targets.append((x, owned.ir_var if owned is not None else var))
    inputs_now = list(b.inputs) + [v for v, _ in b.captured] + list(b.consts)
    known = set(inputs_now)
    subst: dict[Var, Var] = {}
    for _, v in targets:
        if v not in known and v not in subst:
            subst[v] = Var(v.aval)
    eqns = [
        e
        if not any(isinstance(a, Var) and a in subst for a in e.inputs)
        else Eqn(
            e.op,
            [subst.get(a, a) if isinstance(a, Var) else a for a in e.inputs],
            e.params,
            e.outputs,
            e.source_loc,
        )
        for e in b.eqns
    ]
    all_inputs = inputs_now + list(subst.values())
    loss_var = subst.get(loss.ir_var, loss.ir_var)
    graph = Graph(all_inputs, eqns, [loss_var], dict(b.consts))
    arg_grad = {s.ir_var for s, rg in zip(b.arg_syms, b.arg_requires_grad) if rg}
    if arg_grad and loss_var in active_vars(graph, [v in arg_grad for v in all_inputs]):
        raise _traced_error(
            "backward() inside a traced function whose result depends on an argument that "
            "requires grad: its .grad cannot be set from inside the function",
            "Pass that argument with requires_grad=False (detach() it), or differentiate "
            "with tracer.grad / tracer.value_and_grad.",
        )
    wrt_vars = {subst.get(v, v) for _, v in targets}
    joint = joint_vjp(graph, [v in wrt_vars for v in all_inputs], seed_ones=True)
    if not any(joint.connected):
        raise _located(
            AutogradError(
                "element of tensors does not require grad and does not have a grad_fn: "
                f"backward() was called on a traced tensor of shape {tuple(out.shape)} that "
                "was not computed from any tensor with requires_grad=True (was it made under "
                "no_grad(), or detached?)"
            )
        )
    # stage the backward equations into the trace, the stand-ins renamed back
    back = {v2: v for v, v2 in subst.items()}
    defined = set(known)
    for e in b.eqns:
        defined.update(e.outputs)
    for e in joint.graph.eqns:
        if all(o in defined for o in e.outputs):
            continue  # the forward, already in the trace
        outs = [Var(o.aval) if o in defined else o for o in e.outputs]
        ins = [back.get(a, a) if isinstance(a, Var) else a for a in e.inputs]
        b.eqns.append(Eqn(e.op, ins, e.params, outs, e.source_loc))
        defined.update(outs)
    for v, arr in joint.graph.consts.items():
        b.consts.setdefault(v, arr)
    grads = iter(joint.graph.outputs[1:])
    order = [v for v in all_inputs if v in wrt_vars]
    by_var = {v: (next(grads), c) for v, c in zip(order, joint.connected)}
    for x, v in targets:
        g, connected = by_var[subst.get(v, v)]
        if not connected:
            continue  # PyTorch leaves the .grad of an unused parameter alone
        if isinstance(g, Var):
            gs = Sym(b, back.get(g, g))
        else:  # a literal gradient
            gs = out.full_like(g.value.item(), shape=tuple(x.shape)).to(x._data.dtype)
        hooks = list(getattr(x, "_hooks", None) or ())
        b.extra_guards[-id(x)] = _HookGuard(x, hooks)  # (keys of optimizers: their ids)
        for hook in hooks:  # the tensor's hooks, staged: they see and may replace it
            replaced = hook(gs)
            if replaced is not None:
                gs = gs._sym(replaced)
        if not create_graph:
            gs = gs.detach()
        slot = b.grad_slot(x)
        if slot.current is None:
            slot.current = gs
        else:  # accumulated in place, as PyTorch's AccumulateGrad does
            slot.current.add_(gs)
    b.did_backward = True


class _HookGuard:
    """A tensor whose gradient a traced backward() computed: the graph ran its hooks as
    they were then, and holds while they are the same."""

    __slots__ = ("p", "hooks")

    def __init__(self, p: Any, hooks: list[Any]) -> None:
        self.p, self.hooks = p, hooks

    def holds(self) -> bool:
        return list(self.p._hooks or ()) == self.hooks

    def change(self) -> str | None:
        if self.holds():
            return None
        return f"the hooks registered on a tensor of shape {tuple(self.p.shape)} changed"


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


_UNREAD: Any = object()


class GradSlot:
    """The `.grad` of a tensor from outside a traced function, as the traced code sees
    it: `initial` (a Sym reading the tensor's `.grad` at each call, or None when it was
    None at trace time; taken at the first read, `read`) and `current` (what the code
    has set it to, or updated in place). The tracer writes `current` back after each call
    when it changed, and, if the code read it, retraces when `.grad` goes from None to a
    tensor or back (`zero_grad()` then `backward()` never reads it)."""

    __slots__ = ("p", "root", "initial", "_current", "read")

    def __init__(self, root: GraphBuilder, p: Any) -> None:
        self.p, self.root = p, root
        self.initial: Sym | None = None
        self._current: Any = _UNREAD
        self.read = False

    @property
    def current(self) -> Sym | None:
        if self._current is _UNREAD:
            self.read = True
            g = self.p._grad
            if g is not None:
                p, root = self.p, self.root
                self.initial = Sym(root, root.capture(g))
                what = f"the .grad of a tensor of shape {tuple(p.shape)}"
                root.live_reads[self.initial.ir_var] = (what, lambda: p._grad)
            self._current = self.initial
        return self._current

    @current.setter
    def current(self, value: Sym | None) -> None:
        self._current = value

    def write(self) -> tuple[str, Sym | None] | None:
        """What to write back: ("none", None) to set `.grad` to None, ("grad", value)
        for a new tensor, ("grad_", value) to update the existing one; None: nothing."""
        now = self._current
        if now is _UNREAD:
            return None
        if now is None:
            return None if self.read and self.initial is None else ("none", None)
        if now is self.initial:
            return ("grad_", now) if now._version > 0 else None
        return ("grad", now)


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


# View ops an in-place update can write through (eager mode's shared memory), and how:
# the viewed value's new value from the view's new value.
_WRITE_THROUGH = ("stop_gradient", "reshape", "transpose", "slice")
# View ops of the IR whose eager (and PyTorch) result is a copy: updating it changes
# only it.
_EAGER_COPIES = ("flip",)
_VIEW_NAMES = {
    "broadcast_to": "expand/broadcast_to",
    "diagonal": "diagonal",
    "windows": "unfold (sliding windows)",
}


def _write_through(parent: Sym, op: str, params: dict[str, Any], value: Sym) -> Any:
    if op == "stop_gradient":  # detach(), .data
        return value
    if op == "reshape":
        return value.reshape(tuple(parent.shape))
    if op == "transpose":
        return value.permute(*np.argsort(params["perm"]).tolist())
    if op == "slice":  # x[ints, slices, None]
        return apply("index_put", parent, value, spec=params["spec"])
    raise AssertionError(op)


def _no_concrete_view() -> TraceError:
    return _traced_error(
        "a view of a tensor (from indexing, reshape, transpose, expand or detach) is used "
        "after that tensor was modified in place; in eager mode the view would show the "
        "new values, which traced code cannot reproduce",
        "Take the view after the in-place update, or clone() before updating.",
    )


class Sym(Operand):
    """A symbolic tensor: an IR variable in a builder, with the Operand methods.

    In-place updates (`y[i] = v`, `y += 1`, `y.add_(...)`) rebind `ir_var` to the
    result of an out-of-place op. An update through a view (`_view`: the value it
    views, the view op and its params) writes through to the viewed value, as eager
    mode's shared memory does; an update of an argument of the traced function or of a
    tensor from outside it (`_owner`: the argument's position, or the tensor) is
    written back to it after each call. A view read after its base was updated through
    another way is refused.
    """

    __slots__ = ("builder", "ir_var", "_base", "_base_version", "_version", "_view", "_owner")
    _priority = 2

    def __init__(
        self,
        builder: GraphBuilder,
        var: Var,
        base: Sym | None = None,
        view: tuple[Sym, str, dict[str, Any]] | None = None,
    ) -> None:
        self.builder = builder
        self.ir_var = var
        self._version = 0
        self._view = view
        self._owner: Any = None
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

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Any = None,
    ) -> None:
        """Stage PyTorch's `backward()` into the traced function: the gradients of this
        value with respect to the tensors from outside that require grad (a model's
        parameters) are computed by the graph and accumulated into their `.grad`,
        written back after each call (so `opt.zero_grad(); loss.backward(); opt.step()`
        compiles into one function). Raises TraceError inside loop bodies, branches and
        staged transforms, and when an argument of the traced function requires grad."""
        self._live()
        b = self.builder
        if b.parent is not None or not b.accepts_writes or tracing.builder is not b:
            raise _traced_error(
                "backward() inside a loop body, a branch or a staged transform is not supported",
                "Call backward() in the traced function itself, or use tracer.grad / "
                "tracer.value_and_grad.",
            )
        _stage_backward(b, self, gradient, create_graph, inputs)

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
        var = self.builder.emit("stop_gradient", [self.ir_var], {})[0]
        return Sym(self.builder, var, self, (self, "stop_gradient", {}))

    @property
    def data(self) -> Sym:
        """`x.data` in traced code: `x.detach()`, through which updates write to `x`."""
        return self.detach()

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
        """Raise before an in-place update that traced code cannot reproduce: of a value
        from outside a loop body or branch being staged, of an input of a sub-graph, or
        through a view whose write-back has no inverse (expand, diagonal, unfold)."""
        self._live()
        active = tracing.builder
        node: Sym = self
        while True:
            if active is not None and node.builder is not active:
                where = active.repeats or "a branch or function being staged"
                raise _traced_error(
                    f"{what}: in-place update, inside {where}, of a tensor of shape "
                    f"{tuple(node.shape)} from outside it: the update would run once per "
                    "trace, not on every step",
                    "Pass the tensor in as a carry (or operand) and return its new value.",
                )
            if node._view is None:
                break
            parent, op, _ = node._view
            if op not in _WRITE_THROUGH:
                raise _traced_error(
                    f"{what}: in-place update of a view made by {_VIEW_NAMES.get(op, op)} "
                    "(shape {}) is not supported in traced code: eager mode would also "
                    "change the tensor it views, which traced code cannot follow through "
                    "this kind of view".format(tuple(self.shape)),
                    _MUTATION_FIX,
                )
            node = parent
        if node._owner is None and node.ir_var in node.builder.inputs:
            raise _traced_error(
                f"{what}: in-place modification of an input of a loop body or branch "
                f"(shape {tuple(node.shape)}) is not supported",
                "Return the new value from the body instead (x = x + 1).",
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
        # write through the views to the value they view (eager mode shares memory)
        node, chain = self, []
        while node._view is not None:
            parent, op, params = node._view
            new = _write_through(parent, op, params, Sym(self.builder, node.ir_var))
            parent.ir_var = new.ir_var
            chain.append(node)
            node = parent
        node._version += 1
        for v in chain:  # these views stay current; others of the same base go stale
            v._base_version = node._version
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
