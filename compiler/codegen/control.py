"""Emission of structured control flow (`ControlCall` items: cond, scan, while_loop).

Each sub-graph of the op (a branch, a loop body, a loop condition, a VJP step) is
generated as a kernel function of the same module, `_<value>_<role>(sizes...,
inputs..., outputs...)`, and the item calls it: in a branch, or in a loop whose
carries live in two sets of buffers swapped after each step. When every function
it calls is one njit function, the loop runs in njit code (one kernel, no Python
per step); when one of them calls numpy's BLAS from Python (a matmul in the body),
the loop runs in the module's Python entry. A loop's text does not depend on its
trip count, so a thousand steps compile as fast as ten.

Importing this module adds its emitter to compiler.codegen.emit's table.
"""

from __future__ import annotations

from collections.abc import Callable

from compiler.codegen import emit
from compiler.codegen.emit import ItemCode, code_line, emit_item, eqn_text
from compiler.codegen.module import kernel_defs
from compiler.codegen.plan import ControlCall, KernelPlan
from compiler.ir import Var
from compiler.refs import size

__all__ = ["emit_control"]


class _Sub:
    """A sub-kernel: its function's name and how to call it from the outer kernel."""

    def __init__(self, outer: KernelPlan, plan: KernelPlan, name: str) -> None:
        self.plan, self.name = plan, name
        self.sizes = [str(outer.sizes.dim(v)) for v in plan.sizes.values]

    def call(self, args: list[str]) -> str:
        return f"{self.name}({', '.join(self.sizes + args)})"


def emit_control(plan: KernelPlan, item: ControlCall) -> ItemCode:
    e = item.eqn
    code = ItemCode(
        [code_line(f"# ---- {eqn_text(plan, e)}", 0)],
        reads=[r.base for r in item.refs if r.kind == "mem"],
        writes=list(e.outputs),
    )
    subs: dict[str, _Sub] = {}
    njit = True
    for role, sub in item.subs.items():
        sub_codes = [emit_item(sub, it) for it in sub.items]
        name = "_" + sub.prefix.rstrip("_")
        defs, is_njit = kernel_defs(sub, sub_codes, name)
        code.defs += [line for c in sub_codes for line in c.defs] + defs
        code.imports |= {n for c in sub_codes for n in c.imports}
        njit = njit and is_njit
        subs[role] = _Sub(plan, sub, name)
    code.host = not njit or item.kind == "while_vjp"
    lines = _WRITERS[item.kind](plan, item, subs)
    code.lines += [code_line(line, 0) for line in lines]
    return code


def _arr(plan: KernelPlan, v: Var) -> str:
    return plan.arr(v)


def _len(plan: KernelPlan, v: Var) -> int:
    return size(plan.shape(v))


def _carries(
    plan: KernelPlan, tag: str, init: list[str], like: list[Var]
) -> tuple[list[str], list[str], list[str]]:
    """Two buffer sets for a loop's carry (a holds the current value, b the next), and the
    lines that allocate them with a = init."""
    a = [f"{tag}_a{k}" for k in range(len(like))]
    b = [f"{tag}_b{k}" for k in range(len(like))]
    lines = []
    for ak, bk, src, v in zip(a, b, init, like):
        alloc = f"np.empty({_len(plan, v)}, np.{v.aval.dtype.name})"
        lines += [f"{ak} = {alloc}", f"{ak}[:] = {src}", f"{bk} = {alloc}"]
    return a, b, lines


def _swap(a: list[str], b: list[str]) -> list[str]:
    if not a:
        return []
    return [f"{', '.join(a + b)} = {', '.join(b + a)}"]


def _cond(plan: KernelPlan, item: ControlCall, subs: dict[str, _Sub]) -> list[str]:
    ins = [_arr(plan, r.base) for r in item.refs]
    outs = [_arr(plan, v) for v in item.eqn.outputs]
    n = len(subs)
    lines = [
        f"_k = {ins[0]}[0]",
        "_k = 0 if _k < 0 else _k",
        f"_k = {n - 1} if _k > {n - 1} else _k",
    ]
    for k in range(n):
        test = "if" if k == 0 else "elif"
        lines += [
            f"{test} _k == {k}:" if k < n - 1 else "else:",
            "    " + subs[f"branches{k}"].call(ins[1:] + outs),
        ]
    if n == 1:
        lines = lines[:-2] + [subs["branches0"].call(ins[1:] + outs)]
    return lines


def _scan(plan: KernelPlan, item: ControlCall, subs: dict[str, _Sub]) -> list[str]:
    e = item.eqn
    p = e.params
    nc, nk, n = p["num_consts"], p["num_carry"], plan.sizes.dim(p["length"])
    ins = [_arr(plan, r.base) for r in item.refs]
    consts, init, xs = ins[:nc], ins[nc : nc + nk], ins[nc + nk :]
    body = subs["body"]
    n_y = len(body.plan.graph.outputs) - nk
    carry_out, ys = e.outputs[:nk], e.outputs[nk : nk + n_y]
    saved = e.outputs[nk + n_y :]
    tag = plan.names[e.outputs[0]] if e.outputs else "scan"
    a, b, lines = _carries(plan, tag, init, list(e.inputs[nc : nc + nk]))

    def step(arr: str, v: Var) -> str:
        s = size(plan.shape(v)[1:])
        return f"{arr}[_t * {s}:(_t + 1) * {s}]"

    x_steps = [step(x, v) for x, v in zip(xs, e.inputs[nc + nk :])]
    y_steps = [step(_arr(plan, v), v) for v in ys]
    lines += [
        f"for _it in range({n}):",
        f"    _t = {n} - 1 - _it" if p["reverse"] else "    _t = _it",
    ]
    lines += [f"    {step(_arr(plan, v), v)} = {ak}" for v, ak in zip(saved, a)]
    lines += ["    " + body.call(consts + a + x_steps + b + y_steps)]
    lines += ["    " + line for line in _swap(a, b)]
    lines += [f"{_arr(plan, v)}[:] = {ak}" for v, ak in zip(carry_out, a)]
    return lines


def _while(plan: KernelPlan, item: ControlCall, subs: dict[str, _Sub]) -> list[str]:
    e = item.eqn
    nc, nb = e.params["n_cond"], e.params["n_body"]
    ins = [_arr(plan, r.base) for r in item.refs]
    cc, bc, init = ins[:nc], ins[nc : nc + nb], ins[nc + nb :]
    tag = plan.names[e.outputs[0]] if e.outputs else "loop"
    a, b, lines = _carries(plan, tag, init, list(e.outputs))
    lines += [
        "_p = np.empty(1, np.bool_)",
        "while True:",
        "    " + subs["cond"].call(cc + a + ["_p"]),
        "    if not _p[0]:",
        "        break",
        "    " + subs["body"].call(bc + a + b),
    ]
    lines += ["    " + line for line in _swap(a, b)]
    lines += [f"{_arr(plan, v)}[:] = {ak}" for v, ak in zip(e.outputs, a)]
    return lines


def _while_vjp(plan: KernelPlan, item: ControlCall, subs: dict[str, _Sub]) -> list[str]:
    """Runs the loop recording each step's starting carry (a Python list: the trip count
    is known only at the end), then walks the steps backwards (Python entry code)."""
    e = item.eqn
    nc, nb = e.params["n_cond"], e.params["n_body"]
    ins = [_arr(plan, r.base) for r in item.refs]
    k = (len(ins) - nc - nb) // 2
    cc, bc = ins[:nc], ins[nc : nc + nb]
    init, cts = ins[nc + nb : nc + nb + k], ins[nc + nb + k :]
    ivars = list(e.inputs)
    carry_vars = ivars[nc + nb : nc + nb + k]
    fk = [v.aval.dtype.kind == "f" for v in carry_vars]
    tag = plan.names[e.outputs[0]] if e.outputs else "loop"
    a, b, lines = _carries(plan, tag, init, carry_vars)
    ct = [f"{tag}_ct{j}" for j in range(k)]
    lines += [f"{c} = {src}.copy()" for c, src in zip(ct, cts)]
    lines += [
        "_p = np.empty(1, np.bool_)",
        "_steps = []",
        "while True:",
        "    " + subs["cond"].call(cc + a + ["_p"]),
        "    if not _p[0]:",
        "        break",
        f"    _steps.append(({''.join(f'{x}.copy(), ' for x in a)}))",
        "    " + subs["body"].call(bc + a + b),
    ]
    lines += ["    " + line for line in _swap(a, b)]
    outs = [_arr(plan, v) for v in e.outputs]
    g_carry = outs[: sum(fk)]
    g_consts = outs[sum(fk) :]
    gb = [f"{tag}_gb{j}" for j in range(len(g_consts))]
    gk = [f"{tag}_gk{j}" for j in range(len(g_carry))]
    lines += [f"{o}[:] = 0" for o in g_consts]
    lines += [f"{g} = np.empty_like({o})" for g, o in zip(gb, g_consts)]
    lines += [f"{g} = np.empty_like({o})" for g, o in zip(gk, g_carry)]
    lines += [
        "for _s in reversed(_steps):",
        "    " + subs["back"].call(bc + [f"_s[{j}]" for j in range(k)] + ct + gb + gk),
    ]
    lines += [f"    {o} += {g}" for o, g in zip(g_consts, gb)]
    float_ct = [c for c, f in zip(ct, fk) if f]
    lines += [f"    {c}[:] = {g}" for c, g in zip(float_ct, gk)]
    lines += [f"{o}[:] = {c}" for o, c in zip(g_carry, float_ct)]
    return lines


def _call(plan: KernelPlan, item: ControlCall, subs: dict[str, _Sub]) -> list[str]:
    """A function called once (custom_vjp's forward): its kernel writes the outputs."""
    e = item.eqn
    n_fwd, n_bwd = e.params["n_fwd"], e.params["n_bwd"]
    ins = [_arr(plan, r.base) for r in item.refs]
    args = ins[:n_fwd] + ins[n_fwd + n_bwd :]
    return [subs["body"].call(args + [_arr(plan, v) for v in e.outputs])]


_WRITERS: dict[str, Callable[[KernelPlan, ControlCall, dict[str, _Sub]], list[str]]] = {
    "call": _call,
    "cond": _cond,
    "scan": _scan,
    "while": _while,
    "while_vjp": _while_vjp,
}

emit._EMITTERS[ControlCall] = emit_control
