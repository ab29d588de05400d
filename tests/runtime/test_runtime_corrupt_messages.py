"""Undecodable messages and work items: given back, then failed as poison, never looping.

The SQLite provider's fault injection makes a queued message or item undecodable; the
runtime must count each delivery, fail the instance on the ``max_attempts``-th one, show the
reason through the client, and keep serving healthy instances meanwhile.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest
from _runtime_support import (
    FAST,
    FlakyProvider,
    Store,
    double,
    double_activity,
    history_until,
    running,
)

from provkit.contract import ErrorCategory
from provkit.runtime import Client, OrchestrationStatus

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("store", ["memory"], indirect=True)]

OPTIONS = dataclasses.replace(FAST, max_attempts=3)


class NoWork(FlakyProvider):
    """Hands out no work item, so scheduled activities stay queued."""

    async def fetch_work_item(self, lock_timeout: float, poll_timeout: float = 0.0) -> Any:
        return None


async def test_corrupt_start_and_work_item_fail_their_instances_after_max_attempts(
    store: Store,
) -> None:
    """Both fail on their third delivery with a poison reason the client shows."""
    provider = store.provider
    client = Client(provider)
    await client.start_orchestration("bad-work", "double", 4)
    async with running(NoWork(provider), {"double": double}, {"double": double_activity}):
        await history_until(provider, "bad-work", lambda h: len(h) == 2)
    await client.start_orchestration("bad-start", "double", 5)
    assert await provider.corrupt_work_items("bad-work") == 1
    assert await provider.corrupt_orchestrator_messages("bad-start") == 1
    await client.start_orchestration("healthy", "double", 6)

    recorded = FlakyProvider(provider)
    async with running(recorded, {"double": double}, {"double": double_activity}, OPTIONS):
        states = {
            i: await client.wait_for_orchestration(i, timeout=10)
            for i in ("healthy", "bad-start", "bad-work")
        }

    assert (states["healthy"].status, states["healthy"].output) == (
        OrchestrationStatus.COMPLETED,
        12,
    )
    start, work = states["bad-start"].error, states["bad-work"].error
    assert start is not None
    assert work is not None
    assert states["bad-start"].status is states["bad-work"].status is OrchestrationStatus.FAILED
    assert (start.category, work.category) == (ErrorCategory.POISON, ErrorCategory.POISON)
    assert start.message.startswith(
        "messages of 'bad-start' were delivered 3 times (max_attempts=3); a message is unreadable: "
    )
    assert work.message.startswith(
        "activity 'double' (event 2) failed: the work item was delivered 3 times "
        "(max_attempts=3) and is unreadable: "
    )
    # Deliveries 1 and 2 of each were given back; the third failed it.
    abandons = Counter(name for name, _ in recorded.calls if name.startswith("abandon_"))
    assert abandons == Counter({"abandon_orchestration_item": 2, "abandon_work_item": 2})
