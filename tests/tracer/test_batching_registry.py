"""Which ops vmap batches with a rule, and which fall back to a per-example loop."""

from __future__ import annotations

import pytest

import compiler.ops  # noqa: F401  (registers the ops)
from compiler.batching import fallback_ops, rule_kind
from compiler.registry import OPS

# The ops batched by a per-example loop (a scan over the batch axis of that equation):
# rare ones, or ones whose batched form would need a new kernel. Adding a rule for one
# of them removes it from this list.
FALLBACK = {
    "custom_vjp_call",  # a user's custom_vjp function: its body could be batched, not yet
    "linalg_lstsq",
    "masked_scatter",
    "masked_select",
    "random",  # only with a batched key; the generator's key is never batched
    "while_vjp",  # the reverse sweep of a while_loop
}

COMMON = [
    "add", "mul", "where", "exp", "matmul", "reduce_sum", "amax", "mean", "softmax",
    "log_softmax", "logsumexp", "reshape", "transpose", "broadcast_to", "slice", "index",
    "gather", "scatter_add", "concatenate", "pad", "windows", "max_pool", "cond", "scan",
    "while_loop", "sort", "cumsum", "nll_loss", "convert", "full", "iota",
]  # fmt: skip


def test_the_ops_without_a_batching_rule_are_the_listed_ones():
    assert set(fallback_ops()) == FALLBACK


@pytest.mark.parametrize("name", COMMON)
def test_common_ops_have_a_batching_rule(name):
    assert rule_kind(OPS[name]) != "fallback"
