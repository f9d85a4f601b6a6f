"""Structured control flow with JAX's semantics: cond, switch, while_loop,
fori_loop, scan (`jax.lax.cond`, ... ; see docs/control_flow.md).

Eagerly these are ordinary Python control flow, recording autograd as usual, so one
function runs the same eagerly and traced. Inside a traced function (`@tracer.trace`,
`tracer.value_and_grad`) each stages its branches or body once into a sub-graph and
becomes one equation: a loop of a thousand steps compiles as fast as one of ten.
Carries and operands are pytrees (tuples, lists, dicts) of tensors and Python
numbers; a body or branch may use tensors from outside it (they become inputs of
the equation, and get gradients).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler import dtypes, operand
from compiler.builder import GraphBuilder, Sym
from compiler.dispatch import apply
from compiler.errors import TraceError
from compiler.ir import Graph, Var
from compiler.passes import optimize
from compiler.registry import AVal
from compiler.source import describe_location
from tracer.pytree import TreeDef, flatten
from tracer.tensor import Tensor

__all__ = ["cond", "fori_loop", "scan", "switch", "while_loop"]


def _builder() -> GraphBuilder | None:
    return operand.tracing.builder


def _error(what: str, fix: str = "") -> TraceError:
    where = describe_location()
    return TraceError(what + (f"\n  at {where}" if where else "") + (f"\n{fix}" if fix else ""))


def _show(aval: Any) -> str:
    return f"{aval.dtype.name}{list(aval.shape)}"


# ---- staging ------------------------------------------------------------------------


class _Staged:
    """A Python function staged into a sub-graph of the current trace."""

    def __init__(self, graph: Graph, out_tree: TreeDef, consts: list[Any]) -> None:
        self.graph, self.out_tree, self.consts = graph, out_tree, consts

    @property
    def out_avals(self) -> list[AVal]:
        return [AVal(tuple(a.aval.shape), a.aval.dtype) for a in self.graph.outputs]


def _leaves(b: GraphBuilder, tree_value: Any) -> tuple[TreeDef, list[Any]]:
    """The structure of a carry or operand, and its leaves as values of trace `b`
    (Python numbers become weakly typed constants)."""
    leaves: list[Any] = []
    tree = flatten(tree_value, leaves, numbers=True)
    out = []
    for leaf, weak in zip(leaves, tree.weak_leaves()):
        if weak:  # a Python number: a constant of the trace, promoting as a number does
            v = b.emit("full", [], {"shape": (), "dtype": leaf.dtype, "value": leaf.item()})[0]
            v.aval = v.aval._replace(weak=True)
            out.append(Sym(b, v))
        else:
            out.append(leaf)
    return tree.numbers_as_tensors(), out


def _stage(
    b: GraphBuilder,
    fn: Callable[..., Any],
    trees: Sequence[TreeDef],
    avals: Sequence[Sequence[AVal]],
    repeats: str | None = None,
) -> _Staged:
    """Trace `fn(*args)` on new symbolic inputs of the given structures and avals
    (`repeats`: what it is, when it runs many times per call: a loop body)."""
    child = GraphBuilder(b.grad_enabled, warn_above=None, parent=b)
    child.name = b.name
    child.repeats = repeats
    args = []
    for tree, group in zip(trees, avals):
        syms = iter([child.new_input(a) for a in group])
        args.append(tree.unflatten(syms))
    outer, operand.tracing.builder = operand.tracing.builder, child
    try:
        out = fn(*args)
    finally:
        operand.tracing.builder = outer
    out_tree, leaves = _leaves(child, out)
    outputs = []
    for leaf in leaves:
        if not isinstance(leaf, (Sym, Tensor)):
            raise _error(
                f"a branch or loop body returned {type(leaf).__name__} {leaf!r}; it "
                "must return tensors and Python numbers (in tuples, lists, dicts)"
            )
        outputs.append(child._atom(leaf))
    child.closed = True
    # the values it closes over come first: (consts, *arguments)
    graph = optimize(Graph([v for v, _ in child.closure] + child.inputs, child.eqns, outputs, {}))
    consts = [Sym(b, a) if isinstance(a, Var) else a for _, a in child.closure]
    return _Staged(graph, out_tree, consts)


def _aval(x: Any) -> AVal:
    # only traced values carry an aval (a tensor's missing attribute is a slow error path)
    weak = isinstance(x, Sym) and bool(getattr(x.aval, "weak", False))
    return AVal(tuple(x.shape), np.dtype(x.dtype), weak)


def _common_consts(staged: list[_Staged]) -> list[Any]:
    """One list of closed-over values for several sub-graphs; each graph gets an input
    for every one (unused where it does not read it)."""
    outer: list[Any] = []
    seen: dict[int, int] = {}
    for s in staged:
        for c in s.consts:
            key = id(c.ir_var) if isinstance(c, Sym) else id(c)
            if key not in seen:
                seen[key] = len(outer)
                outer.append(c)
    for s in staged:
        n = len(s.consts)
        mine = {
            (id(c.ir_var) if isinstance(c, Sym) else id(c)): v
            for c, v in zip(s.consts, s.graph.inputs[:n])
        }
        extra = []
        for c in outer:
            key = id(c.ir_var) if isinstance(c, Sym) else id(c)
            extra.append(mine.get(key) or Var(AVal(tuple(c.shape), np.dtype(c.dtype))))
        s.graph = Graph(extra + s.graph.inputs[n:], s.graph.eqns, s.graph.outputs, {})
    return outer


def _check_same(
    what: str,
    tree: TreeDef,
    avals: list[AVal],
    other_tree: TreeDef,
    other: list[AVal],
    names: tuple[str, str],
    rename: Callable[[str], str] = lambda p: p,
) -> None:
    if tree != other_tree:
        raise _error(
            f"{what}: {names[0]} has the structure {tree} but {names[1]} has {other_tree}",
            "Both must return the same structure of tensors.",
        )
    for path, a, o in zip(tree.leaf_paths(), avals, other):
        if (tuple(a.shape), a.dtype) != (tuple(o.shape), o.dtype):
            path = rename(path)
            raise _error(
                f"{what}: {path} is {_show(a)} in {names[0]} but {_show(o)} in {names[1]}",
                "Make them the same shape and dtype (.to(dtype), .reshape(...)).",
            )


# ---- cond and switch -----------------------------------------------------------------


def cond(
    pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any], *operands: Any
) -> Any:
    """`true_fun(*operands)` if `pred` else `false_fun(*operands)` (jax.lax.cond).

    `pred` is a bool or a 0-d tensor. Traced with a traced `pred`, both branches are
    staged and must return the same structure of tensors of the same shapes and
    dtypes (a TraceError names the leaf that differs); the gradient flows through the
    branch taken."""
    return switch(pred, (false_fun, true_fun), *operands, _name="cond")


def switch(
    index: Any, branches: Sequence[Callable[..., Any]], *operands: Any, _name: str = "switch"
) -> Any:
    """`branches[index](*operands)`, the index clamped to the valid range
    (jax.lax.switch). See `cond`."""
    branches = list(branches)
    if not branches:
        raise ValueError(f"{_name}: needs at least one branch")
    b = _builder()
    if b is None or not isinstance(index, (Sym, Tensor)):
        k = int(bool(index)) if _name == "cond" else int(index)
        return branches[min(max(k, 0), len(branches) - 1)](*operands)
    if tuple(index.shape) != () or np.dtype(index.dtype).kind not in "biu":
        raise _error(
            f"{_name}: the {'predicate' if _name == 'cond' else 'index'} must be a 0-d "
            f"bool or integer tensor, got {_show(_aval(index))}",
            "Reduce it first (x.sum() > 0, x.all()).",
        )
    tree, leaves = _leaves(b, operands)
    avals = [_aval(x) for x in leaves]
    staged = [_stage(b, lambda ops, f=f: f(*ops), [tree], [avals]) for f in branches]
    for k, s in enumerate(staged[1:], 1):
        names = (
            ("the false branch", "the true branch")
            if _name == "cond"
            else ("branch 0", f"branch {k}")
        )
        _check_same(_name, staged[0].out_tree, staged[0].out_avals, s.out_tree, s.out_avals, names)
    consts = _common_consts(staged)
    if _name == "cond" and index.dtype != np.bool_:
        index = index != 0
    outs = apply("cond", index, *consts, *leaves, branches=tuple(s.graph for s in staged))
    return staged[0].out_tree.unflatten(iter(outs))


# ---- while_loop and fori_loop ------------------------------------------------------------


def _stage_carry_fn(
    b: GraphBuilder,
    what: str,
    fn: Callable[..., Any],
    tree: TreeDef,
    leaves: list[Any],
    extra: tuple[TreeDef, list[AVal]] | None = None,
    rename: Callable[[str], str] = lambda p: p,
) -> tuple[_Staged, list[Any]]:
    """Stage a loop body on the carry; where a weakly typed carry (a Python number) comes
    back in another dtype, convert the initial value and stage again, once."""
    for _ in range(2):
        avals = [_aval(x) for x in leaves]
        trees, groups = [tree], [avals]
        if extra is not None:
            trees, groups = [tree, extra[0]], [avals, extra[1]]
        s = _stage(b, fn, trees, groups, repeats=f"the body of {what}")
        out_tree, out_avals = s.out_tree, s.out_avals
        if extra is not None:  # scan: (carry, y)
            if out_tree.kind != "tuple" or len(out_tree.children) != 2:
                raise _error(f"{what}: the body must return a pair (new carry, y), got {out_tree}")
            out_tree = out_tree.children[0]
            out_avals = out_avals[: out_tree.num_leaves]
        retry = False
        if out_tree == tree and len(out_avals) == len(avals):
            for i, (a, o) in enumerate(zip(avals, out_avals)):
                if a.weak and (a.shape, a.dtype) != (o.shape, o.dtype) and o.shape == a.shape:
                    leaves[i] = leaves[i].to(o.dtype)
                    retry = True
        if not retry:
            _check_same(
                what,
                out_tree,
                out_avals,
                tree,
                [AVal(a.shape, a.dtype) for a in avals],
                ("the body's new carry", "the initial carry"),
                rename,
            )
            return s, leaves
    return s, leaves


def while_loop(
    cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any
) -> Any:
    """`val = init_val; while cond_fun(val): val = body_fun(val); return val`
    (jax.lax.while_loop). `body_fun` must return a carry of the same structure, shapes
    and dtypes. Unlike JAX, reverse-mode differentiation works: the loop runs again,
    recording each step's carry, and the steps are walked backwards."""
    b = _builder()
    if b is None:
        val = init_val
        while bool(cond_fun(val)):
            val = body_fun(val)
        return val
    tree, leaves = _leaves(b, init_val)
    body, leaves = _stage_carry_fn(b, "while_loop", body_fun, tree, leaves)
    avals = [AVal(tuple(x.shape), np.dtype(x.dtype)) for x in leaves]
    cnd = _stage(b, cond_fun, [tree], [avals], repeats="the condition of while_loop")
    p = cnd.out_avals
    if len(p) != 1 or p[0].shape != () or p[0].dtype != np.bool_:
        raise _error(
            f"while_loop: cond_fun must return one 0-d bool tensor, got {[_show(a) for a in p]}",
            "Compare to make one (err > tol).",
        )
    out = apply(
        "while_loop",
        *cnd.consts,
        *body.consts,
        *leaves,
        cond=cnd.graph,
        body=body.graph,
        n_cond=len(cnd.consts),
        n_body=len(body.consts),
    )
    return tree.unflatten(iter(out))


def fori_loop(lower: Any, upper: Any, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    """`val = init_val; for i in range(lower, upper): val = body_fun(i, val)`
    (jax.lax.fori_loop). With Python int bounds it is a `scan` (reverse-mode
    differentiable, and its compiled code does not depend on the trip count); with
    traced bounds a `while_loop`. Eagerly `i` is a Python int, traced a 0-d int64."""
    b = _builder()
    static = all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (lower, upper)
    )
    if b is None:
        val = init_val
        for i in range(int(lower), int(upper)):
            val = body_fun(i, val)
        return val
    if static:
        n = max(int(upper) - int(lower), 0)
        start = Sym(
            b, b.emit("full", [], {"shape": (), "dtype": dtypes.int64, "value": int(lower)})[0]
        )

        def step(carry: Any, _: Any) -> Any:
            i, val = carry
            return (i + 1, body_fun(i, val)), None

        # the loop's carry is (i, val): errors name the leaves of val
        (_, val), _ = scan(
            step,
            (start, init_val),
            None,
            length=n,
            _what="fori_loop",
            _rename=lambda p: p[3:] or "the carry",
        )
        return val

    def test(carry: Any) -> Any:
        return carry[0] < carry[1]

    def body(carry: Any) -> Any:
        i, hi, val = carry
        return i + 1, hi, body_fun(i, val)

    lo = lower if isinstance(lower, (Sym, Tensor)) else int(lower)
    hi = upper if isinstance(upper, (Sym, Tensor)) else int(upper)
    return while_loop(test, body, (lo, hi, init_val))[2]


# ---- scan -------------------------------------------------------------------------------


def scan(
    f: Callable[[Any, Any], Any],
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    _what: str = "scan",
    _rename: Callable[[str], str] = lambda p: p,
) -> tuple[Any, Any]:
    """`carry, y = f(carry, x)` for each `x` along the leading axis of `xs` (a pytree);
    returns (final carry, ys stacked along a new leading axis) (jax.lax.scan). With
    `xs=None`, `length` steps. `reverse` walks `xs` from the end (ys keep xs' order).
    The carry must keep its structure, shapes and dtypes."""
    b = _builder()
    x_leaves: list[Any] = []
    x_tree = flatten(xs, x_leaves)
    lengths = {int(x.shape[0]) for x in x_leaves if len(x.shape)}
    if any(len(x.shape) == 0 for x in x_leaves):
        raise ValueError("scan: every leaf of xs needs a leading axis to scan over")
    if length is not None:
        lengths.add(int(length))
    if len(lengths) != 1:
        raise ValueError(
            f"scan: xs leaves and length disagree on the number of steps: "
            f"{sorted(lengths) or 'none given'} (pass length= when xs is None)"
        )
    n = lengths.pop()
    if b is None:
        carry, ys = init, []
        for it in range(n):
            t = n - 1 - it if reverse else it
            carry, y = f(carry, x_tree.unflatten(iter([x[t] for x in x_leaves])))
            ys.append(y)
        if reverse:
            ys.reverse()
        return carry, _stack(ys, n)
    tree, leaves = _leaves(b, init)
    step_avals = [AVal(tuple(x.shape[1:]), np.dtype(x.dtype)) for x in x_leaves]
    body, leaves = _stage_carry_fn(b, _what, f, tree, leaves, (x_tree, step_avals), _rename)
    n_carry = len(leaves)
    out = apply(
        "scan",
        *body.consts,
        *leaves,
        *x_leaves,
        body=body.graph,
        length=n,
        reverse=bool(reverse),
        num_consts=len(body.consts),
        num_carry=n_carry,
        save=False,
    )
    carry_tree, y_tree = body.out_tree.children
    return carry_tree.unflatten(iter(out[:n_carry])), y_tree.unflatten(iter(out[n_carry:]))


def _stack(ys: list[Any], n: int) -> Any:
    """Per-step outputs stacked along a new leading axis, leaf by leaf."""
    from tracer.functions import stack

    if n == 0:
        return None
    trees_leaves = [([], None) for _ in ys]
    trees = []
    for y, (lv, _) in zip(ys, trees_leaves):
        trees.append(flatten(y, lv, numbers=True))
    columns = list(zip(*[lv for lv, _ in trees_leaves]))
    return trees[0].unflatten(iter([stack(list(col)) for col in columns]))
