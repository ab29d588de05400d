"""The runtime's replay cache: kept instances resume, outcomes match a cache-less runtime, and
a turn that was not committed leaves no kept state behind."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from _runtime_support import FAST, FlakyProvider, running

from provkit.contract import LockLostError, Provider, ProviderError, SystemClock
from provkit.contract import events as ev
from provkit.contract.messages import StartOrchestration
from provkit.reference_providers import SqliteProvider
from provkit.runtime import Client, OrchestrationContext, OrchestrationStatus
from provkit.runtime._ack_plan import AckPlan
from provkit.runtime._dispatch_orchestration import OrchestrationDispatcher

pytestmark = pytest.mark.asyncio

STEPS = 5


async def chain(ctx: OrchestrationContext, count: int) -> list[int]:
    results = []
    for step in range(count):
        results.append(await ctx.schedule_activity("square", step))
    return results


async def square(x: int) -> int:
    return x * x


def shape(history: list[ev.Event]) -> list[ev.Event]:
    """A history without its timestamps."""
    return [dataclasses.replace(e, timestamp_ms=0) for e in history]


async def run_chain(provider: Provider, instance: str, **options: Any) -> tuple[Any, Any]:
    client = Client(provider)
    async with running(
        provider,
        {"chain": chain},
        {"square": square},
        dataclasses.replace(FAST, **options),
    ) as runtime:
        await client.start_orchestration(instance, "chain", STEPS)
        state = await client.wait_for_orchestration(instance, timeout=10)
        cache = runtime._orchestration.cache
        counts = (cache.hits, cache.misses, len(cache))
    return state, counts


async def test_every_turn_after_the_first_resumes_the_kept_instance(
    provider: SqliteProvider,
) -> None:
    """N sequential activities: one full replay, then N resumed turns; nothing kept at the end."""
    state, counts = await run_chain(provider, "kept-1")

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, [0, 1, 4, 9, 16])
    assert counts == (STEPS, 1, 0)


async def test_turned_off_cache_gives_the_same_history(provider: SqliteProvider) -> None:
    """With the cache on or off, the stored history is the same (timestamps aside)."""
    await run_chain(provider, "on")
    state, counts = await run_chain(provider, "off", replay_cache_instances=0)

    assert (state.output, counts) == ([0, 1, 4, 9, 16], (0, STEPS + 1, 0))
    assert shape(await provider.read("off")) == shape(await provider.read("on"))


@pytest.mark.parametrize(
    ("error", "kept"),
    [
        (None, 1),
        (LockLostError("ack_orchestration_item", "the lock expired"), 0),
        (ProviderError("ack_orchestration_item", "disk full"), 0),
    ],
)
async def test_a_turn_is_kept_only_when_its_ack_commits(
    provider: SqliteProvider, error: ProviderError | None, kept: int
) -> None:
    """A committed turn stays kept; a lost lock or a failed ack drops its replayed state."""
    flaky = FlakyProvider(provider)
    flaky.fail["ack_orchestration_item"] = lambda _args: error
    dispatcher = OrchestrationDispatcher(
        flaky, {"chain": chain}, FAST, SystemClock(), aborting=lambda: False
    )
    await provider.enqueue_for_orchestrator(
        StartOrchestration(instance="acked", orchestration="chain", input="3")
    )
    item = await dispatcher.fetch(0.0)
    assert item is not None
    plan = dispatcher.plan(item)
    assert isinstance(plan, AckPlan)
    assert len(dispatcher.cache) == 1

    await dispatcher.ack(item, plan)

    assert len(dispatcher.cache) == kept
    dispatcher.close()
    assert len(dispatcher.cache) == 0
