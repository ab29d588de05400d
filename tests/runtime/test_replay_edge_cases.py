"""Replay engine, section 15: edge cases, plus misuse of the orchestration API."""

from __future__ import annotations

from typing import Any

import pytest
from _replay_builders import (
    NOW,
    STARTED,
    activity_done,
    completed,
    completed_turn,
    external_subscribed,
    failed_turn,
    orchestration_failed,
    run,
    scheduled,
    start_item,
    timer_created,
    timer_fired,
    turn,
)

from provkit.contract import ErrorCategory, ErrorDetails
from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import CreateTimer, ScheduleActivity, TurnOutcome, WaitExternal


def test_zero_delay_timer() -> None:
    """A zero-delay timer fires at now and, once fired, lets the code complete."""

    async def orch(ctx: OrchestrationContext, _: Any) -> str:
        await ctx.schedule_timer(0)
        return "after"

    assert run(orch, [STARTED]) == turn(
        TurnOutcome.CONTINUE,
        delta=[timer_created(2, NOW)],
        actions=[CreateTimer(event_id=2, fire_at_ms=NOW)],
    )
    history = [STARTED, timer_created(2, NOW), timer_fired(3, 2, NOW)]
    assert run(orch, history) == completed_turn("after", id=4)


def test_empty_activity_input() -> None:
    """An empty-string input is recorded as '""' and replays."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("A", "")

    assert run(orch, [STARTED]).actions == [ScheduleActivity(event_id=2, name="A", input='""')]
    history = [STARTED, scheduled(2, "A", ""), completed(3, 2, "")]
    assert run(orch, history) == completed_turn("", id=4)


def test_large_result_string() -> None:
    """A 1 MiB activity result arrives intact and becomes the output."""
    big = "é" * (1024 * 1024)

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("Big")

    history = [STARTED, scheduled(2, "Big")]
    result = run(orch, history, [activity_done(2, big)])

    assert result == completed_turn(big, id=4, delta=[completed(3, 2, big)])


def test_unicode_in_names() -> None:
    """Activity and event names with emoji and accents replay like ASCII ones."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("Grüße 🎉", "👋")

    assert run(orch, [STARTED]).actions == [
        ScheduleActivity(event_id=2, name="Grüße 🎉", input='"👋"')
    ]
    history = [STARTED, scheduled(2, "Grüße 🎉", "👋"), completed(3, 2, "🙂")]
    assert run(orch, history) == completed_turn("🙂", id=4)


def test_handler_invoked_once() -> None:
    """The orchestration function is called exactly once per turn, however much it replays."""
    calls: list[int] = []

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        calls.append(1)
        first = await ctx.schedule_activity("A")
        return await ctx.schedule_activity("B", first)

    first = run(orch, [], [start_item()])
    second = run(orch, first.history_delta, [activity_done(2, "a")])
    third = run(orch, [*first.history_delta, *second.history_delta], [activity_done(4, "b")])

    assert [r.outcome for r in (first, second, third)] == [
        TurnOutcome.CONTINUE,
        TurnOutcome.CONTINUE,
        TurnOutcome.COMPLETED,
    ]
    assert len(calls) == 3


def test_unregistered_orchestration_fails() -> None:
    """A Started naming no registered orchestration fails CONFIGURATION/unregistered."""
    assert run(None, [STARTED]) == failed_turn(
        ErrorDetails(
            category=ErrorCategory.CONFIGURATION,
            kind="unregistered",
            message="orchestration 'Orch' is not registered",
        ),
        id=2,
    )


def test_plain_function_orchestration_fails() -> None:
    """A non-async orchestration function fails CONFIGURATION/not_async."""

    def orch(ctx: OrchestrationContext, _: Any) -> str:
        return "sync"

    assert run(orch, [STARTED]) == failed_turn(
        ErrorDetails(
            category=ErrorCategory.CONFIGURATION,
            kind="not_async",
            message="orchestration 'Orch' returned str, not a coroutine: define it with "
            "'async def'",
        ),
        id=2,
    )


def test_negative_timer_delay_raises_in_the_code() -> None:
    """A negative timer delay raises ValueError inside the orchestration."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        ctx.schedule_timer(-1)

    assert run(orch, [STARTED]) == failed_turn(
        orchestration_failed("timer delay must be >= 0 seconds, got -1"), id=2
    )


def test_context_unusable_after_the_turn() -> None:
    """A context kept past its turn refuses scheduling instead of recording anything."""
    kept: list[OrchestrationContext] = []

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        kept.append(ctx)
        await ctx.wait_for_event("E")

    result = run(orch, [STARTED])

    with pytest.raises(RuntimeError, match="'inst-1' was used after its turn ended"):
        kept[0].schedule_activity("Late")
    assert result.history_delta == [external_subscribed(2, "E")]


def test_finally_block_cannot_schedule() -> None:
    """A finally block run when the engine discards the suspended code cannot record anything."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        try:
            await ctx.wait_for_event("E")
        finally:
            ctx.schedule_activity("Cleanup")

    assert run(orch, [STARTED]) == turn(
        TurnOutcome.CONTINUE,
        delta=[external_subscribed(2, "E")],
        actions=[WaitExternal(event_id=2, name="E")],
    )
