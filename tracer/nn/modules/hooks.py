"""Module hooks: forward pre-hooks and hooks, and full backward (pre-)hooks, whose
gradients are caught by identity autograd Functions around a call's tensor inputs and
outputs; `Module.__call__` runs them around `forward`."""

from __future__ import annotations

import itertools
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from compiler.dispatch import tracing
from tracer.autograd import Function
from tracer.grad_mode import is_grad_enabled
from tracer.structure import changed
from tracer.tensor import Tensor

__all__ = ["HooksMixin", "RemovableHandle"]


class RemovableHandle:
    """Returned by the register_*_hook methods: `remove()` unregisters the hook (also on
    leaving a `with` block)."""

    _next_id = itertools.count()

    def __init__(self, *hook_dicts: dict[int, Any]) -> None:
        self.id = next(RemovableHandle._next_id)
        self._dicts = hook_dicts
        changed()  # a hook is being added: traced calls check their modules again

    def remove(self) -> None:
        changed()
        for d in self._dicts:
            d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class HooksMixin:
    """The hook registries of Module and the call that runs them."""

    _forward_pre_hooks: OrderedDict[int, Any]
    _forward_hooks: OrderedDict[int, Any]
    _backward_pre_hooks: OrderedDict[int, Any]
    _backward_hooks: OrderedDict[int, Any]
    forward: Callable[..., Any]

    def register_forward_pre_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """`hook(module, args)` runs before forward and may return new args (a tuple, or
        one value); with_kwargs=True: `hook(module, args, kwargs)` returning None or
        (args, kwargs)."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = (hook, with_kwargs, False)
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(
        self,
        hook: Callable[..., Any],
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """`hook(module, args, output)` runs after forward and may return a new output;
        with_kwargs=True: `hook(module, args, kwargs, output)`; always_call=True also
        runs it when forward raises."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = (hook, with_kwargs, always_call)
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """`hook(module, grad_output)` runs when the gradients of the module's outputs are
        computed and may return replacements (a tuple like grad_output)."""
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """`hook(module, grad_input, grad_output)` runs when the gradients of the module's
        positional inputs are computed (None for inputs that are not tensors or need no
        gradient) and may return replacements for grad_input. Modules with backward hooks
        cannot be used inside @tracer.trace."""
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if tracing.builder is not None:  # the trace depends on our structure (ModuleGuard)
            tracing.builder.observe(self)
        if not (
            self._forward_pre_hooks
            or self._forward_hooks
            or self._backward_hooks
            or self._backward_pre_hooks
        ):
            return self.forward(*args, **kwargs)
        for hook, with_kwargs, _ in list(self._forward_pre_hooks.values()):
            if with_kwargs:
                out = hook(self, args, kwargs)
                if out is not None:
                    if not (isinstance(out, tuple) and len(out) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of "
                            f"(new_args, new_kwargs), but got {out}."
                        )
                    args, kwargs = out
            else:
                out = hook(self, args)
                if out is not None:
                    args = out if isinstance(out, tuple) else (out,)
        backward_hook = None
        if self._backward_hooks or self._backward_pre_hooks:
            backward_hook = BackwardHook(self, args)
            args = backward_hook.wrap_inputs(args)
        called: set[int] = set()
        try:
            result = self.forward(*args, **kwargs)
            for key, (hook, with_kwargs, _) in list(self._forward_hooks.items()):
                called.add(key)
                out = hook(self, args, kwargs, result) if with_kwargs else hook(self, args, result)
                if out is not None:
                    result = out
        except Exception:
            for key, (hook, with_kwargs, always) in list(self._forward_hooks.items()):
                if always and key not in called:
                    try:
                        if with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception as e:
                        warnings.warn(
                            f"forward hook with always_call=True raised an exception that "
                            f"was silenced because another exception was raised in forward "
                            f"or a forward hook: {e}",
                            stacklevel=2,
                        )
            raise
        if backward_hook is not None:
            result = backward_hook.wrap_outputs(result)
        return result


class BackwardHookFunction(Function):
    """Returns its tensors unchanged; in backward, `callback(grads)` may replace the
    gradients flowing through them."""

    @staticmethod
    def forward(ctx: Any, callback: Callable[..., Any], *tensors: Tensor) -> Any:
        ctx.callback = callback
        ctx.set_materialize_grads(False)
        return tensors

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        return (None, *ctx.callback(grads))


class BackwardHook:
    """The backward hooks of one call of `module`."""

    def __init__(self, module: Any, args: tuple[Any, ...]) -> None:
        self.module = module
        self.n_args = len(args)
        self.grad_output: tuple[Any, ...] | None = None
        self.inputs_hooked = False

    def _positions(self, values: tuple[Any, ...]) -> list[int]:
        return [i for i, v in enumerate(values) if isinstance(v, Tensor)]

    def wrap_inputs(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """Route the tensor arguments through an identity node that calls the hooks."""
        where = self._positions(args)
        if not is_grad_enabled() or not any(args[i].requires_grad for i in where):
            return args
        self.inputs_hooked = True
        wrapped = BackwardHookFunction.apply(self._on_input_grads(where), *(args[i] for i in where))
        out = list(args)
        for i, t in zip(where, wrapped):
            out[i] = t
        return tuple(out)

    def wrap_outputs(self, result: Any) -> Any:
        """Route the tensor outputs through an identity node that records grad_output."""
        single = isinstance(result, Tensor)
        values = (result,) if single else result
        if not isinstance(values, (tuple, list)) or not is_grad_enabled():
            return result
        where = [i for i in self._positions(tuple(values)) if values[i].requires_grad]
        if not where:
            return result
        wrapped = BackwardHookFunction.apply(self._on_output_grads, *(values[i] for i in where))
        out = list(values)
        for i, t in zip(where, wrapped):
            out[i] = t
        return out[0] if single else type(values)(out)

    def _on_output_grads(self, grads: tuple[Any, ...]) -> tuple[Any, ...]:
        for hook in list(self.module._backward_pre_hooks.values()):
            out = hook(self.module, grads)
            if out is not None:
                out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
                if len(out) != len(grads):
                    raise RuntimeError(
                        f"Backward pre hook returned an invalid number of grad_output, got "
                        f"{len(out)}, but expected {len(grads)}"
                    )
                grads = out
        self.grad_output = grads
        if not self.inputs_hooked and self.module._backward_hooks:
            warnings.warn(
                "Full backward hook is firing when gradients are computed with respect to "
                "module outputs since no inputs require gradients; its grad_input is all None",
                UserWarning,
                stacklevel=2,
            )
            none = (None,) * self.n_args
            for hook in list(self.module._backward_hooks.values()):
                out = hook(self.module, none, grads)
                if out is not None and any(g is not None for g in out):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should "
                        "always return None or None for all gradients."
                    )
        return grads

    def _on_input_grads(self, where: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
        def call(grads: tuple[Any, ...]) -> tuple[Any, ...]:
            grad_input: tuple[Any, ...] = tuple(
                grads[where.index(i)] if i in where else None for i in range(self.n_args)
            )
            for hook in list(self.module._backward_hooks.values()):
                out = hook(self.module, grad_input, self.grad_output)
                if out is None:
                    continue
                out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
                if len(out) != len(grad_input):
                    raise RuntimeError(
                        f"Backward hook returned an invalid number of grad_input, got "
                        f"{len(out)}, but expected {len(grad_input)}"
                    )
                grad_input = out
            return tuple(grad_input[i] for i in where)

        return call
