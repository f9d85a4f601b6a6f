"""Plans and the reference interpreter that runs them with numpy.

A `Plan` is a graph lowered to slots: each step calls a numpy function on some
slots and writes others. It knows nothing of the IR, so the runtime stays free
of compiler imports. With TRACER_DISABLE_JIT=1 every traced function runs this
way; tests use it as the oracle for the compiled code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Step:
    fn: Callable[..., Any]
    inputs: tuple[int | Any, ...]  # a slot number, or a ("lit", value) pair
    outputs: tuple[int, ...]
    params: dict[str, Any]
    multiple_results: bool = False
    free: tuple[int, ...] = ()  # slots dead after this step
    label: str = ""


@dataclass
class Plan:
    n_slots: int
    input_slots: tuple[int, ...]
    steps: list[Step]
    outputs: tuple[int | Any, ...]  # slot numbers or ("lit", value)
    output_dtypes: tuple[np.dtype, ...] = field(default=())


def run(plan: Plan, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Execute a plan with numpy; returns one array per output. Floating-point errors
    give inf and nan without numpy warnings, as the compiled code and eager ops do."""
    with np.errstate(all="ignore"):
        return _run(plan, args)


def _run(plan: Plan, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    env: list[Any] = [None] * plan.n_slots
    for slot, a in zip(plan.input_slots, args):
        env[slot] = a
    for step in plan.steps:
        vals = [env[i] if type(i) is int else i[1] for i in step.inputs]
        try:
            out = step.fn(*vals, **step.params)
        except Exception as e:
            if step.label:
                e.add_note(f"while running {step.label}")
            raise
        if step.multiple_results:
            for slot, o in zip(step.outputs, out):
                env[slot] = np.asarray(o)
        else:
            env[step.outputs[0]] = out if type(out) is np.ndarray else np.asarray(out)
        for slot in step.free:
            env[slot] = None
    results = []
    for o, d in zip(plan.outputs, plan.output_dtypes):
        r = env[o] if type(o) is int else np.asarray(o[1], dtype=d)
        results.append(r)
    return results
