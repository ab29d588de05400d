"""``ProviderWrapper``: the one way to wrap a provider (instrument it, guard it, break it).

A wrapper is a provider too: it defines every contract member itself, so the structural check
and ``isinstance`` accept it on every supported Python, and it forwards anything else
(capability methods such as ``set_clock``) to the provider it wraps. It never changes what a
call does unless a subclass says so.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from provkit.contract._model import ActivityId, ExecutionMetadata, OrchestrationItem, WorkLease
from provkit.contract._provider import Capability, Provider
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage


class ProviderWrapper:
    """A provider that forwards every call to ``inner``; subclass it to change some of them.

    Two ways to change behaviour, usable together:

    - Override ``forward(operation, *args, **kwargs)`` to act on *every* call: it receives
      each contract operation (arguments positional, in the contract's order) and each
      coroutine method of ``inner`` reached through the wrapper (capability methods such as
      ``corrupt_history``), and by default awaits ``inner``'s method of that name. Timing,
      deadlines, call logs and injected errors go here.
    - Override one contract method (``ack_work_item``...) to change that operation only;
      call ``self.inner`` (or ``super()``) for the real work.

    ``name`` and ``capabilities`` are ``inner``'s unless a subclass overrides them; plain
    attributes and synchronous methods of ``inner`` (``set_clock``) pass through unchanged.
    """

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        """The wrapped provider."""

    async def forward(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Perform ``operation`` on ``inner``; every call the wrapper forwards comes here."""
        return await getattr(self.inner, operation)(*args, **kwargs)

    @property
    def name(self) -> str:
        """The wrapped provider's name."""
        return self.inner.name

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The wrapped provider's capabilities (its capability methods are forwarded too)."""
        return self.inner.capabilities

    if not TYPE_CHECKING:  # for mypy, a wrapper has the contract's members and no others

        def __getattr__(self, name: str) -> Any:
            # Only reached for names the wrapper lacks: capability and provider-specific
            # members. Dunders and ``inner`` itself (not set yet) are never forwarded.
            if name == "inner" or (name.startswith("__") and name.endswith("__")):
                raise AttributeError(name)
            value = getattr(self.inner, name)
            if name.startswith("_") or not inspect.iscoroutinefunction(inspect.unwrap(value)):
                return value

            @functools.wraps(value)
            async def call(*args: Any, **kwargs: Any) -> Any:
                return await self.forward(name, *args, **kwargs)

            return call

    # -- orchestrator queue ------------------------------------------------------------

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        await self.forward("enqueue_for_orchestrator", item, delay)

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        result: OrchestrationItem | None = await self.forward(
            "fetch_orchestration_item", lock_timeout, poll_timeout
        )
        return result

    async def ack_orchestration_item(
        self,
        lock_token: str,
        execution_id: int,
        history_delta: Sequence[Event],
        worker_items: Sequence[ActivityExecute],
        orchestrator_items: Sequence[OrchestratorMessage],
        metadata: ExecutionMetadata,
        cancelled_activities: Sequence[ActivityId] = (),
    ) -> None:
        await self.forward(
            "ack_orchestration_item",
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled_activities,
        )

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        await self.forward("abandon_orchestration_item", lock_token, delay, ignore_attempt)

    async def renew_orchestration_item_lock(self, lock_token: str, extend_for: float) -> None:
        await self.forward("renew_orchestration_item_lock", lock_token, extend_for)

    # -- worker queue ------------------------------------------------------------------

    async def enqueue_for_worker(self, item: ActivityExecute) -> None:
        await self.forward("enqueue_for_worker", item)

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        result: WorkLease | None = await self.forward("fetch_work_item", lock_timeout, poll_timeout)
        return result

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        await self.forward("ack_work_item", lock_token, completion)

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        await self.forward("abandon_work_item", lock_token, delay, ignore_attempt)

    async def renew_work_item_lock(self, lock_token: str, extend_for: float) -> None:
        await self.forward("renew_work_item_lock", lock_token, extend_for)

    # -- history -----------------------------------------------------------------------

    async def read(self, instance: str) -> list[Event]:
        result: list[Event] = await self.forward("read", instance)
        return result

    async def read_execution(self, instance: str, execution_id: int) -> list[Event]:
        result: list[Event] = await self.forward("read_execution", instance, execution_id)
        return result

    async def list_executions(self, instance: str) -> list[int]:
        result: list[int] = await self.forward("list_executions", instance)
        return result

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        await self.forward("append_history", instance, execution_id, events)

    # -- lifecycle ---------------------------------------------------------------------

    async def close(self) -> None:
        await self.forward("close")
