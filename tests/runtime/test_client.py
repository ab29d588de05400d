"""``Client``: the messages it enqueues and the state it derives from history."""

from __future__ import annotations

from typing import Any

import pytest

from provkit.contract import ErrorCategory, ErrorDetails
from provkit.contract.events import (
    Event,
    OrchestrationCancelRequested,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
)
from provkit.contract.messages import CancelInstance, ExternalRaised, StartOrchestration
from provkit.reference_providers import SqliteProvider
from provkit.runtime import Client, OrchestrationState, OrchestrationStatus
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
