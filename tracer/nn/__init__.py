"""`tracer.nn`: Module, Parameter, layers, containers, losses, `init`, `utils`, and
`functional` (import it as F), with PyTorch's names and behaviour."""

from tracer.nn import functional, init, utils
from tracer.nn.modules import *  # noqa: F403
from tracer.nn.modules import __all__ as _modules_all
from tracer.nn.parameter import Buffer, Parameter

__all__ = ["Buffer", "Parameter", "functional", "init", "utils", *_modules_all]
