"""``provkit mutants``: run the suite against the catalogue and print the score."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from provkit.conformance._markers import BENCHMARK, category_of
from provkit.mutants._catalogue import CATALOGUE, Mutant, find
from provkit.mutants._coverage import coverage
from provkit.mutants._runner import (
    KILLED,
    Options,
    Runner,
    Verdict,
    default_stages,
    selected_stage,
)
from provkit.mutants._scoreboard import (
    clause_summary,
    json_document,
    markdown_clauses,
    markdown_table,
    score,
    text_table,
)

HELP = "run the conformance suite against every mutant; print the table and the score"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mutant",
        action="append",
        metavar="NAME",
        help="judge only this mutant (repeatable; default: the whole catalogue)",
    )
    parser.add_argument(
        "--category",
        action="append",
        metavar="NAME",
        help="run only these suite categories, as one stage (repeatable; default: the core "
        "categories first, then every other installed one for the mutants still alive)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and their specs")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="also write the table as markdown")
    parser.add_argument(
        "--all-kills",
        action="store_true",
        help="run every test against each mutant (slower) to list all the tests that kill it",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="suite runs at a time (default: the number of CPUs)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="S",
        help="seconds one suite run may take before it counts as timed out (default 900)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        mutants = [find(name) for name in args.mutant] if args.mutant else list(CATALOGUE)
    except LookupError as exc:
        print(f"provkit mutants: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.list:
        for mutant in mutants:
            print(f"{mutant.name}  {mutant.base}  --provider={mutant.spec}")
        return 0
    if args.jobs < 1 or args.timeout <= 0:
        print("provkit mutants: --jobs and --timeout must be positive", file=sys.stderr)
        return 2
    if args.category:
        unknown = [n for n in args.category if category_of([n]) != n or n == BENCHMARK]
        if unknown:
            print(f"provkit mutants: no suite category {', '.join(unknown)}", file=sys.stderr)
            return 2
        stages = [selected_stage(args.category)]
    else:
        stages = default_stages()
    print(
        f"provkit mutants: {len(mutants)} mutants; stages: "
        + "; ".join(f"{stage.name} (-m {stage.markexpr!r})" for stage in stages),
        file=sys.stderr,
    )
    runner = Runner(
        stages,
        Options(first_failure_only=not args.all_kills, timeout=args.timeout),
        args.jobs,
        on_verdict=_Progress(mutants).report,
    )
    verdicts = asyncio.run(runner.judge_all(mutants))
    print(text_table(verdicts))
    # Which clauses the catalogue breaks says something only about the whole catalogue.
    clauses = None if args.mutant else coverage(CATALOGUE)
    if clauses is not None:
        print(clause_summary(clauses))
    if args.json:
        Path(args.json).write_text(json_document(verdicts), encoding="utf-8")
    if args.markdown:
        document = markdown_table(verdicts)
        if clauses is not None:
            document += f"\n{markdown_clauses(clauses)}"
        Path(args.markdown).write_text(document, encoding="utf-8")
    if runner.control_failures:
        for (spec, stage), control in runner.control_failures.items():
            print(
                f"provkit mutants: the unmutated {spec} fails the {stage} stage "
                f"({control.status}: {', '.join(control.failed[:3]) or control.detail}); "
                "verdicts on its mutants mean nothing",
                file=sys.stderr,
            )
        return 2
    return 0 if score(verdicts).percent == 100.0 else 1


class _Progress:
    """One stderr line per verdict: how far along, and what happened to whom."""

    def __init__(self, mutants: list[Mutant]) -> None:
        self._total = len(mutants)
        self._done = 0
        self._width = max((len(m.name) for m in mutants), default=0)

    def report(self, verdict: Verdict) -> None:
        self._done += 1
        how = verdict.killed_by[0] if verdict.outcome == KILLED else verdict.detail
        print(
            f"[{self._done:>{len(str(self._total))}}/{self._total}] {verdict.outcome:<8} "
            f"{verdict.mutant.name:<{self._width}}  {verdict.stage}, {verdict.seconds:.1f} s"
            + (f"  {how}" if how else ""),
            file=sys.stderr,
            flush=True,
        )
