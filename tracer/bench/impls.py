"""The implementations: each turns a workload and its numpy inputs into a `step()`
that computes the loss value and all its gradients, and returns them.

Libraries are imported inside the functions only (this module imports numpy and
nothing else at the top), so the first-call child can load it by path and time
each library's import on its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

Step = Callable[[], Any]  # returns (value, [gradient per wrt argument])


@dataclass(frozen=True)
class Implementation:
    """One way of computing a workload's value and gradients."""

    name: str  # key in JSON and on the command line
    label: str  # name in the tables
    prepare: Callable[[Any, list[np.ndarray]], Step]  # (workload, inputs) -> step
    requires: tuple[str, ...] = ()  # modules that must import, else skipped
    first_call: bool = False  # also timed in fresh processes
    compiles: bool = False  # fresh-process times with cold and warm cache
    unrolled: bool = False  # a loop workload's loop unrolled: only those, at small sizes

    def applies(self, workload: Any) -> bool:
        """Does this implementation have a row for this workload at all?"""
        return workload.loop or not self.unrolled

    def skip(self, workload: Any, size: int) -> str | None:
        """Why this implementation does not run this case (one line), or None."""
        if self.unrolled and size > workload.unrolled_max_size:
            return (
                f"not run at {size} steps: the unrolled trace's compile time grows with the "
                f"steps (run up to {workload.unrolled_max_size})"
            )
        return None

    def missing(self) -> str | None:
        """Why this implementation cannot run here (one line), or None."""
        for module in self.requires:
            try:
                importlib.import_module(module)
            except Exception as e:  # ImportError, or a broken install raising anything
                return f"{module} not importable ({type(e).__name__}: {e})".splitlines()[0]
        return None


def to_numpy(x: Any) -> np.ndarray:
    """A library's array (tracer or torch tensor, JAX array, numpy) as a numpy array."""
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    return np.asarray(x)


# ---- the `nn` namespaces the losses are written against ----------------------


def python_loops(stack: Callable[[list[Any]], Any]) -> dict[str, Callable[..., Any]]:
    """`fori_loop` and `scan` with jax.lax's signatures as Python loops (per-step outputs
    stacked with `stack`): PyTorch eager's loops, and the unrolled trace."""

    def fori_loop(lower: int, upper: int, body: Callable[[int, Any], Any], init: Any) -> Any:
        val = init
        for i in range(lower, upper):
            val = body(i, val)
        return val

    def scan(
        f: Callable[[Any, Any], Any], init: Any, xs: Any = None, length: int | None = None
    ) -> tuple[Any, Any]:
        n = len(xs) if xs is not None else length
        carry, ys = init, []
        for t in range(n):
            carry, y = f(carry, None if xs is None else xs[t])
            ys.append(y)
        return carry, None if all(y is None for y in ys) else stack(ys)

    return {"fori_loop": fori_loop, "scan": scan}


def tracer_nn(unrolled: bool = False) -> SimpleNamespace:
    """tracer's functions; its loop primitives (eagerly Python loops), or with
    `unrolled` Python loops that a trace unrolls."""
    import tracer
    import tracer.nn.functional as F
    from tracer.nn.modules.rnn import recurrence

    def lstm(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> Any:
        zeros = x.full_like(0, shape=(x.shape[1], w_hh.shape[1]))
        (h, _), _ = recurrence("LSTM", x, (zeros, zeros), w_ih, w_hh, b_ih, b_hh)
        return h

    loops = (
        python_loops(tracer.stack)
        if unrolled
        else {"fori_loop": tracer.fori_loop, "scan": tracer.scan}
    )
    return SimpleNamespace(
        tanh=tracer.tanh,
        sigmoid=tracer.sigmoid,
        exp=tracer.exp,
        relu=F.relu,
        linear=F.linear,
        cross_entropy=F.cross_entropy,
        **loops,
        conv2d=lambda x, w, b, padding: F.conv2d(x, w, b, padding=padding),
        max_pool2d=F.max_pool2d,
        lstm=lstm,
    )


def torch_nn() -> SimpleNamespace:
    import torch
    import torch.nn.functional as F

    def lstm(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> Any:
        # what torch.nn.LSTM runs: the fused recurrent kernel
        zeros = x.new_zeros((1, x.shape[1], w_hh.shape[1]))
        _, h, _ = torch._VF.lstm(
            x, (zeros, zeros), [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, True, False, False
        )
        return h[0]

    return SimpleNamespace(
        tanh=torch.tanh,
        sigmoid=torch.sigmoid,
        exp=torch.exp,
        relu=F.relu,
        linear=F.linear,
        cross_entropy=F.cross_entropy,
        **python_loops(torch.stack),
        conv2d=lambda x, w, b, padding: F.conv2d(x, w, b, padding=padding),
        max_pool2d=F.max_pool2d,
        lstm=lstm,
    )


def jax_nn() -> SimpleNamespace:
    import jax
    import jax.numpy as jnp

    def cross_entropy(logits: Any, y: Any) -> Any:
        logp = jax.nn.log_softmax(logits, axis=1)
        return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

    def conv2d(x: Any, w: Any, b: Any, padding: int) -> Any:
        pads = [(padding, padding)] * 2
        dims = ("NCHW", "OIHW", "NCHW")
        y = jax.lax.conv_general_dilated(x, w, (1, 1), pads, dimension_numbers=dims)
        return y + b[None, :, None, None]

    def max_pool2d(x: Any, k: int) -> Any:
        window = (1, 1, k, k)
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, window, "VALID")

    def lstm(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> Any:
        n = w_hh.shape[1]
        xw = x @ w_ih.T + b_ih  # every step's input projection at once

        def step(carry: Any, xw_t: Any) -> Any:
            h, c = carry
            gates = xw_t + h @ w_hh.T + b_hh
            i, f = jax.nn.sigmoid(gates[:, :n]), jax.nn.sigmoid(gates[:, n : 2 * n])
            g, o = jnp.tanh(gates[:, 2 * n : 3 * n]), jax.nn.sigmoid(gates[:, 3 * n :])
            c = f * c + i * g
            return (o * jnp.tanh(c), c), None

        zeros = jnp.zeros((x.shape[1], n), x.dtype)
        (h, _), _ = jax.lax.scan(step, (zeros, zeros), xw)
        return h

    return SimpleNamespace(
        tanh=jnp.tanh,
        sigmoid=jax.nn.sigmoid,
        exp=jnp.exp,
        relu=jax.nn.relu,
        linear=lambda x, w, b: x @ w.T + b,
        cross_entropy=cross_entropy,
        fori_loop=jax.lax.fori_loop,
        scan=jax.lax.scan,
        conv2d=conv2d,
        max_pool2d=max_pool2d,
        lstm=lstm,
    )


# ---- prepare functions ---------------------------------------------------------


def _bind(workload: Any, nn: SimpleNamespace) -> Callable[..., Any]:
    def loss(*args: Any) -> Any:
        return workload.loss(nn, *args)

    loss.__name__ = loss.__qualname__ = f"{workload.name}_loss"
    return loss


def prepare_tracer_compiled(workload: Any, inputs: list[np.ndarray]) -> Step:
    import tracer

    args = [tracer.from_numpy(a) for a in inputs]
    step = tracer.value_and_grad(_bind(workload, tracer_nn()), argnums=workload.wrt)
    return lambda: step(*args)


def prepare_tracer_unrolled(workload: Any, inputs: list[np.ndarray]) -> Step:
    """value_and_grad of the loss with its loop as a Python loop: the trace unrolls it
    into one straight graph (a copy of the body per step)."""
    import tracer

    args = [tracer.from_numpy(a) for a in inputs]
    step = tracer.value_and_grad(_bind(workload, tracer_nn(unrolled=True)), argnums=workload.wrt)
    return lambda: step(*args)


def _eager(workload: Any, args: list[Any], nn: SimpleNamespace) -> Step:
    """The PyTorch training-loop pattern: clear .grad, forward, backward()."""
    leaves = [args[i].requires_grad_() for i in workload.wrt]

    def step() -> Any:
        for t in leaves:
            t.grad = None
        loss = workload.loss(nn, *args)
        loss.backward()
        return loss.detach(), [t.grad for t in leaves]

    return step


def prepare_tracer_eager(workload: Any, inputs: list[np.ndarray]) -> Step:
    import tracer

    return _eager(workload, [tracer.from_numpy(a.copy()) for a in inputs], tracer_nn())


def prepare_torch(workload: Any, inputs: list[np.ndarray]) -> Step:
    import torch

    args = [
        torch.from_numpy(a.copy() if a.dtype.kind == "f" else a.astype(np.int64)) for a in inputs
    ]
    return _eager(workload, args, torch_nn())


def prepare_jax(workload: Any, inputs: list[np.ndarray]) -> Step:
    import jax

    # JAX's default integer is int32 (x64 off); float inputs stay float32
    args = [jax.device_put(a if a.dtype.kind == "f" else a.astype(np.int32)) for a in inputs]
    step = jax.jit(jax.value_and_grad(_bind(workload, jax_nn()), argnums=workload.wrt))
    return lambda: jax.block_until_ready(step(*args))


def prepare_numpy(workload: Any, inputs: list[np.ndarray]) -> Step:
    return lambda: workload.numpy_value_and_grad(*inputs)


# ---- the adam-step workload: one optimizer step, not a loss -----------------------


def _adam_tracer(inputs: list[np.ndarray], foreach: bool | None) -> Step:
    import tracer
    from tracer.bench.workloads import ADAM_EPS, ADAM_LR

    params = [tracer.from_numpy(a.copy()).requires_grad_() for a in inputs[:4]]
    for p, g in zip(params, inputs[4:]):
        p.grad = tracer.from_numpy(g.copy())
    opt = tracer.optim.Adam(params, lr=ADAM_LR, eps=ADAM_EPS, foreach=foreach)

    def step() -> Any:
        opt.step()
        return opt.state[params[0]]["step"], params

    return step


def prepare_adam_kernel(workload: Any, inputs: list[np.ndarray]) -> Step:
    return _adam_tracer(inputs, None)


def prepare_adam_reference(workload: Any, inputs: list[np.ndarray]) -> Step:
    return _adam_tracer(inputs, False)


def prepare_adam_torch(workload: Any, inputs: list[np.ndarray]) -> Step:
    import torch

    from tracer.bench.workloads import ADAM_EPS, ADAM_LR

    params = [torch.from_numpy(a.copy()).requires_grad_() for a in inputs[:4]]
    for p, g in zip(params, inputs[4:]):
        p.grad = torch.from_numpy(g.copy())
    opt = torch.optim.Adam(params, lr=ADAM_LR, eps=ADAM_EPS)

    def step() -> Any:
        opt.step()
        return opt.state[params[0]]["step"], params

    return step


#: workloads that are not losses -> {implementation name: (row label, prepare)}; the
#: implementations not listed do not run on them
WORKLOAD_IMPLEMENTATIONS: dict[str, dict[str, tuple[str, Callable[..., Step]]]] = {
    "adam-step": {
        "tracer-compiled": ("tracer kernel", prepare_adam_kernel),
        "tracer-eager": ("tracer foreach=False", prepare_adam_reference),
        "torch": ("torch.optim.Adam", prepare_adam_torch),
    }
}

IMPLEMENTATIONS: dict[str, Implementation] = {
    i.name: i
    for i in [
        Implementation(
            "tracer-compiled",
            "tracer compiled",
            prepare_tracer_compiled,
            requires=("tracer",),
            first_call=True,
            compiles=True,
        ),
        Implementation(
            "tracer-unrolled",
            "tracer compiled, unrolled",
            prepare_tracer_unrolled,
            requires=("tracer",),
            first_call=True,
            compiles=True,
            unrolled=True,
        ),
        Implementation(
            "tracer-eager",
            "tracer eager",
            prepare_tracer_eager,
            requires=("tracer",),
            first_call=True,
        ),
        Implementation("numpy", "numpy by hand", prepare_numpy),
        Implementation("torch", "torch eager", prepare_torch, requires=("torch",), first_call=True),
        Implementation("jax", "jax jit", prepare_jax, requires=("jax",), first_call=True),
    ]
}
