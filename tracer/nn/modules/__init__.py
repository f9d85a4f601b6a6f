"""The layers and containers of tracer.nn."""

from tracer.nn.modules.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, activation_module
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
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelSoftMarginLoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
    loss_module,
)
from tracer.nn.modules.module import Module
from tracer.nn.modules.normalization import LayerNorm
from tracer.nn.modules.sparse import Embedding

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "Bilinear",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "Identity",
    "KLDivLoss",
    "L1Loss",
    "LayerNorm",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MarginRankingLoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiLabelSoftMarginLoss",
    "NLLLoss",
    "ParameterDict",
    "ParameterList",
    "PoissonNLLLoss",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "Softmax",
    "Tanh",
    "TripletMarginLoss",
    "Unflatten",
    "activation_module",
    "loss_module",
]
