"""The primitives of convolution and pooling: constant padding, sliding windows (a
strided view) and their adjoint (a scatter-add), and max pooling with indices.

Everything else of `nn.functional`'s convolution family is written with these and
the existing ops (`tracer/nn/functional/conv.py`): a convolution is padding, a
window view laid out as columns (im2col: one copy) and one matmul through BLAS;
its gradients are the matmul's, and the windows' adjoint (col2im) for the input;
average pooling is a sum over the window view. So every op of the family is
differentiable to any order and compiles to loop nests plus BLAS.

Spatial dims are always the trailing `len(kernel)` dims; the leading ones (batch,
channels) are carried along.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler import dtypes, kernels
from compiler.errors import DTypeError, ShapeError
from compiler.lowering import Kernel, Layout, SizeNames, View
from compiler.operand import apply
from compiler.registry import LINEAR, AVal, Op, register, save_none

Ints = tuple[int, ...]


def _show(shape: Any) -> str:
    return str(tuple(int(n) for n in shape))


# ---- pad: constant padding (negative amounts crop), the `pad` primitive of
# compiler.ops.layout


def pad(
    x: Any, pads: tuple[tuple[int, int], ...], value: float = 0, name: str | None = None
) -> Any:
    """`x` with `pads[d] = (before, after)` elements of `value` added along each dim d
    (negative amounts remove elements); x itself when every amount is 0."""
    pads = tuple((int(lo), int(hi)) for lo, hi in pads)
    if not any(lo or hi for lo, hi in pads):
        return x
    return apply("pad", x, pads=pads, mode="constant", value=value, dims=len(pads), name=name)


# ---- windows: every kernel-sized window of the spatial dims, as a strided view ---------


def window_counts(
    spatial: Ints, kernel: Ints, stride: Ints, dilation: Ints, op: str = "windows"
) -> Ints:
    """The number of windows along each spatial dim (no padding: pad first)."""
    out = []
    for n, k, s, d in zip(spatial, kernel, stride, dilation):
        span = d * (k - 1) + 1
        if n < span:
            raise ShapeError(
                f"{op}: a kernel of size {k} (dilation {d}) spans {span} elements, more "
                f"than the (padded) input size {n}"
            )
        out.append((n - span) // s + 1)
    return tuple(out)


def _windows_abstract(x: AVal, kernel: Ints, stride: Ints, dilation: Ints) -> AVal:
    d = len(kernel)
    if x.ndim < d:
        raise ShapeError(f"windows: a {d}-d kernel needs {d} spatial dims, got {_show(x.shape)}")
    lead, spatial = tuple(x.shape[: x.ndim - d]), tuple(x.shape[x.ndim - d :])
    return AVal(lead + window_counts(spatial, kernel, stride, dilation) + tuple(kernel), x.dtype)


def _windows_impl(x: np.ndarray, kernel: Ints, stride: Ints, dilation: Ints) -> np.ndarray:
    d = len(kernel)
    shape = _windows_abstract(AVal(x.shape, x.dtype), kernel, stride, dilation).shape
    st = x.strides
    lead, sp = st[: x.ndim - d], st[x.ndim - d :]
    strides = (
        lead + tuple(a * s for a, s in zip(sp, stride)) + tuple(a * k for a, k in zip(sp, dilation))
    )
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


def _windows_layout(
    r: Layout, sizes: SizeNames, kernel: Ints, stride: Ints, dilation: Ints
) -> Layout:
    d = len(kernel)
    n = len(r.shape) - d
    counts = window_counts(tuple(int(v) for v in r.shape[n:]), kernel, stride, dilation)
    shape = tuple(r.shape[:n]) + tuple(sizes.dim(c) for c in counts) + tuple(kernel)
    sp = r.strides[n:]
    strides = (
        tuple(r.strides[:n])
        + tuple(a * s for a, s in zip(sp, stride))
        + tuple(a * k for a, k in zip(sp, dilation))
    )
    return Layout(shape, strides, r.offset)


def windows(x: Any, kernel: Ints, stride: Ints, dilation: Ints) -> Any:
    """The windows of the trailing len(kernel) dims of `x`: shape
    (*leading, *counts, *kernel), element [..., o, k] = x[..., o*stride + k*dilation]."""
    return apply("windows", x, kernel=tuple(kernel), stride=tuple(stride), dilation=tuple(dilation))


def window_add(g: Any, shape: Ints, kernel: Ints, stride: Ints, dilation: Ints) -> Any:
    """The adjoint of `windows`: a tensor of `shape` where each window's values are
    added back at the positions they were read from (col2im)."""
    return apply(
        "window_add",
        g,
        shape=tuple(shape),
        kernel=tuple(kernel),
        stride=tuple(stride),
        dilation=tuple(dilation),
    )


register(
    Op(
        "windows",
        _windows_abstract,
        _windows_impl,
        lambda g, out, x, kernel, stride, dilation: (
            window_add(g, tuple(x.shape), kernel, stride, dilation),
        ),
        grad_fn="UnfoldBackward0",
        lowering=View(_windows_layout),
        saves=save_none,
        jvp=LINEAR,
    )
)


def _window_add_abstract(g: AVal, shape: Ints, kernel: Ints, stride: Ints, dilation: Ints) -> AVal:
    want = _windows_abstract(AVal(tuple(shape), g.dtype), kernel, stride, dilation).shape
    if tuple(g.shape) != tuple(want):
        raise ShapeError(
            f"window_add: windows of shape {_show(g.shape)} do not come from a tensor of "
            f"shape {_show(shape)} (its windows have shape {_show(want)})"
        )
    return AVal(tuple(shape), g.dtype)


def _window_add_impl(
    g: np.ndarray, shape: Ints, kernel: Ints, stride: Ints, dilation: Ints
) -> np.ndarray:
    d = len(kernel)
    out = np.zeros(shape, g.dtype)
    lead = g.ndim - 2 * d
    counts = g.shape[lead : lead + d]
    for pos in np.ndindex(*kernel):  # one strided add per kernel position
        target = tuple(
            slice(k * dd, k * dd + s * (c - 1) + 1, s)
            for k, dd, s, c in zip(pos, dilation, stride, counts)
        )
        out[(Ellipsis, *target)] += g[(Ellipsis, *pos)]
    return out


register(
    Op(
        "window_add",
        _window_add_abstract,
        _window_add_impl,
        lambda gg, out, g, shape, kernel, stride, dilation: (
            windows(gg, kernel, stride, dilation),
        ),
        grad_fn="UnfoldBackwardBackward0",
        lowering=Kernel(kernels.window_add),
        saves=save_none,
        jvp=LINEAR,
    )
)


# ---- max pooling, with the index of each maximum ---------------------------------------


def pool_counts(
    spatial: Ints, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints, ceil_mode: bool
) -> Ints:
    """Outputs per spatial dim of a pooling (PyTorch's rule: with ceil_mode the last
    window must start inside the input or its left padding)."""
    out = []
    for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        o = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        out.append(o)
    return tuple(out)


def _pool_abstract(
    x: AVal,
    kernel: Ints,
    stride: Ints,
    padding: Ints,
    dilation: Ints,
    ceil_mode: bool,
    output_size: Ints,
) -> tuple[AVal, AVal]:
    name = "adaptive_max_pool" if output_size else "max_pool"
    d = len(output_size or kernel)
    if x.dtype == dtypes.bool_:
        raise DTypeError(
            f"{name}: expected a floating point or integer tensor, got bool (shape "
            f"{_show(x.shape)}); convert it with .float()"
        )
    if x.ndim < d:
        raise ShapeError(
            f"{name}: expected {d} spatial dims, got a tensor of shape {_show(x.shape)}"
        )
    lead, spatial = tuple(x.shape[: x.ndim - d]), tuple(x.shape[x.ndim - d :])
    counts = output_size or pool_counts(spatial, kernel, stride, padding, dilation, ceil_mode)
    if any(c <= 0 for c in counts) or any(n <= 0 for n in spatial):
        raise ShapeError(
            f"{name}: input of shape {_show(x.shape)} gives an output of spatial size "
            f"{_show(counts)}, which is too small"
        )
    shape = lead + tuple(counts)
    return AVal(shape, x.dtype), AVal(shape, dtypes.int64)


def pool_window(
    o: np.ndarray, n: int, k: int, s: int, p: int, d: int, out: int
) -> tuple[np.ndarray, np.ndarray]:
    """(first index, end) of the windows at output positions `o` along one dim, for
    kernel k > 0, or, with k == 0, adaptive windows of `out` outputs over `n` inputs."""
    if k == 0:
        return (o * n) // out, -((-(o + 1) * n) // out)
    start = o * s - p
    end = np.minimum(start + d * (k - 1) + 1, n)
    start = np.where(start < 0, start + (-start + d - 1) // d * d, start)
    return start, end


def lowest(dtype: np.dtype) -> Any:
    """The start of a running maximum: -inf, or an integer type's minimum."""
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _pool_impl(
    x: np.ndarray,
    kernel: Ints,
    stride: Ints,
    padding: Ints,
    dilation: Ints,
    ceil_mode: bool,
    output_size: Ints,
) -> tuple[np.ndarray, np.ndarray]:
    """Each window's maximum and its flat index in the spatial dims, scanning the
    window in C order: a larger value or a NaN replaces the current maximum (so the
    first maximum wins, and a NaN propagates), as PyTorch's CPU kernels do."""
    aval, _ = _pool_abstract(
        AVal(x.shape, x.dtype), kernel, stride, padding, dilation, ceil_mode, output_size
    )
    d = len(output_size or kernel)
    lead, spatial = x.shape[: x.ndim - d], x.shape[x.ndim - d :]
    counts = aval.shape[x.ndim - d :]
    flat = x.reshape(-1, *spatial)
    best = np.full((flat.shape[0], *counts), lowest(x.dtype), x.dtype)
    arg = np.zeros((flat.shape[0], *counts), np.int64)
    grids = np.indices(counts, sparse=True)
    starts, ends, sizes = [], [], []
    for i in range(d):
        k = kernel[i] if not output_size else 0
        st, en = pool_window(
            grids[i],
            spatial[i],
            k,
            stride[i] if k else 1,
            padding[i] if k else 0,
            dilation[i] if k else 1,
            counts[i],
        )
        starts.append(st)
        ends.append(en)
        sizes.append(kernel[i] if k else int(np.max(en - st)))
    step = dilation if not output_size else (1,) * d
    first = sum(st * int(np.prod(spatial[i + 1 :], dtype=np.int64)) for i, st in enumerate(starts))
    arg[...] = first
    for pos in np.ndindex(*sizes):
        where = [st + j * dd for st, j, dd in zip(starts, pos, step)]
        valid = np.ones(counts, bool)
        for w, en in zip(where, ends):
            valid = valid & (w < en)
        clipped = [np.minimum(w, n - 1) for w, n in zip(where, spatial)]
        v = flat[(slice(None), *clipped)]
        take = valid & ((v > best) | np.isnan(v))
        best = np.where(take, v, best)
        index = sum(
            c * int(np.prod(spatial[i + 1 :], dtype=np.int64)) for i, c in enumerate(clipped)
        )
        arg = np.where(take, index, arg)
    return best.reshape(*lead, *counts), arg.reshape(*lead, *counts)


def _pool_vjp(
    g: tuple[Any, Any],
    out: tuple[Any, Any],
    x: Any,
    kernel: Ints,
    stride: Ints,
    padding: Ints,
    dilation: Ints,
    ceil_mode: bool,
    output_size: Ints,
) -> tuple[Any]:
    # each window's cotangent goes to its maximum (scatter-add: overlapping windows
    # that share a maximum add up)
    d = len(output_size or kernel)
    gv, idx = g[0], out[1]
    batch = int(np.prod(x.shape[: x.ndim - d], dtype=np.int64))
    plane = int(np.prod(x.shape[x.ndim - d :], dtype=np.int64))
    zeros = gv.full_like(0, shape=(batch, plane))
    gx = zeros.scatter_add(1, idx.reshape(batch, -1), gv.reshape(batch, -1))
    return (gx.reshape(tuple(x.shape)),)


def _pool_jvp(t: tuple[Any], out: tuple[Any, Any], x: Any, **params: Any) -> tuple[Any, None]:
    """Each window's maximum: the tangent of that element (its flat index in the plane)."""
    d = len(params["output_size"] or params["kernel"])
    idx = out[1]
    batch = int(np.prod(x.shape[: x.ndim - d], dtype=np.int64))
    flat = t[0].reshape(batch, -1).gather(1, idx.reshape(batch, -1))
    return flat.reshape(tuple(idx.shape)), None


def _pool_name(avals: tuple[AVal, ...], **params: Any) -> str:
    """MaxPool2DWithIndicesBackward0, AdaptiveMaxPool2DBackward0, ... (2-d without params)."""
    adaptive = params.get("output_size", ())
    d = len(adaptive or params.get("kernel", (2, 2)))
    kind = "AdaptiveMaxPool" if adaptive else "MaxPool"
    suffix = "" if adaptive else "WithIndices"
    return f"{kind}{d}D{suffix}Backward0"


register(
    Op(
        "max_pool",
        _pool_abstract,
        _pool_impl,
        _pool_vjp,
        grad_fn=_pool_name,
        lowering=Kernel(kernels.max_pool),
        multiple_results=True,
        saves=save_none,
        saves_out=True,
        jvp=_pool_jvp,
    )
)


def max_pool(
    x: Any,
    kernel: Ints = (),
    stride: Ints = (),
    padding: Ints = (),
    dilation: Ints = (),
    ceil_mode: bool = False,
    output_size: Ints = (),
    name: str | None = None,
) -> tuple[Any, Any]:
    """(maxima, indices) over the windows of the trailing dims: fixed windows
    (kernel, stride, padding, dilation, ceil_mode), or with `output_size` the adaptive
    windows [floor(i*n/out), ceil((i+1)*n/out)). Indices are flat positions in the
    input's spatial dims (int64)."""
    adaptive = bool(output_size)
    return apply(
        "max_pool",
        x,
        kernel=() if adaptive else tuple(kernel),
        stride=() if adaptive else tuple(stride),
        padding=() if adaptive else tuple(padding),
        dilation=() if adaptive else tuple(dilation),
        ceil_mode=bool(ceil_mode) and not adaptive,
        output_size=tuple(output_size),
        name=name,
    )
