"""Issue 10: inputs real users hit that gave silently wrong answers (or noise).

Each section is one kind of fault, with the example that found it and its siblings
(eager, traced, compiled; float32 and float64; the other ops that share the
pattern). Expected values are computed independently: analytically, by float64
finite differences, or by PyTorch when it is installed.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tracer

INF, NAN = math.inf, math.nan


def quiet_result(fn):
    """fn() with every warning an error: a numpy RuntimeWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn()


# ---- numpy's floating-point warnings do not leak out of eager ops -----------------

WARNING_CASES = [
    # (name, eager computation, expected value)
    ("log(0)", lambda: tracer.tensor([0.0, 1.0]).log(), [-INF, 0.0]),
    ("log1p(-1)", lambda: tracer.tensor([-1.0]).log1p(), [-INF]),
    ("1/0", lambda: tracer.tensor([1.0, -1.0]) / 0, [INF, -INF]),
    ("0/0", lambda: tracer.zeros(2) / tracer.zeros(2), [NAN, NAN]),
    ("2 / x at 0", lambda: 2 / tracer.zeros(1), [INF]),
    ("int / int at 0", lambda: tracer.tensor([1, 0]) / tracer.tensor([0, 0]), [INF, NAN]),
    ("exp overflow", lambda: tracer.tensor([1000.0]).exp(), [INF]),
    ("sqrt(-1)", lambda: tracer.tensor([-1.0]).sqrt(), [NAN]),
    ("(-1) ** 0.5", lambda: tracer.tensor([-1.0]) ** 0.5, [NAN]),
    ("mul overflow", lambda: tracer.tensor([1e30]) * 1e30, [INF]),
    ("inf - inf", lambda: tracer.tensor([INF]) - tracer.tensor([INF]), [NAN]),
    ("sin(inf)", lambda: tracer.tensor([INF]).sin(), [NAN]),
    ("float32 sum overflow", lambda: tracer.tensor([3e38, 3e38]).sum(), INF),
    (
        "matmul inf * 0",
        lambda: tracer.tensor([[INF, 1.0]]) @ tracer.tensor([[0.0], [1.0]]),
        [[NAN]],
    ),
    (
        "float64 -> float32 overflow",
        lambda: tracer.tensor([1e300], dtype=tracer.float64).float(),
        [INF],
    ),
    ("tensor(1e300, float32)", lambda: tracer.tensor([1e300], dtype=tracer.float32), [INF]),
    ("logsumexp of -inf", lambda: tracer.tensor([-INF, -INF]).logsumexp(0), -INF),
    ("in-place overflow", lambda: tracer.tensor([1e30]).mul_(1e30), [INF]),
    ("fill_ overflow", lambda: tracer.zeros(1).fill_(1e300), [INF]),
]


@pytest.mark.parametrize("name,fn,expected", WARNING_CASES, ids=[c[0] for c in WARNING_CASES])
def test_eager_ops_give_ieee_results_without_numpy_warnings(name, fn, expected):
    out = quiet_result(fn)
    np.testing.assert_array_equal(out.detach().numpy(), np.asarray(expected, out.dtype))


def test_backward_through_infinities_is_silent_and_right():
    x = tracer.tensor([0.0, 4.0], requires_grad=True)
    quiet_result(lambda: x.sqrt().sum().backward())  # d sqrt(x) = 1 / (2 sqrt x)
    np.testing.assert_array_equal(x.grad.numpy(), [INF, 0.25])
    y = tracer.tensor([3e38, 3e38], requires_grad=True)
    quiet_result(lambda: ((y * 2).sum() + (y * 2).sum()).backward())  # grads add: 2 + 2
    np.testing.assert_array_equal(y.grad.numpy(), [4.0, 4.0])
    z = tracer.tensor([3e38], requires_grad=True)
    z.grad = tracer.tensor([3e38])
    quiet_result(lambda: (z * 3e38).sum().backward())  # accumulating overflows to inf
    np.testing.assert_array_equal(z.grad.numpy(), [INF])


def test_traced_functions_on_the_interpreter_are_silent_too(monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    f = tracer.trace(lambda x: (x.log() / x).sum())
    assert quiet_result(lambda: f(tracer.zeros(2))).item() == -INF


def test_the_users_own_numpy_code_still_warns_and_keeps_its_settings():
    tracer.tensor([0.0]).log()  # our op ignores the error ...
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        np.log(np.zeros(1))  # ... the user's numpy call still warns
    with np.errstate(divide="raise"):
        assert tracer.tensor([0.0]).log().item() == -INF  # ours: silent, as PyTorch
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))
    assert np.geterr()["divide"] == "warn"


# ---- backends: traced code on the interpreter and compiled ---------------------------


@pytest.fixture(params=["interpreter", "compiled"])
def backend(request, monkeypatch):
    """Run traced functions on the reference interpreter, then through numba."""
    if request.param == "interpreter":
        monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    else:
        monkeypatch.delenv("TRACER_DISABLE_JIT", raising=False)
    return request.param


DTYPES = [tracer.float32, tracer.float64]


def grads_of(fn, *values, dtype):
    """Eager: fn(*leaves) -> scalar loss; the leaves' gradients."""
    leaves = [tracer.tensor(v, dtype=dtype, requires_grad=True) for v in values]
    fn(*leaves).backward()
    return [leaf.grad.numpy() for leaf in leaves]


# ---- kind 3: a scatter with repeated indices: the last write wins, and only it
# receives a gradient -----------------------------------------------------------------

W = [1.0, 10.0, 100.0]


def issue_example(v):
    x = tracer.zeros(3, dtype=v.dtype) * v[0]
    x[[0, 0]] = v
    return x.sum()


# The buffers are clones: inside a trace, a clone of a concrete tensor is a traced
# value, which can be updated in place.


def scalar_broadcast(s):
    x = tracer.zeros(3, dtype=s.dtype).clone()
    x[[1, 1, 2]] = s  # x = [0, s, s]
    return (x * tracer.tensor(W, dtype=s.dtype)).sum()


def slice_and_array(v):
    x = tracer.zeros(2, 3, dtype=v.dtype).clone()
    x[:, [0, 2, 0]] = v  # per row: x[r, 0] = v[r, 2] (the later write), x[r, 2] = v[r, 1]
    return (x * tracer.arange(6, dtype=v.dtype).reshape(2, 3)).sum()


def two_arrays(v):
    x = tracer.zeros(2, 2, dtype=v.dtype).clone()
    x[[0, 0, 1], [1, 1, 0]] = v  # (0, 1) written twice: v[1] stays
    return (x * tracer.tensor([[1.0, 10.0], [100.0, 1000.0]], dtype=v.dtype)).sum()


def negative_alias(v):
    x = tracer.zeros(3, dtype=v.dtype).clone()
    x[[0, -3]] = v  # -3 is 0 again
    return (x * tracer.tensor(W, dtype=v.dtype)).sum()


def base_requires_grad(p, v):
    x = p * 1
    x[[2, 2]] = v  # x = [p0, p1, v1]
    return (x * tracer.tensor(W, dtype=p.dtype)).sum()


SCATTERS = [
    ("the issue's example", issue_example, ([1.0, 2.0],), [[0.0, 1.0]]),
    ("a broadcast scalar", scalar_broadcast, (3.0,), [110.0]),
    ("slice and array", slice_and_array, (np.ones((2, 3)),), [[[0, 2, 0], [0, 5, 3]]]),
    ("two index arrays", two_arrays, ([1.0, 2.0, 3.0],), [[0.0, 10.0, 100.0]]),
    ("a negative index aliasing", negative_alias, ([1.0, 2.0],), [[0.0, 1.0]]),
    (
        "the overwritten base",
        base_requires_grad,
        ([1.0, 2.0, 3.0], [4.0, 5.0]),
        [[1, 10, 0], [0, 100]],
    ),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,args,expected", SCATTERS, ids=[c[0] for c in SCATTERS])
def test_duplicate_index_writes_differentiate_the_last_write_eagerly(
    name, fn, args, expected, dtype
):
    for got, want in zip(grads_of(fn, *args, dtype=dtype), expected):
        np.testing.assert_array_equal(got, np.asarray(want, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,args,expected", SCATTERS, ids=[c[0] for c in SCATTERS])
def test_duplicate_index_writes_differentiate_the_last_write_traced(
    name, fn, args, expected, dtype, monkeypatch
):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    tensors = [tracer.tensor(a, dtype=dtype) for a in args]
    grads = tracer.grad(fn, argnums=tuple(range(len(args))))(*tensors)
    for got, want in zip(grads, expected):
        np.testing.assert_array_equal(got.numpy(), np.asarray(want, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_duplicate_writes_from_an_index_tensor_argument_compiled(backend, dtype):
    # the indices are an input: which write wins is only known when the kernel runs
    def f(v, idx):
        x = tracer.zeros(4, dtype=v.dtype).clone()
        x[idx] = v
        return (x * tracer.tensor([1.0, 10.0, 100.0, 1000.0], dtype=v.dtype)).sum()

    vg = tracer.value_and_grad(f)
    v = tracer.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=dtype)
    value, g = vg(v, tracer.tensor([3, 0, 3, 1, 0]))  # x = [5, 4, 0, 3]
    assert value.item() == 5 + 40 + 3000
    np.testing.assert_array_equal(g.numpy(), [0, 0, 1000, 10, 1])
    value, g = vg(v, tracer.tensor([2, 2, 2, 2, 2]))  # same kernel, other duplicates
    assert value.item() == 500
    np.testing.assert_array_equal(g.numpy(), [0, 0, 0, 0, 100])


def test_a_nan_gradient_of_the_overwritten_write_does_not_reach_the_value():
    v = tracer.tensor([1.0, 2.0], requires_grad=True)
    x = tracer.zeros(2)
    x[[0, 0]] = v
    (x * tracer.tensor([NAN, 1.0])).sum().backward()  # the gradient at x[0] is nan
    np.testing.assert_array_equal(v.grad.numpy(), [0.0, NAN])  # v[0] was overwritten


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_last_duplicate_write_wins_in_the_forward(dtype):
    n = 1000
    values = np.arange(n, dtype=dtype)
    plain = tracer.zeros(3, dtype=dtype)  # no gradient: numpy assignment, made explicit
    plain[[0] * n] = values
    recorded = tracer.zeros(3, dtype=dtype, requires_grad=True) * 1  # the index_put op
    recorded[tracer.tensor([0] * n)] = tracer.tensor(values)
    two_d = tracer.zeros(2, 2, dtype=dtype)
    two_d[[1, 1, 0, 1], [0, 0, 1, 0]] = tracer.tensor([1.0, 2.0, 3.0, 4.0], dtype=dtype)
    assert plain.tolist() == [n - 1, 0, 0]
    assert recorded.tolist() == [n - 1, 0, 0]
    assert two_d.tolist() == [[0, 3], [4, 0]]


def test_the_last_duplicate_write_wins_compiled(backend):
    f = tracer.trace(lambda v, idx: _put(tracer.zeros(3, dtype=v.dtype).clone(), idx, v))
    v = tracer.arange(200.0)
    assert f(v, tracer.tensor([1] * 200)).tolist() == [0, 199, 0]


def _put(x, idx, v):
    x[idx] = v
    return x


@pytest.mark.parametrize(
    "update",
    [
        lambda buf, v: buf.__setitem__([0, 1], v),
        lambda buf, v: buf.copy_(v),
        lambda buf, v: buf.add_(v),
    ],
    ids=["setitem", "copy_", "add_"],
)
def test_updating_a_concrete_tensor_with_a_traced_value_matches_eager_at_every_call(update):
    # once refused; it used to be silently frozen at trace time in other libraries' tracers
    eager_buf, traced_buf = tracer.zeros(2), tracer.zeros(2)

    def step(buf, v):
        update(buf, v)
        return buf * 1

    f = tracer.trace(lambda v: step(traced_buf, v))
    for v in ([1.0, 2.0], [3.0, -1.0], [0.5, 0.25]):
        want = step(eager_buf, tracer.tensor(v))
        got = f(tracer.tensor(v))
        assert got.tolist() == want.tolist()
        assert traced_buf.tolist() == eager_buf.tolist()
    assert f.cache_info().misses == 1


# ---- kind 4: in-place ops on a tensor with history keep its history -----------------

X = [1.0, 2.0, 3.0]
ONES = [1.0, 1.0, 1.0]


def tensor_args(*values, dtype=tracer.float32):
    return [tracer.tensor(v, dtype=dtype) for v in values]


# (name, update of y = x * 2 with x = [1, 2, 3] (lib: tracer, or torch as the oracle),
# its grad_fn, d sum(y) / dx)
INPLACE = [
    ("zero_", lambda y, lib: y.zero_(), "ZeroBackward0", [0, 0, 0]),
    ("fill_ a number", lambda y, lib: y.fill_(3.0), "FillBackward2", [0, 0, 0]),
    ("fill_ a 0-d tensor", lambda y, lib: y.fill_(lib.tensor(3.0)), "FillBackward3", [0, 0, 0]),
    ("copy_", lambda y, lib: y.copy_(lib.tensor([7.0, 8.0, 9.0])), "CopyBackwards", [0, 0, 0]),
    ("copy_ an int", lambda y, lib: y.copy_(lib.tensor(4)), "CopyBackwards", [0, 0, 0]),
    ("add_", lambda y, lib: y.add_(1), "AddBackward0", [2, 2, 2]),
    ("+=", lambda y, lib: y.__iadd__(lib.tensor(ONES)), "AddBackward0", [2, 2, 2]),
    ("sub_ alpha", lambda y, lib: y.sub_(lib.tensor(ONES), alpha=2), "SubBackward0", [2, 2, 2]),
    ("mul_", lambda y, lib: y.mul_(3), "MulBackward0", [6, 6, 6]),
    ("div_", lambda y, lib: y.div_(2), "DivBackward0", [1, 1, 1]),
    ("pow_", lambda y, lib: y.pow_(2), "PowBackward0", [8, 16, 24]),  # d (2x)^2 = 8x
    ("clamp_", lambda y, lib: y.clamp_(0, 5), "ClampBackward1", [2, 2, 0]),  # y = 2, 4, 6
    ("clip_", lambda y, lib: y.clip_(max=3), "ClampBackward1", [2, 0, 0]),
    ("neg_", lambda y, lib: y.neg_(), "NegBackward0", [-2, -2, -2]),
    ("relu_", lambda y, lib: y.relu_(), "ReluBackward0", [2, 2, 2]),
    ("sqrt_", lambda y, lib: y.sqrt_(), "SqrtBackward0", [1 / math.sqrt(2 * v) for v in X]),
    ("setitem an int", lambda y, lib: y.__setitem__(0, 5.0), "CopySlices", [0, 2, 2]),
    ("setitem a slice", lambda y, lib: y.__setitem__(slice(1, None), 0.0), "CopySlices", [2, 0, 0]),
    (
        "setitem a list",
        lambda y, lib: y.__setitem__([0, 2], lib.tensor([5.0, 6.0])),
        "IndexPutBackward0",
        [0, 2, 0],
    ),
    (
        "setitem a mask",
        lambda y, lib: y.__setitem__(lib.tensor([True, False, True]), 0.0),
        "IndexPutBackward0",
        [0, 2, 0],
    ),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,update,node,grad", INPLACE, ids=[c[0] for c in INPLACE])
def test_in_place_ops_on_a_non_leaf_keep_its_history(name, update, node, grad, dtype):
    x = tracer.tensor(X, dtype=dtype, requires_grad=True)
    y = x * 2
    assert update(y, tracer) in (y, None)  # the op returns the tensor (setitem: nothing)
    assert y.grad_fn.name() == node and not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.asarray(grad, dtype), rtol=1e-6)


@pytest.mark.parametrize("name,update,node,grad", INPLACE, ids=[c[0] for c in INPLACE])
def test_in_place_ops_match_pytorch(name, update, node, grad):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tracer, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * 2
        update(y, lib)
        y.sum().backward()
        results.append(
            (y.grad_fn.name().removeprefix("torch::autograd::"), y.tolist(), x.grad.tolist())
        )
    assert results[0] == pytest.approx(results[1])


def test_fill_with_a_0d_tensor_sends_it_the_sum_of_the_gradient():
    x = tracer.tensor(X, requires_grad=True)
    v = tracer.tensor(4.0, dtype=tracer.float64, requires_grad=True)
    y = x * 2
    y.fill_(v)
    (y * tracer.tensor(W)).sum().backward()
    assert y.tolist() == [4.0, 4.0, 4.0] and y.dtype == tracer.float32
    assert (v.grad.item(), v.grad.dtype) == (111.0, tracer.float64)
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_copy_into_a_leaf_sends_the_gradient_to_the_broadcast_source():
    y = tracer.zeros(2, 3)
    src = tracer.tensor([1.0, 2.0, 3.0], dtype=tracer.float64, requires_grad=True)
    y.copy_(src)
    assert (y.grad_fn.name(), y.is_leaf) == ("CopyBackwards", False)
    (y * tracer.arange(6.0).reshape(2, 3)).sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [3.0, 5.0, 7.0])  # column sums


def test_a_nan_gradient_does_not_reach_a_value_that_was_overwritten():
    x = tracer.tensor(X, requires_grad=True)
    y = x * 2
    y.zero_()
    (y * NAN).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_an_update_under_no_grad_keeps_the_recorded_history():
    # as PyTorch: the update is not recorded, y keeps MulBackward0
    x = tracer.tensor(X, requires_grad=True)
    y = x * 2
    with tracer.no_grad():
        y.zero_()
    assert y.grad_fn.name() == "MulBackward0" and y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_fill_refuses_a_tensor_with_dimensions():
    with pytest.raises(tracer.ShapeError, match="0-dimension value tensor, but got one of shape"):
        tracer.zeros(3).fill_(tracer.tensor([1.0]))


# a view taken before a recorded in-place update of its base: its node is made again
# from the base's new one, as in PyTorch. (name, update of y = x * 2, d sum(y[0:2]) / dx)
STALE_VIEWS = [
    ("mul_", lambda y: y.mul_(3), [6.0, 6.0, 0.0]),
    ("zero_", lambda y: y.zero_(), [0.0, 0.0, 0.0]),
    ("setitem inside the view", lambda y: y.__setitem__(0, 0.0), [0.0, 2.0, 0.0]),
    ("setitem outside the view", lambda y: y.__setitem__(2, 0.0), [2.0, 2.0, 0.0]),
]


@pytest.mark.parametrize("name,update,grad", STALE_VIEWS, ids=[c[0] for c in STALE_VIEWS])
def test_a_view_taken_before_an_in_place_update_of_its_base_sees_it(name, update, grad):
    x = tracer.tensor(X, requires_grad=True)
    y = x * 2
    view = y[0:2]
    twice = view.reshape(1, 2)  # a view of a view
    update(y)
    view.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), grad)
    x.grad = None
    twice.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), grad)


def test_views_kept_while_a_buffer_is_filled_get_their_rows_gradients():
    w = tracer.tensor([1.0, 2.0], requires_grad=True)
    buf = tracer.zeros(3, 2)
    rows = []
    for t in range(3):
        buf[t] = w * (t + 1)
        rows.append(buf[t])  # later writes go to other rows
    sum((row * (i + 1)).sum() for i, row in enumerate(rows)).backward()
    np.testing.assert_array_equal(w.grad.numpy(), [14.0, 14.0])  # 1*1 + 2*2 + 3*3


def test_a_view_of_a_buffer_without_grad_follows_a_recorded_write():
    w = tracer.tensor([1.0, 2.0], requires_grad=True)
    buf = tracer.zeros(4)
    row = buf[1:3]  # taken before the buffer depended on anything
    buf[2:] = w
    assert row.requires_grad and row.tolist() == [0.0, 1.0]
    (row * 10).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [10.0, 0.0])


def test_stale_views_match_pytorch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tracer, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * 2
        v = y[0:2]
        y.mul_(3)
        y[1] = 7.0
        (v * lib.tensor([1.0, 10.0])).sum().backward()
        results.append((v.tolist(), x.grad.tolist()))
    assert results[0] == results[1]


def test_a_view_made_under_no_grad_then_its_base_updated_with_grad_is_refused():
    x = tracer.tensor(X, requires_grad=True)
    y = x * 2
    with tracer.no_grad():
        view = y[0:2]
    y.mul_(3)
    with pytest.raises(tracer.AutogradError, match="made under no_grad()"):
        view.sum()


def test_in_place_updates_without_recording_leave_views_usable():
    p = tracer.tensor(X, requires_grad=True)
    w = p[0:2]
    with tracer.no_grad():
        p.sub_(1.0)  # an optimizer step
    (w * 3).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, 3.0, 0.0])


# traced: in-place updates of traced values rebind them to the result. With x = [1, 2,
# 3], v = 4 and loss = sum(W * y): (name, y, d loss / dx, d loss / dv)
TRACED_INPLACE = [
    ("zero_", lambda x, v: (x * 2).zero_(), [0, 0, 0], 0),
    ("fill_ 0-d", lambda x, v: (x * 2).fill_(v), [0, 0, 0], 111),  # y = [v, v, v]
    ("copy_", lambda x, v: (x * 2).copy_(v * x), [4, 40, 400], 321),  # y = v x
    ("setitem", lambda x, v: _set(x * 2, [0, 0], v), [0, 20, 200], 1),  # y = [v, 2x1, 2x2]
    ("clamp_", lambda x, v: (x * 2).clamp_(0, 5), [2, 20, 0], 0),  # y = [2, 4, 5]
    ("add_", lambda x, v: (x * 2).add_(v), [2, 20, 200], 111),
]


def _set(y, key, value):
    y[key] = value
    return y


@pytest.mark.parametrize("name,update,gx,gv", TRACED_INPLACE, ids=[c[0] for c in TRACED_INPLACE])
def test_in_place_ops_differentiate_the_same_eagerly_and_traced(name, update, gx, gv, monkeypatch):
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")

    def loss(x, v):
        return (update(x, v) * tracer.tensor(W)).sum()

    x, v = tracer.tensor(X, requires_grad=True), tracer.tensor(4.0, requires_grad=True)
    loss(x, v).backward()
    traced_gx, traced_gv = tracer.grad(loss, argnums=(0, 1))(x.detach(), v.detach())
    for got_x, got_v in ((x.grad, v.grad), (traced_gx, traced_gv)):
        np.testing.assert_array_equal(got_x.numpy(), np.asarray(gx, np.float32))
        assert (0.0 if got_v is None else got_v.item()) == gv


def test_in_place_updates_in_compiled_code_differentiate_as_eagerly(backend):
    def loss(x, v):
        y = x * 2
        y[[0, 0]] = v  # y = [v, 4, 6]
        z = x * 3
        z.zero_()
        w = x * 1
        w.fill_(v)  # w = [v, v, v]
        return (y * tracer.tensor(W)).sum() + z.sum() + (w * tracer.tensor(W)).sum()

    value, (gx, gv) = tracer.value_and_grad(loss, argnums=(0, 1))(
        tracer.tensor(X), tracer.tensor(4.0)
    )
    assert value.item() == 4 + 40 + 600 + 4 * 111
    np.testing.assert_array_equal(gx.numpy(), [0.0, 20.0, 200.0])
    assert gv.item() == 1 + 111
