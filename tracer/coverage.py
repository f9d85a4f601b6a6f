"""How much of PyTorch's API tracer implements: `python -m tracer.coverage`.

Compares the public names of five PyTorch namespaces (Tensor methods and attributes,
`torch.*`, `torch.nn.functional.*`, `torch.linalg.*` and the `torch.nn` classes) with
tracer's, and prints the counts and the missing names. Names of features outside a CPU
float library (CUDA and other devices, quantization, sparse and complex tensors, ...)
are counted apart as out of scope, by the patterns in `OUT_OF_SCOPE`.

PyTorch's names come from the installed torch when there is one, otherwise from the
list stored in `compiler/torch_api.py` (PyTorch 2.13). `--write` (needs torch) stores
the installed torch's names there and writes docs/coverage.md.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
import types
from typing import Any

import tracer
from compiler import torch_api

__all__ = ["OUT_OF_SCOPE", "Report", "pytorch_names", "report"]

#: names matching these are out of scope: other devices and backends, quantized,
#: sparse, nested and complex tensors, dispatch and compiler internals
OUT_OF_SCOPE = re.compile(
    r"cuda|cudnn|mkldnn|miopen|mps|xpu|hpu|ipu|mtia|vulkan|xla|fbgemm|quantiz|q_|qint|"
    r"quint|qscheme|sparse|crow|ccol|nested|jagged|complex|cfloat|cdouble|chalf|conj|"
    r"real$|imag$|bits|float8|float4|uint[1-7]$|int[1-7]$|bfloat16|torch_function|"
    r"dispatch|^compile|compiler|export|^fx|^jit|^onnx|^vmap|^cond$|functorch|"
    r"storage|pin_memory|is_pinned|share_memory|shared|ipc|rpc|dlpack|tensorrt|"
    r"lazy|meta$|is_meta|^ao$|^_|batch_norm_|fused_|native_|channel_shuffle|"
    r"grouped_mm|scaled_mm|nnpack|^rnn_|_cell$|^lstm|^gru|^quantized|^fake|"
    r"deterministic|warn_always|vitals|autocast|hardshrink_backward|^sym_|^Sym"
)

#: typing and dispatch helpers that torch.nn.functional exposes but are not its API
_NOT_API = {
    "boolean_dispatch",
    "handle_torch_function",
    "has_torch_function",
    "has_torch_function_unary",
    "has_torch_function_variadic",
    "assert_int_or_pair",
}

#: the classes of the torch namespace that are user API; its other classes are
#: TorchScript, storage and dispatch internals and are not counted at all
_TORCH_CLASSES = {
    "Tensor", "Size", "dtype", "device", "finfo", "iinfo", "Generator", "layout",
    "memory_format", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor",
    "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor",
}  # fmt: skip

_ROOT = pathlib.Path(__file__).resolve().parent.parent


def _public(obj: Any, keep: Any = lambda v: True) -> list[str]:
    out = []
    for n in dir(obj):
        if n.startswith("_") or n in _NOT_API:
            continue
        try:
            v = getattr(obj, n)
        except Exception:  # a lazily loaded attribute that fails to import
            continue
        if len(n) > 1 and n.isupper() and not callable(v):  # a constant such as SUM
            continue
        if not isinstance(v, types.ModuleType) and keep(v):
            out.append(n)
    return sorted(out)


def pytorch_names() -> tuple[dict[str, tuple[str, ...]], str]:
    """PyTorch's public names per namespace, and where they came from (the installed
    torch's version, or the stored list's)."""
    try:
        import torch
    except ImportError:
        return dict(torch_api.NAMESPACES), f"stored list (PyTorch {torch_api.VERSION})"
    functional = _public(
        torch.nn.functional,
        lambda v: (
            callable(v)
            and not isinstance(v, type)
            and getattr(v, "__module__", "").startswith("torch")
        ),
    )
    names = {
        "Tensor": tuple(_public(torch.Tensor)),
        "torch": tuple(
            _public(torch, lambda v: not isinstance(v, type))
            + [n for n in _public(torch, lambda v: isinstance(v, type)) if n in _TORCH_CLASSES]
        ),
        "torch.nn.functional": tuple(functional),
        "torch.linalg": tuple(_public(torch.linalg, callable)),
        "torch.nn": tuple(_public(torch.nn, lambda v: isinstance(v, type))),
    }
    return names, f"installed PyTorch {torch.__version__.split('+')[0]}"


def _ours(namespace: str) -> Any:
    """tracer's counterpart of a PyTorch namespace (an empty one if it has none)."""
    obj: Any = tracer
    for part in namespace.split(".")[1:] if namespace != "Tensor" else ["Tensor"]:
        obj = getattr(obj, part, None)
    return obj if obj is not None else types.SimpleNamespace()


class Report:
    """Per namespace: the names tracer has, lacks, and the out-of-scope ones."""

    def __init__(self, names: dict[str, tuple[str, ...]], source: str) -> None:
        self.source = source
        self.rows: dict[str, tuple[list[str], list[str], list[str]]] = {}
        for ns, all_names in names.items():
            ours = _ours(ns)
            have, missing, skipped = [], [], []
            for n in all_names:
                if hasattr(ours, n):
                    have.append(n)
                elif OUT_OF_SCOPE.search(n):
                    skipped.append(n)
                else:
                    missing.append(n)
            self.rows[ns] = (have, missing, skipped)

    def totals(self) -> tuple[int, int, int]:
        """(implemented, missing, out of scope) over all namespaces."""
        return tuple(sum(len(r[i]) for r in self.rows.values()) for i in range(3))  # type: ignore[return-value]

    def summary(self) -> str:
        lines = [f"PyTorch names from the {self.source}", ""]
        lines.append(f"{'namespace':<22}{'implemented':>12}{'missing':>9}{'out of scope':>14}")
        for ns, (have, missing, skipped) in self.rows.items():
            lines.append(f"{ns:<22}{len(have):>12}{len(missing):>9}{len(skipped):>14}")
        h, m, s = self.totals()
        lines.append(f"{'total':<22}{h:>12}{m:>9}{s:>14}")
        return "\n".join(lines)

    def markdown(self) -> str:
        h, m, s = self.totals()
        out = [
            "# PyTorch API coverage",
            "",
            f"Generated by `python -m tracer.coverage --write` from the {self.source}.",
            f"Of PyTorch's in-scope public names tracer implements {h} and lacks {m};",
            f"{s} more are out of scope (other devices, quantized, sparse, complex and",
            "nested tensors, compiler and dispatch internals: the patterns in",
            "`tracer/coverage.py`). A name counts as implemented when tracer has it; its",
            "semantics are checked by the tests, not here.",
            "",
            "```",
            self.summary(),
            "```",
            "",
        ]
        for ns, (_, missing, _) in self.rows.items():
            out += [f"## Missing from `{ns}` ({len(missing)})", ""]
            out += [", ".join(f"`{n}`" for n in missing) if missing else "(none)", ""]
        return "\n".join(out)


def report() -> Report:
    """The coverage of the installed PyTorch's API (or the stored list's)."""
    return Report(*pytorch_names())


def _write_names(names: dict[str, tuple[str, ...]], version: str) -> None:
    lines = [
        '"""Public names of PyTorch\'s API, stored by `python -m tracer.coverage --write`',
        "(generated; do not edit). Used by the coverage report when torch is not installed",
        'and by errors that name a PyTorch attribute tracer lacks."""',
        "",
        f"VERSION = {json.dumps(version)}",
        "",
        "NAMESPACES: dict[str, tuple[str, ...]] = {",
    ]
    for ns, ns_names in names.items():
        lines.append(f"    {json.dumps(ns)}: (")
        lines += [f"        {json.dumps(n)}," for n in ns_names]
        lines.append("    ),")
    lines.append("}")
    (_ROOT / "compiler" / "torch_api.py").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracer.coverage", description=__doc__)
    parser.add_argument(
        "--write", action="store_true", help="store torch's names and write docs/coverage.md"
    )
    parser.add_argument("--missing", action="store_true", help="list the missing names")
    args = parser.parse_args(argv)
    names, source = pytorch_names()
    rep = Report(names, source)
    print(rep.summary())
    if args.missing:
        for ns, (_, missing, _) in rep.rows.items():
            print(f"\nmissing from {ns}: {' '.join(missing)}")
    if args.write:
        if source.startswith("stored"):
            print("--write needs torch installed", file=sys.stderr)
            return 1
        import torch

        _write_names(names, torch.__version__.split("+")[0])
        (_ROOT / "docs" / "coverage.md").write_text(rep.markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
