"""The example notebooks, executed in a real Jupyter kernel, every output checked.

* examples/autograd_notebook.ipynb replays the seed notebook
  (shared/seed/autograd_notebook.md) with `import tracer as torch`: each of its cells
  shows what the seed printed, character for character (`<SubBackward0 at 0x...>`
  up to the address), and shows nothing where the seed showed nothing.
* examples/compiled_mode.ipynb walks through @tracer.trace, the IR, value_and_grad,
  drawings and the benchmark harness; its outputs are checked against the seed's
  numbers, the IR printer run in this process, a float64 numpy MLP, and PyTorch when
  installed.

The kernel runs this checkout's library (PYTHONPATH), in a temporary directory, with
compile progress notes off. Needs nbclient and ipykernel (the [test] extra).
"""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tracer

nbformat = pytest.importorskip("nbformat", reason="nbformat/nbclient are not installed ([test])")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (the [test] extra)")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (the [test] extra)")
pytest.importorskip("graphviz", reason="the notebooks draw graphs: graphviz is not installed")
if shutil.which("dot") is None:
    pytest.skip(
        "the notebooks draw graphs: Graphviz's dot program is not installed (.ci/run installs it)",
        allow_module_level=True,
    )

ROOT = Path(tracer.__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = [-1.2365, 1.8245, -1.0701, 0.0869, -0.0376]


def _execute(name: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    for cell in nb.cells:  # run from scratch, not from the outputs stored in the file
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("TRACER_PROGRESS", "0")  # a long compile's note would be an output
    monkeypatch.delenv("TRACER_DISABLE_JIT", raising=False)
    client = nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


class Cells:
    """The executed notebook's code cells by id, with their outputs."""

    def __init__(self, nb: Any) -> None:
        self.cells = {c.id: c for c in nb.cells if c.cell_type == "code"}
        self.order = [c.id for c in nb.cells if c.cell_type == "code"]

    def outputs(self, cid: str) -> list[Any]:
        return self.cells[cid].outputs

    def result(self, cid: str, mime: str = "text/plain") -> str:
        """The cell's displayed value (its one execute_result)."""
        (out,) = [o for o in self.outputs(cid) if o.output_type == "execute_result"]
        return out.data[mime]

    def stdout(self, cid: str) -> str:
        return "".join(o.text for o in self.outputs(cid) if o.output_type == "stream")

    def count(self, cid: str) -> int:
        return self.cells[cid].execution_count


def _no_errors_or_stderr(cells: Cells) -> None:
    for cid in cells.order:
        for o in cells.outputs(cid):
            assert o.output_type != "error", f"{cid}: {o.get('ename')}: {o.get('evalue')}"
            assert not (o.output_type == "stream" and o.name == "stderr"), f"{cid}: {o.text}"


def _only(outputs: list[Any], kind: str) -> Any:
    (out,) = outputs
    assert out.output_type == kind
    return out


# ---- the seed notebook -------------------------------------------------------------------

# The seed's code cells in order, each with what the seed printed (None: nothing), as
# shown in shared/seed/autograd_notebook.md. The first is the one change the replay makes.
SEED_CELLS: list[tuple[str, str, str | None]] = [
    ("in15-import", "import tracer as torch", None),
    ("in16-x", "x = torch.tensor([-1.2365, 1.8245, -1.0701, 0.0869, -0.0376])", None),
    ("in17-loss", "loss = x**2 -5", None),
    ("in18-show-loss", "loss", "tensor([-3.4711, -1.6712, -3.8549, -4.9924, -4.9986])"),
    (
        "in19-x-grad",
        "x = torch.tensor([-1.2365, 1.8245, -1.0701, 0.0869, -0.0376], requires_grad=True)",
        None,
    ),
    ("in20-loss", "loss = x**2 -5", None),
    (
        "in21-show-loss",
        "loss",
        "tensor([-3.4711, -1.6712, -3.8549, -4.9924, -4.9986], grad_fn=<SubBackward0>)",
    ),
    ("in22-grad-fn", "loss.grad_fn", "<SubBackward0 at 0x24100f72d00>"),
    ("in23-backward", "loss.backward(gradient=torch.ones(5))", None),
    ("in24-grad", "x.grad", "tensor([-2.4730,  3.6490, -2.1402,  0.1738, -0.0752])"),
    (
        "in25-two-x",
        "2 * x",
        "tensor([-2.4730,  3.6490, -2.1402,  0.1738, -0.0752], grad_fn=<MulBackward0>)",
    ),
    ("in26-rand", "a = torch.rand(2,2, requires_grad=True)", None),
    ("in27-requires-grad", "a.requires_grad", "True"),
    ("in28-detach", "b = a.detach()", None),
    ("in29-detached-requires-grad", "b.requires_grad", "False"),
    ("in30-rand", "c = torch.rand(2,2, requires_grad=True)", None),
    (
        "in31-no-grad",
        "with torch.no_grad():\n    loss =c ** 2\n    print(loss.requires_grad)",
        "False\n",  # printed, not displayed
    ),
]
ADDED = ["tracegrad-make-dot", "tracegrad-seeded-rand"]


@pytest.fixture(scope="module")
def seed_notebook(tmp_path_factory: pytest.TempPathFactory) -> Cells:
    with pytest.MonkeyPatch.context() as mp:
        return Cells(_execute("autograd_notebook.ipynb", tmp_path_factory.mktemp("nb"), mp))


def test_seed_cells_appear_verbatim_in_order_with_only_the_drawing_and_seed_added(seed_notebook):
    sources = [(cid, seed_notebook.cells[cid].source) for cid in seed_notebook.order]
    assert [s for s in sources if s[0] not in ADDED] == [(c, s) for c, s, _ in SEED_CELLS]


@pytest.mark.parametrize("cid, source, printed", SEED_CELLS, ids=[c[0] for c in SEED_CELLS])
def test_seed_cell_shows_what_the_seed_printed(seed_notebook, cid, source, printed):
    outputs = seed_notebook.outputs(cid)
    if printed is None:
        assert outputs == []
    elif cid == "in31-no-grad":
        assert _only(outputs, "stream").text == printed
    elif cid == "in22-grad-fn":
        # the seed's address is its own process's; the form is IPython's
        shown = _only(outputs, "execute_result").data["text/plain"]
        assert re.fullmatch(r"<SubBackward0 at 0x[0-9a-f]+>", shown)
        assert re.sub(r"0x[0-9a-f]+", "0x24100f72d00", shown) == printed
    else:
        assert _only(outputs, "execute_result").data["text/plain"] == printed


def test_seed_notebook_has_no_errors_and_nothing_on_stderr(seed_notebook):
    _no_errors_or_stderr(seed_notebook)


def test_make_dot_cell_shows_the_dag_as_svg(seed_notebook):
    svg = html.unescape(seed_notebook.result("tracegrad-make-dot", "image/svg+xml"))
    for text in ("SubBackward0", "PowBackward0", "AccumulateGrad", "exponent: 2", "x"):
        assert f">{text}</text>" in svg
    assert seed_notebook.result("tracegrad-make-dot") == (
        "<Drawing of the autograd graph of a (5,) float32 tensor: 5 nodes, 4 edges>"
    )


def test_seeded_rand_shows_pytorchs_numbers(seed_notebook):
    shown = seed_notebook.result("tracegrad-seeded-rand")
    try:
        import torch
    except ImportError:
        assert re.fullmatch(
            r"tensor\(\[\[0\.\d{4}, 0\.\d{4}\],\n        \[0\.\d{4}, 0\.\d{4}\]\], "
            r"requires_grad=True\)",
            shown,
        )
        return
    torch.manual_seed(0)
    assert shown == repr(torch.rand(2, 2, requires_grad=True))


def test_every_seed_notebook_cell_is_checked(seed_notebook):
    assert set(seed_notebook.order) == {c for c, _, _ in SEED_CELLS} | set(ADDED)


# ---- compiled mode ------------------------------------------------------------------------


def loss_fn(x):  # the notebook's, named alike (generated modules are named after it)
    return x**2 - 5


def _in_cell(text: str, line_here: int, cell: str) -> str:
    """IR text traced here, with this file's line as the notebook cell's line 3."""
    return text.replace(f"test_notebooks.py:{line_here}", f"{cell}:3")


def _mlp_value_float64() -> float:
    """The notebook's MLP loss, recomputed in float64 numpy from the same draws."""
    tracer.manual_seed(0)
    w1 = tracer.randn(8, 16).numpy().astype(np.float64) * 0.3
    w2 = tracer.randn(16, 3).numpy().astype(np.float64) * 0.3
    x = tracer.randn(32, 8).numpy().astype(np.float64)
    y = tracer.randint(0, 3, (32,)).numpy()
    logits = np.maximum(x @ w1, 0) @ w2
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(32), y].mean())


def _check_trace_call(c: Cells, cwd: Path) -> None:
    # the seed's numbers (In [21]), from a traced function; PyTorch wraps the line the same
    # way for a node of this name (see test_compiled_loss_prints_as_pytorch_would)
    assert c.result("trace-call") == (
        "tensor([-3.4711, -1.6712, -3.8549, -4.9924, -4.9986],\n"
        "       grad_fn=<CompiledFunctionBackward>)"
    )


def _check_trace_backward(c: Cells, cwd: Path) -> None:
    assert c.result("trace-backward") == "tensor([-2.4730,  3.6490, -2.1402,  0.1738, -0.0752])"


def _check_describe(c: Cells, cwd: Path) -> None:
    n = c.count("trace-call")
    assert re.fullmatch(
        rf"<traced function loss_fn defined at In\[{n}\]:1>\n"
        r"signature: loss_fn\(x\)\n"
        r"calls: 1 \(0 hits, 1 misses\); traced in \S+ s, compiled in \S+ s\n"
        r"compiled for 1 input signature:\n"
        r"  \(x: f32\[5\] \(requires grad\)\)",
        c.result("describe"),
    )
    assert "<b>traced function</b> <code>loss_fn(x)</code>" in c.result("describe", "text/html")


def _check_ir(c: Cells, cwd: Path) -> None:
    x = tracer.tensor(DATA, requires_grad=True)
    f = tracer.trace(loss_fn)
    line = loss_fn.__code__.co_firstlineno + 1
    cell = f"In[{c.count('trace-call')}]"
    assert c.result("ir") == _in_cell(f.ir(x), line, cell)
    assert f"# {cell}:3" in c.result("ir")


def _check_grad_ir(c: Cells, cwd: Path) -> None:
    x = tracer.tensor(DATA, requires_grad=True)
    f = tracer.trace(loss_fn)
    line = loss_fn.__code__.co_firstlineno + 1
    assert c.result("grad-ir") == _in_cell(f.grad_ir(x), line, f"In[{c.count('trace-call')}]")


def _svg_text(c: Cells, cid: str) -> str:
    svg = c.result(cid, "image/svg+xml")
    assert svg.lstrip().startswith("<?xml")
    return html.unescape(svg)


def _check_draw_forward(c: Cells, cwd: Path) -> None:
    # one box per input, equation and output of the IR above, one arrow per value use
    assert c.result("draw-forward") == "<Drawing of the forward graph of loss_fn: 4 nodes, 3 edges>"
    svg = _svg_text(c, "draw-forward")
    for text in ("b = mul a a", "c = sub b 5.0", f"In[{c.count('trace-call')}]:3", "x"):
        assert f">{text}</text>" in svg


def _check_draw_joint(c: Cells, cwd: Path) -> None:
    assert c.result("draw-joint").startswith("<Drawing of the forward and backward graphs")
    svg = _svg_text(c, "draw-joint")
    for text in ("forward (also returns residuals for backward)", "backward", "gradient for x"):
        assert f">{text}</text>" in svg


def _check_source(c: Cells, cwd: Path) -> None:
    f = tracer.trace(loss_fn)
    assert c.stdout("source") == f.source(tracer.tensor(DATA)) + "\n"


def _check_vag_call(c: Cells, cwd: Path) -> None:
    shown = c.result("vag-call")
    assert re.fullmatch(r"tensor\(\d\.\d{4}\)", shown)
    assert float(shown[7:-1]) == pytest.approx(_mlp_value_float64(), abs=1e-4)


def _check_vag_check(c: Cells, cwd: Path) -> None:
    assert c.stdout("vag-check") == "True\nTrue\n"


def _check_draw_compiled(c: Cells, cwd: Path) -> None:
    assert re.fullmatch(
        r"<Drawing of the joint value-and-gradient graph of mlp: \d+ nodes, \d+ edges>",
        c.result("draw-compiled"),
    )
    svg = _svg_text(c, "draw-compiled")
    for text in ("kernel call 1: matmul", "part of log_softmax", "gradient for params['w1']"):
        assert f">{text}</text>" in svg
    assert re.search(r">loop nest \d+ over \(32, 16\): \d+ ops?</text>", svg)


def _check_cache_info(c: Cells, cwd: Path) -> None:
    assert re.fullmatch(
        r"CacheInfo\(hits=0, misses=1, trace_seconds=\S+, compile_seconds=\S+, entries=1\)",
        c.result("cache-info"),
    )


def _check_bench_run(c: Cells, cwd: Path) -> None:
    out = c.stdout("bench-run")
    steady = ("notebook-5", "notebook-1e3", "chain-1e3", "mlp-b16", "spring-t10", "rnn-t4")
    for case in (*steady, "first-call-notebook-5"):
        assert re.search(rf"^{re.escape(case)}  ", out, re.M), case
    # each case's compiled row (two for first-call: cold and warm cache) passed its check
    ok = r"^  tracer compiled(?:, (?:cold|warm) cache)?  .*  ok \(error [0-9e.+-]+\)$"
    assert len(re.findall(ok, out, re.M)) == len(steady) + 2
    assert out.rstrip().endswith("wrote bench.png")


def _check_bench_plot(c: Cells, cwd: Path) -> None:
    png = base64.b64decode(c.result("bench-plot", "image/png"))
    assert png.startswith(b"\x89PNG") and png == (cwd / "bench.png").read_bytes()


COMPILED_CHECKS: dict[str, Callable[[Cells, Path], None]] = {
    "trace-call": _check_trace_call,
    "trace-backward": _check_trace_backward,
    "describe": _check_describe,
    "ir": _check_ir,
    "grad-ir": _check_grad_ir,
    "draw-forward": _check_draw_forward,
    "draw-joint": _check_draw_joint,
    "source": _check_source,
    "vag-call": _check_vag_call,
    "vag-check": _check_vag_check,
    "draw-compiled": _check_draw_compiled,
    "cache-info": _check_cache_info,
    "bench-run": _check_bench_run,
    "bench-plot": _check_bench_plot,
}


def test_compiled_notebook_runs_and_every_output_is_right(tmp_path, monkeypatch):
    """One test, so that the notebook (with its benchmark run) executes once even when
    pytest-xdist spreads tests over workers; each cell's check is reported by name."""
    cells = Cells(_execute("compiled_mode.ipynb", tmp_path, monkeypatch))
    _no_errors_or_stderr(cells)
    assert {cid for cid in cells.order if cells.outputs(cid)} == set(COMPILED_CHECKS)
    failed = {}
    for cid, check in COMPILED_CHECKS.items():
        try:
            check(cells, tmp_path)
        except AssertionError as e:
            failed[cid] = f"{e}"
    assert not failed, "\n\n".join(f"cell {cid}: {msg}" for cid, msg in failed.items())


def test_compiled_loss_prints_as_pytorch_would():
    torch = pytest.importorskip("torch")

    class CompiledFunction(torch.autograd.Function):  # its node: CompiledFunctionBackward
        @staticmethod
        def forward(ctx, x):
            return x**2 - 5

        @staticmethod
        def backward(ctx, g):
            return g

    x = torch.tensor(DATA, requires_grad=True)
    assert repr(CompiledFunction.apply(x)) == (
        "tensor([-3.4711, -1.6712, -3.8549, -4.9924, -4.9986],\n"
        "       grad_fn=<CompiledFunctionBackward>)"
    )
