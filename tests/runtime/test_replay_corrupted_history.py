"""Replay engine, section 8: histories no correct runtime writes are refused before code runs.

Structural damage fails INFRASTRUCTURE/corrupt_history; completions linked to the wrong place
fail CONFIGURATION/nondeterminism; where the seed allows "ignored or error", the engine errs.
"""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    INSTANCE,
    NOW,
    STARTED,
    activity_done,
    activity_failed_item,
    cancel_item,
    cancel_requested,
    completed,
    completed_turn,
    continued_as_new,
    corrupt,
    external_event,
    external_item,
    external_subscribed,
    failed_turn,
    nondeterminism,
    noop_turn,
    orchestration_completed,
    orchestration_failed_event,
    run,
    scheduled,
    start_item,
    started,
    sub_orch_completed,
    sub_orch_scheduled,
    system_call,
    timer_created,
    timer_fired,
    turn,
)

from provkit.contract import events as ev
from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import ScheduleActivity, TurnOutcome, WaitExternal

CALLS: list[str] = []


async def one_activity(ctx: OrchestrationContext, _: Any) -> Any:
    CALLS.append("one_activity")
    return await ctx.schedule_activity("A", 1)


def run_untouched(history: list[ev.Event], messages: list[Any] | None = None) -> Any:
    """Run ``one_activity`` and check that the engine refused to run it."""
    CALLS.clear()
    result = run(one_activity, history, messages or [])
    assert CALLS == []
    return result


# -- 8.1 structural corruption --------------------------------------------------------------


def test_empty_history() -> None:
    """Empty history and no start message fails corrupt_history with no event to append."""
    assert run_untouched([]) == turn(
        TurnOutcome.FAILED,
        error=corrupt("empty history and no start message for this execution"),
        started=None,
    )


def test_missing_started_event() -> None:
    """History not starting with OrchestrationStarted fails corrupt_history, naming the event."""
    assert run_untouched([scheduled(2, "A", 1)]) == failed_turn(
        corrupt("first event must be OrchestrationStarted, found ActivityScheduled (event 2)"),
        id=3,
        started=None,
        cancelled_activities=[2],
    )


def test_started_not_first() -> None:
    """A Started behind another event still fails: the first event must be the Started."""
    history = [scheduled(1, "A", 1), started(2)]
    assert run_untouched(history) == failed_turn(
        corrupt("first event must be OrchestrationStarted, found ActivityScheduled (event 1)"),
        id=3,
        started=None,
        cancelled_activities=[1],
    )


def test_duplicate_event_ids() -> None:
    """Two events with id 2 fail corrupt_history (completions could not tell them apart)."""
    history = [STARTED, scheduled(2, "A", 1), scheduled(2, "A", 1)]
    assert run_untouched(history) == failed_turn(
        corrupt("event id 2 is used twice (positions 1 and 2)"), id=3, cancelled_activities=[2]
    )


def test_non_monotonic_event_ids() -> None:
    """Ids 1, 5, 3 replay in list order and the next new event gets max + 1 = 6."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.when_all([ctx.schedule_activity(name) for name in ("A", "B", "C")])

    history = [STARTED, scheduled(5, "A"), scheduled(3, "B")]
    assert run(orch, history) == turn(
        TurnOutcome.CONTINUE,
        delta=[scheduled(6, "C")],
        actions=[ScheduleActivity(event_id=6, name="C", input="null")],
    )


def test_event_id_zero() -> None:
    """A Started with id 0 is accepted; the first new event gets id 1."""
    result = run(one_activity, [started(0)])

    assert result == turn(
        TurnOutcome.CONTINUE,
        delta=[scheduled(1, "A", 1)],
        actions=[ScheduleActivity(event_id=1, name="A", input="1")],
        started=started(0),
    )


def test_event_id_gap() -> None:
    """Ids 1, 100 are fine: event 100 replays and the next new event is 101."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.when_all([ctx.schedule_activity("A"), ctx.schedule_activity("B")])

    assert run(orch, [STARTED, scheduled(100, "A")]) == turn(
        TurnOutcome.CONTINUE,
        delta=[scheduled(101, "B")],
        actions=[ScheduleActivity(event_id=101, name="B", input="null")],
    )


# -- 8.2 completion linkage corruption ------------------------------------------------------


def test_completion_missing_source_id() -> None:
    """A recorded completion with no source_event_id fails corrupt_history (not ignored)."""
    history = [STARTED, scheduled(2, "A", 1), completed(3, None, "r")]
    assert run_untouched(history) == failed_turn(
        corrupt("event 3: ActivityCompleted has no source_event_id"),
        id=4,
        cancelled_activities=[2],
    )


def test_completion_source_not_found() -> None:
    """A completion answering event 99, absent from history, fails nondeterminism."""
    history = [STARTED, scheduled(2, "A", 1), completed(3, 99, "r")]
    assert run_untouched(history) == failed_turn(
        nondeterminism("event 3: ActivityCompleted answers event 99, which is not in history"),
        id=4,
        cancelled_activities=[2],
    )


def test_completion_source_wrong_type() -> None:
    """An ActivityCompleted answering a TimerCreated fails nondeterminism naming both kinds."""
    history = [STARTED, timer_created(2, NOW), completed(3, 2, "r")]
    assert run_untouched(history) == failed_turn(
        nondeterminism(
            "event 3: ActivityCompleted answers event 2, "
            "a TimerCreated (expected ActivityScheduled)"
        ),
        id=4,
    )


def test_completion_before_schedule() -> None:
    """A completion recorded before the schedule it answers fails nondeterminism."""
    history = [STARTED, completed(2, 3, "r"), scheduled(3, "A", 1)]
    assert run_untouched(history) == failed_turn(
        nondeterminism("event 2: ActivityCompleted answers event 3, which does not come before it"),
        id=4,
    )


def test_multiple_completions_same_source() -> None:
    """A second recorded completion of event 2 fails nondeterminism (not silently ignored)."""
    history = [
        STARTED,
        scheduled(2, "A", 1),
        completed(3, 2, "r"),
        completed(4, 2, "r"),
    ]
    assert run_untouched(history) == failed_turn(
        nondeterminism(
            "event 4: ActivityCompleted answers event 2, which event 3 already answered"
        ),
        id=5,
    )


def test_completion_for_different_instance() -> None:
    """A completion addressed to another instance is stale: dropped, the code keeps waiting."""
    message = activity_done(2, "r", instance="someone-else")
    assert run(one_activity, [STARTED, scheduled(2, "A", 1)], [message]) == noop_turn()


# -- 8.3 terminal event corruption ----------------------------------------------------------


def test_terminal_completed() -> None:
    """Completed history is a no-op: CONTINUE, empty delta; new messages are not looked at."""
    history = [STARTED, orchestration_completed(2, "done")]
    assert run_untouched(history, [cancel_item("late"), activity_done(99, "r")]) == noop_turn()


def test_terminal_failed() -> None:
    """Failed history is a no-op: CONTINUE with nothing to record."""
    error = nondeterminism("earlier failure")
    assert run_untouched([STARTED, orchestration_failed_event(2, error)]) == noop_turn()


def test_terminal_continued_as_new() -> None:
    """History ending in ContinuedAsNew is a no-op for this execution."""
    assert run_untouched([STARTED, continued_as_new(2, "next")]) == noop_turn()


def test_multiple_terminal_events() -> None:
    """Two terminal events: the first wins and the turn is a no-op."""
    history = [STARTED, orchestration_completed(2), orchestration_failed_event(3, corrupt("x"))]
    assert run_untouched(history) == noop_turn()


def test_events_after_terminal() -> None:
    """A schedule after the terminal event does not revive the execution: no-op."""
    history = [STARTED, orchestration_completed(2), scheduled(3, "A", 1)]
    assert run_untouched(history) == noop_turn()


def test_terminal_not_last() -> None:
    """A timer after the terminal event: the terminal event takes precedence, no-op."""
    history = [STARTED, orchestration_completed(2), timer_created(3, NOW)]
    assert run_untouched(history) == noop_turn()


def test_cancel_after_completed() -> None:
    """A cancel request recorded after completion does not make the turn CANCELLED."""
    history = [STARTED, orchestration_completed(2), cancel_requested(3, "late")]
    assert run_untouched(history) == noop_turn()


# -- 8.4 execution id corruption ------------------------------------------------------------


def test_wrong_execution_id_in_event() -> None:
    """A start message for execution 1 cannot start execution 2: empty history stays corrupt."""
    # provkit events carry no execution id (history is stored per execution); the one
    # execution-stamped input that creates an event is the StartOrchestration message.
    CALLS.clear()
    result = run(one_activity, [], [start_item("x", execution_id=1)], execution_id=2)

    assert CALLS == []
    assert result == turn(
        TurnOutcome.FAILED,
        error=corrupt("empty history and no start message for this execution"),
        started=None,
    )


def test_mixed_execution_ids() -> None:
    """Another execution's events mixed in show up as a second Started: corrupt_history."""
    history = [
        STARTED,
        scheduled(2, "A", 1),
        started(3),
        completed(4, 2, "r"),
    ]
    assert run_untouched(history) == failed_turn(
        corrupt("event 3: OrchestrationStarted is not the first event"), id=5
    )


def test_completion_wrong_execution() -> None:
    """After continue-as-new, answers to execution 1's event 2 leave execution 2's event 2 be."""
    stale = [
        activity_done(2, "old", execution_id=1),
        activity_failed_item(2, "old", execution_id=1),
    ]
    result = run(one_activity, [STARTED, scheduled(2, "A", 1)], stale, execution_id=2)

    assert result == noop_turn()


# -- 8.5 field value corruption -------------------------------------------------------------


def test_empty_activity_name() -> None:
    """An activity named "" replays and completes like any other."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("", "")

    history = [STARTED, scheduled(2, "", ""), completed(3, 2, "r")]
    assert run(orch, history) == completed_turn("r", id=4)


def test_empty_orchestration_name() -> None:
    """An orchestration registered under "" is found and run."""

    async def orch(ctx: OrchestrationContext, input: Any) -> Any:
        return f"ran with {input}"

    history = [started(name="", input="in")]
    assert run(orch, history, name="") == completed_turn("ran with in", id=2, started=history[0])


def test_null_equivalent_strings() -> None:
    """None, "null", "None" and "" stay distinct as inputs and results, through replay."""
    values = [None, "null", "None", ""]

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.when_all([ctx.schedule_activity(str(v), v) for v in values])

    first = run(orch, [STARTED])
    assert first.actions == [
        ScheduleActivity(event_id=2, name="None", input="null"),
        ScheduleActivity(event_id=3, name="null", input='"null"'),
        ScheduleActivity(event_id=4, name="None", input='"None"'),
        ScheduleActivity(event_id=5, name="", input='""'),
    ]

    answers = [activity_done(2 + i, v) for i, v in enumerate(values)]
    assert run(orch, [STARTED, *first.history_delta], answers) == completed_turn(
        values,
        id=10,
        delta=[completed(6 + i, 2 + i, v) for i, v in enumerate(values)],
    )


def test_very_long_strings() -> None:
    """A 10 MB activity name replays; a mismatch on it gives a short, clipped message."""
    long_name = "x" * (10 * 1024 * 1024)

    async def orch(ctx: OrchestrationContext, name: Any) -> Any:
        return await ctx.schedule_activity(long_name + name)

    history = [started(input=""), scheduled(2, long_name), completed(3, 2, "r")]
    assert run(orch, history) == completed_turn("r", id=4, started=history[0])

    mismatch = run(orch, [started(input="!"), *history[1:]])
    prefix = "'" + "x" * 80 + "'"  # never the whole name: no 10 MB error messages
    assert mismatch.error == nondeterminism(
        f"replay mismatch at event 2: history has activity {prefix}…(10485760 chars) with input "
        f"null, but the orchestration scheduled activity {prefix}…(10485761 chars) with input null"
    )


def test_special_characters() -> None:
    """Emoji, newlines, quotes, RTL marks and NUL round-trip in names, inputs and results."""
    name = "Grüße 🎉\nline two\x00end"
    text = 'tab\t"quoted"\u202eRTL\x00NUL'

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity(name, text)

    fresh = run(orch, [STARTED])
    assert fresh.actions == [
        ScheduleActivity(event_id=2, name=name, input='"tab\\t\\"quoted\\"\u202eRTL\\u0000NUL"')
    ]

    history = [STARTED, *fresh.history_delta]
    assert run(orch, history, [activity_done(2, text)]) == completed_turn(
        text, id=4, delta=[completed(3, 2, text)]
    )


# -- 8.6 event order corruption -------------------------------------------------------------


def test_timer_fired_before_created() -> None:
    """A TimerFired recorded before its TimerCreated fails nondeterminism."""
    history = [STARTED, timer_fired(2, 3, NOW), timer_created(3, NOW)]
    assert run_untouched(history) == failed_turn(
        nondeterminism("event 2: TimerFired answers event 3, which does not come before it"), id=4
    )


def test_external_event_before_subscription() -> None:
    """An ExternalEvent linked to a later subscription fails nondeterminism."""
    # An unlinked early event (source None) is legal instead: it is buffered, see
    # test_orphan_external_event.
    history = [STARTED, external_event(2, "E", "d", source=3), external_subscribed(3, "E")]
    assert run_untouched(history) == failed_turn(
        nondeterminism("event 2: ExternalEvent answers event 3, which does not come before it"),
        id=4,
    )


def test_sub_orch_completed_before_scheduled() -> None:
    """A child's completion recorded before the child was scheduled fails nondeterminism."""
    child = f"{INSTANCE}::sub::3"
    history = [STARTED, sub_orch_completed(2, 3, "r"), sub_orch_scheduled(3, "Child", child)]
    assert run_untouched(history) == failed_turn(
        nondeterminism(
            "event 2: SubOrchestrationCompleted answers event 3, which does not come before it"
        ),
        id=4,
    )


# -- 8.7 orphaned events --------------------------------------------------------------------


def test_orphan_completion_no_schedule() -> None:
    """An ActivityCompleted answering a missing event 99 fails (not ignored)."""
    assert run_untouched([STARTED, completed(2, 99, "r")]) == failed_turn(
        nondeterminism("event 2: ActivityCompleted answers event 99, which is not in history"),
        id=3,
    )


def test_orphan_timer_fired() -> None:
    """A TimerFired answering a missing event 99 fails (not ignored)."""
    assert run_untouched([STARTED, timer_fired(2, 99, NOW)]) == failed_turn(
        nondeterminism("event 2: TimerFired answers event 99, which is not in history"), id=3
    )


def test_orphan_external_event() -> None:
    """An unlinked ExternalEvent is ignored by code not waiting for it, consumed by code waiting."""

    async def ignores(ctx: OrchestrationContext, _: Any) -> str:
        return "done"

    async def waits(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.wait_for_event("X")

    history = [STARTED, external_event(2, "X", "data")]
    assert run(ignores, history) == completed_turn("done", id=3)
    assert run(waits, history) == completed_turn(
        "data",
        id=4,
        delta=[external_subscribed(3, "X")],
        actions=[WaitExternal(event_id=3, name="X")],
    )


def test_orphan_sub_orch_completed() -> None:
    """A SubOrchestrationCompleted answering a missing event 99 fails (not ignored)."""
    assert run_untouched([STARTED, sub_orch_completed(2, 99, "r")]) == failed_turn(
        nondeterminism(
            "event 2: SubOrchestrationCompleted answers event 99, which is not in history"
        ),
        id=3,
    )


# -- 8.8 duplicate schedule events ----------------------------------------------------------


def test_duplicate_activity_schedule() -> None:
    """Two recorded "A": one call replays the first; a different next call mismatches the second."""

    async def then_timer(ctx: OrchestrationContext, _: Any) -> Any:
        activity = ctx.schedule_activity("A", 1)
        ctx.schedule_timer(5)
        return await activity

    history = [STARTED, scheduled(2, "A", 1), scheduled(3, "A", 1)]
    assert run(one_activity, history) == noop_turn()
    assert run(then_timer, history) == failed_turn(
        nondeterminism(
            "replay mismatch at event 3: history has activity 'A' with input 1, "
            "but the orchestration scheduled a timer"
        ),
        id=4,
        cancelled_activities=[2, 3],
    )


def test_duplicate_timer_schedule() -> None:
    """Two recorded timers: one call replays the first; an activity next mismatches the second."""

    async def one_timer(ctx: OrchestrationContext, _: Any) -> None:
        await ctx.schedule_timer(5)

    async def then_activity(ctx: OrchestrationContext, _: Any) -> None:
        timer = ctx.schedule_timer(5)
        ctx.schedule_activity("A", 1)
        await timer

    history = [STARTED, timer_created(2, NOW), timer_created(3, NOW)]
    assert run(one_timer, history) == noop_turn()
    assert run(then_activity, history) == failed_turn(
        nondeterminism(
            "replay mismatch at event 3: history has a timer, "
            "but the orchestration scheduled activity 'A' with input 1"
        ),
        id=4,
    )


def test_duplicate_external_subscription() -> None:
    """Two recorded waits for "E" and one call: the call is the first wait and gets the event."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.wait_for_event("E")

    history = [STARTED, external_subscribed(2, "E"), external_subscribed(3, "E")]
    assert run(orch, history, [external_item("E", "go")]) == completed_turn(
        "go", id=5, delta=[external_event(4, "E", "go", source=2)]
    )


def test_unreadable_payload_is_corrupt_history() -> None:
    """A recorded result that is not JSON fails corrupt_history, naming the event and field."""
    broken = ev.ActivityCompleted(event_id=3, source_event_id=2, timestamp_ms=NOW, result="{oops")
    assert run(one_activity, [STARTED, scheduled(2, "A", 1), broken]) == failed_turn(
        corrupt("event 3: ActivityCompleted.result is not valid JSON"), id=4
    )


def test_unreadable_recorded_time_is_corrupt_history() -> None:
    """A recorded utc_now value that is not epoch milliseconds fails corrupt_history."""

    async def orch(ctx: OrchestrationContext, _: Any) -> str:
        return ctx.utc_now().isoformat()

    assert run(orch, [STARTED, system_call(2, "utc_now", "yesterday")]) == failed_turn(
        corrupt("recorded utc_now value 'yesterday' is not epoch milliseconds"), id=3
    )
