"""The eager Tensor: a numpy array plus autograd bookkeeping.

Ops run numpy at once (`_bind`) and, when grad mode is on and an input requires
grad, record a node whose backward calls the op's registry VJP rule.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler import dtypes, operand
from compiler.errors import AutogradError, DTypeError, ShapeError, TraceError
from compiler.meta import _PUBLIC as _PUBLIC_DTYPES
from compiler.meta import DType, Size
from compiler.operand import Operand, apply
from compiler.ops.index import numpy_index, parse_index, put
from compiler.registry import OPS, AVal
from compiler.source import describe_location
from tracer import autograd
from tracer._format import format_tensor, needs_dtype_suffix
from tracer._quiet import quiet, quiet_enter, quiet_exit
from tracer.devices import CPU, as_cpu, cuda_unavailable, is_device_like
from tracer.devices import device as Device
from tracer.grad_mode import enable_grad, is_grad_enabled

_NON_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf "
    "Tensor. If you access the non-leaf Tensor by mistake, make sure you access the leaf "
    "Tensor instead."
)

_SCALAR_TYPES = (int, float, bool, np.number, np.bool_)
_NUMBER_TYPES = frozenset((int, float, bool))
_NO_DATA: Any = object()  # Tensor() without arguments: an empty tensor, as in PyTorch
# PyTorch's legacy constructor (Tensor([1, 2]), Tensor(2, 3)): tracer.legacy installs it
_LEGACY_INIT: list[Callable[[Any, tuple[Any, ...], Any], None]] = []


class Tensor(Operand):
    """An n-dimensional array that can record the operations applied to it.

    Made by `tracer.tensor(...)` and the other creation functions. Called directly it is
    PyTorch's legacy constructor (tracer.legacy): `Tensor([1, 2])` (data, in the default
    dtype), `Tensor(2, 3)` (sizes, zero-filled), `Tensor()` (empty), `Tensor(t)` (an alias
    of tensor `t`). A numpy array is wrapped as it is (its dtype, its memory), as the
    library does internally; `tracer.FloatTensor(a)` converts it as PyTorch does.
    """

    __slots__ = (
        "_data",
        "_requires_grad",
        "_grad_fn",
        "_output_nr",
        "_grad",
        "_version",
        "_base",
        "_graph_at",
        "_view_of",
        "_accumulator",
        "_hooks",
        "_retains_grad",
        "__weakref__",
    )
    _priority = 1

    def __init__(
        self,
        data: Any = _NO_DATA,
        requires_grad: Any = False,
        _grad_fn: autograd.Node | None = None,
        _output_nr: int | None = None,
        _version: list[int] | None = None,
        _base: Tensor | None = None,
        *sizes: Any,
        device: Any = None,
    ) -> None:
        if type(data) is not np.ndarray and not isinstance(data, np.ndarray):  # Tensor(2, 3)
            given = (data, requires_grad, _grad_fn, _output_nr, _version, _base, *sizes)
            _LEGACY_INIT[0](self, given, device)
            return
        self._data = data
        self._requires_grad = requires_grad
        self._grad_fn = _grad_fn
        self._output_nr = 0 if _output_nr is None else _output_nr
        self._grad: Tensor | None = None
        # shared with views: [data version (in-place writes), graph version (in-place
        # writes recorded for autograd)]
        self._version = [0, 0] if _version is None else _version
        self._base = _base
        # a view made by a view op: the graph version its grad_fn was made at, and how
        # to make it again from its parent (see _refresh_view)
        self._graph_at: int | None = None
        self._view_of: tuple[Any, ...] | None = None
        self._accumulator: Any = None
        self._hooks: list[Callable[[Tensor], Any]] | None = None
        self._retains_grad = False

    # ---- metadata -------------------------------------------------------
    @property
    def shape(self) -> Size:  # type: ignore[override]
        """The sizes of the dimensions, a `tracer.Size` (a tuple)."""
        return tuple.__new__(Size, self._data.shape)

    @property
    def dtype(self) -> DType:  # type: ignore[override]
        """The element type, a `tracer.dtype` (`tracer.float32`, ...)."""
        return _PUBLIC_DTYPES[self._data.dtype]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    @property
    def grad_fn(self) -> autograd.Node | None:
        if self._graph_at is not None and self._graph_at != self._version[1]:
            self._refresh_view()
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        if self._graph_at is not None and self._graph_at != self._version[1]:
            self._refresh_view()
        return self._requires_grad or self._grad_fn is not None

    def _refresh_view(self) -> None:
        """This view's base was changed by an in-place op that recorded a node: make the
        view's node again from the base's current one (as PyTorch does), so gradients
        through the view see the update. The data is shared already."""
        parent, op_name, others, params, name, grad_mode = self._view_of  # type: ignore[misc]
        if not grad_mode:
            raise AutogradError(
                f"a view (a {self.dtype.name} tensor of shape {tuple(self.shape)}) was made under "
                "no_grad(), and the tensor it views was then modified in place with "
                "gradients recorded; whether the view should follow that update is "
                "ambiguous, so it cannot be used (as in PyTorch). Make the view and the "
                "update both inside no_grad() (not recorded), or both outside."
            )
        with enable_grad():
            fresh = apply(op_name, parent, *others, name=name, **params)  # refreshes parent
        self._graph_at = self._version[1]
        self._grad_fn, self._output_nr = fresh._grad_fn, fresh._output_nr

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's memory, detached from the graph; assigning it
        (`t.data = other`) makes `t` use `other`'s memory (see set_data)."""
        if operand.tracing.builder is not None:  # inside a trace: read at every call
            return apply("stop_gradient", self)
        return Tensor(self._data, _version=self._version)

    @data.setter
    def data(self, value: Tensor) -> None:
        set_data(self, value)

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by backward() (None until then). Reading it on a
        non-leaf tensor that does not retain its gradient warns, as in PyTorch."""
        b = operand.tracing.builder
        if b is not None and b.root().accepts_writes:  # the traced value of .grad
            return b.grad_slot(self).current
        g = self._grad
        if g is None and self._grad_fn is not None and not self._retains_grad:
            warnings.warn(_NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return g

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        b = operand.tracing.builder
        if b is not None and b.root().accepts_writes:  # written back after each call
            if value is not None:
                _check_grad(self, value)
                value = b.owner(value, "setting .grad") if isinstance(value, Tensor) else value
            b.grad_slot(self).current = value
            return
        if value is not None:
            _check_grad(self, value)
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def device(self) -> Device:
        """Always `device(type='cpu')`."""
        return CPU

    @property
    def is_cpu(self) -> bool:
        return True

    @property
    def is_cuda(self) -> bool:
        return False

    def get_device(self) -> int:
        """-1, PyTorch's answer for a CPU tensor."""
        return -1

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` on a leaf in place (floating point dtypes only)."""
        if self._grad_fn is not None:
            if not requires_grad:
                raise AutogradError(
                    "you can only change requires_grad flags of leaf tensors; this tensor "
                    f"was produced by {self._grad_fn.name()}. Use .detach() to get a tensor "
                    "that does not require grad."
                )
            return self
        if requires_grad and not dtypes.is_float(self.dtype):
            raise DTypeError(
                f"only tensors of floating point dtype can require gradients "
                f"(this tensor is {self.dtype.name}); make it a float tensor first: "
                "dtype=tracer.float32 when creating it, or .float()"
            )
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on a non-leaf tensor after backward()."""
        if not self.requires_grad:
            raise AutogradError("can't retain_grad on a tensor that has requires_grad=False")
        if self._grad_fn is not None:
            self._retains_grad = True
            self._grad_fn._register_retain(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> autograd.RemovableHandle:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned
        tensor replaces the gradient."""
        if not self.requires_grad:
            raise AutogradError("cannot register a hook on a tensor that doesn't require grad")
        if self._grad_fn is not None:
            return self._grad_fn._register_pre_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return autograd.RemovableHandle(self._hooks, hook)

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (see tracer.autograd)."""
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph."""
        if operand.tracing.builder is not None:  # inside a trace: read at every call
            return apply("stop_gradient", self)
        return Tensor(self._data, _version=self._version, _base=self)

    def detach_(self) -> Tensor:
        self._grad_fn = None
        self._requires_grad = False
        return self

    # ---- device and dtype conversion ---------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """`to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other_tensor)`, with keywords
        `dtype=`, `device=`, `non_blocking=` (ignored), `copy=` and `memory_format=`
        (ignored). Returns this tensor when nothing changes (unless copy=True). A device
        other than the CPU raises DeviceError."""
        dtype, copy = _parse_to(args, kwargs)
        out = self if dtype is None or dtype == self.dtype else Operand.to(self, dtype)
        return out.clone() if copy and out is self else out

    def cpu(self, memory_format: Any = None) -> Tensor:
        """This tensor (it is on the CPU)."""
        return self

    def cuda(self, device: Any = None, non_blocking: bool = False, **kwargs: Any) -> Tensor:
        raise cuda_unavailable("Tensor.cuda()")

    # ---- conversion -----------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The numpy array this tensor wraps (shared memory). Raises RuntimeError on a
        tensor that requires grad while gradients are recorded (as PyTorch 2.13: under
        no_grad(), or with force=True, it is returned)."""
        self._pending("numpy()")
        if not force and is_grad_enabled() and self.requires_grad:
            raise AutogradError(
                "Can't call numpy() on Tensor that requires grad. Use "
                "tensor.detach().numpy() instead (or call it under tracer.no_grad())."
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        self._pending("converting to a numpy array")
        a = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return a.copy() if copy else a

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number; RuntimeError otherwise."""
        self._pending(".item()")
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar "
                f"(shape {self._data.shape}); index it first or reduce it with "
                ".sum()/.mean()"
            )
        return self._data.reshape(()).item()

    def _number(self, kind: str) -> Any:
        self._pending(f"{kind}()")
        if self._data.size != 1:
            raise ValueError(
                f"only one element tensors can be converted to Python scalars: {kind}() of "
                f"a tensor with {self._data.size} elements (shape {self._data.shape}); index "
                "it first or reduce it with .sum()/.mean()"
            )
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        self._pending(".tolist()")
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self._number("float"))

    def __int__(self) -> int:
        return int(self._number("int"))

    def __index__(self) -> int:
        if not dtypes.is_int(self.dtype):
            raise TypeError(
                f"only integer tensors of a single element can be converted to an "
                f"index (this one is {self.dtype.name})"
            )
        return int(self.item())

    def __bool__(self) -> bool:
        self._pending("bool()")
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements "
                "is ambiguous; use .any() or .all()"
            )
        return bool(self._data.reshape(()))

    def __iter__(self):  # type: ignore[no-untyped-def]
        """The sub-tensors along dim 0 (each with grad_fn UnbindBackward0, as PyTorch's)."""
        if not self._data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (
            apply("slice", self, spec=parse_index(self, i)[0], name="UnbindBackward0")
            for i in range(self._data.shape[0])
        )

    def __contains__(self, element: Any) -> bool:
        """`element in t`: whether any element equals `element` (a number or a tensor,
        compared elementwise with broadcasting)."""
        if not isinstance(element, (Tensor, *_SCALAR_TYPES)):
            raise RuntimeError(
                "Tensor.__contains__ only supports Tensor or scalar, but you passed in a "
                f"{type(element)}."
            )
        return bool((self == element).any())

    def __format__(self, format_spec: str) -> str:
        """A 0-d tensor formats as its number (f"{loss:.3f}"); others as str() with an
        empty spec, else TypeError, as in PyTorch."""
        if self._data.ndim == 0 and type(self) is Tensor:
            return format(self._data.item(), format_spec)
        return object.__format__(self, format_spec)

    def __repr__(self) -> str:
        suffixes = []
        if needs_dtype_suffix(self._data):
            suffixes.append(f"dtype=tracer.{self.dtype.name}")
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{self._grad_fn.name()}>")
        elif self._requires_grad:
            suffixes.append("requires_grad=True")
        return format_tensor(self._data, suffixes)

    __str__ = __repr__

    def __reduce__(self) -> Any:
        return (_rebuild, (self._data, self._requires_grad))

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        if self._grad_fn is not None:
            raise AutogradError("only leaf tensors support deepcopy")
        t = Tensor(self._data.copy(), self._requires_grad)
        memo[id(self)] = t
        return t

    # ---- the op protocol ------------------------------------------------
    def _reshape_name(self, shape: tuple[int, ...]) -> str:
        """PyTorch's reshape: a view of a contiguous tensor (ViewBackward0), an alias
        of a non-contiguous one (ReshapeAliasBackward0), or a copy (UnsafeViewBackward0)."""
        if self._data.flags.c_contiguous:
            return "ViewBackward0"
        try:
            np.reshape(self._data, shape, copy=False)
        except ValueError:
            return "UnsafeViewBackward0"
        return "ReshapeAliasBackward0"

    def _const(self, value: np.ndarray) -> Tensor:
        return Tensor(np.asarray(value))

    def _bind(
        self, op_name: str, inputs: Sequence[Any], params: dict[str, Any], name: str | None
    ) -> Any:
        op, typing, kind = _eager_rule(op_name)
        if kind is _NULLARY:
            return Tensor(op.impl(**params))
        values = [
            x._data
            if isinstance(x, Tensor)
            else x
            if type(x) in _NUMBER_TYPES
            else _as_value(x, op_name)
            for x in inputs
        ]
        token = quiet_enter()  # log(0) is -inf without a numpy warning, as in PyTorch
        try:
            if typing is not None:
                values, _ = dtypes.cast_operands(typing, op_name, values, params)
            out = op.impl(*values, **params)
        except (ValueError, IndexError, TypeError, ArithmeticError) as e:
            _explain_failure(op, values, params, e)
            raise
        finally:
            quiet_exit(token)
        if kind is _PLAIN:
            tensors: tuple[Tensor, ...] = (
                Tensor(out if type(out) is np.ndarray else np.asarray(out)),
            )
        else:
            if op.multiple_results:
                outs = tuple(o if type(o) is np.ndarray else np.asarray(o) for o in out)
            else:
                outs = (out if type(out) is np.ndarray else np.asarray(out),)
            if kind is _VIEW:
                base = inputs[0]
                root = base._base if base._base is not None else base
                how = (base, op_name, inputs[1:], params, name, is_grad_enabled())
                tensors = tuple(
                    _view(o, root, how) if np.may_share_memory(o, base._data) else Tensor(o)
                    for o in outs
                )
            else:
                tensors = tuple(Tensor(o) for o in outs)
        if op.vjp is not None and is_grad_enabled():
            needs = [isinstance(x, Tensor) and x.requires_grad for x in inputs]
            if True in needs:
                autograd.record(op, params, name, inputs, tuple(needs), tensors)
        return tensors if op.multiple_results else tensors[0]

    # ---- in-place ops ---------------------------------------------------
    # Recorded like PyTorch: the tensor keeps its identity and its data, and its node
    # becomes the op's (AddBackward0, FillBackward2, CopySlices, ...), whose inputs
    # lead back to the node it had. So y = x * 2; y.zero_() still depends on x (with
    # gradient 0), as in PyTorch.
    def _assign(self, result: Tensor, opname: str) -> Tensor:
        """Make `result` this tensor's new value, keeping the array (views see it)."""
        if result.dtype != self.dtype:
            if dtypes.category(result.dtype) > dtypes.category(self.dtype):
                raise DTypeError(
                    f"{opname}: result type {result.dtype.name} can't be cast to the "
                    f"in-place output type {self.dtype.name} (a tensor of shape "
                    f"{tuple(self.shape)}); use the out-of-place op (x = x + y), "
                    f"or convert first (x = x.to({result.dtype.name}))"
                )
        if result.shape != self.shape:
            raise ShapeError(
                f"{opname}: the result has the broadcast shape "
                f"{tuple(result.shape)}, which does not fit the in-place output's "
                f"shape {tuple(self.shape)} ({self.dtype.name}); use the out-of-place "
                "op (x = x + y)"
            )
        with quiet():  # a float64 result too large for float32 becomes inf
            self._data[...] = result._data
        self._version[0] += 1
        if result._grad_fn is not None:
            self._version[1] += 1  # views taken before now have a stale grad_fn
            self._grad_fn, self._output_nr = result._grad_fn, result._output_nr
            self._grad_fn._rebase_output(result, self)
            if self._retains_grad:  # retain_grad() follows the tensor to its new node
                self._grad_fn._register_retain(self)
        return self

    def _check_inplace(self, opname: str, others: Sequence[Any] = ()) -> bool:
        """Raise before mutating if the op is not allowed; say if it must be recorded."""
        if operand.tracing.builder is not None:
            raise TraceError(
                f"{opname}: in-place update of a concrete tensor (shape {tuple(self.shape)}) "
                "inside a traced function: it would run only once, at trace time, not on every "
                "call. Return the new value from the function and update the tensor outside"
                + (f"\n  at {describe_location()}" if describe_location() else "")
            )
        if not is_grad_enabled():
            return False
        if self._grad_fn is None and self._requires_grad:
            raise self._leaf_update_error(opname)
        record = self.requires_grad or any(
            isinstance(o, Tensor) and o.requires_grad for o in others
        )
        if record and self._base is not None:
            raise AutogradError(
                f"{opname}: in-place modification of a view of another tensor is not "
                "supported while recording gradients; call .clone() first or use the "
                "out-of-place op"
            )
        return record

    def _old(self, copy: bool) -> Tensor:
        """This tensor's value before an in-place op, as the op's input: its node is
        this tensor's node. `copy` when the op may save its input for backward (PyTorch
        saves `original_self`); the data changes in place next."""
        data = self._data.copy() if copy else self._data
        return Tensor(data, self._requires_grad, self._grad_fn, self._output_nr)

    def _in_trace(self, opname: str, update: Callable[[Any], Any]) -> Tensor:
        """An in-place update while a function is traced: staged on the traced value
        standing for this tensor, and written back to it after each call of the compiled
        function (TraceError where that cannot be done: inside a loop body)."""
        if is_grad_enabled() and self._requires_grad and self._grad_fn is None:
            where = describe_location()
            raise self._leaf_update_error(opname, f"\n  at {where}" if where else "")
        update(operand.tracing.builder.owner(self, opname))
        return self

    def _leaf_update_error(self, opname: str, where: str = "") -> AutogradError:
        """PyTorch's refusal of an in-place update of a leaf that requires grad."""
        return AutogradError(
            f"{opname}: a leaf tensor that requires grad is being used in an in-place "
            f"operation (a {self.dtype.name} tensor of shape {tuple(self.shape)}). Wrap the "
            "update in `with tracer.no_grad():` (an optimizer step), or use the "
            "out-of-place op (x = x + 1)." + where
        )

    def _pending(self, what: str) -> None:
        """Raise TraceError when the traced code updated this tensor in place: its value
        is known only when the compiled function runs."""
        b = operand.tracing.builder
        if b is not None and b.pending(self):
            raise TraceError(
                f"{what} of a tensor (shape {tuple(self.shape)}) that the traced function "
                "updated in place: its new value exists only when the compiled function runs"
                + (f"\n  at {describe_location()}" if describe_location() else "")
                + "\nReturn it from the function and read it outside, or keep the "
                "computation in tensor ops."
            )

    def _inplace(self, opname: str, fn: Callable[[Tensor], Tensor], *others: Any) -> Tensor:
        if operand.tracing.builder is not None:
            return self._in_trace(opname, lambda s: s._inplace(opname, fn, *others))
        if not self._check_inplace(opname, others):
            from tracer.grad_mode import no_grad

            with no_grad():
                return self._assign(fn(Tensor(self._data)), opname)
        return self._assign(fn(self._old(copy=True)), opname)

    def _replace(self, opname: str, value: Any, name: str) -> Tensor:
        """Record `self = value` (broadcast): the node `name` sends the gradient to
        `value` and 0 to the old value, selected, not multiplied by 0 (a nan or inf
        gradient must not reach the old value)."""
        return self._assign(apply("where", False, self._old(copy=False), value, name=name), opname)

    def zero_(self) -> Tensor:
        """Set every element to 0 (ZeroBackward0: no gradient reaches the old value)."""
        return self._fill("fill_", 0, "ZeroBackward0")  # zero_ is fill_(0)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to `value`, a number or a 0-d tensor (whose gradient is the
        sum of this tensor's gradient: FillBackward3)."""
        if operand.tracing.builder is not None and not isinstance(value, Tensor):
            return self._in_trace("fill_", lambda s: s.fill_(value))
        if isinstance(value, Tensor):
            if value.ndim != 0:
                raise ShapeError(
                    f"fill_ only supports a 0-dimension value tensor, but got one of shape "
                    f"{tuple(value.shape)}; use copy_ to copy a tensor, or index it first"
                )
            if operand.tracing.builder is not None:
                return self._in_trace("fill_", lambda s: s.fill_(value))
            if self._check_inplace("fill_", (value,)):
                return self._replace("fill_", value.to(self.dtype), "FillBackward3")
            value = value.item()
        return self._fill("fill_", value, "FillBackward2")

    def _fill(self, opname: str, value: Any, name: str) -> Tensor:
        if operand.tracing.builder is not None:
            return self._in_trace(opname, lambda s: s.fill_(value))
        record = self._check_inplace(opname)
        if not _is_numberlike(value):
            raise TypeError(
                f"{opname}: the value must be a number or a one-element tensor, got "
                f"{type(value).__name__}"
            )
        try:
            with quiet():
                converted = self.dtype.type(value)
        except (OverflowError, ValueError):  # 2**64 or nan into an integer tensor
            raise ValueError(
                f"{opname}: {value!r} does not fit in {self.dtype.name} (a tensor of "
                f"shape {tuple(self.shape)})"
            ) from None
        if record:
            return self._replace(opname, Tensor(np.asarray(converted)), name)
        self._data[...] = converted
        self._version[0] += 1
        return self

    def copy_(self, src: Any) -> Tensor:
        """Copy `src` (broadcast, converted to this tensor's dtype) into this tensor
        (CopyBackwards: the gradient goes to `src`, 0 to the old value)."""
        if operand.tracing.builder is not None:
            return self._in_trace("copy_", lambda s: s.copy_(src))
        src = src if isinstance(src, Tensor) else Tensor(dtypes.operand_array(src, "copy_"))
        record = self._check_inplace("copy_", (src,))
        try:
            fits = np.broadcast_shapes(src.shape, self.shape) == tuple(self.shape)
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(
                f"copy_: source of shape {tuple(src.shape)} cannot be broadcast "
                f"to destination of shape {tuple(self.shape)}"
            ) from None
        if record:
            return self._replace("copy_", src.to(self.dtype), "CopyBackwards")
        with quiet():
            self._data[...] = src._data.astype(self.dtype, copy=False)
        self._version[0] += 1
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        if operand.tracing.builder is not None:
            self._in_trace("__setitem__", lambda s: s.__setitem__(key, value))
            return
        if not isinstance(value, Tensor):
            value = Tensor(
                np.asarray(value, dtype=self.dtype)
                if _is_numberlike(value)
                else dtypes.operand_array(value, "__setitem__")
            )
        record = self._check_inplace("__setitem__", (value,))
        spec, arrays, _ = parse_index(self, key)
        if not record:
            index = numpy_index(spec, tuple(a._data for a in arrays))
            try:
                target = self._data[index]
            except IndexError as e:  # an index tensor out of range
                raise IndexError(f"setitem: {e} (tensor of shape {tuple(self.shape)})") from None
            try:
                fits = np.broadcast_shapes(value.shape, np.shape(target)) == np.shape(target)
            except ValueError:
                fits = False
            if not fits:
                raise ShapeError(
                    f"setitem: value of shape {tuple(value.shape)} cannot be "
                    f"broadcast to the indexed shape {np.shape(target)} of a "
                    f"tensor of shape {tuple(self.shape)}"
                ) from None
            with quiet():  # repeated indices: the last write wins, as in the op
                put(self._data, value._data, spec, tuple(a._data for a in arrays))
            self._version[0] += 1
            return
        old = Tensor(self._data, self._requires_grad, self._grad_fn, self._output_nr, self._version)
        target = apply("index", old, *arrays, spec=spec)
        v = value.to(self.dtype).broadcast_to(target.shape)
        # PyTorch: basic indexing writes through a view (CopySlices), advanced indexing
        # runs index_put_ (IndexPutBackward0)
        self._assign(
            apply(
                "index_put",
                old,
                v,
                *arrays,
                spec=spec,
                name="IndexPutBackward0" if arrays else "CopySlices",
            ),
            "__setitem__",
        )


def _parse_to(args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[np.dtype | None, bool]:
    """The dtype (None: unchanged) and copy flag of a `Tensor.to(...)` call; checks that
    any device given is the CPU."""
    unknown = set(kwargs) - {"dtype", "device", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"to() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    dtype, device = kwargs.get("dtype"), kwargs.get("device")
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):
        other = rest.pop(0)
        dtype = other.dtype if dtype is None else dtype
    elif rest and (rest[0] is None or is_device_like(rest[0]) or isinstance(rest[0], int)):
        device = rest.pop(0)
        if rest and not isinstance(rest[0], bool):
            dtype = rest.pop(0)
    elif rest:
        dtype = rest.pop(0)
    flags = dict(zip(("non_blocking", "copy"), rest))
    if len(rest) > 2:
        raise TypeError(f"to() takes at most 4 positional arguments ({len(args)} given)")
    if device is not None:
        as_cpu(device, "Tensor.to()")
    copy = bool(kwargs.get("copy", flags.get("copy", False)))
    return (None if dtype is None else dtypes.canonical(dtype)), copy


def _view(data: np.ndarray, root: Tensor, how: tuple[Any, ...]) -> Tensor:
    """A view of `how[0]` (`root` the tensor that owns the memory), made by `how`:
    (parent, op name, other inputs, params, grad_fn name, grad mode)."""
    t = Tensor(data, _version=root._version, _base=root)
    t._graph_at, t._view_of = root._version[1], how
    return t


def set_data(t: Tensor, value: Any) -> None:
    """`t.data = value`: `t` keeps its identity, `.grad`, `requires_grad`, graph node and
    version counter, and from now on shares `value`'s memory (its shape and dtype may
    differ, as in PyTorch).

    Raises TypeError when `value` is not a tensor, RuntimeError when `t` requires grad and
    `value` is not floating point, TraceError inside a traced function (the assignment
    would happen once, while tracing). Nothing changes when it raises.
    """
    b = operand.tracing.builder
    if b is not None and _own_data(b, t, value):
        return  # `t.data -= x`: the update went through t.data; assigning it back is a no-op
    if not isinstance(value, Tensor) and not (b is not None and isinstance(value, Operand)):
        raise TypeError(
            f"Variable data has to be a tensor, but got {type(value).__name__}; "
            "wrap it with tracer.tensor(...)"
        )
    if b is not None:
        raise TraceError(
            "assigning .data of a tensor inside a traced function: it would happen only "
            "once, while tracing, not on every call. Assign it outside the traced function"
            + (f"\n  at {describe_location()}" if describe_location() else "")
        )
    if t.requires_grad and value._data.dtype.kind != "f":
        raise AutogradError(
            "data set to a tensor that requires gradients must be floating point: got a "
            f"{value._data.dtype} tensor of shape {value._data.shape}"
        )
    t._data = value._data


def _own_data(b: Any, t: Tensor, value: Any) -> bool:
    """Whether `value` is `t.data` taken in the trace of builder `b` (then updated in
    place, as `t.data -= x` does before assigning it back)."""
    view = getattr(value, "_view", None)
    owner = b.root().owners.get(id(t))
    return (
        view is not None and owner is not None and view[0] is owner and view[1] == "stop_gradient"
    )


def _check_grad(t: Tensor, g: Any) -> None:
    """PyTorch's checks of `t.grad = g`: a tensor (not `t` itself) of `t`'s shape and dtype."""
    if not isinstance(g, operand.Operand):
        raise TypeError(
            "assigned grad expected to be a Tensor or None but got grad of type "
            f"{_qualified_name(g)}"
        )
    if g is t:
        raise AutogradError("can't assign Variable as its own grad")
    g_dtype, g_shape = dtypes.canonical(g.dtype), tuple(g.shape)  # a traced value too
    if g_dtype != t._data.dtype:
        raise AutogradError(
            f"attempting to assign a gradient with dtype '{g_dtype}' to a tensor with "
            f"dtype '{t._data.dtype}'. The gradient must match the tensor's dtype; convert "
            f"it first (g.to(tracer.{t._data.dtype.name}))"
        )
    if g_shape != t._data.shape:
        raise AutogradError(
            f"attempting to assign a gradient of size '{list(g_shape)}' to a tensor "
            f"of size '{list(t._data.shape)}'. Please ensure that the gradient and the "
            "tensor are the same size"
        )


def _qualified_name(obj: Any) -> str:
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _rebuild(data: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(data, requires_grad)


def _is_numberlike(value: Any) -> bool:
    return isinstance(value, _SCALAR_TYPES)


# How Tensor._bind runs each op, worked out once per op name: the op, its typing rule
# (elementwise ops) and its kind.
_NULLARY, _PLAIN, _VIEW, _OTHER = "nullary", "plain", "view", "other"
_EAGER_RULES: dict[str, tuple[Any, Any, str]] = {}


def _eager_rule(op_name: str) -> tuple[Any, Any, str]:
    rule = _EAGER_RULES.get(op_name)
    if rule is None:
        op = OPS[op_name]
        if op.nullary:
            kind = _NULLARY
        elif op.view:
            kind = _VIEW
        elif op.multiple_results:
            kind = _OTHER
        else:
            kind = _PLAIN
        typing = op.lowering.typing if op.elementwise else None
        rule = _EAGER_RULES[op_name] = (op, typing, kind)
    return rule


def _as_value(x: Any, op: str) -> Any:
    if isinstance(x, _SCALAR_TYPES):
        return x
    if isinstance(x, (np.ndarray, list, tuple)):
        return dtypes.operand_array(x, op)
    raise TypeError(
        f"{op}: unsupported operand of type {type(x).__name__}; use a tensor, "
        "a Python number, or a (nested) list of numbers"
    )


def _explain_failure(
    op: Any, values: Sequence[Any], params: dict[str, Any], error: Exception
) -> None:
    """Re-run the op's shape rule to turn a numpy error into one naming shapes."""
    avals = [AVal(x.shape, x.dtype) if isinstance(x, np.ndarray) else x for x in values]
    op.abstract_eval(*avals, **params)  # raises the clear error if the shapes are wrong
