"""Sorting and selection beyond the spec rows: tie order against PyTorch on many
random ties, the (values, indices) result type eagerly and out of a traced function,
and the errors for a k out of range (eager and traced alike)."""

from __future__ import annotations

import numpy as np
import pytest

import tracer
from compiler.errors import ShapeError

stable_cases = [
    # (method, args, kwargs): orders PyTorch documents as stable
    ("sort", (), {"stable": True}),
    ("sort", (), {"dim": 0, "descending": True, "stable": True}),
    ("sort", (), {"dim": 1, "descending": True, "stable": True}),
    ("argsort", (), {"dim": 1, "stable": True}),
]
unstable_cases = [
    # PyTorch's default sort is not stable along long rows (40 here): only the values
    # must agree, and our indices must point at them
    ("sort", (), {}),
    ("sort", (0,), {}),
    ("sort", (1, True), {}),
    ("msort", (), {}),
]


def _ties(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, (7, 40)).astype(np.float64)  # every value repeats
    x[rng.random(x.shape) < 0.1] = np.nan
    return x


@pytest.mark.parametrize("method,args,kwargs", stable_cases)
@pytest.mark.parametrize("seed", range(3))
def test_stable_sort_with_many_ties_orders_as_pytorch(method, args, kwargs, seed):
    torch = pytest.importorskip("torch")
    x = _ties(seed)
    ours = getattr(tracer.tensor(x), method)(*args, **kwargs)
    theirs = getattr(torch.tensor(x), method)(*args, **kwargs)
    if isinstance(theirs, tuple):
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        ours, theirs = ours.indices, theirs.indices
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("method,args,kwargs", unstable_cases)
def test_default_sort_with_many_ties_gives_pytorchs_values(method, args, kwargs):
    torch = pytest.importorskip("torch")
    x = _ties(0)
    ours = getattr(tracer.tensor(x), method)(*args, **kwargs)
    theirs = getattr(torch.tensor(x), method)(*args, **kwargs)
    if isinstance(theirs, tuple):
        dim = kwargs.get("dim", args[0] if args else -1)
        picked = np.take_along_axis(x, ours.indices.numpy(), dim)
        np.testing.assert_array_equal(picked, ours.values.numpy())
        ours, theirs = ours.values, theirs.values
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_result_prints_and_unpacks_as_pytorchs_with_tracers_module_name():
    torch = pytest.importorskip("torch")
    x = [[2.0, 1.0, 3.0], [0.5, 0.25, 4.0]]
    for name, call in [
        ("sort", lambda m, t: m.sort(t, 1, True)),
        ("topk", lambda m, t: m.topk(t, 2)),
        ("kthvalue", lambda m, t: m.kthvalue(t, 2, 0)),
        ("median", lambda m, t: m.median(t, 1)),
        ("nanmedian", lambda m, t: m.nanmedian(t, 0, True)),
    ]:
        ours, theirs = call(tracer, tracer.tensor(x)), call(torch, torch.tensor(x))
        # tracer prints its own module name where PyTorch prints torch's
        assert repr(ours) == repr(theirs).replace("torch.", "tracer."), name


def test_traced_function_returns_values_and_indices():
    x = tracer.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])

    @tracer.trace
    def f(x):
        return x.topk(2), x.max(1)

    (top, mx), eager = f(x), (x.topk(2), x.max(1))
    assert type(top).__name__ == "topk" and type(mx) is type(eager[1])
    for got, want in [(top.values, eager[0].values), (top.indices, eager[0].indices)]:
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(mx.indices.numpy(), [0, 1])


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda x: x.topk(4), "topk: k (4) is out of range for dimension 1 of size 3"),
        (lambda x: x.topk(-1), "topk: k (-1) is out of range"),
        (lambda x: x.kthvalue(0), "kthvalue: k (0) is out of range for dimension 1 of size 3"),
        (lambda x: x.kthvalue(4, 1), "kthvalue: k (4) is out of range"),
        (lambda x: x[:, :0].median(1), "median: cannot select from a zero-size dimension 1"),
    ],
)
@pytest.mark.parametrize("traced", [False, True])
def test_k_out_of_range_is_a_clear_error(call, message, traced):
    x = tracer.tensor([[1.0, 3.0, 2.0]])
    with pytest.raises(ShapeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        (tracer.trace(call) if traced else call)(x)
