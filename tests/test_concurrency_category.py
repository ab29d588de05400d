"""The ``concurrency`` category: its checker on hand-made histories, and runs of the category.

The histories pin down which overlaps are violations: only what is certain whichever moment
inside each call the provider acted at. The in-process runs show the category failing a
check-then-set worker claim (naming the property and the calls) and passing a reference
provider.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

# Loaded here so that in-process runs of the category find them imported (pytester drops
# what a run imports, and without bytecode caching pytest rewrites them again each time).
from provkit.conformance import _hammer, _history_report  # noqa: F401
from provkit.conformance._history import Call, History, Kind, Queue, Value
from provkit.conformance._history_check import (
    DUPLICATED,
    FINDS_WORK,
    LOST,
    ONE_HOLDER,
    UNEXPECTED,
    check_history,
)
from provkit.conformance._layout import SUITE_DIR
from provkit.contract import LockLostError, ManualClock
from provkit.reference_providers import MemoryProvider

CONCURRENCY_TESTS = str(SUITE_DIR / "test_concurrency.py")
"""In-process runs collect only the category's module: collecting the whole suite costs more."""
T0 = 1_700_000_000_000
LOCK_MS = 30


class Recorded:
    """A history written by hand: each call with its invocation and completion stamps."""

    def __init__(self) -> None:
        self.history = History(origin_ms=T0, drained=True, drain_note="drained")

    def call(
        self,
        kind: Kind,
        stamps: tuple[int, int],
        clock: tuple[int, int] = (0, 0),
        queue: Queue = "worker",
        **facts: object,
    ) -> Call:
        call = Call(
            index=len(self.history.calls),
            task="t",
            queue=queue,
            kind=kind,
            operation=f"{kind} ({queue})",
            invoked=stamps[0],
            started_s=0.0,
            clock_lo=T0 + clock[0],
            completed=stamps[1],
            ended_s=0.0,
            clock_hi=T0 + clock[1],
        )
        for name, value in facts.items():
            setattr(call, name, value)
        self.history.calls.append(call)
        return call

    def enqueue(self, label: str, stamps: tuple[int, int]) -> Call:
        call = self.call("enqueue", stamps, labels=(label,))
        self.history.values[label] = Value(label, "worker", "i0", call.index, 0)
        return call

    def lease(
        self, label: str, token: str, stamps: tuple[int, int], at: int = 0, attempt: int = 1
    ) -> Call:
        return self.call(
            "fetch",
            stamps,
            (at, at),
            key=label,
            labels=(label,),
            token=token,
            attempt=attempt,
            duration_ms=LOCK_MS,
        )

    def ack(self, token: str, stamps: tuple[int, int], at: int = 0, **facts: object) -> Call:
        return self.call("ack", stamps, (at, at), token=token, **facts)


def props(history: History) -> list[str]:
    return [finding.prop for finding in check_history(history).findings]


def test_a_second_lease_while_the_first_is_live_is_two_holders() -> None:
    """Lease w1, lease it again before any ack or expiry: both leases are named."""
    run = Recorded()
    run.enqueue("w1", (0, 1))
    first = run.lease("w1", "a", (2, 3))
    second = run.lease("w1", "b", (4, 5), at=LOCK_MS - 1)
    run.ack("a", (6, 7), at=LOCK_MS - 1)
    verdict = check_history(run.history)
    holders = [f for f in verdict.findings if f.prop == ONE_HOLDER]
    assert len(holders) == 1
    assert {first.index, second.index} <= set(holders[0].calls)
    assert holders[0].message.startswith("item w1 was handed to two holders at once")


def test_leases_whose_calls_overlap_and_both_win_are_two_holders() -> None:
    """Two fetch calls running at once that both lease w1: a violation whichever went first."""
    run = Recorded()
    run.enqueue("w1", (0, 1))
    run.lease("w1", "a", (2, 5))
    run.lease("w1", "b", (3, 6))
    assert ONE_HOLDER in props(run.history)


def test_a_lease_taken_again_after_expiry_is_no_overlap() -> None:
    """Re-leasing at the expiry millisecond is allowed (attempt 2); the stale ack then fails."""
    run = Recorded()
    run.enqueue("w1", (0, 1))
    run.lease("w1", "a", (2, 3))
    run.lease("w1", "b", (4, 5), at=LOCK_MS, attempt=2)
    run.call("ack", (6, 7), (LOCK_MS, LOCK_MS), token="a", error=LockLostError("ack", "expired"))
    run.ack("b", (8, 9), at=LOCK_MS)
    verdict = check_history(run.history)
    assert (verdict.valid, verdict.findings) == (True, [])
    assert verdict.tallies["worker"].dequeued == 1


def test_a_value_never_dequeued_is_lost_if_drained_and_unknown_if_not() -> None:
    """Jepsen's total-queue rule: without a drain, a missing value is not yet a loss."""
    run = Recorded()
    run.enqueue("w1", (0, 1))
    verdict = check_history(run.history)
    assert (verdict.valid, props(run.history), verdict.tallies["worker"].lost) == (
        False,
        [LOST],
        ["w1"],
    )
    run.history.drained = False
    undrained = check_history(run.history)
    assert (undrained.valid, undrained.findings) == (None, [])


def test_values_dequeued_twice_or_from_an_ack_that_raised_are_classified() -> None:
    """w1 acked by two holders is duplicated; m2 from an ack that raised is unexpected."""
    run = Recorded()
    run.enqueue("w1", (0, 1))
    run.lease("w1", "a", (2, 3))
    run.lease("w1", "b", (4, 5), at=LOCK_MS, attempt=2)
    run.ack("a", (6, 7), at=LOCK_MS, labels=("m2",))
    run.ack("b", (8, 9), at=LOCK_MS)
    failed = run.call(
        "ack", (10, 11), (LOCK_MS, LOCK_MS), token="b", error=LockLostError("ack", "gone")
    )
    run.history.values["m2"] = Value("m2", "orchestrator", "i0", failed.index, 0)
    run.call(
        "fetch",
        (12, 13),
        (LOCK_MS, LOCK_MS),
        queue="orchestrator",
        key="i0",
        labels=("m2",),
        token="c",
        attempt=1,
        duration_ms=LOCK_MS,
    )
    verdict = check_history(run.history)
    assert verdict.tallies["worker"].duplicated == ["w1"]
    assert verdict.tallies["orchestrator"].unexpected == ["m2"]
    assert {DUPLICATED, UNEXPECTED} <= set(props(run.history))


def test_a_fetch_returning_none_misses_work_unless_it_may_have_lost_a_race() -> None:
    """None while w1 surely waits is a violation; None beside a concurrent winner is not."""
    run = Recorded()
    run.enqueue("w1", (0, 1))
    run.call("fetch", (2, 3), duration_ms=LOCK_MS)
    assert FINDS_WORK in props(run.history)

    raced = Recorded()
    raced.enqueue("w1", (0, 1))
    raced.lease("w1", "a", (2, 5))
    raced.call("fetch", (3, 4), duration_ms=LOCK_MS)
    raced.ack("a", (6, 7))
    assert props(raced.history) == []


def test_the_category_flags_a_check_then_set_worker_claim(pytester: pytest.Pytester) -> None:
    """Against fetch_work_item's check-then-set mutant the run fails naming two holders."""
    reprec = pytester.inline_run(
        "--provider=provkit.mutants.worker_queue:WorkerClaimCheckThenSet.factory",
        CONCURRENCY_TESTS,
        "--provkit-concurrency-seconds=1",
        "--provkit-concurrency-tasks=4",
        "-p",
        "no:cacheprovider",
    )
    failed = [r for r in reprec.getreports("pytest_runtest_logreport") if r.failed]
    assert len(failed) == 1
    text = failed[0].longreprtext
    assert "\nat most one live holder: " in text, text
    assert "was handed to two holders at once" in text, text
    assert "fetch_work_item(lock 50 ms) -> w" in text, text


def test_the_category_passes_the_in_memory_reference_provider(pytester: pytest.Pytester) -> None:
    """A one-second in-process run against ``memory`` leaves a valid history (CI runs the
    whole suite, this category included, against every reference provider)."""
    reprec = pytester.inline_run(
        "--provider=memory",
        CONCURRENCY_TESTS,
        "--provkit-concurrency-seconds=1",
        "--provkit-concurrency-tasks=4",
        "-p",
        "no:cacheprovider",
    )
    reprec.assertoutcome(passed=1)


@pytest.mark.asyncio
@pytest.mark.parametrize("clocked", [True, False], ids=["injected-clock", "real-time"])
async def test_the_workload_stops_at_its_call_budget_before_its_seconds_are_up(
    clocked: bool,
) -> None:
    """However fast the provider, the tasks stop after the plan's calls (the drain adds a few),
    so the history check stays short."""
    clock = ManualClock(T0) if clocked else None
    plan = dataclasses.replace(_hammer.Plan.for_run(4, 60.0, clocked, 1.0), max_calls=300)
    provider = MemoryProvider(clock)
    began = time.monotonic()
    history = await _hammer.hammer(provider, clock, plan)
    assert time.monotonic() - began < 30
    assert 300 <= len(history.calls) < 300 + 100
    assert history.drained is True
    assert _hammer.Plan.for_run(8, 5.0, clocked, 1.0).max_calls == (20_000 if clocked else 3_000)
