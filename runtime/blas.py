"""BLAS matrix products callable from njit code: numpy's own OpenBLAS, through CBLAS.

numba's `np.dot` needs scipy (not a dependency), so generated code used to call
numpy's BLAS from a plain-Python entry between njit parts; a loop whose body holds a
matmul then ran in Python, paying microseconds per step. numpy's wheels ship
OpenBLAS (`numpy.libs/libscipy_openblas64_*.so`, `numpy/.dylibs/...`) exporting
`scipy_cblas_sgemm64_`/`scipy_cblas_dgemm64_` (64-bit integers). This module finds
that library (the copy numpy has loaded: one BLAS and one thread pool per process),
registers its gemm entry points with LLVM under names of our own, and defines the
numba intrinsics `sgemm`/`dgemm` that call them by those names.

Calling by symbol name rather than through a ctypes function pointer keeps numba's
on-disk cache usable: a pointer would be baked into the machine code as an address
("dynamic globals", which numba refuses to cache), a name is resolved when the cached
code is loaded, after this module (which generated modules import) registered it.

When no usable library is found (a numpy built against MKL or Accelerate, an
unknown layout), `HAVE_BLAS` is False and the code generator keeps calling
numpy's BLAS from Python. `TRACER_NJIT_BLAS=0` forces that fallback.

This module knows numpy, numba and llvmlite (numba's own dependency) only.
"""

from __future__ import annotations

import ctypes
import glob
import os
from typing import Any

import llvmlite.binding as ll
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["BLAS_LIBRARY", "HAVE_BLAS", "dgemm", "sgemm"]

#: CBLAS enum values (cblas.h)
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

# (single, double, integer bits) entry points, most specific first: numpy >= 2 wheels
# (scipy-openblas, ILP64), numpy 1.x wheels (openblas64_), a plain LP64 OpenBLAS
_ENTRY_POINTS = (
    ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", 64),
    ("cblas_sgemm64_", "cblas_dgemm64_", 64),
    ("scipy_cblas_sgemm", "scipy_cblas_dgemm", 32),
    ("cblas_sgemm", "cblas_dgemm", 32),
)
_NAMES = {"float32": "tracegrad_cblas_sgemm", "float64": "tracegrad_cblas_dgemm"}


def _candidates() -> list[str]:
    """Paths of the OpenBLAS that numpy loaded: from the process's memory map where
    there is one (Linux), else the folders numpy's wheels put it in."""
    found: list[str] = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if line.count("/") else ""
                if "openblas" in os.path.basename(path).lower() and path not in found:
                    found.append(path)
    except OSError:
        pass
    here = os.path.dirname(np.__file__)
    for folder in (os.path.join(here, os.pardir, "numpy.libs"), os.path.join(here, ".dylibs")):
        for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
            if path not in found:
                found.append(os.path.realpath(path))
    return found


def _find() -> tuple[str, int, int, int] | None:
    """(library path, sgemm address, dgemm address, integer bits), or None."""
    if os.environ.get("TRACER_NJIT_BLAS", "").strip() in ("0", "false", "no"):
        return None
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for single, double, bits in _ENTRY_POINTS:
            try:
                s, d = getattr(lib, single), getattr(lib, double)
            except AttributeError:
                continue
            addr = ctypes.cast(s, ctypes.c_void_p).value, ctypes.cast(d, ctypes.c_void_p).value
            return path, addr[0], addr[1], bits
    return None


_FOUND = _find()
HAVE_BLAS = _FOUND is not None
#: the library the intrinsics call, or None
BLAS_LIBRARY = _FOUND[0] if _FOUND else None
_INT_BITS = _FOUND[3] if _FOUND else 64
if _FOUND is not None:
    ll.add_symbol(_NAMES["float32"], _FOUND[1])
    ll.add_symbol(_NAMES["float64"], _FOUND[2])


def _gemm(dtype: str) -> Any:
    """The intrinsic `gemm(trans_a, trans_b, m, n, k, a, a_off, lda, b, b_off, ldb, c,
    c_off, ldc)`: C[m, n] = op(A)[m, k] @ op(B)[k, n], row-major, where A, B and C
    start at element offsets a_off, b_off, c_off of the 1-D arrays a, b, c and
    trans_* is NO_TRANS or TRANS. The caller checks the bounds."""
    nbtype = getattr(types, dtype)
    symbol = _NAMES[dtype]

    @intrinsic
    def gemm(typingctx, ta, tb, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc):  # noqa: ARG001
        ints = (ta, tb, m, n, k, a_off, lda, b_off, ldb, c_off, ldc)
        if not all(isinstance(t, types.Integer) for t in ints):
            return None
        if not all(isinstance(t, types.Array) and t.dtype == nbtype for t in (a, b, c)):
            return None
        sig = types.void(ta, tb, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc)

        def codegen(context, builder, signature, args):
            i32, iN = ir.IntType(32), ir.IntType(_INT_BITS)
            ft = context.get_value_type(nbtype)
            ptr = ft.as_pointer()
            fnty = ir.FunctionType(
                ir.VoidType(), [i32, i32, i32, iN, iN, iN, ft, ptr, iN, ptr, iN, ft, ptr, iN]
            )
            fn = cgutils.get_or_insert_function(builder.module, fnty, symbol)
            tys = signature.args

            def integer(j: int, width: ir.IntType) -> Any:
                v = context.cast(builder, args[j], tys[j], types.int64)
                return builder.trunc(v, width) if width.width < 64 else v

            def data(j: int, off: int) -> Any:
                arr = context.make_array(tys[j])(context, builder, args[j])
                return builder.gep(arr.data, [integer(off, ir.IntType(64))])

            builder.call(
                fn,
                [
                    ir.Constant(i32, ROW_MAJOR),
                    integer(0, i32),
                    integer(1, i32),
                    integer(2, iN),
                    integer(3, iN),
                    integer(4, iN),
                    ir.Constant(ft, 1.0),
                    data(5, 6),
                    integer(7, iN),
                    data(8, 9),
                    integer(10, iN),
                    ir.Constant(ft, 0.0),
                    data(11, 12),
                    integer(13, iN),
                ],
            )
            return context.get_dummy_value()

        return sig, codegen

    return gemm


sgemm = _gemm("float32")
dgemm = _gemm("float64")
