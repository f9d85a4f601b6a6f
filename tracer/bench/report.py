"""Reading the results: a table per case, the targets at a glance, JSON, and a chart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tracer.bench.runner import (
    FIRST_CALL,
    FIRST_CALL_PART,
    SUBJECT,
    SUBJECTS,
    CaseResult,
    Row,
    Target,
)

SCHEMA = "tracer.bench/1"
SUBJECT_LABEL = "tracer compiled"  # left out of the targets table's row names
# the order of a case's ratios
PEER_ORDER = ("jax", "numpy", "torch", "tracer-unrolled", "tracer-eager")


def unit(t: float) -> tuple[float, str]:
    """The scale and name of the unit that shows `t` seconds with 1 to 3 integer digits."""
    return next(
        ((scale, name) for scale, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")) if t >= scale),
        (1e-9, "ns"),
    )


def seconds(t: float | None) -> str:
    """A duration with three significant digits in a readable unit: 812 µs, 1.23 s."""
    if t is None:
        return "-"
    scale, name = unit(t)
    v = t / scale
    return f"{v:.0f} {name}" if v >= 100 else f"{v:.3g} {name}"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _labels(results: Sequence[CaseResult]) -> dict[str, str]:
    return {r.name: r.label for res in results for r in res.rows}


def _verdict(t: Target) -> str:
    bound = seconds(t.bound) if t.seconds else f"{t.bound:g}"
    return f"target ≤ {bound}: {'met' if t.met else 'MISSED'}"


def _subject_text(subject: str, measure: str, labels: dict[str, str]) -> str:
    text = labels.get(subject, subject)
    return text + (f", {measure} (import excluded)" if measure != "median" else "")


def target_text(t: Target, labels: dict[str, str]) -> str:
    if t.seconds:
        text = _subject_text(t.key, t.measure, labels)
        shown = seconds(t.value)
    else:
        subject, peer = t.key.split("/")
        text = f"{_subject_text(subject, t.measure, labels)} ÷ {labels.get(peer, peer)}"
        shown = ratio(t.value)
    if t.value is None:
        bound = seconds(t.bound) if t.seconds else f"{t.bound:g}"
        return f"{text}: not measured (target ≤ {bound})"
    return f"{text} = {shown} ({_verdict(t)})"


def _status(row: Row) -> str:
    if row.status == "ok":
        return f"ok (error {row.max_error:.0e})" if row.max_error is not None else "ok"
    return f"{row.status.upper() if row.status != 'skipped' else 'skipped'}: {row.reason}"


def format_case(result: CaseResult) -> str:
    """One case: each implementation's median, spread and ratio to the best, then the
    tracer-compiled ratios against each peer."""
    case, w = result.case, result.case.workload
    if case.first_call:
        title = (
            f"{case.id}  fresh process: import + trace + compile + first call · "
            f"{w.title} · size {w.size_label(case.size)}, float32\n"
            "  (tracer compiles in the background: its first result may come from the "
            "interpreter; 'kernel': from the first call until the compiled kernel ran)"
        )
        head = [
            *("implementation", "median", "IQR", "× best", "import", "1st call", "kernel"),
            *("runs", "check"),
        ]
    else:
        title = f"{case.id}  {w.title} · size {w.size_label(case.size)}, float32"
        head = ["implementation", "median", "IQR", "× best", "loops×runs", "check"]
    table = [head]
    for r in result.rows:
        t = r.timing
        iqr = (
            "-"
            if t is None or len(t.samples) < 3 or not t.median
            else f"{100 * t.iqr / t.median:.1f}%"
        )
        cells = [r.label, seconds(t and t.median), iqr, ratio(r.vs_best)]
        if case.first_call:
            cells += [
                seconds(r.import_s),
                seconds(r.first_call_s),
                seconds(r.kernel_s),
                "-" if t is None else str(len(t.samples)),
            ]
        else:
            cells += ["-" if t is None else f"{t.loops}×{len(t.samples)}"]
        table.append(cells + [_status(r)])
    widths = [max(len(row[i]) for row in table) for i in range(len(head) - 1)]
    lines = [title]
    for row in table:
        cells = [row[0].ljust(widths[0])] + [c.rjust(wd) for c, wd in zip(row[1:-1], widths[1:])]
        lines.append("  " + "  ".join(cells + [row[-1]]).rstrip())
    lines += ratio_lines(result)
    return "\n".join(lines)


def ratio_lines(result: CaseResult) -> list[str]:
    """Per tracer-compiled row, one line of its ratios: targeted peers first (with the
    target), then JAX, numpy, torch, the unrolled trace, tracer eager. First-call cases
    add a line per row comparing the first calls alone (import excluded)."""
    labels = _labels([result])
    lines = _ratio_lines(result.ratios, result.targets, "median", labels)
    lines += _ratio_lines(result.first_call_ratios, result.targets, FIRST_CALL_PART, labels)
    lines += [f"  {target_text(t, labels)}" for t in result.targets if t.value is None]
    return lines


def _ratio_lines(
    ratios: dict[str, float], targets: Sequence[Target], measure: str, labels: dict[str, str]
) -> list[str]:
    mine = {t.key: t for t in targets if t.measure == measure}
    by_subject: dict[str, list[str]] = {}

    def order(key: str) -> tuple[str, bool, int]:
        subject, peer = key.split("/")
        rank = PEER_ORDER.index(peer) if peer in PEER_ORDER else len(PEER_ORDER)
        return subject, key not in mine, rank

    for key in sorted(ratios, key=order):
        subject, peer = key.split("/")
        text = f"÷ {labels[peer]} = {ratio(ratios[key])}"
        if key in mine:
            text += f" ({_verdict(mine[key])})"
        by_subject.setdefault(subject, []).append(text)
    for t in mine.values():
        if t.seconds and t.value is not None:
            by_subject.setdefault(t.key, []).insert(0, f"= {seconds(t.value)} ({_verdict(t)})")
    return [
        f"  {_subject_text(s, measure, labels)} " + " · ".join(parts)
        for s, parts in by_subject.items()
    ]


def format_targets(results: Sequence[CaseResult]) -> str:
    """Every target of the run in one table: tracer compiled's time over its peer's."""
    table = [["case", "ratio", "value", "target", ""]]
    for res in results:
        labels = _labels([res])  # a case may name its rows its own way (adam-step)
        for t in res.targets:
            subject, _, peer = t.key.partition("/")
            name = labels.get(subject, subject).replace(SUBJECT_LABEL, "")
            name = name.strip(", ")
            if t.measure != "median":
                name = f"{name}, {t.measure}".strip(", ")
            if t.seconds:
                name += " (s)"
                value, bound = seconds(t.value), f"≤ {seconds(t.bound)}"
            else:
                name = (name + " " if name else "") + f"÷ {labels.get(peer, peer)}"
                value, bound = ratio(t.value), f"≤ {t.bound:g}"
            verdict = "not measured" if t.value is None else "met" if t.met else "MISSED"
            table.append([res.case.id, name, value, bound, verdict])
    if len(table) == 1:
        return ""
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = [
        f"targets: {SUBJECT_LABEL} time ÷ peer time (medians; below 1 is "
        f"faster), or seconds; '{FIRST_CALL_PART}': trace + compile + first call, import "
        "excluded"
    ]
    for row in table:
        lines.append(
            "  "
            + "  ".join(
                [
                    row[0].ljust(widths[0]),
                    row[1].ljust(widths[1]),
                    row[2].rjust(widths[2]),
                    row[3].ljust(widths[3]),
                    row[4],
                ]
            ).rstrip()
        )
    return "\n".join(lines)


NOISY_IQR = 0.25  # a spread above this fraction of the median is called out


def noise_note(results: Sequence[CaseResult]) -> str:
    """A warning when several rows spread widely: the machine was busy during the run."""
    noisy = [
        f"{res.case.id}/{r.name}"
        for res in results
        for r in res.rows
        if r.timing
        and len(r.timing.samples) >= 3
        and r.timing.median
        and r.timing.iqr > NOISY_IQR * r.timing.median
    ]
    if not noisy:
        return ""
    return (
        f"note: {len(noisy)} row(s) have an IQR above {NOISY_IQR:.0%} of their median "
        f"({', '.join(noisy[:4])}{', ...' if len(noisy) > 4 else ''}): something else "
        "was using the CPU; rerun on a quiet machine before trusting those ratios"
    )


def to_json(
    header: dict[str, Any], settings: Any, notes: list[str], results: Sequence[CaseResult]
) -> dict[str, Any]:
    def row(r: Row) -> dict[str, Any]:
        return {
            "name": r.name,
            "label": r.label,
            "impl": r.impl,
            "status": r.status,
            "reason": r.reason,
            "median_s": r.timing and r.timing.median,
            "iqr_s": r.timing and r.timing.iqr,
            "timing": r.timing and r.timing.to_json(),
            "vs_best": r.vs_best,
            "max_error": r.max_error,
            "import_s": r.import_s,
            "first_call_s": r.first_call_s,
            "kernel_s": r.kernel_s,
        }

    def target(t: Target) -> dict[str, Any]:
        return {
            "ratio": t.key,
            "value": t.value,
            "bound": t.bound,
            "met": t.met,
            "measure": t.measure,
            "unit": "s" if t.seconds else "ratio",
        }

    cases = [
        {
            "id": res.case.id,
            "group": res.case.group,
            "workload": res.case.workload.name,
            "title": res.case.workload.title,
            "size": res.case.size,
            "kind": FIRST_CALL if res.case.first_call else "steady",
            "results": {r.name: row(r) for r in res.rows},
            "ratios": dict(res.ratios),
            "first_call_ratios": dict(res.first_call_ratios),
            "targets": [target(t) for t in res.targets],
        }
        for res in results
    ]
    return {
        "schema": SCHEMA,
        "header": header,
        "settings": vars(settings),
        "notes": notes,
        "subject": SUBJECT,
        "cases": cases,
        "targets": [dict(target(t), case=res.case.id) for res in results for t in res.targets],
        "ok": all(r.status in ("ok", "skipped") for res in results for r in res.rows),
    }


def write_json(path: str, data: dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=2, default=str)
        f.write("\n")


def plot(path: str, results: Sequence[CaseResult], header: dict[str, Any]) -> None:
    """A horizontal bar chart per case of the median times; tracer compiled stands out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [res for res in results if any(r.timing for r in res.rows)]
    cols = 2 if len(shown) > 1 else 1
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 0.5 + 2.2 * rows), squeeze=False)
    for ax in axes.flat[len(shown) :]:
        ax.axis("off")
    for ax, res in zip(axes.flat, shown):
        timed = [r for r in res.rows if r.timing]
        times = [r.timing.median for r in timed]
        scale, name = unit(max(times))
        ax.barh(
            [f"{r.label}  {ratio(r.vs_best)}×" for r in timed],
            [t / scale for t in times],
            xerr=[
                [(r.timing.median - r.timing.q25) / scale for r in timed],
                [(r.timing.q75 - r.timing.median) / scale for r in timed],
            ],
            color=["tab:orange" if r.impl in SUBJECTS else "tab:blue" for r in timed],
        )
        ax.invert_yaxis()
        ax.set_title(res.case.id, fontsize=10)
        ax.set_xlabel(f"median {name}, whiskers: IQR (labels: × best)", fontsize=8)
        ax.tick_params(labelsize=8)
    fig.suptitle(
        f"tracer.bench · {header.get('cpu')} · {header.get('usable_cores')} cores · "
        f"tracer: {header.get('tracer_path')}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
