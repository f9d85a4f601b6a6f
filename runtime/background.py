"""Compiling generated modules in another process while calls run on the interpreter.

Where a generated module is not in the disk cache yet, `compiler.backend.lower` hands
its source to `submit` and runs the graph on the reference interpreter meanwhile. One
worker process per Python process (`runtime._compile_worker`, started on first use,
then reused: numba is imported once) compiles the modules in turn through
`runtime.cache.load_module`, which publishes numba's machine code into the disk cache.
When a module is done, a thread of this process loads it from that cache and hands it
to the waiting callback, which switches the executable to the kernel; the calling
thread never waits for numba.

The worker is a fresh interpreter started with `subprocess` (the spawn model: no fork
of a process that runs numba or OpenBLAS threads). multiprocessing's spawn and
forkserver contexts are not used because their children re-import the parent's
``__main__``, which would re-run a user's script without an ``if __name__ ==
"__main__"`` guard.

Failures: a worker that dies (killed, crashed) fails the module it was compiling;
that module is tried again in a new worker, up to `ATTEMPTS` times, and the modules
queued behind it are resent. The disk cache stays usable: numba writes each cache
file to a temporary name and renames it, and a module whose worker died before its
digests were recorded is simply compiled again (`runtime.cache`). Two processes that
compile the same module serialise on the cache's file lock, so the second loads what
the first compiled. At interpreter exit the worker is killed and reaped; if this
process dies without running its exit handlers, the worker sees its input close and
exits after its current module.

The mode: ``TRACER_COMPILE=background`` (the default) or ``sync`` (compile in the
calling thread, as the first call then waits), read at each lowering;
`set_compile_mode` overrides the variable for this process.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

__all__ = [
    "ATTEMPTS",
    "ENV",
    "MODES",
    "Unavailable",
    "compile_mode",
    "pending",
    "set_compile_mode",
    "submit",
    "wait",
    "worker_pid",
]

ENV = "TRACER_COMPILE"
MODES = ("background", "sync")
#: worker processes a module may take down before it stays on the interpreter
ATTEMPTS = 2
_ROOT = str(Path(__file__).resolve().parents[1])


class Unavailable(RuntimeError):
    """No background compile can start (the interpreter is exiting)."""


# the folder that holds `runtime`
_mode: str | None = None  # set_compile_mode's choice; None: the environment decides


def set_compile_mode(mode: str | None) -> None:
    """Choose how kernels not in the disk cache compile: ``"background"`` (calls run on
    the reference interpreter until the kernel compiled in another process is ready)
    or ``"sync"`` (the call compiles and waits). ``None`` returns to ``TRACER_COMPILE``.
    Raises ValueError for another mode."""
    global _mode
    if mode is not None and mode not in MODES:
        raise ValueError(f"compile mode must be one of {', '.join(map(repr, MODES))}; got {mode!r}")
    _mode = mode


def compile_mode() -> str:
    """The mode in force: `set_compile_mode`'s, else ``TRACER_COMPILE``, else background.
    Raises ValueError when the variable holds something else."""
    if _mode is not None:
        return _mode
    value = os.environ.get(ENV, "").strip().lower() or "background"
    if value not in MODES:
        raise ValueError(
            f"{ENV}={value!r}: expected one of {', '.join(map(repr, MODES))} (or unset: background)"
        )
    return value


@dataclass(eq=False)
class _Job:
    source: str
    name: str
    cache_dir: str
    numba_cache_dir: str
    done: list[Callable[[ModuleType], None]] = field(default_factory=list)
    failed: list[Callable[[str], None]] = field(default_factory=list)
    attempts: int = 0
    id: int = 0


class _Compiler:
    """The worker process of this Python process and the modules sent to it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.proc: subprocess.Popen | None = None
        self.sent: collections.deque[_Job] = collections.deque()  # in the worker's order
        self.jobs: dict[tuple[str, str, str], _Job] = {}  # not finished yet
        self.next_id = 0
        self.closed = False

    def submit(
        self,
        source: str,
        name: str,
        cache_dir: str,
        numba_cache_dir: str,
        done: Callable[[ModuleType], None],
        failed: Callable[[str], None],
    ) -> None:
        with self.lock:
            key = (name, source, cache_dir)
            job = self.jobs.get(key)
            if job is None:  # a module already on its way is compiled once
                job = _Job(source, name, cache_dir, numba_cache_dir)
                self._send(job)
                self.jobs[key] = job
            job.done.append(done)
            job.failed.append(failed)

    def _send(self, job: _Job) -> None:
        """Send `job` to the worker, starting one if needed (holding the lock)."""
        if self.closed:
            raise Unavailable("the background compiler is shut down (interpreter exit)")
        if self.proc is None:
            self._start()
        self.next_id += 1
        job.id = self.next_id
        self.sent.append(job)
        line = json.dumps(
            {
                "id": job.id,
                "source": job.source,
                "name": job.name,
                "cache_dir": job.cache_dir,
                "numba_cache_dir": job.numba_cache_dir,
            }
        )
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the worker is gone: its reader thread resends what it did not finish

    def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        # one compile at a time needs no BLAS or OpenMP thread pools
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env.setdefault("OMP_NUM_THREADS", "1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "runtime._compile_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            cwd=_ROOT,
        )
        self.proc = proc
        tail: collections.deque[str] = collections.deque(maxlen=20)
        threading.Thread(target=_drain, args=(proc, tail), daemon=True).start()
        threading.Thread(
            target=self._read, args=(proc, tail), name="tracegrad-compile", daemon=True
        ).start()

    def _read(self, proc: subprocess.Popen, tail: collections.deque[str]) -> None:
        """Resolve the worker's answers in order; when it dies, resend or fail."""
        for line in proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                if not self.sent or self.sent[0].id != answer.get("id"):
                    continue
                job = self.sent.popleft()
            if answer.get("ok"):
                self._finish(job)
            else:
                self._fail(job, answer.get("error") or "the compile failed")
        code = proc.wait()  # reaped here: no zombie
        with self.lock:
            if self.proc is proc:
                self.proc = None
            jobs = list(self.sent)
            self.sent.clear()
            if self.closed:
                for job in jobs:
                    self.jobs.pop((job.name, job.source, job.cache_dir), None)
                self.idle.notify_all()
                return
            why = _death(code, tail)
            retry = []
            for k, job in enumerate(jobs):
                if k == 0:  # the module it was compiling
                    job.attempts += 1
                (retry if job.attempts < ATTEMPTS else []).append(job)
            for job in retry:
                self._send(job)
        for job in jobs:
            if job not in retry:
                self._fail(job, f"the compile process died {ATTEMPTS} times; last: {why}")

    def _finish(self, job: _Job) -> None:
        """Load the module the worker compiled (a disk-cache hit) and switch to it."""
        try:
            from runtime.jit import load_graph_module

            module = load_graph_module(job.source, job.name, Path(job.cache_dir))
        except Exception as e:  # noqa: BLE001  (the executable stays on the interpreter)
            self._fail(job, f"loading the compiled module failed: {type(e).__name__}: {e}")
            return
        with self.lock:
            self.jobs.pop((job.name, job.source, job.cache_dir), None)
            self.idle.notify_all()
        for callback in job.done:
            callback(module)

    def _fail(self, job: _Job, why: str) -> None:
        with self.lock:
            self.jobs.pop((job.name, job.source, job.cache_dir), None)
            self.idle.notify_all()
        for callback in job.failed:
            callback(why)

    def wait(self, timeout: float | None) -> bool:
        with self.lock:
            return self.idle.wait_for(lambda: not self.jobs, timeout)

    def shutdown(self) -> None:
        """Kill the worker and reap it (at interpreter exit: nothing waits for a compile)."""
        with self.lock:
            self.closed = True
            proc = self.proc
        if proc is not None:
            proc.kill()
            proc.wait()


def _drain(proc: subprocess.Popen, tail: collections.deque[str]) -> None:
    """Keep the last lines of the worker's stderr (its crash message), so it never
    blocks on a full pipe."""
    for line in proc.stderr:
        tail.append(line.rstrip())


def _death(code: int, tail: collections.deque[str]) -> str:
    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    last = next((line for line in reversed(tail) if line.strip()), "")
    return how + (f" ({last})" if last else "")


_compiler = _Compiler()


def _reset_after_fork() -> None:
    """A forked child must not share its parent's worker (their requests would mix)."""
    global _compiler
    _compiler = _Compiler()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)
atexit.register(lambda: _compiler.shutdown())


def submit(
    source: str,
    name: str,
    done: Callable[[ModuleType], None],
    failed: Callable[[str], None],
) -> None:
    """Compile generated `source` (module `name`, as `runtime.jit.load_graph_module`)
    in the worker; then call `done(module)` with it loaded from the disk cache, or
    `failed(reason)`. Both run on a thread of this module, never the caller's."""
    from numba.core import config

    from runtime.cache import cache_dir

    _compiler.submit(source, name, str(cache_dir()), config.CACHE_DIR or "", done, failed)


def pending() -> int:
    """Modules submitted and not finished (compiled and loaded, or failed)."""
    with _compiler.lock:
        return len(_compiler.jobs)


def wait(timeout: float | None = None) -> bool:
    """Block until every submitted module is finished, or `timeout` seconds pass;
    returns whether none is pending."""
    return _compiler.wait(timeout)


def worker_pid() -> int:
    """The worker process's id, starting it if needed (for tests that stop or kill it)."""
    with _compiler.lock:
        if _compiler.proc is None:
            _compiler._start()
        return _compiler.proc.pid
