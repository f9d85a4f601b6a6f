"""What the numba backend adds to tracing: reuse across batch sizes and processes,
the TRACER_DISABLE_JIT switch, float32 staying float32, NaN/inf as in eager mode,
non-contiguous inputs, threaded loops for large sizes, the interpreter fallback
for dtypes numba cannot lower, and `source()`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest
from trace_helpers import assert_close

import tracer
import tracer.nn.functional as F
from compiler.errors import TracerWarning
from runtime import cache, jit

pytestmark = pytest.mark.jit
ROOT = Path(__file__).resolve().parents[2]


def mlp(w1, b1, w2, b2, x, y):
    return F.cross_entropy(F.relu(x @ w1 + b1) @ w2 + b2, y)


def mlp_args(batch: int, dtype=np.float32, seed: int = 0):
    rng = np.random.default_rng(seed)
    arrays = [
        rng.standard_normal((12, 8)) * 0.3,
        rng.standard_normal(8) * 0.1,
        rng.standard_normal((8, 5)) * 0.3,
        np.zeros(5),
        rng.standard_normal((batch, 12)),
    ]
    return [tracer.tensor(a.astype(dtype)) for a in arrays] + [
        tracer.tensor(rng.integers(0, 5, batch))
    ]


def eager_value_and_grads(fn, args, argnums):
    xs = [a.detach().requires_grad_(i in argnums) for i, a in enumerate(args)]
    loss = fn(*xs)
    loss.backward()
    return loss.detach(), [xs[i].grad for i in argnums]


def test_a_new_batch_size_retraces_but_reuses_the_compiled_kernel():
    vg = tracer.value_and_grad(mlp, argnums=(0, 1, 2, 3))
    vg(*mlp_args(16))
    misses = cache.cache_stats()["misses"] + cache.cache_stats()["disk_hits"]
    for batch in (40, 3, 16):
        args = mlp_args(batch, seed=batch)
        value, grads = vg(*args)
        ev, eg = eager_value_and_grads(mlp, args, (0, 1, 2, 3))
        assert_close(value, ev)
        for g, e in zip(grads, eg):
            assert_close(g, e)
    assert vg.cache_info().misses == 3  # traced for 16, 40 and 3 ...
    # ... but each retrace generated the same module text: nothing new was compiled
    assert cache.cache_stats()["misses"] + cache.cache_stats()["disk_hits"] == misses


def test_disable_jit_runs_the_interpreter(monkeypatch):
    args = mlp_args(6)
    compiled = tracer.value_and_grad(mlp, argnums=(0, 2))
    assert "def kernel(" in compiled.source(*args)
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    interpreted = tracer.value_and_grad(mlp, argnums=(0, 2))
    assert "reference interpreter" in interpreted.source(*args)
    (v1, g1), (v2, g2) = compiled(*args), interpreted(*args)
    assert_close(v1, v2)
    for a, b in zip(g1, g2):
        assert_close(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_are_kept(dtype):
    args = mlp_args(4, dtype)
    value, grads = tracer.value_and_grad(mlp, argnums=(0, 1, 2, 3))(*args)
    assert value.dtype == dtype
    assert all(g.dtype == dtype for g in grads)
    out = tracer.trace(lambda x: (x * 0.5 + 1).tanh().sum(0))(args[4])
    assert out.dtype == dtype


def test_nan_and_inf_behave_as_in_eager_mode():
    def f(x, y):
        return (
            tracer.where(x > 0, x.log(), y.exp()) + tracer.maximum(x, y) + x / y,
            x.sum(),
            tracer.amax(y, 0),
            F.softmax(y.reshape(2, 3), dim=1),
        )

    x = tracer.tensor([np.nan, np.inf, -np.inf, 0.0, -1.0, 2.0])
    y = tracer.tensor([1.0, np.nan, 1000.0, -np.inf, 0.0, np.inf])
    expected = f(x, y)
    got = tracer.trace(f)(x, y)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g.numpy(), e.numpy())  # NaNs compare equal here


def test_non_contiguous_inputs():
    base = tracer.tensor(np.random.default_rng(1).standard_normal((6, 8)))
    x, y = base.t(), base[::2, 1::2]

    def f(x, y):
        return (x.sin() * 2).sum(1), y.exp().mean()

    got, expected = tracer.trace(f)(x, y), f(x, y)
    for g, e in zip(got, expected):
        assert_close(g, e)


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _unaligned(n):
    raw = bytearray(1 + 4 * n)
    a = np.frombuffer(raw, dtype=np.float32, offset=1, count=n)  # misaligned, writeable
    a[:] = np.arange(1.0, n + 1)
    return a


_BASE = np.arange(1.0, 13.0, dtype=np.float32)

# Inputs eager mode accepts: numpy arrays and the library's own views (issue 10, kind 5)
ODD_INPUTS = {
    "frombuffer (read-only)": lambda: np.frombuffer(_BASE.tobytes(), dtype=np.float32),
    "read-only array": lambda: _read_only(_BASE),
    "unaligned": lambda: _unaligned(6),
    "strided": lambda: _BASE[::3],
    "negative strides": lambda: _BASE[::-1],
    "transposed 2-d": lambda: _BASE.reshape(3, 4).T,
    "Fortran order": lambda: np.asfortranarray(_BASE.reshape(3, 4)),
    "broadcast view (read-only)": lambda: np.broadcast_to(np.float32(2.5), (4,)),
    "big-endian": lambda: _BASE.astype(">f4"),
    "big-endian float64": lambda: _BASE.astype(">f8"),
    "0 elements": lambda: np.zeros(0, np.float32),
    "0 rows": lambda: np.zeros((0, 3), np.float32),
    "0-d": lambda: np.array(3.0, np.float32),
    "expand()": lambda: tracer.tensor([1.5]).expand(4),
    ".T": lambda: tracer.tensor(_BASE.reshape(3, 4)).T,
    "from_numpy(read-only)": lambda: tracer.from_numpy(_read_only(_BASE)),
    "a slice": lambda: tracer.tensor(_BASE)[1::4],
    "detach() of expand()": lambda: tracer.tensor([1.5], requires_grad=True).expand(4).detach(),
}


@pytest.mark.parametrize("make", ODD_INPUTS.values(), ids=ODD_INPUTS.keys())
def test_compiled_functions_take_every_input_eager_mode_takes(make):
    x = make()
    values = np.asarray(x, dtype=np.float64)  # the same numbers, in float64
    expected_sum, expected_grad = (values * values).sum(), 2 * values

    out = tracer.trace(lambda x: (x * x).sum())(x)
    np.testing.assert_allclose(out.item(), expected_sum, rtol=1e-6)
    value, grad = tracer.value_and_grad(lambda x: (x * x).sum())(x)
    np.testing.assert_allclose(value.item(), expected_sum, rtol=1e-6)
    np.testing.assert_allclose(grad.numpy(), expected_grad, rtol=1e-6)
    leaf = tracer.tensor(values, dtype=grad.dtype, requires_grad=True)
    tracer.trace(lambda x: (x * x).sum())(leaf).backward()  # the autograd-node path
    np.testing.assert_allclose(leaf.grad.numpy(), expected_grad, rtol=1e-6)


def test_a_kernel_refusing_its_arguments_raises_our_error_not_numbas():
    @numba.njit("void(int64[::1], float64[::1])")
    def kernel(x, out):  # declared for int64, called with float32: a planner bug
        out[:] = x

    graph = jit.CompiledGraph(kernel, [((3,), np.float32)], [("buf", (3,), np.float64)])
    with pytest.raises(TypeError, match="this is a bug in tracegrad") as info:
        graph([np.ones(3, np.float32)])
    assert "TRACER_DISABLE_JIT=1" in str(info.value) and "float32[3]" in str(info.value)


def test_a_read_only_gradient_flows_into_the_compiled_backward():
    x = tracer.tensor([0.0, 1.0, 2.0], requires_grad=True)
    out = tracer.trace(lambda x: (x * 2).exp())(x)
    out.backward(gradient=tracer.from_numpy(_read_only(np.array([1.0, 2.0, 3.0], np.float32))))
    expected = 2 * np.exp(2 * np.array([0.0, 1.0, 2.0])) * [1.0, 2.0, 3.0]  # d exp(2x) = 2 e^2x
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_the_kernel_never_writes_into_a_caller_array_it_was_given():
    x = np.arange(4.0, dtype=np.float32)
    before = x.copy()
    out = tracer.trace(lambda x: x * 2)(x)
    out[0] = 100.0
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("parallel", ["", "1"])
def test_large_sizes_run_threaded_loops_with_the_same_results(monkeypatch, parallel):
    monkeypatch.setenv("TRACER_PARALLEL", parallel)

    def chain(x):
        return ((x * 1.5 + 0.5).tanh().sigmoid() * x).exp().sum()

    x = tracer.tensor(np.random.default_rng(2).standard_normal(1 << 18).astype(np.float32))
    vg = tracer.value_and_grad(chain)
    # threads only when asked for (TRACER_PARALLEL=1) and numba has more than one
    assert ("numba.prange" in vg.source(x)) == (parallel == "1" and jit.threads() > 1)
    value, grad = vg(x)
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    ivalue, igrad = tracer.value_and_grad(chain)(x)
    np.testing.assert_allclose(value.numpy(), ivalue.numpy(), rtol=1e-5)
    assert_close(grad, igrad)


def test_a_dtype_numba_cannot_lower_falls_back_with_a_warning():
    x = tracer.tensor([1.0, 2.0, 3.0], dtype=tracer.float16)
    f = tracer.trace(lambda x: x * 2 + 1)
    with pytest.warns(TracerWarning, match="reference interpreter.*float16"):
        out = f(x)
    assert out.dtype == np.float16
    assert out.tolist() == [3.0, 5.0, 7.0]


def test_an_output_changed_in_place_does_not_corrupt_the_gradient():
    # The kernels return a copy of every value saved for backward, so unlike eager mode
    # (which raises) the gradient is still right.
    x = tracer.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = tracer.trace(lambda x: x.exp())(x)
    expected = np.exp(x.detach().numpy())
    y.add_(1)
    y.sum().backward()
    assert_close(x.grad, tracer.tensor(expected))


def test_source_shows_each_ir_equation_beside_its_line():
    f = tracer.trace(lambda x: (x * 3).relu().sum())
    src = f.source(tracer.ones(4))
    assert src.startswith("# forward (called with d0=4)")
    assert "mul a 3.0" in src and "relu" in src and "reduce_sum" in src


_CHILD = textwrap.dedent("""
    import json, sys
    import tracer
    from runtime import cache, jit
    vg = tracer.value_and_grad(lambda x: (x.tanh() ** 2).sum())
    value, grad = vg(tracer.ones(7))
    print(json.dumps({"value": value.item(), "stats": cache.cache_stats(),
                      "dir": str(tracer.cache_dir())}))
""")


def test_a_fresh_process_loads_the_compiled_module_from_disk(tmp_path):
    env = dict(os.environ, TRACER_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    env.pop("TRACER_DISABLE_JIT", None)
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _CHILD], env=env, check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(2)
    ]
    assert runs[0]["dir"] == str(tmp_path)
    assert (runs[0]["stats"]["misses"], runs[0]["stats"]["disk_hits"]) == (1, 0)
    assert (runs[1]["stats"]["misses"], runs[1]["stats"]["disk_hits"]) == (0, 1)
    assert runs[0]["value"] == runs[1]["value"]
    tracer_files = list(tmp_path.glob("*.py"))
    assert len(tracer_files) == 1


def test_clear_cache_empties_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACER_CACHE_DIR", str(tmp_path))
    tracer.trace(lambda x: x * 7 - 1)(tracer.ones(3))
    assert tracer.cache_dir() == tmp_path
    assert list(tmp_path.glob("*.py"))
    tracer.clear_cache()
    assert not list(tmp_path.glob("*.py"))
    assert tracer.trace(lambda x: x * 7 - 1)(tracer.ones(3)).tolist() == [6.0] * 3


_SOURCE_CHILD = textwrap.dedent("""
    import numpy as np
    import tracer
    import tracer.nn.functional as F
    def loss(w, x, y):
        h = (x @ w).tanh()
        return F.cross_entropy(h, y) + h.sum() * 0.1 + (w * w).mean()
    rng = np.random.default_rng(0)
    args = (tracer.tensor(rng.standard_normal((300, 7)).astype(np.float32)),
            tracer.tensor(rng.standard_normal((400, 300)).astype(np.float32)),
            tracer.tensor(rng.integers(0, 7, 400)))
    print(tracer.value_and_grad(loss).source(*args))
""")


def test_generated_source_does_not_depend_on_the_process(tmp_path):
    """Same graph, same text in every process (else the disk cache would never hit):
    nothing in code generation may depend on hash seeds or object addresses."""
    sources = []
    for seed in ("1", "2", "3"):
        env = dict(
            os.environ,
            TRACER_CACHE_DIR=str(tmp_path),
            PYTHONPATH=str(ROOT),
            PYTHONHASHSEED=seed,
            TRACER_DISABLE_JIT="",
        )
        sources.append(
            subprocess.run(
                [sys.executable, "-c", _SOURCE_CHILD],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
    assert "_acc_blk" in sources[0]  # the multi-accumulator path whose order once varied
    assert sources[0] == sources[1] == sources[2]


def test_gradients_at_singular_points_match_eager_mode():
    def f(x):
        return x.sqrt().sum() + (1 / x).sum() + x.log().sum()

    x = tracer.tensor([0.0, 0.25, 4.0])
    xe = x.detach().requires_grad_()
    f(xe).backward()
    np.testing.assert_array_equal(tracer.grad(f)(x).numpy(), xe.grad.numpy())


def test_a_long_trace_compiles_as_several_functions_with_the_same_results(monkeypatch):
    def f(x):
        for _ in range(300):
            x = (x * 0.999).sin() + 0.001
        return x.sum()

    x = tracer.tensor(np.linspace(-1, 1, 50))
    vg = tracer.value_and_grad(f)
    src = vg.source(x)
    # several njit functions: parts of a long kernel, or nests shared by repeated steps
    assert len(re.findall(r"^def _(?:part|nest)\d+\(", src, re.M)) >= 2
    assert src.count("# ---- fused loop nest") > 2
    value, grad = vg(x)
    monkeypatch.setenv("TRACER_DISABLE_JIT", "1")
    ivalue, igrad = tracer.value_and_grad(f)(x)
    assert_close(value, ivalue)
    assert_close(grad, igrad)


def test_an_out_of_range_index_in_compiled_code_names_the_op_and_the_line():
    f = tracer.trace(lambda x, i: x[i] * 2)
    x = tracer.ones(4)
    assert f(x, tracer.tensor([3, 0])).tolist() == [2.0, 2.0]
    with pytest.raises(IndexError, match=r"index: .*out of range.*test_compiled_semantics\.py:\d+"):
        f(x, tracer.tensor([4, 0]))


def test_a_rebound_captured_parameter_is_used_by_the_compiled_code():
    # issue 10, kind 7: the example, compiled, through trace and value_and_grad
    params = {"w": tracer.ones(3)}
    f = tracer.trace(lambda x: (x * params["w"]).sum())
    vg = tracer.value_and_grad(lambda x: (x * params["w"] ** 2).sum())
    assert f(tracer.ones(3)).item() == 3.0 and vg(tracer.ones(3))[0].item() == 3.0
    params = {"w": tracer.full((3,), 5.0)}
    assert f(tracer.ones(3)).item() == 15.0
    value, grad = vg(tracer.ones(3))
    assert value.item() == 75.0 and grad.tolist() == [25.0, 25.0, 25.0]
