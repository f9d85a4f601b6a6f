"""Run by path in a fresh interpreter (see firstcall.py): time one implementation's
import and its first value-and-gradient call, and print the result as JSON.

    python _child.py IMPLEMENTATION WORKLOAD SIZE

With tracer's background compilation (TRACER_COMPILE=background, its default) the
first result comes from the reference interpreter; the child then waits for the
compile and calls again: `kernel_s` is the time from the first call's start until a
call on the compiled kernel has returned (None for implementations that do not
compile to disk).

The clock starts before numpy is imported. Loading the benchmark's own modules and
making the inputs are excluded. This file is not imported as part of the tracer
package: importing tracer here would be counted against every library.
"""

import time

T0 = time.perf_counter()

import dataclasses  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

# Python put this file's folder first on sys.path; its modules (timing, check, ...)
# must not shadow top-level modules of the libraries being imported.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]


def load(name: str, filename: str):
    """A module of this folder by path, outside the tracer package."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def main(impl_name: str, workload_name: str, size: str) -> None:
    import numpy  # noqa: F401  (counted: every library needs it)

    t_numpy = time.perf_counter()
    workloads = load("_bench_workloads", "workloads.py")
    impls = load("_bench_impls", "impls.py")
    workload = workloads.WORKLOADS[workload_name].at(int(size))
    impl = impls.IMPLEMENTATIONS[impl_name]
    own = impls.WORKLOAD_IMPLEMENTATIONS.get(workload_name)
    if own is not None:  # a workload that is not a loss: its own prepare function
        impl = dataclasses.replace(impl, prepare=own[impl_name][1])
    inputs = workload.inputs(int(size))

    t1 = time.perf_counter()
    for module in impl.requires:
        importlib.import_module(module)
    t2 = time.perf_counter()
    step = impl.prepare(workload, inputs)
    value, grads = step()
    value = float(impls.to_numpy(value))
    [impls.to_numpy(g) for g in grads]
    t3 = time.perf_counter()
    kernel_s = None
    if impl.compiles:
        from runtime import background

        kernel_s = t3 - t2
        if background.pending():  # the first result came from the interpreter
            if not background.wait(600):
                raise RuntimeError("the background compile did not finish in 600 s")
            _, grads = step()
            [impls.to_numpy(g) for g in grads]
            kernel_s = time.perf_counter() - t2
    print(
        json.dumps(
            {
                "import_s": (t_numpy - T0) + (t2 - t1),
                "first_call_s": t3 - t2,
                "kernel_s": kernel_s,
                "value": value,
                "tracer_imported": "tracer" in sys.modules,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
