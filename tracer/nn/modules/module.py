"""`nn.Module`: parameters, buffers and submodules registered on attribute assignment,
their traversal, train/eval, dtype conversion and PyTorch's repr; state dicts come
from StateDictMixin (state_dict.py), hooks and the call from HooksMixin (hooks.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from compiler import dtypes
from compiler.errors import DTypeError
from tracer.grad_mode import no_grad
from tracer.nn.modules.hooks import HooksMixin, RemovableHandle
from tracer.nn.modules.state_dict import StateDictMixin
from tracer.nn.parameter import Buffer, Parameter, set_data, typename
from tracer.structure import Registry, changed
from tracer.tensor import Tensor

__all__ = ["Module", "RemovableHandle"]


def _addindent(text: str, spaces: int) -> str:
    """Indent every line of `text` but the first by `spaces`."""
    first, *rest = text.split("\n")
    return "\n".join([first, *(" " * spaces + line for line in rest)])


def _parse_to(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The dtype of Module.to's (device, dtype, non_blocking) / (dtype) / (tensor) forms;
    a device must be the CPU."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "memory_format"}
    if unknown:
        raise TypeError(f"to() got unexpected keyword argument(s) {sorted(unknown)}")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    for a in args:
        if isinstance(a, bool):  # non_blocking, positionally
            continue
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, str) or isinstance(getattr(a, "type", None), str):
            device = a
        elif a is not None:
            dtype = a
    if device is not None:
        check_cpu(device, "Module.to")
    if dtype is not None:
        dtype = dtypes.canonical(dtype)
        if not dtypes.is_float(dtype):
            raise DTypeError(
                f"nn.Module.to only accepts floating point dtypes, but got desired "
                f"dtype={dtype}; integer buffers keep their dtype, parameters must be floats"
            )
    return dtype


def check_cpu(device: Any, where: str) -> None:
    """Accept 'cpu', 'cpu:0' or a device object of type cpu; refuse anything else with
    a message saying that this library runs on the CPU only."""
    kind = getattr(device, "type", device)
    if isinstance(kind, int) or not isinstance(kind, str):
        raise RuntimeError(f"{where}: expected a device such as 'cpu', got {device!r}")
    if kind.split(":")[0] != "cpu":
        raise RuntimeError(
            f"{where}: device {str(device)!r} is not available: tracer runs on the CPU only. "
            "Use 'cpu' (tracer.cuda.is_available() is False, so the usual "
            "`'cuda' if torch.cuda.is_available() else 'cpu'` picks it)."
        )


class Module(HooksMixin, StateDictMixin):
    """Base class of layers and models, as `torch.nn.Module`.

    Assigning a Parameter, a Module or (via register_buffer / nn.Buffer) a tensor as an
    attribute registers it; `parameters()`, `state_dict()`, `to()`, `train()` and the
    rest walk the registered tree. Subclasses call `super().__init__()` first and
    define `forward`; calling the module runs the forward pre-hooks, `forward`, then
    the forward hooks.
    """

    training: bool
    _version: int = 1
    call_super_init: bool = False
    dump_patches: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments; Module.__init__ "
                "takes none (pass yours to your own class, then call super().__init__())"
            )
        set_ = object.__setattr__
        set_(self, "training", True)
        set_(self, "_parameters", Registry())  # Registry: writes are seen by traced calls
        set_(self, "_buffers", Registry())
        set_(self, "_non_persistent_buffers_set", set())
        set_(self, "_modules", Registry())
        set_(self, "_forward_pre_hooks", OrderedDict())
        set_(self, "_forward_hooks", OrderedDict())
        set_(self, "_backward_pre_hooks", OrderedDict())
        set_(self, "_backward_hooks", OrderedDict())
        set_(self, "_state_dict_pre_hooks", OrderedDict())
        set_(self, "_state_dict_hooks", OrderedDict())
        set_(self, "_load_state_dict_pre_hooks", OrderedDict())
        set_(self, "_load_state_dict_post_hooks", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # ---- registration --------------------------------------------------------
    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state that is not a parameter (running statistics, masks).
        Non-persistent buffers are left out of state_dict()."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{typename(tensor)}' object to buffer '{name}' "
                "(tracer Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a registered slot without a value)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{typename(param)}' object to parameter '{name}' "
                "(tracer.nn.Parameter or None required); wrap it: nn.Parameter(tensor)"
            )
        if param is not None and param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must "
                f"be created explicitly. To express '{name}' as a function of another Tensor, "
                "compute the value in the forward() method."
            )
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module, reachable as the attribute `name`."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {typename(name)}")
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name: Any, kind: str, registry: dict[str, Any]) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {typename(name)}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain "."')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def __setattr__(self, name: str, value: Any) -> None:
        changed()  # traced functions that call this module check its structure again
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{typename(value)}' as parameter '{name}' "
                    "(tracer.nn.Parameter or None expected); to change its values, "
                    f"use `with tracer.no_grad(): module.{name}.copy_(value)`"
                )
            self.register_parameter(name, None)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{typename(value)}' as child module '{name}' "
                    "(tracer.nn.Module or None expected)"
                )
            modules[name] = None
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{typename(value)}' as buffer '{name}' "
                    "(tracer.nn.Buffer, tracer.Tensor or None expected)"
                )
            if isinstance(value, Buffer):
                if buffers is None:
                    raise AttributeError("cannot assign buffer before Module.__init__() call")
                self._forget(name, keep="_buffers")
                self.register_buffer(name, value, value.persistent)
            else:
                buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Drop `name` from the plain attributes and the registries other than `keep`."""
        self.__dict__.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                self.__dict__[registry].pop(name, None)
        if keep != "_buffers":
            self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            found = d.get(registry)
            if found is not None and name in found:
                return found[name]
        hint = _TORCH_ONLY.get(name)
        raise AttributeError(
            f"'{type(self).__name__}' object has no attribute '{name}'"
            + (f" ({hint})" if hint else "")
        )

    def __delattr__(self, name: str) -> None:
        changed()
        d = self.__dict__
        if name in d.get("_parameters", ()):
            del self._parameters[name]
        elif name in d.get("_buffers", ()):
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in d.get("_modules", ()):
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = [
            *dir(type(self)),
            *self.__dict__,
            *self._parameters,
            *self._modules,
            *self._buffers,
        ]
        return sorted({k for k in keys if not k[:1].isdigit()})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # ---- lookup -------------------------------------------------------------
    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path `target` ('' is the module itself)."""
        if target == "":
            return self
        mod: Module = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Replace (or, unless `strict`, add) the submodule at dotted path `target`."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        *path, name = target.split(".")
        parent = self.get_submodule(".".join(path))
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def _get_member(self, target: str, registry: str, what: str) -> Any:
        *path, name = target.split(".")
        mod = self.get_submodule(".".join(path))
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        if name not in mod.__dict__[registry]:
            raise AttributeError(f"`{name}` is not {what}")
        return getattr(mod, name)

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path `target` ('block.0.weight')."""
        return self._get_member(target, "_parameters", "an nn.Parameter")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path `target`."""
        return self._get_member(target, "_buffers", "a buffer")

    def get_extra_state(self) -> Any:
        """Override (with set_extra_state) to add state to state_dict() under
        '_extra_state'; the value must be something tracer.save can store."""
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called."
        )

    def set_extra_state(self, state: Any) -> None:
        """Receives what get_extra_state() returned, from load_state_dict()."""
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called."
        )

    def _has_extra_state(self) -> bool:
        return type(self).get_extra_state is not Module.get_extra_state

    # ---- traversal ---------------------------------------------------------
    def named_modules(
        self, memo: set[Any] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every submodule, depth first;
        a module reachable twice is listed once unless remove_duplicate=False."""
        if memo is None:
            memo = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if mod in memo:
                continue
            if remove_duplicate:
                memo.add(mod)
            yield name, mod
            children = [
                (name + ("." if name else "") + key, child)
                for key, child in mod._modules.items()
                if child is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and m not in seen:
                seen.add(m)
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Any]]:
        mods = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        seen: set[int] = set()
        for mod_prefix, mod in mods:
            for key, value in mod.__dict__[registry].items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + key, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a shared parameter is listed once unless
        remove_duplicate=False; recurse=False lists this module's own only."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and gradients -----------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout drops) on this module and its submodules."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode: train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set requires_grad on every parameter (freeze with False)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: to None (the default) or to zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                p.grad.zero_()

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every submodule (children first) and then on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- conversion --------------------------------------------------------
    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Module:
        """Replace every parameter's data (keeping the Parameter objects, so optimizers
        still hold them) and every buffer by `fn` of it."""
        if recurse:
            for m in self.children():
                m._apply(fn)
        with no_grad():
            for p in self._parameters.values():
                if p is None:
                    continue
                set_data(p, fn(p))
                if p.grad is not None:
                    set_data(p.grad, fn(p.grad))
            for key, b in self._buffers.items():
                if b is not None:
                    self._buffers[key] = fn(b)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """to(dtype), to('cpu'), to(device, dtype), to(tensor): convert floating point
        parameters and buffers to `dtype` in place; the device must be the CPU."""
        dtype = _parse_to(args, kwargs)
        if dtype is None:
            return self
        return self._apply(lambda t: t.to(dtype) if dtypes.is_float(t.dtype) else t)

    def cpu(self) -> Module:
        return self

    def cuda(self, device: Any = None) -> Module:
        check_cpu("cuda" if device is None else f"cuda:{device}", "Module.cuda")
        return self

    def float(self) -> Module:
        """Cast floating point parameters and buffers to float32."""
        return self._apply(lambda t: t.float() if dtypes.is_float(t.dtype) else t)

    def double(self) -> Module:
        """Cast floating point parameters and buffers to float64."""
        return self._apply(lambda t: t.double() if dtypes.is_float(t.dtype) else t)

    def half(self) -> Module:
        """Cast floating point parameters and buffers to float16."""
        return self._apply(lambda t: t.to(dtypes.float16) if dtypes.is_float(t.dtype) else t)

    def type(self, dst_type: Any) -> Module:
        """Cast every parameter and buffer to `dst_type`."""
        d = dtypes.canonical(dst_type)
        return self._apply(lambda t: t.to(d))

    # ---- printing ----------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in repr(); override in layers."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(m), 2) for key, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"


# torch.nn.Module attributes this library does not have, and why: named in the
# AttributeError so that a PyTorch user knows it is missing here, not misspelt.
_TORCH_ONLY = {
    name: f"torch.nn.Module.{name} is not supported by tracer: {why}"
    for name, why in {
        "bfloat16": "numpy has no bfloat16 dtype",
        "compile": "use @tracer.trace to compile a function",
        "ipu": "tracer runs on the CPU only",
        "xpu": "tracer runs on the CPU only",
        "mtia": "tracer runs on the CPU only",
        "share_memory": "there is no multiprocessing support",
        "to_empty": "there are no meta tensors",
        "register_backward_hook": "it is deprecated in PyTorch too; use "
        "register_full_backward_hook",
    }.items()
}
