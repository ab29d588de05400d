"""Run the conformance suite against mutants, each run in its own subprocess.

Every mutant meets the cheap stages first: the core categories, then any other categories
installed (extended, end-to-end), then the slow ones (``model``, ``concurrency``), and a
mutant is judged as soon as one stage kills it. Before a mutant's stage counts, the same
stage must pass against the unmutated base (the control), or no verdict would mean anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from provkit.conformance._markers import CATEGORIES
from provkit.mutants._catalogue import Mutant
from provkit.mutants._pytest_report import REPORT_ENV

SLOW_CATEGORIES = ("model", "concurrency")
"""Categories run only for mutants every other category let through."""

CONTROLS = {
    "memory": "memory",
    "memory (wrapped)": "memory",
    "sqlite": "sqlite-memory",
    "sqlite (wrapped)": "sqlite-memory",
}
"""The unmutated provider spec behind each mutant base."""

KILLED, SURVIVED, ERROR, TIMEOUT = "killed", "survived", "error", "timeout"


@dataclass(frozen=True, slots=True)
class Stage:
    """One pytest run's selection of the suite: a ``-m`` expression, and what it means."""

    name: str
    markexpr: str


def default_stages() -> list[Stage]:
    """Core categories; then every other category installed; then the slow ones.

    The middle stage selects by exclusion, so categories added to the suite later (extended,
    end-to-end) are judged without this list changing. A stage that selects no test passes.
    """
    core = " or ".join(CATEGORIES)
    slow = " or ".join(SLOW_CATEGORIES)
    return [
        Stage("core", core),
        Stage("other", f"not ({core}) and not ({slow})"),
        Stage("slow", slow),
    ]


def selected_stage(categories: Sequence[str]) -> Stage:
    """One stage running just ``categories``."""
    return Stage("selected", " or ".join(categories))


@dataclass(frozen=True, slots=True)
class Options:
    """How to run each suite: stop at the first failing test or run all; per-run time limit."""

    first_failure_only: bool = True
    timeout: float = 900.0


@dataclass(frozen=True, slots=True)
class SuiteRun:
    """One pytest run: ``passed``, ``failed`` (with ``failed`` ids), ``error`` or ``timeout``."""

    status: str
    failed: tuple[str, ...] = ()
    seconds: float = 0.0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the suite did to one mutant; ``stage`` is where it was killed (or last ran)."""

    mutant: Mutant
    outcome: str
    stage: str
    killed_by: tuple[str, ...] = ()
    seconds: float = 0.0
    detail: str = ""


def short_test_id(nodeid: str) -> str:
    """``src/.../suite/test_x.py::test_y[p]`` -> ``test_x.py::test_y[p]``."""
    path, sep, rest = nodeid.partition("::")
    return path.rsplit("/", 1)[-1] + sep + rest


async def run_suite(spec: str, stage: Stage, options: Options) -> SuiteRun:
    """Run ``stage``'s categories of the suite against ``spec`` in a fresh interpreter."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="provkit-mutants-") as scratch:
        report = Path(scratch) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            f"--provider={spec}",
            "-m",
            stage.markexpr,
            "-p",
            "no:cacheprovider",
            "-p",
            "provkit.mutants._pytest_report",
            "-q",
            "-o",
            "console_output_style=classic",
            # A verdict needs only which tests failed. Rewriting the asserts of every module
            # the plugins import costs more than most runs stopped at their first failure,
            # and is paid again by each run when bytecode caching is off.
            "--assert=plain",
        ]
        if options.first_failure_only:
            command.append("-x")
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=scratch,
            env={**os.environ, REPORT_ENV: str(report)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), options.timeout)
        except TimeoutError:
            _kill(process)
            await process.wait()
            return SuiteRun(TIMEOUT, seconds=options.timeout, detail=f"over {options.timeout:g} s")
        except asyncio.CancelledError:
            _kill(process)
            raise
        seconds = time.monotonic() - started
        text = output.decode("utf-8", "replace")
        if not report.exists():
            return SuiteRun(ERROR, seconds=seconds, detail=_last_line(text))
        result = json.loads(report.read_text(encoding="utf-8"))
    failed = tuple(short_test_id(nodeid) for nodeid in result["failed"])
    if result["exitstatus"] == 0:
        return SuiteRun("passed", seconds=seconds)
    if result["exitstatus"] == 1 and failed:
        return SuiteRun("failed", failed, seconds)
    if result["exitstatus"] == 5:
        return SuiteRun("passed", seconds=seconds, detail="no tests selected")
    return SuiteRun(ERROR, failed, seconds, _last_line(text))


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1]


class Runner:
    """Judges mutants, at most ``jobs`` suite runs at a time, checking each control once.

    ``on_verdict`` is called as each verdict is reached (progress reports);
    ``control_failures`` holds the control runs that did not pass, by (spec, stage).
    """

    def __init__(
        self,
        stages: Sequence[Stage],
        options: Options,
        jobs: int,
        on_verdict: Callable[[Verdict], None] = lambda verdict: None,
    ) -> None:
        self.stages = stages
        self.options = options
        self.on_verdict = on_verdict
        self.control_failures: dict[tuple[str, str], SuiteRun] = {}
        self._jobs = jobs
        self._controls: dict[tuple[str, str], asyncio.Task[SuiteRun]] = {}

    async def judge_all(self, mutants: Sequence[Mutant]) -> list[Verdict]:
        """Every mutant's verdict, in the order given."""
        slots = asyncio.Semaphore(self._jobs)
        return list(await asyncio.gather(*(self._judge(mutant, slots) for mutant in mutants)))

    async def _control(self, base: str, stage: Stage, slots: asyncio.Semaphore) -> SuiteRun:
        key = (CONTROLS[base], stage.name)
        if key not in self._controls:
            # The whole stage, not just up to a first failure, so a failing control is
            # reported in full.
            options = Options(first_failure_only=False, timeout=self.options.timeout)
            self._controls[key] = asyncio.ensure_future(_limited(slots, key[0], stage, options))
        run = await self._controls[key]
        if run.status != "passed":
            self.control_failures[key] = run
        return run

    async def _judge(self, mutant: Mutant, slots: asyncio.Semaphore) -> Verdict:
        seconds = 0.0
        verdict = Verdict(mutant, SURVIVED, self.stages[-1].name)
        for stage in self.stages:
            control = await self._control(mutant.base, stage, slots)
            if control.status != "passed":
                verdict = Verdict(mutant, ERROR, stage.name, seconds=seconds, detail="no control")
                break
            run = await _limited(slots, mutant.spec, stage, self.options)
            seconds += run.seconds
            if run.status == "failed":
                verdict = Verdict(mutant, KILLED, stage.name, run.failed, seconds)
                break
            if run.status != "passed":
                verdict = Verdict(mutant, run.status, stage.name, run.failed, seconds, run.detail)
                break
            verdict = Verdict(mutant, SURVIVED, stage.name, seconds=seconds)
        self.on_verdict(verdict)
        return verdict


async def _limited(slots: asyncio.Semaphore, spec: str, stage: Stage, options: Options) -> SuiteRun:
    async with slots:
        return await run_suite(spec, stage, options)
