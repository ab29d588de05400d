"""Replay engine, section 6: a cancel request ends the execution CANCELLED, code unrun."""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    INSTANCE,
    NOW,
    STARTED,
    cancel_item,
    cancel_requested,
    orchestration_failed_event,
    run,
    scheduled,
    sub_orch_scheduled,
    turn,
)

from provkit.contract import ErrorCategory, ErrorDetails
from provkit.contract import events as ev
from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import TurnOutcome


def cancelled(reason: str) -> ErrorDetails:
    return ErrorDetails(category=ErrorCategory.APPLICATION, kind="cancelled", message=reason)


async def waits_for_activity(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.schedule_activity("A")


def test_cancel_via_message() -> None:
    """CancelInstance records CancelRequested(2) then OrchestrationFailed(3, cancelled: reason)."""
    result = run(waits_for_activity, [STARTED], [cancel_item("user asked")])

    assert result == turn(
        TurnOutcome.CANCELLED,
        delta=[
            ev.OrchestrationCancelRequested(event_id=2, timestamp_ms=NOW, reason="user asked"),
            orchestration_failed_event(3, cancelled("user asked")),
        ],
        error=cancelled("user asked"),
    )


def test_cancel_in_history() -> None:
    """A recorded CancelRequested with no terminal event yet is finished: Failed(cancelled) only."""
    result = run(waits_for_activity, [STARTED, cancel_requested(2, "recorded reason")])

    assert result == turn(
        TurnOutcome.CANCELLED,
        delta=[orchestration_failed_event(3, cancelled("recorded reason"))],
        error=cancelled("recorded reason"),
    )


def test_cancel_precedence_over_completion() -> None:
    """A cancel wins over code that would complete at once: the code is not even run."""
    calls: list[int] = []

    async def returns_ok(ctx: OrchestrationContext, _: Any) -> str:
        calls.append(1)
        return "ok"

    result = run(returns_ok, [STARTED], [cancel_item("stop")], discarded=calls.clear)

    assert (result.outcome, result.error, result.output) == (
        TurnOutcome.CANCELLED,
        cancelled("stop"),
        None,
    )
    assert [type(e) for e in result.history_delta] == [
        ev.OrchestrationCancelRequested,
        ev.OrchestrationFailed,
    ]
    assert calls == []


def test_cancel_with_pending_activity() -> None:
    """Cancelling with activity 2 in flight lists it in cancelled_activities."""
    result = run(waits_for_activity, [STARTED, scheduled(2, "A")], [cancel_item("stop")])

    assert result == turn(
        TurnOutcome.CANCELLED,
        delta=[
            ev.OrchestrationCancelRequested(event_id=3, timestamp_ms=NOW, reason="stop"),
            orchestration_failed_event(4, cancelled("stop")),
        ],
        error=cancelled("stop"),
        cancelled_activities=[2],
    )


def test_cancel_with_running_sub_orchestration() -> None:
    """Cancelling with a child still running lists its instance in cancelled_sub_orchestrations."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_sub_orchestration("Child")

    child = f"{INSTANCE}::sub::2"
    result = run(orch, [STARTED, sub_orch_scheduled(2, "Child", child)], [cancel_item("stop")])

    assert result.outcome is TurnOutcome.CANCELLED
    assert (result.cancelled_activities, result.cancelled_sub_orchestrations) == ([], [child])


def test_cancel_duplicate_filtered() -> None:
    """A cancel after a recorded one adds no second CancelRequested; the first reason wins."""
    result = run(
        waits_for_activity, [STARTED, cancel_requested(2, "first")], [cancel_item("second")]
    )

    assert result == turn(
        TurnOutcome.CANCELLED,
        delta=[orchestration_failed_event(3, cancelled("first"))],
        error=cancelled("first"),
    )


def test_two_cancels_in_one_batch_record_one() -> None:
    """Two cancels in one batch record one CancelRequested, with the first message's reason."""
    result = run(waits_for_activity, [STARTED], [cancel_item("first"), cancel_item("second")])

    assert result.history_delta == [
        ev.OrchestrationCancelRequested(event_id=2, timestamp_ms=NOW, reason="first"),
        orchestration_failed_event(3, cancelled("first")),
    ]
