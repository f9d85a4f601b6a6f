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
from compiler.codegen.module import KernelDef, kernel_defs
from compiler.codegen.plan import ControlCall, KernelPlan
from compiler.ir import Var
from compiler.refs import size

__all__ = ["emit_control"]


class _Sub:
    """A sub-kernel: its function's name and how to call it from the outer kernel (with
    its scratch buffers, allocated once before the loop or branch)."""

    def __init__(self, outer: KernelPlan, plan: KernelPlan, name: str, kdef: KernelDef) -> None:
        self.plan, self.name = plan, name
        self.sizes = [str(outer.sizes.dim(v)) for v in plan.sizes.values]
        self.scratch = [
            (f"{name}_scratch{j}", outer.sizes.dim(int(size(plan.shape(v)))), v.aval.dtype)
            for j, v in enumerate(kdef.scratch)
        ]

    def alloc(self) -> list[str]:
        return [f"{n} = np.empty({length}, np.{dt.name})" for n, length, dt in self.scratch]

    def call(self, args: list[str]) -> str:
        return f"{self.name}({', '.join(self.sizes + args + [n for n, _, _ in self.scratch])})"


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
        kdef = kernel_defs(sub, sub_codes, name, scratch=True)
        code.defs += [line for c in sub_codes for line in c.defs] + kdef.lines
        code.imports |= {n for c in sub_codes for n in c.imports}
        code.helpers |= {n for c in sub_codes for n in c.helpers}
        njit = njit and kdef.njit
        subs[role] = _Sub(plan, sub, name, kdef)
    code.host = not njit or item.kind == "while_vjp"
    lines = [line for sub in subs.values() for line in sub.alloc()]
    lines += _WRITERS[item.kind](_Emit(plan, item, subs, not code.host))
    code.lines += [code_line(line, 0) for line in lines]
    return code


class _Emit:
    """What a writer needs: the plan, the item, its sub-kernels, and whether the code
    runs in njit (copies as loops) or in the Python entry (numpy slice copies)."""

    def __init__(self, plan: KernelPlan, item: ControlCall, subs: dict[str, _Sub], njit: bool):
        self.plan, self.item, self.subs, self.njit = plan, item, subs, njit

    def copy(self, dst: str, src: str, n: int, dst_off: str = "", src_off: str = "") -> list[str]:
        """dst[dst_off:dst_off + n] = src[src_off:src_off + n]: a loop in njit code (an
        array assignment there compiles numba's broadcasting and its error messages,
        seconds of compile time), a slice assignment in Python."""
        if self.njit:
            d = f"{dst_off} + _j" if dst_off else "_j"
            s = f"{src_off} + _j" if src_off else "_j"
            return [f"for _j in range({n}):", f"    {dst}[{d}] = {src}[{s}]"]
        d = f"{dst}[{dst_off}:{dst_off} + {n}]" if dst_off else f"{dst}[:]"
        s = f"{src}[{src_off}:{src_off} + {n}]" if src_off else src
        return [f"{d} = {s}"]

    def carries(
        self, tag: str, init: list[str], like: list[Var]
    ) -> tuple[list[str], list[str], list[str]]:
        """Two buffer sets for a loop's carry (a holds the current value, b the next), and
        the lines that allocate them with a = init."""
        a = [f"{tag}_a{k}" for k in range(len(like))]
        b = [f"{tag}_b{k}" for k in range(len(like))]
        lines = []
        for ak, bk, src, v in zip(a, b, init, like):
            n = _len(self.plan, v)
            alloc = f"np.empty({n}, np.{v.aval.dtype.name})"
            lines += [f"{ak} = {alloc}", *self.copy(ak, src, n), f"{bk} = {alloc}"]
        return a, b, lines


def _arr(plan: KernelPlan, v: Var) -> str:
    return plan.arr(v)


def _len(plan: KernelPlan, v: Var) -> int:
    return size(plan.shape(v))


def _swap(a: list[str], b: list[str]) -> list[str]:
    if not a:
        return []
    return [f"{', '.join(a + b)} = {', '.join(b + a)}"]


def _cond(x: _Emit) -> list[str]:
    plan, item, subs = x.plan, x.item, x.subs
    ins = [_arr(plan, r.base) for r in item.refs]
    outs = [_arr(plan, v) for v in item.eqn.outputs]
    n = len(subs)
    if n == 1:
        return [subs["branches0"].call(ins[1:] + outs)]
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
    return lines


def _scan(x: _Emit) -> list[str]:
    plan, e = x.plan, x.item.eqn
    p = e.params
    nc, nk, n = p["num_consts"], p["num_carry"], plan.sizes.dim(p["length"])
    ins = [_arr(plan, r.base) for r in x.item.refs]
    consts, init, xs = ins[:nc], ins[nc : nc + nk], ins[nc + nk :]
    body = x.subs["body"]
    n_y = len(body.plan.graph.outputs) - nk
    carry_out, ys = e.outputs[:nk], e.outputs[nk : nk + n_y]
    saved = e.outputs[nk + n_y :]
    tag = plan.names[e.outputs[0]] if e.outputs else "scan"
    a, b, lines = x.carries(tag, init, list(e.inputs[nc : nc + nk]))

    def step(arr: str, v: Var) -> str:
        s = size(plan.shape(v)[1:])
        return f"{arr}[_t * {s}:(_t + 1) * {s}]"

    x_steps = [step(xa, v) for xa, v in zip(xs, e.inputs[nc + nk :])]
    y_steps = [step(_arr(plan, v), v) for v in ys]
    lines += [
        f"for _it in range({n}):",
        f"    _t = {n} - 1 - _it" if p["reverse"] else "    _t = _it",
    ]
    for v, ak in zip(saved, a):
        s = size(plan.shape(v)[1:])
        lines += ["    " + line for line in x.copy(_arr(plan, v), ak, s, dst_off=f"_t * {s}")]
    lines += ["    " + body.call(consts + a + x_steps + b + y_steps)]
    lines += ["    " + line for line in _swap(a, b)]
    for v, ak in zip(carry_out, a):
        lines += x.copy(_arr(plan, v), ak, _len(plan, v))
    return lines


def _while(x: _Emit) -> list[str]:
    plan, e, subs = x.plan, x.item.eqn, x.subs
    nc, nb = e.params["n_cond"], e.params["n_body"]
    ins = [_arr(plan, r.base) for r in x.item.refs]
    cc, bc, init = ins[:nc], ins[nc : nc + nb], ins[nc + nb :]
    tag = plan.names[e.outputs[0]] if e.outputs else "loop"
    a, b, lines = x.carries(tag, init, list(e.outputs))
    lines += [
        "_p = np.empty(1, np.bool_)",
        "while True:",
        "    " + subs["cond"].call(cc + a + ["_p"]),
        "    if not _p[0]:",
        "        break",
        "    " + subs["body"].call(bc + a + b),
    ]
    lines += ["    " + line for line in _swap(a, b)]
    for v, ak in zip(e.outputs, a):
        lines += x.copy(_arr(plan, v), ak, _len(plan, v))
    return lines


def _while_vjp(x: _Emit) -> list[str]:
    """Runs the loop recording each step's starting carry (a Python list: the trip count
    is known only at the end), then walks the steps backwards (Python entry code)."""
    plan, e, subs = x.plan, x.item.eqn, x.subs
    nc, nb = e.params["n_cond"], e.params["n_body"]
    ins = [_arr(plan, r.base) for r in x.item.refs]
    k = (len(ins) - nc - nb) // 2
    cc, bc = ins[:nc], ins[nc : nc + nb]
    init, cts = ins[nc + nb : nc + nb + k], ins[nc + nb + k :]
    ivars = list(e.inputs)
    carry_vars = ivars[nc + nb : nc + nb + k]
    fk = [v.aval.dtype.kind == "f" for v in carry_vars]
    tag = plan.names[e.outputs[0]] if e.outputs else "loop"
    a, b, lines = x.carries(tag, init, carry_vars)
    ct = [f"{tag}_ct{j}" for j in range(k)]
    lines += [f"{c} = {src}.copy()" for c, src in zip(ct, cts)]
    lines += [
        "_p = np.empty(1, np.bool_)",
        "_steps = []",
        "while True:",
        "    " + subs["cond"].call(cc + a + ["_p"]),
        "    if not _p[0]:",
        "        break",
        f"    _steps.append(({''.join(f'{xa}.copy(), ' for xa in a)}))",
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


def _call(x: _Emit) -> list[str]:
    """A function called once (custom_vjp's forward): its kernel writes the outputs."""
    plan, e = x.plan, x.item.eqn
    n_fwd, n_bwd = e.params["n_fwd"], e.params["n_bwd"]
    ins = [_arr(plan, r.base) for r in x.item.refs]
    args = ins[:n_fwd] + ins[n_fwd + n_bwd :]
    return [x.subs["body"].call(args + [_arr(plan, v) for v in e.outputs])]


_WRITERS: dict[str, Callable[[_Emit], list[str]]] = {
    "call": _call,
    "cond": _cond,
    "scan": _scan,
    "while": _while,
    "while_vjp": _while_vjp,
}

emit._EMITTERS[ControlCall] = emit_control
