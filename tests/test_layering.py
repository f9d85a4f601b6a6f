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


def module_imports(path: pathlib.Path, known: set[str]) -> set[str]:
    """Modules of `known` that a file imports (at module level or inside functions;
    imports under `if TYPE_CHECKING:` are for annotations and do not run)."""
    tree = ast.parse(path.read_text(), str(path))
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:  # `from tracer import autograd` imports a module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found & known


def import_cycles(package: str) -> list[list[str]]:
    """Cycles among the modules of a package (its __init__, which gathers the public
    names, left out)."""
    names = {m for m in modules(package) if m != package}
    graph = {
        m: sorted(module_imports(ROOT / (m.replace(".", "/") + ".py"), names) - {m})
        for m in sorted(names)
        if (ROOT / (m.replace(".", "/") + ".py")).exists()
    }
    cycles, state = [], {}  # state: 1 = on the current path, 2 = done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in graph.get(m, ()):
            if state.get(n) == 1:
                cycles.append(path[path.index(n) :] + [n])
            elif n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    return cycles


@pytest.mark.parametrize("package", ["tracer", "runtime"])
def test_modules_of_a_package_import_each_other_without_cycles(package: str):
    assert import_cycles(package) == []


def test_cycle_finder_sees_a_cycle_through_a_function_level_import(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a import g\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert import_cycles("pkg") == [["pkg.a", "pkg.b", "pkg.a"]]
