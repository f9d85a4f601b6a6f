"""Every op spec through the numba backend, against eager mode and the interpreter.

A numba compile costs a few tenths of a second whatever the graph's size, so the
specs are checked in groups: one traced function returns the outputs of a group
of specs (its forward kernel), and the cotangent-weighted sum of those outputs is
differentiated by `tracer.value_and_grad` (the joint kernel) and by `backward()`
through `@tracer.trace` (the forward-with-residuals and backward kernels). Every
spec's output and every input's gradient is compared on its own, so a failure
names its spec. Checked: values and gradients equal eager mode and the reference
interpreter, in float32 and float64, dtypes kept (float32 stays float32), inputs
left unmodified, and the code that ran really is generated numba code.
"""

from __future__ import annotations

import numpy as np
import pytest
from opspecs import SPECS, OpSpec
from trace_helpers import assert_close, tensors

import tracer

pytestmark = pytest.mark.jit

GROUP = 16
TRACEABLE = [s for s in SPECS if not s.data_dependent]


def _groups(dtypes: tuple[str, ...] = ("float32",), only_non_differentiable: bool = False) -> list:
    """The spec groups compiled for one test, per dtype.

    Compiling is what costs (each group's joint kernel is ~10-40 s of numba typing and
    lowering on a CI core), so the table compiles each spec once, in float32 (the dtype
    with its own code paths: float32 arithmetic, the vectorised polynomials, float64
    accumulators): its value and every gradient in one joint kernel, against eager and
    the interpreter. Specs whose output is not differentiable (integer results) are
    also compiled as a forward kernel, since the joint kernel does not check them. The
    split forward/backward kernels of @trace + backward() (on the first four groups
    here), and float64 codegen, are also checked by the rest of tests/e2e on programs
    that mix ops; every spec runs in both
    dtypes eagerly and on the interpreter (test_ops_eager.py, test_trace_ops.py)."""
    params = []
    for dtype in dtypes:
        specs = [s for s in TRACEABLE if dtype in s.dtypes]
        if only_non_differentiable:
            specs = [s for s in specs if not s.differentiable]
        for k in range(0, len(specs), GROUP):
            g = specs[k : k + GROUP]
            params.append(pytest.param(dtype, g, id=f"{dtype}-{g[0].name}..{g[-1].name}"))
    return params


def _chunks(flat, arrays):
    it = iter(flat)
    return [[next(it) for _ in arr] for arr in arrays]


def _inputs(group: list[OpSpec], dtype: str):
    arrays = [s.make_inputs(dtype) for s in group]
    return arrays, [x for arr in arrays for x in arr]


def _eager(spec: OpSpec, arr) -> tracer.Tensor:
    with tracer.no_grad():
        return spec.fn(*tensors(arr))


def _weighted_loss(group, arrays, dtype: str):
    """sum_k (spec_k(inputs_k) * v_k).sum() over the differentiable specs, each term in
    the group's `dtype`: a row with a wider output (x.sum(dtype=float64) in a float32
    group) would otherwise make the total float64, compared at float64 tolerance while
    its other terms carry float32 rounding."""
    vs = [
        tracer.tensor(
            np.random.default_rng(k).standard_normal(_eager(s, a).shape).astype(_eager(s, a).dtype)
        )
        if s.differentiable
        else None
        for k, (s, a) in enumerate(zip(group, arrays))
    ]

    def loss(*flat):
        total = 0
        for s, chunk, v in zip(group, _chunks(flat, arrays), vs):
            if v is not None:
                total = total + (s.fn(*chunk) * v).sum().to(dtype)
        return total

    return loss


def _float_positions(flat) -> tuple[int, ...]:
    return tuple(i for i, a in enumerate(flat) if a.dtype.kind == "f")


def _owner(group, arrays, i: int) -> str:
    for s, arr in zip(group, arrays):
        if i < len(arr):
            return f"{s.name} input {i}"
        i -= len(arr)
    return "?"


@pytest.mark.parametrize("dtype,group", _groups(only_non_differentiable=True))
def test_forward_kernel_equals_eager(dtype: str, group: list[OpSpec]):
    arrays, flat = _inputs(group, dtype)

    def outputs(*xs):
        return tuple(s.fn(*chunk) for s, chunk in zip(group, _chunks(xs, arrays)))

    xs = tensors(flat)
    f = tracer.trace(outputs)
    got = f(*xs)
    assert "def kernel(" in f.source(*xs)
    for s, arr, g in zip(group, arrays, got):
        assert_close(g, _eager(s, arr), err_msg=s.name)
    for x, a in zip(xs, flat):
        np.testing.assert_array_equal(x.numpy(), a)


@pytest.mark.parametrize("dtype,group", _groups())
def test_value_and_grad_kernel_equals_eager_and_interpreter(
    dtype: str, group: list[OpSpec], monkeypatch: pytest.MonkeyPatch
):
    arrays, flat = _inputs(group, dtype)
    if not any(s.differentiable for s in group):
        pytest.skip("no differentiable spec in this group")
    loss = _weighted_loss(group, arrays, dtype)
    positions = _float_positions(flat)
    xs = tensors(flat, requires_grad=True)
    eager = loss(*xs)
    eager.backward()
    expected = [
        xs[i].grad if xs[i].grad is not None else tracer.zeros_like(xs[i]) for i in positions
    ]

    xs = tensors(flat)
    vg = tracer.value_and_grad(loss, argnums=positions)
    value, grads = vg(*xs)
    assert "def kernel(" in vg.source(*xs)
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    ivalue, igrads = tracer.value_and_grad(loss, argnums=positions)(*xs)
    assert_close(value, eager.detach(), err_msg="value vs eager")
    assert_close(value, ivalue, err_msg="value vs interpreter")
    for i, g, ig, e in zip(positions, grads, igrads, expected):
        where = _owner(group, arrays, i)
        assert_close(g, e, err_msg=f"gradient of {where} vs eager")
        assert_close(g, ig, err_msg=f"gradient of {where} vs interpreter")
    for x, a in zip(xs, flat):
        np.testing.assert_array_equal(x.numpy(), a)


@pytest.mark.parametrize("dtype,group", _groups()[:4])
def test_backward_through_traced_kernels_equals_eager(dtype: str, group: list[OpSpec]):
    arrays, flat = _inputs(group, dtype)
    if not any(s.differentiable for s in group):
        pytest.skip("no differentiable spec in this group")
    loss = _weighted_loss(group, arrays, dtype)
    xs = tensors(flat, requires_grad=True)
    loss(*xs).backward()
    expected = [x.grad for x in xs]

    xs = tensors(flat, requires_grad=True)
    f = tracer.trace(loss)
    out = f(*xs)
    assert out.grad_fn.name() == "CompiledFunctionBackward"
    assert "# backward" in f.source(*xs)
    out.backward()
    for i, (x, e) in enumerate(zip(xs, expected)):
        where = _owner(group, arrays, i)
        assert (x.grad is None) == (e is None), f"{where}: .grad {x.grad} but eagerly {e}"
        if e is not None:
            assert_close(x.grad, e, err_msg=f"gradient of {where}")
