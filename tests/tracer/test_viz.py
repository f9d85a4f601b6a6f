"""tracer.viz: pictures of eager autograd graphs (make_dot) and of traced IR graphs
(f.draw). Assertions are on the DOT text: which boxes exist and which arrows join
them; rendering is checked to produce a real SVG/PNG/PDF when Graphviz is installed.

Expected graphs come from PyTorch's names for its backward nodes (and from PyTorch
itself when installed), from the IR text printer, and from the kernel plan's items.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter

import numpy as np
import pytest

import tracer
import tracer.nn.functional as F
from compiler.codegen.plan import Copy, KernelCall, Nest, plan_graph
from tracer.viz import Drawing, VizUnavailable, make_dot

DATA = [-1.2365, 1.8245, -1.0701, 0.0869, -0.0376]


# ---- reading DOT text --------------------------------------------------------------------

NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\]$')
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$")


def _unquote(label: str) -> str:
    text = label.replace("\\l", "\n").replace('\\"', '"').replace("\\\\", "\\")
    return text.rstrip("\n")


class Parsed:
    """Nodes (id -> label), edges (tail id, head id, attributes) and clusters of a
    drawing's DOT text."""

    def __init__(self, drawing: Drawing) -> None:
        self.labels: dict[str, str] = {}
        self.attrs: dict[str, str] = {}
        self.edges: list[tuple[str, str, str]] = []
        self.cluster_of: dict[str, str] = {}
        self.cluster_labels: dict[str, str] = {}
        stack: list[str] = []
        for line in drawing.source.splitlines():
            if m := re.match(r"^\s*subgraph (cluster_\w+) \{$", line):
                stack.append(m.group(1))
            elif re.match(r"^\s*\}$", line) and stack:
                stack.pop()
            elif (m := re.match(r'^\s*label="(.*)"$', line)) and stack:
                self.cluster_labels[stack[-1]] = m.group(1)
            elif m := NODE.match(line):
                self.labels[m.group(1)] = _unquote(m.group(2))
                self.attrs[m.group(1)] = m.group(3)
                if stack:
                    self.cluster_of[m.group(1)] = stack[-1]
            elif m := EDGE.match(line):
                self.edges.append((m.group(1), m.group(2), m.group(3) or ""))

    def first_line(self, node: str) -> str:
        return self.labels[node].split("\n")[0]

    def named_edges(self) -> Counter[tuple[str, str]]:
        """Edges as (first line of the tail's label, first line of the head's)."""
        return Counter((self.first_line(a), self.first_line(b)) for a, b, _ in self.edges)

    def node(self, first_line: str) -> str:
        (found,) = [n for n in self.labels if self.first_line(n) == first_line]
        return found

    def inputs_of(self, node: str) -> list[str]:
        return [self.first_line(a) for a, b, _ in self.edges if b == node]


def _torch_edges(root) -> Counter[tuple[str, str]]:
    """(next function's class name, function's class name) for PyTorch's graph."""
    out: Counter[tuple[str, str]] = Counter()
    seen, stack = set(), [root]
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                out[(type(nxt).__name__, type(fn).__name__)] += 1
                stack.append(nxt)
    return out


def _function_edges(p: Parsed) -> Counter[tuple[str, str]]:
    """Edges between backward nodes only (not tensors)."""
    functions = {n for n in p.labels if n.startswith("n")}
    return Counter(
        (p.first_line(a), p.first_line(b))
        for a, b, _ in p.edges
        if a in functions and b in functions
    )


# ---- make_dot: the seed's loss -------------------------------------------------------------


def _seed_loss():
    x = tracer.tensor(DATA, requires_grad=True)
    return x, x**2 - 5


def test_seed_loss_draws_pytorchs_chain_from_leaf_to_output():
    x, loss = _seed_loss()
    p = Parsed(make_dot(loss, params={"x": x}))
    assert p.named_edges() == Counter(
        {
            ("x", "AccumulateGrad"): 1,
            ("AccumulateGrad", "PowBackward0"): 1,
            ("PowBackward0", "SubBackward0"): 1,
            ("SubBackward0", "(5,) float32"): 1,
        }
    )


def test_leaf_box_shows_name_shape_and_dtype():
    x, loss = _seed_loss()
    p = Parsed(make_dot(loss, params={"x": x}))
    assert p.labels[p.node("x")] == "x\n(5,) float32"


def test_seed_loss_graph_matches_pytorchs():
    torch = pytest.importorskip("torch")
    tx = torch.tensor(DATA, requires_grad=True)
    _, loss = _seed_loss()
    assert _function_edges(Parsed(make_dot(loss))) == _torch_edges((tx**2 - 5).grad_fn)


def test_show_attrs_lists_the_exponent_and_the_number_subtracted():
    _, loss = _seed_loss()
    p = Parsed(make_dot(loss, show_attrs=True))
    # PyTorch's PowBackward0 keeps `exponent` (2); the 5 is the second input of the sub
    assert p.labels[p.node("PowBackward0")] == "PowBackward0\nexponent: 2"
    assert p.labels[p.node("SubBackward0")] == "SubBackward0\ninput 1: 5"


def test_show_saved_draws_pows_input_and_exps_result_dotted():
    x = tracer.tensor(DATA, requires_grad=True)
    out = (x**2).exp()
    p = Parsed(make_dot(out, show_saved=True))
    saved = {
        p.first_line(b): p.labels[a]
        for a, b, attrs in p.edges
        if a.startswith("s") and "dotted" in attrs
    }
    # what PyTorch saves too: PowBackward0 its `self`, ExpBackward0 its `result`
    assert saved == {
        "PowBackward0": "input 0\n(5,) float32",
        "ExpBackward0": "result\n(5,) float32",
    }


def test_pytorch_saves_the_same_values():
    torch = pytest.importorskip("torch")
    x = torch.tensor(DATA, requires_grad=True)
    out = (x**2).exp()
    assert hasattr(out.grad_fn, "_saved_result")
    assert hasattr(out.grad_fn.next_functions[0][0], "_saved_self")


def test_show_saved_after_backward_says_the_values_were_freed():
    x, loss = _seed_loss()
    loss.sum().backward()
    p = Parsed(make_dot(loss, show_saved=True))
    assert "(saved values freed by backward)" in p.labels[p.node("PowBackward0")]
    assert not any(n.startswith("s") for n in p.labels)


def test_shared_leaf_gets_one_box_and_an_arrow_per_use():
    x = tracer.tensor(DATA, requires_grad=True)
    p = Parsed(make_dot(x * x))
    assert p.named_edges()[("AccumulateGrad", "MulBackward0")] == 2
    assert sum(1 for n in p.labels if p.first_line(n) == "AccumulateGrad") == 1


def test_several_roots_are_drawn_together():
    x = tracer.tensor(DATA, requires_grad=True)
    a, b = x.exp(), x.sin()
    p = Parsed(make_dot((a, b), params={"a": a, "b": b}))
    assert {("ExpBackward0", "a"), ("SinBackward0", "b")} <= set(p.named_edges())
    assert sum(1 for n in p.labels if p.first_line(n) == "AccumulateGrad") == 1


# ---- make_dot: an MLP ------------------------------------------------------------------------


def _mlp(lib):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(8, 16), lib.nn.ReLU(), lib.nn.Linear(16, 3))
    x = lib.randn(4, 8)
    y = lib.tensor([0, 2, 1, 2])
    return model, lib.nn.functional.cross_entropy(model(x), y)


def test_mlp_leaves_are_named_after_the_modules_parameters():
    model, loss = _mlp(tracer)
    p = Parsed(make_dot(loss, params=dict(model.named_parameters())))
    leaves = sorted(p.labels[n] for n in p.labels if n.startswith("l"))
    assert leaves == [
        "0.bias\n(16,) float32",
        "0.weight\n(16, 8) float32",
        "2.bias\n(3,) float32",
        "2.weight\n(3, 16) float32",
    ]


def _functional_mlp(lib):
    """The benchmark's MLP, written with matmuls (F.linear's nodes are checked elsewhere)."""
    lib.manual_seed(0)
    w1, b1 = lib.randn(8, 16, requires_grad=True), lib.zeros(16, requires_grad=True)
    w2, b2 = lib.randn(16, 3, requires_grad=True), lib.zeros(3, requires_grad=True)
    x, y = lib.randn(4, 8), lib.tensor([0, 2, 1, 2])
    h = lib.nn.functional.relu(x @ w1 + b1)
    return lib.nn.functional.cross_entropy(h @ w2 + b2, y)


def test_mlp_graph_has_pytorchs_nodes_and_edges():
    torch = pytest.importorskip("torch")
    loss, tloss = _functional_mlp(tracer), _functional_mlp(torch)
    assert _function_edges(Parsed(make_dot(loss))) == _torch_edges(tloss.grad_fn)


def test_mlp_every_parameter_reaches_the_loss():
    model, loss = _mlp(tracer)
    p = Parsed(make_dot(loss, params=dict(model.named_parameters())))
    succ: dict[str, list[str]] = {}
    for a, b, _ in p.edges:
        succ.setdefault(a, []).append(b)
    root = "t0"  # the loss
    for name, _ in model.named_parameters():
        node, seen = p.node(name), set()
        stack = [node]
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(succ.get(n, []))
        assert root in seen, name


# ---- make_dot: hooks and a detached branch ------------------------------------------------


def test_hooks_and_retain_grad_are_shown_and_a_detached_branch_is_not_drawn():
    x = tracer.tensor(DATA, requires_grad=True)

    def scale(g):
        return g * 10

    def log_grad(g):
        return None

    y = x * 2
    y.register_hook(scale)
    y.retain_grad()
    x.register_hook(log_grad)
    detached = x.detach() * 3  # no history: nothing of it is drawn
    z = (y + detached).sum()
    p = Parsed(make_dot(z, params={"x": x}))
    assert p.labels[p.node("MulBackward0")].split("\n")[1:] == ["hook: scale", "retains grad"]
    assert p.labels[p.node("x")] == "x\n(5,) float32\nhook: log_grad"
    assert p.inputs_of(p.node("AddBackward0")) == ["MulBackward0"]
    assert set(p.named_edges()) == {
        ("x", "AccumulateGrad"),
        ("AccumulateGrad", "MulBackward0"),
        ("MulBackward0", "AddBackward0"),
        ("AddBackward0", "SumBackward0"),
        ("SumBackward0", "() float32"),
    }


def test_detached_branch_matches_pytorchs_graph():
    torch = pytest.importorskip("torch")
    tx = torch.tensor(DATA, requires_grad=True)
    x = tracer.tensor(DATA, requires_grad=True)
    z = (x * 2 + x.detach() * 3).sum()
    tz = (tx * 2 + tx.detach() * 3).sum()
    assert _function_edges(Parsed(make_dot(z))) == _torch_edges(tz.grad_fn)


def test_a_traced_functions_output_shows_its_compiled_node():
    @tracer.trace
    def f(x):
        return (x**2 - 5).sum()

    x = tracer.tensor(DATA, requires_grad=True)
    p = Parsed(make_dot(f(x), params={"x": x}))
    assert set(p.named_edges()) == {
        ("x", "AccumulateGrad"),
        ("AccumulateGrad", "CompiledFunctionBackward"),
        ("CompiledFunctionBackward", "() float32"),
    }


def test_a_tensor_without_history_is_one_box():
    p = Parsed(make_dot(tracer.ones(2, 3)))
    assert list(p.labels.values()) == ["(2, 3) float32"] and p.edges == []


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_dot([1.0]), "draws tensors"),
        (lambda: make_dot(tracer.ones(2), params={"w": np.ones(2)}), "'w' is a ndarray"),
    ],
)
def test_make_dot_refuses_what_is_not_a_tensor(call, message):
    with pytest.raises(TypeError, match=message):
        call()


# ---- draw: traced functions ---------------------------------------------------------------

IR_LINE = re.compile(r"^\s+(?:let )?(.+?):(\S+) = (.+?)\s*(?:# (.+))?$")


def _ir_equations(text: str) -> list[str]:
    """The IR printer's equations, as `c = sub b 5.0\\nf32[5]\\nfile:line` box labels."""
    out = []
    for line in text.splitlines():
        m = IR_LINE.match(line)
        if m:
            lhs, aval, rhs, loc = m.groups()
            out.append(f"{lhs} = {rhs}\n{aval}" + (f"\n{loc}" if loc else ""))
    return out


@tracer.trace
def loss_fn(x):
    return (x**2 - 5).tanh().sum()


def test_forward_draws_one_box_per_equation_labelled_as_the_ir_prints_it():
    x = tracer.tensor(DATA, requires_grad=True)
    p = Parsed(loss_fn.draw(x))
    boxes = [p.labels[n] for n in p.labels if n.startswith("e")]
    assert boxes == _ir_equations(loss_fn.ir(x))


def test_forward_arrows_follow_the_values():
    x = tracer.tensor(DATA, requires_grad=True)
    p = Parsed(loss_fn.draw(x))
    assert p.named_edges() == Counter(
        {
            ("a: f32[5]", "b = mul a a"): 1,
            ("b = mul a a", "c = sub b 5.0"): 1,
            ("c = sub b 5.0", "d = tanh c"): 1,
            ("d = tanh c", "e = reduce_sum[axes=(0,)] d"): 1,
            ("e = reduce_sum[axes=(0,)] d", "output"): 1,
        }
    )
    assert p.labels[p.node("a: f32[5]")] == "a: f32[5]\nx"


def test_backward_draws_the_grad_ir():
    x = tracer.tensor(DATA, requires_grad=True)
    p = Parsed(loss_fn.draw(x, which="backward"))
    assert [p.labels[n] for n in p.labels if n.startswith("e")] == _ir_equations(loss_fn.grad_ir(x))
    outputs = [p.labels[n] for n in p.labels if n.startswith("o")]
    assert len(outputs) == 1 and outputs[0].startswith("gradient for x\n")


def test_joint_links_forward_residuals_into_the_backward_graph():
    x = tracer.tensor(DATA, requires_grad=True)
    p = Parsed(loss_fn.draw(x, which="joint"))
    forward = [p.labels[n] for n in p.labels if n.startswith("fe")]
    backward = [p.labels[n] for n in p.labels if n.startswith("be")]
    assert forward == _ir_equations(loss_fn.forward_ir(x))
    assert backward == _ir_equations(loss_fn.grad_ir(x))
    residual_edges = [(a, b) for a, b, attrs in p.edges if "darkorange" in attrs]
    assert residual_edges and all(
        a.startswith("f") and b.startswith("be") for a, b in residual_edges
    )
    # every backward input that is not a cotangent comes from the forward graph
    backward_inputs = [p.labels[n] for n in p.labels if n.startswith("bi")]
    assert all("gradient of" in label for label in backward_inputs)


def _mlp_step():
    def mlp(params, x, y):
        h = F.relu(x @ params["w1"] + params["b1"])
        return F.cross_entropy(h @ params["w2"] + params["b2"], y)

    tracer.manual_seed(0)
    params = {
        "w1": tracer.randn(8, 16),
        "b1": tracer.zeros(16),
        "w2": tracer.randn(16, 3),
        "b2": tracer.zeros(3),
    }
    return tracer.value_and_grad(mlp), (params, tracer.randn(4, 8), tracer.tensor([0, 1, 2, 0]))


def test_value_and_grad_joint_names_inputs_and_gradients():
    step, args = _mlp_step()
    p = Parsed(step.draw(*args, which="joint"))
    inputs = sorted(p.labels[n].split("\n")[1] for n in p.labels if n.startswith("i"))
    outputs = sorted(p.labels[n].split("\n")[0] for n in p.labels if n.startswith("o"))
    assert inputs == ["params['b1']", "params['b2']", "params['w1']", "params['w2']", "x", "y"]
    assert outputs == [
        "gradient for params['b1']",
        "gradient for params['b2']",
        "gradient for params['w1']",
        "gradient for params['w2']",
        "value",
    ]
    assert [p.labels[n] for n in p.labels if n.startswith("e")] == _ir_equations(step.ir(*args))


def test_value_and_grad_has_no_separate_backward():
    step, args = _mlp_step()
    with pytest.raises(ValueError, match="which='joint'"):
        step.draw(*args, which="backward")


def test_which_must_be_one_of_three():
    x = tracer.tensor(DATA)
    with pytest.raises(ValueError, match="forward, backward, joint"):
        loss_fn.draw(x, which="sideways")


def test_compiled_groups_equations_by_the_kernels_items():
    step, args = _mlp_step()
    p = Parsed(step.draw(*args, which="joint", compiled=True))
    entry, _ = step._entry(args, {})
    plan = plan_graph(step._joint(entry)[1])
    items = [it for it in plan.items if isinstance(it, (Nest, KernelCall))]
    assert len(p.cluster_labels) == len(items)
    # each cluster holds the equations of one item, in the item's order
    by_cluster: dict[str, list[str]] = {}
    for n, c in p.cluster_of.items():
        by_cluster.setdefault(c, []).append(p.first_line(n))
    expected = []
    for it in items:
        eqns = (
            [s for s in it.steps if not isinstance(s, Copy)] if isinstance(it, Nest) else [it.eqn]
        )
        expected.append(len(eqns))
    assert [len(v) for v in by_cluster.values()] == expected


def test_compiled_shows_matmuls_as_kernel_calls_and_decomposes_composites():
    step, args = _mlp_step()
    plain = Parsed(step.draw(*args, which="joint"))
    compiled = Parsed(step.draw(*args, which="joint", compiled=True))
    kernel_boxes = [
        compiled.first_line(n)
        for n, c in compiled.cluster_of.items()
        if compiled.cluster_labels[c].startswith("kernel call")
    ]
    # forward x @ w1 and h @ w2; backward the gradients for w2, h and w1 (none for x)
    assert sum(" = matmul " in line for line in kernel_boxes) == 5
    assert any(" = log_softmax" in p for p in map(plain.first_line, plain.labels))
    assert not any(" = log_softmax" in p for p in map(compiled.first_line, compiled.labels))
    assert any("part of log_softmax" in label for label in compiled.labels.values())


def test_compiled_fuses_the_seed_loss_into_one_loop_nest():
    x = tracer.tensor(DATA)
    p = Parsed(loss_fn.draw(x, compiled=True))
    equations = [n for n in p.labels if n.startswith("e")]
    assert len(p.cluster_labels) == 1
    assert {p.cluster_of.get(n) for n in equations} == set(p.cluster_labels)
    assert list(p.cluster_labels.values())[0].startswith("loop nest 1 over (5)")


# ---- Drawing: rendering and files -------------------------------------------------------


def _needs_dot():
    pytest.importorskip("graphviz", reason="the graphviz package ([viz] extra) is not installed")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed (.ci/run installs it)")


@pytest.mark.parametrize(
    "suffix, magic",
    [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")],
)
def test_save_writes_the_format_its_suffix_names(tmp_path, suffix, magic):
    _needs_dot()
    _, loss = _seed_loss()
    path = make_dot(loss).save(tmp_path / f"seed.{suffix}")
    data = open(path, "rb").read()
    assert path == str(tmp_path / f"seed.{suffix}") and data.startswith(magic)


def test_svg_holds_the_boxes_text(tmp_path):
    _needs_dot()
    x, loss = _seed_loss()
    svg = make_dot(loss, params={"x": x})._repr_svg_()
    for text in ("SubBackward0", "PowBackward0", "AccumulateGrad", "(5,) float32"):
        assert text in svg


def test_ir_drawing_renders(tmp_path):
    _needs_dot()
    step, args = _mlp_step()
    svg = step.draw(*args, which="joint", compiled=True)._repr_mimebundle_()["image/svg+xml"]
    assert svg.lstrip().startswith("<?xml") and "loop nest" in svg


def test_render_adds_the_formats_suffix_as_torchviz_users_expect(tmp_path):
    _needs_dot()
    _, loss = _seed_loss()
    path = make_dot(loss).render(tmp_path / "graph", format="png")
    assert path == str(tmp_path / "graph.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.png"]


def test_dot_suffix_writes_the_dot_text_without_graphviz(tmp_path):
    _, loss = _seed_loss()
    d = make_dot(loss)
    d.save(tmp_path / "seed.dot")
    assert (tmp_path / "seed.dot").read_text() == d.source


def test_unknown_suffix_is_refused(tmp_path):
    _, loss = _seed_loss()
    with pytest.raises(ValueError, match="cannot tell the picture format"):
        make_dot(loss).save(tmp_path / "seed.txt")
    assert list(tmp_path.iterdir()) == []


def test_without_the_graphviz_package_rendering_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz raises ImportError
    _, loss = _seed_loss()
    d = make_dot(loss)
    with pytest.raises(VizUnavailable, match=r"tracegrad\[viz\]"):
        d.save(tmp_path / "seed.svg")
    assert "SubBackward0" in d.source  # the DOT text needs nothing
    assert list(tmp_path.iterdir()) == []


def test_without_the_dot_program_rendering_says_how_to_install_it(monkeypatch, tmp_path):
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `dot`
    _, loss = _seed_loss()
    with pytest.raises(VizUnavailable, match="`dot` program"):
        make_dot(loss)._repr_svg_()


def test_repr_says_what_is_drawn():
    x, loss = _seed_loss()
    assert repr(make_dot(loss, params={"x": x})) == (
        "<Drawing of the autograd graph of a (5,) float32 tensor: 5 nodes, 4 edges>"
    )


# ---- the README's pictures -------------------------------------------------------------


@pytest.mark.parametrize("name", ["seed_dag.svg", "seed_trace.svg"])
def test_committed_readme_picture_shows_what_the_library_draws(name):
    """docs/<name> was made by docs/pictures.py: it still has the drawing's boxes, text
    and arrows (compared as text, whatever Graphviz version rendered it)."""
    import html
    from pathlib import Path

    docs = Path(tracer.__file__).resolve().parents[1] / "docs"
    sys.path.insert(0, str(docs))
    try:
        import pictures
    finally:
        sys.path.remove(str(docs))
    drawing = pictures.PICTURES[name]()
    svg = html.unescape((docs / name).read_text())
    assert svg.count('class="node"') == drawing.nodes
    assert svg.count('class="edge"') == drawing.edges
    for label in Parsed(drawing).labels.values():
        for line in label.split("\n"):
            assert f">{line}</text>" in svg, line
