"""Dropout, Dropout1d/2d/3d, AlphaDropout, FeatureAlphaDropout."""

from __future__ import annotations

from typing import Any

from tracer.nn import functional as F
from tracer.nn.modules.module import Module

__all__ = ["AlphaDropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    _fn: Any = None

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return type(self)._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """While training, zero each element with probability p and scale the others by
    1 / (1 - p); in eval mode, the identity. Raises ValueError for p outside [0, 1]."""

    _fn = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    """While training, zero whole channels of (N, C, L) or (C, L) inputs (F.dropout1d)."""

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """While training, zero whole channels of (N, C, H, W) inputs (F.dropout2d)."""

    _fn = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """While training, zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs
    (F.dropout3d)."""

    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU activations' mean and variance (F.alpha_dropout), while
    training."""

    _fn = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Channel-wise alpha dropout (F.feature_alpha_dropout), while training."""

    _fn = staticmethod(F.feature_alpha_dropout)
