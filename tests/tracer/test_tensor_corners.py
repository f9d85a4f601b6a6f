"""Tensor corners a PyTorch script hits: the legacy constructors (`Tensor(data)`,
`Tensor(2, 3)`, `FloatTensor`, ...), `.type()`, assigning `.data` and `.grad`, `.numpy()`
of a tensor that requires grad, the non-leaf `.grad` warning, memory layout (stride,
contiguous, storage_offset, ...), transposes (T, H, mT, mH), and Python protocols (len,
iteration, `in`, format, round, complex). Expected values are analytic; PyTorch, when
installed, is the oracle for printed forms, error types and grad_fn names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tracer


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def outcome(fn, lib):
    """What `fn(lib)` gives, as text comparable across the libraries: its repr, or the
    type of the exception it raised."""
    try:
        value = fn(lib)
    except Exception as e:  # noqa: BLE001  (the exception type is the outcome)
        return ("raises", _error_kind(e))
    name = lib.__name__
    return ("value", repr(value).replace(f"{name}.", "lib."))


def _error_kind(e: Exception) -> str:
    for kind in (TypeError, ValueError, IndexError, RuntimeError):
        if isinstance(e, kind):
            return kind.__name__
    return type(e).__name__


# ---- legacy constructors -------------------------------------------------------------

CONSTRUCTORS = {
    "data": lambda lib: lib.Tensor([1, 2]),
    "nested": lambda lib: lib.Tensor([[1, 2], [3, 4]]),
    "tuple_is_data": lambda lib: lib.Tensor((2, 3)),
    "empty": lambda lib: lib.Tensor(),
    "empty_list": lambda lib: lib.Tensor([]),
    "size_object": lambda lib: lib.Tensor(lib.Size([2, 3])).shape,
    "sizes": lambda lib: lib.Tensor(2, 3).shape,
    "one_size": lambda lib: lib.Tensor(3).shape,
    "zero_size": lambda lib: lib.Tensor(0).shape,
    "int_tensor_alias": lambda lib: lib.Tensor(lib.tensor([1, 2])),
    "float64_tensor_alias": lambda lib: lib.Tensor(lib.tensor([1.0], dtype=lib.float64)),
    "float_tensor": lambda lib: lib.FloatTensor([1, 2]),
    "long_tensor_truncates": lambda lib: lib.LongTensor([1.5, 2]),
    "int_tensor_sizes": lambda lib: lib.IntTensor(2, 2).dtype,
    "bool_tensor": lambda lib: lib.BoolTensor([1, 0]),
    "double_tensor": lambda lib: lib.DoubleTensor([1]),
    "half_tensor": lambda lib: lib.HalfTensor([1]),
    "byte_tensor": lambda lib: lib.ByteTensor([1]),
    "char_tensor": lambda lib: lib.CharTensor([1]),
    "short_tensor": lambda lib: lib.ShortTensor([1]),
    "float_tensor_of_numpy_ints": lambda lib: lib.FloatTensor(np.array([1, 2])),
    "long_tensor_of_numpy": lambda lib: lib.LongTensor(np.array([1, 2])),
    "long_tensor_of_long_tensor": lambda lib: lib.LongTensor(lib.tensor([1, 2])),
    "device_cpu": lambda lib: lib.Tensor([1.0], device="cpu"),
    "float_scalar": lambda lib: lib.Tensor(2.5),
    "negative_size": lambda lib: lib.Tensor(-1),
    "size_not_int": lambda lib: lib.Tensor(2, "a"),
    "float_tensor_of_long_tensor": lambda lib: lib.FloatTensor(lib.tensor([1, 2])),
    "not_numbers": lambda lib: lib.Tensor([1, "a"]),
}


@pytest.mark.parametrize("name", list(CONSTRUCTORS))
def test_legacy_constructor_is_torchs(torch, name):
    fn = CONSTRUCTORS[name]
    assert outcome(fn, tracer) == outcome(fn, torch)


@pytest.mark.parametrize(
    "fn,expected",
    [
        (lambda: tracer.Tensor([1, 2]), ([1.0, 2.0], tracer.float32)),
        (lambda: tracer.Tensor(2, 3), ([[0.0] * 3] * 2, tracer.float32)),
        (lambda: tracer.Tensor(), ([], tracer.float32)),
        (lambda: tracer.LongTensor([1.5, -2.5]), ([1, -2], tracer.int64)),
        (lambda: tracer.BoolTensor(2), ([False, False], tracer.bool)),
    ],
    ids=["data", "sizes_zero_filled", "empty", "long_truncates", "bool_sizes"],
)
def test_legacy_constructor_values(fn, expected):
    t = fn()
    assert (t.tolist(), t.dtype) == expected and type(t) is tracer.Tensor


def test_legacy_constructor_follows_the_default_dtype_but_float_tensor_does_not():
    tracer.set_default_dtype(tracer.float64)
    try:
        assert (tracer.Tensor([1]).dtype, tracer.FloatTensor([1]).dtype) == (
            tracer.float64,
            tracer.float32,
        )
    finally:
        tracer.set_default_dtype(tracer.float32)


def test_tensor_of_a_tensor_is_an_alias_on_the_graph():
    x = tracer.tensor([1.0, 2.0], requires_grad=True)
    a = tracer.Tensor(x)
    assert a is not x and a.grad_fn.name() == "AliasBackward0"
    (a * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    with tracer.no_grad():
        a[0] = 5.0
    assert x.tolist() == [5.0, 2.0]  # shares memory


def test_legacy_types_answer_isinstance_by_dtype():
    assert isinstance(tracer.ones(1), tracer.FloatTensor)
    assert not isinstance(tracer.ones(1, dtype=tracer.int64), tracer.FloatTensor)
    assert isinstance(tracer.ones(1, dtype=tracer.int64), tracer.LongTensor)
    assert isinstance(tracer.FloatTensor([1.0]), tracer.Tensor)
    assert repr(tracer.FloatTensor) == "<class 'tracer.FloatTensor'>"


def test_legacy_constructor_refuses_other_devices():
    with pytest.raises(tracer.DeviceError):
        tracer.Tensor([1.0], device="cuda")


def test_legacy_constructor_refuses_requires_grad_and_says_what_to_use():
    with pytest.raises(TypeError, match="tracer.tensor\\(data, requires_grad=True\\)"):
        tracer.Tensor([1.0], True)


def test_numpy_array_into_tracer_tensor_is_wrapped_as_is():
    # a known difference: PyTorch's legacy constructor converts to float32
    a = np.array([1, 2])
    t = tracer.Tensor(a)
    assert t.dtype is tracer.int64 and np.shares_memory(t.numpy(), a)


# ---- .type() and dtype conversions ---------------------------------------------------

TYPE_CASES = {
    "name": lambda lib: lib.tensor([1.0]).type(),
    "long_name": lambda lib: lib.tensor([1]).type(),
    "bool_name": lambda lib: lib.tensor([True]).type(),
    "half_name": lambda lib: lib.tensor([1.0]).half().type(),
    "to_long": lambda lib: lib.tensor([1.5]).type(lib.long),
    "to_name": lambda lib: lib.tensor([1.0], requires_grad=True).type("torch.DoubleTensor"),
    "to_class": lambda lib: lib.tensor([1.0], requires_grad=True).type(lib.DoubleTensor),
    "same_is_self": lambda lib: (lambda t: t.type(lib.float32) is t)(lib.tensor([1.0])),
    "bad_name": lambda lib: lib.tensor([1.0]).type("float"),
    "half": lambda lib: lib.tensor([2.0], requires_grad=True).half(),
    "short_char_byte": lambda lib: [
        lib.tensor([2.7]).short(),
        lib.tensor([2.7]).char(),
        lib.tensor([2.7]).byte(),
    ],
}


@pytest.mark.parametrize("name", list(TYPE_CASES))
def test_type_and_conversions_are_torchs(torch, name):
    fn = TYPE_CASES[name]
    assert outcome(fn, tracer) == outcome(fn, torch)


def test_type_names_and_converts():
    x = tracer.tensor([1.5], requires_grad=True)
    assert x.type() == "tracer.FloatTensor"
    y = x.type("tracer.DoubleTensor")
    assert y.dtype is tracer.float64 and y.grad_fn is not None
    assert x.type(tracer.int64).tolist() == [1]
    with pytest.raises(ValueError, match="invalid type: 'float'"):
        x.type("float")


# ---- assigning .data and .grad -------------------------------------------------------


def _leaf():
    return tracer.tensor([1.0, 2.0], requires_grad=True)


DATA_CASES = {
    "other_shape": lambda lib: lib.ones(3),
    "other_float_dtype": lambda lib: lib.ones(2, dtype=lib.float64),
    "requires_grad_value": lambda lib: lib.ones(2, requires_grad=True),
    "int_into_grad_tensor": lambda lib: lib.ones(3, dtype=lib.long),
    "list": lambda lib: [1.0, 2.0],
    "numpy": lambda lib: np.ones(2),
}


def _set_data(lib, make):
    t = lib.tensor([1.0, 2.0], requires_grad=True)
    t.data = make(lib)
    return (t, t.requires_grad, t.grad_fn)


@pytest.mark.parametrize("name", list(DATA_CASES))
def test_data_assignment_is_torchs(torch, name):
    fn = DATA_CASES[name]
    assert outcome(lambda lib: _set_data(lib, fn), tracer) == outcome(
        lambda lib: _set_data(lib, fn), torch
    )


def test_data_assignment_swaps_the_memory_and_keeps_the_tensor():
    t = _leaf()
    new = tracer.tensor([[5.0, 6.0, 7.0]])
    t.data = new
    assert t.shape == (1, 3) and t.requires_grad and t.is_leaf
    new[0, 0] = 9.0
    assert t.tolist() == [[9.0, 6.0, 7.0]]


@pytest.mark.parametrize(
    "value,exc,match",
    [
        ([1.0, 2.0], TypeError, "Variable data has to be a tensor, but got list"),
        (tracer.ones(2, dtype=tracer.int64), RuntimeError, "must be floating point"),
    ],
    ids=["list", "int"],
)
def test_bad_data_assignment_raises_and_changes_nothing(value, exc, match):
    t = _leaf()
    with pytest.raises(exc, match=match):
        t.data = value
    assert t.tolist() == [1.0, 2.0] and t.dtype is tracer.float32


def test_data_assignment_inside_a_traced_function_is_refused():
    t = _leaf()

    @tracer.trace
    def f(x):
        t.data = tracer.zeros(2)
        return x

    with pytest.raises(tracer.TraceError, match="assigning .data"):
        f(tracer.ones(2))


GRAD_CASES = {
    "right": lambda lib: lib.ones(2),
    "none": lambda lib: None,
    "other_shape": lambda lib: lib.ones(3),
    "column": lambda lib: lib.ones(2, 1),
    "other_dtype": lambda lib: lib.ones(2, dtype=lib.float64),
    "int": lambda lib: lib.ones(2, dtype=lib.long),
    "list": lambda lib: [1.0, 2.0],
    "numpy": lambda lib: np.ones(2),
    "requires_grad_value": lambda lib: lib.ones(2, requires_grad=True),
    "expanded": lambda lib: lib.ones(1).expand(2),
}


def _set_grad(lib, make, target=None):
    t = lib.tensor([1.0, 2.0], requires_grad=True) if target is None else target(lib)
    t.grad = make(lib)
    return t.grad


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_grad_assignment_is_torchs(torch, name):
    fn = GRAD_CASES[name]
    assert outcome(lambda lib: _set_grad(lib, fn), tracer) == outcome(
        lambda lib: _set_grad(lib, fn), torch
    )


@pytest.mark.parametrize(
    "target",
    [
        lambda lib: lib.tensor([1, 2]),
        lambda lib: lib.tensor([1.0, 2.0]),
        lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
    ],
    ids=["int_tensor", "no_grad_tensor", "non_leaf"],
)
def test_grad_assignment_to_other_tensors_is_torchs(torch, target):
    def make(lib):
        t = target(lib)
        return lib.ones(2, dtype=t.dtype)

    def run(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _set_grad(lib, make, target)

    assert outcome(run, tracer) == outcome(run, torch)


@pytest.mark.parametrize(
    "value,exc,match",
    [
        (tracer.ones(3), RuntimeError, "size '\\[3\\]' to a tensor of size '\\[2\\]'"),
        (tracer.ones(2, dtype=tracer.float64), RuntimeError, "dtype 'float64'"),
        ([1.0], TypeError, "expected to be a Tensor or None but got grad of type list"),
    ],
    ids=["shape", "dtype", "list"],
)
def test_bad_grad_assignment_raises_and_keeps_the_old_grad(value, exc, match):
    t = _leaf()
    t.grad = tracer.tensor([7.0, 8.0])
    with pytest.raises(exc, match=match):
        t.grad = value
    assert t.grad.tolist() == [7.0, 8.0]


def test_a_tensor_cannot_be_its_own_grad():
    t = _leaf()
    with pytest.raises(RuntimeError, match="can't assign Variable as its own grad"):
        t.grad = t


def test_backward_accumulates_into_an_assigned_grad():
    t = _leaf()
    t.grad = tracer.tensor([10.0, 20.0])
    (t * t).sum().backward()
    assert t.grad.tolist() == [12.0, 24.0]


# ---- .numpy() and the non-leaf .grad warning ------------------------------------------


def test_numpy_of_a_tensor_requiring_grad_raises_outside_no_grad(torch):
    for lib in (tracer, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires"):
            x.numpy()
        with lib.no_grad():
            assert x.numpy().tolist() == [1.0, 2.0]
        assert x.numpy(force=True).tolist() == [1.0, 2.0]


def test_numpy_under_no_grad_shares_memory():
    x = _leaf()
    with tracer.no_grad():
        a = x.numpy()
    a[0] = 5.0
    assert x.tolist() == [5.0, 2.0]


def _grad_warnings(lib, make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make(lib).grad  # noqa: B018
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


NON_LEAF_CASES = {
    "non_leaf": lambda lib: lib.ones(2, requires_grad=True) * 2,
    "leaf": lambda lib: lib.ones(2, requires_grad=True),
    "no_grad_result": lambda lib: lib.ones(2) * 2,
    "retained": lambda lib: (lambda y: (y.retain_grad(), y)[1])(
        lib.ones(2, requires_grad=True) * 2
    ),
}


@pytest.mark.parametrize("name", list(NON_LEAF_CASES))
def test_non_leaf_grad_warns_when_torch_does(torch, name):
    ours = _grad_warnings(tracer, NON_LEAF_CASES[name])
    theirs = _grad_warnings(torch, NON_LEAF_CASES[name])
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert b.startswith(a)  # ours without PyTorch's trailing links


def test_non_leaf_grad_warning_text():
    (w,) = _grad_warnings(tracer, NON_LEAF_CASES["non_leaf"])
    assert "not a leaf Tensor is being accessed" in w and ".retain_grad()" in w


# ---- memory layout --------------------------------------------------------------------

VIEWS = {
    "contiguous": lambda lib: lib.arange(6.0).reshape(2, 3),
    "transposed": lambda lib: lib.arange(6.0).reshape(2, 3).t(),
    "sliced": lambda lib: lib.arange(6.0)[2:],
    "row_tail": lambda lib: lib.arange(6.0).view(2, 3)[1, 1:],
    "strided": lambda lib: lib.arange(10.0)[1::3],
    "expanded": lambda lib: lib.ones(3).expand(2, 3),
    "column": lambda lib: lib.arange(6.0).reshape(2, 3)[:, 1],
    "detached_view": lambda lib: lib.arange(6.0)[2:].detach(),
    "int64": lambda lib: lib.arange(4),
    "bool": lambda lib: lib.ones(2, dtype=lib.bool),
    "scalar": lambda lib: lib.tensor(1.0),
}


def _layout(t):
    return (
        t.is_contiguous(),
        t.stride(),
        t.storage_offset(),
        t.element_size(),
        t.nbytes,
        t.itemsize,
    )


@pytest.mark.parametrize("name", list(VIEWS))
def test_layout_is_torchs(torch, name):
    assert _layout(VIEWS[name](tracer)) == _layout(VIEWS[name](torch))


@pytest.mark.parametrize(
    "name,expected",
    [
        ("contiguous", (True, (3, 1), 0, 4, 24, 4)),
        ("transposed", (False, (1, 3), 0, 4, 24, 4)),
        ("row_tail", (True, (1,), 4, 4, 8, 4)),
        ("strided", (False, (3,), 1, 4, 12, 4)),
        ("int64", (True, (1,), 0, 8, 32, 8)),
    ],
)
def test_layout_values(name, expected):
    assert _layout(VIEWS[name](tracer)) == expected


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib: lib.ones(2, 3).stride(1),
        lambda lib: lib.ones(2, 3).stride(-1),
        lambda lib: lib.ones(2, 3).stride(5),
    ],
    ids=["dim", "negative_dim", "bad_dim"],
)
def test_stride_of_a_dim_is_torchs(torch, fn):
    assert outcome(fn, tracer) == outcome(fn, torch)


def test_contiguous_copies_only_when_needed_and_keeps_the_graph(torch):
    for lib in (tracer, torch):
        x = lib.ones(2, 3, requires_grad=True)
        assert x.contiguous() is x
        y = x.t().contiguous()
        assert y.is_contiguous() and y.grad_fn.name() == "CloneBackward0"
        y.sum().backward()
        assert x.grad.tolist() == [[1.0] * 3] * 2


def test_data_ptr_is_the_address_of_the_first_element():
    x = tracer.arange(6.0)
    assert x[2:].data_ptr() - x.data_ptr() == 2 * x.element_size()
    assert type(x.data_ptr()) is int


# ---- transposes ----------------------------------------------------------------------

TRANSPOSES = {
    "T_2d": lambda lib: lib.ones(2, 3, requires_grad=True).T,
    "T_1d": lambda lib: lib.ones(3, requires_grad=True).T,
    "H": lambda lib: lib.ones(2, 3, requires_grad=True).H,
    "H_3d": lambda lib: lib.ones(2, 3, 4).H,
    "H_1d": lambda lib: lib.ones(3).H,
    "mT": lambda lib: lib.ones(2, 3, 4, requires_grad=True).mT,
    "mT_1d": lambda lib: lib.ones(3).mT,
    "mH": lambda lib: lib.ones(2, 3, 4, requires_grad=True).mH,
    "mH_1d": lambda lib: lib.ones(3).mH,
    "adjoint": lambda lib: lib.ones(2, 3, requires_grad=True).adjoint(),
}


def _transpose(fn):
    def run(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # T of 1-D warns (tested below)
            t = fn(lib)
        return (t.shape, t.grad_fn.name() if t.grad_fn is not None else None)

    return run


@pytest.mark.parametrize("name", list(TRANSPOSES))
def test_transposes_are_torchs(torch, name):
    run = _transpose(TRANSPOSES[name])
    ours, theirs = outcome(run, tracer), outcome(run, torch)
    if theirs[0] == "raises":  # ours raise ShapeError (a ValueError) where torch a RuntimeError
        assert ours[0] == "raises"
    else:
        assert ours == theirs


@pytest.mark.parametrize(
    "make,text",
    [
        (lambda: tracer.ones(2, 3, 4), "The use of `x.T` on tensors of dimension other than 2"),
        (lambda: tracer.ones(3), "The use of `x.T` on tensors of dimension other than 2"),
        (lambda: tracer.tensor(1.0), "Tensor.T is deprecated on 0-D tensors"),
    ],
    ids=["3d", "1d", "0d"],
)
def test_T_other_than_2d_warns_as_torch_does(make, text):
    # PyTorch's warnings (it shows each once per process; ours follow Python's filters)
    x = make()
    with pytest.warns(UserWarning, match=text.replace("(", "\\(")):
        x.T  # noqa: B018


def test_H_of_a_real_matrix_is_its_transpose():
    x = tracer.arange(6.0).reshape(2, 3)
    assert x.H.tolist() == x.T.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]


# ---- Python protocols ----------------------------------------------------------------

PROTOCOLS = {
    "len": lambda lib: len(lib.ones(3, 2)),
    "len_0d": lambda lib: len(lib.tensor(1.0)),
    "iter": lambda lib: list(lib.tensor([1.0, 2.0], requires_grad=True)),
    "iter_0d": lambda lib: list(lib.tensor(1.0)),
    "in_number": lambda lib: (2.0 in lib.tensor([1.0, 2.0]), 3 in lib.tensor([1.0, 2.0])),
    "in_tensor": lambda lib: lib.tensor(2.0) in lib.tensor([1.0, 2.0]),
    "in_numpy_number": lambda lib: np.float32(2.0) in lib.tensor([1.0, 2.0]),
    "in_list": lambda lib: [1.0, 2.0] in lib.tensor([[1.0, 2.0]]),
    "in_str": lambda lib: "a" in lib.tensor([1.0]),
    "format_0d": lambda lib: f"{lib.tensor(3.14159):.3f}",
    "format_int": lambda lib: f"{lib.tensor(3):d}",
    "format_1_element": lambda lib: f"{lib.tensor([3.14159]):.3f}",
    "format_empty_spec": lambda lib: f"{lib.tensor([1.0, 2.0])}",
    "round": lambda lib: round(lib.tensor(2.567), 1),
    "complex": lambda lib: complex(lib.tensor(2.0)),
    "complex_many": lambda lib: complex(lib.ones(2)),
    "float_many": lambda lib: float(lib.ones(2)),
    "item_many": lambda lib: lib.ones(2).item(),
    "item_requires_grad": lambda lib: lib.tensor([2.0], requires_grad=True).item(),
    "tolist": lambda lib: lib.tensor([[1, 2]]).tolist(),
    "index_float": lambda lib: [1, 2, 3][lib.tensor(1.0)],
    "index_int": lambda lib: [1, 2, 3][lib.tensor(1)],
    "is_cuda": lambda lib: lib.ones(1).is_cuda,
    "is_leaf": lambda lib: (lib.ones(1).is_leaf, (lib.ones(1, requires_grad=True) * 2).is_leaf),
    "requires_grad_": lambda lib: lib.ones(2).requires_grad_(),
    "numel": lambda lib: lib.numel(lib.ones(2, 3)),
    "is_grad_enabled": lambda lib: lib.is_grad_enabled(),
    "is_tensor": lambda lib: (lib.is_tensor(lib.ones(1)), lib.is_tensor([1])),
    "signedness": lambda lib: [
        lib.ones(1, dtype=d).is_signed() for d in (lib.uint8, lib.int8, lib.float32, lib.bool)
    ],
    "apply_": lambda lib: lib.tensor([1.0, 2.0]).apply_(lambda v: v * 3),
    "apply_requires_grad": lambda lib: lib.ones(2, requires_grad=True).apply_(lambda v: v),
    "map_": lambda lib: lib.tensor([1.0, 2.0]).map_(lib.tensor([3.0, 4.0]), lambda a, b: a + b),
    "map_broadcast": lambda lib: lib.ones(2, 2).map_(lib.tensor([1.0, 2.0]), lambda a, b: a * b),
}


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_python_protocols_are_torchs(torch, name):
    fn = PROTOCOLS[name]
    assert outcome(fn, tracer) == outcome(fn, torch)


def test_format_of_a_0d_tensor_formats_its_number():
    assert f"{tracer.tensor(3.14159):.3f}" == "3.142"
    assert f"{tracer.tensor(2.5, requires_grad=True):>6}" == "   2.5"


def test_format_with_a_spec_of_a_tensor_with_dims_raises():
    with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
        f"{tracer.tensor([1.0]):.3f}"


def test_iteration_gives_rows_whose_gradients_reach_the_tensor():
    x = tracer.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(x)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]
    (rows[0] * 2 + rows[1]).sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0], [1.0, 1.0]]


@pytest.mark.parametrize(
    "element,expected", [(2.0, True), (5, False), (tracer.tensor([9.0, 2.0]), True)]
)
def test_contains_asks_whether_any_element_equals(element, expected):
    assert (element in tracer.tensor([1.0, 2.0])) is expected


def test_apply_and_map_update_in_place():
    x = tracer.tensor([1.0, 2.0])
    assert x.apply_(lambda v: v * v) is x and x.tolist() == [1.0, 4.0]
    assert x.map_(tracer.tensor([1.0, 1.0]), lambda a, b: a - b) is x and x.tolist() == [0.0, 3.0]


def test_apply_on_a_tensor_requiring_grad_raises_and_changes_nothing():
    x = _leaf()
    with pytest.raises(RuntimeError, match="Can't call apply_\\(\\) on Variable that requires"):
        x.apply_(lambda v: 0.0)
    assert x.tolist() == [1.0, 2.0]


def test_round_of_a_tensor_is_undefined_as_in_torch():
    with pytest.raises(TypeError, match="doesn't define __round__"):
        round(tracer.tensor(2.5))
