"""The worker dispatcher: runs activities from the worker queue and reports their results.

``async def`` activities run on the event loop, plain functions in a thread pool so they
never block it. A lease is renewed while its activity runs; a failed renewal means the item
was cancelled or lost, and the result is then dropped instead of acked.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from provkit.contract import (
    ErrorCategory,
    ErrorDetails,
    LockLostError,
    Provider,
    ProviderError,
    WorkLease,
)
from provkit.contract.messages import (
    ActivityCompletedMessage,
    ActivityFailedMessage,
    OrchestratorMessage,
)
from provkit.runtime._dispatch import backoff_delay, call_with_retry, log
from provkit.runtime._options import RuntimeOptions
from provkit.runtime._payload import decode, encode

_CANCEL_WAIT = 1.0
"""Seconds a cancelled activity task gets to end before its slot stops waiting for it."""

ActivityFn = Callable[[Any], Any]
"""An activity: ``async def f(input)`` or a plain ``def f(input)``; returns a JSON value."""


class WorkerDispatcher:
    """Processes one work lease at a time per slot; see ``process`` and ``release``."""

    def __init__(
        self,
        provider: Provider,
        activities: Mapping[str, ActivityFn],
        options: RuntimeOptions,
        executor: ThreadPoolExecutor,
        aborting: Callable[[], bool],
    ) -> None:
        self._provider = provider
        self._activities = dict(activities)
        self._options = options
        self._executor = executor
        self._aborting = aborting

    async def fetch(self, poll_timeout: float) -> WorkLease | None:
        """Lease the next work item, waiting up to ``poll_timeout`` on long-poll providers."""
        return await self._provider.fetch_work_item(self._options.worker_lock_timeout, poll_timeout)

    async def release(self, lease: WorkLease) -> None:
        """Hand an unprocessed lease back without counting the delivery."""
        await self._abandon(lease, delay=None, ignore_attempt=True)

    async def process(self, lease: WorkLease) -> None:
        """Run the leased activity and ack its outcome; on cancellation give the item back."""
        try:
            completion = await self._outcome(lease)
            if completion is not None:
                await self._ack(lease, completion)
        except asyncio.CancelledError:
            if not self._aborting():
                await self._abandon(lease, delay=None, ignore_attempt=True)
            raise
        except Exception:  # a bug here must cost one redelivery, not the slot
            log.exception("activity %r failed unexpectedly; abandoning", lease.item.name)
            await self._abandon(lease, delay=self._redelivery_delay(lease), ignore_attempt=False)

    async def _outcome(self, lease: WorkLease) -> OrchestratorMessage | None:
        """The completion message to ack, or ``None`` when the lease was lost meanwhile."""
        item = lease.item
        if lease.attempt_count > self._options.max_attempts:
            return self._failure(
                lease,
                ErrorCategory.POISON,
                "poison",
                f"activity {item.name!r} was delivered {lease.attempt_count} times "
                f"(max_attempts={self._options.max_attempts})",
            )
        fn = self._activities.get(item.name)
        if fn is None:
            return self._failure(
                lease,
                ErrorCategory.CONFIGURATION,
                "unregistered",
                f"activity {item.name!r} is not registered with this runtime",
            )
        try:
            argument = decode(item.input)
        except ValueError as exc:
            return self._failure(
                lease,
                ErrorCategory.INFRASTRUCTURE,
                "bad_input",
                f"input of activity {item.name!r} is not valid JSON: {exc}",
            )
        execution = asyncio.ensure_future(self._invoke(fn, argument))
        try:
            if not await self._wait_renewing(lease, execution):
                return None
        finally:
            if not execution.done():
                execution.cancel()
                # Reap the task so none outlives its slot; one that ignores cancellation is
                # left behind after a bounded wait rather than hanging the slot.
                await asyncio.wait({execution}, timeout=_CANCEL_WAIT)
        if execution.cancelled():
            return self._failure(
                lease, ErrorCategory.APPLICATION, "activity_failed", "the activity was cancelled"
            )
        raised = execution.exception()
        if raised is not None:
            return self._failure(
                lease,
                ErrorCategory.APPLICATION,
                "activity_failed",
                str(raised) or type(raised).__name__,
            )
        try:
            result = encode(execution.result())
        except TypeError as error:
            return self._failure(
                lease,
                ErrorCategory.APPLICATION,
                "activity_failed",
                f"activity {item.name!r} returned a value that is not JSON: {error}",
            )
        return ActivityCompletedMessage(
            instance=item.instance, execution_id=item.execution_id, id=item.id, result=result
        )

    async def _invoke(self, fn: ActivityFn, argument: Any) -> Any:
        if _is_async(fn):
            return await cast(Callable[[Any], Awaitable[Any]], fn)(argument)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, argument)

    async def _wait_renewing(self, lease: WorkLease, execution: asyncio.Future[Any]) -> bool:
        """Wait for ``execution``, renewing the lease meanwhile; False if the lease was lost."""
        lock_timeout = self._options.worker_lock_timeout
        renew_every = lock_timeout / 3
        while True:
            done, _ = await asyncio.wait({execution}, timeout=renew_every)
            if done:
                return True
            try:
                await call_with_retry(
                    lambda: self._provider.renew_work_item_lock(lease.lock_token, lock_timeout),
                    self._options,
                    "renew_work_item_lock",
                )
            except LockLostError:
                log.info(
                    "activity %r of %r lost its lease (cancelled or expired); result dropped",
                    lease.item.name,
                    lease.item.instance,
                )
                return False
            except ProviderError as exc:
                log.warning("renewing lease of activity %r failed: %s", lease.item.name, exc)

    async def _ack(self, lease: WorkLease, completion: OrchestratorMessage) -> None:
        try:
            await call_with_retry(
                lambda: self._provider.ack_work_item(lease.lock_token, completion),
                self._options,
                "ack_work_item",
            )
        except LockLostError:
            log.info(
                "activity %r of %r: lease lost before ack", lease.item.name, lease.item.instance
            )
        except ProviderError as exc:
            log.warning("ack of activity %r failed: %s; abandoning", lease.item.name, exc)
            await self._abandon(lease, delay=self._redelivery_delay(lease), ignore_attempt=False)

    async def _abandon(
        self, lease: WorkLease, *, delay: float | None, ignore_attempt: bool
    ) -> None:
        """Give the item back; a lease that is already gone needs nothing more."""
        try:
            await call_with_retry(
                lambda: self._provider.abandon_work_item(lease.lock_token, delay, ignore_attempt),
                self._options,
                "abandon_work_item",
            )
        except ProviderError as exc:
            log.info("abandon of activity %r failed: %s", lease.item.name, exc)

    def _redelivery_delay(self, lease: WorkLease) -> float:
        options = self._options
        return backoff_delay(
            lease.attempt_count, options.retry_backoff_initial, options.retry_backoff_max
        )

    @staticmethod
    def _failure(
        lease: WorkLease, category: ErrorCategory, kind: str, message: str
    ) -> ActivityFailedMessage:
        item = lease.item
        return ActivityFailedMessage(
            instance=item.instance,
            execution_id=item.execution_id,
            id=item.id,
            error=ErrorDetails(category=category, kind=kind, message=message),
        )


def _is_async(fn: ActivityFn) -> bool:
    """True for coroutine functions, also when wrapped in a partial or a callable object."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - looking for an async __call__
    )
