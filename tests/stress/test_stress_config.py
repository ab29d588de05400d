"""Stress configuration: presets, TOML files setting every field, one-line errors for bad input."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from provkit.stress import (
    PRESETS,
    ConfigError,
    PayloadShape,
    StressConfig,
    load_plan,
)
from provkit.stress._config import parse_processes
from provkit.stress.cli import main

EVERY_FIELD = """
preset = "quick"
max_concurrent = 7
duration_secs = 2.5
tasks_per_instance = 4
activity_delay_ms = 0
orch_concurrency = 3
worker_concurrency = 5
wait_timeout_secs = 9
drain_timeout_secs = 11
concurrency = [[1, 2], [3, 4]]
scenarios = ["timers", "large_payload"]
providers = ["sqlite-file"]

[payload]
small_kb = 2
medium_kb = 3
large_kb = 4
small_count = 5
medium_count = 6
large_count = 7
sub_orchestrations = 8
sub_input_kb = 9
result_kb = 10
tail_count = 11
"""


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_presets_match_the_testing_guide() -> None:
    """baseline and concurrency are 20 concurrent, 10 s, 5 tasks, 10 ms at 1/1 and 2/2."""
    baseline, concurrency = load_plan("baseline"), load_plan("concurrency")
    assert baseline.base == StressConfig(
        max_concurrent=20, duration_secs=10.0, tasks_per_instance=5, activity_delay_ms=10.0
    )
    assert baseline.concurrency == ((1, 1),)
    assert concurrency.base == baseline.base
    assert concurrency.concurrency == ((2, 2),)
    assert [c.label for c in load_plan("compare").runs()] == ["1/1", "2/2"]
    quick = PRESETS["quick"].base
    assert (quick.max_concurrent, quick.tasks_per_instance, quick.activity_delay_ms) == (10, 3, 50)
    assert quick.duration_secs <= 5


def test_throughput_preset_has_no_activity_delay() -> None:
    """throughput: 50 in flight, 5 tasks, 0 ms activities at 2/2, so no sleep ceiling."""
    (run,) = load_plan("throughput").runs()
    assert (run.max_concurrent, run.tasks_per_instance, run.activity_delay_ms) == (50, 5, 0.0)
    assert (run.label, run.ceiling_activities_per_sec) == ("2/2", None)


def test_processes_come_from_toml_or_the_command_line(tmp_path: Path) -> None:
    """An integer or a list in TOML, a comma-separated list on the command line: one row each."""
    plan = load_plan(_toml(tmp_path, "processes = [1, 2, 4]\n"))
    assert [run.label for run in plan.runs()] == ["1/1 ×1p", "1/1 ×2p", "1/1 ×4p"]
    assert [run.worker_slots for run in plan.runs()] == [1, 2, 4]
    assert parse_processes("2") == (2,)
    assert parse_processes(3) == (3,)
    with pytest.raises(ConfigError, match="comma-separated list such as 1,2,4, got 'two'"):
        parse_processes("two")
    with pytest.raises(ConfigError, match=r"a count 0\.\.64 or a non-empty list of them, got"):
        parse_processes([1, 65])


def test_presets_run_both_sqlite_providers_by_default() -> None:
    """Without a providers list a plan runs the in-memory and file SQLite providers."""
    assert load_plan("quick").providers == ("sqlite-memory", "sqlite-file")


def test_toml_file_sets_every_field(tmp_path: Path) -> None:
    """Each key of the TOML file ends up in the plan and in every run configuration."""
    plan = load_plan(_toml(tmp_path, EVERY_FIELD))
    assert plan.name == "plan"
    assert plan.providers == ("sqlite-file",)
    assert plan.scenarios == ("timers", "large_payload")
    assert plan.concurrency == ((1, 2), (3, 4))
    assert plan.base.payload == PayloadShape(
        small_kb=2, medium_kb=3, large_kb=4, small_count=5, medium_count=6, large_count=7,
        sub_orchestrations=8, sub_input_kb=9, result_kb=10, tail_count=11,
    )  # fmt: skip
    runs = plan.runs()
    assert [(r.scenario, r.label) for r in runs] == [
        ("timers", "1/2"), ("timers", "3/4"), ("large_payload", "1/2"), ("large_payload", "3/4"),
    ]  # fmt: skip
    first = runs[0]
    assert (
        first.max_concurrent, first.duration_secs, first.tasks_per_instance,
        first.activity_delay_ms, first.wait_timeout_secs, first.drain_timeout_secs,
    ) == (7, 2.5, 4, 0, 9, 11)  # fmt: skip
    assert first.ceiling_activities_per_sec is None


def test_toml_orch_and_worker_concurrency_make_one_setting(tmp_path: Path) -> None:
    """Without a concurrency list, orch/worker_concurrency give the single setting."""
    plan = load_plan(_toml(tmp_path, "orch_concurrency = 2\nworker_concurrency = 3\n"))
    assert plan.concurrency == ((2, 3),)
    assert plan.base.max_concurrent == 20
    assert plan.runs()[0].ceiling_activities_per_sec == 300.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("colour = 1\n", "unknown key 'colour'"),
        ("[payload]\nhuge_kb = 1\n", "unknown key payload.'huge_kb'"),
        ("max_concurrent = 0\n", "max_concurrent must be an integer >= 1, got 0"),
        ("duration_secs = -1\n", "duration_secs must be a number > 0, got -1"),
        ("tasks_per_instance = 2.5\n", "tasks_per_instance must be an integer >= 1, got 2.5"),
        ("activity_delay_ms = 'fast'\n", "activity_delay_ms must be a number >= 0"),
        ('scenarios = ["nope"]\n', "unknown scenario 'nope'"),
        ("concurrency = [[1]]\n", "concurrency must be a non-empty list of [orch, worker]"),
        ('preset = "turbo"\n', "unknown preset 'turbo'"),
        ("max_concurrent = \n", "invalid TOML"),
    ],
)
def test_bad_toml_is_a_one_line_error_naming_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Unknown keys, bad values and broken TOML raise ConfigError with file and cause."""
    path = _toml(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_plan(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_unknown_preset_name_is_rejected() -> None:
    """A name that is neither a preset nor a file lists the presets."""
    with pytest.raises(ConfigError, match="use a preset \\(quick, baseline, concurrency, compare"):
        load_plan("fastest")


def test_cli_bad_config_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """stress-run with a broken config file prints one error line and exits 2."""
    path = _toml(tmp_path, "max_concurrent = -3\n")
    assert main(["--config", path]) == 2
    err = capsys.readouterr().err
    assert err == (f"stress-run: error: {path}: max_concurrent must be an integer >= 1, got -3\n")


def test_cli_missing_config_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config path that does not exist is named in a one-line error."""
    missing = tmp_path / "absent.toml"
    assert main(["--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stress-run: error: {missing}: cannot read config file")
    assert err.count("\n") == 1


def test_cli_bad_provider_spec_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unusable --provider spec is reported in one line before anything runs."""
    assert main(["--config", "quick", "--provider", "no_such_module_xyz:Factory"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stress-run: error: cannot import module 'no_such_module_xyz'")
    assert err.count("\n") == 1


class _Unreachable:
    async def create_provider(self) -> object:
        raise OSError("database at db.invalid:5432 is unreachable")


def test_cli_provider_that_cannot_be_created_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A factory whose create_provider raises is reported in one line, exit 2."""
    module = types.ModuleType("stress_unreachable_specs")
    module.Factory = _Unreachable  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stress_unreachable_specs", module)
    assert main(["--config", "quick", "--provider", "stress_unreachable_specs:Factory"]) == 2
    assert capsys.readouterr().err == (
        "stress-run: error: stress_unreachable_specs:Factory: create_provider() raised "
        "OSError: database at db.invalid:5432 is unreachable\n"
    )
