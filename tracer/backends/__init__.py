"""`tracer.backends`: the backend flags CPU-only PyTorch scripts read or set."""

from tracer.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
