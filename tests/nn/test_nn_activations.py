"""The activation modules of tracer.nn and the parts of their functionals the spec table
cannot state: constructors and reprs (PyTorch's), in-place options, PReLU's parameter,
RReLU's random slopes in training, and the errors for bad options."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tracer
import tracer.nn.functional as F
from compiler.errors import DTypeError, ShapeError, TraceError
from tracer import nn

# (constructor call as text, evaluated on tracer.nn and on torch.nn)
MODULES = [
    "GELU()",
    "GELU('tanh')",
    "SiLU()",
    "SiLU(inplace=True)",
    "Mish()",
    "ELU()",
    "ELU(alpha=0.5, inplace=True)",
    "SELU()",
    "CELU(2.0)",
    "LeakyReLU()",
    "LeakyReLU(0.2, True)",
    "Hardtanh()",
    "Hardtanh(-2, 2, True)",
    "ReLU6()",
    "ReLU6(inplace=True)",
    "Hardsigmoid()",
    "Hardswish()",
    "Softplus()",
    "Softplus(2, 10)",
    "Softsign()",
    "LogSigmoid()",
    "GLU()",
    "GLU(dim=0)",
    "Tanhshrink()",
    "Softshrink()",
    "Softshrink(0.25)",
    "Hardshrink(0.75)",
    "Threshold(0.5, 2.0)",
    "Threshold(0.1, 20, True)",
    "PReLU()",
    "PReLU(3, 0.1)",
    "Softmin(1)",
    "RReLU()",
    "RReLU(0.1, 0.2, True)",
    "CosineSimilarity()",
    "PairwiseDistance()",
    "ReLU(inplace=True)",
]


@pytest.mark.parametrize("call", MODULES)
def test_repr_is_pytorchs(call):
    torch_nn = pytest.importorskip("torch").nn
    assert repr(eval(call, {}, vars(nn))) == repr(eval(call, {}, vars(torch_nn)))


# (module, the functional call it must equal)
FORWARD = [
    (nn.GELU("tanh"), lambda x: F.gelu(x, approximate="tanh")),
    (nn.ELU(alpha=0.5), lambda x: F.elu(x, 0.5)),
    (nn.CELU(2.0), lambda x: F.celu(x, 2.0)),
    (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    (nn.Hardtanh(-0.5, 0.25), lambda x: F.hardtanh(x, -0.5, 0.25)),
    (nn.Softplus(2, 1), lambda x: F.softplus(x, 2, 1)),
    (nn.Softshrink(0.25), lambda x: F.softshrink(x, 0.25)),
    (nn.Hardshrink(0.75), lambda x: F.hardshrink(x, 0.75)),
    (nn.Threshold(0.5, -3.0), lambda x: F.threshold(x, 0.5, -3.0)),
    (nn.GLU(0), lambda x: F.glu(x, 0)),
    (nn.Softmin(1), lambda x: F.softmin(x, 1)),
]


@pytest.mark.parametrize("module,functional", FORWARD, ids=[repr(m) for m, _ in FORWARD])
def test_module_forward_is_its_functional(module, functional):
    x = tracer.tensor(np.linspace(-2, 2, 12, dtype=np.float32).reshape(4, 3))
    np.testing.assert_array_equal(module(x).numpy(), functional(x).numpy())


@pytest.mark.parametrize(
    "module,node",
    [
        (nn.ELU(inplace=True), "EluBackward1"),
        (nn.SELU(inplace=True), "EluBackward1"),
        (nn.CELU(inplace=True), "CeluBackward1"),
        (nn.LeakyReLU(inplace=True), "LeakyReluBackward1"),
        (nn.Hardtanh(inplace=True), "HardtanhBackward0"),
        (nn.ReLU6(inplace=True), "HardtanhBackward0"),
        (nn.SiLU(inplace=True), "SiluBackward0"),
        (nn.Mish(inplace=True), "MishBackward0"),
        (nn.Hardswish(inplace=True), "HardswishBackward0"),
        (nn.Threshold(0.1, 2.0, inplace=True), "ThresholdBackward1"),
        (nn.RReLU(inplace=True).eval(), "RreluWithNoiseBackward1"),
        (nn.ReLU(inplace=True), "ReluBackward0"),
    ],
)
def test_inplace_modules_write_into_their_input(module, node):
    leaf = tracer.tensor([-1.5, 0.25, 2.0], requires_grad=True)
    x = leaf * 1
    out = module(x)
    assert out is x and out.grad_fn.name() == node
    out.sum().backward()
    assert leaf.grad is not None


def test_prelu_has_one_learnt_slope_per_channel():
    m = nn.PReLU(3, init=0.1)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == [("weight", (3,))]
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.full(3, 0.1, np.float32))
    x = tracer.tensor([[[-1.0, 2.0], [-3.0, 4.0], [-5.0, 6.0]]])
    m(x).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), [-1.0, -3.0, -5.0])


def test_prelu_refuses_a_weight_that_does_not_match_the_channels():
    with pytest.raises(ShapeError, match="number of weights"):
        F.prelu(tracer.ones(2, 3), tracer.ones(2))


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda x: F.hardtanh(x, 1.0, -1.0), ValueError, "min_val cannot be greater"),
        (lambda x: F.celu(x, alpha=0.0), ValueError, "alpha must not be 0"),
        (lambda x: F.glu(x[:, :3]), ShapeError, "halving dimension must be even"),
        (lambda x: F.gelu(x, approximate="fast"), ValueError, "approximate must be"),
        (lambda x: F.softshrink(x, -1.0), ValueError, "lambda must be greater or equal to 0"),
        (lambda x: F.rrelu(x, 0.5, 0.1), ValueError, "lower bound should be less"),
        (lambda x: F.silu(x.long()), TypeError, "floating point"),
        (lambda x: F.normalize(x, out=x), TypeError, "out= is not supported"),
        (lambda x: F.elu([1.0]), TypeError, "must be a tensor"),
        (lambda x: F.prelu(x, x[0, :1].double()), DTypeError, "same dtype"),
    ],
)
def test_bad_options_are_refused(call, error, match):
    with pytest.raises(error, match=match):
        call(tracer.ones(2, 4))


def test_rrelu_in_eval_mode_uses_the_mean_slope():
    m = nn.RReLU(0.1, 0.3).eval()
    out = m(tracer.tensor([-2.0, 3.0]))
    np.testing.assert_allclose(out.numpy(), [-0.4, 3.0], rtol=1e-6)


def test_rrelu_in_training_draws_slopes_from_the_global_generator():
    x = tracer.tensor(np.linspace(-2, 1, 7, dtype=np.float32), requires_grad=True)
    tracer.manual_seed(3)
    a = F.rrelu(x, 0.1, 0.3, training=True)
    tracer.manual_seed(3)
    b = nn.RReLU(0.1, 0.3)(x)  # a module starts in training mode
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    slopes = a.detach().numpy()[:4] / x.detach().numpy()[:4]
    assert np.all((slopes >= 0.1) & (slopes < 0.3)) and len(set(slopes.tolist())) == 4
    np.testing.assert_array_equal(a.detach().numpy()[5:], x.detach().numpy()[5:])
    a.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:4], slopes, rtol=1e-6)
    assert a.grad_fn.name() == "RreluWithNoiseBackward0"


def test_rrelu_in_training_draws_pytorchs_numbers():
    torch = pytest.importorskip("torch")
    x = np.linspace(-2, 1, 9)
    for dtype in (np.float32, np.float64):
        tracer.manual_seed(11)
        torch.manual_seed(11)
        ours = F.rrelu(tracer.tensor(x.astype(dtype)), training=True).numpy()
        theirs = torch.nn.functional.rrelu(torch.tensor(x.astype(dtype)), training=True).numpy()
        np.testing.assert_array_equal(ours, theirs)


def test_rrelu_in_training_inside_a_trace_is_refused():
    f = tracer.trace(lambda x: F.rrelu(x, training=True))
    with pytest.raises(TraceError, match="rrelu in training mode"):
        f(tracer.ones(3))


def test_softmin_without_dim_warns_and_picks_pytorchs_dim():
    x = tracer.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        out = nn.Softmin()(x)
    np.testing.assert_allclose(out.numpy(), F.softmin(x, 1).numpy())


# ---- where PyTorch's answer is wrong and ours is the true one ----------------------------------


def _grads(fn, *values):  # type: ignore[no-untyped-def]
    xs = [tracer.tensor(v, dtype=tracer.float64, requires_grad=True) for v in values]
    return [g.numpy() for g in tracer.autograd.grad(fn(*xs).sum(), xs)]


def test_hardsigmoid_gradient_is_one_sixth_in_float64():
    (g,) = _grads(F.hardsigmoid, [0.0, 1.0])
    assert g.tolist() == [1 / 6, 1 / 6]  # PyTorch: 1/6 rounded to float32


def test_gelu_keeps_its_far_negative_tail():
    # x Phi(x) at -10 is -7.6e-23; 1 + erf(x / sqrt 2) cancels to 0 (PyTorch: -0.0)
    out = F.gelu(tracer.tensor([-10.0], dtype=tracer.float64)).item()
    assert out == pytest.approx(-10 * 0.5 * math.erfc(10 / math.sqrt(2)), rel=1e-12)


def test_cosine_similarity_of_a_vector_shorter_than_eps_has_the_clamped_gradient():
    # below eps the norm is clamped, so x1 / eps is linear in x1: d/dx1 = x2 / (eps |x2|);
    # PyTorch keeps the norm's own gradient term there (its clamp runs under no_grad)
    eps = 1e-3
    x1, x2 = [3e-4, -4e-4], [1.0, 2.0]
    g1, _ = _grads(lambda a, b: F.cosine_similarity(a, b, dim=0, eps=eps), x1, x2)
    np.testing.assert_allclose(g1, np.array(x2) / (eps * math.sqrt(5)), rtol=1e-12)


# ---- selection at kinks: a nan cotangent stays out of the flat regions ---------------------

# (functional, inputs where its output does not depend on the input: the gradient there is
# 0 whatever flows in, even a nan)
FLAT = [
    (F.hardtanh, [-2.0, 1.5, -1.0, 1.0]),
    (F.relu6, [-1.0, 7.0, 6.0, 0.0]),
    (F.hardsigmoid, [-4.0, 3.5, -3.0, 3.0]),
    (F.hardswish, [-4.0, -3.0, -100.0, -math.inf]),
    (F.softshrink, [0.25, -0.5, 0.5, 0.0]),
    (F.hardshrink, [0.25, -0.5, 0.5, 0.0]),
    (lambda x: F.threshold(x, 0.5, 2.0), [0.5, -1.0, 0.25, -math.inf]),
]


@pytest.mark.parametrize("fn,flat", FLAT, ids=[str(i) for i in range(len(FLAT))])
def test_a_nan_cotangent_does_not_leak_where_the_output_is_constant(fn, flat):
    x = tracer.tensor(flat, dtype=tracer.float64, requires_grad=True)
    fn(x).backward(tracer.full((len(flat),), math.nan, dtype=tracer.float64))
    assert x.grad.numpy().tolist() == [0.0] * len(flat)


def test_prelu_weight_gradient_ignores_a_nan_cotangent_on_positive_inputs():
    x = tracer.tensor([1.0, 2.0], dtype=tracer.float64)
    w = tracer.tensor([0.25], dtype=tracer.float64, requires_grad=True)
    F.prelu(x, w).backward(tracer.tensor([math.nan, math.nan], dtype=tracer.float64))
    assert w.grad.numpy().tolist() == [0.0]


# ---- stable forms: no overflow, no cancellation -----------------------------------------------


@pytest.mark.parametrize(
    "fn,x,value,grad",
    [
        # threshold raised so the log1p(exp) branch itself runs on large inputs
        (lambda x: F.softplus(x, threshold=1e9), 1000.0, 1000.0, 1.0),
        (lambda x: F.softplus(x, threshold=1e9), -1000.0, 0.0, 0.0),
        (lambda x: F.softplus(x, beta=-2.0), 500.0, -0.0, 0.0),
        (F.logsigmoid, -1000.0, -1000.0, 1.0),
        (F.logsigmoid, 1000.0, -0.0, 0.0),
        (F.mish, 1000.0, 1000.0, 1.0),
        (F.silu, -1000.0, -0.0, -0.0),
    ],
)
def test_activations_do_not_overflow(fn, x, value, grad):
    t = tracer.tensor([x], dtype=tracer.float64, requires_grad=True)
    with np.errstate(all="raise"):
        out = fn(t)
        out.backward(tracer.ones_like(out))
    assert (out.item(), t.grad.item()) == (pytest.approx(value, abs=1e-300), grad)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_float32_is_accurate_on_the_negative_side(approximate):
    # 1 + tanh(u) and 1 + erf(x / sqrt 2) cancel for x < 0; float64 math is the reference
    xs = np.array([-3.0, -5.0, -8.0], dtype=np.float32)
    x64 = xs.astype(np.float64)
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)
        expected = x64 / (1 + np.exp(-2 * u))
    else:
        expected = x64 * 0.5 * np.array([math.erfc(-v / math.sqrt(2)) for v in x64])
    out = F.gelu(tracer.tensor(xs), approximate=approximate).numpy()
    np.testing.assert_allclose(out, expected, rtol=2e-6)


def test_softshrink_keeps_a_nan_input():
    out = F.softshrink(tracer.tensor([math.nan, 0.25, 1.0]), 0.5).numpy()
    assert np.isnan(out[0]) and out[1:].tolist() == [0.0, 0.5]


@pytest.mark.parametrize(
    "call",
    [
        "selu(x)",
        "celu(x, 0.5)",
        "hardshrink(x, 0.75)",
        "threshold(x, 0.5, -1.0)",
        "prelu(x, lib.tensor([0.25], dtype=lib.float64))",
        "rrelu(x, 0.1, 0.3)",
        "relu_(x * 1)",
        "selu_(x * 1)",
        "celu_(x * 1)",
        "threshold_(x * 1, 0.5, -1.0)",
        "rrelu_(x * 1)",
    ],
)
def test_torch_level_spellings_of_activations(call):
    torch = pytest.importorskip("torch")
    x = np.linspace(-2, 2, 9)
    results = []
    for lib in (tracer, torch):
        out = eval(call, {"lib": lib, "x": lib.tensor(x, requires_grad=True)}, vars(lib))
        results.append(
            (
                out.detach().numpy(),
                type(out.grad_fn).__name__ if lib is torch else out.grad_fn.name(),
            )
        )
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    assert results[0][1] == results[1][1]


def test_softmin_with_dtype_converts_the_input_first():
    # (a float64 result from float32 input: kept out of the spec table, whose compiled
    # groups sum float32 rows into one loss and would then be held to float64 tolerance)
    x32 = np.array([[0.5, -1.25, 3.0], [2.0, 0.0, -0.75]], dtype=np.float32)
    x = tracer.tensor(x32, requires_grad=True)
    out = F.softmin(x, dim=0, dtype=tracer.float64)
    e = np.exp(-x32.astype(np.float64))
    expected = e / e.sum(0, keepdims=True)
    assert (out.dtype, out.grad_fn.name()) == (tracer.float64, "SoftmaxBackward0")
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-15)
    out[0].sum().backward()
    # two rows: s_0j = sigmoid(x_1j - x_0j), so d s_0j / d x_0j = -s_0j s_1j
    np.testing.assert_allclose(x.grad.numpy()[0], -expected[0] * expected[1], rtol=1e-6)
