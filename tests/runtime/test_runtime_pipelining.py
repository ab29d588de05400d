"""How slots overlap provider calls with work: leases fetched ahead and acks in the background.

A worker slot leases its next item while an activity runs and acks in the background; these
tests pin down that no lease is lost, double-acked or counted as a delivery when it was not.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from _runtime_support import FAST, FlakyProvider, fail_once, run_double

from provkit.contract import ProviderError, WorkLease
from provkit.contract.messages import ActivityExecute
from provkit.reference_providers import SqliteProvider
from provkit.runtime import OrchestrationStatus, Runtime

pytestmark = pytest.mark.asyncio

ONE_SLOT = dataclasses.replace(FAST, orchestration_concurrency=1, worker_concurrency=1)


def item(n: int) -> ActivityExecute:
    return ActivityExecute(instance="ahead", execution_id=1, id=n, name="hold", input=str(n))


class Holding:
    """An activity that records its input and waits until ``release`` is set."""

    def __init__(self) -> None:
        self.ran: list[int] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, n: int) -> int:
        self.ran.append(n)
        self.entered.set()
        await self.release.wait()
        return n


def fetched_ahead(flaky: FlakyProvider) -> list[tuple[Any, ...]]:
    """Arguments of the worker fetches that did not wait (the ones made ahead)."""
    return [args for name, args in flaky.calls if name == "fetch_work_item" and args[1] == 0.0]


async def test_shutdown_gives_back_the_lease_fetched_ahead_without_counting_it(
    provider: SqliteProvider,
) -> None:
    """A lease fetched ahead but never run is handed back at shutdown, its delivery not counted."""
    hold = Holding()
    flaky = FlakyProvider(provider)
    for n in (1, 2):
        await provider.enqueue_for_worker(item(n))
    options = dataclasses.replace(ONE_SLOT, poll_interval=0.5)  # keeps the lease held 0.5 s
    runtime = Runtime(flaky, activities={"hold": hold}, options=options)
    await runtime.start()
    await hold.entered.wait()
    stopping = asyncio.create_task(runtime.shutdown(grace=5))
    await asyncio.sleep(0)  # one loop step: the shutdown task sets its stop flag first
    assert runtime._stopping.is_set()
    hold.release.set()
    await stopping

    assert len(fetched_ahead(flaky)) == 1
    assert hold.ran == [1]
    lease = await provider.fetch_work_item(30.0)
    assert isinstance(lease, WorkLease)
    assert (lease.item.id, lease.attempt_count) == (2, 1)
    assert await provider.fetch_work_item(30.0) is None  # item 1 was acked


async def test_a_long_activity_gives_back_the_lease_it_fetched_ahead(
    provider: SqliteProvider,
) -> None:
    """Once an activity outlasts poll_interval, the next lease goes back to the queue, uncounted."""
    hold = Holding()
    flaky = FlakyProvider(provider)
    for n in (1, 2):
        await provider.enqueue_for_worker(item(n))
    async with Runtime(flaky, activities={"hold": hold}, options=ONE_SLOT):
        await hold.entered.wait()
        lease = await provider.fetch_work_item(30.0, 5.0)  # another worker, waiting for it
        assert isinstance(lease, WorkLease)
        assert (lease.item.id, lease.attempt_count) == (2, 1)
        given_back = [args for name, args in flaky.calls if name == "abandon_work_item"]
        assert [args[1:] for args in given_back] == [(None, True)]
        assert len(fetched_ahead(flaky)) == 1
        hold.release.set()
        await provider.ack_work_item(lease.lock_token, None)

    assert hold.ran == [1]


async def test_no_slot_fetches_ahead_while_a_sibling_slot_waits_for_work(
    provider: SqliteProvider,
) -> None:
    """With an idle slot waiting for work, a busy slot leaves new work to it."""
    hold = Holding()
    flaky = FlakyProvider(provider)
    await provider.enqueue_for_worker(item(1))
    options = dataclasses.replace(ONE_SLOT, worker_concurrency=2)
    async with Runtime(flaky, activities={"hold": hold}, options=options):
        await hold.entered.wait()
        await provider.read("")  # one round trip: a fetch made ahead would be recorded by now
        assert fetched_ahead(flaky) == []
        hold.release.set()

    assert hold.ran == [1]


async def test_a_failed_background_ack_gives_the_activity_back_for_redelivery(
    provider: SqliteProvider,
) -> None:
    """A permanent error acking in the background abandons the lease; the activity runs again."""
    flaky = FlakyProvider(provider)
    failed, flaky.fail["ack_work_item"] = fail_once(ProviderError("ack_work_item", "disk full"))
    state = await run_double(flaky, "ack-1", 21)

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, 42)
    acks = flaky.tokens("ack_work_item")
    assert (len(acks), acks.count(failed[0])) == (2, 1)  # the failed token was not retried
    abandons = [args for name, args in flaky.calls if name == "abandon_work_item"]
    assert [args[0] for args in abandons] == failed
    assert abandons[0][2] is False  # the failed delivery counts
