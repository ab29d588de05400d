"""The worker dispatcher: runs activities from the worker queue and reports their results.

``async def`` activities run on the event loop, plain functions in a thread pool so they
never block it. A lease is renewed while its activity runs; a failed renewal means the item
was cancelled or lost, and the result is then dropped instead of acked. Each slot keeps its
provider calls off the activity's path: while an activity runs the slot leases its next item
(see ``WorkerSlot``), and it acks a finished activity in the background.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, TypeVar, cast

from provkit.contract import (
    ErrorCategory,
    ErrorDetails,
    LockLostError,
    Provider,
    ProviderError,
    TaskQueues,
    WorkLease,
)
from provkit.contract.messages import (
    ActivityCompletedMessage,
    ActivityFailedMessage,
    OrchestratorMessage,
)
from provkit.runtime._dispatch import BackgroundAck, Settler, call_with_retry, finishes, log
from provkit.runtime._errors import NonRetryableError
from provkit.runtime._options import RuntimeOptions
from provkit.runtime._payload import PayloadTooLargeError, decode, encode, oversize

_T = TypeVar("_T")

_CANCEL_WAIT = 1.0
"""Seconds a cancelled activity task gets to end before its slot stops waiting for it."""

ActivityFn = Callable[[Any], Any]
"""An activity: ``async def f(input)`` or a plain ``def f(input)``; returns a JSON value."""


class WorkerDispatcher:
    """What the worker slots of one runtime share; ``slot()`` makes each slot's loop body."""

    def __init__(
        self,
        provider: Provider,
        activities: Mapping[str, ActivityFn],
        options: RuntimeOptions,
        executor: ThreadPoolExecutor,
        aborting: Callable[[], bool],
        stopping: asyncio.Event,
        queues: frozenset[str] | None = None,
    ) -> None:
        self.provider = provider
        self.queues = queues
        """The task queues served (``fetch_work_item_from``), or every queue when ``None``."""
        self.activities = dict(activities)
        self.options = options
        self.executor = executor
        self.stopping = stopping
        self.settler: Settler[WorkLease] = Settler(
            provider.abandon_work_item, _describe, options, aborting
        )
        self.waiting = 0
        """Slots inside a plain fetch: work ready now is theirs, so no slot fetches ahead."""

    def slot(self) -> WorkerSlot:
        """A new slot's fetch / process / release / finish."""
        return WorkerSlot(self)

    def lease(self, poll_timeout: float) -> Awaitable[WorkLease | None]:
        """One fetch of an item from the queues this runtime serves."""
        lock_timeout = self.options.worker_lock_timeout
        if self.queues is None:
            return self.provider.fetch_work_item(lock_timeout, poll_timeout)
        served = cast(TaskQueues, self.provider)
        return served.fetch_work_item_from(self.queues, lock_timeout, poll_timeout)


class WorkerSlot:
    """One worker slot: runs one activity at a time, with fetch and ack overlapping it.

    Once an activity has started, the slot leases the next item with a non-waiting fetch,
    unless a sibling slot is waiting for work or the runtime is stopping; ``fetch`` hands that
    lease out first. An activity still running after ``min(poll_interval, lock/3)`` gives the
    lease fetched ahead back (the delivery not counted), so a long activity never holds up
    work that an idle slot or another runtime could run. The ack of a finished activity runs
    in the background while the next one starts, at most one per slot; ``finish`` (the slot
    is stopping) gives back the lease fetched ahead and waits for that ack.
    """

    def __init__(self, dispatcher: WorkerDispatcher) -> None:
        self._d = dispatcher
        self._settler = dispatcher.settler
        self._ahead: asyncio.Future[WorkLease | None] | None = None
        self._acks = BackgroundAck()
        self.release = dispatcher.settler.release

    async def fetch(self, poll_timeout: float) -> WorkLease | None:
        """The lease fetched ahead, else the next item (waiting up to ``poll_timeout``)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            lease = await ahead
            if lease is not None:
                return lease
        d = self._d
        d.waiting += 1
        try:
            return await d.lease(poll_timeout)
        finally:
            d.waiting -= 1

    async def process(self, lease: WorkLease) -> None:
        """Run the leased activity and start acking its outcome; on cancellation give it back."""
        completion = await self._settler.guarded(lease, self._run(lease))
        if completion is not None:
            self._acks.start(self._settler.guarded(lease, self._ack(lease, completion)))

    async def finish(self) -> None:
        """The slot stops: give back the lease fetched ahead and wait for the last ack.

        When the runtime aborts (a simulated crash), or the slot is cancelled meanwhile,
        both are cancelled instead; a cancelled ack gives its lease back unless aborting.
        """
        await self._settler.wind_down(self._settle, self._cancel)

    async def _settle(self) -> None:
        await self._give_back_ahead()
        await self._acks.settled()

    async def _cancel(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.cancel()
            await asyncio.gather(ahead, return_exceptions=True)
        await self._acks.cancel()

    async def _run(self, lease: WorkLease) -> OrchestratorMessage | None:
        completion = await self._outcome(lease)
        await self._acks.settled()
        return completion

    def _fetch_ahead(self) -> None:
        d = self._d
        if self._ahead is None and d.waiting == 0 and not d.stopping.is_set():
            self._ahead = asyncio.ensure_future(d.lease(0.0))

    async def _give_back_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return
        try:
            lease = await ahead
        except Exception as exc:  # nothing was leased; the next fetch reports a lasting fault
            log.info("fetching ahead failed: %s", exc)
            return
        if lease is not None:
            await self.release(lease)

    async def _outcome(self, lease: WorkLease) -> OrchestratorMessage | None:
        """The completion message to ack, or ``None`` when the lease was lost meanwhile."""
        item = lease.item
        d = self._d
        if lease.item_error is not None:
            return await self._unreadable(lease, lease.item_error)
        if lease.attempt_count > d.options.max_attempts:
            return _failure(
                lease,
                ErrorCategory.POISON,
                "poison",
                f"activity {item.name!r} was delivered {lease.attempt_count} times "
                f"(max_attempts={d.options.max_attempts})",
            )
        fn = d.activities.get(item.name)
        if fn is None:
            return _failure(
                lease,
                ErrorCategory.CONFIGURATION,
                "unregistered",
                f"activity {item.name!r} is not registered with this runtime",
            )
        try:
            argument = decode(item.input)
        except ValueError as exc:
            return _failure(
                lease,
                ErrorCategory.INFRASTRUCTURE,
                "bad_input",
                f"input of activity {item.name!r} is not valid JSON: {exc}",
            )
        # Fetching ahead first: its call reaches the provider before anything the activity's
        # first step (run at once by an eager start) wakes up.
        self._fetch_ahead()
        execution = start_activity(fn, argument, d.executor)
        try:
            if not await self._wait_renewing(lease, execution):
                return None
        finally:
            if not execution.done():
                execution.cancel()
                # Reap the task so none outlives its slot; one that ignores cancellation is
                # left behind after a bounded wait rather than hanging the slot.
                await finishes(execution, _CANCEL_WAIT)
        if execution.cancelled():
            return _failure(
                lease, ErrorCategory.APPLICATION, "activity_failed", "the activity was cancelled"
            )
        raised = execution.exception()
        if raised is not None:
            return _failure(
                lease,
                ErrorCategory.APPLICATION,
                "activity_failed",
                str(raised) or type(raised).__name__,
                retryable=not isinstance(raised, NonRetryableError),
            )
        try:
            result = encode(execution.result())
        except TypeError as error:
            return _failure(
                lease,
                ErrorCategory.APPLICATION,
                "activity_failed",
                f"activity {item.name!r} returned a value that is not JSON: {error}",
            )
        size = oversize(result, d.options.max_payload_bytes)
        if size is not None:
            what = f"result of activity {item.name!r}"
            return _failure(
                lease,
                ErrorCategory.APPLICATION,
                "payload_too_large",
                str(PayloadTooLargeError(what, size, d.options.max_payload_bytes)),
            )
        return ActivityCompletedMessage(
            instance=item.instance, execution_id=item.execution_id, id=item.id, result=result
        )

    async def _unreadable(self, lease: WorkLease, why: str) -> OrchestratorMessage | None:
        """An undecodable item can never run: give it back until its ``max_attempts``-th
        delivery, which reports it to its orchestration as a poison failure."""
        max_attempts = self._d.options.max_attempts
        item = lease.item
        if lease.attempt_count < max_attempts:
            log.warning("activity item of %r unreadable: %s; giving it back", item.instance, why)
            await self._settler.give_back(lease)
            return None
        return _failure(
            lease,
            ErrorCategory.POISON,
            "poison",
            f"the work item was delivered {lease.attempt_count} times "
            f"(max_attempts={max_attempts}) and is unreadable: {why}",
        )

    async def _wait_renewing(self, lease: WorkLease, execution: asyncio.Future[Any]) -> bool:
        """Wait for ``execution``, renewing the lease meanwhile; False if the lease was lost."""
        d = self._d
        lock_timeout = d.options.worker_lock_timeout
        renew_every = lock_timeout / 3
        wait = renew_every
        if self._ahead is not None:
            hold = min(d.options.poll_interval, renew_every)
            if await finishes(execution, hold):
                return True
            await self._give_back_ahead()
            wait = renew_every - hold
        while True:
            if await finishes(execution, wait):
                return True
            wait = renew_every
            try:
                await call_with_retry(
                    lambda: d.provider.renew_work_item_lock(lease.lock_token, lock_timeout),
                    d.options,
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
        provider = self._d.provider
        await self._settler.ack(lease, lambda: provider.ack_work_item(lease.lock_token, completion))


def start_activity(fn: ActivityFn, argument: Any, executor: Executor) -> asyncio.Future[Any]:
    """Start one execution of ``fn``; the future holds its result or what it raised.

    A plain function runs in ``executor``. An ``async def`` one runs as its own task, which
    on Python 3.12+ takes its first step at once (an eager task): an activity that returns
    without waiting is then done before this returns, at no event-loop round trip. Whatever
    starting it raises (a wrong signature, a closed pool) is the execution's failure.
    """
    loop = asyncio.get_running_loop()
    try:
        if not _is_async(fn):
            return loop.run_in_executor(executor, fn, argument)
        coro = cast(Callable[[Any], Coroutine[Any, Any, Any]], fn)(argument)
        if sys.version_info >= (3, 12):
            return asyncio.Task(coro, loop=loop, eager_start=True)
        return loop.create_task(coro)
    except Exception as exc:
        failed: asyncio.Future[Any] = loop.create_future()
        failed.set_exception(exc)
        return failed


def _failure(
    lease: WorkLease,
    category: ErrorCategory,
    kind: str,
    message: str,
    *,
    retryable: bool = False,
) -> ActivityFailedMessage:
    item = lease.item
    return ActivityFailedMessage(
        instance=item.instance,
        execution_id=item.execution_id,
        id=item.id,
        error=ErrorDetails(category=category, kind=kind, message=message, retryable=retryable),
    )


def _is_async(fn: ActivityFn) -> bool:
    """True for coroutine functions, also when wrapped in a partial or a callable object."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - looking for an async __call__
    )


def _describe(lease: WorkLease) -> str:
    return f"activity {lease.item.name!r} of {lease.item.instance!r}"
