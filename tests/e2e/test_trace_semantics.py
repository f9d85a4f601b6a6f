"""What a traced function means: it behaves like the Python function it stages.

Composition with eager autograd, captured tensors, the signature cache (retracing
and explain()), static arguments and Python control flow, structured arguments and
results, autograd misuse (backward twice, in-place changes), in-place updates in
traced code, and the workloads (notebook loss, MLP, softmax, logsumexp, indexing,
batched matmul, broadcasting) through all three entry points.
"""

from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np
import pytest
from trace_helpers import assert_close

import tracer
import tracer.nn.functional as F


def rand(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def leaf(array, requires_grad=True):
    return tracer.tensor(array, requires_grad=requires_grad)


# ---- composition with eager code ----------------------------------------------------------


def layer(h, w):
    return (h @ w).tanh() * 2


def eager_traced_eager(f):
    x, w = leaf(rand(3, 4)), leaf(rand(4, 2, seed=1))
    h = (x * 2).sin()  # eager before
    out = f(f(h, w) @ w.t(), w)  # the traced function, twice in one graph
    loss = (out.exp() * 3).sum()  # eager after
    loss.backward()
    return loss, x.grad, w.grad


def test_gradients_flow_through_eager_code_before_and_after_a_traced_function():
    for got, expected in zip(eager_traced_eager(tracer.trace(layer)), eager_traced_eager(layer)):
        assert_close(got.detach(), expected.detach())


def test_a_traced_function_called_inside_another_trace_is_inlined():
    inner = tracer.trace(layer)
    outer = tracer.trace(lambda h, w: inner(inner(h, w) @ w.t(), w).sum())
    x, w = leaf(rand(3, 4)), leaf(rand(4, 2, seed=1))
    out = outer(x, w)
    out.backward()
    ex, ew = leaf(rand(3, 4)), leaf(rand(4, 2, seed=1))
    expected = layer(layer(ex, ew) @ ew.t(), ew).sum()
    expected.backward()
    assert_close(out.detach(), expected.detach())
    assert_close(x.grad, ex.grad)
    assert_close(w.grad, ew.grad)
    assert inner.cache_info().entries == 0  # nothing staged on its own
    assert outer.ir(x, w).count("matmul") == 3


def test_a_traced_result_feeds_eager_autograd_grad():
    x = leaf(rand(3, 4))
    w = leaf(rand(4, 2, seed=1))
    (gx,) = tracer.autograd.grad(tracer.trace(layer)(x, w).sum(), [x])
    (ex,) = tracer.autograd.grad(layer(x, w).sum(), [x])
    assert_close(gx, ex)


# ---- captured tensors ----------------------------------------------------------------------

SCALE = tracer.tensor([1.0, 2.0])


def times_global_scale(x):
    return x * SCALE


def test_a_captured_tensor_is_read_afresh_on_every_call():
    scale = tracer.tensor([1.0, 2.0])
    f = tracer.trace(lambda x: x * scale)
    assert f(tracer.ones(2)).tolist() == [1.0, 2.0]
    scale.mul_(10)  # in place
    assert f(tracer.ones(2)).tolist() == [10.0, 20.0]
    assert f.cache_info()[:2] == (1, 1)


def test_rebinding_a_captured_closure_variable_is_seen():
    scale = tracer.tensor([1.0, 2.0])

    def fn(x):
        return x * scale

    f = tracer.trace(fn)
    assert f(tracer.ones(2)).tolist() == [1.0, 2.0]
    scale = tracer.tensor([3.0, 4.0])
    assert f(tracer.ones(2)).tolist() == [3.0, 4.0]
    scale = tracer.tensor([5.0])  # another shape: traced again
    assert f(tracer.ones(2)).tolist() == [5.0, 5.0]
    assert "captured from outside the function changed shape" in f.explain()
    assert f.cache_info()[:2] == (1, 2)


def test_rebinding_a_captured_global_is_seen():
    global SCALE
    f = tracer.trace(times_global_scale)
    old = SCALE
    try:
        assert f(tracer.ones(2)).tolist() == [1.0, 2.0]
        SCALE = tracer.tensor([5.0, 6.0])
        assert f(tracer.ones(2)).tolist() == [5.0, 6.0]
        assert f.cache_info()[:2] == (1, 1)  # same shape: no retrace
    finally:
        SCALE = old


def test_a_captured_tensor_that_requires_grad_receives_grad():
    w = leaf(rand(4, 2))
    x = rand(3, 4, seed=1)
    f = tracer.trace(lambda x: (x @ w).tanh().sum())
    f(tracer.tensor(x)).backward()
    we = leaf(w.detach().numpy())
    (tracer.tensor(x) @ we).tanh().sum().backward()
    assert_close(w.grad, we.grad)
    f(tracer.tensor(x)).backward()  # accumulates, as eagerly
    assert_close(w.grad, we.grad * 2)


def test_a_captured_tensor_updated_by_an_optimizer_step_is_seen():
    w = leaf(np.array([1.0, -2.0]))
    f = tracer.trace(lambda x: ((x * w) ** 2).sum())
    losses = []
    for _ in range(3):
        loss = f(tracer.ones(2))
        loss.backward()
        with tracer.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
        losses.append(loss.item())
    assert losses == pytest.approx([5.0, 5.0 * 0.8**2, 5.0 * 0.8**4])


class Linear:
    def __init__(self, w):
        self.w = w

    @tracer.trace
    def forward(self, x):
        return (x @ self.w).tanh().sum()


def test_a_traced_method_binds_its_instance_and_reads_its_attributes():
    a, b = Linear(leaf(rand(4, 2))), Linear(leaf(rand(4, 2, seed=1)))
    x = tracer.tensor(rand(3, 4, seed=2))
    a.forward(x).backward()
    b.forward(x).backward()
    for m in (a, b):
        e = leaf(m.w.detach().numpy())
        (x @ e).tanh().sum().backward()
        assert_close(m.w.grad, e.grad)
    a.w = tracer.tensor(rand(4, 2, seed=3))  # rebinding the attribute is seen
    assert_close(a.forward(x), (x @ a.w).tanh().sum())
    assert Linear.forward.cache_info()[:2] == (1, 2)  # one entry per instance


def test_an_eager_op_on_a_captured_tensor_is_recomputed_on_every_call():
    w = tracer.tensor([1.0, 2.0])
    f = tracer.trace(lambda x: x * (w * 2))  # w * 2 involves no traced value
    f(tracer.ones(2))
    w.mul_(10)
    assert f(tracer.ones(2)).tolist() == [20.0, 40.0]


# Issue 10, kind 7: a compiled function never computes with a value the user's code
# would no longer read. Captured tensors are re-read along the path the function
# reaches them by; numbers it reads are checked.

ONES = tracer.ones(3)
PARAMS = {"w": tracer.ones(3)}


def dict_param_sum(x):
    return (x * PARAMS["w"]).sum()


def test_the_issues_example_a_rebound_dict_of_parameters_is_read_again():
    global PARAMS
    saved = PARAMS
    try:
        f = tracer.trace(dict_param_sum)
        assert f(ONES).item() == 3.0
        PARAMS = {"w": tracer.full((3,), 5.0)}  # a new dict under the global name
        assert f(ONES).item() == 15.0
        PARAMS["w"] = tracer.full((3,), 7.0)  # a new tensor in the dict
        assert f(ONES).item() == 21.0
        assert f.cache_info()[:2] == (2, 1)  # same shapes: the same compiled code
    finally:
        PARAMS = saved


class Box:
    pass


def test_tensors_deep_in_lists_and_objects_are_read_again():
    model = Box()
    model.layers = [Box(), Box()]
    model.layers[1].w = tracer.ones(3)
    weights = [tracer.ones(3), tracer.ones(3)]
    f = tracer.trace(lambda x: (x * model.layers[1].w).sum() + (x * weights[1]).sum())
    assert f(ONES).item() == 6.0
    model.layers[1].w = tracer.full((3,), 2.0)
    weights[1] = tracer.full((3,), 10.0)
    assert f(ONES).item() == 36.0
    assert f.cache_info().misses == 1


HELPER_W = tracer.ones(3)


def scaled_by_helper_w(x):
    return x * HELPER_W


def test_a_tensor_read_by_a_helper_function_is_read_again():
    global HELPER_W
    saved = HELPER_W
    try:
        f = tracer.trace(lambda x: scaled_by_helper_w(x).sum())
        assert f(ONES).item() == 3.0
        HELPER_W = tracer.full((3,), 3.0)
        assert f(ONES).item() == 9.0
    finally:
        HELPER_W = saved


def test_a_captured_tensor_of_another_shape_retraces_and_says_where():
    params = {"w": tracer.ones(3)}
    f = tracer.trace(lambda x: (x * params["w"]).sum())
    f(ONES)
    params["w"] = tracer.ones(1) * 4
    assert f(ONES).item() == 12.0
    assert f.explain() == (
        "retraced: a tensor captured from outside the function changed shape: "
        "params['w'] (3,) -> (1,)"
    )
    params["w"] = 2.0  # not a tensor any more: traced again, as eagerly
    assert f(ONES).item() == 6.0
    assert "params['w'], a tensor captured from outside the function, now holds a float" in (
        f.explain()
    )


def test_a_captured_path_that_no_longer_resolves_retraces_and_fails_as_eagerly():
    params = {"w": tracer.ones(3)}
    f = tracer.trace(lambda x: (x * params["w"]).sum())
    f(ONES)
    del params["w"]
    with pytest.raises(KeyError, match="'w'"):
        f(ONES)


def test_value_and_grad_differentiates_the_parameters_the_function_reads_now():
    params = {"w": tracer.ones(3, requires_grad=True)}
    x = tracer.tensor([1.0, 2.0, 3.0])
    f = tracer.trace(lambda x: (x * params["w"] ** 2).sum())
    f(x).backward()
    assert params["w"].grad.tolist() == [2.0, 4.0, 6.0]  # d/dw = 2 w x
    params["w"] = tracer.full((3,), 3.0, requires_grad=True)
    out = f(x)
    out.backward()
    assert out.item() == 54.0 and params["w"].grad.tolist() == [6.0, 12.0, 18.0]


LR = 0.5


def lr_scaled(x):
    return (x * LR).sum()


def test_numbers_read_from_outside_are_checked_at_each_call():
    global LR
    hp = {"lr": 0.5}
    cfg = Box()
    cfg.lr = 0.5
    closure_lr = 0.5
    fns = {
        "global": tracer.trace(lr_scaled),
        "closure": tracer.trace(lambda x: (x * closure_lr).sum()),
        "dict item": tracer.trace(lambda x: (x * hp["lr"]).sum()),
        "attribute": tracer.trace(lambda x: (x * cfg.lr).sum()),
    }
    saved = LR
    try:
        assert [f(ONES).item() for f in fns.values()] == [1.5] * 4
        LR = closure_lr = hp["lr"] = cfg.lr = 2.0
        assert [f(ONES).item() for f in fns.values()] == [6.0] * 4
        assert fns["dict item"].explain() == (
            "retraced: hp['lr'], read from outside the function, changed: 0.5 -> 2.0"
        )
        LR = closure_lr = hp["lr"] = cfg.lr = 2.0  # equal values: nothing to retrace
        assert [f(ONES).item() for f in fns.values()] == [6.0] * 4
        assert [f.cache_info().misses for f in fns.values()] == [2] * 4
    finally:
        LR = saved


def test_a_rebound_numpy_array_read_from_outside_retraces():
    table = np.ones(3, np.float32)
    f = tracer.trace(lambda x: (x * table).sum())
    assert f(ONES).item() == 3.0
    table = np.full(3, 4.0, np.float32)
    assert f(ONES).item() == 12.0


class Scaler:
    def __init__(self):
        self.w = tracer.ones(3)
        self.gain = 1.0

    @tracer.trace
    def __call__(self, x):
        return (x * self.w * self.gain).sum()


def test_a_traced_method_sees_new_attribute_values():
    s = Scaler()
    assert s(ONES).item() == 3.0
    s.gain = 10.0
    s.w = tracer.full((3,), 2.0)
    assert s(ONES).item() == 60.0


def test_a_detached_captured_tensor_is_read_again():
    w = tracer.ones(3)
    f = tracer.trace(lambda x: (x * w.detach()).sum())
    assert f(ONES).item() == 3.0
    w = tracer.full((3,), 9.0)
    assert f(ONES).item() == 27.0


def test_a_tensor_made_inside_the_function_is_a_constant_without_warning():
    f = tracer.trace(lambda x: (x * tracer.tensor([1.0, 2.0, 3.0])).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(ONES).item() == 6.0
        assert f(ONES).item() == 6.0


def test_a_captured_tensor_reached_by_an_unfollowable_way_warns_and_is_read_by_reference():
    hidden = [{tracer.ones(3)}]  # inside a set: no path to re-read
    f = tracer.trace(lambda x: (x * next(iter(hidden[0]))).sum())
    with pytest.warns(tracer.TracerWarning, match="Pass it as an argument") as record:
        assert f(ONES).item() == 3.0
    assert "float32 tensor of shape (3,)" in str(record[0].message)
    next(iter(hidden[0])).mul_(2)  # in-place updates are still seen
    assert f(ONES).item() == 6.0


# a traced value that escapes its trace fails at its first use, saying what happened
ESCAPED_USES = {
    "an op": lambda t: t + 1,
    "float()": lambda t: float(t.sum()),
    ".numpy()": lambda t: t.numpy(),
    "np.asarray": lambda t: np.asarray(t),
    "tracer.tensor": lambda t: tracer.tensor(t),
    "an op with an eager tensor": lambda t: tracer.ones(3) * t,
    "in-place": lambda t: t.add_(1),
    "backward()": lambda t: t.sum().backward(),
    "autograd.grad": lambda t: tracer.autograd.grad(t, [t]),
}


@pytest.mark.parametrize("use", ESCAPED_USES.values(), ids=ESCAPED_USES.keys())
def test_a_traced_value_stored_outside_its_trace_fails_at_first_use(use):
    kept = []

    @tracer.trace
    def f(x):
        kept.append(x * 2)  # the mistake
        return x.sum()

    f(ONES)
    with pytest.raises(tracer.TraceError) as info:
        use(kept[0])
    message = str(info.value)
    assert "escaped from another trace: it was made while tracing f()" in message
    assert "made while tracing f(), at test_trace_semantics.py:" in message  # where it was made
    assert "after that trace finished" in message and "Return it from the function" in message
    assert "inside @tracer.trace" not in message


def test_random_numbers_drawn_inside_a_traced_function_are_fresh_on_every_call():
    f = tracer.trace(lambda x: x + tracer.randn(3))
    assert f(tracer.zeros(3)).tolist() != f(tracer.zeros(3)).tolist()


def test_an_in_place_update_of_an_outside_tensor_runs_at_every_call():
    calls = tracer.zeros(())
    f = tracer.trace(lambda x: (calls.add_(1), x * 2)[1])
    for n in (1, 2, 3):
        assert f(tracer.ones(2)).tolist() == [2.0, 2.0]
        assert calls.item() == n  # as eager mode: once per call, not once at trace time
    assert f.cache_info().misses == 1


def test_tensor_methods_that_need_no_value_work_on_traced_values():
    @tracer.trace
    def f(x):
        assert x.device == "cpu" and x.dim() == 1 and x.numel() == 2 and len(x) == 2
        return tracer.where((x > 0).any(), x, -x), (x > 0).all(), x.size(0) * x

    for data in ([-1.0, 2.0], [-1.0, -2.0], [1.0, 2.0]):
        x = tracer.tensor(data)
        got, expected = f(x), (tracer.where((x > 0).any(), x, -x), (x > 0).all(), 2 * x)
        for g, e in zip(got, expected):
            assert_close(g, e)


# ---- the signature cache -------------------------------------------------------------------


def scaled(x, n=2, *, mode="mul"):
    return x * n if mode == "mul" else x + n


@pytest.mark.parametrize(
    "first,second,why",
    [
        ((tracer.ones(3),), (tracer.ones(4),), "x: shape (3,) -> (4,)"),
        ((tracer.ones(3),), (tracer.ones(3, dtype=tracer.float64),), "x: dtype float32 -> float64"),
        (
            (tracer.ones(3),),
            (tracer.ones(3, requires_grad=True),),
            "x: requires_grad False -> True",
        ),
        # numbers are traced: a new value is the same signature, a new type is not
        (
            (tracer.ones(3), 2),
            (tracer.ones(3), 2.0),
            "argument 'n': a Python int -> a Python float",
        ),
        ((tracer.ones(3),), (tracer.ones(3), 3), "argument 'n': not passed -> a Python int"),
        # static numbers: each value is a signature
        ((tracer.ones(3), 2), (tracer.ones(3), 5), "argument 'n': 2 -> 5"),
        ((tracer.ones(3), 0.0), (tracer.ones(3), -0.0), "argument 'n': 0.0 -> -0.0"),
    ],
)
def test_retrace_explains_what_changed(first, second, why):
    static = "a Python" not in why and "argument 'n'" in why
    f = tracer.trace(scaled, static_argnums=1) if static else tracer.trace(scaled)
    assert f.explain() == "not called yet"
    f(*first)
    assert f.explain() == "first call: traced for this signature"
    f(*first)
    assert f.cache_info()[:2] == (1, 1)
    out = f(*second)
    assert f.explain() == f"retraced: {why}"
    assert f.cache_info().hits == 1 and f.cache_info().misses == 2
    assert f.cache_info().entries == 2
    assert_close(out.detach(), scaled(*second).detach())


def test_retrace_on_keyword_and_nested_structure_changes():
    f = tracer.trace(scaled)
    f(tracer.ones(3))
    f(tracer.ones(3), mode="add")
    assert f.explain() == "retraced: keyword argument 'mode': not passed -> 'add'"
    g = tracer.trace(lambda d: d["a"] * 2 + d["b"].sum())
    g({"a": tracer.ones(2), "b": tracer.ones(3)})
    g({"a": tracer.ones(2), "b": tracer.ones(4)})
    assert g.explain() == "retraced: d['b']: shape (3,) -> (4,)"


def test_cache_info_counts_and_clear_cache():
    f = tracer.trace(scaled, static_argnums=1)  # a signature per value of n
    for n in (1, 2, 1, 2, 2):
        f(tracer.ones(2), n)
    info = f.cache_info()
    assert (info.hits, info.misses, info.entries) == (3, 2, 2)
    assert info.trace_seconds > 0 and info.compile_seconds > 0
    f.clear_cache()
    assert f.cache_info().entries == 0
    f(tracer.ones(2), 1)
    assert f.cache_info().misses == 3


def test_value_and_grad_recompiles_after_clear_cache():
    vg = tracer.value_and_grad(lambda x, k: (x * k).sum())
    for k in (2.0, 3.0, 4.0):
        assert vg(tracer.ones(2), k)[1].tolist() == [k, k]
        vg.clear_cache()


# ---- static arguments and Python control flow ---------------------------------------------


def test_static_argnums_drive_python_control_flow():
    @tracer.trace(static_argnums=1)
    def repeat(x, n):
        for _ in range(n):
            x = x * 2
        return x

    assert repeat(tracer.ones(2), 3).tolist() == [8.0, 8.0]
    assert repeat.ir(tracer.ones(2), 3).count("mul") == 3
    assert repeat(tracer.ones(2), 1).tolist() == [2.0, 2.0]
    assert repeat.explain() == "retraced: argument 'n': 3 -> 1"


def test_static_argnames_and_string_arguments():
    def reduce(x, how):
        return x.sum() if how == "sum" else x.mean()

    f = tracer.trace(reduce, static_argnames="how")
    x = tracer.tensor([1.0, 2.0, 3.0])
    assert f(x, how="sum").item() == 6.0
    assert f(x, how="mean").item() == 2.0
    assert f(x, "sum").item() == 6.0  # strings are static anyway


def test_a_static_argument_is_static_by_position_or_by_name():
    by_number = tracer.trace(scaled, static_argnums=1)
    by_name = tracer.trace(scaled, static_argnames="n")
    for f in (by_number, by_name):
        with pytest.raises(TypeError, match="static argument 'n' is a tensor"):
            f(tracer.ones(2), tracer.ones(2))
        with pytest.raises(TypeError, match="static argument 'n' is a tensor"):
            f(tracer.ones(2), n=tracer.ones(2))
        assert f(tracer.ones(2), n=3).tolist() == [3.0, 3.0]


def test_explain_names_variadic_arguments():
    f = tracer.trace(lambda *xs: sum(x.sum() for x in xs))
    f(tracer.ones(2), tracer.ones(3))
    f(tracer.ones(2), tracer.ones(4))
    assert f.explain() == "retraced: xs[1]: shape (3,) -> (4,)"


def test_python_control_flow_on_shapes():
    @tracer.trace
    def flatten_if_matrix(x):
        if x.ndim == 2 and x.shape[0] > 1:
            return x.reshape(-1) * x.shape[1]
        return x * len(x)

    assert flatten_if_matrix(tracer.ones(2, 3)).tolist() == [3.0] * 6
    assert flatten_if_matrix(tracer.ones(4)).tolist() == [4.0] * 4


def test_static_arguments_must_be_hashable_python_values():
    f = tracer.trace(scaled, static_argnums=1)
    with pytest.raises(TypeError, match="static argument 'n' must be hashable"):
        f(tracer.ones(2), [1, 2])
    with pytest.raises(TypeError, match="static argument 'n' is a tensor"):
        f(tracer.ones(2), tracer.ones(2))


def test_static_zero_sign_is_part_of_the_key():
    f = tracer.trace(scaled)
    assert not np.signbit(f(tracer.ones(1), 0.0).numpy()).any()
    assert np.signbit(f(tracer.ones(1), -0.0).numpy()).all()
    assert f(tracer.ones(1), (0.0, 1)[0]).dtype == tracer.float32
    assert f(tracer.tensor([3]), 2).dtype == tracer.int64
    assert f(tracer.tensor([3]), 2.0).dtype == tracer.float32


# ---- structured arguments and results -----------------------------------------------------

Params = namedtuple("Params", "w b")


def structured(p, xs, opts):
    h = xs[0] @ p.w + p.b
    return {
        "y": h * opts["scale"],
        "stats": [h.sum(), (xs[1] * 2,)],
        "n": h.shape[0],
        "tag": opts["tag"],
        "none": None,
    }


def structured_args(requires_grad=False):
    p = Params(leaf(rand(3, 2), requires_grad), leaf(rand(2, seed=1), requires_grad))
    xs = [leaf(rand(4, 3, seed=2), False), leaf(rand(5, seed=3), requires_grad)]
    return p, xs, {"scale": 0.5, "tag": "hi"}


def test_tuples_lists_dicts_and_namedtuples_in_and_out():
    out = tracer.trace(structured)(*structured_args())
    expected = structured(*structured_args())
    assert set(out) == set(expected) and (out["n"], out["tag"], out["none"]) == (4, "hi", None)
    assert isinstance(out["stats"], list) and isinstance(out["stats"][1], tuple)
    assert_close(out["y"], expected["y"])
    assert_close(out["stats"][0], expected["stats"][0])
    assert_close(out["stats"][1][0], expected["stats"][1][0])


def test_gradients_reach_leaves_inside_structures():
    args = structured_args(requires_grad=True)
    out = tracer.trace(structured)(*args)
    (out["y"].sum() + out["stats"][1][0].sum()).backward()
    eager = structured_args(requires_grad=True)
    e = structured(*eager)
    (e["y"].sum() + e["stats"][1][0].sum()).backward()
    for got, want in [(args[0].w, eager[0].w), (args[0].b, eager[0].b), (args[1][1], eager[1][1])]:
        assert_close(got.grad, want.grad)


def test_value_and_grad_returns_gradients_shaped_like_the_parameters():
    def loss(params, x):
        return ((x @ params["w"] + params["b"]) ** 2).mean()

    params = {"w": tracer.tensor(rand(3, 2)), "b": tracer.tensor(rand(2, seed=1))}
    x = tracer.tensor(rand(4, 3, seed=2))
    value, grads = tracer.value_and_grad(loss)(params, x)
    assert set(grads) == {"w", "b"}
    eager = {k: leaf(v.numpy()) for k, v in params.items()}
    expected = loss(eager, x)
    expected.backward()
    assert_close(value, expected.detach())
    for k in grads:
        assert_close(grads[k], eager[k].grad)


def test_gradients_of_structures_cover_numbers_and_give_none_for_static_leaves():
    def loss(params, scale):
        return (params["w"] * params["n"] * scale[0]).sum()

    params = {"w": tracer.tensor([1.0, 2.0]), "n": 3.0, "tag": "layer"}
    grads = tracer.grad(loss, argnums=(0, 1))(params, (tracer.tensor(2.0), "label"))
    assert grads[0]["tag"] is None and grads[1][1] is None  # strings are static
    assert grads[0]["w"].tolist() == [6.0, 6.0] and grads[1][0].item() == 9.0
    assert grads[0]["n"].item() == 6.0  # d/dn: (1 + 2) * 2


def test_numpy_array_inputs():
    x = rand(3, 2)
    f = tracer.trace(lambda x, y: (x * y).sum(1))
    out = f(x, tracer.tensor(x))
    assert isinstance(out, tracer.Tensor)
    assert_close(out, tracer.tensor((x * x).sum(1)))
    g = tracer.grad(lambda x: (x**2).sum())(x)
    assert_close(g, tracer.tensor(2 * x))
    np.testing.assert_array_equal(x, rand(3, 2))  # not modified


def test_results_never_alias_inputs_or_each_other():
    x = tracer.ones(3)
    same = tracer.trace(lambda x: (x, x.reshape(3), x * 1))(x)
    for t in same:
        t.add_(1)
    assert x.tolist() == [1.0, 1.0, 1.0]
    gx, gy = tracer.grad(lambda x, y: (x + y).sum(), argnums=(0, 1))(x, x)
    gx.mul_(5)  # a gradient is writeable and owns its memory
    assert (gx.tolist(), gy.tolist()) == ([5.0] * 3, [1.0] * 3)


# ---- autograd misuse through a traced function ---------------------------------------------


def test_backward_twice_raises_and_retain_graph_allows_it():
    x = leaf(rand(3))
    f = tracer.trace(lambda x: (x.exp() * x).sum())
    out = f(x)
    out.backward()
    with pytest.raises(tracer.AutogradError, match="retain_graph=True"):
        out.backward()
    x.grad = None
    out = f(x)
    out.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    out.backward()
    assert_close(x.grad, tracer.tensor(2 * first))


def test_changing_an_input_in_place_after_the_call_raises_at_backward():
    x, w = tracer.tensor(rand(3, 4)), leaf(rand(4, 2, seed=1))
    out = tracer.trace(lambda x, w: (x.t().t() @ w).sum())(x, w)
    x.add_(1)
    with pytest.raises(tracer.AutogradError, match="modified by an in-place operation"):
        out.backward()


def test_changing_an_output_saved_for_backward_raises_like_eager_mode():
    x = leaf(rand(3))
    y = tracer.trace(lambda x: x.exp())(x)  # exp's backward reads its output
    y.add_(1)
    with pytest.raises(tracer.AutogradError, match="output .* was modified by an in-place"):
        y.sum().backward()


def test_changing_an_output_not_needed_by_backward_is_fine():
    x = leaf(rand(3))
    y = tracer.trace(lambda x: x * 2)(x)
    y.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_create_graph_through_a_traced_function_gives_second_derivatives():
    x = leaf(rand(3))
    out = tracer.trace(lambda x: (x**3).sum())(x)
    (g,) = tracer.autograd.grad(out, [x], create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy(), rtol=1e-6)


# ---- in-place updates inside traced code -----------------------------------------------------


def updates_a_clone(x, v):
    y = x.clone()
    y[0] = y[1] * 2  # a view read before the write
    y += 1
    y[:, 1] = v
    y.mul_(x)
    y[y.detach() > 1] = 0.5  # a boolean mask of y's shape: tracer.where
    return y.sum(0)


def test_in_place_updates_of_local_tensors_match_eager_mode():
    x, v = rand(3, 4), rand(3, seed=1)
    xs = [leaf(x), leaf(v)]
    out = tracer.trace(updates_a_clone)(*xs)
    eager = [leaf(x), leaf(v)]
    expected = updates_a_clone(*eager)
    assert_close(out.detach(), expected.detach())
    g = rand(4, seed=2)
    out.backward(tracer.tensor(g))
    expected.backward(tracer.tensor(g))
    for got, want in zip(xs, eager):
        assert_close(got.grad, want.grad)
    grads = tracer.grad(
        lambda x, v: (updates_a_clone(x, v) * tracer.tensor(g)).sum(), argnums=(0, 1)
    )(tracer.tensor(x), tracer.tensor(v))
    for got, want in zip(grads, eager):
        assert_close(got, want.grad)


# ---- special values -------------------------------------------------------------------------


def rewrites_that_must_not_happen(x):
    return x * 1 - 0, x * 0, x + 0.0, x / 1, -x.neg(), x**1, x**2, x.sum(), x.amax()


def test_nan_inf_and_negative_zero_are_preserved_bit_for_bit():
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 2.5], np.float32)
    with np.errstate(all="ignore"):
        traced = tracer.trace(rewrites_that_must_not_happen)(tracer.tensor(x))
        eager = rewrites_that_must_not_happen(tracer.tensor(x))
    for t, e in zip(traced, eager):
        t, e = t.numpy(), e.numpy()
        np.testing.assert_array_equal(t, e)
        np.testing.assert_array_equal(np.signbit(t) & ~np.isnan(t), np.signbit(e) & ~np.isnan(e))
    np.testing.assert_array_equal(
        np.signbit(tracer.trace(lambda x: x.sum())(tracer.tensor(-0.0)).numpy()),
        np.signbit(tracer.tensor(-0.0).sum().numpy()),
    )


# ---- workloads: traced and eager agree through all three entry points -------------------------


def notebook_loss(x):
    return (x**2 - 5).sum()


def mlp(x, w1, b1, w2, b2, y):
    return F.cross_entropy(F.relu(x @ w1 + b1) @ w2 + b2, y)


def softmax_loss(x):
    return (x.softmax(-1) * tracer.tensor(np.arange(4.0))).sum()


def logsumexp_loss(x):
    return x.logsumexp(1).sum() + (x * 100).logsumexp(0).mean()


def indexing(x, i):
    return (x[i].sum(1) * x[1:, ::2].sum() + x[..., -1][None]).sum() + x[i[0], 1]


def batched_matmul(a, b):
    return (a @ b).tanh().mean() + (a.mT @ a).sum()


def broadcasting(x, y, z):
    return ((x + y) * z - y / (z * z + 1)).sum()


def labels(n, k, seed):
    return np.random.default_rng(seed).integers(0, k, n)


WORKLOADS = [
    ("notebook_loss", notebook_loss, lambda d: [rand(5, dtype=d)]),
    (
        "mlp",
        mlp,
        lambda d: [
            rand(8, 20, dtype=d),
            rand(20, 16, seed=1, dtype=d) * 0.3,
            rand(16, seed=2, dtype=d),
            rand(16, 10, seed=3, dtype=d) * 0.3,
            rand(10, seed=4, dtype=d),
            labels(8, 10, 5),
        ],
    ),
    ("softmax", softmax_loss, lambda d: [rand(3, 4, dtype=d)]),
    ("logsumexp", logsumexp_loss, lambda d: [rand(3, 4, dtype=d)]),
    ("indexing", indexing, lambda d: [rand(4, 5, dtype=d), np.array([2, 0, 2, 3])]),
    (
        "batched_matmul",
        batched_matmul,
        lambda d: [rand(2, 3, 4, dtype=d), rand(4, 5, seed=1, dtype=d)],
    ),
    (
        "broadcasting",
        broadcasting,
        lambda d: [rand(3, 1, dtype=d), rand(4, seed=1, dtype=d), rand(2, 1, 1, seed=2, dtype=d)],
    ),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name,fn,make", WORKLOADS, ids=[w[0] for w in WORKLOADS])
def test_workloads_traced_equal_eager_through_all_entry_points(name, fn, make, dtype):
    arrays = make(dtype)
    diff = tuple(i for i, a in enumerate(arrays) if a.dtype.kind == "f")
    eager = [leaf(a, a.dtype.kind == "f") for a in arrays]
    expected = fn(*eager)
    expected.backward()
    want = [eager[i].grad for i in diff]

    traced = [leaf(a, a.dtype.kind == "f") for a in arrays]
    out = tracer.trace(fn)(*traced)
    out.backward()
    assert_close(out.detach(), expected.detach())
    for i, w in zip(diff, want):
        assert_close(traced[i].grad, w, err_msg=f"backward, input {i}")

    plain = [tracer.tensor(a) for a in arrays]
    value, grads = tracer.value_and_grad(fn, argnums=diff)(*plain)
    assert_close(value, expected.detach())
    for i, g, g2, w in zip(diff, grads, tracer.grad(fn, argnums=diff)(*plain), want):
        assert_close(g, w, err_msg=f"value_and_grad, input {i}")
        assert_close(g2, w, err_msg=f"grad, input {i}")
    for t, a in zip(plain, arrays):
        np.testing.assert_array_equal(t.numpy(), a)


def test_a_traced_function_called_on_captured_tensors_inside_another_is_inlined():
    w = tracer.ones(3)
    inner = tracer.trace(lambda w: w * 2)
    outer = tracer.trace(lambda x: (x * inner(w)).sum())  # inner(w): no traced value
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # w is found and read again: nothing to warn
        assert outer(ONES).item() == 6.0
    w.mul_(5)
    assert outer(ONES).item() == 30.0


def test_creation_like_functions_take_traced_values_and_follow_their_shape():
    f = tracer.trace(
        lambda x: (
            tracer.zeros_like(x),
            tracer.ones_like(x, dtype=tracer.float64),
            tracer.full_like(x, 2.7, dtype=tracer.int64),  # truncated, as eagerly
            tracer.empty_like(x).shape,
        )
    )
    for n in (2, 3):
        x = tracer.ones(n)
        zeros, ones, full, shape = f(x)
        eager = tracer.full_like(x, 2.7, dtype=tracer.int64)
        assert (zeros.tolist(), ones.dtype, full.tolist(), tuple(shape)) == (
            [0.0] * n,
            tracer.float64,
            eager.tolist(),
            (n,),
        )
    with pytest.raises(tracer.TraceError, match="requires_grad=True"):
        tracer.trace(lambda x: tracer.zeros_like(x, requires_grad=True))(tracer.ones(2))
