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
from provkit.conformance._capability_gate import is_capability_skip, skip_reason
from provkit.conformance._guard import bounded, open_provider
from provkit.conformance._known_failures import UNEXPECTED_PASS_PREFIX, KnownFailures
from provkit.conformance._layout import in_suite
from provkit.conformance._markers import BENCHMARK, CATEGORIES, category_of
from provkit.conformance._settings import BASE_OP_TIMEOUT, SETTINGS_KEY, SuiteSettings
from provkit.conformance._summary import (
    FAILED,
    KNOWN,
    NO_CAPABILITY,
    PASSED,
    SKIPPED,
    UNEXPECTED_PASS,
    Failure,
    Outcomes,
    RunInfo,
    render,
)
from provkit.contract import (
    CONTRACT_VERSION,
    Capability,
    ProviderFactory,
    missing_capability_methods,
    missing_members,
)
from provkit.contract._provider import disposal

DESCRIPTION_SECTION = "provkit: what this test checks"

_SELECTS_BENCHMARKS = re.compile(rf"\b{BENCHMARK}\b")


class ConformanceRun:
    """Per-run plugin object: factory and capability check up front, capability gating,
    known failures, benchmark opt-in, summary at the end."""

    def __init__(
        self, spec: str, timescale: float, known_failures: KnownFailures | None = None
    ) -> None:
        self._spec = spec
        self._timescale = timescale
        self._known_failures = known_failures
        self._provider_name = ""
        self._missing: list[str] = []
        self._capabilities: frozenset[Capability] | None = None
        self._outcomes = Outcomes()
        self._categories: dict[str, str] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Load the factory and make (and dispose of) one provider, or end the run in one line.

        That line also ends a run whose provider declares a capability without having all
        of its methods.
        """
        config = session.config
        op_timeout = BASE_OP_TIMEOUT * self._timescale
        try:
            factory = load_factory(self._spec, config.invocation_params.dir)
            if not config.option.collectonly:
                probe = asyncio.run(_probe(factory, self._spec, op_timeout))
                self._provider_name, self._missing, self._capabilities = probe
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
        """Gate tests on capabilities, expect known failures, and leave out the provider
        benchmarks unless the ``-m`` expression names them."""
        if self._capabilities is not None:
            for item in items:
                reason = skip_reason(item, self._capabilities)
                if reason is not None:
                    item.add_marker(pytest.mark.skip(reason=reason))
        if self._known_failures is not None:
            self._known_failures.mark(items)
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
            longrepr = report.longrepr
            if isinstance(longrepr, str) and longrepr.startswith(UNEXPECTED_PASS_PREFIX):
                self._outcomes.record(report.nodeid, category, UNEXPECTED_PASS)
                self._outcomes.unexpected.append(report.nodeid)
            else:
                self._outcomes.record(report.nodeid, category, FAILED)
            description = dict(report.sections).get(DESCRIPTION_SECTION, "")
            self._outcomes.failures.setdefault(
                report.nodeid, Failure(category, report.nodeid, description)
            )
        elif report.skipped:
            if hasattr(report, "wasxfail"):
                outcome = KNOWN
            elif is_capability_skip(str(report.longrepr)):
                outcome = NO_CAPABILITY
            else:
                outcome = SKIPPED
            self._outcomes.record(report.nodeid, category, outcome)
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
            known_failures_file=None
            if self._known_failures is None
            else str(self._known_failures.path),
            unmatched_known_failures=()
            if self._known_failures is None
            else tuple(self._known_failures.unmatched),
        )
        lines, verdict, passed = render(info, self._outcomes)
        terminalreporter.write_sep("=", "provkit conformance summary")
        for line in lines:
            terminalreporter.write_line(line)
        terminalreporter.write_line(verdict, green=passed, red=not passed, bold=True)


async def _probe(
    factory: ProviderFactory, spec: str, limit: float
) -> tuple[str, list[str], frozenset[Capability]]:
    """Create and dispose of one provider: its name, the contract members it lacks and the
    capabilities it declares; ``ProviderSpecError`` if a declared one lacks methods."""
    step = "create_provider()"
    try:
        provider = await open_provider(factory, limit)
        name = str(getattr(provider, "name", type(provider).__name__))
        missing = missing_members(provider)
        declared = frozenset(
            c for c in getattr(provider, "capabilities", ()) if isinstance(c, Capability)
        )
        gaps = missing_capability_methods(provider)
        step, disposing = disposal(factory, provider)
        await bounded(step, disposing, limit)
    except pytest.fail.Exception:
        raise ProviderSpecError(
            f"{step} of --provider={spec} did not return within {limit:g} s "
            "(raise --provkit-timescale for slow databases)"
        ) from None
    except Exception as exc:
        raise ProviderSpecError(f"{step} of --provider={spec} raised {describe(exc)}") from None
    if gaps:
        raise ProviderSpecError(
            f"--provider={spec} ({name}) declares "
            + "; ".join(
                f"Capability.{capability.name} but has no {', '.join(m + '()' for m in methods)}"
                for capability, methods in gaps.items()
            )
            + " (implement them or stop declaring the capability)"
        )
    return name, missing, declared


def _category(item: pytest.Item) -> str:
    return category_of(marker.name for marker in item.iter_markers())


def _description(item: pytest.Item) -> str:
    """The first paragraph of the test function's docstring, on one line."""
    doc = inspect.getdoc(getattr(item, "obj", None)) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())
