"""The instrumenting provider wrapper: counts and times calls, observes results, changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from provkit.conformance._builders import work_item
from provkit.contract import LockLostError, check_provider
from provkit.reference_providers import SqliteProvider
from provkit.stress import InstrumentedProvider

pytestmark = pytest.mark.asyncio


class _Echo:
    name = "echo"
    capabilities = frozenset()

    def __init__(self) -> None:
        self.closed = False

    async def read(self, instance: str) -> list[str]:
        return [instance]

    async def ack_work_item(self, lock_token: str, completion: Any) -> None:
        raise LockLostError("ack_work_item", f"token {lock_token} is dead")

    async def close(self) -> None:
        self.closed = True

    def describe(self) -> str:
        return "plain method"


async def test_wrapper_counts_calls_and_errors_per_operation() -> None:
    """Each coroutine call is counted under its method name; raising calls count as errors."""
    wrapped = InstrumentedProvider(_Echo())
    for n in range(3):
        assert await wrapped.read(f"i{n}") == [f"i{n}"]
    with pytest.raises(LockLostError):
        await wrapped.ack_work_item("t1", None)
    stats = {op.operation: op for op in wrapped.stats()}
    assert sorted(stats) == ["ack_work_item", "read"]
    assert (stats["read"].count, stats["read"].errors) == (3, 0)
    assert (stats["ack_work_item"].count, stats["ack_work_item"].errors) == (1, 1)
    assert stats["read"].p50_ms >= 0
    assert stats["read"].p99_ms >= stats["read"].p50_ms
    assert stats["read"].total_ms >= stats["read"].p99_ms


async def test_wrapper_passes_other_attributes_through() -> None:
    """Plain attributes and methods are the inner provider's; reset forgets recorded calls."""
    inner = _Echo()
    wrapped = InstrumentedProvider(inner)
    assert (wrapped.name, wrapped.capabilities, wrapped.inner) == ("echo", frozenset(), inner)
    assert wrapped.describe() == "plain method"
    await wrapped.close()
    assert inner.closed is True
    wrapped.reset()
    assert wrapped.stats() == ()


async def test_observers_see_results_and_arguments_of_successful_calls() -> None:
    """An observer gets the result and the arguments, positional in the contract's order."""
    seen: list[tuple[Any, ...]] = []
    wrapped = InstrumentedProvider(
        _Echo(),
        observers={
            "read": lambda result, *a, **k: seen.append((result, a, k)),
            "ack_work_item": lambda *a, **k: seen.append(("ack",)),
        },
    )
    await wrapped.read("x")
    await wrapped.read(instance="y")
    with pytest.raises(LockLostError):
        await wrapped.ack_work_item("t", None)
    assert seen == [(["x"], ("x",), {}), (["y"], ("y",), {})]


async def test_wrapped_sqlite_provider_is_still_a_provider() -> None:
    """Wrapping a real provider keeps it a Provider; empty fetches are counted apart."""
    provider = await SqliteProvider.open_memory()
    try:
        wrapped = InstrumentedProvider(provider)
        assert check_provider(wrapped) is wrapped
        assert await wrapped.read("nobody") == []
        assert await wrapped.fetch_work_item(1.0, 0.0) is None
        await wrapped.enqueue_for_worker(work_item("inst", 1))
        lease = await wrapped.fetch_work_item(1.0, 0.0)
        assert lease is not None
        counts = {op.operation: op.count for op in wrapped.stats()}
        assert counts == {
            "enqueue_for_worker": 1,
            "fetch_work_item": 1,
            "fetch_work_item (empty)": 1,
            "read": 1,
        }
    finally:
        await provider.close()
