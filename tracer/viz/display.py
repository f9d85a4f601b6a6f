"""How traced functions, IR text and cache statistics show in IPython and Jupyter.

A notebook cell ending in `f.ir(x)` would show a quoted string full of `\\n`;
`PlainText` is a `str` that IPython prints as its text. A traced function shows its
name, where it was defined and the signatures it has compiled; `cache_info()` its
counters with readable times.
"""

from __future__ import annotations

import html
import inspect
from typing import Any

from compiler.dtypes import short_name
from compiler.source import display_filename

__all__ = ["PlainText", "describe", "describe_html", "pretty_cache_info"]


class PlainText(str):
    """A `str` (compares, slices and prints as one) that IPython displays as its text
    rather than as a quoted literal."""

    __slots__ = ()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def _where(fn: Any) -> str:
    code = getattr(getattr(fn, "fn", None), "__code__", None)
    if code is None:
        return ""
    return f"{display_filename(code.co_filename)}:{code.co_firstlineno}"


def _signatures(fn: Any) -> list[str]:
    """Each cached signature as `x: f32[5] (requires grad), n=3`."""
    out = []
    for trees, kw, avals in list(fn._cache):
        paths = [p for i, t in enumerate(trees) for p in t.leaf_paths(fn._argname(i))]
        paths += [p for k, t in kw for p in t.leaf_paths(k)]
        parts = [
            f"{path}: {short_name(dtype)}[{','.join(map(str, shape))}]"
            + (" (requires grad)" if requires_grad else "")
            for path, (shape, dtype, requires_grad) in zip(paths, avals)
        ]
        statics = [f"{name}={v!r}" for name, v in fn._static_args((trees, kw, avals))]
        out.append(", ".join(parts + statics) or "no arguments")
    return out


def _kind(fn: Any) -> str:
    if hasattr(fn, "has_value"):  # tracer.value_and_grad / tracer.grad (no import cycle)
        return "value_and_grad function" if fn.has_value else "grad function"
    return "traced function"


def _times(info: Any) -> str:
    return f"traced in {info.trace_seconds:.3g} s, compiled in {info.compile_seconds:.3g} s"


def describe(fn: Any) -> str:
    """A traced function as text: what it is, where from, what it has compiled."""
    info = fn.cache_info()
    where = _where(fn)
    head = f"<{_kind(fn)} {fn.__name__}" + (f" defined at {where}" if where else "") + ">"
    try:
        head += f"\nsignature: {fn.__name__}{inspect.signature(fn.fn)}"
    except (TypeError, ValueError):
        pass
    sigs = _signatures(fn)
    lines = [
        head,
        f"calls: {info.hits + info.misses} ({info.hits} hits, {info.misses} misses); "
        + _times(info),
        f"compiled for {len(sigs)} input signature{'s' * (len(sigs) != 1)}" + (":" if sigs else ""),
    ]
    lines += [f"  ({s})" for s in sigs]
    return "\n".join(lines)


def describe_html(fn: Any) -> str:
    """`describe` as an HTML block for Jupyter."""
    info = fn.cache_info()
    where = _where(fn)
    rows = "".join(f"<li><code>({html.escape(s)})</code></li>" for s in _signatures(fn))
    try:
        sig = html.escape(f"{fn.__name__}{inspect.signature(fn.fn)}")
    except (TypeError, ValueError):
        sig = html.escape(fn.__name__)
    return (
        f"<div><b>{_kind(fn)}</b> <code>{sig}</code>"
        + (f" <small>defined at {html.escape(where)}</small>" if where else "")
        + f"<br>calls: {info.hits + info.misses} ({info.hits} hits, {info.misses} misses); "
        + f"{_times(info)}<br>compiled for {info.entries} input signature"
        + ("s" if info.entries != 1 else "")
        + (f"<ul>{rows}</ul>" if rows else "")
        + "</div>"
    )


def pretty_cache_info(info: Any) -> str:
    """`CacheInfo(hits=3, misses=1, ...)` with times rounded to 3 significant digits."""
    return (
        f"CacheInfo(hits={info.hits}, misses={info.misses}, "
        f"trace_seconds={info.trace_seconds:.3g}, compile_seconds={info.compile_seconds:.3g}, "
        f"entries={info.entries})"
    )
