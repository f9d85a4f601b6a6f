"""Neural-network helpers: `tracer.nn.functional` (import it as F)."""

from tracer.nn import functional

__all__ = ["functional"]
