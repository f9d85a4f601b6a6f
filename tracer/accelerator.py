"""`tracer.accelerator`: there is none; everything runs on the CPU."""

from __future__ import annotations


def is_available() -> bool:
    """False: this library runs on the CPU only."""
    return False


def device_count() -> int:
    """0: there are no accelerators."""
    return 0


def current_accelerator(check_available: bool = False) -> None:
    """None: there is no accelerator."""
    return None
