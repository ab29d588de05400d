"""What a conformance run publishes: the ``--provkit-report`` verdict file and, under GitHub
Actions, a job summary appended to ``$GITHUB_STEP_SUMMARY``.

Builds the reporting layer's verdict records from the run's outcomes; writes nothing else.
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from provkit import __version__
from provkit.conformance._summary import (
    FAILED,
    KNOWN,
    NO_CAPABILITY,
    PASSED,
    SKIPPED,
    Outcomes,
    RunInfo,
    category_counts,
    report_rows,
    verdict_of,
)
from provkit.contract import Capability
from provkit.reporting._verdict import (
    FAIL,
    INCOMPLETE,
    NO_RESULT,
    PARTIAL,
    PASS,
    CategoryCounts,
    ConformanceVerdict,
    FailedTest,
    ProviderVerdict,
)
from provkit.reporting._verdict_markdown import step_summary

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"

_OUTCOMES = {
    "PASS (partial)": PARTIAL,
    "PASS": PASS,
    "FAIL": FAIL,
    "INCOMPLETE": INCOMPLETE,
    "NO RESULT": NO_RESULT,
}


def provider_verdict(
    info: RunInfo, outcomes: Outcomes, capabilities: frozenset[Capability]
) -> ProviderVerdict:
    """One provider's verdict record, from what its tests did."""
    line, _ = verdict_of(info, outcomes)
    categories = {}
    for row in report_rows([outcomes]):
        counts = category_counts(outcomes, row)
        categories[row] = CategoryCounts(
            passed=counts[PASSED],
            failed=counts[FAILED],
            skipped=counts[SKIPPED],
            by_capability=counts[NO_CAPABILITY],
            known=counts[KNOWN],
            selected=outcomes.selected.get(row, 0),
        )
    failures = tuple(
        FailedTest(
            test=f.test_id,
            category=f.category,
            message=f.message,
            checks=f.description,
            foundation=f.foundation,
        )
        for f in outcomes.failures.values()
    )
    return ProviderVerdict(
        provider=info.provider_spec,
        name=info.provider_name,
        capabilities=tuple(sorted(c.name for c in capabilities)),
        outcome=_OUTCOMES[line.split(":", 1)[0]],
        verdict=line,
        categories=categories,
        failures=failures,
    )


def run_verdict(
    providers: Sequence[ProviderVerdict], suite_version: str, contract_version: str
) -> ConformanceVerdict:
    """The verdict of the whole run, stamped with versions, time and Python."""
    return ConformanceVerdict(
        suite_version=suite_version,
        contract_version=contract_version,
        provkit_version=__version__,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        python=platform.python_version(),
        providers=tuple(providers),
    )


def publish(verdict: ConformanceVerdict, report: Path | None) -> list[str]:
    """Write the verdict file (if asked for) and the job summary (under GitHub Actions).

    Returns one line per thing written, or per thing that could not be written: a broken
    job summary never fails a conformance run.
    """
    notes = []
    if report is not None:
        try:
            verdict.write(report)
            notes.append(f"provkit: verdict written to {report}")
        except OSError as exc:
            notes.append(f"provkit: cannot write the verdict to {report}: {exc.strerror}")
    summary = os.environ.get(STEP_SUMMARY_ENV)
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as out:
                out.write(step_summary(verdict))
            notes.append(f"provkit: job summary appended to ${STEP_SUMMARY_ENV}")
        except OSError as exc:
            notes.append(f"provkit: cannot append the job summary to {summary}: {exc.strerror}")
    return notes
