"""Helpers for tests that use PyTorch as an oracle: move values between the two
libraries and copy a torch module's weights into the same module built with tracer.
Only imported by tests that already called pytest.importorskip("torch")."""

from __future__ import annotations

from typing import Any

import numpy as np

import tracer


def np_(t: Any) -> np.ndarray:
    """A tensor of either library (or None) as a numpy array."""
    return np.array(t.detach().numpy()) if t is not None else None


def from_torch(t: Any, requires_grad: bool | None = None) -> tracer.Tensor:
    rg = t.requires_grad if requires_grad is None else requires_grad
    return tracer.tensor(np_(t), requires_grad=rg)


def to_torch(t: Any, requires_grad: bool | None = None) -> Any:
    import torch

    rg = t.requires_grad if requires_grad is None else requires_grad
    return torch.tensor(np_(t), requires_grad=rg)


def copy_weights(theirs: Any, ours: tracer.nn.Module) -> None:
    """Give `ours` the parameters and buffers of the torch module `theirs` (same names)."""
    state = {k: tracer.tensor(np_(v)) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)


def assert_same(ours: Any, theirs: Any, rtol: float = 1e-6, atol: float = 1e-7) -> None:
    """Same shape, dtype and (to float32 rounding by default) values."""
    a, b = np_(ours), np_(theirs)
    assert a.shape == b.shape
    assert a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
