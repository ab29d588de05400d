"""Turns the outcome of one orchestration turn into the arguments of one ``ack_orchestration_item``.

Pure functions of the turn: no provider calls, no clock reads. Everything a turn decided
reaches storage through the ``AckPlan`` built here, in a single atomic ack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from provkit.contract import ActivityId, ErrorCategory, ErrorDetails, ExecutionMetadata, Status
from provkit.contract.events import (
    ActivityScheduled,
    Event,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
    SubOrchestrationScheduled,
)
from provkit.contract.messages import (
    ActivityExecute,
    CancelInstance,
    ContinueAsNew,
    OrchestratorMessage,
    StartOrchestration,
    SubOrchestrationCompletedMessage,
    SubOrchestrationFailedMessage,
    TimerFiredMessage,
)
from provkit.runtime._payload import PayloadTooLargeError, oversize
from provkit.runtime._replay import (
    CreateTimer,
    ScheduleActivity,
    StartSubOrchestration,
    TurnOutcome,
    TurnResult,
    WaitExternal,
)
from provkit.runtime._replay_history import outstanding

_TERMINAL_STATUS = {
    TurnOutcome.COMPLETED: Status.COMPLETED,
    TurnOutcome.FAILED: Status.FAILED,
    TurnOutcome.CONTINUED_AS_NEW: Status.CONTINUED_AS_NEW,
    TurnOutcome.CANCELLED: Status.CANCELLED,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AckPlan:
    """The arguments of one ``ack_orchestration_item`` call (besides the lock token)."""

    execution_id: int
    history_delta: list[Event] = field(default_factory=list)
    worker_items: list[ActivityExecute] = field(default_factory=list)
    orchestrator_items: list[OrchestratorMessage] = field(default_factory=list)
    metadata: ExecutionMetadata = field(default_factory=ExecutionMetadata)
    cancelled_activities: list[ActivityId] = field(default_factory=list)


def plan_turn_ack(instance: str, execution_id: int, result: TurnResult) -> AckPlan:
    """Map a ``TurnResult`` of ``instance``/``execution_id`` to the ack that commits it."""
    worker_items: list[ActivityExecute] = []
    orchestrator_items: list[OrchestratorMessage] = []
    for action in result.actions:
        match action:
            case ScheduleActivity():
                worker_items.append(
                    ActivityExecute(
                        instance=instance,
                        execution_id=execution_id,
                        id=action.event_id,
                        name=action.name,
                        input=action.input,
                        queue=action.queue,
                    )
                )
            case CreateTimer():
                orchestrator_items.append(
                    TimerFiredMessage(
                        instance=instance,
                        execution_id=execution_id,
                        id=action.event_id,
                        fire_at_ms=action.fire_at_ms,
                    )
                )
            case StartSubOrchestration():
                orchestrator_items.append(
                    StartOrchestration(
                        instance=action.instance,
                        orchestration=action.name,
                        input=action.input,
                        parent_instance=instance,
                        parent_execution_id=execution_id,
                        parent_id=action.event_id,
                    )
                )
            case WaitExternal():
                pass  # the event arrives by itself; nothing to enqueue

    status = _TERMINAL_STATUS.get(result.outcome)
    started = result.started
    if status is not None and started is not None:
        orchestrator_items.extend(
            _terminal_messages(instance, started, result.outcome, result.output, result.error)
        )
    if result.outcome is TurnOutcome.CONTINUED_AS_NEW:
        if started is None or result.output is None:
            raise ValueError(f"continue-as-new turn of {instance!r} lacks its start or next input")
        # The next fetch sees this execution ended and the message, and starts execution N+1.
        orchestrator_items.append(
            ContinueAsNew(
                instance=instance,
                orchestration=started.name,
                input=result.output,
                version=started.version,
            )
        )
    reason = result.error.message if result.error is not None else "parent ended"
    orchestrator_items.extend(
        CancelInstance(instance=child, reason=reason)
        for child in result.cancelled_sub_orchestrations
    )

    output: str | None = None
    if status is not None:
        output = result.error.display() if result.error is not None else result.output
    return AckPlan(
        execution_id=execution_id,
        history_delta=list(result.history_delta),
        worker_items=worker_items,
        orchestrator_items=orchestrator_items,
        metadata=_metadata(started, result.history_delta, status, output),
        cancelled_activities=[
            ActivityId(instance, execution_id, event_id) for event_id in result.cancelled_activities
        ],
    )


def oversized_payload(delta: Sequence[Event], limit: int) -> ErrorDetails | None:
    """The error refusing a turn whose new events carry a payload over ``limit`` bytes.

    Checks what the turn itself produced: activity and sub-orchestration inputs, the
    orchestration's output and its continue-as-new input. (Orchestration inputs and event
    data are checked by the client, activity results by the worker.)
    """
    for event in delta:
        match event:
            case ActivityScheduled(name=name, input=text):
                what = f"input of activity {name!r} (event {event.event_id})"
            case SubOrchestrationScheduled(name=name, input=text):
                what = f"input of sub-orchestration {name!r} (event {event.event_id})"
            case OrchestrationCompleted(output=text):
                what = "output of the orchestration"
            case OrchestrationContinuedAsNew(input=text):
                what = "continue-as-new input of the orchestration"
            case _:
                continue
        size = oversize(text, limit)
        if size is not None:
            return ErrorDetails(
                category=ErrorCategory.APPLICATION,
                kind="payload_too_large",
                message=str(PayloadTooLargeError(what, size, limit)),
            )
    return None


def plan_poison_ack(
    instance: str,
    execution_id: int,
    history: Sequence[Event],
    starter: StartOrchestration | ContinueAsNew | None,
    error: ErrorDetails,
    now_ms: int,
) -> AckPlan:
    """Fail execution ``execution_id`` with ``error``, keeping nothing else of the turn.

    Used when a batch was delivered too often or cannot be read (no user code runs), and
    when a turn's output is refused. ``history`` is that execution's history;
    when it is empty, ``starter`` (the batch's start message, if any) provides the
    ``OrchestrationStarted`` event so that the failure is readable from history. Outstanding
    activities and children are cancelled and a parent is told that its child failed.
    """
    delta: list[Event] = []
    started = next((e for e in history if isinstance(e, OrchestrationStarted)), None)
    next_id = max((e.event_id for e in history), default=0) + 1
    if started is None and starter is not None:
        started = _started_from(starter, next_id, now_ms)
        delta.append(started)
        next_id += 1
    delta.append(OrchestrationFailed(event_id=next_id, timestamp_ms=now_ms, error=error))

    messages: list[OrchestratorMessage] = []
    if started is not None:
        messages += _terminal_messages(instance, started, TurnOutcome.FAILED, None, error)
    activities, children = outstanding(history)
    messages += [CancelInstance(instance=child, reason=error.message) for child in children]
    return AckPlan(
        execution_id=execution_id,
        history_delta=delta,
        orchestrator_items=messages,
        metadata=_metadata(started, delta, Status.FAILED, error.display()),
        cancelled_activities=[ActivityId(instance, execution_id, a) for a in activities],
    )


def _metadata(
    started: OrchestrationStarted | None,
    delta: Sequence[Event],
    status: Status | None,
    output: str | None,
) -> ExecutionMetadata:
    """Status and output; on an execution's first turn also its name, version and parent."""
    if started is None or not any(event is started for event in delta):
        return ExecutionMetadata(status=status, output=output)
    return ExecutionMetadata(
        status=status or Status.RUNNING,
        output=output,
        orchestration_name=started.name,
        orchestration_version=started.version,
        parent_instance=started.parent_instance,
    )


def _terminal_messages(
    instance: str,
    started: OrchestrationStarted,
    outcome: TurnOutcome,
    output: str | None,
    error: ErrorDetails | None,
) -> list[OrchestratorMessage]:
    """The message that tells a parent how its child ended (none for a root instance).

    A child that continues as new has not ended yet: its parent hears from the last
    execution.
    """
    if (
        started.parent_instance is None
        or started.parent_execution_id is None
        or started.parent_id is None
        or outcome is TurnOutcome.CONTINUED_AS_NEW
    ):
        return []
    if outcome is TurnOutcome.COMPLETED:
        return [
            SubOrchestrationCompletedMessage(
                instance=started.parent_instance,
                execution_id=started.parent_execution_id,
                id=started.parent_id,
                child_instance=instance,
                result=output if output is not None else "null",
            )
        ]
    if error is None:
        raise ValueError(f"turn of {instance!r} ended {outcome.value} without error details")
    return [
        SubOrchestrationFailedMessage(
            instance=started.parent_instance,
            execution_id=started.parent_execution_id,
            id=started.parent_id,
            child_instance=instance,
            error=error,
        )
    ]


def _started_from(
    starter: StartOrchestration | ContinueAsNew, event_id: int, now_ms: int
) -> OrchestrationStarted:
    if isinstance(starter, StartOrchestration):
        return OrchestrationStarted(
            event_id=event_id,
            timestamp_ms=now_ms,
            name=starter.orchestration,
            version=starter.version or "0",
            input=starter.input,
            parent_instance=starter.parent_instance,
            parent_execution_id=starter.parent_execution_id,
            parent_id=starter.parent_id,
        )
    return OrchestrationStarted(
        event_id=event_id,
        timestamp_ms=now_ms,
        name=starter.orchestration,
        version=starter.version or "0",
        input=starter.input,
    )
