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

from provkit.contract import Provider, ProviderError, ProviderWrapper
from provkit.contract.events import Event
from provkit.reference_providers import SqliteProvider
from provkit.runtime import (
    Client,
    OrchestrationContext,
    OrchestrationState,
    Runtime,
    RuntimeOptions,
)

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


class FlakyProvider(ProviderWrapper):
    """Forwards to ``inner``, logging each call; ``fail[op](args)`` may return an error to raise."""

    def __init__(self, inner: Provider) -> None:
        super().__init__(inner)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: dict[str, Callable[[tuple[Any, ...]], ProviderError | None]] = {}
        self._returned = asyncio.Event()

    async def forward(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((operation, args))
        rule = self.fail.get(operation)
        error = rule(args) if rule is not None else None
        if error is not None:
            raise error
        try:
            return await super().forward(operation, *args, **kwargs)
        finally:
            self._returned.set()

    async def wait_for_call(self, operation: str) -> tuple[Any, ...]:
        """The arguments of the first call of ``operation`` that returned or raised."""
        while True:
            self._returned.clear()
            found = [args for name, args in self.calls if name == operation]
            if found:
                return found[0]
            await self._returned.wait()

    def tokens(self, operation: str) -> list[str]:
        return [args[0] for name, args in self.calls if name == operation]


def first_time_per_token(
    error: Callable[[], ProviderError],
) -> Callable[[tuple[Any, ...]], ProviderError | None]:
    """A rule failing the first call for each lock token."""
    seen: set[str] = set()

    def rule(args: tuple[Any, ...]) -> ProviderError | None:
        if args[0] in seen:
            return None
        seen.add(args[0])
        return error()

    return rule


async def double(ctx: OrchestrationContext, x: int) -> int:
    result: int = await ctx.schedule_activity("double", x)
    return result


async def double_activity(x: int) -> int:
    return 2 * x


def fail_once(
    error: ProviderError,
) -> tuple[list[str], Callable[[tuple[Any, ...]], ProviderError | None]]:
    """A rule failing only the first call with ``error``, and the token list it fills."""
    failed: list[str] = []

    def rule(args: tuple[Any, ...]) -> ProviderError | None:
        if failed:
            return None
        failed.append(args[0])
        return error

    return failed, rule


async def run_double(flaky: FlakyProvider, instance: str, x: int) -> OrchestrationState:
    """Run the ``double`` orchestration on ``flaky`` to its end and return its final state."""
    client = Client(flaky.inner)
    async with Runtime(
        flaky,
        orchestrations={"double": double},
        activities={"double": double_activity},
        options=FAST,
    ):
        await client.start_orchestration(instance, "double", x)
        return await client.wait_for_orchestration(instance, timeout=10)
