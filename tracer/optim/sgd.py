"""Stochastic gradient descent, with momentum and Nesterov momentum, as torch.optim.SGD."""

from __future__ import annotations

from typing import Any

import numpy as np

from tracer.creation import zeros_like
from tracer.optim.optimizer import (
    Optimizer,
    Params,
    _at_least_zero,
    _check_number,
    _lr,
    _scalar,
    _trace_builder,
    decayed_grad,
    outside_trace,
)
from tracer.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay,
    exactly as torch.optim.SGD:

        g = -grad if maximize else grad;  g += weight_decay * p
        b = g on the first step, else momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b     (when momentum != 0)
        p -= lr * g

    State: "momentum_buffer" (b), only when momentum != 0.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any], where: str) -> None:
        for key in ("lr", "momentum", "weight_decay"):
            _check_number(group, where, key, ">= 0", _at_least_zero)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{where}: nesterov=True needs momentum > 0 and dampening == 0 "
                f"(got momentum={group['momentum']}, dampening={group['dampening']})"
            )

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        g = decayed_grad(p, grad, group)
        momentum = group["momentum"]
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                builder = _trace_builder()
                if builder is None:
                    buf = state["momentum_buffer"] = g.detach().clone()
                else:  # a real buffer, set by this call; the next call's graph differs
                    buf = state["momentum_buffer"] = outside_trace(lambda: zeros_like(p))
                    buf.copy_(g.detach())
                    builder.one_shot = True
            else:
                buf.mul_(momentum).add_(g, alpha=1 - group["dampening"])
            g = g.add(buf, alpha=momentum) if group["nesterov"] else buf
        p.add_(g, alpha=-_lr(group))

    _kernel = "sgd"

    def _kernel_buffers(self, group: dict[str, Any]) -> tuple[str | None, ...]:
        return ("momentum_buffer" if group["momentum"] != 0 else None,)

    def _kernel_flags(self, group: dict[str, Any]) -> tuple[bool, ...]:
        return (group["momentum"] != 0, bool(group["nesterov"]))

    def _kernel_coefs(
        self, p: Tensor, state: dict[str, Any], group: dict[str, Any], dtype: np.dtype
    ) -> list[float]:
        fresh = group["momentum"] != 0 and state.get("momentum_buffer") is None
        momentum = group["momentum"]
        return [-_scalar(group["lr"]), momentum, 1 - group["dampening"], float(fresh)]
