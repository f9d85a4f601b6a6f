"""PyTorch's `torch.nn.functional` (import it as `F`), by family: each module's
`__all__` is what `tracer.nn.functional` exports from it."""

from tracer.nn.functional.activations import *  # noqa: F403
from tracer.nn.functional.activations import __all__ as _activations
from tracer.nn.functional.core import *  # noqa: F403
from tracer.nn.functional.core import __all__ as _core

__all__ = [*_core, *_activations]
