"""Random numbers inside traced functions: new numbers at every call, the same ones
again after the same seed, the right distributions, and dropout's gradient.

The `random` primitive is checked bit for bit against an independent SplitMix64 written
here with Python integers (its first output from seed 0 is the published
0xE220A8397B1DCDAF), its numpy rule against the generated kernel, and its samples
against the uniform and normal CDFs (Kolmogorov-Smirnov at the 0.1% level; the seeds
are fixed, so these are deterministic).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tracer
from compiler.dispatch import apply
from compiler.errors import TraceError
from compiler.registry import OPS

MASK = (1 << 64) - 1


def splitmix64(key: int, counter: int) -> int:
    """The reference: SplitMix64's output number `counter` from state `key`."""
    z = (key + (counter + 1) * 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def test_reference_is_splitmix64():
    assert splitmix64(0, 0) == 0xE220A8397B1DCDAF


@pytest.mark.parametrize("key", [0, 12345, -(2**63), -1])
def test_uniform_rule_is_splitmix64_bits(key: int):
    k = np.array(key, np.int64)
    f64 = OPS["random"].impl(k, (7,), np.dtype(np.float64), "uniform")
    f32 = OPS["random"].impl(k, (7,), np.dtype(np.float32), "uniform")
    words = [splitmix64(key & MASK, c) for c in range(7)]
    assert f64.tolist() == [(w >> 11) * 2.0**-53 for w in words]
    assert f32.tolist() == [(w >> 40) * 2.0**-24 for w in words]


def test_normal_rule_is_box_muller_of_two_words():
    got = OPS["random"].impl(np.array(99, np.int64), (3,), np.dtype(np.float64), "normal")
    want = []
    for c in range(3):
        u = ((splitmix64(99, 2 * c) >> 11) + 1) * 2.0**-53
        v = (splitmix64(99, 2 * c + 1) >> 11) * 2.0**-53
        want.append(math.sqrt(-2 * math.log(u)) * math.cos(2 * math.pi * v))
    np.testing.assert_allclose(got, want, rtol=1e-14)


def _ks_statistic(samples: np.ndarray, cdf) -> float:
    x = np.sort(samples.astype(np.float64))
    n = len(x)
    c = cdf(x)
    return float(max((np.arange(1, n + 1) / n - c).max(), (c - np.arange(n) / n).max()))


_normal_cdf = np.vectorize(lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2))))
KS_CRITICAL = 1.95  # / sqrt(n): the 0.1% point of the Kolmogorov distribution


@pytest.mark.jit
@pytest.mark.parametrize("dtype", [tracer.float32, tracer.float64])
def test_compiled_kernel_equals_the_rule_and_fits_the_distributions(dtype):
    @tracer.trace
    def draw(key):
        u = apply("random", key, shape=(50, 200), dtype=np.dtype(dtype), dist="uniform")
        z = apply("random", key, shape=(10000,), dtype=np.dtype(dtype), dist="normal")
        return u, z

    key = tracer.tensor(-7, dtype=tracer.int64)
    u, z = draw(key)
    rule = OPS["random"].impl
    np.testing.assert_array_equal(u.numpy(), rule(key.numpy(), (50, 200), u.dtype, "uniform"))
    tol = 1e-6 if dtype == tracer.float32 else 1e-12
    np.testing.assert_allclose(
        z.numpy(), rule(key.numpy(), (10000,), z.dtype, "normal"), rtol=tol, atol=tol
    )
    n = u.numel()
    assert (u.numpy() >= 0).all() and (u.numpy() < 1).all()
    assert _ks_statistic(u.numpy().ravel(), lambda x: x) < KS_CRITICAL / math.sqrt(n)
    assert _ks_statistic(z.numpy(), _normal_cdf) < KS_CRITICAL / math.sqrt(z.numel())


# ---- through tracing: fresh keys per call, seeds, generators ---------------------------


@pytest.fixture(params=["interpreted", pytest.param("compiled", marks=pytest.mark.jit)])
def mode(request, monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1" if request.param == "interpreted" else "0")
    return request.param


def noisy(x):
    return (
        x + tracer.rand(4),
        tracer.randn_like(x),
        tracer.randint(3, 9, (6,)),
        tracer.normal(x, 2.0),
        tracer.bernoulli(x * 0 + 0.5),
    )


def test_each_call_draws_new_numbers_and_a_seed_repeats_them(mode):
    f = tracer.trace(noisy)
    x = tracer.zeros(4)
    tracer.manual_seed(3)
    first, second = f(x), f(x)
    tracer.manual_seed(3)
    again = f(x), f(x)
    for a, b in zip((first, second), again):
        for p, q in zip(a, b):
            np.testing.assert_array_equal(p.numpy(), q.numpy())
    for p, q in zip(first[:4], second[:4]):
        assert not np.array_equal(p.numpy(), q.numpy())


def test_interpreter_and_compiled_code_draw_the_same_numbers(monkeypatch):
    results = []
    for disable in ("1", "0"):
        monkeypatch.setenv("TRACER_DISABLE_JIT", disable)
        tracer.manual_seed(11)
        results.append(tracer.trace(noisy)(tracer.zeros(4, dtype=tracer.float64)))
    for a, b in zip(*results):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_generator_argument_supplies_the_keys(mode):
    g = tracer.Generator().manual_seed(5)
    f = tracer.trace(lambda x: x + tracer.rand(3, generator=g))
    x = tracer.zeros(3)
    a = f(x)
    g.manual_seed(5)
    tracer.manual_seed(0)  # the default generator plays no part
    np.testing.assert_array_equal(f(x).numpy(), a.numpy())


def test_two_call_sites_are_independent(mode):
    f = tracer.trace(lambda x: (tracer.rand(20000) + x, tracer.rand(20000) + x))
    tracer.manual_seed(0)
    a, b = f(tracer.zeros(()))
    r = np.corrcoef(a.numpy(), b.numpy())[0, 1]
    assert abs(r) < 4 / math.sqrt(20000)


def test_randint_and_bernoulli_distributions(mode):
    f = tracer.trace(
        lambda p: (tracer.randint(-2, 3, (50000,)), tracer.bernoulli(p), tracer.bernoulli(p, 0.25))
    )
    tracer.manual_seed(1)
    p = tracer.full((50000,), 0.7, dtype=tracer.float64)
    ints, b, b25 = f(p)
    assert ints.dtype == tracer.int64 and b.dtype == tracer.float64
    counts = np.bincount(ints.numpy() + 2, minlength=5)
    assert counts.sum() == 50000 and len(counts) == 5
    # each of the 5 values: 10000 expected, sd ~ 89
    assert np.abs(counts - 10000).max() < 5 * 89
    assert abs(b.numpy().mean() - 0.7) < 5 * math.sqrt(0.21 / 50000)
    assert abs(b25.numpy().mean() - 0.25) < 5 * math.sqrt(0.1875 / 50000)
    assert set(np.unique(b.numpy())) <= {0.0, 1.0}


# ---- dropout -----------------------------------------------------------------------------


def test_dropout_in_training_masks_and_scales_and_its_gradient_is_the_mask(mode):
    drop = tracer.nn.Dropout(0.3)

    @tracer.trace
    def f(x):
        return drop(x)

    x = tracer.rand(200, 100, dtype=tracer.float64) + 1.0
    x.requires_grad_(True)
    tracer.manual_seed(2)
    y = f(x)
    y.backward(tracer.ones_like(y))
    kept = y.detach().numpy() != 0
    np.testing.assert_allclose(y.detach().numpy()[kept], x.detach().numpy()[kept] / 0.7)
    np.testing.assert_array_equal(x.grad.numpy(), np.where(kept, 1 / 0.7, 0.0))
    assert abs(kept.mean() - 0.7) < 5 * math.sqrt(0.21 / kept.size)
    y2 = f(x)
    assert not np.array_equal(y2.detach().numpy() != 0, kept)  # a new mask each call
    drop.eval()
    assert f(x) is not None and np.array_equal(f(x).detach().numpy(), x.detach().numpy())


def test_value_and_grad_uses_one_mask_for_the_value_and_the_gradient(mode):
    # value = sum(m * w) / (1 - p) and grad = m / (1 - p) for the same mask m, so value
    # == grad . w exactly when the backward pass sees the forward pass's mask
    vg = tracer.value_and_grad(lambda w: tracer.nn.functional.dropout(w, 0.4).sum())
    w = tracer.rand(1000, dtype=tracer.float64) + 0.5
    tracer.manual_seed(6)
    values, grads = [], []
    for _ in range(2):
        v, g = vg(w)
        np.testing.assert_allclose(v.item(), float(g.numpy() @ w.numpy()), rtol=1e-12)
        assert set(np.unique(g.numpy())) == {0.0, 1 / 0.6}
        values.append(v.item())
        grads.append(g.numpy())
    assert values[0] != values[1] and not np.array_equal(*grads)


# ---- what stays refused ------------------------------------------------------------------


def test_random_inside_a_loop_body_is_refused_with_the_fix():
    @tracer.trace
    def f(x):
        return tracer.fori_loop(0, 3, lambda i, c: c + tracer.rand(2), x)

    with pytest.raises(TraceError, match=r"rand\(\) inside the body of fori_loop .*same numbers"):
        f(tracer.zeros(2))


def test_random_in_a_cond_branch_draws_per_call(mode):
    @tracer.trace
    def f(x):
        return tracer.cond(x.sum() > 0, lambda x: x + tracer.rand(2), lambda x: x * 0, x)

    tracer.manual_seed(4)
    a, b = f(tracer.ones(2)), f(tracer.ones(2))
    assert not np.array_equal(a.numpy(), b.numpy())
    assert ((a.numpy() >= 1) & (a.numpy() < 2)).all()


def test_randperm_and_inplace_fills_stay_eager_only():
    f = tracer.trace(lambda x: x + tracer.randperm(3))
    with pytest.raises(
        TraceError, match=r"(?s)randperm\(\) inside a traced function.*pass them in"
    ):
        f(tracer.zeros(3, dtype=tracer.int64))


def test_requires_grad_random_inside_a_trace_is_refused():
    f = tracer.trace(lambda x: x + tracer.rand(3, requires_grad=True))
    with pytest.raises(TraceError, match="requires_grad=True"):
        f(tracer.zeros(3))


# ---- module attributes are part of what a trace depends on ----------------------------


def test_changing_a_called_modules_attribute_traces_again(mode):
    class Leaky(tracer.nn.Module):
        def __init__(self, slope):
            super().__init__()
            self.negative_slope = slope

        def forward(self, x):
            return tracer.where(x > 0, x, x * self.negative_slope)

    act = tracer.nn.Sequential(Leaky(0.1))  # reached through a container
    f = tracer.trace(lambda x: act(x))
    x = tracer.tensor([-1.0, 2.0])
    np.testing.assert_allclose(f(x).numpy(), [-0.1, 2.0], rtol=1e-6)
    f(x)
    assert f.cache_info().misses == 1
    act[0].negative_slope = 0.5
    np.testing.assert_allclose(f(x).numpy(), [-0.5, 2.0], rtol=1e-6)
    assert "Leaky.negative_slope" in f.explain() and "0.1 -> 0.5" in f.explain()
    act[0].unrelated = "x"  # a new attribute the trace did not read: no retrace
    f(x)
    assert f.cache_info().misses == 2
