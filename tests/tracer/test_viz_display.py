"""How traced functions, IR text and cache statistics display in IPython/Jupyter."""

from __future__ import annotations

import re

import pytest

import tracer
from compiler.ir import pretty as ir_text

DATA = [-1.2365, 1.8245, -1.0701, 0.0869, -0.0376]
pretty = pytest.importorskip("IPython.lib.pretty").pretty


@tracer.trace
def loss_fn(x):
    return x**2 - 5


def test_ir_text_displays_as_text_not_as_a_quoted_string():
    x = tracer.tensor(DATA)
    text = loss_fn.ir(x)
    assert pretty(text) == text  # a plain str would show as '{ lambda ...\n ...'
    assert "\n" in text and pretty(str(text)) == repr(str(text))


@pytest.mark.parametrize("method", ["ir", "grad_ir", "forward_ir", "source"])
def test_every_text_method_is_still_a_str_equal_to_the_graph_text(method):
    x = tracer.tensor(DATA, requires_grad=True)
    text = getattr(loss_fn, method)(x)
    assert isinstance(text, str) and pretty(text) == str(text)


def test_ir_is_the_printers_text():
    x = tracer.tensor(DATA)
    entry, _ = loss_fn._entry((x,), {})
    assert loss_fn.ir(x) == ir_text(entry.graph)


def test_value_and_grad_texts_display_as_text():
    step = tracer.value_and_grad(lambda x: (x**2).sum())
    x = tracer.tensor(DATA)
    assert pretty(step.ir(x)) == step.ir(x) and pretty(step.source(x)) == step.source(x)


def test_traced_function_shows_name_origin_and_signatures():
    @tracer.trace
    def f(x, n=2):
        return x * n

    f(tracer.tensor(DATA, requires_grad=True))
    f(tracer.tensor([1.0, 2.0], dtype=tracer.float64))
    f(tracer.tensor([1.0, 2.0], dtype=tracer.float64))
    lines = pretty(f).splitlines()
    line = f.fn.__code__.co_firstlineno
    assert lines[0] == f"<traced function f defined at test_viz_display.py:{line}>"
    assert lines[1] == "signature: f(x, n=2)"
    assert re.fullmatch(
        r"calls: 3 \(1 hits, 2 misses\); traced in \S+ s, compiled in \S+ s", lines[2]
    )
    assert lines[3:] == [
        "compiled for 2 input signatures:",
        "  (x: f32[5] (requires grad))",
        "  (x: f64[2])",
    ]


def test_static_arguments_are_part_of_a_signature():
    g = tracer.trace(lambda x, k: x * k, static_argnums=1)
    g(tracer.tensor(DATA), 3)
    assert pretty(g).splitlines()[-1] == "  (x: f32[5], k=3)"


def test_value_and_grad_function_says_what_it_is():
    step = tracer.value_and_grad(lambda x: (x**2).sum())
    step(tracer.tensor(DATA))
    assert pretty(step).startswith("<value_and_grad function <lambda> defined at ")
    assert tracer.grad(lambda x: x.sum())._repr_html_().startswith("<div><b>grad function</b>")


def test_html_lists_each_signature_escaped():
    @tracer.trace
    def h(d):
        return d["a"] + 1

    h({"a": tracer.tensor(DATA)})
    html = h._repr_html_()
    assert "<code>(d[&#x27;a&#x27;]: f32[5])</code>" in html and "1 input signature<" in html


def test_cache_info_shows_rounded_seconds_and_stays_a_tuple():
    @tracer.trace
    def f(x):
        return x + 1

    x = tracer.tensor(DATA)
    f(x)
    f(x)
    info = f.cache_info()
    assert re.fullmatch(
        r"CacheInfo\(hits=1, misses=1, trace_seconds=[0-9.e+-]+, "
        r"compile_seconds=[0-9.e+-]+, entries=1\)",
        pretty(info),
    )
    shown = dict(re.findall(r"(\w+_seconds)=([0-9.e+-]+)", pretty(info)))
    assert float(shown["compile_seconds"]) == pytest.approx(info.compile_seconds, rel=1e-2)
    assert info[:2] == (1, 1) and info.entries == 1
