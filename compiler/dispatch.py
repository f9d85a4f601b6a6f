"""`apply`: run a primitive in the world of its operands.

Eager tensors run numpy and record autograd nodes; symbolic values record IR
equations; `compiler.evaluate.Value`s just compute. Each world is an `Operand`
subclass with a `_priority`; `apply` hands the call to the highest-priority
operand among the inputs (its `_bind`). While a trace is being recorded on this
thread, ops on concrete tensors and symbolic values are staged into it.

Kept apart from `compiler.operand` so that the method mixins of `compiler.methods`
can use it while `Operand` is being assembled from them.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["apply", "tracing"]


class _TraceState(threading.local):
    builder: Any = None


# The builder of the trace running on this thread, if any. While it is set, ops on
# concrete tensors are staged too (their inputs captured by reference), so a result
# such as `w * 2` is recomputed on every call instead of frozen at trace time.
tracing = _TraceState()


# each operand class's `_priority` (-1: not an operand: a number, a list), by class
_priorities: dict[type, int] = {}


def apply(op: str, *inputs: Any, name: str | None = None, **params: Any) -> Any:
    """Run primitive `op` in the world of its highest-priority operand.

    `name` overrides the eager grad_fn name (t() and transpose() share a primitive
    but PyTorch names their nodes TBackward0 and TransposeBackward0).
    """
    anchor = None
    best = -1
    for x in inputs:
        p = _priorities.get(type(x))
        if p is None:
            p = _priorities[type(x)] = getattr(type(x), "_priority", -1)
        if p > best:
            anchor, best = x, p
    if anchor is None:
        raise TypeError(f"{op}: expected at least one tensor argument, got {inputs!r}")
    builder = tracing.builder
    if builder is not None and best <= 2:
        own = getattr(anchor, "builder", None)
        if own is None or own is builder or builder._encloses(own):
            # concrete tensors and symbolic values (of this trace, or of one enclosing
            # it: a loop body using a value from outside) are staged into the active trace
            return builder.bind(op, inputs, params)
        # a value of a graph being built apart (a VJP rule's helper graph) stays there
    return anchor._bind(op, inputs, params, name)
