"""`tracer.utils.checkpoint`: PyTorch's activation checkpointing (torch.utils.checkpoint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracer.transforms import checkpoint as _checkpoint

__all__ = ["checkpoint"]


def checkpoint(
    function: Callable[..., Any],
    *args: Any,
    use_reentrant: bool | None = None,
    preserve_rng_state: bool = True,
    **kwargs: Any,
) -> Any:
    """`function(*args, **kwargs)` without keeping its intermediate values for the
    backward pass: they are computed again when the gradient is needed (as
    torch.utils.checkpoint.checkpoint). Random numbers drawn by `function` are the same
    in the recomputation. `use_reentrant` is accepted for PyTorch scripts and changes
    nothing (both of PyTorch's modes give these gradients); `preserve_rng_state=False`
    is refused (ValueError): the recomputation would draw other numbers."""
    if not preserve_rng_state:
        raise ValueError(
            "checkpoint(preserve_rng_state=False) is not supported: the recomputed "
            "function would draw other random numbers than the forward pass did"
        )
    return _checkpoint(lambda *a: function(*a, **kwargs))(*args)
