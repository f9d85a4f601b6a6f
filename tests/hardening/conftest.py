"""Hypothesis profiles for the fuzz tests in this directory.

    python -m pytest tests/hardening                          # "ci": 60 examples a test,
                                                              # derandomised (the same
                                                              # inputs every run)
    HYPOTHESIS_PROFILE=long python -m pytest tests/hardening/test_fuzz_inputs.py -n 0
                                                              # "long": 5,000 random
                                                              # examples a test, new
                                                              # ones every run

A failure prints the smallest input found and a `@reproduce_failure` line. Tests
that set their own `@settings(max_examples=...)` keep it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
settings.register_profile("ci", max_examples=60, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=5_000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
