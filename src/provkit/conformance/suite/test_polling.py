"""Polling: fetches without ``LONG_POLL`` return at once; with it they wait and wake early.

These tests measure real time (scaled by ``--provkit-timescale``), also when the provider's
clock is injected: a wait is the provider's, not the clock's. A fetch that should wake
early must return well before its ``poll_timeout``; one that should wait must not return
before it, nor long after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pytest

from provkit.conformance._builders import (
    activity_done,
    external_item,
    lock_instance,
    must_fetch,
    must_fetch_work,
    provider_now_ms,
    start_item,
    timer_item,
    work_item,
)
from provkit.conformance._settings import SETTINGS_KEY
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import Capability, ExecutionMetadata, Provider

pytestmark = [pytest.mark.polling, pytest.mark.asyncio]

long_poll = pytest.mark.capability(Capability.LONG_POLL)

A = "inst-a"
B = "inst-b"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class PollTiming:
    """Real-time durations of one polling test, in seconds, already scaled.

    ``wait``: a poll_timeout a test expects to run out. ``long``: one that must not run out
    (an early wake-up is due long before). ``prompt``: the most an immediate return or an
    early wake-up may take. ``slack``: how late after poll_timeout a fetch may return.
    ``settle``: time given to a fetch to start waiting before work arrives.
    """

    wait: float
    long: float
    prompt: float
    slack: float
    settle: float


@pytest.fixture
def polls(request: pytest.FixtureRequest) -> PollTiming:
    """Polling durations scaled by ``--provkit-timescale``."""
    scale = request.config.stash[SETTINGS_KEY].timescale
    return PollTiming(
        wait=0.4 * scale,
        long=5.0 * scale,
        prompt=1.0 * scale,
        slack=0.5 * scale,
        settle=0.1 * scale,
    )


async def timed(call: Awaitable[_T]) -> tuple[_T, float]:
    """Await ``call``; returns its result and the real seconds it took."""
    began = time.monotonic()
    result = await call
    return result, time.monotonic() - began


async def waiting(call: Awaitable[_T], polls: PollTiming) -> asyncio.Task[tuple[_T, float]]:
    """Start ``call`` as a task and give it time to start waiting; fails if it returned."""
    task = asyncio.ensure_future(timed(call))
    await asyncio.sleep(polls.settle)
    assert not task.done(), f"the fetch returned {task.result()[0]!r} instead of waiting"
    return task


class _OrchestratorQueue:
    name: ClassVar[str] = "orchestrator"

    def fetch(self, provider: Provider, timing: Timing, poll: float) -> Awaitable[Any]:
        return provider.fetch_orchestration_item(timing.long_lock, poll)

    async def enqueue(self, provider: Provider) -> None:
        await provider.enqueue_for_orchestrator(start_item(A))

    def delivered(self, result: Any) -> Any:
        """What identifies the delivery: (instance, first message)."""
        return None if result is None else (result.instance, result.messages[0])

    expected: ClassVar[Any] = (A, start_item(A))

    async def take_and_abandon(
        self, provider: Provider, timing: Timing, delay: float | None
    ) -> None:
        item = await must_fetch(provider, timing.long_lock)
        await provider.abandon_orchestration_item(item.lock_token, delay)


class _WorkerQueue:
    name: ClassVar[str] = "worker"

    def fetch(self, provider: Provider, timing: Timing, poll: float) -> Awaitable[Any]:
        return provider.fetch_work_item(timing.long_lock, poll)

    async def enqueue(self, provider: Provider) -> None:
        await provider.enqueue_for_worker(work_item(A, 1))

    def delivered(self, result: Any) -> Any:
        return None if result is None else result.item

    expected: ClassVar[Any] = work_item(A, 1)

    async def take_and_abandon(
        self, provider: Provider, timing: Timing, delay: float | None
    ) -> None:
        lease = await must_fetch_work(provider, timing.long_lock)
        await provider.abandon_work_item(lease.lock_token, delay)


_Queue = _OrchestratorQueue | _WorkerQueue
QUEUES = [
    pytest.param(_OrchestratorQueue(), id="orchestrator"),
    pytest.param(_WorkerQueue(), id="worker"),
]


# Rejects: a fetch that waits although poll_timeout is 0 (the default)
@pytest.mark.parametrize("queue", QUEUES)
async def test_zero_poll_timeout_returns_at_once(
    provider: Provider, timing: Timing, polls: PollTiming, queue: _Queue
) -> None:
    """An empty fetch with poll_timeout 0 returns None at once, whatever the capabilities."""
    result, took = await timed(queue.fetch(provider, timing, 0.0))

    assert result is None
    assert took < polls.prompt, f"took {took:.3f} s with poll_timeout 0"


# Rejects: a provider that blocks on poll_timeout without declaring LONG_POLL
@pytest.mark.without_capability(Capability.LONG_POLL)
@pytest.mark.parametrize("queue", QUEUES)
async def test_fetch_without_long_poll_ignores_poll_timeout(
    provider: Provider, timing: Timing, polls: PollTiming, queue: _Queue
) -> None:
    """Without LONG_POLL an empty fetch returns None at once even with a long poll_timeout."""
    result, took = await timed(queue.fetch(provider, timing, polls.long))

    assert result is None
    assert took < polls.prompt, f"took {took:.3f} s without declaring LONG_POLL"


# Rejects: a fetch that holds visible work back until poll_timeout runs out
@pytest.mark.parametrize("queue", QUEUES)
async def test_fetch_with_work_present_returns_at_once(
    provider: Provider, timing: Timing, polls: PollTiming, queue: _Queue
) -> None:
    """Visible work is returned at once, even with a long poll_timeout."""
    await queue.enqueue(provider)

    result, took = await timed(queue.fetch(provider, timing, polls.long))

    assert queue.delivered(result) == queue.expected
    assert took < polls.prompt, f"took {took:.3f} s although work was visible"


# Rejects: a declared long poll that returns early empty-handed, or overstays its timeout
@long_poll
@pytest.mark.parametrize("queue", QUEUES)
async def test_empty_fetch_waits_for_its_poll_timeout(
    provider: Provider, timing: Timing, polls: PollTiming, queue: _Queue
) -> None:
    """With LONG_POLL an empty fetch returns None after poll_timeout, not before, not long after."""
    result, took = await timed(queue.fetch(provider, timing, polls.wait))

    assert result is None
    assert polls.wait - 0.01 <= took <= polls.wait + polls.slack, (
        f"returned after {took:.3f} s with poll_timeout {polls.wait:g} s"
    )


# Rejects: a waiting fetch that does not notice new work until its timeout
@long_poll
@pytest.mark.parametrize("queue", QUEUES)
async def test_waiting_fetch_wakes_on_enqueue(
    provider: Provider, timing: Timing, polls: PollTiming, queue: _Queue
) -> None:
    """Work enqueued while a fetch waits is returned by that fetch promptly."""
    task = await waiting(queue.fetch(provider, timing, polls.long), polls)

    await queue.enqueue(provider)

    result, took = await task
    assert queue.delivered(result) == queue.expected
    assert took < polls.settle + polls.prompt, f"woke after {took:.3f} s"


# Rejects: a waiting fetch that ignores work released by abandon
@long_poll
@pytest.mark.parametrize("queue", QUEUES)
async def test_waiting_fetch_wakes_on_abandon(
    provider: Provider, timing: Timing, polls: PollTiming, queue: _Queue
) -> None:
    """Work abandoned while another fetch waits is returned by that fetch promptly."""
    await queue.enqueue(provider)
    if isinstance(queue, _OrchestratorQueue):
        holder = await must_fetch(provider, timing.long_lock)
        release: Awaitable[None] = provider.abandon_orchestration_item(holder.lock_token)
    else:
        lease = await must_fetch_work(provider, timing.long_lock)
        release = provider.abandon_work_item(lease.lock_token)
    task = await waiting(queue.fetch(provider, timing, polls.long), polls)

    await release

    result, took = await task
    assert queue.delivered(result) == queue.expected
    assert took < polls.settle + polls.prompt, f"woke after {took:.3f} s"


# Rejects: a waiting fetch that does not notice a delay running out
@long_poll
@pytest.mark.parametrize("queue", QUEUES)
async def test_waiting_fetch_wakes_when_an_abandon_delay_ends(
    provider: Provider, clock: SuiteClock, timing: Timing, polls: PollTiming, queue: _Queue
) -> None:
    """Work abandoned with a delay is returned by a waiting fetch once the delay has passed."""
    await queue.enqueue(provider)
    delay = polls.wait
    await queue.take_and_abandon(provider, timing, delay)
    task = await waiting(queue.fetch(provider, timing, polls.long), polls)

    await clock.advance(delay)

    result, took = await task
    assert queue.delivered(result) == queue.expected
    assert took < delay + polls.prompt, f"woke after {took:.3f} s for a {delay:g} s delay"


# Rejects: a waiting orchestrator fetch blind to a delayed enqueue or a timer's fire time
@long_poll
@pytest.mark.parametrize("kind", ["enqueue-delay", "timer"])
async def test_waiting_fetch_wakes_when_delayed_message_becomes_visible(
    provider: Provider, clock: SuiteClock, timing: Timing, polls: PollTiming, kind: str
) -> None:
    """A message enqueued with a delay, or a timer, is returned once visible by a waiting fetch."""
    delay = polls.wait
    if kind == "timer":
        message: Any = timer_item(A, 2, provider_now_ms(clock) + round(delay * 1000))
        await provider.enqueue_for_orchestrator(message)
    else:
        message = external_item(A)
        await provider.enqueue_for_orchestrator(message, delay)
    task = await waiting(provider.fetch_orchestration_item(timing.long_lock, polls.long), polls)

    await clock.advance(delay)

    item, took = await task
    assert item is not None, "the waiting fetch returned None"
    assert (item.instance, item.messages) == (A, [message])
    assert took < delay + polls.prompt, f"woke after {took:.3f} s for a {delay:g} s delay"


# Rejects: a waiting fetch that does not notice an expired instance lock
@long_poll
async def test_waiting_fetch_wakes_when_a_lock_expires(
    provider: Provider, clock: SuiteClock, timing: Timing, polls: PollTiming
) -> None:
    """An instance whose lock expires while a fetch waits is returned by it, counted 2."""
    lock = polls.wait
    await lock_instance(provider, start_item(A), lock)
    task = await waiting(provider.fetch_orchestration_item(timing.long_lock, polls.long), polls)

    await clock.advance(lock)

    item, took = await task
    assert item is not None, "the waiting fetch returned None"
    assert (item.instance, item.attempt_count) == (A, 2)
    assert took < lock + polls.prompt, f"woke after {took:.3f} s for a {lock:g} s lock"


# Rejects: an ack that releases an instance with waiting messages without waking a fetch
@long_poll
async def test_waiting_fetch_wakes_on_ack_releasing_an_instance_with_messages(
    provider: Provider, timing: Timing, polls: PollTiming
) -> None:
    """A signal queued during A's turn is returned by a waiting fetch as soon as A is acked."""
    item = await lock_instance(provider, start_item(A), timing.long_lock)
    await provider.enqueue_for_orchestrator(external_item(A))
    task = await waiting(provider.fetch_orchestration_item(timing.long_lock, polls.long), polls)

    await provider.ack_orchestration_item(item.lock_token, 1, [], [], [], ExecutionMetadata())

    follow_up, took = await task
    assert follow_up is not None, "the waiting fetch returned None"
    assert (follow_up.instance, follow_up.messages) == (A, [external_item(A)])
    assert took < polls.settle + polls.prompt, f"woke after {took:.3f} s"


# Rejects: acks whose enqueued work does not wake waiting fetches of either queue
@long_poll
async def test_waiting_fetches_wake_on_work_an_ack_enqueues(
    provider: Provider, timing: Timing, polls: PollTiming
) -> None:
    """An ack's worker item and its message for B are returned promptly by waiting fetches."""
    item = await lock_instance(provider, start_item(A), timing.long_lock)
    orchestrator = await waiting(
        provider.fetch_orchestration_item(timing.long_lock, polls.long), polls
    )
    worker = await waiting(provider.fetch_work_item(timing.long_lock, polls.long), polls)

    await provider.ack_orchestration_item(
        item.lock_token, 1, [], [work_item(A, 1)], [external_item(B)], ExecutionMetadata()
    )

    (follow_up, took_orchestrator), (lease, took_worker) = await orchestrator, await worker
    assert follow_up is not None, "the waiting orchestrator fetch returned None"
    assert lease is not None, "the waiting worker fetch returned None"
    assert (follow_up.instance, follow_up.messages, lease.item) == (
        B,
        [external_item(B)],
        work_item(A, 1),
    )
    assert max(took_orchestrator, took_worker) < 2 * polls.settle + polls.prompt


# Rejects: a worker ack whose completion does not wake a waiting orchestrator fetch
@long_poll
async def test_waiting_fetch_wakes_on_a_worker_ack_completion(
    provider: Provider, timing: Timing, polls: PollTiming
) -> None:
    """The completion a worker ack enqueues is returned promptly by a waiting fetch."""
    await provider.enqueue_for_worker(work_item(A, 1))
    lease = await must_fetch_work(provider, timing.long_lock)
    task = await waiting(provider.fetch_orchestration_item(timing.long_lock, polls.long), polls)

    await provider.ack_work_item(lease.lock_token, activity_done(A, 1))

    item, took = await task
    assert item is not None, "the waiting fetch returned None"
    assert (item.instance, item.messages) == (A, [activity_done(A, 1)])
    assert took < polls.settle + polls.prompt, f"woke after {took:.3f} s"


# Rejects: one new item handed to two waiting fetches, or lost between them
@long_poll
@pytest.mark.parametrize("queue", QUEUES)
async def test_one_new_item_goes_to_exactly_one_of_two_waiting_fetches(
    provider: Provider, timing: Timing, polls: PollTiming, queue: _Queue
) -> None:
    """Two fetches wait, one item arrives: one returns it promptly, the other times out empty."""
    first = await waiting(queue.fetch(provider, timing, polls.settle + polls.wait), polls)
    second = await waiting(queue.fetch(provider, timing, polls.wait), polls)

    await queue.enqueue(provider)

    results = [await first, await second]
    delivered = [queue.delivered(result) for result, _ in results]
    assert sorted(delivered, key=lambda d: d is None) == [queue.expected, None]
    winner = next(took for (result, took) in results if result is not None)
    assert winner < polls.settle * 2 + polls.prompt
