"""Find the user's line of code that is running a library call."""

from __future__ import annotations

import linecache
import os
import sys

_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(__import__(pkg).__file__)) + os.sep
    for pkg in ("compiler", "runtime")
) + (os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tracer")
     + os.sep,)
_SKIP = ("<frozen", "contextlib.py", "functools.py")


def user_frame() -> tuple[str, int] | None:
    """(filename, line) of the innermost frame outside this library."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_filename
        if not name.startswith(_LIBRARY_DIRS) and not any(s in name for s in _SKIP):
            return name, f.f_lineno
        f = f.f_back
    return None


def user_location() -> str:
    """`file.py:12` of the user's line, or '' when called from the library itself."""
    where = user_frame()
    return f"{os.path.basename(where[0])}:{where[1]}" if where else ""


def describe_location() -> str:
    """`file.py:12: <the source line>` for error messages."""
    where = user_frame()
    if where is None:
        return ""
    text = linecache.getline(where[0], where[1]).strip()
    return f"{where[0]}:{where[1]}" + (f": {text}" if text else "")
