"""`F.pad` (constant, reflect, replicate, circular) and `F.one_hot`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compiler import dtypes
from compiler.args import int_arg
from compiler.errors import DTypeError, ShapeError
from compiler.methods.indexing import concrete, values_of
from compiler.operand import Operand, apply

__all__ = ["one_hot", "pad"]

MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Any:
    """Pad (or, with negative widths, crop) the last len(pad) // 2 dims of `input`;
    `pad` lists (before, after) widths from the last dim backwards, as in PyTorch.

    mode 'constant' fills with `value` (0 by default; converted to input's dtype) and
    pads any number of dims; 'reflect' (mirror without repeating the edge), 'replicate'
    (repeat the edge) and 'circular' (wrap around) pad the last 1, 2 or 3 dims of an
    input with one or two more dims (batch and channels), as PyTorch allows.
    Raises ValueError for an odd pad length or an unknown mode, ShapeError for widths
    the input's sizes do not allow.
    """
    if not isinstance(input, Operand):
        raise TypeError(f"pad(): input must be a tensor, got {type(input).__name__}")
    widths = tuple(int_arg(p, "pad", "pad") for p in pad)
    if len(widths) % 2:
        raise ValueError(f"pad(): padding length must be divisible by 2, got {list(widths)}")
    k = len(widths) // 2
    if k > input.ndim:
        raise ValueError(
            f"pad(): padding length {len(widths)} is too large for a tensor of "
            f"{input.ndim} dims (shape {tuple(input.shape)}): at most {2 * input.ndim}"
        )
    if mode not in MODES:
        raise ValueError(f"pad(): mode must be one of {MODES}, got {mode!r}")
    if mode != "constant":
        if value is not None:
            raise ValueError(f'pad(): padding mode "{mode}" doesn\'t take in value argument')
        if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
            raise ValueError(
                f"pad(): padding size {len(widths)} is not supported for {input.ndim}D input "
                f"tensor in mode {mode!r} (it pads the last 1, 2 or 3 dims of a tensor with "
                "one or two more: (C, W) or (N, C, W) for 2 widths, and so on)"
            )
    pads = [(0, 0)] * input.ndim
    for i in range(k):
        pads[input.ndim - 1 - i] = (widths[2 * i], widths[2 * i + 1])
    for d, (before, after) in enumerate(pads):
        n = input.shape[d]
        if (before, after) == (0, 0):
            continue
        if mode == "reflect" and (before >= n or after >= n):
            raise ShapeError(
                f"pad(): reflect padding ({before}, {after}) at dimension {d} must be less than "
                f"the input's size there ({n}; shape {tuple(input.shape)})"
            )
        if mode == "replicate" and n == 0:
            raise ShapeError(f"pad(): replicate padding of an empty dimension {d}")
        if mode == "circular" and (before > n or after > n):
            raise ShapeError(
                f"pad(): circular padding ({before}, {after}) at dimension {d} wraps around "
                f"more than once (size {n}; shape {tuple(input.shape)})"
            )
    fill = 0 if value is None else value
    if mode == "constant":
        dtypes.canonical(input.dtype).type(fill)  # a value the dtype cannot hold raises
    return apply("pad", input, pads=tuple(pads), mode=mode, value=fill, dims=k)


def one_hot(tensor: Any, num_classes: int = -1) -> Any:
    """int64 one-hot vectors of the class indices in `tensor` (an int64 tensor): shape
    tensor.shape + (num_classes,). num_classes=-1 takes the largest index + 1, which
    depends on the values (eager only). Raises for indices outside [0, num_classes)."""
    if not isinstance(tensor, Operand):
        raise TypeError(f"one_hot(): expected a tensor, got {type(tensor).__name__}")
    if tensor.dtype != dtypes.int64:
        raise DTypeError(
            f"one_hot(): is only applicable to index tensors of dtype int64, got "
            f"{tensor.dtype}; convert with .long()"
        )
    num_classes = int_arg(num_classes, "num_classes", "one_hot")
    values = values_of(tensor)
    if num_classes == -1:
        values = concrete(tensor, "one_hot", "Give num_classes explicitly.")
        if not values.size:
            raise ValueError("one_hot(): can not infer the number of classes from an empty tensor")
        num_classes = int(values.max()) + 1
    if values is not None and values.size:
        if (values < 0).any():
            raise ValueError("one_hot(): class values must be non-negative")
        if (values >= num_classes).any():
            raise ValueError(
                f"one_hot(): class values must be smaller than num_classes ({num_classes}), "
                f"got {int(values.max())}"
            )
    zeros = tensor.full_like(0, shape=(*tensor.shape, num_classes))
    return zeros.scatter(-1, tensor.unsqueeze(-1), 1)
