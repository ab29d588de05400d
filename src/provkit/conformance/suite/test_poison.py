"""Poison detection: delivery counts, per message, on both queues.

A runtime fails a message as poison once ``attempt_count`` reaches its limit, so the count
must grow by exactly one per delivery (fetch), whether the previous delivery ended by abandon
or by lock expiry; ``ignore_attempt`` takes one delivery back (never below zero); renewals
and acks of other work do not count; an orchestrator batch reports its highest count.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from provkit.conformance._builders import (
    ack,
    activity_done,
    external_item,
    fetch,
    fetch_work,
    must_fetch,
    must_fetch_work,
    start_item,
    work_item,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import ExecutionMetadata, Provider

pytestmark = [pytest.mark.poison, pytest.mark.asyncio]

_NO_METADATA = ExecutionMetadata()

A = "inst-a"
B = "inst-b"


class _OrchestratorQueue:
    """Deliveries of the orchestrator queue: one instance's batch per delivery."""

    name: ClassVar[str] = "orchestrator"

    async def enqueue(self, provider: Provider, key: str) -> None:
        await provider.enqueue_for_orchestrator(start_item(key))

    async def take(self, provider: Provider, lock_timeout: float, key: str) -> tuple[str, int]:
        """Fetch; fails unless the delivery is ``key``'s. Returns (token, attempt_count)."""
        item = await must_fetch(provider, lock_timeout)
        assert item.instance == key, f"fetched {item.instance!r}, expected {key!r}"
        return item.lock_token, item.attempt_count

    async def abandon(
        self, provider: Provider, token: str, delay: float | None = None, ignore: bool = False
    ) -> None:
        await provider.abandon_orchestration_item(token, delay, ignore)

    async def renew(self, provider: Provider, token: str, extend_for: float) -> None:
        await provider.renew_orchestration_item_lock(token, extend_for)

    async def ack(self, provider: Provider, token: str) -> None:
        await provider.ack_orchestration_item(token, 1, [], [], [], _NO_METADATA)

    async def empty(self, provider: Provider, lock_timeout: float) -> bool:
        return await fetch(provider, lock_timeout) is None


class _WorkerQueue:
    """Deliveries of the worker queue: one item per delivery."""

    name: ClassVar[str] = "worker"

    async def enqueue(self, provider: Provider, key: str) -> None:
        await provider.enqueue_for_worker(work_item(key, 1))

    async def take(self, provider: Provider, lock_timeout: float, key: str) -> tuple[str, int]:
        lease = await must_fetch_work(provider, lock_timeout)
        assert lease.item == work_item(key, 1), f"leased {lease.item!r}, expected {key!r}'s item"
        return lease.lock_token, lease.attempt_count

    async def abandon(
        self, provider: Provider, token: str, delay: float | None = None, ignore: bool = False
    ) -> None:
        await provider.abandon_work_item(token, delay, ignore)

    async def renew(self, provider: Provider, token: str, extend_for: float) -> None:
        await provider.renew_work_item_lock(token, extend_for)

    async def ack(self, provider: Provider, token: str) -> None:
        await provider.ack_work_item(token, None)

    async def empty(self, provider: Provider, lock_timeout: float) -> bool:
        return await fetch_work(provider, lock_timeout) is None


_Queue = _OrchestratorQueue | _WorkerQueue
QUEUES = [
    pytest.param(_OrchestratorQueue(), id="orchestrator"),
    pytest.param(_WorkerQueue(), id="worker"),
]


# Rejects: counts that start at 0, or that a fetch does not increment
@pytest.mark.parametrize("queue", QUEUES)
async def test_first_delivery_counts_one(provider: Provider, timing: Timing, queue: _Queue) -> None:
    """The first fetch of new work reports attempt_count 1."""
    await queue.enqueue(provider, A)

    _, attempt = await queue.take(provider, timing.long_lock, A)

    assert attempt == 1


# Rejects: abandon that resets the count, or redelivery that does not count
@pytest.mark.parametrize("queue", QUEUES)
async def test_each_redelivery_after_abandon_counts_one_more(
    provider: Provider, timing: Timing, queue: _Queue
) -> None:
    """Fetch and abandon three times, then fetch: attempt counts 1, 2, 3, 4."""
    await queue.enqueue(provider, A)
    attempts = []
    for _ in range(3):
        token, attempt = await queue.take(provider, timing.long_lock, A)
        attempts.append(attempt)
        await queue.abandon(provider, token)

    attempts.append((await queue.take(provider, timing.long_lock, A))[1])

    assert attempts == [1, 2, 3, 4]


# Rejects: a lock lost by expiry whose redelivery is not counted (retried forever)
@pytest.mark.parametrize("queue", QUEUES)
async def test_redelivery_after_lock_expiry_counts_one_more(
    provider: Provider, clock: SuiteClock, timing: Timing, queue: _Queue
) -> None:
    """A delivery whose lock expires is counted: the next fetches report 2, then 3."""
    await queue.enqueue(provider, A)
    await queue.take(provider, timing.lock_timeout, A)
    await clock.advance(timing.lock_timeout + timing.epsilon)

    _, second = await queue.take(provider, timing.lock_timeout, A)
    await clock.advance(timing.lock_timeout + timing.epsilon)
    _, third = await queue.take(provider, timing.long_lock, A)

    assert (second, third) == (2, 3)


# Rejects: ignore_attempt that is ignored, or that takes back more than one delivery
@pytest.mark.parametrize("queue", QUEUES)
async def test_ignore_attempt_takes_back_exactly_one_delivery(
    provider: Provider, timing: Timing, queue: _Queue
) -> None:
    """Counts 1, 2; abandon(ignore_attempt) of the second; the next fetch reports 2 again."""
    await queue.enqueue(provider, A)
    token, first = await queue.take(provider, timing.long_lock, A)
    await queue.abandon(provider, token)
    token, second = await queue.take(provider, timing.long_lock, A)

    await queue.abandon(provider, token, ignore=True)

    token, again = await queue.take(provider, timing.long_lock, A)
    await queue.abandon(provider, token)
    _, after = await queue.take(provider, timing.long_lock, A)
    assert (first, second, again, after) == (1, 2, 2, 3)


# Rejects: ignore_attempt that drives the count below zero or counts twice
@pytest.mark.parametrize("queue", QUEUES)
async def test_repeated_ignore_attempt_keeps_reporting_one(
    provider: Provider, timing: Timing, queue: _Queue
) -> None:
    """Three fetch + abandon(ignore_attempt) cycles each report 1, and so does the next fetch."""
    await queue.enqueue(provider, A)
    attempts = []
    for _ in range(3):
        token, attempt = await queue.take(provider, timing.long_lock, A)
        attempts.append(attempt)
        await queue.abandon(provider, token, ignore=True)

    attempts.append((await queue.take(provider, timing.long_lock, A))[1])

    assert attempts == [1, 1, 1, 1]


# Rejects: renewals that count as deliveries
@pytest.mark.parametrize("queue", QUEUES)
async def test_renewing_a_lock_is_not_a_delivery(
    provider: Provider, timing: Timing, queue: _Queue
) -> None:
    """Two renewals during one delivery leave the next delivery's count at 2."""
    await queue.enqueue(provider, A)
    token, _ = await queue.take(provider, timing.long_lock, A)
    await queue.renew(provider, token, timing.long_lock)
    await queue.renew(provider, token, timing.long_lock)
    await queue.abandon(provider, token)

    _, attempt = await queue.take(provider, timing.long_lock, A)

    assert attempt == 2


# Rejects: a delayed redelivery that is not counted
@pytest.mark.parametrize("queue", QUEUES)
async def test_redelivery_after_an_abandon_delay_counts_one_more(
    provider: Provider, clock: SuiteClock, timing: Timing, queue: _Queue
) -> None:
    """Abandon with a delay: invisible meanwhile, then delivered with attempt_count 2."""
    await queue.enqueue(provider, A)
    token, _ = await queue.take(provider, timing.long_lock, A)
    await queue.abandon(provider, token, delay=timing.lock_timeout)
    assert await queue.empty(provider, timing.long_lock), "abandoned work visible before its delay"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    assert (await queue.take(provider, timing.long_lock, A))[1] == 2


# Rejects: one counter per queue or per instance instead of per message
@pytest.mark.parametrize("queue", QUEUES)
async def test_counts_belong_to_each_message(
    provider: Provider, timing: Timing, queue: _Queue
) -> None:
    """A's work abandoned twice counts 3 on its next delivery while B's first delivery counts 1."""
    await queue.enqueue(provider, A)
    await queue.enqueue(provider, B)
    for _ in range(2):
        token, _ = await queue.take(provider, timing.long_lock, A)
        await queue.abandon(provider, token)

    _, a_third = await queue.take(provider, timing.long_lock, A)
    _, b_first = await queue.take(provider, timing.long_lock, B)

    assert (a_third, b_first) == (3, 1)


# Rejects: counts carried over to new work after an ack (keyed by instance or item identity)
@pytest.mark.parametrize("queue", QUEUES)
async def test_new_work_after_an_ack_starts_at_one(
    provider: Provider, timing: Timing, queue: _Queue
) -> None:
    """Work delivered twice and acked; new work with the same identity counts 1."""
    await queue.enqueue(provider, A)
    token, _ = await queue.take(provider, timing.long_lock, A)
    await queue.abandon(provider, token)
    token, _ = await queue.take(provider, timing.long_lock, A)
    await queue.ack(provider, token)

    await queue.enqueue(provider, A)

    assert (await queue.take(provider, timing.long_lock, A))[1] == 1


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
