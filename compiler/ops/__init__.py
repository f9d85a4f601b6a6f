"""All primitives. Importing this package fills `compiler.registry.OPS`."""

from compiler.ops import (  # noqa: F401
    control,
    elementwise,
    index,
    linalg,
    nn,
    random,
    reduce,
    shape,
    sorting,
)
