"""Timing a step: warm-up, an inner loop long enough to time, repeated samples, and
order statistics (median, quartiles) rather than means or single runs."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

PAUSE_S = 0.002  # before each sample, untimed


@dataclass(frozen=True)
class Settings:
    """How long to measure. `quick` trades precision for a run of seconds."""

    warmup: int = 3  # calls before calibrating (compiles, caches, allocator)
    min_sample_s: float = 0.005  # an inner loop runs at least this long
    min_repeats: int = 7
    max_repeats: int = 31
    budget_s: float = 1.5  # repeats stop growing past this much time per row
    first_call_repeats: int = 3  # fresh processes per first-call row

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            warmup=1,
            min_sample_s=0.001,
            min_repeats=3,
            max_repeats=5,
            budget_s=0.1,
            first_call_repeats=1,
        )


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median and quartiles of `samples`, each the mean of `loops` calls."""

    median: float
    q25: float
    q75: float
    samples: tuple[float, ...]
    loops: int

    @property
    def iqr(self) -> float:
        return self.q75 - self.q25

    @classmethod
    def of(cls, samples: list[float], loops: int = 1) -> Timing:
        q25, median, q75 = np.percentile(samples, [25, 50, 75]).tolist()
        return cls(median, q25, q75, tuple(samples), loops)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["samples"] = list(self.samples)
        d["iqr"] = self.iqr
        d["min"] = min(self.samples)
        return d


def _loop_seconds(step: Callable[[], Any], loops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        step()
    return time.perf_counter() - t0


def _round_up(n: float) -> int:
    """The next loop count in 1, 2, 5, 10, 20, 50, ... at or above n."""
    scale = 1
    while True:
        for m in (1, 2, 5):
            if m * scale >= n:
                return m * scale
        scale *= 10


def calibrate(step: Callable[[], Any], min_sample_s: float) -> int:
    """The loop count (1, 2, 5, 10, ...) for samples of at least min_sample_s. Sized from
    the fastest of three single calls, so one slow call (another process, a page
    fault) does not leave the samples short of loops."""
    per_call = min(_loop_seconds(step, 1) for _ in range(3))
    loops = _round_up(min_sample_s / max(per_call, 1e-9))
    while loops > 1 and (t := _loop_seconds(step, loops)) < min_sample_s:
        loops = _round_up(loops * min_sample_s / max(t, 1e-9))  # timer too coarse: grow
    return loops


def measure(
    steps: Sequence[Callable[[], Any]],
    settings: Settings,
    on_round: Callable[[int, int], None] | None = None,
) -> list[Timing | Exception]:
    """Time several steps side by side: warm up and calibrate each, then take their
    samples round-robin, so a burst of load from another process lands on all of them
    rather than on whichever was being timed. A short pause before each sample lets
    the previous library's spinning worker threads park. The garbage collector stays
    on: freeing an eager graph's cycles is part of its cost. A step that raises gets
    its exception in place of a Timing."""
    loops: list[int] = []
    repeats: list[int] = []
    failed: dict[int, Exception] = {}
    for i, step in enumerate(steps):
        try:
            for _ in range(settings.warmup):
                step()
            loops.append(calibrate(step, settings.min_sample_s))
            sample_s = _loop_seconds(step, loops[-1])
        except Exception as e:
            failed[i] = e
            loops.append(1)
            sample_s = 0.0
        repeats.append(
            int(
                min(
                    settings.max_repeats,
                    max(settings.min_repeats, settings.budget_s // max(sample_s, 1e-9)),
                )
            )
        )
    samples: list[list[float]] = [[] for _ in steps]
    gc.collect()
    rounds = max(repeats, default=0)
    for r in range(rounds):
        if on_round:
            on_round(r + 1, rounds)
        for i, step in enumerate(steps):
            if r < repeats[i] and i not in failed:
                time.sleep(PAUSE_S)
                try:
                    samples[i].append(_loop_seconds(step, loops[i]) / loops[i])
                except Exception as e:
                    failed[i] = e
    return [
        failed[i] if i in failed else Timing.of(samples[i], loops[i]) for i in range(len(steps))
    ]
