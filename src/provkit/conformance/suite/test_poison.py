"""Poison detection: delivery counts, per message, on both queues.

A runtime fails a message as poison once ``attempt_count`` reaches its limit, so the count
must grow by exactly one per delivery (fetch), whether the previous delivery ended by abandon
or by lock expiry; ``ignore_attempt`` takes one delivery back (never below zero); renewals
and acks of other work do not count; an orchestrator batch reports its highest count.
"""

from __future__ import annotations

import pytest

from provkit.conformance._builders import (
    ack,
    activity_done,
    external_item,
    must_fetch,
    must_fetch_work,
    start_item,
    work_item,
)
from provkit.conformance._queues import QUEUES, Queue, WorkerQueue
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import ExecutionMetadata, Provider

pytestmark = [pytest.mark.poison, pytest.mark.asyncio]

A = "inst-a"
B = "inst-b"


async def take(
    queue: Queue, provider: Provider, lock_timeout: float, instance: str = A
) -> tuple[str, int]:
    """Fetch ``instance``'s work (failing the test if none is fetchable): (token, attempt)."""
    taken = await queue.try_take(provider, lock_timeout, instance)
    assert taken is not None, f"nothing fetchable on the {type(queue).__name__}"
    return taken


async def settle(queue: Queue, provider: Provider, token: str) -> None:
    """End a delivery for good: ack the turn or the item without side effects."""
    if isinstance(queue, WorkerQueue):
        await provider.ack_work_item(token, None)
    else:
        await provider.ack_orchestration_item(token, 1, [], [], [], ExecutionMetadata())


# Rejects: counts that start at 0, or that a fetch does not increment
@pytest.mark.parametrize("queue", QUEUES)
async def test_first_delivery_counts_one(provider: Provider, timing: Timing, queue: Queue) -> None:
    """The first fetch of new work reports attempt_count 1."""
    await queue.enqueue(provider)

    _, attempt = await take(queue, provider, timing.long_lock, A)

    assert attempt == 1


# Rejects: abandon that resets the count, or redelivery that does not count
@pytest.mark.parametrize("queue", QUEUES)
async def test_each_redelivery_after_abandon_counts_one_more(
    provider: Provider, timing: Timing, queue: Queue
) -> None:
    """Fetch and abandon three times, then fetch: attempt counts 1, 2, 3, 4."""
    await queue.enqueue(provider)
    attempts = []
    for _ in range(3):
        token, attempt = await take(queue, provider, timing.long_lock, A)
        attempts.append(attempt)
        await queue.abandon(provider, token)

    attempts.append((await take(queue, provider, timing.long_lock, A))[1])

    assert attempts == [1, 2, 3, 4]


# Rejects: a lock lost by expiry whose redelivery is not counted (retried forever)
@pytest.mark.parametrize("queue", QUEUES)
async def test_redelivery_after_lock_expiry_counts_one_more(
    provider: Provider, clock: SuiteClock, timing: Timing, queue: Queue
) -> None:
    """A delivery whose lock expires is counted: the next fetches report 2, then 3."""
    await queue.enqueue(provider)
    await take(queue, provider, timing.lock_timeout, A)
    await clock.advance(timing.lock_timeout + timing.epsilon)

    _, second = await take(queue, provider, timing.lock_timeout, A)
    await clock.advance(timing.lock_timeout + timing.epsilon)
    _, third = await take(queue, provider, timing.long_lock, A)

    assert (second, third) == (2, 3)


# Rejects: ignore_attempt that is ignored, or that takes back more than one delivery
@pytest.mark.parametrize("queue", QUEUES)
async def test_ignore_attempt_takes_back_exactly_one_delivery(
    provider: Provider, timing: Timing, queue: Queue
) -> None:
    """Counts 1, 2; abandon(ignore_attempt) of the second; the next fetch reports 2 again."""
    await queue.enqueue(provider)
    token, first = await take(queue, provider, timing.long_lock, A)
    await queue.abandon(provider, token)
    token, second = await take(queue, provider, timing.long_lock, A)

    await queue.abandon(provider, token, ignore_attempt=True)

    token, again = await take(queue, provider, timing.long_lock, A)
    await queue.abandon(provider, token)
    _, after = await take(queue, provider, timing.long_lock, A)
    assert (first, second, again, after) == (1, 2, 2, 3)


# Rejects: ignore_attempt that drives the count below zero or counts twice
@pytest.mark.parametrize("queue", QUEUES)
async def test_repeated_ignore_attempt_keeps_reporting_one(
    provider: Provider, timing: Timing, queue: Queue
) -> None:
    """Three fetch + abandon(ignore_attempt) cycles each report 1, and so does the next fetch."""
    await queue.enqueue(provider)
    attempts = []
    for _ in range(3):
        token, attempt = await take(queue, provider, timing.long_lock, A)
        attempts.append(attempt)
        await queue.abandon(provider, token, ignore_attempt=True)

    attempts.append((await take(queue, provider, timing.long_lock, A))[1])

    assert attempts == [1, 1, 1, 1]


# Rejects: renewals that count as deliveries
@pytest.mark.parametrize("queue", QUEUES)
async def test_renewing_a_lock_is_not_a_delivery(
    provider: Provider, timing: Timing, queue: Queue
) -> None:
    """Two renewals during one delivery leave the next delivery's count at 2."""
    await queue.enqueue(provider)
    token, _ = await take(queue, provider, timing.long_lock, A)
    await queue.renew(provider, token, timing.long_lock)
    await queue.renew(provider, token, timing.long_lock)
    await queue.abandon(provider, token)

    _, attempt = await take(queue, provider, timing.long_lock, A)

    assert attempt == 2


# Rejects: a delayed redelivery that is not counted
@pytest.mark.parametrize("queue", QUEUES)
async def test_redelivery_after_an_abandon_delay_counts_one_more(
    provider: Provider, clock: SuiteClock, timing: Timing, queue: Queue
) -> None:
    """Abandon with a delay: invisible meanwhile, then delivered with attempt_count 2."""
    await queue.enqueue(provider)
    token, _ = await take(queue, provider, timing.long_lock, A)
    await queue.abandon(provider, token, delay=timing.lock_timeout)
    assert await queue.try_take(provider, timing.long_lock) is None, "visible before its delay"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    assert (await take(queue, provider, timing.long_lock, A))[1] == 2


# Rejects: one counter per queue or per instance instead of per message
@pytest.mark.parametrize("queue", QUEUES)
async def test_counts_belong_to_each_message(
    provider: Provider, timing: Timing, queue: Queue
) -> None:
    """A's work abandoned twice counts 3 on its next delivery while B's first delivery counts 1."""
    await queue.enqueue(provider)
    await queue.enqueue(provider, B)
    for _ in range(2):
        token, _ = await take(queue, provider, timing.long_lock, A)
        await queue.abandon(provider, token)

    _, a_third = await take(queue, provider, timing.long_lock, A)
    _, b_first = await take(queue, provider, timing.long_lock, B)

    assert (a_third, b_first) == (3, 1)


# Rejects: counts carried over to new work after an ack (keyed by instance or item identity)
@pytest.mark.parametrize("queue", QUEUES)
async def test_new_work_after_an_ack_starts_at_one(
    provider: Provider, timing: Timing, queue: Queue
) -> None:
    """Work delivered twice and acked; new work with the same identity counts 1."""
    await queue.enqueue(provider)
    token, _ = await take(queue, provider, timing.long_lock, A)
    await queue.abandon(provider, token)
    token, _ = await take(queue, provider, timing.long_lock, A)
    await settle(queue, provider, token)

    await queue.enqueue(provider)

    assert (await take(queue, provider, timing.long_lock, A))[1] == 1


# Rejects: a batch count taken from its first or newest message instead of its maximum
async def test_batch_reports_the_highest_count_of_its_messages(
    provider: Provider, timing: Timing
) -> None:
    """A start delivered three times plus a new signal form a batch reporting 4, not 1."""
    await provider.enqueue_for_orchestrator(start_item(A))
    for _ in range(3):
        item = await must_fetch(provider, timing.long_lock)
        await provider.abandon_orchestration_item(item.lock_token)
    await provider.enqueue_for_orchestrator(external_item(A))

    batch = await must_fetch(provider, timing.long_lock)

    assert batch.messages == [start_item(A), external_item(A)]
    assert batch.attempt_count == 4


# Rejects: messages that arrive during a turn being counted by that turn's delivery
async def test_message_arriving_during_a_turn_is_counted_from_its_own_first_delivery(
    provider: Provider, timing: Timing
) -> None:
    """A signal queued while A is locked is not in the batch; acked alone, its batch reports 1."""
    await provider.enqueue_for_orchestrator(start_item(A))
    for _ in range(2):
        item = await must_fetch(provider, timing.long_lock)
        await provider.abandon_orchestration_item(item.lock_token)
    locked = await must_fetch(provider, timing.long_lock)
    await provider.enqueue_for_orchestrator(external_item(A))
    await ack(provider, locked)

    follow_up = await must_fetch(provider, timing.long_lock)

    assert (follow_up.messages, follow_up.attempt_count) == ([external_item(A)], 1)


# Rejects: worker acks that reset or bump the counts of other items
async def test_acking_one_worker_item_leaves_the_others_counts(
    provider: Provider, timing: Timing
) -> None:
    """Item 1 acked, item 2 abandoned once: item 2's next delivery counts 2."""
    await provider.enqueue_for_worker(work_item(A, 1))
    await provider.enqueue_for_worker(work_item(A, 2))
    first = await must_fetch_work(provider, timing.long_lock)
    second = await must_fetch_work(provider, timing.long_lock)
    await provider.abandon_work_item(second.lock_token)
    await provider.ack_work_item(first.lock_token, activity_done(A, 1))

    again = await must_fetch_work(provider, timing.long_lock)

    assert (again.item, again.attempt_count) == (work_item(A, 2), 2)
