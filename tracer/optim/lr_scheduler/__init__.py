"""Learning-rate schedulers with torch.optim.lr_scheduler's API and values.

    opt = tracer.optim.SGD(params, lr=0.1, momentum=0.9)
    sched = tracer.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train(...)        # ends with opt.step()
        sched.step()      # after opt.step(), as in PyTorch

Like PyTorch, most schedulers are *chainable*: `step()` computes the new lr from the
group's current lr (so several schedulers can act on one optimizer); `step(epoch)`
(deprecated in PyTorch) uses the closed form from the initial lr where one exists. The
two agree up to float rounding, and this package reproduces both bit for bit, including
PyTorch's special cases (CosineAnnealingLR's restart step, LinearLR and ConstantLR
undoing their factor at total_iters).
"""

from tracer.optim.lr_scheduler.base import LRScheduler, _LRScheduler  # noqa: F401 (old name)
from tracer.optim.lr_scheduler.combine import ChainedScheduler, SequentialLR
from tracer.optim.lr_scheduler.cyclic import CyclicLR, OneCycleLR
from tracer.optim.lr_scheduler.decay import (
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from tracer.optim.lr_scheduler.plateau import ReduceLROnPlateau

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "SequentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
]
