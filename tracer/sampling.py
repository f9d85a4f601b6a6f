"""Random tensors with PyTorch's CPU streams: rand, randn, randint, randperm, the *_like
forms, normal, bernoulli, multinomial, and the in-place uniform_, normal_, random_,
bernoulli_ and exponential_ (Tensor methods).

After `tracer.manual_seed(s)` each of these gives the numbers PyTorch gives after
`torch.manual_seed(s)`, in float32 and float64, for every size (the algorithms and the
size, dtype and layout cases they switch on are in `tracer._distributions`). Every function
takes `generator=` (a `tracer.Generator`; the default generator otherwise).

Inside a traced function rand, randn, their _like forms, normal, randint, randint_like and
bernoulli (and dropout) draw new numbers at every call of the compiled function: each call
site takes one 64-bit key from the generator per call, and the compiled code turns it into
numbers with a counter-based generator (`compiler.ops.random`). These are not PyTorch's
numbers (those come from one sequential stream that compiled loops cannot share), but
after `tracer.manual_seed(s)` the same calls give the same numbers again. The in-place
fills, randperm and multinomial stay eager only: inside a traced function they raise
TraceError saying to pass the numbers in as an argument. See docs/random.md.

Arguments are checked before any number is drawn, so an error leaves the generator as it
was.
"""

from __future__ import annotations

import operator
import warnings
from typing import Any

import numpy as np

from compiler import dtypes, operand
from compiler.dispatch import apply
from compiler.errors import DTypeError, TraceError, TracerWarning
from compiler.operand import Operand
from compiler.source import describe_location
from tracer import _distributions as dist
from tracer.creation import _float_dtype, _make, _number, parse_size
from tracer.devices import as_cpu
from tracer.random import Generator, generator_or_default
from tracer.tensor import Tensor

__all__ = [
    "bernoulli",
    "multinomial",
    "normal",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
]


def _not_traced(op: str) -> None:
    """Random numbers drawn inside a traced function would be drawn once, at trace time,
    and reused by every later call: refuse."""
    if operand.tracing.builder is not None:
        where = describe_location()
        raise TraceError(
            f"{op}() inside a traced function would draw its numbers once, when tracing, "
            "and every later call would reuse them"
            + (f"\n  at {where}" if where else "")
            + "\nDraw them outside and pass them in as an argument "
            f"(f(x, noise=tracer.{op.rstrip('_')}(...)))."
        )


def _tracing() -> bool:
    return operand.tracing.builder is not None


def _traced(
    op: str,
    generator: Generator | None,
    shape: tuple[int, ...],
    d: np.dtype,
    dist_name: str,
    requires_grad: bool = False,
) -> Any:
    """`shape` samples of U[0, 1) or N(0, 1) (`dist_name`) in the running trace: the
    key is an input of the compiled function that the generator refills at every call."""
    if requires_grad:
        raise TraceError(
            f"{op}(requires_grad=True) inside a traced function: a tensor made inside "
            "cannot be a leaf that collects .grad. Make it outside and pass it in."
        )
    gen = generator_or_default(generator, op)

    def draw() -> Tensor:
        return Tensor(dist.random_full_range(gen, 1, np.dtype(np.int64)).reshape(()))

    key = operand.tracing.builder.random_key(draw(), draw, op)
    return apply("random", key, shape=tuple(shape), dtype=d, dist=dist_name)


def _float_kind(d: np.dtype, op: str) -> np.dtype:
    if d.kind != "f":
        raise DTypeError(
            f"{op}: needs a floating point dtype, got {d}; pass dtype=tracer.float32 "
            "(or use randint for integers)"
        )
    return d


def _check_grad(d: np.dtype, requires_grad: bool, op: str) -> None:
    if requires_grad and d.kind != "f":
        raise DTypeError(
            f"{op}: only tensors of floating point dtype can require gradients, got {d}"
        )


def _new(
    shape: tuple[int, ...], d: np.dtype, device: Any, requires_grad: bool, op: str
) -> np.ndarray:
    as_cpu(device, op)
    _check_grad(d, requires_grad, op)
    return np.empty(shape, d)


# ---- uniform and normal -------------------------------------------------------------
def rand(
    *sizes: Any,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Samples of U[0, 1) (default dtype): float32 keeps 24 random bits, float64 53."""
    d = _float_kind(_float_dtype(dtype), "rand")
    shape = parse_size(sizes, "rand", size)
    if _tracing():
        as_cpu(device, "rand")
        return _traced("rand", generator, shape, d, "uniform", requires_grad)
    gen = generator_or_default(generator, "rand")
    out = _new(shape, d, device, requires_grad, "rand")
    out.reshape(-1)[...] = dist.uniform(gen, out.size, d, 0.0, 1.0)
    return _make(out, requires_grad)


def randn(
    *sizes: Any,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Samples of N(0, 1) (default dtype), by PyTorch's Box-Muller paths."""
    d = _float_kind(_float_dtype(dtype), "randn")
    shape = parse_size(sizes, "randn", size)
    if _tracing():
        as_cpu(device, "randn")
        return _traced("randn", generator, shape, d, "normal", requires_grad)
    gen = generator_or_default(generator, "randn")
    out = _new(shape, d, device, requires_grad, "randn")
    dist.normal(gen, out, 0.0, 1.0)
    return _make(out, requires_grad)


def _like_args(input: Any, dtype: Any, op: str) -> tuple[tuple[int, ...], np.dtype]:
    if not isinstance(input, Operand):
        raise TypeError(f"{op}(): expected a tensor, got {type(input).__name__}")
    return tuple(input.shape), input.dtype if dtype is None else dtypes.canonical(dtype)


def rand_like(
    input: Tensor,  # noqa: A002  (PyTorch's name)
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
) -> Tensor:
    """U[0, 1) samples in `input`'s shape and dtype (unless `dtype`)."""
    shape, d = _like_args(input, dtype, "rand_like")
    if _tracing():
        as_cpu(device, "rand_like")
        d = _float_kind(d, "rand_like")
        return _traced("rand_like", generator, shape, d, "uniform", requires_grad)
    gen = generator_or_default(generator, "rand_like")
    out = _new(shape, _float_kind(d, "rand_like"), device, requires_grad, "rand_like")
    out.reshape(-1)[...] = dist.uniform(gen, out.size, d, 0.0, 1.0)
    return _make(out, requires_grad)


def randn_like(
    input: Tensor,  # noqa: A002
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
) -> Tensor:
    """N(0, 1) samples in `input`'s shape and dtype (unless `dtype`)."""
    shape, d = _like_args(input, dtype, "randn_like")
    if _tracing():
        as_cpu(device, "randn_like")
        d = _float_kind(d, "randn_like")
        return _traced("randn_like", generator, shape, d, "normal", requires_grad)
    gen = generator_or_default(generator, "randn_like")
    out = _new(shape, _float_kind(d, "randn_like"), device, requires_grad, "randn_like")
    dist.normal(gen, out, 0.0, 1.0)
    return _make(out, requires_grad)


def _std_checked(std: float, op: str) -> float:
    if not std >= 0:
        raise ValueError(f"{op}: expects std >= 0.0, but found std {std}")
    return std


def normal(
    mean: Any,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Samples of N(mean, std**2), PyTorch's four forms:

    * `normal(mean: float, std: float, size)`: a new tensor of `size` (default dtype);
    * `normal(mean: Tensor, std: Tensor)`: the broadcast shape, `mean`'s dtype;
    * `normal(mean: Tensor, std: float = 1.0)`: `mean`'s shape and dtype;
    * `normal(mean: float, std: Tensor)`: `std`'s shape and dtype.

    As in PyTorch, the tensor forms draw standard normals z and compute z * std + mean (the
    (Tensor, float) form draws N(0, std**2) and adds mean). Raises ValueError for a
    negative std (inside a traced function: a negative number; a tensor's values are not
    looked at there). Gradients do not flow to `mean` and `std` (as in PyTorch, whose
    gradient for them is zero)."""
    if _tracing():
        return _traced_normal(mean, std, size, generator, dtype, device, requires_grad)
    gen = generator_or_default(generator, "normal")
    mean_t, std_t = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mean_t and not std_t:
        if size is None:
            raise TypeError("normal(mean: float, std: float) needs size=...")
        m = float(_number(mean, "mean", "normal"))
        s = _std_checked(float(_number(std, "std", "normal")), "normal")
        d = _float_kind(_float_dtype(dtype), "normal")
        out = _new(parse_size((size,), "normal"), d, device, requires_grad, "normal")
        dist.normal(gen, out, m, s)
        return _make(out, requires_grad)
    if size is not None:
        raise TypeError("normal(): size= is only for float mean and std; tensors set the shape")
    as_cpu(device, "normal")
    for name, v in (("mean", mean), ("std", std)):
        if isinstance(v, Tensor) and v.dtype.kind != "f":
            raise DTypeError(f"normal: {name} must be a floating point tensor, got {v.dtype.name}")
    std_value = None if std_t else _std_checked(float(_number(std, "std", "normal")), "normal")
    mean_value = None if mean_t else float(_number(mean, "mean", "normal"))
    if std_t and std._data.size and not (std._data >= 0).all():
        raise ValueError("normal: expects all elements of std >= 0.0")
    try:
        shape = np.broadcast_shapes(
            np.shape(mean._data) if mean_t else (), np.shape(std._data) if std_t else ()
        )
    except ValueError:
        raise ValueError(
            f"normal: mean of shape {tuple(mean.shape)} and std of shape {tuple(std.shape)} "
            "do not broadcast"
        ) from None
    out = np.empty(shape, mean.dtype if mean_t else std.dtype)
    # then in place, computing in the promoted dtype as PyTorch's mul_/add_ do
    if not std_t:  # normal(Tensor, float): N(0, std**2), then + mean
        dist.normal(gen, out, 0.0, std_value)
        np.add(out, mean._data, out=out, casting="unsafe")
    else:
        dist.normal(gen, out, 0.0, 1.0)
        np.multiply(out, std._data, out=out, casting="unsafe")
        if mean_t:
            np.add(out, mean._data, out=out, casting="unsafe")
        else:
            out += out.dtype.type(mean_value)
    return _make(out, requires_grad)


def _traced_normal(
    mean: Any,
    std: Any,
    size: Any,
    generator: Generator | None,
    dtype: Any,
    device: Any,
    requires_grad: bool,
) -> Any:
    """normal() inside a trace: z * std + mean for standard normals z of the new key."""
    as_cpu(device, "normal")
    mean_t, std_t = isinstance(mean, Operand), isinstance(std, Operand)
    if not mean_t and not std_t:
        if size is None:
            raise TypeError("normal(mean: float, std: float) needs size=...")
        m = float(_number(mean, "mean", "normal"))
        sd = _std_checked(float(_number(std, "std", "normal")), "normal")
        d = _float_kind(_float_dtype(dtype), "normal")
        z = _traced("normal", generator, parse_size((size,), "normal"), d, "normal", requires_grad)
        return z * sd + m
    if size is not None:
        raise TypeError("normal(): size= is only for float mean and std; tensors set the shape")
    for name, v in (("mean", mean), ("std", std)):
        if isinstance(v, Operand) and v.dtype.kind != "f":
            raise DTypeError(f"normal: {name} must be a floating point tensor, got {v.dtype}")
    if not std_t:
        _std_checked(float(_number(std, "std", "normal")), "normal")
    try:
        shape = np.broadcast_shapes(
            tuple(mean.shape) if mean_t else (), tuple(std.shape) if std_t else ()
        )
    except ValueError:
        raise ValueError(
            f"normal: mean of shape {tuple(mean.shape)} and std of shape {tuple(std.shape)} "
            "do not broadcast"
        ) from None
    d = mean.dtype if mean_t else std.dtype
    z = _traced("normal", generator, shape, d, "normal", requires_grad)
    out = z * (std.detach() if std_t else float(std)) + (mean.detach() if mean_t else float(mean))
    return out if out.dtype == d else out.to(d)


# ---- integers -----------------------------------------------------------------------
def _int_arg(v: Any, what: str, op: str) -> int:
    if isinstance(v, Tensor):
        v = v.item()
    if isinstance(v, (bool, np.bool_)) or not hasattr(v, "__index__"):
        raise TypeError(f"{op}(): {what} must be an int, got {v!r} ({type(v).__name__})")
    v = operator.index(v)
    if not -(2**63) <= v < 2**63:
        raise ValueError(f"{op}(): {what} = {v} does not fit in int64")
    return v


def _update_from(frm: int, d: np.dtype) -> int:
    """The smallest `from` a float dtype can hold exactly (PyTorch's update_from)."""
    with np.errstate(over="ignore"):
        rounded = d.type(frm + 1)
    if not np.isfinite(rounded):  # beyond the dtype: _check_in_range warns
        return frm
    plus1 = int(rounded)
    if plus1 < frm:
        n = abs(frm + 1).bit_length() - 1
        frm = plus1 + (1 << (n - np.finfo(d).nmant))
    return frm


def _update_to(to: int, d: np.dtype) -> int:
    """The largest `to` a float dtype can hold exactly (PyTorch's update_to)."""
    with np.errstate(over="ignore"):
        rounded = d.type(to - 1)
    if not np.isfinite(rounded):
        return to
    minus1 = int(rounded)
    if minus1 >= to:
        n = abs(to - 1).bit_length() - 1
        to = minus1 - (1 << (n - np.finfo(d).nmant))
    return to


def _check_in_range(frm: int, to_inc: int, d: np.dtype, op: str) -> None:
    """`from` and `to - 1` must be values of dtype `d` (for float dtypes, finite values; a
    warning beyond 2**digits, where not every integer is a float, as in PyTorch)."""
    if d.kind == "f":
        big = float(np.finfo(d).max)
        for name, v in (("from", frm), ("to - 1", to_inc)):
            if not -big <= v <= big:
                raise ValueError(f"{op}: {name} = {v} is out of bounds for {d}")
        digits = np.finfo(d).nmant + 1
        lo, hi = -(2**digits), 2**digits
        for name, v in (("from", frm), ("to - 1", to_inc)):
            if not lo <= v <= hi:
                warnings.warn(
                    f"{op}: {name} = {v} is out of bounds [-(2^{digits}), 2^{digits}]; "
                    f"{d} holds integers exactly only within this range",
                    TracerWarning,
                    stacklevel=4,
                )
        return
    if d == np.bool_:
        lo, hi = 0, 1
    else:
        info = np.iinfo(d)
        lo, hi = int(info.min), int(info.max)
    for name, v in (("from", frm), ("to - 1", to_inc)):
        if not lo <= v <= hi:
            raise ValueError(f"{op}: {name} = {v} is out of bounds for {d} ([{lo}, {hi}])")


def _from_to_plan(frm: int, to: int | None, d: np.dtype, op: str) -> tuple[int, int] | None:
    """(range, base) of `random_(from, to)` on dtype `d` (PyTorch's checks and float
    adjustments), or None for the full 64-bit range."""
    if to is not None:
        if frm >= to:
            raise ValueError(f"{op}: expects 'from' < 'to', but got from={frm} >= to={to}")
        if d.kind == "f":
            frm, to = _update_from(frm, d), _update_to(to, d)
            if frm >= to:
                raise ValueError(
                    f"{op}: 'from' and 'to' in {d} are from={frm} >= to={to}; widen the range"
                )
        _check_in_range(frm, to - 1, d, op)
        return (to - frm) % 2**64, frm
    if frm == -(2**63):
        if d not in (np.int64, np.float64, np.float32):
            raise DTypeError(f"{op}: the full 64-bit range needs int64, float32 or float64")
        return None
    if d.kind == "f":
        to_inc = min(2 ** (np.finfo(d).nmant + 1), 2**63 - 1)
        frm = _update_from(frm, d)
        if frm >= to_inc:
            raise ValueError(f"{op}: 'from' = {frm} must be less than {to_inc} for {d}")
    else:
        to_inc = 1 if d == np.bool_ else int(np.iinfo(d).max)
    _check_in_range(frm, to_inc, d, op)
    return to_inc - frm + 1, frm


def _random_values(gen: Generator, n: int, d: np.dtype, plan: tuple[int, int] | None):
    if plan is None:
        return dist.random_full_range(gen, n, d)
    return dist.random_from_to(gen, n, d, *plan)


def _traced_integers(
    op: str,
    generator: Generator | None,
    shape: tuple[int, ...],
    d: np.dtype,
    plan: tuple[int, int] | None,
    requires_grad: bool,
) -> Any:
    """randint inside a trace: floor(u * range) + low for float64 uniforms u (the range
    at most 2**53, so that every integer in it is equally likely)."""
    if plan is None or plan[0] > 2**53:
        raise TraceError(
            f"{op}() inside a traced function draws from ranges of at most 2**53 integers; "
            "draw wider ones outside and pass them in"
        )
    range_, base = plan
    u = _traced(op, generator, shape, np.dtype(np.float64), "uniform", requires_grad)
    # u * range_ >= 0 and below range_ (u <= 1 - 2**-53): truncating is flooring
    return ((u * float(range_)).to(np.int64) + base).to(d)


def randint(
    low: Any = 0,
    high: Any = None,
    size: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers uniform in [low, high) (int64 unless `dtype`): `randint(high, size)` or
    `randint(low, high, size)`. Each is word % (high - low) + low, with 64-bit words once the
    range reaches 2**28, as in PyTorch. Raises ValueError for an empty range or bounds
    outside the dtype."""
    if isinstance(high, (tuple, list)) and size is None:  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size' (a tuple of ints)")
    gen = generator_or_default(generator, "randint")
    lo, hi = _int_arg(low, "low", "randint"), _int_arg(high, "high", "randint")
    d = dtypes.DEFAULT_INT if dtype is None else dtypes.canonical(dtype)
    plan = _from_to_plan(lo, hi, d, "randint")
    shape = parse_size((size,), "randint")
    if _tracing():
        as_cpu(device, "randint")
        _check_grad(d, requires_grad, "randint")
        return _traced_integers("randint", generator, shape, d, plan, requires_grad)
    out = _new(shape, d, device, requires_grad, "randint")
    out.reshape(-1)[...] = _random_values(gen, out.size, d, plan)
    return _make(out, requires_grad)


def randint_like(
    input: Tensor,  # noqa: A002
    low: Any = 0,
    high: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
) -> Tensor:
    """randint in `input`'s shape and dtype (unless `dtype`): `randint_like(x, high)` or
    `randint_like(x, low, high)`."""
    if high is None:
        low, high = 0, low
    shape, d = _like_args(input, dtype, "randint_like")
    lo, hi = _int_arg(low, "low", "randint_like"), _int_arg(high, "high", "randint_like")
    plan = _from_to_plan(lo, hi, d, "randint_like")
    if _tracing():
        as_cpu(device, "randint_like")
        _check_grad(d, requires_grad, "randint_like")
        return _traced_integers("randint_like", generator, shape, d, plan, requires_grad)
    gen = generator_or_default(generator, "randint_like")
    out = _new(shape, d, device, requires_grad, "randint_like")
    out.reshape(-1)[...] = _random_values(gen, out.size, d, plan)
    return _make(out, requires_grad)


def randperm(
    n: int,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of 0..n-1 (int64 unless `dtype`), PyTorch's shuffle: n - 1
    words for Fisher-Yates, or n 64-bit values from 2**32 / 20 elements on."""
    _not_traced("randperm")
    gen = generator_or_default(generator, "randperm")
    n = _int_arg(n, "n", "randperm")
    if n < 0:
        raise ValueError(f"randperm(): n must be non-negative, got {n}")
    d = dtypes.DEFAULT_INT if dtype is None else dtypes.canonical(dtype)
    if d.kind == "f" and n > 2 ** (np.finfo(d).nmant + 1) + 1:
        digits = np.finfo(d).nmant + 1
        raise ValueError(f"randperm(): n cannot be greater than 2^{digits}+1 for {d}")
    if d.kind in "iub" and n > (1 if d == np.bool_ else int(np.iinfo(d).max)) + 1:
        raise ValueError(f"randperm(): n = {n} values do not fit in {d}")
    parse_size((n,), "randperm")
    out = _new((n,), d, device, requires_grad, "randperm")
    out[...] = dist.randperm(gen, n).astype(d)
    return _make(out, requires_grad)


# ---- bernoulli and multinomial ------------------------------------------------------
def _probability(p: Any, op: str) -> float:
    p = float(_number(p, "p", op))
    if not 0 <= p <= 1:
        raise ValueError(f"{op}: expects p to be in [0, 1], but got p={p}")
    return p


def _probabilities(p: Tensor, op: str) -> np.ndarray:
    if p.dtype.kind != "f":
        raise DTypeError(
            f"{op}: the probabilities must be a floating point tensor, got {p.dtype.name}"
        )
    a = p._data
    if a.size and not ((a >= 0) & (a <= 1)).all():
        raise ValueError(f"{op}: every probability must be in [0, 1]")
    return a


def bernoulli(
    input: Tensor,  # noqa: A002
    p: Any = None,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """0/1 draws in `input`'s shape and dtype: with probability `input[i]` each (a float
    tensor in [0, 1]), or with probability `p` for all when `p` is given.

    Raises ValueError for a probability outside [0, 1]; inside a traced function the
    values of a probability tensor are not looked at (below 0 counts as 0, above 1 as 1)."""
    if not isinstance(input, Operand):
        raise TypeError(f"bernoulli(): expected a tensor, got {type(input).__name__}")
    if _tracing():
        if p is None and input.dtype.kind != "f":
            raise DTypeError(
                f"bernoulli: the probabilities must be a floating point tensor, got {input.dtype}"
            )
        threshold = input if p is None else _probability(p, "bernoulli")
        d = input.dtype if input.dtype.kind == "f" else np.dtype(np.float64)
        u = _traced("bernoulli", generator, tuple(input.shape), d, "uniform")
        return (u < (threshold.detach() if p is None else threshold)).to(input.dtype)
    gen = generator_or_default(generator, "bernoulli")
    out = np.empty(input.shape, input.dtype)
    if p is None:
        probs = _probabilities(input, "bernoulli")
        out.reshape(-1)[...] = dist.bernoulli_tensor(gen, probs.reshape(-1), out.dtype)
    else:
        pv = _probability(p, "bernoulli")
        out.reshape(-1)[...] = dist.bernoulli_scalar(gen, out.size, out.dtype, pv)
    return _make(out, False)


def multinomial(
    input: Tensor,  # noqa: A002
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Indices of categories drawn with probabilities proportional to the rows of `input`
    (1-D, or 2-D with one distribution per row): int64 of shape (num_samples,) or
    (rows, num_samples).

    As PyTorch: without replacement (or for one sample) by the exponential race (top-k of
    p / q with q ~ Exp(1)); with replacement by binary search in the cumulative sums.
    Among zero-probability categories (only drawn without replacement once the others are
    used up) the order is by index here; PyTorch's top-k may order them otherwise."""
    _not_traced("multinomial")
    gen = generator_or_default(generator, "multinomial")
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): expected a tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise DTypeError(
            f"multinomial: only supports floating point probabilities, got {input.dtype.name}"
        )
    if input.ndim not in (1, 2):
        raise ValueError(
            f"multinomial: prob_dist must be 1 or 2 dim, got shape {tuple(input.shape)}"
        )
    k = _int_arg(num_samples, "num_samples", "multinomial")
    probs = input._data.reshape(-1, input.shape[-1])
    cats = probs.shape[1]
    if k <= 0:
        raise ValueError(f"multinomial: cannot sample n_sample <= 0 samples (got {k})")
    if not replacement and k > cats:
        raise ValueError(f"multinomial: cannot sample {k} > {cats} categories without replacement")
    if cats > 2**24:
        raise ValueError("multinomial: number of categories cannot exceed 2^24")
    if probs.size and not (np.isfinite(probs).all() and (probs >= 0).all()):
        raise ValueError("multinomial: probabilities must be finite and non-negative")
    if probs.size and (probs.sum(axis=1, dtype=np.float64) <= 0).any():
        raise ValueError("multinomial: invalid distribution (sum of probabilities <= 0)")
    out = dist.multinomial(gen, probs, k, bool(replacement))
    return _make(out.reshape(input.shape[:-1] + (k,)), False)


# ---- in place (Tensor methods) ------------------------------------------------------
def _fill_inplace(t: Tensor, op: str, sample: Any) -> Tensor:
    """Run `sample(array)` to fill `t`'s array in place, with the checks of in-place ops."""
    t._check_inplace(op)
    if not t._data.flags.writeable:
        raise ValueError(
            f"{op}: this tensor (shape {tuple(t.shape)}) is a read-only view (an expand or "
            "broadcast); several elements share one memory location. Call .clone() first."
        )
    _not_traced(op)
    sample(t._data)
    t._version[0] += 1
    t._grad_fn = None
    return t


def uniform_(t: Tensor, low: Any = 0.0, high: Any = 1.0, generator: Any = None) -> Tensor:
    gen = generator_or_default(generator, "uniform_")
    d = _float_kind(t.dtype, "uniform_")
    lo, hi = float(_number(low, "from", "uniform_")), float(_number(high, "to", "uniform_"))
    big = float(np.finfo(d).max)
    for name, v in (("from", lo), ("to", hi)):
        if not -big <= v <= big:
            raise ValueError(f"uniform_: {name} = {v} is out of bounds for {d}")
    if lo > hi:
        raise ValueError(
            f"uniform_: expects to return a [from, to) range, but found from={lo} > to={hi}"
        )
    if hi - lo > big:
        raise ValueError(f"uniform_: to - from = {hi - lo} exceeds the largest {d}")
    return _fill_inplace(
        t, "uniform_", lambda a: dist.fill(a, lambda n: dist.uniform(gen, n, d, lo, hi))
    )


def normal_(t: Tensor, mean: Any = 0.0, std: Any = 1.0, generator: Any = None) -> Tensor:
    gen = generator_or_default(generator, "normal_")
    _float_kind(t.dtype, "normal_")
    m = float(_number(mean, "mean", "normal_"))
    s = _std_checked(float(_number(std, "std", "normal_")), "normal_")
    return _fill_inplace(t, "normal_", lambda a: dist.normal(gen, a, m, s))


def random_(t: Tensor, *args: Any, generator: Any = None, **kwargs: Any) -> Tensor:
    """random_(), random_(to), random_(from, to) (to=None: up to the dtype's maximum)."""
    gen = generator_or_default(generator, "random_")
    if len(args) > 2 or set(kwargs) - {"from", "to"}:
        raise TypeError("random_() takes (), (to), or (from, to) and generator=")
    names = ("from", "to") if len(args) == 2 else ("to",) if len(args) == 1 else ()
    given = dict(zip(names, args))
    for key, v in kwargs.items():
        if key in given:
            raise TypeError(f"random_() got multiple values for {key!r}")
        given[key] = v
    d = t.dtype
    if not given:
        return _fill_inplace(
            t, "random_", lambda a: dist.fill(a, lambda n: dist.random_default(gen, n, d))
        )
    frm = _int_arg(given.get("from", 0), "from", "random_")
    to = given.get("to")
    to = None if to is None else _int_arg(to, "to", "random_")
    plan = _from_to_plan(frm, to, d, "random_")
    return _fill_inplace(
        t, "random_", lambda a: dist.fill(a, lambda n: _random_values(gen, n, d, plan))
    )


def bernoulli_(t: Tensor, p: Any = 0.5, generator: Any = None) -> Tensor:
    gen = generator_or_default(generator, "bernoulli_")
    d = t.dtype
    if isinstance(p, Tensor):
        probs = _probabilities(p, "bernoulli_")
        try:
            np.broadcast_to(probs, t.shape)
        except ValueError:
            raise ValueError(
                f"bernoulli_: p of shape {tuple(p.shape)} does not broadcast to the tensor's "
                f"shape {tuple(t.shape)}"
            ) from None

        def sample(a: np.ndarray) -> None:
            flat = dist.iteration_order(probs, a)
            dist.fill(a, lambda n: dist.bernoulli_tensor(gen, flat, d))

        return _fill_inplace(t, "bernoulli_", sample)
    pv = _probability(p, "bernoulli_")
    return _fill_inplace(
        t, "bernoulli_", lambda a: dist.fill(a, lambda n: dist.bernoulli_scalar(gen, n, d, pv))
    )


def exponential_(t: Tensor, lambd: Any = 1.0, generator: Any = None) -> Tensor:
    gen = generator_or_default(generator, "exponential_")
    d = _float_kind(t.dtype, "exponential_")
    lam = float(_number(lambd, "lambd", "exponential_"))
    if not lam > 0:
        raise ValueError(f"exponential_: expects lambda > 0.0, but found lambda={lam}")
    return _fill_inplace(
        t, "exponential_", lambda a: dist.fill(a, lambda n: dist.exponential(gen, n, d, lam))
    )


# ---- Tensor methods: random fills -------------------------------------------------------
# They live with the samplers (tracer.tensor cannot import this module, which imports it);
# `import tracer` attaches them.


def _method_uniform_(self, from_: float = 0.0, to: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with samples of U[from_, to) (also accepts from= as a keyword)."""
    return uniform_(self, from_, to, generator)


def _method_normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with samples of N(mean, std**2)."""
    return normal_(self, mean, std, generator)


def _method_random_(self, *args: Any, generator: Any = None, **kwargs: Any) -> Tensor:
    """Fill with integers: random_() over the dtype's range, random_(to) in [0, to),
    random_(from, to) in [from, to) (to=None: up to the dtype's maximum)."""
    return random_(self, *args, generator=generator, **kwargs)


def _method_bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Tensor:
    """Fill with 0/1 draws, 1 with probability p (a number or a broadcastable tensor)."""
    return bernoulli_(self, p, generator)


def _method_exponential_(self, lambd: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with samples of Exp(lambd)."""
    return exponential_(self, lambd, generator)


Tensor.uniform_ = _method_uniform_  # type: ignore[attr-defined]
Tensor.normal_ = _method_normal_  # type: ignore[attr-defined]
Tensor.random_ = _method_random_  # type: ignore[attr-defined]
Tensor.bernoulli_ = _method_bernoulli_  # type: ignore[attr-defined]
Tensor.exponential_ = _method_exponential_  # type: ignore[attr-defined]
