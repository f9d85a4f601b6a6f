"""The coverage report (python -m tracer.coverage) and the errors for PyTorch names
tracer lacks."""

from __future__ import annotations

import pytest

import tracer
from compiler import torch_api
from tracer import coverage


def _lacking(namespace: str, ours: object) -> str:
    """A name PyTorch's `namespace` has, tracer lacks, and that is in scope."""
    return next(
        n
        for n in torch_api.NAMESPACES[namespace]
        if not hasattr(ours, n) and not coverage.OUT_OF_SCOPE.search(n)
    )


def test_every_name_is_counted_once_and_implemented_means_present():
    rep = coverage.Report(dict(torch_api.NAMESPACES), "stored list")
    for ns, names in torch_api.NAMESPACES.items():
        have, missing, skipped = rep.rows[ns]
        assert sorted(have + missing + skipped) == sorted(names)
        ours = coverage._ours(ns)
        assert all(hasattr(ours, n) for n in have)
        assert not any(hasattr(ours, n) for n in missing + skipped)


def test_the_report_prints_a_total_row_that_adds_up():
    rep = coverage.report()
    last = rep.summary().splitlines()[-1].split()
    assert last[0] == "total"
    assert tuple(int(v) for v in last[1:]) == rep.totals()


def test_the_stored_names_are_the_installed_pytorchs_when_versions_agree():
    torch = pytest.importorskip("torch")
    if torch.__version__.split("+")[0] != torch_api.VERSION:
        pytest.skip(f"stored list is PyTorch {torch_api.VERSION}")
    names, _ = coverage.pytorch_names()
    assert names == dict(torch_api.NAMESPACES)


@pytest.mark.parametrize(
    "namespace, ours, owner",
    [
        ("Tensor", tracer.Tensor, "'Tensor' object"),
        ("torch", tracer, "module 'tracer'"),
        ("torch.nn.functional", tracer.nn.functional, "module 'tracer.nn.functional'"),
        ("torch.nn", tracer.nn, "module 'tracer.nn'"),
    ],
)
def test_a_pytorch_name_tracer_lacks_is_named_as_pytorchs(namespace, ours, owner):
    name = _lacking(namespace, ours)
    target = tracer.zeros(2) if namespace == "Tensor" else ours
    with pytest.raises(AttributeError) as info:
        getattr(target, name)
    shown = "Tensor" if namespace == "Tensor" else namespace
    assert str(info.value).startswith(f"{owner} has no attribute {name!r}")
    assert f"PyTorch's {shown}.{name} is not implemented" in str(info.value)


def test_inside_a_trace_the_same_error_and_no_internal_class_name():
    name = _lacking("Tensor", tracer.Tensor)
    f = tracer.trace(lambda x: getattr(x, name)())
    with pytest.raises(AttributeError) as info:
        f(tracer.zeros(2))
    msg = str(info.value)
    assert f"'Tensor' object has no attribute {name!r}" in msg
    assert "Sym" not in msg and "Operand" not in msg


def test_a_misspelt_method_suggests_the_close_names():
    with pytest.raises(AttributeError, match=r"did you mean 'unsqueeze'"):
        tracer.zeros(2).unsqeeze(0)


def test_private_names_and_hasattr_behave_as_usual():
    x = tracer.zeros(2)
    assert not hasattr(x, "_no_such_thing")
    assert hasattr(x, "grad") and hasattr(tracer, "tensor")
    assert not hasattr(tracer, "no_such_function")
