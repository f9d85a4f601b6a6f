"""Pictures of graphs, and notebook display of traced functions.

* `make_dot(tensor, params=None, show_attrs=False, show_saved=False)`: the eager
  autograd graph behind a tensor, as torchviz's `make_dot` draws PyTorch's.
* `f.draw(*args, which='forward'|'backward'|'joint', compiled=False)` on a traced
  function or a `value_and_grad` function: its IR graph, optionally grouped by the
  fused loop nests of the kernel that runs it (`draw_graph` draws any IR graph).

Both return a `Drawing`, whose `.source` is DOT text; Jupyter displays it inline as
SVG, and `save(path)` writes SVG, PNG or PDF. Rendering needs the `[viz]` extra (the
`graphviz` package) and Graphviz's `dot` program; without them, rendering raises
`VizUnavailable` saying what to install (the DOT text is always available).
"""

from __future__ import annotations

from tracer.viz.autograd_graph import make_dot
from tracer.viz.display import PlainText
from tracer.viz.drawing import Drawing, VizUnavailable
from tracer.viz.ir_graph import draw_graph, draw_traced

__all__ = ["Drawing", "PlainText", "VizUnavailable", "draw_graph", "draw_traced", "make_dot"]
