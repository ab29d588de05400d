"""One scenario, both queues: adapters giving the orchestrator and worker queues one shape.

A test parametrized over ``QUEUES`` enqueues one item (an instance's start, or one activity
of it; instance A unless told otherwise), takes it, and acks, renews or abandons the token
through the adapter, so every rule the contract states for both queues is written once and
checked on each.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import pytest

from provkit.conformance._builders import (
    activity_done,
    external_item,
    fetch,
    fetch_work,
    first_turn_metadata,
    must_fetch,
    start_item,
    started,
    work_item,
)
from provkit.conformance._timing import Timing
from provkit.contract import LockLostError, Provider

A = "inst-a"
BYSTANDER = "inst-bystander"
GENUINE = "genuine"
STALE = "stale"

Operation = Literal["ack", "renew", "abandon"]
OPERATIONS: list[Operation] = ["ack", "renew", "abandon"]


class OrchestratorQueue:
    """The token operations of the orchestrator queue, exercised through instance A's start."""

    operation_names: ClassVar[dict[Operation, str]] = {
        "ack": "ack_orchestration_item",
        "renew": "renew_orchestration_item_lock",
        "abandon": "abandon_orchestration_item",
    }

    async def enqueue(self, provider: Provider, instance: str = A) -> None:
        await provider.enqueue_for_orchestrator(start_item(instance))

    async def take(self, provider: Provider, lock_timeout: float) -> str:
        """Fetch A's start (failing the test if it is not fetchable); return the token."""
        item = await must_fetch(provider, lock_timeout)
        assert (item.instance, item.messages) == (A, [start_item(A)])
        return item.lock_token

    async def try_take(
        self, provider: Provider, lock_timeout: float, instance: str = A
    ) -> tuple[str, int] | None:
        """Fetch; ``None`` if nothing is fetchable, else ``instance``'s (token, attempt_count)."""
        item = await fetch(provider, lock_timeout)
        if item is None:
            return None
        assert (item.instance, item.messages) == (instance, [start_item(instance)])
        return item.lock_token, item.attempt_count

    async def ack(self, provider: Provider, token: str, marker: str) -> None:
        """Ack A's turn, writing history and items tagged with ``marker``."""
        await provider.ack_orchestration_item(
            token,
            1,
            [started(input=marker)],
            [work_item(A, 2, input=marker)],
            [external_item(BYSTANDER, data=marker)],
            first_turn_metadata(),
        )

    async def renew(self, provider: Provider, token: str, extend_for: float) -> None:
        await provider.renew_orchestration_item_lock(token, extend_for)

    async def abandon(
        self,
        provider: Provider,
        token: str,
        delay: float | None = None,
        ignore_attempt: bool = False,
    ) -> None:
        await provider.abandon_orchestration_item(token, delay, ignore_attempt)

    async def call(
        self, provider: Provider, timing: Timing, operation: Operation, token: str, marker: str
    ) -> None:
        """Use ``token`` for ``operation`` (a renew asks for ``timing.long_lock``)."""
        if operation == "ack":
            await self.ack(provider, token, marker)
        elif operation == "renew":
            await self.renew(provider, token, timing.long_lock)
        else:
            await self.abandon(provider, token)

    async def assert_pending(self, provider: Provider, timing: Timing, attempt: int) -> None:
        """A's start is fetchable with ``attempt`` and no ack has left a trace."""
        item = await must_fetch(provider, timing.long_lock)
        assert (item.instance, item.messages, item.attempt_count) == (A, [start_item(A)], attempt)
        assert (item.orchestration_name, item.history) == (None, []), "an ack left a trace on A"
        assert await provider.list_executions(A) == []
        assert await fetch(provider, timing.long_lock) is None, "a bystander message appeared"
        assert await fetch_work(provider, timing.long_lock) is None, "an ack enqueued worker items"

    async def assert_done(self, provider: Provider, timing: Timing, marker: str = GENUINE) -> None:
        """Exactly the effects of the ack tagged ``marker`` exist, once."""
        assert await provider.read(A) == [started(input=marker)]
        lease = await fetch_work(provider, timing.long_lock)
        assert lease is not None, "the acked turn's worker item is missing"
        assert lease.item == work_item(A, 2, input=marker)
        assert await fetch_work(provider, timing.long_lock) is None
        item = await must_fetch(provider, timing.long_lock)
        assert (item.instance, item.messages) == (
            BYSTANDER,
            [external_item(BYSTANDER, data=marker)],
        )
        assert await fetch(provider, timing.long_lock) is None


class WorkerQueue:
    """The token operations of the worker queue, exercised through one activity item."""

    operation_names: ClassVar[dict[Operation, str]] = {
        "ack": "ack_work_item",
        "renew": "renew_work_item_lock",
        "abandon": "abandon_work_item",
    }

    async def enqueue(self, provider: Provider, instance: str = A) -> None:
        await provider.enqueue_for_worker(work_item(instance, 1))

    async def take(self, provider: Provider, lock_timeout: float) -> str:
        """Lease A's activity (failing the test if it is not fetchable); return the token."""
        lease = await fetch_work(provider, lock_timeout)
        assert lease is not None, "fetch_work_item returned None although an item was queued"
        assert lease.item == work_item(A, 1)
        return lease.lock_token

    async def try_take(
        self, provider: Provider, lock_timeout: float, instance: str = A
    ) -> tuple[str, int] | None:
        """Fetch; ``None`` if nothing is fetchable, else the item's (token, attempt_count)."""
        lease = await fetch_work(provider, lock_timeout)
        if lease is None:
            return None
        assert lease.item == work_item(instance, 1)
        return lease.lock_token, lease.attempt_count

    async def ack(self, provider: Provider, token: str, marker: str) -> None:
        """Ack the item with a completion whose result is ``marker``."""
        await provider.ack_work_item(token, activity_done(A, 1, marker))

    async def renew(self, provider: Provider, token: str, extend_for: float) -> None:
        await provider.renew_work_item_lock(token, extend_for)

    async def abandon(
        self,
        provider: Provider,
        token: str,
        delay: float | None = None,
        ignore_attempt: bool = False,
    ) -> None:
        await provider.abandon_work_item(token, delay, ignore_attempt)

    async def call(
        self, provider: Provider, timing: Timing, operation: Operation, token: str, marker: str
    ) -> None:
        """Use ``token`` for ``operation`` (a renew asks for ``timing.long_lock``)."""
        if operation == "ack":
            await self.ack(provider, token, marker)
        elif operation == "renew":
            await self.renew(provider, token, timing.long_lock)
        else:
            await self.abandon(provider, token)

    async def assert_pending(self, provider: Provider, timing: Timing, attempt: int) -> None:
        """The item is fetchable with ``attempt`` and no completion was enqueued."""
        lease = await fetch_work(provider, timing.long_lock)
        assert lease is not None, "the worker item is gone"
        assert (lease.item, lease.attempt_count) == (work_item(A, 1), attempt)
        assert await fetch(provider, timing.long_lock) is None, "an ack enqueued a completion"

    async def assert_done(self, provider: Provider, timing: Timing, marker: str = GENUINE) -> None:
        """The item is gone and only the completion tagged ``marker`` was enqueued, once."""
        assert await fetch_work(provider, timing.long_lock) is None
        item = await must_fetch(provider, timing.long_lock)
        assert (item.instance, item.messages) == (A, [activity_done(A, 1, marker)])
        assert await fetch(provider, timing.long_lock) is None


Queue = OrchestratorQueue | WorkerQueue

QUEUES = [
    pytest.param(OrchestratorQueue(), id="orchestrator"),
    pytest.param(WorkerQueue(), id="worker"),
]
"""Parametrize a test with ``queue`` over both queues."""


async def assert_lock_lost(
    provider: Provider, timing: Timing, queue: Queue, operation: Operation, token: str
) -> None:
    """Using ``token`` raises a permanent ``LockLostError`` naming the operation."""
    with pytest.raises(LockLostError) as raised:
        await queue.call(provider, timing, operation, token, STALE)
    assert raised.value.retryable is False
    assert raised.value.operation == queue.operation_names[operation]
