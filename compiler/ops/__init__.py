"""All primitives. Importing this package fills `compiler.registry.OPS`."""

from compiler.ops import (  # noqa: F401
    decompositions,
    elementwise,
    index,
    linalg,
    losses,
    nn,
    reduce,
    shape,
)
