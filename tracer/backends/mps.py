"""`tracer.backends.mps`: Apple's Metal backend is not available (CPU only)."""

from __future__ import annotations


def is_available() -> bool:
    """False: this library runs on the CPU only."""
    return False


def is_built() -> bool:
    """False: this library has no MPS backend."""
    return False
