"""Helpers for the runtime integration tests: test options, databases, a runtime driver.

Imported by ``conftest.py`` and the ``test_runtime_*`` modules (tests/runtime is on
``sys.path`` under pytest's default import mode).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provkit.contract.events import Event
from provkit.reference_providers import SqliteProvider
from provkit.runtime import Runtime, RuntimeOptions

FAST = RuntimeOptions(
    orchestration_concurrency=2,
    worker_concurrency=2,
    poll_interval=0.05,
    retry_backoff_initial=0.005,
    retry_backoff_max=0.05,
    shutdown_grace=2.0,
)
"""Options for tests: idle loops wake quickly so each runtime stops within ~50 ms."""


@dataclass
class Store:
    """One SQLite database under test and the provider currently open on it."""

    kind: str
    provider: SqliteProvider
    path: Path | None

    @classmethod
    async def open(cls, kind: str, directory: Path) -> Store:
        """A fresh ``"memory"`` or ``"file"`` database (the file goes in ``directory``)."""
        if kind == "memory":
            return cls(kind, await SqliteProvider.open_memory(), None)
        path = directory / "runtime.db"
        return cls(kind, await SqliteProvider.open_file(path), path)

    async def reopen(self) -> SqliteProvider:
        """A fresh provider on the same file (a restarted process); memory keeps its provider."""
        if self.path is not None:
            await self.provider.close()
            self.provider = await SqliteProvider.open_file(self.path)
        return self.provider


@asynccontextmanager
async def running(
    provider: Any,
    orchestrations: Mapping[str, Any] | None = None,
    activities: Mapping[str, Any] | None = None,
    options: RuntimeOptions = FAST,
) -> AsyncIterator[Runtime]:
    """A started runtime on ``provider``, shut down (with its default grace) on exit."""
    runtime = Runtime(
        provider, orchestrations=orchestrations, activities=activities, options=options
    )
    async with runtime:
        yield runtime


async def history_until(
    provider: SqliteProvider,
    instance: str,
    predicate: Callable[[list[Event]], bool],
    within: float = 10.0,
) -> list[Event]:
    """Poll the instance's latest history until ``predicate`` holds; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        history = await provider.read(instance)
        if predicate(history):
            return history
        if time.monotonic() > deadline:
            raise AssertionError(f"history of {instance!r} never matched: {history}")
        await asyncio.sleep(0.005)
