"""PyTorch's `torch.nn.functional` (import it as `F`), by family: each module's
`__all__` is what `tracer.nn.functional` exports from it."""

from tracer.nn.functional.conv import *  # noqa: F403
from tracer.nn.functional.conv import __all__ as _conv
from tracer.nn.functional.core import *  # noqa: F403
from tracer.nn.functional.core import __all__ as _core
from tracer.nn.functional.dropout_variants import *  # noqa: F403
from tracer.nn.functional.dropout_variants import __all__ as _dropout
from tracer.nn.functional.normalization import *  # noqa: F403
from tracer.nn.functional.normalization import __all__ as _normalization
from tracer.nn.functional.pooling import *  # noqa: F403
from tracer.nn.functional.pooling import __all__ as _pooling

__all__ = [*_core, *_conv, *_dropout, *_normalization, *_pooling]
