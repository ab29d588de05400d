"""The ``stress-run`` command: run a plan and compare providers, track results, show trends.

``stress-run [--config ...]`` runs; ``stress-run track`` records the ``compare`` preset in
``reports/``; ``stress-run history`` shows trends. Bad input: one line on stderr, exit 2.
SIGINT/SIGTERM stop a run: the rows finished so far are shown and written (marked
partial), temporary databases are removed, and the exit status is 130/143.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from provkit._provider_spec import ProviderSpecError, describe, load_factory
from provkit.contract import ProviderFactory
from provkit.reporting import StressResult
from provkit.reporting._chart import write_trend_chart
from provkit.reporting._document import Environment, stress_document
from provkit.reporting._history import HistoryError, analyse, load_history
from provkit.reporting._tables import (
    diagnostics,
    report_markdown,
    terminal_tables,
    trends_markdown,
    trends_table,
)
from provkit.stress._config import (
    PRESETS,
    ConfigError,
    StressPlan,
    check_plan,
    load_plan,
    parse_processes,
)
from provkit.stress._preflight import ProviderCheckError, ProviderCreationError, prepare
from provkit.stress._progress import progress_display
from provkit.stress._runner import run_plan
from provkit.stress._scenarios import SCENARIOS
from provkit.stress._shared import shared_store_factory
from provkit.stress._track import TrackPaths, record_tracked_run

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
_T = TypeVar("_T")


class UsageError(Exception):
    """Bad input from the command line; printed as one line, exit status 2."""


def _duration(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
    return value


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stress-run",
        description="Stress providers through the provkit runtime and compare them. "
        "Subcommands: 'stress-run track' records the compare preset in reports/, "
        "'stress-run history' shows trends.",
    )
    parser.add_argument(
        "--config",
        default="baseline",
        metavar="NAME|PATH.toml",
        help=f"a preset ({', '.join(PRESETS)}) or a TOML file (default: baseline)",
    )
    _add_provider_option(parser)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help="scenario to run (repeatable; default: the config's, normally fanout)",
    )
    parser.add_argument("--duration", type=_duration, metavar="S", help="seconds per run")
    parser.add_argument(
        "--processes",
        metavar="N[,N...]",
        help="run N runtime processes on one shared database (file SQLite, PostgreSQL) "
        "instead of the runtime inside this process; a list such as 1,2,4 gives one row each",
    )
    parser.add_argument(
        "--kill-after",
        type=_duration,
        metavar="S",
        help="with --processes: kill runtime process 0 with SIGKILL S seconds into each row "
        "(once it has finished an instance), to check that a crashed process loses nothing",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--markdown", type=Path, metavar="PATH", help="write the tables as markdown"
    )
    return parser


def _add_provider_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--provider",
        action="append",
        metavar="SPEC",
        help="module:attr factory, or a reference provider: sqlite-memory, sqlite-file, "
        "postgres, memory (repeatable; default: both SQLite reference providers)",
    )


def _track_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stress-run track",
        description="Run the compare preset and record it in the reports directory.",
    )
    parser.add_argument(
        "--duration", type=_duration, default=10.0, metavar="S", help="seconds per run"
    )
    parser.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR")
    _add_provider_option(parser)
    return parser


def _history_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stress-run history",
        description="Latest tracked values against the previous run and the mean of the "
        "runs before, each compared only with runs of the same settings, machine and "
        "duration; flags regressions and writes a trend chart (SVG).",
    )
    parser.add_argument("--file", type=Path, default=Path("reports/history.jsonl"))
    parser.add_argument("--metric", default="orch_per_sec", help="metric to follow")
    parser.add_argument("--window", type=int, default=5, help="runs averaged (default 5)")
    parser.add_argument(
        "--threshold", type=float, default=10.0, metavar="PCT", help="regression threshold"
    )
    parser.add_argument(
        "--chart", type=Path, default=Path("reports/stress-trend.svg"), metavar="SVG"
    )
    parser.add_argument("--no-chart", action="store_true", help="do not write the chart")
    parser.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when any series regressed"
    )
    return parser


def _factories(specs: Sequence[str]) -> list[tuple[str, ProviderFactory]]:
    try:
        return [(spec, load_factory(spec, Path.cwd())) for spec in dict.fromkeys(specs)]
    except ProviderSpecError as exc:
        raise UsageError(str(exc)) from None


def check_writable(path: Path, what: str) -> None:
    """Raise ``UsageError`` unless ``path`` can be written (before a run, not after it)."""
    if path.is_dir():
        raise UsageError(f"cannot write {what} {path}: it is a directory")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UsageError(f"cannot write {what} {path}: permission denied")
        return
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {what} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {what} {path}: {parent} is not writable")


@dataclass
class _Outcome:
    """What a run produced: the finished rows, and the signal that stopped it, if any."""

    results: list[StressResult] = field(default_factory=list)
    signal: signal.Signals | None = None

    @property
    def interrupted(self) -> str | None:
        if self.signal is None:
            return None
        return f"interrupted by {self.signal.name}"


def _interruptible(body: Callable[[_Outcome], Coroutine[Any, Any, None]]) -> _Outcome:
    """Run ``body`` in an event loop; SIGINT/SIGTERM cancel it (cleanups run, rows kept)."""
    outcome = _Outcome()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def stop(signum: signal.Signals) -> None:
            if outcome.signal is None:
                outcome.signal = signum
                print(
                    f"stress-run: {signum.name} received; stopping and cleaning up",
                    file=sys.stderr,
                    flush=True,
                )
                task.cancel()

        signals = (signal.SIGINT, signal.SIGTERM)
        for signum in signals:
            loop.add_signal_handler(signum, stop, signum)
        try:
            await body(outcome)
        except asyncio.CancelledError:
            if outcome.signal is None:
                raise
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)

    asyncio.run(main())
    return outcome


def _execute(plan: StressPlan, kill_after: float | None = None) -> _Outcome:
    entries = _factories(plan.providers)
    if any(plan.processes):
        try:
            for spec, factory in entries:
                shared_store_factory(factory, spec)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None

    async def body(outcome: _Outcome) -> None:
        try:
            providers = await prepare(entries)
        except ProviderCheckError as exc:
            raise UsageError(str(exc)) from None
        with progress_display() as display:
            try:
                await run_plan(
                    providers,
                    plan.runs(),
                    display.update,
                    outcome.results.append,
                    kill_after=kill_after,
                )
            except ProviderCreationError as exc:
                cause = exc.__cause__ or exc
                raise UsageError(f"cannot create a provider: {describe(cause)}") from None
            except ConfigError as exc:
                raise UsageError(str(exc)) from None

    return _interruptible(body)


def _show(results: Sequence[StressResult], markdown: str) -> None:
    if sys.stdout.isatty():
        console = Console()
        for table in terminal_tables(results, console.width):
            console.print(table)
        for line in diagnostics(results):
            console.print(line, markup=False, highlight=False)
    else:
        print(markdown)


def _exit_status(outcome: _Outcome) -> int:
    if outcome.signal is not None:
        return 128 + int(outcome.signal)
    return EXIT_OK if all(result.passed for result in outcome.results) else EXIT_FAILURES


def _plan(args: argparse.Namespace) -> StressPlan:
    try:
        plan = load_plan(args.config)
        if args.provider:
            plan = replace(plan, providers=tuple(args.provider))
        if args.scenario:
            plan = replace(plan, scenarios=tuple(dict.fromkeys(args.scenario)))
        if args.duration is not None:
            plan = replace(plan, base=replace(plan.base, duration_secs=args.duration))
        if args.processes is not None:
            plan = replace(plan, processes=parse_processes(args.processes))
        check_plan(plan)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return plan


def describe_plan(plan: StressPlan) -> str:
    """The settings of a run on one line, for the head of reports."""
    base = plan.base
    delay = f"{base.activity_delay_ms:g} ms activities"
    concurrency = ", ".join(f"{o}/{w}" for o, w in plan.concurrency)
    text = (
        f"Settings: `{plan.name}`: {base.max_concurrent} instances in flight for "
        f"{base.duration_secs:g} s, {base.tasks_per_instance} tasks each, {delay}, "
        f"orchestration/worker slots {concurrency}, scenarios {', '.join(plan.scenarios)}"
    )
    processes = [p for p in plan.processes if p]
    if processes:
        text += f", runtime processes {', '.join(str(p) for p in plan.processes)}"
    return f"{text}; providers {', '.join(plan.providers)}."


def _cmd_run(argv: Sequence[str]) -> int:
    args = _run_parser().parse_args(argv)
    plan = _plan(args)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    outputs = [(args.json, "the JSON report"), (args.markdown, "the markdown report")]
    if summary:
        outputs.append((Path(summary), "the job summary (GITHUB_STEP_SUMMARY)"))
    for path, what in outputs:
        if path is not None:
            check_writable(path, what)
    if args.kill_after is not None and not any(plan.processes):
        raise UsageError("--kill-after needs --processes N (N >= 1)")
    outcome = _execute(plan, args.kill_after)
    title = f"provkit stress: {plan.name}"
    interrupted = outcome.interrupted
    if interrupted:
        total = len(plan.runs()) * len(plan.providers)
        interrupted += f" after {len(outcome.results)} of {total} rows"
    markdown = report_markdown(
        outcome.results, title=title, settings=describe_plan(plan), interrupted=interrupted
    )
    _show(outcome.results, markdown)
    if args.markdown is not None:
        _write(args.markdown, markdown)
    if args.json is not None:
        document = stress_document(
            outcome.results,
            preset=plan.name,
            config=plan.as_dict(),
            environment=Environment.capture(),
            interrupted=interrupted,
        )
        _write(args.json, json.dumps(document, indent=2) + "\n")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(markdown + "\n")
    if interrupted:
        print(f"stress-run: {interrupted}; partial results shown", file=sys.stderr)
    return _exit_status(outcome)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _cmd_track(argv: Sequence[str]) -> int:
    args = _track_parser().parse_args(argv)
    compare = PRESETS["compare"]
    plan = replace(compare, base=replace(compare.base, duration_secs=args.duration))
    if args.provider:
        plan = replace(plan, providers=tuple(args.provider))
    paths = TrackPaths.under(args.reports)
    check_writable(paths.results_log, "the results log")
    check_writable(paths.history, "the history file")
    outcome = _execute(plan)
    title = "provkit stress: compare"
    _show(outcome.results, report_markdown(outcome.results, title, settings=describe_plan(plan)))
    if outcome.signal is not None:
        print(f"stress-run: {outcome.interrupted}; nothing recorded", file=sys.stderr)
        return _exit_status(outcome)
    record_tracked_run(
        outcome.results,
        paths=paths,
        environment=Environment.capture(),
        duration_secs=args.duration,
        repo=Path.cwd(),
    )
    print(f"recorded in {paths.results_log} and {paths.history}")
    return _exit_status(outcome)


def _cmd_history(argv: Sequence[str]) -> int:
    args = _history_parser().parse_args(argv)
    if not args.no_chart:
        check_writable(args.chart, "the chart")
    try:
        records = load_history(args.file)
        trends = analyse(
            records, metric=args.metric, window=args.window, threshold_pct=args.threshold
        )
    except (HistoryError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if not records:
        raise UsageError(f"no tracked runs in {args.file}; run ./track-results.sh first")
    title = (
        f"{args.metric}: latest vs previous and vs mean of up to {args.window} runs before "
        "(same settings, machine and duration only)"
    )
    if sys.stdout.isatty():
        Console().print(trends_table(trends, title))
    else:
        print(f"### {title}\n\n{trends_markdown(trends)}")
    if not args.no_chart:
        write_trend_chart(records, args.chart)
        print(f"trend chart written to {args.chart}")
    regressed = any(trend.regression for trend in trends)
    return EXIT_FAILURES if regressed and args.fail_on_regression else EXIT_OK


_COMMANDS = {"track": _cmd_track, "history": _cmd_history}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``stress-run``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = _COMMANDS.get(args[0]) if args else None
    try:
        if command is not None:
            return command(args[1:])
        return _cmd_run(args)
    except UsageError as exc:
        print(f"stress-run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("stress-run: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
