"""The benchmark harness: `python -m tracer.bench` (see `--help`).

Times tracer's compiled `value_and_grad` side by side with its eager mode, numpy
written by hand, PyTorch eager and JAX jit (when importable) on the workloads of
DESIGN.md "Performance", after checking every implementation's value and gradients
against a float64 numpy reference. Reports medians, ratios and the targets.

Workloads and implementations are plain registries (dicts of dataclasses); pass
your own to `main(argv, workloads=..., impls=...)` or to `runner.run`.
"""

from tracer.bench.cli import main
from tracer.bench.impls import IMPLEMENTATIONS, Implementation
from tracer.bench.runner import Case, CaseResult, Row, cases, run, select
from tracer.bench.timing import Settings, Timing
from tracer.bench.workloads import WORKLOADS, Workload

__all__ = [
    "IMPLEMENTATIONS",
    "WORKLOADS",
    "Case",
    "CaseResult",
    "Implementation",
    "Row",
    "Settings",
    "Timing",
    "Workload",
    "cases",
    "main",
    "run",
    "select",
]
