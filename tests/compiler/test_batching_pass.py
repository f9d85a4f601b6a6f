"""The batching pass over IR: batch_graph turns a graph of one example into a graph of a
batch that type-checks and, run on the interpreter, equals the original run per example."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from compiler.batching import batch_graph
from compiler.builder import GraphBuilder
from compiler.dispatch import apply, tracing
from compiler.ir import Graph, typecheck
from compiler.ops.control import run_graph
from compiler.registry import AVal

F64 = np.dtype(np.float64)


def staged(fn: Callable[..., Any], *shapes: tuple[int, ...]) -> Graph:
    b = GraphBuilder(warn_above=None)
    xs = [b.new_input(AVal(s, F64)) for s in shapes]
    outer, tracing.builder = tracing.builder, b
    try:
        out = fn(*xs)
    finally:
        tracing.builder = outer
    return b.graph([b._atom(o) for o in (out if isinstance(out, tuple) else (out,))])


CASES = [
    ("mlp_row", lambda x, w: (x @ w).tanh().sum(), [(3,), (3, 4)], [0, None]),
    ("softmax_cols", lambda x: x.softmax(0), [(3, 2)], [1]),
    ("outer", lambda x, y: (x.reshape(3, 1) * y.reshape(1, 2), x.max()), [(3,), (2,)], [0, 0]),
    ("transpose_index", lambda x: x.T[1], [(2, 3)], [2]),
    ("concat", lambda x, y: apply("concatenate", x, y, axis=0).cumsum(0), [(2,), (3,)], [None, 0]),
]


@pytest.mark.parametrize("fn,shapes,dims", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_batched_graph_type_checks_and_equals_the_graph_run_per_example(fn, shapes, dims):
    size = 4
    graph = staged(fn, *shapes)
    batched, out_dims = batch_graph(graph, dims, size, out_dims=[0] * len(graph.outputs))
    typecheck(batched)
    assert out_dims == [0] * len(graph.outputs)
    rng = np.random.default_rng(0)
    examples = [[rng.normal(size=s) for s in shapes] for _ in range(size)]
    args = [
        examples[0][i] if d is None else np.stack([e[i] for e in examples], axis=d)
        for i, d in enumerate(dims)
    ]
    got = run_graph(batched, args)
    per = [run_graph(graph, e) for e in _shared(examples, dims)]
    for j, g in enumerate(got):
        np.testing.assert_allclose(g, np.stack([p[j] for p in per]), rtol=1e-14)


def _shared(examples: list[list[np.ndarray]], dims: list[int | None]) -> list[list[np.ndarray]]:
    """Each example's inputs, the unbatched ones taken from example 0 (as they were given)."""
    return [
        [examples[0][i] if d is None else x for i, (x, d) in enumerate(zip(e, dims))]
        for e in examples
    ]
