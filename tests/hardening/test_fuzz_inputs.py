"""Bad inputs, fuzzed: eager constructors and ops given random shapes, dtypes, ragged
and non-numeric data, nan/inf, empty tensors, huge and tiny values, and operands of
the wrong type either give the right answer or raise one of the library's errors.

"One of the library's errors" means: a `tracer.TracerError`, or a TypeError,
ValueError or IndexError raised by a `raise` statement in the library (or by
Python's operator dispatch in the caller), with a message. A numpy error, or a
Python error raised by a library line that is not a `raise` (`int("a")` deep in a
helper), is an internal traceback leaking out, and fails the test. An in-place op
that raises must leave its tensor unchanged. Profiles: see conftest.py.
"""

from __future__ import annotations

import linecache
import math
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import compiler
import runtime
import tracer
from tracer import TracerError

LIBRARY = tuple(
    os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (tracer, compiler, runtime)
)
DTYPES = ["float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool"]


def assert_library_error(e: BaseException) -> None:
    if isinstance(e, MemoryError):  # numpy's "Unable to allocate 7 EiB for an array ..."
        assert "Unable to allocate" in str(e), e
        return
    assert isinstance(e, (TracerError, TypeError, ValueError, IndexError)), (
        f"{type(e).__name__} leaked out: {e}"
    )
    tb = e.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename, lineno = tb.tb_frame.f_code.co_filename, tb.tb_lineno
    line = linecache.getline(filename, lineno).strip()
    if filename.startswith(LIBRARY):
        assert line.startswith("raise"), (
            f"{type(e).__name__} from {filename}:{lineno} ({line!r}) is not the library's: {e}"
        )
    else:
        assert filename == __file__, f"{type(e).__name__} leaked from {filename}:{lineno}: {e}"
    assert len(str(e)) >= 15, f"{type(e).__name__} with a bare message: {e!r}"


def attempt(fn):
    """fn()'s result, or None after checking that what it raised is the library's."""
    try:
        with np.errstate(all="ignore"):
            return fn()
    except Exception as e:  # noqa: BLE001 - sorted by assert_library_error
        assert_library_error(e)
        return None


def state(t: tracer.Tensor):
    return (t._data.copy(), t._version[0], t.grad_fn)


def same_state(a, b) -> bool:
    return np.array_equal(a[0], b[0], equal_nan=a[0].dtype.kind == "f") and a[1:] == b[1:]


def assert_values(got: tracer.Tensor, expected: np.ndarray) -> None:
    expected = np.asarray(expected)
    assert got.shape == expected.shape
    if got.dtype.kind == "f":
        np.testing.assert_allclose(
            got.numpy().astype(np.float64),
            expected.astype(got.dtype).astype(np.float64),
            rtol=2e-3 if got.dtype == np.float16 else 1e-6,
            atol=0,
            equal_nan=True,
        )
    else:
        np.testing.assert_array_equal(got.numpy(), expected.astype(got.dtype))


# ---- strategies -------------------------------------------------------------------------

special_floats = st.sampled_from(
    [
        0.0,
        -0.0,
        1.0,
        -1.0,
        math.nan,
        math.inf,
        -math.inf,
        1e-45,
        5e-324,
        1e-300,
        3.4e38,
        1e308,
        -1e308,
        0.5,
    ]
)
floats = st.one_of(special_floats, st.floats(allow_nan=True, allow_infinity=True))
ints = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([2**31, -(2**31) - 1, 2**63 - 1, -(2**63), 2**64, 10**30, 255, 256, -129]),
)
numbers = st.one_of(floats, ints, st.booleans())
junk = st.one_of(
    st.none(),
    st.text(max_size=2),
    st.complex_numbers(max_magnitude=3),
    st.just({}),
    st.just(object()),
    st.just(b"x"),
    st.just(range(2)),
)
leaves = st.one_of(numbers, numbers, numbers, junk)
nested = st.recursive(leaves, lambda kids: st.lists(kids, max_size=3), max_leaves=12)
shapes = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)
dtype_args = st.one_of(
    st.none(),
    st.sampled_from(DTYPES + ["complex64", "bogus", "float128"]),
    st.sampled_from([float, int, bool, np.float32, np.int16]),
)


@st.composite
def tensors(draw, dtype=None, shape=None):
    shape = draw(shapes) if shape is None else shape
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    n = int(np.prod(shape, dtype=np.int64))
    values = draw(
        st.lists(
            floats if np.dtype(dtype).kind == "f" else st.integers(-3, 3), min_size=n, max_size=n
        )
    )
    with np.errstate(all="ignore"):
        data = np.array(values, dtype=np.float64 if np.dtype(dtype).kind == "f" else np.int64)
        return tracer.from_numpy(data.astype(dtype).reshape(shape))


def operands(draw_from_shape=True):
    """What a user might pass as the second operand of an op."""
    return st.one_of(
        tensors(),
        tensors(),
        numbers,
        junk,
        st.lists(numbers, max_size=3),
        nested,
        st.builds(lambda d: np.array(d, dtype=object), st.lists(ints, max_size=2)),
        st.builds(lambda s: np.array(s), st.lists(st.text(max_size=1), max_size=2)),
    )


# ---- constructors -----------------------------------------------------------------------


def _expected_dtype(data) -> np.dtype:
    kinds = set()
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            stack.extend(x)
        else:
            kinds.add("b" if isinstance(x, bool) else "i" if isinstance(x, int) else "f")
    return np.dtype("float32" if "f" in kinds or not kinds else "int64" if "i" in kinds else "bool")


@given(nested, dtype_args, st.booleans())
def test_tensor_from_random_nested_data(data, dtype, requires_grad):
    t = attempt(lambda: tracer.tensor(data, dtype=dtype, requires_grad=requires_grad))
    if t is None:
        return
    if dtype is None:
        assert t.dtype == _expected_dtype(data)
    with np.errstate(all="ignore"):
        expected = np.array(data, dtype=t.dtype)
    assert_values(t.detach(), expected)
    assert t.requires_grad == requires_grad


@given(
    st.one_of(
        st.builds(np.array, st.lists(numbers, max_size=3)),
        st.builds(
            lambda v, d: np.array(v).astype(d),
            st.lists(st.integers(-3, 300), max_size=3),
            st.sampled_from(
                ["uint16", "uint32", "uint64", "complex64", "longdouble", "object", "U1", "int16"]
            ),
        ),
    ),
    dtype_args,
)
def test_tensor_from_random_numpy_arrays(array, dtype):
    t = attempt(lambda: tracer.tensor(array, dtype=dtype))
    if t is not None:
        with np.errstate(all="ignore"):
            assert_values(t, array.astype(t.dtype))


sizes = st.one_of(
    st.integers(-2, 4),
    st.floats(-1, 3),
    st.none(),
    st.text(max_size=1),
    st.booleans(),
    st.just(np.int64(2)),
    st.just(tracer.tensor(2)),
    st.just(tracer.tensor(2.0)),
)


@given(
    st.sampled_from(["zeros", "ones", "empty", "rand", "randn"]),
    st.one_of(
        st.lists(sizes, max_size=3),
        st.lists(sizes, max_size=3).map(lambda s: [s]),
        st.lists(sizes, max_size=3).map(lambda s: [tuple(s)]),
    ),
    dtype_args,
    st.booleans(),
)
def test_creation_functions_with_random_sizes(name, size, dtype, requires_grad):
    t = attempt(lambda: getattr(tracer, name)(*size, dtype=dtype, requires_grad=requires_grad))
    if t is None:
        return
    flat = size[0] if len(size) == 1 and isinstance(size[0], (list, tuple)) else size
    assert t.shape == tuple(int(s) for s in flat)
    if name in ("zeros", "ones"):
        assert (t.numpy() if not t.requires_grad else t.detach().numpy()).tolist() == np.full(
            t.shape, name == "ones", t.dtype
        ).tolist()


# Sizes stay far below what would allocate gigabytes (arange(2**31) would succeed);
# the huge ones are refused before allocating anything.
size_numbers = st.one_of(
    st.integers(-3, 300),
    st.sampled_from([-2.5, -0.5, 0.25, 1.5, 7.0]),
    st.booleans(),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 2**63 - 1, 2**64, 10**30, 3.4e38]),
)


@given(st.lists(st.one_of(size_numbers, junk), min_size=1, max_size=3), dtype_args)
def test_arange_full_eye_linspace_with_random_arguments(args, dtype):
    t = attempt(lambda: tracer.arange(*args, dtype=dtype))
    if t is not None and dtype is None and all(type(a) is int for a in args):
        assert t.tolist() == list(range(*args))
    attempt(lambda: tracer.full((2,), args[0], dtype=dtype))
    attempt(lambda: tracer.full_like(tracer.ones(2), args[0], dtype=dtype))
    attempt(lambda: tracer.eye(*args[:2], dtype=dtype))
    attempt(lambda: tracer.linspace(*(args + [0, 0])[:3], dtype=dtype))
    attempt(lambda: tracer.randint(*args[:2], size=(2,)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: tracer.arange(2**63 - 1),
        lambda: tracer.arange(10**30),
        lambda: tracer.arange(-1e308, 1e308),
        lambda: tracer.linspace(0, 1, 2**63 - 1),
        lambda: tracer.eye(2**31),
        lambda: tracer.zeros(2**40, 2**40),
    ],
    ids=["arange_int64_max", "arange_1e30", "arange_float_range", "linspace", "eye", "zeros"],
)
def test_sizes_no_array_can_hold_are_refused(make):
    # numpy returned an empty array for arange(2**63 - 1), or raised obscure errors
    with pytest.raises(ValueError, match="more elements than an array can hold"):
        make()


# ---- elementwise ops ------------------------------------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a**b, np.power),
    "maximum": (tracer.maximum, np.maximum),
    "minimum": (tracer.minimum, np.minimum),
    "lt": (lambda a, b: a < b, np.less),
    "eq": (lambda a, b: a == b, np.equal),
    "and": (lambda a, b: a & b, np.logical_and),
    "radd": (lambda a, b: b + a, None),
    "rsub": (lambda a, b: b - a, None),
    "rdiv": (lambda a, b: b / a, None),
    "rpow": (lambda a, b: b**a, None),
    "where": (lambda a, b: tracer.where(a > 0, a, b), None),
    "matmul": (lambda a, b: a @ b, np.matmul),
}


@given(st.sampled_from(sorted(BINARY)), tensors(), operands())
def test_binary_ops_with_random_operands(name, a, b):
    fn, ref = BINARY[name]
    out = attempt(lambda: fn(a, b))
    if out is None or ref is None or not isinstance(b, (tracer.Tensor, int, float)):
        return
    if name == "matmul" and isinstance(b, tracer.Tensor):
        assert_values(out, np.matmul(a.numpy(), b.numpy()))
    elif isinstance(b, tracer.Tensor) and name not in ("lt", "eq", "and"):
        # the reference in the result's dtype: the values both libraries must agree on
        with np.errstate(all="ignore"):
            expected = ref(a.numpy().astype(out.dtype), b.numpy().astype(out.dtype))
        assert_values(out, expected)
    else:
        assert out.shape == np.broadcast_shapes(a.shape, np.shape(b))


UNARY = [
    "exp",
    "log",
    "log1p",
    "sqrt",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "abs",
    "neg",
    "sign",
    "square",
    "__neg__",
    "__invert__",
    "float",
    "long",
    "bool",
]


@given(st.sampled_from(UNARY), tensors())
def test_unary_ops_on_random_tensors(name, x):
    out = attempt(lambda: getattr(x, name)())
    if out is None:
        return
    assert out.shape == x.shape
    ref = getattr(
        np,
        {
            "neg": "negative",
            "__neg__": "negative",
            "square": "square",
            "relu": "",
            "sigmoid": "",
            "__invert__": "",
            "float": "",
            "long": "",
            "bool": "",
        }.get(name, name),
        None,
    )
    if ref is not None and out.dtype.kind == "f":
        with np.errstate(all="ignore"):
            assert_values(out, ref(x.numpy().astype(out.dtype)))


@given(tensors(), st.one_of(numbers, junk), st.one_of(numbers, junk))
def test_clamp_with_random_bounds(x, lo, hi):
    out = attempt(lambda: x.clamp(lo, hi))
    if out is not None:
        assert out.shape == x.shape


# ---- losses --------------------------------------------------------------------------------

targets = st.one_of(
    tensors(dtype="int64"),
    tensors(dtype="float32"),
    tensors(dtype="bool"),
    st.lists(st.integers(-3, 5), max_size=3),
    numbers,
    junk,
)


@given(
    st.sampled_from(["cross_entropy", "nll_loss", "mse_loss"]),
    tensors(dtype="float32"),
    targets,
    st.sampled_from(["mean", "sum", "none", "bogus"]),
    st.integers(-101, 3),
)
def test_losses_with_random_inputs_and_targets(name, x, target, reduction, ignore_index):
    F = tracer.nn.functional
    if name == "mse_loss":
        out = attempt(lambda: F.mse_loss(x, target, reduction=reduction))
    else:
        out = attempt(
            lambda: getattr(F, name)(x, target, reduction=reduction, ignore_index=ignore_index)
        )
    if out is not None:
        assert reduction in ("mean", "sum", "none")


@given(
    st.one_of(tensors(), numbers, junk, st.lists(tensors(), max_size=2)),
    st.one_of(tensors(), numbers, junk, st.lists(tensors(), max_size=2)),
    st.booleans(),
)
def test_autograd_grad_with_random_arguments(outputs, inputs, allow_unused):
    x = tracer.ones(2, requires_grad=True)
    y = (x * 3).sum()
    attempt(lambda: tracer.autograd.grad(outputs, inputs, allow_unused=allow_unused))
    attempt(lambda: tracer.autograd.grad(y, inputs, retain_graph=True, allow_unused=True))
    attempt(lambda: tracer.autograd.grad(outputs, x, retain_graph=True, allow_unused=True))
    assert x.grad is None  # grad() returns gradients, it never accumulates them


# ---- reductions and shapes ---------------------------------------------------------------

dims = st.one_of(
    st.none(),
    st.integers(-4, 4),
    st.lists(st.integers(-4, 4), max_size=3),
    st.floats(-2, 2),
    st.text(max_size=1),
    st.booleans(),
)
REDUCTIONS = [
    "sum",
    "mean",
    "amax",
    "amin",
    "max",
    "min",
    "argmax",
    "logsumexp",
    "softmax",
    "log_softmax",
]


@given(st.sampled_from(REDUCTIONS), tensors(), dims, st.booleans())
def test_reductions_with_random_dims(name, x, dim, keepdim):
    def call():
        method = getattr(x, name)
        if name in ("softmax", "log_softmax"):
            return method(dim)
        if name == "logsumexp":
            return method(dim, keepdim=keepdim)
        return method(dim, keepdim) if dim is not None else method()

    out = attempt(call)
    if out is None or name != "sum" or not isinstance(out, tracer.Tensor) or x.ndim == 0:
        return
    # dims as PyTorch reads them: a list names each dim once, negatives count from the end
    axes = (
        None if dim is None else tuple({d % x.ndim for d in dim}) if isinstance(dim, list) else dim
    )
    with np.errstate(all="ignore"):
        expected = np.sum(
            x.numpy().astype(out.dtype), axis=axes, keepdims=keepdim and dim is not None
        )
    assert out.shape == expected.shape


shape_args = st.lists(
    st.one_of(st.integers(-2, 5), st.floats(-1, 2), st.none(), st.text(max_size=1)), max_size=4
)
SHAPE_OPS = {
    "reshape": lambda x, a: x.reshape(*a),
    "view": lambda x, a: x.view(a),
    "expand": lambda x, a: x.expand(*a),
    "permute": lambda x, a: x.permute(*a),
    "transpose": lambda x, a: x.transpose(*(a + [0, 0])[:2]),
    "squeeze": lambda x, a: x.squeeze(*a[:1]),
    "unsqueeze": lambda x, a: x.unsqueeze(*a[:1]),
    "flatten": lambda x, a: x.flatten(*a[:2]),
    "broadcast_to": lambda x, a: x.broadcast_to(a),
    "T": lambda x, a: x.T,
    "t": lambda x, a: x.t(),
    "size": lambda x, a: x.size(*a[:1]),
}


@given(st.sampled_from(sorted(SHAPE_OPS)), tensors(), shape_args)
def test_shape_ops_with_random_arguments(name, x, args):
    out = attempt(lambda: SHAPE_OPS[name](x, args))
    if isinstance(out, tracer.Tensor) and name in (
        "reshape",
        "view",
        "flatten",
        "squeeze",
        "unsqueeze",
    ):
        assert out.numel() == x.numel()
        np.testing.assert_array_equal(out.numpy().reshape(-1), x.numpy().reshape(-1))


@given(
    st.lists(tensors(), max_size=3),
    st.one_of(st.integers(-3, 3), st.floats(0, 1)),
    st.sampled_from(["cat", "stack"]),
)
def test_cat_and_stack_of_random_tensors(ts, dim, name):
    out = attempt(lambda: getattr(tracer, name)(ts, dim=dim))
    if out is not None and name == "cat":
        assert out.numel() == sum(t.numel() for t in ts)


# ---- indexing ---------------------------------------------------------------------------------

index_items = st.one_of(
    st.integers(-5, 5),
    st.none(),
    st.just(Ellipsis),
    st.builds(
        slice,
        st.one_of(st.none(), st.integers(-4, 4)),
        st.one_of(st.none(), st.integers(-4, 4)),
        st.one_of(st.none(), st.integers(-2, 2), st.floats(0, 1)),
    ),
    st.lists(st.integers(-4, 4), max_size=3),
    st.lists(st.booleans(), max_size=3),
    st.floats(-1, 2),
    st.text(max_size=1),
    st.builds(
        lambda v: tracer.tensor(v, dtype=tracer.int64), st.lists(st.integers(-4, 4), max_size=3)
    ),
    st.builds(
        lambda v: tracer.tensor(v, dtype=tracer.float32), st.lists(st.integers(-1, 1), max_size=2)
    ),
    st.builds(lambda v: tracer.tensor(v, dtype=tracer.bool), st.lists(st.booleans(), max_size=3)),
    st.lists(st.lists(st.integers(0, 1), max_size=2), max_size=2),
)
keys = st.one_of(index_items, st.lists(index_items, max_size=4).map(tuple))


def _numpy_key(key):
    def one(k):
        if isinstance(k, tracer.Tensor):
            return k.numpy()
        return k

    return tuple(one(k) for k in key) if isinstance(key, tuple) else one(key)


@given(tensors(dtype="float32"), keys)
def test_indexing_with_random_keys(x, key):
    out = attempt(lambda: x[key])
    if out is None:
        return
    expected = x.numpy()[_numpy_key(key)]
    assert_values(out, expected)


@given(tensors(dtype="float32"), keys, st.one_of(numbers, tensors(), junk, nested), st.booleans())
def test_item_assignment_with_random_keys_and_values(x, key, value, record):
    t = x * tracer.ones(x.shape, requires_grad=True) if record else x.clone()
    before = state(t)
    expected = t.detach().numpy().copy()
    if attempt(lambda: t.__setitem__(key, value)) is None and not _assigned(t, before):
        return
    # it worked: the same as numpy's assignment
    v = value.numpy() if isinstance(value, tracer.Tensor) else value
    with np.errstate(all="ignore"):
        expected[_numpy_key(key)] = v
    assert_values(t.detach(), expected)


def _assigned(t, before) -> bool:
    """Whether __setitem__ changed `t` (it returns None either way)."""
    return not same_state(state(t), before)


# ---- in-place ops keep their tensor unchanged when they raise --------------------------------

INPLACE = {
    "add_": lambda t, v: t.add_(v),
    "sub_": lambda t, v: t.sub_(v),
    "mul_": lambda t, v: t.mul_(v),
    "div_": lambda t, v: t.div_(v),
    "pow_": lambda t, v: t.pow_(v),
    "clamp_": lambda t, v: t.clamp_(v),
    "fill_": lambda t, v: t.fill_(v),
    "copy_": lambda t, v: t.copy_(v),
    "iadd": lambda t, v: t.__iadd__(v),
    "imul": lambda t, v: t.__imul__(v),
}


@given(st.sampled_from(sorted(INPLACE)), tensors(), operands(), st.booleans(), st.booleans())
def test_in_place_ops_raise_before_changing_anything(name, x, value, leaf_requires_grad, recorded):
    if leaf_requires_grad and x.dtype.kind == "f":
        t = x.detach().clone().requires_grad_()
    elif recorded and x.dtype.kind == "f":
        t = x * tracer.ones(x.shape, dtype=x.dtype, requires_grad=True)
    else:
        t = x.clone()
    before = state(t)
    try:
        with np.errstate(all="ignore"):
            INPLACE[name](t, value)
    except Exception as e:  # noqa: BLE001
        assert_library_error(e)
        assert same_state(state(t), before), f"{name} raised {e!r} after changing the tensor"


# ---- backward with random gradients ----------------------------------------------------------


@given(
    st.sampled_from(["float32", "float64"]),
    shapes,
    st.one_of(st.none(), tensors(), numbers, junk, nested),
)
def test_backward_with_random_gradients(dtype, shape, gradient):
    x = tracer.ones(*shape, dtype=dtype, requires_grad=True)
    y = x * 2
    attempt(lambda: y.backward(gradient))
    if x.grad is None or not isinstance(gradient, (tracer.Tensor, int, float, type(None))):
        return
    g = np.asarray(
        gradient.numpy()
        if isinstance(gradient, tracer.Tensor)
        else 1.0
        if gradient is None
        else gradient
    )
    with np.errstate(all="ignore"):
        assert_values(x.grad, np.broadcast_to(g.astype(x.dtype) * x.dtype.type(2), x.shape))


# ---- the checker itself ----------------------------------------------------------------------


def test_the_checker_tells_a_leaked_error_from_the_librarys():
    attempt(lambda: tracer.ones(2) + tracer.ones(3))  # a ShapeError: fine
    attempt(lambda: tracer.ones(2) // 2)  # Python's own TypeError, in the caller: fine
    with pytest.raises(AssertionError, match="leaked out"):  # not an error type users expect
        attempt(lambda: compiler.dtypes.promote_types(None, None))
    with pytest.raises(AssertionError, match="not the library's"):  # from a line, not a raise
        attempt(lambda: compiler.ops.shape._count_impl(np.ones(2), ("a",), np.float32))
    with pytest.raises(AssertionError, match="leaked from"):  # from inside numpy
        attempt(lambda: np.sum(np.ones(2), axis=3))
