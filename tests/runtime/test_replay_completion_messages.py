"""Replay engine, section 5: turning a batch of messages into completion events, and filtering."""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    INSTANCE,
    NOW,
    STARTED,
    activity_done,
    completed,
    completed_turn,
    external_event,
    external_item,
    external_subscribed,
    noop_turn,
    run,
    scheduled,
    sub_orch_completed,
    sub_orch_done,
    sub_orch_scheduled,
    timer_created,
    timer_fired,
    timer_item,
    turn,
)

from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import TurnOutcome, WaitExternal


async def one_activity(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.schedule_activity("A", 1)


async def two_activities_in_sequence(ctx: OrchestrationContext, _: Any) -> Any:
    first = await ctx.schedule_activity("A", 1)
    return await ctx.schedule_activity("B", first)


def test_activity_completed_message() -> None:
    """An ActivityCompleted message becomes ActivityCompleted(3, source 2) in the delta."""
    result = run(one_activity, [STARTED, scheduled(2, "A", 1)], [activity_done(2, "r")])

    assert result == completed_turn("r", id=4, delta=[completed(3, 2, "r")])


def test_timer_fired_message() -> None:
    """A TimerFired message becomes TimerFired(3, source 2) with the message's fire time."""

    async def orch(ctx: OrchestrationContext, _: Any) -> str:
        await ctx.schedule_timer(1)
        return "fired"

    fire_at = NOW - 10
    result = run(orch, [STARTED, timer_created(2, fire_at)], [timer_item(2, fire_at)])

    assert result == completed_turn("fired", id=4, delta=[timer_fired(3, 2, fire_at)])


def test_external_raised_message() -> None:
    """An ExternalRaised for an open wait becomes ExternalEvent(3) linked to the wait (source 2)."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.wait_for_event("E")

    result = run(orch, [STARTED, external_subscribed(2, "E")], [external_item("E", [1, 2])])

    assert result == completed_turn([1, 2], id=4, delta=[external_event(3, "E", [1, 2], source=2)])


def test_sub_orch_completed_message() -> None:
    """A child's completion message becomes SubOrchestrationCompleted(3, source 2)."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_sub_orchestration("Child", 5)

    child = f"{INSTANCE}::sub::2"
    result = run(
        orch,
        [STARTED, sub_orch_scheduled(2, "Child", child, 5)],
        [sub_orch_done(2, child, 25)],
    )

    assert result == completed_turn(25, id=4, delta=[sub_orch_completed(3, 2, 25)])


def test_duplicate_completion_filtered() -> None:
    """A completion already in history is dropped: nothing recorded, the code still waits on B."""
    history = [
        STARTED,
        scheduled(2, "A", 1),
        completed(3, 2, "r"),
        scheduled(4, "B", "r"),
    ]
    assert run(two_activities_in_sequence, history, [activity_done(2, "r")]) == noop_turn()


def test_duplicate_in_same_batch() -> None:
    """Of two identical completions in one batch only the first is recorded."""
    result = run(
        one_activity,
        [STARTED, scheduled(2, "A", 1)],
        [activity_done(2, "r"), activity_done(2, "r")],
    )

    assert result == completed_turn("r", id=4, delta=[completed(3, 2, "r")])


def test_wrong_execution_filtered() -> None:
    """A completion stamped with another execution id is stale: dropped, no delta."""
    result = run(
        one_activity,
        [STARTED, scheduled(2, "A", 1)],
        [activity_done(2, "r", execution_id=2)],
    )

    assert result == noop_turn()


def test_external_without_subscription() -> None:
    """An event nobody waits for is buffered (source None), not dropped; a later wait gets it."""
    # Deliberate deviation from the seed row ("filtered"): raise-before-subscribe must work.

    async def orch(ctx: OrchestrationContext, _: Any) -> list[Any]:
        approval = await ctx.wait_for_event("Approval")
        early = await ctx.wait_for_event("X")
        return [approval, early]

    first = run(orch, [STARTED], [external_item("X", "early")])
    assert first == turn(
        TurnOutcome.CONTINUE,
        delta=[external_event(2, "X", "early"), external_subscribed(3, "Approval")],
        actions=[WaitExternal(event_id=3, name="Approval")],
    )

    second = run(orch, [STARTED, *first.history_delta], [external_item("Approval", "yes")])
    assert second == completed_turn(
        ["yes", "early"],
        id=6,
        delta=[external_event(4, "Approval", "yes", source=3), external_subscribed(5, "X")],
        actions=[WaitExternal(event_id=5, name="X")],
    )


def test_multiple_completions_batch() -> None:
    """Completions for A and B in one batch are both recorded, in batch order."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.when_all([ctx.schedule_activity("A"), ctx.schedule_activity("B")])

    history = [STARTED, scheduled(2, "A"), scheduled(3, "B")]
    result = run(orch, history, [activity_done(3, "b"), activity_done(2, "a")])

    assert result == completed_turn(
        ["a", "b"], id=6, delta=[completed(4, 3, "b"), completed(5, 2, "a")]
    )


def test_wait_served_from_buffer_is_not_linked_again() -> None:
    """A wait that took a buffered event is not open: the next raise links to the next wait."""

    async def orch(ctx: OrchestrationContext, _: Any) -> list[Any]:
        return [await ctx.wait_for_event("E"), await ctx.wait_for_event("E")]

    history = [
        STARTED,
        external_event(2, "E", "early"),
        external_subscribed(3, "E"),
        external_subscribed(4, "E"),
    ]
    assert run(orch, history, [external_item("E", "late")]) == completed_turn(
        ["early", "late"], id=6, delta=[external_event(5, "E", "late", source=4)]
    )
