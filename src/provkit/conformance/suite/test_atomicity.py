"""Atomicity: an ack applies all of its parts at once, or nothing, and keeps the lock on failure.

Every part of a turn (history, worker items, orchestrator items, metadata, cancellations,
batch deletion, lock release) is checked on both the success and the failure path.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from provkit.conformance._builders import (
    ORCHESTRATION,
    VERSION,
    ack,
    activity_done,
    external_item,
    fetch,
    fetch_work,
    first_turn_metadata,
    lease_work,
    lock_instance,
    must_fetch,
    must_fetch_work,
    provider_now_ms,
    scheduled,
    start_instance,
    start_item,
    started,
    timer_item,
    work_item,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import (
    ActivityId,
    DuplicateEventError,
    ExecutionMetadata,
    LockLostError,
    OrchestrationItem,
    Provider,
    Status,
)
from provkit.contract import events as ev
from provkit.contract.events import Event

pytestmark = [pytest.mark.atomicity, pytest.mark.asyncio]

A = "inst-a"
B = "inst-b"


async def _second_turn(provider: Provider, timing: Timing) -> OrchestrationItem:
    """A started instance A with a pre-existing worker item, locked for its second turn."""
    await start_instance(provider, A, timing.long_lock)
    await provider.enqueue_for_worker(work_item(A, 7))
    await provider.enqueue_for_orchestrator(external_item(A))
    item = await must_fetch(provider, timing.long_lock)
    assert (item.instance, item.history) == (A, [started()])
    return item


# Rejects: an ack that loses its history delta, keeps its batch queued, or keeps the lock
@pytest.mark.foundation("ack_orchestration_item")
async def test_ack_stores_the_turn_and_releases_the_instance(
    provider: Provider, timing: Timing
) -> None:
    """An ack stores its history (read returns it), deletes the batch and unlocks the instance."""
    item = await lock_instance(provider, start_item(A), timing.long_lock)

    await ack(provider, item, [started()], metadata=first_turn_metadata())

    history = await provider.read(A)
    assert history == [started()], (
        f"read({A!r}) returned {history!r} after ack_orchestration_item stored [started()]"
    )
    executions = await provider.list_executions(A)
    assert executions == [1], (
        f"list_executions({A!r}) returned {executions!r} after an ack of execution 1"
    )
    assert await fetch(provider, timing.long_lock) is None, (
        "fetch_orchestration_item returned the batch again after ack_orchestration_item"
    )
    await provider.enqueue_for_orchestrator(external_item(A))
    again = await fetch(provider, timing.long_lock)
    assert again is not None, (
        f"after ack_orchestration_item, fetch_orchestration_item returned None although a new "
        f"message for {A!r} was queued: the ack did not release the instance lock"
    )
    assert (again.messages, again.history) == ([external_item(A)], [started()]), (
        "the next turn after ack_orchestration_item did not carry the new message and the "
        "acked history"
    )


@dataclass(frozen=True)
class _DuplicateDelta:
    """A history delta an ack must reject with ``DuplicateEventError``.

    ``execution_id`` 2 also checks that the failed ack did not create the new execution.
    """

    execution_id: int
    events: tuple[Event, ...]


DUPLICATE_DELTAS = [
    pytest.param(
        _DuplicateDelta(2, (started(), scheduled(2), scheduled(3), scheduled(3))),
        id="repeated-within-delta",
    ),
    pytest.param(_DuplicateDelta(1, (started(), scheduled(2))), id="repeats-stored-event"),
]


async def _failing_ack(provider: Provider, item: OrchestrationItem, bad: _DuplicateDelta) -> None:
    """An ack carrying every kind of part, whose history delta makes it fail."""
    with pytest.raises(DuplicateEventError):
        await provider.ack_orchestration_item(
            item.lock_token,
            bad.execution_id,
            bad.events,
            [work_item(A, 2), work_item(A, 3)],
            [start_item(B), external_item(A, name="self")],
            ExecutionMetadata(
                status=Status.COMPLETED,
                output="never stored",
                orchestration_name="OtherOrchestration",
                orchestration_version="9.9.9",
            ),
            [ActivityId(A, 1, 7)],
        )


# Rejects: ack that applies some parts (history, items, metadata, deletions) before failing
@pytest.mark.parametrize("bad", DUPLICATE_DELTAS)
async def test_failed_ack_applies_nothing(
    provider: Provider, timing: Timing, bad: _DuplicateDelta
) -> None:
    """An ack rejected for a duplicate event id changes no history, queue, record or batch."""
    item = await _second_turn(provider, timing)

    await _failing_ack(provider, item, bad)

    assert await provider.list_executions(A) == [1]
    assert await provider.read(A) == [started()]
    assert await fetch(provider, timing.long_lock) is None, (
        "after a failed ack the lock was released or B's start was enqueued"
    )
    lease = await must_fetch_work(provider, timing.long_lock)
    assert lease.item == work_item(A, 7), "the failed ack scheduled or cancelled worker items"
    assert await fetch_work(provider, timing.long_lock) is None

    await provider.abandon_orchestration_item(item.lock_token)
    again = await must_fetch(provider, timing.long_lock)
    assert again.instance == A
    assert again.messages == item.messages, "the failed ack deleted batch messages"
    assert (again.orchestration_name, again.version) == (ORCHESTRATION, VERSION)
    assert (again.execution_id, again.history) == (1, [started()])


# Rejects: ack that releases the lock or burns the token when it fails
@pytest.mark.parametrize("bad", DUPLICATE_DELTAS)
async def test_failed_ack_keeps_the_lock_for_a_retry_with_the_same_token(
    provider: Provider, timing: Timing, bad: _DuplicateDelta
) -> None:
    """After a rejected ack the lock is still held and the same token acks a corrected turn."""
    item = await _second_turn(provider, timing)
    await _failing_ack(provider, item, bad)
    assert await fetch(provider, timing.long_lock) is None, "a failed ack released the lock"

    await ack(
        provider,
        item,
        [scheduled(2)],
        worker_items=[work_item(A, 2)],
        orchestrator_items=[start_item(B)],
    )

    assert await provider.read(A) == [started(), scheduled(2)]
    b_turn = await must_fetch(provider, timing.long_lock)
    assert (b_turn.instance, b_turn.messages) == (B, [start_item(B)])
    assert await fetch(provider, timing.long_lock) is None, "the retried ack kept A's batch"
    leases = [await must_fetch_work(provider, timing.long_lock) for _ in range(2)]
    assert [lease.item for lease in leases] == [work_item(A, 7), work_item(A, 2)]


# Rejects: ack parts written outside one unit or in the wrong order, timers ignoring fire_at
async def test_one_ack_with_many_parts_makes_all_of_them_visible(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """History, three worker items, a due timer, a future timer and B's event all land as sent."""
    await provider.enqueue_for_orchestrator(start_item(A))
    item = await must_fetch(provider, timing.long_lock)
    now = provider_now_ms(clock)
    delta: list[Event] = [
        started(),
        scheduled(2, name="first"),
        scheduled(3, name="second"),
        scheduled(4, name="third"),
        ev.TimerCreated(event_id=5, fire_at_ms=now - 60_000),
        ev.TimerCreated(event_id=6, fire_at_ms=now + int(timing.lock_timeout * 1000)),
    ]
    workers = [work_item(A, 2, "first"), work_item(A, 3, "second"), work_item(A, 4, "third")]
    due_timer = timer_item(A, 5, now - 60_000)
    future_timer = timer_item(A, 6, now + int(timing.lock_timeout * 1000))
    for_b = external_item(B, data="from A")

    await ack(
        provider,
        item,
        delta,
        worker_items=workers,
        orchestrator_items=[due_timer, for_b, future_timer],
        metadata=first_turn_metadata(),
    )

    assert await provider.read(A) == delta
    leases = [await must_fetch_work(provider, timing.long_lock) for _ in workers]
    assert [lease.item for lease in leases] == workers
    fetched = [await must_fetch(provider, timing.long_lock) for _ in range(2)]
    turns = {turn.instance: turn for turn in fetched}
    assert {name: turn.messages for name, turn in turns.items()} == {
        A: [due_timer],
        B: [for_b],
    }
    assert (turns[A].orchestration_name, turns[A].version, turns[A].history) == (
        ORCHESTRATION,
        VERSION,
        delta,
    )
    await ack(provider, turns[A])
    await ack(provider, turns[B])
    assert await fetch(provider, timing.long_lock) is None, "a timer was visible before fire_at_ms"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    timer_turn = await must_fetch(provider, timing.long_lock)
    assert (timer_turn.instance, timer_turn.messages) == (A, [future_timer])


# Rejects: a rejected ack that still releases the lock
async def test_lock_is_released_only_by_a_successful_ack(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A failed ack leaves the lock until it expires; a successful ack frees it at once."""
    await provider.enqueue_for_orchestrator(start_item(A))
    first = await must_fetch(provider, timing.lock_timeout)
    with pytest.raises(LockLostError):
        await provider.ack_orchestration_item(
            "bogus-token", 1, [started()], [], [], first_turn_metadata()
        )
    assert await fetch(provider, timing.long_lock) is None, "a rejected ack released the lock"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    second = await must_fetch(provider, timing.long_lock)
    assert (second.instance, second.attempt_count, second.messages) == (A, 2, first.messages)
    await provider.enqueue_for_orchestrator(external_item(A))
    await ack(provider, second, [started()], metadata=first_turn_metadata())
    third = await must_fetch(provider, timing.long_lock)
    assert (third.instance, third.messages) == (A, [external_item(A)])


# Rejects: token check and commit not in one unit, so racing acks with one token both apply
async def test_concurrent_acks_with_one_token_apply_exactly_once(
    provider: Provider, timing: Timing
) -> None:
    """Of four concurrent acks with one token exactly one succeeds; the rest raise LockLostError."""
    await provider.enqueue_for_orchestrator(start_item(A))
    item = await must_fetch(provider, timing.long_lock)

    results = await asyncio.gather(
        *(
            ack(
                provider,
                item,
                [started()],
                worker_items=[work_item(A, 2)],
                orchestrator_items=[external_item(B)],
                metadata=first_turn_metadata(),
            )
            for _ in range(4)
        ),
        return_exceptions=True,
    )

    assert sum(result is None for result in results) == 1, f"ack outcomes: {results}"
    assert all(isinstance(r, LockLostError) for r in results if r is not None), results
    assert await provider.read(A) == [started()]
    assert (await must_fetch_work(provider, timing.long_lock)).item == work_item(A, 2)
    assert await fetch_work(provider, timing.long_lock) is None, "a worker item was enqueued twice"
    b_turn = await must_fetch(provider, timing.long_lock)
    assert (b_turn.instance, b_turn.messages) == (B, [external_item(B)])


# Rejects: worker token check and delete not in one unit, so racing acks each enqueue
async def test_concurrent_work_acks_with_one_token_complete_exactly_once(
    provider: Provider, timing: Timing
) -> None:
    """Of four concurrent worker acks with one token one succeeds; the rest raise LockLostError."""
    lease = await lease_work(provider, work_item(A, 2), timing.long_lock)

    results = await asyncio.gather(
        *(
            provider.ack_work_item(lease.lock_token, activity_done(A, 2, f"ack-{n}"))
            for n in range(4)
        ),
        return_exceptions=True,
    )

    winners = [n for n, result in enumerate(results) if result is None]
    assert len(winners) == 1, f"ack_work_item outcomes: {results}"
    assert all(isinstance(r, LockLostError) for r in results if r is not None), results
    turn = await must_fetch(provider, timing.long_lock)
    assert (turn.instance, turn.messages) == (A, [activity_done(A, 2, f"ack-{winners[0]}")]), (
        "the completion was enqueued more than once, or not the winning ack's"
    )
    assert await fetch_work(provider, timing.long_lock) is None, "an acked item is still queued"


# Rejects: cancellation that skips locked worker items or leaves them for redelivery
async def test_ack_deletes_cancelled_worker_items_locked_or_not(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Cancelled worker items vanish in the ack, even one under lease; unknown ids are ignored."""
    await provider.enqueue_for_orchestrator(start_item(A))
    first = await must_fetch(provider, timing.long_lock)
    workers = [work_item(A, 2), work_item(A, 3), work_item(A, 4)]
    delta = [started(), scheduled(2), scheduled(3), scheduled(4)]
    await ack(provider, first, delta, worker_items=workers, metadata=first_turn_metadata())
    leased = await must_fetch_work(provider, timing.lock_timeout)
    assert leased.item == work_item(A, 2)
    await provider.enqueue_for_orchestrator(external_item(A))
    second = await must_fetch(provider, timing.long_lock)

    await provider.ack_orchestration_item(
        second.lock_token,
        1,
        [],
        [],
        [],
        ExecutionMetadata(),
        [ActivityId(A, 1, 2), ActivityId(A, 1, 3), ActivityId(A, 1, 99)],
    )

    remaining = await must_fetch_work(provider, timing.long_lock)
    assert remaining.item == work_item(A, 4)
    assert await fetch_work(provider, timing.long_lock) is None, "a cancelled item is still queued"
    with pytest.raises(LockLostError):
        await provider.renew_work_item_lock(leased.lock_token, timing.long_lock)

    await clock.advance(timing.lock_timeout + timing.epsilon)

    assert await fetch_work(provider, timing.long_lock) is None, (
        "a cancelled item came back when its old lease expired"
    )


# Rejects: cancellation matching on fewer than all three of instance, execution and activity id
async def test_cancellation_removes_exactly_the_items_matching_all_three_ids(
    provider: Provider, timing: Timing
) -> None:
    """Cancelling (A, 1, 2) and (A, 1, 5) removes those two; lookalikes differing in one id stay."""
    targets = [work_item(A, 2), work_item(A, 5)]
    lookalikes = [
        work_item(B, 2),
        work_item(A, 2, execution_id=2),
        work_item(A, 3),
        work_item("inst-a ", 2),
    ]
    await provider.enqueue_for_worker(targets[0])
    leased = await must_fetch_work(provider, timing.long_lock)
    assert leased.item == targets[0]
    for item in [*lookalikes, targets[1]]:
        await provider.enqueue_for_worker(item)
    held = await lock_instance(provider, start_item(A), timing.long_lock)

    await provider.ack_orchestration_item(
        held.lock_token,
        1,
        [started()],
        [],
        [],
        first_turn_metadata(),
        [ActivityId(A, 1, 2), ActivityId(A, 1, 5)],
    )

    remaining = [(await must_fetch_work(provider, timing.long_lock)).item for _ in lookalikes]
    assert remaining == lookalikes, "cancellation removed a lookalike or kept a target"
    assert await fetch_work(provider, timing.long_lock) is None, "a cancelled item is still queued"
    with pytest.raises(LockLostError):
        await provider.ack_work_item(leased.lock_token, None)


# Rejects: cancellations applied before the same ack's worker inserts
async def test_scheduling_and_cancelling_one_activity_in_one_ack_leaves_it_absent(
    provider: Provider, timing: Timing
) -> None:
    """An activity scheduled and cancelled by the same ack never reaches the worker queue."""
    await provider.enqueue_for_orchestrator(start_item(A))
    item = await must_fetch(provider, timing.long_lock)

    await provider.ack_orchestration_item(
        item.lock_token,
        1,
        [started(), scheduled(2), scheduled(3)],
        [work_item(A, 2), work_item(A, 3)],
        [],
        first_turn_metadata(),
        [ActivityId(A, 1, 2)],
    )

    lease = await must_fetch_work(provider, timing.long_lock)
    assert lease.item == work_item(A, 3)
    assert await fetch_work(provider, timing.long_lock) is None, "the cancelled activity was queued"
