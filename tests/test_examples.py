"""The examples run end to end, with few steps, and print what they promise.

Each runs in a subprocess against this checkout's packages (PYTHONPATH), whatever
optional packages (scikit-learn, matplotlib) happen to be installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NUMBER = r"(-?\d+\.?\d*(?:e[-+]?\d+)?)"


def run_example(name: str, *args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
        ),
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_tour_prints_the_notebook_gradient_eagerly_traced_and_from_value_and_grad():
    out = run_example("tour.py")
    notebook_grad = "tensor([-2.4730,  3.6490, -2.1402,  0.1738, -0.0752])"
    assert (
        out.count(notebook_grad),
        "grad_fn=<CompiledFunctionBackward>" in out,
        "reduce_sum" in out,
    ) == (3, True, True)


def test_linear_regression_recovers_the_true_parameters():
    out = run_example("linear_regression.py", "--steps", "40")
    losses = [float(v) for v in re.findall(rf"loss {NUMBER}", out)]
    w = [float(v) for v in re.search(r"learned w \[(.*?)\]", out).group(1).split(",")]
    b = float(re.search(rf"learned b {NUMBER}", out).group(1))
    assert losses[-1] < 1e-3 < losses[0]
    assert w == pytest.approx([2.0, -3.4, 1.7], abs=0.01)
    assert b == pytest.approx(4.2, abs=0.01)


def test_train_mlp_learns_with_both_steps(tmp_path):
    plot = tmp_path / "loss.png"
    out = run_example("train_mlp.py", "--steps", "40", "--plot", str(plot))
    data = re.search(r"^data: (.*)$", out, re.M).group(1)
    has_sklearn = importlib.util.find_spec("sklearn") is not None
    assert data.startswith("scikit-learn digits" if has_sklearn else "synthetic data")

    rows = {}
    for label in ("eager", "value_and_grad"):
        row = re.search(
            rf"^{label} +{NUMBER} +{NUMBER} +{NUMBER} -> {NUMBER} +{NUMBER}%$", out, re.M
        )
        assert row, f"no summary row for {label} in:\n{out}"
        rows[label] = [float(v) for v in row.groups()]
    for label, (ms, first_ms, first_loss, last_loss, accuracy) in rows.items():
        assert ms > 0 and first_ms > 0, label
        assert last_loss < 0.6 * first_loss, label
        assert accuracy > 50, label  # chance is 10%
    assert "step    40/40" in out

    if importlib.util.find_spec("matplotlib") is not None:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "matplotlib is not installed" in out and not plot.exists()


def test_train_classifier_learns_and_resumes_from_its_checkpoint(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    out = run_example("train_classifier.py", "--epochs", "2", "--checkpoint", str(ckpt))
    acc = [float(a) for a in re.findall(r"test accuracy " + NUMBER, out)]
    # learned (10 classes: chance is 0.1); the loaded model is the saved one, exactly
    assert (len(acc), acc[0] > 0.5, acc[1] == acc[0], ckpt.exists()) == (3, True, True, True)
    assert "Sequential(\n  (0): Linear(in_features=64, out_features=64, bias=True)" in out
