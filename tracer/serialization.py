"""`tracer.save` / `tracer.load`: tensors, parameters, state dicts and optimizer
states in a format that cannot run code when loaded.

A file is a zip archive (stored, not compressed) holding

* `tracegrad/manifest.json`: {"format": "tracegrad", "version": 1, "tensors": [...],
  "root": ...}. Each tensor entry gives its member file, dtype, shape, requires_grad
  and kind (tensor, parameter, ndarray or numpy scalar); `root` is the saved object as
  JSON with tagged containers: {"list": [...]}, {"tuple": [...]}, {"dict": [[k, v],
  ...]}, {"odict": [...]}, {"tensor": i}, {"float": "nan"}; strings, ints, finite
  floats, bools and None are plain JSON.
* `tracegrad/data/<i>`: tensor i's raw bytes, little-endian, C order.

A tensor referred to twice is stored once and loads as one object. Loading checks
everything (member names, dtypes, sizes, CRCs, tags) and raises LoadError, naming
what is wrong, instead of trusting the file.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import zipfile
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from compiler import dtypes
from compiler.errors import TracerError
from tracer.tensor import Tensor

__all__ = ["LoadError", "load", "save"]

FORMAT = "tracegrad"
VERSION = 1
_MANIFEST = "tracegrad/manifest.json"
_MAX_MANIFEST_BYTES = 256 * 1024 * 1024
_MAX_DEPTH = 500
_DTYPES = {d.name: d for d in dtypes.SUPPORTED}
_KINDS = ("tensor", "parameter", "ndarray", "numpy_scalar")


class LoadError(TracerError, ValueError):
    """A file given to tracer.load is not a valid tracer.save file."""


# ---- save ---------------------------------------------------------------------


class _Writer:
    """Turns an object into the manifest's JSON tree plus a list of arrays."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.arrays: list[np.ndarray] = []
        self.ids: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps encoded objects alive so ids stay unique
        self.active: set[int] = set()  # containers being encoded (to refuse cycles)

    def encode(self, obj: Any, path: str, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise ValueError(f"save: the object is nested more than {_MAX_DEPTH} levels deep")
        if obj is None or type(obj) in (bool, str, int):
            return obj
        if type(obj) is float:
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, (Tensor, np.ndarray, np.generic)):
            return {"tensor": self._array(obj, path)}
        if type(obj) in (list, tuple, dict, OrderedDict):
            if id(obj) in self.active:
                raise ValueError(f"save: {path} contains itself; cyclic objects can't be saved")
            self.active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    items = [
                        [self._key(k, path), self.encode(v, f"{path}[{k!r}]", depth + 1)]
                        for k, v in obj.items()
                    ]
                    return {"odict" if type(obj) is OrderedDict else "dict": items}
                tag = "list" if type(obj) is list else "tuple"
                return {tag: [self.encode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)]}
            finally:
                self.active.discard(id(obj))
        raise TypeError(_unsupported(obj, path))

    def _key(self, key: Any, path: str) -> Any:
        if key is None or type(key) in (bool, str, int, float, tuple):
            return self.encode(key, f"a key of {path}")
        raise TypeError(
            f"save: dict keys must be strings, numbers, bools, None or tuples of them; "
            f"{path} has a key of type {type(key).__name__}"
        )

    def _array(self, obj: Any, path: str) -> int:
        if id(obj) in self.ids:
            return self.ids[id(obj)]
        if isinstance(obj, Tensor):
            from tracer.nn.parameter import Parameter

            data = obj._data
            kind = "parameter" if isinstance(obj, Parameter) else "tensor"
            requires_grad = bool(obj.requires_grad)
        else:
            data = np.asarray(obj)
            kind = "ndarray" if isinstance(obj, np.ndarray) else "numpy_scalar"
            requires_grad = False
        if data.dtype.name not in _DTYPES:
            raise TypeError(
                f"save: {path} has dtype {data.dtype}, which tracer cannot store; supported: "
                + ", ".join(_DTYPES)
            )
        index = len(self.arrays)
        self.ids[id(obj)] = index
        self.keep.append(obj)
        self.arrays.append(np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<")))
        self.entries.append(
            {
                "file": f"data/{index}",
                "dtype": data.dtype.name,
                "shape": list(data.shape),
                "requires_grad": requires_grad,
                "kind": kind,
            }
        )
        return index


def _unsupported(obj: Any, path: str) -> str:
    from tracer.nn.modules.module import Module

    name = type(obj).__name__
    if isinstance(obj, Module):
        return (
            f"save: {path} is a {name} module; tracer.save stores data, not objects (that "
            f"would need pickle, which can run code when loaded). Save its state_dict(): "
            "tracer.save(model.state_dict(), path), then model.load_state_dict(tracer.load(path))"
        )
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        return (
            f"save: {path} is a {name} object; save its state_dict() instead "
            f"(tracer.save(obj.state_dict(), path)) and load it back with load_state_dict()"
        )
    return (
        f"save: {path} is of type {name}, which tracer.save cannot store. It stores tensors, "
        "numpy arrays, str, int, float, bool, None, and lists, tuples, dicts and OrderedDicts "
        "of them (not subclasses such as namedtuples)"
    )


def save(
    obj: Any,
    f: str | os.PathLike[str] | IO[bytes],
    pickle_module: Any = None,
    pickle_protocol: Any = None,
    _use_new_zipfile_serialization: bool = True,
) -> None:
    """Write `obj` (tensors, Parameters, numbers, strings, None, bools and nested lists,
    tuples, dicts and OrderedDicts of them: a state_dict, an optimizer's state_dict) to a
    path or a binary file object.

    pickle_module and pickle_protocol are accepted for PyTorch compatibility and ignored:
    nothing is pickled. Raises TypeError (naming where in `obj`) for anything else,
    before writing anything.
    """
    writer = _Writer()
    root = writer.encode(obj, "obj")
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "tensors": writer.entries,
        "root": root,
    }
    text = json.dumps(manifest, allow_nan=False, separators=(",", ":"))
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".tracer-save-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                _write_zip(out, text, writer.arrays)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    else:
        if not hasattr(f, "write"):
            raise TypeError(
                f"save: f must be a path or a binary file object, got {type(f).__name__}"
            )
        _write_zip(f, text, writer.arrays)


def _write_zip(out: IO[bytes], manifest: str, arrays: list[np.ndarray]) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_MANIFEST, manifest)
        for i, a in enumerate(arrays):
            zf.writestr(f"tracegrad/data/{i}", a.tobytes())


# ---- load ---------------------------------------------------------------------


def _fail(source: str, problem: str) -> LoadError:
    return LoadError(f"load: {source} {problem}")


def _open(f: Any) -> tuple[IO[bytes], str, bool]:
    if isinstance(f, (str, os.PathLike)):
        return open(os.fspath(f), "rb"), repr(os.fspath(f)), True
    if not hasattr(f, "read"):
        raise TypeError(f"load: f must be a path or a binary file object, got {type(f).__name__}")
    return f, "the file object", False


def _archive(stream: IO[bytes], source: str) -> zipfile.ZipFile:
    try:
        start = stream.tell()
        head = stream.read(4)
        stream.seek(start)
    except (OSError, io.UnsupportedOperation):
        head = b""
    try:
        return zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        if head[:1] == b"\x80":
            raise _fail(
                source,
                "is a pickle (an old-style torch.save file?), not a tracer.save file; "
                "tracer.load never unpickles, as unpickling can run arbitrary code",
            ) from None
        raise _fail(
            source,
            "is not a tracer.save file (not a zip archive, or truncated or damaged)",
        ) from None


def _read_manifest(zf: zipfile.ZipFile, source: str) -> dict[str, Any]:
    names = zf.namelist()
    if _MANIFEST not in names:
        if any(n.endswith("data.pkl") for n in names):
            raise _fail(
                source,
                "is a PyTorch checkpoint (torch.save), not a tracer.save file; it holds a "
                "pickle, which tracer.load never runs. Convert it in PyTorch: "
                "tracer.save({k: tracer.tensor(v.numpy()) for k, v in "
                "torch.load(path).items()}, new_path), with both libraries imported",
            )
        raise _fail(source, "is a zip archive but not a tracer.save file (no manifest)")
    info = zf.getinfo(_MANIFEST)
    if info.file_size > _MAX_MANIFEST_BYTES:
        raise _fail(source, f"has a manifest of {info.file_size} bytes, more than allowed")
    try:
        raw = zf.read(_MANIFEST)
        manifest = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (zipfile.BadZipFile, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _fail(source, f"has a damaged manifest ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _fail(source, "has a manifest that is not a tracer.save manifest")
    version = manifest.get("version")
    if type(version) is not int:
        raise _fail(source, "has a manifest without a valid version")
    if version > VERSION:
        raise _fail(
            source,
            f"was written in format version {version}, newer than this tracer reads "
            f"({VERSION}); upgrade tracer",
        )
    if version < 1 or set(manifest) != {"format", "version", "tensors", "root"}:
        raise _fail(source, "has a manifest with unexpected fields")
    if not isinstance(manifest["tensors"], list):
        raise _fail(source, "has a manifest whose tensor table is not a list")
    return manifest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _read_tensor(zf: zipfile.ZipFile, i: int, entry: Any, source: str) -> Any:
    where = f"tensor {i}"
    if not isinstance(entry, dict) or set(entry) != {
        "file",
        "dtype",
        "shape",
        "requires_grad",
        "kind",
    }:
        raise _fail(source, f"has a malformed entry for {where}")
    if entry["file"] != f"data/{i}":
        raise _fail(
            source,
            f"names file {entry['file']!r} for {where}; only 'data/{i}' inside the archive "
            "is allowed",
        )
    dtype = _DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    if dtype is None:
        raise _fail(source, f"gives {where} an unsupported dtype {entry['dtype']!r}")
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
        raise _fail(source, f"gives {where} an invalid shape {shape!r}")
    kind, requires_grad = entry["kind"], entry["requires_grad"]
    if kind not in _KINDS or type(requires_grad) is not bool:
        raise _fail(source, f"gives {where} an invalid kind or requires_grad")
    if requires_grad and not dtypes.is_float(dtype):
        raise _fail(source, f"says {where} ({dtype}) requires grad; only floats can")
    name = f"tracegrad/data/{i}"
    nbytes = math.prod(shape) * dtype.itemsize
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise _fail(source, f"is missing the data of {where} ({name})") from None
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        raise _fail(source, f"stores the data of {where} compressed; tracer.save never does")
    if info.file_size != nbytes:
        raise _fail(
            source,
            f"holds {info.file_size} bytes for {where}, but its shape {tuple(shape)} and "
            f"dtype {dtype} need {nbytes}",
        )
    try:
        raw = zf.read(name)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise _fail(source, f"has damaged data for {where} ({e})") from None
    if len(raw) != nbytes:
        raise _fail(source, f"has truncated data for {where}")
    array = np.frombuffer(bytearray(raw), dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    if kind == "ndarray":
        return array
    if kind == "numpy_scalar":
        if shape:
            raise _fail(source, f"gives numpy scalar {where} a non-empty shape")
        return array[()]
    if kind == "parameter":
        from tracer.nn.parameter import Parameter

        return Parameter(Tensor(array), requires_grad=requires_grad)
    return Tensor(array, requires_grad=requires_grad)


def _decode(node: Any, tensors: list[Any], source: str, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise _fail(source, f"nests its object more than {_MAX_DEPTH} levels deep")
    if node is None or type(node) in (bool, int, float, str):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        raise _fail(source, f"has a malformed object node {str(node)[:80]!r}")
    ((tag, value),) = node.items()
    if tag == "tensor":
        if type(value) is not int or not 0 <= value < len(tensors):
            raise _fail(source, f"refers to tensor {value!r}, which it does not hold")
        return tensors[value]
    if tag == "float":
        if value not in ("nan", "inf", "-inf"):
            raise _fail(source, f"has an invalid float {value!r}")
        return float(value)
    if tag in ("list", "tuple") and isinstance(value, list):
        items = [_decode(v, tensors, source, depth + 1) for v in value]
        return items if tag == "list" else tuple(items)
    if tag in ("dict", "odict") and isinstance(value, list):
        out: dict[Any, Any] = OrderedDict() if tag == "odict" else {}
        for pair in value:
            if not isinstance(pair, list) or len(pair) != 2:
                raise _fail(source, "has a malformed dict entry")
            key = _decode(pair[0], tensors, source, depth + 1)
            try:
                out[key] = _decode(pair[1], tensors, source, depth + 1)
            except TypeError:  # an unhashable key: only a tampered file has one
                raise _fail(source, "has a dict with an unhashable key") from None
        return out
    raise _fail(source, f"has an unknown object tag {tag!r}")


def _mapper(map_location: Any) -> Any:
    """A function applied to every loaded tensor (or None), after checking that
    map_location asks for the CPU."""
    from tracer.nn.modules.module import check_cpu

    if map_location is None:
        return None
    if isinstance(map_location, dict):
        for target in map_location.values():
            check_cpu(target, "load(map_location=...)")
        return None
    if (
        callable(map_location)
        and not isinstance(map_location, str)
        and not hasattr(map_location, "type")
    ):

        def call(t: Any) -> Any:
            out = map_location(t, "cpu")
            if not isinstance(out, (Tensor, np.ndarray, np.generic)):
                raise TypeError(
                    "load: map_location(tensor, 'cpu') must return a tensor, got "
                    f"{type(out).__name__}"
                )
            return out

        return call
    check_cpu(map_location, "load(map_location=...)")
    return None


def load(
    f: str | os.PathLike[str] | IO[bytes],
    map_location: Any = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **pickle_load_args: Any,
) -> Any:
    """Read an object written by tracer.save (from a path or a binary file object).

    Tensors come back with their dtype, shape and requires_grad, Parameters as
    Parameters, and a tensor saved twice as one object. The format never runs code, so
    `weights_only` changes nothing; map_location may be None, 'cpu', a CPU device, a dict
    mapping to 'cpu', or a function called as fn(tensor, 'cpu').

    Raises LoadError for anything that is not an intact tracer.save file (a PyTorch
    checkpoint, a pickle, random bytes, a truncated or tampered archive).
    """
    if pickle_load_args:
        raise TypeError(f"load() got unexpected keyword arguments {sorted(pickle_load_args)}")
    if mmap:
        raise ValueError("load: mmap=True is not supported; the arrays are read into memory")
    mapper = _mapper(map_location)
    stream, source, owned = _open(f)
    try:
        with _archive(stream, source) as zf:
            manifest = _read_manifest(zf, source)
            tensors = [_read_tensor(zf, i, e, source) for i, e in enumerate(manifest["tensors"])]
            if mapper is not None:
                tensors = [mapper(t) for t in tensors]
            return _decode(manifest["root"], tensors, source)
    finally:
        if owned:
            stream.close()
