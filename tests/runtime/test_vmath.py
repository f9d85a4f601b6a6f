"""Accuracy and special-value tests for runtime.vmath.

Each function is compiled inside an ``@njit`` loop with exactly the flags the
code generator uses (``error_model='numpy'`` and ``vmath.FASTMATH``) and
compared against numpy: float32 results against numpy's float64 result,
float64 results against numpy's float64 result (bound + 1 ulp, numpy's own
error) and, where ``np.longdouble`` is wider than float64, against that
(bound as claimed in ``ULP_BOUND``).
"""

import functools
import re

import numba
import numpy as np
import pytest

from runtime import vmath

NAMES = ["exp", "expm1", "log", "log1p", "tanh", "sigmoid"]
DTYPES = ["float32", "float64"]
HAVE_LONGDOUBLE = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant


@functools.cache
def kernel(name, dtype):
    fn = vmath.VMATH[(name, dtype)]

    @numba.njit(error_model="numpy", fastmath=set(vmath.FASTMATH))
    def loop(x, out):
        for i in range(x.size):
            out[i] = fn(x[i])

    return loop


def run(name, x):
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    kernel(name, x.dtype.name)(x, out)
    return out


def _sigmoid(x):
    t = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + t), t / (1 + t))


REF = dict(exp=np.exp, expm1=np.expm1, log=np.log, log1p=np.log1p, tanh=np.tanh, sigmoid=_sigmoid)


def reference(name, x, wide):
    with np.errstate(all="ignore"):
        return REF[name](x.astype(wide))


def ulp_error(got, ref, dtype):
    """|got - ref| in units of the dtype's ulp at ref (ref in a wider type).

    0 where got equals ref rounded to dtype (covers inf, overflow and exact
    matches) or both are NaN; inf for any other NaN/inf mismatch.
    """
    fi = np.finfo(dtype)
    ref = np.asarray(ref)
    with np.errstate(all="ignore"):
        got = got.astype(ref.dtype)
        _, e = np.frexp(np.abs(ref))
        one = np.ones((), ref.dtype)
        ulp = np.maximum(np.ldexp(one, e - 1 - fi.nmant), fi.smallest_subnormal)
        err = np.abs(got - ref) / ulp
        same = (got == ref.astype(dtype)) | (np.isnan(got) & np.isnan(ref))
    err = np.where(same, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def log_sweep(dtype, n):
    """~n values per sign, evenly spaced in the bit pattern = log-spaced over
    the whole finite range including subnormals, plus their negatives."""
    itype = np.int32 if dtype == np.float32 else np.int64
    top = int(np.array(np.finfo(dtype).max, dtype).view(itype))
    bits = np.linspace(0, top, n).astype(np.int64).astype(itype)
    x = bits.view(dtype)
    return np.concatenate([x, -x])


def edges(dtype):
    """Values around every threshold: exp overflow / normal / subnormal
    underflow / rounds-to-0, tanh and sigmoid saturation, 0, +-1, min normal."""
    fi = np.finfo(dtype)
    with np.errstate(all="ignore"):
        base = np.log(
            np.array(
                [fi.max, fi.tiny, fi.smallest_subnormal, fi.smallest_subnormal / 2], np.longdouble
            )
        )
    centres = np.concatenate(
        [
            base,
            -base,
            [0.0, 1.0, -1.0, 9.0, 19.0, 44.0, 20.0, fi.tiny, fi.smallest_subnormal, fi.max],
        ]
    )
    centres = centres.astype(dtype)
    out = [centres]
    with np.errstate(over="ignore"):
        for c in centres:  # the 40 representable neighbours on each side
            up, dn = [c], [c]
            for _ in range(40):
                up.append(np.nextafter(up[-1], dtype(np.inf)))
                dn.append(np.nextafter(dn[-1], dtype(-np.inf)))
            out += [np.array(up, dtype), np.array(dn, dtype)]
    return np.concatenate(out)


# where each function does something interesting, for the random samples
DOMAINS = dict(
    exp=(-110.0, 90.0, -760.0, 710.0),
    expm1=(-20.0, 20.0, -40.0, 40.0),
    log=(0.0, 4.0, 0.0, 4.0),
    log1p=(-1.0, 3.0, -1.0, 3.0),
    tanh=(-10.0, 10.0, -20.0, 20.0),
    sigmoid=(-110.0, 110.0, -750.0, 750.0),
)


def samples(name, dtype):
    rng = np.random.default_rng(1234)
    lo32, hi32, lo64, hi64 = DOMAINS[name]
    lo, hi = (lo32, hi32) if dtype == np.float32 else (lo64, hi64)
    parts = [
        log_sweep(dtype, 400_000),
        rng.uniform(lo, hi, 400_000),
        rng.uniform(-1.0, 1.0, 100_000),
        # log-uniform magnitudes 1e-30 .. 1e3, both signs
        np.copysign(10.0 ** rng.uniform(-30, 3, 200_000), rng.uniform(-1, 1, 200_000)),
        # random bit patterns (any finite/inf/nan value)
        rng.integers(0, 2**32 if dtype == np.float32 else 2**63, 100_000, dtype=np.uint64),
        edges(dtype),
    ]
    bits = parts[4].astype(np.uint32 if dtype == np.float32 else np.uint64).view(dtype)
    parts[4] = bits
    with np.errstate(all="ignore"):
        return np.concatenate([np.asarray(p).astype(dtype) for p in parts])


@pytest.mark.parametrize("name", NAMES)
def test_float32_accuracy(name):
    x = samples(name, np.float32)
    got = run(name, x)
    assert got.dtype == np.float32
    err = ulp_error(got, reference(name, x, np.float64), np.float32)
    i = int(np.argmax(err))
    assert err[i] <= vmath.ULP_BOUND[(name, "float32")], (x[i], got[i], err[i])


@pytest.mark.parametrize("name", NAMES)
def test_float64_accuracy(name):
    x = samples(name, np.float64)
    got = run(name, x)
    assert got.dtype == np.float64
    bound = vmath.ULP_BOUND[(name, "float64")]
    # against numpy's own float64 result (which is itself up to ~1 ulp off)
    err = ulp_error(got, reference(name, x, np.float64), np.float64)
    i = int(np.argmax(err))
    assert err[i] <= bound + 1, (x[i], got[i], err[i])
    if HAVE_LONGDOUBLE:  # against a (nearly) correctly rounded reference
        err = ulp_error(got, reference(name, x, np.longdouble), np.float64)
        i = int(np.argmax(err))
        assert err[i] <= bound, (x[i], got[i], err[i])


NAN, INF = np.nan, np.inf
SPECIAL = {
    "exp": [
        (NAN, NAN),
        (INF, INF),
        (-INF, 0.0),
        (0.0, 1.0),
        (-0.0, 1.0),
        (1e4, INF),
        (-1e4, 0.0),
        (1e-30, 1.0),
    ],
    "expm1": [
        (NAN, NAN),
        (INF, INF),
        (-INF, -1.0),
        (0.0, 0.0),
        (1e4, INF),
        (-1e4, -1.0),
        (1e-30, 1e-30),
        (-1e-30, -1e-30),
    ],
    "log": [
        (NAN, NAN),
        (INF, INF),
        (-INF, NAN),
        (0.0, -INF),
        (-0.0, -INF),
        (-1.0, NAN),
        (-1e-30, NAN),
        (1.0, 0.0),
    ],
    "log1p": [
        (NAN, NAN),
        (INF, INF),
        (-INF, NAN),
        (-1.0, -INF),
        (-2.0, NAN),
        (0.0, 0.0),
        (1e-30, 1e-30),
        (-1e-30, -1e-30),
    ],
    "tanh": [
        (NAN, NAN),
        (INF, 1.0),
        (-INF, -1.0),
        (0.0, 0.0),
        (1e-30, 1e-30),
        (-1e-30, -1e-30),
        (30.0, 1.0),
        (-30.0, -1.0),
        (1e30, 1.0),
        (-1e30, -1.0),
    ],
    "sigmoid": [
        (NAN, NAN),
        (INF, 1.0),
        (-INF, 0.0),
        (0.0, 0.5),
        (-0.0, 0.5),
        (1e4, 1.0),
        (-1e4, 0.0),
        (1e30, 1.0),
        (-1e30, 0.0),
        (-3.4e38, 0.0),
    ],
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_special_values(name, dtype):
    x = np.array([a for a, _ in SPECIAL[name]], dtype)
    want = np.array([b for _, b in SPECIAL[name]], dtype)
    got = run(name, x)
    np.testing.assert_array_equal(got, want)  # NaNs compare equal here


@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormals(dtype):
    fi = np.finfo(dtype)
    x = np.array(
        [fi.smallest_subnormal, 3 * fi.smallest_subnormal, fi.tiny / 3, fi.tiny * (1 - fi.eps)],
        dtype,
    )
    # log of subnormals is accurate; tiny arguments pass through expm1/log1p/tanh
    assert np.all(ulp_error(run("log", x), reference("log", x, np.float64), dtype) <= 2)
    for name in ("expm1", "log1p", "tanh"):
        np.testing.assert_array_equal(run(name, x), x)
        np.testing.assert_array_equal(run(name, -x), -x)
    # exp/sigmoid underflow gradually into the subnormals (not flushed to 0)
    k = np.array([1, 2, 5, 100, 2**20], np.float64)
    y = np.log(k * float(fi.smallest_subnormal)).astype(dtype)
    for name in ("exp", "sigmoid"):
        got = run(name, y)
        assert np.all((got > 0) & (got < fi.tiny)), got
        assert np.all(ulp_error(got, reference(name, y, np.float64), dtype) <= 1.5), got


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_saturation_monotone(dtype):
    x = np.linspace(-200 if dtype == "float32" else -800, 200, 200_001).astype(dtype)
    y = run("sigmoid", x)
    assert np.all(np.isfinite(y)) and np.all((y >= 0) & (y <= 1))
    assert np.all(np.diff(y) >= 0)
    assert y[0] == 0 and y[-1] == 1


def test_vmath_table():
    assert set(vmath.VMATH) == {(n, d) for n in NAMES for d in DTYPES}
    assert set(vmath.ULP_BOUND) == set(vmath.VMATH)
    for (name, dtype), fn in vmath.VMATH.items():
        assert getattr(vmath, f"{name}_f{dtype[-2:]}") is fn


def test_loop_vectorises():
    """The loop body must compile to packed SIMD code without libm calls."""
    for dtype, ftype, suffix in (("float32", "float", "ps"), ("float64", "double", "pd")):
        for name in NAMES:
            loop = kernel(name, dtype)
            x = np.ones(64, dtype)
            loop(x, np.empty_like(x))
            llvm_ir = loop.inspect_llvm(loop.signatures[0])
            for libm in ("exp", "log", "tanh", "expm1", "log1p"):
                assert f"@{libm}" not in llvm_ir and f"@llvm.{libm}." not in llvm_ir
            assert re.search(rf"<(\d+) x {ftype}>", llvm_ir), (name, dtype)
            asm = loop.inspect_asm(loop.signatures[0])
            assert re.search(rf"\b(v?mul{suffix}|vfn?m(add|sub)\w*{suffix})\b", asm), (name, dtype)
