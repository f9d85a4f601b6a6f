"""Train a 64-64-10 MLP classifier twice from the same start: once with an eager step
(loss.backward() then Adam) and once with a compiled tracer.value_and_grad step, and
compare time per step and test accuracy.

Uses scikit-learn's bundled digits data set (8x8 images, 10 classes) when scikit-learn
is installed, otherwise a synthetic 10-class data set of the same shape.

Run: python examples/train_mlp.py [--steps N | --quick] [--plot loss.png]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import tracer
import tracer.nn.functional as F

HIDDEN = 64


def load_data(seed: int) -> tuple[str, np.ndarray, np.ndarray]:
    """(description, features float32 (n, 64), labels int64 (n,))."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(seed)
        centers = rng.standard_normal((10, 64)) * 0.6
        y = rng.integers(0, 10, 1797)
        x = centers[y] + rng.standard_normal((1797, 64))
        return (
            "synthetic data (scikit-learn is not installed; `pip install scikit-learn` "
            "to use the digits data set)",
            x.astype(np.float32),
            y,
        )
    digits = load_digits()
    return "scikit-learn digits", digits.data.astype(np.float32), digits.target.astype(np.int64)


def split(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[tracer.Tensor, ...]:
    """Shuffle, hold out 20% for testing, standardize with the training statistics."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = len(x) // 5
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(0), x[train].std(0) + 1e-3
    x = (x - mean) / std
    return (
        tracer.tensor(x[train]),
        tracer.tensor(y[train]),
        tracer.tensor(x[test]),
        tracer.tensor(y[test]),
    )


def init_params(n_in: int, n_out: int) -> dict[str, tracer.Tensor]:
    params = {
        "w1": tracer.randn(n_in, HIDDEN) * (2 / n_in) ** 0.5,
        "b1": tracer.zeros(HIDDEN),
        "w2": tracer.randn(HIDDEN, n_out) * (1 / HIDDEN) ** 0.5,
        "b2": tracer.zeros(n_out),
    }
    return {k: p.requires_grad_() for k, p in params.items()}


def logits(params: dict[str, tracer.Tensor], x: tracer.Tensor) -> tracer.Tensor:
    h = F.relu(x @ params["w1"] + params["b1"])
    return h @ params["w2"] + params["b2"]


def loss_fn(params: dict[str, tracer.Tensor], x: tracer.Tensor, y: tracer.Tensor) -> tracer.Tensor:
    return F.cross_entropy(logits(params, x), y)


def accuracy(params: dict[str, tracer.Tensor], x: tracer.Tensor, y: tracer.Tensor) -> float:
    with tracer.no_grad():
        return (logits(params, x).argmax(1) == y).float().mean().item()


def eager_step(params, opt, x, y) -> float:
    opt.zero_grad()
    loss = loss_fn(params, x, y)
    loss.backward()
    opt.step()
    return loss.item()


compiled_loss = tracer.value_and_grad(loss_fn)  # gradients w.r.t. argument 0, params


def compiled_step(params, opt, x, y) -> float:
    loss, grads = compiled_loss(params, x, y)
    for name, p in params.items():
        p.grad = grads[name]
    opt.step()
    return loss.item()


def progress(label: str, step: int, steps: int, loss: float, done: bool) -> None:
    """A progress bar redrawn in place on a terminal, a line every 10% otherwise."""
    bar = "#" * (20 * step // steps)
    line = f"  {label:<15} [{bar:<20}] step {step:>5}/{steps}  loss {loss:.4f}"
    if sys.stdout.isatty():
        print("\r" + line, end="\n" if done else "", flush=True)
    elif done or step % max(1, steps // 10) == 0:
        print(line, flush=True)


def train(label, step_fn, data, steps: int, batch: int, lr: float, seed: int) -> dict:
    x_train, y_train, x_test, y_test = data
    tracer.manual_seed(seed)  # same initial parameters and batches for both runs
    params = init_params(x_train.shape[1], 10)
    opt = tracer.optim.Adam(params.values(), lr=lr)
    n = x_train.shape[0]
    per_epoch = n // batch
    losses, times = [], []
    for step in range(steps):
        if step % per_epoch == 0:
            order = tracer.randperm(n)
        idx = order[(step % per_epoch) * batch : (step % per_epoch + 1) * batch]
        start = time.perf_counter()
        losses.append(step_fn(params, opt, x_train[idx], y_train[idx]))
        times.append(time.perf_counter() - start)
        progress(label, step + 1, steps, losses[-1], step + 1 == steps)
    return {
        "label": label,
        "params": params,
        "losses": losses,
        "first_ms": 1e3 * times[0],
        "ms": 1e3 * float(np.median(times[1:] or times)),
        "test_acc": accuracy(params, x_test, y_test),
    }


def plot(runs: list[dict], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            f"--plot {path}: matplotlib is not installed (`pip install matplotlib`); "
            "no plot written"
        )
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for run, style in zip(runs, ["-", "--"]):
        ax.plot(run["losses"], style, label=run["label"], alpha=0.8)
    ax.set(
        xlabel="step",
        ylabel="training loss (cross-entropy)",
        yscale="log",
        title="MLP 64-64-10 with Adam",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"loss curve written to {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=600, help="training steps per run")
    parser.add_argument("--quick", action="store_true", help="a short run (60 steps)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PATH", help="write a loss-curve PNG (matplotlib)")
    args = parser.parse_args(argv)
    steps = 60 if args.quick else args.steps
    if steps < 1:
        parser.error("--steps must be at least 1")

    name, x, y = load_data(args.seed)
    data = split(x, y, args.seed)
    print(
        f"data: {name}: {data[0].shape[0]} train / {data[2].shape[0]} test examples, "
        f"{x.shape[1]} features, 10 classes"
    )
    print(
        f"model: MLP {x.shape[1]}-{HIDDEN}-10, Adam lr={args.lr}, batch {args.batch}, {steps} steps"
    )
    runs = [
        train("eager", eager_step, data, steps, args.batch, args.lr, args.seed),
        train("value_and_grad", compiled_step, data, steps, args.batch, args.lr, args.seed),
    ]

    print(
        f"\n{'mode':<16}{'ms/step':>9}{'first step ms':>15}{'loss first -> last':>22}"
        f"{'test accuracy':>15}"
    )
    for r in runs:
        losses = f"{r['losses'][0]:.4f} -> {r['losses'][-1]:.4f}"
        print(
            f"{r['label']:<16}{r['ms']:>9.3f}{r['first_ms']:>15.2f}{losses:>22}"
            f"{r['test_acc']:>14.2%}"
        )
    diff = max(
        float(
            np.abs(
                np.asarray(runs[0]["params"][k].detach())
                - np.asarray(runs[1]["params"][k].detach())
            ).max()
        )
        for k in runs[0]["params"]
    )
    print(
        "(ms/step is the median over steps 2..N, optimizer included; the first "
        "value_and_grad step traces and compiles)"
    )
    print(f"largest parameter difference between the two runs: {diff:.2e}")
    if args.plot:
        plot(runs, args.plot)


if __name__ == "__main__":
    main()
