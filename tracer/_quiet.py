"""Eager ops without numpy's floating-point RuntimeWarnings.

log(0) is -inf, 1/0 is inf, 0/0 and sqrt(-1) are nan, exp(1000) is inf: PyTorch
returns these silently and so does this library. The library's own numpy calls run
with numpy's error handling set to "ignore"; the user's numpy code keeps its
settings (the state is restored after each op, per thread and context).

`np.errstate` costs about a microsecond per use (it builds its settings each
time). With numpy >= 2 the state is a context variable, and setting it to
settings built once costs a tenth of that; older numpy uses `np.errstate`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["quiet", "quiet_enter", "quiet_exit"]

quiet_enter: Callable[[], Any]
quiet_exit: Callable[[Any], Any]

try:
    from numpy._core.umath import _extobj_contextvar as _state
except ImportError:  # numpy < 2
    _state = None

if _state is not None:
    with np.errstate(all="ignore"):
        _IGNORE = _state.get()

    def quiet_enter() -> Any:
        """Start ignoring floating-point errors; returns the token for quiet_exit."""
        return _state.set(_IGNORE)

    quiet_exit = _state.reset
else:  # pragma: no cover - depends on the numpy version

    def quiet_enter() -> Any:
        """Start ignoring floating-point errors; returns the token for quiet_exit."""
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def quiet_exit(token: Any) -> None:
        token.__exit__(None, None, None)


@contextmanager
def quiet() -> Iterator[None]:
    """`with quiet():` numpy ignores floating-point errors in the block."""
    token = quiet_enter()
    try:
        yield
    finally:
        quiet_exit(token)
