"""Mutants any provider could have, built as wrappers around a reference provider."""

from __future__ import annotations

from typing import Any

from provkit.contract import Capability, Clock, LockLostError
from provkit.contract.messages import OrchestratorMessage
from provkit.mutants._bases import Breaks, WrapperMutant

__all__ = [
    "ClockIgnored",
    "CompletionDropped",
    "DeclaresLongPollWithoutIt",
    "HalvedDurations",
    "LockLostSwallowed",
]

_DURATIONS = {
    "enqueue_for_orchestrator": 1,
    "fetch_orchestration_item": 0,
    "abandon_orchestration_item": 1,
    "renew_orchestration_item_lock": 1,
    "fetch_work_item": 0,
    "abandon_work_item": 1,
    "renew_work_item_lock": 1,
}
"""Operation -> position of the duration (delay, lock_timeout, extend_for) it takes."""


class HalvedDurations(WrapperMutant):
    """Bug: every delay, lock timeout and renewal is halved (milliseconds taken for seconds/2)."""

    breaks = Breaks(
        "Provider", "Durations are seconds (float), which a provider converts to milliseconds"
    )
    wraps = "sqlite"

    async def forward(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        at = _DURATIONS.get(operation)
        if at is not None and len(args) > at and args[at] is not None:
            args = (*args[:at], args[at] / 2, *args[at + 1 :])
        return await super().forward(operation, *args, **kwargs)


class LockLostSwallowed(WrapperMutant):
    """Bug: ack, renew and abandon with a dead token report success instead of LockLostError."""

    breaks = Breaks(
        "Provider",
        "Ack, renew and abandon of a token that is not live (never issued, already acked or "
        "abandoned",
    )

    async def forward(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().forward(operation, *args, **kwargs)
        except LockLostError:
            return None


class CompletionDropped(WrapperMutant):
    """Bug: ack_work_item deletes the item but never enqueues its completion."""

    breaks = Breaks("Provider.ack_work_item", "Atomically delete the leased item and enqueue")
    wraps = "sqlite"

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        await super().ack_work_item(lock_token, None)


class ClockIgnored(WrapperMutant):
    """Bug: set_clock is accepted but ignored: "now" stays the wall clock."""

    breaks = Breaks("ClockControl.set_clock", 'Take "now" from clock from here on')

    def set_clock(self, clock: Clock) -> None:
        """Accepted, and ignored."""


class DeclaresLongPollWithoutIt(WrapperMutant):
    """Bug: the provider declares LONG_POLL, but its fetches return at once."""

    breaks = Breaks("Provider.capabilities", "Optional capabilities this provider implements")

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.inner.capabilities | {Capability.LONG_POLL}
