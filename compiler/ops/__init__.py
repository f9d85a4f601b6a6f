"""All primitives. Importing this package fills `compiler.registry.OPS`."""

from compiler.ops import elementwise, index, linalg, math, nn, reduce, shape  # noqa: F401
