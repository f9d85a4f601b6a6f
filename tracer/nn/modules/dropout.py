"""Dropout."""

from __future__ import annotations

from typing import Any

from tracer.nn import functional as F
from tracer.nn.modules.module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """While training, zero each element with probability p and scale the others by
    1 / (1 - p); in eval mode, the identity. Raises ValueError for p outside [0, 1]."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
