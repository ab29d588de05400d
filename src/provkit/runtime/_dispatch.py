"""What both dispatchers share: backoff, retries, the fetch loop and settling fetched items.

A dispatcher slot is a loop of fetch → process → settle; this module owns the loop, so the
rules "a loop that found work polls again at once", "idle loops back off up to the poll
interval" and "never spin on errors" live in one place, and so does ``Settler``: how a fetched
item of either queue is acked, given back or released, and how a failure while handling it
costs one redelivery instead of the slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, Protocol, TypeVar

from provkit.contract import LockLostError, ProviderError
from provkit.runtime._options import RuntimeOptions

_T = TypeVar("_T")
_Item = TypeVar("_Item")

log = logging.getLogger("provkit.runtime")


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Wait before try ``attempt`` (1-based): ``initial`` doubling per try, capped, jittered.

    The jitter (50-100% of the nominal delay) keeps slots that failed together from
    retrying together.
    """
    nominal = min(maximum, initial * 2.0 ** min(attempt - 1, 30))
    return nominal * random.uniform(0.5, 1.0)


async def call_with_retry(
    operation: Callable[[], Awaitable[_T]], options: RuntimeOptions, what: str
) -> _T:
    """Await ``operation()``, retrying retryable ``ProviderError``s with jittered backoff.

    Permanent errors, and the last retryable one once ``provider_retry_limit`` attempts
    are used, propagate to the caller.
    """
    attempt = 1
    while True:
        try:
            return await operation()
        except ProviderError as exc:
            if not exc.retryable or attempt >= options.provider_retry_limit:
                raise
            delay = backoff_delay(attempt, options.retry_backoff_initial, options.retry_backoff_max)
            log.debug("%s failed (%s); retry %d in %.3fs", what, exc, attempt, delay)
            attempt += 1
            await asyncio.sleep(delay)


class Slot(Protocol[_Item]):
    """One dispatcher slot's steps, driven by a ``SlotLoop``."""

    async def fetch(self, poll_timeout: float) -> _Item | None:
        """The next item, or ``None``; long-poll providers wait up to ``poll_timeout``."""

    async def process(self, item: _Item) -> None:
        """Handle ``item``; errors are the slot's to deal with."""

    async def release(self, item: _Item) -> None:
        """Hand back an item fetched after the runtime began stopping."""

    async def finish(self) -> None:
        """Settle what the slot still has in flight; runs whenever its loop ends."""


class SlotLoop(Generic[_Item]):
    """Runs one dispatcher slot: fetch an item, hand it to ``process``, repeat until stopped.

    The slot's ``fetch(poll_timeout)`` returns an item or ``None``. With ``long_poll`` the
    provider waits for work itself, so an empty fetch that really waited is followed by
    another at once; otherwise (and after a long poll that gave up early) the loop sleeps
    ``idle_backoff_initial`` doubling up to ``poll_interval``. Fetch errors back off the
    same way as failed calls, so a broken provider is never hammered. An item fetched after
    ``stopping`` was set is handed to ``release`` instead of being processed; ``finish``
    runs whenever the loop ends, also when its task is cancelled.
    """

    def __init__(
        self,
        *,
        name: str,
        slot: Slot[_Item],
        stopping: asyncio.Event,
        long_poll: bool,
        options: RuntimeOptions,
    ) -> None:
        self.name = name
        self._slot = slot
        self._stopping = stopping
        self._long_poll = long_poll
        self._options = options

    async def run(self) -> None:
        """Loop until ``stopping`` is set; returns after finishing the current item."""
        try:
            await self._loop()
        finally:
            await self._slot.finish()

    async def _loop(self) -> None:
        options = self._options
        idle = 0
        errors = 0
        poll_timeout = options.poll_interval if self._long_poll else 0.0
        clock = asyncio.get_running_loop().time
        while not self._stopping.is_set():
            began = clock()
            try:
                item = await self._slot.fetch(poll_timeout)
            except Exception as exc:  # a provider bug must not kill the slot
                errors += 1
                log.warning("%s: fetch failed: %s", self.name, exc)
                await self._pause(
                    backoff_delay(errors, options.retry_backoff_initial, options.retry_backoff_max)
                )
                continue
            errors = 0
            if item is None:
                if not self._long_poll or clock() - began < poll_timeout / 2:
                    idle += 1
                    await self._pause(
                        backoff_delay(idle, options.idle_backoff_initial, options.poll_interval)
                    )
                continue
            idle = 0
            if self._stopping.is_set():
                await self._slot.release(item)
                return
            await self._slot.process(item)

    async def _pause(self, delay: float) -> None:
        """Sleep ``delay`` seconds, waking early when the runtime starts stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)


async def finishes(future: asyncio.Future[Any], within: float | None = None) -> bool:
    """Whether ``future`` is done within ``within`` seconds (None: no limit).

    Like ``asyncio.wait({future}, timeout=within)``: neither the future's outcome nor the
    waiter's cancellation reaches the future, which keeps running. Cheaper than it, though,
    and it runs once per activity and per ack.
    """
    if future.done():
        return True
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    future.add_done_callback(wake)
    timer = None if within is None else loop.call_later(within, wake)
    try:
        await waiter
    finally:
        if timer is not None:
            timer.cancel()
        future.remove_done_callback(wake)
    return future.done()


class BackgroundAck:
    """The ack a slot leaves running in the background while it moves on to its next item.

    There is at most one: a slot calls ``settled`` before it ``start``s the next, so it never
    runs ahead of the store it reports to. ``cancel`` ends the one in flight at once.
    """

    def __init__(self) -> None:
        self._task: asyncio.Task[Any] | None = None

    def start(self, ack: Coroutine[Any, Any, Any]) -> None:
        """Run ``ack`` in the background (after ``settled``: one at a time)."""
        self._task = asyncio.create_task(ack)

    async def settled(self) -> None:
        """Wait for the ack in flight, if any; an exception it let through is logged here."""
        task = self._task
        if task is None:
            return
        await finishes(task)
        self._task = None
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("a background ack failed", exc_info=error)

    async def cancel(self) -> None:
        """Cancel the ack in flight, if any, and wait until it has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class Fetched(Protocol):
    """A fetched, locked item of either queue (``OrchestrationItem`` or ``WorkLease``)."""

    @property
    def lock_token(self) -> str: ...

    @property
    def attempt_count(self) -> int: ...


_Fetched = TypeVar("_Fetched", bound=Fetched)

Abandon = Callable[[str, float | None, bool], Awaitable[None]]
"""A queue's abandon call: ``(lock_token, delay, ignore_attempt)``."""


class Settler(Generic[_Fetched]):
    """How the slots of one queue ack, give back and release the items they fetched.

    ``abandon`` is the queue's abandon call; ``describe`` names an item in log lines
    (``"turn of 'inst-1'"``). Every provider call is retried per ``call_with_retry``.
    """

    def __init__(
        self,
        abandon: Abandon,
        describe: Callable[[_Fetched], str],
        options: RuntimeOptions,
        aborting: Callable[[], bool],
    ) -> None:
        self._abandon_call = abandon
        self._describe = describe
        self._options = options
        self.aborting = aborting

    async def guarded(self, item: _Fetched, work: Awaitable[_T]) -> _T | None:
        """``await work``; a failure gives the item back, a cancellation without counting it.

        Returns ``None`` after a failure. When the runtime aborts (a simulated crash) a
        cancelled item is left locked, as a crash would leave it.
        """
        try:
            return await work
        except asyncio.CancelledError:
            if not self.aborting():
                await self._abandon(item, delay=None, ignore_attempt=True)
            raise
        except Exception:  # a bug here must cost one redelivery, not the slot
            log.exception("%s failed unexpectedly; abandoning", self._describe(item))
            await self.give_back(item)
            return None

    async def ack(self, item: _Fetched, call: Callable[[], Awaitable[None]]) -> bool:
        """Commit ``item`` with ``call``; a lost lock drops the result, a failure gives it back.

        Returns whether the commit happened.
        """
        what = self._describe(item)
        try:
            await call_with_retry(call, self._options, f"ack of {what}")
        except LockLostError:
            log.info("%s dropped: its lock was lost before the ack", what)
        except ProviderError as exc:
            log.warning("ack of %s failed: %s; abandoning", what, exc)
            await self.give_back(item)
        else:
            return True
        return False

    async def give_back(self, item: _Fetched) -> None:
        """Abandon ``item`` for a retry after a backoff that grows with its deliveries."""
        options = self._options
        delay = backoff_delay(
            item.attempt_count, options.retry_backoff_initial, options.retry_backoff_max
        )
        await self._abandon(item, delay=delay, ignore_attempt=False)

    async def release(self, item: _Fetched) -> None:
        """Hand back an unprocessed item at once, without counting the delivery."""
        await self._abandon(item, delay=None, ignore_attempt=True)

    async def wind_down(
        self, settle: Callable[[], Awaitable[None]], cancel: Callable[[], Awaitable[None]]
    ) -> None:
        """End a stopping slot: ``settle`` what it has in flight, or ``cancel`` it instead when
        the runtime aborts or the slot is cancelled meanwhile."""
        if self.aborting():
            await cancel()
            return
        try:
            await settle()
        except asyncio.CancelledError:
            await cancel()
            raise

    async def _abandon(self, item: _Fetched, *, delay: float | None, ignore_attempt: bool) -> None:
        """Give the item back; a lock that is already gone needs nothing more."""
        what = self._describe(item)
        try:
            await call_with_retry(
                lambda: self._abandon_call(item.lock_token, delay, ignore_attempt),
                self._options,
                f"abandon of {what}",
            )
        except ProviderError as exc:
            log.info("abandon of %s failed: %s", what, exc)
