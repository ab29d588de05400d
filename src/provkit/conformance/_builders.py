"""Small constructors for events and messages, so tests read like the contract."""

from __future__ import annotations

from collections.abc import Sequence

from provkit.contract import (
    ExecutionMetadata,
    OrchestrationItem,
    Provider,
    Status,
    WorkLease,
)
from provkit.contract import events as ev
from provkit.contract import messages as msg

ORCHESTRATION = "ConformanceOrchestration"
VERSION = "1.0.0"


def start_item(
    instance: str, input: str = "input", *, execution_id: int = 1
) -> msg.StartOrchestration:
    """A start message for ``instance``."""
    return msg.StartOrchestration(
        instance=instance,
        orchestration=ORCHESTRATION,
        input=input,
        version=VERSION,
        execution_id=execution_id,
    )


def external_item(instance: str, name: str = "signal", data: str = "data") -> msg.ExternalRaised:
    """An external event for ``instance``."""
    return msg.ExternalRaised(instance=instance, name=name, data=data)


def activity_done(
    instance: str, id: int, result: str = "result", *, execution_id: int = 1
) -> msg.ActivityCompletedMessage:
    """The completion of activity ``id`` of ``instance``."""
    return msg.ActivityCompletedMessage(
        instance=instance, execution_id=execution_id, id=id, result=result
    )


def timer_item(
    instance: str, id: int, fire_at_ms: int, *, execution_id: int = 1
) -> msg.TimerFiredMessage:
    """A timer of ``instance`` firing at ``fire_at_ms``."""
    return msg.TimerFiredMessage(
        instance=instance, execution_id=execution_id, id=id, fire_at_ms=fire_at_ms
    )


def work_item(
    instance: str, id: int, name: str = "Activity", input: str = "work", *, execution_id: int = 1
) -> msg.ActivityExecute:
    """A worker-queue item: activity ``id`` of ``instance``."""
    return msg.ActivityExecute(
        instance=instance, execution_id=execution_id, id=id, name=name, input=input
    )


def started(event_id: int = 1, input: str = "input") -> ev.OrchestrationStarted:
    """An ``OrchestrationStarted`` event."""
    return ev.OrchestrationStarted(
        event_id=event_id, name=ORCHESTRATION, version=VERSION, input=input
    )


def scheduled(event_id: int, name: str = "Activity", input: str = "work") -> ev.ActivityScheduled:
    """An ``ActivityScheduled`` event."""
    return ev.ActivityScheduled(event_id=event_id, name=name, input=input)


def completed(event_id: int, source_event_id: int, result: str = "result") -> ev.ActivityCompleted:
    """An ``ActivityCompleted`` event answering ``source_event_id``."""
    return ev.ActivityCompleted(event_id=event_id, source_event_id=source_event_id, result=result)


def first_turn_metadata(
    status: Status = Status.RUNNING, output: str | None = None
) -> ExecutionMetadata:
    """Metadata of a first turn: creates the instance record."""
    return ExecutionMetadata(
        status=status,
        output=output,
        orchestration_name=ORCHESTRATION,
        orchestration_version=VERSION,
    )


async def fetch(provider: Provider, lock_timeout: float) -> OrchestrationItem | None:
    """One short-poll orchestrator fetch."""
    return await provider.fetch_orchestration_item(lock_timeout, 0.0)


async def fetch_work(provider: Provider, lock_timeout: float) -> WorkLease | None:
    """One short-poll worker fetch."""
    return await provider.fetch_work_item(lock_timeout, 0.0)


async def ack(
    provider: Provider,
    item: OrchestrationItem,
    history_delta: Sequence[ev.Event] = (),
    *,
    worker_items: Sequence[msg.ActivityExecute] = (),
    orchestrator_items: Sequence[msg.OrchestratorMessage] = (),
    metadata: ExecutionMetadata | None = None,
    execution_id: int | None = None,
) -> None:
    """Ack ``item`` with the given delta; defaults keep the item's execution and metadata."""
    await provider.ack_orchestration_item(
        item.lock_token,
        item.execution_id if execution_id is None else execution_id,
        history_delta,
        worker_items,
        orchestrator_items,
        metadata if metadata is not None else ExecutionMetadata(),
    )


async def start_instance(
    provider: Provider, instance: str, lock_timeout: float
) -> OrchestrationItem:
    """Enqueue a start, fetch it and ack a first turn writing ``OrchestrationStarted``.

    Returns the acked item (its token is dead). Fails if the fetch returns another instance.
    """
    await provider.enqueue_for_orchestrator(start_item(instance))
    item = await fetch(provider, lock_timeout)
    assert item is not None, (
        f"fetch_orchestration_item returned None after enqueuing a start for {instance!r}"
    )
    assert item.instance == instance, f"fetch returned {item.instance!r}, expected {instance!r}"
    await ack(provider, item, [started()], metadata=first_turn_metadata())
    return item
