"""Faulty providers and a mixed workload for the stress runner's failure-accounting tests.

Instance ``stress-n`` of the mixed workload fails in a way chosen by ``n % 6``, so a test
can predict every bucket from the number of launched instances.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from provkit.contract import Provider, ProviderError, WorkLease
from provkit.contract.messages import OrchestratorMessage, StartOrchestration
from provkit.reference_providers import SqliteProvider
from provkit.runtime import ActivityFn, OrchestrationContext, OrchestrationFn
from provkit.stress import Scenario, StressConfig
from provkit.stress._scenarios import tagged

KINDS = ("application", "configuration", "infrastructure", "timeouts", "completed", "start_errors")
"""What happens to instance ``stress-n``: ``KINDS[n % 6]``."""

POISONED_ATTEMPT = 99


def kind_of(instance: str) -> str:
    """The fate ``KINDS`` assigns to ``instance``."""
    return KINDS[int(instance.rsplit("-", 1)[1]) % len(KINDS)]


async def mixed_orchestration(ctx: OrchestrationContext, n: int) -> Any:
    """Fails, hangs or completes according to ``KINDS[n % 6]``."""
    kind = KINDS[n % len(KINDS)]
    task = tagged(ctx, 0, value=n)
    if kind == "application":
        await ctx.schedule_activity("Boom", task)
    elif kind == "configuration":
        await ctx.schedule_activity("NotRegistered", task)
    elif kind == "infrastructure":
        await ctx.schedule_activity("Poisoned", task)
    elif kind == "timeouts":
        await ctx.wait_for_event("never-raised")
    else:
        await ctx.schedule_activity("Ok", task)
    return n


def _build(
    _config: StressConfig, executed: Callable[[str], None]
) -> tuple[dict[str, OrchestrationFn], dict[str, ActivityFn]]:
    async def ok(task: Any) -> Any:
        executed(task["tag"])
        return task["value"]

    async def boom(task: Any) -> Any:
        raise RuntimeError("boom")

    async def poisoned(task: Any) -> Any:
        executed(task["tag"])
        return task["value"]

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
    expected_output=lambda _config, n: n,
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
                # Permanent: the client retries transient errors, which would hide the failure.
                raise ProviderError("enqueue_for_orchestrator", "injected start failure")
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


class TwinLeaseFactory:
    """In-memory SQLite whose worker queue hands each leased item to the next fetcher too.

    That is what a check-then-set claim does under contention: both fetchers win the same
    item, both run it, and both acks are accepted (each enqueues its completion).
    """

    async def create_provider(self) -> Provider:
        provider = await SqliteProvider.open_memory()
        fetch, ack, abandon = (
            provider.fetch_work_item,
            provider.ack_work_item,
            provider.abandon_work_item,
        )
        waiting: list[WorkLease] = []
        twins: set[str] = set()

        async def twin_fetch(lock_timeout: float, poll_timeout: float = 0.0) -> WorkLease | None:
            if waiting:
                lease = dataclasses.replace(waiting.pop(), lock_token=f"twin-{len(twins)}")
                twins.add(lease.lock_token)
                return lease
            lease = await fetch(lock_timeout, poll_timeout)
            if lease is not None:
                waiting.append(lease)
            return lease

        async def twin_ack(lock_token: str, completion: OrchestratorMessage | None) -> None:
            if lock_token not in twins:
                await ack(lock_token, completion)
            elif completion is not None:
                twins.discard(lock_token)
                await provider.enqueue_for_orchestrator(completion)

        async def twin_abandon(
            lock_token: str, delay: float | None = None, ignore_attempt: bool = False
        ) -> None:
            if lock_token in twins:
                twins.discard(lock_token)
                return
            await abandon(lock_token, delay, ignore_attempt)

        provider.fetch_work_item = twin_fetch  # type: ignore[method-assign]
        provider.ack_work_item = twin_ack  # type: ignore[method-assign]
        provider.abandon_work_item = twin_abandon  # type: ignore[method-assign]
        return provider

    async def dispose_provider(self, provider: Provider) -> None:
        await provider.close()
