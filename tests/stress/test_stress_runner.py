"""The stress runner against real SQLite: counts, categories, latency, operations, exit status."""

from __future__ import annotations

import json
import sys
import types
from collections import Counter
from pathlib import Path

import pytest
from stress_faults import MIXED, FaultySqliteFactory, PoisonEverythingFactory, kind_of

from provkit.reference_providers import FileSqliteFactory, InMemorySqliteFactory
from provkit.reporting import STRESS_JSON_SCHEMA, Failures, validate
from provkit.stress import Progress, StressConfig, run_stress_test, run_stress_test_sync
from provkit.stress.cli import main

SHORT = StressConfig(
    max_concurrent=5,
    duration_secs=1.0,
    tasks_per_instance=3,
    activity_delay_ms=2.0,
    orch_concurrency=1,
    worker_concurrency=2,
    wait_timeout_secs=10.0,
    drain_timeout_secs=10.0,
)


@pytest.mark.asyncio
async def test_fanout_run_completes_every_instance_and_counts_activities() -> None:
    """A short fan-out run on file SQLite completes all it launched, 3 activities each."""
    snapshots: list[Progress] = []
    result = await run_stress_test(
        FileSqliteFactory(), SHORT, on_progress=snapshots.append, progress_interval=0.2
    )
    assert result.provider == "sqlite-file"
    assert (result.scenario, result.config) == ("fanout", "1/2")
    assert result.launched >= 5
    assert result.completed == result.launched
    assert result.failures == Failures()
    assert result.activities == 3 * result.completed
    assert result.history is not None
    assert result.history.summary() == "ok"
    assert result.history.executed == result.history.scheduled == result.activities
    assert result.passed is True
    assert result.latency.count == result.completed
    assert 0 < result.latency.p50_ms <= result.latency.p99_ms <= result.latency.max_ms
    assert result.ceiling_activities_per_sec == 1000.0
    assert result.ceiling_ratio == pytest.approx(result.activity_per_sec / 1000.0)
    calls = {op.operation: op.count for op in result.operations}
    assert calls["enqueue_for_orchestrator"] == result.launched
    assert calls["ack_work_item"] == result.activities
    assert calls["ack_orchestration_item"] >= 2 * result.completed
    last = snapshots[-1]
    assert (last.launched, last.completed, last.failed, last.active) == (
        result.launched, result.completed, 0, 0,
    )  # fmt: skip
    assert last.draining is True


@pytest.mark.asyncio
async def test_failures_are_counted_by_category() -> None:
    """Application, configuration, poison, timeout and start failures land in their buckets."""
    config = StressConfig(
        max_concurrent=6, duration_secs=1.0, activity_delay_ms=0.0, wait_timeout_secs=1.0,
        drain_timeout_secs=5.0,
    )  # fmt: skip
    result = await run_stress_test(FaultySqliteFactory(), config, scenario=MIXED)
    expected = Counter(kind_of(f"stress-{n}") for n in range(result.launched))
    assert result.launched >= 6
    assert result.failures == Failures(
        infrastructure=expected["infrastructure"],
        configuration=expected["configuration"],
        application=expected["application"],
        start_errors=expected["start_errors"],
        timeouts=expected["timeouts"],
    )
    assert result.completed == expected["completed"]
    assert result.activities == expected["completed"]
    assert result.success_pct < 100.0
    assert result.history is not None
    assert result.history.summary() == f"ok, {expected['timeouts']} unknown"
    # The runtime words the messages; the instance and category/kind are the runner's part.
    assert sorted(tuple(e.split(": ")[:2]) for e in result.errors) == [
        ("stress-0", "application/orchestration_failed"),
        ("stress-1", "configuration/unregistered"),
        ("stress-2", "poison/poison"),
        ("stress-3", "not finished after 1 s"),
        ("stress-5", "start failed"),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("scenario", ["large_payload", "timers", "continue_as_new"])
async def test_other_scenarios_complete(scenario: str) -> None:
    """Large payload, timers and continue-as-new workloads run to completion."""
    config = StressConfig(
        max_concurrent=2, duration_secs=0.5, tasks_per_instance=2, activity_delay_ms=1.0,
        scenario=scenario,
    )  # fmt: skip
    result = await run_stress_test(InMemorySqliteFactory(), config)
    per_instance = {
        "large_payload": config.payload.activities_per_instance,
        "timers": 2,
        "continue_as_new": 2,
    }[scenario]
    assert result.launched >= 1
    assert (result.completed, result.failed) == (result.launched, 0)
    assert result.activities == per_instance * result.completed
    assert result.history is not None
    assert (result.history.summary(), result.history.scheduled) == ("ok", result.activities)


def test_sync_wrapper_runs_without_a_loop() -> None:
    """run_stress_test_sync gives the same kind of result from plain code."""
    config = StressConfig(max_concurrent=2, duration_secs=0.3, tasks_per_instance=1,
                          activity_delay_ms=0.0)  # fmt: skip
    result = run_stress_test_sync(InMemorySqliteFactory(), config)
    assert result.completed == result.launched >= 1
    assert result.ceiling_ratio is None


def test_cli_exits_1_when_a_row_is_below_100_percent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """stress-run exits 1, writes JSON/markdown and the step summary when instances fail."""
    module = types.ModuleType("stress_fault_specs")
    module.Poison = PoisonEverythingFactory  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stress_fault_specs", module)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    config = tmp_path / "tiny.toml"
    config.write_text("max_concurrent = 2\nduration_secs = 0.5\nactivity_delay_ms = 0\n")
    status = main([
        "--config", str(config), "--provider", "stress_fault_specs:Poison",
        "--json", str(tmp_path / "out.json"), "--markdown", str(tmp_path / "out.md"),
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 1
    document = json.loads((tmp_path / "out.json").read_text())
    assert validate(document, STRESS_JSON_SCHEMA) == []
    (row,) = document["results"]
    assert row["completed"] == 0
    assert row["failures"]["infrastructure"] == row["launched"] >= 1
    assert document["preset"] == "tiny"
    assert "failure in sqlite-memory fanout 1/1: stress-0: poison/poison:" in out
    markdown = (tmp_path / "out.md").read_text()
    assert markdown.startswith("### provkit stress: tiny\n")
    assert summary.read_text() == markdown + "\n"


def test_cli_exits_0_when_every_instance_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clean run prints the markdown table (not a terminal) and exits 0."""
    config = tmp_path / "ok.toml"
    config.write_text("max_concurrent = 2\nduration_secs = 0.3\nactivity_delay_ms = 0\n")
    assert main(["--config", str(config), "--provider", "sqlite-memory"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### provkit stress: ok\n")
    assert "| sqlite-memory | fanout     | 1/1      |" in out
    assert "|      100.00 |" in out
