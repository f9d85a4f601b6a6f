"""Exceptions raised by the library, shared by eager and traced code."""

from __future__ import annotations


class TracerError(Exception):
    """Base class of the library's own errors."""


class ShapeError(TracerError, ValueError):
    """Operand shapes do not fit an op (broadcasting, matmul, reshape, ...)."""


class DTypeError(TracerError, TypeError):
    """An operand's dtype is not accepted by an op."""


class TraceError(TracerError, RuntimeError):
    """Python needed a concrete value from a traced (symbolic) tensor."""


class AutogradError(TracerError, RuntimeError):
    """Misuse of backward(): non-scalar root, freed graph, stale saved tensor, ..."""


class TracerWarning(UserWarning):
    """Base class of the library's warnings (filter them with this class)."""


class LargeTraceWarning(TracerWarning):
    """A traced function staged so many equations that tracing, optimising and
    compiling it get slow (usually a Python loop unrolled into the trace)."""
