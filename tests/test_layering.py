"""Dependencies go one way, tracer -> compiler -> runtime: `compiler` never imports
`tracer`, and `runtime` imports neither (numpy and numba only).

Checked twice: statically (every import statement in the source, including imports
inside functions), and at run time (importing every module of a package in a fresh
interpreter loads none of the forbidden packages)."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORBIDDEN = {"compiler": {"tracer"}, "runtime": {"compiler", "tracer"}}


def imported_packages(path: pathlib.Path) -> set[str]:
    """Top-level packages named by the import statements of a file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value).split(".")[0])
    return names


def modules(package: str) -> list[str]:
    base = ROOT / package
    return [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in sorted(base.rglob("*.py"))
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_source_imports_respect_layering(package: str):
    bad = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        wrong = imported_packages(path) & FORBIDDEN[package]
        if wrong:
            bad[str(path.relative_to(ROOT))] = sorted(wrong)
    assert bad == {}


def test_import_checker_sees_function_level_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from tracer.tensor import Tensor\n    import compiler.ir\n")
    assert imported_packages(f) == {"tracer", "compiler"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_importing_a_package_loads_no_higher_layer(package: str):
    code = textwrap.dedent(f"""
        import importlib, sys
        for name in {modules(package)!r}:
            importlib.import_module(name)
        loaded = sorted(m for m in sys.modules
                        if m.split(".")[0] in {sorted(FORBIDDEN[package])!r})
        print(loaded)
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
