"""The pytest11 plugin: ``--provider=SPEC`` runs the conformance suite against a provider.

Without ``--provider`` it only registers options and markers and keeps pytest out of the suite
directory: no fixtures, no summary, so installing provkit never disturbs other tests.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

from provkit._provider_spec import SHORTCUTS
from provkit.conformance import _fixtures
from provkit.conformance._benchmark_info import BenchmarkProvider, check_histogram_option
from provkit.conformance._known_failures import KnownFailures, KnownFailuresError
from provkit.conformance._layout import SUITE_DIR, SUITE_PACKAGE, in_suite
from provkit.conformance._markers import MARKERS
from provkit.conformance._session import ConformanceRun
from provkit.conformance._settings import (
    CONCURRENCY_KEY,
    MODEL_KEY,
    ConcurrencyBudget,
    ModelBudget,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("provkit", "provkit provider conformance")
    group.addoption(
        "--provider",
        default=None,
        metavar="SPEC",
        help="run the conformance suite against module:Factory "
        f"(or a shortcut: {', '.join(SHORTCUTS)})",
    )
    group.addoption(
        "--provkit-timescale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply every lock timeout, wait and per-call timeout by F (slow databases)",
    )
    group.addoption(
        "--provkit-known-failures",
        default=None,
        metavar="FILE",
        help="suite tests this provider is known to fail, one id per line "
        "(test_module.py::test_name[params]): reported as known failures; one that passes "
        "fails the run",
    )
    model, concurrency = ModelBudget(), ConcurrencyBudget()
    group.addoption(
        "--provkit-model-examples",
        type=int,
        default=model.examples,
        metavar="N",
        help="call sequences the model category tries (default: %(default)s)",
    )
    group.addoption(
        "--provkit-model-steps",
        type=int,
        default=model.steps,
        metavar="N",
        help="steps per call sequence of the model category, at most (default: %(default)s)",
    )
    group.addoption(
        "--provkit-model-seed",
        type=int,
        default=model.seed,
        metavar="N",
        help="seed of the model category's search; other seeds try other sequences "
        "(default: %(default)s)",
    )
    group.addoption(
        "--provkit-concurrency-tasks",
        type=int,
        default=concurrency.tasks,
        metavar="N",
        help="concurrent tasks of the concurrency category (default: %(default)s)",
    )
    group.addoption(
        "--provkit-concurrency-seconds",
        type=float,
        default=concurrency.seconds,
        metavar="S",
        help="seconds the concurrency category hammers the provider (default: %(default)s)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    check_histogram_option(config)
    spec: str | None = config.getoption("provider")
    if spec is None:
        _refuse_suite_without_provider(config)
        return
    timescale: float = config.getoption("provkit_timescale")
    if not (math.isfinite(timescale) and timescale > 0):
        raise pytest.UsageError(
            f"provkit: --provkit-timescale must be a positive number, got {timescale:g}"
        )
    known_failures = None
    known_failures_file: str | None = config.getoption("provkit_known_failures")
    if known_failures_file is not None:
        path = config.invocation_params.dir / known_failures_file
        try:
            known_failures = KnownFailures.read(path)
        except KnownFailuresError as exc:
            raise pytest.UsageError(f"provkit: {exc}") from None
    config.stash[MODEL_KEY], config.stash[CONCURRENCY_KEY] = _budgets(config)
    if not config.pluginmanager.has_plugin("asyncio"):
        raise pytest.UsageError("provkit: the conformance suite needs pytest-asyncio enabled")
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        # No paths given: run the suite, from any directory, whatever ``testpaths`` says.
        config.args = [SUITE_PACKAGE if config.option.pyargs else str(SUITE_DIR)]
    if not config.getini("asyncio_default_fixture_loop_scope"):
        # The suite's only async fixture pins its loop scope, so pytest-asyncio's advice to
        # set a default would only puzzle a provider author running from a bare directory.
        warnings.filterwarnings(
            "ignore",
            message='The configuration option "asyncio_default_fixture_loop_scope" is unset',
            category=pytest.PytestDeprecationWarning,
        )
    config.pluginmanager.register(_fixtures, "provkit-fixtures")
    config.pluginmanager.register(ConformanceRun(spec, timescale, known_failures), "provkit-run")
    if config.pluginmanager.has_plugin("benchmark"):
        config.pluginmanager.register(BenchmarkProvider(spec), "provkit-benchmark-info")


def _budgets(config: pytest.Config) -> tuple[ModelBudget, ConcurrencyBudget]:
    """The search categories' budgets, or a usage error naming the bad option."""
    counts = {
        name: config.getoption(name.lstrip("-").replace("-", "_"))
        for name in (
            "--provkit-model-examples",
            "--provkit-model-steps",
            "--provkit-concurrency-tasks",
        )
    }
    for name, value in counts.items():
        if value < 1:
            raise pytest.UsageError(f"provkit: {name} must be at least 1, got {value}")
    seconds: float = config.getoption("provkit_concurrency_seconds")
    if not (math.isfinite(seconds) and seconds > 0):
        raise pytest.UsageError(
            f"provkit: --provkit-concurrency-seconds must be a positive number, got {seconds:g}"
        )
    model = ModelBudget(
        examples=counts["--provkit-model-examples"],
        steps=counts["--provkit-model-steps"],
        seed=config.getoption("provkit_model_seed"),
    )
    return model, ConcurrencyBudget(counts["--provkit-concurrency-tasks"], seconds)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without ``--provider``, never wander into the suite (e.g. ``pytest src/``)."""
    if config.getoption("provider") is None and in_suite(collection_path):
        return True
    return None


def _refuse_suite_without_provider(config: pytest.Config) -> None:
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return
    for arg in config.args:
        path = Path(arg.split("::", 1)[0])
        if in_suite(config.invocation_params.dir / path):
            raise pytest.UsageError(
                "provkit: the conformance suite needs --provider=SPEC "
                "(e.g. --provider=sqlite-memory)"
            )
