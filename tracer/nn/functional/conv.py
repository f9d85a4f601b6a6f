"""Convolutions and the ops around them: conv1d/2d/3d, conv_transpose1d/2d/3d, pad,
unfold (im2col), fold (col2im), pixel_shuffle and pixel_unshuffle.

A convolution is written with the primitives of `compiler.ops.conv`: constant
padding, the window view of the padded input laid out as columns (im2col, one copy)
and one matmul (BLAS) per group. Its gradients come from those ops' rules: the
weight's is the cotangent times the columns (a convolution of input and cotangent),
the input's is the weight's transpose times the cotangent, added back over the
windows (col2im: a transposed convolution). A transposed convolution is the same
two steps in the other order. So they are differentiable to any order, and a
compiled CNN step is loop nests plus BLAS calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler.errors import DTypeError, ShapeError
from compiler.operand import Operand, apply
from compiler.ops.conv import pad as pad_op
from compiler.ops.conv import window_add, window_counts, windows

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "fold",
    "pixel_shuffle",
    "pixel_unshuffle",
    "unfold",
]

CONV = "ConvolutionBackward0"


def ntuple(value: Any, d: int, what: str, op: str) -> tuple[int, ...]:
    """An int or a sequence of d ints as a d-tuple of ints (TypeError/ValueError naming
    the op otherwise)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {what} must be an int or a tuple of {d} ints, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return (int(value),) * d
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = tuple(value)
        if len(items) == 1:
            items = items * d
        if len(items) == d and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
        ):
            return tuple(int(v) for v in items)
    raise TypeError(f"{op}: {what} must be an int or a tuple of {d} ints, got {value!r}")


def _check_tensor(op: str, **tensors: Any) -> None:
    for name, t in tensors.items():
        if t is not None and not isinstance(t, Operand):
            raise TypeError(f"{op}(): {name} must be a tensor, got {type(t).__name__}")


def _batched(x: Any, d: int, op: str, what: str = "input") -> bool:
    """Is `x` (N, C, *spatial)? False for unbatched (C, *spatial); else a ShapeError."""
    if x.ndim == d + 2:
        return True
    if x.ndim == d + 1:
        return False
    raise ShapeError(
        f"{op}: expected a {d + 1}-d (unbatched) or {d + 2}-d (batched) {what}, got shape "
        f"{tuple(x.shape)}"
    )


def _positive(op: str, what: str, values: tuple[int, ...], allow_zero: bool = False) -> None:
    if any(v < 0 or (v == 0 and not allow_zero) for v in values):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{op}: {what} must be {bound}, got {values}")


def _same_dtype(op: str, x: Any, weight: Any, bias: Any) -> None:
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise DTypeError(
                f"{op}: input is {x.dtype} but {name} is {t.dtype} (shapes {tuple(x.shape)} "
                f"and {tuple(t.shape)}); convert one with .to(dtype)"
            )
    if x.dtype.kind != "f":
        raise DTypeError(
            f"{op}: expected floating point tensors, got {x.dtype}; convert with .float()"
        )


def _columns(x: Any, kernel: tuple[int, ...], stride: Any, dilation: Any, groups: int) -> Any:
    """im2col of an already padded (N, C, *spatial) input: (groups, C/groups * K, N * L)
    where K is the kernel's size and L the number of windows (one contiguous copy)."""
    d = len(kernel)
    n, c = x.shape[:2]
    win = windows(x, kernel, stride, dilation)  # (N, C, *out, *kernel), a view
    cols = win.permute(1, *range(2 + d, 2 + 2 * d), 0, *range(2, 2 + d))  # (C, *k, N, *out)
    rows = c // groups * math.prod(kernel)
    count = n * math.prod(win.shape[2 : 2 + d])
    return cols.reshape(groups, rows, count) if groups > 1 else cols.reshape(rows, count)


def _conv(
    x: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    d: int,
    op: str,
) -> Any:
    _check_tensor(op, input=x, weight=weight, bias=bias)
    if not _batched(x, d, op):
        return _conv(
            x.unsqueeze(0), weight, bias, stride, padding, dilation, groups, d, op
        ).squeeze(0)
    _same_dtype(op, x, weight, bias)
    if weight.ndim != d + 2:
        raise ShapeError(
            f"{op}: weight must be {d + 2}-d (out_channels, in_channels / groups, *kernel), "
            f"got shape {tuple(weight.shape)}"
        )
    stride = ntuple(stride, d, "stride", op)
    dilation = ntuple(dilation, d, "dilation", op)
    _positive(op, "stride", stride)
    _positive(op, "dilation", dilation)
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    n, c = x.shape[:2]
    o, cg = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    if c != cg * groups or o % groups:
        raise ShapeError(
            f"{op}: given groups={groups}, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {cg * groups} channels, but got {c} channels "
            f"instead" + ("" if o % groups == 0 else f" (and {o} filters to divide by groups)")
        )
    if bias is not None and tuple(bias.shape) != (o,):
        raise ShapeError(f"{op}: bias must have shape ({o},), got {tuple(bias.shape)}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * d
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
            total = [dd * (k - 1) for dd, k in zip(dilation, kernel)]
            pads = tuple((t // 2, t - t // 2) for t in total)  # the odd one at the end
        else:
            raise ValueError(
                f"{op}: invalid padding string {padding!r}, expected 'same' or 'valid'"
            )
    else:
        p = ntuple(padding, d, "padding", op)
        _positive(op, "padding", p, allow_zero=True)
        pads = tuple((v, v) for v in p)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads))
    spans = tuple(dd * (k - 1) + 1 for dd, k in zip(dilation, kernel))
    if any(s < k for s, k in zip(padded, spans)):
        raise ShapeError(
            f"{op}: calculated padded input size per channel: {padded}; kernel size "
            f"{kernel} (dilation {dilation}) spans {spans}: the kernel can't be greater than "
            "the padded input"
        )
    out = window_counts(padded, kernel, stride, dilation, op)
    cols = _columns(pad_op(x, ((0, 0), (0, 0)) + pads), kernel, stride, dilation, groups)
    k = math.prod(kernel)
    if groups > 1:
        y = weight.reshape(groups, o // groups, cg * k) @ cols
    else:
        y = weight.reshape(o, cg * k) @ cols
    y = y.reshape(o, n, *out).permute(1, 0, *range(2, 2 + d))  # (N, O, *out), a view
    if bias is None:
        return apply("copy", y, name=CONV)
    return apply("add", y, bias.reshape(o, *(1,) * d), name=CONV)


def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """1-d convolution (cross-correlation, as PyTorch) of input (N, C, L) or (C, L) with
    weight (out_channels, C / groups, k): output (N, out_channels, L_out). `padding` is
    an int, a tuple, 'valid' (none) or 'same' (output as long as the input; stride 1,
    an odd total padding puts the extra element at the end).

    Raises ShapeError for mismatched channels or a kernel larger than the padded input,
    DTypeError for mixed or integer dtypes."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """2-d convolution of input (N, C, H, W) or (C, H, W) with weight
    (out_channels, C / groups, kh, kw); see conv1d."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """3-d convolution of input (N, C, D, H, W) or (C, D, H, W) with weight
    (out_channels, C / groups, kd, kh, kw); see conv1d."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _conv_transpose(
    x: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
    d: int,
    op: str,
) -> Any:
    _check_tensor(op, input=x, weight=weight, bias=bias)
    if not _batched(x, d, op):
        return _conv_transpose(
            x.unsqueeze(0), weight, bias, stride, padding, output_padding, groups, dilation, d, op
        ).squeeze(0)
    _same_dtype(op, x, weight, bias)
    if weight.ndim != d + 2:
        raise ShapeError(
            f"{op}: weight must be {d + 2}-d (in_channels, out_channels / groups, *kernel), "
            f"got shape {tuple(weight.shape)}"
        )
    stride = ntuple(stride, d, "stride", op)
    dilation = ntuple(dilation, d, "dilation", op)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of ints, got {padding!r}")
    pads = ntuple(padding, d, "padding", op)
    extra = ntuple(output_padding, d, "output_padding", op)
    _positive(op, "stride", stride)
    _positive(op, "dilation", dilation)
    _positive(op, "padding", pads, allow_zero=True)
    _positive(op, "output_padding", extra, allow_zero=True)
    if any(e >= s and e >= dd for e, s, dd in zip(extra, stride, dilation)):
        raise ValueError(
            f"{op}: output padding must be smaller than either stride or dilation, got "
            f"output_padding={extra}, stride={stride}, dilation={dilation}"
        )
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    n, c = x.shape[:2]
    cw, og = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    if c != cw or c % groups:
        raise ShapeError(
            f"{op}: given transposed=1, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {cw} channels (divisible by groups={groups}), "
            f"but got {c} channels instead"
        )
    o = og * groups
    if bias is not None and tuple(bias.shape) != (o,):
        raise ShapeError(f"{op}: bias must have shape ({o},), got {tuple(bias.shape)}")
    spatial = tuple(x.shape[2:])
    full = tuple(
        (s - 1) * st + dd * (k - 1) + 1 for s, st, dd, k in zip(spatial, stride, dilation, kernel)
    )
    out = tuple(f - 2 * p + e for f, p, e in zip(full, pads, extra))
    if any(v <= 0 for v in out):
        raise ShapeError(f"{op}: input of shape {tuple(x.shape)} gives an output size {out}")
    k = math.prod(kernel)
    length = n * math.prod(spatial)
    xt = x.permute(1, 0, *range(2, 2 + d))  # (C, N, *spatial)
    if groups > 1:
        cols = weight.reshape(groups, c // groups, og * k).mT @ xt.reshape(
            groups, c // groups, length
        )
    else:
        cols = weight.reshape(c, og * k).mT @ xt.reshape(c, length)
    win = cols.reshape(o, *kernel, n, *spatial).permute(
        1 + d, 0, *range(2 + d, 2 + 2 * d), *range(1, 1 + d)
    )  # (N, O, *spatial, *kernel), a view of the columns
    y = window_add(win, (n, o, *full), kernel, stride, dilation)
    crop = ((0, 0), (0, 0)) + tuple((-p, e - p) for p, e in zip(pads, extra))
    if bias is not None:
        return apply("add", pad_op(y, crop), bias.reshape(o, *(1,) * d), name=CONV)
    if any(lo or hi for lo, hi in crop):
        return pad_op(y, crop, name=CONV)
    return apply("copy", y, name=CONV)


def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Any:
    """1-d transposed convolution (the gradient of conv1d with respect to its input) of
    input (N, C, L) or (C, L) with weight (C, out_channels / groups, k): output length
    (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1."""
    return _conv_transpose(
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        1,
        "conv_transpose1d",
    )


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Any:
    """2-d transposed convolution of input (N, C, H, W) or (C, H, W) with weight
    (C, out_channels / groups, kh, kw); see conv_transpose1d."""
    return _conv_transpose(
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        2,
        "conv_transpose2d",
    )


def conv_transpose3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Any:
    """3-d transposed convolution of input (N, C, D, H, W) or (C, D, H, W) with weight
    (C, out_channels / groups, kd, kh, kw); see conv_transpose1d."""
    return _conv_transpose(
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        3,
        "conv_transpose3d",
    )


# ---- unfold and fold: im2col and col2im ------------------------------------------------


def _im2col_args(
    op: str, kernel_size: Any, dilation: Any, padding: Any, stride: Any
) -> tuple[tuple[int, ...], ...]:
    kernel = ntuple(kernel_size, 2, "kernel_size", op)
    dil = ntuple(dilation, 2, "dilation", op)
    pads = ntuple(padding, 2, "padding", op)
    st = ntuple(stride, 2, "stride", op)
    _positive(op, "kernel_size", kernel)
    _positive(op, "dilation", dil)
    _positive(op, "stride", st)
    _positive(op, "padding", pads, allow_zero=True)
    return kernel, dil, pads, st


def unfold(
    input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Any:
    """im2col: the sliding blocks of a (N, C, H, W) or (C, H, W) input as columns,
    shape (N, C * kh * kw, L) with L the number of blocks (channel-major, then the
    kernel's rows and columns, as PyTorch)."""
    _check_tensor("unfold", input=input)
    kernel, dil, pads, st = _im2col_args("unfold", kernel_size, dilation, padding, stride)
    if input.ndim not in (3, 4):
        raise ShapeError(
            f"unfold: expected a 3-d (unbatched) or 4-d (batched) input, got shape "
            f"{tuple(input.shape)}"
        )
    if input.ndim == 3:
        return unfold(input.unsqueeze(0), kernel, dil, pads, st).squeeze(0)
    n, c = input.shape[:2]
    padded = tuple(s + 2 * p for s, p in zip(input.shape[2:], pads))
    counts = window_counts(padded, kernel, st, dil, "unfold")
    x = pad_op(input, ((0, 0), (0, 0)) + tuple((p, p) for p in pads))
    win = windows(x, kernel, st, dil)  # (N, C, oh, ow, kh, kw)
    cols = win.permute(0, 1, 4, 5, 2, 3)
    return apply(
        "reshape", cols, shape=(n, c * math.prod(kernel), math.prod(counts)), name="Im2ColBackward0"
    )


def fold(
    input: Any,
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Any:
    """col2im, the adjoint of unfold: columns (N, C * kh * kw, L) or (C * kh * kw, L)
    summed into a (N, C, *output_size) tensor, overlapping blocks adding up.

    Raises ShapeError when the columns do not fit the blocks of output_size."""
    _check_tensor("fold", input=input)
    kernel, dil, pads, st = _im2col_args("fold", kernel_size, dilation, padding, stride)
    size = ntuple(output_size, 2, "output_size", "fold")
    if input.ndim not in (2, 3):
        raise ShapeError(
            f"fold: expected a 2-d (unbatched) or 3-d (batched) input, got shape "
            f"{tuple(input.shape)}"
        )
    if input.ndim == 2:
        return fold(input.unsqueeze(0), size, kernel, dil, pads, st).squeeze(0)
    n, ck, length = input.shape
    k = math.prod(kernel)
    padded = tuple(s + 2 * p for s, p in zip(size, pads))
    counts = window_counts(padded, kernel, st, dil, "fold")
    if ck % k or length != math.prod(counts):
        raise ShapeError(
            f"fold: given output_size={size}, kernel_size={kernel}, dilation={dil}, "
            f"padding={pads}, stride={st}, expected an input of shape (N, C * {k}, "
            f"{math.prod(counts)}), but got {tuple(input.shape)}"
        )
    c = ck // k
    win = input.reshape(n, c, *kernel, *counts).permute(0, 1, 4, 5, 2, 3)
    crop = ((0, 0), (0, 0)) + tuple((-p, -p) for p in pads)
    if any(pads):
        full = window_add(win, (n, c, *padded), kernel, st, dil)
        return pad_op(full, crop, name="Col2ImBackward0")
    return apply(
        "window_add",
        win,
        shape=(n, c, *padded),
        kernel=kernel,
        stride=st,
        dilation=dil,
        name="Col2ImBackward0",
    )


# ---- pixel shuffle ---------------------------------------------------------------------


def pixel_shuffle(input: Any, upscale_factor: int) -> Any:
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r): each group of r * r channels
    becomes an r-by-r block of pixels (r = upscale_factor)."""
    _check_tensor("pixel_shuffle", input=input)
    r = int(upscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-3] % (r * r):
        raise ShapeError(
            f"pixel_shuffle: expected an input of at least 3 dims whose channel dim (-3) is "
            f"divisible by upscale_factor**2 = {r * r}, got shape {tuple(input.shape)}"
        )
    *lead, c, h, w = input.shape
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    b = len(lead)
    x = x.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)
    return apply(
        "reshape", x, shape=(*lead, c // (r * r), h * r, w * r), name="PixelShuffleBackward0"
    )


def pixel_unshuffle(input: Any, downscale_factor: int) -> Any:
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W), the inverse of pixel_shuffle."""
    _check_tensor("pixel_unshuffle", input=input)
    r = int(downscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-2] % r or input.shape[-1] % r:
        raise ShapeError(
            f"pixel_unshuffle: expected an input of at least 3 dims whose height and width "
            f"are divisible by downscale_factor = {r}, got shape {tuple(input.shape)}"
        )
    *lead, c, h, w = input.shape
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    b = len(lead)
    x = x.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)
    return apply(
        "reshape", x, shape=(*lead, c * r * r, h // r, w // r), name="PixelUnshuffleBackward0"
    )
