"""Find the user's line of code that is running a library call."""

from __future__ import annotations

import linecache
import os
import sys
import warnings
from typing import Any

_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(__import__(pkg).__file__)) + os.sep
    for pkg in ("compiler", "runtime")
) + (os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tracer") + os.sep,)
_SKIP = ("<frozen", "contextlib.py", "functools.py")


def user_frame() -> tuple[str, int] | None:
    """(filename, line) of the innermost frame outside this library."""
    f = sys._getframe(1)
    while f is not None:
        if not _is_library(f.f_code.co_filename):
            return f.f_code.co_filename, f.f_lineno
        f = f.f_back
    return None


def user_location() -> str:
    """`file.py:12` of the user's line (`In[3]:12` in a notebook cell), or '' when
    called from the library itself."""
    where = user_frame()
    return f"{display_filename(where[0])}:{where[1]}" if where else ""


def display_filename(filename: str) -> str:
    """A file's base name; for code typed into IPython or Jupyter, the cell's label as
    IPython's tracebacks show it (`In[3]`), not the kernel's temporary file name."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        try:
            label = shell.compile.format_code_name(filename)
        except Exception:  # an IPython without format_code_name, or another shell
            label = None
        if label is not None:
            return label[1]
    return os.path.basename(filename)


def describe_location() -> str:
    """`file.py:12: <the source line>` for error messages."""
    where = user_frame()
    if where is None:
        return ""
    text = linecache.getline(where[0], where[1]).strip()
    return f"{where[0]}:{where[1]}" + (f": {text}" if text else "")


def warn_at_user_line(message: str, category: type[Warning]) -> None:
    """warnings.warn, attributed to the innermost line outside this library."""
    level, f = 1, sys._getframe(0)
    while f is not None and _is_library(f.f_code.co_filename):
        f = f.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


def _is_library(filename: str) -> bool:
    return filename.startswith(_LIBRARY_DIRS) or any(s in filename for s in _SKIP)


def traceback_location(tb: Any) -> str | None:
    """`file.py:12: <source line>` of the innermost user frame of a traceback, when the
    exception was raised inside the library (None when the user's code raised it)."""
    frames = []
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    if not frames or not _is_library(frames[-1][0]):
        return None
    for name, line in reversed(frames):
        if not _is_library(name):
            text = linecache.getline(name, line).strip()
            return f"{name}:{line}" + (f": {text}" if text else "")
    return None
