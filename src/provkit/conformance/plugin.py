"""The pytest11 plugin: ``--provider=SPEC`` runs the conformance suite against a provider.

Without ``--provider`` it does nothing, so installing provkit never disturbs other tests.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from provkit.conformance._fixtures import _provider_under_test, clock, provider, timing
from provkit.conformance._settings import SETTINGS_KEY, SuiteSettings

__all__ = ["_provider_under_test", "clock", "provider", "timing"]

CATEGORIES = {
    "instance_locking": "one holder per instance; locked instances are invisible",
    "atomicity": "an ack applies everything or nothing",
    "error_handling": "typed errors for bad tokens, duplicates, corrupt data",
    "lock_expiration": "locks expire, renew and abandon as the contract says",
    "queue_semantics": "FIFO, peek-lock, visibility and delivery of both queues",
    "multi_execution": "executions are isolated and the latest one is current",
}

SUITE_DIR = Path(__file__).parent / "suite"

SHORTCUTS = {
    "sqlite-memory": "provkit.reference_providers.sqlite:InMemorySqliteFactory",
    "sqlite-file": "provkit.reference_providers.sqlite:FileSqliteFactory",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("provkit", "provkit provider conformance")
    group.addoption(
        "--provider",
        default=None,
        metavar="SPEC",
        help="run the conformance suite against module:Factory (or sqlite-memory, sqlite-file)",
    )
    group.addoption(
        "--provkit-timescale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply every lock timeout and wait by F (slow databases)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in CATEGORIES.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    spec = config.getoption("provider")
    if spec is None:
        return
    scale = config.getoption("provkit_timescale")
    config.stash[SETTINGS_KEY] = SuiteSettings(
        factory=_load_factory(spec), provider_spec=spec, timescale=scale, op_timeout=10.0 * scale
    )
    if not config.args or config.args == [str(config.rootpath)]:
        config.args = [str(SUITE_DIR)]


def _load_factory(spec: str) -> Any:
    target = SHORTCUTS.get(spec, spec)
    module_name, _, attr = target.partition(":")
    obj = getattr(importlib.import_module(module_name), attr)
    if isinstance(obj, type):
        return obj()
    if hasattr(obj, "create_provider"):
        return obj
    return obj()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if SETTINGS_KEY not in config.stash and SUITE_DIR in collection_path.parents:
        return True
    return None
