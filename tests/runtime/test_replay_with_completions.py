"""Replay engine, section 2: history already holds schedules and their completions."""

from __future__ import annotations

import uuid
from typing import Any

from _replay_builders import (
    INSTANCE,
    NOW,
    STARTED,
    activity_failed,
    completed,
    completed_turn,
    external_event,
    external_subscribed,
    failed_turn,
    orchestration_failed,
    run,
    scheduled,
    sub_orch_completed,
    sub_orch_scheduled,
    system_call,
    timer_created,
    timer_fired,
)

from provkit.contract import events as ev
from provkit.runtime._context import OrchestrationContext

FIRE_AT = NOW - 1_000


def test_activity_completed_in_history() -> None:
    """A recorded completion replays as the awaited value: COMPLETED, nothing new scheduled."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("Greet", "Alice")

    history = [
        STARTED,
        scheduled(2, "Greet", "Alice"),
        completed(3, 2, "Hello, Alice"),
    ]
    assert run(orch, history) == completed_turn("Hello, Alice", id=4)


def test_activity_failed_in_history() -> None:
    """A recorded APPLICATION failure raises TaskFailedError; uncaught, it fails the instance."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("Greet", "Alice")

    history = [STARTED, scheduled(2, "Greet", "Alice"), activity_failed(3, 2, "boom")]
    assert run(orch, history) == failed_turn(
        orchestration_failed("activity 'Greet' (event 2) failed: boom"), id=4
    )


def test_timer_fired_in_history() -> None:
    """A recorded TimerFired resumes the code after the timer: COMPLETED."""

    async def orch(ctx: OrchestrationContext, _: Any) -> str:
        await ctx.schedule_timer(60)
        return "woke"

    history = [STARTED, timer_created(2, FIRE_AT), timer_fired(3, 2, FIRE_AT)]
    assert run(orch, history) == completed_turn("woke", id=4)


def test_external_received_in_history() -> None:
    """A recorded ExternalEvent answering the wait replays its data: COMPLETED with it."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.wait_for_event("Approval")

    history = [
        STARTED,
        external_subscribed(2, "Approval"),
        external_event(3, "Approval", {"ok": True}, source=2),
    ]
    assert run(orch, history) == completed_turn({"ok": True}, id=4)


def test_sub_orch_completed_in_history() -> None:
    """A recorded SubOrchestrationCompleted replays as the child's output: COMPLETED."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_sub_orchestration("Child", 5)

    history = [
        STARTED,
        sub_orch_scheduled(2, "Child", f"{INSTANCE}::sub::2", 5),
        sub_orch_completed(3, 2, 25),
    ]
    assert run(orch, history) == completed_turn(25, id=4)


def test_system_call_in_history() -> None:
    """Recorded new_guid/utc_now values are replayed verbatim, not generated again."""

    async def orch(ctx: OrchestrationContext, _: Any) -> list[str]:
        return [ctx.new_guid(), ctx.utc_now().isoformat()]

    history = [STARTED, system_call(2, "new_guid", "g-1"), system_call(3, "utc_now", "1500")]
    assert run(orch, history) == completed_turn(["g-1", "1970-01-01T00:00:01.500000+00:00"], id=4)


def test_fresh_system_calls_are_recorded() -> None:
    """Fresh new_guid/utc_now record SystemCall events holding the values the code received."""

    async def orch(ctx: OrchestrationContext, _: Any) -> list[str]:
        return [ctx.new_guid(), str(ctx.utc_now().timestamp())]

    result = run(orch, [STARTED])

    guid = result.history_delta[0]
    assert isinstance(guid, ev.SystemCall)
    assert guid == system_call(2, "new_guid", guid.value)
    assert uuid.UUID(guid.value).version == 5
    assert result == completed_turn(
        [guid.value, str(NOW / 1000)],
        id=4,
        delta=[guid, system_call(3, "utc_now", str(NOW))],
    )
