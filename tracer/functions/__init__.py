"""Module-level ops (`tracer.exp(x)`, `tracer.where(c, a, b)`, `tracer.cat(...)`), by
family: each module's `__all__` is what `import tracer` exports from it.

Each function forwards to the operand's method or to `apply`, so the same function
works on eager tensors and, inside @trace, on symbolic ones.
"""

from tracer.functions.core import *  # noqa: F403
from tracer.functions.core import __all__ as _core
from tracer.functions.indexing import *  # noqa: F403
from tracer.functions.indexing import __all__ as _indexing
from tracer.functions.linalg import *  # noqa: F403
from tracer.functions.linalg import __all__ as _linalg
from tracer.functions.math import *  # noqa: F403
from tracer.functions.math import __all__ as _math
from tracer.functions.reductions import *  # noqa: F403
from tracer.functions.reductions import __all__ as _reductions
from tracer.functions.shapes import *  # noqa: F403
from tracer.functions.shapes import __all__ as _shapes
from tracer.functions.sorting import *  # noqa: F403
from tracer.functions.sorting import __all__ as _sorting

__all__ = [*_core, *_indexing, *_linalg, *_math, *_reductions, *_shapes, *_sorting]
