"""The random draws of samplers and random_split, from tracer's generator.

Without a generator they use the global stream (reproducible under tracer.manual_seed);
a generator is passed on only when given, so these work with tracer versions whose
random functions do not take `generator=` yet (then giving one is refused, clearly).
"""

from __future__ import annotations

import inspect
from typing import Any

import tracer


def _takes_generator(fn: Any) -> bool:
    try:
        return "generator" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def check_generator(generator: Any, where: str) -> None:
    """Refuse `generator` (TypeError) when tracer's random functions cannot take it."""
    if generator is not None and not _takes_generator(tracer.randperm):
        raise TypeError(
            f"{where}: generator= needs tracer.randperm(..., generator=), which this version "
            "of tracer does not have; seed the global generator with tracer.manual_seed(...) "
            "instead"
        )


def randperm(n: int, generator: Any = None, where: str = "randperm") -> list[int]:
    """A random permutation of range(n) as a list."""
    if generator is None:
        return tracer.randperm(n).tolist()
    check_generator(generator, where)
    return tracer.randperm(n, generator=generator).tolist()


def randint(high: int, size: int, generator: Any = None, where: str = "randint") -> list[int]:
    """`size` integers drawn uniformly from [0, high), as a list."""
    if generator is None:
        return tracer.randint(0, high, (size,)).tolist()
    if not _takes_generator(tracer.randint):
        raise TypeError(
            f"{where}: generator= needs tracer.randint(..., generator=), which this version "
            "of tracer does not have; seed the global generator with tracer.manual_seed(...) "
            "instead"
        )
    return tracer.randint(0, high, (size,), generator=generator).tolist()


def draw_seed(generator: Any = None) -> int:
    """One int64 seed drawn as PyTorch's data loading draws it:
    `empty((), dtype=int64).random_(generator=...)`, from the global stream when
    `generator` is None."""
    t = tracer.empty((), dtype=tracer.int64)
    if generator is None:
        return int(t.random_().item())
    return int(t.random_(generator=generator).item())
