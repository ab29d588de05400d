"""Instance locking: one holder per instance at a time, and a locked instance is invisible.

Covers the lock itself, its tokens, the batch it covers, and races between concurrent fetchers.
"""

from __future__ import annotations

import asyncio

import pytest

from provkit.conformance._builders import (
    ack,
    activity_done,
    enqueue_all,
    external_event,
    external_item,
    fetch,
    first_turn_metadata,
    must_fetch,
    start_item,
    started,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import LockLostError, OrchestrationItem, Provider, ProviderError
from provkit.contract.messages import OrchestratorMessage

pytestmark = [pytest.mark.instance_locking, pytest.mark.asyncio]


async def _fetch_concurrently(
    provider: Provider, fetchers: int, lock_timeout: float
) -> list[OrchestrationItem]:
    """Start ``fetchers`` fetches at once; return the ones that got an item."""
    results = await asyncio.gather(*(fetch(provider, lock_timeout) for _ in range(fetchers)))
    return [item for item in results if item is not None]


# Rejects: fetch that ignores a live instance lock; a lock that never expires
@pytest.mark.foundation("fetch_orchestration_item")
async def test_locked_instance_is_invisible_until_its_lock_expires(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A second fetch sees nothing while an instance is locked; after expiry it gets the batch."""
    await provider.enqueue_for_orchestrator(start_item("inst-a"))
    first = await must_fetch(provider, timing.lock_timeout)
    assert (first.instance, first.attempt_count) == ("inst-a", 1), (
        "fetch_orchestration_item did not return inst-a's start with attempt_count 1"
    )
    assert await fetch(provider, timing.long_lock) is None, (
        "fetch_orchestration_item returned inst-a again while its lock was live"
    )

    await clock.advance(timing.lock_timeout + timing.epsilon)

    again = await must_fetch(provider, timing.long_lock)
    assert (again.instance, again.attempt_count) == ("inst-a", 2), (
        "after the lock expired, fetch_orchestration_item did not redeliver inst-a as attempt 2"
    )
    assert again.lock_token != first.lock_token, (
        "fetch_orchestration_item reused the expired lock's token"
    )
    assert again.messages == first.messages == [start_item("inst-a")], (
        "fetch_orchestration_item redelivered a different batch after the lock expired"
    )


# Rejects: lock tokens derived from the instance or reissued across fetches
async def test_every_fetch_gets_a_distinct_lock_token(provider: Provider, timing: Timing) -> None:
    """Fetches of five instances, and a re-fetch of an acked one, all get distinct tokens."""
    instances = [f"inst-{n}" for n in range(5)]
    await enqueue_all(provider, [start_item(instance) for instance in instances])
    items = [await must_fetch(provider, timing.long_lock) for _ in instances]
    assert sorted(item.instance for item in items) == instances

    await ack(provider, items[0], [started()], metadata=first_turn_metadata())
    await provider.enqueue_for_orchestrator(external_item(items[0].instance))
    refetched = await must_fetch(provider, timing.long_lock)
    assert refetched.instance == items[0].instance

    tokens = [item.lock_token for item in [*items, refetched]]
    assert len(set(tokens)) == len(tokens), f"lock tokens repeat: {tokens}"


# Rejects: ack/abandon that accept any token, or release the real lock when rejecting one
async def test_bogus_token_is_rejected_and_the_real_lock_is_unaffected(
    provider: Provider, timing: Timing
) -> None:
    """Ack and abandon with a made-up token raise LockLostError; the real lock is unaffected."""
    await provider.enqueue_for_orchestrator(start_item("inst-a"))
    item = await must_fetch(provider, timing.long_lock)

    with pytest.raises(LockLostError):
        await provider.ack_orchestration_item(
            "bogus-token", 1, [started(input="bogus")], [], [], first_turn_metadata()
        )
    with pytest.raises(LockLostError):
        await provider.abandon_orchestration_item("bogus-token")

    assert await fetch(provider, timing.long_lock) is None, "a rejected token released the lock"
    await ack(provider, item, [started()], metadata=first_turn_metadata())
    assert await provider.read("inst-a") == [started()]
    assert await fetch(provider, timing.long_lock) is None, "the acked batch was redelivered"


# Rejects: a global lock, or fetch returning None while another instance has work
async def test_lock_on_one_instance_does_not_block_another(
    provider: Provider, timing: Timing
) -> None:
    """While one instance stays locked the other is fetched, acked and fetched again."""
    await enqueue_all(provider, [start_item("inst-a"), start_item("inst-b")])
    held = await must_fetch(provider, timing.long_lock)
    other = "inst-b" if held.instance == "inst-a" else "inst-a"

    first = await must_fetch(provider, timing.long_lock)
    assert (first.instance, first.messages) == (other, [start_item(other)])
    await ack(provider, first, [started()], metadata=first_turn_metadata())

    await provider.enqueue_for_orchestrator(external_item(other))
    second = await must_fetch(provider, timing.long_lock)
    assert (second.instance, second.messages) == (other, [external_item(other)])
    assert second.history == [started()]
    assert await fetch(provider, timing.long_lock) is None, "fetch returned the locked instance"


# Rejects: messages enqueued during a lock leaking into a fetch, or lost when the lock expires
async def test_completions_arriving_during_a_lock_wait_for_its_expiry(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Completions enqueued while locked stay hidden; after expiry they follow the start."""
    await provider.enqueue_for_orchestrator(start_item("inst-a"))
    held = await must_fetch(provider, timing.lock_timeout)
    completions = [activity_done("inst-a", id) for id in (2, 3, 4)]
    await enqueue_all(provider, completions)
    assert await fetch(provider, timing.long_lock) is None, "fetch returned a locked instance"
    assert held.messages == [start_item("inst-a")], "the batch grew after the fetch"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    next_turn = await must_fetch(provider, timing.long_lock)
    assert next_turn.instance == "inst-a"
    assert next_turn.messages == [start_item("inst-a"), *completions]
    assert next_turn.attempt_count == 2, "attempt count is not the batch maximum"


# Rejects: ack that deletes messages enqueued during the turn, or mixes them into the acked batch
async def test_completions_arriving_during_a_lock_form_the_next_batch_after_ack(
    provider: Provider, timing: Timing
) -> None:
    """Completions enqueued while locked survive the ack and are the next batch, in order."""
    await provider.enqueue_for_orchestrator(start_item("inst-a"))
    held = await must_fetch(provider, timing.long_lock)
    completions = [activity_done("inst-a", id) for id in (2, 3, 4)]
    await enqueue_all(provider, completions)
    assert await fetch(provider, timing.long_lock) is None, "fetch returned a locked instance"

    await ack(provider, held, [started()], metadata=first_turn_metadata())

    next_turn = await must_fetch(provider, timing.long_lock)
    assert (next_turn.instance, next_turn.messages) == ("inst-a", completions)
    assert next_turn.attempt_count == 1
    assert next_turn.history == [started()]


# Rejects: ack deleting by instance instead of by batch, so a mid-turn message is lost
async def test_message_arriving_mid_turn_is_the_next_batch_alone(
    provider: Provider, timing: Timing
) -> None:
    """A two-message batch is acked; the message that arrived meanwhile is the whole next batch."""
    batch = [start_item("inst-a"), external_item("inst-a", name="early")]
    await enqueue_all(provider, batch)
    held = await must_fetch(provider, timing.long_lock)
    assert held.messages == batch
    late = external_item("inst-a", name="late")
    await provider.enqueue_for_orchestrator(late)

    await ack(provider, held, [started()], metadata=first_turn_metadata())

    next_turn = await must_fetch(provider, timing.long_lock)
    assert (next_turn.instance, next_turn.messages) == ("inst-a", [late])
    await ack(provider, next_turn, [external_event(2, name="late")])
    assert await fetch(provider, timing.long_lock) is None, "an acked message was redelivered"
    assert await provider.read("inst-a") == [started(), external_event(2, name="late")]


# Rejects: ack deleting other instances' messages or messages not in its batch
async def test_ack_deletes_exactly_the_locked_messages(provider: Provider, timing: Timing) -> None:
    """Acking one instance's batch leaves the other's message and its own later ones in place."""
    await enqueue_all(provider, [start_item("inst-a"), start_item("inst-b")])
    held = await must_fetch(provider, timing.long_lock)
    other = "inst-b" if held.instance == "inst-a" else "inst-a"
    later = [external_item(held.instance, name="one"), external_item(held.instance, name="two")]
    await enqueue_all(provider, later)

    await ack(provider, held, [started()], metadata=first_turn_metadata())

    turns = [await must_fetch(provider, timing.long_lock) for _ in range(2)]
    assert {turn.instance: turn.messages for turn in turns} == {
        other: [start_item(other)],
        held.instance: later,
    }
    assert await fetch(provider, timing.long_lock) is None


# Rejects: fetch choosing instances by id order, newest message, or ignoring visibility
async def test_oldest_visible_message_decides_which_instance_is_fetched(
    provider: Provider, timing: Timing
) -> None:
    """Instances come out in the order of their oldest visible message; a delayed one waits."""
    await provider.enqueue_for_orchestrator(start_item("inst-0"), delay=timing.lock_timeout)
    await enqueue_all(
        provider,
        [
            start_item("inst-b"),
            start_item("inst-c"),
            start_item("inst-a"),
            external_item("inst-c"),
            external_item("inst-b"),
        ],
    )

    order = [(await must_fetch(provider, timing.long_lock)).instance for _ in range(3)]

    assert order == ["inst-b", "inst-c", "inst-a"]
    assert await fetch(provider, timing.long_lock) is None, "a delayed message was fetched early"


# Rejects: a check-then-lock fetch that lets several racing callers take one instance
async def test_concurrent_fetchers_of_one_instance_have_exactly_one_winner(
    provider: Provider, timing: Timing
) -> None:
    """Ten fetches racing for one instance: exactly one gets it, with the whole batch."""
    await enqueue_all(provider, [start_item("inst-a"), external_item("inst-a")])

    winners = await _fetch_concurrently(provider, 10, timing.long_lock)

    assert [w.instance for w in winners] == ["inst-a"], f"{len(winners)} fetchers won inst-a"
    assert winners[0].messages == [start_item("inst-a"), external_item("inst-a")]


# Rejects: a fetch that loses a race and returns None (or a taken instance) instead of moving on
async def test_concurrent_fetchers_of_ten_instances_each_get_a_different_one(
    provider: Provider, timing: Timing
) -> None:
    """Ten fetches racing over ten instances: every fetch gets one, each instance exactly once."""
    instances = [f"inst-{n}" for n in range(10)]
    await enqueue_all(provider, [start_item(instance) for instance in instances])

    winners = await _fetch_concurrently(provider, 10, timing.long_lock)

    assert sorted(w.instance for w in winners) == instances
    assert all(w.messages == [start_item(w.instance)] for w in winners)
    assert await fetch(provider, timing.long_lock) is None


# Rejects: expiry take-over that is not atomic, so several fetchers inherit one expired lock
async def test_concurrent_fetchers_after_expiry_have_exactly_one_winner(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Rivals get nothing while the holder's lock lives; after it expires exactly one rival wins."""
    await provider.enqueue_for_orchestrator(start_item("inst-a"))
    holder = await must_fetch(provider, timing.lock_timeout)

    assert await _fetch_concurrently(provider, 10, timing.long_lock) == []

    await clock.advance(timing.lock_timeout + timing.epsilon)

    winners = await _fetch_concurrently(provider, 10, timing.long_lock)
    assert [(w.instance, w.attempt_count) for w in winners] == [("inst-a", 2)]
    assert winners[0].lock_token != holder.lock_token
    assert winners[0].messages == holder.messages


class _ContentionRun:
    """Fetch/ack loops and producers sharing one provider, recording who held which instance.

    A fetcher that finds nothing sleeps until the queues change. If every fetcher is asleep
    after the producers are done while messages are still unacked, the run stops as stalled.
    Violations (two holders at once, history changing under a holder, a failed ack) are
    recorded, never raised, so the test reports them; the run stops after ``max_findings`` of
    them, or after ``max_turns`` turns without finishing.
    """

    def __init__(
        self,
        provider: Provider,
        timing: Timing,
        instances: list[str],
        *,
        fetchers: int,
        events_per_instance: int,
    ) -> None:
        self.provider = provider
        self.timing = timing
        self.fetchers = fetchers
        self.events_per_instance = events_per_instance
        self.enqueued: dict[str, list[OrchestratorMessage]] = {i: [] for i in instances}
        self.delivered: dict[str, list[OrchestratorMessage]] = {i: [] for i in instances}
        self.turns = dict.fromkeys(instances, 0)
        self.holders: dict[str, set[int]] = {i: set() for i in instances}
        self.overlaps: list[str] = []
        self.violations: list[str] = []
        self.acked = 0
        self.expected = len(instances) * (1 + events_per_instance)
        self.max_turns = 10 * self.expected
        self.max_findings = 10
        self.producing = len(instances)
        self.stalled = False
        self._turns_taken = 0
        self._changes = 0
        self._sleeping = 0
        self._changed = asyncio.Condition()

    @property
    def finished(self) -> bool:
        findings = len(self.overlaps) + len(self.violations)
        return (
            self.acked >= self.expected
            or self._turns_taken >= self.max_turns
            or findings >= self.max_findings
        )

    async def run(self) -> None:
        for instance in self.enqueued:
            await self.provider.enqueue_for_orchestrator(start_item(instance))
            self.enqueued[instance].append(start_item(instance))
        async with asyncio.TaskGroup() as group:
            for instance in self.enqueued:
                group.create_task(self._produce(instance))
            for me in range(self.fetchers):
                group.create_task(self._process(me))

    async def _produce(self, instance: str) -> None:
        for n in range(self.events_per_instance):
            message = external_item(instance, name=f"event-{n}", data=f"{instance}/{n}")
            await self.provider.enqueue_for_orchestrator(message)
            self.enqueued[instance].append(message)
            await self._note_change(producer_done=n == self.events_per_instance - 1)

    async def _process(self, me: int) -> None:
        while not self.finished and not self.stalled:
            seen = self._changes
            item = await fetch(self.provider, self.timing.long_lock)
            if item is None:
                await self._sleep_until_change(seen)
                continue
            self._turns_taken += 1
            holders = self.holders.setdefault(item.instance, set())
            if holders:
                self.overlaps.append(
                    f"{item.instance}: fetcher {me} got it while fetcher(s) "
                    f"{sorted(holders)} held it"
                )
            holders.add(me)
            # A provider call while holding gives rival fetchers a chance to (wrongly) win.
            history = await self.provider.read(item.instance)
            holders.discard(me)
            if history != item.history:
                self.violations.append(
                    f"{item.instance}'s history changed while fetcher {me} held its lock"
                )
            try:
                await self._ack_turn(item)
            except ProviderError as exc:
                self.violations.append(f"fetcher {me}'s ack of {item.instance} raised {exc!r}")
                await self._note_change()
                continue
            self.delivered.setdefault(item.instance, []).extend(item.messages)
            self.turns[item.instance] = self.turns.get(item.instance, 0) + 1
            self.acked += len(item.messages)
            await self._note_change()

    async def _ack_turn(self, item: OrchestrationItem) -> None:
        if not item.history:
            await ack(self.provider, item, [started()], metadata=first_turn_metadata())
        else:
            await ack(self.provider, item, [external_event(item.history[-1].event_id + 1)])

    async def _note_change(self, *, producer_done: bool = False) -> None:
        async with self._changed:
            self._changes += 1
            if producer_done:
                self.producing -= 1
            if self.finished:
                self._changed.notify_all()
            else:
                # A change makes at most one more instance fetchable: one fetcher suffices.
                self._changed.notify()

    async def _sleep_until_change(self, seen: int) -> None:
        async with self._changed:
            if self._changes > seen:
                return
            self._sleeping += 1
            if self._sleeping == self.fetchers and self.producing == 0:
                self.stalled = True
                self._changed.notify_all()
            await self._changed.wait_for(lambda: self._changes > seen or self.stalled)
            self._sleeping -= 1


# Rejects: any race in fetch/ack letting two holders share an instance or dropping a message
async def test_many_contending_fetchers_never_share_an_instance_nor_lose_a_message(
    provider: Provider, timing: Timing
) -> None:
    """40 fetch/ack loops over 20 instances while events arrive: one holder each, all acked once."""
    instances = [f"inst-{n:02d}" for n in range(20)]
    run = _ContentionRun(provider, timing, instances, fetchers=40, events_per_instance=3)

    await run.run()

    assert run.overlaps == [], f"{len(run.overlaps)} overlapping holders: {run.overlaps[:5]}"
    assert run.violations == [], f"{len(run.violations)} violations: {run.violations[:5]}"
    assert not run.stalled, (
        f"every fetcher got None with {run.acked} of {run.expected} messages acked: "
        "fetch_orchestration_item hides or lost the rest"
    )
    assert run.acked == run.expected, f"{run.max_turns} turns acked only {run.acked} messages"
    for instance in instances:
        assert run.delivered[instance] == run.enqueued[instance], (
            f"{instance}: acked batches differ from what was enqueued (lost, repeated or reordered)"
        )
        history = await provider.read(instance)
        assert [e.event_id for e in history] == list(range(1, run.turns[instance] + 1))
    assert await fetch(provider, timing.long_lock) is None
