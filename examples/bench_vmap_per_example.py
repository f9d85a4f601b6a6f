"""Per-example gradients of the 784-256-10 MLP at batch 64: tracer.vmap(tracer.grad(loss))
compiled under @tracer.trace, and jax.jit(jax.vmap(jax.grad(loss))) on the same inputs
when JAX is installed. Prints the first call and the steady-state time of each (best of
5 timeit repeats), and the largest difference between their gradients.

    python examples/bench_vmap_per_example.py

It uses only public names, so the same script times any checkout of tracer (put it on
PYTHONPATH) against another: the numbers in issue 18's report come from it.
"""

from __future__ import annotations

import importlib.util
import time
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np

import tracer

BATCH = 64


def inputs() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    params = {
        "W1": rng.normal(size=(784, 256)).astype(np.float32) * 0.05,
        "b1": np.zeros(256, np.float32),
        "W2": rng.normal(size=(256, 10)).astype(np.float32) * 0.05,
        "b2": np.zeros(10, np.float32),
    }
    x = rng.normal(size=(BATCH, 784)).astype(np.float32)
    return params, x, rng.integers(0, 10, BATCH)


def timed(step: Callable[[], Any]) -> tuple[float, float, Any]:
    """(first call s, steady-state s per call, the first call's result)."""
    t0 = time.perf_counter()
    out = step()
    first = time.perf_counter() - t0
    n, _ = timeit.Timer(step).autorange()
    best = min(timeit.repeat(step, number=n, repeat=5)) / n
    return first, best, out


def tracer_row() -> tuple[float, float, np.ndarray]:
    params, x, y = inputs()

    def loss(p: dict[str, Any], xi: Any, yi: Any) -> Any:
        h = (xi @ p["W1"] + p["b1"]).relu()
        return -(h @ p["W2"] + p["b2"]).log_softmax(-1)[yi]

    @tracer.trace
    def per_example(p: dict[str, Any], xs: Any, ys: Any) -> Any:
        return tracer.vmap(tracer.grad(loss), in_axes=(None, 0, 0))(p, xs, ys)

    p = {k: tracer.tensor(v) for k, v in params.items()}
    xs, ys = tracer.tensor(x), tracer.tensor(y)
    first, best, g = timed(lambda: per_example(p, xs, ys))
    return first, best, g["W1"].numpy()


def jax_row() -> tuple[float, float, np.ndarray] | None:
    if importlib.util.find_spec("jax") is None:
        return None
    import jax
    import jax.numpy as jnp

    params, x, y = inputs()

    def loss(p: dict[str, Any], xi: Any, yi: Any) -> Any:
        h = jax.nn.relu(xi @ p["W1"] + p["b1"])
        return -jax.nn.log_softmax(h @ p["W2"] + p["b2"])[yi]

    f = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)))
    p = {k: jnp.asarray(v) for k, v in params.items()}
    xs, ys = jnp.asarray(x), jnp.asarray(y)
    first, best, g = timed(lambda: jax.block_until_ready(f(p, xs, ys)))
    return first, best, np.asarray(g["W1"])


def main() -> None:
    first, best, g = tracer_row()
    print(f"tracer vmap(grad), @trace:  first call {first:7.2f} s   steady {best * 1e3:8.2f} ms")
    row = jax_row()
    if row is not None:
        first, best = row[0], row[1] * 1e3
        print(f"jax.jit(vmap(grad)):        first call {first:7.2f} s   steady {best:8.2f} ms")
        print(f"largest difference of the W1 gradients: {np.abs(g - row[2]).max():.2e}")


if __name__ == "__main__":
    main()
