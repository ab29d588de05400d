"""The launching client of a stress run: keeps instances in flight, then drains, and tallies.

A pump starts instances while fewer than ``max_concurrent`` are in flight, for
``duration_secs``; then the run drains. How an instance's end becomes known is the
``Completions`` source's business (the in-process runner watches acks through the
instrumenting wrapper; a multi-process run hears it from the runtime processes), so
waiting adds no polling load. Never talks to a runtime directly.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from provkit.contract import ErrorCategory, ErrorDetails, Status
from provkit.reporting import Failures
from provkit.runtime import Client
from provkit.stress._config import StressConfig
from provkit.stress._history_check import Launch
from provkit.stress._scenarios import Scenario

_MAX_ERRORS = 5
STALL_SECS = 10.0
"""A drain ends early when nothing was committed for this long (or 3 activity delays)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """A snapshot of a run in progress, handed to the progress callback."""

    provider: str
    scenario: str
    config: str
    elapsed_secs: float
    duration_secs: float
    launched: int
    completed: int
    failed: int
    active: int
    draining: bool


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an instance ended, as the runtime committed it, and when (``perf_counter``)."""

    status: Status
    error: ErrorDetails | None
    at: float


class Completions(Protocol):
    """Where the launcher learns that an instance ended."""

    last_progress: float
    """``perf_counter`` time something was last committed (a turn or an activity)."""

    def expect(self, instance: str) -> asyncio.Future[Outcome]:
        """A future resolved with the instance's outcome once its terminal ack commits."""
        ...

    def forget(self, instance: str) -> None:
        """Stop waiting for ``instance``."""
        ...


@dataclass
class Tally:
    """Counts of one run, and what the history check needs to know of each instance."""

    launched: int = 0
    completed: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)
    launches: dict[str, Launch] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.categories.values())

    def fail(self, category: str, instance: str, reason: str) -> None:
        """Count a failure; the first instance failing for each distinct reason is kept."""
        self.categories[category] += 1
        if reason not in self.reasons and len(self.errors) < _MAX_ERRORS:
            self.reasons.add(reason)
            self.errors.append(f"{instance}: {reason}")

    def note(self, instance: str, **changes: Any) -> None:
        launch = self.launches[instance]
        self.launches[instance] = Launch(
            instance=instance,
            number=launch.number,
            acked=changes.get("acked", launch.acked),
            start_failed=changes.get("start_failed", launch.start_failed),
        )

    def record(self, instance: str, outcome: Outcome, latency: float) -> None:
        self.latencies.append(latency)
        status = outcome.status
        self.note(instance, acked="Completed" if status is Status.COMPLETED else _name(outcome))
        if status is Status.COMPLETED:
            self.completed += 1
            return
        error = outcome.error
        assert error is not None  # every Completions source supplies one for failures
        self.fail(_category(error.category), instance, error.display())

    def disown(self, instance: str, reason: str) -> None:
        """An instance counted as completed that storage does not show completed."""
        self.completed -= 1
        self.fail("infrastructure", instance, reason)

    def failures(self) -> Failures:
        c = self.categories
        return Failures(
            infrastructure=c["infrastructure"],
            configuration=c["configuration"],
            application=c["application"],
            start_errors=c["start_errors"],
            timeouts=c["timeouts"],
        )


def _name(outcome: Outcome) -> str:
    if outcome.status is Status.CANCELLED:
        return "Cancelled"
    return "Failed" if outcome.status is Status.FAILED else "Completed"


def _category(category: ErrorCategory) -> str:
    # Poison means the runtime gave up redelivering: a storage or runtime problem.
    if category is ErrorCategory.POISON:
        return "infrastructure"
    return str(category.value)


class Launcher:
    """Starts instances through ``client`` and waits for their ends through ``completions``."""

    def __init__(
        self,
        client: Client,
        completions: Completions,
        config: StressConfig,
        scenario: Scenario,
        label: str,
    ) -> None:
        self.client = client
        self.completions = completions
        self.config = config
        self.scenario = scenario
        self.label = label
        self.tally = Tally()
        self.started = time.perf_counter()
        self.draining = False
        self._tasks: set[asyncio.Task[None]] = set()

    def snapshot(self) -> Progress:
        """Where the run stands now."""
        tally = self.tally
        return Progress(
            provider=self.label,
            scenario=self.scenario.name,
            config=self.config.label,
            elapsed_secs=time.perf_counter() - self.started,
            duration_secs=self.config.duration_secs,
            launched=tally.launched,
            completed=tally.completed,
            failed=tally.failed,
            active=tally.launched - tally.completed - tally.failed,
            draining=self.draining,
        )

    async def report(self, on_progress: ProgressCallback, interval: float) -> None:
        """Hand a snapshot to ``on_progress`` now and every ``interval`` seconds until
        cancelled."""
        while True:
            on_progress(self.snapshot())
            await asyncio.sleep(interval)

    async def launch_and_drain(self) -> float:
        """Keep instances in flight for the duration, then drain; returns elapsed seconds.

        Cancelling it cancels every instance's task before the cancellation propagates.
        """
        self.started = time.perf_counter()
        self.completions.last_progress = self.started
        try:
            await self._pump()
            self.draining = True
            await self._drain()
        finally:
            await self._cancel_all()
        return time.perf_counter() - self.started

    async def _pump(self) -> None:
        config, tally = self.config, self.tally
        slots = asyncio.Semaphore(config.max_concurrent)
        deadline = time.perf_counter() + config.duration_secs

        def finished(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            slots.release()

        while (remaining := deadline - time.perf_counter()) > 0:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # (an interrupt) that arrives just as the semaphore is acquired.
            try:
                async with asyncio.timeout(remaining):
                    await slots.acquire()
            except TimeoutError:
                break
            number = tally.launched
            tally.launched += 1
            instance = f"stress-{number}"
            tally.launches[instance] = Launch(instance=instance, number=number)
            task = asyncio.create_task(self._drive(instance, number), name=instance)
            self._tasks.add(task)
            task.add_done_callback(finished)

    async def _drain(self) -> None:
        drain_ends = time.perf_counter() + self.config.drain_timeout_secs
        stall = max(STALL_SECS, 3 * self.config.activity_delay_ms / 1000.0)
        while self._tasks:
            now = time.perf_counter()
            idle = now - self.completions.last_progress
            if now >= drain_ends:
                reason = f"not finished when the {self.config.drain_timeout_secs:g} s drain ended"
                break
            if idle >= stall:
                reason = f"not finished when the drain gave up: nothing committed for {idle:.0f} s"
                break
            wait = min(drain_ends - now, stall - idle)
            await asyncio.wait(set(self._tasks), timeout=wait)
        else:
            return
        pending = list(self._tasks)
        await self._cancel_all()
        for task in sorted(pending, key=lambda t: self.tally.launches[t.get_name()].number):
            self.tally.fail("timeouts", task.get_name(), reason)

    async def _cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drive(self, instance: str, number: int) -> None:
        """Start one instance and wait for its terminal ack (or give up after the timeout)."""
        config, tally = self.config, self.tally
        began = time.perf_counter()
        waiter = self.completions.expect(instance)
        try:
            await self.client.start_orchestration(
                instance, self.scenario.orchestration, self.scenario.make_input(config, number)
            )
        except Exception as exc:
            self.completions.forget(instance)
            tally.note(instance, start_failed=True)
            tally.fail("start_errors", instance, f"start failed: {exc}")
            return
        try:
            async with asyncio.timeout(config.wait_timeout_secs):
                outcome = await waiter
        except TimeoutError:
            self.completions.forget(instance)
            tally.fail("timeouts", instance, f"not finished after {config.wait_timeout_secs:g} s")
            return
        finally:
            if not waiter.done():
                self.completions.forget(instance)
        tally.record(instance, outcome, outcome.at - began)
