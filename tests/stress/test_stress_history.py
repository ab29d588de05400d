"""Tracked history: record files, deltas and regression flags, the results log, the chart."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, replace
from pathlib import Path
from xml.etree import ElementTree

import pytest

from provkit.reporting import Failures, LatencySummary, StressResult
from provkit.reporting._chart import run_label, trend_svg
from provkit.reporting._document import Environment
from provkit.reporting._history import (
    HistoryError,
    HistoryRecord,
    analyse,
    append_history,
    load_history,
)
from provkit.reporting._results_log import last_tracked_commit, log_entry, prepend_entry
from provkit.stress._track import commits_since
from provkit.stress.cli import main

BASE = HistoryRecord(
    commit="0" * 40,
    timestamp="2025-01-01T00:00:00Z",
    duration_secs=10.0,
    provider="sqlite-file",
    scenario="fanout",
    config="1/1",
    launched=100,
    completed=100,
    failed=0,
    success_pct=100.0,
    orch_per_sec=20.0,
    activity_per_sec=100.0,
    ceiling_ratio=0.9,
    latency_avg_ms=50.0,
    latency_p50_ms=45.0,
    latency_p99_ms=90.0,
    machine="Linux x86_64, AMD EPYC, 2 CPUs, CPython 3.11.7",
    settings={"max_concurrent": 20, "duration_secs": 10.0, "activity_delay_ms": 10.0},
    history="ok",
)


def _run(n: int, **values: object) -> HistoryRecord:
    commit = f"{n:040x}"
    return replace(BASE, commit=commit, timestamp=f"2025-01-{n + 1:02d}T00:00:00Z", **values)  # type: ignore[arg-type]


def _write(path: Path, records: list[HistoryRecord]) -> Path:
    path.write_text("".join(json.dumps(asdict(r)) + "\n" for r in records), encoding="utf-8")
    return path


SYNTHETIC = [
    # sqlite-file 1/1: steady at 20, 22, 18, 20, 20 then a drop to 15 (-25 % vs mean 20)
    *(_run(i, orch_per_sec=v) for i, v in enumerate([20.0, 22.0, 18.0, 20.0, 20.0, 15.0])),
    # sqlite-file 2/2: 30 then 29 (-3.3 %): within the threshold
    _run(0, config="2/2", orch_per_sec=30.0),
    _run(1, config="2/2", orch_per_sec=29.0, success_pct=99.5),
    # sqlite-memory 1/1: a single run, nothing to compare with
    _run(0, provider="sqlite-memory", orch_per_sec=40.0),
]


def test_history_round_trips_through_the_file(tmp_path: Path) -> None:
    """append_history writes one JSON line per record and load_history reads them back."""
    path = tmp_path / "reports" / "history.jsonl"
    append_history(path, SYNTHETIC[:2])
    append_history(path, SYNTHETIC[2:])
    assert load_history(path) == SYNTHETIC
    assert len(path.read_text().splitlines()) == len(SYNTHETIC)


def test_trends_give_deltas_against_previous_and_mean(tmp_path: Path) -> None:
    """Latest vs previous and vs the mean of the 5 runs before, per series, in first-seen order."""
    trends = analyse(load_history(_write(tmp_path / "h.jsonl", SYNTHETIC)))
    assert [(t.provider, t.config, t.runs) for t in trends] == [
        ("sqlite-file", "1/1", 6),
        ("sqlite-file", "2/2", 2),
        ("sqlite-memory", "1/1", 1),
    ]
    steady, within, single = trends
    assert (steady.latest, steady.previous, steady.mean_before, steady.mean_window) == (
        15.0, 20.0, 20.0, 5,
    )  # fmt: skip
    assert steady.change_vs_previous_pct == pytest.approx(-25.0)
    assert steady.change_vs_mean_pct == pytest.approx(-25.0)
    assert steady.regression is True
    assert within.change_vs_previous_pct == pytest.approx(-100 / 30)
    assert within.regression is False
    assert within.success_pct == 99.5
    assert (single.previous, single.mean_before, single.change_vs_mean_pct) == (None, None, None)
    assert single.regression is False
    assert [t.note for t in trends] == ["", "", "first run of this series"]


def test_only_records_measured_alike_are_compared() -> None:
    """Another duration, machine or setting is skipped and said; old records compare with none."""
    records = [
        _run(0, orch_per_sec=10.0),
        _run(1, orch_per_sec=99.0, duration_secs=3.0),
        _run(2, orch_per_sec=99.0, machine="Linux arm64, 8 CPUs"),
        _run(3, orch_per_sec=99.0, settings={**(BASE.settings or {}), "max_concurrent": 50}),
        _run(4, orch_per_sec=11.0),
    ]
    (trend,) = analyse(records)
    assert (trend.runs, trend.previous, trend.mean_before, trend.mean_window) == (5, 10.0, 10.0, 1)
    assert trend.change_vs_previous_pct == pytest.approx(10.0)
    assert trend.note == "3 earlier runs skipped (duration, machine, settings)"
    (different,) = analyse(records[:2])
    assert (different.previous, different.regression) == (None, False)
    assert different.note == "cannot compare: all 1 earlier runs differ (duration)"
    old = [_run(0, machine=None, settings=None), _run(1, machine=None, settings=None)]
    (unrecorded,) = analyse(old)
    assert (unrecorded.previous, unrecorded.note) == (
        None, "cannot compare: machine and settings not recorded",
    )  # fmt: skip


def test_records_written_before_machine_and_settings_still_load(tmp_path: Path) -> None:
    """A line without the newer fields loads with them unset."""
    legacy = {k: v for k, v in asdict(BASE).items() if k not in ("machine", "settings", "history")}
    path = tmp_path / "h.jsonl"
    path.write_text(json.dumps(legacy) + "\n")
    (record,) = load_history(path)
    assert (record.machine, record.settings, record.history) == (None, None, None)
    assert record.orch_per_sec == BASE.orch_per_sec


def test_latency_regressions_go_the_other_way() -> None:
    """For a lower-is-better metric a rise past the threshold is the regression."""
    records = [_run(0, latency_p99_ms=100.0), _run(1, latency_p99_ms=112.0)]
    (rise,) = analyse(records, metric="latency_p99_ms", threshold_pct=10.0)
    assert rise.change_vs_mean_pct == pytest.approx(12.0)
    assert rise.regression is True
    (fall,) = analyse(
        [_run(0, latency_p99_ms=100.0), _run(1, latency_p99_ms=50.0)], metric="latency_p99_ms"
    )
    assert fall.regression is False


def test_window_limits_the_mean() -> None:
    """With window=2 only the two runs before the latest are averaged."""
    (trend,) = analyse(SYNTHETIC[:6], window=2)
    assert (trend.mean_before, trend.mean_window) == (20.0, 2)


def test_unknown_metric_is_rejected() -> None:
    """Asking for a metric the history does not track names the choices."""
    with pytest.raises(ValueError, match="unknown metric 'speed'; choose from orch_per_sec"):
        analyse(SYNTHETIC, metric="speed")


def test_a_broken_history_line_is_named(tmp_path: Path) -> None:
    """A line that is not a record fails with the file, line number and cause."""
    path = _write(tmp_path / "h.jsonl", SYNTHETIC[:1])
    with path.open("a") as out:
        out.write('{"commit": "abc"}\n')
    with pytest.raises(HistoryError, match=r"h\.jsonl:2: not a history record \(missing "):
        load_history(path)


def test_history_command_flags_regressions_and_writes_a_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """stress-run history prints the trend table with REGRESSION and writes an SVG chart."""
    history = _write(tmp_path / "h.jsonl", SYNTHETIC)
    chart = tmp_path / "trend.svg"
    status = main(["history", "--file", str(history), "--chart", str(chart)])
    out = capsys.readouterr().out
    assert status == 0
    rows = [line for line in out.splitlines() if line.startswith("| sqlite")]
    assert len(rows) == 3
    assert "-25.0 %" in rows[0]
    cells = [[cell.strip() for cell in row.split("|")[1:-1]] for row in rows]
    assert [row[-2:] for row in cells] == [
        ["REGRESSION", ""], ["FAILURES", ""], ["", "first run of this series"],
    ]  # fmt: skip
    svg = ElementTree.fromstring(chart.read_text())
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert titles[:3] == ["sqlite-file 1/1", "sqlite-file 1/1: 20.00", "sqlite-file 1/1: 22.00"]
    assert main(["history", "--file", str(history), "--no-chart", "--fail-on-regression"]) == 1


def test_chart_labels_tell_runs_of_one_commit_apart() -> None:
    """Two tracked runs of the same commit get ticks with their own times."""
    first = replace(BASE, timestamp="2025-03-04T09:15:00Z")
    second = replace(BASE, timestamp="2025-03-04T17:40:00Z", orch_per_sec=30.0)
    assert [run_label(r) for r in (first, second)] == [
        ("0000000", "03-04 09:15"), ("0000000", "03-04 17:40"),
    ]  # fmt: skip
    svg = trend_svg([first, second])
    assert svg.count('<circle cx="') == 4
    assert ">03-04 09:15</tspan>" in svg
    assert ">03-04 17:40</tspan>" in svg


def test_history_command_without_records_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty or missing history file is a one-line error."""
    assert main(["history", "--file", str(tmp_path / "none.jsonl"), "--no-chart"]) == 2
    assert capsys.readouterr().err == (
        f"stress-run: error: no tracked runs in {tmp_path / 'none.jsonl'}; "
        "run ./track-results.sh first\n"
    )


def _result(provider: str, config: str) -> StressResult:
    return StressResult(
        provider=provider,
        scenario="fanout",
        config=config,
        settings={},
        launched=10,
        completed=10,
        failures=Failures(),
        elapsed_secs=2.0,
        activities=50,
        latency=LatencySummary.from_seconds([0.05, 0.07]),
        ceiling_activities_per_sec=100.0,
    )


def test_results_log_entries_are_prepended_below_the_header(tmp_path: Path) -> None:
    """Each entry goes on top of older ones; the newest commit is what the next run reads."""
    log = tmp_path / "stress-test-results.md"
    for commit in ("a" * 40, "b" * 40):
        env = Environment.capture()
        env = replace(env, git_commit=commit, git_dirty=commit.startswith("b"))
        entry = log_entry(
            [_result("sqlite-file", "1/1")],
            environment=env,
            duration_secs=10.0,
            changes=[f"{commit[:7]} a change"],
            since=None,
        )
        prepend_entry(log, entry)
    text = log.read_text()
    assert text.startswith("# Stress test results\n")
    assert text.index("## Commit: `" + "b" * 40) < text.index("## Commit: `" + "a" * 40)
    assert last_tracked_commit(log) == "b" * 40
    assert "| sqlite-file | fanout     | 1/1      |" in text
    assert "- bbbbbbb a change" in text
    assert text.count("- Working tree: uncommitted changes (results may not match the commit)") == 1
    assert "### Recent commits (no earlier tracked commit that git knows)" in text


def test_commits_since_lists_new_commits(tmp_path: Path) -> None:
    """git log since the last tracked commit; unknown or no commit falls back to recent ones."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
            cwd=tmp_path, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    git("init", "-q")
    for message in ("one", "two", "three"):
        git("commit", "-q", "--allow-empty", "-m", message)
    first = git("rev-list", "--max-parents=0", "HEAD")
    lines, since = commits_since(tmp_path, first)
    assert [line.split(" ", 1)[1] for line in lines] == ["three", "two"]
    assert since == first
    lines, since = commits_since(tmp_path, "f" * 40)
    assert [line.split(" ", 1)[1] for line in lines] == ["three", "two", "one"]
    assert since is None
