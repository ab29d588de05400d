"""``Runtime``: runs registered orchestrations and activities against a provider.

It owns the dispatcher slots (asyncio tasks) and the activity thread pool, and guarantees
that ``shutdown`` leaves no task behind and no fetched work unaccounted for.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self

from provkit.contract import Capability, Clock, Provider, SystemClock, check_provider
from provkit.runtime._dispatch import Slot, SlotLoop, log
from provkit.runtime._dispatch_orchestration import OrchestrationDispatcher
from provkit.runtime._dispatch_worker import ActivityFn, WorkerDispatcher
from provkit.runtime._options import RuntimeOptions
from provkit.runtime._replay import OrchestrationFn

_RECANCEL_AFTER = 0.5
"""Seconds ``shutdown`` waits for cancelled slots to end before cancelling them again."""


class Runtime:
    """Executes orchestrations and activities stored in ``provider``.

    ``orchestrations`` maps names to ``async def f(ctx, input)`` functions; ``activities``
    maps names to ``async def`` or plain ``def f(input)`` functions (plain ones run in a
    thread pool). ``clock`` must tell the same time as the provider's clock (timers are
    scheduled with it); it defaults to the wall clock. ``queues`` names the task queues whose
    activities this runtime runs (``ctx.schedule_activity(..., queue=...)``); ``None``, the
    default, runs activities of every queue. Choosing queues needs a provider declaring
    ``Capability.TASK_QUEUES``. Use ``async with Runtime(...)`` or ``await start()`` /
    ``await shutdown()``; a runtime runs once.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        orchestrations: Mapping[str, OrchestrationFn] | None = None,
        activities: Mapping[str, ActivityFn] | None = None,
        options: RuntimeOptions | None = None,
        clock: Clock | None = None,
        queues: Collection[str] | None = None,
    ) -> None:
        self._provider = check_provider(provider)
        self._queues = _checked_queues(queues, self._provider)
        self._orchestrations = _checked("orchestration", orchestrations or {}, need_async=True)
        self._activities = _checked("activity", activities or {}, need_async=False)
        self.options = options if options is not None else RuntimeOptions()
        if not isinstance(self.options, RuntimeOptions):
            raise TypeError(f"options must be a RuntimeOptions, got {self.options!r}")
        self._clock = clock if clock is not None else SystemClock()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._orchestration: OrchestrationDispatcher | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._aborting = False
        self._started = False

    async def start(self) -> None:
        """Start the dispatcher slots; returns at once."""
        if self._started:
            raise RuntimeError("this Runtime was already started; create a new one")
        self._started = True
        options = self.options
        long_poll = Capability.LONG_POLL in self._provider.capabilities
        self._executor = ThreadPoolExecutor(
            max_workers=options.worker_concurrency, thread_name_prefix="provkit-activity"
        )
        aborting = self._is_aborting
        orchestration = OrchestrationDispatcher(
            self._provider, self._orchestrations, options, self._clock, aborting
        )
        self._orchestration = orchestration
        worker = WorkerDispatcher(
            self._provider,
            self._activities,
            options,
            self._executor,
            aborting,
            self._stopping,
            self._queues,
        )
        slots: list[tuple[str, Slot[Any]]] = [
            (f"orchestration-{n}", orchestration.slot())
            for n in range(options.orchestration_concurrency)
        ]
        slots += [(f"worker-{n}", worker.slot()) for n in range(options.worker_concurrency)]
        loops = [
            SlotLoop(
                name=name, slot=slot, stopping=self._stopping, long_poll=long_poll, options=options
            )
            for name, slot in slots
        ]
        self._tasks = [
            asyncio.create_task(loop.run(), name=f"provkit-{loop.name}") for loop in loops
        ]

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop fetching, let in-flight work finish for ``grace`` seconds, abandon the rest.

        ``grace`` defaults to ``options.shutdown_grace``. Turns and activities still running
        after it are cancelled and their items abandoned without counting the delivery.
        Returns once every task of the runtime has ended; calling it again does nothing.
        """
        if not self._tasks:
            return
        self._stopping.set()
        grace = self.options.shutdown_grace if grace is None else grace
        _, pending = await asyncio.wait(self._tasks, timeout=grace)
        while pending:
            for task in pending:
                task.cancel()
            # A cancelled slot still settles what it has in flight; one left waiting on a
            # provider call that never returns is cancelled again instead of hanging here.
            _, pending = await asyncio.wait(pending, timeout=_RECANCEL_AFTER)
        await self._reap()

    async def _abort(self) -> None:
        """Stop dead, as a crash would: cancel every task and abandon nothing (for tests)."""
        self._aborting = True
        for task in self._tasks:
            task.cancel()
        await self._reap()

    async def _reap(self) -> None:
        tasks, self._tasks = self._tasks, []
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("%s ended with an error", task.get_name(), exc_info=result)
        if self._orchestration is not None:
            self._orchestration.close()
        if self._executor is not None:
            # Blocking activities cannot be interrupted; their threads finish on their own.
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _is_aborting(self) -> bool:
        return self._aborting

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()


def _checked_queues(queues: Collection[str] | None, provider: Provider) -> frozenset[str] | None:
    """The task queues to serve, after checking them and that ``provider`` can choose queues."""
    if queues is None:
        return None
    if isinstance(queues, str) or not all(isinstance(q, str) for q in queues):
        raise TypeError(f"queues must be a collection of queue names, got {queues!r}")
    if Capability.TASK_QUEUES not in provider.capabilities:
        raise ValueError(
            f"serving chosen task queues needs a provider declaring Capability.TASK_QUEUES; "
            f"{provider.name!r} does not (pass queues=None to run every queue's activities)"
        )
    return frozenset(queues)


def _checked(kind: str, registry: Mapping[str, Any], *, need_async: bool) -> dict[str, Any]:
    """Copy of ``registry`` after checking names and functions, with errors naming the entry."""
    if not isinstance(registry, Mapping):
        raise TypeError(f"{kind} registry must be a mapping of names to functions")
    for name, fn in registry.items():
        if not isinstance(name, str):
            raise TypeError(f"{kind} names must be strings, got {name!r}")
        if not callable(fn):
            raise TypeError(f"{kind} {name!r} must be a function, got {fn!r}")
        if need_async and not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{kind} {name!r} must be an 'async def' function, got {fn!r}")
    return dict(registry)
