"""The LRScheduler base class and the helpers every scheduler shares: reading and
setting group values (a tensor lr is filled in place, as PyTorch does), the warnings
about calling order, and the lambda-driven base."""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from compiler import operand
from compiler.errors import TraceError
from compiler.source import describe_location
from tracer.optim.optimizer import Optimizer
from tracer.tensor import Tensor

Lr = float | Tensor

_ORDER_WARNING = (
    "lr_scheduler.step() was called before optimizer.step(). Since PyTorch 1.1 the order "
    "is optimizer.step() then lr_scheduler.step(); this order skips the first value of the "
    "schedule"
)
_EPOCH_WARNING = (
    "Passing an epoch to scheduler.step() is deprecated (as in PyTorch): it jumps to the "
    "closed-form lr of that epoch where the scheduler has one. Call scheduler.step() "
    "without arguments once per epoch instead"
)
_GET_LR_WARNING = (
    "get_lr() computes the next lr from the current one and is meant for step(); "
    "use get_last_lr() to read the lr the scheduler last set"
)


def refuse_in_trace(scheduler: Any) -> None:
    """Raise TraceError when `scheduler.step()` runs inside a traced function: it would
    set the learning rate once, while tracing, and never at the later calls."""
    if operand.tracing.builder is not None:
        raise TraceError(
            f"{type(scheduler).__name__}.step() inside a traced function: the schedule "
            "would advance once, while tracing, and never at the calls that follow"
            + (f"\n  at {describe_location()}" if describe_location() else "")
            + "\nCall scheduler.step() outside the traced function (the traced step reads "
            "the optimizer's learning rate at every call)."
        )


def _copy_lr(lr: Lr) -> Lr:
    return lr.clone() if isinstance(lr, Tensor) else lr


def _group_values(optimizer: Optimizer, key: str) -> list[Any]:
    """Each group's `key`, tensors copied (so they never alias the optimizer's)."""
    return [_copy_lr(group[key]) for group in optimizer.param_groups]


def _set_group_value(group: dict[str, Any], key: str, value: Lr) -> None:
    """Set group[key]; a tensor lr is filled in place, as PyTorch does."""
    if isinstance(group[key], Tensor):
        group[key].fill_(value.item() if isinstance(value, Tensor) else value)
    else:
        group[key] = value


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """`value` for every param group: a list/tuple of one per group, or one for all."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} has {len(value)} values but the optimizer has "
                f"{len(optimizer.param_groups)} param groups; give one per group, or one "
                "number for all"
            )
        return [_copy_lr(v) for v in value]
    return [_copy_lr(value)] * len(optimizer.param_groups)


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{type(optimizer).__name__} is not an Optimizer: pass a tracer.optim optimizer"
        )


class LRScheduler:
    """Base of the epoch-based schedulers: sets `initial_lr` in each param group, keeps
    `base_lrs` and `last_epoch` (-1 before the first step), and takes one step at
    construction, as PyTorch does, so the optimizer starts at the schedule's first lr.

    A subclass defines `get_lr()`: the lrs for `last_epoch` (chainable form) and may
    define `_get_closed_form_lr()`.
    """

    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", _copy_lr(group["lr"]))
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param group {i} has no 'initial_lr', which resuming a scheduler "
                        f"with last_epoch={last_epoch} needs: load the optimizer's state "
                        "dict (saved while the scheduler ran) first, or start with "
                        "last_epoch=-1"
                    )
        self.base_lrs: list[Lr] = _group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (PyTorch's content)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)

    def get_last_lr(self) -> list[Lr]:
        """The lr of each param group as this scheduler last set it."""
        return self._last_lr

    def get_lr(self) -> list[Lr]:
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr()")

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or, deprecated, jump to `epoch`) and set the lrs."""
        refuse_in_trace(self)
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(_ORDER_WARNING, UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(_EPOCH_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        self._set_lrs(values)

    def _set_lrs(self, values: Sequence[Lr]) -> None:
        groups = self.optimizer.param_groups
        if len(values) != len(groups):
            raise ValueError(
                f"{type(self).__name__} computed {len(values)} lrs but the optimizer has "
                f"{len(groups)} param groups (one was added after the scheduler was "
                "created?); create the scheduler after adding param groups"
            )
        for group, lr in zip(groups, values):
            _set_group_value(group, "lr", lr)
        self._last_lr: list[Lr] = _group_values(self.optimizer, "lr")

    def _warn_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn(_GET_LR_WARNING, UserWarning, stacklevel=3)

    def _current(self) -> list[Lr]:
        return _group_values(self.optimizer, "lr")


_LRScheduler = LRScheduler  # PyTorch's older name, still subclassed by scripts


class _Lambdas(LRScheduler):
    """Schedulers driven by user functions: one per group, saved only if not plain
    functions (a callable object's attributes are saved, as PyTorch does)."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(
                    f"Expected {len(optimizer.param_groups)} lr_lambdas (one per param "
                    f"group), but got {len(lr_lambda)}"
                )
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
            for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        lambdas = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for fn, saved in zip(self.lr_lambdas, lambdas):
            if saved is not None:
                fn.__dict__.update(saved)
