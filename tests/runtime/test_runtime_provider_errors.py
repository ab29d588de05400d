"""How the runtime reacts to provider errors: retry what is retryable, never spin, never stall.

``FlakyProvider`` (in ``_runtime_support``) wraps a real SQLite provider and fails chosen
calls, recording every call it sees, so each test can state exactly which calls the runtime
made.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from _runtime_support import (
    FAST,
    FlakyProvider,
    double,
    double_activity,
    fail_once,
    first_time_per_token,
    history_until,
    run_double,
    running,
)

from provkit.contract import DuplicateEventError, ProviderError, Status, TransientError
from provkit.reference_providers import SqliteProvider
from provkit.runtime import Client, OrchestrationContext, OrchestrationStatus, Runtime

pytestmark = pytest.mark.asyncio


async def test_retryable_ack_errors_are_retried_with_the_same_token(
    provider: SqliteProvider,
) -> None:
    """A busy database on every first ack is retried with the same lock token and succeeds."""
    flaky = FlakyProvider(provider)
    flaky.fail["ack_orchestration_item"] = first_time_per_token(
        lambda: TransientError("ack_orchestration_item", "database is locked")
    )
    flaky.fail["ack_work_item"] = first_time_per_token(
        lambda: TransientError("ack_work_item", "database is locked")
    )
    client = Client(provider)
    async with Runtime(
        flaky,
        orchestrations={"double": double},
        activities={"double": double_activity},
        options=FAST,
    ):
        await client.start_orchestration("busy-1", "double", 21)
        state = await client.wait_for_orchestration("busy-1", timeout=10)

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, 42)
    orchestration_acks = flaky.tokens("ack_orchestration_item")
    assert len(orchestration_acks) == 4  # two turns, each acked twice with one token
    assert orchestration_acks[0] == orchestration_acks[1] != orchestration_acks[2]
    assert orchestration_acks[2] == orchestration_acks[3]
    work_acks = flaky.tokens("ack_work_item")
    assert len(work_acks) == 2
    assert work_acks[0] == work_acks[1]
    assert flaky.tokens("abandon_orchestration_item") == []


async def test_permanent_ack_error_abandons_the_turn_and_it_is_redelivered(
    provider: SqliteProvider,
) -> None:
    """A permanent ack failure is not retried: the turn is abandoned and runs again later."""
    flaky = FlakyProvider(provider)
    failed, flaky.fail["ack_orchestration_item"] = fail_once(
        DuplicateEventError("ack_orchestration_item", "event 2 already stored")
    )
    state = await run_double(flaky, "dup-1", 4)

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, 8)
    acks = flaky.tokens("ack_orchestration_item")
    assert acks.count(failed[0]) == 1  # the failed token was never retried
    assert flaky.tokens("abandon_orchestration_item") == failed


async def test_failing_fetches_back_off_instead_of_spinning(provider: SqliteProvider) -> None:
    """A provider whose fetches always fail is polled with growing pauses, not in a loop."""
    flaky = FlakyProvider(provider)
    broken = ProviderError("fetch_orchestration_item", "disk on fire")
    flaky.fail["fetch_orchestration_item"] = lambda _args: broken
    options = dataclasses.replace(
        FAST, orchestration_concurrency=1, retry_backoff_initial=0.01, retry_backoff_max=1.0
    )
    async with Runtime(flaky, options=options):
        await asyncio.sleep(0.3)

    fetches = len(flaky.tokens("fetch_orchestration_item"))
    # Pauses of 5-10, 10-20, 20-40, 40-80, 80-160 ms... fit at most ~7 tries in 0.3 s.
    assert 2 <= fetches <= 8


class ShortPolledProvider(FlakyProvider):
    """A ``FlakyProvider`` declaring no capabilities (so no ``LONG_POLL``)."""

    capabilities = frozenset()


async def test_provider_without_long_poll_is_short_polled_with_backoff(
    provider: SqliteProvider,
) -> None:
    """Without LONG_POLL, fetches pass poll_timeout 0 and idle loops pause between them."""
    flaky = ShortPolledProvider(provider)
    client = Client(provider)
    options = dataclasses.replace(FAST, orchestration_concurrency=1)
    async with Runtime(
        flaky,
        orchestrations={"double": double},
        activities={"double": double_activity},
        options=options,
    ):
        await client.start_orchestration("short-1", "double", 8)
        state = await client.wait_for_orchestration("short-1", timeout=10)
        flaky.calls.clear()
        await asyncio.sleep(0.3)

    assert state.output == 16
    idle_fetches = [args for name, args in flaky.calls if name == "fetch_orchestration_item"]
    assert {args[1] for args in idle_fetches} == {0.0}
    # Pauses grow from 2.5-5 ms to 25-50 ms (poll_interval): at most ~15 fetches in 0.3 s.
    assert 3 <= len(idle_fetches) <= 20


async def waits_for_go(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.wait_for_event("go")


async def test_corrupt_history_is_retried_then_failed_as_poison(provider: SqliteProvider) -> None:
    """An instance whose history cannot be read is retried max_attempts times, then failed."""
    client = Client(provider)
    async with running(provider, {"waits": waits_for_go}):
        await client.start_orchestration("corrupt-1", "waits")
        await history_until(provider, "corrupt-1", lambda h: len(h) == 2)
    await provider.corrupt_history("corrupt-1", 1)
    await client.raise_event("corrupt-1", "go", None)

    flaky = FlakyProvider(provider)
    options = dataclasses.replace(FAST, max_attempts=2)
    async with Runtime(flaky, orchestrations={"waits": waits_for_go}, options=options):
        ack = await flaky.wait_for_call("ack_orchestration_item")

    _token, execution_id, delta, worker_items, orchestrator_items, metadata, _cancelled = ack
    assert (execution_id, delta, worker_items, orchestrator_items) == (1, [], [], [])
    assert metadata.status is Status.FAILED
    assert metadata.output.startswith("poison/poison: messages of 'corrupt-1' were delivered 3")
    assert "; its history is unreadable: " in metadata.output
    assert len(flaky.tokens("abandon_orchestration_item")) == 2  # deliveries 1 and 2
    assert await provider.fetch_orchestration_item(30.0) is None  # the batch is gone


class AcksNeverReturn(FlakyProvider):
    """Every orchestration ack waits forever (a wedged database connection)."""

    async def ack_orchestration_item(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("ack_orchestration_item", args))
        await asyncio.Event().wait()


@pytest.mark.parametrize("store", ["memory"], indirect=True)
async def test_shutdown_returns_when_provider_calls_never_return(
    provider: SqliteProvider,
) -> None:
    """Acks that hang forever: shutdown cancels the slots (again if needed) and returns."""
    wedged = AcksNeverReturn(provider)
    client = Client(provider)
    for n in range(3):
        await client.start_orchestration(f"wedged-{n}", "double", n)
    runtime = Runtime(wedged, orchestrations={"double": double}, options=FAST)
    await runtime.start()
    await wedged.wait_for_call("ack_orchestration_item")

    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(runtime.shutdown(grace=0.1), timeout=5)

    assert loop.time() - began < 2.0
    assert all(
        task.done() for task in asyncio.all_tasks() if task.get_name().startswith("provkit-")
    )
