"""Timing a step: warm-up, an inner loop long enough to time, repeated samples, and
order statistics (median, quartiles) rather than means or single runs."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Settings:
    """How long to measure. `quick` trades precision for a run of seconds."""

    warmup: int = 3             # calls before calibrating (compiles, caches, allocator)
    min_sample_s: float = 0.005  # an inner loop runs at least this long
    min_repeats: int = 7
    max_repeats: int = 31
    budget_s: float = 1.5       # repeats stop growing past this much time per row
    first_call_repeats: int = 3  # fresh processes per first-call row

    @classmethod
    def quick(cls) -> Settings:
        return cls(warmup=1, min_sample_s=0.001, min_repeats=3, max_repeats=5, budget_s=0.1,
                   first_call_repeats=1)


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


def measure(step: Callable[[], Any], settings: Settings) -> Timing:
    """Warm up, calibrate the inner loop, then time repeated samples. The garbage
    collector stays on: freeing an eager graph's cycles is part of its cost."""
    for _ in range(settings.warmup):
        step()
    loops = calibrate(step, settings.min_sample_s)
    sample_s = _loop_seconds(step, loops)
    repeats = int(min(settings.max_repeats,
                      max(settings.min_repeats, settings.budget_s // max(sample_s, 1e-9))))
    gc.collect()
    samples = [_loop_seconds(step, loops) / loops for _ in range(repeats)]
    return Timing.of(samples, loops)
