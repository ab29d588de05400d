"""What a stress run checks besides counting: storage read back, providers probed first,
output paths, labels, and readable output from a broken provider."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest
from stress_faults import TwinLeaseFactory

from provkit.conformance._builders import (
    completed,
    continued_as_new,
    orchestration_completed,
    scheduled,
    started,
)
from provkit.contract import LockLostError, Provider
from provkit.contract.events import Event
from provkit.mutants import find
from provkit.reference_providers import InMemorySqliteFactory, SqliteProvider
from provkit.stress import StressConfig, prepare, run_stress_test
from provkit.stress._history_check import Launch, check_history
from provkit.stress.cli import main

SHORT = StressConfig(
    max_concurrent=4, duration_secs=0.5, tasks_per_instance=3, activity_delay_ms=1.0,
    orch_concurrency=2, worker_concurrency=2, wait_timeout_secs=10.0, drain_timeout_secs=10.0,
)  # fmt: skip


def _specs(monkeypatch: pytest.MonkeyPatch, **factories: Any) -> None:
    module = types.ModuleType("stress_check_specs")
    for name, factory in factories.items():
        setattr(module, name, factory)
    monkeypatch.setitem(sys.modules, "stress_check_specs", module)


def _tiny(tmp_path: Path, extra: str = "") -> str:
    config = tmp_path / "tiny.toml"
    config.write_text(
        "max_concurrent = 3\nduration_secs = 0.3\nactivity_delay_ms = 0\n"
        "tasks_per_instance = 2\n" + extra
    )
    return str(config)


@pytest.mark.asyncio
async def test_an_item_leased_twice_is_reported_as_a_duplicated_execution() -> None:
    """Two winners of one worker item: 100 % completed, yet the row fails naming the runs."""
    result = await run_stress_test(TwinLeaseFactory(), SHORT)
    history = result.history
    assert history is not None
    assert result.completed == result.launched >= 4
    assert history.scheduled == 3 * result.launched
    assert history.executed == result.activities == 2 * history.scheduled
    assert history.duplicated == history.scheduled
    assert (history.lost, history.unexpected, history.unknown) == (0, 0, 0)
    assert history.findings[0] == "duplicated: activity ProcessTask 'stress-0#0' executed 2 times"
    assert result.passed is False


def _task(tag: str) -> str:
    return json.dumps({"tag": tag, "value": 0})


async def _stored(provider: Provider, instance: str, *executions: list[Event]) -> None:
    for number, events in enumerate(executions, start=1):
        await provider.append_history(instance, number, events)


@pytest.mark.asyncio
async def test_history_check_classifies_lost_duplicated_and_unexpected_items() -> None:
    """Crafted histories: each kind of damage lands in its class with a readable line."""
    provider = await SqliteProvider.open_memory()
    try:
        await _stored(provider, "ok", [
            started(), scheduled(2, "T", _task("ok#0")), completed(3, 2),
            orchestration_completed(4, "[0]"),
        ])  # fmt: skip
        await _stored(provider, "twice", [
            started(), scheduled(2, "T", _task("twice#0")), completed(3, 2), completed(4, 2),
            orchestration_completed(5, "[0]"), orchestration_completed(6, "[0]"),
        ])  # fmt: skip
        await _stored(provider, "wrong", [
            started(), scheduled(2, "T", _task("wrong#0")), completed(3, 9),
            orchestration_completed(4, "[1]"),
        ])  # fmt: skip
        await _stored(provider, "chained", [started(), continued_as_new(2)], [started()])
        launches = [
            Launch(instance="ok", number=0, acked="Completed"),
            Launch(instance="twice", number=1, acked="Completed"),
            Launch(instance="wrong", number=2, acked="Completed"),
            Launch(instance="chained", number=3),
            Launch(instance="vanished", number=4, acked="Completed"),
        ]
        executed = {"ok#0": 1, "twice#0": 1, "wrong#0": 2, "ghost#0": 1}
        report = await check_history(provider, launches, executed, lambda _n: [0])
    finally:
        await provider.close()
    check = report.check
    assert report.disagreeing == {"vanished"}
    assert (check.checked, check.unknown, check.scheduled, check.executed) == (5, 1, 3, 5)
    assert (check.lost, check.duplicated, check.unexpected) == (2, 3, 3)
    assert check.findings == (
        "duplicated: twice: 2 terminal events (OrchestrationCompleted, OrchestrationCompleted)",
        "duplicated: twice: activity T 'twice#0' answered 2 times",
        "lost: wrong: activity T 'wrong#0' never answered",
        "unexpected: wrong: 1 answer(s) to activity 9, unscheduled",
        "unexpected: wrong: returned '[1]', expected '[0]'",
        "lost: vanished: acked Completed but storage has no history",
        "duplicated: activity T 'wrong#0' executed 2 times",
        "unexpected: activity 'ghost#0' executed 1 time(s), never scheduled",
    )


def test_cli_exits_1_for_a_duplicated_execution_at_100_percent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Completed is not correct: findings fail the run and are named in the report."""
    _specs(monkeypatch, Twin=TwinLeaseFactory)
    status = main(["--config", _tiny(tmp_path), "--provider", "stress_check_specs:Twin"])
    out = capsys.readouterr().out
    assert status == 1
    assert "**Verdict: FAIL**: 1 of 1 row failed: sqlite-memory fanout 1/1 (history check: " in out
    assert "|      100.00 | " in out
    assert (
        "- history check of sqlite-memory fanout 1/1: duplicated: activity ProcessTask "
        "'stress-0#0' executed 2 times\n" in out
    )


class _NotAProvider:
    async def create_provider(self) -> object:
        return {"name": "dict"}


class _OnlyRaises:
    name = "raiser"
    capabilities = frozenset()

    def __getattr__(self, name: str) -> Any:
        async def fail(*_args: Any, **_kwargs: Any) -> None:
            raise LockLostError(name, "storage is gone")

        return fail

    async def close(self) -> None:
        return None


class _OnlyRaisesFactory:
    created = 0

    async def create_provider(self) -> Any:
        type(self).created += 1
        provider = _OnlyRaises()
        for method in ("read", "fetch_orchestration_item", "fetch_work_item"):
            setattr(provider, method, getattr(provider, method))
        return provider


def test_a_factory_that_makes_no_provider_is_one_line_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The missing contract methods are named, before any run starts."""
    _specs(monkeypatch, Bad=_NotAProvider)
    assert main(["--provider", "sqlite-memory", "--provider", "stress_check_specs:Bad"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "stress-run: error: stress_check_specs:Bad: create_provider() returned a dict, which "
        "is not a provider (missing abandon_orchestration_item, abandon_work_item, "
        "ack_orchestration_item, ack_work_item, append_history, capabilities and 11 more)\n"
    )


def test_a_provider_that_only_raises_is_one_line_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its first probe call's error is the message; no row is run."""
    _specs(monkeypatch, Raises=_OnlyRaisesFactory)
    assert main(["--provider", "stress_check_specs:Raises"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "stress-run: error: stress_check_specs:Raises: read('provkit-stress-probe') raised "
        "LockLostError: read: storage is gone\n"
    )
    assert _OnlyRaisesFactory.created == 1


def test_output_paths_are_checked_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unwritable --json path is a one-line error before any provider is made."""
    _specs(monkeypatch, Raises=_OnlyRaisesFactory)
    (tmp_path / "file").write_text("")
    created = _OnlyRaisesFactory.created
    target = tmp_path / "file" / "out.json"
    assert main(["--provider", "stress_check_specs:Raises", "--json", str(target)]) == 2
    assert capsys.readouterr().err == (
        f"stress-run: error: cannot write the JSON report {target}: "
        f"{tmp_path / 'file'} is not a directory\n"
    )
    assert _OnlyRaisesFactory.created == created


@pytest.mark.asyncio
async def test_rows_are_labelled_by_spec_when_provider_names_collide() -> None:
    """Two specs whose providers share a name get their specs as labels; others keep names."""
    entries = [
        ("sqlite-memory", InMemorySqliteFactory()),
        ("tests.copy:Memory", InMemorySqliteFactory()),
        ("sqlite-file-alike", _Renamed()),
    ]
    labels = [entry.label for entry in await prepare(entries)]
    assert labels == ["sqlite-memory", "tests.copy:Memory", "renamed"]


class _Renamed(InMemorySqliteFactory):
    async def create_provider(self) -> Provider:
        provider = await super().create_provider()
        provider.name = "renamed"
        return provider


def test_a_broken_provider_run_stays_readable_and_names_top_causes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provider whose fetch ignores instance locks (the catalogue's mutant): hundreds of
    failing calls and runtime warnings become one counted line, not a flood."""
    config = _tiny(
        tmp_path,
        "orch_concurrency = 2\nworker_concurrency = 2\nwait_timeout_secs = 1\n"
        "drain_timeout_secs = 1\n",
    )
    assert main(["--config", config, "--provider", find("fetch-ignores-lock").spec]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines() + captured.err.splitlines()
    assert len(lines) < 60
    (causes,) = [line for line in lines if line.startswith("- errors in mutant fetch-ignores-lock")]
    assert "top causes: ack_orchestration_item LockLostError ×" in causes
    assert "runtime log (warning)" in causes


@pytest.mark.parametrize(
    ("signum", "status"),
    [
        pytest.param(signal.SIGTERM, 143, id="TERM"),
        pytest.param(signal.SIGINT, 130, id="INT", marks=pytest.mark.exhaustive),  # same path
    ],
)
def test_a_signal_keeps_finished_rows_and_removes_temporary_databases(
    tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    """Stopped by SIGTERM or SIGINT during its second row, a run writes the first (marked
    partial), cleans up and exits 128 + the signal's number."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    config = _tiny(tmp_path, "concurrency = [[1, 1], [2, 2]]\n")
    command = [
        sys.executable, "-m", "provkit.stress.cli", "--config", config, "--duration", "0.5",
        "--provider", "sqlite-file", "--json", str(tmp_path / "out.json"),
    ]  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    out: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TMPDIR": str(temp)},
    ) as process:  # fmt: skip
        stdout, stderr = process.stdout, process.stderr
        assert stdout is not None
        assert stderr is not None
        # One reader per pipe, each to its end: communicate() would race the stderr reader.
        readers = [
            threading.Thread(target=lambda: [lines.put(line) for line in stderr]),
            threading.Thread(target=lambda: out.append(stdout.read())),
        ]
        for reader in readers:
            reader.start()
        try:
            while "fanout 2/2]" not in lines.get(timeout=20):
                pass
            process.send_signal(signum)
            process.wait(timeout=30)
        finally:
            process.kill()
            for reader in readers:
                reader.join(timeout=10)
    assert process.returncode == status
    (text,) = out
    assert f"**Verdict: PARTIAL** (partial: interrupted by {signum.name} after 1 of 2 rows)" in text
    assert "| sqlite-file | fanout     | 1/1      |" in text
    document = json.loads((tmp_path / "out.json").read_text())
    assert (document["partial"], len(document["results"])) == (True, 1)
    assert document["interrupted_by"] == f"interrupted by {signum.name} after 1 of 2 rows"
    assert list(temp.iterdir()) == []
