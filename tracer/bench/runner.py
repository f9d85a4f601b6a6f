"""Cases (a workload at one size, steady-state or first call), and running them:
check every implementation against the reference, then time the ones that agree."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

import tracer
from tracer.bench import firstcall
from tracer.bench.check import TOLERANCES, compare, reference
from tracer.bench.impls import WORKLOAD_IMPLEMENTATIONS, Implementation, Step, Unavailable, to_numpy
from tracer.bench.timing import Settings, Timing, measure
from tracer.bench.workloads import Workload

SUBJECT = "tracer-compiled"  # the implementation every ratio is about
# the implementations whose rows are tracer compiled: each gets its ratios to every
# other row ("tracer-step": a training step traced whole, next to SUBJECT's value_and_grad)
SUBJECTS = (SUBJECT, "tracer-step")
FIRST_CALL = "first-call"
# first-call row -> {peer: bound on its time / the peer's}
FIRST_CALL_TARGETS = {f"{SUBJECT}-cold": {"jax": 5.0}, f"{SUBJECT}-warm": {"jax": 1.5}}
FIRST_CALL_PART = "first call"  # a Target's measure: trace + compile + run, import excluded


@dataclass(frozen=True)
class Case:
    """A workload at one size, timed in this process or as a fresh process's first call."""

    id: str  # "notebook-1e6", "first-call-mlp-b64"
    group: str  # the workload's name, or "first-call"
    workload: Workload  # bound to the size (`Workload.at`)
    size: int
    first_call: bool = False


def cases(workloads: Iterable[Workload], quick: bool) -> list[Case]:
    """The cases of a run: each workload's sizes, then the first-call cases."""
    workloads = list(workloads)
    steady = [
        Case(f"{w.name}-{w.size_label(s)}", w.name, w.at(s), s)
        for w in workloads
        for s in (w.quick_sizes if quick else w.sizes)
    ]
    fresh = [
        Case(f"{FIRST_CALL}-{w.name}-{w.size_label(s)}", FIRST_CALL, w.at(s), s, True)
        for w in workloads
        for s in (w.quick_first_call_sizes if quick else w.first_call_sizes)
    ]
    return steady + fresh


def select(workloads: Iterable[Workload], quick: bool, names: Sequence[str]) -> list[Case]:
    """The cases named by workload (`mlp`, `first-call`) or case id (`mlp-b512`, which
    may be a size the current mode would not run), in the run's order."""
    workloads = list(workloads)
    default = cases(workloads, quick)
    if not names:
        return default
    every = {c.id: c for c in cases(workloads, not quick) + default}
    groups = {c.group for c in every.values()}
    unknown = [n for n in names if n not in groups and n not in every]
    if unknown:
        raise ValueError(
            f"unknown workload {unknown[0]!r}; choose from: "
            f"{', '.join(sorted(groups))}, or a case: {', '.join(every)}"
        )
    chosen = [c for c in default if c.group in names or c.id in names]
    chosen += [c for c in every.values() if c.id in names and c not in chosen]
    return chosen


@dataclass
class Row:
    """One implementation's outcome on one case."""

    name: str
    label: str
    impl: str  # the implementation's name (a first-call row's too)
    status: str  # "ok", "wrong", "error" or "skipped"
    reason: str = ""
    timing: Timing | None = None
    max_error: float | None = None
    import_s: float | None = None  # first-call rows: median seconds importing
    first_call_s: float | None = None  # and in trace + compile + run (to the first result)
    kernel_s: float | None = None  # from the first call until the compiled kernel has run
    vs_best: float | None = None  # median / the best correct median of the case


@dataclass(frozen=True)
class Target:
    """A bound on a ratio of medians (`subject/peer`), or on seconds (`subject`)."""

    key: str  # "tracer-compiled/jax", as in the ratios; or "tracer-compiled-cold"
    bound: float
    value: float | None  # None when either side did not run
    met: bool | None
    measure: str = "median"  # or FIRST_CALL_PART: trace + compile + first call, no import

    @property
    def seconds(self) -> bool:
        return "/" not in self.key


@dataclass
class CaseResult:
    case: Case
    rows: list[Row]
    ratios: dict[str, float] = field(default_factory=dict)  # "subject/peer": medians' ratio
    # first-call cases: "subject/peer": ratio of the first calls (import excluded)
    first_call_ratios: dict[str, float] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)


class Progress:
    """`[3/17] mlp-b64 · jax jit` on stderr: one line rewritten on a terminal, else one
    line per step."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total, self.done, self.enabled = 0, 0, enabled
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()

    def step(self, text: str) -> None:
        self.done += 1
        if self.enabled:
            line = f"[{self.done}/{self.total}] {text}"
            self.stream.write(f"\r\033[K{line}" if self.tty else line + "\n")
            self.stream.flush()

    def update(self, text: str) -> None:
        """A transient detail of the current step, shown on a terminal only."""
        if self.enabled and self.tty:
            self.stream.write(f"\r\033[K[{self.done}/{self.total}] {text}")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def first_results(step: Step, calls: int) -> Any:
    """A step's first result; with several calls (a stateful step: a training step), the
    values of the calls stacked, with the last call's gradients (or parameters). Values
    are copied as they come, before a later call can update them in place."""
    if calls == 1:
        return step()
    values = []
    for _ in range(calls):
        value, grads = step()
        values.append(to_numpy(value).copy())
    return np.stack(values), grads


def check_steady(case: Case, impl: Implementation, ref: Any) -> tuple[Row, Step | None]:
    """Prepare an implementation and compare its first result (results, for a workload
    checked over several calls) with the reference; the step comes back only if it
    agreed. An implementation that raises Unavailable is skipped with its reason."""
    row = Row(impl.name, impl.label, impl.name, "ok")
    inputs = case.workload.inputs(case.size)
    try:
        step = impl.prepare(case.workload, inputs)
        result = first_results(step, case.workload.check_calls)
        check = compare(result, ref, case.workload, inputs)
    except Unavailable as e:
        row.status, row.reason = "skipped", str(e)
        return row, None
    except Exception as e:
        row.status, row.reason = "error", _one_line(e)
        return row, None
    row.max_error = check.max_error
    if not check.ok:
        row.status, row.reason = "wrong", check.reason
        return row, None
    return row, step


def run_steady(
    case: Case,
    impls: Sequence[Implementation],
    missing: dict[str, str | None],
    settings: Settings,
    progress: Progress,
) -> list[Row]:
    ref = reference(case.workload, case.workload.inputs(case.size))
    rows: list[Row] = []
    timed: list[tuple[Row, Step]] = []  # the rows that agreed, with their steps
    own = WORKLOAD_IMPLEMENTATIONS.get(case.workload.name)
    for impl in impls:
        progress.step(f"{case.id} · checking {impl.label}")
        if own is not None:
            if impl.name not in own:
                reason = f"does not apply to {case.workload.name}"
                rows.append(Row(impl.name, impl.label, impl.name, "skipped", reason))
                continue
            label, prepare = own[impl.name]
            impl = dataclasses.replace(impl, label=label, prepare=prepare)
        why = missing[impl.name] or impl.skip(case.workload, case.size)
        if why:
            rows.append(Row(impl.name, impl.label, impl.name, "skipped", why))
            continue
        row, step = check_steady(case, impl, ref)
        rows.append(row)
        if step is not None:
            timed.append((row, step))
    progress.step(f"{case.id} · timing {len(timed)} implementations")
    timings = measure(
        [step for _, step in timed],
        settings,
        lambda r, n: progress.update(f"{case.id} · timing, round {r}/{n}"),
    )
    for (row, _), t in zip(timed, timings):
        if isinstance(t, Exception):
            row.status, row.reason = "error", _one_line(t)
        else:
            row.timing = t
    return rows


def run_first_call(
    case: Case, variant: firstcall.Variant, ref_value: float, settings: Settings
) -> Row:
    row = Row(variant.name, variant.label, variant.impl.name, "ok")
    try:
        result = firstcall.measure(variant, case.workload, case.size, settings.first_call_repeats)
    except Exception as e:
        row.status, row.reason = "error", _one_line(e)
        return row
    rtol, _ = TOLERANCES[np.dtype(np.float32)]
    errors = [abs(v - ref_value) / max(abs(ref_value), 1e-30) for v in result.values]
    row.max_error = max(errors)
    if row.max_error > rtol:
        row.status = "wrong"
        row.reason = f"value {result.values[0]:.6g}, expected {ref_value:.6g}"
        return row
    row.timing, row.import_s, row.first_call_s = result.total, result.import_s, result.first_call_s
    row.kernel_s = result.kernel_s
    return row


def summarize(result: CaseResult) -> None:
    """Fill in each row's ratio to the best, the subject's ratios to its peers, and
    the targets."""
    ok = [r for r in result.rows if r.status == "ok" and r.timing is not None]
    if ok:
        best = min(r.timing.median for r in ok)
        for r in ok:
            r.vs_best = r.timing.median / best
    subjects = [r for r in ok if r.impl in SUBJECTS]
    for s in subjects:
        for p in ok:
            if p.impl not in SUBJECTS:
                result.ratios[f"{s.name}/{p.name}"] = s.timing.median / p.timing.median
                if result.case.first_call:
                    result.first_call_ratios[f"{s.name}/{p.name}"] = s.first_call_s / p.first_call_s
    case, w = result.case, result.case.workload

    def add(key: str, bound: float, value: float | None, measure: str = "median") -> None:
        met = None if value is None else value <= bound
        result.targets.append(Target(key, bound, value, met, measure))

    if not case.first_call:
        for subject in w.target_rows:
            for peer, bound in w.targets.get(case.size, {}).items():
                add(f"{subject}/{peer}", bound, result.ratios.get(f"{subject}/{peer}"))
        return
    for subject, peers in FIRST_CALL_TARGETS.items():
        for peer, bound in peers.items():
            add(f"{subject}/{peer}", bound, result.ratios.get(f"{subject}/{peer}"))
    for subject, peers in w.first_call_targets.get(case.size, {}).items():
        for peer, bound in peers.items():
            if peer == "seconds":
                row = result.row(subject)
                ran = row is not None and row.status == "ok"
                add(subject, bound, row.first_call_s if ran else None, FIRST_CALL_PART)
            else:
                key = f"{subject}/{peer}"
                add(key, bound, result.first_call_ratios.get(key), FIRST_CALL_PART)


def run(
    selected: Sequence[Case],
    impls: Sequence[Implementation],
    settings: Settings,
    progress: Progress | None = None,
    notes: list[str] | None = None,
) -> list[CaseResult]:
    """Run the cases with the implementations; one-line notes on skipped ones go to
    `notes`."""
    missing = {i.name: i.missing() for i in impls}
    for impl in impls:
        if missing[impl.name] and notes is not None:
            notes.append(f"{impl.label}: skipped, {missing[impl.name]}")
    progress = progress or Progress(enabled=False)
    # steady-state rows time compiled kernels, never the interpreter of a compile under
    # way (first-call rows run in fresh processes with background compilation)
    tracer.set_compile_mode("sync")
    fresh = [v for i in impls if i.first_call for v in firstcall.variants(i)]

    def runs(case: Case) -> list[Any]:  # the implementations (or variants) with a row
        return [
            x
            for x in (fresh if case.first_call else impls)
            if (x.impl if case.first_call else x).applies(case.workload)
        ]

    progress.total += sum(len(runs(c)) + (not c.first_call) for c in selected)
    results = []
    for case in selected:
        if case.first_call:
            value = float(reference(case.workload, case.workload.inputs(case.size))[0])
            rows = []
            for v in runs(case):
                progress.step(f"{case.id} · {v.label}")
                why = missing[v.impl.name] or v.impl.skip(case.workload, case.size)
                rows.append(
                    Row(v.name, v.label, v.impl.name, "skipped", why)
                    if why
                    else run_first_call(case, v, value, settings)
                )
        else:
            rows = run_steady(case, runs(case), missing, settings, progress)
        result = CaseResult(case, rows)
        summarize(result)
        results.append(result)
    progress.close()
    return results
