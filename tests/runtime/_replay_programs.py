"""Generated orchestrations for replay property tests: a small step language and its world.

A program is a list of steps (``steps``) that ``interpreter`` turns into an orchestration;
``answer`` is what the world sends back for each action a turn schedules.
"""

from __future__ import annotations

from typing import Any

from _replay_builders import INSTANCE, activity_done, app_error, external_item
from hypothesis import strategies as st

from provkit.contract import messages as msg
from provkit.runtime._context import OrchestrationContext
from provkit.runtime._errors import TaskFailedError
from provkit.runtime._replay import (
    CreateTimer,
    ScheduleActivity,
    StartSubOrchestration,
    WaitExternal,
)

Step = tuple[Any, ...]

BASIC_STEPS = st.one_of(
    st.tuples(st.just("activity"), st.sampled_from("AB"), st.integers(0, 3)),
    st.tuples(st.just("timer"), st.sampled_from([0, 1, 5])),
    st.tuples(st.just("event"), st.sampled_from("EF")),
    st.tuples(st.just("all"), st.integers(0, 3)),
    st.tuples(st.just("any")),
    st.tuples(st.just("guid")),
    st.tuples(st.just("now")),
    st.tuples(st.just("forget")),
)
"""Steps whose every action ``answer`` completes successfully."""

steps = st.lists(BASIC_STEPS, max_size=6)

RICH_STEPS = st.one_of(
    BASIC_STEPS,
    st.tuples(st.just("fail")),
    st.tuples(st.just("child"), st.integers(0, 3)),
)
"""Also activities that fail (the code catches it) and sub-orchestrations."""

ENDINGS = st.sampled_from(["return", "raise", "continue"])
"""How a program ends: return its outputs, raise, or continue as new."""


def interpreter(program: list[Step], ending: str = "return") -> Any:
    async def orch(ctx: OrchestrationContext, _: Any) -> list[Any]:
        out: list[Any] = []
        for step in program:
            match step:
                case ("activity", name, value):
                    out.append(await ctx.schedule_activity(name, value))
                case ("timer", delay):
                    out.append(await ctx.schedule_timer(delay))
                case ("event", name):
                    out.append(await ctx.wait_for_event(name))
                case ("all", count):
                    tasks = [ctx.schedule_activity("P", i) for i in range(count)]
                    out.append(await ctx.when_all(tasks))
                case ("any",):
                    task = ctx.schedule_activity("S", 0)
                    winner = await ctx.when_any([task, ctx.schedule_timer(10)])
                    out.append("activity" if winner is task else "timer")
                case ("guid",):
                    out.append(ctx.new_guid())
                case ("now",):
                    out.append(ctx.utc_now().isoformat())
                case ("forget",):
                    ctx.schedule_activity("FF", 0)
                case ("fail",):
                    try:
                        await ctx.schedule_activity("Fails", len(out))
                    except TaskFailedError as exc:
                        out.append(str(exc))
                case ("child", value):
                    out.append(await ctx.schedule_sub_orchestration("Child", value))
        if ending == "raise":
            raise ValueError(f"gave up after {len(out)} steps")
        if ending == "continue":
            ctx.continue_as_new(out)
        return out

    return orch


def answer(action: Any) -> msg.OrchestratorMessage:
    """What the world sends back for one action."""
    match action:
        case ScheduleActivity(event_id=event_id, name="Fails", input=input):
            return msg.ActivityFailedMessage(
                instance=INSTANCE, execution_id=1, id=event_id, error=app_error(f"no {input}")
            )
        case ScheduleActivity(event_id=event_id, name=name, input=input):
            return activity_done(event_id, f"{name}:{input}")
        case CreateTimer(event_id=event_id, fire_at_ms=fire_at_ms):
            return msg.TimerFiredMessage(
                instance=INSTANCE, execution_id=1, id=event_id, fire_at_ms=fire_at_ms
            )
        case WaitExternal(name=name):
            return external_item(name, f"data-{name}")
        case StartSubOrchestration(event_id=event_id, instance=child, input=input):
            return msg.SubOrchestrationCompletedMessage(
                instance=INSTANCE,
                execution_id=1,
                id=event_id,
                child_instance=child,
                result=f'"child of {input}"',
            )
    raise AssertionError(f"unexpected action {action!r}")
