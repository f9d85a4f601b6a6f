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

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "SELU",
    "CosineSimilarity",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "PairwiseDistance",
    "RReLU",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Threshold",
    "activation_module",
]


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
GELU = activation_module("GELU", F.gelu, "x * Phi(x) (or its tanh form).", approximate="none")
SiLU = activation_module("SiLU", F.silu, "x * sigmoid(x), elementwise.", inplace=False)
Mish = activation_module("Mish", F.mish, "x * tanh(softplus(x)), elementwise.", inplace=False)
ELU = activation_module(
    "ELU", F.elu, "x, or alpha (exp(x) - 1) for x <= 0.", alpha=1.0, inplace=False
)
SELU = activation_module(
    "SELU", F.selu, "scale * elu(x, alpha), PyTorch's constants.", inplace=False
)
CELU = activation_module(
    "CELU", F.celu, "max(0, x) + min(0, alpha (exp(x/alpha) - 1)).", alpha=1.0, inplace=False
)
LeakyReLU = activation_module(
    "LeakyReLU",
    F.leaky_relu,
    "x, or negative_slope * x for x <= 0.",
    negative_slope=0.01,
    inplace=False,
)
Hardtanh = activation_module(
    "Hardtanh",
    F.hardtanh,
    "x clamped into [min_val, max_val].",
    min_val=-1.0,
    max_val=1.0,
    inplace=False,
)
ReLU6 = activation_module("ReLU6", F.relu6, "min(max(x, 0), 6), elementwise.", inplace=False)
Hardsigmoid = activation_module("Hardsigmoid", F.hardsigmoid, "relu6(x + 3) / 6.", inplace=False)
Hardswish = activation_module("Hardswish", F.hardswish, "x * relu6(x + 3) / 6.", inplace=False)
Softplus = activation_module(
    "Softplus", F.softplus, "log(1 + exp(beta x)) / beta.", beta=1.0, threshold=20.0
)
Softsign = activation_module("Softsign", F.softsign, "x / (1 + |x|), elementwise.")
LogSigmoid = activation_module("LogSigmoid", F.logsigmoid, "log(sigmoid(x)), elementwise.")
Tanhshrink = activation_module("Tanhshrink", F.tanhshrink, "x - tanh(x), elementwise.")
GLU = activation_module("GLU", F.glu, "a * sigmoid(b), a and b the halves along dim.", dim=-1)


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


class _Shrink(Module):
    _fn: Callable[..., Any]

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Any) -> Any:
        return type(self)._fn(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Softshrink(_Shrink):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""

    _fn = staticmethod(F.softshrink)


class Hardshrink(_Shrink):
    """x where |x| > lambd, else 0."""

    _fn = staticmethod(F.hardshrink)


class Threshold(Module):
    """x where x > threshold, else value."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{inplace}"


class RReLU(Module):
    """Randomized leaky relu: random slopes in U[lower, upper) while training, their
    mean (lower + upper) / 2 in eval mode."""

    def __init__(
        self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False
    ) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"lower={self.lower}, upper={self.upper}{inplace}"


class PReLU(Module):
    """x, or weight * x for x <= 0, with a learnt weight: one value, or one per channel
    (dim 1 of the input), initialised to `init`."""

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None
    ) -> None:
        from tracer import creation
        from tracer.nn.modules.linear import factory_dtype
        from tracer.nn.parameter import Parameter

        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        d = factory_dtype(device, dtype, "PReLU")
        self.weight = Parameter(creation.empty(num_parameters, dtype=d))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        from tracer.nn import init

        init.constant_(self.weight, self.init)

    def forward(self, input: Any) -> Any:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softmin(Module):
    """softmax(-x) over `dim` (which should be given; None picks PyTorch's legacy dim
    and warns)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Any:
        return F.softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class CosineSimilarity(Module):
    """F.cosine_similarity(x1, x2, dim, eps)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Any, x2: Any) -> Any:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """F.pairwise_distance(x1, x2, p, eps, keepdim)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Any, x2: Any) -> Any:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
