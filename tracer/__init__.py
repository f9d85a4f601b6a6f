"""tracegrad: PyTorch-style eager autograd, and a tracing compiler to numba.

import tracer
x = tracer.tensor([1.0, 2.0], requires_grad=True)
(x**2 - 5).backward(gradient=tracer.ones(2))
x.grad  # tensor([2., 4.])
"""

from pathlib import Path
from typing import Any

import compiler.ops  # noqa: F401  (fills the op registry)
from compiler.errors import (
    AutogradError,
    DTypeError,
    LargeTraceWarning,
    ShapeError,
    TraceError,
    TracerError,
    TracerWarning,
)
from compiler.errors import missing_attribute as _missing_attribute
from tracer import (
    accelerator,
    autograd,
    backends,
    cuda,
    func,
    linalg,
    memory,  # noqa: F401  (Tensor.stride, .contiguous, ...)
    nn,
    optim,
    return_types,
    utils,
)
from tracer._format import set_printoptions
from tracer.control import cond, fori_loop, scan, switch, while_loop
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
from tracer.custom import custom_vjp
from tracer.devices import DeviceError, device, get_default_device, set_default_device
from tracer.functions import *  # noqa: F403
from tracer.functions import all, any, max, min, sum  # noqa: A004
from tracer.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tracer.legacy import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from tracer.nn.functional.activations import (  # the torch.* spellings of activations
    celu,
    celu_,
    hardshrink,
    prelu,
    relu_,
    rrelu,
    rrelu_,
    selu,
    selu_,
    threshold,
    threshold_,
)
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
from tracer.transforms import checkpoint, hessian, jacfwd, jacrev, jvp, linearize, vjp, vmap
from tracer.typeinfo import (
    UNSUPPORTED_DTYPES,
    Size,
    bool,
    can_cast,
    double,
    dtype,
    finfo,
    float,
    float16,
    float32,
    float64,
    half,
    iinfo,
    int,
    int8,
    int16,
    int32,
    int64,
    is_complex,
    is_floating_point,
    is_nonzero,
    long,
    promote_types,
    result_type,
    short,
    uint8,
)

__version__ = "0.1.0"

from runtime import background as _background  # noqa: E402
from runtime import cache as _cache  # noqa: E402
from tracer import viz  # noqa: E402  (graph pictures; rendering needs the [viz] extra)
from tracer.trace import grad, trace, value_and_grad  # noqa: E402


def cache_dir() -> Path:
    """The directory of the on-disk compile cache (``$TRACER_CACHE_DIR`` or the user cache
    dir; a private temporary directory when that one is not writable)."""
    return _cache.cache_dir()


def clear_cache() -> None:
    """Delete every compiled module from the disk cache and forget those loaded here."""
    _cache.clear_cache()


def set_compile_mode(mode: "str | None") -> None:
    """How kernels not in the disk cache compile. ``"background"`` (the default): the
    first calls run on the reference interpreter while another process compiles, and
    calls switch to the kernel once it is ready (results agree up to float rounding).
    ``"sync"``: the first call compiles and waits (bit-reproducible runs, benchmarks).
    ``None``: as ``$TRACER_COMPILE`` says. Raises ValueError for another mode."""
    _background.set_compile_mode(mode)


def wait_for_compiles(timeout: "float | None" = None) -> "bool":
    """Block until every background compile of this process has finished (or `timeout`
    seconds pass); returns True when none is pending. Calls made after it returns True
    run compiled kernels (or, where a compile failed, the interpreter with a warning)."""
    return _background.wait(timeout)


def __getattr__(name: str) -> Any:
    # called only for names this module lacks: say when PyTorch has them
    if name in UNSUPPORTED_DTYPES:
        raise AttributeError(
            f"tracer.{name}: this dtype is not supported; tensors hold bool, uint8, int8, "
            "int16, int32, int64, float16, float32 or float64 numbers"
        )
    if name.startswith("_"):
        raise AttributeError(f"module 'tracer' has no attribute {name!r}")
    raise _missing_attribute("torch", "module 'tracer'", name, list(globals()))
