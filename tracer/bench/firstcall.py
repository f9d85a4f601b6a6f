"""First-call latency: import + trace + compile + one run, each sample in a fresh
Python process (`_child.py`), with a cold (empty) and a warm compile cache for the
implementations that compile to disk.

Those run with tracer's default background compilation, as a user's script does: the
first result may come from the reference interpreter while the kernel compiles in
another process, so a row also reports the time until the compiled kernel has run.
(The harness's steady-state rows compile synchronously instead.)

Every child gets its own TRACER_CACHE_DIR in a temporary directory (and no
NUMBA_CACHE_DIR, so numba's machine code lands there too): a run never touches the
user's caches, and a cold cache is really empty. The children import the same
tracer as this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracer.bench.impls import Implementation
from tracer.bench.timing import Timing

CHILD = Path(__file__).resolve().with_name("_child.py")
ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the tracer package
TIMEOUT_S = 600


class ChildError(RuntimeError):
    """A fresh-process run failed; the message ends with the child's last stderr line."""


@dataclass(frozen=True)
class Variant:
    """One first-call row: an implementation in fresh processes, with a cache state."""

    name: str  # "tracer-compiled-cold"
    label: str  # "tracer compiled, cold cache"
    impl: Implementation
    cache: str  # "cold", "warm" or "fresh" (no compile cache of ours)


def variants(impl: Implementation) -> list[Variant]:
    if impl.compiles:
        return [
            Variant(f"{impl.name}-{c}", f"{impl.label}, {c} cache", impl, c)
            for c in ("cold", "warm")
        ]
    return [Variant(impl.name, impl.label, impl, "fresh")]


def run_child(impl_name: str, workload_name: str, size: int, cache_dir: str) -> dict[str, Any]:
    """One fresh process; returns {"import_s", "first_call_s", "kernel_s", "value"}."""
    os.makedirs(cache_dir, exist_ok=True)
    env = dict(os.environ)
    env["TRACER_CACHE_DIR"] = cache_dir
    env["TRACER_COMPILE"] = "background"  # what a user's first call gets
    # numba keeps machine code beside the generated module unless NUMBA_CACHE_DIR says
    # otherwise; a shared NUMBA_CACHE_DIR would make the "cold" runs warm
    env.pop("NUMBA_CACHE_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    try:
        proc = subprocess.run(
            [sys.executable, str(CHILD), impl_name, workload_name, str(size)],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ChildError(f"fresh process timed out after {TIMEOUT_S} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ChildError(f"fresh process exited with {proc.returncode}: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class FirstCall:
    """Seconds from import to the first result: `total` per sample, with the medians
    of its two parts, and of the time from the first call until the compiled kernel
    has run (None for implementations that do not compile to disk)."""

    total: Timing
    import_s: float
    first_call_s: float
    values: tuple[float, ...]  # the loss each child computed, for the cross-check
    kernel_s: float | None = None


def measure(variant: Variant, workload: Any, size: int, repeats: int) -> FirstCall:
    """`repeats` fresh processes; a warm cache is primed by one unmeasured run first."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="tracer-bench-") as tmp:
        if variant.cache == "warm":
            run_child(variant.impl.name, workload.name, size, os.path.join(tmp, "warm"))
        for i in range(repeats):
            cache = "warm" if variant.cache == "warm" else f"{variant.cache}-{i}"
            runs.append(run_child(variant.impl.name, workload.name, size, os.path.join(tmp, cache)))
    totals = [r["import_s"] + r["first_call_s"] for r in runs]
    kernel = [r["kernel_s"] for r in runs if r.get("kernel_s") is not None]
    return FirstCall(
        Timing.of(totals),
        Timing.of([r["import_s"] for r in runs]).median,
        Timing.of([r["first_call_s"] for r in runs]).median,
        tuple(r["value"] for r in runs),
        Timing.of(kernel).median if len(kernel) == len(runs) else None,
    )
