"""All primitives. Importing this package fills `compiler.registry.OPS`."""

from compiler.ops import (  # noqa: F401
    activations,
    elementwise,
    index,
    linalg,
    math,
    nn,
    reduce,
    shape,
)
