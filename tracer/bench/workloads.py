"""The benchmark workloads: inputs, the loss written once for every library, and
numpy gradients written by hand (the reference and the numpy row).

A loss is `loss(nn, *args)`: plain arithmetic and `.sum()` on the library's arrays,
and `nn.tanh`, `nn.sigmoid`, `nn.exp`, `nn.relu`, `nn.linear`, `nn.cross_entropy`
from a namespace each implementation supplies. So tracer (compiled and eager),
PyTorch and JAX all run the same text.

This module imports numpy only: the first-call child loads it by path, so that
timing JAX's import does not import tracer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
    ]
}
