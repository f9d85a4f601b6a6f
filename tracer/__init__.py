"""tracegrad: PyTorch-style eager autograd, and a tracing compiler to numba.

import tracer
x = tracer.tensor([1.0, 2.0], requires_grad=True)
(x**2 - 5).backward(gradient=tracer.ones(2))
x.grad  # tensor([2., 4.])
"""

from pathlib import Path

import compiler.ops  # noqa: F401  (fills the op registry)
from compiler.dtypes import bool_ as bool  # noqa: A001
from compiler.dtypes import float16, float32, float64, int8, int16, int32, int64, uint8
from compiler.errors import (
    AutogradError,
    DTypeError,
    LargeTraceWarning,
    ShapeError,
    TraceError,
    TracerError,
    TracerWarning,
)
from tracer import accelerator, autograd, backends, cuda, linalg, nn, optim, utils
from tracer._format import set_printoptions
from tracer.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    get_default_dtype,
    linspace,
    logspace,
    ones,
    ones_like,
    set_default_dtype,
    tensor,
    tril_indices,
    triu_indices,
    zeros,
    zeros_like,
)
from tracer.devices import DeviceError, device, get_default_device, set_default_device
from tracer.functions import *  # noqa: F403
from tracer.functions import max, min, sum  # noqa: A004
from tracer.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tracer.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from tracer.sampling import (
    bernoulli,
    multinomial,
    normal,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
)
from tracer.serialization import load, save
from tracer.tensor import Tensor

float = float32  # noqa: A001
double = float64
long = int64

__version__ = "0.1.0"

from runtime import cache as _cache  # noqa: E402
from tracer.trace import grad, trace, value_and_grad  # noqa: E402


def cache_dir() -> Path:
    """The directory of the on-disk compile cache (``$TRACER_CACHE_DIR`` or the user cache
    dir; a private temporary directory when that one is not writable)."""
    return _cache.cache_dir()


def clear_cache() -> None:
    """Delete every compiled module from the disk cache and forget those loaded here."""
    _cache.clear_cache()
