"""Named results of ops with several outputs, like `torch.return_types`.

`x.max(dim)` returns a `max(values=..., indices=...)`: a tuple (unpack it, index it)
whose fields are also attributes, printed as PyTorch prints its structseqs but
under the name `tracer.return_types`. `return_type(name, fields)` makes one such
class; the classes live here (compiler, so the Operand methods can build them) and
`tracer.return_types` exports them.
"""

from __future__ import annotations

import operator
from typing import Any

__all__ = ["ReturnType", "return_type"]


class ReturnType(tuple):
    """A tuple with named fields (the base of every `tracer.return_types` class).

    Made from its fields, `sort(values, indices)`, or from one sequence of them,
    `sort((values, indices))`, as PyTorch's structseqs are."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __new__(cls, *args: Any) -> ReturnType:
        items = tuple(args[0]) if len(args) == 1 and len(cls._fields) != 1 else args
        if len(items) != len(cls._fields):
            raise TypeError(
                f"tracer.return_types.{cls.__name__} takes {len(cls._fields)} fields "
                f"({', '.join(cls._fields)}), got {len(items)}"
            )
        return super().__new__(cls, items)

    def __repr__(self) -> str:
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"tracer.return_types.{type(self).__name__}(\n{body})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (tuple(self),))


def return_type(name: str, fields: tuple[str, ...]) -> type[ReturnType]:
    """A `ReturnType` subclass called `name` with one attribute per field."""
    attrs: dict[str, Any] = {"__slots__": (), "_fields": tuple(fields)}
    attrs.update({f: property(operator.itemgetter(i)) for i, f in enumerate(fields)})
    cls = type(name, (ReturnType,), attrs)
    cls.__module__ = "tracer.return_types"
    cls.__qualname__ = name
    return cls


# the results of the reductions
max = return_type("max", ("values", "indices"))  # noqa: A001
min = return_type("min", ("values", "indices"))  # noqa: A001
cummax = return_type("cummax", ("values", "indices"))
cummin = return_type("cummin", ("values", "indices"))
aminmax = return_type("aminmax", ("min", "max"))

# the results of sorting and selection
sort = return_type("sort", ("values", "indices"))
topk = return_type("topk", ("values", "indices"))
kthvalue = return_type("kthvalue", ("values", "indices"))
median = return_type("median", ("values", "indices"))
nanmedian = return_type("nanmedian", ("values", "indices"))
