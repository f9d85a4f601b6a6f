"""All primitives. Importing this package fills `compiler.registry.OPS`."""

from compiler.ops import (  # noqa: F401
    activations,
    control,
    conv,
    decompositions,
    elementwise,
    index,
    layout,
    linalg,
    losses,
    math,
    nn,
    norms,
    random,
    reduce,
    scans,
    scatter,
    shape,
    sorting,
    statistics,
)
