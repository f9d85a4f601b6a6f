"""Random streams: after manual_seed(s), every random function gives PyTorch's numbers.

Two kinds of checks:

* against PyTorch (optional; skipped without it): the same seed gives bit-identical tensors,
  and the generator is left at the same place (the next draw agrees too), for several
  seeds, sizes on both sides of PyTorch's size switches (1, 7, 15, 16, 17, 100, 1000),
  float32 and float64, contiguous and strided outputs;
* without PyTorch: the engine against the C++ standard's mt19937 values, reproducibility,
  generator isolation and state round trips, and the distributions' moments against their
  analytic values (fixed seeds, bounds of 6 standard errors).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tracer


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


SEEDS = (0, 123456789)
SIZES = (1, 7, 15, 16, 17, 100, 1000)
FLOATS = ("float32", "float64")


def bits(a: np.ndarray) -> np.ndarray:
    """The array's bytes, so -0.0 != 0.0 and NaNs compare by payload."""
    return np.ascontiguousarray(a).view(np.uint8)


def assert_same_stream(torch, seed: int, make) -> None:
    """`make(lib)` gives the same tensor with both libraries after the same seed, and leaves
    both generators at the same place."""
    tracer.manual_seed(seed)
    torch.manual_seed(seed)
    ours, theirs = make(tracer), make(torch)
    ours, theirs = np.asarray(ours.numpy()), theirs.numpy()
    assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape)
    assert np.array_equal(bits(ours), bits(theirs)), np.flatnonzero(ours != theirs)[:10]
    assert np.array_equal(tracer.rand(5).numpy(), torch.rand(5).numpy())


def dt(lib, name: str):
    return getattr(lib, name)


# ---- floats: a table of (name -> tensor from lib, size n, float dtype name) -----------
FLOAT_CASES = {
    "rand": lambda T, n, d: T.rand(n, dtype=dt(T, d)),
    "rand_2d": lambda T, n, d: T.rand(3, n, dtype=dt(T, d)),
    "randn": lambda T, n, d: T.randn(n, dtype=dt(T, d)),
    "randn_2d": lambda T, n, d: T.randn(n, 3, dtype=dt(T, d)),
    "randn_size_keyword": lambda T, n, d: T.randn(size=(n,), dtype=dt(T, d)),
    "randn_twice": lambda T, n, d: T.stack([T.randn(n, dtype=dt(T, d)) for _ in range(2)]),
    "rand_like": lambda T, n, d: T.rand_like(T.zeros(n, dtype=dt(T, d))),
    "randn_like": lambda T, n, d: T.randn_like(T.zeros(n, dtype=dt(T, d))),
    "uniform_": lambda T, n, d: T.zeros(n, dtype=dt(T, d)).uniform_(-3.7, 2.2),
    "uniform_strided": lambda T, n, d: T.zeros(n, 3, dtype=dt(T, d)).t().uniform_(1, 5),
    "normal_": lambda T, n, d: T.zeros(n, dtype=dt(T, d)).normal_(0.3, 2.5),
    "normal_strided": lambda T, n, d: T.zeros(n, 3, dtype=dt(T, d)).t().normal_(-1, 0.5),
    "normal_float_float": lambda T, n, d: T.normal(0.3, 2.5, size=(n,), dtype=dt(T, d)),
    "normal_tensor_tensor": lambda T, n, d: T.normal(
        T.linspace(-1, 1, n, dtype=dt(T, d)), T.linspace(0.5, 2, n, dtype=dt(T, d))
    ),
    "normal_tensor_float": lambda T, n, d: T.normal(T.linspace(-1, 1, n, dtype=dt(T, d)), 1.7),
    "normal_float_tensor": lambda T, n, d: T.normal(0.4, T.linspace(0.5, 2, n, dtype=dt(T, d))),
    "exponential_": lambda T, n, d: T.zeros(n, dtype=dt(T, d)).exponential_(1.5),
    "bernoulli_tensor_p": lambda T, n, d: T.bernoulli(T.linspace(0, 1, n, dtype=dt(T, d))),
    "bernoulli_scalar_p": lambda T, n, d: T.bernoulli(T.zeros(n, dtype=dt(T, d)), 0.3),
    "bernoulli_": lambda T, n, d: T.zeros(2, n, dtype=dt(T, d)).bernoulli_(0.7),
    "randint_float": lambda T, n, d: T.randint(-5, 9, (n,), dtype=dt(T, d)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", sorted(FLOAT_CASES))
def test_float_streams_are_pytorchs(torch, case, seed, n, dtype):
    assert_same_stream(torch, seed, lambda T: FLOAT_CASES[case](T, n, dtype))


@pytest.mark.parametrize("seed", (0, 1, 42, 2**32 + 7, 2**64 - 1, -5))
def test_seeds_of_every_size_seed_pytorchs_generator(torch, seed):
    assert_same_stream(torch, seed, lambda T: T.randn(40))


@pytest.mark.parametrize("n", (10**5 + 3, 10**6))
@pytest.mark.parametrize("dtype", FLOATS)
def test_large_normals_are_pytorchs(torch, n, dtype):
    assert_same_stream(torch, 11, lambda T: T.randn(n, dtype=dt(T, dtype)))


def test_the_cached_second_normal_is_shared_across_calls_and_paths(torch):
    # randn(1) caches its sin sample, randn(16) leaves the cache alone, randn(1) reuses it
    def make(T):
        return T.cat([T.randn(1), T.randn(16), T.randn(1), T.randn(3, dtype=T.float64).float()])

    assert_same_stream(torch, 5, make)


FLOAT16_CASES = {
    "rand": lambda T: T.rand(40, dtype=T.float16),
    "uniform_": lambda T: T.zeros(40, dtype=T.float16).uniform_(-2, 3),
    "randn_scalar_path": lambda T: T.randn(15, dtype=T.float16),
    "randn_blocks": lambda T: T.randn(40, dtype=T.float16),
    "normal_": lambda T: T.zeros(100, dtype=T.float16).normal_(0.3, 2.7),
    "random_": lambda T: T.zeros(40, dtype=T.float16).random_(),
    "randint": lambda T: T.randint(0, 100, (20,), dtype=T.float16),
    "exponential_": lambda T: T.zeros(50, dtype=T.float16).exponential_(3),
    "multinomial": lambda T: T.multinomial(T.tensor([0.1, 0.5, 0.4], dtype=T.float16), 5, True),
}


@pytest.mark.parametrize("case", sorted(FLOAT16_CASES))
def test_float16_streams_are_pytorchs(torch, case):
    assert_same_stream(torch, 9, FLOAT16_CASES[case])


# ---- integers -------------------------------------------------------------------------
RANGES = {  # (low, high): the 2**28 switch to 64-bit draws, the 2**32 and int64 extremes
    "small": (0, 10),
    "negative": (-7, 13),
    "below_2_28": (0, 2**28 - 1),
    "at_2_28": (5, 5 + 2**28),
    "2_32": (0, 2**32),
    "2_62": (-(2**62), 2**62),
    "full_int64": (-(2**63), 2**63 - 1),
}


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bounds", sorted(RANGES))
def test_randint_streams_are_pytorchs(torch, bounds, n):
    low, high = RANGES[bounds]
    assert_same_stream(torch, 3, lambda T: T.randint(low, high, (n,)))


@pytest.mark.parametrize("dtype", ("int64", "int32", "int16", "int8", "uint8", "float32"))
def test_randint_in_other_dtypes_is_pytorchs(torch, dtype):
    assert_same_stream(torch, 4, lambda T: T.randint(0, 100, (50,), dtype=dt(T, dtype)))


@pytest.mark.parametrize(
    "dtype", ("int64", "int32", "int16", "int8", "uint8", "bool", "float32", "float64")
)
def test_random_without_bounds_is_pytorchs(torch, dtype):
    assert_same_stream(torch, 6, lambda T: T.zeros(33, dtype=dt(T, dtype)).random_())


@pytest.mark.parametrize(
    "args",
    [(1000,), (-50, 50), (-(2**40), 2**40), (-5, None), (-(2**63), None)],
    ids=["to", "from_to", "from_to_64bit", "from_to_max", "full_range"],
)
@pytest.mark.parametrize("dtype", ("int64", "int32", "float64"))
def test_random_with_bounds_is_pytorchs(torch, args, dtype):
    if dtype == "int32" and args[0] < -(2**31):
        pytest.skip("out of int32's range")
    assert_same_stream(torch, 8, lambda T: T.zeros(21, dtype=dt(T, dtype)).random_(*args))


def test_randint_like_is_pytorchs(torch):
    assert_same_stream(torch, 2, lambda T: T.randint_like(T.zeros(4, 5), 3, 9))


@pytest.mark.parametrize("n", (0, 1, 2, 7, 100, 1000, 5000))
def test_randperm_is_pytorchs(torch, n):
    assert_same_stream(torch, 12, lambda T: T.randperm(n))


def test_randperm_in_float32_is_pytorchs(torch):
    assert_same_stream(torch, 12, lambda T: T.randperm(30, dtype=T.float32))


# ---- multinomial ----------------------------------------------------------------------
PROBS = [[0.1, 0.2, 0.3, 0.15, 0.25, 0.0, 0.4], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("rows", (1, 2))
@pytest.mark.parametrize(
    "k,replacement", [(1, False), (3, False), (6, False), (1, True), (3, True), (50, True)]
)
def test_multinomial_is_pytorchs(torch, dtype, rows, k, replacement):
    def make(T):
        p = T.tensor(PROBS[:rows], dtype=dt(T, dtype))
        return T.multinomial(p if rows > 1 else p[0], k, replacement)

    assert_same_stream(torch, 21, make)


# ---- generators -----------------------------------------------------------------------
def test_a_seeded_generator_argument_is_pytorchs(torch):
    ours = tracer.randn(20, generator=tracer.Generator().manual_seed(77))
    theirs = torch.randn(20, generator=torch.Generator().manual_seed(77))
    assert np.array_equal(ours.numpy(), theirs.numpy())


def test_an_unseeded_generator_starts_where_pytorchs_does(torch):
    ours = tracer.rand(10, generator=tracer.Generator())
    theirs = torch.rand(10, generator=torch.Generator())
    assert np.array_equal(ours.numpy(), theirs.numpy())


def test_get_rng_state_is_pytorchs_byte_for_byte(torch):
    for lib in (tracer, torch):
        lib.manual_seed(2**40 + 9)
        lib.randn(3, dtype=lib.float64)  # leaves a cached normal in the state
        lib.rand(7)
    assert np.array_equal(tracer.get_rng_state().numpy(), torch.get_rng_state().numpy())


def test_a_state_from_pytorch_continues_its_stream(torch):
    torch.manual_seed(31)
    torch.randn(5)
    tracer.set_rng_state(tracer.tensor(torch.get_rng_state().numpy()))
    assert np.array_equal(tracer.randn(25).numpy(), torch.randn(25).numpy())


# ---- without PyTorch: the engine --------------------------------------------------------
def test_the_engine_is_the_standard_mt19937():
    # C++ [rand.predef]: the 10000th output of a default-constructed mt19937 (seed 5489)
    words = tracer.Generator().manual_seed(5489).random32(10000)
    assert words[0] == 3499211612 and words[-1] == 4123659995


def test_64_bit_values_join_two_words_first_one_high():
    w = tracer.Generator().manual_seed(5489).random32(4).astype(np.uint64)
    v = tracer.Generator().manual_seed(5489).random64(2)
    assert v.tolist() == [int(w[0]) << 32 | int(w[1]), int(w[2]) << 32 | int(w[3])]


def test_only_the_low_32_bits_seed_the_engine_but_initial_seed_keeps_all():
    g = tracer.Generator().manual_seed(2**40 + 5)
    assert g.initial_seed() == 2**40 + 5
    assert np.array_equal(g.random32(3), tracer.Generator().manual_seed(5).random32(3))


def test_negative_seeds_wrap_modulo_2_64():
    assert tracer.Generator().manual_seed(-1).initial_seed() == 2**64 - 1


@pytest.mark.parametrize("bad", [2**64, -(2**63) - 1])
def test_seeds_out_of_range_are_refused(bad):
    with pytest.raises(ValueError, match="seed must be in"):
        tracer.manual_seed(bad)


@pytest.mark.parametrize("bad", [1.5, "3", None])
def test_seeds_that_are_not_ints_are_refused(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        tracer.manual_seed(bad)


def test_manual_seed_reproduces_every_stream():
    draws = lambda: (tracer.rand(5), tracer.randn(20), tracer.randint(0, 9, (5,)))  # noqa: E731
    tracer.manual_seed(4)
    first = draws()
    tracer.manual_seed(4)
    second = draws()
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first, second))


def test_a_generator_argument_leaves_the_default_stream_alone():
    tracer.manual_seed(1)
    expected = tracer.rand(5).numpy()
    tracer.manual_seed(1)
    tracer.randn(100, generator=tracer.Generator().manual_seed(1))
    assert np.array_equal(tracer.rand(5).numpy(), expected)


def test_generators_with_the_same_seed_agree_and_are_independent():
    g1, g2 = tracer.Generator().manual_seed(3), tracer.Generator().manual_seed(3)
    a = tracer.randn(10, generator=g1)
    tracer.randn(10, generator=g1)  # advancing g1 does not advance g2
    assert np.array_equal(a.numpy(), tracer.randn(10, generator=g2).numpy())


def test_state_round_trip_restores_the_stream_and_the_cached_normal():
    g = tracer.Generator().manual_seed(8)
    tracer.randn(1, generator=g)  # leaves the second normal cached
    state = g.get_state()
    a = tracer.randn(5, generator=g)
    g.set_state(state)
    assert np.array_equal(tracer.randn(5, generator=g).numpy(), a.numpy())


def test_clone_state_copies_the_generator():
    g = tracer.Generator().manual_seed(8)
    c = g.clone_state()
    assert np.array_equal(tracer.rand(4, generator=g).numpy(), tracer.rand(4, generator=c).numpy())


@pytest.mark.parametrize(
    "bad,error",
    [
        (tracer.zeros(5056), tracer.DTypeError),
        (tracer.zeros(5, dtype=tracer.uint8), ValueError),
        ("state", tracer.DTypeError),
    ],
    ids=["float_tensor", "wrong_size", "not_a_tensor"],
)
def test_set_state_refuses_what_is_not_a_state_and_changes_nothing(bad, error):
    g = tracer.Generator().manual_seed(10)
    before = g.get_state().numpy()
    with pytest.raises(error):
        g.set_state(bad)
    assert np.array_equal(g.get_state().numpy(), before)


def test_seed_reseeds_from_entropy_and_reports_the_seed():
    s = tracer.seed()
    assert tracer.initial_seed() == s and 0 <= s < 2**64


def test_fork_rng_restores_the_default_stream():
    tracer.manual_seed(6)
    expected = tracer.randn(5).numpy()
    tracer.manual_seed(6)
    with tracer.random.fork_rng():
        tracer.randn(100)
    assert np.array_equal(tracer.randn(5).numpy(), expected)


def test_manual_seed_returns_the_default_generator():
    assert tracer.manual_seed(0) is tracer.default_generator


# ---- without PyTorch: distributions against their analytic moments ---------------------
N = 200_000


def within(sample: np.ndarray, mean: float, var: float, k: float = 6.0) -> bool:
    """The sample mean is within k standard errors of `mean`, and the sample variance
    within k standard errors of `var` (normal approximation, fourth moment bounded by
    3 var**2 + the distribution's excess, covered by k)."""
    x = sample.astype(np.float64)
    ok_mean = abs(x.mean() - mean) <= k * math.sqrt(var / x.size)
    ok_var = abs(x.var() - var) <= k * var * math.sqrt(8.0 / x.size)
    return ok_mean and ok_var


MOMENTS = {  # name: (sample of N, mean, variance)
    "rand": (lambda: tracer.rand(N), 0.5, 1 / 12),
    "rand_f64": (lambda: tracer.rand(N, dtype=tracer.float64), 0.5, 1 / 12),
    "uniform_": (lambda: tracer.zeros(N).uniform_(-2, 6), 2.0, 64 / 12),
    "randn": (lambda: tracer.randn(N), 0.0, 1.0),
    "randn_f64": (lambda: tracer.randn(N, dtype=tracer.float64), 0.0, 1.0),
    "randn_small_calls": (lambda: tracer.cat([tracer.randn(7) for _ in range(N // 7)]), 0, 1),
    "normal": (lambda: tracer.normal(3.0, 0.5, size=(N,)), 3.0, 0.25),
    "exponential_": (lambda: tracer.zeros(N).exponential_(4.0), 0.25, 1 / 16),
    "bernoulli": (lambda: tracer.bernoulli(tracer.full((N,), 0.3)), 0.3, 0.21),
    "randint": (lambda: tracer.randint(-3, 7, (N,)), 1.5, (10**2 - 1) / 12),
    "randint_64bit": (
        lambda: tracer.randint(0, 2**40, (N,)).double() / 2**40,
        0.5,
        1 / 12,
    ),
}


@pytest.mark.parametrize("name", sorted(MOMENTS))
def test_samples_have_the_distributions_moments(name):
    make, mean, var = MOMENTS[name]
    tracer.manual_seed(2024)
    assert within(make().numpy(), mean, var)


def test_uniform_samples_stay_in_their_half_open_interval():
    tracer.manual_seed(0)
    x = tracer.zeros(N).uniform_(-2, 6).numpy()
    assert x.min() >= -2 and x.max() < 6


def test_randperm_is_a_permutation():
    tracer.manual_seed(0)
    for n in (0, 1, 2, 1000, 5000):
        assert np.array_equal(np.sort(tracer.randperm(n).numpy()), np.arange(n))


def test_multinomial_frequencies_follow_the_probabilities():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    tracer.manual_seed(0)
    draws = tracer.multinomial(tracer.tensor(p), N, replacement=True).numpy()
    freq = np.bincount(draws, minlength=4) / N
    assert np.all(np.abs(freq - p) <= 6 * np.sqrt(p * (1 - p) / N))


def test_multinomial_without_replacement_draws_distinct_categories():
    tracer.manual_seed(0)
    rows = tracer.multinomial(tracer.ones(50, 10), 10).numpy()
    assert all(np.array_equal(np.sort(r), np.arange(10)) for r in rows)


def test_zero_probability_categories_come_last_without_replacement():
    tracer.manual_seed(0)
    out = tracer.multinomial(tracer.tensor([0.0, 1.0, 0.0, 2.0]), 4).tolist()
    assert sorted(out[:2]) == [1, 3] and out[2:] == [0, 2]


def test_bernoulli_of_zero_and_one_are_certain():
    tracer.manual_seed(0)
    assert tracer.bernoulli(tracer.tensor([0.0, 1.0] * 50)).tolist() == [0.0, 1.0] * 50


def test_integers_a_float_dtype_cannot_all_hold_warn_as_in_pytorch():
    with pytest.warns(tracer.TracerWarning, match=r"out of bounds \[-\(2\^24\), 2\^24\]"):
        tracer.randint(0, 2**24 + 2, (3,), dtype=tracer.float32)


def test_random_respects_its_bounds():
    tracer.manual_seed(0)
    x = tracer.zeros(N, dtype=tracer.int64).random_(-5, 17).numpy()
    assert x.min() == -5 and x.max() == 16


def test_random_fills_a_strided_view_in_memory_order():
    tracer.manual_seed(0)
    flat = tracer.rand(12).numpy()
    tracer.manual_seed(0)
    t = tracer.zeros(4, 3)
    t.t().uniform_()
    assert np.array_equal(t.numpy().reshape(-1), flat)


# ---- errors change nothing -------------------------------------------------------------
BAD_CALLS = {
    "rand_int_dtype": (lambda: tracer.rand(3, dtype=tracer.int64), tracer.DTypeError),
    "randn_cuda": (lambda: tracer.randn(3, device="cuda"), tracer.DeviceError),
    "randint_empty_range": (lambda: tracer.randint(5, 5, (3,)), ValueError),
    "randint_no_size": (lambda: tracer.randint(5, 3), TypeError),
    "randint_float_bound": (lambda: tracer.randint(0, 5.5, (3,)), TypeError),
    "randint_uint8_overflow": (
        lambda: tracer.randint(0, 300, (3,), dtype=tracer.uint8),
        ValueError,
    ),
    "randint_requires_grad": (lambda: tracer.randint(0, 3, (3,), requires_grad=True), TypeError),
    "randperm_negative": (lambda: tracer.randperm(-1), ValueError),
    "random_beyond_float16": (
        lambda: tracer.zeros(3, dtype=tracer.float16).random_(-100000, 10),
        ValueError,
    ),
    "randperm_too_many_for_float16": (
        lambda: tracer.randperm(2**11 + 2, dtype=tracer.float16),
        ValueError,
    ),
    "normal_negative_std": (lambda: tracer.normal(0.0, -1.0, size=(3,)), ValueError),
    "normal_negative_std_tensor": (
        lambda: tracer.normal(tracer.zeros(2), tracer.tensor([1.0, -1.0])),
        ValueError,
    ),
    "normal_without_size": (lambda: tracer.normal(0.0, 1.0), TypeError),
    "normal_not_broadcastable": (
        lambda: tracer.normal(tracer.zeros(2), tracer.ones(3)),
        ValueError,
    ),
    "normal_int_tensor": (lambda: tracer.zeros(3, dtype=tracer.int64).normal_(), TypeError),
    "uniform_reversed": (lambda: tracer.zeros(3).uniform_(2, 1), ValueError),
    "uniform_infinite": (lambda: tracer.zeros(3).uniform_(0, math.inf), ValueError),
    "exponential_zero_rate": (lambda: tracer.zeros(3).exponential_(0), ValueError),
    "bernoulli_p_above_one": (lambda: tracer.bernoulli(tracer.tensor([0.5, 1.5])), ValueError),
    "bernoulli_int_probabilities": (lambda: tracer.bernoulli(tracer.tensor([1, 0])), TypeError),
    "bernoulli_scalar_p_above_one": (lambda: tracer.zeros(2).bernoulli_(1.5), ValueError),
    "multinomial_negative": (lambda: tracer.multinomial(tracer.tensor([-0.1, 1.0]), 1), ValueError),
    "multinomial_zero_sum": (lambda: tracer.multinomial(tracer.zeros(3), 1), ValueError),
    "multinomial_too_many": (lambda: tracer.multinomial(tracer.ones(2), 3), ValueError),
    "multinomial_3d": (lambda: tracer.multinomial(tracer.ones(2, 2, 2), 1), ValueError),
    "multinomial_int": (lambda: tracer.multinomial(tracer.tensor([1, 2]), 1), TypeError),
    "random_expanded_view": (lambda: tracer.zeros(1).expand(3).random_(), ValueError),
    "generator_not_a_generator": (lambda: tracer.rand(3, generator=3), TypeError),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_a_bad_call_raises_and_leaves_the_generator_alone(name):
    call, error = BAD_CALLS[name]
    tracer.manual_seed(0)
    before = tracer.get_rng_state().numpy()
    with pytest.raises(error):
        call()
    assert np.array_equal(tracer.get_rng_state().numpy(), before)


def test_the_error_for_an_out_of_range_randint_names_the_bound_and_dtype():
    with pytest.raises(ValueError, match=r"to - 1 = 299 is out of bounds for uint8"):
        tracer.randint(0, 300, (3,), dtype=tracer.uint8)


@pytest.mark.parametrize(
    "draw",
    [
        lambda x: x + tracer.randperm(3),
        lambda x: x + tracer.multinomial(tracer.ones(4), 3),
    ],
    ids=["randperm", "multinomial"],
)
def test_eager_only_random_functions_are_refused_inside_a_traced_function(draw):
    # rand, randn, normal, randint and bernoulli draw inside traces
    # (tests/e2e/test_random_in_trace.py); these two have no traced form
    f = tracer.trace(draw)
    with pytest.raises(tracer.TraceError, match="pass them in as an argument"):
        f(tracer.zeros(3))


def test_in_place_random_fills_of_captured_tensors_are_refused_under_a_trace():
    noise = tracer.zeros(3)
    f = tracer.trace(lambda x: x + noise.normal_())
    with pytest.raises(tracer.TraceError, match="normal_"):
        f(tracer.zeros(3))
