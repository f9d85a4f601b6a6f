"""Loop nests that repeat become one njit function, called at each place.

An unrolled loop repeats the same fused loop nests with other buffers (a 25-step
unrolled spring model: 151 nests, 7 different). numba types and lowers every line
of a function, so each copy costs compile time. Here each `Nest` is emitted a second
time with positional names (`emit_item` on a `_Canonical` view of the plan: its
values named in order of first use, every array a parameter); nests whose canonical
code is equal share one function `_nestK(sizes..., arrays...)` with an explicit
signature (compiled once, cached with the module), and each copy becomes a call.
Nests that occur once, and parallel ones, stay inline.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from compiler.codegen.plan import KernelPlan, Nest
from compiler.ir import Var

if TYPE_CHECKING:
    from compiler.codegen.emit import ItemCode

__all__ = ["share_nests"]


class _Names(dict):
    """Names of values given in order of first use: `x0, x1, ...`."""

    def __missing__(self, v: Var) -> str:
        name = self[v] = f"x{len(self)}"
        return name


class _Canonical(KernelPlan):
    """A view of a plan in which every array a nest touches is a parameter named by
    its order of use (`arrays` records them)."""

    arrays: list[Var]

    def arr(self, v: Var) -> str:
        if v not in self.arrays:
            self.arrays.append(v)
        return f"a{self.arrays.index(v)}"


def _canonical(plan: KernelPlan) -> _Canonical:
    view = copy.copy(plan)
    view.__class__ = _Canonical
    view.names = _Names()
    view.arrays = []
    return view


def share_nests(plan: KernelPlan, codes: list[ItemCode], flags: str) -> list[str]:
    """Replace the lines of repeated nests in `codes` (one per `plan.items`) by calls;
    return the definitions of the shared functions (`flags`: their njit options)."""
    from compiler.codegen.emit import emit_item
    from compiler.codegen.module import _array_type

    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[ItemCode, list[Var]]]] = {}
    for item, code in zip(plan.items, codes):
        if not isinstance(item, Nest) or code.host or code.parallel:
            continue
        view = _canonical(plan)
        lines = emit_item(view, item).lines
        types = tuple(_array_type(v) for v in view.arrays)
        groups.setdefault((tuple(lines), types), []).append((code, view.arrays))
    defs: list[str] = []
    sizes = plan.sizes.names
    for (lines, types), uses in groups.items():
        if len(uses) < 2:
            continue
        name = f"_nest{sum(1 for d in defs if d.startswith('def '))}"
        params = [*sizes, *(f"a{k}" for k in range(len(types)))]
        sig = ", ".join(["int64"] * len(sizes) + list(types))
        defs += [
            "",
            "",
            f'@numba.njit("void({sig})",',
            f"            {flags})",
            f"def {name}({', '.join(params)}):",
            *lines,
        ]
        for code, arrays in uses:
            head = code.lines[0].strip()  # the nest's title comment: what it computes
            args = [*sizes, *(plan.arr(v) for v in arrays)]
            code.lines = [f"    {head}", f"    {name}({', '.join(args)})"]
    return defs
