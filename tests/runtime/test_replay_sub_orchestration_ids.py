"""Replay engine, section 12: child instance ids are deterministic and bound from history."""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    INSTANCE,
    STARTED,
    completed_turn,
    failed_turn,
    nondeterminism,
    run,
    sub_orch_completed,
    sub_orch_done,
    sub_orch_scheduled,
    turn,
)

from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import StartSubOrchestration, TurnOutcome


async def auto_child(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.schedule_sub_orchestration("Child", 1)


async def named_child(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.schedule_sub_orchestration("Child", 1, instance="my-id")


def test_auto_instance_id() -> None:
    """Without an explicit id the child is "{parent}::sub::{event_id}"."""
    child = f"{INSTANCE}::sub::2"
    assert run(auto_child, [STARTED]) == turn(
        TurnOutcome.CONTINUE,
        delta=[sub_orch_scheduled(2, "Child", child, 1)],
        actions=[StartSubOrchestration(event_id=2, name="Child", instance=child, input="1")],
    )


def test_explicit_instance_preserved() -> None:
    """An explicit child id is used verbatim."""
    assert run(named_child, [STARTED]) == turn(
        TurnOutcome.CONTINUE,
        delta=[sub_orch_scheduled(2, "Child", "my-id", 1)],
        actions=[StartSubOrchestration(event_id=2, name="Child", instance="my-id", input="1")],
    )


def test_replay_uses_history_instance() -> None:
    """A replayed default-id child binds to the recorded instance, whose answer is accepted."""
    history = [STARTED, sub_orch_scheduled(2, "Child", "sub::2", 1)]
    assert run(auto_child, history, [sub_orch_done(2, "sub::2", "out")]) == completed_turn(
        "out", id=4, delta=[sub_orch_completed(3, 2, "out")]
    )


def test_explicit_instance_mismatch_is_nondeterminism() -> None:
    """An explicit child id differing from the recorded one fails nondeterminism."""
    history = [STARTED, sub_orch_scheduled(2, "Child", "other-id", 1)]
    assert run(named_child, history) == failed_turn(
        nondeterminism(
            "replay mismatch at event 2: history has sub-orchestration 'Child' "
            "(instance 'other-id') with input 1, but the orchestration scheduled "
            "sub-orchestration 'Child' (instance 'my-id') with input 1"
        ),
        id=3,
    )


def test_answer_from_another_child_is_nondeterminism() -> None:
    """A completion naming a different child than event 2 started fails nondeterminism."""
    history = [STARTED, sub_orch_scheduled(2, "Child", "my-id", 1)]
    assert run(named_child, history, [sub_orch_done(2, "impostor", "x")]) == failed_turn(
        nondeterminism(
            "SubOrchestrationCompletedMessage from 'impostor' for event 2, which started 'my-id'"
        ),
        id=3,
    )
