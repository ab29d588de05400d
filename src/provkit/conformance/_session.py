"""The hooks of a run with ``--provider``: load and check the factory, select, summarise.

The plugin registers one ``ConformanceRun`` only when ``--provider`` is given; without it
none of these hooks exists.
"""

from __future__ import annotations

import asyncio
import fnmatch
import inspect
import re
from collections.abc import Generator, Sequence
from pathlib import Path

import pytest

from provkit._provider_spec import ProviderSpecError, describe, load_factory
from provkit.conformance import SUITE_VERSION
from provkit.conformance._guard import bounded, open_provider
from provkit.conformance._layout import in_suite
from provkit.conformance._markers import BENCHMARK, CATEGORIES, category_of
from provkit.conformance._settings import BASE_OP_TIMEOUT, SETTINGS_KEY, SuiteSettings
from provkit.conformance._summary import FAILED, PASSED, SKIPPED, Failure, Outcomes, RunInfo, render
from provkit.contract import CONTRACT_VERSION, ProviderFactory, missing_members
from provkit.contract._provider import disposal

DESCRIPTION_SECTION = "provkit: what this test checks"

_SELECTS_BENCHMARKS = re.compile(rf"\b{BENCHMARK}\b")


class ConformanceRun:
    """Per-run plugin object: factory check up front, benchmark opt-in, summary at the end."""

    def __init__(self, spec: str, timescale: float) -> None:
        self._spec = spec
        self._timescale = timescale
        self._provider_name = ""
        self._missing: list[str] = []
        self._outcomes = Outcomes()
        self._categories: dict[str, str] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Load the factory and make (and dispose of) one provider, or end the run in one line."""
        config = session.config
        op_timeout = BASE_OP_TIMEOUT * self._timescale
        try:
            factory = load_factory(self._spec, config.invocation_params.dir)
            if not config.option.collectonly:
                self._provider_name, self._missing = asyncio.run(
                    _probe(factory, self._spec, op_timeout)
                )
        except ProviderSpecError as exc:
            raise pytest.UsageError(f"provkit: {exc}") from None
        config.stash[SETTINGS_KEY] = SuiteSettings(
            factory=factory,
            provider_spec=self._spec,
            timescale=self._timescale,
            op_timeout=op_timeout,
            provider_name=self._provider_name,
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_collect_file(
        self, file_path: Path, parent: pytest.Collector
    ) -> Generator[None, list[pytest.Collector], list[pytest.Collector]]:
        """Collect the suite's modules even where a project's ``python_files`` would not."""
        collectors = yield
        if not collectors and fnmatch.fnmatch(file_path.name, "test_*.py") and in_suite(file_path):
            return [pytest.Module.from_parent(parent, path=file_path)]
        return collectors

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Leave out the provider benchmarks unless the ``-m`` expression names them."""
        if _SELECTS_BENCHMARKS.search(config.option.markexpr or ""):
            return
        benchmarks = [item for item in items if item.get_closest_marker(BENCHMARK)]
        if benchmarks:
            config.hook.pytest_deselected(items=benchmarks)
            items[:] = [item for item in items if not item.get_closest_marker(BENCHMARK)]

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self._outcomes.deselected_core += sum(
            1
            for item in items
            if not item.get_closest_marker(BENCHMARK) and _category(item) in CATEGORIES
        )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            category = _category(item)
            self._categories[item.nodeid] = category
            self._outcomes.selected[category] = self._outcomes.selected.get(category, 0) + 1

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Attach the test's docstring to its failure: the contract sentence it checks."""
        report = yield
        description = _description(item)
        if report.failed and description:
            report.sections.append((DESCRIPTION_SECTION, description))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Keywords also hold parametrize ids; they are the fallback for reports of items
        # this process did not collect (pytest-xdist workers).
        category = self._categories.get(report.nodeid) or category_of(report.keywords)
        if report.failed:
            self._outcomes.record(report.nodeid, category, FAILED)
            description = dict(report.sections).get(DESCRIPTION_SECTION, "")
            self._outcomes.failures.setdefault(
                report.nodeid, Failure(category, report.nodeid, description)
            )
        elif report.skipped:
            self._outcomes.record(report.nodeid, category, SKIPPED)
        elif report.when == "call":
            self._outcomes.record(report.nodeid, category, PASSED)

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
    ) -> None:
        if config.option.collectonly:
            return
        info = RunInfo(
            provider_spec=self._spec,
            provider_name=self._provider_name,
            suite_version=SUITE_VERSION,
            contract_version=CONTRACT_VERSION,
            interrupted=exitstatus == pytest.ExitCode.INTERRUPTED,
            missing_members=tuple(self._missing),
        )
        lines, verdict, passed = render(info, self._outcomes)
        terminalreporter.write_sep("=", "provkit conformance summary")
        for line in lines:
            terminalreporter.write_line(line)
        terminalreporter.write_line(verdict, green=passed, red=not passed, bold=True)


async def _probe(factory: ProviderFactory, spec: str, limit: float) -> tuple[str, list[str]]:
    """Create and dispose of one provider: its name and the contract members it lacks."""
    step = "create_provider()"
    try:
        provider = await open_provider(factory, limit)
        name = str(getattr(provider, "name", type(provider).__name__))
        missing = missing_members(provider)
        step, disposing = disposal(factory, provider)
        await bounded(step, disposing, limit)
    except pytest.fail.Exception:
        raise ProviderSpecError(
            f"{step} of --provider={spec} did not return within {limit:g} s "
            "(raise --provkit-timescale for slow databases)"
        ) from None
    except Exception as exc:
        raise ProviderSpecError(f"{step} of --provider={spec} raised {describe(exc)}") from None
    return name, missing


def _category(item: pytest.Item) -> str:
    return category_of(marker.name for marker in item.iter_markers())


def _description(item: pytest.Item) -> str:
    """The first paragraph of the test function's docstring, on one line."""
    doc = inspect.getdoc(getattr(item, "obj", None)) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())
