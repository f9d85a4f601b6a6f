"""Pooling and resampling: max_pool1d/2d/3d, avg_pool1d/2d/3d, adaptive_avg_pool1d/2d/3d,
adaptive_max_pool1d/2d/3d, interpolate (and upsample).

Max pooling is one kernel that also returns each maximum's index, and its gradient
goes to that index (one element per window, as PyTorch). Average pooling is a sum
over the window view of the zero-padded input divided by PyTorch's divisors, so it
fuses into the loops around it. Resampling gathers the source pixels of each output
and interpolates one dim at a time, in PyTorch's order and precision.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from compiler.errors import DTypeError, ShapeError
from compiler.operand import apply
from compiler.ops.conv import max_pool, pool_counts, windows
from compiler.ops.conv import pad as pad_op
from compiler.ops.index import parse_index
from tracer.nn.functional.conv import _check_tensor, ntuple

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "interpolate",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "upsample",
    "upsample_bilinear",
    "upsample_nearest",
]


def _spatial_input(x: Any, d: int, op: str) -> None:
    if x.ndim not in (d + 1, d + 2):
        raise ShapeError(
            f"{op}: expected a {d + 1}-d (unbatched) or {d + 2}-d (batched) input, got shape "
            f"{tuple(x.shape)}"
        )
    if any(n == 0 for n in x.shape[1:]):
        raise ShapeError(f"{op}: expected non-empty channel and spatial dims, got {tuple(x.shape)}")


def _window_args(
    op: str, d: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1
) -> tuple[tuple[int, ...], ...]:
    kernel = ntuple(kernel_size, d, "kernel_size", op)
    stride = kernel if stride is None or stride == [] or stride == () else stride
    st = ntuple(stride, d, "stride", op)
    pads = ntuple(padding, d, "padding", op)
    dil = ntuple(dilation, d, "dilation", op)
    for what, vals in (("kernel_size", kernel), ("stride", st), ("dilation", dil)):
        if any(v <= 0 for v in vals):
            raise ValueError(f"{op}: {what} must be greater than zero, got {vals}")
    for p, k, dd in zip(pads, kernel, dil):
        if p < 0 or p > (dd * (k - 1) + 1) // 2:
            raise ValueError(
                f"{op}: pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={dd}"
            )
    return kernel, st, pads, dil


def _counts(
    x: Any, op: str, kernel: Any, st: Any, pads: Any, dil: Any, ceil_mode: bool
) -> tuple[int, ...]:
    d = len(kernel)
    spatial = tuple(x.shape[x.ndim - d :])
    counts = pool_counts(spatial, kernel, st, pads, dil, ceil_mode)
    if any(c <= 0 for c in counts):
        raise ShapeError(
            f"{op}: given input size {spatial}, the calculated output size {counts} is too small"
        )
    return counts


# ---- max pooling -----------------------------------------------------------------------


def _max_pool(
    x: Any,
    d: int,
    op: str,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
) -> Any:
    _check_tensor(op, input=x)
    _spatial_input(x, d, op)
    kernel, st, pads, dil = _window_args(op, d, kernel_size, stride, padding, dilation)
    _counts(x, op, kernel, st, pads, dil, ceil_mode)
    values, indices = max_pool(x, kernel, st, pads, dil, ceil_mode)
    return (values, indices) if return_indices else values


def max_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The maximum of each window of the last dim of (N, C, L) or (C, L); with
    return_indices also each maximum's position (int64). stride defaults to the kernel
    size; padding (at most half the kernel) is never selected; ceil_mode keeps a last
    partial window. A NaN in a window is its maximum."""
    _check_tensor("max_pool1d", input=input)
    _spatial_input(input, 1, "max_pool1d")
    kernel, st, pads, dil = _window_args("max_pool1d", 1, kernel_size, stride, padding, dilation)
    out = _max_pool(
        input.unsqueeze(-2),
        2,
        "max_pool1d",
        (1, *kernel),
        (1, *st),
        (0, *pads),
        (1, *dil),
        ceil_mode,
        True,
    )
    values, indices = out[0].squeeze(-2), out[1].squeeze(-2)
    return (values, indices) if return_indices else values


def max_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max pooling over the last two dims of (N, C, H, W) or (C, H, W); indices are
    flat positions h * W + w. See max_pool1d."""
    return _max_pool(
        input, 2, "max_pool2d", kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool3d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max pooling over the last three dims of (N, C, D, H, W) or (C, D, H, W); see
    max_pool1d."""
    return _max_pool(
        input, 3, "max_pool3d", kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


# ---- average pooling -------------------------------------------------------------------


def _divisors(
    spatial: tuple[int, ...],
    counts: tuple[int, ...],
    kernel: tuple[int, ...],
    st: tuple[int, ...],
    pads: tuple[int, ...],
    count_include_pad: bool,
) -> np.ndarray:
    """PyTorch's divisor of each window: its size clipped to the padded input (or, not
    counting padding, the number of input elements it covers)."""
    out = np.ones((), np.int64)
    for n, c, k, s, p in zip(spatial, counts, kernel, st, pads):
        start = np.arange(c) * s - p
        end = np.minimum(start + k, n + p)
        size = end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0)
        out = np.multiply.outer(out, size)
    return out


def _avg_pool(
    x: Any,
    d: int,
    op: str,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
    name: str | None = None,
) -> Any:
    _check_tensor(op, input=x)
    _spatial_input(x, d, op)
    if x.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point input, got {x.dtype}")
    kernel, st, pads, _ = _window_args(op, d, kernel_size, stride, padding)
    if divisor_override is not None and (
        isinstance(divisor_override, bool)
        or not isinstance(divisor_override, int)
        or divisor_override == 0
    ):
        raise ValueError(f"{op}: divisor must be a non-zero int, got {divisor_override!r}")
    counts = _counts(x, op, kernel, st, pads, (1,) * d, ceil_mode)
    spatial = tuple(x.shape[x.ndim - d :])
    # pad so that every window lies inside (the last ones may hang past the padding,
    # or leave the input's end unread: a negative amount crops it)
    hi = tuple((c - 1) * s + k - n - p for c, s, k, n, p in zip(counts, st, kernel, spatial, pads))
    lead = ((0, 0),) * (x.ndim - d)
    xp = pad_op(x, lead + tuple(zip(pads, hi)))
    total = windows(xp, kernel, st, (1,) * d).sum(tuple(range(x.ndim, x.ndim + d)))
    node = name or f"AvgPool{d}DBackward0"
    if divisor_override is not None:
        return apply("div", total, divisor_override, name=node)
    div = _divisors(spatial, counts, kernel, st, pads, count_include_pad)
    if (div == div.flat[0]).all():
        return apply("div", total, int(div.flat[0]), name=node)
    return apply("div", total, x._const(div.astype(x.dtype)), name=node)


def avg_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Any:
    """The mean of each window of the last dim of (N, C, L) or (C, L). stride defaults
    to the kernel size; zero padding counts in the divisor unless count_include_pad is
    False; ceil_mode keeps a last partial window (its divisor stops at the padding)."""
    _check_tensor("avg_pool1d", input=input)
    _spatial_input(input, 1, "avg_pool1d")
    kernel, st, pads, _ = _window_args("avg_pool1d", 1, kernel_size, stride, padding)
    out = _avg_pool(
        input.unsqueeze(-2),
        2,
        "avg_pool1d",
        (1, *kernel),
        (1, *st),
        (0, *pads),
        ceil_mode,
        count_include_pad,
        None,
    )
    return out.squeeze(-2)


def avg_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """Average pooling over the last two dims of (N, C, H, W) or (C, H, W); a
    divisor_override replaces every window's divisor. See avg_pool1d."""
    return _avg_pool(
        input,
        2,
        "avg_pool2d",
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def avg_pool3d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """Average pooling over the last three dims of (N, C, D, H, W) or (C, D, H, W); see
    avg_pool2d."""
    return _avg_pool(
        input,
        3,
        "avg_pool3d",
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


# ---- adaptive pooling ------------------------------------------------------------------


def _output_size(x: Any, d: int, output_size: Any, op: str) -> tuple[int, ...]:
    """output_size as d ints; None entries keep the input's size."""
    if output_size is None or isinstance(output_size, (int, np.integer)):
        sizes = (output_size,) * d
    else:
        sizes = tuple(output_size)
        if len(sizes) == 1:
            sizes *= d
    if len(sizes) != d:
        raise ValueError(f"{op}: output_size must be an int or {d} ints, got {output_size!r}")
    spatial = x.shape[x.ndim - d :]
    out = []
    for s, n in zip(sizes, spatial):
        if s is None:
            out.append(int(n))
        elif isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"{op}: output sizes must be non-negative ints, got {output_size!r}")
        else:
            out.append(int(s))
    if any(v == 0 for v in out):
        raise ShapeError(f"{op}: output size {tuple(out)} must be positive")
    return tuple(out)


def _adaptive_gather(x: Any, dim: int, out: int) -> tuple[Any, np.ndarray]:
    """The sum over each adaptive window along `dim` (windows [floor(i*n/out),
    ceil((i+1)*n/out))), and the windows' lengths."""
    n = x.shape[dim]
    o = np.arange(out)
    start, end = (o * n) // out, -((-(o + 1) * n) // out)
    width = int((end - start).max())
    j = start[:, None] + np.arange(width)[None, :]
    inside = j < end[:, None]
    key = (slice(None),) * dim + (np.minimum(j, n - 1),)
    spec, arrays, _ = parse_index(x, key)
    picked = apply("index", x, *arrays, spec=spec)  # (..., out, width, ...)
    shape = [1] * picked.ndim
    shape[dim], shape[dim + 1] = out, width
    picked = apply("where", x._const(inside.reshape(shape)), picked, 0)
    return picked.sum(dim + 1), end - start


def _adaptive_avg_pool(x: Any, d: int, output_size: Any, op: str) -> Any:
    _check_tensor(op, input=x)
    _spatial_input(x, d, op)
    if x.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point input, got {x.dtype}")
    out = _output_size(x, d, output_size, op)
    spatial = tuple(x.shape[x.ndim - d :])
    if all(o == 1 for o in out):  # PyTorch takes the mean
        return x.mean(tuple(range(x.ndim - d, x.ndim)), keepdim=True)
    node = f"AdaptiveAvgPool{d}DBackward0"
    if all(n % o == 0 for n, o in zip(spatial, out)):  # equal windows: average pooling
        kernel = tuple(n // o for n, o in zip(spatial, out))
        return _avg_pool(x, d, op, kernel, kernel, 0, False, True, None, name=node)
    total, lengths = x, np.ones((), np.int64)
    for i, o in enumerate(out):
        total, length = _adaptive_gather(total, x.ndim - d + i, o)
        lengths = np.multiply.outer(lengths, length)
    return apply("div", total, x._const(lengths.astype(x.dtype)), name=node)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Any:
    """Average pooling of (N, C, L) or (C, L) to `output_size` outputs: output i averages
    inputs floor(i*L/out) to ceil((i+1)*L/out) - 1."""
    _check_tensor("adaptive_avg_pool1d", input=input)
    _spatial_input(input, 1, "adaptive_avg_pool1d")
    (o,) = _output_size(input, 1, output_size, "adaptive_avg_pool1d")
    return _adaptive_avg_pool(input.unsqueeze(-2), 2, (1, o), "adaptive_avg_pool1d").squeeze(-2)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Adaptive average pooling of the last two dims to output_size (an int, or (h, w)
    with None keeping a dim's size); see adaptive_avg_pool1d."""
    return _adaptive_avg_pool(input, 2, output_size, "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input: Any, output_size: Any) -> Any:
    """Adaptive average pooling of the last three dims; see adaptive_avg_pool2d."""
    return _adaptive_avg_pool(input, 3, output_size, "adaptive_avg_pool3d")


def _adaptive_max_pool(x: Any, d: int, output_size: Any, return_indices: bool, op: str) -> Any:
    _check_tensor(op, input=x)
    _spatial_input(x, d, op)
    out = _output_size(x, d, output_size, op)
    values, indices = max_pool(x, output_size=out)
    return (values, indices) if return_indices else values


def adaptive_max_pool1d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """The maximum over each adaptive window of the last dim (see adaptive_avg_pool1d);
    with return_indices also their positions."""
    _check_tensor("adaptive_max_pool1d", input=input)
    _spatial_input(input, 1, "adaptive_max_pool1d")
    (o,) = _output_size(input, 1, output_size, "adaptive_max_pool1d")
    values, indices = _adaptive_max_pool(
        input.unsqueeze(-2), 2, (1, o), True, "adaptive_max_pool1d"
    )
    values, indices = values.squeeze(-2), indices.squeeze(-2)
    return (values, indices) if return_indices else values


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive max pooling of the last two dims; indices are flat positions h * W + w."""
    return _adaptive_max_pool(input, 2, output_size, return_indices, "adaptive_max_pool2d")


def adaptive_max_pool3d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive max pooling of the last three dims."""
    return _adaptive_max_pool(input, 3, output_size, return_indices, "adaptive_max_pool3d")


# ---- interpolation ---------------------------------------------------------------------

_MODES = {"nearest": 0, "nearest-exact": 0, "linear": 1, "bilinear": 2, "trilinear": 3, "area": 0}
_NODES = {
    "nearest": "UpsampleNearest{d}DBackward0",
    "nearest-exact": "UpsampleNearestExact{d}DBackward0",
    "linear": "UpsampleLinear1DBackward0",
    "bilinear": "UpsampleBilinear2DBackward0",
    "trilinear": "UpsampleTrilinear3DBackward0",
}


def _scale(n: int, out: int, scale: float | None, dtype: Any) -> Any:
    """compute_scales_value: 1 / scale_factor when one was given, else n / out, in `dtype`."""
    if scale is not None and scale > 0:
        return dtype.type(1.0 / scale)
    return dtype.type(n) / dtype.type(out)


def _nearest(n: int, out: int, scale: float | None, exact: bool) -> np.ndarray:
    o = np.arange(out, dtype=np.int64)
    if not exact and out == n:
        return o
    if not exact and out == 2 * n:
        return o >> 1
    f = _scale(n, out, scale, np.dtype(np.float32))
    pos = (o.astype(np.float32) + np.float32(0.5 if exact else 0)) * f
    return np.minimum(np.floor(pos).astype(np.int64), n - 1)


def _linear(
    n: int, out: int, scale: float | None, align_corners: bool, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(index0, index1, lambda0, lambda1) of each output along one dim, computed as
    PyTorch's CPU kernel does, in the input's precision."""
    o = np.arange(out, dtype=np.int64)
    if out == n and not align_corners:
        return o, o, np.ones(out, dtype), np.zeros(out, dtype)
    t = dtype.type
    if align_corners:
        ratio = t(n - 1) / t(out - 1) if out > 1 else t(0)
        real = ratio * o.astype(dtype)
    else:
        ratio = _scale(n, out, scale, dtype)
        real = np.maximum(ratio * (o.astype(dtype) + t(0.5)) - t(0.5), t(0))
    i0 = np.minimum(np.floor(real).astype(np.int64), n - 1)
    lam1 = np.clip(real - i0.astype(dtype), t(0), t(1)).astype(dtype)
    i1 = i0 + (i0 < n - 1)
    return i0, i1, (t(1) - lam1).astype(dtype), lam1


def _take(x: Any, dim: int, index: np.ndarray, name: str | None = None) -> Any:
    spec, arrays, _ = parse_index(x, (slice(None),) * dim + (index,))
    return apply("index", x, *arrays, spec=spec, name=name)


def interpolate(
    input: Any,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Any:
    """Resample the spatial dims of a (N, C, *spatial) input to `size`, or by
    `scale_factor` (output size floor(n * scale_factor)). Modes: 'nearest' (source
    floor(i * n / out)), 'nearest-exact', 'linear' (3-d input), 'bilinear' (4-d),
    'trilinear' (5-d), each with align_corners, and 'area' (adaptive average pooling).

    Raises ValueError for both or neither of size and scale_factor, or align_corners
    with a non-interpolating mode; NotImplementedError for other modes, antialias, or
    an input of the wrong rank for the mode."""
    _check_tensor("interpolate", input=input)
    if mode not in _MODES:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not supported; use one of {', '.join(_MODES)}"
        )
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(
            f"interpolate: only 3-d, 4-d and 5-d inputs (N, C, *spatial) are supported, got "
            f"shape {tuple(input.shape)}"
        )
    d = input.ndim - 2
    if _MODES[mode] and _MODES[mode] != d:
        raise NotImplementedError(
            f"interpolate: got {input.ndim}D input, but {mode} mode needs {_MODES[mode] + 2}D input"
        )
    if align_corners is not None and not _MODES[mode]:
        raise ValueError(
            "interpolate: align_corners option can only be set with the interpolating "
            "modes: linear | bilinear | trilinear"
        )
    if (size is None) == (scale_factor is None):
        raise ValueError(
            "interpolate: only one of size or scale_factor should be defined"
            if size is not None
            else "interpolate: either size or scale_factor should be defined"
        )
    spatial = tuple(input.shape[2:])
    if size is not None:
        out = ntuple(size, d, "size", "interpolate")
        scales: tuple[float | None, ...] = (None,) * d
    else:
        factors = (
            tuple(float(f) for f in scale_factor)
            if isinstance(scale_factor, (tuple, list))
            else (float(scale_factor),) * d
        )
        if len(factors) != d:
            raise ValueError(
                f"interpolate: scale_factor must have {d} entries for a {d}-d input, got "
                f"{scale_factor!r}"
            )
        out = tuple(math.floor(n * f) for n, f in zip(spatial, factors))
        scales = (None,) * d if recompute_scale_factor else factors
    if any(o <= 0 for o in out):
        raise ValueError(f"interpolate: output size {out} must be positive")
    if mode == "area":
        return _adaptive_avg_pool(input, d, out, "interpolate")
    node = _NODES[mode].format(d=d)
    if not _MODES[mode]:
        exact = mode == "nearest-exact"
        arrays = [_nearest(n, o, s, exact) for n, o, s in zip(spatial, out, scales)]
        grids = [a.reshape([-1 if j == i else 1 for j in range(d)]) for i, a in enumerate(arrays)]
        spec, ops, _ = parse_index(input, (Ellipsis, *grids))
        return apply("index", input, *ops, spec=spec, name=node)
    if input.dtype.kind != "f":
        raise DTypeError(
            f"interpolate: {mode} mode needs a floating point input, got {input.dtype}"
        )
    x = input
    for i in reversed(range(d)):  # the last dim first, as PyTorch's kernel nests them
        dim = 2 + i
        i0, i1, lam0, lam1 = _linear(
            spatial[i], out[i], scales[i], bool(align_corners), input.dtype
        )
        shape = [-1 if k == dim else 1 for k in range(x.ndim)]
        a = _take(x, dim, i0) * x._const(lam0.reshape(shape))
        b = _take(x, dim, i1) * x._const(lam1.reshape(shape))
        x = apply("add", a, b, name=node if i == 0 else None)
    return x


def upsample(
    input: Any,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Any:
    """interpolate (PyTorch's deprecated name)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Any, size: Any = None, scale_factor: Any = None) -> Any:
    """interpolate(..., mode='nearest') (PyTorch's deprecated name)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Any, size: Any = None, scale_factor: Any = None) -> Any:
    """interpolate(..., mode='bilinear', align_corners=True) (PyTorch's deprecated name)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
