"""Ordering, peek-lock, visibility and delivery of the orchestrator and worker queues.

Worker items are FIFO and leased one at a time; orchestrator batches keep enqueue order;
timers and delays hide messages until their time; payloads and ids come back byte-exact.
"""

from __future__ import annotations

import asyncio

import pytest

from provkit.conformance._builders import (
    ORCHESTRATION,
    ack,
    activity_done,
    commit_turn,
    completed,
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
    start_item,
    started,
    timer_item,
    work_item,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import Provider, WorkLease
from provkit.contract import messages as msg

pytestmark = [pytest.mark.queue_semantics, pytest.mark.asyncio]

DELAY_MS = 2_345
"""A whole-millisecond delay (not a whole second): no rounding of seconds decides a test."""

PAYLOADS = [
    pytest.param("", id="empty"),
    pytest.param("provkit-" * 131_073 + "\U0001f600", id="over-1MiB"),
    pytest.param(
        "emoji \U0001f600\U0001f469\u200d\U0001f467 nul \x00 lines\n\r\n\ttab "
        "rtl \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u202eoverride\u202c",
        id="unicode",
    ),
    pytest.param('it\'s "quoted" `x` \\ ; DROP TABLE history; -- % _ ? $1 :name', id="sql"),
    pytest.param('{"type": "ActivityExecute", "not": ["parsed"]}', id="json-text"),
]

INSTANCE_IDS = [
    pytest.param("inst-\U0001f600\U0001f469\u200d\U0001f467", id="emoji"),
    pytest.param("inst\x00nul", id="nul"),
    pytest.param("inst\nnew\r\nline\t", id="newlines"),
    pytest.param("\u05de\u05d5\u05e4\u05e2-\u0645\u062b\u0627\u0644-\u202e", id="rtl"),
    pytest.param("inst'; DROP TABLE instances; --\"%_\\", id="sql"),
    pytest.param("i" * 512, id="512-bytes"),
]

LOOKALIKE_IDS = ["a_c", "abc", "ABC", "a%c", "a%c ", "\u00e9", "e\u0301"]
"""Ids a LIKE match, case folding, trimming or Unicode normalisation would confuse."""


# -- worker queue -----------------------------------------------------------------------


# Rejects: a worker queue that is not FIFO by enqueue order
async def test_worker_queue_is_fifo_by_enqueue_order(provider: Provider, timing: Timing) -> None:
    """Five items of two instances are leased in enqueue order, then the queue is empty."""
    items = [work_item(f"inst-{n % 2}", n) for n in (5, 3, 4, 1, 2)]
    for item in items:
        await provider.enqueue_for_worker(item)

    leased = []
    for _ in items:
        lease = await fetch_work(provider, timing.long_lock)
        assert lease is not None, "fetch_work_item returned None with items still queued"
        leased.append(lease.item)

    assert leased == items
    assert await fetch_work(provider, timing.long_lock) is None


# Rejects: a leased item that other fetchers can still see, or one that survives its ack
async def test_leased_work_item_is_hidden_from_other_fetchers_and_gone_after_ack(
    provider: Provider, timing: Timing
) -> None:
    """A leased item is skipped by other fetches; an acked one never comes back."""
    first = await lease_work(provider, work_item("inst-1", 1), timing.long_lock)
    second = await lease_work(provider, work_item("inst-1", 2), timing.long_lock)
    assert await fetch_work(provider, timing.long_lock) is None, "a leased item was fetched twice"

    await provider.ack_work_item(first.lock_token, None)
    await provider.abandon_work_item(second.lock_token)

    again = await fetch_work(provider, timing.long_lock)
    assert again is not None, "the abandoned item was not fetchable again"
    assert again.item == work_item("inst-1", 2), "the acked item was delivered again"
    assert await fetch_work(provider, timing.long_lock) is None


# Rejects: a new worker item that is not visible at once
@pytest.mark.foundation("fetch_work_item")
async def test_new_work_item_is_visible_immediately(provider: Provider, timing: Timing) -> None:
    """An item is leasable right after enqueue, unchanged, with attempt 1."""
    item = work_item("inst-1", 7, "Charge", "order-42")
    await provider.enqueue_for_worker(item)

    lease = await fetch_work(provider, timing.long_lock)
    assert lease is not None, "fetch_work_item returned None right after enqueue_for_worker"
    assert (lease.item, lease.attempt_count) == (item, 1), (
        "fetch_work_item did not return the enqueued item unchanged with attempt_count 1"
    )


# Rejects: a worker ack that leaves the item or drops its completion
@pytest.mark.foundation("ack_work_item")
async def test_worker_ack_deletes_the_item_and_enqueues_its_completion(
    provider: Provider, timing: Timing
) -> None:
    """ack_work_item removes the item and the completion becomes the instance's next batch."""
    lease = await lease_work(provider, work_item("inst-1", 2), timing.long_lock)

    await provider.ack_work_item(lease.lock_token, activity_done("inst-1", 2, "charged"))

    assert await fetch_work(provider, timing.long_lock) is None, (
        "fetch_work_item returned the item after ack_work_item: the ack did not delete it"
    )
    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "ack_work_item did not enqueue its completion"
    assert (turn.instance, turn.messages) == ("inst-1", [activity_done("inst-1", 2, "charged")]), (
        "ack_work_item did not enqueue exactly its completion for inst-1"
    )
    assert turn.attempt_count == 1, "the completion ack_work_item enqueued was not a first attempt"


# Rejects: ack_work_item(None) that enqueues something or keeps the item
async def test_worker_ack_without_completion_only_deletes_the_item(
    provider: Provider, timing: Timing
) -> None:
    """ack_work_item with no completion deletes the item and enqueues nothing."""
    lease = await lease_work(provider, work_item("inst-1", 2), timing.long_lock)

    await provider.ack_work_item(lease.lock_token, None)

    assert await fetch_work(provider, timing.long_lock) is None
    assert await fetch(provider, timing.long_lock) is None


# Rejects: abandon delay that blocks the queue or is ignored
async def test_delayed_work_item_is_skipped_and_delivered_after_its_delay(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """An item abandoned with a delay is passed over for the next one and returns later."""
    await provider.enqueue_for_worker(work_item("inst-1", 1))
    await provider.enqueue_for_worker(work_item("inst-1", 2))
    first = await fetch_work(provider, timing.long_lock)
    assert first is not None, "fetch_work_item returned None with two items queued"
    await provider.abandon_work_item(first.lock_token, delay=timing.lock_timeout)

    second = await fetch_work(provider, timing.long_lock)
    assert second is not None, "a delayed item blocked the items behind it"
    assert second.item == work_item("inst-1", 2)
    await provider.ack_work_item(second.lock_token, None)
    assert await fetch_work(provider, timing.long_lock) is None, "a delayed item was fetched early"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    again = await fetch_work(provider, timing.long_lock)
    assert again is not None, "the delayed item never came back"
    assert (again.item, again.attempt_count) == (work_item("inst-1", 1), 2)


# Rejects: a worker ack that routes the completion to the leased item's instance
async def test_worker_completion_goes_to_the_completion_instance(
    provider: Provider, timing: Timing
) -> None:
    """A completion addressed to another instance lands on that instance's queue, not the item's."""
    lease = await lease_work(provider, work_item("inst-worker", 2), timing.long_lock)
    completion = activity_done("inst-parent", 7, "routed", execution_id=3)

    await provider.ack_work_item(lease.lock_token, completion)

    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "ack_work_item did not enqueue its completion"
    assert (turn.instance, turn.messages) == ("inst-parent", [completion]), (
        "ack_work_item enqueued the completion on the leased item's instance"
    )
    assert await fetch(provider, timing.long_lock) is None


# Rejects: an abandoned worker item sent to the back of the queue instead of keeping its place
async def test_abandoned_work_item_keeps_its_place_after_its_delay(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Item 1 abandoned with a delay is skipped meanwhile, then leased again before item 3."""
    for n in (1, 2, 3):
        await provider.enqueue_for_worker(work_item("inst-1", n))
    first = await must_fetch_work(provider, timing.long_lock)
    assert first.item == work_item("inst-1", 1)
    await provider.abandon_work_item(first.lock_token, delay=timing.lock_timeout)
    second = await must_fetch_work(provider, timing.long_lock)
    assert second.item == work_item("inst-1", 2), "an item abandoned with a delay was fetched early"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    leased = [(await must_fetch_work(provider, timing.long_lock)).item.id for _ in range(2)]
    assert leased == [1, 3], "the abandoned item lost its place in enqueue order"


# Rejects: a worker item whose lease expired sent to the back of the queue
async def test_work_item_keeps_its_place_after_its_lease_expires(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Item 1's lease expires while item 2 waits: item 1 is leased again first."""
    await provider.enqueue_for_worker(work_item("inst-1", 1))
    first = await must_fetch_work(provider, timing.lock_timeout)
    await provider.enqueue_for_worker(work_item("inst-1", 2))

    await clock.advance(timing.lock_timeout + timing.epsilon)

    again = await must_fetch_work(provider, timing.long_lock)
    assert (again.item, again.attempt_count) == (first.item, 2), (
        "an item whose lease expired lost its place in enqueue order"
    )
    assert (await must_fetch_work(provider, timing.long_lock)).item == work_item("inst-1", 2)


# -- worker queue: races ----------------------------------------------------------------


async def _lease_concurrently(
    provider: Provider, fetchers: int, lock_timeout: float
) -> list[WorkLease]:
    """Start ``fetchers`` worker fetches at once; return the leases they got."""
    results = await asyncio.gather(*(fetch_work(provider, lock_timeout) for _ in range(fetchers)))
    return [lease for lease in results if lease is not None]


# Rejects: a check-then-set claim that lets several racing workers lease one item
async def test_concurrent_work_fetchers_of_one_item_have_exactly_one_winner(
    provider: Provider, timing: Timing
) -> None:
    """Ten fetches racing for one worker item: exactly one leases it, the rest get None."""
    await provider.enqueue_for_worker(work_item("inst-1", 1))

    leases = await _lease_concurrently(provider, 10, timing.long_lock)

    assert [(lease.item, lease.attempt_count) for lease in leases] == [
        (work_item("inst-1", 1), 1)
    ], f"{len(leases)} concurrent fetch_work_item calls leased the one item"


# Rejects: a worker fetch that loses a race and returns None (or a leased item) instead of
# moving on to the next item
async def test_concurrent_work_fetchers_of_ten_items_each_get_a_different_one(
    provider: Provider, timing: Timing
) -> None:
    """Ten fetches racing over ten items: every fetch leases one, each item exactly once."""
    items = [work_item(f"inst-{n % 3}", n) for n in range(1, 11)]
    for item in items:
        await provider.enqueue_for_worker(item)

    leases = await _lease_concurrently(provider, 10, timing.long_lock)

    leased = sorted(lease.item.id for lease in leases)
    assert leased == list(range(1, 11)), (
        f"ten fetches over ten free items leased ids {leased}: a fetch lost a race and "
        "returned None or an item someone else held"
    )
    assert [lease.item for lease in sorted(leases, key=lambda le: le.item.id)] == items
    assert all(lease.attempt_count == 1 for lease in leases)
    assert len({lease.lock_token for lease in leases}) == 10, "two leases share a token"
    assert await fetch_work(provider, timing.long_lock) is None


# Rejects: more leases than items, or a racing fetch returning None while an item is free
async def test_more_work_fetchers_than_items_lease_each_item_once(
    provider: Provider, timing: Timing
) -> None:
    """Twelve fetches racing over four items: exactly four win, each a different item."""
    items = [work_item("inst-1", n) for n in range(1, 5)]
    for item in items:
        await provider.enqueue_for_worker(item)

    leases = await _lease_concurrently(provider, 12, timing.long_lock)

    assert sorted(lease.item.id for lease in leases) == [1, 2, 3, 4], (
        f"twelve fetches over four items leased {[lease.item.id for lease in leases]}"
    )


# Rejects: a lease take-over after expiry that is not atomic, so several fetchers inherit it
async def test_concurrent_work_fetchers_after_lease_expiry_have_exactly_one_winner(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """While a lease lives racing fetches get None; after it expires exactly one re-leases it."""
    first = await lease_work(provider, work_item("inst-1", 1), timing.lock_timeout)

    assert await _lease_concurrently(provider, 10, timing.long_lock) == [], (
        "a fetch leased an item whose lease was still live"
    )

    await clock.advance(timing.lock_timeout + timing.epsilon)

    leases = await _lease_concurrently(provider, 10, timing.long_lock)
    assert [(lease.item, lease.attempt_count) for lease in leases] == [
        (work_item("inst-1", 1), 2)
    ], f"{len(leases)} concurrent fetches took over the expired lease"
    assert leases[0].lock_token != first.lock_token


# -- orchestrator queue: visibility -----------------------------------------------------


# Rejects: timers enqueued directly that ignore fire_at_ms
async def test_enqueued_timer_is_invisible_until_its_fire_time(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A TimerFired message is not fetchable before fire_at_ms and is after it."""
    timer = timer_item("inst-1", 2, provider_now_ms(clock) + round(timing.lock_timeout * 1000))
    await provider.enqueue_for_orchestrator(timer)
    assert await fetch(provider, timing.long_lock) is None, "a timer was fetched before fire_at_ms"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "the timer never became visible"
    assert (turn.instance, turn.messages) == ("inst-1", [timer])


# Rejects: timers enqueued by an ack that ignore fire_at_ms
async def test_timer_from_an_ack_is_invisible_until_its_fire_time(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A TimerFired message in an ack's orchestrator items waits for its fire time."""
    timer = timer_item("inst-1", 2, provider_now_ms(clock) + round(timing.lock_timeout * 1000))
    await commit_turn(
        provider,
        start_item("inst-1"),
        timing.long_lock,
        [started()],
        metadata=first_turn_metadata(),
        orchestrator_items=[timer],
    )
    assert await fetch(provider, timing.long_lock) is None, "a timer was fetched before fire_at_ms"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "the timer enqueued by the ack never became visible"
    assert (turn.instance, turn.messages, turn.history) == ("inst-1", [timer], [started()])


# Rejects: enqueue_for_orchestrator that ignores its delay
async def test_enqueue_with_delay_is_invisible_until_the_delay_passes(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A message enqueued with a delay is fetchable only once the delay has passed."""
    await provider.enqueue_for_orchestrator(external_item("inst-1"), delay=timing.lock_timeout)
    assert await fetch(provider, timing.long_lock) is None, "a delayed message was fetched early"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "the delayed message never became visible"
    assert (turn.instance, turn.messages) == ("inst-1", [external_item("inst-1")])


# Rejects: a timer whose enqueue delay is dropped in favour of its (earlier) fire time
async def test_enqueue_delay_also_holds_back_a_due_timer(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A timer already due but enqueued with a delay becomes visible at the later time."""
    timer = timer_item("inst-1", 2, provider_now_ms(clock))
    await provider.enqueue_for_orchestrator(timer, delay=timing.lock_timeout)
    assert await fetch(provider, timing.long_lock) is None, "the enqueue delay was ignored"

    await clock.advance(timing.lock_timeout + timing.epsilon)

    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "the delayed timer never became visible"
    assert turn.messages == [timer]


# Rejects: enqueue delays shortened, rounded to whole seconds, or ignored
async def test_delayed_message_is_invisible_1_ms_before_its_delay_and_visible_at_it(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Enqueued at t with delay d: invisible at t+d-1 ms, visible at t+d."""
    start = clock.exact_now_ms()
    await provider.enqueue_for_orchestrator(external_item("inst-1"), delay=DELAY_MS / 1000)

    await clock.set_ms(start + DELAY_MS - 1)
    assert await fetch(provider, timing.long_lock) is None, "visible before now + delay"
    await clock.set_ms(start + DELAY_MS)
    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "still invisible at now + delay"
    assert (turn.instance, turn.messages) == ("inst-1", [external_item("inst-1")])


async def _enqueue_timer_by(
    path: str, provider: Provider, timing: Timing, timer: msg.TimerFiredMessage
) -> None:
    """Put ``timer`` on the orchestrator queue the way ``path`` names."""
    if path == "enqueue":
        await provider.enqueue_for_orchestrator(timer)
    elif path == "ack":
        await commit_turn(
            provider,
            start_item("inst-acking"),
            timing.long_lock,
            [started()],
            metadata=first_turn_metadata(),
            orchestrator_items=[timer],
        )
    else:
        lease = await lease_work(provider, work_item("inst-acking", 2), timing.long_lock)
        await provider.ack_work_item(lease.lock_token, timer)


# Rejects: timers fired early or late on any path that enqueues them
@pytest.mark.parametrize("path", ["enqueue", "ack", "work-ack"])
async def test_timer_is_invisible_1_ms_before_its_fire_time_and_visible_at_it(
    provider: Provider, clock: SuiteClock, timing: Timing, path: str
) -> None:
    """A timer firing at f, enqueued directly, by an ack or by a worker ack: visible from f."""
    start = clock.exact_now_ms()
    timer = timer_item("inst-timer", 2, start + DELAY_MS)
    await _enqueue_timer_by(path, provider, timing, timer)

    await clock.set_ms(start + DELAY_MS - 1)
    assert await fetch(provider, timing.long_lock) is None, "a timer was visible before fire_at_ms"
    await clock.set_ms(start + DELAY_MS)
    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "a timer was still invisible at fire_at_ms"
    assert (turn.instance, turn.messages) == ("inst-timer", [timer])


# Rejects: a delayed timer visible at the earlier of its delay and fire time
@pytest.mark.parametrize(
    ("fire_in", "delay"),
    [pytest.param(1_000, 2_345, id="delay-later"), pytest.param(3_456, 1_000, id="fire-later")],
)
async def test_delayed_timer_is_visible_from_the_later_of_delay_and_fire_time(
    provider: Provider, clock: SuiteClock, timing: Timing, fire_in: int, delay: int
) -> None:
    """A timer enqueued with a delay becomes visible at max(now + delay, fire_at_ms)."""
    start = clock.exact_now_ms()
    timer = timer_item("inst-1", 2, start + fire_in)
    await provider.enqueue_for_orchestrator(timer, delay=delay / 1000)
    visible = start + max(fire_in, delay)

    await clock.set_ms(visible - 1)
    assert await fetch(provider, timing.long_lock) is None, (
        "a delayed timer was visible before the later of its delay and fire time"
    )
    await clock.set_ms(visible)
    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "a delayed timer was still invisible at its visibility time"
    assert turn.messages == [timer]


# -- orchestrator queue: order ----------------------------------------------------------


# Rejects: a batch sorted by kind, id or anything but enqueue order
async def test_batch_keeps_enqueue_order_across_message_kinds(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """One batch holds every visible message of the instance in the order they were enqueued."""
    messages: list[msg.OrchestratorMessage] = [
        external_item("inst-1", "z-last-name"),
        start_item("inst-1"),
        activity_done("inst-1", 9),
        timer_item("inst-1", 3, provider_now_ms(clock) - 1000),
        msg.CancelInstance(instance="inst-1", reason="stop"),
        activity_done("inst-1", 2),
        external_item("inst-1", "a-first-name"),
    ]
    for message in messages:
        await provider.enqueue_for_orchestrator(message)

    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "fetch_orchestration_item returned None with messages queued"
    assert turn.messages == messages


# Rejects: instances chosen by id, by newest message or at random instead of oldest message
async def test_instance_with_the_oldest_visible_message_is_fetched_first(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """Instances come out in the order of their oldest visible message."""
    for instance in ("inst-b", "inst-c", "inst-a"):
        await provider.enqueue_for_orchestrator(start_item(instance))
        # Distinct enqueue times: ranking by visibility time or by enqueue order then agree.
        await clock.advance(timing.epsilon)
    await provider.enqueue_for_orchestrator(external_item("inst-b"))

    order = []
    for _ in range(3):
        turn = await fetch(provider, timing.long_lock)
        assert turn is not None, "fetch_orchestration_item returned None with instances queued"
        order.append((turn.instance, len(turn.messages)))

    assert order == [("inst-b", 2), ("inst-c", 1), ("inst-a", 1)]


# Rejects: candidate selection that counts a message before it is visible
async def test_invisible_message_does_not_make_its_instance_older(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """An instance whose oldest message is still delayed ranks by its oldest visible one."""
    await provider.enqueue_for_orchestrator(
        external_item("inst-x", "early"), delay=timing.long_lock
    )
    await provider.enqueue_for_orchestrator(start_item("inst-y"))
    # Distinct enqueue times: ranking by visibility time or by enqueue order then agree.
    await clock.advance(timing.epsilon)
    await provider.enqueue_for_orchestrator(start_item("inst-x"))

    first = await fetch(provider, timing.long_lock)
    second = await fetch(provider, timing.long_lock)

    assert first is not None, "fetch_orchestration_item returned None with messages queued"
    assert second is not None, "fetch_orchestration_item returned None with messages queued"
    assert first.instance == "inst-y", "an instance ranked by a message that is not yet visible"
    assert (second.instance, second.messages) == ("inst-x", [start_item("inst-x")])


# Rejects: instances ranked by enqueue order although a later message became visible first
async def test_instances_rank_by_visibility_time_not_enqueue_order(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """X enqueued first but delayed, Y enqueued later and visible at once: Y is fetched first."""
    await provider.enqueue_for_orchestrator(start_item("inst-x"), delay=2 * timing.epsilon)
    await clock.advance(timing.epsilon)
    await provider.enqueue_for_orchestrator(start_item("inst-y"))
    await clock.advance(2 * timing.epsilon)

    order = [(await must_fetch(provider, timing.long_lock)).instance for _ in range(2)]

    assert order == ["inst-y", "inst-x"], "fetch did not rank messages by visibility time"


# Rejects: same-millisecond ties broken by instance id, by kind, or at random
async def test_messages_visible_in_the_same_millisecond_rank_by_enqueue_order(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A timer and a delayed message due in the same millisecond rank in enqueue order."""
    start = clock.exact_now_ms()
    due = start + DELAY_MS
    await provider.enqueue_for_orchestrator(timer_item("inst-p", 2, due))
    await provider.enqueue_for_orchestrator(external_item("inst-q"), delay=DELAY_MS / 1000)
    await provider.enqueue_for_orchestrator(external_item("inst-r"), delay=DELAY_MS / 1000)
    await provider.enqueue_for_orchestrator(timer_item("inst-n", 2, due))
    await clock.set_ms(due)

    order = [(await must_fetch(provider, timing.long_lock)).instance for _ in range(4)]

    assert order == ["inst-p", "inst-q", "inst-r", "inst-n"]


# Rejects: a past timer ranked by its fire time instead of its (later) enqueue time
async def test_overdue_timer_ranks_by_its_enqueue_time(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A timer already overdue when enqueued is visible from its enqueue, not its fire time."""
    await provider.enqueue_for_orchestrator(external_item("inst-b"))
    await clock.advance(timing.epsilon)
    overdue = timer_item("inst-a", 2, provider_now_ms(clock) - 60_000)
    await provider.enqueue_for_orchestrator(overdue)

    order = [(await must_fetch(provider, timing.long_lock)).instance for _ in range(2)]

    assert order == ["inst-b", "inst-a"], "an overdue timer outranked an earlier message"


# Rejects: an abandon delay that does not move the batch's visibility time
async def test_abandon_with_delay_ranks_the_batch_at_its_new_visibility_time(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A's batch abandoned with a delay ranks behind B, which became visible before it did."""
    held = await lock_instance(provider, start_item("inst-a"), timing.long_lock)
    await provider.abandon_orchestration_item(held.lock_token, delay=2 * timing.epsilon)
    await clock.advance(timing.epsilon)
    await provider.enqueue_for_orchestrator(start_item("inst-b"))
    await clock.advance(2 * timing.epsilon)

    order = [(await must_fetch(provider, timing.long_lock)).instance for _ in range(2)]

    assert order == ["inst-b", "inst-a"]


# Rejects: an abandon without delay that resets the batch's visibility time to now
async def test_abandon_without_delay_keeps_the_batch_visibility_time(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A's batch abandoned without a delay still outranks B, which became visible after A."""
    await provider.enqueue_for_orchestrator(start_item("inst-a"))
    await clock.advance(timing.epsilon)
    await provider.enqueue_for_orchestrator(start_item("inst-b"))
    held = await must_fetch(provider, timing.long_lock)
    assert held.instance == "inst-a"
    await clock.advance(timing.epsilon)
    await provider.abandon_orchestration_item(held.lock_token)

    again = await must_fetch(provider, timing.long_lock)

    assert (again.instance, again.attempt_count) == ("inst-a", 2), (
        "an abandon without delay moved the batch behind a younger message"
    )


# Rejects: a batch ordered by visibility time instead of enqueue order
async def test_batch_is_in_enqueue_order_even_when_visibility_order_differs(
    provider: Provider, clock: SuiteClock, timing: Timing
) -> None:
    """A delayed message enqueued first comes first in the batch it ends up in."""
    early = external_item("inst-1", "enqueued-first")
    late = external_item("inst-1", "enqueued-second")
    await provider.enqueue_for_orchestrator(early, delay=2 * timing.epsilon)
    await clock.advance(timing.epsilon)
    await provider.enqueue_for_orchestrator(late)
    await clock.advance(2 * timing.epsilon)

    turn = await must_fetch(provider, timing.long_lock)

    assert turn.messages == [early, late]


# -- instances and records --------------------------------------------------------------


# Rejects: enqueue (or a fetch without ack) that creates an instance, execution or history
async def test_enqueue_never_creates_an_instance(provider: Provider, timing: Timing) -> None:
    """After enqueue and an abandoned fetch there is still no record, execution or history."""
    await provider.enqueue_for_orchestrator(start_item("inst-1"))
    await provider.enqueue_for_orchestrator(external_item("inst-1"))

    assert await provider.read("inst-1") == []
    assert await provider.list_executions("inst-1") == []
    assert await provider.read_execution("inst-1", 1) == []

    item = await fetch(provider, timing.long_lock)
    assert item is not None, "fetch_orchestration_item returned None with messages queued"
    assert (item.orchestration_name, item.version) == (None, None), (
        "enqueue created an instance record"
    )
    await provider.abandon_orchestration_item(item.lock_token)

    assert await provider.read("inst-1") == []
    assert await provider.list_executions("inst-1") == []


# Rejects: a provider that cannot deliver messages for an instance it has no record of
@pytest.mark.foundation("fetch_orchestration_item")
async def test_message_for_an_unknown_instance_is_fetched_without_a_record(
    provider: Provider, timing: Timing
) -> None:
    """An external event for an instance with no record is fetched with no name, execution 1."""
    item = await lock_instance(provider, external_item("inst-new", "early"), timing.long_lock)

    assert (item.orchestration_name, item.version, item.execution_id) == (None, None, 1), (
        "fetch_orchestration_item of an instance without a record did not report no name, "
        "no version and execution 1"
    )
    assert (item.history, item.history_error) == ([], None), (
        "fetch_orchestration_item reported history for an instance that has none"
    )
    assert item.messages == [external_item("inst-new", "early")], (
        "fetch_orchestration_item did not return the enqueued message as the batch"
    )
    assert item.attempt_count == 1, "fetch_orchestration_item's first delivery was not attempt 1"


# Rejects: instance ids matched with LIKE, case folding, trimming or Unicode normalisation
async def test_lookalike_instance_ids_are_distinct_instances(
    provider: Provider, timing: Timing
) -> None:
    """Ids differing only in case, wildcards, trailing space or normalisation stay separate."""
    for n, instance in enumerate(LOOKALIKE_IDS):
        await commit_turn(
            provider,
            start_item(instance),
            timing.long_lock,
            [started(input=f"input-{n}")],
            metadata=first_turn_metadata(),
        )

    for n, instance in enumerate(LOOKALIKE_IDS):
        assert await provider.read(instance) == [started(input=f"input-{n}")], (
            f"read({instance!r}) returned another instance's history"
        )
        assert await provider.list_executions(instance) == [1]


# -- byte-exact round trips -------------------------------------------------------------


# Rejects: payloads truncated, re-encoded, trimmed, parsed or mangled by quoting
@pytest.mark.parametrize("payload", PAYLOADS)
async def test_payload_round_trips_byte_exact(
    provider: Provider, timing: Timing, payload: str
) -> None:
    """A payload comes back unchanged through both queues, the completion path and history."""
    start = start_item("inst-1", payload)
    item = await lock_instance(provider, start, timing.long_lock)
    assert item.messages == [start], "the start message's input changed in the queue"
    await ack(
        provider,
        item,
        [started(input=payload), scheduled(2, input=payload)],
        worker_items=[work_item("inst-1", 2, input=payload)],
        metadata=first_turn_metadata(),
    )

    lease = await fetch_work(provider, timing.long_lock)
    assert lease is not None, "the ack's worker item was not fetchable"
    assert lease.item == work_item("inst-1", 2, input=payload), "the worker item's input changed"
    await provider.ack_work_item(lease.lock_token, activity_done("inst-1", 2, payload))

    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "the completion was not fetchable"
    assert turn.messages == [activity_done("inst-1", 2, payload)], "the completion changed"
    assert turn.history == [started(input=payload), scheduled(2, input=payload)]
    await ack(provider, turn, [completed(3, 2, payload)])

    assert await provider.read("inst-1") == [
        started(input=payload),
        scheduled(2, input=payload),
        completed(3, 2, payload),
    ], "history changed the payload"


# Rejects: instance ids truncated, normalised or mangled by quoting on any path
@pytest.mark.parametrize("instance", INSTANCE_IDS)
async def test_instance_id_round_trips_byte_exact(
    provider: Provider, timing: Timing, instance: str
) -> None:
    """An instance id comes back unchanged from fetch, the worker round trip and history."""
    item = await lock_instance(provider, start_item(instance), timing.long_lock)
    await ack(
        provider,
        item,
        [started(), scheduled(2)],
        worker_items=[work_item(instance, 2)],
        metadata=first_turn_metadata(),
    )

    lease = await fetch_work(provider, timing.long_lock)
    assert lease is not None, "the ack's worker item was not fetchable"
    assert lease.item == work_item(instance, 2)
    await provider.ack_work_item(lease.lock_token, activity_done(instance, 2))

    turn = await fetch(provider, timing.long_lock)
    assert turn is not None, "the completion was not fetchable"
    assert (turn.instance, turn.orchestration_name) == (instance, ORCHESTRATION)
    assert turn.messages == [activity_done(instance, 2)]
    assert turn.history == [started(), scheduled(2)]
    await ack(provider, turn, [completed(3, 2)])

    assert await provider.read(instance) == [started(), scheduled(2), completed(3, 2)]
    assert await provider.list_executions(instance) == [1]
