"""Factories for the plugin's own tests: a tiny well-behaved provider, broken and hanging ones.

Copied into a pytester directory and named as ``--provider=fake_providers:<Factory>``. The
well-behaved factory logs every create and dispose to ``provider-events.log`` there.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from provkit.contract import Capability

LOG = Path("provider-events.log")


class FakeProvider:
    """A worker queue in a list; every other contract method exists but is never called."""

    capabilities: frozenset[Any] = frozenset()

    def __init__(self, name: str = "fake provider") -> None:
        self.name = name
        self.items: list[str] = []

    async def enqueue_for_worker(self, item: str) -> None:
        self.items.append(item)

    async def fetch_work_item(self, lock_timeout: float, poll_timeout: float = 0.0) -> str | None:
        return self.items.pop(0) if self.items else None

    async def close(self) -> None:
        _log("close")


def _unused(operation: str) -> Any:
    async def method(self: FakeProvider, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{operation}() is not used by the fake suite")

    return method


UNUSED = [
    "enqueue_for_orchestrator",
    "fetch_orchestration_item",
    "ack_orchestration_item",
    "abandon_orchestration_item",
    "renew_orchestration_item_lock",
    "ack_work_item",
    "abandon_work_item",
    "renew_work_item_lock",
    "read",
    "read_execution",
    "list_executions",
    "append_history",
]
for _operation in UNUSED:
    setattr(FakeProvider, _operation, _unused(_operation))


def _log(event: str) -> None:
    with LOG.open("a") as log:
        log.write(f"{event}\n")


class FakeFactory:
    """Makes ``FakeProvider`` s; its ``dispose_provider`` does not close them."""

    async def create_provider(self) -> FakeProvider:
        _log("create")
        return FakeProvider()

    async def dispose_provider(self, provider: FakeProvider) -> None:
        _log("dispose")


class ClosingFactory:
    """No ``dispose_provider``: the plugin must call ``provider.close()``."""

    async def create_provider(self) -> FakeProvider:
        _log("create")
        return FakeProvider()


class ClockClaimingProvider(FakeProvider):
    """Declares ``CLOCK`` but has no ``set_clock``."""

    capabilities = frozenset({Capability.CLOCK})


class ClockClaimingFactory:
    async def create_provider(self) -> FakeProvider:
        return ClockClaimingProvider()


class ManagementClaimingProvider(FakeProvider):
    """Declares ``MANAGEMENT`` and ``LONG_POLL`` but has only one management method."""

    capabilities = frozenset({Capability.MANAGEMENT, Capability.LONG_POLL})

    async def get_queue_depths(self) -> None:
        return None


class ManagementClaimingFactory:
    async def create_provider(self) -> FakeProvider:
        return ManagementClaimingProvider()


class LongPollingProvider(FakeProvider):
    """Declares ``LONG_POLL`` (which has no methods)."""

    capabilities = frozenset({Capability.LONG_POLL})


class LongPollingFactory:
    async def create_provider(self) -> FakeProvider:
        return LongPollingProvider()


class TwoMissingProvider(FakeProvider):
    """Lacks two contract methods (a half-written provider)."""

    ack_work_item = None
    renew_work_item_lock = None


class TwoMissingFactory:
    async def create_provider(self) -> FakeProvider:
        _log("create")
        return TwoMissingProvider()


class ConnectionStringFactory:
    """Returns a connection string instead of a provider."""

    async def create_provider(self) -> str:
        return "sqlite:///provider.db"


class NoneFactory:
    """Forgets to return the provider it made."""

    async def create_provider(self) -> None:
        FakeProvider()


class SyncFactory:
    """``create_provider`` is a plain method."""

    def create_provider(self) -> FakeProvider:
        return FakeProvider()


fake_factory = FakeFactory()


def make_fake_factory() -> FakeFactory:
    """A zero-argument callable returning a factory."""
    return FakeFactory()


NOT_A_FACTORY = 42


class NoDatabaseFactory:
    """Its constructor fails, as with a missing connection setting."""

    def __init__(self) -> None:
        raise RuntimeError("PROVIDER_DSN is not set")


class DatabaseDownFactory:
    """Every ``create_provider()`` fails, as with an unreachable database."""

    async def create_provider(self) -> FakeProvider:
        raise ConnectionRefusedError("connection to 127.0.0.1:5432 refused")


class StuckCreateFactory:
    """``create_provider()`` never returns."""

    async def create_provider(self) -> FakeProvider:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class HangingProvider(FakeProvider):
    """``fetch_work_item`` awaits something that never happens."""

    async def fetch_work_item(self, lock_timeout: float, poll_timeout: float = 0.0) -> str | None:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class HangingFactory:
    async def create_provider(self) -> FakeProvider:
        return HangingProvider()


class StubbornProvider(FakeProvider):
    """``fetch_work_item`` hangs and swallows every cancellation (a bare ``except:`` retry)."""

    async def fetch_work_item(self, lock_timeout: float, poll_timeout: float = 0.0) -> str | None:
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                continue


class StubbornFactory:
    async def create_provider(self) -> FakeProvider:
        return StubbornProvider()


class BlockingProvider(FakeProvider):
    """``fetch_work_item`` blocks the event loop itself (synchronous code in an async method)."""

    async def fetch_work_item(self, lock_timeout: float, poll_timeout: float = 0.0) -> str | None:
        time.sleep(3600)  # noqa: ASYNC251 - blocking the loop is what this provider is for
        raise AssertionError("unreachable")


class BlockingFactory:
    async def create_provider(self) -> FakeProvider:
        return BlockingProvider()
