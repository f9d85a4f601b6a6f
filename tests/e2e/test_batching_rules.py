"""vmap by batching rules (issue 18): every op-spec row, mapped over a batch of inputs,
equals a Python loop of the row over the examples (eager, float64).

Each row runs on three examples (the spec's inputs for seeds 0, 1, 2) stacked along
axis 0; every third row stacks along the last axis instead (in_axes=-1), and every
other row with several inputs passes its last input unbatched (in_axes None: the same
value for every example). Rows whose result shape depends on the values (bool masks)
cannot be mapped (one example's shape would differ from another's) and are skipped, as
jax.vmap refuses them. A sample of rows also runs traced (interpreter) and one group
compiled (numba). The registry test lists which ops have no rule and run as a
per-example loop (tests/tracer/test_batching_registry.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from opspecs import SPECS, OpSpec

import tracer
from tracer.pytree import flatten

ROWS = [s for s in SPECS if not s.data_dependent]
B = 3


def _dtype(spec: OpSpec) -> str:
    return "float64" if "float64" in spec.dtypes else spec.dtypes[0]


def _case(k: int, spec: OpSpec) -> tuple[list[np.ndarray], list[int | None]]:
    """The stacked inputs of row number `k` and their in_axes."""
    examples = [spec.make_inputs(_dtype(spec), seed) for seed in range(B)]
    n = len(spec.args)
    axes: list[int | None] = []
    stacked = []
    for i in range(n):
        if n > 1 and k % 2 == 0 and i == n - 1:
            axes.append(None)
            stacked.append(examples[0][i])
            continue
        ax = examples[0][i].ndim if k % 3 == 1 else 0
        stacked.append(np.stack([e[i] for e in examples], axis=ax))
        axes.append(ax if ax == 0 else -1)
    return stacked, axes


def _example(stacked: list[np.ndarray], axes: list[int | None], b: int) -> list[np.ndarray]:
    return [x if ax is None else np.take(x, b, axis=ax) for x, ax in zip(stacked, axes)]


def _leaves(out: Any) -> list[np.ndarray]:
    leaves: list[Any] = []
    flatten(out, leaves)
    return [np.asarray(x.detach().numpy()) for x in leaves]


def _loop(spec: OpSpec, stacked: list[np.ndarray], axes: list[int | None]) -> list[np.ndarray]:
    per = [_leaves(spec.fn(*map(tracer.tensor, _example(stacked, axes, b)))) for b in range(B)]
    return [np.stack([p[j] for p in per]) for j in range(len(per[0]))]


def _check(spec: OpSpec, got: list[np.ndarray], want: list[np.ndarray]) -> None:
    tol = spec.tol(_dtype(spec))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape, f"{spec.name}: shape {g.shape}, loop gives {w.shape}"
        assert g.dtype == w.dtype, f"{spec.name}: dtype {g.dtype}, loop gives {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=tol.rtol, atol=tol.atol, err_msg=spec.name)


@pytest.mark.parametrize("k", range(len(ROWS)), ids=[s.name for s in ROWS])
def test_vmap_of_each_op_equals_a_loop_over_the_examples(k: int) -> None:
    spec = ROWS[k]
    stacked, axes = _case(k, spec)
    got = tracer.vmap(spec.fn, in_axes=tuple(axes))(*map(tracer.tensor, stacked))
    _check(spec, _leaves(got), _loop(spec, stacked, axes))


SAMPLE = ROWS[::9]


@pytest.mark.filterwarnings("ignore:.*comes from outside the function")  # a row's weights
@pytest.mark.parametrize("k", range(0, len(ROWS), 9), ids=[s.name for s in SAMPLE])
def test_vmap_traced_equals_the_loop(k: int) -> None:
    spec = ROWS[k]
    stacked, axes = _case(k, spec)
    traced = tracer.trace(tracer.vmap(spec.fn, in_axes=tuple(axes)))
    got = traced(*map(tracer.tensor, stacked))
    _check(spec, _leaves(got), _loop(spec, stacked, axes))


GROUP = (
    "matmul_2d_1d",
    "matmul_batched_broadcast",
    "sum_dim",
    "softmax",
    "F_conv2d",
    "F_max_pool2d",
    "F_cross_entropy_mean",
    "F_layer_norm",
    "gather",
    "cumsum",
    "sort_values",
    "index_int_tensor",
    "where_broadcast",
)


@pytest.mark.jit
def test_vmap_compiled_equals_the_loop_for_a_group_of_rows() -> None:
    rows = [(k, s) for k, s in enumerate(ROWS) if s.name in GROUP]
    assert len(rows) == len(GROUP), "a group name is not a spec row"
    cases = [_case(k, s) for k, s in rows]

    @tracer.trace
    def all_rows(*flat: Any) -> Any:
        it = iter(flat)
        outs = []
        for (_, s), (stacked, axes) in zip(rows, cases):
            outs.append(tracer.vmap(s.fn, in_axes=tuple(axes))(*[next(it) for _ in stacked]))
        return tuple(outs)

    got = all_rows(*[tracer.tensor(x) for _, (st, _) in zip(rows, cases) for x in st])
    for (_, s), (stacked, axes), out in zip(rows, cases, got):
        _check(s, _leaves(out), _loop(s, stacked, axes))
