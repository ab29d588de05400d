"""The hooks of a run with ``--provider``: check the providers, select, order, summarise.

The plugin registers one ``ConformanceRun`` only when a provider is given; without it none of
these hooks exists. With several providers every test runs once against each.
"""

from __future__ import annotations

import asyncio
import fnmatch
import inspect
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from provkit._provider_spec import ProviderSpecError, load_factory
from provkit.conformance import SUITE_VERSION
from provkit.conformance._call_log import CALL_LOG_KEY
from provkit.conformance._capability_gate import is_capability_skip, skip_reason
from provkit.conformance._foundation import foundation_of, marker_problem, put_in_run_order
from provkit.conformance._guard import is_call_timeout
from provkit.conformance._known_failures import UNEXPECTED_PASS_PREFIX, KnownFailures
from provkit.conformance._layout import in_suite
from provkit.conformance._markers import BENCHMARK, CATEGORIES, category_of
from provkit.conformance._probe import probe
from provkit.conformance._publish import provider_verdict, publish, run_verdict
from provkit.conformance._settings import (
    BASE_OP_TIMEOUT,
    SETTINGS_KEY,
    TARGET_PARAM,
    TARGETS_KEY,
    SuiteSettings,
)
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
    render_matrix,
)
from provkit.contract import CONTRACT_VERSION, Capability

DESCRIPTION_SECTION = "provkit: what this test checks"
CALLS_SECTION = "provkit: provider calls of this test"

_SELECTS_BENCHMARKS = re.compile(rf"\b{BENCHMARK}\b")


@dataclass(slots=True)
class _Target:
    """One provider of the run: its settings once checked, and its tests' outcomes."""

    spec: str
    settings: SuiteSettings | None = None
    checked: bool = False
    """Whether the up-front check ran (it does not with ``--collect-only``)."""
    outcomes: Outcomes = field(default_factory=Outcomes)


class ConformanceRun:
    """Per-run plugin object: factory and shape checks up front, one parametrisation per
    provider when there are several, run order, capability gating, known failures,
    benchmark opt-in, failure details, and the summary at the end."""

    def __init__(
        self,
        specs: Sequence[str],
        timescale: float,
        known_failures: KnownFailures | None = None,
        report: Path | None = None,
    ) -> None:
        self._targets = {spec: _Target(spec) for spec in specs}
        self._report = report
        self._timescale = timescale
        self._known_failures = known_failures
        self._categories: dict[str, str] = {}
        self._providers: dict[str, str] = {}
        """nodeid -> spec of the provider the test runs against."""
        self._foundations: dict[str, str] = {}
        """nodeid -> operation, for the foundation tests of the run."""
        self._hung: dict[tuple[str, str], tuple[str, str]] = {}
        """(spec, category) -> (test, message) of the first call there outliving its deadline."""

    @property
    def _several(self) -> bool:
        return len(self._targets) > 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Load each factory and make (and dispose of) one provider, or end the run in one line.

        That line also ends a run whose provider lacks contract members, declares a
        capability without having all of its methods, or is no provider at all.
        """
        config = session.config
        op_timeout = BASE_OP_TIMEOUT * self._timescale
        for target in self._targets.values():
            try:
                factory = load_factory(target.spec, config.invocation_params.dir)
                found = None
                if not config.option.collectonly:
                    found = asyncio.run(probe(factory, target.spec, op_timeout))
            except ProviderSpecError as exc:
                raise pytest.UsageError(f"provkit: {exc}") from None
            target.checked = found is not None
            target.settings = SuiteSettings(
                factory=factory,
                provider_spec=target.spec,
                timescale=self._timescale,
                op_timeout=op_timeout,
                provider_name="" if found is None else found.name,
                capabilities=frozenset() if found is None else found.capabilities,
            )
        settings = {spec: t.settings for spec, t in self._targets.items() if t.settings}
        config.stash[TARGETS_KEY] = settings
        config.stash[SETTINGS_KEY] = next(iter(settings.values()))

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        """One line per provider: spec, name, capabilities; and the suite's versions."""
        lines = []
        for target in self._targets.values():
            settings = target.settings
            if settings is None or not target.checked:
                continue
            named = f" ({settings.provider_name})" if settings.provider_name != target.spec else ""
            declared = ", ".join(sorted(c.name for c in settings.capabilities)) or "none"
            lines.append(f"provkit provider: {target.spec}{named}; capabilities: {declared}")
        lines.append(
            f"provkit conformance suite {SUITE_VERSION}, contract v{CONTRACT_VERSION}"
        )
        return lines

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """With several providers, run every test once per provider; its id names it."""
        if self._several and TARGET_PARAM in metafunc.fixturenames:
            specs = list(self._targets)
            metafunc.parametrize(TARGET_PARAM, specs, ids=specs, indirect=True)

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
        for item in items:
            target = self._targets[self._spec_of(item)]
            if target.settings is None or not target.checked:
                continue
            reason = skip_reason(item, target.settings.capabilities)
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
        for item in items:
            if not item.get_closest_marker(BENCHMARK) and _category(item) in CATEGORIES:
                self._targets[self._spec_of(item)].outcomes.deselected_core += 1

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            category = _category(item)
            spec = self._spec_of(item)
            self._categories[item.nodeid] = category
            self._providers[item.nodeid] = spec
            operation = foundation_of(item)
            if operation is not None:
                self._foundations[item.nodeid] = operation
            selected = self._targets[spec].outcomes.selected
            selected[category] = selected.get(category, 0) + 1
            item.user_properties += [("provider", spec), ("category", category)]

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
            key = (self._spec_of(item), self._categories.get(item.nodeid) or _category(item))
            self._hung.setdefault(key, (item.name, str(call.excinfo.value)))
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
        hung = self._hung.get((self._spec_of(item), category))
        if hung is not None:
            test, message = hung
            pytest.skip(f"an earlier {category} test hung ({test}): {message}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Keywords also hold parametrize ids; they are the fallback for reports of items
        # this process did not collect (pytest-xdist workers).
        category = self._categories.get(report.nodeid) or category_of(report.keywords)
        spec = self._providers.get(report.nodeid) or next(
            (s for s in self._targets if s in report.keywords), next(iter(self._targets))
        )
        outcomes = self._targets[spec].outcomes
        if report.failed:
            longrepr = report.longrepr
            if isinstance(longrepr, str) and longrepr.startswith(UNEXPECTED_PASS_PREFIX):
                outcomes.record(report.nodeid, category, UNEXPECTED_PASS)
                outcomes.unexpected.append(report.nodeid)
            else:
                outcomes.record(report.nodeid, category, FAILED)
            description = dict(report.sections).get(DESCRIPTION_SECTION, "")
            outcomes.failures.setdefault(
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
            outcomes.record(report.nodeid, category, outcome)
        elif report.when == "call":
            outcomes.record(report.nodeid, category, PASSED)

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
    ) -> None:
        if config.option.collectonly:
            return
        runs = [(self._info(t, exitstatus), t.outcomes) for t in self._targets.values()]
        if self._several:
            lines, verdict, passed = render_matrix(runs)
        else:
            lines, verdict, passed = render(*runs[0])
        published = run_verdict(
            [
                provider_verdict(info, outcomes, self._capabilities(info.provider_spec))
                for info, outcomes in runs
            ],
            SUITE_VERSION,
            CONTRACT_VERSION,
        )
        notes = publish(published, self._report)
        terminalreporter.write_sep("=", "provkit conformance summary")
        for line in [*lines, *notes]:
            terminalreporter.write_line(line)
        terminalreporter.write_line(verdict, green=passed, red=not passed, bold=True)

    def _capabilities(self, spec: str) -> frozenset[Capability]:
        settings = self._targets[spec].settings
        return frozenset() if settings is None else settings.capabilities

    def _info(self, target: _Target, exitstatus: int | pytest.ExitCode) -> RunInfo:
        known = self._known_failures
        return RunInfo(
            provider_spec=target.spec,
            provider_name="" if target.settings is None else target.settings.provider_name,
            suite_version=SUITE_VERSION,
            contract_version=CONTRACT_VERSION,
            interrupted=exitstatus == pytest.ExitCode.INTERRUPTED,
            known_failures_file=None if known is None else str(known.path),
            unmatched_known_failures=() if known is None else tuple(known.unmatched),
        )

    def _spec_of(self, item: pytest.Item) -> str:
        """The spec of the provider ``item`` runs against."""
        callspec = getattr(item, "callspec", None)
        if callspec is not None and TARGET_PARAM in callspec.params:
            spec: str = callspec.params[TARGET_PARAM]
            return spec
        return next(iter(self._targets))


_QUALIFIED_ERROR = re.compile(r"^(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*: )")
"""``provkit.contract._errors.LockLostError: ...`` -> ``LockLostError: ...``."""

FIRST_LINE_CHARS = 200
"""A failure's first line is cut to this length in summaries and verdict files."""


def first_line(report: pytest.TestReport) -> str:
    """The first line of a failure: an assertion's message, or the error and its text."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    for line in text.splitlines():
        if line.strip():
            line = _QUALIFIED_ERROR.sub(r"\1", line.strip()).removeprefix("AssertionError: ")
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
