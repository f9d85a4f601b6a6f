"""The Adam family, as torch.optim has it: Adam, AdamW, Adamax, NAdam and RAdam.

Each keeps exponential averages of the gradient m (beta1) and of its square v (beta2)
with bias corrections 1 - beta**t, t counting steps from 1; they differ in how they turn
m and v into a step. Formulas and defaults are PyTorch's (its docs cite the papers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.operand import Operand
from tracer.creation import tensor, zeros_like
from tracer.functions import where
from tracer.optim.optimizer import (
    Optimizer,
    Params,
    _at_least_zero,
    _check_betas,
    _check_number,
    _lr,
    _scalar,
    addcdiv_,
    addcmul_,
    advance_step,
    bias_correction,
    decayed_grad,
    kernel_advance_step,
    lerp_,
    lerp_coefs,
    new_step,
    zeros_buffer,
)
from tracer.tensor import Tensor

__all__ = ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"]

Betas = tuple[float, float]


class _Moments(Optimizer):
    """Checks and state shared by the family: step, exp_avg (m) and exp_avg_sq (v)."""

    def _check(self, group: dict[str, Any], where: str) -> None:
        for key in ("lr", "eps", "weight_decay"):
            _check_number(group, where, key, ">= 0", _at_least_zero)
        _check_betas(group, where)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": new_step(), "exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}

    def _moments(self, state: dict[str, Any], g: Tensor, group: dict[str, Any]) -> None:
        """m <- beta1 * m + (1 - beta1) * g;  v <- beta2 * v + (1 - beta2) * g * g."""
        beta1, beta2 = group["betas"]
        lerp_(state["exp_avg"], g, 1 - beta1)
        addcmul_(state["exp_avg_sq"].mul_(beta2), g, g, 1 - beta2)

    def _kernel_buffers(self, group: dict[str, Any]) -> tuple[str | None, ...]:
        return ("exp_avg", "exp_avg_sq")

    def _moment_coefs(self, group: dict[str, Any], dtype: np.dtype) -> list[float]:
        """The kernels' columns for `_moments`: lerp_coefs(1 - beta1), beta2, 1 - beta2."""
        beta1, beta2 = group["betas"]
        return [*lerp_coefs(1 - beta1, dtype), beta2, 1 - beta2]


class Adam(_Moments):
    """Adam (Kingma & Ba, 2014), with AMSGrad and L2 or decoupled weight decay, exactly as
    torch.optim.Adam:

        g = -grad if maximize else grad;  g += weight_decay * p  (decoupled: p *= 1 - lr * wd)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)   (amsgrad: of the raw v, before bias correction, as PyTorch)
        p -= lr / (1 - beta1**t) * m / (sqrt(v or v_max) / sqrt(1 - beta2**t) + eps)

    State: step (a float32 0-d tensor), exp_avg, exp_avg_sq, and max_exp_avg_sq with amsgrad.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: Betas = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = super()._init_state(p, group)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_like(p)
        return state

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        state = self._state(p, group)
        t = advance_step(state)
        g = decayed_grad(p, grad, group)
        self._moments(state, g, group)
        v = state["exp_avg_sq"]
        if group["amsgrad"]:
            v_max = zeros_buffer(state, "max_exp_avg_sq", p)
            v = v_max.copy_(v_max.maximum(v))
        step_size = _lr(group) / bias_correction(beta1, t)
        denom = v.sqrt() / bias_correction(beta2, t) ** 0.5 + group["eps"]
        addcdiv_(p, state["exp_avg"], denom, -step_size)

    _kernel = "adam"

    def _kernel_buffers(self, group: dict[str, Any]) -> tuple[str | None, ...]:
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq" if group["amsgrad"] else None)

    def _kernel_flags(self, group: dict[str, Any]) -> tuple[bool, ...]:
        return (bool(group["amsgrad"]),)

    def _kernel_coefs(
        self, p: Tensor, state: dict[str, Any], group: dict[str, Any], dtype: np.dtype
    ) -> list[float]:
        beta1, beta2 = group["betas"]
        t = kernel_advance_step(state)
        step_size = _scalar(group["lr"]) / bias_correction(beta1, t)
        return [
            *self._moment_coefs(group, dtype),
            -step_size,
            bias_correction(beta2, t) ** 0.5,
            group["eps"],
        ]


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2017): the parameter shrinks
    by a factor 1 - lr * weight_decay each step instead of weight_decay * p joining the
    gradient. torch.optim.AdamW, whose weight_decay defaults to 1e-2."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: Betas = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )


class Adamax(_Moments):
    """Adamax (Kingma & Ba, 2014, section 7): Adam with the infinity norm, exactly as
    torch.optim.Adamax:

        m = beta1 * m + (1 - beta1) * g;   u = max(beta2 * u, |g| + eps)
        p -= lr / (1 - beta1**t) * m / u

    State: step, exp_avg (m), exp_inf (u).
    """

    def __init__(
        self,
        params: Params,
        lr: float = 2e-3,
        betas: Betas = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": new_step(), "exp_avg": zeros_like(p), "exp_inf": zeros_like(p)}

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        state = self._state(p, group)
        t = advance_step(state)
        g = decayed_grad(p, grad, group)
        m, u = state["exp_avg"], state["exp_inf"]
        lerp_(m, g, 1 - beta1)
        u.copy_(u.mul_(beta2).maximum(g.abs() + group["eps"]))
        addcdiv_(p, m, u, -_lr(group) / bias_correction(beta1, t))

    _kernel = "adamax"

    def _kernel_buffers(self, group: dict[str, Any]) -> tuple[str | None, ...]:
        return ("exp_avg", "exp_inf")

    def _kernel_coefs(
        self, p: Tensor, state: dict[str, Any], group: dict[str, Any], dtype: np.dtype
    ) -> list[float]:
        beta1, beta2 = group["betas"]
        t = kernel_advance_step(state)
        clr = -_scalar(group["lr"]) / bias_correction(beta1, t)
        return [*lerp_coefs(1 - beta1, dtype), beta2, group["eps"], clr]


class NAdam(_Moments):
    """NAdam (Dozat, 2016): Adam with Nesterov momentum and a momentum schedule
    mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay)), exactly as torch.optim.NAdam:

        m, v as in Adam;  prod_t = mu_1 * ... * mu_t;  d = sqrt(v / (1 - beta2**t)) + eps
        p -= lr * (1 - mu_t) / (1 - prod_t) * g / d
        p -= lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / d

    State: step, mu_product (prod_t, a float32 0-d tensor as in PyTorch, so it rounds as
    PyTorch's does), exp_avg, exp_avg_sq.
    """

    _scalar_state = ("step", "mu_product")

    def __init__(
        self,
        params: Params,
        lr: float = 2e-3,
        betas: Betas = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any], where: str) -> None:
        super()._check(group, where)
        _check_number(group, where, "momentum_decay", ">= 0", _at_least_zero)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        zeros = zeros_like(p), zeros_like(p)
        return dict(step=new_step(), mu_product=tensor(1.0), exp_avg=zeros[0], exp_avg_sq=zeros[1])

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        lr, decay = _lr(group), group["momentum_decay"]
        state = self._state(p, group)
        t = advance_step(state)
        g = decayed_grad(p, grad, group)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * decay))
        product = state["mu_product"].mul_(mu)
        product = product.double() if isinstance(t, Operand) else product.item()
        self._moments(state, g, group)
        denom = (state["exp_avg_sq"] / bias_correction(beta2, t)).sqrt() + group["eps"]
        addcdiv_(p, g, denom, -lr * (1.0 - mu) / (1.0 - product))
        addcdiv_(p, state["exp_avg"], denom, -lr * mu_next / (1.0 - product * mu_next))

    _kernel = "nadam"

    def _kernel_coefs(
        self, p: Tensor, state: dict[str, Any], group: dict[str, Any], dtype: np.dtype
    ) -> list[float]:
        beta1, beta2 = group["betas"]
        lr, decay = _scalar(group["lr"]), group["momentum_decay"]
        t = kernel_advance_step(state)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * decay))
        mu_product = state["mu_product"]
        np.multiply(mu_product._data, mu, out=mu_product._data)
        mu_product._version[0] += 1
        product = mu_product._data.item()
        return [
            *self._moment_coefs(group, dtype),
            bias_correction(beta2, t),
            group["eps"],
            -lr * (1.0 - mu) / (1.0 - product),
            -lr * mu_next / (1.0 - product * mu_next),
        ]


class RAdam(_Moments):
    """RAdam (Liu et al., 2019): Adam whose adaptive step is switched on, and rectified,
    once the variance of v's estimate is tractable, exactly as torch.optim.RAdam:

        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        m_hat = m / (1 - beta1**t)
        rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                    p -= m_hat * lr * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r
        otherwise:  p -= m_hat * lr

    State: step, exp_avg, exp_avg_sq.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: Betas = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        lr = _lr(group)
        state = self._state(p, group)
        t = advance_step(state)
        g = decayed_grad(p, grad, group)
        self._moments(state, g, group)
        correction2 = bias_correction(beta2, t)
        m_hat = state["exp_avg"] / bias_correction(beta1, t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / correction2

        def rectified() -> Any:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            # PyTorch's `c / tensor` is tensor.reciprocal() * c: keep its rounding
            adaptive_lr = 1 / (state["exp_avg_sq"].sqrt() + group["eps"]) * correction2**0.5
            return m_hat * lr * adaptive_lr * rect

        if isinstance(rho_t, Operand):  # a traced step: both, selected by the step count
            p.add_(where(rho_t > 5.0, rectified(), m_hat * lr), alpha=-1.0)
        elif rho_t > 5.0:
            p.add_(rectified(), alpha=-1.0)
        else:
            p.add_(m_hat * lr, alpha=-1.0)

    _kernel = "radam"

    def _kernel_coefs(
        self, p: Tensor, state: dict[str, Any], group: dict[str, Any], dtype: np.dtype
    ) -> list[float]:
        beta1, beta2 = group["betas"]
        t = kernel_advance_step(state)
        correction2 = bias_correction(beta2, t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / correction2
        rect = 0.0
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
        return [
            *self._moment_coefs(group, dtype),
            bias_correction(beta1, t),
            _scalar(group["lr"]),
            float(rho_t > 5.0),
            group["eps"],
            correction2**0.5,
            rect,
            1.0,
        ]
