"""Mutants of history: read, read_execution, list_executions, append_history, executions."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from typing import ClassVar

from provkit.contract import (
    ActivityId,
    DuplicateEventError,
    ExecutionMetadata,
    NotFoundError,
    OrchestrationItem,
)
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage
from provkit.mutants._bases import Breaks, MemoryMutant, SqlEditMutant, SqlEdits, SqliteMutant
from provkit.reference_providers import _sqlite_ops as ops
from provkit.reference_providers._sqlite_conn import UnitOfWork
from provkit.reference_providers._sqlite_decoded import HistoryCache
from provkit.reference_providers._values import to_blob
from provkit.reference_providers.memory import _Instance

__all__ = [
    "AppendCreatesRecord",
    "AppendNeedsEvents",
    "AppendPartiallyAppliesDuplicates",
    "AppendSkipsExecutionRecord",
    "AppendToCurrentExecution",
    "CurrentExecutionIsTheLastNamed",
    "CurrentIgnoresAppendedExecutions",
    "EventIdsSortedAsText",
    "ListExecutionsInCreationOrder",
    "ListExecutionsUnknownRaises",
    "ReadExecutionFallsBackToCurrent",
    "ReadReturnsFirstExecution",
    "ReadUnknownRaises",
]


class ReadReturnsFirstExecution(SqlEditMutant):
    """Bug: read() returns the history of the first execution instead of the current one."""

    breaks = Breaks("Provider.read", "Events of the current execution in event_id order")
    sql_edits: ClassVar[SqlEdits] = {
        "read": {
            "SELECT MAX(execution_id) FROM executions": "SELECT MIN(execution_id) FROM executions"
        }
    }


class EventIdsSortedAsText(SqlEditMutant):
    """Bug: history is sorted by event id as text, so event 10 comes before event 2."""

    breaks = Breaks("Provider.read_execution", "Events of one execution in event_id order")
    sql_edits: ClassVar[SqlEdits] = {
        operation: {"ORDER BY event_id": "ORDER BY CAST(event_id AS TEXT)"}
        for operation in ("read", "read_execution", "fetch_orchestration_item")
    }


class ReadExecutionFallsBackToCurrent(MemoryMutant):
    """Bug: read_execution of an execution the instance never had returns the current one."""

    breaks = Breaks("Provider.read_execution", "[] if unknown")

    async def read_execution(self, instance: str, execution_id: int) -> list[Event]:
        found = await super().read_execution(instance, execution_id)
        return found or await self.read(instance)


class ListExecutionsInCreationOrder(MemoryMutant):
    """Bug: list_executions lists execution ids in the order they were created."""

    breaks = Breaks("Provider.list_executions", "Execution ids of instance, ascending")

    async def list_executions(self, instance: str) -> list[int]:
        record = self._instances.get(instance)
        return [] if record is None else list(record.executions)


class AppendNeedsEvents(MemoryMutant):
    """Bug: append_history with no events does not create the execution."""

    breaks = Breaks(
        "Provider.append_history", "it creates the execution if absent (also when events is empty)"
    )

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        if events:
            await super().append_history(instance, execution_id, events)


class AppendSkipsExecutionRecord(SqliteMutant):
    """Bug: append_history stores events without recording their execution."""

    breaks = Breaks(
        "Provider.append_history",
        "makes the current execution max(current, execution_id)",
    )

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        key = to_blob(instance)
        await self._run(
            "append_history",
            lambda conn: _insert_only_history(conn, key, execution_id, events, self._decoded),
        )


def _insert_only_history(
    conn: sqlite3.Connection,
    key: bytes,
    execution_id: int,
    events: Sequence[Event],
    cache: HistoryCache,
) -> None:
    with UnitOfWork(conn):
        ops._insert_history(conn, "append_history", key, execution_id, events, cache)


class AppendCreatesRecord(MemoryMutant):
    """Bug: append_history to an unknown instance creates its record, with a name."""

    breaks = Breaks("Provider.append_history", "it never creates an instance record")

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        await super().append_history(instance, execution_id, events)
        record = self._instances[instance]
        if record.name is None:
            record.name, record.version = "appended", "0"


class AppendPartiallyAppliesDuplicates(MemoryMutant):
    """Bug: append_history stores the events before a duplicate id, then raises."""

    breaks = Breaks(
        "Provider.append_history",
        "An event_id already stored or repeated in events raises DuplicateEventError and "
        "appends nothing.",
    )

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        for event in events:
            try:
                await super().append_history(instance, execution_id, [event])
            except DuplicateEventError:
                raise DuplicateEventError("append_history", f"event {event.event_id}") from None


class CurrentExecutionIsTheLastNamed(MemoryMutant):
    """Bug: the current execution is the last one an ack or append named, even a lower one."""

    breaks = Breaks(
        "Provider.ack_orchestration_item", "make the current execution max(current, execution_id)"
    )

    def __init__(self) -> None:
        super().__init__()
        self._last_named: dict[str, int] = {}

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
        instance = next((i for i, lock in self._locks.items() if lock.token == lock_token), "")
        await super().ack_orchestration_item(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled_activities,
        )
        self._last_named[instance] = execution_id

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        await super().append_history(instance, execution_id, events)
        self._last_named[instance] = execution_id

    async def read(self, instance: str) -> list[Event]:
        if instance not in self._last_named:
            return await super().read(instance)
        return await self.read_execution(instance, self._last_named[instance])

    def _lock_instance(self, instance: str, now: int, lock_timeout: float) -> OrchestrationItem:
        item = super()._lock_instance(instance, now, lock_timeout)
        current = self._last_named.get(instance)
        if current is None:
            return item
        record = self._instances.get(instance, _Instance())
        history = list(record.executions[current].events)
        return dataclasses.replace(item, execution_id=current, history=history)


class CurrentIgnoresAppendedExecutions(MemoryMutant):
    """Bug: an execution created by append_history never becomes current, however high."""

    breaks = Breaks(
        "Provider",
        "An instance's current execution is the highest execution id that an "
        "ack_orchestration_item or append_history named for it",
    )

    def __init__(self) -> None:
        super().__init__()
        self._appended_only: set[tuple[str, int]] = set()

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        record = self._instances.get(instance)
        if record is None or execution_id not in record.executions:
            self._appended_only.add((instance, execution_id))
        await super().append_history(instance, execution_id, events)

    def _current(self, instance: str) -> int:
        record = self._instances.get(instance, _Instance())
        named = [e for e in record.executions if (instance, e) not in self._appended_only]
        return max(named, default=1)

    async def read(self, instance: str) -> list[Event]:
        return await self.read_execution(instance, self._current(instance))

    def _lock_instance(self, instance: str, now: int, lock_timeout: float) -> OrchestrationItem:
        item = super()._lock_instance(instance, now, lock_timeout)
        record = self._instances.get(instance, _Instance())
        current = self._current(instance)
        execution = record.executions.get(current)
        history = [] if execution is None else list(execution.events)
        return dataclasses.replace(item, execution_id=current, history=history)


class ReadUnknownRaises(MemoryMutant):
    """Bug: read of an instance the provider never heard of raises NotFoundError."""

    breaks = Breaks("Provider.read", "[] if unknown.")

    async def read(self, instance: str) -> list[Event]:
        if instance not in self._instances:
            raise NotFoundError("read", f"no instance {instance!r}")
        return await super().read(instance)


class ListExecutionsUnknownRaises(MemoryMutant):
    """Bug: list_executions of an unknown instance raises NotFoundError."""

    breaks = Breaks("Provider.list_executions", "[] if unknown.")

    async def list_executions(self, instance: str) -> list[int]:
        if instance not in self._instances:
            raise NotFoundError("list_executions", f"no instance {instance!r}")
        return await super().list_executions(instance)


class AppendToCurrentExecution(MemoryMutant):
    """Bug: append_history appends to the current execution when the named one is older."""

    breaks = Breaks(
        "Provider.append_history",
        "Append events to execution execution_id outside a turn (tests, repair).",
    )

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        record = self._instances.get(instance)
        target = execution_id if record is None else max(record.current, execution_id)
        await super().append_history(instance, target, events)
