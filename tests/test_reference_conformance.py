"""The suite's shape, and its sleeping path, checked cheaply in-process.

The whole suite against each reference provider (injected clock, and with ``CLOCK`` hidden so
every expiry test sleeps for real) is a CI step of its own (``.ci/run``): a run of minutes,
not a unit test. Here: each category holds at least as many tests as the anchor suite has
(``end_to_end`` at least 15 scenarios, each naming its plan item), every category runs by
default, and without ``CLOCK`` an expiry test really waits.
"""

from __future__ import annotations

from collections import Counter

import pytest

from provkit.conformance import Timing
from provkit.conformance._markers import (
    BENCHMARK,
    CATEGORIES,
    END_TO_END,
    EXTENDED,
    SEARCHING,
    category_of,
)

ANCHOR_COUNTS = {
    "instance_locking": 11,
    "atomicity": 4,
    "error_handling": 5,
    "lock_expiration": 13,
    "queue_semantics": 7,
    "multi_execution": 5,
}
"""Tests per category in the anchor (Duroxide) provider suite: the floor for ours."""

EXTENDED_COUNTS = {
    "instance_creation": 4,
    "poison": 9,
    "polling": 5,
    "management": 13,
    "deletion": 17,
    "prune": 4,
    "task_queues": 5,
    "payloads": 10,
    "corruption": 8,
}
"""Floors of the extended categories: the anchor's counts (deletion and management grown by
what its bulk-deletion and instance-stats tests cover); payloads and corruption have no
anchor category."""

END_TO_END_FLOOR = 15
"""Scenarios of the end-to-end category (issue 11)."""

EXPIRY_TEST = "test_expired_orchestration_lock_redelivers_the_same_batch"


def test_categories_hold_their_floors_and_expiry_waits_for_real_without_clock(
    pytester: pytest.Pytester,
) -> None:
    """One run with ``CLOCK`` hidden and ``-k`` picking one expiry test.

    What it collected: every category, each with at least its floor (and each end-to-end
    scenario naming its plan item). What it ran: that expiry test passed, taking at least
    one real lock timeout.
    """
    assert set(ANCHOR_COUNTS) == set(CATEGORIES)
    assert set(EXTENDED_COUNTS) == set(EXTENDED)
    floors = {
        **ANCHOR_COUNTS,
        **EXTENDED_COUNTS,
        END_TO_END: END_TO_END_FLOOR,
        **dict.fromkeys(SEARCHING, 1),
    }
    pytester.copy_example("outside_factories.py")
    reprec = pytester.inline_run(
        "--provider=outside_factories:NoClockSqliteFactory",
        "-k",
        EXPIRY_TEST,
        "-p",
        "no:cacheprovider",
    )
    selected = reprec.getcalls("pytest_collection_finish")[0].session.items
    deselected = [i for call in reprec.getcalls("pytest_deselected") for i in call.items]
    counts = Counter(
        category_of(m.name for m in item.iter_markers()) for item in [*selected, *deselected]
    )
    del counts[BENCHMARK]  # deselected by the plugin unless -m names them
    assert set(counts) == set(floors), "every category runs by default, benchmarks do not"
    assert {c: counts[c] >= n for c, n in floors.items()} == dict.fromkeys(floors, True), dict(
        counts
    )
    scenarios = [i for i in [*selected, *deselected] if i.get_closest_marker(END_TO_END)]
    docs = [(i.name, (getattr(i, "obj", None).__doc__ or "").split()[:1]) for i in scenarios]
    assert [name for name, first in docs if first != ["Plan"]] == [], (
        "every end-to-end scenario's docstring names its plan item"
    )

    calls = [r for r in reprec.getreports("pytest_runtest_logreport") if r.when == "call"]
    assert [(r.nodeid.split("::")[-1], r.outcome) for r in calls] == [(EXPIRY_TEST, "passed")]
    assert calls[0].duration >= Timing.for_run(1.0, manual_clock=False).lock_timeout
