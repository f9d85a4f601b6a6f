"""DOT text for graph pictures, and the `Drawing` that renders it with Graphviz.

The DOT source is built here, without any optional package, so it can be read and
tested anywhere. Turning it into a picture needs the `graphviz` Python package and
Graphviz's `dot` program (the `[viz]` extra): `Drawing.render`, `save`, `pipe`, the
Jupyter display methods and `to_graphviz` raise `VizUnavailable` naming what to
install when either is missing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Dot", "Drawing", "VizUnavailable"]

#: formats `render`/`save` accept, by file suffix
FORMATS = ("svg", "png", "pdf", "dot", "gv")

_INSTALL = (
    "install the extra with `pip install 'tracegrad[viz]'` (the graphviz Python package) "
    "and Graphviz's `dot` program (`apt-get install graphviz`, `brew install graphviz`, "
    "`conda install graphviz`, or https://graphviz.org/download/)"
)


class VizUnavailable(RuntimeError):
    """Rendering a picture needs the `graphviz` package and the `dot` program."""


def quote(text: str) -> str:
    """A DOT string literal: backslashes and quotes escaped, lines joined with `\\l`
    (each line left-justified, as a code listing reads)."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    lines = text.split("\n")
    return '"' + "\\l".join(lines) + ('\\l"' if len(lines) > 1 else '"')


def _attrs(attrs: dict[str, str]) -> str:
    if not attrs:
        return ""
    return " [" + " ".join(f"{k}={quote(str(v))}" for k, v in attrs.items()) + "]"


@dataclass
class Dot:
    """A directed graph being written as DOT text: nodes, edges and clusters, in the
    order they are added (so the text is the same at every run)."""

    name: str
    graph_attrs: dict[str, str] = field(default_factory=dict)
    node_attrs: dict[str, str] = field(default_factory=dict)
    edge_attrs: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    nodes: int = 0
    edges: int = 0
    _depth: int = 1

    def node(self, node_id: str, label: str, **attrs: str) -> None:
        self.lines.append("  " * self._depth + f"{node_id}{_attrs({'label': label, **attrs})}")
        self.nodes += 1

    def edge(self, tail: str, head: str, **attrs: str) -> None:
        self.lines.append("  " * self._depth + f"{tail} -> {head}{_attrs(attrs)}")
        self.edges += 1

    def open_cluster(self, cluster_id: str, label: str, **attrs: str) -> None:
        """Start `subgraph cluster_<id>`: nodes added until `close_cluster` are drawn
        inside one box."""
        pad = "  " * self._depth
        self.lines.append(f"{pad}subgraph cluster_{cluster_id} {{")
        for k, v in {"label": label, **attrs}.items():
            self.lines.append(f"{pad}  {k}={quote(v)}")
        self._depth += 1

    def close_cluster(self) -> None:
        self._depth -= 1
        self.lines.append("  " * self._depth + "}")

    def source(self) -> str:
        head = [f"digraph {self.name} {{"]
        if self.graph_attrs:
            head.append("  graph" + _attrs(self.graph_attrs))
        if self.node_attrs:
            head.append("  node" + _attrs(self.node_attrs))
        if self.edge_attrs:
            head.append("  edge" + _attrs(self.edge_attrs))
        return "\n".join(head + self.lines + ["}"]) + "\n"

    def drawing(self, title: str) -> Drawing:
        return Drawing(self.source(), title, self.nodes, self.edges)


def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError:
        raise VizUnavailable(
            f"drawing graphs needs the graphviz Python package, which is not installed: {_INSTALL}"
        ) from None
    return graphviz


class Drawing:
    """A graph picture: its DOT text (`source`), displayed inline by Jupyter as SVG,
    written to SVG, PNG or PDF with `save(path)` or `render(path, format=...)`."""

    def __init__(self, source: str, title: str = "graph", nodes: int = 0, edges: int = 0) -> None:
        self.source = source
        self.title = title
        self.nodes = nodes
        self.edges = edges

    def __repr__(self) -> str:
        return f"<Drawing of {self.title}: {self.nodes} nodes, {self.edges} edges>"

    def __str__(self) -> str:
        return self.source

    def to_graphviz(self) -> Any:
        """The picture as a `graphviz.Source` (for graphviz's own API: `.view()`, ...)."""
        return _graphviz().Source(self.source)

    def pipe(self, format: str = "svg") -> bytes:
        """The picture as bytes in `format` ('svg', 'png', 'pdf', ...).

        Raises VizUnavailable when the graphviz package or the `dot` program is missing."""
        graphviz = _graphviz()
        try:
            return graphviz.Source(self.source).pipe(format=format)
        except graphviz.ExecutableNotFound:
            raise VizUnavailable(
                "drawing graphs needs Graphviz's `dot` program, which was not found on "
                f"PATH: {_INSTALL}"
            ) from None

    def render(self, path: str | os.PathLike[str], format: str | None = None) -> str:
        """Write the picture to `path` and return the path written.

        `format` defaults to the file's suffix (.svg, .png, .pdf; .dot/.gv write the
        DOT text). With a format and a path without that suffix, the suffix is added
        (`render("graph", format="png")` writes graph.png, as torchviz users expect;
        unlike graphviz's own render, no DOT file is left beside it)."""
        p = Path(path)
        suffix = p.suffix.lstrip(".").lower()
        if format is None:
            if suffix not in FORMATS:
                raise ValueError(
                    f"cannot tell the picture format from {str(p)!r}: name a file ending in "
                    f"one of {', '.join('.' + f for f in FORMATS)}, or pass format='svg'"
                )
            format = suffix
        format = format.lower()
        if suffix != format:
            p = p.with_name(p.name + "." + format)
        data = self.source.encode() if format in ("dot", "gv") else self.pipe(format)
        p.write_bytes(data)
        return str(p)

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the picture to `path`, in the format its suffix names (.svg, .png, .pdf)."""
        return self.render(path)

    def _repr_svg_(self) -> str:
        return self.pipe("svg").decode()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"image/svg+xml": self._repr_svg_(), "text/plain": repr(self)}
