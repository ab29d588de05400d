"""The ``provkit`` console command: one entry point, one subcommand per job.

A subcommand is a ``Command`` (its name, one line of help, how to add its options, and what
to run); adding one to ``COMMANDS`` is all it takes to add ``provkit <name>``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from provkit.mutants import _cli as mutants_cli
from provkit.reporting import _verdict_cli as verdict_cli


@dataclass(frozen=True, slots=True)
class Command:
    """``provkit <name>``: ``configure`` adds its options, ``run`` returns the exit status."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: list[Command] = [
    Command("mutants", mutants_cli.HELP, mutants_cli.configure, mutants_cli.run),
    Command(
        "matrix", verdict_cli.MATRIX_HELP, verdict_cli.configure_matrix, verdict_cli.run_matrix
    ),
    Command("badge", verdict_cli.BADGE_HELP, verdict_cli.configure_badge, verdict_cli.run_badge),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provkit", description="provkit: conformance and stress tools for providers"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status
