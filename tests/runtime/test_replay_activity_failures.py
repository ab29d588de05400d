"""Replay engine, section 13: only APPLICATION task failures reach orchestration code."""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    INSTANCE,
    NOW,
    STARTED,
    activity_failed,
    activity_failed_item,
    completed_turn,
    failed_turn,
    run,
    scheduled,
    sub_orch_scheduled,
)

from provkit.contract import ErrorCategory, ErrorDetails
from provkit.contract import events as ev
from provkit.contract.messages import SubOrchestrationFailedMessage
from provkit.runtime._context import OrchestrationContext
from provkit.runtime._errors import TaskFailedError

CAUGHT: list[TaskFailedError] = []


async def charge(ctx: OrchestrationContext, _: Any) -> Any:
    try:
        return await ctx.schedule_activity("Charge", 10)
    except TaskFailedError as exc:
        CAUGHT.append(exc)
        return {"handled": str(exc), "kind": exc.details.kind}


def run_charge(error: ErrorDetails) -> Any:
    CAUGHT.clear()
    return run(charge, [STARTED, scheduled(2, "Charge", 10)], [activity_failed_item(2, error)])


def test_application_error_propagates() -> None:
    """An APPLICATION failure raises TaskFailedError in the code, which may handle it."""
    error = ErrorDetails(
        category=ErrorCategory.APPLICATION, kind="activity_failed", message="declined"
    )

    assert run_charge(error) == completed_turn(
        {"handled": "activity 'Charge' (event 2) failed: declined", "kind": "activity_failed"},
        id=4,
        delta=[activity_failed(3, 2, error)],
    )
    assert [exc.details for exc in CAUGHT] == [error]


def test_infrastructure_error_aborts() -> None:
    """An INFRASTRUCTURE failure fails the instance with that category; the code never sees it."""
    error = ErrorDetails(
        category=ErrorCategory.INFRASTRUCTURE,
        kind="worker_lost",
        message="lease lost",
        retryable=True,
    )

    assert run_charge(error) == failed_turn(
        ErrorDetails(
            category=ErrorCategory.INFRASTRUCTURE,
            kind="worker_lost",
            message="activity 'Charge' (event 2) failed: lease lost",
            retryable=True,
        ),
        id=4,
        delta=[activity_failed(3, 2, error)],
    )
    assert CAUGHT == []


def test_configuration_error_aborts() -> None:
    """A CONFIGURATION failure fails the instance with that category; the code never sees it."""
    error = ErrorDetails(
        category=ErrorCategory.CONFIGURATION, kind="unregistered", message="no activity 'Charge'"
    )

    assert run_charge(error) == failed_turn(
        ErrorDetails(
            category=ErrorCategory.CONFIGURATION,
            kind="unregistered",
            message="activity 'Charge' (event 2) failed: no activity 'Charge'",
        ),
        id=4,
        delta=[activity_failed(3, 2, error)],
    )
    assert CAUGHT == []


def test_poison_error_aborts() -> None:
    """A POISON failure (delivered too often) also bypasses the code and fails the orchestration."""
    error = ErrorDetails(category=ErrorCategory.POISON, kind="poison", message="10 deliveries")

    result = run_charge(error)

    assert result.error == ErrorDetails(
        category=ErrorCategory.POISON,
        kind="poison",
        message="activity 'Charge' (event 2) failed: 10 deliveries",
    )
    assert CAUGHT == []


def test_recorded_infrastructure_failure_aborts_on_replay() -> None:
    """A recorded INFRASTRUCTURE failure of a task not awaited yet still fails the orchestration."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        background = ctx.schedule_activity("Charge", 10)
        await ctx.wait_for_event("Go")
        return await background

    error = ErrorDetails(category=ErrorCategory.INFRASTRUCTURE, kind="x", message="gone")
    history = [
        STARTED,
        scheduled(2, "Charge", 10),
        ev.ExternalSubscribed(event_id=3, name="Go"),
        activity_failed(4, 2, error),
    ]
    assert run(orch, history) == failed_turn(
        ErrorDetails(
            category=ErrorCategory.INFRASTRUCTURE,
            kind="x",
            message="activity 'Charge' (event 2) failed: gone",
        ),
        id=5,
    )


def test_sub_orchestration_application_failure_raises() -> None:
    """A child's APPLICATION failure raises TaskFailedError naming the child instance."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        try:
            return await ctx.schedule_sub_orchestration("Child")
        except TaskFailedError as exc:
            return str(exc)

    child = f"{INSTANCE}::sub::2"
    error = ErrorDetails(
        category=ErrorCategory.APPLICATION, kind="orchestration_failed", message="x"
    )
    message = SubOrchestrationFailedMessage(
        instance=INSTANCE, execution_id=1, id=2, child_instance=child, error=error
    )
    result = run(orch, [STARTED, sub_orch_scheduled(2, "Child", child)], [message])

    assert result == completed_turn(
        f"sub-orchestration 'Child' (instance '{child}') (event 2) failed: x",
        id=4,
        delta=[
            ev.SubOrchestrationFailed(
                event_id=3,
                source_event_id=2,
                timestamp_ms=NOW,
                error=error,
            )
        ],
    )
