"""Module-level ops (`tracer.exp(x)`, `tracer.where(c, a, b)`, `tracer.cat(...)`), by
family: each module's `__all__` is what `import tracer` exports from it.

Each function forwards to the operand's method or to `apply`, so the same function
works on eager tensors and, inside @trace, on symbolic ones.
"""

from tracer.functions.core import *  # noqa: F403
from tracer.functions.core import __all__ as _core
from tracer.functions.linalg import *  # noqa: F403
from tracer.functions.linalg import __all__ as _linalg

__all__ = [*_core, *_linalg]
