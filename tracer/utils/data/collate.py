"""Turning a list of samples into a batch, as torch.utils.data's default_collate does.

tensors           -> stacked along a new first dimension
numpy arrays      -> tensors, then stacked (string and object arrays are refused)
numpy scalars     -> a 1-D tensor of their dtype
floats / ints     -> a float64 / int64 tensor (bools -> a bool tensor)
str / bytes       -> left as they are (the list or tuple of them)
dicts             -> the same kind of mapping, each key collated
namedtuples       -> the same namedtuple, each field collated
tuples / lists    -> a list (a list-like of the same kind for lists) of each
                     position collated; samples must have equal lengths
"""

from __future__ import annotations

import collections.abc
import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from compiler import dtypes
from compiler.errors import ShapeError
from tracer.creation import as_tensor, from_numpy, tensor
from tracer.functions import stack
from tracer.tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_UNSUPPORTED_KINDS = "SaUO"  # numpy strings, bytes, unicode, objects


def _unsupported(what: Any) -> TypeError:
    return TypeError(
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
        f"lists; found {what}"
    )


def _same_kind(elem: Any, build: Callable[[Any], Any]) -> Any:
    """Rebuild the container `elem` with `build(key or position)` values, keeping its
    type where it can be copied or constructed (else a plain dict or list)."""
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update({key: build(key) for key in elem})
                return clone
            return type(elem)({key: build(key) for key in elem})
        except TypeError:  # the type cannot be built from a dict
            return {key: build(key) for key in elem}
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i in range(len(elem)):
                clone[i] = build(i)
            return clone
        return type(elem)([build(i) for i in range(len(elem))])
    except TypeError:
        return [build(i) for i in range(len(elem))]


def _scalars_dtype(batch: Any) -> np.dtype:
    """PyTorch's dtype for a list of numpy scalars (and Python numbers): the widest float
    if any is a float, else the widest integer, else bool; a Python float counts as the
    default float dtype and a Python int as int64."""
    kinds = []
    for b in batch:
        if isinstance(b, (np.bool_, np.number)):
            kinds.append(b.dtype)
        elif isinstance(b, bool):
            kinds.append(np.dtype(np.bool_))
        elif isinstance(b, int):
            kinds.append(np.dtype(np.int64))
        elif isinstance(b, float):
            kinds.append(np.dtype(dtypes.default_float()))
        else:
            raise _unsupported(type(b))
    for category in ("fc", "iu"):
        same = [d for d in kinds if d.kind in category]
        if same:
            return np.result_type(*same)
    return np.dtype(np.bool_)


def _stack(batch: list[Tensor]) -> Tensor:
    try:
        return stack(batch, 0)
    except ShapeError:
        shapes = ", ".join(str(tuple(t.shape)) for t in batch)
        raise RuntimeError(
            f"default_collate: the samples' tensors have different shapes ({shapes}), so they "
            "cannot be stacked into one batch; pad them to one shape or pass a collate_fn"
        ) from None


def default_collate(batch: Any) -> Any:
    """Collate a list of samples into a batch (see the module docstring for the rules).

    Raises TypeError for types it cannot batch and RuntimeError for samples of unequal
    sizes, as PyTorch does.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in _UNSUPPORTED_KINDS:
            raise _unsupported(elem.dtype.str)
        return default_collate([as_tensor(b) for b in batch])
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return from_numpy(np.array(batch, dtype=_scalars_dtype(batch)))
    if isinstance(elem, float):
        return tensor(batch, dtype=np.float64)
    if isinstance(elem, int):  # bool is an int: a list of bools gives a bool tensor
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _same_kind(elem, lambda key: default_collate([d[key] for d in batch]))
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
        return type(elem)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError(
                "default_collate: each element in list of batch should be of equal size; got "
                f"lengths {[len(sample) for sample in batch]}"
            )
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [default_collate(samples) for samples in transposed]
        return _same_kind(elem, lambda i: default_collate(transposed[i]))
    raise _unsupported(type(elem))


def default_convert(data: Any) -> Any:
    """Convert numpy arrays and scalars to tensors inside `data` (mappings, namedtuples,
    sequences), leaving everything else as it is: the DataLoader's conversion when it
    does not batch (batch_size=None)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in _UNSUPPORTED_KINDS else as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _same_kind(data, lambda key: default_convert(data[key]))
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _same_kind(data, lambda i: default_convert(data[i]))
    return data
