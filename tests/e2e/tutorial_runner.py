"""Run a tutorial program written for `torch` with PyTorch or with tracer in its place.

A program is a Python file that imports `torch`; `run_program(path, "tracer")` makes
the one change a user makes (`import torch` -> `import tracer as torch`, `from
torch.nn import ...` -> `from tracer.nn import ...`), runs it as `__main__` and returns
what it printed and its final namespace.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

_IMPORT = re.compile(r"^(\s*)(import|from)\s+torch\b(.*)$")


def to_tracer(source: str) -> str:
    """The program with each `torch` import replaced by the same import of tracer."""
    lines = []
    for line in source.splitlines():
        m = _IMPORT.match(line)
        if m is None:
            lines.append(line)
            continue
        indent, keyword, rest = m.groups()
        if keyword == "import" and (rest.strip() == "" or rest.strip().startswith("#")):
            lines.append(f"{indent}import tracer as torch")
        else:
            lines.append(f"{indent}{keyword} tracer{rest}")
    return "\n".join(lines) + "\n"


def run_program(path: Path, library: str) -> tuple[str, dict[str, Any]]:
    """(stdout, namespace) of the program at `path` run with `library` as torch."""
    source = path.read_text()
    if library == "tracer":
        source = to_tracer(source)
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(path)}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, str(path), "exec"), namespace)
    return out.getvalue(), namespace
