"""`tracer.cuda`, as PyTorch's reads on a machine without CUDA: nothing is available.

Seeding calls (`manual_seed`, `manual_seed_all`, `seed`, `seed_all`) do nothing, as PyTorch's
do without a GPU, so seeding boilerplate runs unchanged. Calls that need a GPU raise
DeviceError with the device-agnostic idiom.
"""

from __future__ import annotations

from typing import Any

from tracer.devices import cuda_unavailable


def is_available() -> bool:
    """False: this library runs on the CPU only."""
    return False


def device_count() -> int:
    """0: there are no CUDA devices."""
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Nothing to seed (no CUDA devices); seed the CPU with tracer.manual_seed."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed (no CUDA devices); seed the CPU with tracer.manual_seed."""


def seed() -> None:
    """Nothing to seed (no CUDA devices)."""


def seed_all() -> None:
    """Nothing to seed (no CUDA devices)."""


def empty_cache() -> None:
    """Nothing to free (no CUDA devices)."""


def current_device() -> int:
    raise cuda_unavailable("tracer.cuda.current_device()")


def get_device_name(device: Any = None) -> str:
    raise cuda_unavailable("tracer.cuda.get_device_name()")


def synchronize(device: Any = None) -> None:
    raise cuda_unavailable("tracer.cuda.synchronize()")


def set_device(device: Any) -> None:
    raise cuda_unavailable("tracer.cuda.set_device()")
