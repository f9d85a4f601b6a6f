"""`tracer.backends.cudnn`: not available; its flags can be set (seeding boilerplate sets
`deterministic` and `benchmark`) and change nothing, as in PyTorch without CUDA."""

from __future__ import annotations

enabled = True
deterministic = False
benchmark = False
allow_tf32 = True


def is_available() -> bool:
    """False: there is no cuDNN (no CUDA)."""
    return False


def version() -> None:
    """None: there is no cuDNN."""
    return None
