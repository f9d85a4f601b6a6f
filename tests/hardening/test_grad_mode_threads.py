"""Grad mode is per thread: no_grad() in one thread does not stop another thread from
recording, and each thread restores its own mode. Barriers fix the interleaving, so
the test does not depend on timing."""

from __future__ import annotations

import threading

import tracer


def test_grad_mode_is_per_thread():
    """A thread inside no_grad() does not turn recording off for another thread, and
    each thread's mode is restored on its own."""
    # the timeout only keeps a failing thread from hanging the other one
    inside, recorded = threading.Barrier(2, timeout=60), threading.Barrier(2, timeout=60)
    seen: dict[str, object] = {}

    def quiet() -> None:
        with tracer.no_grad():
            inside.wait()  # the other thread computes while this one is in no_grad
            recorded.wait()
            seen["quiet"] = (
                tracer.is_grad_enabled(),
                (tracer.ones(2, requires_grad=True) * 2).requires_grad,
            )
        seen["quiet after"] = tracer.is_grad_enabled()

    def loud() -> None:
        inside.wait()
        x = tracer.ones(2, requires_grad=True)
        seen["loud"] = (tracer.is_grad_enabled(), (x * 2).grad_fn is not None)
        with tracer.set_grad_enabled(False):
            seen["loud off"] = tracer.is_grad_enabled()
        recorded.wait()

    threads = [threading.Thread(target=quiet), threading.Thread(target=loud)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {
        "quiet": (False, False),
        "quiet after": True,
        "loud": (True, True),
        "loud off": False,
    }
    assert tracer.is_grad_enabled()


def test_a_new_thread_starts_with_grad_enabled():
    seen = []
    with tracer.no_grad():
        t = threading.Thread(target=lambda: seen.append(tracer.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]
