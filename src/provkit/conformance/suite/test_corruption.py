"""Corruption: undecodable history and messages of one instance, on both queues.

A fetch reports corrupt data with the instance named instead of raising, counts the delivery
(so a runtime can fail it as poison after its attempt limit instead of retrying forever),
keeps an undecodable work item's activity identity, and never blocks other instances.
Uses the ``FAULT_INJECTION`` hooks.
"""

from __future__ import annotations

import pytest

from provkit.conformance._builders import (
    ack,
    activity_done,
    external_item,
    fetch,
    fetch_work,
    first_turn_metadata,
    must_fetch,
    must_fetch_work,
    start_instance,
    start_item,
    started,
    work_item,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import (
    ActivityId,
    Capability,
    ExecutionMetadata,
    FaultInjection,
    Provider,
)
from provkit.contract import messages as msg

pytestmark = [
    pytest.mark.corruption,
    pytest.mark.capability(Capability.FAULT_INJECTION),
    pytest.mark.asyncio,
]

A = "inst-a"
B = "inst-b"


def gpu_item(instance: str, id: int) -> msg.ActivityExecute:
    """Activity ``id`` of execution 2 of ``instance`` on queue gpu."""
    return msg.ActivityExecute(
        instance=instance, execution_id=2, id=id, name="Render", input="frame", queue="gpu"
    )


# Rejects: a fetch that raises on an undecodable message (leaking its lock) or hides it
async def test_undecodable_message_is_reported_with_its_instance(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """A's corrupt start is delivered as A's batch with message_error naming A, no messages."""
    await provider.enqueue_for_orchestrator(start_item(A))

    assert await faults.corrupt_orchestrator_messages(A) == 1
    item = await must_fetch(provider, timing.long_lock)

    assert (item.instance, item.messages, item.attempt_count) == (A, [], 1)
    assert isinstance(item.message_error, str), "message_error is not set"
    assert A in item.message_error, f"message_error does not name {A!r}: {item.message_error!r}"
    assert (item.history_error, item.orchestration_name, item.execution_id) == (None, None, 1)


# Rejects: a batch that drops its decodable messages along with a corrupt one
async def test_decodable_messages_of_a_batch_are_still_delivered(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """A corrupt signal, then two good ones: the batch has the good two in order and an error."""
    await start_instance(provider, A, timing.long_lock)
    await provider.enqueue_for_orchestrator(external_item(A, data="corrupt"))
    await faults.corrupt_orchestrator_messages(A)
    signals = [external_item(A, data="one"), external_item(A, data="two")]
    for signal in signals:
        await provider.enqueue_for_orchestrator(signal)

    item = await must_fetch(provider, timing.long_lock)

    assert (item.instance, item.messages, item.history) == (A, signals, [started()])
    assert item.message_error is not None, "message_error is not set"
    assert item.orchestration_name == "ConformanceOrchestration"


# Rejects: corrupt messages that are never counted, so a runtime retries them forever
async def test_undecodable_message_counts_as_a_delivery_each_time(
    provider: Provider, faults: FaultInjection, clock: SuiteClock, timing: Timing
) -> None:
    """Abandoned, expired and abandoned again: the corrupt batch reports 1, 2, 3, 4."""
    await provider.enqueue_for_orchestrator(start_item(A))
    await faults.corrupt_orchestrator_messages(A)
    attempts = []
    item = await must_fetch(provider, timing.long_lock)
    attempts.append(item.attempt_count)
    await provider.abandon_orchestration_item(item.lock_token)
    item = await must_fetch(provider, timing.lock_timeout)
    attempts.append(item.attempt_count)
    await clock.advance(timing.lock_timeout + timing.epsilon)
    item = await must_fetch(provider, timing.long_lock)
    attempts.append(item.attempt_count)
    await provider.abandon_orchestration_item(item.lock_token)

    item = await must_fetch(provider, timing.long_lock)

    attempts.append(item.attempt_count)
    assert attempts == [1, 2, 3, 4]
    assert item.message_error is not None, "message_error is not set on a later delivery"


# Rejects: corrupt messages that survive the ack of their batch (poison that never goes away)
async def test_ack_removes_undecodable_messages_of_its_batch(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """Failing the instance with an ack deletes the corrupt message; nothing is fetchable after."""
    await provider.enqueue_for_orchestrator(start_item(A))
    await faults.corrupt_orchestrator_messages(A)
    item = await must_fetch(provider, timing.long_lock)

    await ack(provider, item, [started()], metadata=first_turn_metadata())

    assert await fetch(provider, timing.long_lock) is None
    assert await provider.read(A) == [started()]


# Rejects: one instance's corrupt messages blocking the fetch of every other instance
async def test_undecodable_messages_do_not_block_other_instances(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """With A's corrupt message oldest and its batch locked, B is fetched and acked normally."""
    await provider.enqueue_for_orchestrator(start_item(A))
    await provider.enqueue_for_orchestrator(start_item(B))
    await faults.corrupt_orchestrator_messages(A)

    corrupt = await must_fetch(provider, timing.long_lock)
    healthy = await must_fetch(provider, timing.long_lock)

    assert (corrupt.instance, healthy.instance) == (A, B)
    assert (healthy.messages, healthy.message_error) == ([start_item(B)], None)
    await ack(provider, healthy, [started()], metadata=first_turn_metadata())
    assert await provider.read(B) == [started()]


# Rejects: corrupt work items that raise on fetch or lose their activity identity
async def test_undecodable_work_item_is_leased_with_its_activity_identity(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """The lease names A, carries the stored instance, execution, id and queue, empty name."""
    await provider.enqueue_for_worker(gpu_item(A, 7))

    assert await faults.corrupt_work_items(A) == 1
    lease = await must_fetch_work(provider, timing.long_lock)

    assert isinstance(lease.item_error, str), "item_error is not set"
    assert A in lease.item_error, f"item_error does not name {A!r}: {lease.item_error!r}"
    assert lease.item.activity == ActivityId(A, 2, 7)
    assert (lease.item.name, lease.item.input, lease.attempt_count) == ("", "", 1)
    expected_queue = "gpu" if Capability.TASK_QUEUES in provider.capabilities else msg.DEFAULT_QUEUE
    assert lease.item.queue == expected_queue


# Rejects: corrupt work items that are never counted, or that a poison ack cannot remove
async def test_undecodable_work_item_counts_deliveries_and_can_be_failed(
    provider: Provider, faults: FaultInjection, clock: SuiteClock, timing: Timing
) -> None:
    """Counts 1, 2 (abandon), 3 (expiry); acking it with a failure completion removes it."""
    await provider.enqueue_for_worker(gpu_item(A, 7))
    await faults.corrupt_work_items(A)
    lease = await must_fetch_work(provider, timing.long_lock)
    await provider.abandon_work_item(lease.lock_token)
    second = await must_fetch_work(provider, timing.lock_timeout)
    await clock.advance(timing.lock_timeout + timing.epsilon)
    third = await must_fetch_work(provider, timing.long_lock)

    await provider.ack_work_item(third.lock_token, activity_done(A, 7, "poisoned"))

    assert [lease.attempt_count, second.attempt_count, third.attempt_count] == [1, 2, 3]
    assert await fetch_work(provider, timing.long_lock) is None
    completion = await must_fetch(provider, timing.long_lock)
    assert completion.messages == [activity_done(A, 7, "poisoned")]


# Rejects: a corrupt work item that stops the worker queue for every item behind it
async def test_undecodable_work_item_does_not_block_later_items(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """A corrupt item of A, then B's item: the first fetch leases A's, the second B's, intact."""
    await provider.enqueue_for_worker(work_item(A, 1))
    await faults.corrupt_work_items(A)
    await provider.enqueue_for_worker(work_item(B, 1))

    corrupt = await must_fetch_work(provider, timing.long_lock)
    healthy = await must_fetch_work(provider, timing.long_lock)

    assert (corrupt.item.instance, corrupt.item_error is not None) == (A, True)
    assert (healthy.item, healthy.item_error) == (work_item(B, 1), None)


# Rejects: cancellation that matches on the encoded item and so misses corrupt ones
async def test_undecodable_work_item_can_still_be_cancelled(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """cancelled_activities naming a corrupt item's identity removes it; its sibling stays."""
    await provider.enqueue_for_worker(work_item(A, 1))
    await provider.enqueue_for_worker(work_item(A, 2))
    await faults.corrupt_work_items(A)
    await provider.enqueue_for_orchestrator(start_item(A))
    item = await must_fetch(provider, timing.long_lock)

    await provider.ack_orchestration_item(
        item.lock_token, 1, [], [], [], ExecutionMetadata(), [ActivityId(A, 1, 1)]
    )

    remaining = await must_fetch_work(provider, timing.long_lock)
    assert remaining.item.activity == ActivityId(A, 1, 2)
    assert await fetch_work(provider, timing.long_lock) is None


# Rejects: a corrupt history that is not counted per delivery (retried forever)
async def test_undecodable_history_counts_as_a_delivery_each_time(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """Each fetch of an instance with corrupt history sets history_error and counts: 1, 2, 3."""
    await start_instance(provider, A, timing.long_lock)
    await faults.corrupt_history(A, 1)
    await provider.enqueue_for_orchestrator(external_item(A))
    reports = []
    for _ in range(3):
        item = await must_fetch(provider, timing.long_lock)
        reports.append((item.attempt_count, item.history, item.history_error is not None))
        await provider.abandon_orchestration_item(item.lock_token)

    assert reports == [(1, [], True), (2, [], True), (3, [], True)]


# Rejects: hooks that corrupt other instances' data, or report wrong counts
async def test_corruption_is_confined_to_the_named_instance(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """Corrupting A's two messages and one item leaves B's message and item decodable."""
    for message in (start_item(A), external_item(A), start_item(B)):
        await provider.enqueue_for_orchestrator(message)
    await provider.enqueue_for_worker(work_item(B, 1))
    await provider.enqueue_for_worker(work_item(A, 1))

    counts = (
        await faults.corrupt_orchestrator_messages(A),
        await faults.corrupt_work_items(A),
        await faults.corrupt_work_items("inst-"),
        await faults.corrupt_orchestrator_messages("never-enqueued"),
    )

    assert counts == (2, 1, 0, 0)
    a_batch = await must_fetch(provider, timing.long_lock)
    b_batch = await must_fetch(provider, timing.long_lock)
    assert (a_batch.instance, a_batch.messages, a_batch.message_error is not None) == (A, [], True)
    assert (b_batch.instance, b_batch.messages, b_batch.message_error) == (B, [start_item(B)], None)
    b_lease = await must_fetch_work(provider, timing.long_lock)
    assert (b_lease.item, b_lease.item_error) == (work_item(B, 1), None)
