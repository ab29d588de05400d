"""Replay engine, section 11: ctx.is_replaying is true exactly while history is being re-run."""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    STARTED,
    activity_done,
    completed,
    run,
    scheduled,
)

from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import TurnOutcome


def recorder(trace: list[bool]) -> Any:
    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        trace.append(ctx.is_replaying)
        task = ctx.schedule_activity("A")
        trace.append(ctx.is_replaying)
        await task
        trace.append(ctx.is_replaying)

    return orch


def test_fresh_execution_not_replaying() -> None:
    """With only Started in history the code runs live from the start."""
    trace: list[bool] = []
    run(recorder(trace), [STARTED], discarded=trace.clear)

    assert trace == [False, False]


def test_replay_is_replaying() -> None:
    """With a recorded schedule and completion, the code starts replaying and ends live."""
    trace: list[bool] = []
    result = run(
        recorder(trace), [STARTED, scheduled(2, "A"), completed(3, 2)], discarded=trace.clear
    )

    assert result.outcome is TurnOutcome.COMPLETED
    assert trace == [True, True, False]


def test_transitions_after_history() -> None:
    """Replaying the last recorded schedule ends replay; a completion arriving now is live."""
    trace: list[bool] = []
    result = run(recorder(trace), [STARTED, scheduled(2, "A")], [activity_done(2)])

    assert result.outcome is TurnOutcome.COMPLETED
    assert trace == [True, False, False]
