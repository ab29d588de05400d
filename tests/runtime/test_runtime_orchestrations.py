"""End-to-end behaviour of orchestrations on a real runtime, on both SQLite providers.

Each test registers small orchestrations and activities, drives them through ``Client``
and checks the final state and the stored history.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from _runtime_support import FAST, history_until, running

from provkit.contract import ErrorCategory
from provkit.contract.events import (
    ActivityCompleted,
    ActivityScheduled,
    Event,
    ExternalEvent,
    ExternalSubscribed,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationStarted,
    SubOrchestrationScheduled,
    TimerCreated,
    TimerFired,
)
from provkit.reference_providers import SqliteProvider
from provkit.runtime import (
    Client,
    OrchestrationContext,
    OrchestrationStatus,
    TaskFailedError,
)

pytestmark = pytest.mark.asyncio


def of_type(history: list[Event], kind: type[Any]) -> list[Any]:
    return [event for event in history if isinstance(event, kind)]


async def square(x: int) -> int:
    return x * x


async def fan_out(ctx: OrchestrationContext, n: int) -> int:
    squares = await ctx.when_all([ctx.schedule_activity("square", i) for i in range(n)])
    return sum(squares)


async def test_fan_out_fan_in_sums_every_activity_result(provider: SqliteProvider) -> None:
    """Five parallel activities all run and their results are joined in schedule order."""
    client = Client(provider)
    async with running(provider, {"fan_out": fan_out}, {"square": square}):
        await client.start_orchestration("fan-1", "fan_out", 5)
        state = await client.wait_for_orchestration("fan-1", timeout=10)

    assert (state.status, state.output, state.error) == (OrchestrationStatus.COMPLETED, 30, None)
    history = await provider.read("fan-1")
    scheduled = of_type(history, ActivityScheduled)
    assert [e.input for e in scheduled] == ["0", "1", "2", "3", "4"]
    completed = of_type(history, ActivityCompleted)
    assert sorted(e.source_event_id for e in completed) == [e.event_id for e in scheduled]
    assert of_type(history, OrchestrationCompleted)[0].output == "30"


async def sleeper(ctx: OrchestrationContext, delay: float) -> str:
    await ctx.schedule_timer(delay)
    await ctx.schedule_timer(delay)
    return "woke twice"


async def test_timers_fire_in_order_and_not_before_their_time(provider: SqliteProvider) -> None:
    """Two sequential 50 ms timers each fire at their scheduled time, never earlier."""
    client = Client(provider)
    async with running(provider, {"sleeper": sleeper}):
        await client.start_orchestration("timer-1", "sleeper", 0.05)
        state = await client.wait_for_orchestration("timer-1", timeout=10)

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, "woke twice")
    history = await provider.read("timer-1")
    started = history[0]
    assert isinstance(started, OrchestrationStarted)
    created, fired = of_type(history, TimerCreated), of_type(history, TimerFired)
    assert [e.source_event_id for e in fired] == [e.event_id for e in created]
    assert [e.fire_at_ms for e in fired] == [e.fire_at_ms for e in created]
    assert created[0].fire_at_ms >= started.timestamp_ms + 50
    assert created[1].fire_at_ms >= created[0].fire_at_ms + 50
    # The turn that saw the first timer fire could not have happened before its time.
    second_created = created[1]
    assert second_created.timestamp_ms >= created[0].fire_at_ms


async def approval(ctx: OrchestrationContext, _: Any) -> list[Any]:
    prepared = await ctx.schedule_activity("prepare", "doc")
    decision = await ctx.wait_for_event("approval")
    return [prepared, decision]


async def test_event_raised_before_the_subscription_is_buffered_and_consumed(
    provider: SqliteProvider,
) -> None:
    """An event raised while the orchestration is still busy is delivered when it subscribes."""
    raised = asyncio.Event()

    async def prepare(doc: str) -> str:
        await raised.wait()  # hold the orchestration until the event is already queued
        return f"prepared {doc}"

    client = Client(provider)
    async with running(provider, {"approval": approval}, {"prepare": prepare}):
        await client.start_orchestration("evt-early", "approval")
        await client.raise_event("evt-early", "approval", {"ok": True})
        raised.set()
        state = await client.wait_for_orchestration("evt-early", timeout=10)

    assert (state.status, state.output) == (
        OrchestrationStatus.COMPLETED,
        ["prepared doc", {"ok": True}],
    )
    history = await provider.read("evt-early")
    (event,) = of_type(history, ExternalEvent)
    (subscribed,) = of_type(history, ExternalSubscribed)
    assert (event.name, event.data, event.source_event_id) == ("approval", '{"ok":true}', None)
    assert event.event_id < subscribed.event_id


async def waits_for_approval(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.wait_for_event("approval")


async def test_event_raised_after_the_subscription_completes_it(provider: SqliteProvider) -> None:
    """An event raised once the orchestration waits for it completes the subscription."""
    client = Client(provider)
    async with running(provider, {"waits": waits_for_approval}):
        await client.start_orchestration("evt-late", "waits")
        await history_until(
            provider, "evt-late", lambda h: any(isinstance(e, ExternalSubscribed) for e in h)
        )
        assert (await client.get_status("evt-late")).status is OrchestrationStatus.RUNNING
        await client.raise_event("evt-late", "approval", "granted")
        state = await client.wait_for_orchestration("evt-late", timeout=10)

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, "granted")
    history = await provider.read("evt-late")
    (subscribed,) = of_type(history, ExternalSubscribed)
    (event,) = of_type(history, ExternalEvent)
    assert event.source_event_id == subscribed.event_id


async def child(ctx: OrchestrationContext, x: int) -> int:
    if x < 0:
        raise ValueError(f"negative input {x}")
    result: int = await ctx.schedule_activity("square", x)
    return result


async def parent(ctx: OrchestrationContext, xs: list[int]) -> list[Any]:
    results: list[Any] = []
    for x in xs:
        try:
            results.append(await ctx.schedule_sub_orchestration("child", x))
        except TaskFailedError as exc:
            results.append({"failed": exc.details.message})
    named = await ctx.schedule_sub_orchestration("child", 4, instance="named-child")
    results.append(named)
    return results


async def test_sub_orchestrations_return_results_and_surface_failures(
    provider: SqliteProvider,
) -> None:
    """A child's result reaches the parent; a failing child raises TaskFailedError there."""
    client = Client(provider)
    async with running(provider, {"parent": parent, "child": child}, {"square": square}):
        await client.start_orchestration("parent-1", "parent", [3, -1])
        state = await client.wait_for_orchestration("parent-1", timeout=10)

    assert state.status is OrchestrationStatus.COMPLETED
    assert state.output == [9, {"failed": "negative input -1"}, 16]
    history = await provider.read("parent-1")
    children = [e.instance for e in of_type(history, SubOrchestrationScheduled)]
    ids = [e.event_id for e in of_type(history, SubOrchestrationScheduled)]
    assert children == [f"parent-1::sub::{ids[0]}", f"parent-1::sub::{ids[1]}", "named-child"]
    statuses = [(await client.get_status(c)).status for c in children]
    assert statuses == [
        OrchestrationStatus.COMPLETED,
        OrchestrationStatus.FAILED,
        OrchestrationStatus.COMPLETED,
    ]
    child_started = (await provider.read(children[0]))[0]
    assert isinstance(child_started, OrchestrationStarted)
    assert (child_started.parent_instance, child_started.parent_id) == ("parent-1", ids[0])


async def counter(ctx: OrchestrationContext, n: int) -> Any:
    squared = await ctx.schedule_activity("square", n)
    if n < 3:
        return ctx.continue_as_new(n + 1)
    return {"n": n, "squared": squared}


async def test_continue_as_new_keeps_one_history_per_execution(provider: SqliteProvider) -> None:
    """Each continue-as-new starts execution N+1; every execution's history stays readable."""
    client = Client(provider)
    async with running(provider, {"counter": counter}, {"square": square}):
        await client.start_orchestration("can-1", "counter", 1)
        state = await client.wait_for_orchestration("can-1", timeout=10)

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, {"n": 3, "squared": 9})
    assert await provider.list_executions("can-1") == [1, 2, 3]
    for execution_id, n in [(1, 1), (2, 2)]:
        history = await provider.read_execution("can-1", execution_id)
        assert isinstance(history[0], OrchestrationStarted)
        assert history[0].input == str(n)
        (ended,) = of_type(history, OrchestrationContinuedAsNew)
        assert ended.input == str(n + 1)
        assert ended is history[-1]
    last = await provider.read_execution("can-1", 3)
    assert last == await provider.read("can-1")
    assert isinstance(last[0], OrchestrationStarted)
    assert last[0].input == "3"
    assert of_type(last, OrchestrationCompleted)[0].output == '{"n":3,"squared":9}'


async def counts_in_a_child(ctx: OrchestrationContext, start: int) -> Any:
    return await ctx.schedule_sub_orchestration("counter", start, instance="counting-child")


async def test_child_that_continues_as_new_reports_its_final_result(
    provider: SqliteProvider,
) -> None:
    """A child's last execution, not its first, answers the parent."""
    client = Client(provider)
    orchestrations = {"outer": counts_in_a_child, "counter": counter}
    async with running(provider, orchestrations, {"square": square}):
        await client.start_orchestration("outer-1", "outer", 2)
        state = await client.wait_for_orchestration("outer-1", timeout=10)

    assert (state.status, state.output) == (OrchestrationStatus.COMPLETED, {"n": 3, "squared": 9})
    assert await provider.list_executions("counting-child") == [1, 2]
    last_start = (await provider.read("counting-child"))[0]
    assert isinstance(last_start, OrchestrationStarted)
    assert (last_start.input, last_start.parent_instance) == ("3", "outer-1")


async def test_cancelling_a_running_instance_drops_its_pending_activities(
    provider: SqliteProvider,
) -> None:
    """Cancel ends the instance CANCELLED, deletes its queued work items, stops running ones."""
    started = asyncio.Queue[int]()
    stopped = asyncio.Queue[int]()

    async def blocked(i: int) -> None:
        await started.put(i)
        try:
            await asyncio.Event().wait()
        finally:
            await stopped.put(i)

    async def waits_on_three(ctx: OrchestrationContext, _: Any) -> Any:
        return await ctx.when_all([ctx.schedule_activity("blocked", i) for i in range(3)])

    options = dataclasses.replace(FAST, worker_lock_timeout=0.3)
    client = Client(provider)
    async with running(provider, {"waits": waits_on_three}, {"blocked": blocked}, options):
        await client.start_orchestration("cancel-1", "waits")
        running_now = {await started.get(), await started.get()}  # both worker slots busy
        await client.cancel_instance("cancel-1", "no longer needed")
        state = await client.wait_for_orchestration("cancel-1", timeout=10)
        # The runtime notices the deleted items at its next lease renewal and stops waiting.
        assert {await stopped.get(), await stopped.get()} == running_now

    assert state.status is OrchestrationStatus.CANCELLED
    assert state.error is not None
    assert (state.error.category, state.error.kind) == (ErrorCategory.APPLICATION, "cancelled")
    assert "no longer needed" in state.error.message
    assert started.empty()  # the third activity was deleted before any worker took it
    assert await provider.fetch_work_item(30.0) is None
    history = await provider.read("cancel-1")
    assert of_type(history, ActivityCompleted) == []


async def waits_in_a_child(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.schedule_sub_orchestration("waits", None, instance="waiting-child")


async def test_cancelling_a_parent_cancels_its_running_child(provider: SqliteProvider) -> None:
    """A cancelled parent passes the cancel on to a child that is still running."""
    client = Client(provider)
    orchestrations = {"parent": waits_in_a_child, "waits": waits_for_approval}
    async with running(provider, orchestrations):
        await client.start_orchestration("cancel-parent", "parent")
        await history_until(
            provider, "waiting-child", lambda h: any(isinstance(e, ExternalSubscribed) for e in h)
        )
        await client.cancel_instance("cancel-parent", "tear down")
        parent_state = await client.wait_for_orchestration("cancel-parent", timeout=10)
        child_state = await client.wait_for_orchestration("waiting-child", timeout=10)

    assert (parent_state.status, child_state.status) == (
        OrchestrationStatus.CANCELLED,
        OrchestrationStatus.CANCELLED,
    )
    assert child_state.error is not None
    assert child_state.error.message == "tear down"


async def test_messages_for_ended_or_unknown_instances_are_consumed_without_effect(
    provider: SqliteProvider,
) -> None:
    """A second start of a finished instance and events for unknown ones change nothing."""
    client = Client(provider)
    options = dataclasses.replace(FAST, orchestration_concurrency=1)  # batches in queue order
    async with running(provider, {"fan_out": fan_out}, {"square": square}, options):
        await client.start_orchestration("done-1", "fan_out", 2)
        await client.wait_for_orchestration("done-1", timeout=10)
        finished = await provider.read("done-1")
        await client.start_orchestration("done-1", "fan_out", 3)
        await client.raise_event("done-1", "late", 1)
        await client.raise_event("ghost", "early", 2)
        await client.start_orchestration("marker", "fan_out", 1)
        await client.wait_for_orchestration("marker", timeout=10)

    assert await provider.read("done-1") == finished
    assert (await client.get_status("ghost")).status is OrchestrationStatus.NOT_FOUND
    assert await provider.fetch_orchestration_item(30.0) is None  # nothing left queued


async def fails(x: int) -> None:
    raise RuntimeError(f"boom {x}")


async def handles_failure(ctx: OrchestrationContext, x: int) -> dict[str, str]:
    try:
        await ctx.schedule_activity("fails", x)
    except TaskFailedError as exc:
        return {"caught": exc.details.message, "category": exc.details.category.value}
    return {"caught": "nothing"}


async def ignores_failure(ctx: OrchestrationContext, x: int) -> Any:
    return await ctx.schedule_activity("fails", x)


async def calls_unknown(ctx: OrchestrationContext, _: Any) -> Any:
    return await ctx.schedule_activity("not-registered", 1)


async def test_activity_failures_reach_the_orchestration(provider: SqliteProvider) -> None:
    """A caught activity error is handled; an uncaught one fails the instance with its message."""
    client = Client(provider)
    orchestrations = {
        "handles": handles_failure,
        "ignores": ignores_failure,
        "unknown": calls_unknown,
    }
    async with running(provider, orchestrations, {"fails": fails}):
        await client.start_orchestration("caught", "handles", 1)
        await client.start_orchestration("uncaught", "ignores", 2)
        await client.start_orchestration("unknown", "unknown")
        caught = await client.wait_for_orchestration("caught", timeout=10)
        uncaught = await client.wait_for_orchestration("uncaught", timeout=10)
        unknown = await client.wait_for_orchestration("unknown", timeout=10)

    assert (caught.status, caught.output) == (
        OrchestrationStatus.COMPLETED,
        {"caught": "boom 1", "category": "application"},
    )
    assert uncaught.status is OrchestrationStatus.FAILED
    assert uncaught.error is not None
    assert uncaught.error.category is ErrorCategory.APPLICATION
    assert "boom 2" in uncaught.error.message
    assert unknown.status is OrchestrationStatus.FAILED
    assert unknown.error is not None
    assert unknown.error.category is ErrorCategory.CONFIGURATION
    assert "'not-registered' is not registered" in unknown.error.message
