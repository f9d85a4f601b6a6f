"""Thread-local grad mode: no_grad, enable_grad, set_grad_enabled."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_state = threading.local()


def is_grad_enabled() -> bool:
    """Whether operations on tensors that require grad are recorded (per thread)."""
    return getattr(_state, "enabled", True)


def _set(enabled: bool) -> None:
    _state.enabled = enabled


class _GradMode:
    """Base of the grad-mode context managers; instances also decorate functions."""

    enabled = True

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _set(self.enabled)

    def __exit__(self, *exc: object) -> None:
        _set(self._prev)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with (
                type(self)()
                if not isinstance(self, set_grad_enabled)
                else set_grad_enabled(self.enabled)
            ):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Disable gradient recording: `with tracer.no_grad(): w -= lr * w.grad`."""

    enabled = False


class enable_grad(_GradMode):
    """Re-enable gradient recording inside a no_grad region."""

    enabled = True


class set_grad_enabled(_GradMode):
    """Set grad mode on or off; takes effect at once, and undoes itself as a context."""

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._prev = is_grad_enabled()
        _set(self.enabled)

    def __enter__(self) -> None:
        pass

    def __call__(self, fn: F) -> F:
        _set(self._prev)  # used as a decorator: do not change the mode now
        return super().__call__(fn)
