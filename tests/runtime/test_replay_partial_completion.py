"""Replay engine, section 3: history holds schedules whose completions have not arrived."""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    INSTANCE,
    NOW,
    STARTED,
    external_subscribed,
    noop_turn,
    run,
    scheduled,
    sub_orch_scheduled,
    timer_created,
)

from provkit.runtime._context import OrchestrationContext


def test_activity_scheduled_no_completion() -> None:
    """Replaying a recorded but unanswered activity continues with nothing new to record."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("Greet", "Alice")

    assert run(orch, [STARTED, scheduled(2, "Greet", "Alice")]) == noop_turn()


def test_timer_created_no_fire() -> None:
    """Replaying a recorded timer that has not fired continues with nothing new."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        await ctx.schedule_timer(60)

    assert run(orch, [STARTED, timer_created(2, NOW + 60_000)]) == noop_turn()


def test_external_subscribed_no_event() -> None:
    """Replaying a recorded wait with no event yet continues with nothing new."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.wait_for_event("Approval")

    assert run(orch, [STARTED, external_subscribed(2, "Approval")]) == noop_turn()


def test_sub_orch_scheduled_no_completion() -> None:
    """Replaying a recorded child that has not ended continues with nothing new (no restart)."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_sub_orchestration("Child", 5)

    history = [STARTED, sub_orch_scheduled(2, "Child", f"{INSTANCE}::sub::2", 5)]
    assert run(orch, history) == noop_turn()
