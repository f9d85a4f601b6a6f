"""Reductions, scans and norms beyond the op-spec rows: the named results
(tracer.return_types), dtype rules, argument forms and errors, and the places where
PyTorch's answer is wrong and ours is checked against the mathematics instead."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import tracer
from compiler.errors import DTypeError, ShapeError

T = tracer.tensor


def grad_of(f, x: np.ndarray, v: np.ndarray | None = None) -> np.ndarray:
    t = T(x, requires_grad=True)
    out = f(t)
    out.backward(T(np.ones(out.shape, x.dtype) if v is None else v))
    return t.grad.numpy()


# ---- named results ------------------------------------------------------------------------

RESULTS = [
    ("cummax", lambda m, x: m.cummax(x, 1), ("values", "indices")),
    ("cummin", lambda m, x: m.cummin(x, 0), ("values", "indices")),
    ("max", lambda m, x: m.max(x, 1), ("values", "indices")),
    ("min", lambda m, x: m.min(x, 0, keepdim=True), ("values", "indices")),
    ("aminmax", lambda m, x: m.aminmax(x, dim=1), ("min", "max")),
]
X = np.array([[3.0, 1.0, 2.0], [1.0, 0.5, 0.0]])


@pytest.mark.parametrize("name,call,fields", RESULTS, ids=[r[0] for r in RESULTS])
def test_named_result_is_a_tuple_with_fields(name, call, fields):
    r = call(tracer, T(X, requires_grad=True))
    assert type(r).__name__ == name and type(r).__module__ == "tracer.return_types"
    assert isinstance(r, tuple) and len(r) == 2
    assert r._fields == fields
    assert getattr(r, fields[0]) is r[0] and getattr(r, fields[1]) is r[1]
    a, b = r
    assert (a, b) == (r[0], r[1])


@pytest.mark.parametrize("name,call,fields", RESULTS, ids=[r[0] for r in RESULTS])
def test_named_result_prints_as_pytorchs(name, call, fields):
    torch = pytest.importorskip("torch")
    ours = repr(call(tracer, T(X, requires_grad=True)))
    theirs = repr(call(torch, torch.tensor(X, requires_grad=True))).replace("torch.", "tracer.")
    # the same text; "tracer" is one letter longer than "torch", so a line that just fits
    # in 80 columns in PyTorch wraps here (by PyTorch's rule)
    assert ours.split() == theirs.split()


def test_named_result_is_made_from_fields_or_a_sequence_and_pickles():
    v, i = T([1.0]), T([0])
    a = tracer.return_types.cummax(v, i)
    b = tracer.return_types.cummax([v, i])
    assert tuple(a) == tuple(b) == (v, i)
    c = pickle.loads(pickle.dumps(a))
    assert type(c) is tracer.return_types.cummax
    np.testing.assert_array_equal(c.values.numpy(), [1.0])
    with pytest.raises(TypeError, match="takes 2 fields"):
        tracer.return_types.cummax(v)


def test_named_result_comes_out_of_a_traced_function():
    f = tracer.trace(lambda x: x.max(1))
    r = f(T(X))
    assert type(r) is tracer.return_types.max
    np.testing.assert_array_equal(r.values.numpy(), X.max(1))
    np.testing.assert_array_equal(r.indices.numpy(), X.argmax(1))


# ---- dtype rules (as PyTorch) ----------------------------------------------------------------

DTYPE_CASES = [
    ("sum", lambda x: x.sum()),
    ("prod", lambda x: x.prod()),
    ("cumsum", lambda x: x.cumsum(0)),
    ("cumprod", lambda x: x.cumprod(0)),
    ("nansum", lambda x: x.nansum()),
    ("all", lambda x: x.all()),
    ("any", lambda x: x.any(0)),
    ("count_nonzero", lambda x: x.count_nonzero()),
    ("argmax", lambda x: x.argmax()),
    ("cummax", lambda x: x.cummax(0).values),
    ("amax", lambda x: x.amax()),
]


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("name,f", DTYPE_CASES, ids=[c[0] for c in DTYPE_CASES])
def test_result_dtype_matches_pytorch(name, f, dtype):
    torch = pytest.importorskip("torch")
    data = np.array([1, 0, 1, 1]).astype(dtype)
    results = []
    for lib in (tracer, torch):
        try:
            results.append(str(f(lib.tensor(data)).dtype).rsplit(".", 1)[-1])
        except (RuntimeError, TypeError, ValueError):
            results.append("error")
    assert results[0] == results[1]


def test_dtype_argument_converts_before_reducing():
    x = T([1.5, 2.5])
    assert x.mean(dtype=tracer.float64).dtype == tracer.float64
    assert T([1, 2]).mean(dtype=tracer.float32).item() == 1.5
    assert x.prod(dtype=tracer.float64).dtype == tracer.float64
    assert T([True, True]).cumsum(0, dtype=tracer.float32).tolist() == [1.0, 2.0]


# ---- argument forms ----------------------------------------------------------------------------


def test_var_accepts_pytorchs_spellings_of_the_correction():
    x = T(np.arange(12.0).reshape(3, 4))
    a = np.arange(12.0).reshape(3, 4)
    cases = [
        (x.var(), a.var(ddof=1)),
        (x.var(False), a.var()),
        (x.var(0, True), a.var(0, ddof=1)),
        (x.var(0, True, True), a.var(0, ddof=1, keepdims=True)),
        (x.var(dim=1, unbiased=False), a.var(1)),
        (x.var(1, correction=0.5), a.var(1, ddof=0.5)),
        (tracer.var(x, (0, 1), keepdim=True, correction=3), a.var((0, 1), ddof=3, keepdims=True)),
        (x.std([0], correction=2), a.std(0, ddof=2)),
    ]
    for got, want in cases:
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    with pytest.raises(TypeError, match="either unbiased= or correction="):
        x.var(1, unbiased=False, correction=0)


def test_var_mean_returns_a_plain_pair():
    v, m = tracer.var_mean(T([1.0, 2.0, 4.0]), unbiased=False)
    std, m2 = tracer.std_mean(T([1.0, 2.0, 4.0]), 0, correction=0)
    np.testing.assert_allclose([v.item(), m.item()], [np.var([1, 2, 4]), 7 / 3])
    np.testing.assert_allclose([std.item(), m2.item()], [np.std([1, 2, 4]), 7 / 3])


def test_correction_of_n_or_more_gives_inf_or_nan_and_no_gradient():
    x = T([1.0, 2.0, 4.0], requires_grad=True)
    v = x.var(correction=3)
    assert math.isinf(v.item()) and math.isnan(T([1.0, 1.0]).var(correction=2).item())
    v.backward()
    assert np.isnan(x.grad.numpy()).all()


def test_any_and_all_are_reductions_over_dims():
    x = T([[0.0, 1.0], [0.0, 0.0]])
    assert x.any().item() is True and x.all().item() is False
    assert x.any(1).tolist() == [True, False]
    assert x.any(0, keepdim=True).tolist() == [[False, True]]
    assert tracer.all(T([[]]), 1).tolist() == [True]
    assert tracer.any(T([[]]), 1).tolist() == [False]
    assert tracer.trace(lambda t: t.any(1))(x).tolist() == [True, False]


@pytest.mark.parametrize(
    "call,shape",
    [
        (lambda x: x.argmax(keepdim=True), (1, 1)),
        (lambda x: x.argmin(), ()),
        (lambda x: x.argmax(1, keepdim=True), (2, 1)),
    ],
)
def test_result_shapes(call, shape):
    assert call(T(X)).shape == shape


def test_norm_dispatches_as_pytorch():
    a = np.array([[3.0, -4.0], [1.0, 2.0]])
    x = T(a)
    cases = [
        (x.norm(), np.sqrt((a**2).sum())),
        (tracer.norm(x, "fro", dim=1), np.linalg.norm(a, axis=1)),
        (tracer.linalg.norm(x, 1), np.linalg.norm(a, 1)),  # a matrix norm: 2-D, ord given
        (tracer.linalg.norm(x.reshape(-1), 1), np.abs(a).sum()),
        (tracer.linalg.norm(x, float("inf"), dim=0), np.abs(a).max(0)),
    ]
    for got, want in cases:
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


# ---- errors: the op, the shapes, what to do ---------------------------------------------------

ERRORS = [
    (lambda: T([1, 2]).norm(), DTypeError, "vector_norm: expected a floating point"),
    (lambda: T([1.0]).norm(dtype=tracer.float32), None, None),
    (
        lambda: tracer.linalg.vector_norm(T([1.0], dtype=tracer.float64), dtype=tracer.float32),
        DTypeError,
        "without narrowing",
    ),
    (lambda: T([1, 2]).mean(), DTypeError, "mean\\(\\): expected a floating point"),
    (lambda: T([1, 2]).var(), DTypeError, "need a floating point tensor"),
    (lambda: T([1, 2]).logcumsumexp(0), DTypeError, "logcumsumexp: expected a floating"),
    (lambda: T(X).prod((0, 1)), TypeError, "prod: dim must be an int"),
    (lambda: tracer.linalg.matrix_norm(T([1.0])), ShapeError, "2 or more dimensions"),
    (lambda: tracer.linalg.matrix_norm(T(X), 3), ValueError, "ord must be one of"),
    (lambda: tracer.linalg.matrix_norm(T(X), "nuc"), NotImplementedError, "singular values"),
    (lambda: T(X).norm("nuc"), NotImplementedError, "ord='nuc' is a norm of the singular"),
    (lambda: tracer.linalg.matrix_norm(T(X), dim=(0, 0)), ShapeError, "must differ"),
    (lambda: T(X).norm("fro", dim=(0, 1, 0)), ShapeError, "dim must be a 2-tuple"),
    (lambda: tracer.linalg.norm(T(np.zeros((2, 2, 2))), 2), ShapeError, "1-D or 2-D"),
    (lambda: T(np.zeros((2, 0))).aminmax(), ShapeError, "aminmax: cannot reduce"),
]


@pytest.mark.parametrize("call,error,message", [e for e in ERRORS if e[1]])
def test_errors_name_the_op_and_the_problem(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_errors_inside_a_trace_name_the_users_line_and_no_internal_class():
    def f(x):
        return x.long().logcumsumexp(0)  # the line the error must point at

    with pytest.raises(DTypeError) as info:
        tracer.trace(f)(T(X))
    text = str(info.value)
    assert "logcumsumexp: expected a floating" in text and "test_reductions.py" in text
    assert "Sym" not in text and "Operand" not in text


# ---- where PyTorch is wrong: checked against the mathematics ----------------------------------


def test_logcumsumexp_gradient_at_huge_inputs_is_exact():
    # y_1 = log(2 e^a) for x = [a, a, -a]: dy_1/dx_0 = dy_1/dx_1 = 1/2, and y_2 = y_1 in
    # floating point but dy_2/dx_2 = e^-2a / (2 e^a...) = 0; so the gradient of sum(y) is
    # [1 + 1/2 + 1/2, 1/2 + 1/2, 0] (PyTorch: [1, 1, 0], from exp(x - y) with y rounded)
    for dtype in (np.float32, np.float64):
        x = np.array([1e30, 1e30, -1e30], dtype)
        g = grad_of(lambda t: t.logcumsumexp(0), x)
        np.testing.assert_allclose(g, [2.0, 1.0, 0.0], rtol=1e-6)
        out = T(x).logcumsumexp(0).numpy()
        np.testing.assert_array_equal(out, np.logaddexp.accumulate(x))


def test_logcumsumexp_gradient_of_a_leading_minus_inf_is_the_identitys():
    # y_0 = x_0 whatever x_0 is, and later y_i do not depend on a -inf x_0 (PyTorch: nan)
    g = grad_of(lambda t: t.logcumsumexp(0), np.array([-np.inf, 1.0, 2.0]), np.ones(3))
    e = np.exp(1.0 - np.logaddexp(1.0, 2.0))
    np.testing.assert_allclose(g, [1.0, 1 + e, 1 - e], rtol=1e-12)


def test_logcumsumexp_float32_gradient_agrees_with_float64_at_large_magnitudes():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (6, 3)) * 300
    v = rng.standard_normal((6, 3))
    g64 = grad_of(lambda t: t.logcumsumexp(0), x, v)
    g32 = grad_of(lambda t: t.logcumsumexp(0), x.astype(np.float32), v.astype(np.float32))
    np.testing.assert_allclose(g32, g64, rtol=2e-6, atol=1e-6 * np.abs(g64).max())


@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_two_norm_does_not_overflow_or_underflow_in_float32(scale):
    # the true norm of [3s, 4s] is 5s, representable in float32 (PyTorch: inf or 0)
    x = np.array([3.0, 4.0], np.float32) * np.float32(scale)
    n = T(x).norm()
    np.testing.assert_allclose(n.item(), 5 * scale, rtol=1e-6)
    np.testing.assert_allclose(grad_of(lambda t: t.norm(), x), [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(T(x).norm(3).item(), scale * (27 + 64) ** (1 / 3), rtol=1e-6)


def test_norm_gradient_at_the_zero_vector_is_zero_for_every_p():
    for p in (2, 1, 3.5, 0.5, -1.0, float("inf"), float("-inf")):
        g = grad_of(lambda t, p=p: t.norm(p), np.zeros(3))
        np.testing.assert_array_equal(g, np.zeros(3), err_msg=f"p={p}")


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
def test_prod_hessian_is_exact_with_zeros(x):
    # d2 prod / dx_i dx_j = product of the elements other than i and j (i != j)
    a = np.array(x)
    t = T(a, requires_grad=True)
    (g,) = tracer.autograd.grad(t.prod(), t, create_graph=True)
    hessian = np.stack(
        [tracer.autograd.grad(g[i], t, retain_graph=True)[0].numpy() for i in range(3)]
    )
    want = np.array(
        [[0 if i == j else np.prod(np.delete(a, [i, j])) for j in range(3)] for i in range(3)]
    )
    np.testing.assert_array_equal(hessian, want)
