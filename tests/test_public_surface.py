"""What provkit exports and what it depends on: both pinned, so changing either is deliberate.

Every package's ``__all__`` is listed here (as httpx pins its exported members): adding a
package or a public name means editing this file. The declared dependencies are exactly the
third-party modules provkit's installed code imports.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import provkit

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "provkit"

EXPORTS: dict[str, list[str]] = {
    "provkit": ["__version__"],
    "provkit.conformance": ["SUITE_VERSION", "SuiteClock", "Timing"],
    "provkit.conformance.suite": [],
    "provkit.contract": [
        "ActivityId",
        "CAPABILITY_PROTOCOLS",
        "CONTRACT_VERSION",
        "Capability",
        "Clock",
        "ClockControl",
        "CorruptDataError",
        "DeleteResult",
        "Deletion",
        "DuplicateEventError",
        "ErrorCategory",
        "ErrorDetails",
        "ExecutionInfo",
        "ExecutionMetadata",
        "FaultInjection",
        "INITIAL_EXECUTION_ID",
        "InstanceFilter",
        "InstanceInfo",
        "InstancePage",
        "InstanceRunningError",
        "LockLostError",
        "Management",
        "ManualClock",
        "NotFoundError",
        "NotRootError",
        "OrchestrationItem",
        "Provider",
        "ProviderError",
        "ProviderFactory",
        "ProviderWrapper",
        "Prune",
        "PruneResult",
        "QueueDepths",
        "Status",
        "SystemClock",
        "SystemMetrics",
        "TaskQueues",
        "TransientError",
        "WorkLease",
        "capability_methods",
        "check_provider",
        "codec",
        "dispose_provider",
        "events",
        "messages",
        "missing_capability_methods",
        "missing_members",
    ],
    "provkit.mutants": ["Breaks", "CATALOGUE", "Mutant", "find"],
    "provkit.reference_providers": [
        "FileSqliteFactory",
        "InMemorySqliteFactory",
        "MemoryFactory",
        "MemoryProvider",
        "PostgresFactory",
        "PostgresProvider",
        "SqliteProvider",
    ],
    "provkit.reporting": [
        "ErrorCause",
        "Failures",
        "HistoryCheck",
        "LatencySummary",
        "OperationStats",
        "ProcessCounts",
        "SCHEMA_VERSION",
        "STRESS_JSON_SCHEMA",
        "StressResult",
        "validate",
    ],
    "provkit.runtime": [
        "ActivityFn",
        "Client",
        "DEFAULT_MAX_PAYLOAD_BYTES",
        "DurableFuture",
        "InstanceEndedError",
        "NonRetryableError",
        "OrchestrationContext",
        "OrchestrationFn",
        "OrchestrationState",
        "OrchestrationStatus",
        "PayloadTooLargeError",
        "RetryPolicy",
        "Runtime",
        "RuntimeOptions",
        "TaskFailedError",
    ],
    "provkit.stress": [
        "ConfigError",
        "InstrumentedProvider",
        "PRESETS",
        "PayloadShape",
        "Progress",
        "ProviderCheckError",
        "ProviderCreationError",
        "ProviderUnderTest",
        "SCENARIOS",
        "Scenario",
        "SharedStoreFactory",
        "StressConfig",
        "StressPlan",
        "load_plan",
        "prepare",
        "run_plan",
        "run_stress_test",
        "run_stress_test_sync",
    ],
}
"""Each package's ``__all__``, sorted."""

IMPORT_NAMES = {"pytest-asyncio": "pytest_asyncio", "pytest-benchmark": "pytest_benchmark"}
"""Distribution names whose import name differs."""


def packages() -> list[str]:
    found = [m.name for m in pkgutil.walk_packages(provkit.__path__, "provkit.") if m.ispkg]
    return sorted(["provkit", *found])


def test_every_package_has_a_pinned_export_list() -> None:
    """A new package is added to ``EXPORTS`` on purpose, and a removed one taken out."""
    assert packages() == sorted(EXPORTS)


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_package_exports_exactly_its_pinned_names(name: str) -> None:
    """``__all__`` is the pinned list, every name in it resolves, and nothing public is hidden.

    A class or function defined in provkit and bound on the package must be in ``__all__``.
    """
    package = importlib.import_module(name)
    exported = sorted(getattr(package, "__all__", []))
    assert exported == EXPORTS[name]
    assert [n for n in exported if not hasattr(package, n)] == []
    unlisted = [
        member
        for member, value in vars(package).items()
        if not member.startswith("_")
        and not isinstance(value, ModuleType)
        and str(getattr(value, "__module__", "")).startswith("provkit")
        and member not in exported
    ]
    assert unlisted == []


IMPORT_LINE = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w., ]+))", re.MULTILINE)


def imported_modules() -> dict[str, str]:
    """Third-party top-level modules imported anywhere under ``src/provkit``, with one file."""
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        for match in IMPORT_LINE.finditer(path.read_text(encoding="utf-8")):
            modules = [match.group(1)] if match.group(1) else match.group(2).split(",")
            for module in modules:
                top = module.strip().split(" ")[0].split(".")[0]
                if top and top != "provkit" and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_declared_dependencies_are_exactly_what_the_code_imports() -> None:
    """Nothing is declared that installed code never imports, nor imported undeclared."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {
        IMPORT_NAMES.get(name, name)
        for name in (
            re.split(r"[<>=!~ \[;]", spec, maxsplit=1)[0] for spec in project["dependencies"]
        )
    }
    imported = imported_modules()
    assert {m: imported[m] for m in sorted(set(imported) - declared)} == {}, "undeclared"
    assert sorted(declared - set(imported)) == [], "declared but never imported by src/provkit"
