"""Loss modules. Each wraps one functional loss; `loss_module(...)` makes a new one in a
line when a functional lands (the option lists below give PyTorch's argument order):

    L1Loss = loss_module("L1Loss", F.l1_loss, *REDUCTION)
    BCELoss = loss_module("BCELoss", F.binary_cross_entropy, *WEIGHTED)
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

from tracer.nn import functional as F
from tracer.nn.modules.activation import _named_parameters
from tracer.nn.modules.module import Module
from tracer.tensor import Tensor

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "MarginRankingLoss",
    "MultiLabelSoftMarginLoss",
    "NLLLoss",
    "PoissonNLLLoss",
    "REDUCTION",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "WEIGHTED",
    "loss_module",
]

# (name, default) of the constructor arguments, in PyTorch's order
REDUCTION = (("size_average", None), ("reduce", None), ("reduction", "mean"))
WEIGHTED = (("weight", None), *REDUCTION)


def legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """The reduction the deprecated size_average/reduce pair means (with PyTorch's
    warning)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "none" if not reduce else "mean" if size_average else "sum"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use "
        f"reduction='{reduction}' instead.",
        UserWarning,
        stacklevel=4,
    )
    return reduction


class _Loss(Module):
    """A module whose forward is `_fn(input, target, **options)`.

    Tensor options (weight, pos_weight) are buffers. An option the functional does not
    accept must keep its default (a non-default value is refused when constructed).
    """

    _fn: Callable[..., Any]
    _defaults: dict[str, Any] = {}
    _passed: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        options = dict(bound.arguments)
        size_average, reduce = options.pop("size_average", None), options.pop("reduce", None)
        if size_average is not None or reduce is not None:
            options["reduction"] = legacy_reduction(size_average, reduce)
        for name, value in options.items():
            default = self._defaults[name]
            changed = value is not default if isinstance(value, Tensor) else value != default
            if name not in self._passed and changed:
                raise ValueError(
                    f"{type(self).__name__}({name}=...) is not supported: "
                    f"tracer.nn.functional.{self._fn.__name__} has no {name} argument"
                )
            if isinstance(value, Tensor) or (value is None and name.endswith("weight")):
                self.register_buffer(name, value)
            else:
                setattr(self, name, value)

    def forward(self, input: Any, target: Any, *more: Any) -> Any:
        """`fn(input, target, ...)`: a third tensor for the losses that take one (the
        variance of GaussianNLLLoss, the target of MarginRankingLoss, ...)."""
        return self._fn(input, target, *more, **{k: getattr(self, k) for k in self._passed})


def loss_module(
    name: str, fn: Callable[..., Any], *options: tuple[str, Any], doc: str = ""
) -> type[Module]:
    """A loss Module class `name` with constructor arguments `options` ((name, default)
    pairs in order) whose forward is `fn(input, target, **options)`; size_average and
    reduce map to `reduction` as in PyTorch."""
    accepted = _named_parameters(fn)
    params = [
        inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=v) for k, v in options
    ]
    legacy = ("size_average", "reduce")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        _Loss.__init__(self, *args, **kwargs)

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params]
    )
    __init__.__qualname__ = f"{name}.__init__"
    cls = type(
        name,
        (_Loss,),
        {
            "__init__": __init__,
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": doc or f"The module form of tracer.nn.functional.{fn.__name__}.",
            "_fn": staticmethod(fn),
            "_defaults": {k: v for k, v in options if k not in legacy},
            "_passed": tuple(k for k, _ in options if k in accepted and k not in legacy),
            "_signature": inspect.Signature(params),
        },
    )
    return cls


MSELoss = loss_module("MSELoss", F.mse_loss, *REDUCTION, doc="Mean squared error.")
NLLLoss = loss_module(
    "NLLLoss",
    F.nll_loss,
    ("weight", None),
    ("size_average", None),
    ("ignore_index", -100),
    ("reduce", None),
    ("reduction", "mean"),
    doc="Negative log-likelihood of class labels, from log-probabilities (N, C, ...).",
)
CrossEntropyLoss = loss_module(
    "CrossEntropyLoss",
    F.cross_entropy,
    ("weight", None),
    ("size_average", None),
    ("ignore_index", -100),
    ("reduce", None),
    ("reduction", "mean"),
    ("label_smoothing", 0.0),
    doc="Softmax cross-entropy of logits (N, C, ...) against class labels or probabilities.",
)
L1Loss = loss_module("L1Loss", F.l1_loss, *REDUCTION, doc="Mean absolute error.")
SmoothL1Loss = loss_module(
    "SmoothL1Loss", F.smooth_l1_loss, *REDUCTION, ("beta", 1.0), doc="Smooth L1 (Huber / beta)."
)
HuberLoss = loss_module(
    "HuberLoss", F.huber_loss, ("reduction", "mean"), ("delta", 1.0), doc="Huber loss."
)
BCELoss = loss_module(
    "BCELoss", F.binary_cross_entropy, *WEIGHTED, doc="Binary cross-entropy of probabilities."
)
BCEWithLogitsLoss = loss_module(
    "BCEWithLogitsLoss",
    F.binary_cross_entropy_with_logits,
    *WEIGHTED,
    ("pos_weight", None),
    doc="Binary cross-entropy of logits (sigmoid inside, stable).",
)
KLDivLoss = loss_module(
    "KLDivLoss",
    F.kl_div,
    *REDUCTION,
    ("log_target", False),
    doc="Kullback-Leibler divergence of log-probabilities.",
)
PoissonNLLLoss = loss_module(
    "PoissonNLLLoss",
    F.poisson_nll_loss,
    ("log_input", True),
    ("full", False),
    ("size_average", None),
    ("eps", 1e-8),
    ("reduce", None),
    ("reduction", "mean"),
    doc="Poisson negative log-likelihood.",
)
GaussianNLLLoss = loss_module(
    "GaussianNLLLoss",
    F.gaussian_nll_loss,
    ("full", False),
    ("eps", 1e-6),
    ("reduction", "mean"),
    doc="Gaussian negative log-likelihood; forward(input, target, var).",
)
CosineEmbeddingLoss = loss_module(
    "CosineEmbeddingLoss",
    F.cosine_embedding_loss,
    ("margin", 0.0),
    *REDUCTION,
    doc="Cosine embedding loss; forward(input1, input2, target).",
)
MarginRankingLoss = loss_module(
    "MarginRankingLoss",
    F.margin_ranking_loss,
    ("margin", 0.0),
    *REDUCTION,
    doc="Margin ranking loss; forward(input1, input2, target).",
)
SoftMarginLoss = loss_module(
    "SoftMarginLoss", F.soft_margin_loss, *REDUCTION, doc="Two-class logistic loss."
)
HingeEmbeddingLoss = loss_module(
    "HingeEmbeddingLoss",
    F.hinge_embedding_loss,
    ("margin", 1.0),
    *REDUCTION,
    doc="Hinge embedding loss.",
)
MultiLabelSoftMarginLoss = loss_module(
    "MultiLabelSoftMarginLoss",
    F.multilabel_soft_margin_loss,
    *WEIGHTED,
    doc="Multi-label one-versus-all logistic loss.",
)
TripletMarginLoss = loss_module(
    "TripletMarginLoss",
    F.triplet_margin_loss,
    ("margin", 1.0),
    ("p", 2.0),
    ("eps", 1e-6),
    ("swap", False),
    *REDUCTION,
    doc="Triplet margin loss; forward(anchor, positive, negative).",
)
BCELoss = loss_module(
    "BCELoss",
    F.binary_cross_entropy,
    *WEIGHTED,
    doc="Binary cross-entropy of probabilities in [0, 1] against targets of the same shape.",
)
BCEWithLogitsLoss = loss_module(
    "BCEWithLogitsLoss",
    F.binary_cross_entropy_with_logits,
    *WEIGHTED,
    ("pos_weight", None),
    doc="Binary cross-entropy of logits (sigmoid applied stably) against targets.",
)
