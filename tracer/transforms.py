"""Function transforms with JAX's names: `vjp`, `jvp`, `linearize`, `jacrev`, `jacfwd`,
`hessian`, `vmap`, `checkpoint`, and `grad`/`value_and_grad` inside traced functions (so they
nest: `grad(grad(f))`).

Every transform works eagerly and inside `@tracer.trace` / `value_and_grad`:

* Inside a trace a transform stages the function into a sub-graph, differentiates that
  graph (compiler.autodiff.joint_vjp) and emits the result into the enclosing trace, so
  a transformed function compiles with its caller into one kernel and can itself be
  differentiated again (the VJP rules are written with the library's ops).
* Eagerly `vjp` runs the function with autograd recording and differentiates it with
  `tracer.autograd.grad(create_graph=True)`, so its results can be differentiated
  again too.

Forward mode (`jvp`, `linearize`, `jacfwd`) stages the function into a graph, eagerly
too, and runs compiler.forward's pass over it: one JVP rule per equation, values without
a tangent costing nothing. Only a function that cannot be staged (Python control flow
on tensor values) is differentiated eagerly as the transpose of reverse mode instead
(the VJP of `u -> vjp(f, x)(u)`; Griewank and Walther, *Evaluating Derivatives*, 2nd
ed., sec. 3.3), about two reverse passes. `jacrev` and `jacfwd` loop over basis vectors
with `tracer.scan` (one compiled loop, whatever the size; jacfwd evaluates only the
linear part of `linearize` per column). `vmap` stages the function once and batches its
graph with the ops' batching rules (`compiler.batching`): one batched computation, not
a loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler import dtypes, operand
from compiler.autodiff import Joint, joint_vjp, split
from compiler.batching import batch_eval, to_axis
from compiler.builder import GraphBuilder, Sym
from compiler.errors import AutogradError, TraceError
from compiler.forward import jvp_graph
from compiler.ir import Graph, Var
from compiler.ops.control import inline
from compiler.passes import optimize
from tracer import autograd
from tracer.control import _aval, _leaves, _stage, scan
from tracer.grad_mode import enable_grad, no_grad
from tracer.pytree import TreeDef, flatten
from tracer.tensor import Tensor

__all__ = ["checkpoint", "hessian", "jacfwd", "jacrev", "jvp", "linearize", "vjp", "vmap"]


def _builder() -> Any:
    return operand.tracing.builder


def _is_float(x: Any) -> bool:
    return dtypes.is_float(np.dtype(x.dtype))


# ---- staging helpers (inside a trace) -------------------------------------------------


def _inline(graph: Graph, values: Sequence[Any]) -> list[Any]:
    """Emit `graph`'s equations into the current trace, its inputs bound to `values`
    (traced values or tensors, one per input); its outputs as traced values."""
    b = _builder()
    return [
        o
        if isinstance(o, Sym)
        else Sym(b, b.emit("full", [], {"shape": (), "dtype": a.aval.dtype, "value": o})[0])
        for o, a in zip(inline(b, graph, list(values)), graph.outputs)
    ]


class _StagedCall:
    """`fn(*args)` staged as a sub-graph of the current trace: graph inputs are the
    values it closes over, then the leaves of `args`."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        b = _builder()
        self.tree, self.leaves = _leaves(b, args)
        s = _stage(b, lambda a: fn(*a), [self.tree], [[_aval(x) for x in self.leaves]])
        self.graph, self.out_tree = s.graph, s.out_tree
        self.values = list(s.consts) + self.leaves
        self.n_consts = len(s.consts)

    def wrt(self, positions: Sequence[int]) -> list[bool]:
        """The differentiation mask of the graph inputs for the float leaves of the
        arguments at `positions`."""
        starts = np.cumsum([0] + [c.num_leaves for c in self.tree.children]).tolist()
        mask = [False] * len(self.values)
        for i in positions:
            for j in range(starts[i], starts[i + 1]):
                mask[self.n_consts + j] = _is_float(self.leaves[j])
        return mask

    def outputs_only(self, n: int) -> Graph:
        g = self.graph
        return Graph(list(g.inputs), list(g.eqns), list(g.outputs[:n]), dict(g.consts))


def _split_aux(out_tree: TreeDef, has_aux: bool, who: str) -> tuple[TreeDef, TreeDef | None]:
    if not has_aux:
        return out_tree, None
    if out_tree.kind != "tuple" or len(out_tree.children) != 2:
        raise TypeError(f"{who} with has_aux=True needs fn to return a pair (output, aux)")
    return out_tree.children[0], out_tree.children[1]


def staged_value_and_grad(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    argnums: int | Sequence[int],
    has_value: bool,
    has_aux: bool,
    static_argnums: Sequence[int],
) -> Any:
    """`value_and_grad(fn)(*args)` (or `grad`) called inside a trace: the gradient graph
    emitted into that trace, itself differentiable (grad of grad)."""
    who = "value_and_grad" if has_value else "grad"
    dyn = [i for i in range(len(args)) if i not in static_argnums]

    def call(*dyn_args: Any) -> Any:
        full = list(args)
        for i, a in zip(dyn, dyn_args):
            full[i] = a
        with enable_grad():  # differentiated whatever the caller's grad mode (torch.func)
            return fn(*full, **kwargs)

    s = _StagedCall(call, tuple(args[i] for i in dyn))
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if i >= len(args):
            raise ValueError(f"{who}: argnums {i} is out of range for {len(args)} arguments")
    positions = [dyn.index(i) for i in nums]
    loss_tree, aux_tree = _split_aux(s.out_tree, has_aux, who)
    loss = s.graph.outputs[0] if s.graph.outputs else None
    if loss_tree.num_leaves != 1 or loss.aval.shape != () or not _is_float(loss.aval):
        raise TypeError(
            f"{who}: fn must return one floating-point scalar"
            + (" (and aux)" if has_aux else "")
            + f"; it returned {s.out_tree}. Reduce it with .sum() or .mean()."
        )
    wrt = s.wrt(positions)
    joint = joint_vjp(s.graph, wrt, seed_ones=True, n_diff=1)  # (loss, *grads, *aux)
    outs = _inline(optimize(joint.graph), s.values)
    value, grads, aux = outs[0], outs[1 : 1 + sum(wrt)], outs[1 + sum(wrt) :]
    per_arg = _grads_per_arg(s, positions, wrt, grads)
    result = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
    aux_value = aux_tree.unflatten(iter(aux)) if aux_tree is not None else None
    if has_value:
        return ((value, aux_value), result) if has_aux else (value, result)
    return (result, aux_value) if has_aux else result


def _grads_per_arg(
    s: _StagedCall, positions: Sequence[int], wrt: list[bool], grads: list[Any]
) -> list[Any]:
    """The gradient leaves regrouped as the arguments at `positions` are (zeros for
    the integer leaves, as float0 is in JAX)."""
    it = iter(grads)
    starts = np.cumsum([0] + [c.num_leaves for c in s.tree.children]).tolist()
    out = []
    for i in positions:
        leaves = []
        for j in range(starts[i], starts[i + 1]):
            leaf = s.leaves[j]
            leaves.append(next(it) if wrt[s.n_consts + j] else leaf.zeros_like())
        out.append(s.tree.children[i].unflatten(iter(leaves), statics=False))
    return out


def eval_graph(graph: Graph, values: Sequence[Any]) -> list[Any]:
    """Run `graph` eagerly op by op on tensors `values` (one per input), recording
    autograd: its outputs as tensors with a history."""
    from compiler.dispatch import apply
    from compiler.registry import OPS

    env: dict[Var, Any] = dict(zip(graph.inputs, values))
    for v, arr in graph.consts.items():
        env[v] = Tensor(arr)
    for e in graph.eqns:
        ins = [env[a] if isinstance(a, Var) else a.value.item() for a in e.inputs]
        if e.op.with_residuals is not None and any(
            isinstance(x, Tensor) and x.requires_grad for x in ins
        ):
            raise AutogradError(
                "differentiating again the gradient of a traced function that contains a "
                "loop (fori_loop, scan, while_loop) or a custom_vjp function, eagerly "
                "(create_graph=True, or a transform of grad called outside a trace), is "
                "not supported. Differentiate twice inside the trace instead: "
                "tracer.grad(lambda x: tracer.grad(f)(x).sum()) (or tracer.hessian(f))"
            )
        if any(isinstance(x, operand.Operand) for x in ins):
            out = apply(e.op.name, *ins, **e.params)
        else:  # a constant (full, iota): no tensor to dispatch on
            out = OPS[e.op.name].impl(*ins, **e.params)
            out = tuple(Tensor(o) for o in out) if e.op.multiple_results else Tensor(out)
        env.update(zip(e.outputs, out if e.op.multiple_results else (out,)))
    return [env[o] if isinstance(o, Var) else Tensor(o.value) for o in graph.outputs]


# ---- vjp -------------------------------------------------------------------------------


def vjp(fn: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """`(out, vjp_fn)` where `vjp_fn(ct)` is the vector-Jacobian product of `fn` at
    `primals` with cotangent `ct` (a pytree like `out`): a tuple with one gradient per
    primal, each shaped like it (jax.vjp). With `has_aux`, `fn` returns `(out, aux)` and
    the result is `(out, vjp_fn, aux)`. Integer leaves get zero gradients.

    Raises TypeError when `ct`'s structure, shapes or dtypes differ from `out`'s."""
    if _builder() is not None:
        return _staged_vjp(fn, primals, has_aux)
    return _eager_vjp(fn, primals, has_aux)


def _check_ct(ct: Any, out_leaves: list[Any], out_tree: TreeDef) -> list[Any]:
    leaves: list[Any] = []
    tree = flatten(ct, leaves, numbers=True)
    if tree.num_leaves != out_tree.num_leaves or len(tree.children) != len(out_tree.children):
        raise TypeError(f"vjp_fn: the cotangent is {tree} but the output is {out_tree}")
    out = []
    for i, (c, o) in enumerate(zip(leaves, out_leaves)):
        if tuple(c.shape) != tuple(o.shape):
            raise TypeError(
                f"vjp_fn: cotangent leaf {i} has shape {tuple(c.shape)}, but the output "
                f"leaf has shape {tuple(o.shape)}"
            )
        out.append(c if c.dtype == o.dtype else c.to(o.dtype))
    return out


def _eager_vjp(fn: Callable[..., Any], primals: tuple[Any, ...], has_aux: bool) -> tuple:
    leaves: list[Any] = []
    tree = flatten(primals, leaves)
    xs = [
        x if x.requires_grad or not _is_float(x) else x.detach().requires_grad_(True)
        for x in leaves
    ]
    # results keep their history only when something outside can differentiate them:
    # an input that requires grad (an enclosing transform's, or the user's)
    keep = any(x.requires_grad for x in leaves)
    with enable_grad():
        out = fn(*tree.unflatten(iter(xs)))
    out, aux = out if has_aux else (out, None)
    out_leaves: list[Any] = []
    out_tree = flatten(out, out_leaves)
    floats = [x for x in xs if _is_float(x)]
    shown = out if keep else out_tree.unflatten(iter([o.detach() for o in out_leaves]))

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        cts = _check_ct(ct, out_leaves, out_tree)
        pairs = [(o, c) for o, c in zip(out_leaves, cts) if o.requires_grad]
        grads: tuple[Any, ...] = (None,) * len(floats)
        if pairs and floats:
            grads = autograd.grad(
                [o for o, _ in pairs],
                floats,
                [c for _, c in pairs],
                retain_graph=True,
                create_graph=True,
                allow_unused=True,
            )
        it = iter(grads)
        full = []
        differentiable = keep or any(c.requires_grad for c in cts)
        for x in xs:
            g = next(it) if _is_float(x) else None
            g = g if g is not None else x.detach().zeros_like()
            full.append(g if differentiable else g.detach())
        return tuple(tree.unflatten(iter(full)))

    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def _staged_vjp(fn: Callable[..., Any], primals: tuple[Any, ...], has_aux: bool) -> tuple:
    s = _StagedCall(fn, primals)
    out_tree, aux_tree = _split_aux(s.out_tree, has_aux, "vjp")
    n_out = out_tree.num_leaves
    wrt = s.wrt(range(len(primals)))
    joint = optimize(joint_vjp(s.outputs_only(n_out), wrt).graph)
    fwd = _inline(s.graph, s.values)
    out_leaves = fwd[:n_out]
    out = out_tree.unflatten(iter(out_leaves))

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        cts = _check_ct(ct, out_leaves, out_tree)
        res = _inline(joint, s.values + cts)
        return tuple(_grads_per_arg(s, range(len(primals)), wrt, res[n_out:]))

    if has_aux:
        return out, vjp_fn, aux_tree.unflatten(iter(fwd[n_out:]))
    return out, vjp_fn


# ---- forward mode ----------------------------------------------------------------------


def _check_tangents(primals: Any, tangents: Any, who: str) -> tuple[list[Any], list[Any]]:
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"{who}: primals and tangents must be tuples (one entry per argument)")
    p_leaves: list[Any] = []
    t_leaves: list[Any] = []
    p_tree, t_tree = flatten(tuple(primals), p_leaves), flatten(tuple(tangents), t_leaves)
    if p_tree.num_leaves != t_tree.num_leaves or len(primals) != len(tangents):
        raise TypeError(f"{who}: tangents {t_tree} do not match primals {p_tree}")
    for i, (p, t) in enumerate(zip(p_leaves, t_leaves)):
        if tuple(p.shape) != tuple(t.shape):
            raise TypeError(
                f"{who}: tangent {i} has shape {tuple(t.shape)} but its primal {tuple(p.shape)}"
            )
    return p_leaves, t_leaves


class _Forward:
    """`fn(*primals)` staged into a graph and differentiated in forward mode
    (compiler.forward): `graph` maps (the staged graph's inputs, one tangent per float
    primal leaf) to (outputs, aux, one tangent per output). Inside a trace it is a
    sub-graph of it (its first inputs are the values fn closes over); eagerly, a graph
    of its own whose last inputs are the tensors fn reads from outside."""

    def __init__(self, fn: Callable[..., Any], primals: tuple[Any, ...], has_aux: bool, who: str):
        if _builder() is not None:
            s = _StagedCall(fn, primals)
            staged, self.values, out_tree = s.graph, s.values, s.out_tree
            self.leaves, first = s.leaves, s.n_consts
        else:
            staged, self.values, out_tree = _stage_eagerly(fn, primals)
            self.leaves, first = flatten_leaves(primals), 0
        self.out_tree, self.aux_tree = _split_aux(out_tree, has_aux, who)
        self.n_out = self.out_tree.num_leaves
        self.floats = [_is_float(x) for x in self.leaves]
        wrt = [False] * len(staged.inputs)
        for j, f in enumerate(self.floats):
            wrt[first + j] = f
        outs = staged.outputs
        t_out = [_is_float(o.aval) for o in outs[: self.n_out]] + [False] * (len(outs) - self.n_out)
        self.t_out = t_out[: self.n_out]
        self.n_in = len(staged.inputs)
        self.n_all_out = len(outs)
        self.graph = optimize(jvp_graph(staged, wrt, t_out))

    def tangent_values(self, t_leaves: list[Any]) -> list[Any]:
        return [
            t if t.dtype == p.dtype else t.to(p.dtype)
            for p, t, f in zip(self.leaves, t_leaves, self.floats)
            if f
        ]

    def results(self, flat: list[Any]) -> tuple[Any, Any, Any]:
        """(out, tangent out, aux) from the forward graph's results."""
        outs = flat[: self.n_out]
        it = iter(flat[self.n_all_out :])
        t_outs = [next(it) if f else o.detach().zeros_like() for o, f in zip(outs, self.t_out)]
        aux = flat[self.n_out : self.n_all_out]
        return (
            self.out_tree.unflatten(iter(outs)),
            self.out_tree.unflatten(iter(t_outs)),
            self.aux_tree.unflatten(iter(aux)) if self.aux_tree is not None else None,
        )


def flatten_leaves(tree_value: Any) -> list[Any]:
    leaves: list[Any] = []
    flatten(tree_value, leaves)
    return leaves


def _stage_eagerly(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Graph, list, TreeDef]:
    """`fn(*args)` outside any trace, staged as `@tracer.trace` would: (its graph, whose
    inputs are the leaves of `args` then the tensors fn reads from outside, the values
    of those inputs, the structure of its result)."""
    from tracer.grad_mode import is_grad_enabled

    leaves: list[Any] = []
    tree = flatten(args, leaves)
    b = GraphBuilder(is_grad_enabled, warn_above=None)
    b.name = getattr(fn, "__name__", "the function")
    syms = iter([b.new_input(_aval(x)) for x in leaves])
    outer, operand.tracing.builder = operand.tracing.builder, b
    try:
        with enable_grad():
            out = fn(*tree.unflatten(syms))
        out_tree, out_leaves = _leaves(b, out)
        atoms = [b._atom(o) for o in out_leaves]
    finally:
        operand.tracing.builder = outer
        b.closed = True
    graph = b.graph(atoms)  # optimized once, after differentiation
    values = leaves + [c for _, c in b.captured] + [Tensor(a) for a in b.consts.values()]
    return graph, values, out_tree


def _run(graph: Graph, values: list[Any]) -> list[Any]:
    """`graph` on `values`: staged into the current trace, or run eagerly op by op."""
    return _inline(graph, values) if _builder() is not None else eval_graph(graph, values)


def jvp(
    fn: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False
) -> tuple[Any, ...]:
    """`(fn(*primals), J @ tangents)`: the Jacobian-vector product of `fn` at `primals`
    (jax.jvp, torch.func.jvp; `primals` and `tangents` are tuples of the same
    structure). With `has_aux` the result is `(out, tangent_out, aux)`. Integer
    outputs get zero tangents.

    Forward mode: `fn` is staged into a graph (eagerly as `@tracer.trace` would stage
    it) and each equation's tangent is computed by its op's JVP rule, in one pass
    about as costly as evaluating `fn` twice. A function that can only run eagerly
    (Python control flow on tensor values) is differentiated instead as the transpose
    of reverse mode, about two reverse passes. Raises TypeError when primals and
    tangents differ in structure or shapes."""
    _, t_leaves = _check_tangents(primals, tangents, "jvp")
    try:
        fwd = _Forward(fn, tuple(primals), has_aux, "jvp")
    except TraceError:
        if _builder() is not None:
            raise
        return _jvp_by_transposition(fn, primals, tangents, has_aux)
    out, t_out, aux = fwd.results(_run(fwd.graph, fwd.values + fwd.tangent_values(t_leaves)))
    return (out, t_out, aux) if has_aux else (out, t_out)


def _jvp_by_transposition(
    fn: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool
) -> tuple[Any, ...]:
    """jvp as the VJP of the linear map `u -> vjp(fn, x)(u)` with cotangent `t`
    (Griewank and Walther, *Evaluating Derivatives*, 2nd ed., sec. 3.3), for functions
    that cannot be staged."""
    got = vjp(fn, *primals, has_aux=has_aux)
    out, f_vjp = got[0], got[1]
    o_leaves: list[Any] = []
    o_tree = flatten(out, o_leaves)
    zero = o_tree.unflatten(iter([o.detach().zeros_like() for o in o_leaves]))
    _, g_vjp = vjp(f_vjp, zero)
    (t_out,) = g_vjp(tuple(tangents))
    return (out, t_out, got[2]) if has_aux else (out, t_out)


def linearize(fn: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """`(fn(*primals), f_jvp)` where `f_jvp(*tangents)` is the Jacobian-vector product
    of `fn` at `primals` (jax.linearize): `fn` runs once, and `f_jvp` evaluates only
    the linear part of its forward-mode derivative, on values saved from that run.
    With `has_aux`, `fn` returns `(out, aux)` and the result is `(out, f_jvp, aux)`.

    `f_jvp` raises TypeError when the tangents' structure or shapes differ from the
    primals'. Raises TraceError for a function that cannot be staged (Python control
    flow on tensor values): use `jvp` at each point instead."""
    fwd = _Forward(fn, tuple(primals), has_aux, "linearize")
    n_t = sum(fwd.floats)
    parts = split(Joint(fwd.graph, fwd.n_in, fwd.n_all_out))
    flat = _run(parts.forward, fwd.values)
    residuals = flat[fwd.n_all_out :]
    out, _, aux = fwd.results(flat[: fwd.n_all_out] + [None] * n_t)

    def f_jvp(*tangents: Any) -> Any:
        _, t_leaves = _check_tangents(primals, tangents, "linearize's f_jvp")
        t_flat = _run(parts.backward, residuals + fwd.tangent_values(t_leaves))
        _, t_out, _ = fwd.results(flat[: fwd.n_all_out] + t_flat)
        return t_out

    return (out, f_jvp, aux) if has_aux else (out, f_jvp)


# ---- Jacobians and Hessians ------------------------------------------------------------


def _nums(argnums: int | Sequence[int]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _select(fn: Callable[..., Any], args: tuple[Any, ...], nums: tuple[int, ...]) -> Callable:
    def f(*chosen: Any) -> Any:
        full = list(args)
        for i, a in zip(nums, chosen):
            full[i] = a
        return fn(*full)

    return f


def _tensor_out(out: Any, who: str) -> Any:
    if not isinstance(out, operand.Operand):
        raise TypeError(f"{who}: fn must return one tensor, got {type(out).__name__}")
    return out


def _basis(n: int, like: Any) -> Any:
    """The n unit vectors of a tensor like `like` (n elements), stacked: shape
    (n, *like.shape), a constant of `like`'s trace when it is traced."""
    return like._const(np.eye(n, dtype=np.dtype(like.dtype)).reshape(n, *like.shape))


def jacrev(
    fn: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The Jacobian of `fn` (returning one tensor) by reverse mode, one VJP per output
    element (jax.jacrev): for an output of shape O and an argument of shape I, a tensor
    of shape O + I; a tuple of them for a tuple `argnums`. With `has_aux`, returns
    `(jacobian, aux)`."""

    @functools.wraps(fn)
    def jac(*args: Any) -> Any:
        nums = _nums(argnums)
        xs = [args[i] for i in nums]
        got = vjp(_select(fn, args, nums), *xs, has_aux=has_aux)
        out = _tensor_out(got[0], "jacrev")
        f_vjp = got[1]
        n = int(np.prod(out.shape, dtype=np.int64))
        if n == 0 or any(int(np.prod(x.shape, dtype=np.int64)) == 0 for x in xs):
            raise ValueError("jacrev: the output or an argument has no elements")
        _, rows = scan(lambda c, e: (c, f_vjp(e)), 0, _basis(n, out))
        jacs = tuple(r.reshape(*out.shape, *x.shape) for r, x in zip(rows, xs))
        result = jacs[0] if isinstance(argnums, int) else jacs
        return (result, got[2]) if has_aux else result

    return jac


def jacfwd(
    fn: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The Jacobian of `fn` (returning one tensor) by forward mode, one JVP per input
    element (jax.jacfwd): shape O + I for an output of shape O and an argument of shape
    I; a tuple for a tuple `argnums`. With `has_aux`, returns `(jacobian, aux)`."""

    @functools.wraps(fn)
    def jac(*args: Any) -> Any:
        nums = _nums(argnums)
        xs = [args[i] for i in nums]
        jacs = []
        aux = None
        for k, x in enumerate(xs):
            m = int(np.prod(x.shape, dtype=np.int64))
            if m == 0:
                raise ValueError(f"jacfwd: argument {nums[k]} has no elements")
            # linearized once per argument; one JVP of the linear part per column
            got = linearize(_select(fn, args, (nums[k],)), x, has_aux=has_aux)
            _tensor_out(got[0], "jacfwd")
            f_jvp, aux = got[1], (got[2] if has_aux else None)
            _, cols = scan(lambda c, e, f_jvp=f_jvp: (c, f_jvp(e)), 0, _basis(m, x))
            out_shape = tuple(cols.shape[1:])
            moved = cols.permute(*range(1, cols.ndim), 0) if cols.ndim > 1 else cols
            jacs.append(moved.reshape(*out_shape, *x.shape))
        result = jacs[0] if isinstance(argnums, int) else tuple(jacs)
        return (result, aux) if has_aux else result

    return jac


def hessian(fn: Callable[..., Any], argnums: int = 0) -> Callable[..., Any]:
    """The Hessian of a scalar-valued `fn` with respect to argument `argnums` (one
    int): shape I + I (jax.hessian). Computed as the reverse-mode Jacobian of the
    gradient (jacrev(jacrev(fn))), the cheaper order here (forward mode costs two
    reverse passes)."""
    if not isinstance(argnums, int):
        raise TypeError("hessian: argnums must be one int here")
    return jacrev(jacrev(fn, argnums), argnums)


# ---- vmap ------------------------------------------------------------------------------


def _prefix_axes(prefix: Any, tree: TreeDef, where: str, what: str) -> list[Any]:
    """One axis per leaf of `tree`, from `prefix` (an int or None for a whole subtree, or
    a tuple/list/dict matching the structure down to some depth; jax.vmap's rule)."""
    if prefix is None or (isinstance(prefix, int) and not isinstance(prefix, bool)):
        return [prefix] * tree.num_leaves
    kind = tree.kind
    if isinstance(prefix, (tuple, list)) and kind in ("tuple", "list"):
        if len(prefix) == len(tree.children):
            out: list[Any] = []
            for k, (p, c) in enumerate(zip(prefix, tree.children)):
                out += _prefix_axes(p, c, f"{where}[{k}]", what)
            return out
    elif isinstance(prefix, dict) and kind == "dict" and set(prefix) == set(tree.meta):
        out = []
        for key, c in zip(tree.meta, tree.children):
            out += _prefix_axes(prefix[key], c, f"{where}[{key!r}]", what)
        return out
    elif not isinstance(prefix, (tuple, list, dict)):
        raise TypeError(
            f"vmap: {what} entries must be ints, None or pytrees of them, got {prefix!r}"
        )
    raise ValueError(
        f"vmap: {what} {prefix!r} for {where} does not match its structure {tree} (give one "
        "int or None for the whole value, or a container of the same shape)"
    )


def _arg_name(fn: Callable[..., Any], i: int) -> str:
    import inspect

    try:
        names = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        names = []
    return f"argument {names[i]!r}" if i < len(names) else f"argument {i}"


def _stage_mapped(
    call: Callable[[list[Any]], Any], avals: list[Any]
) -> tuple[Graph, TreeDef, list[Any]]:
    """`call(inputs)` staged on per-example inputs: (graph, output structure, the values
    of the graph inputs after the mapped ones' places: closed-over values)."""
    from compiler.builder import GraphBuilder
    from tracer.grad_mode import is_grad_enabled

    b = _builder()
    if b is not None:  # inside a trace: a sub-graph whose first inputs are its closure
        tree = flatten([Tensor(np.zeros((), np.float32))] * len(avals), [])
        s = _stage(b, call, [tree], [avals])
        return s.graph, s.out_tree, list(s.consts)
    b = GraphBuilder(is_grad_enabled, warn_above=None)
    b.inside = "inside tracer.vmap (the function is traced once, for all the examples)"
    syms = [b.new_input(a) for a in avals]
    outer, operand.tracing.builder = operand.tracing.builder, b
    try:
        out = call(syms)
        out_tree, leaves = _leaves(b, out)
        atoms = [b._atom(o) for o in leaves]
    finally:
        operand.tracing.builder = outer
        b.closed = True
    graph = b.graph(atoms)
    # inputs: the mapped ones, then the tensors it read (values of this call), then
    # constant arrays (their values are in graph.consts)
    rest = [t for _, t in b.captured] + [None] * len(b.consts)
    return graph, out_tree, rest


def _draws_random(graph: Graph) -> bool:
    from compiler.ir import _sub_graphs

    return any(
        e.op.name == "random" or any(_draws_random(g) for _, g in _sub_graphs(e.params))
        for e in graph.eqns
    )


def vmap(
    fn: Callable[..., Any],
    in_axes: Any = 0,
    out_axes: Any = 0,
    *,
    _randomness: str = "same",
) -> Callable[..., Any]:
    """`fn` mapped over an axis of its arguments (jax.vmap; torch.func.vmap is
    `tracer.func.vmap`). `in_axes`: an int or None for every argument, or a tuple with
    one entry per positional argument, each an int, None (passed whole to every
    example) or a pytree prefix of that argument; `out_axes` likewise for the result.
    Keyword arguments are passed unmapped (as torch.func.vmap does).

    `fn` is staged once on one example's shapes and the graph is batched equation by
    equation with the ops' batching rules (`compiler.batching`): matmul becomes a batched
    matmul, reductions reduce one axis further in, a `cond` whose predicate differs per
    example runs both branches and selects, a `while_loop` runs until every example is
    done. So a vmap is one batched computation, not a loop; eagerly it records autograd
    (grad of vmap), inside a trace it stages into the caller's graph. Random numbers
    drawn inside `fn` are the same for every example (JAX's semantics for a key that is
    not mapped).

    Raises ValueError when no argument is mapped, an axis is out of range, or the mapped
    sizes differ (naming each argument and its shape); TypeError for an axis that is
    not an int or None."""

    @functools.wraps(fn)
    def batched(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_axes, list):
            axes_prefix: Any = tuple(in_axes)
        else:
            axes_prefix = in_axes
        if isinstance(axes_prefix, tuple) and len(axes_prefix) != len(args):
            raise ValueError(
                f"vmap: in_axes has {len(axes_prefix)} entries for {len(args)} positional "
                "arguments (give one per argument, or one int/None for all)"
            )
        leaves: list[Any] = []
        tree = flatten(args, leaves)
        if isinstance(axes_prefix, tuple):
            axes: list[Any] = []
            for i, (p, c) in enumerate(zip(axes_prefix, tree.children)):
                axes += _prefix_axes(p, c, _arg_name(fn, i), "in_axes")
        else:
            axes = _prefix_axes(axes_prefix, tree, "the arguments", "in_axes")
        owner = [i for i, c in enumerate(tree.children) for _ in range(c.num_leaves)]
        mapped = [j for j, ax in enumerate(axes) if ax is not None]
        if not mapped:
            raise ValueError("vmap: in_axes maps no argument (all None)")
        sizes: dict[int, list[str]] = {}
        dims = []
        for j in mapped:
            leaf, ax = leaves[j], axes[j]
            shape = tuple(int(s) for s in leaf.shape)
            what = f"{_arg_name(fn, owner[j])} of shape {shape}"
            if not -len(shape) <= ax < len(shape):
                raise ValueError(
                    f"vmap: {what} is mapped along axis {ax}, but it has {len(shape)} dimensions"
                )
            dims.append(ax % len(shape))
            sizes.setdefault(shape[ax], []).append(f"axis {ax} of {what}")
        if len(sizes) != 1:
            detail = "; ".join(f"size {n}: {', '.join(w)}" for n, w in sorted(sizes.items()))
            raise ValueError(f"vmap: the mapped axes have different sizes ({detail})")
        (size,) = sizes
        avals = []
        for j, d in zip(mapped, dims):
            x = leaves[j]
            shape = tuple(int(s) for s in x.shape)
            avals.append(_aval(x)._replace(shape=shape[:d] + shape[d + 1 :], weak=False))

        def call(inputs: list[Any]) -> Any:
            full = list(leaves)
            for j, v in zip(mapped, inputs):
                full[j] = v
            return fn(*tree.unflatten(iter(full)), **kwargs)

        graph, out_tree, rest = _stage_mapped(call, avals)
        if _randomness != "same" and _draws_random(graph):
            if _randomness == "error":
                raise RuntimeError(
                    "vmap: called random operation while in randomness error mode. Please "
                    "either use the 'same' randomness flag on vmap or perform the randomness "
                    "operation out of vmap"
                )
            raise ValueError(
                f"vmap: randomness={_randomness!r} is not supported; with 'same' every "
                "example gets the same numbers. For different ones, draw them before vmap "
                "(one row per example) and map over them"
            )
        world = leaves[mapped[0]]
        b = _builder()
        if b is not None:  # the closure comes first in a staged sub-graph
            values = rest + [leaves[j] for j in mapped]
            vdims = [None] * len(rest) + dims
        else:
            values = [leaves[j] for j in mapped] + rest
            vdims = dims + [None] * len(rest)
        outs, odims = batch_eval(graph, values, vdims, size, world=world)
        o_axes = _prefix_axes(out_axes, out_tree, "the result", "out_axes")
        result = []
        for o, d, t in zip(outs, odims, o_axes):
            if t is None and d is not None:
                raise ValueError(
                    "vmap: out_axes is None for a result that depends on the mapped "
                    "arguments (it differs per example); give it an axis"
                )
            if t is not None:
                nd = (o.ndim if isinstance(o, operand.Operand) else 0) + (d is None)
                if not -nd <= t < nd:
                    raise ValueError(
                        f"vmap: out_axes {t} is out of range for a result with {nd} "
                        "dimensions (the mapped axis included)"
                    )
                t %= nd
            o = to_axis(o, d, t, size, world)
            if not isinstance(o, operand.Operand):
                o = world._const(np.asarray(o))
            result.append(o)
        return out_tree.unflatten(iter(result))

    return batched


# ---- checkpoint ------------------------------------------------------------------------


def checkpoint(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` whose intermediate values are not kept for the backward pass but computed
    again during it (jax.checkpoint; torch.utils.checkpoint.checkpoint): memory for
    time. The results and gradients are those of `fn`; random numbers drawn by `fn`
    are the same in the recomputation (the generator's state is restored).

    Eagerly `fn` runs without recording, and again with recording when its gradient is
    needed (gradients reach its inputs and the parameters it closes over, as with
    PyTorch's checkpoint; when no input requires grad it runs as it is). Its gradient
    cannot be differentiated again (no double backward through a checkpoint). Inside
    a traced function it is staged as it is: the compiler already keeps only the
    residuals the backward graph reads."""

    @functools.wraps(fn)
    def wrapped(*args: Any) -> Any:
        leaves: list[Any] = []
        flatten(args, leaves)
        if _builder() is not None or not any(x.requires_grad for x in leaves):
            # traced; or no input requires grad, so no node would record the call: the
            # parameters fn closes over get their gradients from fn run as it is
            return fn(*args)
        return _checkpointed(fn, args)

    return wrapped


def _checkpointed(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    from tracer import random as trandom
    from tracer.autograd.function import Function

    leaves: list[Any] = []
    tree = flatten(args, leaves)
    state = trandom.get_rng_state()
    info: dict[str, Any] = {}

    def forward(ctx: Any, *flat: Any) -> Any:
        with no_grad():
            out = fn(*tree.unflatten(iter(flat)))
        out_leaves: list[Any] = []
        info["tree"] = flatten(out, out_leaves)
        ctx.save_for_backward(*flat)
        return tuple(out_leaves) if len(out_leaves) != 1 else out_leaves[0]

    def backward(ctx: Any, *gs: Any) -> Any:
        saved = ctx.saved_tensors
        xs = [x.detach().requires_grad_(x.requires_grad) for x in saved]
        now = trandom.get_rng_state()
        trandom.set_rng_state(state)
        try:
            with enable_grad():
                out = fn(*tree.unflatten(iter(xs)))
        finally:
            trandom.set_rng_state(now)
        out_leaves: list[Any] = []
        flatten(out, out_leaves)
        pairs = [(o, g) for o, g in zip(out_leaves, gs) if o.requires_grad and g is not None]
        if pairs:
            # accumulates into every leaf the recomputation reached: the copies of the
            # inputs and the parameters fn closes over (a module's weights)
            autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        return tuple(x.grad if x.requires_grad else None for x in xs)

    cls = type(
        "CheckpointFunction",  # PyTorch's node: CheckpointFunctionBackward
        (Function,),
        {"forward": staticmethod(forward), "backward": staticmethod(backward)},
    )
    out = cls.apply(*leaves)
    outs = out if isinstance(out, tuple) else (out,)
    return info["tree"].unflatten(iter(outs))
