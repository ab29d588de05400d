"""The runtime benchmark script runs against this checkout and reports complete, checked runs.

The script is kept outside the package (it must also run against older checkouts); these
tests only make sure each workload still runs through the current API with tiny sizes.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "runtime_bench.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("runtime_bench", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _records(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    _bench().main(list(argv))
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_sequential_and_fanout_report_one_record_per_size(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """sequential and fanout print one JSON record per size asked for, with their figures."""
    (sequential,) = _records(capsys, "sequential", "--n", "4")
    assert (sequential["bench"], sequential["n"]) == ("sequential", 4)
    assert sequential["wall_s"] > 0
    assert sequential["cpu_s"] > 0
    (fanout,) = _records(capsys, "fanout", "--width", "3", "--activities", "6")
    assert (fanout["bench"], fanout["width"], fanout["instances"]) == ("fanout", 3, 2)
    assert fanout["cpu_ms_per_activity"] > 0


def test_throughput_run_completes_everything_with_a_clean_history(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """throughput: every instance launched completes and the history check finds nothing."""
    (record,) = _records(capsys, "throughput", "--duration", "0.3")
    assert record["bench"] == "throughput"
    assert record["launched"] >= 50
    assert record["completed"] == record["launched"]
    assert record["success_pct"] == 100.0
    assert (record["history_checked"], record["history_problems"]) == (record["launched"], 0)


def test_delay_run_times_the_activity_and_the_bare_sleep(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """delay: the bare sleep first, then a row whose activity sleep is at least the delay."""
    sleep, delay = _records(capsys, "delay", "--duration", "0.3", "--delay-ms", "2", "--slots", "1")
    assert (sleep["bench"], sleep["activity_delay_ms"]) == ("sleep", 2.0)
    assert sleep["bare_sleep_ms"] >= 2.0
    assert (delay["bench"], delay["config"]) == ("delay", "1/1")
    assert delay["completed"] == delay["launched"] > 0
    assert delay["activity_sleep_ms"] >= 2.0
    assert delay["overhead_ms_per_activity"] > 0
    assert delay["runtime_ms_per_activity"] == pytest.approx(
        delay["overhead_ms_per_activity"] + 2.0 - delay["activity_sleep_ms"], abs=1e-3
    )
