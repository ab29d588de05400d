"""End to end, P0 of the integration test plan: claim races, orphan recovery, sleep recovery.

provkit's runtime runs real orchestrations over the provider under test (the one category
that does not talk to the provider through single contract calls). A crash is a runtime
stopped dead with its locks and leases left behind; every scenario checks the histories it
produced: one start and one terminal event per instance, one completion per activity.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, cast

import pytest

from provkit.conformance._end_to_end import (
    DAY,
    HOUR,
    EndToEnd,
    HangingAcks,
    Recorder,
    assert_each_activity_completed_once,
    assert_sound,
    bounded_gather,
    kinds,
    progressing,
    until,
)
from provkit.contract import Capability, ErrorCategory, FaultInjection, ProviderWrapper
from provkit.contract import events as ev
from provkit.runtime import OrchestrationContext, OrchestrationStatus

pytestmark = [pytest.mark.end_to_end, pytest.mark.asyncio]


async def one_step(ctx: OrchestrationContext, n: int) -> Any:
    return await ctx.schedule_activity("double", n)


async def sleeper(ctx: OrchestrationContext, seconds: float) -> str:
    await ctx.schedule_timer(seconds)
    return "woke"


def timer_created(history: list[ev.Event]) -> bool:
    return any(isinstance(event, ev.TimerCreated) for event in history)


# -- claim races (plan 5.1, 11.2) ----------------------------------------------------------


# Rejects: a fetch that hands one instance or work item to two dispatchers, loses a message
# under contention, or returns None while unlocked work is visible
async def test_burst_of_1000_instances_on_50_plus_50_dispatchers_runs_each_exactly_once(
    end_to_end: EndToEnd,
) -> None:
    """Plan 5.1 concurrent_poll_same_workflow_only_one_claims, 11.2 1000_workflows_created_rapidly:
    1,000 instances started at once, then two runtimes of 25+25 loops: each completes once."""
    runs: Counter[int] = Counter()

    async def double(n: int) -> int:
        runs[n] += 1
        return 2 * n

    # Idle loops long-poll (or back off) for up to half a second: a hundred loops polling
    # faster would measure the database's idle load, not its claim races. Locks last a
    # whole wait: on real time a loaded machine must not expire them mid-turn (a correct
    # redelivery would run an activity twice).
    lock_timeout = max(end_to_end.timing.lock_timeout, end_to_end.timing.wait)
    options = end_to_end.options(
        orchestration_concurrency=25,
        worker_concurrency=25,
        poll_interval=0.5,
        orchestration_lock_timeout=lock_timeout,
        worker_lock_timeout=lock_timeout,
    )
    client = end_to_end.client()
    instances = [f"burst-{n:04d}" for n in range(1000)]
    await bounded_gather(
        [client.start_orchestration(i, "one_step", n) for n, i in enumerate(instances)], 100
    )
    # All 1,000 are claimable at once when the 100 loops start: every fetch is a race.
    recorder = Recorder(end_to_end.provider)
    for _ in range(2):
        await end_to_end.runtime(
            {"one_step": one_step}, {"double": double}, options=options, provider=recorder
        )
    # How long the burst takes depends on the machine; a lost or stuck instance shows as
    # no turn or activity acked for a whole wait.
    await progressing(
        lambda: len(recorder.ended) >= 1000,
        lambda: len(recorder.acked),
        end_to_end.timing.wait,
        "1,000 instances to end",
    )

    assert sorted(recorder.ended) == instances, "an instance ended twice"
    assert runs == Counter(range(1000)), "some activity ran twice or never"
    for n, (instance, history) in enumerate(
        zip(instances, await end_to_end.histories(instances), strict=True)
    ):
        assert_sound(instance, history)
        assert kinds(history) == [
            "OrchestrationStarted",
            "ActivityScheduled",
            "ActivityCompleted",
            "OrchestrationCompleted",
        ], instance
        assert cast(ev.OrchestrationCompleted, history[-1]).output == str(2 * n), instance


# Rejects: messages enqueued while their instance is locked that are lost, delivered twice,
# reordered, or deleted by the ack of the batch being processed
async def test_events_raised_while_turns_are_in_flight_arrive_once_each_in_order(
    end_to_end: EndToEnd,
) -> None:
    """Plan 5.1 claim_during_status_transition_handled, 5.3: events raised at 20 instances
    while their turns run are each delivered exactly once, in the order raised."""

    async def collect(ctx: OrchestrationContext, count: int) -> list[Any]:
        return [await ctx.wait_for_event("item") for _ in range(count)]

    await end_to_end.runtime(
        {"collect": collect}, options=end_to_end.options(orchestration_concurrency=8)
    )
    client = end_to_end.client()
    instances = [f"events-{n:02d}" for n in range(20)]
    await asyncio.gather(*(client.start_orchestration(i, "collect", 10) for i in instances))

    async def raise_all(instance: str) -> None:
        for value in range(10):
            await client.raise_event(instance, "item", f"{instance}/{value}")
            await asyncio.sleep(0)

    await asyncio.gather(*(raise_all(i) for i in instances))
    states = await end_to_end.finish_all(client, instances)

    assert [s.output for s in states] == [[f"{i}/{v}" for v in range(10)] for i in instances]
    for instance in instances:
        history = await end_to_end.history(instance)
        assert_sound(instance, history)
        received = [e.data for e in history if isinstance(e, ev.ExternalEvent)]
        assert len(received) == 10, f"{instance}: {len(received)} ExternalEvent events"


# -- orphan recovery (plan 6.2) -------------------------------------------------------------


# Rejects: an instance lock that never expires after its holder died, a lock re-granted
# before it expired, a redelivery that does not count the attempt, or a batch lost with it
async def test_turns_orphaned_by_a_crashed_runtime_are_redelivered_after_expiry(
    end_to_end: EndToEnd,
) -> None:
    """Plan 6.2 orphaned_workflow_detected_by_watchdog, orphan_recovery_increments_attempt:
    turns of a runtime killed before its acks stay locked until expiry, then complete once."""
    instances = [f"orphan-turn-{n}" for n in range(6)]
    client = end_to_end.client()
    for n, instance in enumerate(instances):
        await client.start_orchestration(instance, "one_step", n)
    hanging = HangingAcks(end_to_end.provider)
    locking = end_to_end.lock_window()
    first = await end_to_end.runtime(
        {"one_step": one_step},
        {"double": lambda n: 2 * n},
        options=end_to_end.options(orchestration_concurrency=6),
        provider=hanging,
    )
    await until(lambda: len(hanging.locked) == 6, end_to_end.timing.wait, "six turns to start")
    await end_to_end.crash(first)

    if locking.still_held():
        assert await end_to_end.store.fetch_orchestration_item(30.0) is None, (
            "an instance locked by the crashed runtime was handed out before its lock expired"
        )
    await end_to_end.jump(end_to_end.timing.lock_timeout + 1)
    recorder = Recorder(end_to_end.provider)
    await end_to_end.runtime({"one_step": one_step}, {"double": lambda n: 2 * n}, provider=recorder)
    states = await end_to_end.finish_all(client, instances)

    assert [(s.status, s.output) for s in states] == [
        (OrchestrationStatus.COMPLETED, 2 * n) for n in range(6)
    ]
    assert recorder.first_attempts() == dict.fromkeys(instances, 2)
    for instance in instances:
        history = await end_to_end.history(instance)
        assert_sound(instance, history)
        assert_each_activity_completed_once(instance, history)


# Rejects: a worker lease that never expires, a lease re-granted while live, a redelivered
# item whose attempt count did not grow, or a completion applied twice
async def test_activities_orphaned_by_a_crashed_runtime_run_again_once_after_expiry(
    end_to_end: EndToEnd,
) -> None:
    """Plan 6.2 orphan_recovery_increments_attempt, 1.2 stale_worker_workflows_rescheduled:
    activities of a runtime killed mid-run are re-run once by the next runtime."""
    started: Counter[int] = Counter()
    finished: Counter[int] = Counter()

    async def stuck(n: int) -> int:
        started[n] += 1
        await asyncio.Event().wait()
        return n

    async def double(n: int) -> int:
        finished[n] += 1
        return 2 * n

    instances = [f"orphan-work-{n}" for n in range(4)]
    client = end_to_end.client()
    for n, instance in enumerate(instances):
        await client.start_orchestration(instance, "one_step", n)
    leasing = end_to_end.lock_window()
    first = await end_to_end.runtime(
        {"one_step": one_step},
        {"double": stuck},
        options=end_to_end.options(worker_concurrency=4),
    )
    await until(lambda: len(started) == 4, end_to_end.timing.wait, "four activities to start")
    await end_to_end.crash(first)

    if leasing.still_held():
        assert await end_to_end.store.fetch_work_item(30.0) is None, (
            "a work item leased by the crashed runtime was handed out before its lease expired"
        )
    await end_to_end.jump(end_to_end.timing.lock_timeout + 1)
    recorder = Recorder(end_to_end.provider)
    await end_to_end.runtime({"one_step": one_step}, {"double": double}, provider=recorder)
    states = await end_to_end.finish_all(client, instances)

    assert [(s.status, s.output) for s in states] == [
        (OrchestrationStatus.COMPLETED, 2 * n) for n in range(4)
    ]
    assert (started, finished) == (Counter(range(4)), Counter(range(4)))
    assert sorted(lease.attempt_count for lease in recorder.leases) == [2, 2, 2, 2]
    for instance in instances:
        history = await end_to_end.history(instance)
        assert_sound(instance, history)
        assert_each_activity_completed_once(instance, history)


# Rejects: a provider whose redeliveries after expiry do not count attempts, so a turn
# that kills its runtime every time is retried forever
async def test_turn_that_kills_its_runtime_fails_as_poison_after_max_attempts(
    end_to_end: EndToEnd,
) -> None:
    """Plan 6.2 orphan_with_exhausted_retries_fails: a turn whose runtime dies each time
    fails as poison on its third delivery with max_attempts=2, and nothing runs again."""
    runs: list[int] = []

    async def doomed(ctx: OrchestrationContext, n: int) -> int:
        runs.append(n)
        return n

    client = end_to_end.client()
    await client.start_orchestration("poison-turn", "doomed", 7)
    options = end_to_end.options(max_attempts=2)
    for crash in (1, 2):
        hanging = HangingAcks(end_to_end.provider)
        runtime = await end_to_end.runtime({"doomed": doomed}, options=options, provider=hanging)

        def ran(times: int = crash) -> bool:
            return len(runs) == times

        await until(ran, end_to_end.timing.wait, f"turn {crash} to run")
        await end_to_end.crash(runtime)
        await end_to_end.jump(end_to_end.timing.lock_timeout + 1)

    await end_to_end.runtime({"doomed": doomed}, options=options)
    state = await end_to_end.finish(client, "poison-turn")

    assert runs == [7, 7], "the poisoned batch reached orchestration code again"
    assert state.status is OrchestrationStatus.FAILED
    assert state.error is not None
    assert (state.error.category, state.error.kind) == (ErrorCategory.POISON, "poison")
    assert "delivered 3 times (max_attempts=2)" in state.error.message
    history = await end_to_end.history("poison-turn")
    assert_sound("poison-turn", history)
    assert kinds(history) == ["OrchestrationStarted", "OrchestrationFailed"]


# Rejects: a worker queue whose lease expiry does not count the delivery, so an activity
# that kills its runtime every time is retried forever
async def test_activity_that_kills_its_runtime_fails_as_poison_after_max_attempts(
    end_to_end: EndToEnd,
) -> None:
    """Plan 6.2 orphan_with_exhausted_retries_fails, 2.2 workflow_panic_treated_as_failure:
    an activity whose runtime dies mid-run each time fails its instance as poison."""
    runs: list[int] = []

    async def crashing(n: int) -> int:
        runs.append(n)
        await asyncio.Event().wait()
        return n

    client = end_to_end.client()
    await client.start_orchestration("poison-work", "one_step", 5)
    options = end_to_end.options(max_attempts=2)
    for crash in (1, 2):
        runtime = await end_to_end.runtime(
            {"one_step": one_step}, {"double": crashing}, options=options
        )

        def ran(times: int = crash) -> bool:
            return len(runs) == times

        await until(ran, end_to_end.timing.wait, f"run {crash} of the activity")
        await end_to_end.crash(runtime)
        await end_to_end.jump(end_to_end.timing.lock_timeout + 1)

    await end_to_end.runtime({"one_step": one_step}, {"double": crashing}, options=options)
    state = await end_to_end.finish(client, "poison-work")

    assert runs == [5, 5]
    assert state.status is OrchestrationStatus.FAILED
    assert state.error is not None
    assert state.error.category is ErrorCategory.POISON
    assert "'double' was delivered 3 times (max_attempts=2)" in state.error.message
    history = await end_to_end.history("poison-work")
    assert_sound("poison-work", history)
    failed = [e for e in history if isinstance(e, ev.ActivityFailed)]
    assert len(failed) == 1
    assert failed[0].error.category is ErrorCategory.POISON


# -- sleep recovery (plan 4) ---------------------------------------------------------------


# Rejects: a timer message visible later than its fire time, or a zero delay treated as
# "never" (a provider comparing visibility with > instead of >=)
async def test_zero_second_timer_fires_at_once(end_to_end: EndToEnd) -> None:
    """Plan 4.1 sleep_zero_duration_is_noop, 4.2 sleep_step_replay_skips_execution: a 0 s
    timer fires without any time passing, and replay does not schedule it again."""
    await end_to_end.runtime({"sleeper": sleeper})
    client = end_to_end.client()
    await client.start_orchestration("zero-sleep", "sleeper", 0)

    state = await end_to_end.finish(client, "zero-sleep")

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, "woke")
    history = await end_to_end.history("zero-sleep")
    assert_sound("zero-sleep", history)
    assert kinds(history) == [
        "OrchestrationStarted",
        "TimerCreated",
        "TimerFired",
        "OrchestrationCompleted",
    ]
    created = history[1]
    assert isinstance(created, ev.TimerCreated)
    assert created.fire_at_ms == created.timestamp_ms


# Rejects: a timer that fires before its time, never fires after a long delay (an
# overflowing or truncated visibility time), or fires twice
async def test_long_timer_fires_once_when_its_time_comes_and_not_before(
    end_to_end: EndToEnd,
) -> None:
    """Plan 4.1 sleep_max_duration_accepted, sleep_wake_up_at_set_correctly, 4.2
    sleeping_workflow_claimable_after_wake_up: a 30-day sleep ends only at its fire time."""
    long_timer = end_to_end.timing.long_timer
    await end_to_end.runtime({"sleeper": sleeper})
    client = end_to_end.client()
    await client.start_orchestration("long-sleep", "sleeper", long_timer)
    history = await end_to_end.history_until("long-sleep", timer_created)
    created = history[1]
    assert isinstance(created, ev.TimerCreated)
    assert created.fire_at_ms - created.timestamp_ms == round(long_timer * 1000)

    await end_to_end.jump(long_timer / 2)
    await asyncio.sleep(end_to_end.timing.settle)
    assert (await client.get_status("long-sleep")).status is OrchestrationStatus.RUNNING, (
        "the timer fired before its time"
    )

    await end_to_end.jump(long_timer / 2)
    state = await end_to_end.finish(client, "long-sleep")

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, "woke")
    history = await end_to_end.history("long-sleep")
    assert_sound("long-sleep", history)
    fired = [e for e in history if isinstance(e, ev.TimerFired)]
    assert [(f.source_event_id, f.fire_at_ms) for f in fired] == [(2, created.fire_at_ms)]


# Rejects: delayed messages of one instance delivered out of time order, or a fired timer
# whose message stays queued and fires again
async def test_sleeps_in_sequence_each_fire_once_in_order(end_to_end: EndToEnd) -> None:
    """Plan 4.3 multiple_sleeps_in_sequence: three one-hour sleeps with an activity after
    each fire once each, in order, each after the one before."""

    async def naps(ctx: OrchestrationContext, count: int) -> list[Any]:
        done = []
        for n in range(count):
            await ctx.schedule_timer(HOUR if end_to_end.jumps else end_to_end.timing.long_timer)
            done.append(await ctx.schedule_activity("note", n))
        return done

    await end_to_end.runtime({"naps": naps}, {"note": lambda n: f"nap {n}"})
    client = end_to_end.client()
    await client.start_orchestration("naps", "naps", 3)
    for n in range(1, 4):

        def sleeping(history: list[ev.Event], timers: int = n) -> bool:
            return sum(isinstance(e, ev.TimerCreated) for e in history) == timers

        await end_to_end.history_until("naps", sleeping)
        await end_to_end.jump(HOUR if end_to_end.jumps else 0)

    state = await end_to_end.finish(client, "naps")

    assert (state.status, state.output) == (
        OrchestrationStatus.COMPLETED,
        ["nap 0", "nap 1", "nap 2"],
    )
    history = await end_to_end.history("naps")
    assert_sound("naps", history)
    assert_each_activity_completed_once("naps", history)
    fired = [e.fire_at_ms for e in history if isinstance(e, ev.TimerFired)]
    created = [e.fire_at_ms for e in history if isinstance(e, ev.TimerCreated)]
    assert fired == created
    assert fired == sorted(fired)
    assert len(fired) == 3


# Rejects: a timer that lives only in the memory of the runtime or provider object that
# created it, so it never fires after a restart (or fires twice)
async def test_timer_of_a_crashed_runtime_fires_once_in_the_next_runtime(
    end_to_end: EndToEnd,
) -> None:
    """Plan 4.3 sleep_with_worker_death_mid_sleep, 4.2 worker_can_directly_claim_expired_
    sleeping_workflow: a sleep outlives its runtime and wakes once in the replacement."""
    sleep = DAY if end_to_end.jumps else end_to_end.timing.long_timer
    first = await end_to_end.runtime({"sleeper": sleeper})
    client = end_to_end.client()
    await client.start_orchestration("replaced", "sleeper", sleep)
    await end_to_end.history_until("replaced", timer_created)
    await end_to_end.crash(first)

    await end_to_end.runtime({"sleeper": sleeper})
    await end_to_end.jump(sleep)
    state = await end_to_end.finish(client, "replaced")

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, "woke")
    history = await end_to_end.history("replaced")
    assert_sound("replaced", history)
    assert kinds(history).count("TimerFired") == 1


# -- corrupt messages (plan 6.2, 11.3) -----------------------------------------------------


class StarvedWorkers(ProviderWrapper):
    """Hands out no work item: a runtime on it only runs turns, leaving activities queued."""

    async def fetch_work_item(self, lock_timeout: float, poll_timeout: float = 0.0) -> None:
        await asyncio.sleep(min(poll_timeout, 0.05))


# Rejects: an undecodable message or item that is not counted as a delivery (so it is
# retried forever), that blocks the healthy instances behind it, or whose activity identity
# is lost (so its orchestration never learns that it failed)
@pytest.mark.capability(Capability.FAULT_INJECTION)
async def test_corrupt_message_on_each_queue_fails_its_instance_within_max_attempts(
    end_to_end: EndToEnd,
) -> None:
    """Plan 6.2 orphan_with_exhausted_retries_fails, 11.3: an undecodable start, event or
    work item fails its instance as poison after max_attempts deliveries; others complete."""
    faults = cast(FaultInjection, end_to_end.store)

    async def waits(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.wait_for_event("go")

    orchestrations = {"one_step": one_step, "waits": waits}
    activities = {"double": lambda n: 2 * n}
    client = end_to_end.client()
    await client.start_orchestration("bad-work", "one_step", 1)
    await client.start_orchestration("bad-event", "waits")
    first = await end_to_end.runtime(
        orchestrations, activities, provider=StarvedWorkers(end_to_end.provider)
    )
    for instance in ("bad-work", "bad-event"):
        await end_to_end.history_until(instance, lambda h: len(h) == 2)
    await end_to_end.crash(first)
    await client.raise_event("bad-event", "go", "never read")
    await client.start_orchestration("bad-start", "one_step", 3)
    assert await faults.corrupt_work_items("bad-work") == 1
    assert await faults.corrupt_orchestrator_messages("bad-event") == 1
    assert await faults.corrupt_orchestrator_messages("bad-start") == 1
    healthy = [f"healthy-{n}" for n in range(5)]
    for n, instance in enumerate(healthy):
        await client.start_orchestration(instance, "one_step", n)

    recorder = Recorder(end_to_end.provider)
    options = end_to_end.options(max_attempts=3)
    await end_to_end.runtime(orchestrations, activities, options=options, provider=recorder)
    states = await end_to_end.finish_all(client, [*healthy, "bad-start", "bad-event", "bad-work"])

    assert [(s.status, s.output) for s in states[:5]] == [
        (OrchestrationStatus.COMPLETED, 2 * n) for n in range(5)
    ]
    for state in states[5:]:
        assert state.status is OrchestrationStatus.FAILED, state
        assert state.error is not None
        assert state.error.category is ErrorCategory.POISON, state
        assert "(max_attempts=3)" in state.error.message, state.error.message
        assert "unreadable" in state.error.message, state.error.message
    deliveries = Counter(item.instance for item in recorder.turns)
    assert (deliveries["bad-start"], deliveries["bad-event"]) == (3, 3)
    assert [lease.attempt_count for lease in recorder.leases if not lease.item.name] == [1, 2, 3]
    for instance in ("bad-event", "bad-work"):
        history = await end_to_end.history(instance)
        assert_sound(instance, history)
