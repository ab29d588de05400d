"""The suite's markers: one per conformance category, the opt-in provider benchmarks, and
the capability markers that gate tests on what a provider declares.

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

EXTENDED: dict[str, str] = {
    "instance_creation": "instance records exist only after an ack names the orchestration",
    "poison": "delivery counts per message, across redelivery, for poison detection",
    "polling": "fetches return at once, or wait and wake as LONG_POLL says",
    "management": "instance and execution records, listing, queue depths, metrics",
    "deletion": "instance trees deleted whole, exactly, and only when allowed",
    "prune": "old executions pruned by keep_last and completed_before",
    "task_queues": "workers only receive items of the queues they serve, FIFO per queue",
    "payloads": "ids, names and payloads of any size and text stored byte-exact",
    "corruption": "undecodable history and messages reported, counted, never blocking",
}
"""The extended categories, in report order; their tests may need optional capabilities."""

CAPABILITY = "capability"
"""Marker ``capability(Capability.X, ...)``: the test needs those capabilities declared."""
WITHOUT_CAPABILITY = "without_capability"
"""Marker ``without_capability(Capability.X)``: the test is for providers lacking it."""

END_TO_END = "end_to_end"
"""provkit's runtime over the provider under test, after the integration test plan."""

SEARCHING: dict[str, str] = {
    "model": "random call sequences checked against an executable model of the contract",
    "concurrency": "concurrent random calls, then the recorded history checked",
}
"""Categories that search for bugs nobody wrote a test for; they run by default, with a budget."""

FOUNDATION = "foundation"
"""Marker ``foundation(operation)``: the test checks the simplest behaviour of ``operation``."""

BENCHMARK = "provider_benchmark"
"""Benchmarks of single provider operations; they run only when ``-m`` selects them."""

MARKERS: dict[str, str] = {
    **CATEGORIES,
    **EXTENDED,
    END_TO_END: "provkit's runtime over the provider: races, crashes, timers, retries, cancels",
    **SEARCHING,
    FOUNDATION: "foundation(operation): the simplest behaviour of one operation; runs first, "
    "and later failures may follow from its failure",
    BENCHMARK: "benchmark of single provider operations (run only with -m provider_benchmark)",
    CAPABILITY: "capability(Capability.X, ...): skipped unless the provider declares them all",
    WITHOUT_CAPABILITY: "without_capability(Capability.X): skipped if the provider declares it",
}

OTHER = "other"
"""Report row for tests that carry no category marker (a user's own tests run with --provider)."""


def category_of(marker_names: Iterable[str]) -> str:
    """The report row of a test carrying ``marker_names``."""
    names = set(marker_names)
    for name in (*CATEGORIES, *EXTENDED, END_TO_END, *SEARCHING, BENCHMARK):
        if name in names:
            return name
    return OTHER
