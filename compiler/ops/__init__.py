"""All primitives. Importing this package fills `compiler.registry.OPS`."""

from compiler.ops import control, conv, elementwise, index, linalg, nn, reduce, shape  # noqa: F401
