"""The suite's markers: one per conformance category, plus the opt-in provider benchmarks.

Plain data shared by the plugin (registration, selection) and the end-of-run summary.
"""

from __future__ import annotations

from collections.abc import Iterable

CATEGORIES: dict[str, str] = {
    "instance_locking": "one holder per instance; locked instances are invisible",
    "atomicity": "an ack applies everything or nothing",
    "error_handling": "typed errors for bad tokens, duplicates, corrupt data",
    "lock_expiration": "locks expire, renew and abandon as the contract says",
    "queue_semantics": "FIFO, peek-lock, visibility and delivery of both queues",
    "multi_execution": "executions are isolated and the latest one is current",
}
"""The core categories, in the order reports list them; none of them is optional."""

BENCHMARK = "provider_benchmark"
"""Benchmarks of single provider operations; they run only when ``-m`` selects them."""

MARKERS: dict[str, str] = {
    **CATEGORIES,
    BENCHMARK: "benchmark of single provider operations (run only with -m provider_benchmark)",
}

OTHER = "other"
"""Report row for tests that carry no category marker (a user's own tests run with --provider)."""


def category_of(marker_names: Iterable[str]) -> str:
    """The report row of a test carrying ``marker_names``."""
    names = set(marker_names)
    for name in MARKERS:
        if name in names:
            return name
    return OTHER
