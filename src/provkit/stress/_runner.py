"""The stress runner: keeps a provider busy through the real runtime and measures it.

A pump starts instances while fewer than ``max_concurrent`` are in flight, for
``duration_secs``; then the run drains. Completion is observed exactly, at the ack that
commits an instance's terminal status (seen through the instrumenting wrapper), so waiting
adds no polling load; afterwards every finished instance's stored status is checked.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from provkit.contract import (
    ErrorCategory,
    ErrorDetails,
    ExecutionMetadata,
    OrchestrationItem,
    Provider,
    ProviderFactory,
    Status,
    dispose_provider,
)
from provkit.contract.events import Event, OrchestrationFailed
from provkit.reporting import Failures, LatencySummary, StressResult
from provkit.runtime import Client, OrchestrationStatus, Runtime, RuntimeOptions
from provkit.stress._config import StressConfig
from provkit.stress._instrument import InstrumentedProvider
from provkit.stress._scenarios import SCENARIOS, Scenario

_TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
_MAX_ERRORS = 5
_VERIFY_CONCURRENCY = 4


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


class ProviderCreationError(Exception):
    """The factory's ``create_provider`` raised; the original exception is the cause."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: Status
    error: ErrorDetails | None
    at: float


class _CompletionWatch:
    """Resolves a future per watched instance when an ack commits its terminal status."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[_Outcome]] = {}
        self._tokens: dict[str, str] = {}

    def expect(self, instance: str) -> asyncio.Future[_Outcome]:
        future: asyncio.Future[_Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[instance] = future
        return future

    def forget(self, instance: str) -> None:
        self._waiting.pop(instance, None)

    def on_fetch(self, item: OrchestrationItem | None, *_args: Any, **_kwargs: Any) -> None:
        if item is not None and item.instance in self._waiting:
            self._tokens[item.lock_token] = item.instance

    def on_abandon(self, _result: None, lock_token: str, *_args: Any, **_kwargs: Any) -> None:
        self._tokens.pop(lock_token, None)

    def on_ack(
        self,
        _result: None,
        lock_token: str,
        execution_id: int,
        history_delta: Sequence[Event],
        worker_items: Sequence[Any],
        orchestrator_items: Sequence[Any],
        metadata: ExecutionMetadata,
        cancelled_activities: Sequence[Any] = (),
    ) -> None:
        instance = self._tokens.pop(lock_token, None)
        if instance is None or metadata.status not in _TERMINAL:
            return
        future = self._waiting.pop(instance, None)
        if future is None or future.done():
            return
        error = next((e.error for e in history_delta if isinstance(e, OrchestrationFailed)), None)
        if error is None and metadata.status is not Status.COMPLETED:
            error = ErrorDetails(
                category=ErrorCategory.INFRASTRUCTURE,
                kind="unknown",
                message=metadata.output or f"ended {metadata.status.value} without an error",
            )
        future.set_result(_Outcome(metadata.status, error, time.perf_counter()))


@dataclass
class _Tally:
    launched: int = 0
    completed: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)
    completed_instances: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(self.categories.values())

    def fail(self, category: str, instance: str, reason: str) -> None:
        """Count a failure; the first instance failing for each distinct reason is kept."""
        self.categories[category] += 1
        if reason not in self.reasons and len(self.errors) < _MAX_ERRORS:
            self.reasons.add(reason)
            self.errors.append(f"{instance}: {reason}")

    def record(self, instance: str, outcome: _Outcome, latency: float) -> None:
        self.latencies.append(latency)
        if outcome.status is Status.COMPLETED:
            self.completed += 1
            self.completed_instances.append(instance)
            return
        error = outcome.error
        assert error is not None  # _CompletionWatch always supplies one for failures
        self.fail(_category(error.category), instance, error.display())

    def failures(self) -> Failures:
        c = self.categories
        return Failures(
            infrastructure=c["infrastructure"],
            configuration=c["configuration"],
            application=c["application"],
            start_errors=c["start_errors"],
            timeouts=c["timeouts"],
        )


def _category(category: ErrorCategory) -> str:
    # Poison means the runtime gave up redelivering: a storage or runtime problem.
    if category is ErrorCategory.POISON:
        return "infrastructure"
    return str(category.value)


async def run_stress_test(
    factory: ProviderFactory,
    config: StressConfig,
    *,
    scenario: Scenario | None = None,
    on_progress: ProgressCallback | None = None,
    progress_interval: float = 0.5,
) -> StressResult:
    """Run one stress configuration against a fresh provider from ``factory``.

    ``scenario`` overrides the one ``config.scenario`` names (tests use this for failing
    workloads). The provider is disposed of afterwards (``dispose_provider`` when the
    factory has it, else ``close``).
    """
    try:
        provider = await factory.create_provider()
    except Exception as exc:
        raise ProviderCreationError(str(exc)) from exc
    try:
        chosen = scenario or SCENARIOS[config.scenario]
        return await _run(provider, config, chosen, on_progress, progress_interval)
    finally:
        await dispose_provider(factory, provider)


async def run_plan(
    factories: Sequence[ProviderFactory],
    configs: Sequence[StressConfig],
    on_progress: ProgressCallback | None = None,
) -> list[StressResult]:
    """Every configuration against every factory, one after the other, in that order."""
    return [
        await run_stress_test(factory, config, on_progress=on_progress)
        for factory in factories
        for config in configs
    ]


def run_stress_test_sync(
    factory: ProviderFactory, config: StressConfig, **kwargs: Any
) -> StressResult:
    """``run_stress_test`` for callers without an event loop."""
    return asyncio.run(run_stress_test(factory, config, **kwargs))


async def _run(
    provider: Provider,
    config: StressConfig,
    scenario: Scenario,
    on_progress: ProgressCallback | None,
    progress_interval: float,
) -> StressResult:
    run = _StressRun(provider, config, scenario)
    await run.runtime.start()
    reporter = None
    if on_progress is not None:
        reporter = asyncio.create_task(run.report(on_progress, progress_interval))
    try:
        elapsed = await run.launch_and_drain()
    finally:
        if reporter is not None:
            reporter.cancel()
        await run.runtime.shutdown()
    if on_progress is not None:
        on_progress(run.snapshot())
    await _verify(Client(provider), run.tally)
    return run.result(elapsed)


class _StressRun:
    """One run's moving parts: the instrumented provider, the runtime, the client, the tally."""

    def __init__(self, provider: Provider, config: StressConfig, scenario: Scenario) -> None:
        self.config = config
        self.scenario = scenario
        self.name = str(getattr(provider, "name", type(provider).__name__))
        self.watch = _CompletionWatch()
        self.instrumented = InstrumentedProvider(
            provider,
            observers={
                "fetch_orchestration_item": self.watch.on_fetch,
                "ack_orchestration_item": self.watch.on_ack,
                "abandon_orchestration_item": self.watch.on_abandon,
            },
        )
        self.executed = 0
        orchestrations, activities = scenario.build(config, self._count_activity)
        self.runtime = Runtime(
            self.instrumented,
            orchestrations=orchestrations,
            activities=activities,
            options=RuntimeOptions(
                orchestration_concurrency=config.orch_concurrency,
                worker_concurrency=config.worker_concurrency,
            ),
        )
        self.client = Client(self.instrumented)
        self.tally = _Tally()
        self.started = time.perf_counter()
        self.draining = False

    def _count_activity(self) -> None:
        self.executed += 1

    def snapshot(self) -> Progress:
        """Where the run stands now."""
        tally = self.tally
        return Progress(
            provider=self.name,
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
        """Hand a snapshot to ``on_progress`` every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            on_progress(self.snapshot())

    async def launch_and_drain(self) -> float:
        """Keep instances in flight for the duration, then drain; returns elapsed seconds."""
        self.started = time.perf_counter()
        tasks = await _pump(self.config, self.tally, self.drive)
        self.draining = True
        if tasks:
            drain = self.config.drain_timeout_secs
            _, pending = await asyncio.wait(tasks, timeout=drain)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in pending:
                reason = f"not finished when the {drain:g} s drain ended"
                self.tally.fail("timeouts", task.get_name(), reason)
        return time.perf_counter() - self.started

    async def drive(self, instance: str, number: int) -> None:
        """Start one instance and wait for its terminal ack (or give up after the timeout)."""
        config, tally = self.config, self.tally
        began = time.perf_counter()
        waiter = self.watch.expect(instance)
        try:
            await self.client.start_orchestration(
                instance, self.scenario.orchestration, self.scenario.make_input(config, number)
            )
        except Exception as exc:
            self.watch.forget(instance)
            tally.fail("start_errors", instance, f"start failed: {exc}")
            return
        try:
            outcome = await asyncio.wait_for(waiter, config.wait_timeout_secs)
        except TimeoutError:
            self.watch.forget(instance)
            tally.fail("timeouts", instance, f"not finished after {config.wait_timeout_secs:g} s")
            return
        tally.record(instance, outcome, outcome.at - began)

    def result(self, elapsed: float) -> StressResult:
        """The row this run measured."""
        config, tally = self.config, self.tally
        return StressResult(
            provider=self.name,
            scenario=self.scenario.name,
            config=config.label,
            settings=config.as_dict(),
            launched=tally.launched,
            completed=tally.completed,
            failures=tally.failures(),
            elapsed_secs=elapsed,
            activities=self.executed,
            latency=LatencySummary.from_seconds(tally.latencies),
            operations=self.instrumented.stats(),
            ceiling_activities_per_sec=config.ceiling_activities_per_sec,
            errors=tuple(tally.errors),
        )


async def _pump(
    config: StressConfig,
    tally: _Tally,
    drive: Callable[[str, int], Any],
) -> set[asyncio.Task[None]]:
    """Launch instances while fewer than ``max_concurrent`` run, until the duration is up.

    Each instance's task is named after the instance.
    """
    slots = asyncio.Semaphore(config.max_concurrent)
    tasks: set[asyncio.Task[None]] = set()
    deadline = time.perf_counter() + config.duration_secs

    def finished(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        slots.release()

    while (remaining := deadline - time.perf_counter()) > 0:
        try:
            await asyncio.wait_for(slots.acquire(), remaining)
        except TimeoutError:
            break
        number = tally.launched
        tally.launched += 1
        instance = f"stress-{number}"
        task = asyncio.create_task(drive(instance, number), name=instance)
        tasks.add(task)
        task.add_done_callback(finished)
    return set(tasks)


async def _verify(client: Client, tally: _Tally) -> None:
    """Check that storage shows every instance seen completing as completed.

    A provider that acknowledges a commit it did not make would otherwise look perfect;
    each disagreement turns a completion into an infrastructure failure.
    """
    gate = asyncio.Semaphore(_VERIFY_CONCURRENCY)

    async def check(instance: str) -> None:
        async with gate:
            try:
                stored = (await client.get_status(instance)).status
            except Exception as exc:
                problem = f"reading it back failed: {exc}"
            else:
                if stored is OrchestrationStatus.COMPLETED:
                    return
                problem = f"storage says {stored.value}"
        tally.completed -= 1
        tally.fail("infrastructure", instance, f"acked as completed but {problem}")

    await asyncio.gather(*(check(instance) for instance in tally.completed_instances))
