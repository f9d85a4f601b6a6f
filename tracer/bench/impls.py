"""The implementations: each turns a workload and its numpy inputs into a `step()`
that computes the loss value and all its gradients, and returns them (a training
step: its loss and the parameters after its update).

Libraries are imported inside the functions only (this module imports numpy and
nothing else at the top), so the first-call child can load it by path and time
each library's import on its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np

Step = Callable[[], Any]  # returns (value, [gradient per wrt argument])


class Unavailable(Exception):
    """Raised by a prepare function when the library cannot run this implementation yet
    (one line saying why): the row is skipped with that reason, not an error."""


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


THREADS_ENV = "TRACER_BENCH_THREADS"  # set by `--threads N`; fresh processes inherit it


def bench_threads() -> int:
    """The thread count the torch rows run with: `--threads N` (TRACER_BENCH_THREADS),
    else the usable cores."""
    return int(os.environ.get(THREADS_ENV) or usable_cores())


def import_torch() -> Any:
    """torch, with its intra-op thread count pinned (bench_threads()). Every torch row
    goes through here, so they all run with the same count (the report header says
    which)."""
    import torch

    torch.set_num_threads(bench_threads())
    return torch


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
    only: tuple[str, ...] = ()  # when given, the only workloads it has a row for

    def applies(self, workload: Any) -> bool:
        """Does this implementation have a row for this workload at all?"""
        if self.only and workload.name not in self.only:
            return False
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
        sin=tracer.sin,
        solve=tracer.linalg.solve,
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
        sin=torch.sin,
        solve=torch.linalg.solve,
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
        sin=jnp.sin,
        solve=jnp.linalg.solve,
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
    torch = import_torch()

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
    torch = import_torch()
    from tracer.bench.workloads import ADAM_EPS, ADAM_LR

    params = [torch.from_numpy(a.copy()).requires_grad_() for a in inputs[:4]]
    for p, g in zip(params, inputs[4:]):
        p.grad = torch.from_numpy(g.copy())
    opt = torch.optim.Adam(params, lr=ADAM_LR, eps=ADAM_EPS)

    def step() -> Any:
        opt.step()
        return opt.state[params[0]]["step"], params

    return step


# ---- the train-mlp workload: forward, backward and Adam update, one call a step --------
#
# Every implementation starts from the workload's weights (w1, b1, w2, b2) and data
# (x, y), and its step returns (this step's loss, [w1, b1, w2, b2] after the update), so
# that the check can compare several steps' losses and the parameters they lead to.


def _tracer_mlp(inputs: list[np.ndarray]) -> tuple[Any, Any]:
    """A tracer.nn model of the MLP holding copies of the workload's weights, and its
    tracer.optim.Adam (default options: the kernel-compiled update)."""
    import tracer
    from tracer.bench.workloads import ADAM_LR, MLP_SHAPE

    n_in, n_hidden, n_out = MLP_SHAPE
    nn = tracer.nn
    model = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))
    with tracer.no_grad():
        for p, a in zip(model.parameters(), inputs[:4]):
            p.copy_(tracer.from_numpy(a))
    return model, tracer.optim.Adam(model.parameters(), lr=ADAM_LR)


def prepare_train_tracer_eager(workload: Any, inputs: list[np.ndarray]) -> Step:
    """The PyTorch way, in tracer's eager mode."""
    import tracer
    import tracer.nn.functional as F

    model, opt = _tracer_mlp(inputs)
    x, y = tracer.from_numpy(inputs[4]), tracer.from_numpy(inputs[5])
    params = list(model.parameters())

    def step() -> Any:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach(), params

    return step


def prepare_train_tracer_functional(workload: Any, inputs: list[np.ndarray]) -> Step:
    """Compiled forward and backward (value_and_grad of the loss in the parameters),
    then tracer.optim.Adam's kernel-compiled update: the fastest way a user can write a
    training step with tracer today."""
    import tracer
    from tracer.bench.workloads import mlp_loss

    model, opt = _tracer_mlp(inputs)
    params = list(model.parameters())
    x, y = tracer.from_numpy(inputs[4]), tracer.from_numpy(inputs[5])
    nn = tracer_nn()

    def loss_fn(ps: list[Any], x: Any, y: Any) -> Any:
        return mlp_loss(nn, *ps, x, y)

    value_and_grad = tracer.value_and_grad(loss_fn)

    def step() -> Any:
        # the parameters require grad: under no_grad the call records no autograd node
        # for differentiating its results further (a training step never does)
        with tracer.no_grad():
            loss, grads = value_and_grad(params, x, y)
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
        return loss, params

    return step


def prepare_train_tracer_step(workload: Any, inputs: list[np.ndarray]) -> Step:
    """The eager step decorated with @tracer.trace: forward, backward and the Adam update
    in one compiled graph. While tracer cannot trace it (a TracerError on the first call,
    e.g. for backward() or the optimizer's in-place updates inside a trace), raises
    Unavailable with the error's first line. The attempt runs on a throwaway copy of
    the model, so the row's own model starts from the workload's weights."""
    import tracer
    import tracer.nn.functional as F

    x, y = tracer.from_numpy(inputs[4]), tracer.from_numpy(inputs[5])

    def make() -> Step:
        model, opt = _tracer_mlp(inputs)
        params = list(model.parameters())

        @tracer.trace
        def train_step(x: Any, y: Any) -> Any:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return lambda: (train_step(x, y), params)

    try:
        make()()
    except tracer.TracerError as e:
        lines = str(e).strip().splitlines() or [type(e).__name__]
        raise Unavailable(
            f"@tracer.trace of the training step raised {type(e).__name__}: {lines[0]}"
        ) from e
    return make()


def prepare_train_torch(workload: Any, inputs: list[np.ndarray]) -> Step:
    """torch.nn modules and torch.optim.Adam (its default: the foreach update)."""
    torch = import_torch()
    import torch.nn.functional as F

    from tracer.bench.workloads import ADAM_LR, MLP_SHAPE

    n_in, n_hidden, n_out = MLP_SHAPE
    nn = torch.nn
    model = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))
    with torch.no_grad():
        for p, a in zip(model.parameters(), inputs[:4]):
            p.copy_(torch.from_numpy(a))
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR)
    x, y = torch.from_numpy(inputs[4].copy()), torch.from_numpy(inputs[5].astype(np.int64))
    params = list(model.parameters())

    def step() -> Any:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach(), params

    return step


def has_optax() -> bool:
    """Is optax installed (found without importing it)?"""
    return importlib.util.find_spec("optax") is not None


def jax_adam_update() -> tuple[Callable[[Any], Any], Callable[..., Any]]:
    """(init(params) -> state, update(grads, state, params) -> (params, state)):
    optax.adam when optax is installed, else Adam written in JAX by hand (the formula of
    torch.optim.Adam's docs, as NumpyAdamMLP)."""
    import jax
    import jax.numpy as jnp

    from tracer.bench.workloads import ADAM_BETAS, ADAM_EPS, ADAM_LR

    if has_optax():
        import optax

        tx = optax.adam(ADAM_LR, b1=ADAM_BETAS[0], b2=ADAM_BETAS[1], eps=ADAM_EPS)

        def optax_update(grads: Any, state: Any, params: Any) -> Any:
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        return tx.init, optax_update

    beta1, beta2 = ADAM_BETAS

    def init(params: Any) -> Any:
        def zeros() -> Any:  # two calls: m and v are donated, so must not share buffers
            return jax.tree_util.tree_map(jnp.zeros_like, params)

        return jnp.zeros((), jnp.float32), zeros(), zeros()

    def update(grads: Any, state: Any, params: Any) -> Any:
        t, m, v = state
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: beta1 * m + (1 - beta1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: beta2 * v + (1 - beta2) * g * g, v, grads)
        step_size = ADAM_LR / (1 - beta1**t)
        root_correction = jnp.sqrt(1 - beta2**t)

        def new(p: Any, m: Any, v: Any) -> Any:
            return p - step_size * m / (jnp.sqrt(v) / root_correction + ADAM_EPS)

        return jax.tree_util.tree_map(new, params, m, v), (t, m, v)

    return init, update


def prepare_train_jax(workload: Any, inputs: list[np.ndarray]) -> Step:
    """One jitted function: value_and_grad of the loss, then the Adam update; the
    parameters and optimizer state are donated (updated in place where XLA can)."""
    import jax

    from tracer.bench.workloads import mlp_loss

    init, update = jax_adam_update()
    nn = jax_nn()

    def loss_fn(params: Any, x: Any, y: Any) -> Any:
        return mlp_loss(nn, *params, x, y)

    def train_step(params: Any, state: Any, x: Any, y: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        params, state = update(grads, state, params)
        return loss, params, state

    jitted = jax.jit(train_step, donate_argnums=(0, 1))
    params = [jax.device_put(a) for a in inputs[:4]]
    carry = [params, init(params)]
    x, y = jax.device_put(inputs[4]), jax.device_put(inputs[5].astype(np.int32))

    def step() -> Any:
        loss, carry[0], carry[1] = jax.block_until_ready(jitted(carry[0], carry[1], x, y))
        return loss, carry[0]

    return step


def prepare_train_numpy(workload: Any, inputs: list[np.ndarray]) -> Step:
    from tracer.bench.workloads import NumpyAdamMLP

    return NumpyAdamMLP(*inputs).step


# ---- function transforms (issue 18): tracer, JAX and torch.func side by side ---------
#
# The transformed functions are the workloads' (per-example loss, Rosenbrock, the
# Gauss-Newton step); each library applies its own vmap/grad/hessian/jacfwd, tracer and
# JAX inside one compiled function, torch.func eagerly. A per-example loss is the MLP's
# loss on a batch of one example: x and y are given as (batch, 1, ...) and vmapped over
# their first axis, the parameters shared (in_axes=(None, 0, 0)).


def _workloads(workload: Any) -> Any:
    """The module that defined `workload`: tracer.bench.workloads, or in a first-call
    child the same file loaded by path (so a JAX or PyTorch row imports no tracer)."""
    return sys.modules[type(workload).__module__]


def _per_example_loss(workload: Any, nn: SimpleNamespace) -> Callable[..., Any]:
    mlp_loss = _workloads(workload).mlp_loss

    def loss(params: Any, x: Any, y: Any) -> Any:
        return mlp_loss(nn, *params, x, y)

    return loss


def _one_example_batches(inputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x, y = inputs[4], inputs[5]
    return x.reshape(len(x), 1, -1), y.reshape(len(y), 1)


def _per_example_tracer(traced: bool) -> Callable[[Any, list[np.ndarray]], Step]:
    def prepare(workload: Any, inputs: list[np.ndarray]) -> Step:
        import tracer

        loss = _per_example_loss(workload, tracer_nn())
        per_example = tracer.vmap(tracer.grad(loss), in_axes=(None, 0, 0))

        def both(params: Any, x: Any, y: Any, xs: Any, ys: Any) -> Any:
            return loss(params, x, y), per_example(params, xs, ys)

        # untraced, not under no_grad: eagerly, vmap(grad(f)) inside tracer.no_grad()
        # returns zero gradients (torch.func's grad ignores an outer no_grad); the check
        # catches that, so the row runs as a user would without it
        fn = tracer.trace(both) if traced else both
        params = tuple(tracer.from_numpy(a) for a in inputs[:4])
        data = [tracer.from_numpy(a) for a in (*inputs[4:], *_one_example_batches(inputs))]
        return lambda: fn(params, *data)

    return prepare


def prepare_per_example_jax(workload: Any, inputs: list[np.ndarray]) -> Step:
    import jax

    loss = _per_example_loss(workload, jax_nn())
    per_example = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))
    fn = jax.jit(lambda params, x, y, xs, ys: (loss(params, x, y), per_example(params, xs, ys)))
    xs, ys = _one_example_batches(inputs)
    params = tuple(jax.device_put(a) for a in inputs[:4])
    data = [jax.device_put(a if a.dtype.kind == "f" else a.astype(np.int32))
            for a in (inputs[4], inputs[5], xs, ys)]  # fmt: skip
    return lambda: jax.block_until_ready(fn(params, *data))


def prepare_per_example_torch(workload: Any, inputs: list[np.ndarray]) -> Step:
    torch = import_torch()

    loss = _per_example_loss(workload, torch_nn())
    per_example = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
    xs, ys = _one_example_batches(inputs)
    params = tuple(torch.from_numpy(a.copy()) for a in inputs[:4])
    x, y = torch.from_numpy(inputs[4].copy()), torch.from_numpy(inputs[5].astype(np.int64))
    xs, ys = torch.from_numpy(xs.copy()), torch.from_numpy(ys.astype(np.int64))

    def step() -> Any:
        with torch.no_grad():
            value = loss(params, x, y)
        return value, per_example(params, xs, ys)

    return step


def _hessian_tracer(traced: bool) -> Callable[[Any, list[np.ndarray]], Step]:
    def prepare(workload: Any, inputs: list[np.ndarray]) -> Step:
        import tracer

        rosenbrock = _workloads(workload).rosenbrock

        f = partial(rosenbrock, tracer_nn())
        hess = tracer.hessian(f)

        def both(x: Any) -> Any:
            return f(x), [hess(x)]

        fn = tracer.trace(both) if traced else both
        x = tracer.from_numpy(inputs[0])
        return lambda: fn(x)

    return prepare


def prepare_hessian_jax(workload: Any, inputs: list[np.ndarray]) -> Step:
    import jax

    rosenbrock = _workloads(workload).rosenbrock

    f = partial(rosenbrock, jax_nn())
    fn = jax.jit(lambda x: (f(x), [jax.hessian(f)(x)]))
    x = jax.device_put(inputs[0])
    return lambda: jax.block_until_ready(fn(x))


def prepare_hessian_torch(workload: Any, inputs: list[np.ndarray]) -> Step:
    torch = import_torch()

    rosenbrock = _workloads(workload).rosenbrock

    f = partial(rosenbrock, torch_nn())
    hess = torch.func.hessian(f)
    x = torch.from_numpy(inputs[0].copy())

    def step() -> Any:
        with torch.no_grad():
            value = f(x)
        return value, [hess(x)]

    return step


def _gauss_newton_tracer(traced: bool) -> Callable[[Any, list[np.ndarray]], Step]:
    def prepare(workload: Any, inputs: list[np.ndarray]) -> Step:
        import tracer

        gn_step = _workloads(workload).gn_step

        def both(*args: Any) -> Any:
            cost, p = gn_step(tracer_nn(), tracer.jacfwd, *args)
            return cost, [p]

        fn = tracer.trace(both) if traced else both
        args = [tracer.from_numpy(a) for a in inputs]
        return lambda: fn(*args)

    return prepare


def prepare_gauss_newton_jax(workload: Any, inputs: list[np.ndarray]) -> Step:
    import jax

    gn_step = _workloads(workload).gn_step

    nn = jax_nn()

    def both(*args: Any) -> Any:
        cost, p = gn_step(nn, jax.jacfwd, *args)
        return cost, [p]

    fn = jax.jit(both)
    args = [jax.device_put(a) for a in inputs]
    return lambda: jax.block_until_ready(fn(*args))


def prepare_gauss_newton_torch(workload: Any, inputs: list[np.ndarray]) -> Step:
    torch = import_torch()

    gn_step = _workloads(workload).gn_step

    nn = torch_nn()
    args = [torch.from_numpy(a.copy()) for a in inputs]

    def step() -> Any:
        cost, p = gn_step(nn, torch.func.jacfwd, *args)
        return cost, [p]

    return step


TRANSFORM_LABELS = {
    "tracer-compiled": "tracer compiled (@trace)",
    "tracer-eager": "tracer, transforms untraced",
    "numpy": "numpy by hand",
    "torch": "torch.func (eager)",
    "jax": "jax jit",
}


def _transform_rows(
    tracer_prepare: Callable[[bool], Callable[..., Step]],
    jax_prepare: Callable[..., Step],
    torch_prepare: Callable[..., Step],
) -> dict[str, tuple[str, Callable[..., Step]]]:
    prepares = {
        "tracer-compiled": tracer_prepare(True),
        "tracer-eager": tracer_prepare(False),
        "numpy": prepare_numpy,
        "torch": torch_prepare,
        "jax": jax_prepare,
    }
    return {name: (TRANSFORM_LABELS[name], p) for name, p in prepares.items()}


#: workloads that are not losses -> {implementation name: (row label, prepare)}; the
#: implementations not listed do not run on them
WORKLOAD_IMPLEMENTATIONS: dict[str, dict[str, tuple[str, Callable[..., Step]]]] = {
    "adam-step": {
        "tracer-compiled": ("tracer kernel", prepare_adam_kernel),
        "tracer-eager": ("tracer foreach=False", prepare_adam_reference),
        "torch": ("torch.optim.Adam", prepare_adam_torch),
    },
    "train-mlp": {
        "tracer-compiled": (
            "tracer value_and_grad + Adam kernel",
            prepare_train_tracer_functional,
        ),
        "tracer-step": ("tracer compiled step (@trace)", prepare_train_tracer_step),
        "tracer-eager": ("tracer eager", prepare_train_tracer_eager),
        "numpy": ("numpy by hand", prepare_train_numpy),
        "torch": ("torch eager", prepare_train_torch),
        "jax": (
            "jax jit, optax.adam" if has_optax() else "jax jit, Adam by hand",
            prepare_train_jax,
        ),
    },
    "per-example-grads": _transform_rows(
        _per_example_tracer, prepare_per_example_jax, prepare_per_example_torch
    ),
    "hessian-rosenbrock": _transform_rows(
        _hessian_tracer, prepare_hessian_jax, prepare_hessian_torch
    ),
    "gauss-newton": _transform_rows(
        _gauss_newton_tracer, prepare_gauss_newton_jax, prepare_gauss_newton_torch
    ),
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
            "tracer-step",
            "tracer compiled step (@trace)",
            prepare_train_tracer_step,
            requires=("tracer",),
            only=("train-mlp",),
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
