"""Subprocess helper for test_cache.py: load a module through the cache, print a JSON report.

Usage: python cache_worker.py '<json: {"source", "name", "ready"?, "go"?}>'
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from runtime.cache import cache_stats, load_module


def main() -> None:
    cfg = json.loads(sys.argv[1])
    if cfg.get("go"):  # barrier: announce readiness, then wait for the test to release us
        Path(cfg["ready"]).touch()
        deadline = time.monotonic() + 30
        while not Path(cfg["go"]).exists() and time.monotonic() < deadline:
            time.sleep(0.002)
    module = load_module(cfg["source"], name=cfg["name"], warmup=lambda m: m.f(np.arange(10.0)))
    stats = module.f.stats
    report = {
        "result": module.f(np.arange(100.0)),
        "stats": cache_stats(),
        "numba_hits": sum(stats.cache_hits.values()),
        "numba_misses": sum(stats.cache_misses.values()),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
