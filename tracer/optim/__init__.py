"""Optimizers with PyTorch's `torch.optim` API, defaults and update formulas, and
`tracer.optim.lr_scheduler`.

    opt = tracer.optim.Adam(model.parameters(), lr=1e-3)
    sched = tracer.optim.lr_scheduler.StepLR(opt, step_size=10)
    for epoch in range(epochs):
        loss.backward(); opt.step(); opt.zero_grad()
        sched.step()
"""

from tracer.optim import lr_scheduler
from tracer.optim.adam import Adam, Adamax, AdamW, NAdam, RAdam
from tracer.optim.adaptive import Adadelta, Adagrad, RMSprop
from tracer.optim.lbfgs import LBFGS
from tracer.optim.optimizer import Optimizer
from tracer.optim.sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "LBFGS",
    "lr_scheduler",
]
