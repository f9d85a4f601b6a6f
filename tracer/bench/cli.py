"""`python -m tracer.bench`: choose, run, print, save."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from tracer.bench import machine, report, runner
from tracer.bench.impls import IMPLEMENTATIONS, THREADS_ENV, Implementation
from tracer.bench.timing import Settings
from tracer.bench.workloads import WORKLOADS, Workload


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tracer.bench",
        description="Time tracer's compiled value_and_grad against its eager mode, numpy "
        "by hand, PyTorch eager and JAX jit (when installed), after checking "
        "that every implementation computes the same value and gradients.",
    )
    p.add_argument(
        "--quick", action="store_true", help="small sizes and short timings: a run of seconds"
    )
    p.add_argument(
        "--workload",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this workload or case (repeatable; see --list)",
    )
    p.add_argument(
        "--impl",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this implementation (repeatable; see --list)",
    )
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--plot", metavar="PATH", help="write a PNG bar chart (needs matplotlib)")
    p.add_argument(
        "--list", action="store_true", help="list workloads, cases and implementations, then exit"
    )
    p.add_argument("--quiet", action="store_true", help="no progress display on stderr")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="threads for PyTorch (default: one per usable core) and for numpy's OpenBLAS, "
        "which tracer's matmuls call (default: OpenBLAS's own); on a busy machine "
        "--threads 1 keeps multi-threaded BLAS from stalling on descheduled threads. "
        "JAX keeps XLA's thread pool",
    )
    return p


def list_text(workloads: Mapping[str, Workload], impls: Mapping[str, Implementation]) -> str:
    def ids(quick: bool, first_call: bool, ws: list[Workload]) -> str:
        return ", ".join(c.id for c in runner.cases(ws, quick) if c.first_call == first_call)

    lines = ["workloads (--workload NAME runs its cases; a case id runs that one):"]
    groups = [(w.name, w.title, [w], False) for w in workloads.values()]
    groups.append(
        (
            runner.FIRST_CALL,
            "import + trace + compile + first call in fresh processes (cold and warm cache)",
            list(workloads.values()),
            True,
        )
    )
    for name, title, ws, first_call in groups:
        lines.append(f"  {name:<11} {title}")
        lines.append(
            f"  {'':<11} cases: {ids(False, first_call, ws) or '-'}; "
            f"with --quick: {ids(True, first_call, ws) or '-'}"
        )
    lines.append("implementations (--impl NAME):")
    for i in impls.values():
        why = i.missing()
        lines.append(f"  {i.name:<16} {i.label}" + (f"  [skipped: {why}]" if why else ""))
    return "\n".join(lines)


def pin_threads(n: int) -> None:
    """Run the torch rows and numpy's OpenBLAS with n threads, here and in the fresh
    processes of the first-call rows (which inherit the environment)."""
    os.environ[THREADS_ENV] = str(n)
    os.environ["OPENBLAS_NUM_THREADS"] = str(n)  # fresh processes
    machine.set_blas_threads(n)  # this one: numpy has loaded OpenBLAS already


def main(
    argv: Sequence[str] | None = None,
    workloads: Mapping[str, Workload] | None = None,
    impls: Mapping[str, Implementation] | None = None,
) -> int:
    """Run the benchmark; 0 when every implementation agreed with the reference, 1 when
    one was wrong or failed, 2 for a usage error. Tests pass their own registries."""
    args = parser().parse_args(argv)
    workloads = WORKLOADS if workloads is None else workloads
    impls = IMPLEMENTATIONS if impls is None else impls
    if args.list:
        print(list_text(workloads, impls))
        return 0
    try:
        cases = runner.select(workloads.values(), args.quick, args.workload)
    except ValueError as e:
        print(f"tracer.bench: {e}", file=sys.stderr)
        return 2
    unknown = [n for n in args.impl if n not in impls]
    if unknown:
        print(
            f"tracer.bench: unknown implementation {unknown[0]!r}; choose from: {', '.join(impls)}",
            file=sys.stderr,
        )
        return 2
    chosen = [i for i in impls.values() if not args.impl or i.name in args.impl]
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(
                "tracer.bench: --plot needs matplotlib, which is not installed; install it "
                "with `pip install 'tracegrad[bench]'` (or `pip install matplotlib`), or "
                "run without --plot",
                file=sys.stderr,
            )
            return 2

    if args.threads is not None:
        if args.threads < 1:
            print(
                f"tracer.bench: --threads must be at least 1, got {args.threads}", file=sys.stderr
            )
            return 2
        pin_threads(args.threads)
    settings = Settings.quick() if args.quick else Settings()
    header = machine.collect()
    print(machine.format_header(header), flush=True)
    notes: list[str] = []
    results = runner.run(cases, chosen, settings, runner.Progress(enabled=not args.quiet), notes)

    for note in notes:
        print(f"note: {note}")
    for res in results:
        print()
        print(report.format_case(res))
    summary = report.format_targets(results)
    if summary:
        print()
        print(summary)
    noise = report.noise_note(results)
    if noise:
        print()
        print(noise)
    data = report.to_json(header, settings, notes, results)
    if args.json:
        report.write_json(args.json, data)
        print(f"\nwrote {args.json}")
    if args.plot:
        report.plot(args.plot, results, header)
        print(f"wrote {args.plot}")
    if not data["ok"]:
        bad = [
            f"{res.case.id}/{r.name}"
            for res in results
            for r in res.rows
            if r.status in ("wrong", "error")
        ]
        print(
            f"\ntracer.bench: {len(bad)} row(s) WRONG or failed: {', '.join(bad)}", file=sys.stderr
        )
        return 1
    return 0
