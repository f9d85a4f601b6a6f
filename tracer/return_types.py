"""The named results of ops with several outputs, as `torch.return_types`: tuples
whose fields are also attributes (`x.max(0).values`), printed as PyTorch prints
them (`tracer.return_types.max(values=..., indices=...)`)."""

from compiler.return_types import (  # noqa: A004
    ReturnType,
    aminmax,
    cummax,
    cummin,
    kthvalue,
    max,
    median,
    min,
    nanmedian,
    sort,
    topk,
)

__all__ = [
    "ReturnType",
    "aminmax",
    "cummax",
    "cummin",
    "kthvalue",
    "max",
    "median",
    "min",
    "nanmedian",
    "sort",
    "topk",
]
