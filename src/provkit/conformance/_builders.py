"""Small constructors for events and messages, so tests read like the contract.

The one vocabulary for test data, also used by provkit's own tests: ``started``,
``scheduled``, ``completed`` (activity events); ``start_item``, ``external_item``,
``timer_item``, ``activity_done``, ``work_item`` (queue items); ``fetch``/``must_fetch`` and
``ack`` (one contract call each); ``lock_instance``, ``commit_turn``, ``start_instance``,
``lease_work`` (a few calls that set up a state).
"""

from __future__ import annotations

from collections.abc import Sequence

from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import (
    ExecutionMetadata,
    OrchestrationItem,
    Provider,
    Status,
    SystemClock,
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
    assert item.instance == instance, (
        f"fetch_orchestration_item returned instance {item.instance!r}, expected {instance!r}"
    )
    await ack(provider, item, [started()], metadata=first_turn_metadata())
    return item


def provider_now_ms(clock: SuiteClock) -> int:
    """The provider's "now" in epoch ms: the injected manual clock's, else the wall clock's."""
    if clock.manual is not None:
        return clock.manual.now_ms()
    return SystemClock().now_ms()


def external_event(event_id: int, name: str = "signal", data: str = "data") -> ev.ExternalEvent:
    """An ``ExternalEvent`` history event (an external event the orchestration received)."""
    return ev.ExternalEvent(event_id=event_id, name=name, data=data)


def continued_as_new(event_id: int, input: str = "next") -> ev.OrchestrationContinuedAsNew:
    """An ``OrchestrationContinuedAsNew`` event ending an execution."""
    return ev.OrchestrationContinuedAsNew(event_id=event_id, input=input)


def orchestration_completed(event_id: int, output: str = "output") -> ev.OrchestrationCompleted:
    """An ``OrchestrationCompleted`` event ending an execution."""
    return ev.OrchestrationCompleted(event_id=event_id, output=output)


def continue_as_new_item(instance: str, input: str = "next") -> msg.ContinueAsNew:
    """A continue-as-new message for ``instance``."""
    return msg.ContinueAsNew(instance=instance, orchestration=ORCHESTRATION, input=input)


async def lock_instance(
    provider: Provider, message: msg.OrchestratorMessage, lock_timeout: float
) -> OrchestrationItem:
    """Enqueue ``message`` and fetch; fails unless the fetch locks ``message.instance``."""
    await provider.enqueue_for_orchestrator(message)
    item = await fetch(provider, lock_timeout)
    kind = type(message).__name__
    assert item is not None, (
        f"fetch_orchestration_item returned None after enqueuing a {kind} for {message.instance!r}"
    )
    assert item.instance == message.instance, (
        f"fetch_orchestration_item returned instance {item.instance!r}, expected "
        f"{message.instance!r}"
    )
    return item


async def commit_turn(
    provider: Provider,
    message: msg.OrchestratorMessage,
    lock_timeout: float,
    history_delta: Sequence[ev.Event] = (),
    *,
    execution_id: int | None = None,
    metadata: ExecutionMetadata | None = None,
    worker_items: Sequence[msg.ActivityExecute] = (),
    orchestrator_items: Sequence[msg.OrchestratorMessage] = (),
) -> OrchestrationItem:
    """Enqueue ``message``, lock its instance and ack one turn; returns the fetched item."""
    item = await lock_instance(provider, message, lock_timeout)
    await ack(
        provider,
        item,
        history_delta,
        execution_id=execution_id,
        metadata=metadata,
        worker_items=worker_items,
        orchestrator_items=orchestrator_items,
    )
    return item


async def lease_work(
    provider: Provider, item: msg.ActivityExecute, lock_timeout: float
) -> WorkLease:
    """Enqueue a worker item and lease it; fails unless the lease is for that item."""
    await provider.enqueue_for_worker(item)
    lease = await fetch_work(provider, lock_timeout)
    assert lease is not None, (
        f"fetch_work_item returned None after enqueuing activity {item.id} of {item.instance!r}"
    )
    assert lease.item == item, f"fetch_work_item leased {lease.item!r}, expected {item!r}"
    return lease


async def enqueue_all(provider: Provider, items: Sequence[msg.OrchestratorMessage]) -> None:
    """Enqueue ``items`` to the orchestrator queue one after another, in order."""
    for item in items:
        await provider.enqueue_for_orchestrator(item)


async def must_fetch(provider: Provider, lock_timeout: float) -> OrchestrationItem:
    """An orchestrator fetch that fails the test when it returns None."""
    item = await fetch(provider, lock_timeout)
    assert item is not None, "fetch_orchestration_item returned None although work was visible"
    return item


async def must_fetch_work(provider: Provider, lock_timeout: float) -> WorkLease:
    """A worker fetch that fails the test when it returns None."""
    lease = await fetch_work(provider, lock_timeout)
    assert lease is not None, "fetch_work_item returned None although an item was visible"
    return lease


async def start_next_execution(
    provider: Provider,
    instance: str,
    execution_id: int,
    history_delta: Sequence[ev.Event],
    lock_timeout: float,
) -> OrchestrationItem:
    """Deliver a continue-as-new and ack its turn as the first turn of ``execution_id``."""
    return await commit_turn(
        provider,
        continue_as_new_item(instance),
        lock_timeout,
        history_delta,
        execution_id=execution_id,
        metadata=first_turn_metadata(),
    )


async def supersede_lock(
    provider: Provider, instance: str, clock: SuiteClock, timing: Timing
) -> tuple[OrchestrationItem, OrchestrationItem]:
    """Lock ``instance``, let the lock expire and re-fetch it: (stale holder, new holder)."""
    stale = await lock_instance(provider, start_item(instance), timing.lock_timeout)
    await clock.advance(timing.lock_timeout + timing.epsilon)
    holder = await fetch(provider, timing.long_lock)
    assert holder is not None, "fetch_orchestration_item returned None after the lock expired"
    return stale, holder
