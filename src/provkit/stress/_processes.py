"""Multi-process stress runs: N runtime processes on one shared store, this process the client.

The runner makes a shared store (``SharedStoreFactory``), starts N runtime processes on it
(``provkit.stress._runtime_process``), launches instances through its own provider on the
store, and hears of each instance's end from the process that committed it. Afterwards it
stops the processes, collects their counts and checks the store's histories like any run.
A process killed on purpose (``kill_after``) reports nothing: its executions are unknown, so
the check then tolerates no duplicate among the others' and the store must still hold every
instance completed once. Every child is stopped and the store removed, also on interrupt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, cast

from provkit.contract import (
    ErrorCategory,
    ErrorDetails,
    ProviderFactory,
    Status,
    dispose_provider,
)
from provkit.reporting import ErrorCause, ProcessCounts, StressResult
from provkit.runtime import Client, OrchestrationStatus
from provkit.stress._config import StressConfig
from provkit.stress._history_check import check_history
from provkit.stress._instrument import InstrumentedProvider
from provkit.stress._launcher import Launcher, Outcome, ProgressCallback
from provkit.stress._runner import build_result, disown_disagreeing, expected_output
from provkit.stress._runtime_process import config_to_json
from provkit.stress._scenarios import Scenario
from provkit.stress._shared import SharedStoreFactory

READY_TIMEOUT = 60.0
"""Seconds runtime processes get to start and open the store."""
STOP_TIMEOUT = 30.0
"""Seconds a runtime process gets to shut down and report before it is killed."""
_STDERR_LINES = 20
_LINE_LIMIT = 1 << 28
"""Longest line a runtime process may send (its final report carries every call's time)."""
_POLL_SECS = 0.5


class ProcessError(Exception):
    """A runtime process could not start or died unexpectedly; one line naming why."""


@dataclass
class _Child:
    index: int
    process: asyncio.subprocess.Process
    ready: asyncio.Future[None]
    final: dict[str, Any] | None = None
    killed: bool = False
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=_STDERR_LINES))
    error: str | None = None
    finished_one: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the process reports an instance it finished: it is surely at work."""

    def exit(self) -> str:
        if self.killed:
            return "killed"
        code = self.process.returncode
        if code == 0 and self.final is not None:
            return "ok"
        return f"exit status {code}" if code is not None else "still running"

    def why(self) -> str:
        detail = self.error or (self.stderr[-1] if self.stderr else "no message")
        return f"runtime process {self.index} ({self.exit()}): {detail}"


class _Completions:
    """Completion source fed by the runtime processes' ``done`` lines.

    When a process dies, its last terminal acks may never be reported: instances still
    awaited are then also looked up in the store every ``_POLL_SECS``.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}
        self.last_progress = time.perf_counter()
        self.polling = False

    def expect(self, instance: str) -> asyncio.Future[Outcome]:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[instance] = future
        return future

    def forget(self, instance: str) -> None:
        self._waiting.pop(instance, None)

    def done(self, instance: str, outcome: Outcome) -> None:
        self.last_progress = time.perf_counter()
        future = self._waiting.pop(instance, None)
        if future is not None and not future.done():
            future.set_result(outcome)

    async def poll(self) -> None:
        """While ``polling``, resolve awaited instances the store shows finished."""
        while True:
            await asyncio.sleep(_POLL_SECS)
            if not self.polling:
                continue
            for instance in list(self._waiting):
                state = await self._client.get_status(instance)
                if state.status.is_terminal:
                    self.done(instance, _outcome_of_state(state.status, state.error))


def _outcome_of_state(status: OrchestrationStatus, error: ErrorDetails | None) -> Outcome:
    stored = {
        OrchestrationStatus.COMPLETED: Status.COMPLETED,
        OrchestrationStatus.FAILED: Status.FAILED,
        OrchestrationStatus.CANCELLED: Status.CANCELLED,
    }[status]
    return Outcome(stored, error, time.perf_counter())


def _outcome_of_line(line: dict[str, Any]) -> Outcome:
    error = line.get("error")
    details = None
    if error is not None:
        details = ErrorDetails(
            category=ErrorCategory(error["category"]), kind=error["kind"], message=error["message"]
        )
    return Outcome(Status(line["status"]), details, time.perf_counter())


async def _read_stdout(child: _Child, completions: _Completions) -> None:
    assert child.process.stdout is not None
    async for raw in child.process.stdout:
        try:
            line = json.loads(raw)
        except ValueError:
            child.stderr.append(raw.decode(errors="replace").rstrip())
            continue
        if "done" in line:
            child.finished_one.set()
            completions.done(line["done"], _outcome_of_line(line))
        elif "tick" in line:
            completions.last_progress = time.perf_counter()
        elif "ready" in line and not child.ready.done():
            child.ready.set_result(None)
        elif "final" in line:
            child.final = line["final"]
        elif "error" in line:
            child.error = line["error"]
    if not child.ready.done():
        child.ready.set_exception(ProcessError(child.why()))


async def _read_stderr(child: _Child) -> None:
    assert child.process.stderr is not None
    async for raw in child.process.stderr:
        child.stderr.append(raw.decode(errors="replace").rstrip())


async def _spawn(index: int, job: dict[str, Any]) -> _Child:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "provkit.stress._runtime_process",
        json.dumps({**job, "index": index}),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=_LINE_LIMIT,
        # Its own session: a Ctrl-C at the terminal is the runner's to handle, not the child's.
        start_new_session=True,
    )
    return _Child(index, process, asyncio.get_running_loop().create_future())


async def _stop(child: _Child) -> None:
    """Ask ``child`` to stop (stdin closed), then kill it if it does not end in time."""
    process = child.process
    if process.returncode is None and process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await process.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def run_processes(
    factory: SharedStoreFactory,
    spec: str,
    config: StressConfig,
    scenario: Scenario,
    label: str,
    on_progress: ProgressCallback | None = None,
    progress_interval: float = 0.5,
    kill_after: float | None = None,
) -> StressResult:
    """One row with ``config.processes`` runtime processes on a new shared store.

    ``kill_after`` (seconds into the launch phase, and not before it has finished an
    instance) kills runtime process 0 with SIGKILL, to show that a crashed process loses
    nothing.
    """
    location = await factory.create_shared_store()
    children: list[_Child] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        job = {
            "spec": spec,
            "location": location,
            "config": config_to_json(config),
            "cwd": os.getcwd(),
        }
        for index in range(config.processes):
            child = await _spawn(index, job)
            children.append(child)
        provider = await factory.open_shared_provider(location)
        try:
            client_side = InstrumentedProvider(provider)
            client = Client(client_side)
            completions = _Completions(client)
            for child in children:
                tasks.append(asyncio.create_task(_read_stdout(child, completions)))
                tasks.append(asyncio.create_task(_read_stderr(child)))
            tasks.append(asyncio.create_task(completions.poll()))
            try:
                async with asyncio.timeout(READY_TIMEOUT):
                    await asyncio.gather(*(child.ready for child in children))
            except TimeoutError:
                late = next(child for child in children if not child.ready.done())
                raise ProcessError(
                    f"runtime process {late.index} did not start within {READY_TIMEOUT:g} s"
                ) from None
            launcher = Launcher(client, completions, config, scenario, label)
            if on_progress is not None:
                tasks.append(asyncio.create_task(launcher.report(on_progress, progress_interval)))
            if kill_after is not None:
                tasks.append(asyncio.create_task(_kill_later(children[0], kill_after, completions)))
            tasks.append(asyncio.create_task(_watch_deaths(children, completions)))
            elapsed = await launcher.launch_and_drain()
            await asyncio.gather(*(_stop(child) for child in children))
            if on_progress is not None:
                on_progress(launcher.snapshot())
            return await _result(
                children, client_side, launcher, provider, spec, label, config, scenario, elapsed
            )
        finally:
            await dispose_provider(cast(ProviderFactory, factory), provider)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(_terminate(child) for child in children))
        await factory.remove_shared_store(location)


async def _terminate(child: _Child) -> None:
    if child.process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(signal.SIGTERM)
        await _stop(child)


async def _kill_later(child: _Child, delay: float, completions: _Completions) -> None:
    # Not before the process has finished an instance: killed then, it is surely mid-work
    # (holding locks or leases), not still starting up.
    await asyncio.sleep(delay)
    await child.finished_one.wait()
    child.killed = True
    with contextlib.suppress(ProcessLookupError):
        child.process.kill()
    completions.polling = True


async def _watch_deaths(children: list[_Child], completions: _Completions) -> None:
    """A process that ends before it is asked to makes the runner look in the store."""
    await asyncio.wait(
        [asyncio.ensure_future(child.process.wait()) for child in children],
        return_when=asyncio.FIRST_COMPLETED,
    )
    completions.polling = True


async def _result(
    children: list[_Child],
    client_side: InstrumentedProvider,
    launcher: Launcher,
    provider: Any,
    spec: str,
    label: str,
    config: StressConfig,
    scenario: Scenario,
    elapsed: float,
) -> StressResult:
    executed: Counter[str] = Counter()
    causes: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    counts = []
    for child in children:
        final = child.final or {}
        executed.update(final.get("executed", {}))
        client_side.absorb(final.get("operations", {}))
        for cause in final.get("log", []):
            key = (cause["source"], cause["kind"])
            causes[key] += cause["count"]
            examples.setdefault(key, cause["example"])
        counts.append(
            ProcessCounts(
                index=child.index,
                pid=child.process.pid,
                exit=child.exit(),
                turns=final.get("turns", 0),
                activities=sum(final.get("executed", {}).values()),
                terminal_acks=final.get("terminal_acks", 0),
            )
        )
    complete = all(child.final is not None for child in children)
    tally = launcher.tally
    report = await check_history(
        provider,
        list(tally.launches.values()),
        executed,
        expected_output(scenario, config),
        executions_complete=complete,
    )
    disown_disagreeing(tally, report.disagreeing)
    for child in children:
        if not child.killed and child.exit() != "ok":
            tally.errors.insert(0, child.why())
    log_causes = [
        ErrorCause(source=source, kind=kind, count=count, example=examples[(source, kind)])
        for (source, kind), count in causes.items()
    ]
    return build_result(
        label=label,
        spec=spec,
        scenario=scenario,
        config=config,
        tally=tally,
        elapsed=elapsed,
        activities=sum(executed.values()),
        operations=client_side.stats(),
        causes=[*client_side.causes(), *log_causes],
        history=report.check,
        per_process=counts,
    )
