"""Provider factories defined outside provkit, as a provider author would write them.

``WrappedSqliteFactory`` hands out the SQLite reference provider as is;
``NoClockSqliteFactory`` hides its ``CLOCK`` capability, so the suite sleeps for real;
``NoCapabilitiesSqliteFactory`` declares no optional capability at all (and never waits in a
fetch, as a provider without ``LONG_POLL`` must not).
"""

from __future__ import annotations

from typing import Any

from provkit.contract import Capability, Provider
from provkit.reference_providers import InMemorySqliteFactory


class WrappedSqliteFactory:
    """An in-memory SQLite provider per test, through a factory provkit does not know."""

    def __init__(self) -> None:
        self._inner = InMemorySqliteFactory()

    async def create_provider(self) -> Provider:
        return await self._inner.create_provider()

    async def dispose_provider(self, provider: Provider) -> None:
        await self._inner.dispose_provider(provider)


class _WithoutClock:
    """Forwards to a provider but does not declare ``CLOCK``: "now" stays the wall clock."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.name = f"{inner.name} (no clock)"
        self.capabilities = inner.capabilities - {Capability.CLOCK}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class NoClockSqliteFactory:
    """In-memory SQLite providers that the suite must drive with real sleeps."""

    def __init__(self) -> None:
        self._inner = InMemorySqliteFactory()

    async def create_provider(self) -> Any:
        return _WithoutClock(await self._inner.create_provider())

    async def dispose_provider(self, provider: Any) -> None:
        await provider.close()


class _WithoutCapabilities:
    """Forwards to a provider but declares no optional capability; fetches never wait."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.name = f"{inner.name} (no capabilities)"
        self.capabilities: frozenset[Capability] = frozenset()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def fetch_orchestration_item(self, lock_timeout: float, poll_timeout: float = 0.0) -> Any:
        return await self._inner.fetch_orchestration_item(lock_timeout, 0.0)

    async def fetch_work_item(self, lock_timeout: float, poll_timeout: float = 0.0) -> Any:
        return await self._inner.fetch_work_item(lock_timeout, 0.0)


class NoCapabilitiesSqliteFactory:
    """In-memory SQLite providers declaring no optional capability."""

    def __init__(self) -> None:
        self._inner = InMemorySqliteFactory()

    async def create_provider(self) -> Any:
        return _WithoutCapabilities(await self._inner.create_provider())

    async def dispose_provider(self, provider: Any) -> None:
        await provider.close()
