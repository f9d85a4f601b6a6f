"""The cross-check: every implementation's value and gradients against the numpy
reference computed in float64, before anything is timed, so that a wrong fast
answer can never win."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tracer.bench.impls import to_numpy

# dtype -> (rtol, atol as a fraction of the largest reference magnitude). float32 results
# of these workloads land within ~1e-6 (norm-wise) of float64; the bound leaves room for
# other summation orders and a few-ulp tanh/exp, and none for a wrong formula.
TOLERANCES = {np.dtype(np.float32): (1e-3, 1e-5), np.dtype(np.float64): (1e-9, 1e-12)}


@dataclass(frozen=True)
class Check:
    ok: bool
    reason: str  # "" when ok, else one line saying what is wrong
    max_error: float  # largest |got - ref| / max|ref| over value and gradients


def reference(workload: Any, inputs: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Value and gradients from the hand-written numpy code, in float64."""
    wide = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in inputs]
    value, grads = workload.numpy_value_and_grad(*wide)
    return np.asarray(value), [np.asarray(g) for g in grads]


def compare(
    result: Any, ref: tuple[np.ndarray, list[np.ndarray]], workload: Any, inputs: list[np.ndarray]
) -> Check:
    """Does a step's result match the reference in structure, dtype and value?"""
    ref_value, ref_grads = ref
    try:
        value, grads = result
        grads = list(grads)
    except (TypeError, ValueError):
        return Check(False, "result is not (value, gradients)", float("inf"))
    if len(grads) != len(ref_grads):
        return Check(
            False, f"{len(grads)} {workload.checked[1]}, expected {len(ref_grads)}", float("inf")
        )
    dtype = next(a.dtype for a in inputs if a.dtype.kind == "f")
    named = [("value", value, ref_value, dtype)] + [
        (f"{workload.checked[0]}[{workload.wrt[i]}]", g, r, inputs[workload.wrt[i]].dtype)
        for i, (g, r) in enumerate(zip(grads, ref_grads))
    ]
    worst = 0.0
    for name, got, want, want_dtype in named:
        got = to_numpy(got)
        if name == "value" and got.size == 1:
            got = got.reshape(())
        if got.shape != want.shape:
            return Check(False, f"{name}: shape {got.shape}, expected {want.shape}", float("inf"))
        if got.dtype != want_dtype:
            return Check(False, f"{name}: dtype {got.dtype}, expected {want_dtype}", float("inf"))
        if not np.all(np.isfinite(got)):
            return Check(False, f"{name}: contains NaN or inf", float("inf"))
        rtol, atol = TOLERANCES.get(got.dtype, TOLERANCES[np.dtype(np.float32)])
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        diff = np.abs(got.astype(np.float64) - want)
        largest = float(np.max(diff, initial=0.0))
        error = largest / scale if scale else largest
        worst = max(worst, error)
        if np.any(diff > atol * scale + rtol * np.abs(want)):
            return Check(
                False,
                f"{name}: max |error| {error:.2e} of max |value|, beyond rtol {rtol:g}",
                error,
            )
    return Check(True, "", worst)
