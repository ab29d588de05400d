"""Micro-benchmark runs record their provider; comparing two providers warns; the histogram
option without its packages is a usage error up front."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from provkit.conformance._benchmark_info import BenchmarkProvider, check_histogram_option


class _Config:
    def __init__(self, histogram: Any) -> None:
        self.histogram = histogram
        self.stash: dict[Any, Any] = {}

    def getoption(self, name: str) -> Any:
        assert name == "benchmark_histogram"
        return self.histogram


def _config(histogram: Any) -> Any:
    return _Config(histogram)


class _Logger:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, text: str) -> None:
        self.warnings.append(text)


class _Session:
    def __init__(self) -> None:
        self.logger = _Logger()


def test_saved_runs_name_the_provider_and_cross_provider_comparisons_warn() -> None:
    """machine_info carries the spec; a saved run of another spec is called out by name."""
    hooks = BenchmarkProvider("sqlite-file")
    machine_info: dict[str, Any] = {}
    hooks.pytest_benchmark_update_machine_info(_config(None), machine_info)
    assert machine_info["provkit_provider"] == {"spec": "sqlite-file", "name": ""}
    session = _Session()
    saved = {"machine_info": {"provkit_provider": {"spec": "sqlite-memory", "name": "mem"}}}
    same = {"machine_info": {"provkit_provider": {"spec": "sqlite-file", "name": "file"}}}
    for compared in (same, saved, {"machine_info": {}}):
        hooks.pytest_benchmark_compare_machine_info(_config(None), session, machine_info, compared)
    assert session.logger.warnings == [
        "provkit: comparing benchmarks of --provider=sqlite-file with a saved run of "
        "--provider=sqlite-memory (mem): these figures are of different providers",
        "provkit: comparing benchmarks of --provider=sqlite-file with a saved run of "
        "a run that did not record its provider: these figures are of different providers",
    ]


def test_histogram_without_pygal_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """--benchmark-histogram names the extra to install instead of failing at the end."""
    # find_spec answers from sys.modules first, and None there means "not importable":
    # the check is tested whether or not pygal happens to be installed.
    monkeypatch.setitem(sys.modules, "pygal", None)
    check_histogram_option(_config(None))
    with pytest.raises(pytest.UsageError, match=r"pip install 'provkit\[histogram\]'"):
        check_histogram_option(_config(["hist"]))
