"""All primitives. Importing this package fills `compiler.registry.OPS`."""

from compiler.ops import (  # noqa: F401
    elementwise,
    index,
    linalg,
    nn,
    norms,
    reduce,
    scans,
    shape,
    statistics,
)
