"""PyTorch as an oracle: every row of the op-spec table, run on the same inputs by
both libraries, gives the same values, dtypes, gradients and grad_fn names.

PyTorch is optional: without it this module is skipped.
"""

from __future__ import annotations

import numpy as np
import pytest
from opspecs import SPECS, OpSpec

import tracer

torch = pytest.importorskip("torch")

# grad_fn names where we knowingly differ from PyTorch, with the reason.
KNOWN_NAME_DIFFERENCES: dict[str, str] = {
    "index_slice_negative_step": "PyTorch has no negative slice steps; its x.flip(0) is a "
    "FlipBackward0, our x[::-1] a SliceBackward0",
}

# Forward tolerance between two float32 implementations (different summation orders
# and libm); float64 agrees to rounding.
CROSS_TOL = {"float32": (2e-5, 2e-6), "float64": (1e-10, 1e-12), "int64": (0, 0)}

# Rows where PyTorch's float64 kernel is only float32-accurate: compared at the float32
# tolerance (our values are checked to rounding against mpmath or analytically elsewhere).
TORCH_LOW_PRECISION: dict[str, str] = {
    "polygamma_1": "PyTorch's trigamma truncates its asymptotic series (errors ~1e-9)",
    "digamma": "its gradient is PyTorch's trigamma (errors ~1e-9)",
    "F_hardsigmoid": "PyTorch's float64 hardsigmoid gradient is 1/6 rounded to float32",
    "F_hard_kinks": "PyTorch's float64 hardsigmoid gradient is 1/6 rounded to float32",
}


def _tolerance(spec: OpSpec, dtype: str) -> tuple[float, float]:
    if spec.name in TORCH_LOW_PRECISION and dtype == "float64":
        return CROSS_TOL["float32"]
    return CROSS_TOL.get(dtype, (0, 0))


def _params(pred):
    return [pytest.param(s, d, id=f"{s.name}-{d}") for s in SPECS if pred(s) for d in s.dtypes]


def run_ours(spec: OpSpec, arrays, v=None):
    xs = [
        tracer.tensor(a, requires_grad=a.dtype.kind == "f" and spec.differentiable) for a in arrays
    ]
    out = spec.fn(*xs)
    grads = None
    if v is not None:
        out.backward(tracer.tensor(v.astype(out.dtype)))
        grads = [x.grad for x in xs if x.requires_grad]
    return out, grads


def run_torch(spec: OpSpec, arrays, v=None):
    xs = [
        torch.tensor(a, requires_grad=a.dtype.kind == "f" and spec.differentiable) for a in arrays
    ]
    out = (spec.torch_fn or spec.fn)(*xs)
    grads = None
    if v is not None:
        out.backward(torch.tensor(v.astype(str(out.dtype).removeprefix("torch."))))
        grads = [x.grad for x in xs if x.requires_grad]
    return out, grads


def as_numpy(t) -> np.ndarray:
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("spec,dtype", _params(lambda s: True))
def test_values_dtype_and_shape_match_pytorch(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs(dtype)
    ours, _ = run_ours(spec, arrays)
    theirs, _ = run_torch(spec, arrays)
    expected = as_numpy(theirs)
    assert (ours.dtype, ours.shape) == (expected.dtype, expected.shape)
    rtol, atol = _tolerance(spec, dtype)
    np.testing.assert_allclose(as_numpy(ours), expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("spec,dtype", _params(lambda s: s.differentiable))
def test_gradients_match_pytorch(spec: OpSpec, dtype: str):
    arrays = spec.make_inputs(dtype)
    theirs, _ = run_torch(spec, arrays)
    v = np.random.default_rng(3).standard_normal(tuple(theirs.shape))
    _, g_ours = run_ours(spec, arrays, v)
    _, g_theirs = run_torch(spec, arrays, v)
    rtol, atol = _tolerance(spec, dtype)
    assert len(g_ours) == len(g_theirs)
    for a, b in zip(g_ours, g_theirs):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == as_numpy(b).dtype
            np.testing.assert_allclose(as_numpy(a), as_numpy(b), rtol=rtol, atol=atol)


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in SPECS if s.differentiable])
def test_grad_fn_name_matches_pytorch(spec: OpSpec):
    arrays = spec.make_inputs(spec.dtypes[-1])
    ours, _ = run_ours(spec, arrays)
    theirs, _ = run_torch(spec, arrays)
    expected = type(theirs.grad_fn).__name__
    if spec.name in KNOWN_NAME_DIFFERENCES:
        assert ours.grad_fn.name() != expected, "known difference is gone: drop it from the dict"
    else:
        assert ours.grad_fn.name() == expected


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in SPECS if s.differentiable])
def test_table_grad_fn_golden_is_pytorchs(spec: OpSpec):
    """The grad_fn names written in the table are PyTorch's."""
    if spec.name in KNOWN_NAME_DIFFERENCES:
        pytest.skip(KNOWN_NAME_DIFFERENCES[spec.name])
    theirs, _ = run_torch(spec, spec.make_inputs(spec.dtypes[-1]))
    assert spec.grad_fn == type(theirs.grad_fn).__name__


@pytest.mark.parametrize(
    "spec", [pytest.param(s, id=s.name) for s in SPECS if not s.differentiable]
)
def test_non_differentiable_rows_have_no_grad_fn_in_pytorch(spec: OpSpec):
    xs = [
        torch.tensor(a, requires_grad=a.dtype.kind == "f")
        for a in spec.make_inputs(spec.dtypes[-1])
    ]
    out = (spec.torch_fn or spec.fn)(*xs)
    assert out.grad_fn is None


# ---- type promotion ---------------------------------------------------------------------

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
SCALARS = {"True": True, "int": 3, "float": 2.5}


def _operand(lib, kind: str, dtype: str):
    if kind == "scalar":
        return SCALARS[dtype]
    shape = (2,) if kind == "tensor" else ()
    return lib.ones(shape, dtype=getattr(lib, dtype))


PROMOTING_OPS = [
    lambda lib, a, b: a + b,
    lambda lib, a, b: a * b,
    lambda lib, a, b: a / b,
    lambda lib, a, b: a if isinstance(b, (int, float)) else lib.maximum(a, b),
    lambda lib, a, b: lib.where(a > 0, a, b),
]

PROMOTION_CASES = [
    pytest.param(ka, da, kb, db, id=f"{ka}-{da}-{kb}-{db}")
    for ka, da in [("tensor", d) for d in DTYPES]
    for kb, db in (
        [("tensor", d) for d in DTYPES]
        + [("0d", d) for d in DTYPES]
        + [("scalar", s) for s in SCALARS]
    )
]


@pytest.mark.parametrize("ka,da,kb,db", PROMOTION_CASES)
def test_type_promotion_matches_pytorch(ka, da, kb, db):
    results = []
    for lib in (tracer, torch):
        a, b = _operand(lib, ka, da), _operand(lib, kb, db)
        row = []
        for op in PROMOTING_OPS:
            try:
                row.append(str(op(lib, a, b).dtype).rsplit(".", 1)[-1])
            except (RuntimeError, TypeError, ValueError):
                row.append("error")
        results.append(row)
    ours, theirs = results
    assert ours == theirs
