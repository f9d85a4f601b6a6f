"""A new batch size must reuse the compiled kernel: the generated text may not
depend on the sizes of the inputs. Each program below is generated (not compiled)
for several batch sizes, forward and value-and-gradient, and the texts must be
identical; every size reaches the code as an expression of the size arguments
(a mean's divisor, a slice bound, an offset), never as a number."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tracer
import tracer.nn.functional as F
from compiler.autodiff import joint_vjp
from compiler.codegen import generate
from compiler.passes import optimize, strip_stop_gradient

BATCHES = (5, 7, 11)  # none equals another dim of the programs (3, 4)


def labels(n: int) -> tracer.Tensor:
    return tracer.tensor(np.arange(n) % 3)


PROGRAMS: list[tuple[str, Callable[..., Any], Callable[[int], tuple[Any, ...]]]] = [
    ("mean", lambda x: x.mean(), lambda n: (tracer.ones(n),)),
    ("mean_over_batch", lambda x: (x * x).mean(0).sum(), lambda n: (tracer.ones(n, 3),)),
    (
        "mean_keepdim",
        lambda x: (x - x.mean(0, keepdim=True)).pow(2).sum(),
        lambda n: (tracer.ones(n, 3),),
    ),
    ("mse_loss", lambda x, y: F.mse_loss(x, y), lambda n: (tracer.ones(n, 3), tracer.zeros(n, 3))),
    ("cross_entropy", lambda x, y: F.cross_entropy(x, y), lambda n: (tracer.ones(n, 3), labels(n))),
    (
        "cross_entropy_sum",
        lambda x, y: F.cross_entropy(x, y, reduction="sum"),
        lambda n: (tracer.ones(n, 3), labels(n)),
    ),
    ("nll_loss", lambda x, y: F.nll_loss(x, y), lambda n: (tracer.ones(n, 3), labels(n))),
    ("softmax", lambda x: (F.softmax(x, 0) * x).sum(), lambda n: (tracer.ones(n, 3),)),
    ("log_softmax", lambda x: F.log_softmax(x, 0).sum(), lambda n: (tracer.ones(n, 3),)),
    ("logsumexp", lambda x: x.logsumexp(0).sum(), lambda n: (tracer.ones(n, 3),)),
    (
        "slices",
        lambda x: x[1:].sum() + (x[:-1] * x[1:]).sum() + x[-1].sum() + x[1:-1].sum(),
        lambda n: (tracer.ones(n, 3),),
    ),
    ("reversed", lambda x: (x.flatten()[::-1] * 2).sum(), lambda n: (tracer.ones(n),)),
    ("cat", lambda x: (tracer.cat([x, x * 2]) ** 2).sum(), lambda n: (tracer.ones(n, 3),)),
    ("stack", lambda x: tracer.stack([x, x]).mean(), lambda n: (tracer.ones(n, 3),)),
    ("matmul", lambda x, w: (x @ w).mean(), lambda n: (tracer.ones(n, 3), tracer.ones(3, 4))),
    (
        "linear",
        lambda x, w, b: F.linear(x, w, b).relu().mean(),
        lambda n: (tracer.ones(n, 3), tracer.ones(4, 3), tracer.ones(4)),
    ),
    (
        "pick_labels",
        lambda x, y: x[tracer.arange(x.shape[0]), y].mean(),
        lambda n: (tracer.ones(n, 3), labels(n)),
    ),
    (
        "gather",
        lambda x, y: x.gather(1, y.unsqueeze(1)).mean(),
        lambda n: (tracer.ones(n, 3), labels(n)),
    ),
    ("max_dim", lambda x: x.max(1).values.mean() + x.amax(0).sum(), lambda n: (tracer.ones(n, 3),)),
    (
        "reshape",
        lambda x: x.reshape(-1).mean() + x.t().reshape(3, -1).sum(),
        lambda n: (tracer.ones(n, 3),),
    ),
    ("flip", lambda x: (x.flip(0) * x).sum() + x.flip(1).sum(), lambda n: (tracer.ones(n, 3),)),
    ("roll", lambda x: (x.roll(2, 0) * x).sum() + x.roll(-1).sum(), lambda n: (tracer.ones(n, 3),)),
    (
        "pad",
        lambda x: F.pad(x, (1, 2)).sum() + (F.pad(x, (1, 1), mode="reflect") ** 2).sum(),
        lambda n: (tracer.ones(n, 3),),
    ),
    (
        "pad_batch_dim",
        lambda x: (F.pad(x, (0, 0, 2, 1), mode="replicate") ** 2).sum(),
        lambda n: (tracer.ones(1, n, 3),),
    ),
    (
        "narrow",
        lambda x: (x.narrow(0, 1, x.shape[0] - 2) ** 2).sum(),
        lambda n: (tracer.ones(n, 3),),
    ),
    ("split", lambda x: (x.split([1, 2], 1)[1] ** 2).sum(), lambda n: (tracer.ones(n, 3),)),
    ("tril", lambda x: (x.tril(-1) ** 2).sum(), lambda n: (tracer.ones(n, n),)),
    ("diagonal", lambda x: (x.diagonal() ** 2).sum() + x.trace(), lambda n: (tracer.ones(n, n),)),
    (
        "scatter",
        lambda x, y: (x.scatter(1, y.unsqueeze(1), 0.5) ** 2).sum(),
        lambda n: (tracer.ones(n, 3), labels(n)),
    ),
    (
        "index_select",
        lambda x, y: (x.index_select(0, y) ** 2).mean(),
        lambda n: (tracer.ones(n, 3), labels(n)),
    ),
    (
        "masked_fill",
        lambda x: (x.masked_fill(x > 0, 0.0) ** 2).sum(),
        lambda n: (tracer.ones(n, 3),),
    ),
    ("repeat_other_dim", lambda x: (x.repeat(1, 2) ** 2).sum(), lambda n: (tracer.ones(n, 3),)),
]


def sources(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, str]:
    """The generated forward and value-and-gradient sources for these arguments."""
    f = tracer.trace(fn)
    graph = f._entry(args, {})[0].graph
    wrt = [v.aval.dtype.kind == "f" for v in graph.inputs]
    joint = optimize(strip_stop_gradient(joint_vjp(graph, wrt, seed_ones=True).graph))
    return generate(graph)[0], generate(joint)[0]


@pytest.mark.parametrize("name,fn,make", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_generated_text_does_not_depend_on_the_batch_size(name, fn, make):
    texts = [sources(fn, make(n)) for n in BATCHES]
    for n, t in zip(BATCHES[1:], texts[1:]):
        assert t[0] == texts[0][0], f"{name}: forward text differs for batch {n}"
        assert t[1] == texts[0][1], f"{name}: value-and-gradient text differs for batch {n}"
