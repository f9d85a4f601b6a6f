"""The benchmark workloads: inputs, the loss written once for every library, and
numpy gradients written by hand (the reference and the numpy row).

A loss is `loss(nn, *args)`: plain arithmetic, `@`, `.T` and `.sum()`/`.mean()` on
the library's arrays, and `nn.tanh`, `nn.sigmoid`, `nn.exp`, `nn.relu`, `nn.linear`,
`nn.cross_entropy`, `nn.fori_loop`, `nn.scan` from a namespace each implementation
supplies (the loops with `jax.lax`'s signatures: the library's loop primitive, or a
Python loop). So tracer (compiled, unrolled and eager), PyTorch and JAX all run the
same text. A loop workload's trip count is its size, given to the loss and to the
numpy code as the keyword `steps` (`Workload.at`).

This module imports numpy only: the first-call child loads it by path, so that
timing JAX's import does not import tracer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Workload:
    """A scalar loss and its gradients w.r.t. the arguments in `wrt`, at several sizes."""

    name: str
    title: str  # one line, shown above its tables
    make_inputs: Callable[[int, np.random.Generator], list[np.ndarray]]
    # loss(nn, *args), library-neutral; None for a workload that is not a loss (its
    # implementations are listed in impls.WORKLOAD_IMPLEMENTATIONS)
    loss: Callable[..., Any] | None
    numpy_value_and_grad: Callable[..., tuple[Any, list[np.ndarray]]]  # by hand
    wrt: tuple[int, ...]  # arguments that get gradients
    sizes: tuple[int, ...]
    quick_sizes: tuple[int, ...]
    first_call_sizes: tuple[int, ...] = ()  # sizes also timed in fresh processes
    quick_first_call_sizes: tuple[int, ...] = ()
    size_prefix: str = ""  # "b" for batch sizes: mlp-b64
    # size -> {peer implementation: bound on tracer-compiled time / peer time}
    targets: dict[int, dict[str, float]] = field(default_factory=dict)
    # first-call size -> {row: {peer: bound on the row's trace + compile + first call over
    # the peer's, or "seconds": a bound on it}} (import time excluded)
    first_call_targets: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    loop: bool = False  # the loss has a loop: the size is its trip count (`steps`)
    # calls of a step that the check makes before comparing: a stateful step (a training
    # step) is checked over several calls, its value being the stacked per-call values
    check_calls: int = 1
    # what the arrays after the value are, in the check's messages: (one, several)
    checked: tuple[str, str] = ("grad", "gradients")
    # the rows the targets bound (besides "tracer-compiled", the training step's whole
    # step traced at once)
    target_rows: tuple[str, ...] = ("tracer-compiled",)
    unrolled_max_size: int = 0  # largest trip count the unrolled-trace row compiles

    def at(self, size: int) -> Workload:
        """This workload with its loss and numpy code bound to `size` (a loop workload's
        `steps`); other workloads are returned as they are."""
        if not self.loop:
            return self
        return replace(
            self,
            loss=partial(self.loss, steps=size),
            numpy_value_and_grad=partial(self.numpy_value_and_grad, steps=size),
        )

    def size_label(self, size: int) -> str:
        """5 -> "5", 1000 -> "1e3", 1_000_000 -> "1e6"; with the prefix, 64 -> "b64"."""
        exp = len(str(size)) - 1
        text = f"1e{exp}" if size >= 1000 and size == 10**exp else str(size)
        return self.size_prefix + text

    def inputs(self, size: int, seed: int = 0) -> list[np.ndarray]:
        return self.make_inputs(size, np.random.default_rng(seed))


# ---- the notebook loss: (x**2 - 5).sum() ------------------------------------


def notebook_inputs(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.standard_normal(n, dtype=np.float32)]


def notebook_loss(nn: Any, x: Any) -> Any:
    return (x**2 - 5).sum()


def notebook_numpy(x: np.ndarray) -> tuple[Any, list[np.ndarray]]:
    return (x * x - 5).sum(), [2 * x]


# ---- ten elementwise ops, tanh and sigmoid among them, then a sum -----------


def chain_inputs(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)]


def chain_loss(nn: Any, x: Any, y: Any) -> Any:
    a = nn.tanh(x * y)  # 1 mul, 2 tanh
    b = nn.sigmoid(a + x)  # 3 add, 4 sigmoid
    c = b * y - 0.5  # 5 mul, 6 sub
    d = c * c + a  # 7 mul, 8 add
    return nn.exp(d * -0.5).sum()  # 9 mul, 10 exp


def chain_numpy(x: np.ndarray, y: np.ndarray) -> tuple[Any, list[np.ndarray]]:
    a = np.tanh(x * y)
    b = 1 / (1 + np.exp(-(a + x)))
    c = b * y - 0.5
    d = c * c + a
    e = np.exp(d * -0.5)
    g_d = -0.5 * e
    g_c = 2 * c * g_d
    g_z = b * (1 - b) * (y * g_c)  # through the sigmoid, z = a + x
    g_p = (1 - a * a) * (g_d + g_z)  # through the tanh, p = x * y
    return e.sum(), [g_z + y * g_p, b * g_c + x * g_p]


# ---- a 2-layer MLP, 784-256-10, ReLU, softmax cross-entropy (mean) -----------

MLP_SHAPE = (784, 256, 10)


def mlp_inputs(batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    n_in, n_hidden, n_out = MLP_SHAPE

    def normal(*shape: int, scale: float = 1.0) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)

    return [
        normal(n_hidden, n_in, scale=(2 / n_in) ** 0.5),
        normal(n_hidden, scale=0.1),
        normal(n_out, n_hidden, scale=(1 / n_hidden) ** 0.5),
        normal(n_out, scale=0.1),
        rng.random((batch, n_in), dtype=np.float32),  # x: pixels in [0, 1)
        rng.integers(0, n_out, batch),
    ]  # y: class labels, int64


def mlp_loss(nn: Any, w1: Any, b1: Any, w2: Any, b2: Any, x: Any, y: Any) -> Any:
    h = nn.relu(nn.linear(x, w1, b1))
    return nn.cross_entropy(nn.linear(h, w2, b2), y)


def mlp_numpy(
    w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[Any, list[np.ndarray]]:
    rows = np.arange(len(y))
    pre = x @ w1.T + b1
    h = np.maximum(pre, 0)
    logits = h @ w2.T + b2
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True)
    loss = (np.log(total[:, 0]) - z[rows, y]).mean()
    g_logits = e / total  # softmax - one_hot, over the batch size
    g_logits[rows, y] -= 1
    g_logits /= len(y)
    g_h = g_logits @ w2
    g_h[pre <= 0] = 0
    return loss, [g_h.T @ x, g_h.sum(axis=0), g_logits.T @ h, g_logits.sum(axis=0)]


# ---- one Adam step over the MLP's parameters -----------------------------------

ADAM_LR = 1e-3
ADAM_EPS = 1e-8


def adam_inputs(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The MLP's parameters w1, b1, w2, b2 (n is their element count), then a gradient
    for each."""
    params = mlp_inputs(1, rng)[:4]
    assert sum(p.size for p in params) == n, "adam-step's size is the MLP's parameter count"
    return params + [rng.standard_normal(p.shape, dtype=np.float32) for p in params]


def adam_numpy(*arrays: np.ndarray) -> tuple[Any, list[np.ndarray]]:
    """The first Adam step (from zero moments, default betas) in closed form: the bias
    corrected moments are g and g*g, so p <- p - lr * g / (|g| + eps). The value is the
    step count, 1."""
    params, grads = arrays[:4], arrays[4:]
    updated = [p - ADAM_LR * g / (np.sqrt(g * g) + ADAM_EPS) for p, g in zip(params, grads)]
    return np.float64(1.0), updated


MLP_PARAMETERS = 784 * 256 + 256 + 256 * 10 + 10


# ---- a full training step of the MLP: forward, backward, Adam update -------------------

ADAM_BETAS = (0.9, 0.999)
TRAIN_CHECK_STEPS = 3  # steps the check compares: each step's loss, then the parameters


class NumpyAdamMLP:
    """The MLP trained with Adam (lr 1e-3, default betas and eps), by hand: `step()` runs
    forward, backward (mlp_numpy) and the Adam update of torch.optim.Adam's docs, in
    the dtype of the given arrays, and returns (the step's loss, [w1, b1, w2, b2] after
    the update). The parameters and moments are updated in place."""

    def __init__(
        self, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray, x: np.ndarray,
        y: np.ndarray,
    ) -> None:  # fmt: skip
        self.params = [a.copy() for a in (w1, b1, w2, b2)]
        self.x, self.y = x, y
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self) -> tuple[Any, list[np.ndarray]]:
        loss, grads = mlp_numpy(*self.params, self.x, self.y)
        self.t += 1
        beta1, beta2 = ADAM_BETAS
        dtype = self.params[0].dtype.type
        # p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
        step_size = dtype(ADAM_LR / (1 - beta1**self.t))
        root_correction = dtype((1 - beta2**self.t) ** 0.5)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= dtype(beta1)
            m += dtype(1 - beta1) * g
            v *= dtype(beta2)
            v += dtype(1 - beta2) * g * g
            p -= step_size * m / (np.sqrt(v) / root_correction + dtype(ADAM_EPS))
        return loss, self.params


def train_mlp_numpy(*inputs: np.ndarray) -> tuple[Any, list[np.ndarray]]:
    """The check's reference: the losses of the first TRAIN_CHECK_STEPS steps, and the
    parameters after them."""
    trainer = NumpyAdamMLP(*inputs)
    losses = [trainer.step()[0] for _ in range(TRAIN_CHECK_STEPS)]
    return np.array(losses), trainer.params


# issue 16: the whole training step compiled against PyTorch eager and JAX jit
TRAIN_TARGETS = {"torch": 0.5, "jax": 1.0}


# ---- coupled masses: a damped spring chain integrated for `steps` steps -----------------
#
# Four unit masses in a line between two walls: wall -k0- m0 -k1- m1 -k1- m2 -k1- m3 -k0- wall,
# with damping. The stiffness matrix is k0 * WALLS + k1 * COUPLING (both constant
# inputs); semi-implicit Euler: v += dt * (-x @ K - c v), x += dt * v. The loss is the
# energy-like sum of squares of the final state; its gradient is w.r.t. (k0, k1).

SPRING_DT = 0.02
SPRING_DAMPING = 0.3


def spring_inputs(steps: int, rng: np.random.Generator) -> list[np.ndarray]:
    walls = np.diag([1.0, 0.0, 0.0, 1.0]).astype(np.float32)
    coupling = (2 * np.eye(4) - np.eye(4, k=1) - np.eye(4, k=-1)).astype(np.float32)
    return [
        np.array([3.0, 1.5], np.float32),  # k: (wall stiffness, coupling stiffness)
        rng.standard_normal(4, dtype=np.float32),  # initial positions
        rng.standard_normal(4, dtype=np.float32) * np.float32(0.5),  # initial velocities
        walls,
        coupling,
    ]


def spring_loss(nn: Any, k: Any, x0: Any, v0: Any, walls: Any, coupling: Any, steps: int) -> Any:
    stiffness = k[0] * walls + k[1] * coupling

    def step(i: Any, state: Any) -> Any:
        x, v = state
        v = v + SPRING_DT * (-(x @ stiffness) - SPRING_DAMPING * v)
        return x + SPRING_DT * v, v

    x, v = nn.fori_loop(0, steps, step, (x0, v0))
    return (x * x + v * v).sum()


def spring_numpy(
    k: np.ndarray,
    x0: np.ndarray,
    v0: np.ndarray,
    walls: np.ndarray,
    coupling: np.ndarray,
    steps: int,
) -> tuple[Any, list[np.ndarray]]:
    dt, c = SPRING_DT, SPRING_DAMPING
    stiffness = k[0] * walls + k[1] * coupling
    xs = [x0]  # the positions at the start of each step (the backward pass needs them)
    x, v = x0, v0
    for _ in range(steps):
        v = v + dt * (-(x @ stiffness) - c * v)
        x = x + dt * v
        xs.append(x)
    g_x, g_v = 2 * x, 2 * v
    g_stiffness = np.zeros_like(stiffness)
    for t in range(steps - 1, -1, -1):
        g_v = g_v + dt * g_x  # x' = x + dt v'
        g_a = dt * g_v  # v' = v + dt a
        g_stiffness -= np.outer(xs[t], g_a)  # a = -x @ K - c v
        g_x = g_x - g_a @ stiffness.T
        g_v = g_v - c * g_a
    g_k = np.array([(g_stiffness * walls).sum(), (g_stiffness * coupling).sum()], k.dtype)
    return (x * x + v * v).sum(), [g_k]


# ---- an Elman RNN: h' = tanh(x_t W_ih^T + h W_hh^T + b), loss on the last state ---------

RNN_SHAPE = (32, 32, 128)  # batch, input, hidden


def rnn_inputs(steps: int, rng: np.random.Generator) -> list[np.ndarray]:
    batch, n_in, n_hidden = RNN_SHAPE

    def normal(*shape: int, scale: float = 1.0) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)

    return [
        normal(n_hidden, n_in, scale=n_in**-0.5),  # w_ih
        normal(n_hidden, n_hidden, scale=n_hidden**-0.5),  # w_hh
        normal(n_hidden, scale=0.1),  # b
        np.zeros((batch, n_hidden), np.float32),  # h0
        normal(steps, batch, n_in),  # xs: one input per step
    ]


def rnn_loss(nn: Any, w_ih: Any, w_hh: Any, b: Any, h0: Any, xs: Any, steps: int) -> Any:
    def cell(h: Any, x: Any) -> Any:
        return nn.tanh(x @ w_ih.T + h @ w_hh.T + b), None

    h, _ = nn.scan(cell, h0, xs, length=steps)
    return (h * h).mean()


def rnn_numpy(
    w_ih: np.ndarray, w_hh: np.ndarray, b: np.ndarray, h0: np.ndarray, xs: np.ndarray, steps: int
) -> tuple[Any, list[np.ndarray]]:
    hs = [h0]  # hs[t]: the state before step t
    for t in range(steps):
        hs.append(np.tanh(xs[t] @ w_ih.T + hs[-1] @ w_hh.T + b))
    h = hs[-1]
    g_h = 2 * h / h.size
    g_ih, g_hh, g_b = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b)
    for t in range(steps - 1, -1, -1):
        g_pre = g_h * (1 - hs[t + 1] ** 2)  # through the tanh
        g_ih += g_pre.T @ xs[t]
        g_hh += g_pre.T @ hs[t]
        g_b += g_pre.sum(axis=0)
        g_h = g_pre @ w_hh
    return (h * h).mean(), [g_ih, g_hh, g_b]


# issue 14's targets for the loop workloads: steady state against JAX jit and PyTorch
# eager; the cold compile (trace + compile + first call, import excluded) within 2 s and
# 3x JAX's first call
LOOP_TARGETS = {"jax": 1.0, "torch": 0.5}
LOOP_FIRST_CALL_TARGETS = {"tracer-compiled-cold": {"seconds": 2.0, "jax": 3.0}}


# ---- LeNet-5: two conv + max-pool layers, three linear layers (issue 15) -------------

LENET_SHAPES = [  # conv1, conv2, fc1, fc2, fc3: (weight shape, bias size)
    ((6, 1, 5, 5), 6),
    ((16, 6, 5, 5), 16),
    ((120, 400), 120),
    ((84, 120), 84),
    ((10, 84), 10),
]


def lenet_inputs(batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    params = []
    for shape, n in LENET_SHAPES:
        fan_in = int(np.prod(shape[1:]))
        bound = 1 / fan_in**0.5
        params.append(rng.uniform(-bound, bound, shape).astype(np.float32))
        params.append(rng.uniform(-bound, bound, n).astype(np.float32))
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)  # pixels in [0, 1)
    return params + [x, rng.integers(0, 10, batch)]


def lenet_loss(
    nn: Any, c1w: Any, c1b: Any, c2w: Any, c2b: Any, f1w: Any, f1b: Any, f2w: Any, f2b: Any,
    f3w: Any, f3b: Any, x: Any, y: Any,
) -> Any:  # fmt: skip
    h = nn.max_pool2d(nn.relu(nn.conv2d(x, c1w, c1b, 2)), 2)  # (B, 6, 14, 14)
    h = nn.max_pool2d(nn.relu(nn.conv2d(h, c2w, c2b, 0)), 2)  # (B, 16, 5, 5)
    h = h.reshape(h.shape[0], -1)
    h = nn.relu(nn.linear(h, f1w, f1b))
    h = nn.relu(nn.linear(h, f2w, f2b))
    return nn.cross_entropy(nn.linear(h, f3w, f3b), y)


def _im2col(x: np.ndarray, k: int) -> np.ndarray:
    """(B, C, H, W) -> (C * k * k, B * OH * OW) columns of the k-by-k windows."""
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # B C OH OW k k
    b, c, oh, ow = win.shape[:4]
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(c * k * k, b * oh * ow)


def _col2im(cols: np.ndarray, shape: tuple[int, ...], k: int) -> np.ndarray:
    b, c, h, w = shape
    oh, ow = h - k + 1, w - k + 1
    blocks = cols.reshape(c, k, k, b, oh, ow)
    out = np.zeros(shape, cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i : i + oh, j : j + ow] += blocks[:, i, j].transpose(1, 0, 2, 3)
    return out


def _conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    o, _, k, _ = w.shape
    cols = _im2col(x, k)
    oh, ow = x.shape[2] - k + 1, x.shape[3] - k + 1
    y = (w.reshape(o, -1) @ cols).reshape(o, x.shape[0], oh, ow).transpose(1, 0, 2, 3)
    return y + b[:, None, None], cols


def _conv_backward(
    g: np.ndarray, x_shape: tuple[int, ...], w: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    o, _, k, _ = w.shape
    g2 = g.transpose(1, 0, 2, 3).reshape(o, -1)
    gx = _col2im(w.reshape(o, -1).T @ g2, x_shape, k)
    return gx, (g2 @ cols.T).reshape(w.shape), g.sum(axis=(0, 2, 3))


def _pool_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max pooling; the mask marks the first maximum of each window."""
    b, c, h, w = x.shape
    win = (
        x.reshape(b, c, h // 2, 2, w // 2, 2)
        .transpose(0, 1, 2, 4, 3, 5)
        .reshape(b, c, h // 2, w // 2, 4)
    )
    first = win.argmax(-1)
    mask = np.arange(4) == first[..., None]
    return win.max(-1), mask


def _pool_backward(g: np.ndarray, mask: np.ndarray) -> np.ndarray:
    b, c, oh, ow = g.shape
    win = (mask * g[..., None]).reshape(b, c, oh, ow, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return win.reshape(b, c, oh * 2, ow * 2)


def lenet_numpy(
    c1w: np.ndarray, c1b: np.ndarray, c2w: np.ndarray, c2b: np.ndarray, f1w: np.ndarray,
    f1b: np.ndarray, f2w: np.ndarray, f2b: np.ndarray, f3w: np.ndarray, f3b: np.ndarray,
    x: np.ndarray, y: np.ndarray,
) -> tuple[Any, list[np.ndarray]]:  # fmt: skip
    xp = np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)])
    a1, cols1 = _conv_forward(xp, c1w, c1b)
    p1, m1 = _pool_forward(np.maximum(a1, 0))
    a2, cols2 = _conv_forward(p1, c2w, c2b)
    p2, m2 = _pool_forward(np.maximum(a2, 0))
    h0 = p2.reshape(len(x), -1)
    z1 = h0 @ f1w.T + f1b
    h1 = np.maximum(z1, 0)
    z2 = h1 @ f2w.T + f2b
    h2 = np.maximum(z2, 0)
    logits = h2 @ f3w.T + f3b
    rows = np.arange(len(y))
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True)
    loss = (np.log(total[:, 0]) - z[rows, y]).mean()
    g = e / total
    g[rows, y] -= 1
    g /= len(y)
    g_f3w, g_f3b = g.T @ h2, g.sum(0)
    g = (g @ f3w) * (z2 > 0)
    g_f2w, g_f2b = g.T @ h1, g.sum(0)
    g = (g @ f2w) * (z1 > 0)
    g_f1w, g_f1b = g.T @ h0, g.sum(0)
    g = _pool_backward((g @ f1w).reshape(p2.shape), m2) * (a2 > 0)
    g, g_c2w, g_c2b = _conv_backward(g, p1.shape, c2w, cols2)
    g = _pool_backward(g, m1) * (a1 > 0)
    _, g_c1w, g_c1b = _conv_backward(g, xp.shape, c1w, cols1)
    return loss, [g_c1w, g_c1b, g_c2w, g_c2b, g_f1w, g_f1b, g_f2w, g_f2b, g_f3w, g_f3b]


# ---- an LSTM over a sequence, then a linear classifier on the last state (issue 15) ---

LSTM_SHAPE = (50, 32, 128, 10)  # sequence length, input size, hidden size, classes


def lstm_inputs(batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    steps, n_in, hidden, n_out = LSTM_SHAPE
    bound = 1 / hidden**0.5

    def uniform(*shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    return [
        uniform(4 * hidden, n_in),  # w_ih: gates i, f, g, o stacked, as PyTorch's LSTM
        uniform(4 * hidden, hidden),  # w_hh
        uniform(4 * hidden),  # b_ih
        uniform(4 * hidden),  # b_hh
        uniform(n_out, hidden),  # w_out
        uniform(n_out),  # b_out
        rng.standard_normal((steps, batch, n_in), dtype=np.float32),  # x: (L, N, H_in)
        rng.integers(0, n_out, batch),
    ]


def lstm_loss(
    nn: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, w_out: Any, b_out: Any, x: Any, y: Any
) -> Any:
    h = nn.lstm(x, w_ih, w_hh, b_ih, b_hh)  # the last hidden state, (N, hidden)
    return nn.cross_entropy(nn.linear(h, w_out, b_out), y)


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def lstm_numpy(
    w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray,
    w_out: np.ndarray, b_out: np.ndarray, x: np.ndarray, y: np.ndarray,
) -> tuple[Any, list[np.ndarray]]:  # fmt: skip
    steps, batch, _ = x.shape
    n = w_hh.shape[1]
    h, c = np.zeros((batch, n), x.dtype), np.zeros((batch, n), x.dtype)
    saved = []
    for t in range(steps):  # forward, keeping what backpropagation through time needs
        gates = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f = _sigmoid(gates[:, :n]), _sigmoid(gates[:, n : 2 * n])
        g, o = np.tanh(gates[:, 2 * n : 3 * n]), _sigmoid(gates[:, 3 * n :])
        c_new = f * c + i * g
        saved.append((h, c, i, f, g, o, np.tanh(c_new)))
        h, c = o * np.tanh(c_new), c_new
    logits = h @ w_out.T + b_out
    rows = np.arange(batch)
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True)
    loss = (np.log(total[:, 0]) - z[rows, y]).mean()
    gl = e / total
    gl[rows, y] -= 1
    gl /= batch
    g_wout, g_bout = gl.T @ h, gl.sum(0)
    gh, gc = gl @ w_out, np.zeros_like(c)
    g_wih, g_whh, g_b = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b_ih)
    for t in reversed(range(steps)):
        h_prev, c_prev, i, f, g, o, tc = saved[t]
        go = gh * tc
        gc = gc + gh * o * (1 - tc * tc)
        gi, gf, gg = gc * g, gc * c_prev, gc * i
        gates = np.concatenate(
            [gi * i * (1 - i), gf * f * (1 - f), gg * (1 - g * g), go * o * (1 - o)], axis=1
        )
        g_wih += gates.T @ x[t]
        g_whh += gates.T @ h_prev
        g_b += gates.sum(0)
        gh, gc = gates @ w_hh, gc * f
    return loss, [g_wih, g_whh, g_b, g_b.copy(), g_wout, g_bout]


# ---- function transforms (issue 18): per-example gradients, a Hessian, a Gauss-Newton step --
#
# These are not losses: each implementation writes the transform with its own library's
# names (impls.WORKLOAD_IMPLEMENTATIONS). The functions being transformed are written
# once here, against the `nn` namespace. The value checked is a by-product of the same
# call (the batch loss, f(x), the cost at p); the arrays are what the transform gives.

# issue 18's target: tracer compiled at most 1.0x JAX jit in the steady state
TRANSFORM_TARGETS = {"jax": 1.0}
# and the cold compile (trace + compile + first call, import excluded) at most 3x JAX's
# first call
TRANSFORM_FIRST_CALL_TARGETS = {"tracer-compiled-cold": {"jax": 3.0}}


def per_example_inputs(batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The mlp workload's weights and data (w1, b1, w2, b2, x, y)."""
    return mlp_inputs(batch, rng)


def per_example_numpy(
    w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[Any, list[np.ndarray]]:
    """The batch's mean loss, and each example's gradients of its own loss (the MLP's
    cross-entropy on a batch of that one example): arrays of shape (batch,) + the
    parameter's shape. Their mean over the batch is mlp_numpy's batch gradient."""
    rows = np.arange(len(y))
    pre = x @ w1.T + b1
    h = np.maximum(pre, 0)
    logits = h @ w2.T + b2
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True)
    loss = (np.log(total[:, 0]) - z[rows, y]).mean()
    g_logits = e / total  # softmax - one_hot, per example (no division by the batch)
    g_logits[rows, y] -= 1
    g_h = g_logits @ w2
    g_h[pre <= 0] = 0
    per_w1 = g_h[:, :, None] * x[:, None, :]
    per_w2 = g_logits[:, :, None] * h[:, None, :]
    return loss, [per_w1, g_h, per_w2, g_logits]


def rosenbrock_inputs(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A point in [-1, 1.5)^n, away from the minimum at all ones."""
    return [rng.uniform(-1.0, 1.5, n).astype(np.float32)]


def rosenbrock(nn: Any, x: Any) -> Any:
    """The chained Rosenbrock function sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2."""
    head, tail = x[:-1], x[1:]
    d = tail - head * head
    return (100 * d * d + (1 - head) * (1 - head)).sum()


def rosenbrock_numpy(x: np.ndarray) -> tuple[Any, list[np.ndarray]]:
    """f(x) and its analytic Hessian, tridiagonal: for i < n-1 the (i, i) entry gets
    1200 x_i^2 - 400 x_{i+1} + 2 and the (i, i+1) and (i+1, i) entries -400 x_i; for
    i > 0 the (i, i) entry gets 200 (from the term of i-1)."""
    head, tail = x[:-1], x[1:]
    d = tail - head * head
    value = (100 * d * d + (1 - head) ** 2).sum()
    n = len(x)
    diag = np.zeros(n, x.dtype)
    diag[:-1] += 1200 * head * head - 400 * tail + 2
    diag[1:] += 200
    hess = np.diag(diag)
    idx = np.arange(n - 1)
    hess[idx, idx + 1] = hess[idx + 1, idx] = -400 * head
    return value, [hess]


GN_PARAMS = 20  # the model's parameters; the workload's size is the residual count


def gauss_newton_inputs(m: int, rng: np.random.Generator) -> list[np.ndarray]:
    """(p, t, y, k): p the current parameters, t the m sample points in [0, 2 pi), y the
    observations of the model at parameters near p plus noise, k the frequencies 1..20."""
    t = np.linspace(0, 2 * np.pi, m, endpoint=False)
    k = np.arange(1, GN_PARAMS + 1, dtype=np.float64)
    p_true = rng.standard_normal(GN_PARAMS) * 0.2
    y = np.tanh(np.sin(np.outer(t, k)) @ p_true) + 0.01 * rng.standard_normal(m)
    p = p_true + 0.05 * rng.standard_normal(GN_PARAMS)
    return [a.astype(np.float32) for a in (p, t, y, k)]


def gn_residuals(nn: Any, p: Any, t: Any, y: Any, k: Any) -> Any:
    """r_i = tanh(sum_j p_j sin(k_j t_i)) - y_i: m residuals of the 20 parameters."""
    return nn.tanh(nn.sin(t.reshape(-1, 1) * k) @ p) - y


def gn_step(nn: Any, jacfwd: Callable[..., Any], p: Any, t: Any, y: Any, k: Any) -> Any:
    """One Gauss-Newton step: J = jacfwd(residuals)(p) (m x 20), solve (J^T J) dp =
    -J^T r; returns (the cost 0.5 |r|^2 at p, p + dp). `jacfwd` is the library's, taking
    `argnums`."""
    r = gn_residuals(nn, p, t, y, k)
    jac = jacfwd(partial(gn_residuals, nn), argnums=0)(p, t, y, k)
    dp = nn.solve(jac.T @ jac, -(jac.T @ r))
    return 0.5 * (r * r).sum(), p + dp


def gauss_newton_numpy(
    p: np.ndarray, t: np.ndarray, y: np.ndarray, k: np.ndarray
) -> tuple[Any, list[np.ndarray]]:
    """The step with the analytic Jacobian diag(1 - tanh(u)^2) sin(t k^T), u = sin(t k^T) p."""
    features = np.sin(np.outer(t, k))
    m = np.tanh(features @ p)
    r = m - y
    jac = (1 - m * m)[:, None] * features
    dp = np.linalg.solve(jac.T @ jac, -(jac.T @ r))
    return 0.5 * (r * r).sum(), [p + dp]


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload(
            "notebook",
            "(x**2 - 5).sum(), gradient w.r.t. x",
            notebook_inputs,
            notebook_loss,
            notebook_numpy,
            wrt=(0,),
            sizes=(5, 1_000, 1_000_000),
            quick_sizes=(5, 1_000),
            first_call_sizes=(5,),
            quick_first_call_sizes=(5,),
            targets={5: {"jax": 1.0}, 1_000_000: {"jax": 1.0}},
        ),
        Workload(
            "chain",
            "10 elementwise ops (tanh, sigmoid, exp, ...) summed, gradients w.r.t. x and y",
            chain_inputs,
            chain_loss,
            chain_numpy,
            wrt=(0, 1),
            sizes=(1_000, 1_000_000),
            quick_sizes=(1_000,),
            targets={1_000_000: {"jax": 1.0, "numpy": 0.2}},
        ),
        Workload(
            "mlp",
            "2-layer MLP 784-256-10, relu, softmax cross-entropy (mean), "
            "gradients w.r.t. w1, b1, w2, b2",
            mlp_inputs,
            mlp_loss,
            mlp_numpy,
            wrt=(0, 1, 2, 3),
            sizes=(64, 512),
            quick_sizes=(16,),
            first_call_sizes=(64,),
            size_prefix="b",
            targets={64: {"jax": 1.0}, 512: {"jax": 1.0}},
        ),
        Workload(
            "adam-step",
            "torch.optim.Adam's step() alone over the MLP's parameters (lr 1e-3, default "
            "betas); the result checked is the first step's parameters",
            adam_inputs,
            None,
            adam_numpy,
            wrt=(0, 1, 2, 3),
            sizes=(MLP_PARAMETERS,),
            quick_sizes=(),  # not in --quick runs (whose rows run every implementation)
            size_prefix="p",
            targets={MLP_PARAMETERS: {"torch": 0.3}},
        ),
        Workload(
            "train-mlp",
            "a training step of the 2-layer MLP 784-256-10 (mlp's weights and data): "
            "forward, softmax cross-entropy (mean), backward, Adam update (lr 1e-3) of all "
            f"parameters; the check compares {TRAIN_CHECK_STEPS} steps' losses and the "
            "parameters after them",
            mlp_inputs,
            None,
            train_mlp_numpy,
            wrt=(0, 1, 2, 3),
            sizes=(64, 512),
            quick_sizes=(16,),
            size_prefix="b",
            targets={64: TRAIN_TARGETS, 512: TRAIN_TARGETS},
            check_calls=TRAIN_CHECK_STEPS,
            checked=("param", "parameters"),
            target_rows=("tracer-compiled", "tracer-step"),
        ),
        Workload(
            "spring",
            "4 coupled masses, damped springs, semi-implicit Euler (fori_loop), "
            "gradients w.r.t. the 2 spring constants",
            spring_inputs,
            spring_loss,
            spring_numpy,
            wrt=(0,),
            sizes=(200,),
            quick_sizes=(10,),
            first_call_sizes=(200,),
            size_prefix="t",
            targets={200: LOOP_TARGETS},
            first_call_targets={200: LOOP_FIRST_CALL_TARGETS},
            loop=True,
            unrolled_max_size=50,
        ),
        Workload(
            "rnn",
            "Elman RNN, tanh, hidden 128, input 32, batch 32 (scan), loss on the last "
            "state, gradients w.r.t. w_ih, w_hh, b",
            rnn_inputs,
            rnn_loss,
            rnn_numpy,
            wrt=(0, 1, 2),
            sizes=(100,),
            quick_sizes=(4,),
            first_call_sizes=(100,),
            size_prefix="t",
            targets={100: LOOP_TARGETS},
            first_call_targets={100: LOOP_FIRST_CALL_TARGETS},
            loop=True,
            unrolled_max_size=25,
        ),
        Workload(
            "lenet",
            "LeNet-5 on 28x28x1: conv5-relu-maxpool x2, linear 400-120-84-10, relu, softmax "
            "cross-entropy (mean), gradients w.r.t. all 10 parameters",
            lenet_inputs,
            lenet_loss,
            lenet_numpy,
            wrt=tuple(range(10)),
            sizes=(64,),
            quick_sizes=(),  # compiles take minutes: not in --quick runs
            first_call_sizes=(64,),
            size_prefix="b",
            targets={64: {"jax": 1.0, "torch": 1.0}},
        ),
        Workload(
            "lstm",
            "LSTM (input 32, hidden 128) over 50 steps, linear 128-10 on the last hidden "
            "state, softmax cross-entropy (mean), gradients w.r.t. the 6 parameters",
            lstm_inputs,
            lstm_loss,
            lstm_numpy,
            wrt=tuple(range(6)),
            sizes=(32,),
            quick_sizes=(),  # compiles take minutes: not in --quick runs
            first_call_sizes=(32,),
            size_prefix="b",
            targets={32: {"jax": 1.0, "torch": 1.0}},
        ),
        Workload(
            "per-example-grads",
            "per-example gradients (vmap of grad) of the 2-layer MLP 784-256-10's "
            "cross-entropy (mlp's weights and data), w.r.t. w1, b1, w2, b2; value: the "
            "batch's mean loss",
            per_example_inputs,
            None,
            per_example_numpy,
            wrt=(0, 1, 2, 3),
            sizes=(64,),
            quick_sizes=(4,),
            first_call_sizes=(64,),
            size_prefix="b",
            targets={64: TRANSFORM_TARGETS},
            first_call_targets={64: TRANSFORM_FIRST_CALL_TARGETS},
            checked=("per-example grad", "per-example gradients"),
        ),
        Workload(
            "hessian-rosenbrock",
            "the Hessian of the chained Rosenbrock function of n parameters at a fixed "
            "point (the analytic tridiagonal Hessian as numpy); value: f(x)",
            rosenbrock_inputs,
            None,
            rosenbrock_numpy,
            wrt=(0,),
            sizes=(100,),
            quick_sizes=(8,),
            first_call_sizes=(100,),
            size_prefix="n",
            targets={100: TRANSFORM_TARGETS},
            first_call_targets={100: TRANSFORM_FIRST_CALL_TARGETS},
            checked=("hessian", "hessians"),
        ),
        Workload(
            "gauss-newton",
            f"one Gauss-Newton step of a least-squares fit, {GN_PARAMS} parameters: "
            "J = jacfwd(residuals) (m x 20), solve (J^T J) dp = -J^T r, p + dp; value: "
            "the cost 0.5 |r|^2 at p",
            gauss_newton_inputs,
            None,
            gauss_newton_numpy,
            wrt=(0,),
            sizes=(1_000,),
            quick_sizes=(50,),
            first_call_sizes=(1_000,),
            size_prefix="m",
            targets={1_000: TRANSFORM_TARGETS},
            first_call_targets={1_000: TRANSFORM_FIRST_CALL_TARGETS},
            checked=("param", "parameters"),
        ),
    ]
}
