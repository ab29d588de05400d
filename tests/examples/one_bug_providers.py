"""One-bug providers for provkit's own tests of the model category, built on ``memory``.

``LeaseLiveAtExpiry`` treats a worker lease as still live at its expiry millisecond: acking,
renewing or abandoning it then succeeds, where the contract says the lease has expired.
"""

from __future__ import annotations

from provkit.contract import LockLostError, Provider
from provkit.reference_providers.memory import MemoryProvider, _WorkItem


class _LeaseLiveAtExpiry(MemoryProvider):
    def _live_lease(self, token: str, now: int, operation: str) -> _WorkItem:
        for work in self._work:
            if work.token == token and now <= work.expires_at:
                return work
        raise LockLostError(operation, "no live lease for this token")


class LeaseLiveAtExpiry:
    """Factory of ``_LeaseLiveAtExpiry`` providers."""

    async def create_provider(self) -> Provider:
        return _LeaseLiveAtExpiry()

    async def dispose_provider(self, provider: Provider) -> None:
        await provider.close()
