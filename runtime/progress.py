"""A progress note on stderr while a compile runs for more than a second.

numba compiles a generated module in one blocking call whose length cannot be known
in advance, so the note shows what is being compiled, a moving bar and the seconds
so far, and says how long it took when it ends:

    tracegrad: compiling mlp_value_and_grad (61 equations) [   =====        ] 2.5 s
    tracegrad: compiled mlp_value_and_grad (61 equations) in 3.1 s

``TRACER_PROGRESS`` decides whether it is shown: ``0`` never, ``1`` always; unset,
only where someone watches: a terminal, or a Jupyter kernel's cell output, and never
under pytest. On a stream that is not a terminal or a notebook (a log file, with
``TRACER_PROGRESS=1``), it writes one line when the note starts and one when it ends.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO

__all__ = ["ENV", "Note", "compiling", "enabled"]

ENV = "TRACER_PROGRESS"
#: seconds a compile runs before the note appears
AFTER = 1.0
_BAR = 16


def _live(stream: IO[str]) -> bool:
    """Can the line be redrawn in place (a terminal, or a notebook cell, which both
    honour a carriage return)?"""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # closed or not a real file
        return False
    return type(stream).__module__.startswith("ipykernel")


def enabled(stream: IO[str] | None = None) -> bool:
    """Whether compile notes are shown on `stream` (default sys.stderr), per
    ``TRACER_PROGRESS`` (see the module docstring)."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    if "PYTEST_CURRENT_TEST" in os.environ:
        return False
    return _live(stream if stream is not None else sys.stderr)


class Note:
    """The note of one compile: a thread that shows it once `after` seconds have
    passed and redraws it until `stop()`. `shown` is set when it first appears."""

    def __init__(self, what: str, stream: IO[str], after: float = AFTER) -> None:
        self.what = what
        self.stream = stream
        self.after = after
        self.live = _live(stream)
        self.shown = threading.Event()
        self._done = threading.Event()
        self._start = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="tracegrad-progress", daemon=True)

    def start(self) -> None:
        if self.after <= 0:  # shown at once, by the caller (so it is there on return)
            self._show()
        self._thread.start()

    def _line(self, tick: int) -> str:
        span = 2 * (_BAR - 4)
        pos = tick % span
        pos = pos if pos < _BAR - 4 else span - pos
        bar = " " * pos + "====" + " " * (_BAR - 4 - pos)
        seconds = time.perf_counter() - self._start
        return f"\rtracegrad: compiling {self.what} [{bar}] {seconds:.1f} s"

    def _write(self, text: str) -> None:
        with contextlib.suppress(Exception):  # a closed stream must not break a compile
            self.stream.write(text)
            self.stream.flush()

    def _show(self) -> None:
        if self.live:
            self._write(self._line(0))
        else:
            self._write(f"tracegrad: compiling {self.what} ...\n")
        self.shown.set()

    def _run(self) -> None:
        if not self.shown.is_set():
            if self._done.wait(self.after):
                return
            self._show()
        tick = 1
        while self.live and not self._done.wait(0.25):
            self._write(self._line(tick))
            tick += 1

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        if self.shown.is_set():
            seconds = time.perf_counter() - self._start
            end = f"tracegrad: compiled {self.what} in {seconds:.1f} s"
            # pad over the longer progress line when redrawing it in place
            self._write(f"\r{end:<{len(self.what) + _BAR + 40}}\n" if self.live else end + "\n")


@contextlib.contextmanager
def compiling(
    what: str, stream: IO[str] | None = None, after: float | None = None
) -> Iterator[Note | None]:
    """Show a note about compiling `what` if the block runs longer than `after`
    seconds (default `AFTER`, one second), when notes are enabled for `stream`
    (default sys.stderr). Yields the Note, or None when notes are off."""
    stream = stream if stream is not None else sys.stderr
    after = AFTER if after is None else after
    if not enabled(stream):
        yield None
        return
    note = Note(what, stream, after)
    note.start()
    try:
        yield note
    finally:
        note.stop()
