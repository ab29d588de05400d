"""Stress workloads: the orchestrations and activities each scenario registers with the runtime.

Orchestrations here are deterministic (payloads are fixed patterns, all sizes come from the
input); activities sleep the configured delay and report every execution to a counter.
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A workload: what to register, which orchestration to start, and with which input.

    ``build(config, executed)`` returns fresh registries whose activities call
    ``executed()`` once per finished execution; ``make_input(config, n)`` is the input of
    the ``n``-th instance.
    """

    name: str
    description: str
    orchestration: str
    build: Callable[[StressConfig, Callable[[], None]], Registries]
    make_input: Callable[[StressConfig, int], Any]


@functools.lru_cache(maxsize=32)
def payload(size_kb: int) -> str:
    """A deterministic ASCII string of exactly ``size_kb`` KiB."""
    pattern = "provkit-stress-payload-"
    size = size_kb * 1024
    return (pattern * (size // len(pattern) + 1))[:size]


def _sleeper(config: StressConfig, executed: Callable[[], None]) -> ActivityFn:
    delay = config.activity_delay_ms / 1000.0

    async def process_task(value: Any) -> Any:
        if delay > 0:
            await asyncio.sleep(delay)
        executed()
        return value

    return process_task


# -- parallel orchestrations (fan-out / fan-in) ---------------------------------------------


async def fanout_orchestration(ctx: OrchestrationContext, input: Any) -> Any:
    """Schedule ``tasks`` activities at once, wait for all, return how many answered."""
    futures = [ctx.schedule_activity("ProcessTask", index) for index in range(input["tasks"])]
    results = await ctx.when_all(futures)
    return {"completed": len(results)}


def _fanout(config: StressConfig, executed: Callable[[], None]) -> Registries:
    return (
        {"FanoutOrchestration": fanout_orchestration},
        {"ProcessTask": _sleeper(config, executed)},
    )


# -- large payload --------------------------------------------------------------------------


async def large_payload_orchestration(ctx: OrchestrationContext, shape: Any) -> Any:
    """Sequential small/medium/large payload activities, parallel children, a large result."""
    for size, count in (
        (shape["small_kb"], shape["small_count"]),
        (shape["medium_kb"], shape["medium_count"]),
        (shape["large_kb"], shape["large_count"]),
    ):
        for _ in range(count):
            await ctx.schedule_activity("PayloadTask", {"size_kb": size, "data": payload(size)})
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
        small = shape["small_kb"]
        await ctx.schedule_activity("PayloadTask", {"size_kb": small, "data": payload(small)})
    return payload(shape["result_kb"])


async def payload_child_orchestration(ctx: OrchestrationContext, input: Any) -> Any:
    """One small and one medium activity; returns a payload as large as its input."""
    for size in (input["small_kb"], input["medium_kb"]):
        await ctx.schedule_activity("PayloadTask", {"size_kb": size, "data": payload(size)})
    return payload(len(input["data"]) // 1024)


def _large_payload(config: StressConfig, executed: Callable[[], None]) -> Registries:
    delay = config.activity_delay_ms / 1000.0

    async def payload_task(value: Any) -> Any:
        if delay > 0:
            await asyncio.sleep(delay)
        executed()
        return payload(value["size_kb"])

    return (
        {
            "LargePayloadOrchestration": large_payload_orchestration,
            "PayloadChild": payload_child_orchestration,
        },
        {"PayloadTask": payload_task},
    )


# -- timers ---------------------------------------------------------------------------------


async def timer_orchestration(ctx: OrchestrationContext, input: Any) -> Any:
    """``tasks`` rounds of a durable timer followed by an activity."""
    for index in range(input["tasks"]):
        await ctx.schedule_timer(input["timer_secs"])
        await ctx.schedule_activity("ProcessTask", index)
    return {"rounds": input["tasks"]}


def _timers(config: StressConfig, executed: Callable[[], None]) -> Registries:
    return (
        {"TimerOrchestration": timer_orchestration},
        {"ProcessTask": _sleeper(config, executed)},
    )


# -- continue-as-new ------------------------------------------------------------------------


async def generations_orchestration(ctx: OrchestrationContext, input: Any) -> Any:
    """One activity per execution, continuing as new until ``remaining`` reaches 1."""
    await ctx.schedule_activity("ProcessTask", input["remaining"])
    if input["remaining"] > 1:
        ctx.continue_as_new({"remaining": input["remaining"] - 1})
    return {"done": True}


def _generations(config: StressConfig, executed: Callable[[], None]) -> Registries:
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
        ),
        Scenario(
            name="large_payload",
            description="sequential payload activities, parallel sub-orchestrations, big result",
            orchestration="LargePayloadOrchestration",
            build=_large_payload,
            make_input=lambda config, _n: asdict(config.payload),
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
        ),
        Scenario(
            name="continue_as_new",
            description="tasks_per_instance executions chained by continue-as-new",
            orchestration="GenerationsOrchestration",
            build=_generations,
            make_input=lambda config, _n: {"remaining": config.tasks_per_instance},
        ),
    )
}
"""Every scenario by name; ``fanout`` is the tracked one."""
