"""Builders for replay-engine tests: events, messages, expected results and a ``run`` helper.

The names are the conformance suite's (``provkit.conformance._builders``): ``started``,
``scheduled`` and ``completed`` (activity events), ``start_item``, ``external_item``,
``timer_item`` and ``activity_done`` (messages); events with no suite builder are named after
their class. Here every message is for ``INSTANCE``, every event is stamped ``NOW``, and payload
arguments are Python values, encoded the way the engine encodes them, so a test reads
``completed(3, 2, "Hello")`` instead of hand-written JSON text. Expected turn results are
``turn``, ``completed_turn``, ``failed_turn`` and ``noop_turn``.

``run`` works in two modes (``conftest.py`` runs every replay-engine test in both):
``"full"`` replays the whole history, ``"resumed"`` runs the turn the way a runtime with a
replay cache does, on the state kept after the turn that left the history.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from provkit.contract import ErrorCategory, ErrorDetails
from provkit.contract import events as ev
from provkit.contract import messages as msg
from provkit.runtime._context import OrchestrationContext
from provkit.runtime._payload import encode
from provkit.runtime._replay import Action, ExecutionReplay, TurnOutcome, TurnResult, run_turn

INSTANCE = "inst-1"
ORCH = "Orch"
NOW = 1_700_000_000_000
"""The ``now_ms`` of every turn and the timestamp of every built event."""

Orchestration = Callable[[OrchestrationContext, Any], Coroutine[Any, Any, Any]]


def app_error(message: str, kind: str = "activity_failed") -> ErrorDetails:
    """An APPLICATION error, as an activity raising would report it."""
    return ErrorDetails(category=ErrorCategory.APPLICATION, kind=kind, message=message)


def nondeterminism(message: str) -> ErrorDetails:
    """The engine's error when code and history disagree."""
    return ErrorDetails(
        category=ErrorCategory.CONFIGURATION, kind="nondeterminism", message=message
    )


def corrupt(message: str) -> ErrorDetails:
    """The engine's error for structurally broken history."""
    return ErrorDetails(
        category=ErrorCategory.INFRASTRUCTURE, kind="corrupt_history", message=message
    )


def orchestration_failed(message: str) -> ErrorDetails:
    """The error of an exception escaping orchestration code."""
    return ErrorDetails(
        category=ErrorCategory.APPLICATION, kind="orchestration_failed", message=message
    )


# -- history events -------------------------------------------------------------------------


def started(
    id: int = 1, name: str = ORCH, input: Any = None, *, ts: int = NOW
) -> ev.OrchestrationStarted:
    return ev.OrchestrationStarted(
        event_id=id, timestamp_ms=ts, name=name, version="0", input=encode(input)
    )


STARTED = started()
"""The ``[Started]`` baseline most tests use."""


def scheduled(id: int, name: str, input: Any = None, *, ts: int = NOW) -> ev.ActivityScheduled:
    return ev.ActivityScheduled(event_id=id, timestamp_ms=ts, name=name, input=encode(input))


def completed(
    id: int, source: int | None, result: Any = None, *, ts: int = NOW
) -> ev.ActivityCompleted:
    return ev.ActivityCompleted(
        event_id=id, source_event_id=source, timestamp_ms=ts, result=encode(result)
    )


def activity_failed(
    id: int, source: int, error: ErrorDetails | str, *, ts: int = NOW
) -> ev.ActivityFailed:
    details = app_error(error) if isinstance(error, str) else error
    return ev.ActivityFailed(event_id=id, source_event_id=source, timestamp_ms=ts, error=details)


def timer_created(id: int, fire_at_ms: int, *, ts: int = NOW) -> ev.TimerCreated:
    return ev.TimerCreated(event_id=id, timestamp_ms=ts, fire_at_ms=fire_at_ms)


def timer_fired(id: int, source: int, fire_at_ms: int, *, ts: int = NOW) -> ev.TimerFired:
    return ev.TimerFired(
        event_id=id, source_event_id=source, timestamp_ms=ts, fire_at_ms=fire_at_ms
    )


def external_subscribed(id: int, name: str, *, ts: int = NOW) -> ev.ExternalSubscribed:
    return ev.ExternalSubscribed(event_id=id, timestamp_ms=ts, name=name)


def external_event(
    id: int, name: str, data: Any = None, source: int | None = None, *, ts: int = NOW
) -> ev.ExternalEvent:
    return ev.ExternalEvent(
        event_id=id, source_event_id=source, timestamp_ms=ts, name=name, data=encode(data)
    )


def sub_orch_scheduled(
    id: int, name: str, instance: str, input: Any = None, *, ts: int = NOW
) -> ev.SubOrchestrationScheduled:
    return ev.SubOrchestrationScheduled(
        event_id=id, timestamp_ms=ts, name=name, instance=instance, input=encode(input)
    )


def sub_orch_completed(
    id: int, source: int, result: Any = None, *, ts: int = NOW
) -> ev.SubOrchestrationCompleted:
    return ev.SubOrchestrationCompleted(
        event_id=id, source_event_id=source, timestamp_ms=ts, result=encode(result)
    )


def system_call(id: int, op: str, value: str, *, ts: int = NOW) -> ev.SystemCall:
    return ev.SystemCall(event_id=id, timestamp_ms=ts, op=op, value=value)


def cancel_requested(id: int, reason: str, *, ts: int = NOW) -> ev.OrchestrationCancelRequested:
    return ev.OrchestrationCancelRequested(event_id=id, timestamp_ms=ts, reason=reason)


def orchestration_completed(
    id: int, output: Any = None, *, ts: int = NOW
) -> ev.OrchestrationCompleted:
    return ev.OrchestrationCompleted(event_id=id, timestamp_ms=ts, output=encode(output))


def orchestration_failed_event(
    id: int, error: ErrorDetails, *, ts: int = NOW
) -> ev.OrchestrationFailed:
    return ev.OrchestrationFailed(event_id=id, timestamp_ms=ts, error=error)


def continued_as_new(
    id: int, input: Any = None, *, ts: int = NOW
) -> ev.OrchestrationContinuedAsNew:
    return ev.OrchestrationContinuedAsNew(event_id=id, timestamp_ms=ts, input=encode(input))


# -- orchestrator messages ------------------------------------------------------------------


def start_item(input: Any = None, *, name: str = ORCH, **fields: Any) -> msg.StartOrchestration:
    return msg.StartOrchestration(
        instance=INSTANCE, orchestration=name, input=encode(input), **fields
    )


def activity_done(
    id: int, result: Any = None, *, execution_id: int = 1, instance: str = INSTANCE
) -> msg.ActivityCompletedMessage:
    return msg.ActivityCompletedMessage(
        instance=instance, execution_id=execution_id, id=id, result=encode(result)
    )


def activity_failed_item(
    id: int, error: ErrorDetails | str, *, execution_id: int = 1
) -> msg.ActivityFailedMessage:
    details = app_error(error) if isinstance(error, str) else error
    return msg.ActivityFailedMessage(
        instance=INSTANCE, execution_id=execution_id, id=id, error=details
    )


def timer_item(id: int, fire_at_ms: int, *, execution_id: int = 1) -> msg.TimerFiredMessage:
    return msg.TimerFiredMessage(
        instance=INSTANCE, execution_id=execution_id, id=id, fire_at_ms=fire_at_ms
    )


def external_item(name: str, data: Any = None) -> msg.ExternalRaised:
    return msg.ExternalRaised(instance=INSTANCE, name=name, data=encode(data))


def sub_orch_done(
    parent_id: int, child_instance: str, result: Any = None, *, execution_id: int = 1
) -> msg.SubOrchestrationCompletedMessage:
    return msg.SubOrchestrationCompletedMessage(
        instance=INSTANCE,
        execution_id=execution_id,
        id=parent_id,
        child_instance=child_instance,
        result=encode(result),
    )


def cancel_item(reason: str) -> msg.CancelInstance:
    return msg.CancelInstance(instance=INSTANCE, reason=reason)


# -- running and expecting ------------------------------------------------------------------


MODE = "full"
"""How ``run`` runs a turn: ``"full"`` or ``"resumed"`` (set by the ``replay_mode`` fixture)."""


def run(
    orchestration: Orchestration | None,
    history: Sequence[ev.Event],
    messages: Sequence[msg.OrchestratorMessage] = (),
    *,
    name: str = ORCH,
    now_ms: int = NOW,
    execution_id: int = 1,
    discarded: Callable[[], None] | None = None,
) -> TurnResult:
    """One turn of ``INSTANCE`` with ``orchestration`` registered as ``name`` (or nothing).

    In ``"resumed"`` mode the turn that left ``history`` is run first, without messages, and
    the turn under test resumes the state it kept. A history that turn would have changed
    (it records events, or ends the execution) is never kept by a runtime: the turn under
    test then replays from scratch, after ``discarded()`` lets the test forget what the
    thrown-away turn's code did.
    """
    orchestrations = {} if orchestration is None else {name: orchestration}
    if MODE == "full":
        return run_turn(
            instance=INSTANCE,
            execution_id=execution_id,
            history=history,
            messages=messages,
            orchestrations=orchestrations,
            now_ms=now_ms,
        )
    replay = ExecutionReplay(
        instance=INSTANCE, execution_id=execution_id, orchestrations=orchestrations
    )
    try:
        before = replay.run_turn(history, [], now_ms)
        settled = before.outcome is TurnOutcome.CONTINUE and not before.history_delta
        if not (settled and replay.expects(history)):
            replay.close()
            if discarded is not None:
                discarded()
        return replay.run_turn(history, messages, now_ms)
    finally:
        replay.close()


def turn(
    outcome: TurnOutcome,
    *,
    delta: Sequence[ev.Event] = (),
    actions: Sequence[Action] = (),
    output: Any = ...,
    error: ErrorDetails | None = None,
    cancelled_activities: Sequence[int] = (),
    cancelled_sub_orchestrations: Sequence[str] = (),
    started: ev.OrchestrationStarted | None = STARTED,
) -> TurnResult:
    """The exact ``TurnResult`` a test expects; ``output`` is a Python value (``...``: none)."""
    return TurnResult(
        outcome=outcome,
        output=None if output is ... else encode(output),
        error=error,
        history_delta=list(delta),
        actions=list(actions),
        cancelled_activities=list(cancelled_activities),
        cancelled_sub_orchestrations=list(cancelled_sub_orchestrations),
        started=started,
    )


def completed_turn(
    output: Any, *, id: int, delta: Sequence[ev.Event] = (), **rest: Any
) -> TurnResult:
    """COMPLETED with ``output``: ``delta`` followed by ``OrchestrationCompleted(id)``."""
    final = ev.OrchestrationCompleted(event_id=id, timestamp_ms=NOW, output=encode(output))
    return turn(TurnOutcome.COMPLETED, delta=[*delta, final], output=output, **rest)


def failed_turn(
    error: ErrorDetails, *, id: int, delta: Sequence[ev.Event] = (), **rest: Any
) -> TurnResult:
    """FAILED with ``error``: ``delta`` followed by ``OrchestrationFailed(id)``."""
    final = orchestration_failed_event(id, error)
    return turn(TurnOutcome.FAILED, delta=[*delta, final], error=error, **rest)


def noop_turn(**rest: Any) -> TurnResult:
    """CONTINUE with nothing to record and nothing to do."""
    return turn(TurnOutcome.CONTINUE, **rest)
