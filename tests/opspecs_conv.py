"""Op-spec rows of the convolution family (issue 15): convolutions, padding, im2col,
pooling, resampling and the normalisations, each against a float64 reference written
with numpy loops over output positions (independent of the library's window views
and matmuls). Rows are small: finite differences to second order run element by
element.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from opspecs import KINK, A, F, S, distinct, labels, lib, positive

# ---- references ----------------------------------------------------------------------------


def _pairs(padding: Any, d: int) -> list[tuple[int, int]]:
    if isinstance(padding, int):
        return [(padding, padding)] * d
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


def conv_ref(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> np.ndarray:
    """Cross-correlation, one output position at a time."""
    d = w.ndim - 2
    stride = (stride,) * d if isinstance(stride, int) else stride
    dilation = (dilation,) * d if isinstance(dilation, int) else dilation
    xp = np.pad(x, [(0, 0), (0, 0)] + _pairs(padding, d))
    o, cg = w.shape[:2]
    k = w.shape[2:]
    out_sp = [
        (n - dd * (kk - 1) - 1) // s + 1 for n, kk, s, dd in zip(xp.shape[2:], k, stride, dilation)
    ]
    out = np.zeros((x.shape[0], o, *out_sp))
    og = o // groups
    for pos in itertools.product(*map(range, out_sp)):
        win = tuple(
            slice(p * s, p * s + dd * (kk - 1) + 1, dd)
            for p, s, dd, kk in zip(pos, stride, dilation, k)
        )
        for g in range(groups):
            patch = xp[(slice(None), slice(g * cg, (g + 1) * cg), *win)]
            wg = w[g * og : (g + 1) * og]
            out[(slice(None), slice(g * og, (g + 1) * og), *pos)] = np.tensordot(
                patch, wg, axes=(list(range(1, 2 + d)), list(range(1, 2 + d)))
            )
    if b is not None:
        out += b.reshape(-1, *(1,) * d)
    return out


def conv_transpose_ref(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> np.ndarray:
    """Each input position scatters weight * value into the output."""
    d = w.ndim - 2
    tup = lambda v: (v,) * d if isinstance(v, int) else tuple(v)  # noqa: E731
    stride, padding, output_padding, dilation = map(
        tup, (stride, padding, output_padding, dilation)
    )
    c, og = w.shape[:2]
    k = w.shape[2:]
    cg = c // groups
    sp = x.shape[2:]
    out_sp = [
        (n - 1) * s - 2 * p + dd * (kk - 1) + e + 1
        for n, s, p, dd, kk, e in zip(sp, stride, padding, dilation, k, output_padding)
    ]
    full = np.zeros((x.shape[0], og * groups, *[o + 2 * p for o, p in zip(out_sp, padding)]))
    for pos in itertools.product(*map(range, sp)):
        win = tuple(
            slice(q * s, q * s + dd * (kk - 1) + 1, dd)
            for q, s, dd, kk in zip(pos, stride, dilation, k)
        )
        for g in range(groups):
            v = x[(slice(None), slice(g * cg, (g + 1) * cg), *pos)]  # (N, cg)
            contrib = np.tensordot(v, w[g * cg : (g + 1) * cg], axes=([1], [0]))
            full[(slice(None), slice(g * og, (g + 1) * og), *win)] += contrib
    out = full[(slice(None), slice(None), *[slice(p, p + o) for p, o in zip(padding, out_sp)])]
    if b is not None:
        out = out + b.reshape(-1, *(1,) * d)
    return out


def _pool_windows(n: int, k: int, s: int, p: int, dd: int, ceil: bool) -> list[list[int]]:
    """The input positions of each pooling window along one dim (padding dropped)."""
    span = n + 2 * p - dd * (k - 1) - 1
    count = (span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (count - 1) * s >= n + p:
        count -= 1
    return [
        [o * s - p + j * dd for j in range(k) if 0 <= o * s - p + j * dd < n] for o in range(count)
    ]


def max_pool_ref(
    x: np.ndarray,
    k: tuple[int, ...],
    s: tuple[int, ...] | None = None,
    p: Any = 0,
    dd: Any = 1,
    ceil: bool = False,
    indices: bool = False,
) -> np.ndarray:
    d = len(k)
    s = s or k
    p = (p,) * d if isinstance(p, int) else p
    dd = (dd,) * d if isinstance(dd, int) else dd
    sp = x.shape[-d:]
    wins = [_pool_windows(*args, ceil) for args in zip(sp, k, s, p, dd)]
    out = np.zeros(x.shape[:-d] + tuple(map(len, wins)))
    idx = np.zeros(out.shape, np.int64)
    for pos in itertools.product(*[range(len(w)) for w in wins]):
        cells = list(itertools.product(*[wins[i][pos[i]] for i in range(d)]))
        vals = np.stack([x[(Ellipsis, *c)] for c in cells], -1)
        best = vals.argmax(-1)
        out[(Ellipsis, *pos)] = vals.max(-1)
        flat = [np.ravel_multi_index(c, sp) for c in cells]
        idx[(Ellipsis, *pos)] = np.asarray(flat)[best]
    return idx if indices else out


def avg_pool_ref(
    x: np.ndarray,
    k: tuple[int, ...],
    s: tuple[int, ...] | None = None,
    p: Any = 0,
    ceil: bool = False,
    include_pad: bool = True,
    divisor: int | None = None,
) -> np.ndarray:
    d = len(k)
    s = s or k
    p = (p,) * d if isinstance(p, int) else p
    sp = x.shape[-d:]
    wins = [_pool_windows(n, kk, ss, pp, 1, ceil) for n, kk, ss, pp in zip(sp, k, s, p)]
    out = np.zeros(x.shape[:-d] + tuple(map(len, wins)))
    for pos in itertools.product(*[range(len(w)) for w in wins]):
        cells = list(itertools.product(*[wins[i][pos[i]] for i in range(d)]))
        total = sum(x[(Ellipsis, *c)] for c in cells)
        # PyTorch's divisor: the window clipped to the padded input, or the cells read
        size = 1
        for i in range(d):
            start = pos[i] * s[i] - p[i]
            size *= min(start + k[i], sp[i] + p[i]) - start
        out[(Ellipsis, *pos)] = total / (divisor or (size if include_pad else len(cells)))
    return out


def _adaptive_windows(n: int, out: int) -> list[range]:
    return [range(i * n // out, -(-(i + 1) * n // out)) for i in range(out)]


def adaptive_ref(x: np.ndarray, out: tuple[int, ...], reduce: Any) -> np.ndarray:
    d = len(out)
    wins = [_adaptive_windows(n, o) for n, o in zip(x.shape[-d:], out)]
    res = np.zeros(x.shape[:-d] + tuple(out))
    for pos in itertools.product(*map(range, out)):
        block = x[(Ellipsis, *[slice(w[q].start, w[q].stop) for w, q in zip(wins, pos)])]
        res[(Ellipsis, *pos)] = reduce(block.reshape(*block.shape[:-d], -1), axis=-1)
    return res


def nearest_ref(x: np.ndarray, out: tuple[int, ...], exact: bool = False) -> np.ndarray:
    d = len(out)
    src = []
    for n, o in zip(x.shape[-d:], out):
        if exact:
            src.append([min(int(math.floor((i + 0.5) * n / o)), n - 1) for i in range(o)])
        elif o == 2 * n:
            src.append([i // 2 for i in range(o)])
        else:
            src.append([min(int(math.floor(i * n / o)), n - 1) for i in range(o)])
    return x[(Ellipsis, *np.ix_(*src))]


def linear_ref(x: np.ndarray, out: tuple[int, ...], align_corners: bool) -> np.ndarray:
    """Separable linear interpolation, the last dim first."""
    d = len(out)
    for i in reversed(range(d)):
        axis = x.ndim - d + i
        n, o = x.shape[axis], out[i]
        rows = []
        for j in range(o):
            if align_corners:
                real = j * (n - 1) / (o - 1) if o > 1 else 0.0
            else:
                real = max((j + 0.5) * n / o - 0.5, 0.0)
            i0 = min(int(math.floor(real)), n - 1)
            i1 = min(i0 + 1, n - 1)
            lam = min(max(real - i0, 0.0), 1.0)
            rows.append(np.take(x, i0, axis) * (1 - lam) + np.take(x, i1, axis) * lam)
        x = np.stack(rows, axis)
    return x


def unfold_ref(
    x: np.ndarray, k: tuple[int, int], dd: tuple[int, int], p: int, s: tuple[int, int]
) -> np.ndarray:
    n, c, h, w = x.shape
    xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
    oh = (h + 2 * p - dd[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p - dd[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((n, c * k[0] * k[1], oh * ow))
    for ci, i, j, a, b in itertools.product(
        range(c), range(k[0]), range(k[1]), range(oh), range(ow)
    ):
        row = (ci * k[0] + i) * k[1] + j
        out[:, row, a * ow + b] = xp[:, ci, a * s[0] + i * dd[0], b * s[1] + j * dd[1]]
    return out


def fold_ref(
    cols: np.ndarray, size: tuple[int, int], k: tuple[int, int], p: int, s: tuple[int, int]
) -> np.ndarray:
    n, ck, length = cols.shape
    c = ck // (k[0] * k[1])
    h, w = size
    out = np.zeros((n, c, h + 2 * p, w + 2 * p))
    ow = (w + 2 * p - k[1]) // s[1] + 1
    for ci, i, j, l in itertools.product(range(c), range(k[0]), range(k[1]), range(length)):
        a, b = divmod(l, ow)
        out[:, ci, a * s[0] + i, b * s[1] + j] += cols[:, (ci * k[0] + i) * k[1] + j, l]
    return out[:, :, p : p + h, p : p + w]


def pixel_shuffle_ref(x: np.ndarray, r: int) -> np.ndarray:
    n, crr, h, w = x.shape
    out = np.zeros((n, crr // (r * r), h * r, w * r))
    for c, i, j, a, b in itertools.product(
        range(crr // (r * r)), range(r), range(r), range(h), range(w)
    ):
        out[:, c, a * r + i, b * r + j] = x[:, (c * r + i) * r + j, a, b]
    return out


def pixel_unshuffle_ref(x: np.ndarray, r: int) -> np.ndarray:
    n, c, hr, wr = x.shape
    out = np.zeros((n, c * r * r, hr // r, wr // r))
    for ci, i, j, a, b in itertools.product(
        range(c), range(r), range(r), range(hr // r), range(wr // r)
    ):
        out[:, (ci * r + i) * r + j, a, b] = x[:, ci, a * r + i, b * r + j]
    return out


def pad_ref(x: np.ndarray, pads: tuple[int, ...], mode: str, value: float = 0.0) -> np.ndarray:
    """numpy's pad (negative amounts crop first)."""
    k = len(pads) // 2
    pairs = [(0, 0)] * (x.ndim - k) + [(pads[2 * i], pads[2 * i + 1]) for i in range(k)][::-1]
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, pairs))
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    np_mode = {
        "constant": "constant",
        "reflect": "reflect",
        "replicate": "edge",
        "circular": "wrap",
    }
    kw = {"constant_values": value} if mode == "constant" else {}
    return np.pad(x[crop], grow, mode=np_mode[mode], **kw)


def _normalize(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    mean = x.mean(axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def _channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape(-1, *(1,) * (ndim - 2))


def batch_norm_ref(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    y = _normalize(x, (0, *range(2, x.ndim)), 1e-5)
    return y * _channel(w, x.ndim) + _channel(b, x.ndim)


def batch_norm_eval_ref(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    mean, var = _channel(np.array(RUNNING_MEAN), x.ndim), _channel(np.array(RUNNING_VAR), x.ndim)
    return (x - mean) / np.sqrt(var + 1e-5) * _channel(w, x.ndim)


def group_norm_ref(x: np.ndarray, w: np.ndarray, b: np.ndarray, groups: int) -> np.ndarray:
    n = x.shape[0]
    y = _normalize(x.reshape(n, groups, -1), (2,), 1e-5).reshape(x.shape)
    return y * _channel(w, x.ndim) + _channel(b, x.ndim)


def lrn_ref(x: np.ndarray, size: int, alpha: float, beta: float, k: float) -> np.ndarray:
    c = x.shape[1]
    div = np.zeros_like(x)
    for ch in range(c):
        lo, hi = ch - size // 2, ch + (size - 1) // 2
        div[:, ch] = sum(x[:, j] ** 2 for j in range(max(lo, 0), min(hi, c - 1) + 1)) / size
    return x / (k + alpha * div) ** beta


RUNNING_MEAN, RUNNING_VAR = [0.3, -0.2], [0.5, 1.7]


def _eval_stats(x: Any) -> tuple[Any, Any]:
    """Fixed running statistics for the eval-mode row, in the input's library and dtype."""
    return lib(x).tensor(RUNNING_MEAN, dtype=x.dtype), lib(x).tensor(RUNNING_VAR, dtype=x.dtype)


# ---- the rows -------------------------------------------------------------------------------

CONV = "ConvolutionBackward0"

SPECS = [
    # ---- convolutions ------------------------------------------------------------------------
    S(
        "F_conv2d",
        lambda x, w, b: F(x).conv2d(x, w, b),
        lambda x, w, b: conv_ref(x, w, b),
        (A((2, 2, 5, 4)), A((3, 2, 3, 2)), A((3,))),
        grad_fn=CONV,
    ),
    S(
        "F_conv2d_stride_padding_dilation",
        lambda x, w: F(x).conv2d(x, w, stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
        lambda x, w: conv_ref(x, w, None, (2, 1), (1, 2), (2, 1)),
        (A((1, 2, 6, 5)), A((2, 2, 2, 2))),
        grad_fn=CONV,
    ),
    S(
        "F_conv2d_groups_same_even_kernel",
        lambda x, w: F(x).conv2d(x, w, padding="same", groups=2),
        lambda x, w: conv_ref(x, w, None, 1, ((0, 1), (1, 1)), 1, 2),
        (A((1, 4, 4, 4)), A((4, 2, 2, 3))),
        grad_fn=CONV,
    ),
    S(
        "F_conv1d_stride_bias",
        lambda x, w, b: F(x).conv1d(x, w, b, stride=2),
        lambda x, w, b: conv_ref(x, w, b, 2),
        (A((2, 3, 7)), A((2, 3, 3)), A((2,))),
        grad_fn=CONV,
    ),
    S(
        "F_conv1d_unbatched",
        lambda x, w: F(x).conv1d(x, w, padding=1),
        lambda x, w: conv_ref(x[None], w, None, 1, 1)[0],
        (A((2, 5)), A((3, 2, 3))),
        grad_fn="SqueezeBackward1",
    ),
    S(
        "F_conv3d",
        lambda x, w: F(x).conv3d(x, w, padding=1, stride=(1, 2, 1)),
        lambda x, w: conv_ref(x, w, None, (1, 2, 1), 1),
        (A((1, 2, 3, 4, 3)), A((2, 2, 2, 2, 2))),
        grad_fn=CONV,
    ),
    S(
        "F_conv_transpose2d",
        lambda x, w, b: F(x).conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        lambda x, w, b: conv_transpose_ref(x, w, b, 2, 1, 1),
        (A((1, 2, 3, 3)), A((2, 3, 3, 2)), A((3,))),
        grad_fn=CONV,
    ),
    S(
        "F_conv_transpose1d_groups_dilation",
        lambda x, w: F(x).conv_transpose1d(x, w, stride=2, groups=2, dilation=2),
        lambda x, w: conv_transpose_ref(x, w, None, 2, 0, 0, 2, 2),
        (A((2, 4, 4)), A((4, 1, 3))),
        grad_fn=CONV,
    ),
    # ---- padding, im2col, pixel shuffle ------------------------------------------------------
    S(
        "F_pad_constant_crop",
        lambda x: F(x).pad(x, (1, 2, -1, 1), value=0.5),
        lambda x: pad_ref(x, (1, 2, -1, 1), "constant", 0.5),
        (A((2, 3, 4)),),
        grad_fn="ConstantPadNdBackward0",
    ),
    S(
        "F_pad_reflect_2d_conv",
        lambda x: F(x).pad(x, (2, 1, 3, 0), mode="reflect"),
        lambda x: pad_ref(x, (2, 1, 3, 0), "reflect"),
        (A((1, 2, 4, 5)),),
        grad_fn="ReflectionPad2DBackward0",
    ),
    S(
        "F_pad_replicate_1d",
        lambda x: F(x).pad(x, (3, 1), mode="replicate"),
        lambda x: pad_ref(x, (3, 1), "replicate"),
        (A((2, 3, 4)),),
        grad_fn="ReplicationPad1DBackward0",
    ),
    S(
        "F_pad_circular_2d",
        lambda x: F(x).pad(x, (1, 2, 2, 0), mode="circular"),
        lambda x: pad_ref(x, (1, 2, 2, 0), "circular"),
        (A((1, 2, 3, 4)),),
        grad_fn="CopySlices",
    ),
    S(
        "F_unfold",
        lambda x: F(x).unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
        lambda x: unfold_ref(x, (2, 3), (2, 1), 1, (1, 2)),
        (A((1, 2, 5, 4)),),
        grad_fn="Im2ColBackward0",
    ),
    S(
        "F_fold_overlapping",
        lambda x: F(x).fold(x, (4, 5), (2, 3), padding=1, stride=(2, 1)),
        lambda x: fold_ref(x, (4, 5), (2, 3), 1, (2, 1)),
        (A((2, 12, 15)),),
        grad_fn="Col2ImBackward0",
    ),
    S(
        "F_pixel_shuffle",
        lambda x: F(x).pixel_shuffle(x, 2),
        lambda x: pixel_shuffle_ref(x, 2),
        (A((1, 8, 2, 3)),),
        grad_fn="PixelShuffleBackward0",
    ),
    S(
        "F_pixel_unshuffle",
        lambda x: F(x).pixel_unshuffle(x, 2),
        lambda x: pixel_unshuffle_ref(x, 2),
        (A((1, 2, 4, 6)),),
        grad_fn="PixelUnshuffleBackward0",
    ),
    # ---- pooling -----------------------------------------------------------------------------
    S(
        "F_max_pool2d",
        lambda x: F(x).max_pool2d(x, 2),
        lambda x: max_pool_ref(x, (2, 2)),
        (A((2, 2, 5, 6), distinct),),
        grad_fn="MaxPool2DWithIndicesBackward0",
    ),
    S(
        "F_max_pool2d_padding_ceil_dilation",
        lambda x: F(x).max_pool2d(x, 3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True),
        lambda x: max_pool_ref(x, (3, 3), (2, 2), 1, (1, 2), True),
        (A((1, 2, 6, 7), distinct),),
        grad_fn="MaxPool2DWithIndicesBackward0",
    ),
    S(
        "F_max_pool2d_indices",
        lambda x: F(x).max_pool2d(x, (2, 3), stride=1, padding=1, return_indices=True)[1],
        lambda x: max_pool_ref(x, (2, 3), (1, 1), 1, indices=True),
        (A((1, 2, 4, 5), distinct),),
    ),
    S(
        "F_max_pool2d_ties",
        lambda x: F(x).max_pool2d(x, 2, stride=1),
        lambda x: max_pool_ref(x, (2, 2), (1, 1)),
        (A((1, 1, 3, 3), lambda rng, shape: np.round(rng.uniform(-1, 1, shape))),),
        grad_fn="MaxPool2DWithIndicesBackward0",
        no_fd=KINK,
    ),
    S(
        "F_max_pool1d",
        lambda x: F(x).max_pool1d(x, 3, stride=2, padding=1),
        lambda x: max_pool_ref(x, (3,), (2,), 1),
        (A((2, 3, 7), distinct),),
        grad_fn="SqueezeBackward1",
    ),
    S(
        "F_avg_pool2d",
        lambda x: F(x).avg_pool2d(x, 2),
        lambda x: avg_pool_ref(x, (2, 2)),
        (A((2, 2, 5, 4)),),
        grad_fn="AvgPool2DBackward0",
    ),
    S(
        "F_avg_pool2d_padding_ceil_exclude_pad",
        lambda x: F(x).avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda x: avg_pool_ref(x, (3, 3), (2, 2), 1, True, False),
        (A((1, 2, 6, 5)),),
        grad_fn="AvgPool2DBackward0",
    ),
    S(
        "F_avg_pool2d_ceil_divisor_override",
        lambda x: F(x).avg_pool2d(x, (2, 3), (2, 2), (1, 0), ceil_mode=True, divisor_override=4),
        lambda x: avg_pool_ref(x, (2, 3), (2, 2), (1, 0), True, True, 4),
        (A((1, 2, 5, 6)),),
        grad_fn="AvgPool2DBackward0",
    ),
    S(
        "F_avg_pool1d_padding_ceil",
        lambda x: F(x).avg_pool1d(x, 3, 2, 1, ceil_mode=True),
        lambda x: avg_pool_ref(x, (3,), (2,), 1, True),
        (A((2, 3, 8)),),
        grad_fn="SqueezeBackward1",
    ),
    S(
        "F_adaptive_avg_pool2d_uneven",
        lambda x: F(x).adaptive_avg_pool2d(x, (3, 2)),
        lambda x: adaptive_ref(x, (3, 2), np.mean),
        (A((2, 2, 5, 5)),),
        grad_fn="AdaptiveAvgPool2DBackward0",
    ),
    S(
        "F_adaptive_avg_pool2d_even_none",
        lambda x: F(x).adaptive_avg_pool2d(x, (2, None)),
        lambda x: adaptive_ref(x, (2, 3), np.mean),
        (A((1, 3, 4, 3)),),
        grad_fn="AdaptiveAvgPool2DBackward0",
    ),
    S(
        "F_adaptive_avg_pool2d_global",
        lambda x: F(x).adaptive_avg_pool2d(x, 1),
        lambda x: adaptive_ref(x, (1, 1), np.mean),
        (A((2, 3, 3, 4)),),
        grad_fn="MeanBackward1",
    ),
    S(
        "F_adaptive_avg_pool1d",
        lambda x: F(x).adaptive_avg_pool1d(x, 3),
        lambda x: adaptive_ref(x, (3,), np.mean),
        (A((2, 2, 7)),),
        grad_fn="SqueezeBackward1",
    ),
    S(
        "F_adaptive_max_pool2d",
        lambda x: F(x).adaptive_max_pool2d(x, (3, 2)),
        lambda x: adaptive_ref(x, (3, 2), np.max),
        (A((1, 2, 5, 6), distinct),),
        grad_fn="AdaptiveMaxPool2DBackward0",
    ),
    # ---- resampling --------------------------------------------------------------------------
    S(
        "F_interpolate_nearest_scale",
        lambda x: F(x).interpolate(x, scale_factor=2),
        lambda x: nearest_ref(x, (6, 8)),
        (A((1, 2, 3, 4)),),
        grad_fn="UpsampleNearest2DBackward0",
    ),
    S(
        "F_interpolate_nearest_size",
        lambda x: F(x).interpolate(x, size=(3, 5)),
        lambda x: nearest_ref(x, (3, 5)),
        (A((1, 2, 4, 4)),),
        grad_fn="UpsampleNearest2DBackward0",
    ),
    S(
        "F_interpolate_nearest_exact_1d",
        lambda x: F(x).interpolate(x, size=7, mode="nearest-exact"),
        lambda x: nearest_ref(x, (7,), exact=True),
        (A((2, 2, 5)),),
        grad_fn="UpsampleNearestExact1DBackward0",
    ),
    S(
        "F_interpolate_bilinear",
        lambda x: F(x).interpolate(x, size=(5, 7), mode="bilinear"),
        lambda x: linear_ref(x, (5, 7), False),
        (A((1, 2, 3, 4)),),
        grad_fn="UpsampleBilinear2DBackward0",
    ),
    S(
        "F_interpolate_bilinear_align_corners_down",
        lambda x: F(x).interpolate(x, size=(3, 5), mode="bilinear", align_corners=True),
        lambda x: linear_ref(x, (3, 5), True),
        (A((1, 2, 5, 4)),),
        grad_fn="UpsampleBilinear2DBackward0",
    ),
    S(
        "F_interpolate_linear_1d",
        lambda x: F(x).interpolate(x, scale_factor=2, mode="linear"),
        lambda x: linear_ref(x, (8,), False),
        (A((2, 3, 4)),),
        grad_fn="UpsampleLinear1DBackward0",
    ),
    # ---- normalisation -----------------------------------------------------------------------
    S(
        "F_batch_norm_training",
        lambda x, w, b: F(x).batch_norm(x, None, None, w, b, training=True),
        batch_norm_ref,
        (A((3, 2, 2, 3)), A((2,)), A((2,))),
        grad_fn="NativeBatchNormBackward0",
    ),
    S(
        "F_batch_norm_eval",
        lambda x, w: F(x).batch_norm(x, *_eval_stats(x), w, None, training=False),
        batch_norm_eval_ref,
        (A((3, 2, 4)), A((2,))),
        grad_fn="NativeBatchNormBackward0",
    ),
    S(
        "F_group_norm",
        lambda x, w, b: F(x).group_norm(x, 2, w, b),
        lambda x, w, b: group_norm_ref(x, w, b, 2),
        (A((2, 4, 3, 2)), A((4,)), A((4,))),
        grad_fn="NativeGroupNormBackward0",
    ),
    S(
        "F_instance_norm",
        lambda x, w, b: F(x).instance_norm(x, weight=w, bias=b),
        lambda x, w, b: _normalize(x, (2, 3), 1e-5) * _channel(w, 4) + _channel(b, 4),
        (A((2, 3, 2, 3)), A((3,)), A((3,))),
        grad_fn="ViewBackward0",
    ),
    S(
        "F_layer_norm",
        lambda x, w, b: F(x).layer_norm(x, (3, 2), w, b),
        lambda x, w, b: _normalize(x, (1, 2), 1e-5) * w + b,
        (A((2, 3, 2)), A((3, 2)), A((3, 2))),
        grad_fn="NativeLayerNormBackward0",
    ),
    S(
        "F_local_response_norm",
        lambda x: F(x).local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.5),
        lambda x: lrn_ref(x, 3, 0.5, 0.75, 1.5),
        (A((2, 5, 2, 2)),),
        grad_fn="DivBackward0",
    ),
    # ---- a small CNN step: conv, relu, pool, linear, cross-entropy ---------------------------
    S(
        "cnn_step",
        lambda x, w, b, v, y: F(x).cross_entropy(
            F(x).max_pool2d(F(x).conv2d(x, w, b, padding=1).tanh(), 2).flatten(1) @ v, y
        ),
        None,
        (A((2, 1, 4, 4)), A((2, 1, 3, 3)), A((2,)), A((8, 3), positive), A((2,), labels(3))),
        grad_fn="NllLossBackward0",
    ),
]
