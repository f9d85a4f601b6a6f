"""The tracing tests run on the reference interpreter unless marked `jit`.

Tracing, differentiation and the passes are the subject here; the interpreter
runs their graphs in milliseconds, while numba would spend a compile on every
one. Tests marked `@pytest.mark.jit` (the compiled-backend tests) run the
default numba path instead.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("jit") is None:
        monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    else:
        monkeypatch.delenv("TRACER_DISABLE_JIT", raising=False)
