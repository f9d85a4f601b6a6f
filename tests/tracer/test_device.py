"""Devices as CPU-only PyTorch scripts use them: device objects print and compare as
PyTorch's, `device=` and `.to()` accept the CPU in every spelling, and any other device
raises DeviceError with the device-agnostic idiom. Expected strings are PyTorch's (checked
against torch when it is installed)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import tracer


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


DEVICES = {  # constructor arguments: (repr, str, type, index)
    ("cpu",): ("device(type='cpu')", "cpu", "cpu", None),
    ("cpu", 0): ("device(type='cpu', index=0)", "cpu:0", "cpu", 0),
    ("cpu:0",): ("device(type='cpu', index=0)", "cpu:0", "cpu", 0),
    ("cuda",): ("device(type='cuda')", "cuda", "cuda", None),
    ("cuda:1",): ("device(type='cuda', index=1)", "cuda:1", "cuda", 1),
    ("mps",): ("device(type='mps')", "mps", "mps", None),
}


@pytest.mark.parametrize("args", sorted(DEVICES), ids=str)
def test_a_device_prints_and_reads_as_pytorchs(args):
    d = tracer.device(*args)
    assert (repr(d), str(d), d.type, d.index) == DEVICES[args]


@pytest.mark.parametrize("args", sorted(DEVICES), ids=str)
def test_device_strings_match_pytorch(torch, args):
    assert (repr(tracer.device(*args)), str(tracer.device(*args))) == (
        repr(torch.device(*args)),
        str(torch.device(*args)),
    )


EQUALITY = [  # (left, right, equal): a device equals only an equal device, as in PyTorch
    (tracer.device("cpu"), tracer.device("cpu"), True),
    (tracer.device("cpu"), tracer.device("cpu", 0), False),
    (tracer.device("cpu"), tracer.device(tracer.device("cpu")), True),
    (tracer.device("cpu"), "cpu", False),
    (tracer.device("cpu"), tracer.device("cuda"), False),
]


@pytest.mark.parametrize("left,right,equal", EQUALITY)
def test_device_equality(left, right, equal):
    assert (left == right) is equal and (left != right) is (not equal)


def test_device_equality_with_strings_is_pytorchs(torch):
    assert (tracer.device("cpu") == "cpu") == (torch.device("cpu") == "cpu")


def test_devices_hash_like_their_equality_and_pickle():
    assert {tracer.device("cpu"), tracer.device("cpu")} == {tracer.device("cpu")}
    assert pickle.loads(pickle.dumps(tracer.device("cuda:1"))) == tracer.device("cuda:1")


@pytest.mark.parametrize(
    "args,error",
    [
        (("gpu",), ValueError),
        (("CPU",), ValueError),
        (("",), ValueError),
        (("cpu:x",), ValueError),
        (("cpu:0:1",), ValueError),
        (("cpu", -1), ValueError),
        (("cpu:0", 0), ValueError),
        ((None,), TypeError),
        ((5,), tracer.DeviceError),
    ],
    ids=str,
)
def test_bad_devices_are_refused(args, error):
    with pytest.raises(error):
        tracer.device(*args)


# ---- device= and .to() ------------------------------------------------------------------
CPU_SPELLINGS = ["cpu", "cpu:0", tracer.device("cpu"), tracer.device("cpu", 0), None]
CREATORS = {
    "tensor": lambda d: tracer.tensor([1.0], device=d),
    "as_tensor": lambda d: tracer.as_tensor([1.0], device=d),
    "zeros": lambda d: tracer.zeros(2, device=d),
    "ones": lambda d: tracer.ones(2, device=d),
    "empty": lambda d: tracer.empty(2, device=d),
    "full": lambda d: tracer.full((2,), 3.0, device=d),
    "zeros_like": lambda d: tracer.zeros_like(tracer.ones(2), device=d),
    "ones_like": lambda d: tracer.ones_like(tracer.ones(2), device=d),
    "empty_like": lambda d: tracer.empty_like(tracer.ones(2), device=d),
    "full_like": lambda d: tracer.full_like(tracer.ones(2), 2.0, device=d),
    "arange": lambda d: tracer.arange(3, device=d),
    "linspace": lambda d: tracer.linspace(0, 1, 3, device=d),
    "logspace": lambda d: tracer.logspace(0, 1, 3, device=d),
    "eye": lambda d: tracer.eye(2, device=d),
    "tril_indices": lambda d: tracer.tril_indices(2, 2, device=d),
    "triu_indices": lambda d: tracer.triu_indices(2, 2, device=d),
    "rand": lambda d: tracer.rand(2, device=d),
    "randn": lambda d: tracer.randn(2, device=d),
    "randint": lambda d: tracer.randint(0, 3, (2,), device=d),
    "randperm": lambda d: tracer.randperm(3, device=d),
    "rand_like": lambda d: tracer.rand_like(tracer.ones(2), device=d),
    "randn_like": lambda d: tracer.randn_like(tracer.ones(2), device=d),
    "randint_like": lambda d: tracer.randint_like(tracer.ones(2), 3, device=d),
    "normal": lambda d: tracer.normal(0.0, 1.0, size=(2,), device=d),
    "new_zeros": lambda d: tracer.ones(2).new_zeros(2, device=d),
    "new_ones": lambda d: tracer.ones(2).new_ones(2, device=d),
    "new_empty": lambda d: tracer.ones(2).new_empty(2, device=d),
    "new_full": lambda d: tracer.ones(2).new_full((2,), 1.0, device=d),
    "new_tensor": lambda d: tracer.ones(2).new_tensor([1.0], device=d),
}


@pytest.mark.parametrize("spelling", CPU_SPELLINGS, ids=repr)
@pytest.mark.parametrize("name", sorted(CREATORS))
def test_every_creation_function_accepts_the_cpu(name, spelling):
    assert CREATORS[name](spelling).device == tracer.device("cpu")


@pytest.mark.parametrize("other", ["cuda", "cuda:0", tracer.device("mps"), "meta"], ids=str)
@pytest.mark.parametrize("name", sorted(CREATORS))
def test_every_creation_function_refuses_other_devices_with_the_way_out(name, other):
    with pytest.raises(tracer.DeviceError) as info:
        CREATORS[name](other)
    message = str(info.value)
    assert "runs on the CPU" in message and "tracer.cuda.is_available()" in message


def test_device_errors_are_caught_by_pytorchs_exception_types():
    for kind in (RuntimeError, AssertionError):
        with pytest.raises(kind):
            tracer.zeros(2, device="cuda")


def test_a_tensor_is_on_the_cpu():
    x = tracer.zeros(2)
    assert repr(x.device) == "device(type='cpu')"
    assert (x.is_cpu, x.is_cuda, x.get_device()) == (True, False, -1)


TO_CALLS = {  # (call, expected dtype, returns the same tensor)
    "device_string": (lambda x: x.to("cpu"), "float32", True),
    "device_object": (lambda x: x.to(tracer.device("cpu")), "float32", True),
    "device_keyword": (lambda x: x.to(device="cpu"), "float32", True),
    "dtype": (lambda x: x.to(tracer.float64), "float64", False),
    "same_dtype": (lambda x: x.to(tracer.float32), "float32", True),
    "device_and_dtype": (lambda x: x.to("cpu", tracer.float64), "float64", False),
    "keywords": (lambda x: x.to(device="cpu", dtype=tracer.float16), "float16", False),
    "other_tensor": (lambda x: x.to(tracer.zeros(1, dtype=tracer.int32)), "int32", False),
    "non_blocking": (lambda x: x.to("cpu", non_blocking=True), "float32", True),
    "copy": (lambda x: x.to("cpu", copy=True), "float32", False),
    "cpu": (lambda x: x.cpu(), "float32", True),
}


@pytest.mark.parametrize("name", sorted(TO_CALLS))
def test_to_and_cpu(name):
    call, dtype, same = TO_CALLS[name]
    x = tracer.tensor([1.0, -2.0])
    y = call(x)
    assert (y.dtype == np.dtype(dtype), y is x, y.tolist() == [1.0, -2.0]) == (True, same, True)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x.cuda(),
        lambda x: x.to("cuda"),
        lambda x: x.to(tracer.device("cuda", 0), tracer.float64),
        lambda x: x.to(device="mps"),
        lambda x: x.to(0),
    ],
    ids=["cuda()", "to_cuda", "to_cuda_dtype", "to_mps", "to_index"],
)
def test_moving_to_another_device_raises_and_changes_nothing(call):
    x = tracer.tensor([1.0, 2.0])
    with pytest.raises(tracer.DeviceError, match="runs on the CPU"):
        call(x)
    assert x.tolist() == [1.0, 2.0] and x.dtype == np.float32


def test_the_device_agnostic_idiom_picks_the_cpu():
    device = "cuda" if tracer.cuda.is_available() else "cpu"
    x = tracer.randn(3, device=device).to(device)
    assert x.device.type == "cpu"


AVAILABILITY = {
    "cuda.is_available": (lambda: tracer.cuda.is_available(), False),
    "cuda.device_count": (lambda: tracer.cuda.device_count(), 0),
    "cuda.is_initialized": (lambda: tracer.cuda.is_initialized(), False),
    "backends.mps.is_available": (lambda: tracer.backends.mps.is_available(), False),
    "backends.mps.is_built": (lambda: tracer.backends.mps.is_built(), False),
    "backends.cudnn.is_available": (lambda: tracer.backends.cudnn.is_available(), False),
    "accelerator.is_available": (lambda: tracer.accelerator.is_available(), False),
    "accelerator.device_count": (lambda: tracer.accelerator.device_count(), 0),
    "accelerator.current_accelerator": (lambda: tracer.accelerator.current_accelerator(), None),
}


@pytest.mark.parametrize("name", sorted(AVAILABILITY))
def test_nothing_but_the_cpu_is_available(name):
    call, expected = AVAILABILITY[name]
    assert call() == expected


def test_seeding_boilerplate_runs_and_the_cudnn_flags_keep_their_values():
    tracer.cuda.manual_seed(0)
    tracer.cuda.manual_seed_all(0)
    tracer.backends.cudnn.deterministic = True
    tracer.backends.cudnn.benchmark = False
    try:
        assert (tracer.backends.cudnn.deterministic, tracer.backends.cudnn.benchmark) == (
            True,
            False,
        )
    finally:
        tracer.backends.cudnn.deterministic = False


@pytest.mark.parametrize("call", ["current_device", "synchronize", "get_device_name"])
def test_cuda_calls_that_need_a_gpu_raise(call):
    with pytest.raises(tracer.DeviceError, match="CUDA is not available"):
        getattr(tracer.cuda, call)()


def test_the_default_device_is_the_cpu():
    tracer.set_default_device("cpu")
    tracer.set_default_device(None)
    assert tracer.get_default_device() == tracer.device("cpu")
    with pytest.raises(tracer.DeviceError):
        tracer.set_default_device("cuda")


def test_a_generator_lives_on_the_cpu():
    assert tracer.Generator().device == tracer.device("cpu")
    with pytest.raises(tracer.DeviceError):
        tracer.Generator(device="cuda")
