"""Traced functions called from several threads at once.

Each thread uses its own batch size (so its own signature) and checks its results
against eager mode; every signature is traced once, and as the generated text does
not depend on the batch size, one kernel is compiled for all of them. Grad mode
stays per thread while they run.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from trace_helpers import assert_close

import tracer
import tracer.nn.functional as F
from runtime import cache

pytestmark = pytest.mark.jit


def loss(w, b, x, y):
    return F.cross_entropy(x @ w + b, y) + (w * w).sum() * 0.01


def args(batch: int, seed: int):
    rng = np.random.default_rng(seed)
    return (
        tracer.tensor(rng.standard_normal((6, 4)).astype(np.float32)),
        tracer.tensor(rng.standard_normal(4).astype(np.float32)),
        tracer.tensor(rng.standard_normal((batch, 6)).astype(np.float32)),
        tracer.tensor(rng.integers(0, 4, batch)),
    )


def run_threads(target, n: int) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def wrapped(k: int) -> None:
        try:
            start.wait()
            target(k)
        except BaseException as e:  # reported by the test
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return errors


def test_threads_with_different_shapes_get_correct_results_and_share_one_kernel():
    vg = tracer.value_and_grad(loss, argnums=(0, 1))
    before = cache.cache_stats()
    batches = [3, 5, 8, 13]

    def work(k: int) -> None:
        for rep in range(5):
            a = args(batches[k], seed=10 * k + rep)
            value, (gw, gb) = vg(*a)
            w, b = (t.detach().requires_grad_() for t in a[:2])
            expected = loss(w, b, *a[2:])
            expected.backward()
            assert_close(value, expected.detach())
            assert_close(gw, w.grad)
            assert_close(gb, b.grad)

    assert run_threads(work, len(batches)) == []
    assert vg.cache_info().misses == len(batches)  # one trace per signature
    after = cache.cache_stats()
    compiled = (after["misses"] + after["disk_hits"]) - (before["misses"] + before["disk_hits"])
    assert compiled <= 1  # the batch sizes share one generated module (0: loaded earlier)


def test_threads_meeting_one_new_signature_trace_it_once():
    f = tracer.trace(lambda x: (x * 2).tanh())
    x = tracer.ones(9)

    def work(k: int) -> None:
        assert_close(f(x), tracer.tanh(tracer.ones(9) * 2))

    assert run_threads(work, 4) == []
    assert f.cache_info().misses == 1
    assert f.cache_info().hits == 3


def test_grad_mode_is_per_thread_while_traced_code_runs():
    f = tracer.trace(lambda x: x * 3)
    seen: dict[int, bool] = {}

    def work(k: int) -> None:
        x = tracer.ones(4, requires_grad=True)
        if k % 2:
            with tracer.no_grad():
                for _ in range(20):
                    out = f(x)
                    assert out.grad_fn is None and not tracer.is_grad_enabled()
        else:
            for _ in range(20):
                out = f(x)
                assert out.grad_fn is not None and tracer.is_grad_enabled()
        seen[k] = True

    assert run_threads(work, 4) == []
    assert len(seen) == 4
