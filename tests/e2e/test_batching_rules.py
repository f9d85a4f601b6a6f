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


# ---- control flow, transforms, errors ------------------------------------------------------

X = np.random.default_rng(7).normal(size=(5, 3))


def _run(mode: str, f: Any, *args: Any) -> Any:
    return tracer.trace(f)(*args) if mode == "traced" else f(*args)


def _stack(outs: list[Any]) -> Any:
    if isinstance(outs[0], tuple):
        return tuple(tracer.stack([o[j] for o in outs]) for j in range(len(outs[0])))
    return tracer.stack(outs)


def _cond(a: Any) -> Any:  # a predicate that differs per example: both branches, selected
    return tracer.cond(a.sum() > 0, lambda v: v.exp(), lambda v: -v * 2, a)


def _cond_shared(a: Any, p: Any) -> Any:  # the same predicate for every example
    return tracer.cond(p > 0, lambda v: v.exp(), lambda v: -v * 2, a)


def _switch(a: Any) -> Any:
    k = (a.sum() > 0).long() + (a[0] > 0).long()
    return tracer.switch(k, [lambda v: v, lambda v: v * 3, lambda v: v.sin()], a)


def _while(a: Any) -> Any:  # a different trip count per example
    def body(c: Any) -> Any:
        return c[0] * 1.5 + 0.1, c[1] + 1

    return tracer.while_loop(lambda c: c[0].abs().sum() < 20, body, (a, a.sum() * 0))


def _scan(a: Any) -> Any:
    return tracer.scan(lambda c, r: (c * r + 1, (c * r).sin()), a[0], a)


def _fori(a: Any) -> Any:
    return tracer.fori_loop(0, 3, lambda i, c: c * c.cos() + i, a)


def _fori_traced_bound(a: Any) -> Any:  # a while_loop whose bound depends on the example
    return tracer.fori_loop(0, (a.abs().sum() * 2).long(), lambda i, c: c * 0.9 + 1, a)


CONTROL = [
    (_cond, (0,)),
    (_cond_shared, (0, None)),
    (_switch, (0,)),
    (_while, (0,)),
    (_scan, (0,)),
    (_fori, (0,)),
    (_fori_traced_bound, (0,)),
]


@pytest.mark.parametrize("mode", ["eager", "traced"])
@pytest.mark.parametrize("f,axes", CONTROL, ids=[f.__name__ for f, _ in CONTROL])
def test_vmap_of_control_flow_equals_the_loop(mode: str, f: Any, axes: tuple) -> None:
    args = [tracer.tensor(X), tracer.tensor(0.5)][: len(axes)]
    got = _run(mode, tracer.vmap(f, in_axes=axes), *args)
    per = [f(*[a[i] if ax == 0 else a for a, ax in zip(args, axes)]) for i in range(5)]
    want = _stack(per)
    for g, w in zip(
        got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)
    ):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-13, atol=1e-14)


def _loss(w: Any, x: Any, y: Any) -> Any:
    return ((x @ w).tanh() - y).square().sum()


@pytest.mark.parametrize("mode", ["eager", "traced"])
def test_grad_of_vmap_equals_finite_differences(mode: str) -> None:
    rng = np.random.default_rng(1)
    W, Y = rng.normal(size=(3, 2)), rng.normal(size=(5, 2))
    xs, ys = tracer.tensor(X), tracer.tensor(Y)

    def total(w: Any) -> Any:
        return tracer.vmap(_loss, in_axes=(None, 0, 0))(w, xs, ys).sum()

    got = _run(mode, tracer.grad(total), tracer.tensor(W)).numpy()
    eps = 1e-6
    fd = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[i] = eps
        plus = float(total(tracer.tensor(W + e)))
        minus = float(total(tracer.tensor(W - e)))
        fd[i] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


def test_grad_of_vmap_eagerly_reaches_a_tensor_requiring_grad() -> None:
    w = tracer.tensor(np.random.default_rng(2).normal(size=(3, 2)), requires_grad=True)
    y = tracer.tensor(np.zeros((5, 2)))
    tracer.vmap(_loss, in_axes=(None, 0, 0))(w, tracer.tensor(X), y).sum().backward()
    w2 = w.detach().requires_grad_(True)
    _loss(w2, tracer.tensor(X), y).backward()  # the sum over examples is the batch loss
    np.testing.assert_allclose(w.grad.numpy(), w2.grad.numpy(), rtol=1e-13)


@pytest.mark.parametrize("mode", ["eager", "traced"])
def test_nested_vmap_is_an_outer_product_of_loops(mode: str) -> None:
    a, b = tracer.tensor(X), tracer.tensor(X[:4, :2])
    f = tracer.vmap(
        tracer.vmap(lambda u, v: u.sum() * v + u.max(), in_axes=(None, 0)), in_axes=(0, None)
    )
    got = _run(mode, f, a, b).numpy()
    want = np.array([[X[i].sum() * X[j, :2] + X[i].max() for j in range(4)] for i in range(5)])
    np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.parametrize("mode", ["eager", "traced"])
def test_pytree_in_axes_and_out_axes(mode: str) -> None:
    def f(p: dict, s: Any) -> Any:
        return {"y": p["w"] * s, "n": (p["b"] * s).sum()}

    p = {"w": tracer.tensor(X.T), "b": tracer.tensor(X[0])}  # w mapped along its axis 1
    got = _run(
        mode,
        tracer.vmap(f, in_axes=({"w": 1, "b": None}, 0), out_axes={"y": 1, "n": 0}),
        p,
        tracer.tensor(X[:, 0]),
    )
    np.testing.assert_allclose(got["y"].numpy(), (X * X[:, :1]).T, rtol=1e-14)
    np.testing.assert_allclose(got["n"].numpy(), X[0].sum() * X[:, 0], rtol=1e-13)


@pytest.mark.parametrize("mode", ["eager", "traced"])
def test_a_size_0_batch_gives_empty_results_of_the_right_shape(mode: str) -> None:
    f = tracer.vmap(lambda a, w: (a @ w).softmax(-1).sum(0), in_axes=(0, None))
    got = _run(mode, f, tracer.tensor(np.zeros((0, 4, 3))), tracer.tensor(np.ones((3, 2))))
    assert tuple(got.shape) == (0, 2)


def test_unbatched_results_are_broadcast_and_out_axes_none_keeps_them_whole() -> None:
    f = tracer.vmap(lambda a, c: (a * 2, c.sum()), in_axes=(0, None), out_axes=(0, None))
    y, c = f(tracer.tensor(X), tracer.tensor(X[0]))
    assert tuple(c.shape) == () and float(c) == pytest.approx(X[0].sum())
    y, c = tracer.vmap(lambda a, c: (a * 2, c.sum()), in_axes=(0, None))(
        tracer.tensor(X), tracer.tensor(X[0])
    )
    np.testing.assert_allclose(c.numpy(), np.full(5, X[0].sum()))


def test_random_numbers_are_the_same_for_every_example() -> None:
    # jax.vmap's semantics for a key that is not mapped; torch.func.vmap refuses by default
    out = tracer.vmap(lambda a: a * 0 + tracer.rand(3))(tracer.tensor(X))
    assert np.all(out.numpy() == out.numpy()[0])
    with pytest.raises(RuntimeError, match="randomness error mode"):
        tracer.func.vmap(lambda a: a + tracer.rand(3))(tracer.tensor(X))
    same = tracer.func.vmap(lambda a: a * 0 + tracer.rand(3), randomness="same")(tracer.tensor(X))
    assert np.all(same.numpy() == same.numpy()[0])


ERRORS = [
    (lambda: tracer.vmap(lambda a, b: a + b)(tracer.tensor(np.ones((3, 2))), tracer.tensor(np.ones((4, 2)))),
     ValueError, r"different sizes \(size 3: axis 0 of argument 'a' of shape \(3, 2\); size 4: axis 0 of argument 'b' of shape \(4, 2\)\)"),
    (lambda: tracer.vmap(lambda a: a, in_axes=(0, 0))(tracer.tensor(np.ones(3))),
     ValueError, "in_axes has 2 entries for 1 positional arguments"),
    (lambda: tracer.vmap(lambda a: a, in_axes=None)(tracer.tensor(np.ones(3))),
     ValueError, "maps no argument"),
    (lambda: tracer.vmap(lambda a: a, in_axes=2)(tracer.tensor(np.ones((3, 2)))),
     ValueError, "argument 'a' of shape \\(3, 2\\) is mapped along axis 2, but it has 2 dimensions"),
    (lambda: tracer.vmap(lambda a: a.sum(), out_axes=None)(tracer.tensor(np.ones((3, 2)))),
     ValueError, "out_axes is None for a result that depends on the mapped arguments"),
    (lambda: tracer.vmap(lambda a: a.sum(), out_axes=2)(tracer.tensor(np.ones((3, 2)))),
     ValueError, "out_axes 2 is out of range for a result with 1 dimensions"),
]  # fmt: skip


@pytest.mark.parametrize("call,kind,message", ERRORS)
def test_vmap_errors_name_the_argument_and_its_shape(call: Any, kind: type, message: str) -> None:
    with pytest.raises(kind, match=message):
        call()


def _picked(w: Any, x: Any, y: Any) -> Any:  # indexing by a per-example label
    return -(x @ w).log_softmax(-1)[y]


def _put(x: Any, i: Any, v: Any) -> Any:  # x[i] = v with a per-example position
    z = x * 1
    z[i] = v
    return (z * z.cos()).sum()


INDEXED = [
    (_picked, (None, 0, 0)),
    (_put, (0, 0, 0)),
    (_put, (0, 0, None)),
    (_put, (None, 0, 0)),
]


@pytest.mark.parametrize("mode", ["eager", "traced"])
@pytest.mark.parametrize("f,axes", INDEXED, ids=["picked", "put", "put_same_v", "put_same_x"])
def test_per_example_gradients_through_indexing_equal_the_loop(
    mode: str, f: Any, axes: tuple
) -> None:
    rng = np.random.default_rng(3)
    if f is _picked:
        args = [rng.normal(size=(3, 4)), X, rng.integers(0, 4, 5)]
    else:
        args = [rng.normal(size=(5, 6)), rng.integers(0, 6, 5), rng.normal(size=5)]
        args = [a[0] if ax is None else a for a, ax in zip(args, axes)]
    ts = [tracer.tensor(a) for a in args]
    got = _run(mode, tracer.vmap(tracer.grad(f), in_axes=axes), *ts).numpy()
    want = [
        tracer.grad(f)(*[t if ax is None else t[i] for t, ax in zip(ts, axes)]).numpy()
        for i in range(5)
    ]
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("mode", ["eager", "traced", "backward"])
@pytest.mark.parametrize(
    "f", [_cond, _switch, _while, _scan, _fori, _fori_traced_bound], ids=lambda f: f.__name__
)
def test_gradients_through_batched_control_flow_equal_the_loop(mode: str, f: Any) -> None:
    def total(a: Any) -> Any:
        out = f(a)
        return sum(o.sum() for o in out) if isinstance(out, tuple) else out.sum()

    want = np.stack([tracer.grad(total)(tracer.tensor(X[i])).numpy() for i in range(5)])
    if mode == "backward":  # eagerly, autograd through the batched computation
        x = tracer.tensor(X, requires_grad=True)
        tracer.vmap(total)(x).sum().backward()
        got = x.grad.numpy()
    else:
        got = _run(mode, tracer.grad(lambda a: tracer.vmap(total)(a).sum()), tracer.tensor(X))
        got = got.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_python_control_flow_on_an_example_value_says_vmap_traces_the_function() -> None:
    with pytest.raises(tracer.TraceError, match="inside tracer.vmap"):
        tracer.vmap(lambda a: a if a.sum() > 0 else -a)(tracer.tensor(X))
