"""`make_dot`: a picture of the eager autograd graph behind a tensor, as torchviz draws
PyTorch's.

Boxes are the backward nodes reachable from the tensor's `grad_fn` (named like
PyTorch's: `SubBackward0`, `AccumulateGrad`, ...); arrows follow the data forward
(from an input's node to the node of the op that used it). Blue boxes are the leaf
tensors whose `.grad` the graph fills, green ones the tensors drawn, orange ones
(`show_saved=True`) the values a node saved for its backward.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tracer.autograd import AccumulateGrad, Node, OpNode
from tracer.autograd.function import BackwardCFunction
from tracer.tensor import Tensor
from tracer.viz.drawing import Dot, Drawing

__all__ = ["make_dot"]

LEAF = "lightblue"
ROOT = "darkolivegreen1"
SAVED = "orange"
NODE = "lightgrey"


def _aval(shape: Sequence[int], dtype: Any) -> str:
    """`(2, 3) float32`"""
    return f"{tuple(int(d) for d in shape)} {np.dtype(dtype).name}"


def _tensor_label(t: Tensor, name: str | None) -> str:
    return (f"{name}\n" if name else "") + _aval(t.shape, t.dtype)


def _hook_name(hook: Any) -> str:
    return getattr(hook, "__name__", None) or type(hook).__name__


def _hook_lines(hooks: Sequence[Any]) -> list[str]:
    """`hook: double`, or `retains grad` for retain_grad()'s own hook."""
    return [
        "retains grad" if getattr(h, "retains_grad", False) else f"hook: {_hook_name(h)}"
        for h in hooks
    ]


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _attr_lines(node: Node) -> list[str]:
    """show_attrs: the op's static parameters and the numbers it was called with."""
    if not isinstance(node, OpNode):
        return []
    lines = [f"{k}: {_short(v)}" for k, v in node.params.items()]
    if node._saved is not None:
        for i, x in enumerate(node._saved):
            if isinstance(x, (int, float, bool, complex, np.generic)):
                lines.append(f"input {i}: {_short(x)}")
    return lines


def _saved_values(node: Node) -> list[tuple[str, Sequence[int], Any]] | None:
    """(label, shape, dtype) of what `node` keeps for its backward; None once a
    backward without retain_graph freed it."""
    if isinstance(node, OpNode):
        if node._freed:
            return None
        out = [
            (f"input {i}", tuple(x.shape), x.dtype)
            for i, (x, version) in enumerate(zip(node._saved, node._versions))
            if version is not None
        ]
        for i, a in enumerate(node._out or ()):
            out.append(("result" if len(node._out) == 1 else f"result {i}", a.shape, a.dtype))
        return out
    if isinstance(node, BackwardCFunction):
        if node._freed:
            return None
        return [
            (f"saved tensor {i}", tuple(t.shape), t.dtype)
            for i, t in enumerate(node.saved_tensors)
            if t is not None
        ]
    residuals = getattr(node, "_residuals", ())  # a traced function's node
    if residuals is None:
        return None
    return [(f"residual {i}", a.shape, a.dtype) for i, a in enumerate(residuals)]


def make_dot(
    tensor: Tensor | Sequence[Tensor],
    params: Mapping[str, Tensor] | None = None,
    show_attrs: bool = False,
    show_saved: bool = False,
) -> Drawing:
    """Draw the autograd graph that `tensor.backward()` would walk.

    `tensor`: a tensor, or a sequence of tensors drawn together. `params`: names for
    tensors (`dict(model.named_parameters())`, `{"x": x}`), shown on their boxes.
    `show_attrs`: list each node's static parameters (`exponent: 2`) and number inputs.
    `show_saved`: draw what each node saved for backward (orange), linked by a dotted
    line. Tensor hooks and `retain_grad()` appear on the box they are attached to.

    Returns a `Drawing`: its `.source` is the DOT text; Jupyter shows it inline; `save`
    writes SVG, PNG or PDF (those need the `[viz]` extra). Raises TypeError for
    anything but tensors in `tensor` or `params`.
    """
    roots = [tensor] if isinstance(tensor, Tensor) else list(tensor)
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(
                f"make_dot() draws tensors (or a sequence of tensors), got {type(r).__name__}"
            )
    names: dict[int, str] = {}
    for name, t in (params or {}).items():
        if not isinstance(t, Tensor):
            raise TypeError(
                f"make_dot(params=...): {name!r} is a {type(t).__name__}, not a tensor; "
                "pass names of tensors, e.g. params=dict(model.named_parameters())"
            )
        names.setdefault(id(t), str(name))

    dot = Dot(
        "autograd",
        graph_attrs={
            "rankdir": "TB",
            "ranksep": "0.2",
            "nodesep": "0.25",
            "fontname": "Helvetica",
            "fontsize": "11",
        },
        node_attrs={
            "shape": "box",
            "style": "filled",
            "fillcolor": NODE,
            "fontname": "monospace",
            "fontsize": "10",
            "height": "0.2",
        },
    )
    ids: dict[Node, str] = {}
    queue: deque[Node] = deque()

    def visit(node: Node) -> str:
        """The id of `node`'s box, queued for drawing the first time it is seen."""
        if node not in ids:
            ids[node] = f"n{len(ids)}"
            queue.append(node)
        return ids[node]

    for k, r in enumerate(roots):
        rid = f"t{k}"
        lines = [_tensor_label(r, names.get(id(r)))]
        if r.grad_fn is None and r._hooks:
            lines += _hook_lines(r._hooks)
        dot.node(rid, "\n".join(lines), fillcolor=ROOT)
        if r.grad_fn is not None:
            dot.edge(visit(r.grad_fn), rid)

    saved_count = 0
    while queue:
        node = queue.popleft()
        nid = ids[node]
        lines = [node.name()]
        if show_attrs:
            lines += _attr_lines(node)
        for hooks in (node._pre_hooks or {}).values():
            lines += _hook_lines(hooks)
        if isinstance(node, AccumulateGrad):
            leaf = node.variable()
            lid = f"l{nid[1:]}"
            if leaf is None:
                dot.node(lid, "(tensor freed)", fillcolor=LEAF)
            else:
                label = [_tensor_label(leaf, names.get(id(leaf)))] + _hook_lines(leaf._hooks or ())
                dot.node(lid, "\n".join(label), fillcolor=LEAF)
            dot.edge(lid, nid)
        if show_saved:
            saved = _saved_values(node)
            if saved is None:
                lines.append("(saved values freed by backward)")
            for label, shape, dtype in saved or ():
                sid = f"s{saved_count}"
                saved_count += 1
                dot.node(sid, f"{label}\n{_aval(shape, dtype)}", fillcolor=SAVED)
                dot.edge(sid, nid, style="dotted", dir="none")
        dot.node(nid, "\n".join(lines))
        for nxt, _ in node.next_functions:
            if nxt is not None:
                dot.edge(visit(nxt), nid)
    title = ", ".join(names.get(id(r)) or f"a {_aval(r.shape, r.dtype)} tensor" for r in roots)
    return dot.drawing(f"the autograd graph of {title}")
