"""PyTorch's `torch.nn.functional` (import it as `F`), by family: each module's
`__all__` is what `tracer.nn.functional` exports from it."""

from tracer.nn.functional.core import *  # noqa: F403
from tracer.nn.functional.core import __all__ as _core
from tracer.nn.functional.losses import *  # noqa: F403
from tracer.nn.functional.losses import __all__ as _losses

__all__ = [*_core, *_losses]
