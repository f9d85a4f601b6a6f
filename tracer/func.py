"""`tracer.func.functional_call`: call a Module with other parameters and buffers, as
`torch.func.functional_call`.

With it a model's parameters can be an argument of a function, so `tracer.value_and_grad`
differentiates with respect to them (JAX style):

    params = dict(model.named_parameters())
    loss_and_grads = tracer.value_and_grad(
        lambda p, x, y: F.mse_loss(functional_call(model, p, (x,)), y)
    )
    loss, grads = loss_and_grads(params, x, y)  # grads: a dict like params

It works eagerly (gradients flow to the tensors passed in), inside `@tracer.trace` and
in `value_and_grad`, where the tensors passed in are traced values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from compiler.operand import Operand
from tracer.trace import grad, value_and_grad
from tracer.transforms import hessian, jacfwd, jacrev, jvp, linearize, vjp
from tracer.transforms import vmap as _vmap

__all__ = [
    "functional_call",
    "grad",
    "grad_and_value",
    "hessian",
    "jacfwd",
    "jacrev",
    "jvp",
    "linearize",
    "vjp",
    "vmap",
]

# torch.func names this library does not have, with what to use instead
_MISSING = {
    "stack_module_state": "stack the parameters yourself (tracer.stack)",
    "replace_all_batch_norm_modules_": "set track_running_stats=False on the modules",
    "functionalize": "tracer's traced functions already stage in-place updates",
}


def __getattr__(name: str) -> Any:
    if name in _MISSING:
        raise AttributeError(
            f"tracer.func.{name} is not supported by this library; {_MISSING[name]}"
        )
    raise AttributeError(f"module 'tracer.func' has no attribute {name!r}")


def grad_and_value(
    func: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """torch.func.grad_and_value: like `value_and_grad` with the pair the other way
    round, (gradients, value); with `has_aux`, (gradients, (value, aux))."""
    vg = value_and_grad(func, argnums, has_aux=has_aux)

    def run(*args: Any, **kwargs: Any) -> Any:
        value, grads = vg(*args, **kwargs)
        return grads, value

    return run


def vmap(
    func: Callable[..., Any],
    in_dims: int | None | Sequence[int | None] = 0,
    out_dims: int = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable[..., Any]:
    """torch.func.vmap: `tracer.vmap` with PyTorch's argument names. `randomness`:
    "error" (PyTorch's default) raises RuntimeError when `func` draws random numbers,
    "same" gives every example the same numbers; "different" is not supported
    (ValueError). `chunk_size` is accepted and has no effect (the map is one batched
    computation)."""
    if randomness not in ("error", "same", "different"):
        raise RuntimeError(
            f"Only allowed values for randomness are 'error', 'different', or 'same'. Got "
            f"{randomness}"
        )
    return _vmap(func, in_axes=in_dims, out_axes=out_dims, _randomness=randomness)


def functional_call(
    module: Any,
    parameter_and_buffer_dicts: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """`module(*args, **kwargs)` computed with the tensors of `parameter_and_buffer_dicts`
    (names as in `named_parameters()` / `named_buffers()`, 'fc1.weight') in place of the
    module's own; those not given keep theirs. The module is restored afterwards, also
    when the call raises; in-place updates of a buffer passed in (running statistics)
    change that tensor, not the module's.

    `args`: a tuple of positional arguments, or one argument. `tie_weights`: a tensor
    registered under several names (shared weights) takes the value given for any of
    them. `strict`: every parameter and buffer must be given, and nothing else.

    Raises ValueError for a name given twice (in two dicts, or two different values for
    tied names), RuntimeError for missing or unexpected names with strict=True,
    TypeError for a value that is not a tensor.
    """
    if isinstance(parameter_and_buffer_dicts, Mapping):
        values = dict(parameter_and_buffer_dicts)
    elif isinstance(parameter_and_buffer_dicts, (list, tuple)):
        values = {}
        repeated: list[str] = []
        for d in parameter_and_buffer_dicts:
            repeated += [k for k in d if k in values]
            values.update(d)
        if repeated:
            raise ValueError(
                f"{repeated} appeared in multiple dictionaries; behavior of functional call "
                "is ambiguous"
            )
    else:
        raise ValueError(
            "Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, "
            f"but got {type(parameter_and_buffer_dicts).__name__}"
        )
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrized(module, values, tie_weights, strict):
        return module(*args, **(kwargs or {}))


def _tied_groups(module: Any) -> list[list[str]]:
    """The parameter and buffer names, grouped by the tensor they are registered for
    (a group of several names: shared weights)."""
    groups: dict[int, list[str]] = {}
    for named in (module.named_parameters, module.named_buffers):
        for name, t in named(remove_duplicate=False):
            groups.setdefault(id(t), []).append(name)
    return list(groups.values())


def _expand_ties(groups: list[list[str]], values: dict[str, Any]) -> dict[str, Any]:
    """`values` with each tensor also given for the names tied to its name."""
    out = dict(values)
    for names in groups:
        given = [n for n in names if n in values]
        if not given:
            continue
        first = values[given[0]]
        if any(values[n] is not first for n in given[1:]):
            raise ValueError(
                f"functional_call got multiple values for keys {sorted(given)}, which are "
                "tied. Consider using tie_weights=False"
            )
        for n in names:
            out.setdefault(n, first)
    return out


def _resolve(module: Any, name: str) -> tuple[Any, str]:
    """The submodule that holds `name` ('fc1.weight' -> (module.fc1, 'weight'))."""
    *path, leaf = name.split(".")
    owner = module
    for step in path:
        sub = owner._modules.get(step) if hasattr(owner, "_modules") else None
        if sub is None:
            raise AttributeError(
                f"functional_call: {name!r} does not name a parameter or buffer of "
                f"{type(module).__name__}: it has no submodule {step!r}"
            )
        owner = sub
    return owner, leaf


@contextmanager
def _reparametrized(
    module: Any, values: dict[str, Any], tie_weights: bool, strict: bool
) -> Iterator[None]:
    if not hasattr(module, "named_parameters"):
        raise TypeError(
            f"functional_call: module must be a tracer.nn.Module, got {type(module).__name__}"
        )
    for name, value in values.items():
        if not isinstance(value, Operand):
            raise TypeError(
                f"functional_call: the value for {name!r}, {value!r}, is not an instance of "
                "tracer.Tensor"
            )
    groups = _tied_groups(module)
    if tie_weights:
        values = _expand_ties(groups, values)
    if strict:
        names = {n for names in groups for n in names}
        unexpected = sorted(k for k in values if k not in names)
        missing = sorted(k for k in names if k not in values)
        errors = []
        if unexpected:
            errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if errors:
            raise RuntimeError(
                f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                + "\n\t".join(errors)
            )
    # Swap the registry entries directly: the module's structure (its names) stays the
    # same, so traced functions that call it need not check it again.
    undo: list[tuple[dict[str, Any] | None, Any, str, Any]] = []
    try:
        for name, value in values.items():
            owner, leaf = _resolve(module, name)
            if leaf in owner._modules:
                raise TypeError(
                    f"functional_call: {name!r} names a submodule "
                    f"({type(owner._modules[leaf]).__name__}), not a parameter or buffer"
                )
            for registry in (owner._parameters, owner._buffers):
                if leaf in registry:
                    undo.append((registry, owner, leaf, registry[leaf]))
                    dict.__setitem__(registry, leaf, value)
                    break
            else:  # not a parameter or buffer: a plain attribute for the call, as in torch
                undo.append((None, owner, leaf, owner.__dict__.get(leaf, _ABSENT)))
                object.__setattr__(owner, leaf, value)
        yield
    finally:
        for registry, owner, leaf, old in reversed(undo):
            if registry is not None:
                dict.__setitem__(registry, leaf, old)
            elif old is _ABSENT:
                object.__delattr__(owner, leaf)
            else:
                object.__setattr__(owner, leaf, old)


_ABSENT = object()
