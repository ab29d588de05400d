"""From fetched batch to ack: which execution a batch goes to and what one turn's ack holds."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from _replay_builders import STARTED, turn

from provkit.contract import (
    ActivityId,
    ErrorCategory,
    ErrorDetails,
    ExecutionMetadata,
    OrchestrationItem,
    Status,
)
from provkit.contract.events import (
    ActivityCompleted,
    ActivityScheduled,
    Event,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
    SubOrchestrationScheduled,
)
from provkit.contract.messages import (
    ActivityCompletedMessage,
    ActivityExecute,
    CancelInstance,
    ContinueAsNew,
    ExternalRaised,
    OrchestratorMessage,
    StartOrchestration,
    SubOrchestrationCompletedMessage,
    SubOrchestrationFailedMessage,
    TimerFiredMessage,
)
from provkit.runtime._ack_plan import plan_poison_ack, plan_turn_ack
from provkit.runtime._dispatch_orchestration import target_execution
from provkit.runtime._replay import (
    Action,
    CreateTimer,
    ScheduleActivity,
    StartSubOrchestration,
    TurnOutcome,
    WaitExternal,
)

ROOT = STARTED
CHILD = OrchestrationStarted(
    event_id=1,
    name="flow",
    version="1",
    input="0",
    parent_instance="parent",
    parent_execution_id=3,
    parent_id=7,
)
BOOM = ErrorDetails(category=ErrorCategory.APPLICATION, kind="orchestration_failed", message="boom")
START = StartOrchestration(instance="i", orchestration="flow", input="0")


def item(history: Sequence[Event], messages: Sequence[OrchestratorMessage]) -> OrchestrationItem:
    return OrchestrationItem(
        instance="i",
        orchestration_name=None,
        version=None,
        execution_id=2,
        history=list(history),
        messages=list(messages),
        lock_token="t",
        attempt_count=1,
    )


def test_running_execution_gets_the_batch_with_its_history() -> None:
    """A batch for a running execution is applied to that execution and its history."""
    history = [ROOT, ActivityScheduled(event_id=2, name="a", input="1")]
    message = ActivityCompletedMessage(instance="i", execution_id=2, id=2, result="5")
    target = target_execution(item(history, [message]))
    assert target is not None
    assert (target.execution_id, target.history, target.messages) == (2, history, [message])


@pytest.mark.parametrize(
    ("history", "messages"),
    [
        ([ROOT, OrchestrationCompleted(event_id=2, output="1")], [START]),
        ([ROOT, OrchestrationFailed(event_id=2, error=BOOM)], [START]),
        ([ROOT, OrchestrationContinuedAsNew(event_id=2, input="1")], [START]),
        ([], [ExternalRaised(instance="i", name="e", data="1")]),
    ],
    ids=["completed", "failed", "continued-without-message", "never-started"],
)
def test_batches_for_ended_or_unstarted_instances_go_nowhere(
    history: list[Event], messages: list[OrchestratorMessage]
) -> None:
    """Messages for an ended instance, or for one never started, are not run at all."""
    assert target_execution(item(history, messages)) is None


def test_continue_as_new_message_starts_the_next_execution() -> None:
    """After ContinuedAsNew, the ContinueAsNew message runs execution N+1 from empty history."""
    history = [ROOT, OrchestrationContinuedAsNew(event_id=2, input="1")]
    message = ContinueAsNew(instance="i", orchestration="flow", input="1", version="1")
    target = target_execution(item(history, [message]))
    assert target is not None
    assert (target.execution_id, list(target.history), target.messages) == (3, [], [message])


def test_a_child_keeps_its_parent_across_continue_as_new() -> None:
    """A child's next execution is started with the parent's address so it reports back."""
    history = [CHILD, OrchestrationContinuedAsNew(event_id=2, input="1")]
    message = ContinueAsNew(instance="i", orchestration="flow", input="1", version="1")
    target = target_execution(item(history, [message]))
    assert target is not None
    assert target.messages == [
        StartOrchestration(
            instance="i",
            orchestration="flow",
            input="1",
            version="1",
            execution_id=3,
            parent_instance="parent",
            parent_execution_id=3,
            parent_id=7,
        )
    ]


def test_first_turn_maps_every_action_and_records_the_instance() -> None:
    """Activities go to the worker queue, timers and children to the orchestrator queue."""
    actions: list[Action] = [
        ScheduleActivity(event_id=2, name="a", input='"x"'),
        CreateTimer(event_id=3, fire_at_ms=1234),
        WaitExternal(event_id=4, name="e"),
        StartSubOrchestration(event_id=5, name="sub", instance="i::sub::5", input="7"),
    ]
    plan = plan_turn_ack("i", 2, turn(TurnOutcome.CONTINUE, delta=[ROOT], actions=actions))

    assert plan.execution_id == 2
    assert plan.history_delta == [ROOT]
    assert plan.worker_items == [
        ActivityExecute(instance="i", execution_id=2, id=2, name="a", input='"x"')
    ]
    assert plan.orchestrator_items == [
        TimerFiredMessage(instance="i", execution_id=2, id=3, fire_at_ms=1234),
        StartOrchestration(
            instance="i::sub::5",
            orchestration="sub",
            input="7",
            parent_instance="i",
            parent_execution_id=2,
            parent_id=5,
        ),
    ]
    assert plan.metadata == ExecutionMetadata(
        status=Status.RUNNING, orchestration_name="Orch", orchestration_version="0"
    )
    assert plan.cancelled_activities == []


def test_a_later_non_terminal_turn_leaves_metadata_alone() -> None:
    """A turn that neither starts nor ends the execution stores no status or output."""
    plan = plan_turn_ack("i", 2, turn(TurnOutcome.CONTINUE))
    assert plan.metadata == ExecutionMetadata()


def test_completed_child_reports_its_result_to_the_parent() -> None:
    """A child's completion enqueues SubOrchestrationCompleted to the parent's schedule event."""
    plan = plan_turn_ack(
        "i", 1, turn(TurnOutcome.COMPLETED, started=CHILD, output=42, cancelled_activities=[4])
    )
    assert plan.orchestrator_items == [
        SubOrchestrationCompletedMessage(
            instance="parent", execution_id=3, id=7, child_instance="i", result="42"
        )
    ]
    assert plan.metadata == ExecutionMetadata(status=Status.COMPLETED, output="42")
    assert plan.cancelled_activities == [ActivityId("i", 1, 4)]


def test_failed_child_reports_its_error_and_stores_it_as_output() -> None:
    """A child's failure enqueues SubOrchestrationFailed; the output is the error's display."""
    plan = plan_turn_ack("i", 1, turn(TurnOutcome.FAILED, started=CHILD, error=BOOM))
    assert plan.orchestrator_items == [
        SubOrchestrationFailedMessage(
            instance="parent", execution_id=3, id=7, child_instance="i", error=BOOM
        )
    ]
    assert plan.metadata == ExecutionMetadata(
        status=Status.FAILED, output="application/orchestration_failed: boom"
    )


def test_continue_as_new_sends_itself_the_next_start_and_not_the_parent() -> None:
    """CONTINUED_AS_NEW enqueues ContinueAsNew to the instance; the parent hears nothing yet."""
    plan = plan_turn_ack("i", 1, turn(TurnOutcome.CONTINUED_AS_NEW, started=CHILD, output=9))
    assert plan.orchestrator_items == [
        ContinueAsNew(instance="i", orchestration="flow", input="9", version="1")
    ]
    assert plan.metadata == ExecutionMetadata(status=Status.CONTINUED_AS_NEW, output="9")


def test_cancel_deletes_outstanding_activities_and_cancels_children() -> None:
    """CANCELLED names outstanding activities for deletion and cancels running children."""
    cancelled = ErrorDetails(category=ErrorCategory.APPLICATION, kind="cancelled", message="stop")
    result = turn(
        TurnOutcome.CANCELLED,
        error=cancelled,
        cancelled_activities=[2, 3],
        cancelled_sub_orchestrations=["i::sub::4"],
    )
    plan = plan_turn_ack("i", 1, result)
    assert plan.cancelled_activities == [ActivityId("i", 1, 2), ActivityId("i", 1, 3)]
    assert plan.orchestrator_items == [CancelInstance(instance="i::sub::4", reason="stop")]
    assert plan.metadata == ExecutionMetadata(
        status=Status.CANCELLED, output="application/cancelled: stop"
    )


POISON = ErrorDetails(category=ErrorCategory.POISON, kind="poison", message="too many")


def test_poison_without_history_records_start_and_failure() -> None:
    """A poisoned start message still leaves a readable history: Started then Failed."""
    plan = plan_poison_ack("i", 1, [], START, POISON, now_ms=500)
    assert plan.history_delta == [
        OrchestrationStarted(event_id=1, timestamp_ms=500, name="flow", version="0", input="0"),
        OrchestrationFailed(event_id=2, timestamp_ms=500, error=POISON),
    ]
    assert plan.metadata == ExecutionMetadata(
        status=Status.FAILED,
        output="poison/poison: too many",
        orchestration_name="flow",
        orchestration_version="0",
    )


def test_poison_of_a_running_child_fails_it_and_tells_the_parent() -> None:
    """A poisoned child fails after its last event, tells its parent, cancels what it started."""
    history = [
        CHILD,
        ActivityScheduled(event_id=2, name="a", input="1"),
        ActivityScheduled(event_id=3, name="a", input="2"),
        ActivityCompleted(event_id=4, source_event_id=2, result="1"),
        SubOrchestrationScheduled(event_id=5, name="sub", instance="grandchild", input="0"),
    ]
    plan = plan_poison_ack("i", 1, history, None, POISON, now_ms=500)
    assert plan.history_delta == [OrchestrationFailed(event_id=6, timestamp_ms=500, error=POISON)]
    assert plan.cancelled_activities == [ActivityId("i", 1, 3)]
    assert plan.orchestrator_items == [
        SubOrchestrationFailedMessage(
            instance="parent", execution_id=3, id=7, child_instance="i", error=POISON
        ),
        CancelInstance(instance="grandchild", reason="too many"),
    ]
    assert plan.metadata == ExecutionMetadata(
        status=Status.FAILED, output="poison/poison: too many"
    )
