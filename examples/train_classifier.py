"""Train an nn.Sequential classifier the PyTorch way, with tracer imported as torch:
a DataLoader over a TensorDataset, an Adam optimizer with a StepLR schedule, and a
checkpoint (model and optimizer state dicts) saved, loaded into fresh objects, and
trained on from there.

Uses scikit-learn's bundled digits data set (8x8 images, 10 classes) when scikit-learn
is installed, otherwise a synthetic 10-class data set of the same shape (and says so).

Run: python examples/train_classifier.py [--epochs N] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import tracer as torch
from tracer import nn
from tracer.utils.data import DataLoader, TensorDataset


def load_data() -> tuple[str, np.ndarray, np.ndarray]:
    """(description, standardised features float32 (n, 64), labels int64 (n,))."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(0)
        centers = rng.standard_normal((10, 64)) * 0.6
        y = rng.integers(0, 10, 1797)
        x = centers[y] + rng.standard_normal((1797, 64))
        what = "synthetic data (scikit-learn is not installed)"
    else:
        digits = load_digits()
        x, y, what = digits.data, digits.target, "scikit-learn digits"
    x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    return what, x.astype(np.float32), y.astype(np.int64)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def train(model, opt, sched, loader, loss_fn, epochs: int) -> float:
    model.train()
    for _ in range(epochs):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        sched.step()
    return total / len(loader.dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs before and after loading")
    parser.add_argument("--checkpoint", default=None, help="where to save (default: a temp file)")
    args = parser.parse_args()

    torch.manual_seed(0)
    what, x, y = load_data()
    n_test = len(x) // 5
    x_train, y_train = torch.tensor(x[n_test:]), torch.tensor(y[n_test:])
    x_test, y_test = torch.tensor(x[:n_test]), torch.tensor(y[:n_test])
    print(f"data: {what}, {len(x_train)} training and {n_test} test examples")

    def build():
        model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        return model, opt, sched

    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
    loss_fn = nn.CrossEntropyLoss()
    model, opt, sched = build()
    print(model)
    loss = train(model, opt, sched, loader, loss_fn, args.epochs)
    acc = accuracy(model, x_test, y_test)
    print(f"after {args.epochs} epochs: loss {loss:.4f}, test accuracy {acc:.3f}")

    path = args.checkpoint or os.path.join(tempfile.mkdtemp(), "checkpoint.pt")
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}
    torch.save(state, path)
    model, opt, sched = build()  # fresh objects, then the saved state
    loaded = torch.load(path)
    model.load_state_dict(loaded["model"])
    opt.load_state_dict(loaded["opt"])
    sched.load_state_dict(loaded["sched"])
    print(f"loaded {path}: test accuracy {accuracy(model, x_test, y_test):.3f}")
    loss = train(model, opt, sched, loader, loss_fn, args.epochs)
    acc = accuracy(model, x_test, y_test)
    print(f"after {args.epochs} more epochs: loss {loss:.4f}, test accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
