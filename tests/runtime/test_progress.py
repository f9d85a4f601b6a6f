"""runtime.progress: the note shown while a compile runs for more than a second.

Tests never wait on the clock: a note due after 0 seconds is shown before the block
starts, and one due after an hour never appears in a block that returns at once.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from compiler.backend import lower
from compiler.builder import GraphBuilder
from compiler.registry import AVal
from runtime import progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal (the note redraws itself in place there)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "value, stream, shown",
    [
        ("0", Terminal(), False),  # off, even on a terminal
        ("off", Terminal(), False),
        ("1", io.StringIO(), True),  # on, even in a log file
        ("yes", io.StringIO(), True),
        ("", Terminal(), True),  # unset: where someone watches
        ("", io.StringIO(), False),
    ],
)
def test_environment_variable_decides(monkeypatch, value, stream, shown):
    # as for a user: without pytest's marker variable (pytest sets it again per phase,
    # so it is removed here, in the test's own call)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    monkeypatch.setenv(progress.ENV, value)
    assert progress.enabled(stream) is shown


def test_quiet_under_pytest_unless_asked(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "this test")
    assert progress.enabled(Terminal()) is False
    monkeypatch.setenv(progress.ENV, "1")
    assert progress.enabled(Terminal()) is True


def test_a_log_file_gets_a_line_when_it_starts_and_one_when_it_ends(monkeypatch):
    monkeypatch.setenv(progress.ENV, "1")
    out = io.StringIO()
    with progress.compiling("f_forward (3 equations)", stream=out, after=0) as note:
        assert note is not None and note.shown.is_set()
    lines = out.getvalue().splitlines()
    assert lines[0] == "tracegrad: compiling f_forward (3 equations) ..."
    assert lines[1].startswith("tracegrad: compiled f_forward (3 equations) in ")
    assert lines[1].endswith(" s") and len(lines) == 2


def test_a_terminal_gets_a_bar_redrawn_in_place_and_a_final_line(monkeypatch):
    monkeypatch.setenv(progress.ENV, "1")
    out = Terminal()
    with progress.compiling("g", stream=out, after=0):
        pass
    text = out.getvalue()
    assert text.startswith("\rtracegrad: compiling g [====")
    final = text.rsplit("\r", 1)[1]
    assert final.rstrip().startswith("tracegrad: compiled g in ") and final.endswith("\n")
    assert len(final) > len(text.split("\r")[1])  # padded over the longer progress line


def test_a_quick_block_shows_nothing(monkeypatch):
    monkeypatch.setenv(progress.ENV, "1")
    out = io.StringIO()
    with progress.compiling("h", stream=out, after=3600) as note:
        pass
    assert out.getvalue() == "" and not note.shown.is_set()


def test_turned_off_there_is_no_note_at_all(monkeypatch):
    monkeypatch.setenv(progress.ENV, "0")
    out = Terminal()
    with progress.compiling("h", stream=out, after=0) as note:
        assert note is None
    assert out.getvalue() == ""


def test_lowering_a_graph_shows_the_note_on_stderr(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(progress.ENV, "1")
    monkeypatch.setenv("TRACER_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("TRACER_DISABLE_JIT", raising=False)
    monkeypatch.setattr(progress, "AFTER", 0)
    b = GraphBuilder()
    x = b.new_input(AVal((4,), np.dtype("float32")))
    graph = b.graph([b._atom((x * 3.0).exp())])
    exe = lower(graph, "progress_test")
    np.testing.assert_allclose(
        exe([np.arange(4, dtype=np.float32)])[0], np.exp(3.0 * np.arange(4)), rtol=1e-6
    )
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "tracegrad: compiling progress_test (2 equations) ..."
    assert err[1].startswith("tracegrad: compiled progress_test (2 equations) in ")
