"""Reference providers and ``Runtime`` are async context managers that clean up on any exit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from provkit.contract import Provider, ProviderError
from provkit.reference_providers import SqliteProvider
from provkit.reference_providers.memory import MemoryProvider
from provkit.runtime import Client, OrchestrationContext, Runtime

OPENERS: dict[str, Callable[[Path], Awaitable[Any]]] = {
    "sqlite-memory": lambda _: SqliteProvider.open_memory(),
    "sqlite-file": lambda tmp: SqliteProvider.open_file(tmp / "cm.db"),
    "memory": lambda _: asyncio.sleep(0, MemoryProvider()),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", list(OPENERS))
async def test_async_with_closes_the_provider_also_when_the_block_raises(
    kind: str, tmp_path: Path
) -> None:
    """Leaving the block, normally or by an exception, closes the provider."""
    opened: list[Provider] = []

    async def use_and_fail() -> None:
        async with await OPENERS[kind](tmp_path) as provider:
            opened.append(provider)
            assert await provider.read("x") == []
            raise RuntimeError("inside the block")

    with pytest.raises(RuntimeError, match="inside the block"):
        await use_and_fail()
    with pytest.raises(ProviderError, match="closed"):
        await opened[0].read("x")


async def greet(ctx: OrchestrationContext, name: str) -> str:
    return f"hello {name}"


@pytest.mark.asyncio
async def test_async_with_runtime_runs_and_leaves_no_task_behind_when_the_block_raises() -> None:
    """``async with Runtime(...)`` serves instances inside the block and stops on leaving it."""
    outputs: list[object] = []

    async def serve_and_fail(provider: Provider) -> None:
        client = Client(provider)
        async with Runtime(provider, orchestrations={"greet": greet}):
            await client.start_orchestration("cm", "greet", "you")
            outputs.append((await client.wait_for_orchestration("cm", timeout=10)).output)
            raise RuntimeError("after the instance finished")

    async with await SqliteProvider.open_memory() as provider:
        with pytest.raises(RuntimeError, match="after the instance finished"):
            await serve_and_fail(provider)

    assert outputs == ["hello you"]
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("provkit-")] == []
