"""Micro-benchmark runs name their provider, so a comparison never mixes providers silently.

Registered only when pytest-benchmark is active. Saved runs carry the provider in
``machine_info``; ``--benchmark-compare`` against a run of another provider warns, naming
both. ``--benchmark-histogram`` without its plotting packages is a one-line usage error, not
an ``ImportError`` at the end of the run.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from provkit.conformance._settings import SETTINGS_KEY

HISTOGRAM_EXTRA = "pip install 'provkit[histogram]'"


def check_histogram_option(config: pytest.Config) -> None:
    """Refuse ``--benchmark-histogram`` up front when pygal is not installed."""
    try:
        wanted = config.getoption("benchmark_histogram")
    except ValueError:  # pytest-benchmark is not active
        return
    if wanted and importlib.util.find_spec("pygal") is None:
        raise pytest.UsageError(
            f"provkit: --benchmark-histogram needs pygal and pygaljs: {HISTOGRAM_EXTRA}"
        )


def _describe(provider: Any) -> str:
    if not isinstance(provider, dict) or not provider.get("spec"):
        return "a run that did not record its provider"
    name = provider.get("name")
    return f"--provider={provider['spec']}" + (f" ({name})" if name else "")


class BenchmarkProvider:
    """pytest-benchmark hooks: record the provider, warn when a comparison crosses providers.

    Providers are compared by the spec given to ``--provider``.
    """

    def __init__(self, spec: str) -> None:
        self._spec = spec

    def pytest_benchmark_update_machine_info(
        self, config: pytest.Config, machine_info: dict[str, Any]
    ) -> None:
        settings = config.stash.get(SETTINGS_KEY, None)
        name = settings.provider_name if settings is not None else ""
        machine_info["provkit_provider"] = {"spec": self._spec, "name": name}

    def pytest_benchmark_compare_machine_info(
        self,
        config: pytest.Config,
        benchmarksession: Any,
        machine_info: dict[str, Any],
        compared_benchmark: dict[str, Any],
    ) -> None:
        ours = machine_info.get("provkit_provider") or {}
        theirs = compared_benchmark.get("machine_info", {}).get("provkit_provider") or {}
        if ours.get("spec") != theirs.get("spec"):
            benchmarksession.logger.warning(
                f"provkit: comparing benchmarks of {_describe(ours)} with a saved run of "
                f"{_describe(theirs)}: these figures are of different providers"
            )
