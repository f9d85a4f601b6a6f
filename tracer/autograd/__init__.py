"""The eager autograd engine: graph nodes, backward(), grad(), gradcheck().

Every recorded op becomes a `Node` (its class is named after PyTorch's node,
e.g. `SubBackward0`). backward() walks the nodes reachable from the roots in an
iterative, deterministic order (latest-created first once all consumers are
done), calling each op's registry VJP rule and summing gradients back to each
input's shape in one place.

The engine never names the Tensor class (tracer.tensor imports this module, not the
reverse): it makes new tensors in the world of one it was given, with the Operand
protocol's `_const` (as VJP rules do), and tells eager tensors from traced values by
their class.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from compiler.builder import Sym
from compiler.dispatch import tracing
from compiler.errors import AutogradError, TraceError
from compiler.evaluate import Value
from compiler.operand import Operand
from compiler.registry import AVal, Op
from tracer._data import array_from
from tracer._quiet import quiet, quiet_enter, quiet_exit
from tracer.grad_mode import is_grad_enabled, set_grad_enabled

if TYPE_CHECKING:
    from tracer.tensor import Tensor

_sequence = itertools.count()


def _is_tensor(x: Any) -> bool:
    """An eager tensor (not a traced value, not a number)."""
    return isinstance(x, Operand) and not isinstance(x, Sym)


class RemovableHandle:
    """Returned by register_hook(); `remove()` unregisters the hook."""

    def __init__(self, hooks: list[Any], hook: Any) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Node:
    """A backward function in the graph, like PyTorch's `grad_fn` objects."""

    __slots__ = ("next_functions", "_seq", "_pre_hooks", "__weakref__")

    def __init__(self, next_functions: tuple[tuple[Node | None, int], ...]) -> None:
        self.next_functions = next_functions
        self._seq = next(_sequence)
        self._pre_hooks: dict[int, list[Any]] | None = None

    def name(self) -> str:
        return type(self).__name__

    # No __repr__: like PyTorch's nodes (classes of module `builtins`), object.__repr__
    # gives `<SubBackward0 object at 0x...>` and IPython shows `<SubBackward0 at 0x...>`.

    def apply(self, grads: list[Any], create_graph: bool, retain: bool) -> Sequence[Any]:
        raise NotImplementedError

    def _register_pre_hook(self, output_nr: int, hook: Any) -> RemovableHandle:
        if self._pre_hooks is None:
            self._pre_hooks = {}
        hooks = self._pre_hooks.setdefault(output_nr, [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def _register_retain(self, tensor: Tensor) -> None:
        ref = weakref.ref(tensor)

        def retain(g: Tensor) -> None:
            t = ref()
            if t is not None and t._grad_fn is self:
                _accumulate_later(t, g)

        retain.retains_grad = True  # type: ignore[attr-defined]

        self._register_pre_hook(tensor._output_nr, retain)

    def _rebase_output(self, old: Tensor, new: Tensor) -> None:
        """An in-place op moved output `old` into tensor `new`."""


class OpNode(Node):
    """The node of one registry op: saves what the op's VJP rule needs."""

    __slots__ = ("op", "params", "_saved", "_versions", "_out", "_out_version", "_metas", "_freed")

    def apply(self, grads: list[Any], create_graph: bool, retain: bool) -> Sequence[Any]:
        if self._freed:
            raise AutogradError(
                f"trying to backward through the graph a second time: the values saved by "
                f"{self.name()} ({self.op.name} of {_show_avals(self._metas)}) were freed by "
                "the first backward(). Pass retain_graph=True to the first backward() (or "
                "autograd.grad()) if you need to go through the graph again."
            )
        inputs = []
        for x, version in zip(self._saved, self._versions):
            if version is not None and x._version[0] != version:
                raise AutogradError(
                    f"a {x.dtype.name} tensor of shape {tuple(x.shape)} needed by {self.name()} "
                    f"to compute gradients was modified by an in-place operation (it is at "
                    f"version {x._version[0]}, expected {version}). Use an out-of-place op "
                    "(y = y + 1 instead of y += 1), or .clone() the tensor before changing "
                    "it."
                )
            inputs.append(x)
        if self._out is not None:
            for i, (counter, version) in enumerate(self._out_version):
                if counter[0] != version:
                    out = self._out[i]
                    raise AutogradError(
                        f"output {i} of {self.name()} (a {out.dtype.name} tensor of shape "
                        f"{tuple(out.shape)}), needed to compute its gradient, was modified by an "
                        f"in-place operation (it is at version {counter[0]}, expected "
                        f"{version}). Use an out-of-place op (y = y + 1 instead of y += 1), "
                        "or .clone() the output before changing it."
                    )
            like = next(g for g in grads if g is not None)
        else:
            like = None
        if not create_graph and tracing.builder is None:
            result = self._vjp_on_arrays(grads, inputs)
        else:
            if like is not None:
                outs = tuple(
                    self._saved_output(like, o, i, create_graph) for i, o in enumerate(self._out)
                )
                out = outs if self.op.multiple_results else outs[0]
            else:
                out = None
            g = grads if self.op.multiple_results else grads[0]
            with set_grad_enabled(create_graph):
                result = self.op.vjp(g, out, *inputs, **self.params)
                result = [_fit(c, meta) for c, meta in zip(result, self._metas)]
        if not retain and (self._out is not None or self._versions.count(None) < len(inputs)):
            self._saved = self._out = None
            self._freed = True
        return result

    def _vjp_on_arrays(self, grads: list[Any], inputs: list[Any]) -> list[Any]:
        """The VJP rule run on plain arrays (`compiler.evaluate.Value`s, which compute
        and record nothing): what backward() without create_graph needs, at a fraction
        of the cost of running it on tensors. Gradients come back as tensors."""
        like = grads[0] if grads[0] is not None else next(g for g in grads if g is not None)
        arrays = [Value(x._data) if isinstance(x, Operand) else x for x in inputs]
        if self._out is None:
            out = None
        elif self.op.multiple_results:
            out = tuple(Value(o) for o in self._out)
        else:
            out = Value(self._out[0])
        if self.op.multiple_results:
            g: Any = tuple(Value(c._data) if c is not None else None for c in grads)
        else:
            g = Value(grads[0]._data)
        token = quiet_enter()
        try:
            cotangents = self.op.vjp(g, out, *arrays, **self.params)
            fitted = [_fit_array(c, meta) for c, meta in zip(cotangents, self._metas)]
        finally:
            quiet_exit(token)
        return [like._const(a) if a is not None else None for a in fitted]

    def _saved_output(self, like: Tensor, value: np.ndarray, nr: int, create_graph: bool) -> Tensor:
        """Output `nr` of the op as a tensor (for the VJP rule), made from its saved array."""
        t = like._const(value)
        if create_graph:
            t._grad_fn, t._output_nr = self, nr
        return t


def _fit_array(g: Any, meta: AVal | None) -> np.ndarray | None:
    """`_fit` for a cotangent computed on arrays: its array, at its input's shape and
    dtype."""
    if g is None or meta is None:
        return None
    if isinstance(g, Value):
        if g.array.shape != meta.shape:
            g = g.sum_to(meta.shape)
        a = g.array
    else:  # a number (a rule's constant cotangent)
        a = np.asarray(g)
        if a.shape != meta.shape:
            a = np.broadcast_to(a, meta.shape)
    return a if a.dtype == meta.dtype else a.astype(meta.dtype)


def _show_avals(metas: Sequence[AVal | None]) -> str:
    """`float32 (3,), float32 (2, 3)`: the inputs a node differentiates."""
    shown = [f"{m.dtype} {tuple(m.shape)}" for m in metas if m is not None]
    return ", ".join(shown) or "no differentiable inputs"


def _fit(g: Any, meta: AVal | None) -> Any:
    """Sum a broadcast gradient back to its input's shape and dtype (one place)."""
    if g is None or meta is None:
        return None
    data = g._data if _is_tensor(g) else g.aval  # the internal shape and dtype
    if data.shape != meta.shape:
        g = g.sum_to(meta.shape)
    if data.dtype != meta.dtype:
        g = g.to(meta.dtype)
    return g


_node_classes: dict[str, type[OpNode]] = {}


def node_class(name: str) -> type[OpNode]:
    cls = _node_classes.get(name)
    if cls is None:
        cls = _node_classes[name] = type(
            name, (OpNode,), {"__slots__": (), "__module__": "builtins"}
        )
    return cls


class AccumulateGrad(Node):
    """Accumulates the incoming gradient into a leaf's `.grad`."""

    __module__ = "builtins"  # repr <AccumulateGrad object at 0x...>, as PyTorch

    __slots__ = ("variable",)

    def __init__(self, tensor: Tensor) -> None:
        super().__init__(())
        self.variable = weakref.ref(tensor)


_NO_EDGE: tuple[None, int] = (None, 0)


def _edge(x: Any) -> tuple[Node | None, int]:
    if not _is_tensor(x) or not x.requires_grad:  # requires_grad refreshes a stale view
        return (None, 0)
    if x._grad_fn is not None:
        return (x._grad_fn, x._output_nr)
    if x._accumulator is None or x._accumulator() is None:
        node = AccumulateGrad(x)
        x._accumulator = weakref.ref(node)
        return (node, 0)  # kept alive by the next_functions that refer to it
    return (x._accumulator(), 0)


def record(
    op: Op,
    params: dict[str, Any],
    name: str | None,
    inputs: Sequence[Any],
    needs: tuple[bool, ...],
    outputs: tuple[Tensor, ...],
) -> None:
    """Attach a node for `op` to `outputs` (called by Tensor._bind in grad mode, whose
    operands are eager tensors, numbers and arrays: never traced values)."""
    keep = op.saves(needs)
    avals, edges, saved, versions, metas = [], [], [], [], []
    for x, k, n in zip(inputs, keep, needs):
        if isinstance(x, Operand):
            aval = AVal(x._data.shape, x._data.dtype)
            edges.append(_edge(x) if n else _NO_EDGE)
            if k:
                saved.append(x)
                versions.append(x._version[0])
            else:
                saved.append(aval)
                versions.append(None)
            metas.append(aval if n else None)
        else:
            aval = x
            edges.append(_NO_EDGE)
            saved.append(x)
            versions.append(None)
            metas.append(None)
        avals.append(aval)
    node = node_class(name or op.grad_fn_name(params, tuple(avals)))(tuple(edges))
    node.op, node.params = op, params
    node._saved, node._versions = saved, versions
    node._metas = tuple(metas)
    if op.saves_out:
        node._out = tuple(t._data for t in outputs)
        node._out_version = tuple((t._version, t._version[0]) for t in outputs)
    else:
        node._out = None
    node._freed = False
    for i, t in enumerate(outputs):
        if t._data.dtype.kind != "f":  # integer results never require grad (x.long())
            continue
        t._grad_fn, t._output_nr = node, i


# ---- backward -----------------------------------------------------------------


def _describe(t: Tensor) -> str:
    """`a float32 tensor of shape (3,) (grad_fn=MulBackward0)`."""
    made = f" (grad_fn={t._grad_fn.name()})" if t._grad_fn is not None else ""
    return f"a {t.dtype.name} tensor of shape {tuple(t.shape)}{made}"


def _not_traced(x: Any, what: str) -> None:
    if isinstance(x, Sym):
        x._live()  # a value of a finished trace: say that instead
        raise TraceError(
            f"backward()/autograd.grad() on a traced value ({what}) inside a traced function "
            "is not supported. Differentiate the traced function from outside (call "
            "backward() on its result), or use tracer.grad / tracer.value_and_grad."
        )


def _check_root(t: Tensor, g: Any) -> Tensor:
    _not_traced(t, "an output")
    if not _is_tensor(t):
        raise TypeError(f"backward()/grad(): outputs must be tensors, got {type(t).__name__}")
    if not t.requires_grad:
        raise AutogradError(
            f"element of tensors does not require grad and does not have a grad_fn: "
            f"backward() was called on {_describe(t)} that was not computed from any tensor "
            "with requires_grad=True (was it made under no_grad(), or detached?)"
        )
    if g is None:
        if t._data.size != 1:
            raise AutogradError(
                f"grad can be implicitly created only for scalar outputs: backward() was "
                f"called on {_describe(t)}. Reduce it first (loss.sum().backward()) or pass "
                "gradient=tracer.ones_like(loss)."
            )
        return t._const(np.ones(t._data.shape, t._data.dtype))
    _not_traced(g, "a gradient")
    if not _is_tensor(g):
        g = t._const(array_from(g, t.dtype))
    elif g.dtype != t.dtype:  # the gradient of a float32 output is float32
        g = g._const(g._data.astype(t.dtype))
    if tuple(g.shape) != tuple(t.shape):
        raise AutogradError(
            f"mismatch in shape: gradient has shape {tuple(g.shape)} but the output it is the "
            f"gradient of, {_describe(t)}, has shape {tuple(t.shape)}. Pass a gradient of "
            f"shape {tuple(t.shape)} (tracer.ones_like(output) for a plain sum)."
        )
    return g


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
) -> None:
    """Accumulate gradients of `tensors` into the `.grad` of the leaves they depend on."""
    roots, grads = _roots(tensors, grad_tensors)
    if inputs is not None:
        captured = grad(roots, list(inputs), grads, retain_graph, create_graph, allow_unused=True)
        for x, g in zip(inputs, captured):
            if g is not None:
                _accumulate(x, g if create_graph else g.detach())
        return
    _run(
        roots, grads, retain_graph if retain_graph is not None else create_graph, create_graph, None
    )


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned instead of accumulated."""
    roots, grads = _roots(outputs, grad_outputs)
    single = isinstance(inputs, Operand)
    if not single and not isinstance(inputs, (list, tuple)):
        raise TypeError(
            f"grad(): inputs must be a tensor or a sequence of tensors, got {type(inputs).__name__}"
        )
    inputs = [inputs] if single else list(inputs)
    for x in inputs:
        _not_traced(x, "an input")
        if not _is_tensor(x):
            raise TypeError(f"grad(): inputs must be tensors, got {type(x).__name__}")
        if not x.requires_grad:
            raise AutogradError(
                f"one of the inputs ({_describe(x)}) does not require grad; "
                "create it with requires_grad=True"
            )
    targets = {}
    for i, x in enumerate(inputs):
        node, nr = _edge(x)
        targets.setdefault((node, nr), []).append(i)
    found: list[Any] = [None] * len(inputs)
    _run(
        roots,
        grads,
        retain_graph if retain_graph is not None else create_graph,
        create_graph,
        (targets, found),
    )
    for i, g in enumerate(found):
        if g is None and not allow_unused:
            raise AutogradError(
                f"input {i} (shape {tuple(inputs[i].shape)}) was not used to compute the "
                "outputs; pass allow_unused=True if that is expected"
            )
    return tuple(found)


def _roots(tensors: Any, grads: Any) -> tuple[list[Tensor], list[Tensor]]:
    if not isinstance(tensors, (Operand, list, tuple)):
        raise TypeError(
            f"backward()/grad(): outputs must be a tensor or a sequence of "
            f"tensors, got {type(tensors).__name__}"
        )
    roots = [tensors] if isinstance(tensors, Operand) else list(tensors)
    if grads is None or isinstance(grads, Operand) or not isinstance(grads, (list, tuple)):
        grads = [grads] * len(roots) if len(roots) == 1 or grads is None else grads
    if len(grads) != len(roots):
        raise AutogradError(
            f"got {len(grads)} gradients for {len(roots)} output"
            f"{'s' if len(roots) != 1 else ''}: pass one gradient per output, each a tensor "
            "of its output's shape (a list of numbers is read as one gradient per output; "
            "wrap it as tracer.tensor([...]))"
        )
    return roots, [_check_root(t, g) for t, g in zip(roots, grads)]


class _PendingWrites(threading.local):
    writes: list[tuple[Tensor, Tensor]] | None = None


# While backward() runs, updates of `.grad` wait here until every node has run, so a
# backward() that raises half-way leaves every `.grad` as it was.
_pending = _PendingWrites()


def _accumulate_later(t: Tensor, g: Tensor) -> None:
    if _pending.writes is None:
        _accumulate(t, g)
    else:
        _pending.writes.append((t, g))


def _accumulate(t: Tensor, g: Tensor) -> None:
    old = t._grad
    if old is None:
        t._grad = g if g._grad_fn is not None else g._const(np.array(g._data, copy=True))
    elif g._grad_fn is not None or old._grad_fn is not None:
        t._grad = old + g
    else:
        with quiet():  # inf + -inf is nan, as in PyTorch: no numpy warning
            old._data += g._data
        old._version[0] += 1


def _run(
    roots: list[Tensor],
    grads: list[Tensor],
    retain: bool,
    create_graph: bool,
    capture: tuple[dict[Any, list[int]], list[Any]] | None,
) -> None:
    # Dependencies: how many reachable edges point at each node.
    root_edges = [_edge(t) for t in roots]
    deps: dict[Node, int] = {}
    order: list[Node] = []
    stack = [n for n, _ in root_edges if n is not None]
    seen = set(stack)
    while stack:
        node = stack.pop()
        order.append(node)
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    needed = None
    if capture is not None:
        # only run the nodes on a path to a requested input: walk the edges backwards
        # from the inputs (one pass, however deep the graph)
        users: dict[Node, list[Node]] = {}
        for node in order:
            for nxt, _ in node.next_functions:
                if nxt is not None:
                    users.setdefault(nxt, []).append(node)
        needed = set()
        stack = [n for n, _ in capture[0] if n is not None]
        while stack:
            node = stack.pop()
            if node not in needed:
                needed.add(node)
                stack.extend(users.get(node, ()))
    buffers: dict[Node, list[Any]] = {}
    for (node, nr), g in zip(root_edges, grads):
        if node is not None:
            _add(buffers, node, nr, g)
    ready = [
        (-n._seq, id(n), n)
        for n in {n for n, _ in root_edges if n is not None}
        if deps.get(n, 0) == 0
    ]
    heapq.heapify(ready)
    outer, _pending.writes = _pending.writes, []
    try:
        with set_grad_enabled(create_graph):
            _walk(ready, buffers, deps, needed, retain, create_graph, capture)
            writes, _pending.writes = _pending.writes, outer
            for t, g in writes:
                _accumulate(t, g)
    finally:
        _pending.writes = outer


def _walk(
    ready: list[Any],
    buffers: dict[Node, list[Any]],
    deps: dict[Node, int],
    needed: set[Node] | None,
    retain: bool,
    create_graph: bool,
    capture: tuple[dict[Any, list[int]], list[Any]] | None,
) -> None:
    """Run the nodes, latest first once all their consumers have run."""
    while ready:
        _, _, node = heapq.heappop(ready)
        gs = buffers.pop(node, None) or [None]
        if node._pre_hooks:
            for nr, hooks in node._pre_hooks.items():
                # as in PyTorch, .grad of a retain_grad() tensor sees the gradient after
                # its other hooks, whatever the order they were registered in
                for hook in sorted(hooks, key=lambda h: getattr(h, "retains_grad", False)):
                    if nr < len(gs) and gs[nr] is not None:
                        out = hook(gs[nr])
                        if out is not None:
                            gs[nr] = out
        if capture is not None:
            for nr, g in enumerate(gs):
                for i in capture[0].get((node, nr), ()):
                    capture[1][i] = g
        if isinstance(node, AccumulateGrad):
            if capture is None:
                _accumulate_leaf(node, gs[0], create_graph)
            continue
        if needed is not None and node not in needed:
            continue
        if gs.count(None) == len(gs):
            results: Sequence[Any] = [None] * len(node.next_functions)
        else:
            if isinstance(node, OpNode) and node.op.multiple_results:
                gs = _fill_missing(node, gs)
            results = node.apply(gs, create_graph, retain)
        for (nxt, nr), g in zip(node.next_functions, results):
            if nxt is None:
                continue
            if g is not None:
                _add(buffers, nxt, nr, g)
            deps[nxt] -= 1
            if deps[nxt] == 0:
                heapq.heappush(ready, (-nxt._seq, id(nxt), nxt))


def _fill_missing(node: OpNode, gs: list[Any]) -> list[Any]:
    if node._out is None:
        return gs
    like = next(g for g in gs if g is not None)
    gs = list(gs) + [None] * (len(node._out) - len(gs))  # outputs after the last one used
    return [g if g is not None else like._const(np.zeros_like(o)) for g, o in zip(gs, node._out)]


def _add(buffers: dict[Node, list[Any]], node: Node, nr: int, g: Any) -> None:
    slot = buffers.get(node)
    if slot is None:
        slot = buffers[node] = [None] * max(nr + 1, 1)
    elif len(slot) <= nr:
        slot.extend([None] * (nr + 1 - len(slot)))
    slot[nr] = g if slot[nr] is None else slot[nr] + g


def _accumulate_leaf(node: AccumulateGrad, g: Any, create_graph: bool) -> None:
    t = node.variable()
    if t is None or g is None:
        return
    if t._hooks:
        for hook in list(t._hooks):
            out = hook(g)
            if out is not None:
                g = out
    _accumulate_later(t, g if create_graph else g.detach() if g._grad_fn is not None else g)


# ---- gradcheck ----------------------------------------------------------------


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare analytic gradients of `fn` with central finite differences (use float64).

    Checks the vector-Jacobian product with every output's gradient set to ones and
    the Jacobian column by column, so a wrong entry cannot hide behind a sum.
    """
    inputs = (inputs,) if isinstance(inputs, Operand) else tuple(inputs)
    diff = [x for x in inputs if _is_tensor(x) and x.requires_grad]
    for x in diff:
        if x.dtype != np.float64:
            raise AutogradError(
                f"gradcheck: input of shape {tuple(x.shape)} is {x.dtype.name}; "
                "use float64 inputs for finite differences"
            )

    def outputs() -> list[Tensor]:
        out = fn(*inputs)
        return [out] if _is_tensor(out) else [o for o in out if _is_tensor(o)]

    with set_grad_enabled(True):
        outs = outputs()
    for k, out in enumerate(outs):
        if not out.requires_grad:
            continue
        for j in range(out._data.size):
            seed = np.zeros(out.shape, out.dtype)
            seed.flat[j] = 1
            analytic = grad([out], diff, [out._const(seed)], retain_graph=True, allow_unused=True)
            for x, a in zip(diff, analytic):
                numeric = np.zeros(x.shape)
                flat = x._data.reshape(-1)
                for i in range(flat.size):
                    orig = flat[i]
                    flat[i] = orig + eps
                    with set_grad_enabled(False):
                        hi = np.array(outputs()[k]._data, dtype=np.float64).flat[j]
                    flat[i] = orig - eps
                    with set_grad_enabled(False):
                        lo = np.array(outputs()[k]._data, dtype=np.float64).flat[j]
                    flat[i] = orig
                    numeric.flat[i] = (hi - lo) / (2 * eps)
                got = np.zeros(x.shape) if a is None else a._data
                if not np.allclose(got, numeric, atol=atol, rtol=rtol):
                    if raise_exception:
                        raise AutogradError(
                            f"gradcheck: Jacobian mismatch for output {k} element {j} w.r.t. "
                            f"an input of shape {tuple(x.shape)}:\nnumerical: {numeric}\n"
                            f"analytical: {got}"
                        )
                    return False
    return True


__all__ = ["backward", "grad", "gradcheck", "Node", "is_grad_enabled"]

# Custom functions and the functional API build on the engine above.
from tracer.autograd import functional  # noqa: E402
from tracer.autograd.function import Function, FunctionCtx, once_differentiable  # noqa: E402

__all__ += ["Function", "FunctionCtx", "functional", "once_differentiable"]
