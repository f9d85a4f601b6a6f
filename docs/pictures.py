"""Regenerate the pictures the README shows: `python docs/pictures.py` (needs the
[viz] extra and Graphviz's `dot`). tests/tracer/test_viz.py checks that the committed
SVGs still show what these drawings draw.

* seed_dag.svg: the seed notebook's DAG, `loss = x**2 - 5` with `x` requiring grad,
  as `tracer.viz.make_dot` draws it.
* seed_trace.svg: the same loss traced, `loss_fn.draw(x, which="joint")`: the
  forward graph (which also returns what backward needs) and the backward graph.
"""

from __future__ import annotations

from pathlib import Path

import tracer
from tracer.viz import Drawing, make_dot

HERE = Path(__file__).resolve().parent
DATA = [-1.2365, 1.8245, -1.0701, 0.0869, -0.0376]


@tracer.trace
def loss_fn(x):
    return x**2 - 5


def seed_dag() -> Drawing:
    x = tracer.tensor(DATA, requires_grad=True)
    loss = x**2 - 5
    return make_dot(loss, params={"x": x})


def seed_trace() -> Drawing:
    x = tracer.tensor(DATA, requires_grad=True)
    return loss_fn.draw(x, which="joint")


PICTURES = {"seed_dag.svg": seed_dag, "seed_trace.svg": seed_trace}

if __name__ == "__main__":
    for name, draw in PICTURES.items():
        print("wrote", draw().save(HERE / name))
