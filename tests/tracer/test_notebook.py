"""The autograd notebook (shared/seed/autograd_notebook.md), replayed with
`import tracer as torch`: every output it shows, character for character.

The notebook displays results the way IPython does: `repr` for tensors, and
IPython's pretty printer for grad_fn objects (`<SubBackward0 at 0x...>`; plain
`repr` gives PyTorch's `<SubBackward0 object at 0x...>`).
"""

from __future__ import annotations

import re

import pytest

import tracer as torch

DATA = [-1.2365, 1.8245, -1.0701, 0.0869, -0.0376]


def test_in18_loss_without_grad_prints_values_only():
    x = torch.tensor(DATA)
    loss = x**2 - 5
    assert repr(loss) == "tensor([-3.4711, -1.6712, -3.8549, -4.9924, -4.9986])"


def test_in21_loss_with_grad_prints_its_grad_fn():
    x = torch.tensor(DATA, requires_grad=True)
    loss = x**2 - 5
    assert repr(loss) == (
        "tensor([-3.4711, -1.6712, -3.8549, -4.9924, -4.9986], grad_fn=<SubBackward0>)"
    )


def test_in22_grad_fn_repr_is_pytorchs():
    x = torch.tensor(DATA, requires_grad=True)
    loss = x**2 - 5
    assert re.fullmatch(r"<SubBackward0 object at 0x[0-9a-f]+>", repr(loss.grad_fn))


def test_in22_grad_fn_displays_in_ipython_as_in_the_notebook():
    pretty = pytest.importorskip("IPython.lib.pretty")
    x = torch.tensor(DATA, requires_grad=True)
    loss = x**2 - 5
    assert re.fullmatch(r"<SubBackward0 at 0x[0-9a-f]+>", pretty.pretty(loss.grad_fn))


def test_in23_backward_with_gradient_returns_none():
    x = torch.tensor(DATA, requires_grad=True)
    loss = x**2 - 5
    assert loss.backward(gradient=torch.ones(5)) is None


def test_in24_x_grad_is_two_x():
    x = torch.tensor(DATA, requires_grad=True)
    loss = x**2 - 5
    loss.backward(gradient=torch.ones(5))
    assert repr(x.grad) == "tensor([-2.4730,  3.6490, -2.1402,  0.1738, -0.0752])"


def test_in25_two_x_prints_mul_backward():
    x = torch.tensor(DATA, requires_grad=True)
    assert repr(2 * x) == (
        "tensor([-2.4730,  3.6490, -2.1402,  0.1738, -0.0752], grad_fn=<MulBackward0>)"
    )


def test_in27_rand_with_requires_grad():
    a = torch.rand(2, 2, requires_grad=True)
    assert a.requires_grad is True


def test_in29_detach_does_not_require_grad():
    a = torch.rand(2, 2, requires_grad=True)
    b = a.detach()
    assert b.requires_grad is False


def test_in31_no_grad_block_prints_false(capsys):
    c = torch.rand(2, 2, requires_grad=True)
    with torch.no_grad():
        loss = c**2
        print(loss.requires_grad)
    assert capsys.readouterr().out == "False\n"


def test_whole_notebook_as_one_session(capsys):
    """The cells in order, in one namespace, as the notebook ran them."""
    x = torch.tensor(DATA)
    loss = x**2 - 5
    shown = [repr(loss)]
    x = torch.tensor(DATA, requires_grad=True)
    loss = x**2 - 5
    shown.append(repr(loss))
    shown.append(re.sub(r"0x[0-9a-f]+", "0x...", repr(loss.grad_fn)))
    loss.backward(gradient=torch.ones(5))
    shown.append(repr(x.grad))
    shown.append(repr(2 * x))
    a = torch.rand(2, 2, requires_grad=True)
    shown.append(repr(a.requires_grad))
    b = a.detach()
    shown.append(repr(b.requires_grad))
    c = torch.rand(2, 2, requires_grad=True)
    with torch.no_grad():
        loss = c**2
        print(loss.requires_grad)
    assert shown == [
        "tensor([-3.4711, -1.6712, -3.8549, -4.9924, -4.9986])",
        "tensor([-3.4711, -1.6712, -3.8549, -4.9924, -4.9986], grad_fn=<SubBackward0>)",
        "<SubBackward0 object at 0x...>",
        "tensor([-2.4730,  3.6490, -2.1402,  0.1738, -0.0752])",
        "tensor([-2.4730,  3.6490, -2.1402,  0.1738, -0.0752], grad_fn=<MulBackward0>)",
        "True",
        "False",
    ]
    assert capsys.readouterr().out == "False\n"
