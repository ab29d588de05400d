"""A provider skeleton to copy: every contract member is here, none is implemented yet.

Copy this file into your package, rename it, and implement the operations in the order of
docs/provider-guide.md, checking each step with

    pytest --provider=skeleton_provider:SkeletonFactory -m foundation -x

The contract of each operation is the docstring of the same method of
``provkit.contract.Provider``; ``provkit.reference_providers.memory`` implements all of them
in plain Python.
"""

from __future__ import annotations

from collections.abc import Sequence

from provkit.contract import (
    ActivityId,
    Capability,
    ExecutionMetadata,
    OrchestrationItem,
    Provider,
    WorkLease,
)
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage


class SkeletonProvider:
    """Storage for durable orchestrations, to be written (declares no capability yet)."""

    def __init__(self) -> None:
        self.name = "skeleton"
        self.capabilities: frozenset[Capability] = frozenset()

    # -- orchestrator queue: steps 1 to 4 of the guide -------------------------------------

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        raise NotImplementedError("enqueue_for_orchestrator")

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        raise NotImplementedError("fetch_orchestration_item")

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
        raise NotImplementedError("ack_orchestration_item")

    async def read(self, instance: str) -> list[Event]:
        raise NotImplementedError("read")

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        raise NotImplementedError("abandon_orchestration_item")

    async def renew_orchestration_item_lock(self, lock_token: str, extend_for: float) -> None:
        raise NotImplementedError("renew_orchestration_item_lock")

    # -- worker queue: steps 5 to 7 ----------------------------------------------------------

    async def enqueue_for_worker(self, item: ActivityExecute) -> None:
        raise NotImplementedError("enqueue_for_worker")

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        raise NotImplementedError("fetch_work_item")

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        raise NotImplementedError("ack_work_item")

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        raise NotImplementedError("abandon_work_item")

    async def renew_work_item_lock(self, lock_token: str, extend_for: float) -> None:
        raise NotImplementedError("renew_work_item_lock")

    # -- executions: step 8 ----------------------------------------------------------------

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        raise NotImplementedError("append_history")

    async def read_execution(self, instance: str, execution_id: int) -> list[Event]:
        raise NotImplementedError("read_execution")

    async def list_executions(self, instance: str) -> list[int]:
        raise NotImplementedError("list_executions")

    async def close(self) -> None:
        """Release what the provider holds; nothing yet."""


class SkeletonFactory:
    """``--provider=skeleton_provider:SkeletonFactory``: a fresh provider for every test."""

    async def create_provider(self) -> Provider:
        return SkeletonProvider()

    async def dispose_provider(self, provider: Provider) -> None:
        await provider.close()
