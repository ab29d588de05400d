"""A small stand-in for the conformance suite: known outcomes in two categories.

Run with an explicit path (``pytester.runpytest(..., "fake_suite.py")``); its name keeps
provkit's own test run from collecting it.
"""

from typing import Any

import pytest

from provkit.conformance import SuiteClock, Timing
from provkit.contract import Capability

pytestmark = pytest.mark.asyncio


@pytest.mark.atomicity
async def test_worker_item_round_trips(provider: Any, timing: Timing, clock: SuiteClock) -> None:
    """An enqueued worker item is fetched back."""
    await provider.enqueue_for_worker("item-1")
    assert await provider.fetch_work_item(timing.lock_timeout) == "item-1"


@pytest.mark.atomicity
async def test_empty_queue_yields_an_item(provider: Any) -> None:
    """A fetch from an empty worker queue returns an item (deliberately wrong)."""
    assert await provider.fetch_work_item(1.0) == "never enqueued"


@pytest.mark.atomicity
async def test_each_test_gets_a_fresh_provider(provider: Any) -> None:
    """Nothing enqueued by another test is visible."""
    assert await provider.fetch_work_item(1.0) is None


@pytest.mark.queue_semantics
@pytest.mark.capability(Capability.LONG_POLL)
async def test_needs_long_poll(provider: Any) -> None:
    """Runs only for providers declaring LONG_POLL."""
    assert await provider.fetch_work_item(1.0, 0.01) is None


@pytest.mark.queue_semantics
async def test_fifo(provider: Any) -> None:
    """Worker items come back in enqueue order."""
    for item in ("a", "b"):
        await provider.enqueue_for_worker(item)
    assert [await provider.fetch_work_item(1.0) for _ in range(2)] == ["a", "b"]


@pytest.mark.provider_benchmark
async def test_benchmark_fetch(provider: Any) -> None:
    """A benchmark: runs only when -m selects provider_benchmark."""
    assert await provider.fetch_work_item(1.0) is None
