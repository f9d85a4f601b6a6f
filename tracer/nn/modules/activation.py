"""Activation modules. Each wraps one functional; `activation_module(...)` makes a new one
in a line when a functional lands:

    GELU = activation_module("GELU", F.gelu, approximate="none")
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

from tracer.nn import functional as F
from tracer.nn.modules.module import Module

__all__ = ["LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Tanh", "activation_module"]


class _Functional(Module):
    """A module that calls `_fn(input, **options)`.

    Options the functional does not accept: `inplace=True` is carried out by the module
    (the result is written into the input, recorded like any in-place op); any other
    option must keep its default.
    """

    _fn: Callable[..., Any]
    _defaults: dict[str, Any] = {}
    _passed: tuple[str, ...] = ()  # the options the functional accepts

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            if name not in self._passed and name != "inplace" and value != self._defaults[name]:
                raise ValueError(
                    f"{type(self).__name__}({name}={value!r}) is not supported: "
                    f"tracer.nn.functional.{self._fn.__name__} has no {name} argument"
                )
            setattr(self, name, value)

    def forward(self, input: Any) -> Any:
        options = {k: getattr(self, k) for k in self._passed}
        if getattr(self, "inplace", False) and "inplace" not in self._passed:
            return input._inplace(f"{self._fn.__name__}_", lambda x: self._fn(x, **options))
        return self._fn(input, **options)

    def extra_repr(self) -> str:
        parts = [f"{k}={getattr(self, k)!r}" for k in self._defaults if k != "inplace"]
        if getattr(self, "inplace", False):
            parts.append("inplace=True")
        return ", ".join(parts)


def _named_parameters(fn: Callable[..., Any]) -> set[str]:
    """The arguments `fn` accepts by name (a **kwargs catch-all does not count)."""
    return {
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def activation_module(
    name: str, fn: Callable[..., Any], doc: str = "", **options: Any
) -> type[Module]:
    """A Module class `name` whose constructor takes `options` (in order, with these
    defaults) and whose forward is `fn(input, **options)`; repr shows each option
    (`inplace` only when True), as PyTorch's activation modules do."""
    accepted = _named_parameters(fn)
    params = [
        inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=v)
        for k, v in options.items()
    ]

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        _Functional.__init__(self, *args, **kwargs)

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params]
    )
    __init__.__qualname__ = f"{name}.__init__"
    cls = type(
        name,
        (_Functional,),
        {
            "__init__": __init__,
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": doc or f"Applies tracer.nn.functional.{fn.__name__} elementwise.",
            "_fn": staticmethod(fn),
            "_defaults": dict(options),
            "_passed": tuple(k for k in options if k in accepted),
            "_signature": inspect.Signature(params),
        },
    )
    return cls


ReLU = activation_module("ReLU", F.relu, "max(x, 0), elementwise.", inplace=False)
Tanh = activation_module("Tanh", F.tanh, "Hyperbolic tangent, elementwise.")
Sigmoid = activation_module("Sigmoid", F.sigmoid, "1 / (1 + exp(-x)), elementwise.")


def _softmax_dim(ndim: int, name: str) -> int:
    """PyTorch's legacy choice when no dim is given (with its deprecation warning)."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.",
        UserWarning,
        stacklevel=4,
    )
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """Softmax over `dim` (which should be given; None picks PyTorch's legacy dim and
    warns)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Any:
        dim = self.dim if self.dim is not None else _softmax_dim(input.ndim, "softmax")
        return F.softmax(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) over `dim`, computed stably."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Any:
        dim = self.dim if self.dim is not None else _softmax_dim(input.ndim, "log_softmax")
        return F.log_softmax(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
