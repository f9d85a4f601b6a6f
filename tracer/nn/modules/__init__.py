"""The layers and containers of tracer.nn."""

from tracer.nn.modules.activation import *  # noqa: F403
from tracer.nn.modules.activation import __all__ as _activation
from tracer.nn.modules.container import (
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
from tracer.nn.modules.dropout import Dropout
from tracer.nn.modules.flatten import Flatten, Unflatten
from tracer.nn.modules.linear import Bilinear, Identity, Linear
from tracer.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    NLLLoss,
    loss_module,
)
from tracer.nn.modules.module import Module
from tracer.nn.modules.normalization import LayerNorm
from tracer.nn.modules.sparse import Embedding

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "Bilinear",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "LayerNorm",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "ParameterDict",
    "ParameterList",
    "Sequential",
    "Unflatten",
    "loss_module",
    *_activation,
]
