"""`tracer.autograd.functional`: Jacobians, Hessians and their products with vectors
for a Python function of tensors, with torch.autograd.functional's signatures.

All are built on reverse mode (`tracer.autograd.grad`): `jvp` and `hvp` use the
double-vjp trick (the vjp is linear in its cotangent u, so differentiating
u -> vjp(u) . v with respect to u gives J v). `vectorize` is accepted and ignored
(Jacobians are built one output element at a time); the only strategy is
'reverse-mode'.

Results are detached unless create_graph=True. With strict=True, an output that does
not depend on an input raises instead of giving zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from compiler.errors import AutogradError
from tracer.autograd import grad
from tracer.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _tensors(value: Any, what: str, fn: str) -> tuple[bool, tuple[Any, ...]]:
    """(was it a tuple, the tensors as a tuple); TypeError when not tensors."""
    from tracer.tensor import Tensor

    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            where = f"the value at index {i} has type" if is_tuple else f"the given {what} has type"
            raise TypeError(
                f"The {what} given to {fn} must be either a Tensor or a tuple of Tensors but "
                f"{where} {type(t)}."
            )
    return is_tuple, items


def _prepare(tensors: tuple[Any, ...], create_graph: bool, need_graph: bool) -> tuple[Any, ...]:
    """Fresh leaves to differentiate with respect to; with create_graph, tensors that
    require grad stay connected to their graph (through a view)."""
    out = []
    for t in tensors:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _finish(tensors: Any, create_graph: bool) -> Any:
    if isinstance(tensors, tuple):
        return tuple(_finish(t, create_graph) for t in tensors)
    return tensors if create_graph else tensors.detach()


def _unpack(res: tuple[Any, ...], is_tuple: bool) -> Any:
    return res if is_tuple else res[0]


def _check_v(v: tuple[Any, ...], like: tuple[Any, ...], like_is_tuple: bool) -> None:
    if len(v) != len(like):
        if like_is_tuple:
            raise ValueError(
                f"v is a tuple of invalid length: should be {len(like)} but got {len(v)}."
            )
        raise ValueError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, like)):
        if tuple(a.shape) != tuple(b.shape):
            entry = f"Entry {i} in " if like_is_tuple else ""
            raise ValueError(
                f"{entry}v has invalid size: should be {tuple(b.shape)} but got {tuple(a.shape)}."
            )


def _outputs_require_grad(outputs: tuple[Any, ...], strict: bool) -> None:
    if not strict:
        return
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise AutogradError(
                f"Output {i} of the user-provided function does not require gradients. The "
                "outputs must be computed in a differentiable manner from the input when "
                "running in strict mode."
            )


def _grad(
    outputs: tuple[Any, ...],
    inputs: tuple[Any, ...],
    grad_outputs: tuple[Any, ...] | None,
    create_graph: bool,
    retain_graph: bool | None = None,
) -> tuple[Any, ...]:
    """autograd.grad over the outputs that require grad (None for unused inputs)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad(
        [o for o, _ in pairs],
        list(inputs),
        [g for _, g in pairs],
        retain_graph=retain_graph,
        create_graph=create_graph,
        allow_unused=True,
    )


def _zeros_for_none(
    grads: tuple[Any, ...], like: tuple[Any, ...], strict: bool, what: str
) -> tuple[Any, ...]:
    from tracer.tensor import Tensor

    out = []
    for i, (g, ref) in enumerate(zip(grads, like)):
        if g is None:
            if strict:
                raise AutogradError(
                    f"{what} is independent of input {i}. This is not allowed in strict mode."
                )
            g = Tensor(np.zeros(ref.shape, ref.dtype))
        out.append(g)
    return tuple(out)


def _single_element(outputs: tuple[Any, ...], is_tuple: bool, fn: str) -> None:
    if is_tuple:
        raise ValueError(f"The function given to {fn} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise ValueError(
            f"The Tensor returned by the function given to {fn} should contain a single "
            f"element (got shape {tuple(outputs[0].shape)})"
        )


def _v_or_none(v: Any, like: tuple[Any, ...], like_is_tuple: bool, create_graph: bool, fn: str):
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise ValueError(
                f"{fn}: the vector v can only be None when there is a single tensor with a "
                "single element"
            )
        return None
    _, vs = _tensors(v, "v", fn)
    vs = _prepare(vs, create_graph, need_graph=False)
    _check_v(vs, like, like_is_tuple)
    return vs


def vjp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(*inputs), v^T J): the vector-Jacobian product, shaped like `inputs`. `v` is
    shaped like the outputs (None only for a one-element output)."""
    with enable_grad():
        inputs_tuple, xs = _tensors(inputs, "inputs", "vjp")
        xs = _prepare(xs, create_graph, need_graph=True)
        outs_tuple, outs = _tensors(func(*xs), "outputs of the user-provided function", "vjp")
        _outputs_require_grad(outs, strict)
        vs = _v_or_none(v, outs, outs_tuple, create_graph, "vjp")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _grad(outs, xs, vs, create_graph)
        res = _zeros_for_none(res, xs, strict, "The output of the user-provided function")
    return (
        _unpack(_finish(outs, create_graph), outs_tuple),
        _unpack(_finish(res, create_graph), inputs_tuple),
    )


def jvp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(*inputs), J v): the Jacobian-vector product, shaped like the outputs. `v`
    is shaped like `inputs` (None only for a one-element input)."""
    from tracer.tensor import Tensor

    with enable_grad():
        inputs_tuple, xs = _tensors(inputs, "inputs", "jvp")
        xs = _prepare(xs, create_graph, need_graph=True)
        vs = _v_or_none(v, xs, inputs_tuple, create_graph, "jvp")
        outs_tuple, outs = _tensors(func(*xs), "outputs of the user-provided function", "jvp")
        _outputs_require_grad(outs, strict)
        # u -> u^T J is linear in u; its gradient with respect to u along v is J v
        us = tuple(Tensor(np.zeros(o.shape, o.dtype), requires_grad=True) for o in outs)
        vjps = _grad(outs, xs, us, create_graph=True)
        if strict:
            for i, g in enumerate(vjps):
                if g is None or not g.requires_grad:
                    raise AutogradError(
                        f"The gradient with respect to input {i} is independent of the inputs "
                        "of the user-provided function. This is not allowed in strict mode."
                    )
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _grad(vjps, us, vs, create_graph)
        res = _zeros_for_none(res, outs, strict, "The Jacobian-vector product's output")
    return (
        _unpack(_finish(outs, create_graph), outs_tuple),
        _unpack(_finish(res, create_graph), outs_tuple),
    )


def _check_strategy(strategy: str) -> None:
    if strategy == "forward-mode":
        raise NotImplementedError(
            "strategy='forward-mode' is not supported: tracer has reverse mode only "
            "(use strategy='reverse-mode', the default)"
        )
    if strategy != "reverse-mode":
        raise ValueError(
            f"Expected strategy to be either 'forward-mode' or 'reverse-mode', got {strategy!r}"
        )


def jacobian(
    func: Callable[..., Any],
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """d func(*inputs) / d inputs, shape output.shape + input.shape: a tensor for one
    input and one output, a tuple over the inputs or over the outputs when one of them
    is a tuple, and a tuple (per output) of tuples (per input) when both are."""
    from tracer.functions import stack
    from tracer.tensor import Tensor

    _check_strategy(strategy)
    with enable_grad():
        inputs_tuple, xs = _tensors(inputs, "inputs", "jacobian")
        xs = _prepare(xs, create_graph, need_graph=True)
        outs_tuple, outs = _tensors(func(*xs), "outputs of the user-provided function", "jacobian")
        _outputs_require_grad(outs, strict)
        per_output = []
        for i, out in enumerate(outs):
            rows: list[list[Any]] = [[] for _ in xs]
            for j in range(out.numel()):
                seed = np.zeros(out.numel(), out.dtype)
                seed[j] = 1
                gs = _grad((out,), xs, (Tensor(seed.reshape(out.shape)),), create_graph, True)
                for k, (g, x) in enumerate(zip(gs, xs)):
                    if g is None:
                        if strict:
                            raise AutogradError(
                                f"Output {i} of the user-provided function is independent of "
                                f"input {k}. This is not allowed in strict mode."
                            )
                        g = Tensor(np.zeros(x.shape, x.dtype))
                    elif strict and create_graph and not g.requires_grad:
                        raise AutogradError(
                            f"The jacobian of the user-provided function is independent of "
                            f"input {i}. This is not allowed in strict mode when "
                            "create_graph=True."
                        )
                    rows[k].append(g)
            per_output.append(
                tuple(
                    stack(r).reshape(*out.shape, *x.shape)
                    if r
                    else Tensor(np.zeros((*out.shape, *x.shape), x.dtype))
                    for r, x in zip(rows, xs)
                )
            )
        result = _finish(tuple(per_output), create_graph)
    if not inputs_tuple:
        result = tuple(r[0] for r in result)
    return result if outs_tuple else result[0]


def hessian(
    func: Callable[..., Any],
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """Second derivatives of a function returning one element: shape input.shape +
    input.shape, or for a tuple of inputs a tuple of tuples (H[i][j] for inputs i, j)."""
    _check_strategy(outer_jacobian_strategy)
    inputs_tuple, xs = _tensors(inputs, "inputs", "hessian")

    def scalar(*args: Any) -> Any:
        out = func(*args)
        is_tuple, outs = _tensors(out, "outputs of the user-provided function", "hessian")
        _outputs_require_grad(outs, strict)
        _single_element(outs, is_tuple, "hessian")
        return out.reshape(())

    def gradient(*args: Any) -> Any:
        g = jacobian(scalar, args, create_graph=True)
        if strict:
            for i, gi in enumerate(g):
                if not gi.requires_grad:
                    raise AutogradError(
                        "While computing the hessian, found that the jacobian of the "
                        f"user-provided function with respect to input {i} is independent of "
                        "the input. This is not allowed in strict mode."
                    )
        return g

    res = jacobian(gradient, xs, create_graph=create_graph, strict=strict)
    return res if inputs_tuple else res[0][0]


def _hessian_products(
    fn: str, func: Callable[..., Any], inputs: Any, v: Any, create_graph: bool, strict: bool
) -> tuple[Any, ...]:
    from tracer.tensor import Tensor

    with enable_grad():
        inputs_tuple, xs = _tensors(inputs, "inputs", fn)
        xs = _prepare(xs, create_graph, need_graph=True)
        vs = _v_or_none(v, xs, inputs_tuple, create_graph, fn)
        outs_tuple, outs = _tensors(func(*xs), "outputs of the user-provided function", fn)
        _outputs_require_grad(outs, strict)
        _single_element(outs, outs_tuple, fn)
        g = _grad(outs, xs, None, create_graph=True)
        if strict:
            for i, gi in enumerate(g):
                if gi is None or not gi.requires_grad:
                    raise AutogradError(
                        "The jacobian of the user-provided function with respect to input "
                        f"{i} is independent of the input. This is not allowed in strict mode."
                    )
        if fn == "vhp":
            source, wrt = g, xs
        else:  # hvp: u -> u^T H is linear in u; its gradient along v is H v
            us = tuple(Tensor(np.zeros(x.shape, x.dtype), requires_grad=True) for x in xs)
            source, wrt = _grad(g, xs, us, create_graph=True), us
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _grad(source, wrt, vs, create_graph)
        res = _zeros_for_none(res, xs, strict, "The Hessian of the user-provided function")
    return (
        _unpack(_finish(outs, create_graph), outs_tuple),
        _unpack(_finish(res, create_graph), inputs_tuple),
    )


def vhp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(*inputs), v^T H) for a function returning one element."""
    return _hessian_products("vhp", func, inputs, v, create_graph, strict)


def hvp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(*inputs), H v) for a function returning one element."""
    return _hessian_products("hvp", func, inputs, v, create_graph, strict)
