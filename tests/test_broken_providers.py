"""Each deliberately broken provider fails the conformance category that must reject it.

Every run selects one category with ``-m``; the reference provider passes those same runs, so a
rejection is the bug's doing, not the category's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from broken_providers import BROKEN, Broken
from provkit.conformance._markers import CATEGORIES, category_of

TESTS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class CategoryRun:
    """What one suite run reported: the exit code and test node ids by category and outcome."""

    ret: int | pytest.ExitCode | None
    passed: dict[str, list[str]]
    failed: dict[str, list[str]]


def run_category(pytester: pytest.Pytester, spec: str, category: str) -> CategoryRun:
    """Run the suite's ``category`` tests against ``--provider=spec`` in-process."""
    pytester.syspathinsert(TESTS_DIR)
    reprec = pytester.inline_run(f"--provider={spec}", "-m", category, "-p", "no:cacheprovider")
    passed: defaultdict[str, list[str]] = defaultdict(list)
    failed: defaultdict[str, list[str]] = defaultdict(list)
    for report in reprec.getreports("pytest_runtest_logreport"):
        # A setup or teardown failure counts too: it is still the provider failing the test.
        if report.failed:
            failed[category_of(report.keywords)].append(f"{report.nodeid} ({report.when})")
        elif report.when == "call" and report.passed:
            passed[category_of(report.keywords)].append(report.nodeid)
    return CategoryRun(reprec.ret, dict(passed), dict(failed))


def test_every_category_rejects_some_broken_provider() -> None:
    """The battery has a broken provider for each of the six categories, bug names unique."""
    assert {broken.category for broken in BROKEN} == set(CATEGORIES)
    bugs = [broken.bug for broken in BROKEN]
    assert len(set(bugs)) == len(bugs), bugs


@pytest.mark.parametrize("broken", BROKEN, ids=[broken.bug for broken in BROKEN])
def test_broken_provider_is_rejected_by_its_category(
    pytester: pytest.Pytester, broken: Broken
) -> None:
    """The bug fails at least one test of its category (not all of them); no other category ran."""
    run = run_category(pytester, broken.spec, broken.category)

    assert run.ret == pytest.ExitCode.TESTS_FAILED, f"{broken.spec}: {run}"
    assert set(run.failed) == {broken.category}, run.failed
    assert len(run.failed[broken.category]) >= 1
    assert list(run.passed) == [broken.category], (
        "no test passed: the provider is broken beyond its one bug"
    )


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_reference_provider_passes_each_category_run(
    pytester: pytest.Pytester, category: str
) -> None:
    """sqlite-memory, which every broken provider modifies, passes every test of the category."""
    run = run_category(pytester, "sqlite-memory", category)

    assert run.ret == pytest.ExitCode.OK
    assert run.failed == {}
    assert list(run.passed) == [category]
    assert len(run.passed[category]) >= 1
