"""Replay engine, section 14: an exception escaping orchestration code fails the instance.

Rust's ``panic!`` maps to a raised exception; per the runtime interface the failure is
APPLICATION/orchestration_failed (the Rust seed says Nondeterminism), with ``str(exc)``.
"""

from __future__ import annotations

from typing import Any

from _replay_builders import (
    STARTED,
    failed_turn,
    orchestration_failed,
    run,
    scheduled,
)

from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import ScheduleActivity


def test_panic_string() -> None:
    """An exception with a message ("oops") fails with exactly that message."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        raise RuntimeError("oops")

    assert run(orch, [STARTED]) == failed_turn(orchestration_failed("oops"), id=2)


def test_panic_other() -> None:
    """An exception without a message (Rust's panic!(42)) fails with the exception type's name."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        raise KeyError()

    assert run(orch, [STARTED]) == failed_turn(orchestration_failed("KeyError"), id=2)


def test_exception_after_scheduling_keeps_fire_and_forget_work() -> None:
    """Work scheduled before the code raised is still recorded and dispatched (fire-and-forget)."""

    async def orch(ctx: OrchestrationContext, _: Any) -> None:
        ctx.schedule_activity("NotifyFailure", "order-7")
        raise ValueError("bad order")

    assert run(orch, [STARTED]) == failed_turn(
        orchestration_failed("bad order"),
        id=3,
        delta=[scheduled(2, "NotifyFailure", "order-7")],
        actions=[ScheduleActivity(event_id=2, name="NotifyFailure", input='"order-7"')],
    )


def test_unencodable_output_fails() -> None:
    """Returning a value JSON cannot encode fails, naming the value's type."""

    async def orch(ctx: OrchestrationContext, _: Any) -> object:
        return {1, 2}

    assert run(orch, [STARTED]) == failed_turn(
        orchestration_failed(
            "cannot encode set payload as JSON: Object of type set is not JSON serializable"
        ),
        id=2,
    )
