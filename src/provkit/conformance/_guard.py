"""Deadlines for provider and factory calls, so a hung provider fails its test, never the run.

Calls run as tasks abandoned at their deadline (even if they ignore cancellation); a SIGALRM
watchdog also catches calls that block the event loop, which no asyncio timeout can interrupt.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import signal
import threading
import time
import weakref
from collections.abc import Awaitable, Iterator
from types import FrameType
from typing import Any, TypeVar

import pytest

from provkit.conformance._call_log import CallLog
from provkit.contract import Provider, ProviderFactory, ProviderWrapper
from provkit.contract._provider import disposal

T = TypeVar("T")

WATCHDOG_SLACK = 0.5
"""Seconds the watchdog waits beyond a call's deadline (and its cancel wait) before firing."""


_TIMEOUTS: weakref.WeakSet[BaseException] = weakref.WeakSet()


def fail_hung(message: str) -> BaseException:
    """The ``pytest.fail`` outcome of a call that outlived its deadline, to raise.

    An ordinary failure of the test, remembered as a timeout so that the run can skip the
    rest of a category whose provider hangs instead of waiting out every test.
    """
    failure = pytest.fail.Exception(message, pytrace=False)
    _TIMEOUTS.add(failure)
    return failure


def is_call_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is the failure ``fail_hung`` made for a call outliving its deadline."""
    return exc in _TIMEOUTS


async def bounded(label: str, awaitable: Awaitable[T], limit: float) -> T:
    """Await ``awaitable``; fail the current test naming ``label`` if it takes over ``limit`` s."""
    task = asyncio.ensure_future(awaitable)
    cancel_wait = min(1.0, limit)
    with _WATCHDOG.watch(label, limit + cancel_wait + WATCHDOG_SLACK):
        try:
            done, _ = await asyncio.wait({task}, timeout=limit)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            task.add_done_callback(_retrieve)
            task.cancel()
            # A cooperative call gets a moment to clean up; one that ignores the
            # cancellation is left behind rather than allowed to hang the test.
            await asyncio.wait({task}, timeout=cancel_wait)
            ignored = not task.done()
            if ignored:
                _forget(task)
            raise fail_hung(_hung_message(label, limit, ignored_cancellation=ignored))
    return task.result()


class GuardedProvider(ProviderWrapper):
    """Forwards everything to ``inner``; every call it forwards gets a deadline and, when a
    ``log`` is given, is noted there with its result."""

    def __init__(self, inner: Provider, op_timeout: float, log: CallLog | None = None) -> None:
        super().__init__(inner)
        self._op_timeout = op_timeout
        self._log = log

    async def forward(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        # The whole call runs under the deadline, also a method that blocks before it
        # returns its awaitable (decorated methods, partials).
        call = super().forward(operation, *args, **kwargs)
        if self._log is None:
            return await bounded(f"provider call {operation}()", call, self._op_timeout)
        entry = self._log.start(operation, [*args, *kwargs.values()])
        try:
            result = await bounded(f"provider call {operation}()", call, self._op_timeout)
        except BaseException as exc:
            if not is_call_timeout(exc):
                self._log.raised(entry, exc)
            raise
        self._log.returned(entry, result)
        return result


async def open_provider(factory: ProviderFactory, limit: float) -> Provider:
    """``factory.create_provider()``, bounded by ``limit`` seconds."""
    return await bounded("factory call create_provider()", factory.create_provider(), limit)


async def close_provider(factory: ProviderFactory, provider: Provider, limit: float) -> None:
    """Dispose of ``provider`` as ``factory`` wants, bounded by ``limit`` seconds."""
    label, call = disposal(factory, provider)
    await bounded(label, call, limit)


def _hung_message(label: str, limit: float, *, ignored_cancellation: bool = False) -> str:
    ignored = " and ignored cancellation" if ignored_cancellation else ""
    return (
        f"{label} did not return within {limit:g} s{ignored} "
        "(raise --provkit-timescale for slow databases)"
    )


def _forget(task: asyncio.Task[Any]) -> None:
    """Drop a call that ignores cancellation from the loop's task registry.

    Closing an event loop cancels and then awaits every registered task, so one task that
    never finishes would hang the run after its test already failed. asyncio offers no
    public way to let go of a task; where the private hook is missing, nothing changes.
    """
    unregister = getattr(asyncio.tasks, "_unregister_task", None)
    if unregister is not None:
        unregister(task)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark an abandoned call's outcome as seen, so asyncio does not log it at exit."""
    if not task.cancelled():
        task.exception()


class _Watchdog:
    """Fails the running test when a call outlives its deadline with the event loop blocked.

    A blocked loop never runs the asyncio timeout, so a ``SIGALRM`` handler raises the
    failure in whatever Python code holds the main thread (the blocking provider code).
    The handler is installed only while calls are in flight, and never over a ``SIGALRM``
    handler someone else installed (pytest-timeout's signal method, for one).
    """

    def __init__(self) -> None:
        self._deadlines: dict[int, tuple[float, str, float]] = {}
        self._keys = itertools.count()

    @contextlib.contextmanager
    def watch(self, label: str, fire_after: float) -> Iterator[None]:
        """Watch a call: fail the test if it still runs after ``fire_after`` seconds."""
        if not self._usable():
            yield
            return
        key = next(self._keys)
        self._deadlines[key] = (time.monotonic() + fire_after, label, fire_after)
        self._arm()
        try:
            yield
        finally:
            del self._deadlines[key]
            self._arm()

    def _usable(self) -> bool:
        return (
            hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, self._fire)
        )

    def _arm(self) -> None:
        earliest = min((d for d, _, _ in self._deadlines.values()), default=math.inf)
        if earliest == math.inf:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            return
        signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, max(earliest - time.monotonic(), 0.001))

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        expired = [(key, entry) for key, entry in self._deadlines.items() if entry[0] <= now]
        if not expired:
            self._arm()
            return
        # One failure for all calls expired together, and none of them fires again: their
        # entries stay until their ``watch`` exits, but never re-arm the timer.
        for key, (_, label, fire_after) in expired:
            self._deadlines[key] = (math.inf, label, fire_after)
        _, label, fire_after = min(entry for _, entry in expired)
        self._arm()
        raise fail_hung(
            f"{label} blocked the event loop for over {fire_after:g} s "
            "(synchronous code in an async method?)"
        )


_WATCHDOG = _Watchdog()
"""One per process: ``SIGALRM`` and its interval timer are process-wide."""
