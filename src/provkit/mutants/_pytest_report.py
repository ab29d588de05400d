"""A pytest plugin the mutant runner loads into each suite run: it writes what failed as JSON.

Loaded with ``-p provkit.mutants._pytest_report``; it does nothing unless the environment
names a report file (``PROVKIT_MUTANT_REPORT``), so loading it elsewhere is harmless.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPORT_ENV = "PROVKIT_MUTANT_REPORT"

_failed: list[str] = []
_counts = {"passed": 0, "skipped": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A failing setup or teardown is still the provider failing that test.
    if report.failed and report.nodeid not in _failed:
        _failed.append(report.nodeid)
    elif report.skipped:
        _counts["skipped"] += 1
    elif report.when == "call" and report.passed:
        _counts["passed"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get(REPORT_ENV)
    if not target:
        return
    Path(target).write_text(
        json.dumps({"exitstatus": int(exitstatus), "failed": _failed, **_counts}),
        encoding="utf-8",
    )
