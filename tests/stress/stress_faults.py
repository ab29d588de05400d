"""Faulty providers and a mixed workload for the stress runner's failure-accounting tests.

Instance ``stress-n`` of the mixed workload fails in a way chosen by ``n % 6``, so a test
can predict every bucket from the number of launched instances.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from provkit.contract import Provider, TransientError, WorkLease
from provkit.contract.messages import OrchestratorMessage, StartOrchestration
from provkit.reference_providers import SqliteProvider
from provkit.runtime import ActivityFn, OrchestrationContext, OrchestrationFn
from provkit.stress import Scenario, StressConfig

KINDS = ("application", "configuration", "infrastructure", "timeouts", "completed", "start_errors")
"""What happens to instance ``stress-n``: ``KINDS[n % 6]``."""

POISONED_ATTEMPT = 99


def kind_of(instance: str) -> str:
    """The fate ``KINDS`` assigns to ``instance``."""
    return KINDS[int(instance.rsplit("-", 1)[1]) % len(KINDS)]


async def mixed_orchestration(ctx: OrchestrationContext, n: int) -> Any:
    """Fails, hangs or completes according to ``KINDS[n % 6]``."""
    kind = KINDS[n % len(KINDS)]
    if kind == "application":
        await ctx.schedule_activity("Boom", n)
    elif kind == "configuration":
        await ctx.schedule_activity("NotRegistered", n)
    elif kind == "infrastructure":
        await ctx.schedule_activity("Poisoned", n)
    elif kind == "timeouts":
        await ctx.wait_for_event("never-raised")
    else:
        await ctx.schedule_activity("Ok", n)
    return n


def _build(
    _config: StressConfig, executed: Callable[[], None]
) -> tuple[dict[str, OrchestrationFn], dict[str, ActivityFn]]:
    async def ok(value: Any) -> Any:
        executed()
        return value

    async def boom(value: Any) -> Any:
        raise RuntimeError("boom")

    async def poisoned(value: Any) -> Any:
        executed()
        return value

    return (
        {"Mixed": mixed_orchestration},
        {"Ok": ok, "Boom": boom, "Poisoned": poisoned},
    )


MIXED = Scenario(
    name="mixed",
    description="each failure category in turn",
    orchestration="Mixed",
    build=_build,
    make_input=lambda _config, n: n,
)


class FaultySqliteFactory:
    """In-memory SQLite whose worker queue redelivers ``poison`` items as already-poisoned.

    With ``fail_starts``, starting an instance whose kind is ``start_errors`` raises.
    """

    def __init__(self, poison: frozenset[str] = frozenset({"Poisoned"}), fail_starts: bool = True):
        self._poison = poison
        self._fail_starts = fail_starts

    async def create_provider(self) -> Provider:
        provider = await SqliteProvider.open_memory()
        fetch_work_item = provider.fetch_work_item
        enqueue = provider.enqueue_for_orchestrator
        poison, fail_starts = self._poison, self._fail_starts

        async def poisoning_fetch(
            lock_timeout: float, poll_timeout: float = 0.0
        ) -> WorkLease | None:
            lease = await fetch_work_item(lock_timeout, poll_timeout)
            if lease is not None and ("*" in poison or lease.item.name in poison):
                return dataclasses.replace(lease, attempt_count=POISONED_ATTEMPT)
            return lease

        async def failing_enqueue(item: OrchestratorMessage, delay: float | None = None) -> None:
            starting = isinstance(item, StartOrchestration)
            if fail_starts and starting and kind_of(item.instance) == "start_errors":
                await asyncio.sleep(0)
                raise TransientError("enqueue_for_orchestrator", "injected start failure")
            await enqueue(item, delay)

        # Instance attributes shadow the methods, so every wrapper sees the faulty ones.
        provider.fetch_work_item = poisoning_fetch  # type: ignore[method-assign]
        provider.enqueue_for_orchestrator = failing_enqueue  # type: ignore[method-assign]
        return provider

    async def dispose_provider(self, provider: Provider) -> None:
        await provider.close()


class PoisonEverythingFactory(FaultySqliteFactory):
    """Every activity of every workload is delivered as poison: all instances fail."""

    def __init__(self) -> None:
        super().__init__(poison=frozenset({"*"}), fail_starts=False)
