"""Fixtures for runtime tests: a fresh database of each SQLite kind per test.

``store`` is parametrized over in-memory and file SQLite; ``provider`` is its open provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from _runtime_support import Store

from provkit.reference_providers import SqliteProvider


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
