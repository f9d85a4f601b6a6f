"""Structured control flow: cond, scan and while_loop, as equations holding graphs.

    cond[branches=(g0, g1, ...)] index *operands          -> the outputs of g[index]
    scan[body, length, reverse, ...] *consts *init *xs     -> final carry, stacked ys
    while_loop[cond, body, ...] *cond_consts *body_consts *init -> final carry

A branch or a body is a `Graph` staged from the user's Python function by
`tracer.control`; the values it closes over are extra inputs of the equation, so
they get gradients like any operand. Each op is differentiated by a rule that
builds new graphs from the sub-graphs' own derivatives (compiler.autodiff).
Forward mode (compiler.forward) runs the same loop over (primal, tangent) carries,
its body the forward-mode graph of the body; reverse mode:

* cond: a cond of the branches' VJPs.
* scan: a reverse scan. The forward scan also stacks the carry at the start of
  every step (`with_residuals`); each backward step recomputes its forward step
  from that carry (so only carries are kept, not every intermediate value).
* while_loop: the trip count is not known before running, so the VJP is one
  equation (`while_vjp`) that runs the loop again recording each step's carry in
  a list, then walks it backwards. JAX refuses reverse-mode through while_loop.

The numpy impls run the sub-graphs on the reference interpreter; compiled code
lowers them as functions of the same generated module (`Control` lowering).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import TraceError
from compiler.ir import Atom, Eqn, Graph, Var
from compiler.lowering import Control
from compiler.registry import AVal, Op, register

__all__ = ["inline", "run_graph", "vjp_graph"]

_PLANS: weakref.WeakKeyDictionary[Graph, Any] = weakref.WeakKeyDictionary()


def run_graph(graph: Graph, args: list[np.ndarray]) -> list[np.ndarray]:
    """Run a sub-graph on the reference interpreter."""
    from compiler.plan import to_plan
    from runtime.interpreter import run

    plan = _PLANS.get(graph)
    if plan is None:
        plan = _PLANS[graph] = to_plan(graph)
    return run(plan, list(args))


def _aval(a: Atom) -> AVal:
    return AVal(tuple(a.aval.shape), a.aval.dtype)


def _avals(atoms: list[Atom]) -> list[AVal]:
    return [_aval(a) for a in atoms]


def _check_inputs(op: str, what: str, graph: Graph, avals: list[Any]) -> None:
    want = [(tuple(v.aval.shape), v.aval.dtype) for v in graph.inputs]
    got = [(tuple(a.shape), a.dtype) for a in avals]
    if want != got:
        raise TraceError(f"{op}: the {what} takes {want}, but is given {got}")


def apply_op(op: str, *args: Any, **params: Any) -> Any:
    from compiler.dispatch import apply

    return apply(op, *args, **params)


def vjp_graph(graph: Graph, wrt: list[bool]) -> Graph:
    """The VJP of `graph` as a graph: (its inputs, one cotangent per output) -> one
    gradient per input flagged in `wrt` (zeros where the outputs do not depend on it).
    It recomputes the forward values it needs."""
    from compiler.autodiff import joint_vjp
    from compiler.passes import optimize, strip_stop_gradient

    joint = joint_vjp(graph, list(wrt))
    n = len(graph.outputs)
    g = joint.graph
    return optimize(
        strip_stop_gradient(Graph(list(g.inputs), list(g.eqns), g.outputs[n:], dict(g.consts)))
    )


def inline(b: Any, graph: Graph, args: list[Any]) -> list[Any]:
    """Stage `graph`'s equations into builder `b` on `args` (traced values of `b` or of
    a trace enclosing it, tensors, numbers); returns its outputs as Syms of `b` (a
    literal output as a Python number)."""
    from compiler.builder import Sym

    env: dict[Var, Atom] = {v: b._atom(a) for v, a in zip(graph.inputs, args)}
    for v, arr in graph.consts.items():
        env[v] = b._atom(arr)
    for e in graph.eqns:
        ins = [env.get(a, a) if isinstance(a, Var) else a for a in e.inputs]
        outs = [Var(v.aval) for v in e.outputs]
        b.eqns.append(Eqn(e.op, ins, e.params, outs, e.source_loc))
        env.update(zip(e.outputs, outs))
    result = []
    for a in graph.outputs:
        a = env.get(a, a) if isinstance(a, Var) else a
        result.append(Sym(b, a) if isinstance(a, Var) else a.value.item())
    return result


def _sym_aval(x: Any) -> AVal:
    return AVal(tuple(x.shape), x.dtype)


def _zeros(like: Any) -> Any:
    return like.full_like(0)


# ---- cond ---------------------------------------------------------------------------


def _cond_abstract(index: AVal, *operands: AVal, branches: tuple[Graph, ...]) -> tuple[AVal, ...]:
    if tuple(index.shape) != () or index.dtype.kind not in "biu":
        raise TraceError(
            f"cond: the predicate or index must be a 0-d bool or integer value, got {index}"
        )
    for k, g in enumerate(branches):
        _check_inputs("cond", f"branch {k}", g, list(operands))
    out = _avals(branches[0].outputs)
    for k, g in enumerate(branches[1:], 1):
        if _avals(g.outputs) != out:
            raise TraceError(f"cond: branch {k} returns {_avals(g.outputs)}, branch 0 {out}")
    return tuple(out)


def _cond_impl(
    index: np.ndarray, *operands: np.ndarray, branches: tuple[Graph, ...]
) -> tuple[np.ndarray, ...]:
    k = min(max(int(index), 0), len(branches) - 1)  # switch clamps the index, as JAX
    return tuple(run_graph(branches[k], list(operands)))


def _cond_vjp(
    g: tuple[Any, ...],
    out: tuple[Any, ...],
    index: Any,
    *operands: Any,
    branches: tuple[Graph, ...],
) -> tuple[Any, ...]:
    wrt = [o.dtype.kind == "f" for o in operands]
    if not any(wrt):
        return (None,) * (1 + len(operands))
    vjps = tuple(vjp_graph(b, wrt) for b in branches)
    grads = iter(apply_op("cond", index, *operands, *g, branches=vjps))
    return (None, *[next(grads) if w else None for w in wrt])


def _cond_jvp(
    t: tuple[Any, ...],
    out: tuple[Any, ...],
    index: Any,
    *operands: Any,
    branches: tuple[Graph, ...],
) -> tuple[Any, ...]:
    """A cond of the branches' forward-mode graphs (operands, tangents) -> (outputs,
    tangents)."""
    from compiler.forward import jvp_graph

    ts = t[1:]
    floats = [o.dtype.kind == "f" for o in out]
    fwd = tuple(jvp_graph(b, [x is not None for x in ts], floats) for b in branches)
    res = apply_op("cond", index, *operands, *[x for x in ts if x is not None], branches=fwd)
    tangents = iter(res[len(out) :])
    return tuple(next(tangents) if f else None for f in floats)


register(
    Op(
        "cond",
        _cond_abstract,
        _cond_impl,
        _cond_vjp,
        grad_fn="CondBackward0",
        lowering=Control("cond", ("branches",)),
        multiple_results=True,
        jvp=_cond_jvp,
    )
)

# ---- scan ---------------------------------------------------------------------------


def _scan_parts(
    ins: tuple[Any, ...], num_consts: int, num_carry: int
) -> tuple[list[Any], list[Any], list[Any]]:
    return (
        list(ins[:num_consts]),
        list(ins[num_consts : num_consts + num_carry]),
        list(ins[num_consts + num_carry :]),
    )


def _scan_abstract(
    *ins: AVal, body: Graph, length: int, reverse: bool, num_consts: int, num_carry: int, save: bool
) -> tuple[AVal, ...]:
    consts, init, xs = _scan_parts(ins, num_consts, num_carry)
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise TraceError(
                f"scan: every xs leaf needs a leading dimension of length {length}, got {x}"
            )
    steps = [AVal(tuple(x.shape[1:]), x.dtype) for x in xs]
    _check_inputs("scan", "body", body, consts + init + steps)
    outs = _avals(body.outputs)
    if outs[:num_carry] != [_aval_of(a) for a in init]:
        raise TraceError(
            f"scan: the body returns the carry {outs[:num_carry]}, but takes "
            f"{[_aval_of(a) for a in init]}"
        )
    ys = [AVal((length, *y.shape), y.dtype) for y in outs[num_carry:]]
    saved = [AVal((length, *c.shape), c.dtype) for c in init] if save else []
    return (*outs[:num_carry], *ys, *saved)


def _aval_of(a: AVal) -> AVal:
    return AVal(tuple(a.shape), a.dtype)


def _scan_impl(
    *ins: np.ndarray,
    body: Graph,
    length: int,
    reverse: bool,
    num_consts: int,
    num_carry: int,
    save: bool,
) -> tuple[np.ndarray, ...]:
    consts, carry, xs = _scan_parts(ins, num_consts, num_carry)
    ys = [np.empty((length, *v.aval.shape), v.aval.dtype) for v in body.outputs[num_carry:]]
    saved = [np.empty((length, *np.shape(c)), np.asarray(c).dtype) for c in carry] if save else []
    for it in range(length):
        t = length - 1 - it if reverse else it
        for s, c in zip(saved, carry):
            s[t] = c
        outs = run_graph(body, consts + carry + [x[t] for x in xs])
        carry = outs[:num_carry]
        for y, o in zip(ys, outs[num_carry:]):
            y[t] = o
    return (*[np.array(c) for c in carry], *ys, *saved)


def _scan_with_residuals(e: Eqn) -> Eqn:
    """The scan that also stacks each step's starting carry (for the VJP)."""
    if e.params["save"]:
        return e
    n = e.params["length"]
    init = e.inputs[e.params["num_consts"] : e.params["num_consts"] + e.params["num_carry"]]
    saved = [Var(AVal((n, *a.aval.shape), a.aval.dtype)) for a in init]
    return Eqn(e.op, e.inputs, {**e.params, "save": True}, e.outputs + saved, e.source_loc)


def _scan_prune(e: Eqn, live: set[Var]) -> Eqn:
    """The scan without its stacked outputs (ys) not in `live`: the body stops
    computing them. Carries stay (the next step reads them), and so do saved ones."""
    from compiler.passes import dce

    body, nk = e.params["body"], e.params["num_carry"]
    n_ys = len(body.outputs) - nk
    keep = [j for j in range(n_ys) if e.outputs[nk + j] in live]
    if len(keep) == n_ys:
        return e
    outs = list(body.outputs[:nk]) + [body.outputs[nk + j] for j in keep]
    pruned = dce(Graph(list(body.inputs), list(body.eqns), outs, dict(body.consts)))
    outputs = (
        list(e.outputs[:nk]) + [e.outputs[nk + j] for j in keep] + list(e.outputs[nk + n_ys :])
    )
    return Eqn(e.op, list(e.inputs), {**e.params, "body": pruned}, outputs, e.source_loc)


def _is_zero_fill(x: Any) -> bool:
    """Is traced value `x` the constant 0 (the cotangent autodiff gives an output that
    received none)?"""
    b = getattr(x, "builder", None)
    if b is None:
        return False
    v = x.ir_var
    for e in reversed(b.eqns):
        if v in e.outputs:
            return e.op.name == "full" and e.params.get("value") == 0
    return False


def _scan_vjp(
    g: tuple[Any, ...],
    out: tuple[Any, ...],
    *ins: Any,
    body: Graph,
    length: int,
    reverse: bool,
    num_consts: int,
    num_carry: int,
    save: bool,
) -> tuple[Any, ...]:
    from compiler.builder import GraphBuilder

    consts, init, xs = _scan_parts(ins, num_consts, num_carry)
    n_ys = len(body.outputs) - num_carry
    ct_final, ct_ys = list(g[:num_carry]), list(g[num_carry : num_carry + n_ys])
    saved = list(out[num_carry + n_ys :])
    if not save or len(saved) != num_carry:
        raise AssertionError("scan's VJP needs the carries it saved (with_residuals)")
    # the saved carries are outputs too: differentiating a gradient (second order) sends
    # them cotangents, which join the carry's cotangent at the start of their step
    ct_saved = [None if c is None or _is_zero_fill(c) else c for c in g[num_carry + n_ys :]] + [
        None
    ] * (num_carry - len(g[num_carry + n_ys :]))
    is_f = [a.dtype.kind == "f" for a in [*consts, *init, *xs]]
    wrt_c, wrt_k, wrt_x = (
        is_f[:num_consts],
        is_f[num_consts : num_consts + num_carry],
        is_f[num_consts + num_carry :],
    )
    back = vjp_graph(body, is_f)  # (consts, carry, x_t, ct carry', ct y_t) -> grads

    # one backward step: carry (ct of the float carries, running sum of the float
    # consts' gradients); per step (saved carry, x_t, ct of y_t) -> the gradient of x_t
    b = GraphBuilder(warn_above=None)
    c_syms = [b.new_input(_sym_aval(a)) for a in consts]
    ctk = [b.new_input(_sym_aval(k)) for k, w in zip(init, wrt_k) if w]
    acc = [b.new_input(_sym_aval(c)) for c, w in zip(consts, wrt_c) if w]
    ck = [b.new_input(AVal(tuple(s.shape[1:]), s.dtype)) for s in saved]
    xt = [b.new_input(AVal(tuple(x.shape[1:]), x.dtype)) for x in xs]
    cty = [b.new_input(AVal(tuple(y.shape[1:]), y.dtype)) for y in ct_ys]
    cts = [
        b.new_input(AVal(tuple(c.shape[1:]), c.dtype)) if c is not None and w else None
        for c, w in zip(ct_saved, wrt_k)
    ]
    it_ctk = iter(ctk)
    ct_carry = [next(it_ctk) if w else _zeros(k) for k, w in zip(ck, wrt_k)]
    grads = iter(inline(b, back, c_syms + ck + xt + ct_carry + cty))
    g_consts = [next(grads) for w in wrt_c if w]
    g_carry = [next(grads) + c if c is not None else next(grads) for c, w in zip(cts, wrt_k) if w]
    g_x = [next(grads) for w in wrt_x if w]
    new_acc = [a + d for a, d in zip(acc, g_consts)]
    outs = [s.ir_var for s in (*g_carry, *new_acc, *g_x)]
    step = Graph(b.inputs, b.eqns, outs, {})
    from compiler.passes import optimize

    step = optimize(step)

    ct_init = [c if c is not None else _zeros(k) for c, k, w in zip(ct_final, init, wrt_k) if w]
    zeros_acc = [_zeros(c) for c, w in zip(consts, wrt_c) if w]
    res = list(
        apply_op(
            "scan",
            *consts,
            *ct_init,
            *zeros_acc,
            *saved,
            *xs,
            *ct_ys,
            *[c for c, w in zip(ct_saved, wrt_k) if c is not None and w],
            body=step,
            length=length,
            reverse=not reverse,
            num_consts=len(consts),
            num_carry=len(ct_init) + len(zeros_acc),
            save=False,
        )
    )
    r_init = iter(res[: len(ct_init)])
    r_consts = iter(res[len(ct_init) : len(ct_init) + len(zeros_acc)])
    r_xs = iter(res[len(ct_init) + len(zeros_acc) :])
    return (
        *[next(r_consts) if w else None for w in wrt_c],
        *[next(r_init) if w else None for w in wrt_k],
        *[next(r_xs) if w else None for w in wrt_x],
    )


def _reorder(graph: Graph, inputs: list[int], outputs: list[int]) -> Graph:
    return Graph(
        [graph.inputs[i] for i in inputs],
        list(graph.eqns),
        [graph.outputs[i] for i in outputs],
        dict(graph.consts),
    )


def _groups(*sizes: int) -> list[list[int]]:
    """Consecutive index ranges of the given sizes."""
    out, start = [], 0
    for n in sizes:
        out.append(list(range(start, start + n)))
        start += n
    return out


def _scan_jvp(
    t: tuple[Any, ...],
    out: tuple[Any, ...],
    *ins: Any,
    body: Graph,
    length: int,
    reverse: bool,
    num_consts: int,
    num_carry: int,
    save: bool,
) -> tuple[Any, ...]:
    """A scan over (primal, tangent) carries: its body is the forward-mode graph of the
    body. Every float carry gets a tangent (a step may make a zero one nonzero)."""
    from compiler.forward import jvp_graph

    consts, init, xs = _scan_parts(ins, num_consts, num_carry)
    tc, tk, tx = _scan_parts(t, num_consts, num_carry)
    wc, wx = [x is not None for x in tc], [x is not None for x in tx]
    wk = [k.dtype.kind == "f" for k in init]
    n_ys = len(body.outputs) - num_carry
    wy = [y.aval.dtype.kind == "f" for y in body.outputs[num_carry:]]
    fwd = jvp_graph(body, wc + wk + wx, wk + wy)
    # fwd: (consts, carry, xs, t consts, t carry, t xs) -> (carry, ys, t carry, t ys);
    # the scan takes (consts, t consts, carry, t carry, xs, t xs) -> (carry, t carry, ys, t ys)
    c, k, x, dc, dk, dx = _groups(num_consts, num_carry, len(xs), sum(wc), sum(wk), sum(wx))
    ok, oy, odk, ody = _groups(num_carry, n_ys, sum(wk), sum(wy))
    fwd = _reorder(fwd, c + dc + k + dk + x + dx, ok + odk + oy + ody)
    t_init = [d if d is not None else _zeros(v) for d, v, w in zip(tk, init, wk) if w]
    res = list(
        apply_op(
            "scan",
            *consts,
            *[d for d in tc if d is not None],
            *init,
            *t_init,
            *xs,
            *[d for d in tx if d is not None],
            body=fwd,
            length=length,
            reverse=reverse,
            num_consts=num_consts + sum(wc),
            num_carry=num_carry + sum(wk),
            save=save,
        )
    )
    # (carry, t carry, ys, t ys) and, when saving, the stacked (carry, t carry) of each step
    nk, nwk = num_carry, sum(wk)
    _, rdk, _, rdy, _, rds = _groups(nk, nwk, n_ys, sum(wy), nk * save, nwk * save)
    dk_out, dy_out, ds_out = (iter([res[i] for i in r]) for r in (rdk, rdy, rds))
    return (
        *[next(dk_out) if w else None for w in wk],
        *[next(dy_out) if w else None for w in wy],
        *([next(ds_out) if w else None for w in wk] if save else []),
    )


register(
    Op(
        "scan",
        _scan_abstract,
        _scan_impl,
        _scan_vjp,
        grad_fn="ScanBackward0",
        lowering=Control("scan", ("body",)),
        multiple_results=True,
        with_residuals=_scan_with_residuals,
        prune=_scan_prune,
        jvp=_scan_jvp,
    )
)

# ---- while_loop ---------------------------------------------------------------------


def _while_parts(
    ins: tuple[Any, ...], n_cond: int, n_body: int
) -> tuple[list[Any], list[Any], list[Any]]:
    return list(ins[:n_cond]), list(ins[n_cond : n_cond + n_body]), list(ins[n_cond + n_body :])


def _while_abstract(
    *ins: AVal, cond: Graph, body: Graph, n_cond: int, n_body: int
) -> tuple[AVal, ...]:
    cc, bc, init = _while_parts(ins, n_cond, n_body)
    _check_inputs("while_loop", "condition", cond, cc + init)
    _check_inputs("while_loop", "body", body, bc + init)
    pred = _avals(cond.outputs)
    if len(pred) != 1 or pred[0] != AVal((), dtypes.bool_):
        raise TraceError(f"while_loop: the condition must return one bool value, got {pred}")
    outs = _avals(body.outputs)
    if outs != [_aval_of(a) for a in init]:
        raise TraceError(
            f"while_loop: the body returns {outs}, but takes {[_aval_of(a) for a in init]}"
        )
    return tuple(outs)


def _while_run(
    cond: Graph,
    body: Graph,
    cc: list[Any],
    bc: list[Any],
    carry: list[Any],
    record: list[list[Any]] | None = None,
) -> list[Any]:
    while bool(run_graph(cond, cc + carry)[0]):
        if record is not None:
            record.append(carry)
        carry = run_graph(body, bc + carry)
    return carry


def _while_impl(
    *ins: np.ndarray, cond: Graph, body: Graph, n_cond: int, n_body: int
) -> tuple[np.ndarray, ...]:
    cc, bc, init = _while_parts(ins, n_cond, n_body)
    return tuple(np.array(c) for c in _while_run(cond, body, cc, bc, list(init)))


def _while_vjp(
    g: tuple[Any, ...],
    out: tuple[Any, ...],
    *ins: Any,
    cond: Graph,
    body: Graph,
    n_cond: int,
    n_body: int,
) -> tuple[Any, ...]:
    cc, bc, init = _while_parts(ins, n_cond, n_body)
    wrt_b = [a.dtype.kind == "f" for a in bc]
    wrt_k = [a.dtype.kind == "f" for a in init]
    if not any(wrt_b) and not any(wrt_k):
        return (None,) * len(ins)
    back = vjp_graph(body, wrt_b + wrt_k)
    cts = [c if c is not None else _zeros(k) for c, k in zip(g, init)]
    res = iter(
        apply_op(
            "while_vjp",
            *cc,
            *bc,
            *init,
            *cts,
            cond=cond,
            body=body,
            back=back,
            n_cond=n_cond,
            n_body=n_body,
        )
    )
    g_carry = [next(res) if w else None for w in wrt_k]
    g_consts = [next(res) if w else None for w in wrt_b]
    return (*[None] * n_cond, *g_consts, *g_carry)


def _while_jvp(
    t: tuple[Any, ...],
    out: tuple[Any, ...],
    *ins: Any,
    cond: Graph,
    body: Graph,
    n_cond: int,
    n_body: int,
) -> tuple[Any, ...]:
    """A while_loop over (primal, tangent) carries: the body is the forward-mode graph
    of the body, the condition reads the primal carries only."""
    from compiler.forward import jvp_graph

    cc, bc, init = _while_parts(ins, n_cond, n_body)
    _, tb, tk = _while_parts(t, n_cond, n_body)
    wb = [x is not None for x in tb]
    wk = [k.dtype.kind == "f" for k in init]
    fwd = jvp_graph(body, wb + wk, wk)  # (bc, carry, t bc, t carry) -> (carry, t carry)
    b, k, db, dk = _groups(n_body, len(init), sum(wb), sum(wk))
    fwd = _reorder(fwd, b + db + k + dk, list(range(len(fwd.outputs))))
    extra = [Var(AVal(tuple(v.shape), v.dtype)) for v, w in zip(init, wk) if w]
    test = Graph(list(cond.inputs) + extra, list(cond.eqns), list(cond.outputs), dict(cond.consts))
    t_init = [d if d is not None else _zeros(v) for d, v, w in zip(tk, init, wk) if w]
    res = apply_op(
        "while_loop",
        *cc,
        *bc,
        *[d for d in tb if d is not None],
        *init,
        *t_init,
        cond=test,
        body=fwd,
        n_cond=n_cond,
        n_body=n_body + sum(wb),
    )
    tangents = iter(res[len(init) :])
    return tuple(next(tangents) if w else None for w in wk)


register(
    Op(
        "while_loop",
        _while_abstract,
        _while_impl,
        _while_vjp,
        grad_fn="WhileBackward0",
        lowering=Control("while", ("cond", "body")),
        multiple_results=True,
        jvp=_while_jvp,
    )
)


def _while_vjp_abstract(
    *ins: AVal, cond: Graph, body: Graph, back: Graph, n_cond: int, n_body: int
) -> tuple[AVal, ...]:
    n_carry = (len(ins) - n_cond - n_body) // 2
    bc = ins[n_cond : n_cond + n_body]
    init = ins[n_cond + n_body : n_cond + n_body + n_carry]
    return (
        *[_aval_of(a) for a in init if a.dtype.kind == "f"],
        *[_aval_of(a) for a in bc if a.dtype.kind == "f"],
    )


def _while_vjp_impl(
    *ins: np.ndarray, cond: Graph, body: Graph, back: Graph, n_cond: int, n_body: int
) -> tuple[np.ndarray, ...]:
    n_carry = (len(ins) - n_cond - n_body) // 2
    cc, bc = list(ins[:n_cond]), list(ins[n_cond : n_cond + n_body])
    init = list(ins[n_cond + n_body : n_cond + n_body + n_carry])
    ct = list(ins[n_cond + n_body + n_carry :])
    steps: list[list[Any]] = []
    _while_run(cond, body, cc, bc, init, steps)  # the carries at the start of each step
    fb = [np.asarray(c).dtype.kind == "f" for c in bc]
    fk = [np.asarray(c).dtype.kind == "f" for c in init]
    acc = [np.zeros_like(c) for c, f in zip(bc, fb) if f]
    for carry in reversed(steps):
        grads = iter(run_graph(back, bc + carry + ct))
        g_consts = [next(grads) for f in fb if f]
        g_carry = iter([next(grads) for f in fk if f])
        acc = [a + d for a, d in zip(acc, g_consts)]
        ct = [next(g_carry) if f else np.zeros_like(c) for c, f in zip(ct, fk)]
    return (*[np.array(c) for c, f in zip(ct, fk) if f], *acc)


# Reverse mode through while_loop: runs the loop again recording each step's carry, then
# walks the steps backwards. (Its own derivative is not defined: no higher order.)
register(
    Op(
        "while_vjp",
        _while_vjp_abstract,
        _while_vjp_impl,
        None,
        lowering=Control("while_vjp", ("cond", "body", "back")),
        multiple_results=True,
        no_derivative=(
            "the gradient of a while_loop cannot be differentiated again (second order "
            "in reverse mode; forward mode over it, jacfwd(jacrev(f)), works): write the "
            "loop with fori_loop and a trip count known at trace time, or scan; the "
            "while_loop is"
        ),
    )
)


# ---- custom_vjp_call: a function whose derivative the user wrote ------------------------
# inputs: the values the forward and backward close over, then the arguments. `body` is
# the forward (consts, args -> n_out outputs); `body_res` the same also returning the
# residuals the user's backward reads (it becomes `body` when differentiated); `bwd`
# (bwd consts, residuals, cotangents -> one gradient per argument) is the VJP:
# tracer.custom_vjp and autograd.Function under a trace.


def _custom_parts(
    ins: tuple[Any, ...], n_fwd: int, n_bwd: int
) -> tuple[list[Any], list[Any], list[Any]]:
    return list(ins[:n_fwd]), list(ins[n_fwd : n_fwd + n_bwd]), list(ins[n_fwd + n_bwd :])


def _custom_abstract(
    *ins: AVal,
    body: Graph,
    body_res: Graph,
    bwd: Graph,
    n_fwd: int,
    n_bwd: int,
    n_out: int,
    save: bool,
) -> tuple[AVal, ...]:
    fc, _, args = _custom_parts(ins, n_fwd, n_bwd)
    _check_inputs("custom_vjp", "forward", body, fc + args)
    return tuple(_avals(body.outputs))


def _custom_impl(
    *ins: np.ndarray,
    body: Graph,
    body_res: Graph,
    bwd: Graph,
    n_fwd: int,
    n_bwd: int,
    n_out: int,
    save: bool,
) -> tuple[np.ndarray, ...]:
    fc, _, args = _custom_parts(ins, n_fwd, n_bwd)
    return tuple(run_graph(body, fc + args))


def _custom_with_residuals(e: Eqn) -> Eqn:
    if e.params["save"]:
        return e
    body_res = e.params["body_res"]
    extra = [
        Var(AVal(tuple(a.aval.shape), a.aval.dtype)) for a in body_res.outputs[len(e.outputs) :]
    ]
    params = {**e.params, "body": body_res, "save": True}  # the forward keeping residuals
    return Eqn(e.op, e.inputs, params, e.outputs + extra, e.source_loc)


def _custom_vjp(
    g: tuple[Any, ...],
    out: tuple[Any, ...],
    *ins: Any,
    body: Graph,
    body_res: Graph,
    bwd: Graph,
    n_fwd: int,
    n_bwd: int,
    n_out: int,
    save: bool,
) -> tuple[Any, ...]:
    if not save:
        raise AssertionError("custom_vjp's VJP needs its residuals (with_residuals)")
    fc, bc, args = _custom_parts(ins, n_fwd, n_bwd)
    builder = next(x for x in (*g, *out) if hasattr(x, "builder")).builder
    grads = inline(builder, bwd, bc + list(out[n_out:]) + list(g[:n_out]))
    g_res = list(g[n_out:])
    if any(c is not None and not _is_zero_fill(c) for c in g_res):
        # differentiating a gradient again: the residuals fwd saved received cotangents
        # too, and they flow to the arguments through fwd's own derivative (as in JAX)
        res = Graph(
            list(body_res.inputs),
            list(body_res.eqns),
            list(body_res.outputs[n_out:]),
            dict(body_res.consts),
        )
        is_f = [False] * len(fc) + [np.dtype(a.dtype).kind == "f" for a in args]
        back = vjp_graph(res, is_f)
        cts = [c if c is not None else _zeros(r) for c, r in zip(g_res, out[n_out:])]
        extra = iter(inline(builder, back, fc + args + cts))
        grads = [
            gr if not f else (next(extra) if gr is None else gr + next(extra))
            for gr, f in zip(grads, is_f[len(fc) :])
        ]
    return (*[None] * (n_fwd + n_bwd), *grads)


register(
    Op(
        "custom_vjp_call",
        _custom_abstract,
        _custom_impl,
        _custom_vjp,
        grad_fn="CustomVjpBackward0",
        lowering=Control("call", ("body",)),
        multiple_results=True,
        with_residuals=_custom_with_residuals,
    )
)
