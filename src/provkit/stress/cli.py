"""The ``stress-run`` command: run a plan and compare providers, track results, show trends.

``stress-run [--config ...]`` runs; ``stress-run track`` records the ``compare`` preset in
``reports/``; ``stress-run history`` shows trends. Bad input: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from provkit._provider_spec import ProviderSpecError, describe, load_factory
from provkit.contract import ProviderFactory
from provkit.reporting import StressResult
from provkit.reporting._chart import write_trend_chart
from provkit.reporting._document import Environment, stress_document
from provkit.reporting._history import HistoryError, analyse, load_history
from provkit.reporting._tables import (
    report_markdown,
    terminal_tables,
    trends_markdown,
    trends_table,
)
from provkit.stress._config import PRESETS, ConfigError, StressPlan, check_plan, load_plan
from provkit.stress._progress import progress_display
from provkit.stress._runner import ProviderCreationError, run_plan
from provkit.stress._scenarios import SCENARIOS
from provkit.stress._track import TrackPaths, record_tracked_run

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2


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
        help="module:attr factory, or sqlite-memory / sqlite-file (repeatable; "
        "default: both SQLite reference providers)",
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
        "runs before; flags regressions and writes a trend chart.",
    )
    parser.add_argument("--file", type=Path, default=Path("reports/history.jsonl"))
    parser.add_argument("--metric", default="orch_per_sec", help="metric to follow")
    parser.add_argument("--window", type=int, default=5, help="runs averaged (default 5)")
    parser.add_argument(
        "--threshold", type=float, default=10.0, metavar="PCT", help="regression threshold"
    )
    parser.add_argument(
        "--chart", type=Path, default=Path("reports/stress-trend.png"), metavar="PNG"
    )
    parser.add_argument("--no-chart", action="store_true", help="do not write the chart")
    parser.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when any series regressed"
    )
    return parser


def _factories(specs: Sequence[str]) -> list[ProviderFactory]:
    try:
        return [load_factory(spec, Path.cwd()) for spec in specs]
    except ProviderSpecError as exc:
        raise UsageError(str(exc)) from None


def _execute(plan: StressPlan) -> list[StressResult]:
    factories = _factories(plan.providers)
    with progress_display() as display:
        try:
            return asyncio.run(run_plan(factories, plan.runs(), display.update))
        except ProviderCreationError as exc:
            cause = exc.__cause__ or exc
            raise UsageError(f"cannot create a provider: {describe(cause)}") from None


def _show(results: Sequence[StressResult], title: str) -> None:
    if sys.stdout.isatty():
        console = Console()
        for table in terminal_tables(results, console.width):
            console.print(table)
    else:
        print(report_markdown(results, title=title))
    for result in results:
        for error in result.errors:
            print(f"failure in {result.provider} {result.scenario} {result.config}: {error}")


def _exit_status(results: Sequence[StressResult]) -> int:
    return EXIT_FAILURES if any(result.failed for result in results) else EXIT_OK


def _plan(args: argparse.Namespace) -> StressPlan:
    try:
        plan = load_plan(args.config)
        if args.provider:
            plan = replace(plan, providers=tuple(args.provider))
        if args.scenario:
            plan = replace(plan, scenarios=tuple(dict.fromkeys(args.scenario)))
        if args.duration is not None:
            plan = replace(plan, base=replace(plan.base, duration_secs=args.duration))
        check_plan(plan)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return plan


def _cmd_run(argv: Sequence[str]) -> int:
    args = _run_parser().parse_args(argv)
    plan = _plan(args)
    results = _execute(plan)
    title = f"provkit stress: {plan.name}"
    _show(results, title)
    markdown = report_markdown(results, title=title)
    if args.markdown is not None:
        _write(args.markdown, markdown)
    if args.json is not None:
        document = stress_document(
            results, preset=plan.name, config=plan.as_dict(), environment=Environment.capture()
        )
        _write(args.json, json.dumps(document, indent=2) + "\n")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(markdown + "\n")
    return _exit_status(results)


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
    results = _execute(plan)
    _show(results, "provkit stress: compare")
    paths = TrackPaths.under(args.reports)
    record_tracked_run(
        results,
        paths=paths,
        environment=Environment.capture(),
        duration_secs=args.duration,
        repo=Path.cwd(),
    )
    print(f"recorded in {paths.results_log} and {paths.history}")
    return _exit_status(results)


def _cmd_history(argv: Sequence[str]) -> int:
    args = _history_parser().parse_args(argv)
    try:
        records = load_history(args.file)
        trends = analyse(
            records, metric=args.metric, window=args.window, threshold_pct=args.threshold
        )
    except (HistoryError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if not records:
        raise UsageError(f"no tracked runs in {args.file}; run ./track-results.sh first")
    title = f"{args.metric}: latest vs previous and vs mean of up to {args.window} runs before"
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
