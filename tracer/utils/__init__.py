"""Utilities with PyTorch's `torch.utils` names: `tracer.utils.data` (datasets, samplers,
DataLoader)."""

from tracer.utils import data

__all__ = ["data"]
