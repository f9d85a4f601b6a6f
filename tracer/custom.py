"""Functions with a derivative you write: `tracer.custom_vjp` (jax.custom_vjp), and the
traced form of `tracer.autograd.Function`.

    @tracer.custom_vjp
    def clip_gradient(x):
        return x

    def fwd(x):
        return x, None                   # (output, residuals for bwd)

    def bwd(residuals, g):
        return (g.clamp(-1.0, 1.0),)     # one gradient per argument

    clip_gradient.defvjp(fwd, bwd)

Eagerly the call records an autograd node whose backward is `bwd`. Inside a traced
function it is one equation whose forward is `fwd`'s graph and whose VJP is `bwd`'s
graph: the user's rule is used, never the derivative of the forward's own ops.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from tracer.autograd.function import Function
from tracer.control import _builder
from tracer.custom_staging import flat_grads, stage_custom_vjp
from tracer.pytree import flatten

__all__ = ["custom_vjp"]


class custom_vjp:  # noqa: N801  (jax.custom_vjp's name)
    """Wrap `fun` so that its VJP is the rule given by `defvjp(fwd, bwd)`:
    `fwd(*args) -> (output, residuals)` and `bwd(residuals, g) -> tuple` of one
    gradient per argument (None for no gradient). Arguments and outputs are pytrees of
    tensors. Raises TypeError when called before defvjp."""

    def __init__(self, fun: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self._running_fwd = threading.local()

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise TypeError(
                f"custom_vjp function {self.__name__!r} has no rule: call "
                f"{self.__name__}.defvjp(fwd, bwd) first"
            )
        if getattr(self._running_fwd, "active", False):
            return self.fun(*args)  # fwd computing the output by calling the function
        b = _builder()
        if b is not None:
            return stage_custom_vjp(b, self._fwd, self.bwd, args, self.__name__)
        return _eager(self, args)

    def _fwd(self, *args: Any) -> Any:
        self._running_fwd.active = True
        try:
            return self.fwd(*args)
        finally:
            self._running_fwd.active = False


def _eager(f: custom_vjp, args: tuple[Any, ...]) -> Any:
    """An autograd.Function node whose backward is `bwd` (the pytrees flattened)."""
    leaves: list[Any] = []
    tree = flatten(args, leaves)
    info: dict[str, Any] = {}
    # fwd runs outside the node, recording: the residuals keep their history, so a
    # gradient built from them by bwd can be differentiated again (as in JAX)
    out, res = f._fwd(*args)
    out_leaves: list[Any] = []
    info["out_tree"] = flatten(out, out_leaves)

    def forward(ctx: Any, *flat: Any) -> Any:
        ctx.residuals = res
        outs = [o.detach() if hasattr(o, "detach") else o for o in out_leaves]
        return tuple(outs) if len(outs) != 1 else outs[0]

    def backward(ctx: Any, *gs: Any) -> Any:
        g = info["out_tree"].unflatten(iter(gs))
        grads = f.bwd(ctx.residuals, g)
        return tuple(flat_grads(grads, tree, leaves, f.__name__))

    cls = type(
        f.__name__,
        (Function,),
        {"forward": staticmethod(forward), "backward": staticmethod(backward)},
    )
    out = cls.apply(*leaves)
    outs = out if isinstance(out, tuple) else (out,)
    return info["out_tree"].unflatten(iter(outs))
