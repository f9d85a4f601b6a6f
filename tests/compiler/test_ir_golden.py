"""Golden IR text: the notebook loss, an MLP 784-256-10 step, softmax/logsumexp.

Each golden is the exact text the printer gives, equation comments included. The
comments name this file and the line of the user's code that produced the
equation; `<name>` in a golden stands for `test_ir_golden.py:<line>` of the line
marked `# line: name` below, so the goldens survive edits above them.
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

import tracer
import tracer.nn.functional as F
from compiler.ir import Graph, pretty, typecheck

HERE = pathlib.Path(__file__)
LINES = {
    m.group(1): i
    for i, text in enumerate(HERE.read_text().splitlines(), 1)
    if (m := re.search(r"# line: (\w+)$", text))
}


def golden(text: str) -> str:
    return re.sub(r"<(\w+)>", lambda m: f"{HERE.name}:{LINES[m.group(1)]}", text.strip("\n"))


def strip_comments(text: str) -> str:
    return "\n".join(line.split("  #")[0].rstrip() for line in text.splitlines())


# ---- the functions ---------------------------------------------------------------------


def notebook_loss(x):
    return x**2 - 5  # line: loss


def notebook_total(x):
    return notebook_loss(x).sum()  # line: total


def mlp(x, w1, b1, w2, b2, y):
    h = F.relu(x @ w1 + b1)  # line: hidden
    logits = h @ w2 + b2  # line: logits
    return F.cross_entropy(logits, y)  # line: xent


def softmax_and_logsumexp(x):
    return x.softmax(-1), x.logsumexp(-1)  # line: smx


def mlp_args(requires_grad: bool = True):
    rng = np.random.default_rng(0)
    x = tracer.tensor(rng.standard_normal((64, 784)), dtype=tracer.float32)
    w1 = tracer.tensor(
        rng.standard_normal((784, 256)) * 0.05, dtype=tracer.float32, requires_grad=requires_grad
    )
    b1 = tracer.zeros(256, requires_grad=requires_grad)
    w2 = tracer.tensor(
        rng.standard_normal((256, 10)) * 0.05, dtype=tracer.float32, requires_grad=requires_grad
    )
    b2 = tracer.zeros(10, requires_grad=requires_grad)
    y = tracer.tensor(rng.integers(0, 10, 64))
    return x, w1, b1, w2, b2, y


# ---- goldens ---------------------------------------------------------------------------

LOSS_FORWARD = """
{ lambda a:f32[5] .
  let b:f32[5] = mul a a    # <loss>
      c:f32[5] = sub b 5.0  # <loss>
  in ( c ) }
"""

# Inputs: the residual (x itself) and the output cotangent. d/dx x*x = g*x + g*x; the
# product is a safe_mul (0 where g == 0, even if x is inf: docs/where.md).
LOSS_BACKWARD = """
{ lambda a:f32[5] b:f32[5] .
  let c:f32[5] = safe_mul b a  # <loss>
      d:f32[5] = add c c       # <loss>
  in ( d ) }
"""

LOSS_FORWARD_WITH_RESIDUALS = """
{ lambda a:f32[5] .
  let b:f32[5] = mul a a    # <loss>
      c:f32[5] = sub b 5.0  # <loss>
  in ( c a ) }
"""

# value_and_grad: one graph, the cotangent of the scalar loss is the constant 1.
LOSS_JOINT = """
{ lambda a:f32[5] .
  let b:f32[5] = mul a a                 # <loss>
      c:f32[5] = sub b 5.0               # <loss>
      d:f32[] = reduce_sum[axes=(0,)] c  # <total>
      e:f32[5] = add a a                 # <loss>
  in ( d e ) }
"""

MLP_FORWARD = """
{ lambda a:f32[64,784] b:f32[784,256] c:f32[256] d:f32[256,10] e:f32[10] f:i64[64] .
  let g:f32[64,256] = matmul a b                                  # <hidden>
      h:f32[64,256] = broadcast_to[shape=(64, 256)] c             # <hidden>
      i:f32[64,256] = add g h                                     # <hidden>
      j:f32[64,256] = relu i                                      # <hidden>
      k:f32[64,10] = matmul j d                                   # <logits>
      l:f32[64,10] = broadcast_to[shape=(64, 10)] e               # <logits>
      m:f32[64,10] = add k l                                      # <logits>
      n:f32[64,10] = log_softmax[axis=1] m                        # <xent>
      o:f32[] = nll_loss[reduction='mean' ignore_index=-100] n f  # <xent>
  in ( o ) }
"""

# Inputs: the residuals (label weights, one-hot labels, softmax, transposed weights and
# activations, relu mask, transposed x), then the loss cotangent. Outputs: the
# gradients of w1, b1, w2, b2.
MLP_BACKWARD = """
{ lambda a:f32[] b:bool[64,10] c:f32[64,10] d:f32[10,256] e:f32[256,64] f:bool[64,256] g:f32[784,64] h:f32[] .
  let i:f32[] = div h a                                    # <xent>
      j:f32[64] = broadcast_to[shape=(64,)] i              # <xent>
      k:f32[64] = neg j                                    # <xent>
      l:f32[64,1] = reshape[shape=(64, 1)] k               # <xent>
      m:f32[64,10] = broadcast_to[shape=(64, 10)] l        # <xent>
      n:f32[64,10] = where b m 0.0                         # <xent>
      o:f32[64,1] = reduce_sum[axes=(1,) keepdims=True] n  # <xent>
      p:f32[64,10] = broadcast_to[shape=(64, 10)] o        # <xent>
      q:f32[64,10] = mul c p                               # <xent>
      r:f32[64,10] = sub n q                               # <xent>
      s:f32[10] = reduce_sum[axes=(0,)] r                  # <logits>
      t:f32[64,256] = matmul r d                           # <logits>
      u:f32[256,10] = matmul e r                           # <logits>
      v:f32[64,256] = where f t 0.0                        # <hidden>
      w:f32[256] = reduce_sum[axes=(0,)] v                 # <hidden>
      x:f32[784,256] = matmul g v                          # <hidden>
  in ( x w u s ) }
"""

SOFTMAX_FORWARD = """
{ lambda a:f32[4,3] .
  let b:f32[4,3] = softmax[axis=1] a     # <smx>
      c:f32[4] = logsumexp[axes=(1,)] a  # <smx>
  in ( b c ) }
"""

# Residuals exp(x - logsumexp) and softmax, then the two cotangents.
SOFTMAX_BACKWARD = """
{ lambda a:f32[4,3] b:f32[4,3] c:f32[4,3] d:f32[4] .
  let e:f32[4,1] = reshape[shape=(4, 1)] d                # <smx>
      f:f32[4,3] = broadcast_to[shape=(4, 3)] e           # <smx>
      g:f32[4,3] = mul f a                                # <smx>
      h:f32[4,3] = mul c b                                # <smx>
      i:f32[4,1] = reduce_sum[axes=(1,) keepdims=True] h  # <smx>
      j:f32[4,3] = broadcast_to[shape=(4, 3)] i           # <smx>
      k:f32[4,3] = sub c j                                # <smx>
      l:f32[4,3] = mul b k                                # <smx>
      m:f32[4,3] = add g l                                # <smx>
  in ( m ) }
"""


def loss_input(requires_grad: bool = True) -> tracer.Tensor:
    return tracer.tensor([-1.2365, 1.8245, -1.0701, 0.0869, -0.0376], requires_grad=requires_grad)


@pytest.mark.parametrize(
    "name,ir,expected",
    [
        ("forward", lambda: tracer.trace(notebook_loss).ir(loss_input()), LOSS_FORWARD),
        ("backward", lambda: tracer.trace(notebook_loss).grad_ir(loss_input()), LOSS_BACKWARD),
        (
            "forward_with_residuals",
            lambda: tracer.trace(notebook_loss).forward_ir(loss_input()),
            LOSS_FORWARD_WITH_RESIDUALS,
        ),
        ("joint", lambda: tracer.value_and_grad(notebook_total).ir(loss_input(False)), LOSS_JOINT),
        ("grad_joint", lambda: tracer.grad(notebook_total).ir(loss_input(False)), LOSS_JOINT),
        ("mlp_forward", lambda: tracer.trace(mlp).ir(*mlp_args()), MLP_FORWARD),
        ("mlp_backward", lambda: tracer.trace(mlp).grad_ir(*mlp_args()), MLP_BACKWARD),
        (
            "softmax_forward",
            lambda: tracer.trace(softmax_and_logsumexp).ir(tracer.ones(4, 3)),
            SOFTMAX_FORWARD,
        ),
        (
            "softmax_backward",
            lambda: tracer.trace(softmax_and_logsumexp).grad_ir(
                tracer.ones(4, 3, requires_grad=True)
            ),
            SOFTMAX_BACKWARD,
        ),
    ],
)
def test_golden_ir(name, ir, expected):
    assert ir() == golden(expected)


def test_grad_ir_without_requires_grad_differentiates_every_float_input():
    assert tracer.trace(notebook_loss).grad_ir(loss_input(False)) == golden(LOSS_BACKWARD)


def test_printer_without_source_comments():
    f = tracer.trace(notebook_loss)
    graph: Graph = f._entry((loss_input(),), {})[0].graph
    assert pretty(graph, show_source=False) == strip_comments(golden(LOSS_FORWARD))
    assert str(graph) == golden(LOSS_FORWARD)


def test_mlp_graphs_typecheck_and_run():
    """The golden graphs are not only pretty: they typecheck and give eager's values."""
    f = tracer.trace(mlp)
    args = mlp_args()
    forward, backward = (lambda s: (s.forward, s.backward))(f._split_for(args, {}))
    typecheck(forward)
    typecheck(backward)
    loss = f(*args)
    loss.backward()
    traced = [a.grad.numpy() for a in args[1:5]]
    eager_args = mlp_args()
    eager = mlp(*eager_args)
    eager.backward()
    np.testing.assert_allclose(loss.item(), eager.item(), rtol=1e-5)
    for t, a in zip(traced, eager_args[1:5]):
        np.testing.assert_allclose(t, a.grad.numpy(), rtol=1e-5, atol=1e-6)


# ---- source locations ----------------------------------------------------------------


def staged_on_three_lines(x, y):
    a = x * y  # line: first
    b = a.exp()  # line: second
    return (b - x).sum()  # line: third


def test_every_equation_names_the_users_line():
    f = tracer.trace(staged_on_three_lines)
    x, y = tracer.ones(3), tracer.ones(3)
    graph = f._entry((x, y), {})[0].graph
    where = [(e.op.name, e.source_loc) for e in graph.eqns]
    assert where == [
        ("mul", f"{HERE.name}:{LINES['first']}"),
        ("exp", f"{HERE.name}:{LINES['second']}"),
        ("sub", f"{HERE.name}:{LINES['third']}"),
        ("reduce_sum", f"{HERE.name}:{LINES['third']}"),
    ]


def test_backward_equations_name_the_line_of_the_forward_op_they_differentiate():
    f = tracer.trace(staged_on_three_lines)
    x, y = tracer.ones(3, requires_grad=True), tracer.ones(3, requires_grad=True)
    _, backward = (lambda s: (s.forward, s.backward))(f._split_for((x, y), {}))
    lines = {e.op.name: e.source_loc for e in backward.eqns}
    assert lines["broadcast_to"] == f"{HERE.name}:{LINES['third']}"  # sum's VJP
    assert lines["safe_mul"] in {f"{HERE.name}:{LINES[k]}" for k in ("first", "second")}
    assert {e.source_loc for e in backward.eqns} <= {
        f"{HERE.name}:{LINES[k]}" for k in ("first", "second", "third")
    }
