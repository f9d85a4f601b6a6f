"""The op-spec table: one row per behaviour of the public op surface.

Each `OpSpec` says how to call an op (`fn`, written with `tracer` functions and
Tensor methods so that the same row runs eagerly, under @trace and compiled),
which inputs it takes (shape and value domain: positive for log/sqrt, away from
kinks for abs/relu/clamp, integer labels, bool masks), which dtypes to run it in,
the tolerances, whether second-order gradients are checked, a numpy reference
for the forward value, and the PyTorch grad_fn name (a golden taken from
PyTorch 2.13; tests/tracer/test_torch_oracle.py checks them against PyTorch).

`fn` looks module functions up through `lib(x)`: `tracer` for our tensors and
symbolic values, `torch` for PyTorch tensors, so the oracle test runs each row
unchanged on PyTorch.

    spec.fn(*tensors)                   -> a tensor
    spec.make_inputs(dtype, seed)       -> tuple of numpy arrays, reproducible
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tracer

FLOATS = ("float32", "float64")

# ---- the module an fn should use -------------------------------------------------


def lib(*xs: Any) -> Any:
    """`torch` if any argument is a PyTorch tensor, else `tracer`."""
    for x in xs:
        if type(x).__module__.startswith("torch"):
            import torch

            return torch
    return tracer


def F(*xs: Any) -> Any:
    """`nn.functional` of lib(*xs)."""
    return lib(*xs).nn.functional


# ---- input domains: (rng, shape) -> float64/int64/bool array ------------------------

Domain = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def real(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-2.0, 2.0, shape)


def positive(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """(-0.9, 0.9): inside log1p's and atanh-like domains."""
    return rng.uniform(-0.9, 0.9, shape)


def away_from(*kinks: float, gap: float = 0.1) -> Domain:
    """Reals at least `gap` from every kink (abs at 0, clamp at its bounds)."""

    def domain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        x = rng.uniform(-2.0, 2.0, shape)
        for _ in range(8):
            near = np.zeros(x.shape, bool)
            for k in kinks:
                near |= np.abs(x - k) < gap
            if not near.any():
                break
            x = np.where(near, rng.uniform(-2.0, 2.0, shape), x)
        else:  # pragma: no cover - astronomically unlikely
            raise AssertionError("could not sample away from the kinks")
        return x

    return domain


nonzero = away_from(0.0)


def distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """All values at least 0.1 apart: no ties for max/min/amax/maximum."""
    n = int(np.prod(shape, dtype=np.int64))
    grid = np.linspace(-2.0, 2.0, max(n, 1)) if n > 1 else np.array([0.3])
    jitter = rng.uniform(-0.01, 0.01, n) if n > 1 else np.zeros(1)
    return rng.permutation(grid + jitter)[:n].reshape(shape)


def offset(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values in +-(0.3, 2): a distinct-valued partner can't tie with it within 0.1."""
    return distinct(rng, shape) + 0.05


def labels(classes: int, ignore: int | None = None) -> Domain:
    """Integer class labels in [0, classes); one label set to `ignore` if given."""

    def domain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        y = rng.integers(0, classes, shape).astype(np.int64)
        if ignore is not None:
            y.flat[0] = ignore
        return y

    return domain


def indices(low: int, high: int) -> Domain:
    def domain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.integers(low, high, shape).astype(np.int64)

    return domain


def mask(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    m = rng.random(shape) < 0.5
    m.flat[0] = True  # never empty
    return m


def fixed(values: Any) -> Domain:
    """Exact values (ties on purpose, for the rows checked against PyTorch only)."""

    def domain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return np.array(values, dtype=np.float64).reshape(shape)

    return domain


@dataclass(frozen=True)
class Arg:
    """One input: its shape, value domain and, if pinned, its dtype."""

    shape: tuple[int, ...]
    domain: Domain = real
    dtype: str | None = None  # None: the dtype under test (float domains only)


@dataclass(frozen=True)
class Tol:
    rtol: float
    atol: float


FORWARD_TOL = {
    "float32": Tol(1e-5, 1e-6),
    "float64": Tol(1e-12, 1e-13),
    "int64": Tol(0, 0),
    "int32": Tol(0, 0),
    "bool": Tol(0, 0),
}
GRAD_TOL = Tol(1e-6, 1e-8)  # finite differences in float64, eps 1e-6 (central)


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable[..., Any]
    ref: Callable[..., np.ndarray] | None
    args: tuple[Arg, ...]
    grad_fn: str | None = None  # PyTorch's node name for the result (golden)
    dtypes: tuple[str, ...] = FLOATS
    second_order: bool = True
    # Why central finite differences can't check the gradient (inputs on a kink or a
    # tie, a float32 result); the gradient is then checked against PyTorch only.
    no_fd: str = ""
    data_dependent: bool = False  # output shape depends on values (bool masks)
    fwd_tol: dict[str, Tol] = field(default_factory=dict)
    grad_tol: Tol = GRAD_TOL
    torch_fn: Callable[..., Any] | None = None  # when PyTorch spells it differently

    def make_inputs(self, dtype: str = "float64", seed: int = 0) -> tuple[np.ndarray, ...]:
        """Reproducible numpy inputs; float domains are cast to `dtype` unless pinned."""
        rng = np.random.default_rng([zlib.crc32(self.name.encode()), seed])
        out = []
        for a in self.args:
            x = np.asarray(a.domain(rng, a.shape))
            if a.dtype is not None:
                x = x.astype(a.dtype)
            elif x.dtype.kind == "f":
                x = x.astype(dtype)
            out.append(x)
        return tuple(out)

    def tol(self, dtype: str) -> Tol:
        return self.fwd_tol.get(dtype, FORWARD_TOL[dtype])

    @property
    def differentiable(self) -> bool:
        return self.grad_fn is not None

    def __repr__(self) -> str:
        return f"OpSpec({self.name})"


# ---- numpy helpers for references ---------------------------------------------------


def exercise(spec: OpSpec, dtype: str) -> None:
    """Run `spec` forward and, where it is differentiable, backward to second order
    (so every primitive a VJP rule emits runs too)."""
    xs = [
        tracer.tensor(a, requires_grad=spec.differentiable and a.dtype.kind == "f")
        for a in spec.make_inputs(dtype)
    ]
    out = spec.fn(*xs)
    if out.requires_grad:
        diff = [x for x in xs if x.requires_grad]
        gs = tracer.autograd.grad(
            out, diff, tracer.ones_like(out), create_graph=True, allow_unused=True
        )
        total = sum((g * g).sum() for g in gs if g is not None and g.requires_grad)
        if isinstance(total, tracer.Tensor):
            tracer.autograd.grad(total, diff, allow_unused=True)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _logsumexp(x: np.ndarray, axis: Any, keepdims: bool = False) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    s = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    return x - _logsumexp(x, axis, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _nll(
    logp: np.ndarray, y: np.ndarray, reduction: str = "mean", ignore_index: int = -100
) -> np.ndarray:
    valid = y != ignore_index
    picked = -logp[np.arange(len(y)), np.where(valid, y, 0)] * valid
    if reduction == "none":
        return picked
    return picked.sum() / valid.sum() if reduction == "mean" else picked.sum()


def _mse(x: np.ndarray, y: np.ndarray, reduction: str = "mean") -> np.ndarray:
    d = (x - y) ** 2
    return d if reduction == "none" else d.mean() if reduction == "mean" else d.sum()


def _cross_entropy(r: str) -> Callable[..., Any]:
    return lambda x, y: F(x).cross_entropy(x, y, reduction=r)


def _cross_entropy_ref(r: str) -> Callable[..., Any]:
    return lambda x, y: _nll(_log_softmax(x, 1), y, r)


def _nll_loss(r: str) -> Callable[..., Any]:
    return lambda x, y: F(x).nll_loss(x, y, reduction=r)


def _nll_loss_ref(r: str) -> Callable[..., Any]:
    return lambda x, y: _nll(x, y, r)


def _mse_loss(r: str) -> Callable[..., Any]:
    return lambda x, y: F(x).mse_loss(x, y, reduction=r)


def _mse_loss_ref(r: str) -> Callable[..., Any]:
    return lambda x, y: _mse(x, y, r)


# ---- the table -------------------------------------------------------------------

A = Arg
S = OpSpec
KINK = "inputs on a kink or tie: the derivative is a convention (PyTorch's)"
INTS = ("int64",)


def _binary(
    name: str, fn: Callable[..., Any], ref: Callable[..., Any], grad_fn: str, rhs: Domain = real
) -> list[OpSpec]:
    """Same shapes, broadcasting both ways, rank-extending, and a 0-d operand."""
    return [
        S(f"{name}", fn, ref, (A((3, 4)), A((3, 4), rhs)), grad_fn),
        S(f"{name}_broadcast_col_row", fn, ref, (A((3, 1)), A((4,), rhs)), grad_fn),
        S(f"{name}_broadcast_rank", fn, ref, (A((2, 3, 4)), A((3, 1), rhs)), grad_fn),
        S(f"{name}_broadcast_lhs", fn, ref, (A((1, 4)), A((2, 3, 4), rhs)), grad_fn),
        S(f"{name}_0d_rhs", fn, ref, (A((3,)), A((), rhs)), grad_fn),
    ]


SPECS: list[OpSpec] = [
    # ---- arithmetic --------------------------------------------------------------
    *_binary("add", lambda x, y: x + y, np.add, "AddBackward0"),
    *_binary("sub", lambda x, y: x - y, np.subtract, "SubBackward0"),
    *_binary("mul", lambda x, y: x * y, np.multiply, "MulBackward0"),
    *_binary("div", lambda x, y: x / y, np.divide, "DivBackward0", rhs=nonzero),
    *_binary(
        "maximum", lambda x, y: lib(x).maximum(x, y), np.maximum, "MaximumBackward0", rhs=offset
    ),
    *_binary(
        "minimum", lambda x, y: lib(x).minimum(x, y), np.minimum, "MinimumBackward0", rhs=offset
    ),
    S(
        "add_method_alpha",
        lambda x, y: x.add(y, alpha=2.5),
        lambda x, y: x + 2.5 * y,
        (A((3,)), A((3,))),
        grad_fn="AddBackward0",
    ),
    S(
        "sub_function_alpha",
        lambda x, y: lib(x).sub(x, y, alpha=0.5),
        lambda x, y: x - 0.5 * y,
        (A((3,)), A((3,))),
        grad_fn="SubBackward0",
    ),
    S(
        "mul_function",
        lambda x, y: lib(x).mul(x, y),
        np.multiply,
        (A((3,)), A((2, 3))),
        grad_fn="MulBackward0",
    ),
    S(
        "div_function",
        lambda x, y: lib(x).div(x, y),
        np.divide,
        (A((3,)), A((2, 3), nonzero)),
        grad_fn="DivBackward0",
    ),
    S("add_scalar", lambda x: x + 1.5, lambda x: x + 1.5, (A((3, 2)),), grad_fn="AddBackward0"),
    S("radd_scalar", lambda x: 1.5 + x, lambda x: 1.5 + x, (A((3, 2)),), grad_fn="AddBackward0"),
    S("sub_scalar", lambda x: x - 5, lambda x: x - 5, (A((5,)),), grad_fn="SubBackward0"),
    S("rsub_scalar", lambda x: 2 - x, lambda x: 2 - x, (A((5,)),), grad_fn="RsubBackward1"),
    S("mul_scalar", lambda x: x * 3, lambda x: x * 3, (A((5,)),), grad_fn="MulBackward0"),
    S("rmul_scalar", lambda x: 0.5 * x, lambda x: 0.5 * x, (A((5,)),), grad_fn="MulBackward0"),
    S("div_scalar", lambda x: x / 4, lambda x: x / 4, (A((5,)),), grad_fn="DivBackward0"),
    S("rdiv_scalar", lambda x: 2 / x, lambda x: 2 / x, (A((5,), nonzero),), grad_fn="MulBackward0"),
    S("neg", lambda x: -x, np.negative, (A((2, 3)),), grad_fn="NegBackward0"),
    S("neg_method", lambda x: x.neg(), np.negative, (A((2, 3)),), grad_fn="NegBackward0"),
    S("pos", lambda x: +x * 1, lambda x: x * 1, (A((2,)),), grad_fn="MulBackward0"),
    S("notebook_loss", lambda x: x**2 - 5, lambda x: x**2 - 5, (A((5,)),), grad_fn="SubBackward0"),
    # ---- powers --------------------------------------------------------------------
    S("pow_scalar_2", lambda x: x**2, np.square, (A((2, 3)),), grad_fn="PowBackward0"),
    S("pow_scalar_3", lambda x: x**3, lambda x: x**3, (A((2, 3)),), grad_fn="PowBackward0"),
    S("pow_scalar_half", lambda x: x**0.5, np.sqrt, (A((4,), positive),), grad_fn="PowBackward0"),
    S(
        "pow_scalar_neg",
        lambda x: x**-2,
        lambda x: x**-2.0,
        (A((4,), nonzero),),
        grad_fn="PowBackward0",
    ),
    S("pow_scalar_0", lambda x: x**0, lambda x: x**0, (A((4,)),), grad_fn="PowBackward0"),
    S("pow_scalar_1", lambda x: x**1, lambda x: x**1, (A((4,)),), grad_fn="PowBackward0"),
    S("pow_method", lambda x: x.pow(3), lambda x: x**3, (A((4,)),), grad_fn="PowBackward0"),
    S(
        "pow_function",
        lambda x: lib(x).pow(x, 1.5),
        lambda x: x**1.5,
        (A((4,), positive),),
        grad_fn="PowBackward0",
    ),
    S("square", lambda x: lib(x).square(x), np.square, (A((4,)),), grad_fn="PowBackward0"),
    S(
        "pow_tensor",
        lambda x, y: x**y,
        np.power,
        (A((2, 3), positive), A((2, 3))),
        grad_fn="PowBackward1",
    ),
    S(
        "pow_tensor_broadcast",
        lambda x, y: x**y,
        np.power,
        (A((2, 3), positive), A((3,))),
        grad_fn="PowBackward1",
    ),
    S("rpow_scalar", lambda x: 2**x, lambda x: 2.0**x, (A((4,)),), grad_fn="PowBackward2"),
    S("rpow_scalar_e", lambda x: 0.5**x, lambda x: 0.5**x, (A((4,)),), grad_fn="PowBackward2"),
    # ---- unary math ----------------------------------------------------------------
    S("abs", lambda x: x.abs(), np.abs, (A((2, 3), nonzero),), grad_fn="AbsBackward0"),
    S("abs_builtin", lambda x: abs(x), np.abs, (A((2, 3), nonzero),), grad_fn="AbsBackward0"),
    S("exp", lambda x: lib(x).exp(x), np.exp, (A((2, 3)),), grad_fn="ExpBackward0"),
    S("log", lambda x: lib(x).log(x), np.log, (A((2, 3), positive),), grad_fn="LogBackward0"),
    S("log1p", lambda x: lib(x).log1p(x), np.log1p, (A((2, 3), unit),), grad_fn="Log1PBackward0"),
    S("sqrt", lambda x: lib(x).sqrt(x), np.sqrt, (A((2, 3), positive),), grad_fn="SqrtBackward0"),
    S("sin", lambda x: lib(x).sin(x), np.sin, (A((2, 3)),), grad_fn="SinBackward0"),
    S("cos", lambda x: lib(x).cos(x), np.cos, (A((2, 3)),), grad_fn="CosBackward0"),
    S("tanh", lambda x: lib(x).tanh(x), np.tanh, (A((2, 3)),), grad_fn="TanhBackward0"),
    S("sigmoid", lambda x: lib(x).sigmoid(x), _sigmoid, (A((2, 3)),), grad_fn="SigmoidBackward0"),
    S(
        "sigmoid_large",
        lambda x: (x * 30).sigmoid(),
        lambda x: _sigmoid(x * 30),
        (A((6,)),),
        grad_fn="SigmoidBackward0",
    ),
    S(
        "relu",
        lambda x: lib(x).relu(x),
        lambda x: np.maximum(x, 0),
        (A((2, 3), nonzero),),
        grad_fn="ReluBackward0",
    ),
    S("sign", lambda x: x.sign(), np.sign, (A((2, 3), nonzero),), grad_fn="SignBackward0"),
    S(
        "clamp",
        lambda x: x.clamp(-0.5, 1.0),
        lambda x: np.clip(x, -0.5, 1.0),
        (A((3, 4), away_from(-0.5, 1.0)),),
        grad_fn="ClampBackward1",
    ),
    S(
        "clamp_min",
        lambda x: x.clamp(min=0.25),
        lambda x: np.maximum(x, 0.25),
        (A((3, 4), away_from(0.25)),),
        grad_fn="ClampBackward1",
    ),
    S(
        "clamp_max",
        lambda x: lib(x).clamp(x, max=0.25),
        lambda x: np.minimum(x, 0.25),
        (A((3, 4), away_from(0.25)),),
        grad_fn="ClampBackward1",
    ),
    S(
        "clip",
        lambda x: x.clip(-1, 1),
        lambda x: np.clip(x, -1, 1),
        (A((3, 4), away_from(-1, 1)),),
        grad_fn="ClampBackward1",
    ),
    # ---- dtype conversion and copies -------------------------------------------------
    S(
        "to_float64",
        lambda x: x.to(lib(x).float64) * 1,
        lambda x: x.astype(np.float64),
        (A((3,)),),
        grad_fn="MulBackward0",
        dtypes=("float32",),
    ),
    S(
        "double",
        lambda x: x.double(),
        lambda x: x.astype(np.float64),
        (A((3,)),),
        grad_fn="ToCopyBackward0",
        dtypes=("float32",),
    ),
    S(
        "float",
        lambda x: x.float(),
        lambda x: x.astype(np.float32),
        (A((3,)),),
        grad_fn="ToCopyBackward0",
        dtypes=("float64",),
        no_fd="the float32 result rounds away the 1e-6 perturbations",
    ),
    S("clone", lambda x: x.clone(), np.copy, (A((2, 3)),), grad_fn="CloneBackward0"),
    S(
        "mixed_float_add",
        lambda x, y: x + y,
        np.add,
        (A((3,)), A((3,), dtype="float64")),
        grad_fn="AddBackward0",
        dtypes=("float32",),
    ),
    S(
        "int_tensor_times_float",
        lambda x, k: x * k,
        lambda x, k: x * k,
        (A((3,)), A((3,), indices(-3, 4))),
        grad_fn="MulBackward0",
    ),
    # ---- integer arithmetic and promotion (no gradients) -----------------------------
    S(
        "int_add",
        lambda x, y: x + y,
        np.add,
        (A((3,), indices(-5, 5)), A((3,), indices(-5, 5))),
        dtypes=INTS,
    ),
    S(
        "int_mul_float_scalar",
        lambda x: x * 1.5,
        lambda x: (x * 1.5).astype(np.float32),
        (A((3,), indices(-5, 5)),),
        dtypes=INTS,
    ),
    S(
        "int_div",
        lambda x, y: x / y,
        lambda x, y: (x / y).astype(np.float32),
        (A((3,), indices(1, 5)), A((3,), indices(1, 5))),
        dtypes=INTS,
    ),
    S("int_sum", lambda x: x.sum(), lambda x: x.sum(), (A((2, 3), indices(-5, 5)),), dtypes=INTS),
    S(
        "bool_sum",
        lambda m: m.sum(),
        lambda m: np.sum(m, dtype=np.int64),
        (A((2, 3), mask),),
        dtypes=INTS,
    ),
    S("int_pow", lambda x: x**2, np.square, (A((3,), indices(-5, 5)),), dtypes=INTS),
    S(
        "int_pow_float_exponent",
        lambda x: x**0.5,
        lambda x: np.sqrt(x).astype(np.float32),
        (A((3,), indices(0, 5)),),
        dtypes=INTS,
    ),
    S(
        "int_pow_int_tensor",
        lambda x, y: x**y,
        np.power,
        (A((3,), indices(-3, 4)), A((3,), indices(0, 3))),
        dtypes=INTS,
    ),
    S("int_rpow", lambda x: 2**x, lambda x: 2**x, (A((3,), indices(0, 4)),), dtypes=INTS),
    S(
        "to_int64_drops_grad",
        lambda x: x.long(),
        lambda x: x.astype(np.int64),
        (A((3,), fixed([1.5, -2.0, 3.25])),),
    ),
    S(
        "argmax_of_float_result",
        lambda x: (x * 2).argmax(0),
        lambda x: np.argmax(x),
        (A((4,), distinct),),
    ),
    # ---- comparisons and logic ---------------------------------------------------------
    *[
        S(f"compare_{n}", fn, ref, (A((2, 3), distinct), A((3,), distinct)), dtypes=FLOATS)
        for n, fn, ref in [
            ("lt", lambda x, y: x < y, np.less),
            ("le", lambda x, y: x <= y, np.less_equal),
            ("gt", lambda x, y: x > y, np.greater),
            ("ge", lambda x, y: x >= y, np.greater_equal),
            ("ne", lambda x, y: x != y, np.not_equal),
        ]
    ],
    S(
        "compare_eq",
        lambda x, y: x == y,
        np.equal,
        (A((4,), fixed([1.0, 2.0, 3.0, 4.0])), A((4,), fixed([1.0, 0.0, 3.0, 5.0]))),
    ),
    S("compare_scalar", lambda x: x > 0.5, lambda x: x > 0.5, (A((4,), distinct),)),
    S(
        "logical_and",
        lambda x, y: (x > 0) & (y > 0),
        lambda x, y: (x > 0) & (y > 0),
        (A((4,), nonzero), A((4,), nonzero)),
    ),
    S(
        "logical_or",
        lambda x, y: (x > 0) | (y > 0),
        lambda x, y: (x > 0) | (y > 0),
        (A((4,), nonzero), A((4,), nonzero)),
    ),
    S("logical_not", lambda x: ~(x > 0), lambda x: ~(x > 0), (A((4,), nonzero),)),
    S(
        "where",
        lambda c, x, y: lib(x).where(c, x, y),
        np.where,
        (A((2, 3), mask), A((2, 3)), A((2, 3))),
        grad_fn="WhereBackward0",
    ),
    S(
        "where_broadcast",
        lambda c, x, y: lib(x).where(c, x, y),
        np.where,
        (A((2, 1), mask), A((3,)), A((2, 3))),
        grad_fn="WhereBackward0",
    ),
    S(
        "where_scalar_other",
        lambda x: lib(x).where(x > 0, x, 0.0),
        lambda x: np.where(x > 0, x, 0.0),
        (A((2, 3), nonzero),),
        grad_fn="WhereBackward0",
    ),
    S(
        "where_method",
        lambda c, x, y: x.where(c, y),
        np.where,
        (A((4,), mask), A((4,)), A((4,))),
        grad_fn="WhereBackward0",
    ),
    # ---- reductions ----------------------------------------------------------------------
    S("sum_all", lambda x: x.sum(), np.sum, (A((3, 4)),), grad_fn="SumBackward0"),
    S("sum_dim", lambda x: x.sum(1), lambda x: x.sum(1), (A((3, 4)),), grad_fn="SumBackward1"),
    S(
        "sum_dim_keepdim",
        lambda x: x.sum(0, keepdim=True),
        lambda x: x.sum(0, keepdims=True),
        (A((3, 4)),),
        grad_fn="SumBackward1",
    ),
    S(
        "sum_negative_dim",
        lambda x: lib(x).sum(x, -1),
        lambda x: x.sum(-1),
        (A((2, 3, 4)),),
        grad_fn="SumBackward1",
    ),
    S(
        "sum_dims_tuple",
        lambda x: x.sum((0, 2)),
        lambda x: x.sum((0, 2)),
        (A((2, 3, 4)),),
        grad_fn="SumBackward1",
    ),
    S("sum_0d", lambda x: x.sum(), np.sum, (A(()),), grad_fn="SumBackward0"),
    S("mean_all", lambda x: x.mean(), np.mean, (A((3, 4)),), grad_fn="MeanBackward0"),
    S(
        "mean_dim",
        lambda x: lib(x).mean(x, 0),
        lambda x: x.mean(0),
        (A((3, 4)),),
        grad_fn="MeanBackward1",
    ),
    S(
        "mean_negative_dim_keepdim",
        lambda x: x.mean(-2, keepdim=True),
        lambda x: x.mean(-2, keepdims=True),
        (A((2, 3, 4)),),
        grad_fn="MeanBackward1",
    ),
    S("max_all", lambda x: x.max(), np.max, (A((3, 4), distinct),), grad_fn="MaxBackward1"),
    S("min_all", lambda x: lib(x).min(x), np.min, (A((3, 4), distinct),), grad_fn="MinBackward1"),
    S(
        "max_dim_values",
        lambda x: x.max(1).values,
        lambda x: x.max(1),
        (A((3, 4), distinct),),
        grad_fn="MaxBackward0",
    ),
    S("max_dim_indices", lambda x: x.max(1).indices, lambda x: x.argmax(1), (A((3, 4), distinct),)),
    S(
        "max_dim_keepdim_tuple",
        lambda x: lib(x).max(x, 0, keepdim=True)[0],
        lambda x: x.max(0, keepdims=True),
        (A((3, 4), distinct),),
        grad_fn="MaxBackward0",
    ),
    S(
        "min_dim_values",
        lambda x: x.min(-1)[0],
        lambda x: x.min(-1),
        (A((3, 4), distinct),),
        grad_fn="MinBackward0",
    ),
    S("min_dim_indices", lambda x: x.min(0).indices, lambda x: x.argmin(0), (A((3, 4), distinct),)),
    S(
        "max_binary",
        lambda x, y: lib(x).max(x, y),
        np.maximum,
        (A((4,), distinct), A((4,), offset)),
        grad_fn="MaximumBackward0",
    ),
    S("argmax", lambda x: x.argmax(), lambda x: np.argmax(x), (A((3, 4), distinct),)),
    S(
        "argmin_dim",
        lambda x: lib(x).argmin(x, 1),
        lambda x: np.argmin(x, 1),
        (A((3, 4), distinct),),
    ),
    S(
        "amax",
        lambda x: x.amax(1),
        lambda x: x.max(1),
        (A((3, 4), distinct),),
        grad_fn="AmaxBackward0",
    ),
    S(
        "amax_dims_keepdim",
        lambda x: lib(x).amax(x, (0, -1), keepdim=True),
        lambda x: x.max((0, 2), keepdims=True),
        (A((2, 3, 4), distinct),),
        grad_fn="AmaxBackward0",
    ),
    S(
        "amin",
        lambda x: x.amin(0),
        lambda x: x.min(0),
        (A((3, 4), distinct),),
        grad_fn="AminBackward0",
    ),
    S(
        "logsumexp",
        lambda x: x.logsumexp(1),
        lambda x: _logsumexp(x, 1),
        (A((3, 4)),),
        grad_fn="LogsumexpBackward0",
    ),
    S(
        "logsumexp_keepdim_neg",
        lambda x: lib(x).logsumexp(x, -1, keepdim=True),
        lambda x: _logsumexp(x, -1, True),
        (A((2, 3, 4)),),
        grad_fn="LogsumexpBackward0",
    ),
    S(
        "logsumexp_large",
        lambda x: (x * 400).logsumexp(0),
        lambda x: _logsumexp(x * 400, 0),
        (A((5,)),),
        grad_fn="LogsumexpBackward0",
    ),
    S(
        "softmax",
        lambda x: x.softmax(1),
        lambda x: _softmax(x, 1),
        (A((3, 4)),),
        grad_fn="SoftmaxBackward0",
    ),
    S(
        "softmax_function_neg_dim",
        lambda x: lib(x).softmax(x, -2),
        lambda x: _softmax(x, -2),
        (A((2, 3, 4)),),
        grad_fn="SoftmaxBackward0",
    ),
    S(
        "log_softmax",
        lambda x: x.log_softmax(-1),
        lambda x: _log_softmax(x, -1),
        (A((3, 4)),),
        grad_fn="LogSoftmaxBackward0",
    ),
    S(
        "log_softmax_dim0",
        lambda x: lib(x).log_softmax(x, 0),
        lambda x: _log_softmax(x, 0),
        (A((3, 4)),),
        grad_fn="LogSoftmaxBackward0",
    ),
    # ---- ties and kinks (gradients compared with PyTorch; no finite differences) ----------
    S(
        "maximum_ties",
        lambda x, y: lib(x).maximum(x, y),
        np.maximum,
        (A((3,), fixed([1.0, 2.0, 3.0])), A((3,), fixed([1.0, 0.0, 3.0]))),
        grad_fn="MaximumBackward0",
        no_fd=KINK,
    ),
    S(
        "minimum_ties",
        lambda x, y: lib(x).minimum(x, y),
        np.minimum,
        (A((3,), fixed([1.0, 2.0, 3.0])), A((3,), fixed([1.0, 0.0, 3.0]))),
        grad_fn="MinimumBackward0",
        no_fd=KINK,
    ),
    S(
        "amax_ties",
        lambda x: x.amax(1),
        lambda x: x.max(1),
        (A((2, 3), fixed([1.0, 3.0, 3.0, 2.0, 2.0, 2.0])),),
        grad_fn="AmaxBackward0",
        no_fd=KINK,
    ),
    S(
        "max_all_ties",
        lambda x: x.max(),
        np.max,
        (A((4,), fixed([1.0, 3.0, 3.0, 2.0])),),
        grad_fn="MaxBackward1",
        no_fd=KINK,
    ),
    S(
        "min_all_ties",
        lambda x: x.min(),
        np.min,
        (A((4,), fixed([1.0, 1.0, 3.0, 2.0])),),
        grad_fn="MinBackward1",
        no_fd=KINK,
    ),
    S(
        "max_dim_ties",
        lambda x: x.max(1).values,
        lambda x: x.max(1),
        (A((2, 3), fixed([1.0, 3.0, 3.0, 2.0, 2.0, 2.0])),),
        grad_fn="MaxBackward0",
        no_fd=KINK,
    ),
    S(
        "relu_at_zero",
        lambda x: x.relu(),
        lambda x: np.maximum(x, 0),
        (A((3,), fixed([-1.0, 0.0, 1.0])),),
        grad_fn="ReluBackward0",
        no_fd=KINK,
    ),
    S(
        "abs_at_zero",
        lambda x: x.abs(),
        np.abs,
        (A((3,), fixed([-1.0, 0.0, 1.0])),),
        grad_fn="AbsBackward0",
        no_fd=KINK,
    ),
    S(
        "clamp_at_bounds",
        lambda x: x.clamp(-1.0, 1.0),
        lambda x: np.clip(x, -1, 1),
        (A((4,), fixed([-1.0, 0.0, 1.0, 2.0])),),
        grad_fn="ClampBackward1",
        no_fd=KINK,
    ),
    S(
        "pow_tensor_zero_base",
        lambda x, y: x**y,
        np.power,
        (A((3,), fixed([0.0, 0.0, 2.0])), A((3,), fixed([2.0, 0.0, 1.0]))),
        grad_fn="PowBackward1",
        no_fd=KINK,
    ),
    # ---- matmul -------------------------------------------------------------------------
    S("matmul_1d_1d", lambda a, b: a @ b, np.matmul, (A((4,)), A((4,))), grad_fn="DotBackward0"),
    S("matmul_2d_2d", lambda a, b: a @ b, np.matmul, (A((3, 4)), A((4, 2))), grad_fn="MmBackward0"),
    S("matmul_2d_1d", lambda a, b: a @ b, np.matmul, (A((3, 4)), A((4,))), grad_fn="MvBackward0"),
    S(
        "matmul_1d_2d",
        lambda a, b: a @ b,
        np.matmul,
        (A((4,)), A((4, 2))),
        grad_fn="SqueezeBackward4",
    ),
    S(
        "matmul_batched",
        lambda a, b: a @ b,
        np.matmul,
        (A((2, 3, 4)), A((2, 4, 2))),
        grad_fn="UnsafeViewBackward0",
    ),
    S(
        "matmul_batched_2d",
        lambda a, b: a @ b,
        np.matmul,
        (A((2, 3, 4)), A((4, 2))),
        grad_fn="UnsafeViewBackward0",
    ),
    S(
        "matmul_2d_batched",
        lambda a, b: a @ b,
        np.matmul,
        (A((3, 4)), A((2, 4, 2))),
        grad_fn="CloneBackward0",
    ),
    S(
        "matmul_batched_broadcast",
        lambda a, b: lib(a).matmul(a, b),
        np.matmul,
        (A((2, 1, 3, 4)), A((3, 4, 2))),
        grad_fn="UnsafeViewBackward0",
    ),
    S(
        "matmul_batched_1d",
        lambda a, b: a @ b,
        np.matmul,
        (A((2, 3, 4)), A((4,))),
        grad_fn="UnsafeViewBackward0",
    ),
    S(
        "matmul_1d_batched",
        lambda a, b: a.matmul(b),
        np.matmul,
        (A((4,)), A((2, 4, 3))),
        grad_fn="UnsafeViewBackward0",
    ),
    S("mm", lambda a, b: a.mm(b), np.matmul, (A((2, 3)), A((3, 2))), grad_fn="MmBackward0"),
    S("dot", lambda a, b: lib(a).dot(a, b), np.dot, (A((3,)), A((3,))), grad_fn="DotBackward0"),
    # ---- shapes ---------------------------------------------------------------------------
    S(
        "transpose",
        lambda x: x.transpose(0, 2),
        lambda x: x.transpose(2, 1, 0),
        (A((2, 3, 4)),),
        grad_fn="TransposeBackward0",
    ),
    S(
        "transpose_negative",
        lambda x: lib(x).transpose(x, -1, -2),
        lambda x: np.swapaxes(x, -1, -2),
        (A((2, 3, 4)),),
        grad_fn="TransposeBackward0",
    ),
    S("t", lambda x: x.t(), np.transpose, (A((3, 4)),), grad_fn="TBackward0"),
    S("t_1d", lambda x: lib(x).t(x) * 1, lambda x: x * 1, (A((3,)),), grad_fn="MulBackward0"),
    S("T", lambda x: x.T, np.transpose, (A((3, 4)),), grad_fn="PermuteBackward0"),
    S(
        "mT",
        lambda x: x.mT,
        lambda x: np.swapaxes(x, -1, -2),
        (A((2, 3, 4)),),
        grad_fn="TransposeBackward0",
    ),
    S(
        "permute",
        lambda x: x.permute(2, 0, 1),
        lambda x: x.transpose(2, 0, 1),
        (A((2, 3, 4)),),
        grad_fn="PermuteBackward0",
    ),
    S(
        "permute_tuple_negative",
        lambda x: lib(x).permute(x, (-1, 0, 1)),
        lambda x: x.transpose(2, 0, 1),
        (A((2, 3, 4)),),
        grad_fn="PermuteBackward0",
    ),
    S(
        "reshape",
        lambda x: x.reshape(4, 3),
        lambda x: x.reshape(4, 3),
        (A((3, 4)),),
        grad_fn="ViewBackward0",
    ),
    S(
        "reshape_infer",
        lambda x: lib(x).reshape(x, (-1, 2)),
        lambda x: x.reshape(-1, 2),
        (A((2, 3, 2)),),
        grad_fn="ViewBackward0",
    ),
    S(
        "reshape_of_transpose",
        lambda x: x.t().reshape(-1),
        lambda x: x.T.reshape(-1),
        (A((3, 4)),),
        grad_fn="UnsafeViewBackward0",
    ),
    S(
        "reshape_alias_of_transpose",
        lambda x: x.t().reshape(4, 3),
        lambda x: x.T.copy(),
        (A((3, 4)),),
        grad_fn="ReshapeAliasBackward0",
    ),
    S(
        "flatten_of_transpose",
        lambda x: x.mT.flatten(1),
        lambda x: x.swapaxes(1, 2).reshape(2, -1),
        (A((2, 3, 4)),),
        grad_fn="UnsafeViewBackward0",
    ),
    S(
        "view_of_transpose",
        lambda x: x.t().view(4, 3),
        lambda x: x.T.copy(),
        (A((3, 4)),),
        grad_fn="ViewBackward0",
    ),
    S(
        "view",
        lambda x: x.view(2, 6),
        lambda x: x.reshape(2, 6),
        (A((3, 4)),),
        grad_fn="ViewBackward0",
    ),
    S(
        "view_as",
        lambda x, y: x.view_as(y),
        lambda x, y: x.reshape(y.shape),
        (A((3, 4)), A((6, 2))),
        grad_fn="ViewBackward0",
    ),
    S(
        "flatten",
        lambda x: x.flatten(),
        lambda x: x.reshape(-1),
        (A((2, 3, 4)),),
        grad_fn="ViewBackward0",
    ),
    S(
        "flatten_start",
        lambda x: lib(x).flatten(x, 1),
        lambda x: x.reshape(2, -1),
        (A((2, 3, 4)),),
        grad_fn="ViewBackward0",
    ),
    S(
        "flatten_range",
        lambda x: x.flatten(0, -2),
        lambda x: x.reshape(-1, 4),
        (A((2, 3, 4)),),
        grad_fn="ViewBackward0",
    ),
    S(
        "unsqueeze",
        lambda x: x.unsqueeze(1),
        lambda x: x[:, None],
        (A((3, 4)),),
        grad_fn="UnsqueezeBackward0",
    ),
    S(
        "unsqueeze_negative",
        lambda x: lib(x).unsqueeze(x, -1),
        lambda x: x[..., None],
        (A((3, 4)),),
        grad_fn="UnsqueezeBackward0",
    ),
    S(
        "squeeze_all",
        lambda x: x.squeeze(),
        np.squeeze,
        (A((3, 1, 4, 1)),),
        grad_fn="SqueezeBackward0",
    ),
    S(
        "squeeze_dim",
        lambda x: lib(x).squeeze(x, 1),
        lambda x: x.squeeze(1),
        (A((3, 1, 4, 1)),),
        grad_fn="SqueezeBackward1",
    ),
    S(
        "squeeze_negative_dim",
        lambda x: x.squeeze(-1),
        lambda x: x.squeeze(-1),
        (A((3, 1, 4, 1)),),
        grad_fn="SqueezeBackward1",
    ),
    S(
        "expand",
        lambda x: x.expand(2, 3, 4),
        lambda x: np.broadcast_to(x, (2, 3, 4)),
        (A((3, 1)),),
        grad_fn="ExpandBackward0",
    ),
    S(
        "expand_minus_one",
        lambda x: x.expand(-1, 4),
        lambda x: np.broadcast_to(x, (3, 4)),
        (A((3, 1)),),
        grad_fn="ExpandBackward0",
    ),
    S(
        "expand_as",
        lambda x, y: x.expand_as(y) * y,
        lambda x, y: x * y,
        (A((1, 4)), A((3, 4))),
        grad_fn="MulBackward0",
    ),
    S(
        "broadcast_to",
        lambda x: lib(x).broadcast_to(x, (2, 3, 4)),
        lambda x: np.broadcast_to(x, (2, 3, 4)),
        (A((4,)),),
        grad_fn="ExpandBackward0",
    ),
    S(
        "broadcast_to_method",
        lambda x: x.broadcast_to((3, 4)),
        lambda x: np.broadcast_to(x, (3, 4)),
        (A((3, 1)),),
        grad_fn="ExpandBackward0",
    ),
    # ---- indexing -------------------------------------------------------------------------
    S("index_int", lambda x: x[1], lambda x: x[1], (A((3, 4)),), grad_fn="SelectBackward0"),
    S(
        "index_negative_int",
        lambda x: x[-1, 2],
        lambda x: x[-1, 2],
        (A((3, 4)),),
        grad_fn="SelectBackward0",
    ),
    S("index_slice", lambda x: x[1:3], lambda x: x[1:3], (A((4, 3)),), grad_fn="SliceBackward0"),
    S(
        "index_slice_step",
        lambda x: x[:, ::2],
        lambda x: x[:, ::2],
        (A((3, 5)),),
        grad_fn="SliceBackward0",
    ),
    # PyTorch has no negative slice steps (numpy does); its spelling is flip().
    S(
        "index_slice_negative_step",
        lambda x: x[::-1],
        lambda x: x[::-1],
        (A((4, 3)),),
        grad_fn="SliceBackward0",
        torch_fn=lambda x: x.flip(0),
    ),
    S(
        "index_slice_negative_step_stride2",
        lambda x: x[3::-2],
        lambda x: x[3::-2],
        (A((5, 2)),),
        grad_fn="SliceBackward0",
        torch_fn=lambda x: x[:4].flip(0)[::2],
    ),
    S(
        "index_full_slice",
        lambda x: x[:, 0:3],
        lambda x: x[:, 0:3],
        (A((2, 3)),),
        grad_fn="AliasBackward0",
    ),
    S(
        "index_select_then_slice",
        lambda x: x[1, 1:],
        lambda x: x[1, 1:],
        (A((2, 3)),),
        grad_fn="SliceBackward0",
    ),
    S(
        "index_slice_then_select",
        lambda x: x[1:, 1],
        lambda x: x[1:, 1],
        (A((3, 3)),),
        grad_fn="SelectBackward0",
    ),
    S(
        "index_list_then_slice",
        lambda x: x[[1, 0], 1:],
        lambda x: x[[1, 0], 1:],
        (A((3, 3)),),
        grad_fn="IndexBackward0",
    ),
    S(
        "index_none",
        lambda x: x[None],
        lambda x: x[None],
        (A((3, 4)),),
        grad_fn="UnsqueezeBackward0",
    ),
    S(
        "index_ellipsis",
        lambda x: x[..., 1],
        lambda x: x[..., 1],
        (A((2, 3, 4)),),
        grad_fn="SelectBackward0",
    ),
    S(
        "index_ellipsis_none",
        lambda x: x[..., None, 1:],
        lambda x: x[..., None, 1:],
        (A((2, 3)),),
        grad_fn="SliceBackward0",
    ),
    S(
        "index_mixed",
        lambda x: x[0, 1:, None],
        lambda x: x[0, 1:, None],
        (A((2, 3, 4)),),
        grad_fn="UnsqueezeBackward0",
    ),
    S(
        "index_int_tensor",
        lambda x, i: x[i],
        lambda x, i: x[i],
        (A((4, 3)), A((5,), indices(-4, 4))),
        grad_fn="IndexBackward0",
    ),
    S(
        "index_list_repeated",
        lambda x: x[[0, 2, 2, 0]],
        lambda x: x[[0, 2, 2, 0]],
        (A((3, 2)),),
        grad_fn="IndexBackward0",
    ),
    S(
        "index_list",
        lambda x: x[:, [2, 0]],
        lambda x: x[:, [2, 0]],
        (A((3, 4)),),
        grad_fn="IndexBackward0",
    ),
    S(
        "index_int_tensor_2d",
        lambda x, i: x[i],
        lambda x, i: x[i],
        (A((5,)), A((2, 3), indices(0, 5))),
        grad_fn="IndexBackward0",
    ),
    S(
        "index_bool_mask",
        lambda x, m: x[m],
        lambda x, m: x[m],
        (A((3, 4)), A((3, 4), mask)),
        grad_fn="IndexBackward0",
        data_dependent=True,
    ),
    S(
        "index_bool_mask_rows",
        lambda x, m: x[m],
        lambda x, m: x[m],
        (A((4, 2)), A((4,), mask)),
        grad_fn="IndexBackward0",
        data_dependent=True,
    ),
    S(
        "index_bool_from_compare",
        lambda x: x[x > 0],
        lambda x: x[x > 0],
        (A((3, 4), nonzero),),
        grad_fn="IndexBackward0",
        data_dependent=True,
    ),
    S(
        "index_arange_labels",
        lambda x, y: x[lib(x).arange(x.shape[0]), y],
        lambda x, y: x[np.arange(x.shape[0]), y],
        (A((4, 3)), A((4,), labels(3))),
        grad_fn="IndexBackward0",
    ),
    S(
        "gather",
        lambda x, i: x.gather(1, i),
        lambda x, i: np.take_along_axis(x, i, 1),
        (A((3, 4)), A((3, 2), indices(0, 4))),
        grad_fn="GatherBackward0",
    ),
    S(
        "gather_dim0_repeated_smaller",
        lambda x, i: lib(x).gather(x, 0, i),
        lambda x, i: np.take_along_axis(x[:, :2], i, 0),
        (A((3, 4)), A((5, 2), indices(0, 3))),
        grad_fn="GatherBackward0",
    ),
    S(
        "scatter_add",
        lambda x, i, v: x.scatter_add(1, i, v),
        lambda x, i, v: _scatter_add_ref(x, 1, i, v),
        (A((3, 4)), A((3, 5), indices(0, 4)), A((3, 5))),
        grad_fn="ScatterAddBackward0",
    ),
    # PyTorch's own backward fails when src is larger than index ("invalid gradient at
    # index 1"): the oracle runs the equivalent with src cut to index's shape
    S(
        "scatter_add_larger_src",
        lambda x, i, v: lib(x).scatter_add(x, 0, i, v),
        lambda x, i, v: _scatter_add_ref(x, 0, i, v[:2, :3]),
        (A((3, 4)), A((2, 3), indices(0, 3)), A((4, 4))),
        grad_fn="ScatterAddBackward0",
        torch_fn=lambda x, i, v: lib(x).scatter_add(x, 0, i, v[:2, :3]),
    ),
    S(
        "setitem_on_clone",
        lambda x, v: _setitem(x, v),
        lambda x, v: _setitem_ref(x, v),
        (A((3, 4)), A((4,))),
        grad_fn="MulBackward0",
    ),
    S(
        "setitem_mask_on_clone",
        lambda x, v: _setitem_mask(x, v),
        lambda x, v: _setitem_mask_ref(x, v),
        (A((2, 3), nonzero), A(())),
        grad_fn="IndexPutBackward0",
    ),
    # ---- cat and stack --------------------------------------------------------------------
    S(
        "cat",
        lambda a, b: lib(a).cat([a, b]),
        lambda a, b: np.concatenate([a, b]),
        (A((2, 3)), A((1, 3))),
        grad_fn="CatBackward0",
    ),
    S(
        "cat_dim1",
        lambda a, b, c: lib(a).cat((a, b, c), dim=1),
        lambda a, b, c: np.concatenate([a, b, c], 1),
        (A((2, 1)), A((2, 3)), A((2, 2))),
        grad_fn="CatBackward0",
    ),
    S(
        "cat_negative_dim",
        lambda a, b: lib(a).cat([a, b], -1),
        lambda a, b: np.concatenate([a, b], -1),
        (A((2, 2, 1)), A((2, 2, 2))),
        grad_fn="CatBackward0",
    ),
    S(
        "stack",
        lambda a, b: lib(a).stack([a, b]),
        lambda a, b: np.stack([a, b]),
        (A((2, 3)), A((2, 3))),
        grad_fn="StackBackward0",
    ),
    S(
        "stack_dim_last",
        lambda a, b, c: lib(a).stack([a, b, c], dim=-1),
        lambda a, b, c: np.stack([a, b, c], -1),
        (A((2, 3)), A((2, 3)), A((2, 3))),
        grad_fn="StackBackward0",
    ),
    # ---- nn.functional -------------------------------------------------------------------
    S(
        "F_relu",
        lambda x: F(x).relu(x),
        lambda x: np.maximum(x, 0),
        (A((2, 3), nonzero),),
        grad_fn="ReluBackward0",
    ),
    S("F_sigmoid", lambda x: F(x).sigmoid(x), _sigmoid, (A((2, 3)),), grad_fn="SigmoidBackward0"),
    S("F_tanh", lambda x: F(x).tanh(x), np.tanh, (A((2, 3)),), grad_fn="TanhBackward0"),
    S(
        "F_softmax",
        lambda x: F(x).softmax(x, dim=1),
        lambda x: _softmax(x, 1),
        (A((2, 3)),),
        grad_fn="SoftmaxBackward0",
    ),
    S(
        "F_log_softmax",
        lambda x: F(x).log_softmax(x, dim=-1),
        lambda x: _log_softmax(x, -1),
        (A((2, 3)),),
        grad_fn="LogSoftmaxBackward0",
    ),
    S(
        "F_linear",
        lambda x, w, b: F(x).linear(x, w, b),
        lambda x, w, b: x @ w.T + b,
        (A((4, 3)), A((2, 3)), A((2,))),
        grad_fn="AddmmBackward0",
    ),
    S(
        "F_linear_no_bias",
        lambda x, w: F(x).linear(x, w),
        lambda x, w: x @ w.T,
        (A((4, 3)), A((2, 3))),
        grad_fn="MmBackward0",
    ),
    S(
        "F_linear_batched",
        lambda x, w, b: F(x).linear(x, w, b),
        lambda x, w, b: x @ w.T + b,
        (A((2, 4, 3)), A((2, 3)), A((2,))),
        grad_fn="ViewBackward0",
    ),
    S(
        "F_linear_batched_no_bias",
        lambda x, w: F(x).linear(x, w),
        lambda x, w: x @ w.T,
        (A((2, 4, 3)), A((2, 3))),
        grad_fn="UnsafeViewBackward0",
    ),
    S(
        "F_linear_1d",
        lambda x, w, b: F(x).linear(x, w, b),
        lambda x, w, b: w @ x + b,
        (A((3,)), A((2, 3)), A((2,))),
        grad_fn="ViewBackward0",
    ),
    S(
        "F_linear_1d_no_bias",
        lambda x, w: F(x).linear(x, w),
        lambda x, w: w @ x,
        (A((3,)), A((2, 3))),
        grad_fn="SqueezeBackward4",
    ),
    *[
        S(
            f"F_cross_entropy_{r}",
            _cross_entropy(r),
            _cross_entropy_ref(r),
            (A((4, 3)), A((4,), labels(3))),
            grad_fn="NllLossBackward0",
        )
        for r in ("mean", "sum", "none")
    ],
    S(
        "F_cross_entropy_ignore_index",
        lambda x, y: F(x).cross_entropy(x, y, ignore_index=-1),
        lambda x, y: _nll(_log_softmax(x, 1), y, "mean", -1),
        (A((5, 3)), A((5,), labels(3, ignore=-1))),
        grad_fn="NllLossBackward0",
    ),
    S(
        "F_cross_entropy_ignore_index_sum",
        lambda x, y: F(x).cross_entropy(x, y, reduction="sum", ignore_index=2),
        lambda x, y: _nll(_log_softmax(x, 1), y, "sum", 2),
        (A((5, 3)), A((5,), labels(3, ignore=2))),
        grad_fn="NllLossBackward0",
    ),
    S(
        "F_cross_entropy_1d",
        lambda x, y: F(x).cross_entropy(x, y),
        lambda x, y: -_log_softmax(x, 0)[y],
        (A((3,)), A((), labels(3))),
        grad_fn="NllLossBackward0",
    ),
    S(
        "F_cross_entropy_1d_none",
        lambda x, y: F(x).cross_entropy(x, y, reduction="none"),
        lambda x, y: -_log_softmax(x, 0)[y],
        (A((3,)), A((), labels(3))),
        grad_fn="NllLossBackward0",
    ),
    S(
        "F_nll_loss_1d_sum",
        lambda x, y: F(x).nll_loss(x, y, reduction="sum"),
        lambda x, y: -x[y],
        (A((3,)), A((), labels(3))),
        grad_fn="NllLossBackward0",
    ),
    *[
        S(
            f"F_nll_loss_{r}",
            _nll_loss(r),
            _nll_loss_ref(r),
            (A((4, 3)), A((4,), labels(3))),
            grad_fn="NllLossBackward0",
        )
        for r in ("mean", "sum", "none")
    ],
    S(
        "F_nll_loss_ignore_index",
        lambda x, y: F(x).nll_loss(x, y, ignore_index=0),
        lambda x, y: _nll(x, y, "mean", 0),
        (A((5, 3)), A((5,), labels(3, ignore=0))),
        grad_fn="NllLossBackward0",
    ),
    *[
        S(
            f"F_mse_loss_{r}",
            _mse_loss(r),
            _mse_loss_ref(r),
            (A((3, 4)), A((3, 4))),
            grad_fn="MseLossBackward0",
        )
        for r in ("mean", "sum", "none")
    ],
    # ---- compositions ----------------------------------------------------------------------
    S(
        "mlp_step",
        lambda x, w1, w2, y: F(x).cross_entropy(F(x).linear(x, w1).tanh() @ w2, y),
        lambda x, w1, w2, y: _nll(_log_softmax(np.tanh(x @ w1.T) @ w2, 1), y),
        (A((4, 3)), A((5, 3)), A((5, 2)), A((4,), labels(2))),
        grad_fn="NllLossBackward0",
    ),
    S(
        "reuse_input",
        lambda x: x * x.exp() + x.sin() * x,
        lambda x: x * np.exp(x) + np.sin(x) * x,
        (A((4,)),),
        grad_fn="AddBackward0",
    ),
]


def _scatter_add_ref(x: np.ndarray, dim: int, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    out = x.copy()
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] += src[pos]
    return out


def _setitem(x: Any, v: Any) -> Any:
    """Write a row of a clone (CopySlices), then use the result."""
    y = x.clone()
    y[1] = v
    return y * 2


def _setitem_ref(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    y = x.copy()
    y[1] = v
    return y * 2


def _setitem_mask(x: Any, v: Any) -> Any:
    """Overwrite the negative entries of a clone with a 0-d tensor."""
    y = x.clone()
    y[x < 0] = v
    return y


def _setitem_mask_ref(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    y = x.copy()
    y[x < 0] = v
    return y


# ---- op families with spec tables of their own ------------------------------------------
# Each module `tests/opspecs_<family>.py` builds its rows with this module's helpers
# (`from opspecs import A, S, real, ...`) and defines SPECS; it is imported only through
# here, after every helper above exists.
FAMILIES: tuple[str, ...] = (
    "opspecs_index",
    "opspecs_math",
    "opspecs_activations",
    "opspecs_reduce",
    "opspecs_conv",
    "opspecs_sorting",
    "opspecs_linalg",
)
for _family in FAMILIES:
    SPECS += importlib.import_module(_family).SPECS

BY_NAME: dict[str, OpSpec] = {s.name: s for s in SPECS}
assert len(BY_NAME) == len(SPECS), "duplicate spec names"
