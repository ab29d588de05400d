"""Stress workloads: the orchestrations and activities each scenario registers with the runtime.

Orchestrations here are deterministic (payloads are fixed patterns, all sizes come from the
input); activities sleep the configured delay and report every execution to a counter. Every
activity input carries a ``tag`` unique among the run's scheduled activities, so the history
check can match each execution to the schedule it answers.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from provkit.runtime import ActivityFn, OrchestrationContext, OrchestrationFn

if TYPE_CHECKING:
    from provkit.stress._config import StressConfig

Registries = tuple[Mapping[str, OrchestrationFn], Mapping[str, ActivityFn]]
"""(orchestrations, activities) by name, as a ``Runtime`` takes them."""

Executed = Callable[[str], None]
"""Called by an activity with its input's ``tag`` each time an execution of it finishes."""

TAG = "tag"
"""Key of the tag in every activity input of the stress scenarios."""


def tagged(ctx: OrchestrationContext, key: int, **fields: Any) -> dict[str, Any]:
    """An activity input tagged ``<instance>#<key>``; ``key`` is unique within the instance."""
    return {TAG: f"{ctx.instance}#{key}", **fields}


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A workload: what to register, which orchestration to start, and with which input.

    ``build(config, executed)`` returns fresh registries whose activities call
    ``executed(tag)`` once per finished execution (``tag`` from their input, see
    ``tagged``); ``make_input(config, n)`` is the input of the ``n``-th instance and
    ``expected_output(config, n)`` what it must return (``None``: not checked).
    """

    name: str
    description: str
    orchestration: str
    build: Callable[[StressConfig, Executed], Registries]
    make_input: Callable[[StressConfig, int], Any]
    expected_output: Callable[[StressConfig, int], Any] | None = None


@functools.lru_cache(maxsize=32)
def payload(size_kb: int) -> str:
    """A deterministic ASCII string of exactly ``size_kb`` KiB."""
    pattern = "provkit-stress-payload-"
    size = size_kb * 1024
    return (pattern * (size // len(pattern) + 1))[:size]


def _sleeper(config: StressConfig, executed: Executed) -> ActivityFn:
    """An activity that sleeps the delay and returns its input's ``value``."""
    delay = config.activity_delay_ms / 1000.0

    async def process_task(task: Any) -> Any:
        if delay > 0:
            await asyncio.sleep(delay)
        executed(task[TAG])
        return task["value"]

    return process_task


# -- parallel orchestrations (fan-out / fan-in) ---------------------------------------------


async def fanout_orchestration(ctx: OrchestrationContext, input: Any) -> Any:
    """Schedule ``tasks`` activities at once, wait for all, return their answers in order."""
    futures = [
        ctx.schedule_activity("ProcessTask", tagged(ctx, index, value=index))
        for index in range(input["tasks"])
    ]
    return await ctx.when_all(futures)


def _fanout(config: StressConfig, executed: Executed) -> Registries:
    return (
        {"FanoutOrchestration": fanout_orchestration},
        {"ProcessTask": _sleeper(config, executed)},
    )


# -- large payload --------------------------------------------------------------------------


def _payload_task(ctx: OrchestrationContext, key: int, size_kb: int) -> Any:
    task = tagged(ctx, key, size_kb=size_kb, data=payload(size_kb))
    return ctx.schedule_activity("PayloadTask", task)


async def large_payload_orchestration(ctx: OrchestrationContext, shape: Any) -> Any:
    """Sequential small/medium/large payload activities, parallel children, a large result."""
    key = 0
    for size, count in (
        (shape["small_kb"], shape["small_count"]),
        (shape["medium_kb"], shape["medium_count"]),
        (shape["large_kb"], shape["large_count"]),
    ):
        for _ in range(count):
            await _payload_task(ctx, key, size)
            key += 1
    child_input = {
        "small_kb": shape["small_kb"],
        "medium_kb": shape["medium_kb"],
        "data": payload(shape["sub_input_kb"]),
    }
    children = [
        ctx.schedule_sub_orchestration("PayloadChild", child_input)
        for _ in range(shape["sub_orchestrations"])
    ]
    await ctx.when_all(children)
    for _ in range(shape["tail_count"]):
        await _payload_task(ctx, key, shape["small_kb"])
        key += 1
    return payload(shape["result_kb"])


async def payload_child_orchestration(ctx: OrchestrationContext, input: Any) -> Any:
    """One small and one medium activity; returns a payload as large as its input."""
    for key, size in enumerate((input["small_kb"], input["medium_kb"])):
        await _payload_task(ctx, key, size)
    return payload(len(input["data"]) // 1024)


def _large_payload(config: StressConfig, executed: Executed) -> Registries:
    delay = config.activity_delay_ms / 1000.0

    async def payload_task(task: Any) -> Any:
        if delay > 0:
            await asyncio.sleep(delay)
        executed(task[TAG])
        return payload(task["size_kb"])

    return (
        {
            "LargePayloadOrchestration": large_payload_orchestration,
            "PayloadChild": payload_child_orchestration,
        },
        {"PayloadTask": payload_task},
    )


# -- timers ---------------------------------------------------------------------------------


async def timer_orchestration(ctx: OrchestrationContext, input: Any) -> Any:
    """``tasks`` rounds of a durable timer followed by an activity; returns the answers."""
    answers = []
    for index in range(input["tasks"]):
        await ctx.schedule_timer(input["timer_secs"])
        answers.append(await ctx.schedule_activity("ProcessTask", tagged(ctx, index, value=index)))
    return answers


def _timers(config: StressConfig, executed: Executed) -> Registries:
    return (
        {"TimerOrchestration": timer_orchestration},
        {"ProcessTask": _sleeper(config, executed)},
    )


# -- continue-as-new ------------------------------------------------------------------------


async def generations_orchestration(ctx: OrchestrationContext, input: Any) -> Any:
    """One activity per execution, continuing as new until ``remaining`` reaches 1.

    The last execution returns its activity's answer (1).
    """
    remaining = input["remaining"]
    answer = await ctx.schedule_activity("ProcessTask", tagged(ctx, remaining, value=remaining))
    if remaining > 1:
        ctx.continue_as_new({"remaining": remaining - 1})
    return answer


def _generations(config: StressConfig, executed: Executed) -> Registries:
    return (
        {"GenerationsOrchestration": generations_orchestration},
        {"ProcessTask": _sleeper(config, executed)},
    )


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            name="fanout",
            description="parallel orchestrations: fan out tasks_per_instance activities, join",
            orchestration="FanoutOrchestration",
            build=_fanout,
            make_input=lambda config, _n: {"tasks": config.tasks_per_instance},
            expected_output=lambda config, _n: list(range(config.tasks_per_instance)),
        ),
        Scenario(
            name="large_payload",
            description="sequential payload activities, parallel sub-orchestrations, big result",
            orchestration="LargePayloadOrchestration",
            build=_large_payload,
            make_input=lambda config, _n: asdict(config.payload),
            expected_output=lambda config, _n: payload(config.payload.result_kb),
        ),
        Scenario(
            name="timers",
            description="tasks_per_instance rounds of a timer (activity delay) then an activity",
            orchestration="TimerOrchestration",
            build=_timers,
            make_input=lambda config, _n: {
                "tasks": config.tasks_per_instance,
                "timer_secs": config.activity_delay_ms / 1000.0,
            },
            expected_output=lambda config, _n: list(range(config.tasks_per_instance)),
        ),
        Scenario(
            name="continue_as_new",
            description="tasks_per_instance executions chained by continue-as-new",
            orchestration="GenerationsOrchestration",
            build=_generations,
            make_input=lambda config, _n: {"remaining": config.tasks_per_instance},
            expected_output=lambda _config, _n: 1,
        ),
    )
}
"""Every scenario by name; ``fanout`` is the tracked one."""
