"""Replay engine, section 1: a fresh execution whose history holds only OrchestrationStarted."""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    INSTANCE,
    NOW,
    STARTED,
    completed_turn,
    external_subscribed,
    failed_turn,
    orchestration_failed,
    run,
    scheduled,
    start_item,
    sub_orch_scheduled,
    timer_created,
    turn,
)

from provkit.contract import events as ev
from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import (
    CreateTimer,
    ScheduleActivity,
    StartSubOrchestration,
    TurnOutcome,
    WaitExternal,
)


def test_immediate_return_ok() -> None:
    """Code returning at once completes with its output as event 2 and no actions."""

    async def orch(ctx: OrchestrationContext, _: Any) -> str:
        return "success"

    assert run(orch, [STARTED]) == completed_turn("success", id=2)


def test_immediate_return_err() -> None:
    """Code raising at once (Rust's Err) fails APPLICATION/orchestration_failed with its message."""

    async def orch(ctx: OrchestrationContext, _: Any) -> str:
        raise ValueError("failure")

    assert run(orch, [STARTED]) == failed_turn(orchestration_failed("failure"), id=2)


def test_schedule_activity_pending() -> None:
    """Awaiting a new activity records ActivityScheduled 2, emits ScheduleActivity and continues."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("Greet", "Alice")

    assert run(orch, [STARTED]) == turn(
        TurnOutcome.CONTINUE,
        delta=[scheduled(2, "Greet", "Alice")],
        actions=[ScheduleActivity(event_id=2, name="Greet", input='"Alice"')],
    )


def test_schedule_timer_pending() -> None:
    """A 60 s timer records TimerCreated firing at now + 60 000 ms and emits CreateTimer."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        await ctx.schedule_timer(60)

    assert run(orch, [STARTED]) == turn(
        TurnOutcome.CONTINUE,
        delta=[timer_created(2, NOW + 60_000)],
        actions=[CreateTimer(event_id=2, fire_at_ms=NOW + 60_000)],
    )


def test_schedule_external_pending() -> None:
    """Waiting for "Approval" records ExternalSubscribed 2 and emits WaitExternal."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.wait_for_event("Approval")

    assert run(orch, [STARTED]) == turn(
        TurnOutcome.CONTINUE,
        delta=[external_subscribed(2, "Approval")],
        actions=[WaitExternal(event_id=2, name="Approval")],
    )


def test_schedule_sub_orch_pending() -> None:
    """A sub-orchestration records SubOrchestrationScheduled and emits StartSubOrchestration."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_sub_orchestration("Child", {"n": 5})

    child = f"{INSTANCE}::sub::2"
    assert run(orch, [STARTED]) == turn(
        TurnOutcome.CONTINUE,
        delta=[sub_orch_scheduled(2, "Child", child, {"n": 5})],
        actions=[StartSubOrchestration(event_id=2, name="Child", instance=child, input='{"n":5}')],
    )


def test_continue_as_new() -> None:
    """continue_as_new("new") ends the turn CONTINUED_AS_NEW with OrchestrationContinuedAsNew."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        ctx.continue_as_new("new")

    assert run(orch, [STARTED]) == turn(
        TurnOutcome.CONTINUED_AS_NEW,
        delta=[ev.OrchestrationContinuedAsNew(event_id=2, timestamp_ms=NOW, input='"new"')],
        output="new",
    )


def test_multiple_schedules_no_await() -> None:
    """Three unawaited activities are recorded and dispatched fire-and-forget, then completion."""

    async def orch(ctx: OrchestrationContext, _: Any) -> str:
        for name in ("A", "B", "C"):
            ctx.schedule_activity(name, name.lower())
        return "done"

    assert run(orch, [STARTED]) == completed_turn(
        "done",
        id=5,
        delta=[
            scheduled(2, "A", "a"),
            scheduled(3, "B", "b"),
            scheduled(4, "C", "c"),
        ],
        actions=[
            ScheduleActivity(event_id=2, name="A", input='"a"'),
            ScheduleActivity(event_id=3, name="B", input='"b"'),
            ScheduleActivity(event_id=4, name="C", input='"c"'),
        ],
    )


def test_start_message_records_started_event() -> None:
    """Empty history plus a StartOrchestration creates Started 1 (version, parent) in the delta."""

    async def orch(ctx: OrchestrationContext, name: Any) -> str:
        return f"hello {name}"

    start = start_item(
        "Bob", version="2.1", parent_instance="parent", parent_execution_id=3, parent_id=7
    )
    result = run(orch, [], [start])

    expected_started = ev.OrchestrationStarted(
        event_id=1,
        timestamp_ms=NOW,
        name="Orch",
        version="2.1",
        input='"Bob"',
        parent_instance="parent",
        parent_execution_id=3,
        parent_id=7,
    )
    assert result == completed_turn(
        "hello Bob", id=2, delta=[expected_started], started=expected_started
    )
    assert result.started is result.history_delta[0]
