"""Staging a function with a user-written VJP into a trace: one custom_vjp_call
equation whose forward is `fwd`'s graph and whose VJP is `bwd`'s graph. Used by
`tracer.custom_vjp` and by `tracer.autograd.Function.apply` inside traced functions
(kept apart from both so that neither imports the other)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compiler.builder import GraphBuilder
from compiler.dispatch import apply
from compiler.ir import Graph
from compiler.passes import dce
from compiler.registry import AVal
from tracer.control import _aval, _error, _leaves, _show, _stage
from tracer.pytree import TreeDef, flatten

__all__ = ["stage_custom_vjp"]


def flat_grads(grads: Any, tree: TreeDef, leaves: list[Any], name: str) -> list[Any]:
    """One gradient per argument leaf (None where the user gave None)."""
    n_args = len(tree.children)
    if not isinstance(grads, (tuple, list)) or len(grads) != n_args:
        raise _error(
            f"custom_vjp {name!r}: bwd must return a tuple of {n_args} gradients "
            f"(one per argument), got {type(grads).__name__}"
            + (f" of length {len(grads)}" if isinstance(grads, (tuple, list)) else "")
        )
    out: list[Any] = []
    for sub, g in zip(tree.children, grads):
        if g is None:
            out += [None] * sub.num_leaves
            continue
        g_leaves: list[Any] = []
        flatten(g, g_leaves)
        if len(g_leaves) != sub.num_leaves:
            raise _error(
                f"custom_vjp {name!r}: a gradient has {len(g_leaves)} tensors for an "
                f"argument of {sub.num_leaves}"
            )
        out += g_leaves
    return out


def stage_custom_vjp(
    b: GraphBuilder,
    fwd: Callable[..., Any],
    bwd: Callable[..., Any],
    args: tuple[Any, ...],
    name: str,
) -> Any:
    """Stage a function with a user-written VJP into trace `b` (one custom_vjp_call
    equation)."""
    tree, leaves = _leaves(b, args)
    avals = [_aval(x) for x in leaves]
    fwd_s = _stage(b, lambda a: fwd(*a), [tree], [avals])
    pair = fwd_s.out_tree
    if pair.kind != "tuple" or len(pair.children) != 2:
        raise _error(f"custom_vjp {name!r}: fwd must return a pair (output, residuals), got {pair}")
    out_tree, res_tree = pair.children
    n_out = out_tree.num_leaves
    out_avals, res_avals = fwd_s.out_avals[:n_out], fwd_s.out_avals[n_out:]
    body_res = fwd_s.graph
    body = dce(Graph(list(body_res.inputs), list(body_res.eqns), body_res.outputs[:n_out], {}))

    def bwd_flat(res: Any, g: Any) -> Any:
        grads = flat_grads(bwd(res, g), tree, leaves, name)
        anchor = next(iter([*_leaves_of(res), *_leaves_of(g)]), None)
        out = []
        for grad, aval in zip(grads, avals):
            if grad is None:
                if anchor is None:
                    raise _error(
                        f"custom_vjp {name!r}: bwd gave no gradient and no tensor to "
                        "build zeros from"
                    )
                grad = apply("full", anchor, shape=tuple(aval.shape), dtype=aval.dtype, value=0)
            out.append(grad)
        return tuple(out)

    bwd_s = _stage(
        b,
        bwd_flat,
        [res_tree, out_tree],
        [[AVal(a.shape, a.dtype) for a in res_avals], [AVal(a.shape, a.dtype) for a in out_avals]],
    )
    for path, g, a in zip(tree.leaf_paths(), bwd_s.out_avals, avals):
        if (tuple(g.shape), g.dtype) != (tuple(a.shape), a.dtype):
            raise _error(
                f"custom_vjp {name!r}: the gradient of {path} is {_show(g)} but the "
                f"argument is {_show(a)}",
                "Return gradients of the arguments' shapes and dtypes.",
            )
    outs = apply(
        "custom_vjp_call",
        *fwd_s.consts,
        *bwd_s.consts,
        *leaves,
        body=body,
        body_res=body_res,
        bwd=bwd_s.graph,
        n_fwd=len(fwd_s.consts),
        n_bwd=len(bwd_s.consts),
        n_out=n_out,
        save=False,
    )
    return out_tree.unflatten(iter(outs))


def _leaves_of(tree_value: Any) -> list[Any]:
    leaves: list[Any] = []
    flatten(tree_value, leaves)
    return leaves
