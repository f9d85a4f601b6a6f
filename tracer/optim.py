"""Optimizers with PyTorch's `torch.optim` API and update formulas: SGD and Adam.

    opt = tracer.optim.Adam(params, lr=1e-3)
    loss.backward(); opt.step(); opt.zero_grad()

Parameters are updated in place under no_grad, so they keep their identity (and
any views of them see the new values) and their version counters advance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from tracer.creation import zeros_like
from tracer.grad_mode import enable_grad, no_grad
from tracer.tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam"]

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Param groups, per-parameter state and the step/zero_grad loop shared by optimizers.

    A subclass sets `defaults`, checks a group's hyperparameters in `_check` and
    updates one parameter in `_update(param, grad, state, group)`.
    """

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                f"{name}: params should be an iterable of tensors or of "
                f"param-group dicts, got a single {type(params).__name__}; "
                "wrap it in a list"
            )
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{name} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group: a dict with "params" and any hyperparameters overriding the defaults."""
        name = type(self).__name__
        where = f"{name}: param group {len(self.param_groups)}"
        if not isinstance(group, dict):
            raise TypeError(
                f"{where} is a {type(group).__name__}; pass either tensors or "
                "dicts with a 'params' key, not a mix"
            )
        if "params" not in group:
            raise ValueError(f"{where} has no 'params' key")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{where}, param {i}: expected a tracer.Tensor, got {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{where}, param {i} (shape {tuple(p.shape)}): can't optimize "
                    f"a non-leaf tensor (it was produced by {p.grad_fn.name()}); "
                    "optimize the leaf it came from, or .detach() it and call "
                    ".requires_grad_()"
                )
            if not p.requires_grad:
                raise ValueError(
                    f"{where}, param {i} (shape {tuple(p.shape)}) does not require "
                    "grad, so it would never get a gradient; create it with "
                    "requires_grad=True or call .requires_grad_()"
                )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(
                f"{where}: a parameter appears more than once (in this group or in an earlier one)"
            )
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(
                f"{where}: unknown hyperparameter(s) {sorted(unknown)}; {name} "
                f"takes {sorted(self.defaults)}"
            )
        full = {**self.defaults, **group, "params": params}
        self._check(full, where)
        self.param_groups.append(full)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's `.grad`: to None (the default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a `.grad`; return `closure()`'s loss if given.

        `closure` re-evaluates the model and returns the loss (it runs with grad enabled).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, p.grad, self.state.setdefault(p, {}), group)
        return loss

    def _check(self, group: dict[str, Any], where: str) -> None:
        _at_least_zero(group, where, "lr", "weight_decay")

    def _update(
        self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _at_least_zero(group: dict[str, Any], where: str, *keys: str) -> None:
    for key in keys:
        if not group[key] >= 0:
            raise ValueError(f"{where}: invalid {key}={group[key]!r}; it must be >= 0")


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and L2
    weight decay, exactly as torch.optim.SGD:

        g = -grad if maximize else grad;  g += weight_decay * p
        b = g on the first step, else momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b     (when momentum != 0)
        p -= lr * g
    """

    def __init__(
        self,
        params: Params,
        lr: float,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "dampening": dampening,
                "weight_decay": weight_decay,
                "nesterov": nesterov,
                "maximize": maximize,
            },
        )

    def _check(self, group: dict[str, Any], where: str) -> None:
        _at_least_zero(group, where, "lr", "momentum", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{where}: nesterov=True needs momentum > 0 and dampening == 0 "
                f"(got momentum={group['momentum']}, "
                f"dampening={group['dampening']})"
            )

    def _update(
        self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.clone()
            else:
                buf.mul_(momentum).add_(g, alpha=1 - group["dampening"])
            g = g.add(buf, alpha=momentum) if group["nesterov"] else buf
        p.add_(g, alpha=-group["lr"])


class Adam(Optimizer):
    """Adam with bias correction and optional AMSGrad and L2 weight decay, exactly as
    torch.optim.Adam (step counts t from 1):

        g = -grad if maximize else grad;  g += weight_decay * p
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)   (amsgrad: as PyTorch does, the raw v, before correction)
        p -= lr / (1 - beta1**t) * m / (sqrt(v or v_max) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "betas": betas,
                "eps": eps,
                "weight_decay": weight_decay,
                "amsgrad": amsgrad,
                "maximize": maximize,
            },
        )

    def _check(self, group: dict[str, Any], where: str) -> None:
        _at_least_zero(group, where, "lr", "eps", "weight_decay")
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"{where}: invalid betas[{i}]={beta!r}; it must be in [0, 1)")

    def _update(
        self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        beta1, beta2 = group["betas"]
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).add_(g * g, alpha=1 - beta2)
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:  # amsgrad switched on after some steps
                state["max_exp_avg_sq"] = zeros_like(p)
            v_max = state["max_exp_avg_sq"]
            v = v_max.copy_(v_max.maximum(v))
        denom = v.sqrt() / math.sqrt(1 - beta2**t) + group["eps"]
        p.add_(m / denom, alpha=-group["lr"] / (1 - beta1**t))
