"""Module state dicts: state_dict(), load_state_dict() (every check made before any
tensor is changed) and their hooks."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from tracer.grad_mode import no_grad
from tracer.nn.modules.hooks import RemovableHandle
from tracer.nn.parameter import Parameter
from tracer.tensor import Tensor

__all__ = ["StateDictMixin"]

_EXTRA_STATE_KEY = "_extra_state"


class _IncompatibleKeys(NamedTuple):
    """What load_state_dict returns: the keys it missed and the keys it did not use."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, "
            f"unexpected_keys={self.unexpected_keys!r})"
        )

    __str__ = __repr__


def _torch_size(shape: tuple[int, ...]) -> str:
    return f"tracer.Size({list(shape)})"


class StateDictMixin:
    """state_dict() and load_state_dict() over Module's registries."""

    _parameters: dict[str, Any]
    _buffers: dict[str, Any]
    _modules: dict[str, Any]
    _non_persistent_buffers_set: set[str]
    _state_dict_pre_hooks: OrderedDict[int, Any]
    _state_dict_hooks: OrderedDict[int, Any]
    _load_state_dict_pre_hooks: OrderedDict[int, Any]
    _load_state_dict_post_hooks: OrderedDict[int, Any]

    def register_state_dict_pre_hook(self, hook: Callable[..., None]) -> RemovableHandle:
        """`hook(module, prefix, keep_vars)` runs before state_dict() saves this module."""
        handle = RemovableHandle(self._state_dict_pre_hooks)
        self._state_dict_pre_hooks[handle.id] = hook
        return handle

    def register_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """`hook(module, state_dict, prefix, local_metadata)` runs after this module's
        entries are saved; it may change the dict in place (its return value must be
        None)."""
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    def register_load_state_dict_pre_hook(self, hook: Callable[..., None]) -> RemovableHandle:
        """`hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)` runs before load_state_dict() reads this module;
        it may change the (copied) state dict."""
        handle = RemovableHandle(self._load_state_dict_pre_hooks)
        self._load_state_dict_pre_hooks[handle.id] = hook
        return handle

    def register_load_state_dict_post_hook(self, hook: Callable[..., None]) -> RemovableHandle:
        """`hook(module, incompatible_keys)` runs after load_state_dict() and may edit
        the missing/unexpected key lists in place."""
        handle = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

    def _save_to_state_dict(
        self, destination: dict[str, Any], prefix: str, keep_vars: bool
    ) -> None:
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if self._has_extra_state():
            destination[prefix + _EXTRA_STATE_KEY] = self.get_extra_state()

    def state_dict(
        self, *, destination: Any = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Any]:
        """An OrderedDict from dotted names to parameters and persistent buffers
        (detached, sharing memory with the module's tensors unless keep_vars=True)."""
        if destination is None:
            destination = OrderedDict()
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(
                    destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
                )
        for hook in self._state_dict_hooks.values():
            if hook(self, destination, prefix, {}) is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return destination

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """Check this module's own entries against `state_dict`; the copies are made by
        load_state_dict() once every module has been checked (none when a check fails)."""
        for hook in self._load_state_dict_pre_hooks.values():
            hook(
                self,
                state_dict,
                prefix,
                local_metadata,
                strict,
                missing_keys,
                unexpected_keys,
                error_msgs,
            )
        assign = local_metadata.get("assign_to_params_buffers", False)
        local = {
            k: v
            for k, v in itertools.chain(self._parameters.items(), self._buffers.items())
            if v is not None and k not in self._non_persistent_buffers_set
        }
        for name, current in local.items():
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected tracer.Tensor or '
                    f"Tensor-like object from checkpoint but received {type(value)}"
                )
                continue
            if current.ndim == 0 and tuple(value.shape) == (1,):
                value = value[0]  # a 0-d parameter loads from a one-element checkpoint
            if tuple(value.shape) != tuple(current.shape):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape "
                    f"{_torch_size(value.shape)} from checkpoint, the shape in current model "
                    f"is {_torch_size(current.shape)}."
                )
                continue
            if assign:
                _defer(_assigner(self, name, current, value))
            else:
                _defer(_copier(current, value))  # copy_ converts to the module's dtype
        extra_key = prefix + _EXTRA_STATE_KEY
        if self._has_extra_state():
            if extra_key in state_dict:
                extra = state_dict[extra_key]
                _defer(lambda: self.set_extra_state(extra))
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        for key in state_dict:
            if key.startswith(prefix) and key != extra_key:
                head, dot, _ = key[len(prefix) :].partition(".")
                if (dot and head not in self._modules) or (not dot and head not in local):
                    unexpected_keys.append(key)

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copy parameters and buffers from `state_dict` (converted to each tensor's
        dtype). With strict=True (the default) its keys must match state_dict()'s.

        Returns (missing_keys, unexpected_keys). Raises RuntimeError naming the missing
        and unexpected keys (strict only) and every shape mismatch (always); when it
        raises, nothing has been changed. assign=True makes the module hold the given
        tensors (as Parameters keeping each parameter's requires_grad) instead of copying.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []
        metadata = {"assign_to_params_buffers": True} if assign else {}
        # walk modules iteratively, each seeing only the keys under its prefix
        stack: list[tuple[Any, dict[str, Any], str]] = [(self, OrderedDict(state_dict), "")]
        outer, _loading.updates = _loading.updates, []
        try:
            while stack:
                mod, local_sd, prefix = stack.pop()
                mod._load_from_state_dict(
                    local_sd, prefix, dict(metadata), True, missing, unexpected, errors
                )
                children = []
                for name, child in mod._modules.items():
                    if child is not None:
                        child_prefix = prefix + name + "."
                        child_sd = {k: v for k, v in local_sd.items() if k.startswith(child_prefix)}
                        children.append((child, child_sd, child_prefix))
                stack.extend(reversed(children))
            updates = _loading.updates
        finally:
            _loading.updates = outer
        if strict:
            if unexpected:
                keys = ", ".join(f'"{k}"' for k in unexpected)
                errors.insert(0, f"Unexpected key(s) in state_dict: {keys}. ")
            if missing:
                keys = ", ".join(f'"{k}"' for k in missing)
                errors.insert(0, f"Missing key(s) in state_dict: {keys}. ")
        if errors:
            hint = "nothing was loaded"
            if strict and (missing or unexpected):
                hint += "; strict=False loads the matching keys and returns the others"
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
                + f"\n({hint})"
            )
        with no_grad():
            for update in updates:
                update()
        result = _IncompatibleKeys(missing, unexpected)
        for mod in self.modules():
            for hook in mod._load_state_dict_post_hooks.values():
                hook(mod, result)
        return result


class _Loading(threading.local):
    updates: list[Callable[[], None]] | None = None


# The updates load_state_dict() makes once every module has passed its checks.
_loading = _Loading()


def _defer(update: Callable[[], None]) -> None:
    if _loading.updates is None:  # _load_from_state_dict called on its own
        update()
    else:
        _loading.updates.append(update)


def _copier(target: Tensor, value: Tensor) -> Callable[[], None]:
    def copy() -> None:
        target.copy_(value)

    return copy


def _assigner(mod: Any, name: str, current: Tensor, value: Tensor) -> Callable[[], None]:
    def assign() -> None:
        new = value
        if isinstance(current, Parameter):
            if isinstance(value, Parameter):
                new = value.requires_grad_(current.requires_grad)
            else:
                new = Parameter(value.detach(), requires_grad=current.requires_grad)
        setattr(mod, name, new)

    return assign
