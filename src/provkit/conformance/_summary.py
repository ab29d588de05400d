"""The end-of-run conformance summary: outcomes per category and a one-line verdict.

Plain data in, lines of text out; the plugin records outcomes and prints the lines through
pytest's terminal reporter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from provkit.conformance._markers import CATEGORIES, EXTENDED, OTHER

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
NO_CAPABILITY = "no-capability"
"""Skipped because of what the provider declares (its reason names the capability)."""
KNOWN = "known"
"""Listed in the known-failures file, and failed as expected."""
UNEXPECTED_PASS = "unexpected-pass"
"""Listed in the known-failures file, but passed: a failure of the run."""
_RANK = {PASSED: 0, SKIPPED: 1, NO_CAPABILITY: 1, KNOWN: 2, FAILED: 3, UNEXPECTED_PASS: 3}


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed test: where it is, what it checks (its docstring) and how it failed."""

    category: str
    nodeid: str
    description: str
    message: str = ""
    """The first line of the failure: the assertion's message or the error."""
    foundation: str | None = None
    """The operation whose simplest behaviour the test checks, for a foundation test."""

    @property
    def test_id(self) -> str:
        """``test_module.py::test_name[params]``: the id a known-failures file uses."""
        path, sep, rest = self.nodeid.partition("::")
        return path.rsplit("/", 1)[-1] + sep + rest


SHOWN_FAILURES = 25
"""Failures the summary lists; pytest's own short summary names every one."""


@dataclass(slots=True)
class Outcomes:
    """What happened to each test of the run, merged over its setup, call and teardown."""

    selected: dict[str, int] = field(default_factory=dict)
    """Tests selected per category (after ``-m`` / ``-k``)."""
    deselected_core: int = 0
    """Tests of the core categories that ``-m`` / ``-k`` left out."""
    results: dict[str, tuple[str, str]] = field(default_factory=dict)
    """nodeid -> (category, outcome)."""
    failures: dict[str, Failure] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    """Node ids of listed known failures that passed."""

    def record(self, nodeid: str, category: str, outcome: str) -> None:
        """Note one phase's outcome; a test's worst phase outcome is its outcome."""
        previous = self.results.get(nodeid)
        if previous is None or _RANK[outcome] > _RANK[previous[1]]:
            self.results[nodeid] = (category, outcome)

    def count(self, category: str, outcome: str) -> int:
        """Tests of ``category`` whose outcome is ``outcome``."""
        return sum(1 for c, o in self.results.values() if (c, o) == (category, outcome))


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What the summary's header names."""

    provider_spec: str
    provider_name: str
    suite_version: str
    contract_version: str
    interrupted: bool
    known_failures_file: str | None = None
    """The ``--provkit-known-failures`` file, if one was given."""
    unmatched_known_failures: tuple[str, ...] = ()
    """Entries of that file that named no test of this run."""


def report_rows(outcomes: Sequence[Outcomes]) -> list[str]:
    """The summary's category rows: core, extended, any other category met, then ``other``."""
    rows = [*CATEGORIES, *EXTENDED]
    seen = {c for o in outcomes for c, _ in o.results.values()} | {
        c for o in outcomes for c in o.selected
    }
    rows += sorted(seen - set(rows) - {OTHER})
    if OTHER in seen:
        rows.append(OTHER)
    return rows


def render(info: RunInfo, outcomes: Outcomes) -> tuple[list[str], str, bool]:
    """The summary lines, the verdict line, and whether the verdict is a pass."""
    named = f" ({info.provider_name})" if info.provider_name != info.provider_spec else ""
    lines = [
        f"provider: {info.provider_spec}{named}",
        f"suite:    provkit conformance {info.suite_version} (contract v{info.contract_version})",
    ]
    failures = real_failures(outcomes)
    lines += fix_first(failures)
    lines += ["", _row("category", PASSED, FAILED, SKIPPED, "by capability", KNOWN)]
    for row in report_rows([outcomes]):
        counts = category_counts(outcomes, row)
        if outcomes.selected.get(row, 0) == 0 and not any(counts.values()):
            lines.append(f"{row:<20}{'not selected':>25}")
        else:
            lines.append(_row(row, *map(str, counts.values())))
    lines.append(_row("total", *map(str, totals(outcomes).values())))
    lines.append(
        "(skipped counts every skip; by capability: those skipped because the provider "
        "declares a capability or lacks one; known: listed known failures that failed)"
    )
    lines += _failure_lines(failures)
    lines += _known_failure_lines(info, outcomes)
    verdict, passed = verdict_of(info, outcomes)
    return lines, verdict, passed


def render_matrix(runs: Sequence[tuple[RunInfo, Outcomes]]) -> tuple[list[str], str, bool]:
    """The summary of a run against several providers: a provider × category matrix, each
    provider's verdict, and an overall verdict line (a pass only if every provider passed)."""
    first = runs[0][0]
    lines = [
        f"providers: {', '.join(info.provider_spec for info, _ in runs)}",
        f"suite:     provkit conformance {first.suite_version} "
        f"(contract v{first.contract_version})",
    ]
    for info, outcomes in runs:
        lines += fix_first(real_failures(outcomes), provider=info.provider_spec)
    width = max(16, *(len(info.provider_spec) + 2 for info, _ in runs))
    lines += ["", f"{'category':<20}" + "".join(f"{i.provider_spec:>{width}}" for i, _ in runs)]
    for row in report_rows([o for _, o in runs]):
        cells = [matrix_cell(o.selected.get(row, 0), category_counts(o, row)) for _, o in runs]
        lines.append(f"{row:<20}" + "".join(f"{cell:>{width}}" for cell in cells))
    cells = [matrix_cell(sum(o.selected.values()), totals(o)) for _, o in runs]
    lines.append(f"{'total':<20}" + "".join(f"{cell:>{width}}" for cell in cells))
    lines.append("(failed of those run, else passed; skipped: none of them ran)")
    for info, outcomes in runs:
        lines += _failure_lines(real_failures(outcomes), provider=info.provider_spec)
    lines += _known_failure_lines(first, _merged([o for _, o in runs]))
    lines.append("")
    verdicts = [(info.provider_spec, *verdict_of(info, outcomes)) for info, outcomes in runs]
    label = max(len(spec) for spec, _, _ in verdicts) + 1
    lines += [f"{spec + ':':<{label}} {line}" for spec, line, _ in verdicts]
    failing = [spec for spec, _, ok in verdicts if not ok]
    if failing:
        return (
            lines,
            f"FAIL: {len(failing)} of {len(runs)} providers failed ({', '.join(failing)})",
            False,
        )
    if all(line.startswith("PASS:") for _, line, _ in verdicts):
        return (
            lines,
            f"PASS: all {len(runs)} providers conform to provkit conformance suite "
            f"{first.suite_version} ({', '.join(spec for spec, _, _ in verdicts)})",
            True,
        )
    return lines, "PASS (partial): no provider failed, but not every one ran the whole suite", True


def matrix_cell(selected: int, counts: dict[str, int]) -> str:
    """One provider × category cell: failures first, else passes, else what was skipped."""
    ran = counts[PASSED] + counts[FAILED] + counts[KNOWN]
    if counts[FAILED]:
        return f"{counts[FAILED]} failed of {ran}"
    if counts[PASSED]:
        known = f" ({counts[KNOWN]} known)" if counts[KNOWN] else ""
        return f"{counts[PASSED]} passed{known}"
    if counts[SKIPPED]:
        return "skipped"
    return "not selected" if selected == 0 else "did not run"


def real_failures(outcomes: Outcomes) -> list[Failure]:
    """Failed tests, leaving out listed known failures that passed (reported apart)."""
    return [f for n, f in outcomes.failures.items() if n not in outcomes.unexpected]


def fix_first(failures: list[Failure], provider: str = "") -> list[str]:
    """The "fix these first" line and its details, when foundation tests failed.

    Foundation tests check each operation's simplest behaviour; every other failure may be a
    consequence of theirs, so the author is sent to them first.
    """
    first = [f for f in failures if f.foundation is not None]
    if not first:
        return []
    later = len(failures) - len(first)
    named = ", ".join(f"{f.test_id} ({f.foundation})" for f in first)
    them = "them" if len(first) > 1 else "it"
    follow = (
        f"; {later} later {'failure' if later == 1 else 'failures'} may follow from {them}"
        if later
        else ""
    )
    whose = f"[{provider}] " if provider else ""
    lines = ["", f"fix these first: {whose}{named}{follow}"]
    for failure in first:
        lines.append(f"  {failure.foundation}: {failure.message or failure.description}")
    return lines


def _failure_lines(failures: list[Failure], provider: str = "") -> list[str]:
    if not failures:
        return []
    whose = f"[{provider}] " if provider else ""
    lines = ["", f"{whose}failed:" if provider else "failed:"]
    for failure in failures[:SHOWN_FAILURES]:
        lines.append(f"  [{failure.category}] {failure.test_id}")
        lines += [f"      {text}" for text in (failure.description, failure.message) if text]
    if len(failures) > SHOWN_FAILURES:
        lines.append(
            f"  ... and {len(failures) - SHOWN_FAILURES} more (pytest's short test summary "
            "info above names them all)"
        )
    return lines


def _known_failure_lines(info: RunInfo, outcomes: Outcomes) -> list[str]:
    lines = []
    source = info.known_failures_file
    if outcomes.unexpected:
        lines += ["", f"passed although listed as known failures (remove them from {source}):"]
        lines += [f"  [{outcomes.results[n][0]}] {n}" for n in outcomes.unexpected]
    if info.unmatched_known_failures:
        lines += ["", f"listed as known failures in {source} but not in this run:"]
        lines += [f"  {entry}" for entry in info.unmatched_known_failures]
    return lines


def _merged(outcomes: Sequence[Outcomes]) -> Outcomes:
    merged = Outcomes()
    for o in outcomes:
        merged.results.update(o.results)
        merged.unexpected += o.unexpected
    return merged


def _row(first: str, *columns: str) -> str:
    widths = (8, 8, 9, 15, 7)
    return f"{first:<20}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))


def category_counts(outcomes: Outcomes, category: str) -> dict[str, int]:
    """passed, failed (with unexpected passes), skipped (all), of them by capability, known."""
    n = {o: outcomes.count(category, o) for o in _RANK}
    return {
        PASSED: n[PASSED],
        FAILED: n[FAILED] + n[UNEXPECTED_PASS],
        SKIPPED: n[SKIPPED] + n[NO_CAPABILITY],
        NO_CAPABILITY: n[NO_CAPABILITY],
        KNOWN: n[KNOWN],
    }


def totals(outcomes: Outcomes) -> dict[str, int]:
    """``category_counts`` summed over every category of the run."""
    summed = dict.fromkeys((PASSED, FAILED, SKIPPED, NO_CAPABILITY, KNOWN), 0)
    for row in {c for c, _ in outcomes.results.values()}:
        for outcome, n in category_counts(outcomes, row).items():
            summed[outcome] += n
    return summed


def verdict_of(info: RunInfo, outcomes: Outcomes) -> tuple[str, bool]:
    """The verdict line of one provider's run and whether it is a pass."""
    total = totals(outcomes)
    ran = total[PASSED] + total[FAILED] + total[SKIPPED] + total[KNOWN]
    selected = sum(outcomes.selected.values())
    not_run = max(selected - ran, 0)
    incomplete = f"; {not_run} selected tests did not run" if not_run else ""
    if total[FAILED]:
        failing = sorted({f.category for f in outcomes.failures.values()})
        unexpected = (
            f", {len(outcomes.unexpected)} of them listed as known failures but passed"
            if outcomes.unexpected
            else ""
        )
        return (
            f"FAIL: {total[FAILED]} of {ran} tests failed ({', '.join(failing)})"
            f"{unexpected}{incomplete}",
            False,
        )
    if info.interrupted or not_run:
        return f"INCOMPLETE: the run stopped early{incomplete}", False
    if ran == 0:
        return "NO RESULT: no conformance test ran", False
    skipped = f", {total[SKIPPED]} skipped" if total[SKIPPED] else ""
    if total[KNOWN]:
        skipped += f", {total[KNOWN]} known failures"
    missing = [c for c in CATEGORIES if outcomes.selected.get(c, 0) == 0]
    if missing or outcomes.deselected_core:
        return (
            f"PASS (partial): {total[PASSED]} passed{skipped}; only a selection of the "
            "suite ran, so this is not a conformance verdict",
            True,
        )
    return (
        f"PASS: {info.provider_name} conforms to provkit conformance suite "
        f"{info.suite_version} ({total[PASSED]} passed{skipped})",
        True,
    )
