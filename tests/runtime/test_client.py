"""``Client``: the messages it enqueues and the state it derives from history."""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

import pytest
from _runtime_support import FAST, FlakyProvider, running

from provkit.contract import (
    Capability,
    DeleteResult,
    ErrorCategory,
    ErrorDetails,
    InstanceFilter,
    NotFoundError,
    ProviderError,
    ProviderWrapper,
    PruneResult,
    Status,
    TransientError,
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
from provkit.runtime import (
    Client,
    InstanceEndedError,
    OrchestrationContext,
    OrchestrationState,
    OrchestrationStatus,
)
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


@pytest.mark.asyncio
async def test_transient_errors_are_retried_until_the_call_succeeds(
    provider: SqliteProvider,
) -> None:
    """Three TransientErrors, then success: the start is enqueued once, nothing raised."""
    flaky = FlakyProvider(provider)
    failures = iter([TransientError("enqueue_for_orchestrator", "busy")] * 3)
    flaky.fail["enqueue_for_orchestrator"] = lambda _args: next(failures, None)

    await Client(flaky).start_orchestration("retried", "greet", 1)

    assert len(flaky.tokens("enqueue_for_orchestrator")) == 4
    item = await provider.fetch_orchestration_item(30.0)
    assert item is not None
    assert item.messages == [
        StartOrchestration(instance="retried", orchestration="greet", input="1")
    ]


@pytest.mark.asyncio
async def test_lasting_transient_errors_end_in_one_clear_error_within_retry_for(
    provider: SqliteProvider,
) -> None:
    """A provider that stays busy: reads retried with growing waits, then one TransientError
    after about retry_for seconds."""
    flaky = FlakyProvider(provider)
    flaky.fail["read"] = lambda _args: TransientError("read", "sqlite: database is locked")
    client = Client(flaky, retry_for=0.3)

    began = time.monotonic()
    with pytest.raises(TransientError) as raised:
        await client.get_status("busy")
    took = time.monotonic() - began

    assert raised.value.operation == "read"
    assert re.fullmatch(
        r"get_status gave up after \d+ attempts in 0\.\d s \(retry_for=0\.3\); "
        r"last error: sqlite: database is locked",
        raised.value.message,
    ), raised.value.message
    assert raised.value.__cause__ is None
    assert 0.1 <= took <= 0.6
    # Waits of 25-50, 50-100, 100-200 ms: 3 or 4 reads fit in 0.3 s (2 on a slow machine);
    # retrying without backoff would make hundreds.
    assert 2 <= len(flaky.tokens("read")) <= 4


@pytest.mark.asyncio
async def test_permanent_errors_are_raised_at_once(provider: SqliteProvider) -> None:
    """A ProviderError that is not retryable is raised on the first call."""
    flaky = FlakyProvider(provider)
    flaky.fail["enqueue_for_orchestrator"] = lambda _args: ProviderError("enqueue", "broken")
    with pytest.raises(ProviderError, match="broken"):
        await Client(flaky).raise_event("x", "go")
    assert len(flaky.tokens("enqueue_for_orchestrator")) == 1


@pytest.mark.asyncio
async def test_cancel_is_refused_for_ended_instances_and_a_no_op_when_cancelled(
    provider: SqliteProvider,
) -> None:
    """Completed or failed: InstanceEndedError, nothing queued; cancelled: nothing happens."""
    for instance, end in (
        ("done", OrchestrationCompleted(event_id=2, output="1")),
        ("failed", OrchestrationFailed(event_id=2, error=BOOM)),
        ("cancelled", OrchestrationFailed(event_id=3, error=CANCELLED)),
    ):
        events: list[Event] = [STARTED, end]
        if instance == "cancelled":
            events.insert(1, OrchestrationCancelRequested(event_id=2, reason="stop"))
        await provider.append_history(instance, 1, events)
    client = Client(provider)

    with pytest.raises(
        InstanceEndedError, match="cannot cancel orchestration 'done': it already completed"
    ):
        await client.cancel_instance("done")
    with pytest.raises(InstanceEndedError, match="'failed': it already failed") as raised:
        await client.cancel_instance("failed")
    await client.cancel_instance("cancelled")

    assert raised.value.state.error == BOOM
    assert await provider.fetch_orchestration_item(30.0) is None


class WithoutManagement(ProviderWrapper):
    """The provider without its ``MANAGEMENT`` capability."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.inner.capabilities - {Capability.MANAGEMENT}


@pytest.mark.asyncio
@pytest.mark.parametrize("store", ["memory"], indirect=True)
async def test_status_of_an_instance_with_unreadable_history_shows_its_failure(
    provider: SqliteProvider,
) -> None:
    """Corrupt history: RUNNING then FAILED with the stored poison reason (MANAGEMENT), or
    FAILED with the corrupt-history error (without it)."""
    await provider.append_history("broken", 1, [STARTED])
    await provider.corrupt_history("broken", 1)
    client = Client(provider)
    bare = await Client(WithoutManagement(provider)).get_status("broken")
    before = await client.get_status("broken")

    await client.raise_event("broken", "wake")
    options = dataclasses.replace(FAST, max_attempts=1)
    async with running(provider, {"greet": greet}, options=options):
        after = await client.wait_for_orchestration("broken", timeout=10)

    assert before == OrchestrationState(instance="broken", status=OrchestrationStatus.RUNNING)
    assert bare.status is OrchestrationStatus.FAILED
    assert bare.error is not None
    assert (bare.error.category, bare.error.kind) == (
        ErrorCategory.INFRASTRUCTURE,
        "corrupt_history",
    )
    assert "history of 'broken'" in bare.error.message
    assert after.status is OrchestrationStatus.FAILED
    assert after.error is not None
    assert (after.error.category, after.error.kind) == (ErrorCategory.POISON, "poison")
    assert after.error.message.startswith(
        "messages of 'broken' were delivered 2 times (max_attempts=1); its history is unreadable"
    )


async def greet(ctx: Any, name: str) -> str:
    return f"hello {name}"


def test_history_without_a_start_but_with_a_failure_reads_as_failed() -> None:
    """A batch that was never readable still fails its instance: FAILED, with the error."""
    state = state_from_history("i", [OrchestrationFailed(event_id=1, error=BOOM)])
    assert (state.status, state.name, state.error) == (OrchestrationStatus.FAILED, None, BOOM)
