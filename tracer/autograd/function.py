"""Custom autograd functions: `tracer.autograd.Function`, as torch.autograd.Function.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    y = Exp.apply(x)   # y.grad_fn is an <ExpBackward>

forward runs under no_grad; when grad mode is on and an input requires grad, the
outputs get a node of class `<Name>Backward`, which is also the `ctx` forward saw.
Its backward runs with grad mode set to create_graph, so a backward written with
tensor ops can itself be differentiated.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler import dtypes, operand
from compiler.errors import AutogradError
from tracer.autograd import Node, _edge
from tracer.grad_mode import is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """What `forward` gets as `ctx`: save tensors for backward and describe outputs.
    Any other attribute (ctx.k = 3) can be set freely to pass values to backward."""

    __slots__ = ()

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep tensors (or None) for backward, checked against later in-place changes."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, operand.Operand):
                raise TypeError(
                    f"save_for_backward can only save variables, but argument {i} is of type "
                    f"{type(t).__name__}; keep other values as attributes (ctx.k = k)"
                )
        self._to_save = tensors

    def mark_dirty(self, *tensors: Any) -> None:
        """Declare inputs that forward modified in place (they must be returned)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors: Any) -> None:
        """Declare outputs that do not require grad (their gradient arrives as zeros)."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """False: backward gets None, not zeros, for outputs that got no gradient."""
        self._materialize = bool(value)


class BackwardCFunction(Node, FunctionCtx):
    """The node (and ctx) of one Function.apply call; subclassed per Function as
    `<Name>Backward`."""

    _forward_cls: type[Function]

    def __init__(self) -> None:
        super().__init__(())
        self._to_save: tuple[Any, ...] = ()
        self._dirty: tuple[Any, ...] = ()
        self._non_differentiable: tuple[Any, ...] = ()
        self._materialize = True
        self._saved: list[tuple[Any, ...]] | None = None
        self._freed = False
        self._inputs: list[Any] = []  # per forward argument: (shape, dtype) or None
        self._outputs: list[Any] = []  # per output: (shape, dtype) or None
        self.needs_input_grad: tuple[bool, ...] = ()

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The tensors given to save_for_backward, after checking that none was changed
        in place since."""
        from tracer.tensor import Tensor

        if self._freed:
            raise self._freed_error()
        if self._saved is None:
            return tuple(self._to_save)
        out = []
        for entry in self._saved:
            if entry[0] == "none":
                out.append(None)
                continue
            if entry[0] == "input":
                _, t, version = entry
                counter = t._version
            else:  # an output: rebuilt here so that the node does not own its output
                _, data, counter, version, nr, base = entry
                t = Tensor(data, _grad_fn=self, _output_nr=nr, _version=counter, _base=base)
            if counter[0] != version:
                raise AutogradError(
                    f"one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: a {t.dtype.name} tensor of shape {tuple(t.shape)} "
                    f"saved by {self.name()} is at version {counter[0]}; expected version "
                    f"{version} instead. Use an out-of-place op (y = y + 1 instead of "
                    "y += 1), or .clone() the tensor before changing it."
                )
            out.append(t)
        return tuple(out)

    def _freed_error(self) -> AutogradError:
        return AutogradError(
            "Trying to backward through the graph a second time (or directly access saved "
            f"tensors after they have already been freed): the tensors saved by {self.name()} "
            "were freed by the first backward(). Pass retain_graph=True to the first "
            "backward() (or autograd.grad()) to go through the graph again."
        )

    @property
    def saved_variables(self) -> tuple[Any, ...]:
        return self.saved_tensors

    def apply(self, grads: list[Any], create_graph: bool, retain: bool) -> Sequence[Any]:
        from tracer.tensor import Tensor

        if self._freed:
            raise self._freed_error()
        gs = list(grads) + [None] * (len(self._outputs) - len(grads))
        if self._materialize:
            gs = [
                Tensor(np.zeros(meta[0], meta[1])) if g is None and meta is not None else g
                for g, meta in zip(gs, self._outputs)
            ]
        cls = self._forward_cls
        # a Function may define vjp instead of backward
        backward = cls.vjp if cls.backward is Function.backward else cls.backward
        with set_grad_enabled(create_graph):
            result = backward(self, *gs)
        result = result if isinstance(result, tuple) else (result,)
        n = len(self._inputs)
        if len(result) != n:
            if len(result) < n or any(g is not None for g in result[n:]):
                raise AutogradError(
                    f"function {self.name()} returned an incorrect number of gradients "
                    f"(expected {n}, got {len(result)}): backward must return one gradient "
                    "per forward argument (None for arguments that need none)"
                )
            result = result[:n]
        out = []
        for i, (g, meta, needed) in enumerate(zip(result, self._inputs, self.needs_input_grad)):
            if meta is None:
                if g is not None:
                    raise AutogradError(
                        f"function {self.name()} returned a gradient different than None at "
                        f"position {i + 1}, but the corresponding forward input was not a "
                        "Variable (return None for arguments that are not tensors)"
                    )
                continue
            if g is None or not needed:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise AutogradError(
                    f"function {self.name()} returned a {type(g).__name__} as the gradient "
                    f"at position {i + 1}; gradients must be tensors or None"
                )
            shape, dtype = meta
            if tuple(g.shape) != shape:
                try:
                    fits = np.broadcast_shapes(shape, tuple(g.shape)) == tuple(g.shape)
                except ValueError:
                    fits = False
                if not fits:
                    raise AutogradError(
                        f"Function {self.name()} returned an invalid gradient at index {i} - "
                        f"got {list(g.shape)} but expected shape compatible with {list(shape)}"
                    )
                g = g.sum_to(shape)
            if g.dtype != dtype:
                g = g.to(dtype)
            out.append(g)
        if not retain:
            self._saved = None
            self._freed = True
        return out


class _FunctionMeta(type):
    """Gives each Function subclass its node class, `<Name>Backward`."""

    def __init__(cls, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> None:
        cls._backward_cls = type(
            name + "Backward",
            (BackwardCFunction,),
            {"_forward_cls": cls, "__module__": "tracer.autograd.function"},
        )
        super().__init__(name, bases, attrs)


class Function(FunctionCtx, metaclass=_FunctionMeta):
    """Base class of custom differentiable operations; use `YourFunction.apply(...)`.

    Define static `forward(ctx, *args)` (or `forward(*args)` plus
    `setup_context(ctx, inputs, output)`) and `backward(ctx, *grad_outputs)` returning
    one gradient per forward argument (None where there is none). Not supported inside
    @tracer.trace (raises TraceError).
    """

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(
            f"{type(self)} should not be instantiated. Methods on autograd functions are all "
            "static, so you should invoke them on the class itself.",
            DeprecationWarning,
            stacklevel=2,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please "
            "use new-style autograd function with static forward method: define forward "
            "and backward as @staticmethod and call YourFunction.apply(...)"
        )

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @staticmethod
    def jvp(ctx: Any, *grad_inputs: Any) -> Any:
        raise NotImplementedError(
            "forward-mode AD (jvp) is not supported by tracer; "
            "tracer.autograd.functional.jvp computes it with two reverse passes"
        )

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward on `args` and, when recording, attach a `<Name>Backward` node to
        the outputs."""
        from tracer.tensor import Tensor

        if operand.tracing.builder is not None:
            return _traced_apply(cls, args, kwargs)
        custom_setup = cls.setup_context is not Function.setup_context
        if kwargs or custom_setup:  # setup_context sees every argument, defaults too
            args = _bind(cls.forward, args, kwargs, skip_ctx=not custom_setup)
        ctx = cls._backward_cls()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = is_grad_enabled() and any(ctx.needs_input_grad)
        edges = tuple(_edge(a) for a in args if isinstance(a, Tensor)) if record else ()
        with no_grad():
            if custom_setup:
                output = cls.forward(*args)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args)
        return _wrap_outputs(ctx, args, output, record, edges)


class _TracedCtx(FunctionCtx):
    """The ctx of a Function staged into a trace: forward's saved tensors become the
    residuals of the staged equation, and backward reads them back."""

    __slots__ = ("__dict__",)


def _traced_apply(cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Function.apply inside a traced function: one equation whose forward is
    `forward`'s graph and whose VJP is `backward`'s (tracer.custom.stage_custom_vjp).
    Tensor arguments are traced; the others (numbers, strings) reach forward as they
    are, as in eager mode."""
    from tracer.custom_staging import stage_custom_vjp

    custom_setup = cls.setup_context is not Function.setup_context
    if kwargs or custom_setup:
        args = _bind(cls.forward, args, kwargs, skip_ctx=not custom_setup)
    where = [i for i, a in enumerate(args) if isinstance(a, operand.Operand)]
    ctx = _TracedCtx()
    ctx.needs_input_grad = tuple(
        isinstance(a, operand.Operand) and dtypes.is_float(np.dtype(a.dtype)) for a in args
    )
    single: list[bool] = []

    def full_args(tensors: tuple[Any, ...]) -> list[Any]:
        out = list(args)
        for i, t in zip(where, tensors):
            out[i] = t
        return out

    def fwd(*tensors: Any) -> Any:
        a = full_args(tensors)
        if custom_setup:
            out = cls.forward(*a)
            cls.setup_context(ctx, tuple(a), out)
        else:
            out = cls.forward(ctx, *a)
        single.append(not isinstance(out, tuple))
        return out, tuple(getattr(ctx, "_to_save", ()))

    def bwd(res: Any, g: Any) -> Any:
        ctx.saved_tensors = res
        grads = cls.backward(ctx, *((g,) if single[0] else g))
        grads = grads if isinstance(grads, tuple) else (grads,)
        grads = grads + (None,) * (len(args) - len(grads))
        return tuple(grads[i] for i in where)

    return stage_custom_vjp(
        operand.tracing.builder, fwd, bwd, tuple(args[i] for i in where), cls.__name__
    )


def _bind(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], skip_ctx: bool):
    """Keyword arguments of apply() as positional ones, by forward's signature."""
    params = list(inspect.signature(fn).parameters.values())
    if skip_ctx:
        params = params[1:]
    sig = inspect.Signature(params)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.args)


def _wrap_outputs(
    ctx: BackwardCFunction,
    args: tuple[Any, ...],
    output: Any,
    record: bool,
    edges: tuple[Any, ...],
) -> Any:
    from tracer.tensor import Tensor

    single = not isinstance(output, tuple)
    outs = (output,) if single else output
    inputs = {id(a) for a in args if isinstance(a, Tensor)}
    dirty = {id(t) for t in ctx._dirty}
    non_diff = {id(t) for t in ctx._non_differentiable}
    out_ids = {id(o) for o in outs}
    for t in ctx._dirty:
        if id(t) not in inputs or id(t) not in out_ids:
            raise AutogradError(
                f"{ctx._forward_cls.__name__}: tensors marked dirty (mark_dirty) must be "
                "inputs of forward, modified in place, and returned as outputs"
            )
    if record:
        for t in ctx._dirty:
            if t._grad_fn is None and t._requires_grad:
                raise AutogradError(
                    "a leaf Variable that requires grad has been used in an in-place "
                    f"operation ({ctx._forward_cls.__name__} marked it dirty). Pass a clone "
                    "(x.clone()) to the function instead."
                )
    wrapped: list[Any] = []
    replaced: dict[int, Any] = {}
    for nr, o in enumerate(outs):
        if not isinstance(o, Tensor):
            wrapped.append(o)
            ctx._outputs.append(None)
            continue
        t = o
        if id(o) not in dirty and (id(o) in inputs or o.requires_grad):
            # an input returned as it is, or a tensor that already has a graph: give
            # the output its own tensor object (a view of the same memory)
            base = o._base if o._base is not None else o
            t = Tensor(o._data, _version=o._version, _base=base)
        differentiable = record and id(o) not in non_diff and dtypes.is_float(t.dtype)
        if differentiable:
            t._grad_fn, t._output_nr = ctx, nr
        replaced[id(o)] = (t, nr, differentiable)
        ctx._outputs.append((tuple(t.shape), t.dtype))
        wrapped.append(t)
    if record:
        ctx.next_functions = edges
        ctx._inputs = [(tuple(a.shape), a.dtype) if isinstance(a, Tensor) else None for a in args]
        saved: list[tuple[Any, ...]] = []
        for t in ctx._to_save:
            if t is None:
                saved.append(("none",))
            elif id(t) in replaced and replaced[id(t)][2]:
                out, nr, _ = replaced[id(t)]
                saved.append(("output", out._data, out._version, out._version[0], nr, out._base))
            else:
                saved.append(("input", t, t._version[0]))
        ctx._saved = saved
        ctx._to_save = ()
    else:
        ctx._inputs = [None if not isinstance(a, Tensor) else (a.shape, a.dtype) for a in args]
    return wrapped[0] if single else tuple(wrapped)


class DelayedError(Node):
    """The node of a once_differentiable backward's results: differentiating them
    again raises. Named `Error`, as PyTorch's."""

    __slots__ = ("message",)

    def apply(self, grads: list[Any], create_graph: bool, retain: bool) -> Sequence[Any]:
        raise AutogradError(self.message)


DelayedError.__name__ = DelayedError.__qualname__ = "Error"


def once_differentiable(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a backward that is not itself differentiable: it runs under no_grad, and
    differentiating its results (create_graph=True) raises a clear error."""
    from tracer.tensor import Tensor

    @functools.wraps(backward)
    def wrapper(ctx: Any, *grads: Any) -> Any:
        with no_grad():
            result = backward(ctx, *grads)
        if not is_grad_enabled():
            return result
        sources = [g for g in grads if isinstance(g, Tensor) and g.requires_grad]
        if not sources:
            return result
        node = DelayedError(tuple(_edge(g) for g in sources))
        node.message = (
            "trying to differentiate twice a function that was marked with "
            f"@once_differentiable ({type(ctx).__name__})"
        )
        items = result if isinstance(result, tuple) else (result,)
        items = tuple(Tensor(g._data, _grad_fn=node) if isinstance(g, Tensor) else g for g in items)
        return items if isinstance(result, tuple) else items[0]

    return wrapper
