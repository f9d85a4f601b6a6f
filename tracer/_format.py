"""PyTorch-compatible tensor printing for numpy arrays.

``format_tensor`` reproduces ``repr(torch_tensor)`` character for character: fixed or
scientific notation chosen from the data, column alignment, summarization with ``...``,
line wrapping and suffix placement. Options live in the module-level ``PRINT_OPTS`` and are
changed with ``set_printoptions``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "PRINT_OPTS",
    "PrintOptions",
    "format_tensor",
    "get_printoptions",
    "needs_dtype_suffix",
    "set_printoptions",
]


@dataclass
class PrintOptions:
    """Print options with PyTorch's defaults."""

    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = PrintOptions()

_PROFILES: dict[str, dict[str, float]] = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set print options like ``torch.set_printoptions``.

    ``profile`` ('default', 'short' or 'full') is applied first, then the explicit options.
    As in PyTorch, ``sci_mode`` is always assigned (``None`` means automatic).
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"unknown print profile {profile!r}")
        for name, value in _PROFILES[profile].items():
            setattr(PRINT_OPTS, name, value)
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, object]:
    """Return the current print options as a dict."""
    return asdict(PRINT_OPTS)


def needs_dtype_suffix(values: np.ndarray) -> bool:
    """Whether PyTorch would print a ``dtype=`` suffix for a tensor with these values.

    float32 is never shown; int64 and bool are shown only for empty tensors.
    """
    dtype = np.asarray(values).dtype
    if dtype == np.float32:
        return False
    return np.asarray(values).size == 0 or dtype not in (np.int64, np.bool_)


class _Formatter:
    """Chooses the notation and the common column width for a set of values."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        flat = values.reshape(-1)
        prec = PRINT_OPTS.precision
        if not self.floating:
            self.width = max([1] + [len(str(v)) for v in flat.tolist()])
        else:
            flat = flat.astype(np.float64)
            shown = flat[np.isfinite(flat) & (flat != 0)]
            if shown.size:
                mags = np.abs(shown)
                lo, hi = float(mags.min()), float(mags.max())
                self.int_mode = bool(np.all(shown == np.ceil(shown)))
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
                if not self.int_mode:
                    self.sci_mode = self.sci_mode or lo < 1.0e-4
                if PRINT_OPTS.sci_mode is not None:
                    self.sci_mode = PRINT_OPTS.sci_mode
                if self.sci_mode:
                    widths = (len(f"{v:.{prec}e}") for v in shown.tolist())
                elif self.int_mode:
                    widths = (len(f"{v:.0f}") + 1 for v in shown.tolist())
                else:
                    widths = (len(f"{v:.{prec}f}") for v in shown.tolist())
                self.width = max(self.width, *widths)

    def format(self, value: float | int | bool) -> str:
        """Format one python scalar, right-aligned to the common width."""
        prec = PRINT_OPTS.precision
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{prec}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            if math.isfinite(value):
                text += "."
        else:
            text = f"{value:.{prec}f}"
        return text.rjust(self.width)


def _summarized(values: np.ndarray) -> np.ndarray:
    """The elements that remain visible after summarization (PyTorch's edge selection)."""
    edge = PRINT_OPTS.edgeitems
    if values.ndim == 1:
        if values.shape[0] > 2 * edge and edge:
            return np.concatenate([values[:edge], values[-edge:]])
        return values
    if values.ndim > 1 and not edge:
        return values[tuple(slice(0, 0) for _ in values.shape)]
    for axis, size in enumerate(values.shape):
        if size > 2 * edge:
            keep = list(range(edge)) + list(range(size - edge, size))
            values = np.take(values, keep, axis=axis)
    return values


def _vector_str(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    edge = PRINT_OPTS.edgeitems
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / (fmt.width + 2)))
    if summarize and not edge:
        items = ["..."]
    elif summarize and values.shape[0] > 2 * edge:
        items = [fmt.format(v) for v in values[:edge].tolist()] + [" ..."]
        items += [fmt.format(v) for v in values[-edge:].tolist()]
    else:
        items = [fmt.format(v) for v in values.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector_str(values, indent, summarize, fmt)
    edge, size = PRINT_OPTS.edgeitems, values.shape[0]
    if summarize and size > 2 * edge:
        rows: list[int | None] = [*range(edge), None, *range(size - edge, size)]
    else:
        rows = list(range(size))
    parts = [
        "..." if i is None else _nested_str(values[i], indent + 1, summarize, fmt) for i in rows
    ]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _add_suffixes(text: str, suffixes: Sequence[str], indent: int) -> str:
    """Append ``, suffix`` items, wrapping onto indented lines like PyTorch."""
    out = [text]
    # PyTorch's running length of the last line is over-counted by 2; keep that quirk.
    line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            out.append(",\n" + " " * indent + suffix)
            line_len = indent + len(suffix)
        else:
            out.append(", " + suffix)
            line_len += len(suffix) + 2
    out.append(")")
    return "".join(out)


def format_tensor(values: np.ndarray, suffixes: Sequence[str] = ()) -> str:
    """Return e.g. ``'tensor([-3.4711, -1.6712], grad_fn=<SubBackward0>)'``.

    ``suffixes`` are pre-formatted strings (``"dtype=tracer.float64"``, ``"requires_grad=True"``,
    ...) emitted in the given order, after any ``size=`` suffix generated here.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f" and values.dtype.itemsize < 4:
        values = values.astype(np.float32)
    prefix = "tensor("
    indent = len(prefix)
    own: list[str] = []
    if values.size == 0:
        if values.ndim != 1:
            own.append(f"size={tuple(values.shape)}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            own.append(f"size={tuple(values.shape)}")
        summarize = values.size > PRINT_OPTS.threshold
        fmt = _Formatter(_summarized(values) if summarize else values)
        body = _nested_str(values, indent, summarize, fmt)
    return _add_suffixes(prefix + body, [*own, *suffixes], indent)
