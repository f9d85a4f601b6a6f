"""The Optimizer base class: param groups, per-parameter state, step/zero_grad and
state_dict/load_state_dict, with torch.optim's structure.

A subclass declares its defaults, checks a group's hyperparameters in `_check`,
creates a parameter's state in `_init_state` and updates one parameter in
`_update`, so each optimizer's module holds its formula and nothing else.
Parameters are updated in place under no_grad: they keep their identity (views
see the new values) and their version counters advance.

The helpers at the end (`lerp_`, `addcmul_`, `addcdiv_`) evaluate in PyTorch's
order of operations, so float32 results round as torch.optim's do.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from compiler import dtypes, operand
from compiler.backend import jit_enabled
from runtime.optim import flat, kernels
from tracer.creation import tensor, zeros_like
from tracer.grad_mode import enable_grad, no_grad
from tracer.tensor import Tensor

__all__ = ["Optimizer", "Params", "StateDict"]

Params = Iterable[Tensor] | Iterable[tuple[str, Tensor]] | Iterable[dict[str, Any]]
StateDict = dict[str, Any]

# Hyperparameters PyTorch keeps in every group to pick one of its implementations. Here
# foreach=None (the default), foreach=True and fused=True run a group's update as one
# numba kernel (runtime.optim); foreach=False runs the reference: eager ops per parameter.
_CUDA_GRAPHS = "capturable=True is for CUDA graph capture; tracegrad runs on the CPU"
_NOT_DIFFERENTIABLE = (
    "differentiable=True (autograd through the optimizer step) is not supported: "
    "tracegrad runs every step under no_grad"
)


def _mark_step_called(step: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap `step` to record that it ran: LR schedulers warn when they step first."""

    @functools.wraps(step)
    def wrapper(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        self._opt_called = True
        return step(self, *args, **kwargs)

    return wrapper


class Optimizer:
    """Param groups and per-parameter state, shared by every optimizer.

    `param_groups` is a list of dicts, each with "params" (a list of tensors) and
    the group's hyperparameters; `state` maps a parameter to its dict of state.
    """

    defaults: dict[str, Any]
    # state entries that stay float32 0-d tensors whatever the parameter's dtype (as
    # PyTorch creates them); every other floating state tensor has the parameter's dtype
    _scalar_state: tuple[str, ...] = ("step",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _mark_step_called(cls.__dict__["step"])  # type: ignore[method-assign]

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                f"{name}: params should be an iterable of tensors or of param-group dicts, "
                f"got a single {type(params).__name__}; wrap it in a list"
            )
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{name} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- groups -----------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group: a dict with "params" (tensors, or (name, tensor) pairs as
        `named_parameters()` gives) and hyperparameters overriding the defaults.

        Raises TypeError/ValueError naming the group and parameter at fault; on error
        the optimizer is unchanged.
        """
        name = type(self).__name__
        where = f"{name}: param group {len(self.param_groups)}"
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{where} is a {type(param_group).__name__}; pass either tensors or "
                "dicts with a 'params' key, not a mix"
            )
        if "params" not in param_group:
            raise KeyError(f"{where} has no 'params' key")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{where}: params is a set, whose order changes between runs (and the "
                "order decides which state belongs to which parameter); use a list"
            )
        params = [params] if isinstance(params, Tensor) else list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        tensors = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(tensors):
            raise ValueError(f"{where}: either every parameter has a name or none has")
        for i, p in enumerate(tensors):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{where}, param {i}: expected a tracer.Tensor, got {type(p).__name__}"
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError(
                    f"{where}, param {i} (shape {tuple(p.shape)}): can't optimize a "
                    f"non-leaf tensor (it was produced by {p.grad_fn.name()}); optimize "
                    "the leaf it came from, or .detach() it and call .requires_grad_()"
                )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in tensors}) != len(tensors) or any(id(p) in seen for p in tensors):
            raise ValueError(
                f"{where}: a parameter appears more than once (in this group or in an "
                "earlier one); it would be updated twice per step"
            )
        if self.param_groups and bool(names) != ("param_names" in self.param_groups[0]):
            raise ValueError(
                f"{where}: either every param group has parameter names or none has "
                "(pass named_parameters() to all groups, or parameters() to all)"
            )
        full = {**param_group, "params": tensors}
        for key, value in self.defaults.items():
            full.setdefault(key, value)
        if names:
            full["param_names"] = names
        self._check_flags(full, where)
        self._check(full, where)
        param_group.update(full)  # PyTorch keeps the caller's dict as the group
        self.param_groups.append(param_group)

    def _check_flags(self, group: dict[str, Any], where: str) -> None:
        if group.get("capturable"):
            raise ValueError(f"{where}: {_CUDA_GRAPHS}; leave capturable=False")
        if group.get("differentiable"):
            raise ValueError(f"{where}: {_NOT_DIFFERENTIABLE}")
        if group.get("fused") and group.get("foreach"):
            raise RuntimeError(f"{where}: fused=True and foreach=True cannot be used together")

    def _check(self, group: dict[str, Any], where: str) -> None:
        """Raise ValueError/TypeError for a hyperparameter outside its domain (a subclass
        of Optimizer written for PyTorch gets the lr check only, if it has an lr)."""
        if "lr" in group:
            _check_number(group, where, "lr", ">= 0", _at_least_zero)

    # ---- the step -------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's `.grad`: to None (the default), or to zeros in place."""
        traced = _trace_builder() is not None
        for group in self.param_groups:
            for p in group["params"]:
                if traced and set_to_none:  # (without reading .grad: see GradSlot)
                    p.grad = None
                    continue
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if _trace_builder() is None:  # (a traced .grad has no history)
                        p.grad.detach_()
                    with no_grad():
                        p.grad.zero_()

    @_mark_step_called
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a `.grad`; return `closure()`'s loss if given.

        `closure` re-evaluates the model and returns the loss; it runs with grad enabled,
        before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        builder = _trace_builder()
        if builder is not None and id(self) not in builder.extra_guards:
            saved = {p: dict(s) for p, s in self.state.items()}
            builder.undo.append(lambda: _restore_state(self.state, saved))
        with no_grad():
            for group in self.param_groups:
                if builder is None and self._kernel is not None and _wants_kernel(group):
                    self._step_kernel(group)
                    continue
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, p.grad, group)
        if builder is not None:  # a traced step: the graph holds while this state does
            for group in self.param_groups:
                for p in group["params"]:
                    for v in self.state.get(p, {}).values():
                        builder.guarded_ids.add(id(v))
            builder.extra_guards[id(self)] = OptimizerGuard(self)
        return loss

    def _state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """`p`'s state, created by `_init_state` on first use (real tensors that the
        optimizer keeps, also when the step is being traced)."""
        state = self.state[p]
        if not state:
            state.update(outside_trace(lambda: self._init_state(p, group)))
        return state

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    # ---- the kernel path: a whole group in one call -----------------------------------
    # A subclass with a kernel in runtime.optim names it in `_kernel` and gives the state
    # buffers it passes (`_kernel_buffers`: keys, None for an option that is off), its
    # option flags after maximize and decay (`_kernel_flags`) and each parameter's scalars
    # after the two decay columns (`_kernel_coefs`, which also advances the step count).
    _kernel: str | None = None

    def _kernel_buffers(self, group: dict[str, Any]) -> tuple[str | None, ...]:
        return ()

    def _kernel_flags(self, group: dict[str, Any]) -> tuple[bool, ...]:
        return ()

    def _kernel_coefs(
        self, p: Tensor, state: dict[str, Any], group: dict[str, Any], dtype: np.dtype
    ) -> list[float]:
        raise NotImplementedError(f"{type(self).__name__} does not define _kernel_coefs")

    def _step_kernel(self, group: dict[str, Any]) -> None:
        """Update the group's parameters that have a gradient: those of float32/float64
        with contiguous arrays in one kernel call per dtype, any other through `_update`
        (the result is the same; the kernel repeats `_update`'s arithmetic)."""
        keys = self._kernel_buffers(group)
        buckets: dict[np.dtype, list[Tensor]] = {}
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            state = self._state(p, group)
            if not state:  # SGD without momentum keeps no state (as the reference)
                del self.state[p]
            if _fits_kernel(p, grad, state, keys):
                buckets.setdefault(p.dtype, []).append(p)
            else:
                self._update(p, grad, group)
        if not buckets:
            return
        weight_decay = _scalar(group["weight_decay"])
        lr = _scalar(group["lr"])
        decay = 0 if weight_decay == 0 else 2 if group.get("decoupled_weight_decay") else 1
        flags = (bool(group["maximize"]), decay, *self._kernel_flags(group))
        kernel = getattr(kernels(), self._kernel)
        for dtype, params in buckets.items():
            states = [self.state.get(p, {}) for p in params]
            rows = [
                [weight_decay, 1 - lr * weight_decay, *self._kernel_coefs(p, s, group, dtype)]
                for p, s in zip(params, states)
            ]
            for p, state in zip(params, states):
                for key in keys:
                    if key is not None and state.get(key) is None:
                        self.state[p][key] = zeros_like(p)
            states = [self.state.get(p, {}) for p in params]
            ps = [flat(p._data) for p in params]
            gs = [flat(np.ascontiguousarray(p.grad._data)) for p in params]
            buffers = [ps if k is None else [flat(s[k]._data) for s in states] for k in keys]
            coefs = np.array(rows, dtype=dtype)
            # calls on CHUNK parameters at a time (the last padded with empty arrays): the
            # kernel compiles once per dtype, not once per number of parameters
            empty = np.empty(0, dtype)
            for lo in range(0, len(ps), CHUNK):
                pad = [empty] * (CHUNK - len(ps[lo : lo + CHUNK]))
                kernel(
                    tuple(ps[lo : lo + CHUNK] + pad),
                    tuple(gs[lo : lo + CHUNK] + pad),
                    *(tuple(b[lo : lo + CHUNK] + pad) for b in buffers),
                    _padded(coefs[lo : lo + CHUNK], CHUNK),
                    *flags,
                )
            for p, state in zip(params, states):
                p._version[0] += 1
                for key in keys:
                    if key is not None:
                        state[key]._version[0] += 1

    # ---- saving and loading ---------------------------------------------------------
    def state_dict(self) -> StateDict:
        """{"state": {index: state}, "param_groups": [group with "params" as indices]}.

        Parameters are numbered in the order of the groups, as PyTorch numbers them. As in
        PyTorch the state tensors are the optimizer's own (not copies): take a
        copy.deepcopy() to keep a snapshot while training goes on.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(p)] if isinstance(p, Tensor) else p): s for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Load what `state_dict()` returned (from this optimizer class, with groups of the
        same sizes): hyperparameters and state are taken from it, parameters stay.

        State tensors are copied (two optimizers loaded from one dict never share
        buffers) and floating ones cast to their parameter's dtype. Raises ValueError
        when the groups do not match; on error the optimizer is unchanged.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' "
                "(what optimizer.state_dict() returns)"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                f"group(s), this optimizer has {len(self.param_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has "
                    f"{len(saved['params'])} parameter(s) in the state dict and "
                    f"{len(group['params'])} in this optimizer"
                )
        params = {
            saved_id: p
            for group, saved in zip(self.param_groups, saved_groups)
            for saved_id, p in zip(saved["params"], group["params"])
        }
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in params:
                p = params[key]
                state[p] = {k: self._loaded(p, k, v) for k, v in value.items()}
            else:
                state[key] = _copy(value, None)
        groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            new = {k: _copy(v, None) for k, v in saved.items()}
            new["params"] = group["params"]
            if "param_names" in group and "param_names" not in new:
                new["param_names"] = group["param_names"]
            self._check_flags(new, f"{name}.load_state_dict: param group {i}")
            self._check(new, f"{name}.load_state_dict: param group {i}")
            groups.append(new)
        self.state, self.param_groups = state, groups

    def _loaded(self, p: Tensor, key: str, value: Any) -> Any:
        if key in self._scalar_state:
            if not isinstance(value, Tensor):  # a plain number from an older format
                return tensor(float(value))
            return _copy(value, None)
        return _copy(value, p.dtype if dtypes.is_float(p.dtype) else None)

    def __repr__(self) -> str:
        text = f"{type(self).__name__} ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            text += "".join(f"    {k}: {group[k]}\n" for k in sorted(group) if k != "params")
        return text + ")"


def _copy(value: Any, dtype: np.dtype | None) -> Any:
    """A deep copy of a state value; floating tensors cast to `dtype` when it is given."""
    if isinstance(value, Tensor):
        data = value.detach()
        if dtype is not None and dtypes.is_float(value.dtype):
            data = data.to(dtype)
        return data.clone()
    if isinstance(value, dict):
        return {k: _copy(v, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v, dtype) for v in value)
    return value


# ---- hyperparameter checks ------------------------------------------------------------


def _check_number(
    group: dict[str, Any], where: str, key: str, domain: str, ok: Callable[[Any], bool]
) -> None:
    """Refuse group[key] unless it is a real number (or one-element tensor) with ok(v)."""
    value = group[key]
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{where}: {key} as a tensor must have one element")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{where}: {key} must be a number, got {value!r}")
    if not ok(value):
        raise ValueError(f"{where}: invalid {key}={value!r}; it must be {domain}")


def _check_betas(group: dict[str, Any], where: str) -> None:
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        if isinstance(beta, Tensor):
            raise TypeError(
                f"{where}: betas[{i}] is a tensor; give betas as Python numbers (PyTorch's "
                "tensor betas serve CUDA graph capture, which tracegrad does not have)"
            )
        _check_number({f"betas[{i}]": beta}, where, f"betas[{i}]", "in [0, 1)", _unit_interval)


def _unit_interval(v: float) -> bool:
    return 0 <= v < 1


def _at_least_zero(v: float) -> bool:
    return v >= 0


#: parameters per kernel call: a fixed tuple length, so each kernel compiles once per dtype
CHUNK = 8


def _padded(rows: np.ndarray, n: int) -> np.ndarray:
    """`rows` with zero rows appended up to `n` rows."""
    if len(rows) == n:
        return rows
    out = np.zeros((n, rows.shape[1]), rows.dtype)
    out[: len(rows)] = rows
    return out


def _wants_kernel(group: dict[str, Any]) -> bool:
    """Whether the group runs as one kernel: unless foreach=False (and fused is not set),
    or TRACER_DISABLE_JIT is set."""
    return (bool(group.get("fused")) or group.get("foreach") is not False) and jit_enabled()


def _fits_kernel(p: Tensor, grad: Tensor, state: dict[str, Any], keys: Any) -> bool:
    """Whether the kernels can update `p` in place: float32/float64, contiguous, a gradient
    and state buffers of its dtype and shape (a missing buffer is created to fit)."""
    data = p._data
    if data.dtype not in _KERNEL_DTYPES or not data.flags.c_contiguous:
        return False
    if grad.dtype != data.dtype or grad.shape != data.shape:
        return False
    for key in keys:
        buf = state.get(key) if key is not None else None
        if buf is None:
            continue
        b = buf._data
        if b.dtype != data.dtype or b.shape != data.shape or not b.flags.c_contiguous:
            return False
    return True


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def lerp_coefs(weight: float, dtype: np.dtype) -> list[float]:
    """The scalars of `lerp_(a, b, weight)` for a kernel: weight and 1 - weight in
    `dtype`'s rounding, and whether |weight| < 0.5 (1.0 or 0.0)."""
    w = dtype.type(weight)
    return [float(w), float(1 - w), 1.0 if abs(w) < 0.5 else 0.0]


def kernel_advance_step(state: dict[str, Any]) -> float:
    """`advance_step` on the numpy array behind state["step"] (no dispatch)."""
    step = state["step"]
    np.add(step._data, 1, out=step._data)
    step._version[0] += 1
    return step._data.item()


def _scalar(value: Any) -> float:
    """A hyperparameter as a Python number (PyTorch also takes one-element tensors)."""
    return value.item() if isinstance(value, Tensor) else value


def _lr(group: dict[str, Any]) -> Any:
    """The group's learning rate: a number, or in a traced step a float64 input of the
    graph read at every call (so a scheduler's changes apply without tracing again)."""
    builder = _trace_builder()
    if builder is None:
        return _scalar(group["lr"])
    return builder.live_input(
        (id(group), "lr"),
        lambda: Tensor(np.asarray(_scalar(group["lr"]), np.float64)),
        "a param group's lr",
    )


def _trace_builder() -> Any:
    """The trace recording this step, if a traced function is calling it."""
    builder = operand.tracing.builder
    if builder is None or not builder.root().accepts_writes:
        return None
    return builder.root()


def _restore_state(state: dict[Tensor, dict[str, Any]], saved: dict[Any, dict[str, Any]]) -> None:
    """Put the optimizer's state back as `saved` (when tracing its step failed)."""
    for p in list(state):
        if p not in saved:
            del state[p]
        else:
            state[p].clear()
            state[p].update(saved[p])


def outside_trace(make: Callable[[], Any]) -> Any:
    """`make()` with tracing suspended: state tensors created by a traced step are real
    tensors the optimizer keeps, not values of the trace."""
    builder = operand.tracing.builder
    if builder is None:
        return make()
    operand.tracing.builder = None
    try:
        return make()
    finally:
        operand.tracing.builder = builder


def _fingerprint(opt: Optimizer) -> tuple[Any, ...]:
    """What a traced step's graph depends on besides tensor values: each group's
    parameters and hyperparameters (the learning rate is an input instead), and the
    identity of every state tensor (load_state_dict replaces them)."""
    groups = tuple(
        (
            tuple(map(id, g["params"])),
            tuple(
                (k, id(v) if isinstance(v, Tensor) else v)
                for k, v in g.items()
                if k not in ("params", "lr")
            ),
        )
        for g in opt.param_groups
    )
    state = tuple(
        (id(p), tuple((k, id(v) if isinstance(v, Tensor) else v) for k, v in s.items()))
        for p, s in opt.state.items()
        if s  # (reading opt.state[p] makes an empty entry)
    )
    return groups, state


class OptimizerGuard:
    """An optimizer whose step() a traced function ran: its graph holds while the
    optimizer's groups, hyperparameters (but the learning rate) and state tensors are
    those it was traced with."""

    __slots__ = ("opt", "fingerprint")

    def __init__(self, opt: Optimizer) -> None:
        self.opt, self.fingerprint = opt, _fingerprint(opt)

    def holds(self) -> bool:
        return _fingerprint(self.opt) == self.fingerprint

    def change(self) -> str | None:
        if self.holds():
            return None
        return (
            f"the {type(self.opt).__name__} optimizer's parameters, hyperparameters or "
            "state changed (add_param_group, load_state_dict, or a group setting other "
            "than lr)"
        )


# ---- the arithmetic of PyTorch's update kernels -----------------------------------------


def advance_step(state: dict[str, Any]) -> Any:
    """Add one to state["step"] (a float32 0-d tensor, as in PyTorch) and return it: a
    Python number, or in a traced step a float64 traced value (computed each call)."""
    state["step"].add_(1)
    if _trace_builder() is not None:
        return state["step"].double()
    return state["step"].item()


def new_step() -> Tensor:
    """A fresh step counter: a 0-d tensor of the default float dtype holding 0."""
    return tensor(0.0)


def zeros_buffer(state: dict[str, Any], key: str, p: Tensor) -> Tensor:
    """state[key], created as zeros like `p` if missing (an option switched on mid-run)."""
    if key not in state:
        state[key] = outside_trace(lambda: zeros_like(p))
    return state[key]


def lerp_(a: Tensor, b: Tensor, weight: float) -> Tensor:
    """a <- a + weight * (b - a) in place, written as PyTorch's lerp kernel writes it:
    from the other end, b - (b - a) * (1 - weight), when |weight| >= 0.5."""
    w = a.dtype.type(weight)  # the kernel computes 1 - weight in the tensor's dtype
    if abs(w) < 0.5:
        return a.add_((b - a) * w)
    return a.copy_(b - (b - a) * (1 - w))


def addcmul_(t: Tensor, a: Tensor, b: Tensor, value: float = 1.0) -> Tensor:
    """t <- t + value * a * b in place (PyTorch's addcmul_, same order of products)."""
    return t.add_(a * value * b)


def addcdiv_(t: Tensor, a: Tensor, b: Tensor, value: float = 1.0) -> Tensor:
    """t <- t + value * a / b in place (PyTorch's addcdiv_, same order of operations)."""
    return t.add_(a * value / b)


def decayed_grad(p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
    """The gradient an update formula sees: negated when maximizing, plus the L2 term
    weight_decay * p unless the decay is decoupled (then the parameter shrinks directly
    by a factor 1 - lr * weight_decay)."""
    g = -grad if group["maximize"] else grad
    weight_decay = group["weight_decay"]
    if weight_decay != 0:
        if group.get("decoupled_weight_decay"):
            p.mul_(1 - _lr(group) * weight_decay)
        else:
            g = g.add(p, alpha=weight_decay)
    return g


def bias_correction(beta: float, step: float) -> float:
    """1 - beta**step: the weight an exponential average started at zero has after `step`
    updates."""
    return 1 - beta**step
