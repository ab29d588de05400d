"""Long polling for the reference providers: wake-ups and the wait loop of a fetch.

Operations that make work fetchable call ``notify(n)``; a fetch waiting for work holds a
ticket taken *before* it looks at the queue, so a notification can never fall between
"found nothing" and "started waiting". Only the event loop touches these objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from provkit.contract import Clock, SystemClock

_T = TypeVar("_T")

NextWake = int | None
"""Epoch ms at which invisible or locked work may become fetchable, when a fetch found none."""

INJECTED_CLOCK_RECHECK = 0.01
"""Seconds between re-checks of a long poll when the clock is injected: it can jump unseen."""


class Ticket:
    """One waiter's place in line; ``fired`` once a notification picked it."""

    __slots__ = ("_future",)

    def __init__(self, future: asyncio.Future[bool]) -> None:
        self._future = future

    @property
    def fired(self) -> bool:
        """True when a notification (not the timeout) ended this ticket."""
        future = self._future
        return future.done() and not future.cancelled() and future.result()

    async def wait(self, at_most: float) -> None:
        """Return when notified or after ``at_most`` seconds, whichever comes first."""
        future = self._future
        if future.done():
            return
        handle = asyncio.get_running_loop().call_later(at_most, _settle, future, False)
        try:
            await future
        finally:
            handle.cancel()


def _settle(future: asyncio.Future[bool], fired: bool) -> None:
    if not future.done():
        future.set_result(fired)


class Wakeup:
    """A line of waiting fetches; ``notify(n)`` wakes the ``n`` oldest."""

    def __init__(self) -> None:
        self._line: deque[asyncio.Future[bool]] = deque()

    def ticket(self) -> Ticket:
        """Join the line."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._line.append(future)
        return Ticket(future)

    def leave(self, ticket: Ticket, *, used: bool) -> None:
        """Leave the line; a notification the holder did not act on goes to the next waiter."""
        if ticket.fired:
            if not used:
                self.notify(1)
            return
        future = ticket._future
        future.cancel()
        # A fired ticket was already taken off the line by notify(); others may still be on it.
        with contextlib.suppress(ValueError):
            self._line.remove(future)

    def notify(self, count: int = 1) -> None:
        """Wake up to ``count`` waiters."""
        line = self._line
        while count > 0 and line:
            future = line.popleft()
            if not future.done():
                future.set_result(True)
                count -= 1

    def notify_all(self) -> None:
        """Wake every waiter (the provider is closing)."""
        self.notify(len(self._line))


async def long_poll(
    wakeup: Wakeup,
    attempt: Callable[[], Awaitable[tuple[_T | None, NextWake]]],
    poll_timeout: float,
    clock: Clock,
) -> _T | None:
    """Run ``attempt`` until it finds something or ``poll_timeout`` seconds have passed.

    Between attempts it waits for a ``wakeup`` notification or the ``NextWake`` the last
    attempt reported, whichever comes first; with ``poll_timeout <= 0`` it tries once.
    """
    if poll_timeout <= 0:
        return (await attempt())[0]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + poll_timeout
    ticket = wakeup.ticket()
    try:
        while True:
            found, next_wake = await attempt()
            remaining = deadline - loop.time()
            if found is not None or remaining <= 0:
                return found
            await ticket.wait(min(remaining, _seconds_until(clock, next_wake)))
            # Whatever woke this ticket, the next attempt acts on it.
            ticket, done = wakeup.ticket(), ticket
            wakeup.leave(done, used=True)
    finally:
        wakeup.leave(ticket, used=False)


def _seconds_until(clock: Clock, at_ms: NextWake) -> float:
    if at_ms is None:
        return math.inf
    seconds = max(at_ms - clock.now_ms(), 1) / 1000
    if isinstance(clock, SystemClock):
        return seconds
    return min(seconds, INJECTED_CLOCK_RECHECK)
