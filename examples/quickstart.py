"""Quickstart: a fan-out orchestration on in-memory SQLite; prints its status and output."""

import asyncio

from provkit.reference_providers import SqliteProvider
from provkit.runtime import Client, OrchestrationContext, Runtime


async def greet(name: str) -> str:
    return f"Hello, {name}!"


async def greet_all(ctx: OrchestrationContext, names: list[str]) -> list[str]:
    return await ctx.when_all([ctx.schedule_activity("greet", name) for name in names])


async def main() -> None:
    provider = await SqliteProvider.open_memory()
    orchestrations, activities = {"greet_all": greet_all}, {"greet": greet}
    async with Runtime(provider, orchestrations=orchestrations, activities=activities):
        client = Client(provider)
        await client.start_orchestration("hello-1", "greet_all", ["Ada", "Alan"])
        state = await client.wait_for_orchestration("hello-1", timeout=10)
    await provider.close()
    print(state.status.value, state.output)


asyncio.run(main())
