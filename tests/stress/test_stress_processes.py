"""Multi-process runs: runtime processes on one shared database (file SQLite, PostgreSQL),
one of them killed mid-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from provkit._provider_spec import load_factory
from provkit.stress import StressConfig, run_stress_test
from provkit.stress.cli import main

CRASHY = StressConfig(
    max_concurrent=6, duration_secs=1.5, tasks_per_instance=3, activity_delay_ms=5.0,
    orch_concurrency=1, worker_concurrency=2, wait_timeout_secs=20.0, drain_timeout_secs=20.0,
    lock_timeout_secs=1.0, processes=2,
)  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.parametrize("spec", ["sqlite-file", "postgres"])
async def test_a_runtime_process_killed_mid_run_loses_nothing(spec: str, tmp_path: Path) -> None:
    """SIGKILL one of two runtime processes at work: every instance completes exactly once."""
    factory = load_factory(spec, tmp_path)
    result = await run_stress_test(factory, CRASHY, spec=spec, kill_after=0.6)
    history = result.history
    assert history is not None
    assert result.config == "1/2 ×2p"
    assert result.completed == result.launched >= 6
    assert (history.checked, history.lost, history.duplicated, history.unexpected) == (
        result.launched, 0, 0, 0
    )
    assert history.summary() == "ok"
    assert history.scheduled == 3 * result.launched
    assert history.executed is None  # the killed process's executions are unknown
    killed, survivor = result.processes
    assert (killed.exit, survivor.exit) == ("killed", "ok")
    assert (killed.turns, killed.activities) == (0, 0)
    # Each instance is finished by one terminal ack: those the survivor did not commit, the
    # killed process committed before it died, so it was killed at work.
    assert 1 <= survivor.terminal_acks < result.launched
    assert survivor.activities == result.activities
    assert result.worker_slots == 4
    assert result.passed is True


def test_processes_need_a_factory_that_can_share_a_store(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In-memory SQLite cannot be shared between processes: one line, exit 2, nothing run."""
    assert main(["--provider", "sqlite-memory", "--processes", "2"]) == 2
    assert capsys.readouterr().err == (
        "stress-run: error: --processes needs a store several processes can share, and the "
        "factory of sqlite-memory cannot make one (it has no create_shared_store, "
        "open_shared_provider, remove_shared_store); use sqlite-file, postgres, or a factory "
        "with those methods\n"
    )
