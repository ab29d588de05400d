"""``RetryPolicy``: durable activity retries, each attempt and wait recorded in history."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from _runtime_support import Store, running

from provkit.contract import ErrorCategory, ErrorDetails
from provkit.contract import events as ev
from provkit.runtime import (
    Client,
    NonRetryableError,
    OrchestrationContext,
    OrchestrationStatus,
    RetryPolicy,
    TaskFailedError,
)
from provkit.runtime._replay import run_turn

on_memory = pytest.mark.parametrize("store", ["memory"], indirect=True)


def test_delays_grow_by_the_backoff_up_to_the_cap() -> None:
    """first_delay * backoff ** (n - 1), capped at max_delay."""
    policy = RetryPolicy(max_attempts=6, first_delay=0.5, backoff=3.0, max_delay=10.0)
    assert [policy.delay_after(n) for n in range(1, 6)] == [0.5, 1.5, 4.5, 10.0, 10.0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be a positive integer"),
        ({"max_attempts": 2, "first_delay": -1}, "first_delay must be >= 0 seconds"),
        ({"max_attempts": 2, "backoff": 0.5}, "backoff must be a number >= 1"),
        ({"max_attempts": 2, "max_delay": float("inf")}, "max_delay must be >= 0 seconds"),
    ],
)
def test_invalid_policies_are_refused(fields: dict[str, Any], message: str) -> None:
    """A bad field raises ValueError naming it."""
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**fields)


def test_only_retryable_failures_the_predicate_accepts_are_retried() -> None:
    """retryable false, or retry_if false, or no attempt left: no retry."""
    error = ErrorDetails(category=ErrorCategory.APPLICATION, kind="k", message="m", retryable=True)
    final = ErrorDetails(category=ErrorCategory.APPLICATION, kind="k", message="m")
    picky = RetryPolicy(max_attempts=3, retry_if=lambda e: e.message != "m")
    assert [RetryPolicy(max_attempts=3).retries(error, n) for n in (1, 2, 3)] == [
        True,
        True,
        False,
    ]
    assert RetryPolicy(max_attempts=3).retries(final, 1) is False
    assert picky.retries(error, 1) is False


async def retried(ctx: OrchestrationContext, attempts: int) -> Any:
    policy = RetryPolicy(max_attempts=attempts, first_delay=0.01, backoff=2.0)
    try:
        return await ctx.schedule_activity("flaky", ctx.instance, retry=policy)
    except TaskFailedError as error:
        return f"gave up: {error}"


@pytest.mark.asyncio
@on_memory
async def test_attempts_and_waits_are_history_and_replay_to_the_same_result(
    store: Store,
) -> None:
    """Two failures then success: run, fail, wait, run, fail, wait, run; replay agrees."""
    calls: Counter[str] = Counter()

    def flaky(instance: str) -> str:
        calls[instance] += 1
        if calls[instance] < 3:
            raise RuntimeError(f"failure {calls[instance]}")
        return "done"

    client = Client(store.provider)
    async with running(store.provider, {"retried": retried}, {"flaky": flaky}):
        await client.start_orchestration("r", "retried", 4)
        state = await client.wait_for_orchestration("r", timeout=10)

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, "done")
    history = await store.provider.read("r")
    assert [type(e).__name__ for e in history][1:] == [
        "ActivityScheduled", "ActivityFailed", "TimerCreated", "TimerFired",
        "ActivityScheduled", "ActivityFailed", "TimerCreated", "TimerFired",
        "ActivityScheduled", "ActivityCompleted", "OrchestrationCompleted",
    ]  # fmt: skip
    timers = [e for e in history if isinstance(e, ev.TimerCreated)]
    assert [t.fire_at_ms - t.timestamp_ms for t in timers] == [10, 20]
    # Replaying the whole history (no new messages) schedules nothing new and agrees.
    replay = run_turn(
        instance="r",
        execution_id=1,
        history=history[:-1],
        messages=[],
        orchestrations={"retried": retried},
        now_ms=history[-1].timestamp_ms,
    )
    assert replay.actions == []
    assert replay.output == '"done"'


@pytest.mark.asyncio
@on_memory
async def test_non_retryable_failure_and_exhausted_attempts_reach_the_orchestration(
    store: Store,
) -> None:
    """NonRetryableError stops at once; other errors stop after max_attempts."""

    def flaky(instance: str) -> str:
        if instance == "refused":
            raise NonRetryableError("no point")
        raise RuntimeError("still broken")

    client = Client(store.provider)
    async with running(store.provider, {"retried": retried}, {"flaky": flaky}):
        await client.start_orchestration("refused", "retried", 5)
        await client.start_orchestration("exhausted", "retried", 2)
        refused = await client.wait_for_orchestration("refused", timeout=10)
        exhausted = await client.wait_for_orchestration("exhausted", timeout=10)

    assert refused.output == (
        "gave up: activity 'flaky' failed after 1 attempt (not retryable): no point"
    )
    assert exhausted.output == "gave up: activity 'flaky' failed after 2 attempts: still broken"
    failures = [
        e for e in await store.provider.read("exhausted") if isinstance(e, ev.ActivityFailed)
    ]
    assert [(f.error.kind, f.error.retryable) for f in failures] == [("activity_failed", True)] * 2
