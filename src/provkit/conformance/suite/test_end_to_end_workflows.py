"""End to end, P1-P3 of the integration test plan: retries, cancellation, payloads and names.

provkit's runtime runs real orchestrations over the provider under test. Activity retries
use the runtime's ``RetryPolicy`` (each attempt and wait is in history); payload limits use
``max_payload_bytes`` on the runtime and the client alike.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from provkit.conformance._end_to_end import (
    HOUR,
    EndToEnd,
    Recorder,
    assert_each_activity_completed_once,
    assert_sound,
    kinds,
    progressing,
    until,
)
from provkit.contract import ErrorCategory
from provkit.contract import events as ev
from provkit.contract.messages import TimerFiredMessage
from provkit.runtime import (
    InstanceEndedError,
    NonRetryableError,
    OrchestrationContext,
    OrchestrationStatus,
    PayloadTooLargeError,
    RetryPolicy,
    TaskFailedError,
)

pytestmark = [pytest.mark.end_to_end, pytest.mark.asyncio]

LIMIT = 64 * 1024
"""``max_payload_bytes`` of the payload scenarios."""


async def echo(ctx: OrchestrationContext, value: Any) -> Any:
    return value


async def wait_for_go(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.wait_for_event("go")


# -- retries (plan 3.3, 6.1) ---------------------------------------------------------------


async def retried(ctx: OrchestrationContext, policy: dict[str, Any]) -> Any:
    return await ctx.schedule_activity(
        "flaky", ctx.instance, retry=RetryPolicy(first_delay=0.05, backoff=2.0, **policy)
    )


def activity_attempts(history: list[ev.Event]) -> list[str]:
    """The activity and timer events of ``history`` in order, as short names."""
    names = {
        ev.ActivityScheduled: "run",
        ev.ActivityFailed: "failed",
        ev.ActivityCompleted: "done",
        ev.TimerCreated: "wait",
        ev.TimerFired: "waited",
    }
    return [names[type(e)] for e in history if type(e) in names]


# Rejects: a completion or timer message lost or delivered twice between attempts, or a
# delayed message visible before its time (a retry that starts before its backoff ended)
async def test_retry_policy_retries_with_exponential_backoff_until_success(
    end_to_end: EndToEnd,
) -> None:
    """Plan 3.3 step_retry_respects_backoff_policy, step_retry_at_honored_before_reexecution,
    6.1 workflow_retry_policy_applied_on_failure: two failures, then success on attempt 3."""
    calls: Counter[str] = Counter()

    async def flaky(instance: str) -> str:
        calls[instance] += 1
        if calls[instance] < 3:
            raise RuntimeError(f"transient failure {calls[instance]}")
        return f"ok after {calls[instance]}"

    await end_to_end.runtime({"retried": retried}, {"flaky": flaky})
    client = end_to_end.client()
    await client.start_orchestration("retry-ok", "retried", {"max_attempts": 5})

    state = await end_to_end.finish(client, "retry-ok")

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, "ok after 3")
    history = await end_to_end.history("retry-ok")
    assert_sound("retry-ok", history)
    assert activity_attempts(history) == [
        "run", "failed", "wait", "waited", "run", "failed", "wait", "waited", "run", "done",
    ]  # fmt: skip
    timers = [e for e in history if isinstance(e, ev.TimerCreated)]
    assert [t.fire_at_ms - t.timestamp_ms for t in timers] == [50, 100]
    runs = [e for e in history if isinstance(e, ev.ActivityScheduled)]
    assert [r.timestamp_ms >= t.fire_at_ms for r, t in zip(runs[1:], timers, strict=True)] == [
        True,
        True,
    ], "a retry was scheduled before its backoff ended"
    failures = [e.error for e in history if isinstance(e, ev.ActivityFailed)]
    assert [(f.message, f.retryable) for f in failures] == [
        ("transient failure 1", True),
        ("transient failure 2", True),
    ]


# Rejects: a provider that loses the last failure's completion message, so the instance
# never learns that its retries are exhausted
async def test_retry_policy_stops_at_max_attempts_and_fails_the_instance(
    end_to_end: EndToEnd,
) -> None:
    """Plan 3.3 step_retry_respects_max_attempts, 6.1 workflow_retry_exhausted_marks_failed,
    workflow_retry_increments_attempt_counter: three failed attempts, then FAILED."""
    calls: Counter[str] = Counter()

    async def flaky(instance: str) -> str:
        calls[instance] += 1
        raise RuntimeError(f"attempt {calls[instance]} failed")

    await end_to_end.runtime({"retried": retried}, {"flaky": flaky})
    client = end_to_end.client()
    await client.start_orchestration("retry-exhausted", "retried", {"max_attempts": 3})

    state = await end_to_end.finish(client, "retry-exhausted")

    assert calls == Counter({"retry-exhausted": 3})
    assert state.status is OrchestrationStatus.FAILED
    assert state.error is not None
    assert state.error.message == "activity 'flaky' failed after 3 attempts: attempt 3 failed"
    history = await end_to_end.history("retry-exhausted")
    assert_sound("retry-exhausted", history)
    assert activity_attempts(history) == [
        "run", "failed", "wait", "waited", "run", "failed", "wait", "waited", "run", "failed",
    ]  # fmt: skip


# Rejects: a provider that drops the failure's error details (retryable flag, message) on
# its way from the worker queue to the orchestration
async def test_non_retryable_error_stops_retrying_at_once(end_to_end: EndToEnd) -> None:
    """Plan 2.2 non_retryable_error_fails_immediately, 3.3 step_retry_non_retryable_error_
    stops_immediately: a NonRetryableError ends the retries after one attempt."""
    calls: Counter[str] = Counter()

    async def flaky(instance: str) -> str:
        calls[instance] += 1
        raise NonRetryableError("bad input, retrying will not help")

    await end_to_end.runtime({"retried": retried}, {"flaky": flaky})
    client = end_to_end.client()
    await client.start_orchestration("no-retry", "retried", {"max_attempts": 5})

    state = await end_to_end.finish(client, "no-retry")

    assert calls == Counter({"no-retry": 1})
    assert state.status is OrchestrationStatus.FAILED
    assert state.error is not None
    assert state.error.message == (
        "activity 'flaky' failed after 1 attempt (not retryable): bad input, retrying will not help"
    )
    history = await end_to_end.history("no-retry")
    assert_sound("no-retry", history)
    assert activity_attempts(history) == ["run", "failed"]


# Rejects: a backoff timer that does not survive the runtime that created it
async def test_retry_waiting_out_its_backoff_survives_a_crashed_runtime(
    end_to_end: EndToEnd,
) -> None:
    """Plan 6.1 workflow_retry_delay_respected, 4.3 sleep_with_worker_death_mid_sleep: a
    one-hour backoff outlives its runtime; the next runtime runs attempt 2 after it."""
    calls: Counter[str] = Counter()

    async def flaky(instance: str) -> str:
        calls[instance] += 1
        if calls[instance] == 1:
            raise RuntimeError("first attempt fails")
        return "second attempt"

    delay = HOUR if end_to_end.jumps else end_to_end.timing.long_timer

    async def slow_retry(ctx: OrchestrationContext, _: Any) -> Any:
        policy = RetryPolicy(max_attempts=2, first_delay=delay)
        return await ctx.schedule_activity("flaky", ctx.instance, retry=policy)

    first = await end_to_end.runtime({"slow_retry": slow_retry}, {"flaky": flaky})
    client = end_to_end.client()
    await client.start_orchestration("retry-crash", "slow_retry")
    await end_to_end.history_until(
        "retry-crash", lambda h: any(isinstance(e, ev.TimerCreated) for e in h)
    )
    await end_to_end.crash(first)

    await end_to_end.runtime({"slow_retry": slow_retry}, {"flaky": flaky})
    await end_to_end.jump(delay)
    state = await end_to_end.finish(client, "retry-crash")

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, "second attempt")
    assert calls == Counter({"retry-crash": 2})
    history = await end_to_end.history("retry-crash")
    assert_sound("retry-crash", history)
    assert activity_attempts(history) == ["run", "failed", "wait", "waited", "run", "done"]


# -- cancellation (plan 2.3) ---------------------------------------------------------------


# Rejects: a batch that leaves out a message queued behind the start, so the cancel is
# lost and the instance runs
async def test_cancel_of_a_pending_instance_ends_it_before_any_code_runs(
    end_to_end: EndToEnd,
) -> None:
    """Plan 2.3 cancel_pending_workflow_succeeds: an instance cancelled before any runtime
    picked it up ends CANCELLED without its code ever running."""
    runs: list[Any] = []

    async def counted(ctx: OrchestrationContext, value: Any) -> Any:
        runs.append(value)
        return await ctx.schedule_activity("never", value)

    client = end_to_end.client()
    await client.start_orchestration("cancel-pending", "counted", 1)
    await client.cancel_instance("cancel-pending", "not needed after all")
    await end_to_end.runtime({"counted": counted}, {"never": lambda v: v})

    state = await end_to_end.finish(client, "cancel-pending")

    assert state.status is OrchestrationStatus.CANCELLED
    assert state.error is not None
    assert (state.error.kind, state.error.message) == ("cancelled", "not needed after all")
    assert runs == []
    history = await end_to_end.history("cancel-pending")
    assert_sound("cancel-pending", history)
    assert kinds(history) == [
        "OrchestrationStarted",
        "OrchestrationCancelRequested",
        "OrchestrationFailed",
    ]


# Rejects: cancelled_activities that do not remove a leased item, so the cancelled
# activity keeps its lease, runs on and reports a result into a finished instance
async def test_cancel_of_a_running_instance_interrupts_its_activity(
    end_to_end: EndToEnd,
) -> None:
    """Plan 2.3 cancel_running_workflow_interrupts_execution, 5.3 step_complete_during_
    workflow_cancel: the running activity loses its lease and is stopped; no result lands."""
    started = asyncio.Event()
    interrupted = asyncio.Event()

    async def endless(_: Any) -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            interrupted.set()
            raise
        return "never"

    async def one(ctx: OrchestrationContext, value: Any) -> Any:
        return await ctx.schedule_activity("endless", value)

    await end_to_end.runtime(
        {"one": one},
        {"endless": endless},
        options=end_to_end.options(worker_lock_timeout=0.6),
    )
    client = end_to_end.client()
    await client.start_orchestration("cancel-running", "one", 1)
    await asyncio.wait_for(started.wait(), end_to_end.timing.wait)
    await client.cancel_instance("cancel-running", "stop it")

    state = await end_to_end.finish(client, "cancel-running")
    await asyncio.wait_for(interrupted.wait(), end_to_end.timing.wait)

    assert state.status is OrchestrationStatus.CANCELLED
    history = await end_to_end.history("cancel-running")
    assert_sound("cancel-running", history)
    assert kinds(history) == [
        "OrchestrationStarted",
        "ActivityScheduled",
        "OrchestrationCancelRequested",
        "OrchestrationFailed",
    ]
    assert await end_to_end.store.fetch_work_item(30.0) is None, "the cancelled item is queued"


# Rejects: a timer message that wakes an instance after it ended, or changes its history
async def test_cancel_of_a_sleeping_instance_ends_it_and_its_timer_is_ignored(
    end_to_end: EndToEnd,
) -> None:
    """Plan 2.3 cancel_sleeping_workflow_succeeds: a sleeping instance is cancelled at
    once; its timer, firing later, changes nothing."""

    async def sleeper(ctx: OrchestrationContext, seconds: float) -> str:
        await ctx.schedule_timer(seconds)
        return "woke"

    recorder = Recorder(end_to_end.provider)
    await end_to_end.runtime({"sleeper": sleeper}, provider=recorder)
    client = end_to_end.client()
    sleep = HOUR if end_to_end.jumps else end_to_end.timing.long_timer
    await client.start_orchestration("cancel-sleeping", "sleeper", sleep)
    await end_to_end.history_until(
        "cancel-sleeping", lambda h: any(isinstance(e, ev.TimerCreated) for e in h)
    )
    await client.cancel_instance("cancel-sleeping")
    state = await end_to_end.finish(client, "cancel-sleeping")
    cancelled_history = await end_to_end.history("cancel-sleeping")

    await end_to_end.jump(sleep)

    def timer_turn_acked() -> bool:
        return any(
            any(isinstance(m, TimerFiredMessage) for m in item.messages)
            and item.lock_token in recorder.acked
            for item in recorder.turns
        )

    await until(timer_turn_acked, end_to_end.timing.wait, "the fired timer to be acked away")
    assert state.status is OrchestrationStatus.CANCELLED
    assert await end_to_end.history("cancel-sleeping") == cancelled_history
    assert_sound("cancel-sleeping", cancelled_history)
    assert "TimerFired" not in kinds(cancelled_history)


# Rejects: a provider that lets a message for a finished instance rewrite its history or
# status (a second terminal event)
async def test_cancel_of_an_ended_instance_is_refused_and_repeated_cancels_are_harmless(
    end_to_end: EndToEnd,
) -> None:
    """Plan 2.3 cancel_completed_workflow_fails, cancel_idempotent_on_same_workflow,
    5.3 cancel_during_completion_race: an ended instance refuses a cancel; twice is once."""
    await end_to_end.runtime({"echo": echo, "wait_for_go": wait_for_go})
    client = end_to_end.client()
    await client.start_orchestration("done", "echo", "result")
    await client.start_orchestration("twice", "wait_for_go")
    assert (await end_to_end.finish(client, "done")).output == "result"
    await end_to_end.history_until("twice", lambda h: len(h) >= 2)

    with pytest.raises(InstanceEndedError, match="'done': it already completed"):
        await client.cancel_instance("done")
    await client.cancel_instance("twice", "first")
    await client.cancel_instance("twice", "second")
    cancelled = await end_to_end.finish(client, "twice")
    await client.cancel_instance("twice", "third")

    assert (await client.get_status("done")).status is OrchestrationStatus.COMPLETED
    assert kinds(await end_to_end.history("done")) == [
        "OrchestrationStarted",
        "OrchestrationCompleted",
    ]
    assert cancelled.status is OrchestrationStatus.CANCELLED
    assert cancelled.error is not None
    assert cancelled.error.message == "first"
    history = await end_to_end.history("twice")
    assert_sound("twice", history)
    assert kinds(history).count("OrchestrationCancelRequested") == 1


# -- payloads, names and sizes (plan 8, 11.1) ----------------------------------------------


def json_of_size(size: int) -> str:
    """A string whose JSON encoding is exactly ``size`` UTF-8 bytes, with multi-byte text."""
    body = "é🙂" * ((size - 2) // 6)  # 2 + 4 bytes per pair; the quotes take 2
    return body + "x" * (size - 2 - len(body.encode()))


# Rejects: a provider that truncates, pads or re-encodes a large payload (a length limit
# below the runtime's, or characters counted instead of bytes)
async def test_payload_at_the_limit_is_accepted_and_above_it_refused_with_nothing_stored(
    end_to_end: EndToEnd,
) -> None:
    """Plan 8.1 workflow_input_at_limit_accepted, workflow_input_over_limit_rejected,
    8.2 unicode_in_payload_preserved: input at max_payload_bytes round-trips exactly."""
    client = end_to_end.client(max_payload_bytes=LIMIT)
    with pytest.raises(PayloadTooLargeError, match="65,537 bytes of JSON, over the limit"):
        await client.start_orchestration("too-big", "echo", json_of_size(LIMIT + 1))
    assert await end_to_end.store.fetch_orchestration_item(30.0) is None, "the refused start"
    at_limit = json_of_size(LIMIT)
    await client.start_orchestration("at-limit", "echo", at_limit)
    await end_to_end.runtime({"echo": echo}, options=end_to_end.options(max_payload_bytes=LIMIT))

    state = await end_to_end.finish(client, "at-limit")

    assert state.status is OrchestrationStatus.COMPLETED
    assert state.output == at_limit, "the payload changed on its way through the provider"
    assert (await client.get_status("too-big")).status is OrchestrationStatus.NOT_FOUND
    assert_sound("at-limit", await end_to_end.history("at-limit"))


# Rejects: a provider that stores part of a refused turn (the oversized activity input or
# output) although the runtime committed only the failure
async def test_oversized_activity_input_output_and_result_fail_with_nothing_stored(
    end_to_end: EndToEnd,
) -> None:
    """Plan 8.1 step_output_over_limit_rejected, workflow_output_over_limit_rejected: an
    oversized activity result, orchestration output or activity input is refused."""
    big = json_of_size(LIMIT + 1)

    async def catches(ctx: OrchestrationContext, _: Any) -> Any:
        try:
            return await ctx.schedule_activity("huge_result")
        except TaskFailedError as error:
            return error.details.kind

    async def sends(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("huge_result", big)

    async def returns(ctx: OrchestrationContext, _: Any) -> Any:
        return big

    await end_to_end.runtime(
        {"catches": catches, "sends": sends, "returns": returns},
        {"huge_result": lambda _: big},
        options=end_to_end.options(max_payload_bytes=LIMIT),
    )
    client = end_to_end.client(max_payload_bytes=LIMIT)
    for name in ("catches", "sends", "returns"):
        await client.start_orchestration(name, name)
    caught, sent, returned = await end_to_end.finish_all(client, ["catches", "sends", "returns"])

    assert (caught.status, caught.output) == (OrchestrationStatus.COMPLETED, "payload_too_large")
    for state, what in ((sent, "input of activity 'huge_result'"), (returned, "output")):
        assert state.status is OrchestrationStatus.FAILED, state
        assert state.error is not None
        assert (state.error.category, state.error.kind) == (
            ErrorCategory.APPLICATION,
            "payload_too_large",
        )
        assert what in state.error.message
        assert "65,537 bytes" in state.error.message
    assert kinds(await end_to_end.history("sends")) == [
        "OrchestrationStarted",
        "OrchestrationFailed",
    ]
    assert kinds(await end_to_end.history("returns")) == [
        "OrchestrationStarted",
        "OrchestrationFailed",
    ]
    assert await end_to_end.store.fetch_work_item(30.0) is None, "the refused activity is queued"


EXOTIC_IDS = [
    "ünïcødé/ıd 🙂",
    "quote'\"`",
    "sql'); DROP TABLE history; --",
    "%_*?[like]",
    "%",
    "back\\slash",
    "new\nline\ttab\r",
    " spaced ",
    "nul\x00inside",
    "long-" + "x" * 4000,
]


# Rejects: ids or names truncated, trimmed, case-folded, matched with LIKE wildcards, or
# cut at a NUL, so instances collide or their messages reach the wrong one
async def test_special_characters_and_very_long_ids_and_names_run_unmixed(
    end_to_end: EndToEnd,
) -> None:
    """Plan 11.1 special_characters_in_external_id, very_long_workflow_type_name_accepted,
    8.2 unicode_in_payload_preserved: exotic ids and 2,000-character names run unmixed."""
    orchestration = "Órchestration 🙂 " + "n" * 2000
    activity = "äctivity\t" + "a" * 2000

    async def tagged(ctx: OrchestrationContext, value: Any) -> Any:
        return [ctx.instance, await ctx.schedule_activity(activity, value)]

    await end_to_end.runtime({orchestration: tagged}, {activity: lambda v: v})
    client = end_to_end.client()
    for n, instance in enumerate(EXOTIC_IDS):
        await client.start_orchestration(instance, orchestration, {"n": n, "text": instance})

    states = await end_to_end.finish_all(client, EXOTIC_IDS)

    assert [(s.status, s.name, s.output) for s in states] == [
        (OrchestrationStatus.COMPLETED, orchestration, [i, {"n": n, "text": i}])
        for n, i in enumerate(EXOTIC_IDS)
    ]
    for instance in EXOTIC_IDS:
        history = await end_to_end.history(instance)
        assert_sound(instance, history)
        assert_each_activity_completed_once(instance, history)


# Rejects: a provider that cannot store an execution whose only events are its start and
# its end (an empty batch of work, a null payload)
async def test_orchestration_with_zero_steps_completes(end_to_end: EndToEnd) -> None:
    """Plan 11.1 workflow_with_zero_steps_completes, 8.2 empty_payload_handled, 2.1
    simple_workflow_completes_successfully: no steps and a null input complete at once."""
    await end_to_end.runtime({"echo": echo})
    client = end_to_end.client()
    await client.start_orchestration("zero-steps", "echo", None)

    state = await end_to_end.finish(client, "zero-steps")

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, None)
    history = await end_to_end.history("zero-steps")
    assert kinds(history) == ["OrchestrationStarted", "OrchestrationCompleted"]
    assert_sound("zero-steps", history)


# Rejects: history reads capped or paged wrongly past a few dozen events, or events
# returned out of event-id order, so a long orchestration's replay goes wrong
async def test_orchestration_with_100_steps_completes_each_step_once_in_order(
    end_to_end: EndToEnd,
) -> None:
    """Plan 11.1 workflow_with_100_steps_completes, 11.2 workflow_with_rapid_step_succession,
    3.2 replay_skips_completed_steps: 100 activities in a row, each run once, in order."""
    runs: Counter[int] = Counter()

    def step(n: int) -> int:
        runs[n] += 1
        return n * n

    async def hundred(ctx: OrchestrationContext, count: int) -> int:
        return sum([await ctx.schedule_activity("step", n) for n in range(count)])

    recorder = Recorder(end_to_end.provider)
    await end_to_end.runtime({"hundred": hundred}, {"step": step}, provider=recorder)
    client = end_to_end.client()
    await client.start_orchestration("hundred-steps", "hundred", 100)
    # 300 calls one after another: no total time limit, only a limit on standing still.
    await progressing(
        lambda: "hundred-steps" in recorder.ended,
        lambda: len(recorder.acked),
        end_to_end.timing.wait,
        "the 100-step orchestration to end",
    )

    state = await client.get_status("hundred-steps")

    assert (state.status, state.output) == (
        OrchestrationStatus.COMPLETED,
        sum(n * n for n in range(100)),
    )
    assert runs == Counter(range(100)), "a step ran twice or never"
    history = await end_to_end.history("hundred-steps")
    assert_sound("hundred-steps", history)
    assert_each_activity_completed_once("hundred-steps", history)
    assert kinds(history)[1:-1] == ["ActivityScheduled", "ActivityCompleted"] * 100
    inputs = [e.input for e in history if isinstance(e, ev.ActivityScheduled)]
    assert inputs == [str(n) for n in range(100)]
