"""Per-coordinate adaptive step sizes without a first moment: RMSprop, Adagrad and
Adadelta, with torch.optim's formulas, defaults and state."""

from __future__ import annotations

from typing import Any

import numpy as np

from tracer.creation import full_like, zeros_like
from tracer.optim.optimizer import (
    Optimizer,
    Params,
    _at_least_zero,
    _check_number,
    _lr,
    _scalar,
    addcdiv_,
    addcmul_,
    advance_step,
    decayed_grad,
    kernel_advance_step,
    lerp_,
    lerp_coefs,
    new_step,
    zeros_buffer,
)
from tracer.tensor import Tensor

__all__ = ["RMSprop", "Adagrad", "Adadelta"]


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture notes; centered as in Graves, 2013), exactly as
    torch.optim.RMSprop:

        v = alpha * v + (1 - alpha) * g * g
        centered: a = alpha * a + (1 - alpha) * g;  d = sqrt(v - a * a) + eps
        otherwise:                                   d = sqrt(v) + eps
        momentum > 0: b = momentum * b + g / d;  p -= lr * b
        otherwise:    p -= lr * g / d

    State: step, square_avg (v), momentum_buffer (b) and grad_avg (a) when used.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any], where: str) -> None:
        for key in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            _check_number(group, where, key, ">= 0", _at_least_zero)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": new_step(), "square_avg": zeros_like(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = zeros_like(p)
        return state

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        state = self._state(p, group)
        advance_step(state)
        g = decayed_grad(p, grad, group)
        v = addcmul_(state["square_avg"].mul_(alpha), g, g, 1 - alpha)
        if group["centered"]:
            a = lerp_(zeros_buffer(state, "grad_avg", p), g, 1 - alpha)
            d = (v + a * -1 * a).sqrt() + group["eps"]
        else:
            d = v.sqrt() + group["eps"]
        if momentum > 0:
            b = zeros_buffer(state, "momentum_buffer", p)
            p.add_(addcdiv_(b.mul_(momentum), g, d), alpha=-_lr(group))
        else:
            addcdiv_(p, g, d, -_lr(group))

    _kernel = "rmsprop"

    def _kernel_buffers(self, group: dict[str, Any]) -> tuple[str | None, ...]:
        return (
            "square_avg",
            "grad_avg" if group["centered"] else None,
            "momentum_buffer" if group["momentum"] > 0 else None,
        )

    def _kernel_flags(self, group: dict[str, Any]) -> tuple[bool, ...]:
        return (bool(group["centered"]), group["momentum"] > 0)

    def _kernel_coefs(
        self, p: Tensor, state: dict[str, Any], group: dict[str, Any], dtype: np.dtype
    ) -> list[float]:
        alpha = group["alpha"]
        kernel_advance_step(state)
        lr = _scalar(group["lr"])
        return [*lerp_coefs(1 - alpha, dtype), alpha, -lr, group["eps"], group["momentum"]]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), exactly as torch.optim.Adagrad:

        s = s + g * g     (s starts at initial_accumulator_value)
        p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    State: step and sum (s), created for every parameter by the constructor, as in
    PyTorch (a group added later gets its state at its first step).
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:  # PyTorch creates Adagrad's state up front
            for p in group["params"]:
                self._state(p, group)

    def _check(self, group: dict[str, Any], where: str) -> None:
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _check_number(group, where, key, ">= 0", _at_least_zero)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": new_step(), "sum": full_like(p, group["initial_accumulator_value"])}

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        state = self._state(p, group)
        t = advance_step(state)
        g = decayed_grad(p, grad, group)
        clr = _lr(group) / (1 + (t - 1) * group["lr_decay"])
        s = addcmul_(state["sum"], g, g, 1)
        addcdiv_(p, g, s.sqrt() + group["eps"], -clr)

    _kernel = "adagrad"

    def _kernel_buffers(self, group: dict[str, Any]) -> tuple[str | None, ...]:
        return ("sum",)

    def _kernel_coefs(
        self, p: Tensor, state: dict[str, Any], group: dict[str, Any], dtype: np.dtype
    ) -> list[float]:
        t = kernel_advance_step(state)
        clr = _scalar(group["lr"]) / (1 + (t - 1) * group["lr_decay"])
        return [-clr, group["eps"]]


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), exactly as torch.optim.Adadelta:

        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p -= lr * delta

    State: step, square_avg (v), acc_delta (u).
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any], where: str) -> None:
        for key in ("lr", "eps", "weight_decay"):
            _check_number(group, where, key, ">= 0", _at_least_zero)
        _check_number(group, where, "rho", "in [0, 1]", lambda v: 0 <= v <= 1)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": new_step(), "square_avg": zeros_like(p), "acc_delta": zeros_like(p)}

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        rho, eps = group["rho"], group["eps"]
        state = self._state(p, group)
        advance_step(state)
        g = decayed_grad(p, grad, group)
        v, u = state["square_avg"], state["acc_delta"]
        addcmul_(v.mul_(rho), g, g, 1 - rho)
        delta = (u + eps).sqrt() / (v + eps).sqrt() * g
        addcmul_(u.mul_(rho), delta, delta, 1 - rho)
        p.add_(delta, alpha=-_lr(group))

    _kernel = "adadelta"

    def _kernel_buffers(self, group: dict[str, Any]) -> tuple[str | None, ...]:
        return ("square_avg", "acc_delta")

    def _kernel_coefs(
        self, p: Tensor, state: dict[str, Any], group: dict[str, Any], dtype: np.dtype
    ) -> list[float]:
        rho = group["rho"]
        kernel_advance_step(state)
        return [rho, 1 - rho, group["eps"], -_scalar(group["lr"])]
