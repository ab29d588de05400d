"""``Client``: the messages it enqueues and the state it derives from history."""

from __future__ import annotations

from typing import Any

import pytest
from _runtime_support import running

from provkit.contract import (
    DeleteResult,
    ErrorCategory,
    ErrorDetails,
    InstanceFilter,
    NotFoundError,
    PruneResult,
    Status,
)
from provkit.contract.events import (
    Event,
    OrchestrationCancelRequested,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
)
from provkit.contract.messages import CancelInstance, ExternalRaised, StartOrchestration
from provkit.reference_providers import MemoryProvider, SqliteProvider
from provkit.runtime import Client, OrchestrationContext, OrchestrationState, OrchestrationStatus
from provkit.runtime._client import state_from_history

STARTED = OrchestrationStarted(event_id=1, name="greet", version="0", input='"x"')
BOOM = ErrorDetails(category=ErrorCategory.APPLICATION, kind="orchestration_failed", message="boom")
CANCELLED = ErrorDetails(category=ErrorCategory.APPLICATION, kind="cancelled", message="stop")


@pytest.mark.asyncio
async def test_client_enqueues_json_encoded_messages(provider: SqliteProvider) -> None:
    """start/raise/cancel enqueue one message each, payloads as compact JSON text."""
    client = Client(provider)
    await client.start_orchestration("c-1", "greet", {"who": "Ada"}, version="2")
    await client.raise_event("c-1", "go", [1, "é"])
    await client.cancel_instance("c-1", "changed my mind")

    item = await provider.fetch_orchestration_item(30.0)
    assert item is not None
    assert item.messages == [
        StartOrchestration(
            instance="c-1", orchestration="greet", input='{"who":"Ada"}', version="2"
        ),
        ExternalRaised(instance="c-1", name="go", data='[1,"é"]'),
        CancelInstance(instance="c-1", reason="changed my mind"),
    ]


@pytest.mark.asyncio
async def test_client_rejects_payloads_that_are_not_json(provider: SqliteProvider) -> None:
    """A non-JSON input fails at the call with a TypeError naming the type, enqueuing nothing."""
    client = Client(provider)
    with pytest.raises(TypeError, match="set"):
        await client.start_orchestration("c-2", "greet", {1, 2})
    assert await provider.fetch_orchestration_item(30.0) is None


@pytest.mark.asyncio
async def test_unknown_instance_is_not_found_and_waiting_times_out(
    provider: SqliteProvider,
) -> None:
    """An instance with no history is NOT_FOUND; waiting on it raises a clear TimeoutError."""
    client = Client(provider)
    assert await client.get_status("ghost") == OrchestrationState(
        instance="ghost", status=OrchestrationStatus.NOT_FOUND
    )
    with pytest.raises(TimeoutError, match=r"'ghost' did not finish within 0.05s \(status: "):
        await client.wait_for_orchestration("ghost", timeout=0.05)


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([STARTED], (OrchestrationStatus.RUNNING, None, None)),
        (
            [STARTED, OrchestrationCompleted(event_id=2, output='{"a":[1]}')],
            (OrchestrationStatus.COMPLETED, {"a": [1]}, None),
        ),
        (
            [STARTED, OrchestrationFailed(event_id=2, error=BOOM)],
            (OrchestrationStatus.FAILED, None, BOOM),
        ),
        (
            [
                STARTED,
                OrchestrationCancelRequested(event_id=2, reason="stop"),
                OrchestrationFailed(event_id=3, error=CANCELLED),
            ],
            (OrchestrationStatus.CANCELLED, None, CANCELLED),
        ),
        (
            [STARTED, OrchestrationContinuedAsNew(event_id=2, input="5")],
            (OrchestrationStatus.RUNNING, None, None),
        ),
        (
            [
                STARTED,
                OrchestrationCompleted(event_id=2, output="1"),
                OrchestrationFailed(event_id=3, error=BOOM),
            ],
            (OrchestrationStatus.COMPLETED, 1, None),
        ),
    ],
    ids=["running", "completed", "failed", "cancelled", "continued-as-new", "first-terminal"],
)
def test_state_is_derived_from_the_first_terminal_event(
    history: list[Event], expected: tuple[OrchestrationStatus, Any, ErrorDetails | None]
) -> None:
    """Status, output and error come from the execution's first terminal event."""
    state = state_from_history("i", history)
    assert (state.status, state.output, state.error) == expected
    assert state.name == "greet"


async def _double(ctx: OrchestrationContext, x: int) -> int:
    return int(await ctx.schedule_activity("double", x))


async def _double_activity(x: int) -> int:
    return 2 * x


@pytest.mark.asyncio
async def test_client_reads_lists_prunes_and_deletes_through_the_provider(
    provider: SqliteProvider,
) -> None:
    """Management calls: status with output, listing by status, prune, delete with counts."""
    client = Client(provider)
    async with running(provider, {"double": _double}, {"double": _double_activity}):
        for n in range(3):
            await client.start_orchestration(f"m-{n}", "double", n)
        for n in range(3):
            await client.wait_for_orchestration(f"m-{n}", timeout=10)

    info = await client.get_instance_info("m-2")
    assert (info.status, info.output, info.orchestration_name) == (Status.COMPLETED, "4", "double")
    assert await client.list_instances(page_size=2) == ["m-0", "m-1", "m-2"]
    assert await client.list_instances(Status.RUNNING) == []
    assert await client.prune_executions("m-0") == PruneResult(executions=0, events=0)
    events = len(await provider.read("m-0"))
    deleted = await client.delete_instance("m-0")
    assert deleted == DeleteResult(
        instances=1, executions=1, events=events, orchestrator_messages=0, worker_items=0
    )
    rest = await client.delete_instances(InstanceFilter(instances=["m-1"]))
    assert rest.instances == 1
    assert await client.list_instances() == ["m-2"]
    with pytest.raises(NotFoundError):
        await client.get_instance_info("m-0")


@pytest.mark.asyncio
async def test_management_calls_need_their_capability() -> None:
    """A provider without MANAGEMENT, DELETION or PRUNE: each call names what it lacks."""
    provider = MemoryProvider()
    client = Client(provider)
    calls = [
        client.get_instance_info("x"),
        client.list_instances(),
        client.delete_instance("x"),
        client.delete_instances(),
        client.prune_executions("x"),
    ]
    needed = ["MANAGEMENT", "MANAGEMENT", "DELETION", "DELETION", "PRUNE"]
    for call, capability in zip(calls, needed, strict=True):
        lacking = rf"does not declare Capability\.{capability}"
        with pytest.raises(NotImplementedError, match=lacking):
            await call
    await provider.close()
