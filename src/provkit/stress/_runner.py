"""The stress runner: keeps a provider busy through the real runtime and measures it.

One run is one row: a fresh provider from the factory, the runtime and the launching client
in this process, then the history check of what storage holds. Completion is observed
exactly, at the ack that commits an instance's terminal status (seen through the
instrumenting wrapper). What the runtime logs is counted, never printed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
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
from provkit.reporting import (
    ErrorCause,
    HistoryCheck,
    LatencySummary,
    OperationStats,
    ProcessCounts,
    StressResult,
)
from provkit.runtime import Client, Runtime, RuntimeOptions
from provkit.stress._config import ConfigError, StressConfig
from provkit.stress._history_check import check_history
from provkit.stress._instrument import InstrumentedProvider
from provkit.stress._launcher import Launcher, Outcome, ProgressCallback, Tally
from provkit.stress._log_capture import LogCapture
from provkit.stress._preflight import ProviderCreationError, ProviderUnderTest
from provkit.stress._scenarios import SCENARIOS, Scenario
from provkit.stress._shared import shared_store_factory

_TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
_INTERRUPTED_GRACE = 1.0
"""Seconds in-flight turns get to finish when a run is cancelled (interrupted)."""


class CompletionWatch:
    """Resolves a future per watched instance when an ack commits its terminal status.

    Also counts turns and terminal acks, notes when anything (a turn or an activity) was
    last committed, and hands every terminal outcome to ``on_terminal`` if given.
    """

    def __init__(self, on_terminal: Callable[[str, Outcome], None] | None = None) -> None:
        self._on_terminal = on_terminal
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}
        self._tokens: dict[str, str] = {}
        self.last_progress = time.perf_counter()
        self.terminal_acks = 0
        self.turns = 0

    def expect(self, instance: str) -> asyncio.Future[Outcome]:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[instance] = future
        return future

    def forget(self, instance: str) -> None:
        self._waiting.pop(instance, None)

    def on_fetch(self, item: OrchestrationItem | None, *_args: Any, **_kwargs: Any) -> None:
        if item is not None:
            self._tokens[item.lock_token] = item.instance

    def on_abandon(self, _result: None, lock_token: str, *_args: Any, **_kwargs: Any) -> None:
        self._tokens.pop(lock_token, None)

    def on_work_ack(self, *_args: Any, **_kwargs: Any) -> None:
        self.last_progress = time.perf_counter()

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
        self.last_progress = time.perf_counter()
        self.turns += 1
        instance = self._tokens.pop(lock_token, None)
        status = metadata.status
        if instance is None or status is None or status not in _TERMINAL:
            return
        self.terminal_acks += 1
        outcome = outcome_of(status, metadata.output, history_delta)
        if self._on_terminal is not None:
            self._on_terminal(instance, outcome)
        future = self._waiting.pop(instance, None)
        if future is not None and not future.done():
            future.set_result(outcome)

    def observers(self) -> dict[str, Callable[..., None]]:
        """The ``InstrumentedProvider`` observers that feed this watch."""
        return {
            "fetch_orchestration_item": self.on_fetch,
            "ack_orchestration_item": self.on_ack,
            "abandon_orchestration_item": self.on_abandon,
            "ack_work_item": self.on_work_ack,
        }


def outcome_of(status: Status, output: str | None, history_delta: Sequence[Event]) -> Outcome:
    """The outcome a terminal ack commits (its status, and the error of a failure)."""
    error = next((e.error for e in history_delta if isinstance(e, OrchestrationFailed)), None)
    if error is None and status is not Status.COMPLETED:
        error = ErrorDetails(
            category=ErrorCategory.INFRASTRUCTURE,
            kind="unknown",
            message=output or f"ended {status.value} without an error",
        )
    return Outcome(status, error, time.perf_counter())


class ActivityCounter:
    """Counts finished activity executions per tag (see ``provkit.stress._scenarios``)."""

    def __init__(self) -> None:
        self.by_tag: Counter[str] = Counter()

    def __call__(self, tag: str) -> None:
        self.by_tag[tag] += 1

    @property
    def total(self) -> int:
        return sum(self.by_tag.values())


async def run_stress_test(
    factory: ProviderFactory,
    config: StressConfig,
    *,
    scenario: Scenario | None = None,
    on_progress: ProgressCallback | None = None,
    progress_interval: float = 0.5,
    label: str | None = None,
    spec: str = "",
    kill_after: float | None = None,
) -> StressResult:
    """Run one stress configuration against a fresh provider from ``factory``.

    ``scenario`` overrides the one ``config.scenario`` names (tests use this for failing
    workloads). ``label`` names the row (default: the provider's name) and ``spec`` is what
    the user typed to name the provider. The provider is disposed of afterwards
    (``dispose_provider`` when the factory has it, else ``close``), also when the run is
    cancelled.

    With ``config.processes`` >= 1 the runtime runs in that many processes on one shared
    store (``factory`` must be a ``SharedStoreFactory`` and ``spec`` importable by them);
    ``kill_after`` then kills one of them with SIGKILL that many seconds in.
    """
    if config.processes:
        # Imported here: _processes builds on this module.
        from provkit.stress._processes import run_processes

        if scenario is not None and scenario is not SCENARIOS.get(scenario.name):
            raise ConfigError("multi-process runs take only the built-in scenarios")
        if not spec:
            raise ConfigError("multi-process runs need the provider's spec (module:attr)")
        return await run_processes(
            shared_store_factory(factory, spec),
            spec,
            config,
            SCENARIOS[config.scenario],
            label or spec,
            on_progress,
            progress_interval,
            kill_after,
        )
    if kill_after is not None:
        raise ConfigError("kill_after needs a multi-process run (processes >= 1)")
    try:
        provider = await factory.create_provider()
    except Exception as exc:
        raise ProviderCreationError(str(exc)) from exc
    try:
        chosen = scenario or SCENARIOS[config.scenario]
        name = label or str(getattr(provider, "name", type(provider).__name__))
        return await _run(provider, config, chosen, name, spec, on_progress, progress_interval)
    finally:
        await dispose_provider(factory, provider)


async def run_plan(
    providers: Sequence[ProviderUnderTest],
    configs: Sequence[StressConfig],
    on_progress: ProgressCallback | None = None,
    on_result: Callable[[StressResult], None] | None = None,
    kill_after: float | None = None,
) -> list[StressResult]:
    """Every configuration against every provider, one after the other, in that order.

    ``on_result`` sees each row as soon as it is finished (an interrupted plan keeps those);
    ``kill_after`` applies to multi-process rows (see ``run_stress_test``).
    """
    results = []
    for entry in providers:
        for config in configs:
            result = await run_stress_test(
                entry.factory,
                config,
                on_progress=on_progress,
                label=entry.label,
                spec=entry.spec,
                kill_after=kill_after if config.processes else None,
            )
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def run_stress_test_sync(
    factory: ProviderFactory, config: StressConfig, **kwargs: Any
) -> StressResult:
    """``run_stress_test`` for callers without an event loop."""
    return asyncio.run(run_stress_test(factory, config, **kwargs))


async def _run(
    provider: Provider,
    config: StressConfig,
    scenario: Scenario,
    label: str,
    spec: str,
    on_progress: ProgressCallback | None,
    progress_interval: float,
) -> StressResult:
    watch = CompletionWatch()
    instrumented = InstrumentedProvider(provider, observers=watch.observers())
    executed = ActivityCounter()
    orchestrations, activities = scenario.build(config, executed)
    runtime = Runtime(
        instrumented,
        orchestrations=orchestrations,
        activities=activities,
        options=runtime_options(config),
    )
    launcher = Launcher(Client(instrumented), watch, config, scenario, label)
    with LogCapture() as logs:
        await runtime.start()
        reporter = None
        if on_progress is not None:
            reporter = asyncio.create_task(launcher.report(on_progress, progress_interval))
        try:
            elapsed = await launcher.launch_and_drain()
        except asyncio.CancelledError:
            await runtime.shutdown(grace=_INTERRUPTED_GRACE)
            raise
        finally:
            if reporter is not None:
                reporter.cancel()
        await runtime.shutdown()
    if on_progress is not None:
        on_progress(launcher.snapshot())
    tally = launcher.tally
    report = await check_history(
        provider, list(tally.launches.values()), executed.by_tag, expected_output(scenario, config)
    )
    disown_disagreeing(tally, report.disagreeing)
    causes = instrumented.causes() + logs.causes()
    return build_result(
        label=label,
        spec=spec,
        scenario=scenario,
        config=config,
        tally=tally,
        elapsed=elapsed,
        activities=executed.total,
        operations=instrumented.stats(),
        causes=causes,
        history=report.check,
    )


def disown_disagreeing(tally: Tally, instances: Collection[str]) -> None:
    """Stop counting as completed the ``instances`` storage does not show completed."""
    for instance in sorted(instances):
        if tally.launches[instance].acked == "Completed":
            tally.disown(instance, "acked as completed but storage does not show it completed")


def expected_output(scenario: Scenario, config: StressConfig) -> Callable[[int], Any] | None:
    expected = scenario.expected_output
    if expected is None:
        return None
    return lambda number: expected(config, number)


def runtime_options(config: StressConfig) -> RuntimeOptions:
    """The runtime settings a stress configuration asks for."""
    return RuntimeOptions(
        orchestration_concurrency=config.orch_concurrency,
        worker_concurrency=config.worker_concurrency,
        orchestration_lock_timeout=config.lock_timeout_secs,
        worker_lock_timeout=config.lock_timeout_secs,
    )


def build_result(
    *,
    label: str,
    spec: str,
    scenario: Scenario,
    config: StressConfig,
    tally: Tally,
    elapsed: float,
    activities: int,
    operations: Sequence[OperationStats],
    causes: Sequence[ErrorCause],
    history: HistoryCheck | None,
    per_process: Sequence[ProcessCounts] = (),
) -> StressResult:
    """The row one run measured: in-process, or (``per_process`` given) multi-process."""
    return StressResult(
        provider=label,
        provider_spec=spec,
        scenario=scenario.name,
        config=config.label,
        settings=config.as_dict(),
        launched=tally.launched,
        completed=tally.completed,
        failures=tally.failures(),
        elapsed_secs=elapsed,
        activities=activities,
        latency=LatencySummary.from_seconds(tally.latencies),
        operations=tuple(operations),
        ceiling_activities_per_sec=config.ceiling_activities_per_sec,
        errors=tuple(tally.errors),
        history=history,
        causes=tuple(sorted(causes, key=lambda cause: -cause.count)),
        worker_slots=config.worker_slots,
        activity_delay_ms=config.activity_delay_ms,
        processes=tuple(per_process),
    )
