"""Random number generators with PyTorch's CPU streams: `Generator`, `manual_seed`, `seed`,
`initial_seed`, `get_rng_state`, `set_rng_state` and `default_generator`.

A Generator is the 32-bit Mersenne Twister (mt19937) that PyTorch's CPU generator runs,
seeded the way it seeds it (the low 32 bits of the seed through the standard initialisation;
the full 64-bit seed is what `initial_seed()` reports), plus the cached second normal of the
Box-Muller transform. numpy's MT19937 bit generator produces the same 32-bit stream when
given the same key, so draws are vectorised numpy calls. The samplers that turn the stream
into PyTorch's numbers are in `tracer._distributions`.

`get_state()` returns PyTorch's own 5056-byte layout, so a state saved by
`torch.get_rng_state()` can be loaded here and the other way round.
"""

from __future__ import annotations

import contextlib
import operator
import os
import struct
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import DTypeError
from tracer.devices import CPU, as_cpu
from tracer.devices import device as Device
from tracer.tensor import Tensor

__all__ = [
    "Generator",
    "default_generator",
    "fork_rng",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]

_N = 624  # words of mt19937 state
_DEFAULT_SEED = 67280421310721  # PyTorch's seed of a Generator() built without one

# PyTorch's CPUGeneratorImplState, x86-64 layout: seed, left, seeded, next, state[624] (as
# uint64), normal_x, normal_y, normal_rho, normal_is_valid (+4 bytes padding), then the
# cached float normal and its flag (+3 bytes padding).
_HEAD = struct.Struct("<QiiQ")
_STATE_BYTES = 5056
_DOUBLE_CACHE = struct.Struct("<dddi4x")
_FLOAT_CACHE = struct.Struct("<f?3x")
_STATE_AT = _HEAD.size
_DOUBLE_AT = _STATE_AT + 8 * _N
_FLOAT_AT = _DOUBLE_AT + _DOUBLE_CACHE.size


def _key(seed: int) -> np.ndarray:
    """mt19937's standard initialisation (Knuth's multiplier) from the low 32 bits."""
    key = np.empty(_N, np.uint32)
    x = seed & 0xFFFFFFFF
    key[0] = x
    for j in range(1, _N):
        x = (1812433253 * (x ^ (x >> 30)) + j) & 0xFFFFFFFF
        key[j] = x
    return key


def _seed_value(seed: Any, op: str) -> int:
    """A seed as PyTorch stores it: an int in [-2**63, 2**64), negatives taken modulo 2**64."""
    if isinstance(seed, Tensor):
        seed = seed.item()
    if isinstance(seed, (bool, np.bool_)) or not hasattr(seed, "__index__"):
        raise TypeError(
            f"{op}: the seed must be an int, got {seed!r} ({type(seed).__name__}); "
            "pass int(seed) to truncate a float"
        )
    seed = operator.index(seed)
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"{op}: the seed must be in [-2**63, 2**64), got {seed}")
    return seed % 2**64


class Generator:
    """A random number generator with PyTorch's CPU stream (mt19937).

    `Generator()` starts from PyTorch's fixed default seed (67280421310721), as
    `torch.Generator()` does; `manual_seed(s)` reseeds and returns the generator, so
    `tracer.Generator().manual_seed(0)` works as in PyTorch. Pass it as `generator=` to any
    random function; generators are independent of each other and of the default one.
    Only the CPU is supported (`device='cpu'`); another device raises DeviceError.
    """

    def __init__(self, device: Any = "cpu") -> None:
        as_cpu(device, "Generator")
        self._lock = threading.RLock()
        self._bits = np.random.MT19937()
        self._reseed(_DEFAULT_SEED)

    # ---- seeding and state ---------------------------------------------------------
    def _reseed(self, seed: int) -> None:
        with self._lock:
            self._seed = seed
            self._bits.state = {
                "bit_generator": "MT19937",
                "state": {"key": _key(seed), "pos": _N},
            }
            self._fresh = True  # no word drawn since seeding (PyTorch's `next` is then 0)
            self.normal_double: float | None = None  # Box-Muller's cached second sample
            self.normal_float: float | None = None

    @property
    def device(self) -> Device:
        return CPU

    def manual_seed(self, seed: int) -> Generator:
        """Reseed with `seed` (an int in [-2**63, 2**64)); returns this generator."""
        self._reseed(_seed_value(seed, "manual_seed"))
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        s = int.from_bytes(os.urandom(8), "little")
        self._reseed(s)
        return s

    def initial_seed(self) -> int:
        """The seed of the last seeding (all 64 bits, though mt19937 uses the low 32)."""
        return self._seed

    def get_state(self) -> Tensor:
        """The state as a uint8 tensor of 5056 bytes, in PyTorch's layout."""
        with self._lock:
            st = self._bits.state["state"]
            pos = int(st["pos"])
            if pos == _N:
                left, nxt = 1, 0 if self._fresh else _N
            else:
                left, nxt = _N + 1 - pos, pos
            buf = bytearray(_STATE_BYTES)
            _HEAD.pack_into(buf, 0, self._seed, left, 1, nxt)
            buf[_STATE_AT:_DOUBLE_AT] = st["key"].astype("<u8").tobytes()
            valid = self.normal_double is not None
            _DOUBLE_CACHE.pack_into(
                buf, _DOUBLE_AT, 0.0, self.normal_double if valid else 0.0, 0.0, int(valid)
            )
            fvalid = self.normal_float is not None
            _FLOAT_CACHE.pack_into(buf, _FLOAT_AT, self.normal_float if fvalid else 0.0, fvalid)
        return Tensor(np.frombuffer(bytes(buf), np.uint8).copy())

    def set_state(self, new_state: Any) -> Generator:
        """Restore a state from `get_state()` (here or in PyTorch); returns this generator.

        Raises TypeError unless it is a uint8 tensor, ValueError if its size is not 5056
        bytes or it is not a valid mt19937 state. Nothing changes when it raises."""
        if not isinstance(new_state, Tensor) or new_state.dtype != dtypes.uint8:
            what = (
                f"a tensor of dtype {new_state.dtype.name}"
                if isinstance(new_state, Tensor)
                else type(new_state).__name__
            )
            raise DTypeError(
                f"set_state: the RNG state must be a uint8 tensor (from get_state()), got {what}"
            )
        raw = np.ascontiguousarray(new_state._data).reshape(-1)
        if raw.size != _STATE_BYTES:
            raise ValueError(f"set_state: expected a state of {_STATE_BYTES} bytes, got {raw.size}")
        buf = raw.tobytes()
        seed, left, seeded, nxt = _HEAD.unpack_from(buf, 0)
        key = (np.frombuffer(buf[_STATE_AT:_DOUBLE_AT], "<u8") & 0xFFFFFFFF).astype(np.uint32)
        _, normal_y, _, normal_valid = _DOUBLE_CACHE.unpack_from(buf, _DOUBLE_AT)
        normal_f, float_valid = _FLOAT_CACHE.unpack_from(buf, _FLOAT_AT)
        if not (seeded and 0 < left <= _N and nxt <= _N):
            raise ValueError("set_state: invalid mt19937 state (seeded, left or next)")
        if left == 1:
            pos = _N  # the next draw regenerates the state
        elif left + nxt == _N + 1:
            pos = nxt
        else:
            raise ValueError(
                f"set_state: left={left} and next={nxt} are inconsistent (mt19937 keeps "
                f"left + next = {_N + 1})"
            )
        with self._lock:
            self._seed = seed
            self._bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}
            self._fresh = left == 1 and nxt == 0
            self.normal_double = normal_y if normal_valid else None
            self.normal_float = float(normal_f) if float_valid else None
        return self

    def clone_state(self) -> Generator:
        """A new generator in this one's state."""
        g = Generator()
        return g.set_state(self.get_state())

    def __repr__(self) -> str:
        return f"<tracer.Generator object at {id(self):#x}>"

    # ---- the stream -------------------------------------------------------------------
    def random32(self, n: int) -> np.ndarray:
        """The next n 32-bit words (uint32)."""
        with self._lock:
            if n:
                self._fresh = False
            return self._bits.random_raw(n).astype(np.uint32)

    def random64(self, n: int) -> np.ndarray:
        """The next n 64-bit values (uint64), each made of two words, the first one high."""
        with self._lock:
            if n:
                self._fresh = False
            w = self._bits.random_raw(2 * n)
        return (w[0::2] << np.uint64(32)) | w[1::2]


default_generator = Generator()
default_generator.seed()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (PyTorch's CPU stream); returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's seed."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state (a uint8 tensor in PyTorch's layout)."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restore the default generator's state from `get_rng_state()`."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices: Any = None, enabled: bool = True, **kwargs: Any) -> Iterator[None]:
    """Run the block with the default generator's state saved and restored afterwards, so
    draws inside it do not change the stream outside (PyTorch's torch.random.fork_rng;
    there are no other devices' generators to fork)."""
    if not enabled:
        yield
        return
    state = default_generator.get_state()
    try:
        yield
    finally:
        default_generator.set_state(state)


def generator_or_default(generator: Any, op: str) -> Generator:
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(
            f"{op}(): generator must be a tracer.Generator, got {type(generator).__name__}"
        )
    return generator
