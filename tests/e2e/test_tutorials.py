"""Typical PyTorch tutorial programs run unchanged with `import tracer as torch`.

Each program in tests/e2e/tutorials/ is written once, for `torch`. It runs with PyTorch
(the oracle; skipped when absent) and with tracer in its place (the one import changed),
in a scratch directory. Both must print the same lines, numbers equal to the printed
precision (full-precision floats of float32 values, as `loss.item()` prints them, within
float32 rounding), and end with the same parameters.

What is normalised before comparing: object addresses (`at 0x...`) and the library's
own name (`tracer.Size(...)`, `tracer.float32`, `tracer.autograd.function...`: PyTorch
prints `torch.`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from tutorial_runner import run_program

import tracer

TUTORIALS = Path(__file__).parent / "tutorials"
PROGRAMS = sorted(p.stem for p in TUTORIALS.glob("*.py"))
NUMBER = re.compile(r"-?\d+\.\d*(?:e[-+]?\d+)?|-?\d+e[-+]?\d+")


def normalise(text: str) -> str:
    text = re.sub(r" at 0x[0-9a-f]+", " at 0x?", text)
    return re.sub(r"\btracer\.", "torch.", text)


def close(a: str, b: str) -> bool:
    """Two printed numbers agree to the precision printed: within one unit of the last
    digit, or, for more digits than float32 holds, within float32 rounding."""
    x, y = float(a), float(b)
    digits = len(a.split("e")[0].replace("-", "").replace(".", "").lstrip("0"))
    if digits > 8:  # a float32 value printed in full: a few float32 ulps apart
        return abs(x - y) <= 1e-5 * max(abs(x), abs(y)) + 1e-6
    decimals = len(a.split("e")[0].split(".")[1]) if "." in a else 0
    exponent = int(a.split("e")[1]) if "e" in a else 0
    return abs(x - y) <= 1.01 * 10.0 ** (exponent - decimals)


def assert_same_output(expected: str, got: str) -> None:
    exp_lines, got_lines = normalise(expected).splitlines(), normalise(got).splitlines()
    assert len(got_lines) == len(exp_lines), f"torch printed:\n{expected}\ntracer:\n{got}"
    for e, g in zip(exp_lines, got_lines):
        same_words = NUMBER.split(e) == NUMBER.split(g)
        ne, ng = NUMBER.findall(e), NUMBER.findall(g)
        assert same_words and len(ne) == len(ng), f"\ntorch:  {e}\ntracer: {g}"
        assert all(close(a, b) for a, b in zip(ne, ng)), f"\ntorch:  {e}\ntracer: {g}"


def final_values(namespace: dict, lib) -> dict[str, np.ndarray]:
    """Every tensor and every module's state left in the program's namespace."""
    values = {}
    for name, v in namespace.items():
        if isinstance(v, lib.nn.Module):
            for key, t in v.state_dict().items():
                values[f"{name}.{key}"] = t.detach().numpy()
        elif isinstance(v, lib.Tensor):
            values[name] = v.detach().numpy()
    return values


@pytest.mark.parametrize("program", PROGRAMS)
def test_tutorial_prints_and_ends_as_under_pytorch(program, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    path = TUTORIALS / f"{program}.py"
    (tmp_path / "torch").mkdir()
    (tmp_path / "tracer").mkdir()
    monkeypatch.chdir(tmp_path / "torch")
    expected, torch_ns = run_program(path, "torch")
    monkeypatch.chdir(tmp_path / "tracer")
    got, tracer_ns = run_program(path, "tracer")

    assert_same_output(expected, got)
    want, have = final_values(torch_ns, torch), final_values(tracer_ns, tracer)
    assert sorted(have) == sorted(want)
    for name in want:
        np.testing.assert_allclose(have[name], want[name], rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize(
    "line, rewritten",
    [
        ("import torch", "import tracer as torch"),
        ("import torch.nn as nn", "import tracer.nn as nn"),
        ("from torch import nn", "from tracer import nn"),
        ("from torch.utils.data import DataLoader", "from tracer.utils.data import DataLoader"),
        ("import torchvision", "import torchvision"),
    ],
)
def test_the_runner_changes_only_the_torch_imports(line, rewritten):
    from tutorial_runner import to_tracer

    assert to_tracer(line) == rewritten + "\n"
