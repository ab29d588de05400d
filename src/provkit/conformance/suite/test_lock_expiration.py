"""Lock expiry, renewal and abandon on both queues, and the attempt counts they drive.

A lock lives exactly as long as its timeout or last renewal says; a dead token raises
``LockLostError`` and changes nothing; every redelivery of a message counts as an attempt.
"""

from __future__ import annotations

import asyncio

import pytest

from provkit.conformance._builders import (
    ack,
    activity_done,
    external_item,
    fetch,
    fetch_work,
    first_turn_metadata,
    lease_work,
    lock_instance,
    must_fetch,
    start_item,
    started,
    supersede_lock,
    work_item,
)
from provkit.conformance._queues import (
    GENUINE,
    OPERATIONS,
    QUEUES,
    STALE,
    Operation,
    Queue,
    assert_lock_lost,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import LockLostError, Provider

pytestmark = [pytest.mark.lock_expiration, pytest.mark.asyncio]


# -- orchestration lock: expiry ---------------------------------------------------------


# Rejects: an orchestration lock that never expires, or a refetch that reuses the old token
async def test_expired_orchestration_lock_redelivers_the_same_batch(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """After lock_timeout the batch is fetched again with a new token and attempt 2."""
    first = await lock_instance(provider, start_item("inst-1"), timing.lock_timeout)
    assert first.attempt_count == 1

    await clock.advance(timing.lock_timeout + timing.epsilon)

    again = await fetch(provider, timing.long_lock)
    assert again is not None, "fetch_orchestration_item returned None after the lock expired"
    assert (again.instance, again.attempt_count) == ("inst-1", 2)
    assert again.lock_token != first.lock_token
    assert again.messages == first.messages == [start_item("inst-1")]


# Rejects: an ack that accepts a superseded token, or applies part of its turn before failing
async def test_ack_with_superseded_token_raises_lock_lost_and_changes_nothing(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """An expired holder's ack after a refetch raises LockLostError and applies nothing."""
    stale, holder = await supersede_lock(provider, "inst-1", clock, timing)

    with pytest.raises(LockLostError):
        await ack(
            provider,
            stale,
            [started()],
            worker_items=[work_item("inst-1", 2)],
            orchestrator_items=[external_item("inst-other")],
            metadata=first_turn_metadata(),
        )

    assert await provider.read("inst-1") == [], "the failed ack wrote history"
    assert await provider.list_executions("inst-1") == [], "the failed ack created an execution"
    assert await fetch_work(provider, timing.long_lock) is None, (
        "the failed ack enqueued its worker item"
    )
    assert await fetch(provider, timing.long_lock) is None, (
        "the failed ack enqueued its orchestrator item or released the new holder's lock"
    )
    await ack(provider, holder, [started()], metadata=first_turn_metadata())
    assert await provider.read("inst-1") == [started()]


# Rejects: a fetch that ignores a live lock, or a lock that is not released at its expiry
async def test_concurrent_fetchers_get_nothing_while_locked_and_one_wins_after_expiry(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """While the lock is live every concurrent fetch gets None; after expiry exactly one wins."""
    first = await lock_instance(provider, start_item("inst-1"), timing.lock_timeout)

    during = await asyncio.gather(*(fetch(provider, timing.long_lock) for _ in range(5)))
    assert during == [None] * 5, "a fetch took an instance whose lock was still live"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    after = await asyncio.gather(*(fetch(provider, timing.long_lock) for _ in range(5)))
    winners = [item for item in after if item is not None]
    assert len(winners) == 1, f"{len(winners)} concurrent fetches locked the expired instance"
    assert (winners[0].instance, winners[0].attempt_count) == ("inst-1", 2)
    assert winners[0].lock_token != first.lock_token
    assert winners[0].messages == [start_item("inst-1")]


# Rejects: an ack that deletes messages enqueued during the lock, or folds them into the batch
async def test_message_enqueued_during_a_lock_is_the_next_batch_after_the_ack(
    provider: Provider, timing: Timing
) -> None:
    """A message that arrives while the instance is locked is fetched right after the ack."""
    item = await lock_instance(provider, start_item("inst-1"), timing.long_lock)
    await provider.enqueue_for_orchestrator(external_item("inst-1"))
    assert await fetch(provider, timing.long_lock) is None

    await ack(provider, item, [started()], metadata=first_turn_metadata())

    following = await fetch(provider, timing.long_lock)
    assert following is not None, "the message enqueued during the lock was lost by the ack"
    assert following.instance == "inst-1"
    assert following.messages == [external_item("inst-1")]
    assert following.attempt_count == 1
    assert following.history == [started()]


# -- orchestration lock: abandon --------------------------------------------------------


# Rejects: abandon that keeps the lock until it expires
@pytest.mark.foundation("abandon_orchestration_item")
async def test_abandon_releases_the_orchestration_lock_at_once(
    provider: Provider, timing: Timing
) -> None:
    """After abandon the batch is fetchable immediately, with a new token and attempt 2."""
    first = await lock_instance(provider, start_item("inst-1"), timing.long_lock)

    await provider.abandon_orchestration_item(first.lock_token)

    again = await fetch(provider, timing.long_lock)
    assert again is not None, (
        "after abandon_orchestration_item, fetch_orchestration_item returned None: the abandon "
        "did not release the lock"
    )
    assert (again.instance, again.attempt_count) == ("inst-1", 2), (
        "after abandon_orchestration_item the batch did not come back as attempt 2"
    )
    assert again.lock_token != first.lock_token, (
        "fetch_orchestration_item reused the abandoned lock's token"
    )
    assert again.messages == [start_item("inst-1")], (
        "after abandon_orchestration_item the batch came back changed"
    )


# Rejects: abandon that ignores its delay
async def test_abandon_with_delay_hides_the_batch_until_the_delay_passes(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A batch abandoned with a delay is invisible until the delay has passed."""
    first = await lock_instance(provider, start_item("inst-1"), timing.long_lock)

    await provider.abandon_orchestration_item(first.lock_token, delay=timing.lock_timeout)
    assert await fetch(provider, timing.long_lock) is None, (
        "abandon_orchestration_item(delay=...) made the batch visible before its delay"
    )

    await clock.advance(timing.lock_timeout + timing.epsilon)

    again = await fetch(provider, timing.long_lock)
    assert again is not None, "the abandoned batch did not come back after its delay"
    assert (again.instance, again.attempt_count) == ("inst-1", 2)
    assert again.messages == [start_item("inst-1")]


# Rejects: ignore_attempt that still counts the delivery, or resets the count to zero
async def test_abandon_with_ignore_attempt_does_not_count_the_delivery(
    provider: Provider, timing: Timing
) -> None:
    """Abandons with ignore_attempt leave the count alone; plain abandons add one each."""
    item = await lock_instance(provider, start_item("inst-1"), timing.long_lock)
    counts = [item.attempt_count]
    for ignore in (True, True, False, True, True, False):
        await provider.abandon_orchestration_item(item.lock_token, ignore_attempt=ignore)
        refetched = await fetch(provider, timing.long_lock)
        assert refetched is not None, "the abandoned batch was not fetchable again"
        item = refetched
        counts.append(item.attempt_count)

    assert counts == [1, 1, 1, 2, 2, 2, 3]


# Rejects: ignore_attempt that decrements messages outside the batch below zero, or an
# abandon that makes a delayed message of the instance visible early
async def test_ignore_attempt_leaves_messages_outside_the_batch_untouched(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A delayed message not in the abandoned batch is later delivered alone with attempt 1."""
    item = await lock_instance(provider, start_item("inst-1"), timing.long_lock)
    await provider.enqueue_for_orchestrator(external_item("inst-1"), delay=timing.lock_timeout)
    await provider.abandon_orchestration_item(item.lock_token, ignore_attempt=True)

    again = await fetch(provider, timing.long_lock)
    assert again is not None, "abandon_orchestration_item did not release the lock"
    assert again.messages == [start_item("inst-1")], (
        "abandon made a message outside the batch visible before its delay"
    )
    assert again.attempt_count == 1
    await ack(provider, again, [started()], metadata=first_turn_metadata())

    await clock.advance(timing.lock_timeout + timing.epsilon)

    delayed = await fetch(provider, timing.long_lock)
    assert delayed is not None, "the delayed message never became visible"
    assert delayed.messages == [external_item("inst-1")]
    assert delayed.attempt_count == 1


# Rejects: an abandon whose delay also moves the instance's messages outside the batch
async def test_abandon_delay_leaves_messages_outside_the_batch_untouched(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A message delayed beyond the abandon's delay stays out of the redelivered batch."""
    item = await lock_instance(provider, start_item("inst-1"), timing.long_lock)
    later = external_item("inst-1", "later")
    await provider.enqueue_for_orchestrator(later, delay=3 * timing.lock_timeout)
    await provider.abandon_orchestration_item(item.lock_token, delay=timing.lock_timeout)

    await clock.advance(timing.lock_timeout + timing.epsilon)

    again = await must_fetch(provider, timing.long_lock)
    assert (again.messages, again.attempt_count) == ([start_item("inst-1")], 2), (
        "the abandon's delay also applied to a message outside its batch"
    )
    await ack(provider, again, [started()], metadata=first_turn_metadata())
    await clock.advance(2 * timing.lock_timeout)
    delayed = await must_fetch(provider, timing.long_lock)
    assert (delayed.messages, delayed.attempt_count) == ([later], 1)


# -- orchestration lock: renew ----------------------------------------------------------


# Rejects: renew that does not move the deadline, or extends from the old deadline not from now
@pytest.mark.foundation("renew_orchestration_item_lock")
async def test_orchestration_renew_extends_the_lock_from_now(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A lock renewed at 0.6 of its timeout outlives its original deadline, then expires."""
    item = await lock_instance(provider, start_item("inst-1"), timing.lock_timeout)
    renewed_for = 2 * timing.lock_timeout

    await clock.advance(0.6 * timing.lock_timeout)
    await provider.renew_orchestration_item_lock(item.lock_token, renewed_for)
    await clock.advance(0.4 * timing.lock_timeout + timing.epsilon)

    assert await fetch(provider, timing.long_lock) is None, (
        "the lock expired at its original deadline although it was renewed"
    )

    await clock.advance(renewed_for - 0.4 * timing.lock_timeout)

    again = await fetch(provider, timing.long_lock)
    assert again is not None, "the renewed lock outlived now + extend_for"
    assert (again.instance, again.attempt_count) == ("inst-1", 2), (
        "after the renewed lock expired the batch did not come back as attempt 2"
    )
    assert again.lock_token != item.lock_token, (
        "fetch_orchestration_item reused the expired lock's token"
    )


# Rejects: renew that revives an expired lock
async def test_orchestration_renew_after_expiry_raises_lock_lost(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Renewing an expired lock raises LockLostError and does not take the lock back."""
    item = await lock_instance(provider, start_item("inst-1"), timing.lock_timeout)
    await clock.advance(timing.lock_timeout + timing.epsilon)

    with pytest.raises(LockLostError):
        await provider.renew_orchestration_item_lock(item.lock_token, timing.long_lock)

    again = await fetch(provider, timing.long_lock)
    assert again is not None, "a failed renew kept the expired lock alive"
    assert (again.instance, again.attempt_count) == ("inst-1", 2)


# Rejects: renew that finds the lock by instance instead of by token
async def test_orchestration_renew_with_superseded_token_raises_lock_lost(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Once a refetch took the expired lock, the old token's renew raises LockLostError."""
    stale, holder = await supersede_lock(provider, "inst-1", clock, timing)

    with pytest.raises(LockLostError):
        await provider.renew_orchestration_item_lock(stale.lock_token, timing.long_lock)

    await ack(provider, holder, [started()], metadata=first_turn_metadata())
    assert await provider.read("inst-1") == [started()]


# Rejects: renew that accepts a token it never issued
async def test_orchestration_renew_with_unknown_token_raises_lock_lost(
    provider: Provider, timing: Timing
) -> None:
    """Renewing with a token that was never issued raises LockLostError."""
    item = await lock_instance(provider, start_item("inst-1"), timing.long_lock)

    with pytest.raises(LockLostError):
        await provider.renew_orchestration_item_lock(f"never-{item.lock_token}", timing.long_lock)

    await ack(provider, item, [started()], metadata=first_turn_metadata())
    assert await provider.read("inst-1") == [started()]


# Rejects: renew that accepts a token whose turn was already acked
async def test_orchestration_renew_after_ack_raises_lock_lost(
    provider: Provider, timing: Timing
) -> None:
    """Renewing after the turn was acked raises LockLostError and locks nothing."""
    item = await lock_instance(provider, start_item("inst-1"), timing.long_lock)
    await ack(provider, item, [started()], metadata=first_turn_metadata())

    with pytest.raises(LockLostError):
        await provider.renew_orchestration_item_lock(item.lock_token, timing.long_lock)

    following = await lock_instance(provider, external_item("inst-1"), timing.long_lock)
    assert following.messages == [external_item("inst-1")]


# Rejects: renew that accepts a token whose batch was abandoned (re-locking it)
async def test_orchestration_renew_after_abandon_raises_lock_lost(
    provider: Provider, timing: Timing
) -> None:
    """Renewing after the batch was abandoned raises LockLostError; the batch stays free."""
    item = await lock_instance(provider, start_item("inst-1"), timing.long_lock)
    await provider.abandon_orchestration_item(item.lock_token)

    with pytest.raises(LockLostError):
        await provider.renew_orchestration_item_lock(item.lock_token, timing.long_lock)

    again = await fetch(provider, timing.long_lock)
    assert again is not None, "a failed renew re-locked the abandoned batch"
    assert (again.instance, again.attempt_count) == ("inst-1", 2)


# -- orchestration attempt counts -------------------------------------------------------


# Rejects: attempt counts kept per provider or per queue instead of per message
async def test_orchestration_attempts_count_each_redelivery_per_instance(
    provider: Provider, timing: Timing
) -> None:
    """One instance's batch counts 1, 2, 3 over redeliveries; another's first fetch is 1."""
    item = await lock_instance(provider, start_item("inst-a"), timing.long_lock)
    counts = [item.attempt_count]
    for _ in range(2):
        await provider.abandon_orchestration_item(item.lock_token)
        refetched = await fetch(provider, timing.long_lock)
        assert refetched is not None, "the abandoned batch was not fetchable again"
        item = refetched
        counts.append(item.attempt_count)
    assert counts == [1, 2, 3]

    other = await lock_instance(provider, start_item("inst-b"), timing.long_lock)
    assert other.attempt_count == 1


# Rejects: a batch attempt taken from the newest message, or counted per instance across acks
async def test_batch_attempt_is_the_highest_count_among_its_messages(
    provider: Provider, timing: Timing
) -> None:
    """A batch of a message delivered twice before plus a new one reports 3; the next batch 1."""
    first = await lock_instance(provider, start_item("inst-1"), timing.long_lock)
    await provider.abandon_orchestration_item(first.lock_token)
    second = await fetch(provider, timing.long_lock)
    assert second is not None, "the abandoned batch was not fetchable again"
    assert second.attempt_count == 2
    await provider.abandon_orchestration_item(second.lock_token)
    await provider.enqueue_for_orchestrator(external_item("inst-1"))

    batch = await fetch(provider, timing.long_lock)
    assert batch is not None, "the abandoned batch was not fetchable again"
    assert batch.messages == [start_item("inst-1"), external_item("inst-1")]
    assert batch.attempt_count == 3
    await ack(provider, batch, [started()], metadata=first_turn_metadata())

    following = await lock_instance(provider, external_item("inst-1", "later"), timing.long_lock)
    assert following.attempt_count == 1


# -- worker lease -----------------------------------------------------------------------


# Rejects: renew_work_item_lock that releases the lease or invalidates its token
@pytest.mark.foundation("renew_work_item_lock")
async def test_work_renew_keeps_the_item_leased(provider: Provider, timing: Timing) -> None:
    """A renewed lease keeps the item hidden and its token still acks it."""
    lease = await lease_work(provider, work_item("inst-1", 1), timing.long_lock)

    await provider.renew_work_item_lock(lease.lock_token, timing.long_lock)

    assert await fetch_work(provider, timing.long_lock) is None, (
        "fetch_work_item leased the item again after renew_work_item_lock: renew released it"
    )
    await provider.ack_work_item(lease.lock_token, activity_done("inst-1", 1))
    assert await fetch_work(provider, timing.long_lock) is None, (
        "fetch_work_item returned the item after its ack"
    )
    done = await fetch(provider, timing.long_lock)
    assert done is not None, "ack_work_item after renew did not enqueue the completion"
    assert done.messages == [activity_done("inst-1", 1)], (
        "ack_work_item after renew enqueued something other than its completion"
    )


# Rejects: renew_work_item_lock that does not move the lease's deadline
async def test_work_renew_extends_the_lease_past_its_original_timeout(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A lease renewed at 0.6 of its timeout is still held after its original deadline."""
    lease = await lease_work(provider, work_item("inst-1", 1), timing.lock_timeout)

    await clock.advance(0.6 * timing.lock_timeout)
    await provider.renew_work_item_lock(lease.lock_token, 2 * timing.lock_timeout)
    await clock.advance(0.4 * timing.lock_timeout + timing.epsilon)

    assert await fetch_work(provider, timing.long_lock) is None, (
        "the lease expired at its original deadline although it was renewed"
    )
    await provider.ack_work_item(lease.lock_token, None)
    assert await fetch_work(provider, timing.long_lock) is None


# Rejects: renew_work_item_lock that revives an expired lease
async def test_work_renew_after_expiry_raises_lock_lost(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Renewing an expired lease raises LockLostError; the item is fetchable again."""
    lease = await lease_work(provider, work_item("inst-1", 1), timing.lock_timeout)
    await clock.advance(timing.lock_timeout + timing.epsilon)

    with pytest.raises(LockLostError):
        await provider.renew_work_item_lock(lease.lock_token, timing.long_lock)

    again = await fetch_work(provider, timing.long_lock)
    assert again is not None, "a failed renew kept the expired lease alive"
    assert (again.item, again.attempt_count) == (work_item("inst-1", 1), 2)


# Rejects: renew_work_item_lock that accepts the token of an acked item
async def test_work_renew_after_ack_raises_lock_lost(provider: Provider, timing: Timing) -> None:
    """Renewing the lease of an acked item raises LockLostError."""
    lease = await lease_work(provider, work_item("inst-1", 1), timing.long_lock)
    await provider.ack_work_item(lease.lock_token, None)

    with pytest.raises(LockLostError):
        await provider.renew_work_item_lock(lease.lock_token, timing.long_lock)

    assert await fetch_work(provider, timing.long_lock) is None


# Rejects: renew_work_item_lock that accepts a token it never issued
async def test_work_renew_with_unknown_token_raises_lock_lost(
    provider: Provider, timing: Timing
) -> None:
    """Renewing with a token that was never issued raises LockLostError; the lease is kept."""
    lease = await lease_work(provider, work_item("inst-1", 1), timing.long_lock)

    with pytest.raises(LockLostError):
        await provider.renew_work_item_lock(f"never-{lease.lock_token}", timing.long_lock)

    assert await fetch_work(provider, timing.long_lock) is None
    await provider.ack_work_item(lease.lock_token, None)


# Rejects: abandon_work_item that keeps the lease, or leaves the old token usable
@pytest.mark.foundation("abandon_work_item")
async def test_work_abandon_releases_the_item_at_once(provider: Provider, timing: Timing) -> None:
    """An abandoned item is fetchable immediately with a new token and attempt 2."""
    lease = await lease_work(provider, work_item("inst-1", 1), timing.long_lock)

    await provider.abandon_work_item(lease.lock_token)

    again = await fetch_work(provider, timing.long_lock)
    assert again is not None, (
        "after abandon_work_item, fetch_work_item returned None: the abandon did not release "
        "the lease"
    )
    assert (again.item, again.attempt_count) == (work_item("inst-1", 1), 2), (
        "after abandon_work_item the item did not come back as attempt 2"
    )
    assert again.lock_token != lease.lock_token, "fetch_work_item reused the abandoned token"
    with pytest.raises(LockLostError):
        await provider.ack_work_item(lease.lock_token, None)
    await provider.ack_work_item(again.lock_token, None)


# Rejects: abandon_work_item that ignores its delay
async def test_work_abandon_with_delay_hides_the_item_until_the_delay_passes(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """An item abandoned with a delay is invisible until the delay has passed."""
    lease = await lease_work(provider, work_item("inst-1", 1), timing.long_lock)

    await provider.abandon_work_item(lease.lock_token, delay=timing.lock_timeout)
    assert await fetch_work(provider, timing.long_lock) is None, (
        "abandon_work_item(delay=...) made the item visible before its delay"
    )

    await clock.advance(timing.lock_timeout + timing.epsilon)

    again = await fetch_work(provider, timing.long_lock)
    assert again is not None, "the abandoned item did not come back after its delay"
    assert (again.item, again.attempt_count) == (work_item("inst-1", 1), 2)


# Rejects: a worker ack that succeeds on an expired lease, or deletes the item when it fails
async def test_work_ack_after_lease_expiry_raises_lock_lost_and_keeps_the_item(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Acking an expired lease raises LockLostError, enqueues nothing, and the item returns."""
    lease = await lease_work(provider, work_item("inst-1", 1), timing.lock_timeout)
    await clock.advance(timing.lock_timeout + timing.epsilon)

    with pytest.raises(LockLostError):
        await provider.ack_work_item(lease.lock_token, activity_done("inst-1", 1))

    assert await fetch(provider, timing.long_lock) is None, (
        "the failed ack_work_item enqueued its completion"
    )
    again = await fetch_work(provider, timing.long_lock)
    assert again is not None, "the failed ack_work_item deleted the item"
    assert (again.item, again.attempt_count) == (work_item("inst-1", 1), 2)
    assert again.lock_token != lease.lock_token


# -- worker attempt counts --------------------------------------------------------------


# Rejects: worker attempt counts shared between items
async def test_work_attempts_count_per_item(provider: Provider, timing: Timing) -> None:
    """Each item starts at attempt 1; redelivering one does not change the other's count."""
    await provider.enqueue_for_worker(work_item("inst-1", 1))
    await provider.enqueue_for_worker(work_item("inst-1", 2))

    first = await fetch_work(provider, timing.long_lock)
    assert first is not None, "fetch_work_item returned None with two items queued"
    await provider.abandon_work_item(first.lock_token)
    redelivered = await fetch_work(provider, timing.long_lock)
    second = await fetch_work(provider, timing.long_lock)
    assert redelivered is not None, "the abandoned item was not fetchable again"
    assert second is not None, "fetch_work_item returned None with an item still queued"

    assert (first.item.id, first.attempt_count) == (1, 1)
    assert (redelivered.item.id, redelivered.attempt_count) == (1, 2)
    assert (second.item.id, second.attempt_count) == (2, 1)


# Rejects: worker ignore_attempt that still counts the delivery, or resets the count
async def test_work_abandon_with_ignore_attempt_does_not_count_the_delivery(
    provider: Provider, timing: Timing
) -> None:
    """Worker abandons with ignore_attempt leave the count alone; plain abandons add one."""
    lease = await lease_work(provider, work_item("inst-1", 1), timing.long_lock)
    counts = [lease.attempt_count]
    for ignore in (True, True, False, True, True, False):
        await provider.abandon_work_item(lease.lock_token, ignore_attempt=ignore)
        refetched = await fetch_work(provider, timing.long_lock)
        assert refetched is not None, "the abandoned item was not fetchable again"
        lease = refetched
        counts.append(lease.attempt_count)

    assert counts == [1, 1, 1, 2, 2, 2, 3]


# -- exact deadlines, both queues (injected clock) --------------------------------------
#
# Whole-millisecond durations (none a whole second), so that no provider's rounding of
# seconds to milliseconds decides a test, and a provider rounding to seconds fails.

LOCK_MS = 4_321
DELAY_MS = 2_345
RENEWALS = [
    pytest.param(3_000, 2_500, id="lengthened"),
    pytest.param(1_000, 1_234, id="shortened"),
]
"""(ms after the fetch when the lock is renewed, ``extend_for`` in ms)."""


def _seconds(ms: int) -> float:
    return ms / 1000


# Rejects: a lock or lease that expires early (halved, a second early) or late
@pytest.mark.parametrize("queue", QUEUES)
async def test_lock_is_held_1_ms_before_its_expiry_and_free_at_it(
    provider: Provider, clock: SuiteClock, timing: Timing, queue: Queue
) -> None:
    """Taken at t with timeout T: no rival gets the item at t+T-1 ms; one does at t+T."""
    start = clock.exact_now_ms()
    await queue.enqueue(provider)
    first = await queue.take(provider, _seconds(LOCK_MS))

    await clock.set_ms(start + LOCK_MS - 1)
    assert await queue.try_take(provider, timing.long_lock) is None, (
        "the lock expired before now + lock_timeout"
    )

    await clock.set_ms(start + LOCK_MS)
    again = await queue.try_take(provider, timing.long_lock)
    assert again is not None, "the lock was still held at now + lock_timeout"
    assert again[1] == 2
    assert again[0] != first


# Rejects: a token that stops working before its lock's expiry time
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("queue", QUEUES)
async def test_token_is_live_1_ms_before_its_expiry(
    provider: Provider, clock: SuiteClock, timing: Timing, queue: Queue, operation: Operation
) -> None:
    """At t+T-1 ms the holder's ack, renew or abandon succeeds and takes effect."""
    start = clock.exact_now_ms()
    await queue.enqueue(provider)
    token = await queue.take(provider, _seconds(LOCK_MS))
    await clock.set_ms(start + LOCK_MS - 1)

    await queue.call(provider, timing, operation, token, GENUINE)

    if operation == "ack":
        await queue.assert_done(provider, timing)
    elif operation == "renew":
        await clock.set_ms(start + LOCK_MS)
        assert await queue.try_take(provider, timing.long_lock) is None, (
            "a renewal made 1 ms before expiry did not keep the lock"
        )
    else:
        await queue.assert_pending(provider, timing, attempt=2)


# Rejects: a token still accepted at the very millisecond its lock expires
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("queue", QUEUES)
async def test_token_is_dead_at_its_expiry_time(
    provider: Provider, clock: SuiteClock, timing: Timing, queue: Queue, operation: Operation
) -> None:
    """At exactly t+T ms ack, renew and abandon raise LockLostError and change nothing."""
    start = clock.exact_now_ms()
    await queue.enqueue(provider)
    token = await queue.take(provider, _seconds(LOCK_MS))
    await clock.set_ms(start + LOCK_MS)

    await assert_lock_lost(provider, timing, queue, operation, token)

    await queue.assert_pending(provider, timing, attempt=2)


# Rejects: renew that extends from the old deadline, ignores extend_for, never shortens a
# lock, or makes it never expire
@pytest.mark.parametrize(("renew_at", "extend"), RENEWALS)
@pytest.mark.parametrize("queue", QUEUES)
async def test_renewed_lock_expires_exactly_at_renewal_time_plus_extend_for(
    provider: Provider,
    clock: SuiteClock,
    timing: Timing,
    queue: Queue,
    renew_at: int,
    extend: int,
) -> None:
    """Renewed at t+r for e: held at every point up to t+r+e-1 ms, re-fetchable at t+r+e."""
    start = clock.exact_now_ms()
    await queue.enqueue(provider)
    token = await queue.take(provider, _seconds(LOCK_MS))
    await clock.set_ms(start + renew_at)

    await queue.renew(provider, token, _seconds(extend))

    deadline = renew_at + extend
    for at in sorted({LOCK_MS - 1, LOCK_MS, deadline - 1} & set(range(renew_at, deadline))):
        await clock.set_ms(start + at)
        assert await queue.try_take(provider, timing.long_lock) is None, (
            f"the lock renewed at +{renew_at} ms for {extend} ms was free at +{at} ms"
        )
    await clock.set_ms(start + deadline)
    again = await queue.try_take(provider, timing.long_lock)
    assert again is not None, (
        f"the lock renewed at +{renew_at} ms for {extend} ms was still held at +{deadline} ms"
    )
    assert again[1] == 2
    with pytest.raises(LockLostError):
        await queue.ack(provider, token, STALE)


# Rejects: an abandon delay that is shortened, rounded to seconds, ignored or made longer
@pytest.mark.parametrize("queue", QUEUES)
async def test_abandoned_item_is_invisible_1_ms_before_its_delay_and_visible_at_it(
    provider: Provider, clock: SuiteClock, timing: Timing, queue: Queue
) -> None:
    """Abandoned at t with delay d: invisible at t+d-1 ms, fetchable (attempt 2) at t+d."""
    start = clock.exact_now_ms()
    await queue.enqueue(provider)
    token = await queue.take(provider, timing.long_lock)
    await clock.set_ms(start + 1_000)

    await queue.abandon(provider, token, _seconds(DELAY_MS))

    await clock.set_ms(start + 1_000 + DELAY_MS - 1)
    assert await queue.try_take(provider, timing.long_lock) is None, (
        "the abandoned item was visible before now + delay"
    )
    await clock.set_ms(start + 1_000 + DELAY_MS)
    again = await queue.try_take(provider, timing.long_lock)
    assert again is not None, "the abandoned item was still invisible at now + delay"
    assert again[1] == 2
