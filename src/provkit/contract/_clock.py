"""The notion of "now" a provider uses for visibility and lock expiry, injectable for tests."""

from __future__ import annotations

import math
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of the current time in epoch milliseconds."""

    def now_ms(self) -> int:
        """Return the current time as integer milliseconds since the Unix epoch."""
        ...


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to; starts at the wall-clock time by default."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now_ms = SystemClock().now_ms() if start_ms is None else start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (rounded up to whole milliseconds)."""
        if seconds < 0:
            raise ValueError("a clock never moves backwards")
        # Rounded to a nanosecond first, so a whole number of ms (2.007 s) is never pushed
        # up by binary floating point (2007.0000000000002).
        self._now_ms += math.ceil(round(seconds * 1000, 6))

    def set_ms(self, now_ms: int) -> None:
        """Jump to an absolute time, which must not be in the past."""
        if now_ms < self._now_ms:
            raise ValueError("a clock never moves backwards")
        self._now_ms = now_ms
