"""The hooks of a run with ``--provider``: load and check the factory, select, summarise.

The plugin registers one ``ConformanceRun`` only when ``--provider`` is given; without it
none of these hooks exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import inspect
import re
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pytest

from provkit._provider_spec import ProviderSpecError, describe, load_factory
from provkit.conformance import SUITE_VERSION
from provkit.conformance._call_log import CALL_LOG_KEY
from provkit.conformance._capability_gate import is_capability_skip, skip_reason
from provkit.conformance._foundation import foundation_of, marker_problem, put_in_run_order
from provkit.conformance._guard import bounded, is_call_timeout
from provkit.conformance._known_failures import UNEXPECTED_PASS_PREFIX, KnownFailures
from provkit.conformance._layout import in_suite
from provkit.conformance._markers import BENCHMARK, CATEGORIES, category_of
from provkit.conformance._settings import BASE_OP_TIMEOUT, SETTINGS_KEY, SuiteSettings
from provkit.conformance._shape import shape_problem
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
)
from provkit.contract._provider import disposal

DESCRIPTION_SECTION = "provkit: what this test checks"
CALLS_SECTION = "provkit: provider calls of this test"

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
        self._capabilities: frozenset[Capability] | None = None
        self._outcomes = Outcomes()
        self._categories: dict[str, str] = {}
        self._foundations: dict[str, str] = {}
        """nodeid -> operation, for the foundation tests of the run."""
        self._hung: dict[str, tuple[str, str]] = {}
        """category -> (test, message) of the first call in it that outlived its deadline."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Load the factory and make (and dispose of) one provider, or end the run in one line.

        That line also ends a run whose provider lacks contract members, declares a
        capability without having all of its methods, or is no provider at all.
        """
        config = session.config
        op_timeout = BASE_OP_TIMEOUT * self._timescale
        try:
            factory = load_factory(self._spec, config.invocation_params.dir)
            if not config.option.collectonly:
                probe = asyncio.run(_probe(factory, self._spec, op_timeout))
                self._provider_name, self._capabilities = probe
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
        """Put the tests in run order (foundation tests first), gate them on capabilities,
        expect known failures, and leave out the provider benchmarks unless the ``-m``
        expression names them."""
        put_in_run_order(items, _category)
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
            operation = foundation_of(item)
            if operation is not None:
                self._foundations[item.nodeid] = operation
            self._outcomes.selected[category] = self._outcomes.selected.get(category, 0) + 1

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Attach the provider calls and the test's docstring (the contract sentence it
        checks) to a failure; note a hung call so the rest of its category is skipped."""
        report = yield
        if not report.failed:
            return report
        log = item.stash.get(CALL_LOG_KEY, None)
        if log is not None and log.calls:
            report.sections.append((CALLS_SECTION, log.render()))
        description = _description(item)
        if description:
            report.sections.append((DESCRIPTION_SECTION, description))
        if call.excinfo is not None and is_call_timeout(call.excinfo.value):
            category = self._categories.get(item.nodeid) or _category(item)
            self._hung.setdefault(category, (item.name, str(call.excinfo.value)))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Skip the rest of a category once one of its calls hung: each would wait it out.

        A test whose ``foundation`` marker names no operation fails here, saying so.
        """
        problem = marker_problem(item)
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        category = self._categories.get(item.nodeid) or _category(item)
        hung = self._hung.get(category)
        if hung is not None:
            test, message = hung
            pytest.skip(f"an earlier {category} test hung ({test}): {message}")

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
                report.nodeid,
                Failure(
                    category,
                    report.nodeid,
                    description,
                    message=first_line(report),
                    foundation=self._foundations.get(report.nodeid),
                ),
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
) -> tuple[str, frozenset[Capability]]:
    """Create, shape-check and dispose of one provider: its name and declared capabilities.

    ``ProviderSpecError`` (one line) if the factory fails, hangs or makes something that is
    not a complete provider: missing contract members, or declared capabilities' methods.
    """
    step = "create_provider()"
    try:
        call = factory.create_provider()
        if not inspect.isawaitable(call):
            raise ProviderSpecError(
                f"create_provider() of --provider={spec} returned {type(call).__name__} "
                "instead of an awaitable: define it with async def"
            )
        made = await bounded("factory call create_provider()", call, limit)
        problem = shape_problem(spec, made)
        if problem is not None:
            await _dispose_quietly(factory, made, limit)
            raise ProviderSpecError(problem)
        name = str(getattr(made, "name", type(made).__name__))
        declared = frozenset(
            c for c in getattr(made, "capabilities", ()) if isinstance(c, Capability)
        )
        step, disposing = disposal(factory, made)
        await bounded(step, disposing, limit)
    except ProviderSpecError:
        raise
    except pytest.fail.Exception:
        raise ProviderSpecError(
            f"{step} of --provider={spec} did not return within {limit:g} s "
            "(raise --provkit-timescale for slow databases)"
        ) from None
    except Exception as exc:
        raise ProviderSpecError(f"{step} of --provider={spec} raised {describe(exc)}") from None
    return name, declared


async def _dispose_quietly(factory: ProviderFactory, made: Any, limit: float) -> None:
    """Dispose of a malformed provider if that is possible at all; its shape is the news.

    The factory's own ``dispose_provider`` is called when it has one; otherwise ``close()``
    only if the object has a callable one. Whatever that raises or however long it hangs
    is left unreported.
    """
    if getattr(factory, "dispose_provider", None) is None and not callable(
        getattr(made, "close", None)
    ):
        return
    with contextlib.suppress(Exception, pytest.fail.Exception):
        label, disposing = disposal(factory, made)
        await bounded(label, disposing, limit)


FIRST_LINE_CHARS = 200
"""A failure's first line is cut to this length in summaries and verdict files."""


def first_line(report: pytest.TestReport) -> str:
    """The first line of a failure: an assertion's message, or the error and its text."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    for line in text.splitlines():
        if line.strip():
            line = line.strip().removeprefix("AssertionError: ")
            if len(line) > FIRST_LINE_CHARS:
                line = line[: FIRST_LINE_CHARS - 1] + "…"
            return line
    return ""


def _category(item: pytest.Item) -> str:
    return category_of(marker.name for marker in item.iter_markers())


def _description(item: pytest.Item) -> str:
    """The first paragraph of the test function's docstring, on one line."""
    doc = inspect.getdoc(getattr(item, "obj", None)) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())
