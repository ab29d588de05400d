"""Provider factories defined outside provkit, as a provider author would write them.

``WrappedSqliteFactory`` hands out the SQLite reference provider as is;
``NoClockSqliteFactory`` hides its ``CLOCK`` capability, so the suite sleeps for real.
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
