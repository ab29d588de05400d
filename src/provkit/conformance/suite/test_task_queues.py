"""Task queues: a worker only receives items of the queues it serves, FIFO within each queue.

Every provider stores an item's ``queue`` and the core ``fetch_work_item`` serves all
queues; providers declaring ``TASK_QUEUES`` also fetch from chosen queues only.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from provkit.conformance._builders import (
    activity_done,
    fetch_work,
    must_fetch,
    must_fetch_work,
    work_item,
)
from provkit.conformance._settings import SETTINGS_KEY
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import Capability, Provider, TaskQueues, WorkLease
from provkit.contract import messages as msg

pytestmark = [pytest.mark.task_queues, pytest.mark.asyncio]

needs_task_queues = pytest.mark.capability(Capability.TASK_QUEUES)

A = "inst-a"


def item(id: int, queue: str) -> msg.ActivityExecute:
    """Activity ``id`` of inst-a on ``queue``."""
    return msg.ActivityExecute(
        instance=A, execution_id=1, id=id, name="Activity", input=f"work {id}", queue=queue
    )


async def take_from(
    task_queues: TaskQueues, queues: list[str], timing: Timing
) -> msg.ActivityExecute | None:
    """One short-poll fetch from ``queues``: the leased item, or None."""
    lease = await task_queues.fetch_work_item_from(queues, timing.long_lock, 0.0)
    return None if lease is None else lease.item


# Rejects: providers that drop or rewrite an item's queue (it is part of the item)
async def test_every_provider_round_trips_an_items_queue(
    provider: Provider, timing: Timing
) -> None:
    """fetch_work_item returns items of every queue in enqueue order, queue names intact."""
    items = [item(1, "gpu"), work_item(A, 2), item(3, "reports ü 🙂"), item(4, "")]
    for queued in items:
        await provider.enqueue_for_worker(queued)

    leased = [(await must_fetch_work(provider, timing.long_lock)).item for _ in items]

    assert leased == items
    assert leased[1].queue == msg.DEFAULT_QUEUE
    assert await fetch_work(provider, timing.long_lock) is None


# Rejects: a fetch that hands a worker an item of a queue it does not serve
@needs_task_queues
async def test_worker_only_receives_items_of_the_queues_it_serves(
    provider: Provider, task_queues: TaskQueues, timing: Timing
) -> None:
    """Items on gpu, cpu, gpu: a cpu worker gets only the cpu item, a gpu worker both gpu items."""
    for queued in [item(1, "gpu"), item(2, "cpu"), item(3, "gpu")]:
        await provider.enqueue_for_worker(queued)

    cpu = [await take_from(task_queues, ["cpu"], timing) for _ in range(2)]
    gpu = [await take_from(task_queues, ["gpu"], timing) for _ in range(3)]

    assert cpu == [item(2, "cpu"), None]
    assert gpu == [item(1, "gpu"), item(3, "gpu"), None]


# Rejects: per-queue order that is not FIFO, or a multi-queue fetch that drains one queue first
@needs_task_queues
async def test_each_queue_is_fifo_and_several_queues_interleave_by_age(
    provider: Provider, task_queues: TaskQueues, timing: Timing
) -> None:
    """A worker serving a and b gets their items in enqueue order, skipping queue c."""
    order = [item(1, "a"), item(2, "c"), item(3, "b"), item(4, "a"), item(5, "b"), item(6, "c")]
    for queued in order:
        await provider.enqueue_for_worker(queued)

    served = [await take_from(task_queues, ["b", "a"], timing) for _ in range(5)]

    assert served == [item(1, "a"), item(3, "b"), item(4, "a"), item(5, "b"), None]
    assert [await take_from(task_queues, ["c"], timing) for _ in range(2)] == [
        item(2, "c"),
        item(6, "c"),
    ]


# Rejects: skipped items whose delivery count or lock a fetch of another queue touched
@needs_task_queues
async def test_items_of_unserved_queues_are_left_untouched(
    provider: Provider, task_queues: TaskQueues, timing: Timing
) -> None:
    """Three fetches from other queues leave a gpu item unleased, delivered first with count 1."""
    await provider.enqueue_for_worker(item(1, "gpu"))
    for queues in (["cpu"], ["io", "net"], ["GPU"]):
        assert await take_from(task_queues, queues, timing) is None

    lease = await task_queues.fetch_work_item_from(["gpu"], timing.long_lock, 0.0)

    assert lease is not None
    assert (lease.item, lease.attempt_count) == (item(1, "gpu"), 1)


# Rejects: queue names compared loosely (case, whitespace, prefixes, patterns)
@needs_task_queues
async def test_queue_names_compare_as_exact_strings(
    provider: Provider, task_queues: TaskQueues, timing: Timing
) -> None:
    """Only the item on exactly "gpu" is served to a gpu worker, among look-alike queues."""
    lookalikes = ["GPU", "gpu ", " gpu", "gpu2", "gp", "g%", "gpu\x00", "ｇｐｕ"]
    for n, queue in enumerate(lookalikes, start=1):
        await provider.enqueue_for_worker(item(n, queue))
    await provider.enqueue_for_worker(item(99, "gpu"))

    served = [await take_from(task_queues, ["gpu"], timing) for _ in range(2)]

    assert served == [item(99, "gpu"), None]
    assert await take_from(task_queues, ["g%"], timing) == item(6, "g%")


# Rejects: an empty queue set treated as "every queue"
@needs_task_queues
async def test_fetch_from_no_queues_returns_none(
    provider: Provider, task_queues: TaskQueues, timing: Timing
) -> None:
    """With items queued, a fetch serving no queue returns None and leaves them fetchable."""
    await provider.enqueue_for_worker(item(1, msg.DEFAULT_QUEUE))

    assert await task_queues.fetch_work_item_from([], timing.long_lock, 0.0) is None

    lease = await must_fetch_work(provider, timing.long_lock)
    assert (lease.item, lease.attempt_count) == (item(1, msg.DEFAULT_QUEUE), 1)


# Rejects: leases from a queue fetch that ack, renew or abandon differently from the core ones
@needs_task_queues
async def test_queue_leases_abandon_renew_and_ack_like_any_lease(
    provider: Provider, task_queues: TaskQueues, timing: Timing
) -> None:
    """Abandon returns the item to its queue (count 2); renew then ack deletes it and completes."""
    await provider.enqueue_for_worker(item(1, "gpu"))
    first = await task_queues.fetch_work_item_from(["gpu"], timing.long_lock, 0.0)
    assert first is not None
    await provider.abandon_work_item(first.lock_token)
    assert await take_from(task_queues, ["cpu"], timing) is None

    second = await task_queues.fetch_work_item_from(["gpu"], timing.long_lock, 0.0)
    assert second is not None
    assert (second.item, second.attempt_count) == (item(1, "gpu"), 2)
    await provider.renew_work_item_lock(second.lock_token, timing.long_lock)
    await provider.ack_work_item(second.lock_token, activity_done(A, 1))

    assert await take_from(task_queues, ["gpu"], timing) is None
    completion = await must_fetch(provider, timing.long_lock)
    assert completion.messages == [activity_done(A, 1)]


# Rejects: an expired queue lease whose item comes back on the wrong queue or not at all
@needs_task_queues
async def test_expired_lease_returns_the_item_to_its_own_queue(
    provider: Provider, task_queues: TaskQueues, clock: SuiteClock, timing: Timing
) -> None:
    """After a gpu lease expires, a cpu worker still gets nothing and a gpu worker gets it (2)."""
    await provider.enqueue_for_worker(item(1, "gpu"))
    assert await task_queues.fetch_work_item_from(["gpu"], timing.lock_timeout, 0.0) is not None
    await clock.advance(timing.lock_timeout + timing.epsilon)

    assert await take_from(task_queues, ["cpu"], timing) is None
    again = await task_queues.fetch_work_item_from(["gpu"], timing.long_lock, 0.0)

    assert again is not None
    assert (again.item, again.attempt_count) == (item(1, "gpu"), 2)


# Rejects: a waiting queue fetch that returns another queue's new item, or misses its own
@needs_task_queues
@pytest.mark.capability(Capability.LONG_POLL)
async def test_waiting_queue_fetch_only_ends_with_an_item_of_its_queues(
    provider: Provider, task_queues: TaskQueues, timing: Timing, request: pytest.FixtureRequest
) -> None:
    """A gpu worker waiting while a cpu item arrives keeps waiting; a gpu item then wakes it."""
    scale = request.config.stash[SETTINGS_KEY].timescale
    began = time.monotonic()
    waiting: asyncio.Task[WorkLease | None] = asyncio.ensure_future(
        task_queues.fetch_work_item_from(["gpu"], timing.long_lock, 5.0 * scale)
    )
    await asyncio.sleep(0.1 * scale)

    await provider.enqueue_for_worker(item(1, "cpu"))
    await asyncio.sleep(0.1 * scale)
    assert not waiting.done(), f"the gpu fetch returned {waiting.result()!r}"
    await provider.enqueue_for_worker(item(2, "gpu"))

    lease = await waiting
    assert lease is not None
    assert lease.item == item(2, "gpu")
    assert time.monotonic() - began < 1.2 * scale
    assert await take_from(task_queues, ["cpu"], timing) == item(1, "cpu")
