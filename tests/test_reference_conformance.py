"""The whole conformance suite passes against the SQLite reference provider, in both timing modes.

With ``CLOCK`` declared the suite moves an injected clock; with it hidden
(``outside_factories:NoClockSqliteFactory``) every expiry test sleeps for real. Each category
must also still hold at least as many tests as the anchor suite has.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from provkit.conformance import Timing
from provkit.conformance._markers import CATEGORIES, category_of

ANCHOR_COUNTS = {
    "instance_locking": 11,
    "atomicity": 4,
    "error_handling": 5,
    "lock_expiration": 13,
    "queue_semantics": 7,
    "multi_execution": 5,
}
"""Tests per category in the anchor (Duroxide) provider suite: the floor for ours."""


@pytest.mark.parametrize(
    ("spec", "real_sleeps"),
    [
        pytest.param("--provider=sqlite-memory", False, id="sqlite-memory-injected-clock"),
        pytest.param("--provider=sqlite-file", False, id="sqlite-file-injected-clock"),
        pytest.param(
            "--provider=outside_factories:NoClockSqliteFactory",
            True,
            id="sqlite-memory-real-sleeps",
        ),
    ],
)
def test_suite_passes_against_sqlite(
    pytester: pytest.Pytester, spec: str, real_sleeps: bool
) -> None:
    """No failures, and every category has at least its anchor count of tests, all passing."""
    assert set(ANCHOR_COUNTS) == set(CATEGORIES)
    pytester.copy_example("outside_factories.py")
    reprec = pytester.inline_run(spec, "-p", "no:cacheprovider")

    failed = [r.nodeid for r in reprec.getreports("pytest_runtest_logreport") if r.failed]
    assert failed == []
    collected: defaultdict[str, set[str]] = defaultdict(set)
    passed: defaultdict[str, set[str]] = defaultdict(set)
    longest_expiry_test = 0.0
    for report in reprec.getreports("pytest_runtest_logreport"):
        category = category_of(report.keywords)
        collected[category].add(report.nodeid)
        if report.when == "call" and report.passed:
            passed[category].add(report.nodeid)
            if category == "lock_expiration":
                longest_expiry_test = max(longest_expiry_test, report.duration)
    assert {c: len(collected[c]) >= n for c, n in ANCHOR_COUNTS.items()} == dict.fromkeys(
        ANCHOR_COUNTS, True
    ), {c: len(ids) for c, ids in collected.items()}
    # Expiry tests must really run (not skip) in both timing modes.
    assert len(passed["lock_expiration"]) >= ANCHOR_COUNTS["lock_expiration"]
    assert set(collected) == set(CATEGORIES), "only core categories run by default"
    if real_sleeps:
        # Without CLOCK, waiting out a lock takes real time: proof the sleeping path ran.
        assert longest_expiry_test >= Timing.for_run(1.0, manual_clock=False).lock_timeout
