"""``max_payload_bytes``: payloads at the limit pass, larger ones are refused, nothing stored."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from _runtime_support import FAST, Store, running

from provkit.contract import events as ev
from provkit.runtime import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    Client,
    OrchestrationContext,
    OrchestrationStatus,
    PayloadTooLargeError,
    RuntimeOptions,
    TaskFailedError,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("store", ["memory"], indirect=True)]

LIMIT = 1000
OPTIONS = dataclasses.replace(FAST, max_payload_bytes=LIMIT)


def sized(size: int) -> str:
    """A string whose JSON text is ``size`` UTF-8 bytes (two-byte characters included)."""
    return "é" * ((size - 2) // 4) + "x" * (size - 2 - 2 * ((size - 2) // 4))


async def echo(ctx: OrchestrationContext, value: Any) -> Any:
    return value


async def relay(ctx: OrchestrationContext, value: Any) -> Any:
    try:
        return await ctx.schedule_activity("echo", value)
    except TaskFailedError as error:
        return f"{error.details.kind}: {error.details.message}"


async def test_client_refuses_oversized_inputs_and_event_data_storing_nothing(
    store: Store,
) -> None:
    """Inputs and event data over the limit raise PayloadTooLargeError; at the limit they go."""
    client = Client(store.provider, max_payload_bytes=LIMIT)
    with pytest.raises(PayloadTooLargeError) as raised:
        await client.start_orchestration("big", "echo", sized(LIMIT + 1))
    with pytest.raises(PayloadTooLargeError, match="data of event 'e' is 1,001 bytes"):
        await client.raise_event("big", "e", sized(LIMIT + 1))
    assert (raised.value.size, raised.value.limit) == (LIMIT + 1, LIMIT)
    assert str(raised.value) == (
        "input of orchestration 'echo' is 1,001 bytes of JSON, over the limit of 1,000 "
        "(max_payload_bytes)"
    )
    assert await store.provider.fetch_orchestration_item(30.0) is None
    await client.start_orchestration("fits", "echo", sized(LIMIT))
    item = await store.provider.fetch_orchestration_item(30.0)
    assert item is not None
    assert len(item.messages[0].input.encode()) == LIMIT  # type: ignore[attr-defined]
    assert RuntimeOptions().max_payload_bytes == DEFAULT_MAX_PAYLOAD_BYTES == 4 * 1024 * 1024
    with pytest.raises(ValueError, match="max_payload_bytes must be a positive integer"):
        Client(store.provider, max_payload_bytes=0)


async def test_runtime_refuses_oversized_results_inputs_and_outputs(store: Store) -> None:
    """A big activity result fails the activity; a big activity input or output fails the turn."""
    client = Client(store.provider, max_payload_bytes=10 * LIMIT)
    async with running(
        store.provider, {"echo": echo, "relay": relay}, {"echo": lambda v: v}, OPTIONS
    ):
        await client.start_orchestration("at-limit", "relay", sized(LIMIT))
        await client.start_orchestration("output", "echo", sized(LIMIT + 1))
        await client.start_orchestration("input", "relay", sized(LIMIT + 1))
        fits = await client.wait_for_orchestration("at-limit", timeout=10)
        output = await client.wait_for_orchestration("output", timeout=10)
        refused = await client.wait_for_orchestration("input", timeout=10)

    assert (fits.status, fits.output) == (OrchestrationStatus.COMPLETED, sized(LIMIT))
    for state, what in ((output, "output of the orchestration"), (refused, "input of activity")):
        assert state.status is OrchestrationStatus.FAILED
        assert state.error is not None
        assert state.error.kind == "payload_too_large"
        assert state.error.message.startswith(what)
        assert "1,001 bytes of JSON, over the limit of 1,000" in state.error.message
    for instance in ("output", "input"):
        history = await store.provider.read(instance)
        assert [type(e) for e in history] == [ev.OrchestrationStarted, ev.OrchestrationFailed]


async def test_oversized_activity_result_fails_only_the_activity(store: Store) -> None:
    """The orchestration catches the activity's payload_too_large failure and goes on."""
    client = Client(store.provider)
    async with running(
        store.provider, {"relay": relay}, {"echo": lambda _: sized(LIMIT + 1)}, OPTIONS
    ):
        await client.start_orchestration("result", "relay", "small")
        state = await client.wait_for_orchestration("result", timeout=10)

    assert state.output == (
        "payload_too_large: result of activity 'echo' is 1,001 bytes of JSON, over the limit "
        "of 1,000 (max_payload_bytes)"
    )
