"""Replay engine, section 7: code that disagrees with history fails CONFIGURATION/nondeterminism."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest
from _replay_builders import (
    NOW,
    STARTED,
    activity_done,
    completed_turn,
    external_subscribed,
    failed_turn,
    nondeterminism,
    run,
    scheduled,
    timer_created,
    timer_item,
)

from provkit.runtime._context import OrchestrationContext


async def activity_a(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.schedule_activity("A", 1)


def test_schedule_mismatch_activity_vs_timer() -> None:
    """A timer where history recorded an activity fails, naming both, and cancels the activity."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        await ctx.schedule_timer(5)

    assert run(orch, [STARTED, scheduled(2, "A", 1)]) == failed_turn(
        nondeterminism(
            "replay mismatch at event 2: history has activity 'A' with input 1, "
            "but the orchestration scheduled a timer"
        ),
        id=3,
        cancelled_activities=[2],
    )


def test_schedule_mismatch_timer_vs_activity() -> None:
    """An activity where history recorded a timer fails with nondeterminism naming both."""
    assert run(activity_a, [STARTED, timer_created(2, NOW)]) == failed_turn(
        nondeterminism(
            "replay mismatch at event 2: history has a timer, "
            "but the orchestration scheduled activity 'A' with input 1"
        ),
        id=3,
    )


def test_schedule_mismatch_wrong_activity_name() -> None:
    """Activity "B" where history recorded "A" fails with nondeterminism naming both."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("B", 1)

    assert run(orch, [STARTED, scheduled(2, "A", 1)]) == failed_turn(
        nondeterminism(
            "replay mismatch at event 2: history has activity 'A' with input 1, "
            "but the orchestration scheduled activity 'B' with input 1"
        ),
        id=3,
        cancelled_activities=[2],
    )


def test_schedule_mismatch_wrong_input() -> None:
    """Activity "A" with input "y" where history recorded "x" fails, showing both inputs."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.schedule_activity("A", "y")

    assert run(orch, [STARTED, scheduled(2, "A", "x")]) == failed_turn(
        nondeterminism(
            """replay mismatch at event 2: history has activity 'A' with input "x", """
            """but the orchestration scheduled activity 'A' with input "y\""""
        ),
        id=3,
        cancelled_activities=[2],
    )


def test_schedule_mismatch_wrong_external_name() -> None:
    """Waiting for "Y" where history recorded a wait for "X" fails with nondeterminism."""

    async def orch(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.wait_for_event("Y")

    assert run(orch, [STARTED, external_subscribed(2, "X")]) == failed_turn(
        nondeterminism(
            "replay mismatch at event 2: history has a wait for event 'X', "
            "but the orchestration scheduled a wait for event 'Y'"
        ),
        id=3,
    )


def test_history_schedule_no_emitted_action() -> None:
    """Code returning before a recorded schedule completes; that in-flight activity is cancelled."""

    async def orch(ctx: OrchestrationContext, _: Any) -> str:
        return "done"

    assert run(orch, [STARTED, scheduled(2, "A", 1)]) == completed_turn(
        "done", id=3, cancelled_activities=[2]
    )


def test_completion_without_schedule() -> None:
    """A completion message for event 999, never scheduled, fails before the code runs."""
    calls: list[int] = []

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        calls.append(1)

    assert run(orch, [STARTED], [activity_done(999, "r")], discarded=calls.clear) == failed_turn(
        nondeterminism("ActivityCompletedMessage for event 999, which is not a scheduled task"),
        id=2,
    )
    assert calls == []


def test_completion_kind_mismatch() -> None:
    """A TimerFired message for activity 2 fails with nondeterminism and records nothing else."""
    assert run(activity_a, [STARTED, scheduled(2, "A", 1)], [timer_item(2, NOW)]) == (
        failed_turn(
            nondeterminism(
                "TimerFiredMessage for event 2, which is activity 'A' with input 1 "
                "(expected TimerCreated)"
            ),
            id=3,
            cancelled_activities=[2],
        )
    )


class _Foreign:
    """An awaitable that is not a durable task, like a network client's future."""

    def __await__(self) -> Generator[str, None, None]:
        yield "network"


def test_awaiting_a_foreign_awaitable_fails() -> None:
    """Awaiting something that is not a durable task fails, naming what was awaited."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        await _Foreign()

    assert run(orch, [STARTED]) == failed_turn(
        nondeterminism(
            "orchestration awaited _Foreign.__await__() (which yielded 'network'), not a durable "
            "task: await only what ctx.schedule_*, ctx.wait_for_event, ctx.when_all and "
            "ctx.when_any return"
        ),
        id=2,
    )


@pytest.mark.asyncio
async def test_awaiting_asyncio_sleep_on_a_running_loop_fails() -> None:
    """asyncio.sleep inside an orchestration (engine called from a loop) fails nondeterminism."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        await asyncio.sleep(30)

    assert run(orch, [STARTED]) == failed_turn(
        nondeterminism(
            "orchestration awaited sleep() -> FutureIter (which yielded <Future pending>), not a "
            "durable task: await only what ctx.schedule_*, ctx.wait_for_event, ctx.when_all and "
            "ctx.when_any return"
        ),
        id=2,
    )


def test_nondeterminism_cannot_be_swallowed() -> None:
    """Code catching BaseException around a mismatching call still fails the turn."""

    async def orch(ctx: OrchestrationContext, _: Any) -> str:
        try:
            ctx.schedule_activity("B", 1)
        except BaseException:
            return "swallowed"
        return "unreachable"

    assert run(orch, [STARTED, scheduled(2, "A", 1)]) == failed_turn(
        nondeterminism(
            "replay mismatch at event 2: history has activity 'A' with input 1, "
            "but the orchestration scheduled activity 'B' with input 1"
        ),
        id=3,
        cancelled_activities=[2],
    )


def test_batch_with_a_bad_completion_is_refused_whole() -> None:
    """A valid completion beside an unmatched one is not recorded: the delta is just the failure."""
    history = [STARTED, scheduled(2, "A", 1)]
    batch = [activity_done(2, "r"), activity_done(999, "r")]

    assert run(activity_a, history, batch) == failed_turn(
        nondeterminism("ActivityCompletedMessage for event 999, which is not a scheduled task"),
        id=3,
        cancelled_activities=[2],
    )
