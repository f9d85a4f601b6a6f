"""The compile worker: ``python -m runtime._compile_worker`` (started by runtime.background).

Reads one JSON request a line on stdin ({"id", "source", "name", "cache_dir",
"numba_cache_dir"}), compiles each module in turn through the disk cache
(`runtime.jit.load_graph_module`) and answers one JSON line on stdout per request:
{"id", "ok": true} or {"id", "ok": false, "error"}. A thread reads stdin eagerly, so
the parent's writes never wait for a compile. It exits when stdin closes (the parent
is gone), after the module it is compiling.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading


def _read(requests: queue.Queue) -> None:
    for line in sys.stdin:
        if line.strip():
            requests.put(json.loads(line))
    requests.put(None)


def main() -> None:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # anything else printed must not mix with the answers
    from numba.core import config

    from runtime import cache
    from runtime.jit import load_graph_module

    requests: queue.Queue = queue.Queue()
    threading.Thread(target=_read, args=(requests,), daemon=True).start()
    while (request := requests.get()) is not None:
        if os.environ.get("TRACER_CACHE_DIR") != request["cache_dir"]:
            cache._memo.clear()  # a module loaded for another directory is not there
        os.environ["TRACER_CACHE_DIR"] = request["cache_dir"]
        config.CACHE_DIR = request["numba_cache_dir"]
        try:
            load_graph_module(request["source"], request["name"])
            answer = {"id": request["id"], "ok": True}
        except Exception as e:  # noqa: BLE001  (reported to the parent)
            answer = {"id": request["id"], "ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
