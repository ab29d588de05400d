"""``provkit matrix`` and ``provkit badge``: render conformance verdict files for publishing.

Both read the files ``pytest --provkit-report=PATH`` writes (one per run, any number of
providers each). ``matrix`` prints one compatibility matrix in markdown; ``badge`` writes an
SVG badge per provider. A file that is not a verdict is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from provkit.reporting._badge import badge_file_name, badge_svg
from provkit.reporting._verdict import ConformanceVerdict, VerdictFileError
from provkit.reporting._verdict_markdown import compatibility_matrix

MATRIX_HELP = "render conformance verdict files as one compatibility matrix (markdown)"
BADGE_HELP = "write an SVG badge per provider of conformance verdict files"

USAGE_ERROR = 2


def configure_matrix(parser: argparse.ArgumentParser) -> None:
    _files(parser)
    parser.add_argument(
        "-o", "--output", metavar="PATH", help="write the markdown to PATH (default: stdout)"
    )


def configure_badge(parser: argparse.ArgumentParser) -> None:
    _files(parser)
    parser.add_argument(
        "-d",
        "--directory",
        metavar="DIR",
        default=".",
        help="write the badges into DIR (made if missing), one <provider spec>.svg each "
        "(default: .)",
    )


def run_matrix(args: argparse.Namespace) -> int:
    verdicts = _read(args.files)
    if verdicts is None:
        return USAGE_ERROR
    labels = _labels(args.files, verdicts)
    text = compatibility_matrix(verdicts, labels)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"provkit matrix: cannot write {args.output!r}: {exc.strerror}", file=sys.stderr)
        return USAGE_ERROR
    print(f"provkit matrix: wrote {args.output} ({len(labels)} providers)")
    return 0


def run_badge(args: argparse.Namespace) -> int:
    verdicts = _read(args.files)
    if verdicts is None:
        return USAGE_ERROR
    directory = Path(args.directory)
    written: dict[Path, str] = {}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for verdict in verdicts:
            for provider in verdict.providers:
                path = directory / badge_file_name(provider.provider)
                if path in written:
                    print(
                        f"provkit badge: {provider.provider} appears in more than one verdict; "
                        f"{path} shows the last",
                        file=sys.stderr,
                    )
                path.write_text(badge_svg(provider, verdict.suite_version), encoding="utf-8")
                written[path] = provider.verdict
    except OSError as exc:
        where = exc.filename if exc.filename is not None else args.directory
        print(f"provkit badge: cannot write into {where!r}: {exc.strerror}", file=sys.stderr)
        return USAGE_ERROR
    for path, line in written.items():
        print(f"{path}: {line}")
    return 0


def _files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", metavar="VERDICT", help="a file written by --provkit-report=PATH"
    )


def _read(files: list[str]) -> list[ConformanceVerdict] | None:
    """Every file's verdict, or ``None`` after printing why one cannot be read."""
    verdicts = []
    for name in files:
        try:
            verdicts.append(ConformanceVerdict.read(Path(name)))
        except VerdictFileError as exc:
            print(f"provkit: {exc}", file=sys.stderr)
            return None
    return verdicts


def _labels(files: list[str], verdicts: list[ConformanceVerdict]) -> list[str]:
    """Column labels: the provider's spec, with its file's name when a spec repeats."""
    specs = Counter(p.provider for v in verdicts for p in v.providers)
    return [
        p.provider if specs[p.provider] == 1 else f"{p.provider} ({Path(name).name})"
        for name, v in zip(files, verdicts, strict=True)
        for p in v.providers
    ]
