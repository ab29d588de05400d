"""Fixtures for runtime tests: a fresh database of each SQLite kind per test, replay modes.

``store`` is parametrized over in-memory and file SQLite; ``provider`` is its open provider.
Every replay-engine spec test (``test_replay_*`` modules) runs twice: replaying the whole
history, and resuming the state a replay cache keeps (``replay_mode``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import _replay_builders
import pytest
import pytest_asyncio
from _runtime_support import Store

from provkit.reference_providers import SqliteProvider

_BOTH_MODES_EXCEPT = (
    "test_replay_properties",
    "test_replay_cache",
    "test_replay_cache_properties",
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__
    if module.startswith("test_replay_") and module not in _BOTH_MODES_EXCEPT:
        metafunc.parametrize("replay_mode", ["full", "resumed"], indirect=True)


@pytest.fixture(autouse=True)
def replay_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """How ``_replay_builders.run`` runs turns in this test (``"full"`` unless parametrized)."""
    mode: str = getattr(request, "param", "full")
    _replay_builders.MODE = mode
    try:
        yield mode
    finally:
        _replay_builders.MODE = "full"


@pytest_asyncio.fixture(params=["memory", "file"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh database of each SQLite kind, closed after the test."""
    current = await Store.open(request.param, tmp_path)
    try:
        yield current
    finally:
        await current.provider.close()


@pytest.fixture
def provider(store: Store) -> SqliteProvider:
    """The provider currently open on ``store``."""
    return store.provider
