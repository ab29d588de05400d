"""What the ``end_to_end`` category uses to run provkit's runtime over the provider under test.

The one part of the suite that drives the runtime instead of single contract calls: a clock
that flows like the wall clock but can jump ahead, runtimes that a test can crash and that
are stopped when it ends, wrappers that wedge a runtime at a chosen call or record what it
fetched, and checks that a history holds each step exactly once.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

from provkit.conformance._guard import GuardedProvider, bounded
from provkit.contract import (
    Capability,
    ClockControl,
    OrchestrationItem,
    Provider,
    ProviderWrapper,
    WorkLease,
)
from provkit.contract import events as ev
from provkit.runtime import (
    ActivityFn,
    Client,
    OrchestrationFn,
    OrchestrationState,
    OrchestrationStatus,
    Runtime,
    RuntimeOptions,
)

_T = TypeVar("_T")

HOUR = 3600.0
DAY = 24 * HOUR


class ShiftClock:
    """A clock that runs at wall-clock pace (monotonic) and can also jump ahead.

    Injected into both the provider and the runtime, so backoffs and short waits pass in
    real time while locks, leases and long timers expire the moment a test jumps.
    """

    def __init__(self) -> None:
        self._base_ms = time.time_ns() // 1_000_000
        self._mono_ns = time.monotonic_ns()
        self._offset_ms = 0

    def now_ms(self) -> int:
        return self._base_ms + (time.monotonic_ns() - self._mono_ns) // 1_000_000 + self._offset_ms

    def jump(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (rounded up to whole milliseconds)."""
        if seconds < 0:
            raise ValueError("a clock never moves backwards")
        self._offset_ms += math.ceil(seconds * 1000)


@dataclass(frozen=True, slots=True)
class EndToEndTiming:
    """Durations of the category, in seconds.

    ``lock_timeout``: the orchestration lock and worker lease a crashed runtime leaves
    behind. ``long_timer``: a "long" sleep (30 days when time can jump). ``wait``: the
    longest a scenario waits for an instance to finish, or for the next of many to finish.
    ``settle``: real time given to show that something does not happen.
    """

    lock_timeout: float
    long_timer: float
    wait: float
    settle: float

    @classmethod
    def for_run(cls, timescale: float, jumps: bool) -> EndToEndTiming:
        if jumps:
            return cls(lock_timeout=60.0, long_timer=30 * DAY, wait=20.0 * timescale, settle=0.2)
        return cls(
            lock_timeout=1.0 * timescale,
            long_timer=1.0 * timescale,
            wait=20.0 * timescale,
            settle=0.2 * timescale,
        )


@dataclass(frozen=True, slots=True)
class LockWindow:
    """Locks taken after its creation are held at least until ``earliest_expiry`` (monotonic).

    With a jumping clock they are held until the test jumps; on real time a check that
    comes too late (a slow machine) would see them expire, so ``still_held`` says whether
    a "still locked" assertion is meaningful.
    """

    earliest_expiry: float
    jumps: bool

    def still_held(self, margin: float = 0.1) -> bool:
        """True while every such lock is certainly still held."""
        return self.jumps or time.monotonic() < self.earliest_expiry - margin


class EndToEnd:
    """One end-to-end scenario's world: the provider under test, its clock, runtimes, client.

    ``provider`` is the raw provider the runtimes use; ``store`` is the same provider with a
    deadline on every call, for the test's own reads. Runtimes made by ``runtime()`` are
    stopped dead (``crash``) when the test ends, also when it failed: what they leave
    behind goes with the provider.
    """

    def __init__(self, provider: Provider, *, timescale: float, op_timeout: float) -> None:
        self.provider = provider
        self.store: Provider = cast(Provider, GuardedProvider(provider, op_timeout))
        self.clock: ShiftClock | None = None
        if Capability.CLOCK in provider.capabilities:
            self.clock = ShiftClock()
            cast(ClockControl, provider).set_clock(self.clock)
        self.timing = EndToEndTiming.for_run(timescale, self.clock is not None)
        self._op_timeout = op_timeout
        self._runtimes: list[Runtime] = []

    @property
    def jumps(self) -> bool:
        """True when time can jump (the provider declares ``CLOCK``); else waits are real."""
        return self.clock is not None

    def lock_window(self) -> LockWindow:
        """Locks and leases taken from now on with ``timing.lock_timeout``: still held?"""
        return LockWindow(time.monotonic() + self.timing.lock_timeout, jumps=self.jumps)

    async def jump(self, seconds: float) -> None:
        """Let ``seconds`` of provider time pass: a jump, or a real sleep without ``CLOCK``."""
        if self.clock is not None:
            self.clock.jump(seconds)
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(seconds)

    def options(self, **changes: Any) -> RuntimeOptions:
        """Quick-reacting runtime options whose locks expire only after ``lock_timeout``."""
        base = RuntimeOptions(
            orchestration_concurrency=2,
            worker_concurrency=2,
            orchestration_lock_timeout=self.timing.lock_timeout,
            worker_lock_timeout=self.timing.lock_timeout,
            poll_interval=0.05,
            idle_backoff_initial=0.005,
            retry_backoff_initial=0.005,
            retry_backoff_max=0.05,
            shutdown_grace=2.0,
        )
        return replace(base, **changes)

    async def runtime(
        self,
        orchestrations: Mapping[str, OrchestrationFn],
        activities: Mapping[str, ActivityFn] | None = None,
        *,
        options: RuntimeOptions | None = None,
        provider: Provider | None = None,
    ) -> Runtime:
        """A started runtime on ``provider`` (default: the provider under test)."""
        runtime = Runtime(
            self.provider if provider is None else provider,
            orchestrations=orchestrations,
            activities=activities,
            options=self.options() if options is None else options,
            clock=self.clock,
        )
        self._runtimes.append(runtime)
        await runtime.start()
        return runtime

    async def crash(self, runtime: Runtime) -> None:
        """Stop ``runtime`` dead, as a killed process would: its locks and leases stay."""
        await bounded("crashing a runtime", runtime._abort(), self._op_timeout)

    def client(self, **options: Any) -> Client:
        """A client on the provider under test (every call under a deadline)."""
        return Client(self.store, **options)

    async def finish(self, client: Client, instance: str) -> OrchestrationState:
        """The final state of ``instance``, failing the test if it does not end in time."""
        return await client.wait_for_orchestration(instance, timeout=self.timing.wait)

    async def finish_all(
        self, client: Client, instances: Sequence[str]
    ) -> list[OrchestrationState]:
        """Final states of ``instances``, in order (a few waited on at a time), all within
        ``timing.wait``."""
        deadline = time.monotonic() + self.timing.wait

        async def finish(instance: str) -> OrchestrationState:
            remaining = max(deadline - time.monotonic(), 0.001)
            return await client.wait_for_orchestration(instance, timeout=remaining)

        return await bounded_gather([finish(i) for i in instances])

    async def histories(self, instances: Sequence[str]) -> list[list[ev.Event]]:
        """The current histories of ``instances``, in order (a few read at a time)."""
        return await bounded_gather([self.history(i) for i in instances])

    async def history(self, instance: str) -> list[ev.Event]:
        """The current execution's history of ``instance``."""
        return await self.store.read(instance)

    async def history_until(
        self, instance: str, predicate: Callable[[list[ev.Event]], bool]
    ) -> list[ev.Event]:
        """Poll ``instance``'s history until ``predicate`` holds; fail after ``timing.wait``."""
        deadline = time.monotonic() + self.timing.wait
        while True:
            history = await self.history(instance)
            if predicate(history):
                return history
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"history of {instance!r} never reached the expected point: "
                    f"{[type(e).__name__ for e in history]}"
                )
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Stop every runtime this test started, dead: nothing they hold matters any more."""
        runtimes, self._runtimes = self._runtimes, []
        for runtime in runtimes:
            await self.crash(runtime)


async def progressing(
    done: Callable[[], bool], progress: Callable[[], int], stall: float, what: str
) -> None:
    """Poll every 5 ms until ``done()``; fail naming ``what`` when ``progress()`` (a count of
    steps taken) stays the same for ``stall`` s.

    For work whose total time depends on the machine (a burst of many instances): a slow
    provider passes as long as it moves, one that lost something stops moving and fails.
    """
    last, since = progress(), time.monotonic()
    while not done():
        await asyncio.sleep(0.005)
        now, current = time.monotonic(), progress()
        if current != last:
            last, since = current, now
        elif now - since > stall:
            raise AssertionError(
                f"timed out waiting for {what}: no progress for {stall:g} s "
                f"(stuck after {last} steps)"
            )


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    """Poll ``condition()`` every 5 ms until it holds; fail naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.005)


class HangingAcks(ProviderWrapper):
    """A provider whose orchestration acks never return: a runtime that dies mid-turn.

    Each ack waits forever, so no turn's result reaches storage; crash the runtime to leave
    the locks of every instance in ``locked`` behind.
    """

    def __init__(self, inner: Provider) -> None:
        super().__init__(inner)
        self.locked: set[str] = set()
        """Instances this provider handed out (their locks are never released)."""

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        item = await self.inner.fetch_orchestration_item(lock_timeout, poll_timeout)
        if item is not None:
            self.locked.add(item.instance)
        return item

    async def ack_orchestration_item(self, lock_token: str, *args: Any, **kwargs: Any) -> None:
        await asyncio.Event().wait()


class Recorder(ProviderWrapper):
    """Forwards everything, recording each fetched turn and lease and each ack that returned,
    and the instances whose terminal event an ack committed (``ended``, in ack order)."""

    def __init__(self, inner: Provider) -> None:
        super().__init__(inner)
        self.turns: list[OrchestrationItem] = []
        self.leases: list[WorkLease] = []
        self.acked: set[str] = set()
        self.ended: list[str] = []
        self._locked: dict[str, str] = {}

    async def forward(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        result = await super().forward(operation, *args, **kwargs)
        if operation == "fetch_orchestration_item" and result is not None:
            self.turns.append(result)
            self._locked[result.lock_token] = result.instance
        elif operation == "fetch_work_item" and result is not None:
            self.leases.append(result)
        elif operation in ("ack_orchestration_item", "ack_work_item"):
            self.acked.add(args[0])
            if operation == "ack_orchestration_item" and any(
                isinstance(event, ev.OrchestrationCompleted | ev.OrchestrationFailed)
                for event in args[2]
            ):
                self.ended.append(self._locked[args[0]])
        return result

    def first_attempts(self) -> dict[str, int]:
        """Per instance, the attempt count of the first turn this provider handed out."""
        first: dict[str, int] = {}
        for item in self.turns:
            first.setdefault(item.instance, item.attempt_count)
        return first


# -- history checks ------------------------------------------------------------------------

_TERMINAL = (ev.OrchestrationCompleted, ev.OrchestrationFailed, ev.OrchestrationContinuedAsNew)
_ANSWERS = (
    ev.ActivityCompleted,
    ev.ActivityFailed,
    ev.TimerFired,
    ev.SubOrchestrationCompleted,
    ev.SubOrchestrationFailed,
)


def kinds(history: Sequence[ev.Event]) -> list[str]:
    """The event kinds of ``history``, in order."""
    return [type(event).__name__ for event in history]


def assert_sound(instance: str, history: Sequence[ev.Event]) -> None:
    """``history`` is one clean run: one start first, one terminal event last, ids rising,
    every completion answering a schedule of the run, and no schedule answered twice."""
    ids = [event.event_id for event in history]
    assert ids == sorted(set(ids)), f"{instance}: event ids not strictly rising: {ids}"
    assert isinstance(history[:1] and history[0], ev.OrchestrationStarted), (
        f"{instance}: history does not begin with OrchestrationStarted: {kinds(history)}"
    )
    starts = sum(isinstance(event, ev.OrchestrationStarted) for event in history)
    assert starts == 1, f"{instance}: {starts} OrchestrationStarted events: {kinds(history)}"
    terminal = [event for event in history if isinstance(event, _TERMINAL)]
    assert terminal == history[-1:], (
        f"{instance}: expected exactly one terminal event, last: {kinds(history)}"
    )
    schedules = {
        event.event_id
        for event in history
        if isinstance(event, ev.ActivityScheduled | ev.TimerCreated | ev.SubOrchestrationScheduled)
    }
    answers = Counter(event.source_event_id for event in history if isinstance(event, _ANSWERS))
    stray = set(answers) - schedules
    assert not stray, f"{instance}: completions answer events that were never scheduled: {stray}"
    twice = {source: n for source, n in answers.items() if n > 1}
    assert not twice, f"{instance}: schedules answered more than once: {twice}"


def assert_each_activity_completed_once(instance: str, history: Sequence[ev.Event]) -> None:
    """Every scheduled activity of ``history`` has exactly one ``ActivityCompleted``."""
    scheduled = [e.event_id for e in history if isinstance(e, ev.ActivityScheduled)]
    completed = Counter(e.source_event_id for e in history if isinstance(e, ev.ActivityCompleted))
    assert {s: completed[s] for s in scheduled} == dict.fromkeys(scheduled, 1), (
        f"{instance}: activity completions per schedule differ from one each: {kinds(history)}"
    )


def completed(state: OrchestrationState, output: Any) -> bool:
    """True when ``state`` is COMPLETED with exactly ``output``."""
    return state.status is OrchestrationStatus.COMPLETED and state.output == output


async def bounded_gather(calls: Sequence[Awaitable[_T]], at_once: int = 16) -> list[_T]:
    """The results of ``calls`` in order, with at most ``at_once`` awaited at a time."""
    gate = asyncio.Semaphore(at_once)

    async def one(call: Awaitable[_T]) -> _T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))
