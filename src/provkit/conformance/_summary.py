"""The end-of-run conformance summary: outcomes per category and a one-line verdict.

Plain data in, lines of text out; the plugin records outcomes and prints the lines through
pytest's terminal reporter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provkit.conformance._markers import CATEGORIES, OTHER

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
_RANK = {PASSED: 0, SKIPPED: 1, FAILED: 2}


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed test: where it is and, from its docstring, what it checks."""

    category: str
    nodeid: str
    description: str


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
    missing_members: tuple[str, ...] = ()
    """Contract members the provider does not have at all."""


def render(info: RunInfo, outcomes: Outcomes) -> tuple[list[str], str, bool]:
    """The summary lines, the verdict line, and whether the verdict is a pass."""
    rows = [*CATEGORIES]
    rows += sorted({c for c, _ in outcomes.results.values()} - set(rows) - {OTHER})
    if any(c == OTHER for c, _ in outcomes.results.values()):
        rows.append(OTHER)
    named = f" ({info.provider_name})" if info.provider_name != info.provider_spec else ""
    lines = [
        f"provider: {info.provider_spec}{named}",
        f"suite:    provkit conformance {info.suite_version} (contract v{info.contract_version})",
    ]
    if info.missing_members:
        lines.append(f"missing:  {', '.join(info.missing_members)}")
    lines += [
        "",
        f"{'category':<20}{PASSED:>8}{FAILED:>8}{SKIPPED:>9}",
    ]
    totals = dict.fromkeys((PASSED, FAILED, SKIPPED), 0)
    for row in rows:
        counts = [outcomes.count(row, o) for o in totals]
        for outcome, n in zip(totals, counts, strict=True):
            totals[outcome] += n
        if outcomes.selected.get(row, 0) == 0 and not any(counts):
            lines.append(f"{row:<20}{'not selected':>25}")
        else:
            lines.append(f"{row:<20}{counts[0]:>8}{counts[1]:>8}{counts[2]:>9}")
    lines.append(f"{'total':<20}{totals[PASSED]:>8}{totals[FAILED]:>8}{totals[SKIPPED]:>9}")
    if outcomes.failures:
        lines += ["", "failed:"]
        for failure in outcomes.failures.values():
            lines.append(f"  [{failure.category}] {failure.nodeid}")
            if failure.description:
                lines.append(f"      {failure.description}")
    verdict, passed = _verdict(info, outcomes, totals)
    return lines, verdict, passed


def _verdict(info: RunInfo, outcomes: Outcomes, totals: dict[str, int]) -> tuple[str, bool]:
    ran = sum(totals.values())
    selected = sum(outcomes.selected.values())
    not_run = max(selected - ran, 0)
    incomplete = f"; {not_run} selected tests did not run" if not_run else ""
    if totals[FAILED]:
        failing = sorted({f.category for f in outcomes.failures.values()})
        return (
            f"FAIL: {totals[FAILED]} of {ran} tests failed ({', '.join(failing)}){incomplete}",
            False,
        )
    if info.interrupted or not_run:
        return f"INCOMPLETE: the run stopped early{incomplete}", False
    if ran == 0:
        return "NO RESULT: no conformance test ran", False
    skipped = f", {totals[SKIPPED]} skipped" if totals[SKIPPED] else ""
    missing = [c for c in CATEGORIES if outcomes.selected.get(c, 0) == 0]
    if missing or outcomes.deselected_core:
        return (
            f"PASS (partial): {totals[PASSED]} passed{skipped}; only a selection of the "
            "suite ran, so this is not a conformance verdict",
            True,
        )
    return (
        f"PASS: {info.provider_name} conforms to provkit conformance suite "
        f"{info.suite_version} ({totals[PASSED]} passed{skipped})",
        True,
    )
