"""The conformance plugin, driven through pytester: options, bad specs, fixtures, summary.

Most runs use the stand-in suite ``tests/examples/fake_suite.py`` (known outcomes) with the
factories of ``tests/examples/fake_providers.py``; a few run a slice of the real suite.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from provkit.conformance import SUITE_VERSION
from provkit.conformance._markers import CATEGORIES, EXTENDED
from provkit.conformance._summary import PASSED, Outcomes, RunInfo, render

FAKE = "--provider=fake_providers:FakeFactory"
FAST = "--provkit-timescale=0.05"
"""Per-call timeout 0.5 s, for the hang tests."""


@pytest.fixture
def fakes(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory holding the fake providers and the stand-in suite."""
    pytester.copy_example("fake_providers.py")
    pytester.copy_example("fake_suite.py")
    pytester.copy_example("outside_factories.py")
    return pytester


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory configured like a typical project (pytest-asyncio settled)."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


def events(pytester: pytest.Pytester) -> list[str]:
    """What the fake factories logged: create / dispose / close, in order."""
    return (pytester.path / "provider-events.log").read_text().split()


def summary_counts(result: pytest.RunResult, category: str) -> tuple[int, int, int, int, int]:
    """(passed, failed, skipped, skipped by capability, known) of ``category`` in the summary."""
    for line in result.outlines:
        match = re.fullmatch(rf"{category}\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", line)
        if match:
            passed, failed, skipped, by_capability, known = map(int, match.groups())
            return passed, failed, skipped, by_capability, known
    raise AssertionError(f"no summary row for {category!r} in:\n{result.stdout.str()}")


def summary_row(result: pytest.RunResult, category: str) -> tuple[int, int, int]:
    """(passed, failed, skipped) of ``category`` in the provkit summary."""
    return summary_counts(result, category)[:3]


def error_lines(result: pytest.RunResult) -> list[str]:
    """The non-blank lines the run wrote to stderr and stdout."""
    return [line for line in result.errlines + result.outlines if line.strip()]


# -- options and markers ---------------------------------------------------------------


def test_help_lists_the_options(project: pytest.Pytester) -> None:
    """``--help`` shows ``--provider=SPEC`` (with its shortcuts) and ``--provkit-timescale=F``."""
    result = project.runpytest("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*--provider=SPEC*", "*sqlite-memory, sqlite-file*", "*--provkit-timescale=F*"]
    )


def test_markers_are_registered(project: pytest.Pytester) -> None:
    """Every category marker, ``provider_benchmark`` and the capability markers are listed."""
    result = project.runpytest("--markers")
    names = {
        m.group(1) for line in result.outlines if (m := re.match(r"@pytest\.mark\.(\w+)", line))
    }
    assert {*CATEGORIES, *EXTENDED, "provider_benchmark"} <= names
    assert {"capability", "without_capability"} <= names


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_timescale_must_be_positive_and_finite(fakes: pytest.Pytester, value: str) -> None:
    """A zero, negative or non-finite timescale ends the run with one line."""
    result = fakes.runpytest(FAKE, f"--provkit-timescale={value}", "fake_suite.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error_lines(result) == [
        f"ERROR: provkit: --provkit-timescale must be a positive number, got {float(value):g}"
    ]


def test_timescale_must_be_a_number(fakes: pytest.Pytester) -> None:
    """A timescale that is not a number is rejected by option parsing."""
    result = fakes.runpytest(FAKE, "--provkit-timescale=fast", "fake_suite.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --provkit-timescale: invalid float value: 'fast'"])


# -- bad specs: one line, non-zero exit, no test run ----------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            "nope:Nothing",
            "cannot import module 'nope' from --provider=nope:Nothing",
            id="module-not-found",
        ),
        pytest.param(
            "x",
            "--provider=x is neither module:attr nor one of sqlite-memory, sqlite-file, postgres, "
            "memory",
            id="no-colon",
        ),
        pytest.param(
            "os:nothing",
            "module 'os' has no attribute 'nothing' (from --provider=os:nothing)",
            id="attribute-missing",
        ),
        pytest.param(
            "fake_providers:NOT_A_FACTORY",
            "fake_providers:NOT_A_FACTORY is an object of type int, not a provider factory "
            "(from --provider=fake_providers:NOT_A_FACTORY)",
            id="not-callable",
        ),
        pytest.param(
            "fake_providers:FakeProvider",
            "fake_providers:FakeProvider() gave a FakeProvider, which is not a provider "
            "factory: it has no create_provider() method "
            "(from --provider=fake_providers:FakeProvider)",
            id="no-create-provider",
        ),
        pytest.param(
            "fake_providers:NoDatabaseFactory",
            "fake_providers:NoDatabaseFactory() raised RuntimeError: PROVIDER_DSN is not set "
            "(from --provider=fake_providers:NoDatabaseFactory)",
            id="constructor-raises",
        ),
        pytest.param(
            "fake_providers:DatabaseDownFactory",
            "create_provider() of --provider=fake_providers:DatabaseDownFactory raised "
            "ConnectionRefusedError: connection to 127.0.0.1:5432 refused",
            id="create-provider-raises",
        ),
        pytest.param(
            "fake_providers:StuckCreateFactory",
            "create_provider() of --provider=fake_providers:StuckCreateFactory did not return "
            "within 0.5 s (raise --provkit-timescale for slow databases)",
            id="create-provider-hangs",
        ),
        pytest.param(
            "fake_providers:ConnectionStringFactory",
            "create_provider() of --provider=fake_providers:ConnectionStringFactory returned a "
            "str, which is not a provider: it has none of the members of "
            "provkit.contract.Provider",
            id="returns-a-string",
        ),
        pytest.param(
            "fake_providers:NoneFactory",
            "create_provider() of --provider=fake_providers:NoneFactory returned None, "
            "not a provider",
            id="returns-none",
        ),
        pytest.param(
            "fake_providers:SyncFactory",
            "create_provider() of --provider=fake_providers:SyncFactory returned FakeProvider "
            "instead of an awaitable: define it with async def",
            id="not-async",
        ),
        pytest.param(
            "broken_provider:Factory",
            "importing module 'broken_provider' from --provider=broken_provider:Factory raised "
            "ImportError: libpq is not installed",
            id="module-raises-on-import",
        ),
    ],
)
def test_bad_spec_ends_the_run_with_one_line(
    fakes: pytest.Pytester, spec: str, message: str
) -> None:
    """Each kind of bad spec or broken factory: one ``ERROR: provkit: ...`` line, exit 4."""
    fakes.makepyfile(broken_provider="raise ImportError('libpq is not installed')")
    result = fakes.runpytest(f"--provider={spec}", FAST, "fake_suite.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error_lines(result) == [f"ERROR: provkit: {message}"]


def test_broken_factory_is_reported_before_collection(fakes: pytest.Pytester) -> None:
    """A factory whose create_provider() raises fails once up front, not once per test."""
    result = fakes.runpytest("--provider=fake_providers:DatabaseDownFactory", "fake_suite.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "collected" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_disabled_pytest_asyncio_is_refused(fakes: pytest.Pytester) -> None:
    """The async suite cannot run with ``-p no:asyncio``: one line says so."""
    result = fakes.runpytest(FAKE, "-p", "no:asyncio", "fake_suite.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error_lines(result) == [
        "ERROR: provkit: the conformance suite needs pytest-asyncio enabled"
    ]


def test_suite_without_provider_is_refused(pytester: pytest.Pytester) -> None:
    """Pointing pytest at the suite without ``--provider`` is one clear line, not 100 errors."""
    from provkit.conformance._layout import SUITE_DIR

    result = pytester.runpytest(str(SUITE_DIR / "test_atomicity.py"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error_lines(result) == [
        "ERROR: provkit: the conformance suite needs --provider=SPEC "
        "(e.g. --provider=sqlite-memory)"
    ]


# -- factories and fixtures ------------------------------------------------------------


@pytest.mark.parametrize(
    "attr",
    ["FakeFactory", "fake_factory", "make_fake_factory"],
    ids=["class", "instance", "callable"],
)
def test_factory_may_be_a_class_an_instance_or_a_callable(
    fakes: pytest.Pytester, attr: str
) -> None:
    """``module:attr`` accepts a factory class, a factory instance and a callable returning one."""
    result = fakes.runpytest(f"--provider=fake_providers:{attr}", "fake_suite.py", "-k", "fifo")
    result.assert_outcomes(passed=1, deselected=5)


def test_every_test_gets_a_fresh_provider_disposed_even_after_failure(
    fakes: pytest.Pytester,
) -> None:
    """One create and one dispose per test run (plus the up-front check), failing ones too.

    A test skipped for a capability the provider lacks never gets a provider.
    """
    result = fakes.runpytest(FAKE, "fake_suite.py")
    result.assert_outcomes(passed=3, failed=1, skipped=1, deselected=1)
    assert events(fakes) == ["create", "dispose"] * 5


def test_provider_is_closed_when_the_factory_has_no_dispose(fakes: pytest.Pytester) -> None:
    """Without ``dispose_provider`` the plugin calls ``provider.close()`` after each test."""
    result = fakes.runpytest(
        "--provider=fake_providers:ClosingFactory", "fake_suite.py", "-k", "empty_queue"
    )
    result.assert_outcomes(failed=1, deselected=5)
    assert events(fakes) == ["create", "close"] * 2


def test_factory_defined_outside_provkit_runs_the_suite(fakes: pytest.Pytester) -> None:
    """A provider author's own factory module (wrapping SQLite) passes a real category."""
    reprec = fakes.inline_run(
        "--provider=outside_factories:WrappedSqliteFactory", "-m", "atomicity"
    )
    passed, skipped, failed = reprec.listoutcomes()
    assert (skipped, failed) == ([], [])
    assert len(passed) >= 4
    assert all("atomicity" in r.keywords for r in passed)


# -- selection -------------------------------------------------------------------------


def test_without_paths_the_whole_suite_runs_whatever_testpaths_says(
    fakes: pytest.Pytester,
) -> None:
    """From a project with ``testpaths`` and its own ``python_files``, the suite still runs."""
    fakes.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        testpaths = ["tests"]
        python_files = ["check_*.py"]
        """
    )
    fakes.mkdir("tests")
    (fakes.path / "tests" / "check_project.py").write_text(
        "def test_project():\n    raise ValueError\n"
    )
    reprec = fakes.inline_run(
        "--provider=outside_factories:WrappedSqliteFactory", "-m", "multi_execution"
    )
    passed, skipped, failed = reprec.listoutcomes()
    assert (skipped, failed) == ([], [])
    assert len(passed) >= 5
    assert {Path(r.fspath).name for r in passed} == {"test_multi_execution.py"}


def test_m_selects_one_category_of_the_real_suite(fakes: pytest.Pytester) -> None:
    """``-m atomicity`` runs the atomicity tests and nothing else."""
    reprec = fakes.inline_run("--provider=sqlite-memory", "-m", "atomicity")
    passed, skipped, failed = reprec.listoutcomes()
    assert (skipped, failed) == ([], [])
    assert {Path(r.fspath).name for r in passed} == {"test_atomicity.py"}
    assert all("atomicity" in r.keywords for r in passed)


def test_k_selects_by_name(fakes: pytest.Pytester) -> None:
    """``-k`` picks tests by name within the run."""
    result = fakes.runpytest(FAKE, "fake_suite.py", "-k", "fifo or round_trips", "-v")
    result.assert_outcomes(passed=2, deselected=4)
    result.stdout.fnmatch_lines(["*::test_fifo PASSED*", "*::test_worker_item_round_trips PASSED*"])


def test_pyargs_are_respected(fakes: pytest.Pytester) -> None:
    """``--pyargs`` names a suite module; only that module runs."""
    reprec = fakes.inline_run(
        "--provider=sqlite-memory", "--pyargs", "provkit.conformance.suite.test_multi_execution"
    )
    passed, skipped, failed = reprec.listoutcomes()
    assert (skipped, failed) == ([], [])
    assert len(passed) >= 5
    assert all("multi_execution" in r.keywords for r in passed)


def test_benchmarks_are_deselected_by_default(fakes: pytest.Pytester) -> None:
    """``provider_benchmark`` tests do not run without ``-m``, nor with an unrelated ``-m``."""
    plain = fakes.runpytest(FAKE, "fake_suite.py", "-k", "benchmark")
    plain.assert_outcomes(deselected=6)
    negated = fakes.runpytest(FAKE, "fake_suite.py", "-m", "not atomicity")
    negated.assert_outcomes(passed=1, skipped=1, deselected=4)


def test_benchmarks_run_when_m_selects_them(fakes: pytest.Pytester) -> None:
    """``-m provider_benchmark`` runs exactly the benchmarks and reports them in their own row."""
    result = fakes.runpytest(FAKE, "fake_suite.py", "-m", "provider_benchmark")
    result.assert_outcomes(passed=1, deselected=5)
    assert summary_row(result, "provider_benchmark") == (1, 0, 0)


# -- summary ---------------------------------------------------------------------------


def test_summary_counts_outcomes_per_category(fakes: pytest.Pytester) -> None:
    """The summary names provider and suite, counts each category and gives a FAIL verdict."""
    result = fakes.runpytest(FAKE, "fake_suite.py")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert summary_row(result, "atomicity") == (2, 1, 0)
    assert summary_row(result, "queue_semantics") == (1, 0, 1)
    assert summary_row(result, "total") == (3, 1, 1)
    result.stdout.fnmatch_lines(
        [
            "*= provkit conformance summary =*",
            "provider: fake_providers:FakeFactory (fake provider)",
            f"suite:    provkit conformance {SUITE_VERSION} (contract v1)",
            "instance_locking*not selected",
            "failed:",
            "  [atomicity] fake_suite.py::test_empty_queue_yields_an_item",
            "      A fetch from an empty worker queue returns an item (deliberately wrong).",
            "FAIL: 1 of 5 tests failed (atomicity)",
        ]
    )


def test_provider_missing_two_methods_gets_one_message_naming_both(
    fakes: pytest.Pytester,
) -> None:
    """Shape check first: the whole suite ends before collection in one line naming both."""
    result = fakes.runpytest("--provider=fake_providers:TwoMissingFactory")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error_lines(result) == [
        "ERROR: provkit: --provider=fake_providers:TwoMissingFactory (fake provider) lacks 2 "
        "contract members: ack_work_item(), renew_work_item_lock() (every member of "
        "provkit.contract.Provider is required)"
    ]
    assert len(result.outlines + result.errlines) < 20
    assert events(fakes) == ["create", "close"]


@pytest.mark.parametrize(
    ("factory", "gap"),
    [
        pytest.param("ClockClaimingFactory", "Capability.CLOCK but has no set_clock()", id="clock"),
        pytest.param(
            "ManagementClaimingFactory",
            "Capability.MANAGEMENT but has no get_execution_info(), get_instance_info(), "
            "get_system_metrics(), list_instances()",
            id="management",
        ),
    ],
)
def test_declared_capability_without_its_methods_ends_the_run_in_one_line(
    fakes: pytest.Pytester, factory: str, gap: str
) -> None:
    """A provider declaring a capability it lacks methods of: one line naming them, exit 4."""
    result = fakes.runpytest(f"--provider=fake_providers:{factory}", "fake_suite.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error_lines(result) == [
        f"ERROR: provkit: --provider=fake_providers:{factory} (fake provider) declares {gap} "
        "(implement them or stop declaring the capability)"
    ]


def test_failure_report_shows_the_provider_calls_and_the_test_docstring(
    fakes: pytest.Pytester,
) -> None:
    """A failing test's details end with its provider calls, each with what it returned, and
    the contract sentence its docstring states."""
    result = fakes.runpytest(FAKE, "fake_suite.py", "-k", "fifo or empty_queue")
    result.stdout.fnmatch_lines(
        [
            "*- provkit: provider calls of this test -*",
            "  1. fetch_work_item(1.0, 0.0) -> None",
            "*- provkit: what this test checks -*",
            "A fetch from an empty worker queue returns an item (deliberately wrong).",
        ]
    )
    assert "enqueue_for_worker" not in result.stdout.str(), "a passing test's calls were shown"


def test_stopped_run_says_what_did_not_run(fakes: pytest.Pytester) -> None:
    """With ``-x`` the verdict counts the selected tests that never ran."""
    result = fakes.runpytest(FAKE, "fake_suite.py", "-x")
    result.assert_outcomes(passed=2, failed=1, skipped=1, deselected=1)
    result.stdout.fnmatch_lines(
        ["FAIL: 1 of 4 tests failed (atomicity); 1 selected tests did not run"]
    )


def test_full_passing_run_gives_a_pass_verdict() -> None:
    """Every core category run and passed: an unqualified PASS naming the provider.

    The whole suite against each reference provider, which must end in this verdict, is a
    step of ``.ci/run``; here the summary is rendered from recorded outcomes.
    """
    outcomes = Outcomes()
    for n, category in enumerate(CATEGORIES):
        outcomes.selected[category] = 2
        outcomes.record(f"test_{n}_a", category, PASSED)
        outcomes.record(f"test_{n}_b", category, PASSED)
    info = RunInfo(
        provider_spec="sqlite-memory",
        provider_name="sqlite-memory",
        suite_version=SUITE_VERSION,
        contract_version="1",
        interrupted=False,
    )
    lines, verdict, passed = render(info, outcomes)
    assert [line.split() for line in lines if line.split()[:1] == ["atomicity"]] == [
        ["atomicity", "2", "0", "0", "0", "0"]
    ]
    assert (verdict, passed) == (
        f"PASS: sqlite-memory conforms to provkit conformance suite {SUITE_VERSION} (12 passed)",
        True,
    )


FOUNDATION_SUITE = """
    import pytest

    pytestmark = pytest.mark.asyncio


    @pytest.mark.atomicity
    async def test_consequence(provider):
        \"\"\"Collected first, fails because fetch_work_item is broken.\"\"\"
        await provider.enqueue_for_worker("x")
        assert await provider.fetch_work_item(1.0) == "y", "fetch_work_item returned the wrong item"


    @pytest.mark.queue_semantics
    async def test_later(provider):
        \"\"\"Passes.\"\"\"
        assert await provider.fetch_work_item(1.0) is None


    @pytest.mark.queue_semantics
    @pytest.mark.foundation("fetch_work_item")
    async def test_basic_fetch(provider):
        \"\"\"The simplest fetch (fails on purpose).\"\"\"
        await provider.enqueue_for_worker("x")
        assert await provider.fetch_work_item(1.0) == "x-basic", "fetch_work_item returned 'x'"
"""


def test_foundation_failures_come_first_in_the_run_and_in_the_summary(
    fakes: pytest.Pytester,
) -> None:
    """A foundation test runs before tests collected earlier, and the summary's first finding
    is "fix these first", naming it and counting the failures that may follow from it."""
    fakes.makepyfile(foundation_suite=FOUNDATION_SUITE)
    result = fakes.runpytest(FAKE, "foundation_suite.py", "-v")

    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*::test_basic_fetch FAILED*",
            "*::test_later PASSED*",
            "*::test_consequence FAILED*",
            "suite: *",
            "",
            "fix these first: foundation_suite.py::test_basic_fetch (fetch_work_item); "
            "1 later failure may follow from it",
            "  fetch_work_item: fetch_work_item returned 'x'",
            "",
            "category *",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "failed:",
            "  [queue_semantics] foundation_suite.py::test_basic_fetch",
            "      The simplest fetch (fails on purpose).",
            "      fetch_work_item returned 'x'",
        ]
    )


def test_x_stops_at_a_foundation_failure(fakes: pytest.Pytester) -> None:
    """With ``-x`` the run stops at the failing foundation test, before the tests after it."""
    fakes.makepyfile(foundation_suite=FOUNDATION_SUITE)
    result = fakes.runpytest(FAKE, "foundation_suite.py", "-x")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "fix these first: foundation_suite.py::test_basic_fetch (fetch_work_item)",
            "FAIL: 1 of 1 tests failed (queue_semantics); 2 selected tests did not run",
        ]
    )


def test_real_suite_runs_its_foundation_tests_first_in_implementation_order(
    fakes: pytest.Pytester,
) -> None:
    """Collected against a provider, the suite starts with one or more foundation tests per
    operation, in the order to implement them; core categories follow, queue semantics first."""
    from provkit.conformance._foundation import IMPLEMENTATION_ORDER, foundation_of

    reprec = fakes.inline_run("--provider=memory", "--collect-only")
    (finish,) = reprec.getcalls("pytest_collection_finish")
    items = finish.session.items
    operations = [foundation_of(item) for item in items]
    first = operations[: operations.index(None)]

    assert set(operations[len(first) :]) == {None}, "a foundation test runs late"
    assert [IMPLEMENTATION_ORDER.index(op) for op in first] == sorted(
        IMPLEMENTATION_ORDER.index(op) for op in first
    )
    assert set(first) == set(IMPLEMENTATION_ORDER) - {
        "enqueue_for_orchestrator",
        "enqueue_for_worker",
        "read",
        "list_executions",
        "close",
    }, "an operation lost its foundation test (enqueues and reads are covered with others)"
    assert "queue_semantics" in items[len(first)].keywords


def test_foundation_marker_must_name_an_operation(fakes: pytest.Pytester) -> None:
    """A misspelt operation in a foundation marker fails that test, saying what is wrong."""
    fakes.makepyfile(
        bad_foundation="""
        import pytest

        @pytest.mark.foundation("fetch_item")
        def test_x():
            pass
        """
    )
    result = fakes.runpytest(FAKE, "bad_foundation.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["foundation() must name one operation of enqueue_for_orchestrator, *; got 'fetch_item'"]
    )


def test_partial_run_is_not_called_conformant(fakes: pytest.Pytester) -> None:
    """A run that leaves categories out says so instead of claiming conformance."""
    result = fakes.runpytest(FAKE, "fake_suite.py", "-k", "fifo")
    result.stdout.fnmatch_lines(
        ["PASS (partial): 1 passed; only a selection of the suite ran, so this is not *"]
    )


def test_suite_helpers_get_assertion_rewriting(fakes: pytest.Pytester) -> None:
    """Suite helper modules are loaded through pytest's assertion rewriter."""
    fakes.makepyfile(
        check_rewrite="""
        import provkit.conformance._builders as builders

        def test_builders_are_rewritten():
            assert type(builders.__loader__).__name__ == "AssertionRewritingHook"
        """
    )
    fakes.runpytest(FAKE, "check_rewrite.py").assert_outcomes(passed=1)


# -- pytest conventions: where the provider comes from, header, several providers, JUnit --


def test_header_names_the_provider_its_capabilities_and_the_suite(fakes: pytest.Pytester) -> None:
    """The run's header has a line per provider with its capabilities, and the versions."""
    result = fakes.runpytest("--provider=fake_providers:LongPollingFactory", "fake_suite.py")
    result.stdout.fnmatch_lines(
        [
            "provkit provider: fake_providers:LongPollingFactory (fake provider); "
            "capabilities: LONG_POLL",
            f"provkit conformance suite {SUITE_VERSION}, contract v1",
            "collected 6 items*",
        ]
    )


@pytest.mark.parametrize("source", ["environment", "ini"])
def test_provider_may_come_from_the_environment_or_the_ini_file(
    fakes: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """``PROVKIT_PROVIDER`` or the ``provkit_provider`` ini option stand in for --provider."""
    if source == "environment":
        monkeypatch.setenv("PROVKIT_PROVIDER", "fake_providers:FakeFactory")
    else:
        fakes.makeini("[pytest]\nprovkit_provider = fake_providers:FakeFactory\n")
    result = fakes.runpytest("fake_suite.py")
    result.assert_outcomes(passed=3, failed=1, skipped=1, deselected=1)
    result.stdout.fnmatch_lines(["provider: fake_providers:FakeFactory (fake provider)"])


def test_provider_option_wins_over_the_environment_and_the_ini_file(
    fakes: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--provider on the command line is used even when the other two name a provider."""
    monkeypatch.setenv("PROVKIT_PROVIDER", "fake_providers:DatabaseDownFactory")
    fakes.makeini("[pytest]\nprovkit_provider = fake_providers:NoDatabaseFactory\n")
    result = fakes.runpytest("--provider=fake_providers:LongPollingFactory", "fake_suite.py")
    result.assert_outcomes(passed=4, failed=1, deselected=1)


def test_provider_given_twice_runs_each_and_prints_a_matrix(fakes: pytest.Pytester) -> None:
    """Two --provider options: every test runs against each (its id names the provider), and
    the summary is a provider × category matrix with a verdict per provider."""
    result = fakes.runpytest(
        FAKE, "--provider=fake_providers:LongPollingFactory", "fake_suite.py", "-v"
    )

    result.assert_outcomes(passed=7, failed=2, skipped=1, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "*::test_needs_long_poll[[]fake_providers:FakeFactory[]] SKIPPED*",
            "*::test_needs_long_poll[[]fake_providers:LongPollingFactory[]] PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "providers: fake_providers:FakeFactory, fake_providers:LongPollingFactory",
            "category *fake_providers:FakeFactory  fake_providers:LongPollingFactory",
            "instance_locking *not selected *not selected",
            "atomicity *1 failed of 3 *1 failed of 3",
            "queue_semantics *1 passed *2 passed",
            "total *1 failed of 4 *1 failed of 5",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "fake_providers:FakeFactory:        FAIL: 1 of 5 tests failed (atomicity)",
            "fake_providers:LongPollingFactory: FAIL: 1 of 5 tests failed (atomicity)",
            "FAIL: 2 of 2 providers failed (fake_providers:FakeFactory, "
            "fake_providers:LongPollingFactory)",
        ]
    )


def test_two_reference_providers_pass_side_by_side(fakes: pytest.Pytester) -> None:
    """Both in-memory reference providers, one category: each passes, the run passes."""
    result = fakes.runpytest(
        "--provider=sqlite-memory", "--provider=memory", "-m", "multi_execution"
    )
    assert result.ret == pytest.ExitCode.OK
    row = next(line.split() for line in result.outlines if line.startswith("multi_execution "))
    assert row == ["multi_execution", row[1], "passed", row[1], "passed"]
    assert int(row[1]) >= 10
    result.stdout.fnmatch_lines(
        ["PASS (partial): no provider failed, but not every one ran the whole suite"]
    )


def test_same_provider_twice_is_one_usage_error(fakes: pytest.Pytester) -> None:
    """A spec given twice would give two tests one id: one line says so."""
    result = fakes.runpytest(FAKE, FAKE, "fake_suite.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error_lines(result) == [
        "ERROR: provkit: --provider=fake_providers:FakeFactory is given twice"
    ]


def test_junit_xml_carries_provider_and_category(fakes: pytest.Pytester) -> None:
    """Every test case of the JUnit XML has ``provider`` and ``category`` properties."""
    import xml.etree.ElementTree as ET

    fakes.runpytest(
        FAKE, "--provider=fake_providers:LongPollingFactory", "fake_suite.py", "--junitxml=j.xml"
    )
    cases = ET.parse(fakes.path / "j.xml").getroot().iter("testcase")
    found = {
        (case.get("name"), prop.get("name"), prop.get("value"))
        for case in cases
        for prop in case.iter("property")
    }
    fake, polling = "fake_providers:FakeFactory", "fake_providers:LongPollingFactory"
    assert (f"test_fifo[{fake}]", "provider", fake) in found
    assert (f"test_fifo[{polling}]", "category", "queue_semantics") in found
    assert len(found) == 2 * 10, "each of the 10 test cases has both properties"


# -- publishing ------------------------------------------------------------------------


def test_report_option_writes_the_verdict_and_github_gets_a_job_summary(
    fakes: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--provkit-report writes the JSON verdict; $GITHUB_STEP_SUMMARY gets the markdown one,
    appended after what earlier steps wrote."""
    from provkit.reporting._verdict import ConformanceVerdict

    summary = fakes.path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = fakes.runpytest(
        "--provider=fake_providers:LongPollingFactory", "fake_suite.py", "--provkit-report=v.json"
    )

    result.stdout.fnmatch_lines(
        [
            f"provkit: verdict written to {fakes.path / 'v.json'}",
            "provkit: job summary appended to $GITHUB_STEP_SUMMARY",
            "FAIL: 1 of 5 tests failed (atomicity)",
        ]
    )
    (provider,) = ConformanceVerdict.read(fakes.path / "v.json").providers
    assert (provider.provider, provider.name, provider.capabilities) == (
        "fake_providers:LongPollingFactory",
        "fake provider",
        ("LONG_POLL",),
    )
    assert (provider.outcome, provider.verdict) == ("fail", "FAIL: 1 of 5 tests failed (atomicity)")
    assert (provider.categories["queue_semantics"].passed, provider.totals.failed) == (2, 1)
    assert [(f.test, f.message) for f in provider.failures] == [
        ("fake_suite.py::test_empty_queue_yields_an_item", "assert None == 'never enqueued'")
    ]
    lines = summary.read_text().splitlines()
    assert lines[:2] == [
        "earlier step",
        "### provkit conformance: ❌ FAIL — `fake_providers:LongPollingFactory`",
    ]
    assert "| atomicity | 2 | 1 | 0 | 0 |" in lines


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param("nowhere/v.json", "directory '{dir}/nowhere' does not exist", id="no-dir"),
        pytest.param(".", "is a directory, not a file", id="a-directory"),
    ],
)
def test_report_path_is_checked_before_the_run(
    fakes: pytest.Pytester, path: str, message: str
) -> None:
    """An unusable --provkit-report path ends the run at once, in one line."""
    result = fakes.runpytest(FAKE, "fake_suite.py", f"--provkit-report={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = error_lines(result)
    assert line.startswith(f"ERROR: provkit: --provkit-report={path}")
    assert line.endswith(message.format(dir=fakes.path))


# -- capabilities ----------------------------------------------------------------------

GATED = ["instance_creation", "management", "deletion", "prune", "corruption"]
"""Extended categories every test of which needs a capability."""


def test_undeclared_capability_skips_with_its_name_and_is_counted(fakes: pytest.Pytester) -> None:
    """A LONG_POLL test of a provider without it is skipped naming LONG_POLL, counted apart."""
    result = fakes.runpytest(FAKE, "fake_suite.py", "-rs", "-k", "long_poll or fifo")
    result.assert_outcomes(passed=1, skipped=1, deselected=4)
    result.stdout.fnmatch_lines(["SKIPPED*provider does not declare Capability.LONG_POLL"])
    assert summary_counts(result, "queue_semantics") == (1, 0, 1, 1, 0)


def test_declared_capability_runs_its_tests(fakes: pytest.Pytester) -> None:
    """The same LONG_POLL test runs (and passes) for a provider declaring the capability."""
    result = fakes.runpytest(
        "--provider=fake_providers:LongPollingFactory", "fake_suite.py", "-k", "long_poll"
    )
    result.assert_outcomes(passed=1, deselected=5)
    assert summary_counts(result, "queue_semantics") == (1, 0, 0, 0, 0)


def test_provider_without_optional_capabilities_runs_core_and_skips_the_rest(
    fakes: pytest.Pytester,
) -> None:
    """No capability declared: gated categories skip with the capability named, a core one runs.

    One core category stands for all (they carry no capability marker: see the suite test
    below); polling and task_queues still run their tests meant for every provider.
    """
    selection = " or ".join(["multi_execution", "polling", "task_queues", *GATED])
    result = fakes.runpytest(
        "--provider=outside_factories:NoCapabilitiesSqliteFactory", "-m", selection, "-rs"
    )

    assert result.ret == pytest.ExitCode.OK
    needs = {
        "instance_creation": "MANAGEMENT",
        "management": "MANAGEMENT",
        "deletion": "DELETION",
        "prune": "PRUNE",
        "corruption": "FAULT_INJECTION",
    }
    for category, capability in needs.items():
        passed, failed, skipped, by_capability, known = summary_counts(result, category)
        assert (passed, failed, known) == (0, 0, 0), category
        assert skipped == by_capability > 0, category
        result.stdout.fnmatch_lines(
            [f"SKIPPED*test_{category}.py*provider does not declare Capability.{capability}"]
        )
    core = summary_counts(result, "multi_execution")
    assert (core[0] > 0, core[1:]) == (True, (0, 0, 0, 0))
    polling = summary_counts(result, "polling")
    assert (polling[0], polling[1], polling[3]) == (6, 0, polling[2])
    assert summary_counts(result, "task_queues")[:2] == (1, 0)
    result.stdout.fnmatch_lines(["PASS (partial): * passed, * skipped; *"])


def test_core_categories_never_depend_on_a_capability() -> None:
    """No test module of a core category carries a capability marker."""
    from provkit.conformance._layout import SUITE_DIR

    for category in CATEGORIES:
        text = (SUITE_DIR / f"test_{category}.py").read_text()
        assert "mark.capability" not in text, category
        assert "mark.without_capability" not in text, category


# -- known failures --------------------------------------------------------------------


def known_failures(pytester: pytest.Pytester, *lines: str) -> str:
    """Write a known-failures file; returns its option."""
    (pytester.path / "known.txt").write_text("\n".join(lines) + "\n")
    return "--provkit-known-failures=known.txt"


def test_listed_failing_test_is_reported_as_known(fakes: pytest.Pytester) -> None:
    """A listed test that fails is an expected failure: counted as known, and the run passes."""
    option = known_failures(
        fakes, "# fails for this provider", "fake_suite.py::test_empty_queue_yields_an_item"
    )
    result = fakes.runpytest(FAKE, option, "fake_suite.py", "-m", "atomicity")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2, xfailed=1, deselected=3)
    assert summary_counts(result, "atomicity") == (2, 0, 0, 0, 1)
    result.stdout.fnmatch_lines(["PASS (partial): 2 passed, 1 known failures; *"])


def test_listed_test_that_passes_fails_the_run(fakes: pytest.Pytester) -> None:
    """A listed test that passes fails the run and is named, so the list only shrinks."""
    option = known_failures(
        fakes, "fake_suite.py::test_fifo", "fake_suite.py::test_empty_queue_yields_an_item"
    )
    result = fakes.runpytest(FAKE, option, "fake_suite.py")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=1, xfailed=1, skipped=1, deselected=1)
    assert summary_counts(result, "queue_semantics") == (0, 1, 1, 1, 0)
    result.stdout.fnmatch_lines(
        [
            "passed although listed as known failures (remove them from *known.txt):",
            "  [queue_semantics] fake_suite.py::test_fifo",
            "FAIL: 1 of 5 tests failed (queue_semantics), 1 of them listed as known failures "
            "but passed",
        ]
    )


def test_known_failures_name_suite_tests_by_module_and_name(fakes: pytest.Pytester) -> None:
    """A real suite test listed as test_module.py::name (all its parameters) is expected to fail."""
    option = known_failures(
        fakes,
        "test_multi_execution.py::test_read_follows_the_latest_execution",
        "test_multi_execution.py::no_such_test",
    )
    result = fakes.runpytest("--provider=sqlite-memory", option, "-m", "multi_execution")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "passed although listed as known failures *",
            "  [[]multi_execution] *test_multi_execution.py::test_read_follows_the_latest_exec*",
            "listed as known failures in *known.txt but not in this run:",
            "  test_multi_execution.py::no_such_test",
        ]
    )


def test_unreadable_known_failures_file_is_one_line(fakes: pytest.Pytester) -> None:
    """A missing known-failures file ends the run with one line naming it."""
    result = fakes.runpytest(FAKE, "--provkit-known-failures=missing.txt", "fake_suite.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = error_lines(result)
    assert len(lines) == 1
    assert re.fullmatch(
        r"ERROR: provkit: cannot read --provkit-known-failures file '.*missing\.txt': "
        r"No such file or directory",
        lines[0],
    )


# -- asyncio modes ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_works_in_both_asyncio_modes(fakes: pytest.Pytester, mode: str) -> None:
    """Same outcomes under pytest-asyncio strict and auto modes, fake and real suite."""
    fake = fakes.runpytest(FAKE, "fake_suite.py", "-o", f"asyncio_mode={mode}")
    fake.assert_outcomes(passed=3, failed=1, skipped=1, deselected=1)
    reprec = fakes.inline_run(
        "--provider=sqlite-memory", "-m", "atomicity", "-o", f"asyncio_mode={mode}"
    )
    passed, skipped, failed = reprec.listoutcomes()
    assert (len(passed) >= 4, skipped, failed) == (True, [], [])


# -- plugin inactive -------------------------------------------------------------------

USER_TESTS = """
    import pytest

    @pytest.fixture
    def provider():
        return "the project's own provider fixture"

    def test_own_fixture_wins(provider):
        assert provider == "the project's own provider fixture"

    @pytest.mark.asyncio
    async def test_async():
        assert 1 + 1 == 2

    def test_no_provkit_fixtures(request):
        with pytest.raises(pytest.FixtureLookupError):
            request.getfixturevalue("timing")
"""


def test_inactive_without_provider(project: pytest.Pytester) -> None:
    """Without ``--provider``: a project's tests run untouched, no provkit fixtures, no summary."""
    project.makepyfile(test_user=USER_TESTS)
    result = project.runpytest()
    result.assert_outcomes(passed=3)
    assert "provkit conformance summary" not in result.stdout.str()


def test_inactive_plugin_does_not_walk_into_the_suite(project: pytest.Pytester) -> None:
    """Without ``--provider``, collecting a tree that contains the suite skips the suite."""
    from provkit.conformance._layout import SUITE_DIR

    result = project.runpytest(str(SUITE_DIR.parent))
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["collected 0 items"])


def test_disabled_with_p_no_provkit(project: pytest.Pytester) -> None:
    """``-p no:provkit`` removes the plugin: its markers and ``--provider`` are gone."""
    project.makepyfile(test_user=USER_TESTS)
    result = project.runpytest("-p", "no:provkit", "--markers")
    assert "atomicity" not in result.stdout.str()
    refused = project.runpytest("-p", "no:provkit", "--provider=sqlite-memory")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*unrecognized arguments: --provider=sqlite-memory*"])


# -- hanging providers (subprocess: a broken guard must not hang this run) ------------


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        pytest.param(
            "HangingFactory",
            "provider call fetch_work_item() did not return within 0.5 s "
            "(raise --provkit-timescale for slow databases)",
            id="awaits-forever",
        ),
        pytest.param(
            "StubbornFactory",
            "provider call fetch_work_item() did not return within 0.5 s and ignored "
            "cancellation (raise --provkit-timescale for slow databases)",
            id="ignores-cancellation",
        ),
        pytest.param(
            "BlockingFactory",
            "provider call fetch_work_item() blocked the event loop for over 1.5 s "
            "(synchronous code in an async method?)",
            id="blocks-the-event-loop",
        ),
    ],
)
def test_hung_call_fails_its_test_and_skips_the_rest_of_its_category(
    fakes: pytest.Pytester, factory: str, message: str
) -> None:
    """A provider call that never returns fails its test; the category's next test is skipped
    naming it instead of waiting out the same timeout, and a test of another category runs."""
    started = time.monotonic()
    result = fakes.runpytest_subprocess(
        f"--provider=fake_providers:{factory}",
        FAST,
        "fake_suite.py",
        "-k",
        "round_trips or fresh or fifo",
        "-rs",
        timeout=60,
    )
    result.assert_outcomes(failed=2, skipped=1, deselected=3)
    assert result.outlines.count(message) == 2
    result.stdout.fnmatch_lines(
        [
            "  3. fetch_work_item(1.0, 0.0) (did not return)",
            "SKIPPED * an earlier atomicity test hung (test_worker_item_round_trips): "
            + message.replace("(", "[(]").replace(")", "[)]"),
        ]
    )
    assert time.monotonic() - started < 30
