"""Result rendering: statistics, markdown tables and the --json document against its schema."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from provkit.reporting import (
    STRESS_JSON_SCHEMA,
    Failures,
    HistoryCheck,
    LatencySummary,
    OperationStats,
    ProcessCounts,
    StressResult,
    validate,
)
from provkit.reporting._document import Environment, git_dirty, stress_document
from provkit.reporting._records import percentile
from provkit.reporting._tables import results_markdown, verdict

DOC = Path(__file__).resolve().parents[2] / "docs" / "stress-results.md"

ENV = Environment(
    created_at="2025-01-02T03:04:05Z",
    provkit_version="0.1.0",
    python_version="3.11.7",
    python_implementation="CPython",
    platform="Linux-x86_64",
    machine="x86_64",
    processor="x86_64",
    cpu_count=2,
    git_commit=None,
    git_dirty=None,
)


def _result(**overrides: Any) -> StressResult:
    values: dict[str, Any] = {
        "provider": "sqlite-file",
        "scenario": "fanout",
        "config": "1/1",
        "settings": {"max_concurrent": 20},
        "launched": 200,
        "completed": 196,
        "failures": Failures(infrastructure=1, configuration=1, application=1, timeouts=1),
        "elapsed_secs": 10.0,
        "activities": 980,
        "latency": LatencySummary.from_seconds([0.1, 0.2, 0.3, 0.4]),
        "operations": (
            OperationStats(
                operation="fetch_work_item",
                count=10,
                errors=1,
                p50_ms=0.5,
                p99_ms=2.0,
                total_ms=7.0,
            ),
        ),
        "ceiling_activities_per_sec": 100.0,
        "errors": ("stress-1: application/activity_failed: boom",),
        "worker_slots": 1,
        "activity_delay_ms": 10.0,
    }
    values.update(overrides)
    return StressResult(**values)


def test_percentile_interpolates_linearly() -> None:
    """p50 of 1..4 is 2.5, p0/p100 are the extremes, no values give nan."""
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))


def test_latency_summary_is_in_milliseconds() -> None:
    """Samples in seconds become avg/p50/p95/p99/max in milliseconds."""
    summary = LatencySummary.from_seconds([0.4, 0.1, 0.3, 0.2])
    assert (summary.count, summary.avg_ms, summary.p50_ms, summary.max_ms) == (
        4, pytest.approx(250.0), pytest.approx(250.0), pytest.approx(400.0),
    )  # fmt: skip
    assert summary.p95_ms == pytest.approx(385.0)


def test_derived_rates_come_from_counts_and_elapsed_time() -> None:
    """success %, orch/s, activity/s and the ceiling ratio follow their definitions."""
    result = _result()
    assert result.failed == 4
    assert result.success_pct == 98.0
    assert result.orch_per_sec == pytest.approx(19.6)
    assert result.activity_per_sec == pytest.approx(98.0)
    assert result.ceiling_ratio == pytest.approx(0.98)
    assert _result(ceiling_activities_per_sec=None).ceiling_ratio is None


def test_overhead_is_worker_slot_time_per_activity_beyond_its_delay() -> None:
    """Overhead ms: slots x elapsed / activities minus the delay; all of it at zero delay."""
    # Rejects: an overhead that ignores the slot count or keeps the activity's own delay in.
    assert _result(worker_slots=2, activities=1000).overhead_ms == pytest.approx(10.0)
    assert _result(worker_slots=2, activities=4000, activity_delay_ms=0.0).overhead_ms == (
        pytest.approx(5.0)
    )
    assert _result(activities=0).overhead_ms is None


def test_markdown_table_renders_every_column() -> None:
    """The markdown comparison table has the documented header and the row's values."""
    lines = results_markdown([_result()]).splitlines()
    headers = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert headers == [
        "Provider", "Scenario", "Config", "Launched", "Completed", "Failed", "Infra", "Cfg",
        "App", "Start/Timeout", "Success %", "History", "Orch/s", "Activity/s", "Ceiling %",
        "Overhead ms", "Avg ms", "p50 ms", "p95 ms", "p99 ms",
    ]  # fmt: skip
    cells = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert cells == [
        "sqlite-file", "fanout", "1/1", "200", "196", "4", "1", "1", "1", "1", "98.00", "-",
        "19.60", "98.00", "98.0", "0.20", "250.0", "250.0", "385.0", "397.0",
    ]  # fmt: skip


def test_markdown_shows_dashes_for_missing_values() -> None:
    """No latency samples and no ceiling render as '-' rather than nan."""
    row = results_markdown(
        [_result(latency=LatencySummary.from_seconds([]), ceiling_activities_per_sec=None)]
    ).splitlines()[2]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[14:] == ["-", "0.20", "-", "-", "-", "-"]


def test_json_document_matches_the_schema() -> None:
    """The --json document validates and round-trips through json with nan as null."""
    empty = _result(provider="sqlite-memory", latency=LatencySummary.from_seconds([]))
    document = stress_document(
        [_result(), empty], preset="baseline", config={"name": "baseline"}, environment=ENV
    )
    decoded = json.loads(json.dumps(document, allow_nan=False))
    assert validate(decoded, STRESS_JSON_SCHEMA) == []
    assert decoded["results"][0]["failures"] == {
        "infrastructure": 1, "configuration": 1, "application": 1, "start_errors": 0,
        "timeouts": 1,
    }  # fmt: skip
    assert decoded["results"][1]["latency_ms"]["p99"] is None
    assert decoded["git_commit"] is None


def test_schema_validator_reports_each_problem() -> None:
    """Missing keys, wrong types, unexpected keys and bools-as-ints are all reported."""
    document = stress_document([_result()], preset="p", config={}, environment=ENV)
    del document["machine"]
    document["schema_version"] = True
    document["results"][0]["launched"] = "200"
    document["results"][0]["surprise"] = 1
    assert validate(document, STRESS_JSON_SCHEMA) == [
        "$: missing required key 'machine'",
        "$.schema_version: expected integer, got bool",
        "$.results[0]: unexpected key 'surprise'",
        "$.results[0].launched: expected integer, got str",
    ]


def _schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths = set()
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        paths.add(path)
        if sub.get("type") == "array" and "properties" in sub.get("items", {}):
            paths |= _schema_paths(sub["items"], f"{path}[].")
        paths |= _schema_paths(sub, f"{path}.")
    return paths


def test_documentation_lists_exactly_the_schema_fields() -> None:
    """docs/stress-results.md documents every field of the schema and no other."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## The `--json` document", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([^`]+)` \| ", section, re.MULTILINE)
    assert sorted(documented) == sorted(_schema_paths(STRESS_JSON_SCHEMA))


def test_git_dirty_ignores_tracked_reports_but_not_other_changes(tmp_path: Path) -> None:
    """A checkout is dirty for any change except files under reports/ at its top."""

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert git_dirty(tmp_path) is False
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "history.jsonl").write_text("{}\n")
    assert git_dirty(tmp_path) is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_dirty(tmp_path) is True


def test_verdict_names_what_failed_in_each_row() -> None:
    """Below 100 %, history findings and a runtime process that died each fail a row by name."""
    clean = _result(completed=200, failures=Failures(), history=HistoryCheck(checked=200))
    dup = _result(
        provider="mutant", failures=Failures(), completed=200,
        history=HistoryCheck(checked=200, duplicated=3, findings=("duplicated: x",)),
    )  # fmt: skip
    died = _result(
        provider="procs", failures=Failures(), completed=200, history=HistoryCheck(checked=200),
        processes=(
            ProcessCounts(index=0, pid=1, exit="killed", turns=0, activities=0, terminal_acks=0),
            ProcessCounts(index=1, pid=2, exit="exit status 1", turns=5, activities=5,
                          terminal_acks=1),
        ),
    )  # fmt: skip
    assert verdict([clean]) == (
        "**Verdict: PASS**: 1 row, every instance completed and the history check found "
        "nothing lost, duplicated or unexpected"
    )
    assert verdict([clean, _result(), dup, died]) == (
        "**Verdict: FAIL**: 3 of 4 rows failed: sqlite-file fanout 1/1 (98.00 % completed); "
        "mutant fanout 1/1 (history check: 3 duplicated); "
        "procs fanout 1/1 (runtime process 1: exit status 1)"
    )
    assert verdict([clean], interrupted="interrupted by SIGINT after 1 of 2 rows").startswith(
        "**Verdict: PARTIAL** (partial: interrupted by SIGINT after 1 of 2 rows): 1 row,"
    )
