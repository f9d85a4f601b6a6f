"""A traced value's IR variable is `Sym.ir_var`; `var` is the variance method (as on
every tensor). Code written before the rename that reads `x.var` of a traced value
would get a bound method, not a Var: `id(x.var)` or `x.var in graph.inputs` then
go silently wrong. This test reads the library's source for attribute reads of
`.var` that are not calls."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ_NOT_CALLED = re.compile(r"\.var\b(?!\s*\()")
SOURCES = sorted(p for d in ("compiler", "tracer", "runtime") for p in (ROOT / d).rglob("*.py"))


def test_no_attribute_read_of_var():
    hits = [
        f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
        for path in SOURCES
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if READ_NOT_CALLED.search(line)
    ]
    assert SOURCES and not hits, "read .ir_var (the IR variable), not .var:\n" + "\n".join(hits)
