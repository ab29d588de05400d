"""The runtime under stress and failure: poison, blocking activities, load, crashes, shutdown.

Crashes are simulated with ``Runtime._abort()``, which cancels every task of a runtime
without abandoning anything, as a killed process would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from typing import Any

import pytest
from _runtime_support import FAST, Store, running

from provkit.contract import ErrorCategory
from provkit.contract.events import (
    ActivityCompleted,
    ActivityScheduled,
    OrchestrationCompleted,
)
from provkit.reference_providers import SqliteProvider
from provkit.runtime import Client, OrchestrationContext, OrchestrationStatus, Runtime

pytestmark = pytest.mark.asyncio


async def single(ctx: OrchestrationContext, x: Any) -> Any:
    return await ctx.schedule_activity("work", x)


async def test_batch_delivered_more_than_max_attempts_fails_as_poison(
    provider: SqliteProvider,
) -> None:
    """A start message already delivered max_attempts times fails its instance with POISON."""
    ran: list[Any] = []

    async def records(ctx: OrchestrationContext, x: Any) -> Any:
        ran.append(x)
        return x

    client = Client(provider)
    await client.start_orchestration("poison-1", "records", 7)
    for attempt in (1, 2):  # two deliveries that never finished (a crashing turn)
        item = await provider.fetch_orchestration_item(30.0)
        assert item is not None
        assert item.attempt_count == attempt
        await provider.abandon_orchestration_item(item.lock_token)

    options = dataclasses.replace(FAST, max_attempts=2)
    async with running(provider, {"records": records}, options=options):
        state = await client.wait_for_orchestration("poison-1", timeout=10)

    assert ran == []  # the poisoned batch never reached user code
    assert state.status is OrchestrationStatus.FAILED
    assert state.error is not None
    assert (state.error.category, state.error.kind) == (ErrorCategory.POISON, "poison")
    assert "delivered 3 times (max_attempts=2)" in state.error.message
    assert state.name == "records"


async def test_activity_that_keeps_crashing_the_worker_is_poisoned(store: Store) -> None:
    """An activity whose every run kills the runtime fails as POISON after max_attempts runs."""
    runs: list[int] = []
    crashed = asyncio.Event()

    async def crash(x: int) -> None:
        runs.append(x)
        crashed.set()
        await asyncio.Event().wait()  # hangs until the runtime is killed

    options = dataclasses.replace(
        FAST, max_attempts=2, worker_lock_timeout=0.2, orchestration_lock_timeout=0.2
    )
    registry: dict[str, Any] = {
        "orchestrations": {"single": single},
        "activities": {"work": crash},
        "options": options,
    }
    client = Client(store.provider)
    await client.start_orchestration("crashy", "single", 5)
    for _ in range(2):
        runtime = Runtime(store.provider, **registry)
        await runtime.start()
        await crashed.wait()
        crashed.clear()
        await runtime._abort()
        await store.reopen()
        client = Client(store.provider)

    async with Runtime(store.provider, **registry):
        state = await client.wait_for_orchestration("crashy", timeout=10)

    assert runs == [5, 5]
    assert state.status is OrchestrationStatus.FAILED
    assert state.error is not None
    assert state.error.category is ErrorCategory.POISON
    assert "'work' was delivered 3 times (max_attempts=2)" in state.error.message


async def test_blocking_activity_does_not_stall_other_work(provider: SqliteProvider) -> None:
    """A plain function blocking in time.sleep runs in a thread while other instances progress."""
    log: list[str] = []
    slow_started = asyncio.Event()
    fast_done = threading.Event()
    loop = asyncio.get_running_loop()

    def slow(_: Any) -> int:
        log.append("slow-start")
        loop.call_soon_threadsafe(slow_started.set)
        naps = 0
        while not fast_done.is_set() and naps < 25:  # at most 5 s if the loop were stalled
            time.sleep(0.2)
            naps += 1
        log.append("slow-end")
        return naps

    async def quick(x: int) -> int:
        log.append(f"quick-{x}")
        if x == 2:
            fast_done.set()
        return x

    async def three_quick(ctx: OrchestrationContext, _: Any) -> list[int]:
        return [await ctx.schedule_activity("quick", i) for i in range(3)]

    client = Client(provider)
    orchestrations = {"single": single, "three": three_quick}
    async with running(provider, orchestrations, {"work": slow, "quick": quick}):
        await client.start_orchestration("slow", "single", None)
        await slow_started.wait()
        await client.start_orchestration("quick", "three")
        quick_state = await client.wait_for_orchestration("quick", timeout=10)
        slow_state = await client.wait_for_orchestration("slow", timeout=10)

    assert quick_state.output == [0, 1, 2]
    assert log == ["slow-start", "quick-0", "quick-1", "quick-2", "slow-end"]
    assert slow_state.output < 25  # released by the quick work, not by the 5 s cap


async def fan_out_five(ctx: OrchestrationContext, base: int) -> list[int]:
    return await ctx.when_all([ctx.schedule_activity("add", [base, i]) for i in range(5)])


async def add(pair: list[int]) -> int:
    return pair[0] + pair[1]


@pytest.mark.parametrize("store", ["file"], indirect=True)
async def test_hundred_fan_out_instances_all_complete(store: Store) -> None:
    """100 instances of five activities each complete with correct outputs at concurrency 2/2."""
    provider = store.provider
    client = Client(provider)
    async with running(provider, {"fan": fan_out_five}, {"add": add}, FAST):
        for n in range(100):
            await client.start_orchestration(f"load-{n}", "fan", n * 10)
        states = [await client.wait_for_orchestration(f"load-{n}", timeout=60) for n in range(100)]

    assert [s.output for s in states] == [[n * 10 + i for i in range(5)] for n in range(100)]
    assert {s.status for s in states} == {OrchestrationStatus.COMPLETED}


async def chain(ctx: OrchestrationContext, n: int) -> int:
    total = 0
    for step in range(4):
        total += await ctx.schedule_activity("step", [n, step])
    return total


async def test_abruptly_stopped_runtime_is_replaced_without_loss_or_duplicates(
    store: Store,
) -> None:
    """After a crash mid-run a new runtime finishes every instance exactly once."""
    instances = 12
    executed: list[tuple[int, int]] = []
    enough = asyncio.Event()

    async def step(pair: list[int]) -> int:
        n, i = pair
        executed.append((n, i))
        if len(executed) >= instances * 2:
            enough.set()
        return n * 100 + i

    options = dataclasses.replace(
        FAST, worker_lock_timeout=0.3, orchestration_lock_timeout=0.3, max_attempts=50
    )
    registry: dict[str, Any] = {
        "orchestrations": {"chain": chain},
        "activities": {"step": step},
        "options": options,
    }
    client = Client(store.provider)
    for n in range(instances):
        await client.start_orchestration(f"chain-{n}", "chain", n)
    first = Runtime(store.provider, **registry)
    await first.start()
    await enough.wait()
    await first._abort()
    before_crash = len(executed)

    provider = await store.reopen()
    client = Client(provider)
    async with Runtime(provider, **registry):
        states = [
            await client.wait_for_orchestration(f"chain-{n}", timeout=20) for n in range(instances)
        ]

    assert before_crash < instances * 4  # the crash really happened mid-run
    expected = [sum(n * 100 + i for i in range(4)) for n in range(instances)]
    assert [s.output for s in states] == expected
    assert {(n, i) for n in range(instances) for i in range(4)} <= set(executed)
    for n in range(instances):
        history = await provider.read(f"chain-{n}")
        assert sum(isinstance(e, OrchestrationCompleted) for e in history) == 1
        scheduled = [e.event_id for e in history if isinstance(e, ActivityScheduled)]
        answered = [e.source_event_id or 0 for e in history if isinstance(e, ActivityCompleted)]
        assert sorted(answered) == scheduled  # every activity recorded exactly once


async def test_shutdown_abandons_unfinished_activities_without_counting_them(
    provider: SqliteProvider,
) -> None:
    """Shutdown waits its grace, then hands an unfinished activity back with attempt count kept."""
    entered = asyncio.Event()
    release = asyncio.Event()

    async def waits(x: int) -> int:
        entered.set()
        await release.wait()
        return x + 1

    client = Client(provider)
    runtime = Runtime(
        provider, orchestrations={"single": single}, activities={"work": waits}, options=FAST
    )
    await runtime.start()
    await client.start_orchestration("shut-1", "single", 1)
    await entered.wait()
    await runtime.shutdown(grace=0.05)

    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("provkit-")] == []
    lease = await provider.fetch_work_item(30.0)
    assert lease is not None
    assert (lease.item.name, lease.item.input, lease.attempt_count) == ("work", "1", 1)
    await provider.abandon_work_item(lease.lock_token, ignore_attempt=True)

    release.set()
    async with Runtime(
        provider, orchestrations={"single": single}, activities={"work": waits}, options=FAST
    ):
        state = await client.wait_for_orchestration("shut-1", timeout=10)
    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, 2)


async def test_shutdown_lets_in_flight_activities_finish_within_grace(
    provider: SqliteProvider,
) -> None:
    """An activity already running when shutdown starts completes and is acked."""
    entered = asyncio.Event()
    release = asyncio.Event()
    finished: list[int] = []

    async def waits(x: int) -> int:
        entered.set()
        await release.wait()
        finished.append(x)
        return x * 3

    client = Client(provider)
    runtime = Runtime(
        provider, orchestrations={"single": single}, activities={"work": waits}, options=FAST
    )
    await runtime.start()
    await client.start_orchestration("grace-1", "single", 4)
    await entered.wait()
    stopping = asyncio.create_task(runtime.shutdown(grace=10))
    await asyncio.sleep(0)  # one loop step: the shutdown task sets its stop flag first
    assert runtime._stopping.is_set()
    release.set()
    await stopping

    assert finished == [4]
    assert await provider.fetch_work_item(30.0) is None  # acked, not abandoned
    async with Runtime(provider, orchestrations={"single": single}, options=FAST):
        state = await client.wait_for_orchestration("grace-1", timeout=10)
    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, 12)
