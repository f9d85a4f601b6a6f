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


def missing_attribute(namespace: str, owner: str, name: str, have: list[str]) -> AttributeError:
    """The AttributeError for `owner.name` that tracer lacks. When PyTorch's `namespace`
    ("Tensor", "torch", "torch.nn.functional", ...) has the name, the message says so by
    name; otherwise it suggests the closest names in `have`."""
    import difflib

    from compiler.torch_api import NAMESPACES

    msg = f"{owner} has no attribute {name!r}"
    if name in NAMESPACES.get(namespace, ()):
        shown = f"{namespace}.{name}" if namespace != "Tensor" else f"Tensor.{name}"
        msg += (
            f": PyTorch's {shown} is not implemented in tracer yet "
            "(docs/coverage.md lists what is and is not)"
        )
    else:
        close = difflib.get_close_matches(name, [h for h in have if not h.startswith("_")], n=3)
        if close:
            msg += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    return AttributeError(msg)
