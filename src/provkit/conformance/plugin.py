"""The pytest11 plugin: ``--provider=SPEC`` runs the conformance suite against a provider.

The provider may also come from ``$PROVKIT_PROVIDER`` or the ``provkit_provider`` ini
option; ``--provider`` given several times runs the suite against each. Without a provider
the plugin only registers options and markers and keeps pytest out of the suite directory:
no fixtures, no summary, so installing provkit never disturbs other tests.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import pytest

from provkit._provider_spec import SHORTCUTS
from provkit.conformance import _fixtures
from provkit.conformance._benchmark_info import BenchmarkProvider, check_histogram_option
from provkit.conformance._known_failures import KnownFailures, KnownFailuresError
from provkit.conformance._layout import SUITE_DIR, SUITE_PACKAGE, in_suite
from provkit.conformance._markers import MARKERS
from provkit.conformance._publish import STEP_SUMMARY_ENV
from provkit.conformance._session import ConformanceRun
from provkit.conformance._settings import (
    CONCURRENCY_KEY,
    MODEL_KEY,
    ConcurrencyBudget,
    ModelBudget,
)

ENV_VAR = "PROVKIT_PROVIDER"
INI_NAME = "provkit_provider"
SPECS_KEY = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("provkit", "provkit provider conformance")
    group.addoption(
        "--provider",
        action="append",
        default=None,
        metavar="SPEC",
        help="run the conformance suite against module:Factory "
        f"(or a shortcut: {', '.join(SHORTCUTS)}); given several times, against each "
        f"(default: ${ENV_VAR}, else the {INI_NAME} ini option)",
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
        help="seconds the concurrency category hammers the provider, at most: it stops "
        "earlier after 20,000 calls (3,000 without an injected clock) (default: %(default)s)",
    )


    group.addoption(
        "--provkit-report",
        default=None,
        metavar="PATH",
        help="write the run's verdict as JSON to PATH (provider, capabilities, versions, "
        "counts per category, each failure); under GitHub Actions a markdown job summary "
        f"is also appended to ${STEP_SUMMARY_ENV}",
    )
    parser.addini(
        INI_NAME,
        type="args",
        default=[],
        help="provider spec(s) to run the conformance suite against when --provider and "
        f"${ENV_VAR} are not given",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    check_histogram_option(config)
    specs = provider_specs(config)
    config.stash[SPECS_KEY] = specs
    if not specs:
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
    config.pluginmanager.register(
        ConformanceRun(specs, timescale, known_failures, _report_path(config)), "provkit-run"
    )
    if config.pluginmanager.has_plugin("benchmark"):
        config.pluginmanager.register(BenchmarkProvider(", ".join(specs)), "provkit-benchmark-info")


def _report_path(config: pytest.Config) -> Path | None:
    """``--provkit-report``'s path, checked before any test runs."""
    given: str | None = config.getoption("provkit_report")
    if given is None:
        return None
    path = config.invocation_params.dir / given
    if path.is_dir():
        raise pytest.UsageError(f"provkit: --provkit-report={given} is a directory, not a file")
    if not path.parent.is_dir():
        raise pytest.UsageError(
            f"provkit: --provkit-report={given}: directory {str(path.parent)!r} does not exist"
        )
    return path


def provider_specs(config: pytest.Config) -> list[str]:
    """The specs to run the suite against: every ``--provider``, else ``$PROVKIT_PROVIDER``,
    else the ``provkit_provider`` ini option (both may list several, separated by spaces).

    A spec given twice is a usage error: its tests would carry the same ids.
    """
    given: list[str] | None = config.getoption("provider")
    specs = given or os.environ.get(ENV_VAR, "").split() or list(config.getini(INI_NAME))
    for spec in specs:
        if specs.count(spec) > 1:
            raise pytest.UsageError(f"provkit: --provider={spec} is given twice")
    return specs


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
    """Without a provider, never wander into the suite (e.g. ``pytest src/``)."""
    if not config.stash.get(SPECS_KEY, []) and in_suite(collection_path):
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
