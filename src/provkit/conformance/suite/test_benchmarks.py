"""Opt-in micro-benchmarks of single provider operations (``-m provider_benchmark``).

Each round drives one operation on the provider's own event loop; what it consumes is
enqueued in the untimed setup. pytest-benchmark's own options (``--benchmark-compare``...) apply.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from pytest_benchmark.fixture import BenchmarkFixture

from provkit.conformance._builders import (
    activity_done,
    first_turn_metadata,
    scheduled,
    start_item,
    started,
    work_item,
)
from provkit.contract import Provider

pytestmark = pytest.mark.provider_benchmark

ROUNDS = 200
WARMUP_ROUNDS = 10
LOCK_TIMEOUT = 30.0

_T = TypeVar("_T")


@pytest.fixture(autouse=True)
def _name_the_provider(benchmark: BenchmarkFixture, provider: Provider) -> None:
    """Each saved figure says which provider it measured (pytest-benchmark extra info)."""
    benchmark.extra_info["provider"] = provider.name


@pytest_asyncio.fixture
async def provider_loop(provider: Provider) -> asyncio.AbstractEventLoop:
    """The event loop the provider was created on; benchmarks drive it between rounds."""
    return asyncio.get_running_loop()


@pytest.fixture
def raw_provider(provider: Provider) -> Provider:
    """The provider without the suite's hang guard, whose per-call task is not its cost."""
    inner: Provider = getattr(provider, "inner", provider)
    return inner


def _driver(loop: asyncio.AbstractEventLoop) -> Callable[[Coroutine[Any, Any, _T]], _T]:
    def drive(coro: Coroutine[Any, Any, _T]) -> _T:
        return loop.run_until_complete(coro)

    return drive


def _measure(
    benchmark: BenchmarkFixture,
    target: Callable[..., _T],
    setup: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]] | None = None,
) -> _T:
    """``ROUNDS`` timed rounds of ``target`` (after untimed warm-up), one call per round."""
    result: _T = benchmark.pedantic(  # type: ignore[no-untyped-call]
        target, setup=setup, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS
    )
    return result


def test_benchmark_event_loop_overhead(
    benchmark: BenchmarkFixture, provider_loop: asyncio.AbstractEventLoop
) -> None:
    """Reference: driving one no-op coroutine per round, included in every figure below."""
    drive = _driver(provider_loop)

    async def nothing() -> int:
        return 1

    assert _measure(benchmark, lambda: drive(nothing())) == 1


def test_benchmark_enqueue_for_orchestrator(
    benchmark: BenchmarkFixture,
    provider_loop: asyncio.AbstractEventLoop,
    raw_provider: Provider,
) -> None:
    """``enqueue_for_orchestrator`` of a start message for a new instance."""
    drive = _driver(provider_loop)
    numbers = itertools.count()

    def enqueue() -> None:
        drive(raw_provider.enqueue_for_orchestrator(start_item(f"bench-{next(numbers)}")))

    _measure(benchmark, enqueue)

    first = drive(raw_provider.fetch_orchestration_item(LOCK_TIMEOUT, 0.0))
    assert first is not None
    assert first.instance == "bench-0"


def test_benchmark_fetch_and_ack_orchestration_item(
    benchmark: BenchmarkFixture,
    provider_loop: asyncio.AbstractEventLoop,
    raw_provider: Provider,
) -> None:
    """Fetch of a start batch and the ack of a first turn scheduling one activity."""
    drive = _driver(provider_loop)
    numbers = itertools.count()
    turns: list[tuple[str, str]] = []

    def setup() -> tuple[tuple[str], dict[str, Any]]:
        instance = f"bench-{next(numbers)}"
        drive(raw_provider.enqueue_for_orchestrator(start_item(instance)))
        return (instance,), {}

    async def turn(instance: str) -> None:
        item = await raw_provider.fetch_orchestration_item(LOCK_TIMEOUT, 0.0)
        assert item is not None
        await raw_provider.ack_orchestration_item(
            item.lock_token,
            item.execution_id,
            [started(), scheduled(2)],
            [work_item(item.instance, 2)],
            [],
            first_turn_metadata(),
        )
        turns.append((instance, item.instance))

    _measure(benchmark, lambda instance: drive(turn(instance)), setup)

    assert turns, "the benchmark never ran a turn"
    assert [got for _, got in turns] == [expected for expected, _ in turns]


def test_benchmark_fetch_and_ack_work_item(
    benchmark: BenchmarkFixture,
    provider_loop: asyncio.AbstractEventLoop,
    raw_provider: Provider,
) -> None:
    """Fetch of one worker item and its ack with the activity's completion message."""
    drive = _driver(provider_loop)
    numbers = itertools.count()
    leases: list[tuple[str, str]] = []

    def setup() -> tuple[tuple[str], dict[str, Any]]:
        instance = f"bench-{next(numbers)}"
        drive(raw_provider.enqueue_for_worker(work_item(instance, 2)))
        return (instance,), {}

    async def run_activity(instance: str) -> None:
        lease = await raw_provider.fetch_work_item(LOCK_TIMEOUT, 0.0)
        assert lease is not None
        await raw_provider.ack_work_item(lease.lock_token, activity_done(lease.item.instance, 2))
        leases.append((instance, lease.item.instance))

    _measure(benchmark, lambda instance: drive(run_activity(instance)), setup)

    assert leases, "the benchmark never ran an activity"
    assert [got for _, got in leases] == [expected for expected, _ in leases]
