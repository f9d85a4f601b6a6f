"""Python numbers passed to a traced function are traced, not baked in.

A learning-rate schedule calls a traced step with a new float every time: it must
not trace (or compile) again per value. A Python number traces as a weakly typed
0-d value: it takes the dtype of the tensors it meets, as the number would in
eager mode (a float32 graph stays float32, an int32 tensor times 3 stays int32),
and it holds the number exactly (float64 / int64) until it meets them. Bools,
strings, None and arguments named in static_argnums stay static. The signature
cache is bounded (least recently used first).
"""

from __future__ import annotations

import numpy as np
import pytest

import tracer

MODES = ["interpreted", pytest.param("compiled", marks=pytest.mark.jit)]


def step(x, lr, momentum):
    return x - lr * x * momentum


@pytest.mark.parametrize("mode", MODES)
def test_a_learning_rate_schedule_traces_once_and_equals_eager(mode):
    f = tracer.trace(step)
    x = tracer.tensor([1.0, -2.0, 3.5])
    for k in range(30):
        lr = 0.1 / (k + 1)
        np.testing.assert_array_equal(f(x, lr, 0.9).numpy(), step(x, lr, 0.9).numpy())
    assert f.cache_info().misses == 1


@pytest.mark.parametrize(
    "x,args,dtype",
    [
        (tracer.tensor([1.0, 2.0]), (0.1, 0.3), np.float32),  # float32 stays float32
        (tracer.tensor([1.0, 2.0], dtype=tracer.float64), (0.1, 0.3), np.float64),
        (tracer.tensor([5, 7], dtype=tracer.int32), (3, 2), np.int32),  # int32 stays int32
        (tracer.tensor([5, 7], dtype=tracer.int32), (0.5, 3), np.float32),  # int * float
        (tracer.tensor(2.5), (0.1, 7), np.float32),  # a 0-d tensor still wins
    ],
)
def test_numbers_promote_as_in_eager_mode_and_keep_their_precision(x, args, dtype):
    f = tracer.trace(step)
    got, want = f(x, *args), step(x, *args)
    assert got.dtype == want.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_arithmetic_between_numbers_runs_in_double_precision_as_python_does():
    f = tracer.trace(lambda x, a, b: x * (a * b - a / b))
    x = tracer.ones(1, dtype=tracer.float64)
    a, b = 0.1, 0.3
    assert f(x, a, b).item() == a * b - a / b  # exactly: no float32 rounding on the way


def test_ints_and_floats_are_different_signatures():
    f = tracer.trace(step)
    x = tracer.ones(2)
    f(x, 2, 1)
    f(x, 2.0, 1)
    f(x, 5, 3)
    assert f.cache_info().misses == 2


def test_bools_and_static_numbers_drive_python_control_flow():
    def scaled(x, flag, n):
        for _ in range(n):
            x = x * 2 if flag else x + 1
        return x

    f = tracer.trace(scaled, static_argnums=2)
    x = tracer.ones(2)
    assert f(x, True, 3).tolist() == [8.0, 8.0]
    assert f(x, False, 2).tolist() == [3.0, 3.0]


def test_control_flow_on_a_traced_number_says_how_to_make_it_static():
    f = tracer.trace(lambda x, n: x * sum(range(n)))
    with pytest.raises(tracer.TraceError, match="static_argnums"):
        f(tracer.ones(2), 3)


def test_value_and_grad_differentiates_with_respect_to_a_python_float():
    vg = tracer.value_and_grad(lambda x, s: (x * s * s).sum(), argnums=(0, 1))
    value, (gx, gs) = vg(tracer.tensor([1.0, 2.0]), 3.0)
    assert value.item() == 27.0
    assert gx.tolist() == [9.0, 9.0]
    assert gs.item() == 2 * 3.0 * 3.0  # d/ds sum(x) s**2 = 2 s sum(x)


def test_the_signature_cache_keeps_the_most_recently_used():
    f = tracer.trace(lambda x: x * 2, cache_size=2)
    a, b, c = tracer.ones(1), tracer.ones(2), tracer.ones(3)
    f(a), f(b), f(a), f(c)  # b is the least recently used when c arrives
    assert f.cache_info().entries == 2
    misses = f.cache_info().misses
    f(a)
    assert f.cache_info().misses == misses  # kept
    f(b)
    assert f.cache_info().misses == misses + 1  # evicted, traced again


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_cache_size_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="cache_size"):
        tracer.trace(lambda x: x, cache_size=bad)
