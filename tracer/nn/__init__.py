"""`tracer.nn`: Module, Parameter, layers, containers, losses, `init`, `utils`, and
`functional` (import it as F), with PyTorch's names and behaviour."""

from typing import Any

from compiler.errors import missing_attribute
from tracer.nn import functional, init, utils
from tracer.nn.modules import *  # noqa: F403
from tracer.nn.modules import __all__ as _modules_all
from tracer.nn.parameter import Buffer, Parameter

__all__ = ["Buffer", "Parameter", "functional", "init", "utils", *_modules_all]


def __getattr__(name: str) -> Any:
    # called only for names this module lacks: say when PyTorch has them
    if name.startswith("_"):
        raise AttributeError(f"module 'tracer.nn' has no attribute {name!r}")
    raise missing_attribute("torch.nn", "module 'tracer.nn'", name, __all__)
