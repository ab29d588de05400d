"""Replay engine, section 9: when_any (select) and when_all (join) over durable tasks."""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    NOW,
    STARTED,
    activity_done,
    activity_failed,
    completed,
    completed_turn,
    failed_turn,
    noop_turn,
    orchestration_failed,
    run,
    scheduled,
    timer_created,
    timer_fired,
    turn,
)

from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import ScheduleActivity, TurnOutcome

FIRE_AT = NOW + 30_000


async def activity_or_timeout(ctx: OrchestrationContext, _: Any) -> Any:
    activity = ctx.schedule_activity("Slow", 1)
    timeout = ctx.schedule_timer(30)
    winner = await ctx.when_any([activity, timeout])
    return winner.result() if winner is activity else "timeout"


async def join_two(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.when_all([ctx.schedule_activity("A"), ctx.schedule_activity("B")])


SELECT_BASE = [STARTED, scheduled(2, "Slow", 1), timer_created(3, FIRE_AT)]
JOIN_BASE = [STARTED, scheduled(2, "A"), scheduled(3, "B")]


def test_select2_activity_wins() -> None:
    """The activity completing first wins the select; its result is the output."""
    history = [*SELECT_BASE, completed(4, 2, "fast")]
    assert run(activity_or_timeout, history) == completed_turn("fast", id=5)


def test_select2_timer_wins() -> None:
    """The timer firing first wins: "timeout"; the losing activity still in flight is cancelled."""
    history = [*SELECT_BASE, timer_fired(4, 3, FIRE_AT)]
    assert run(activity_or_timeout, history) == completed_turn(
        "timeout", id=5, cancelled_activities=[2]
    )


def test_select2_both_pending() -> None:
    """With neither side answered the select keeps waiting: CONTINUE with nothing new."""
    assert run(activity_or_timeout, SELECT_BASE) == noop_turn()


def test_select_winner_is_first_in_history_order() -> None:
    """With both answered, the one answered first in history wins, not the first in the list."""
    history = [*SELECT_BASE, timer_fired(4, 3, FIRE_AT), completed(5, 2, "late")]
    assert run(activity_or_timeout, history) == completed_turn("timeout", id=6)


def test_select_loser_stays_pending_and_can_be_awaited() -> None:
    """A select loser does not block completion of the select and can be awaited afterwards."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        activity = ctx.schedule_activity("Slow", 1)
        await ctx.when_any([activity, ctx.schedule_timer(30)])
        return ["timer first", await activity]

    history = [*SELECT_BASE, timer_fired(4, 3, FIRE_AT)]
    assert run(orch, history) == noop_turn()
    assert run(orch, history, [activity_done(2, "r")]) == completed_turn(
        ["timer first", "r"], id=6, delta=[completed(5, 2, "r")]
    )


def test_join_all_complete() -> None:
    """A join over two answered activities yields both results in list order."""
    history = [*JOIN_BASE, completed(4, 3, "b"), completed(5, 2, "a")]
    assert run(join_two, history) == completed_turn(["a", "b"], id=6)


def test_join_partial_complete() -> None:
    """A join with B unanswered keeps waiting: CONTINUE with nothing new."""
    assert run(join_two, [*JOIN_BASE, completed(4, 2, "a")]) == noop_turn()


def test_join_fresh_schedule() -> None:
    """A fresh join over three activities records and dispatches all three at once."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.when_all([ctx.schedule_activity(n, i) for i, n in enumerate("ABC")])

    assert run(orch, [STARTED]) == turn(
        TurnOutcome.CONTINUE,
        delta=[
            scheduled(2, "A", 0),
            scheduled(3, "B", 1),
            scheduled(4, "C", 2),
        ],
        actions=[
            ScheduleActivity(event_id=2, name="A", input="0"),
            ScheduleActivity(event_id=3, name="B", input="1"),
            ScheduleActivity(event_id=4, name="C", input="2"),
        ],
    )


def test_join_fails_on_first_failure() -> None:
    """A join raises the first failure in history order without waiting for the other tasks."""
    history = [*JOIN_BASE, activity_failed(4, 3, "b broke")]
    assert run(join_two, history) == failed_turn(
        orchestration_failed("activity 'B' (event 3) failed: b broke"),
        id=5,
        cancelled_activities=[2],
    )


def test_nested_composites() -> None:
    """when_any over a when_all and a timer settles when the inner join does."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        both = ctx.when_all([ctx.schedule_activity("A"), ctx.schedule_activity("B")])
        winner = await ctx.when_any([both, ctx.schedule_timer(30)])
        return winner.result() if winner is both else "timeout"

    history = [*JOIN_BASE, timer_created(4, FIRE_AT), completed(5, 2, "a")]
    assert run(orch, history, [activity_done(3, "b")]) == completed_turn(
        ["a", "b"], id=7, delta=[completed(6, 3, "b")]
    )


def test_empty_join_is_an_empty_list_and_empty_select_raises() -> None:
    """when_all([]) is already done with []; when_any([]) raises ValueError in the code."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        joined = await ctx.when_all([])
        try:
            ctx.when_any([])
        except ValueError as exc:
            return [joined, str(exc)]
        return "unreachable"

    assert run(orch, [STARTED]) == completed_turn([[], "when_any needs at least one task"], id=2)
