"""PyTorch's `torch.nn.functional` (import it as `F`), by family: each module's
`__all__` is what `tracer.nn.functional` exports from it."""

from typing import Any

from compiler.errors import missing_attribute
from tracer.nn.functional.activations import *  # noqa: F403
from tracer.nn.functional.activations import __all__ as _activations
from tracer.nn.functional.conv import *  # noqa: F403
from tracer.nn.functional.conv import __all__ as _conv
from tracer.nn.functional.core import *  # noqa: F403
from tracer.nn.functional.core import __all__ as _core
from tracer.nn.functional.dropout_variants import *  # noqa: F403
from tracer.nn.functional.dropout_variants import __all__ as _dropout
from tracer.nn.functional.losses import *  # noqa: F403
from tracer.nn.functional.losses import __all__ as _losses
from tracer.nn.functional.normalization import *  # noqa: F403
from tracer.nn.functional.normalization import __all__ as _normalization
from tracer.nn.functional.pooling import *  # noqa: F403
from tracer.nn.functional.pooling import __all__ as _pooling
from tracer.nn.functional.shapes import *  # noqa: F403
from tracer.nn.functional.shapes import __all__ as _shapes

__all__ = [
    *_core,
    *_activations,
    *_conv,
    *_dropout,
    *_losses,
    *_normalization,
    *_pooling,
    *_shapes,
]


def __getattr__(name: str) -> Any:
    # called only for names this module lacks: say when PyTorch has them
    if name.startswith("_"):
        raise AttributeError(f"module 'tracer.nn.functional' has no attribute {name!r}")
    raise missing_attribute("torch.nn.functional", "module 'tracer.nn.functional'", name, __all__)
