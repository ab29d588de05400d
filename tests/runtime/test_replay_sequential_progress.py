"""Replay engine, section 4: multi-step orchestrations resume exactly where history ends."""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    NOW,
    STARTED,
    completed,
    completed_turn,
    run,
    scheduled,
    timer_created,
    timer_fired,
    turn,
)

from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import CreateTimer, ScheduleActivity, TurnOutcome


async def two_steps(ctx: OrchestrationContext, _: Any) -> list[Any]:
    first = await ctx.schedule_activity("A1", "x")
    second = await ctx.schedule_activity("A2", first)
    return [first, second]


def test_two_activities_first_done() -> None:
    """After A1's recorded result the code schedules A2 with it, as new event 4."""
    history = [STARTED, scheduled(2, "A1", "x"), completed(3, 2, "r1")]

    assert run(two_steps, history) == turn(
        TurnOutcome.CONTINUE,
        delta=[scheduled(4, "A2", "r1")],
        actions=[ScheduleActivity(event_id=4, name="A2", input='"r1"')],
    )


def test_two_activities_both_done() -> None:
    """With both steps recorded the code completes with both results and schedules nothing."""
    history = [
        STARTED,
        scheduled(2, "A1", "x"),
        completed(3, 2, "r1"),
        scheduled(4, "A2", "r1"),
        completed(5, 4, "r2"),
    ]
    assert run(two_steps, history) == completed_turn(["r1", "r2"], id=6)


def test_activity_then_timer() -> None:
    """After the recorded activity the code creates its timer as new event 4."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        await ctx.schedule_activity("Work")
        await ctx.schedule_timer(30)

    history = [STARTED, scheduled(2, "Work"), completed(3, 2)]
    assert run(orch, history) == turn(
        TurnOutcome.CONTINUE,
        delta=[timer_created(4, NOW + 30_000)],
        actions=[CreateTimer(event_id=4, fire_at_ms=NOW + 30_000)],
    )


def test_timer_then_activity() -> None:
    """After the recorded timer fired the code schedules its activity as new event 4."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        await ctx.schedule_timer(30)
        return await ctx.schedule_activity("Work", 1)

    history = [STARTED, timer_created(2, NOW - 5), timer_fired(3, 2, NOW - 5)]
    assert run(orch, history) == turn(
        TurnOutcome.CONTINUE,
        delta=[scheduled(4, "Work", 1)],
        actions=[ScheduleActivity(event_id=4, name="Work", input="1")],
    )


def test_many_sequential_activities() -> None:
    """Ten recorded schedule/complete pairs replay in order to all ten results."""

    async def orch(ctx: OrchestrationContext, _: Any) -> list[Any]:
        return [await ctx.schedule_activity("Step", i) for i in range(10)]

    history = [STARTED]
    for i in range(10):
        event_id = 2 + 2 * i
        history += [
            scheduled(event_id, "Step", i),
            completed(event_id + 1, event_id, i * 10),
        ]
    assert run(orch, history) == completed_turn([i * 10 for i in range(10)], id=22)
