"""Replay engine, section 10: event ids of new events continue after the largest id in history."""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    NOW,
    STARTED,
    activity_done,
    completed,
    external_subscribed,
    run,
    scheduled,
    timer_created,
    turn,
)

from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import CreateTimer, ScheduleActivity, TurnOutcome, WaitExternal


async def two_steps(ctx: OrchestrationContext, _: Any) -> Any:
    await ctx.schedule_activity("A")
    return await ctx.schedule_activity("B")


def test_sequential_allocation() -> None:
    """Three schedules after Started(1) get ids 2, 3, 4 in call order."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        ctx.schedule_activity("A")
        ctx.schedule_timer(1)
        await ctx.wait_for_event("E")

    assert run(orch, [STARTED]) == turn(
        TurnOutcome.CONTINUE,
        delta=[
            scheduled(2, "A"),
            timer_created(3, NOW + 1_000),
            external_subscribed(4, "E"),
        ],
        actions=[
            ScheduleActivity(event_id=2, name="A", input="null"),
            CreateTimer(event_id=3, fire_at_ms=NOW + 1_000),
            WaitExternal(event_id=4, name="E"),
        ],
    )


def test_allocation_after_replay() -> None:
    """After Started(1), Scheduled(2), Completed(3) the next new event gets id 4."""
    history = [STARTED, scheduled(2, "A"), completed(3, 2)]
    assert run(two_steps, history) == turn(
        TurnOutcome.CONTINUE,
        delta=[scheduled(4, "B")],
        actions=[ScheduleActivity(event_id=4, name="B", input="null")],
    )


def test_allocation_with_gaps() -> None:
    """After Started(1), Scheduled(5) the next new event gets max + 1 = 6."""
    history = [STARTED, scheduled(5, "A")]
    assert run(two_steps, history, [activity_done(5)]) == turn(
        TurnOutcome.CONTINUE,
        delta=[completed(6, 5), scheduled(7, "B")],
        actions=[ScheduleActivity(event_id=7, name="B", input="null")],
    )


def test_message_completions_take_ids_before_new_schedules() -> None:
    """This turn's completions are numbered first, then what the code schedules after them."""
    history = [STARTED, scheduled(2, "A")]
    result = run(two_steps, history, [activity_done(2, "a")])

    assert [(type(e).__name__, e.event_id) for e in result.history_delta] == [
        ("ActivityCompleted", 3),
        ("ActivityScheduled", 4),
    ]
