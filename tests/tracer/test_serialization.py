"""tracer.save / tracer.load: round trips of tensors, Parameters, state dicts, optimizer
states and nested Python data (dtypes, shapes, requires_grad, sharing), and refusal
of anything that is not an intact tracer.save file, without ever running code from
it. Files are written only under pytest's tmp_path or in memory."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import zipfile
from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import tracer
from tracer import nn
from tracer.serialization import LoadError


def round_trip(obj, **load_kwargs):
    buf = io.BytesIO()
    tracer.save(obj, buf)
    buf.seek(0)
    return tracer.load(buf, **load_kwargs)


def np_(t):
    return t.detach().numpy()


# ---- round trips --------------------------------------------------------------------

TENSORS = [
    ("float32", lambda: tracer.tensor([[1.5, -2.0], [3.25, 0.0]])),
    (
        "float64_requires_grad",
        lambda: tracer.tensor([1.0, 2.0], dtype=tracer.float64, requires_grad=True),
    ),
    ("float16", lambda: tracer.tensor([0.5, 65504.0], dtype=tracer.float16)),
    ("int64", lambda: tracer.tensor([2**62, -5])),
    ("int32", lambda: tracer.tensor([1, -2], dtype=tracer.int32)),
    ("int8", lambda: tracer.tensor([-128, 127], dtype=tracer.int8)),
    ("uint8", lambda: tracer.tensor([0, 255], dtype=tracer.uint8)),
    ("bool", lambda: tracer.tensor([True, False, True])),
    ("zero_d", lambda: tracer.tensor(3.5)),
    ("empty", lambda: tracer.zeros(0, 3)),
    ("non_contiguous", lambda: tracer.arange(12.0).reshape(3, 4).t()),
    ("specials", lambda: tracer.tensor([math.nan, math.inf, -math.inf, -0.0])),
]


@pytest.mark.parametrize("make", [c[1] for c in TENSORS], ids=[c[0] for c in TENSORS])
def test_tensor_round_trip_keeps_values_dtype_shape_and_requires_grad(make):
    t = make()
    back = round_trip(t)
    assert type(back) is tracer.Tensor
    assert back.dtype == t.dtype and back.shape == t.shape
    assert back.requires_grad == t.requires_grad and back.is_leaf
    np.testing.assert_array_equal(np_(back), np_(t))
    assert np.signbit(np_(back)).tolist() == np.signbit(np_(t)).tolist()


def test_loaded_tensors_are_writable_and_independent():
    t = tracer.ones(3)
    back = round_trip(t)
    back.add_(1)
    np.testing.assert_array_equal(np_(t), [1.0, 1.0, 1.0])


def test_result_of_an_op_loads_as_a_leaf_that_requires_grad():
    x = tracer.ones(2, requires_grad=True)
    back = round_trip(x * 2)
    assert back.is_leaf and back.requires_grad and back.grad_fn is None


@pytest.mark.parametrize("requires_grad", [True, False])
def test_parameter_round_trip(requires_grad):
    p = nn.Parameter(tracer.tensor([1.0, 2.0]), requires_grad=requires_grad)
    back = round_trip(p)
    assert type(back) is nn.Parameter and back.requires_grad == requires_grad


def test_a_tensor_referred_to_twice_loads_as_one_object():
    t = tracer.ones(2)
    p = nn.Parameter(tracer.zeros(1))
    back = round_trip({"a": t, "b": [t, (t, p)], "c": p})
    assert back["a"] is back["b"][0] is back["b"][1][0]
    assert back["c"] is back["b"][1][1]


def test_python_values_round_trip_with_their_types():
    obj = {
        "int": 2**80,
        "neg": -3,
        "float": 0.1,
        "nan": math.nan,
        "inf": -math.inf,
        "str": "naïve ✓",
        "none": None,
        "bools": [True, False],
        "tuple": (1, (2.5, "x")),
        "od": OrderedDict([("z", 1), ("a", 2)]),
        3: "int key",
        (1, "k"): "tuple key",
        None: "none key",
        2.5: "float key",
        "array": np.arange(6, dtype=np.int16).reshape(2, 3),
        "np_scalar": np.float32(1.25),
    }
    back = round_trip(obj)
    assert list(back) == list(obj)
    assert back["int"] == 2**80 and type(back["neg"]) is int
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf
    assert back["str"] == "naïve ✓" and back["none"] is None and back["bools"] == [True, False]
    assert back["tuple"] == (1, (2.5, "x")) and type(back["tuple"][1]) is tuple
    assert type(back["od"]) is OrderedDict and list(back["od"]) == ["z", "a"]
    assert back[3] == "int key" and back[(1, "k")] == "tuple key"
    assert back[None] == "none key" and back[2.5] == "float key"
    assert back["array"].dtype == np.int16 and back["array"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(back["np_scalar"]) is np.float32 and back["np_scalar"] == 1.25
    assert type(back) is dict


def test_state_dict_round_trip_restores_a_model():
    tracer.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.LayerNorm(4))
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.LayerNorm(4))
    sd = round_trip(model.state_dict())
    assert type(sd) is OrderedDict and list(sd) == list(model.state_dict())
    other.load_state_dict(sd)
    x = tracer.ones(2, 3)
    np.testing.assert_array_equal(np_(other(x)), np_(model(x)))


def test_optimizer_state_round_trip():
    p = nn.Parameter(tracer.tensor([1.0, 2.0]))
    opt = tracer.optim.SGD([p], lr=0.1, momentum=0.9)
    (p * p).sum().backward()
    opt.step()
    state = {
        "state": {0: {"momentum_buffer": tracer.tensor([2.0, 4.0])}},
        "param_groups": [{"lr": 0.1, "momentum": 0.9, "nesterov": False, "params": [0]}],
    }
    back = round_trip(state)
    assert back["param_groups"] == state["param_groups"]
    assert list(back["state"]) == [0]
    np.testing.assert_array_equal(np_(back["state"][0]["momentum_buffer"]), [2.0, 4.0])


def test_save_to_a_path_and_load_it(tmp_path):
    path = tmp_path / "ckpt.pt"
    tracer.save({"w": tracer.ones(2)}, path)
    assert np_(tracer.load(path)["w"]).tolist() == [1.0, 1.0]
    tracer.save([1, 2], str(path))  # overwrites
    assert tracer.load(str(path)) == [1, 2]
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # no temporary file left behind


@pytest.mark.parametrize(
    "map_location",
    ["cpu", None, {"cuda:0": "cpu"}, type("Device", (), {"type": "cpu"})(), lambda s, loc: s],
    ids=["cpu", "none", "dict", "device", "callable"],
)
@pytest.mark.parametrize("weights_only", [True, False, None])
def test_map_location_and_weights_only_are_accepted(map_location, weights_only):
    back = round_trip(tracer.ones(2), map_location=map_location, weights_only=weights_only)
    assert np_(back).tolist() == [1.0, 1.0]


def test_map_location_cuda_says_cpu_only():
    with pytest.raises(RuntimeError, match="runs on the CPU only"):
        round_trip(tracer.ones(2), map_location="cuda")


# ---- what save refuses --------------------------------------------------------------

Point = namedtuple("Point", "x y")


class Holder:
    pass


def _cyclic():
    a = [1]
    a.append(a)
    return a


SAVE_ERRORS = [
    ("module", lambda: nn.Linear(1, 1), TypeError, "Save its state_dict"),
    ("set", lambda: {1, 2}, TypeError, "of type set"),
    ("object", lambda: {"h": Holder()}, TypeError, r"obj\['h'\] is of type Holder"),
    ("namedtuple", lambda: Point(1, 2), TypeError, "not subclasses such as namedtuples"),
    ("tensor_key", lambda: {tracer.ones(1): 1}, TypeError, "dict keys must be"),
    ("cycle", _cyclic, ValueError, "contains itself"),
    ("complex_array", lambda: np.zeros(2, np.complex64), TypeError, "has dtype complex64"),
]


@pytest.mark.parametrize(
    "make,exc,text", [c[1:] for c in SAVE_ERRORS], ids=[c[0] for c in SAVE_ERRORS]
)
def test_save_refuses_what_it_cannot_store_and_writes_nothing(tmp_path, make, exc, text):
    path = tmp_path / "out.pt"
    with pytest.raises(exc, match=text):
        tracer.save(make(), path)
    assert os.listdir(tmp_path) == []


# ---- what load refuses --------------------------------------------------------------


def _saved(obj=None):
    buf = io.BytesIO()
    tracer.save({"w": tracer.tensor([1.0, 2.0, 3.0]), "n": 1} if obj is None else obj, buf)
    return buf.getvalue()


def _rewrite(data, manifest=None, members=None, compress=None):
    """A copy of the archive `data` with its manifest edited by `manifest(dict)` and its
    members edited by `members(dict name -> bytes)`."""
    src = zipfile.ZipFile(io.BytesIO(data))
    files = {n: src.read(n) for n in src.namelist()}
    if manifest is not None:
        m = json.loads(files["tracegrad/manifest.json"])
        manifest(m)
        files["tracegrad/manifest.json"] = json.dumps(m).encode()
    if members is not None:
        members(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compress or zipfile.ZIP_STORED) as zf:
        for n, b in files.items():
            zf.writestr(n, b)
    return out.getvalue()


def _flip_data_byte(data):
    """Flip one byte inside tensor 0's stored bytes (the CRC no longer matches)."""
    raw = bytearray(data)
    start = raw.find(np.float32([1.0, 2.0, 3.0]).tobytes())
    raw[start + 5] ^= 0xFF
    return bytes(raw)


class _Payload:
    """Unpickling this would create a directory: proof that code would have run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def _pickle_zip(path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(_Payload(path)))
        zf.writestr("archive/version", "3\n")
    return out.getvalue()


BAD_FILES = [
    ("random_bytes", lambda p: os.urandom(300), "not a tracer.save file"),
    ("empty", lambda p: b"", "not a tracer.save file"),
    ("truncated", lambda p: _saved()[:-40], "not a tracer.save file"),
    ("truncated_half", lambda p: _saved()[: len(_saved()) // 2], "not a tracer.save file"),
    ("plain_pickle", lambda p: pickle.dumps(_Payload(p)), "is a pickle"),
    ("pytorch_style_zip", _pickle_zip, "is a PyTorch checkpoint"),
    (
        "other_zip",
        lambda p: _rewrite(_saved(), members=lambda f: f.pop("tracegrad/manifest.json")),
        "no manifest",
    ),
    ("flipped_data_byte", lambda p: _flip_data_byte(_saved()), "damaged data for tensor 0"),
    (
        "file_outside_archive",
        lambda p: _rewrite(
            _saved(), manifest=lambda m: m["tensors"][0].update(file="../../etc/passwd")
        ),
        "names file '../../etc/passwd' for tensor 0",
    ),
    (
        "absolute_file",
        lambda p: _rewrite(_saved(), manifest=lambda m: m["tensors"][0].update(file="/etc/passwd")),
        "only 'data/0' inside the archive",
    ),
    (
        "object_dtype",
        lambda p: _rewrite(_saved(), manifest=lambda m: m["tensors"][0].update(dtype="object")),
        "unsupported dtype 'object'",
    ),
    (
        "shape_too_big",
        lambda p: _rewrite(_saved(), manifest=lambda m: m["tensors"][0].update(shape=[10**6])),
        "need 4000000",
    ),
    (
        "negative_shape",
        lambda p: _rewrite(_saved(), manifest=lambda m: m["tensors"][0].update(shape=[-3])),
        "invalid shape",
    ),
    (
        "missing_data",
        lambda p: _rewrite(_saved(), members=lambda f: f.pop("tracegrad/data/0")),
        "missing the data of tensor 0",
    ),
    (
        "compressed_data",
        lambda p: _rewrite(_saved(), compress=zipfile.ZIP_DEFLATED),
        "compressed",
    ),
    (
        "newer_version",
        lambda p: _rewrite(_saved(), manifest=lambda m: m.update(version=99)),
        "format version 99, newer than this tracer reads",
    ),
    (
        "unknown_tag",
        lambda p: _rewrite(_saved(), manifest=lambda m: m.update(root={"pickle": "x"})),
        "unknown object tag 'pickle'",
    ),
    (
        "tensor_index_out_of_range",
        lambda p: _rewrite(_saved(), manifest=lambda m: m.update(root={"tensor": 5})),
        "refers to tensor 5",
    ),
    (
        "extra_manifest_field",
        lambda p: _rewrite(_saved(), manifest=lambda m: m.update(code="import os")),
        "unexpected fields",
    ),
    (
        "int_tensor_requires_grad",
        lambda p: _rewrite(
            _saved(tracer.tensor([1, 2])),
            manifest=lambda m: m["tensors"][0].update(requires_grad=True),
        ),
        "only floats can",
    ),
    (
        "nan_constant_in_json",
        lambda p: _rewrite(
            _saved(),
            members=lambda f: f.update(
                {
                    "tracegrad/manifest.json": f["tracegrad/manifest.json"].replace(
                        b'["n",1]', b'["n",NaN]'
                    )
                }
            ),
        ),
        "damaged manifest",
    ),
    (
        "unhashable_key",
        lambda p: _rewrite(
            _saved(), manifest=lambda m: m.update(root={"dict": [[{"list": []}, 1]]})
        ),
        "unhashable key",
    ),
]


@pytest.mark.parametrize("make,text", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_load_refuses_bad_files_with_a_clear_error_and_runs_no_code(tmp_path, make, text):
    marker = str(tmp_path / "code_ran")
    path = tmp_path / "bad.pt"
    path.write_bytes(make(marker))
    with pytest.raises(LoadError, match=text) as info:
        tracer.load(path)
    assert str(path) in str(info.value)
    assert not os.path.exists(marker)


def test_load_refuses_a_real_pytorch_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(LoadError, match="is a PyTorch checkpoint"):
        tracer.load(path)


def test_load_of_a_file_object_names_it():
    with pytest.raises(LoadError, match="the file object is not a tracer.save file"):
        tracer.load(io.BytesIO(b"nonsense"))


def test_save_and_load_refuse_bad_destinations():
    with pytest.raises(TypeError, match="path or a binary file object"):
        tracer.save(tracer.ones(1), 42)
    with pytest.raises(TypeError, match="path or a binary file object"):
        tracer.load(42)
