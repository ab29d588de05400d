"""Durations the suite uses, all multiplied by one ``--provkit-timescale`` factor.

With an injected clock, time moves instantly, so expiry durations can be generous; without
one, tests sleep for real and the durations are kept short.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from provkit.contract import ManualClock

EXACT_SKIP_REASON = (
    "exact millisecond deadlines need an injected clock: the provider does not declare "
    "Capability.CLOCK (the coarser tests of the same deadlines still ran)"
)


@dataclass(frozen=True, slots=True)
class Timing:
    """Durations in seconds for one test.

    ``lock_timeout``: a lock a test expects to expire. ``long_lock``: a lock that must not
    expire during the test. ``epsilon``: margin added when waiting past an expiry.
    ``settle``: how long a test waits to show something does *not* happen.
    """

    lock_timeout: float
    long_lock: float
    epsilon: float
    settle: float

    @classmethod
    def for_run(cls, timescale: float, manual_clock: bool) -> Timing:
        if manual_clock:
            return cls(lock_timeout=5.0, long_lock=300.0, epsilon=0.05, settle=0.0)
        return cls(
            lock_timeout=0.4 * timescale,
            long_lock=60.0 * timescale,
            epsilon=0.15 * timescale,
            settle=0.05 * timescale,
        )


class SuiteClock:
    """Moves the provider's time: advances its injected clock, or sleeps when it has none."""

    def __init__(self, manual: ManualClock | None) -> None:
        self.manual = manual

    @property
    def is_manual(self) -> bool:
        """True when time moves by ``advance`` alone (the provider declares ``CLOCK``)."""
        return self.manual is not None

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of provider time pass."""
        if self.manual is not None:
            self.manual.advance(seconds)
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(seconds)

    def exact_now_ms(self) -> int:
        """The injected clock's "now", for tests of exact millisecond boundaries.

        Without an injected clock no test can place a call at a given millisecond, so the
        calling test is skipped with ``EXACT_SKIP_REASON``.
        """
        if self.manual is None:
            pytest.skip(EXACT_SKIP_REASON)
        return self.manual.now_ms()

    async def set_ms(self, at_ms: int) -> None:
        """Move the injected clock to ``at_ms`` (see ``exact_now_ms``)."""
        if self.manual is None:
            pytest.skip(EXACT_SKIP_REASON)
        self.manual.set_ms(at_ms)
        await asyncio.sleep(0)
