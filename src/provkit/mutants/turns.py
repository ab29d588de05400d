"""Mutants of ack_orchestration_item: what one committed turn applies, and that it is one unit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

from provkit.contract import ActivityId, DuplicateEventError, ExecutionMetadata, NotFoundError
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage
from provkit.mutants._bases import Breaks, MemoryMutant, SqlEditMutant, SqlEdits, SqliteMutant
from provkit.reference_providers import _sqlite_ops as ops
from provkit.reference_providers._values import to_blob
from provkit.reference_providers.memory import _Execution, _Message, _WorkItem

__all__ = [
    "AckAcceptsUnissuedToken",
    "AckAppendsToCurrentExecution",
    "AckCreatesExecutionOnlyWithEvents",
    "AckDeletesMessagesArrivingDuringLock",
    "AckIgnoresOrchestrationName",
    "AckIgnoresStatus",
    "AckIgnoresTimerFireTime",
    "AckKeepsBatch",
    "AckKeepsLock",
    "AckNotAtomic",
    "AckRoutesItemsToAckedInstance",
    "AckWorkerItemsReversed",
    "CancelBeforeInsert",
    "CancelIgnoresExecutionId",
    "CancelMatchesActivityIdOnly",
    "CancelSkipsLeasedItems",
    "CancelledActivitiesIgnored",
    "DeletedParentAckRaises",
    "DuplicateEventIdsIgnored",
    "FailedAckReleasesLock",
    "RepeatedIdsWithinDeltaAccepted",
]


class _AckMutant(MemoryMutant):
    """An in-memory mutant whose bug is in the ack; ``_correct_ack`` is the correct one."""

    async def _correct_ack(
        self,
        lock_token: str,
        execution_id: int,
        history_delta: Sequence[Event],
        worker_items: Sequence[ActivityExecute],
        orchestrator_items: Sequence[OrchestratorMessage],
        metadata: ExecutionMetadata,
        cancelled_activities: Sequence[ActivityId],
    ) -> None:
        await MemoryMutant.ack_orchestration_item(
            self,
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled_activities,
        )


# -- the token and the batch --------------------------------------------------------------


class AckAcceptsUnissuedToken(SqlEditMutant):
    """Bug: ack with a token nobody issued falls back to some held lock and applies the turn."""

    breaks = Breaks(
        "Provider.ack_orchestration_item", "require that lock_token is live (else LockLostError)"
    )
    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {
            "DELETE FROM instance_locks WHERE token = ? RETURNING": (
                "DELETE FROM instance_locks WHERE token = COALESCE("
                "(SELECT token FROM instance_locks WHERE token = ?),"
                " (SELECT token FROM instance_locks LIMIT 1)) RETURNING"
            )
        }
    }


class AckDeletesMessagesArrivingDuringLock(SqlEditMutant):
    """Bug: ack deletes every message of the instance, not just the fetched batch."""

    breaks = Breaks("Provider.ack_orchestration_item", "delete exactly the batch's messages")
    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {"AND batch_token = ?": "AND ? IS NOT NULL"}
    }


class AckKeepsBatch(_AckMutant):
    """Bug: ack releases the lock but leaves the batch's messages queued (redelivered)."""

    breaks = Breaks("Provider.ack_orchestration_item", "delete exactly the batch's messages")

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
        batch = [m for lock in self._locks.values() if lock.token == lock_token for m in lock.batch]
        await self._correct_ack(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled_activities,
        )
        self._queue = sorted([*self._queue, *batch], key=lambda m: m.seq)


# -- records, executions, history -------------------------------------------------------


class AckIgnoresOrchestrationName(_AckMutant):
    """Bug: ack never creates or updates the instance record (no name, no version)."""

    breaks = Breaks(
        "Provider.ack_orchestration_item",
        "create the instance record if metadata.orchestration_name is set",
    )

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
        await self._correct_ack(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            dataclasses.replace(metadata, orchestration_name=None),
            cancelled_activities,
        )


class AckCreatesExecutionOnlyWithEvents(_AckMutant):
    """Bug: an ack with an empty history delta does not create its execution."""

    breaks = Breaks("Provider.ack_orchestration_item", "create execution execution_id if absent")

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
        instance = next((i for i, lock in self._locks.items() if lock.token == lock_token), None)
        record = self._instances.get(instance or "")
        existed = record is not None and execution_id in record.executions
        await self._correct_ack(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled_activities,
        )
        if instance is not None and not existed and not history_delta:
            del self._instances[instance].executions[execution_id]


class AckAppendsToCurrentExecution(_AckMutant):
    """Bug: a late ack for an older execution appends its events to the current one."""

    breaks = Breaks(
        "Provider.ack_orchestration_item", "append history_delta to execution execution_id"
    )

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
        record = self._instances.get(instance)
        current = execution_id if record is None else max(record.current, execution_id)
        await self._correct_ack(
            lock_token,
            current,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled_activities,
        )


class RepeatedIdsWithinDeltaAccepted(MemoryMutant):
    """Bug: events repeating an id within one delta are stored instead of rejected."""

    breaks = Breaks(
        "Provider.ack_orchestration_item",
        "an event_id already stored or repeated in the delta raises DuplicateEventError",
    )

    @staticmethod
    def _check_new_events(
        operation: str,
        instance: str,
        execution_id: int,
        execution: _Execution,
        events: Sequence[Event],
    ) -> None:
        stored = {e.event_id for e in execution.events}
        if stored.intersection(e.event_id for e in events):
            raise DuplicateEventError(operation, f"an event id of {instance!r} is stored")


class DuplicateEventIdsIgnored(SqlEditMutant):
    """Bug: append_history and ack silently drop events whose id is already stored."""

    breaks = Breaks(
        "Provider.ack_orchestration_item",
        "an event_id already stored or repeated in the delta raises DuplicateEventError",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "append_history": {"INSERT INTO history": "INSERT OR IGNORE INTO history"},
        "ack_orchestration_item": {"INSERT INTO history": "INSERT OR IGNORE INTO history"},
    }


# -- what the turn enqueues ---------------------------------------------------------------


class AckWorkerItemsReversed(_AckMutant):
    """Bug: an ack enqueues its worker items in reverse order."""

    breaks = Breaks("Provider.ack_orchestration_item", "enqueue worker_items in order")

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
        await self._correct_ack(
            lock_token,
            execution_id,
            history_delta,
            worker_items[::-1],
            orchestrator_items,
            metadata,
            cancelled_activities,
        )


class AckRoutesItemsToAckedInstance(_AckMutant):
    """Bug: an ack queues its orchestrator items on the acked instance, whatever they address."""

    breaks = Breaks(
        "Provider.ack_orchestration_item",
        "and orchestrator_items on each item's own instance's queue",
    )

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
        await self._correct_ack(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            (),
            metadata,
            cancelled_activities,
        )
        now = self._clock.now_ms()
        for message in orchestrator_items:
            visible_at = max(now, message.visible_at_ms or now)
            self._queue.append(_Message(next(self._seq), instance, message, visible_at))


class AckIgnoresTimerFireTime(_AckMutant):
    """Bug: timers an ack enqueues are visible at once instead of at their fire time."""

    breaks = Breaks(
        "Provider.ack_orchestration_item",
        "with the visibility of enqueue_for_orchestrator without a delay",
    )

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
        await self._correct_ack(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            (),
            metadata,
            cancelled_activities,
        )
        now = self._clock.now_ms()
        for message in orchestrator_items:
            self._queue.append(_Message(next(self._seq), message.instance, message, now))


# -- cancellation ----------------------------------------------------------------------------


class CancelledActivitiesIgnored(SqliteMutant):
    """Bug: ack ignores cancelled_activities, so cancelled worker items stay queued."""

    breaks = Breaks(
        "Provider.ack_orchestration_item",
        "then delete the worker items whose instance, execution id and activity id all equal",
    )

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
        await super().ack_orchestration_item(
            lock_token, execution_id, history_delta, worker_items, orchestrator_items, metadata
        )


class CancelSkipsLeasedItems(SqlEditMutant):
    """Bug: cancellation deletes only worker items nobody has leased."""

    breaks = Breaks("Provider.ack_orchestration_item", "of cancelled_activities, leased or not")
    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {"AND activity_id = ?": "AND activity_id = ? AND token IS NULL"}
    }


class CancelIgnoresExecutionId(SqlEditMutant):
    """Bug: cancellation matches instance and activity id but not the execution id."""

    breaks = Breaks(
        "Provider.ack_orchestration_item", "an item differing in any one of the three stays"
    )
    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {
            "WHERE instance = ? AND execution_id = ? AND activity_id = ?": (
                "WHERE instance = ? AND ? IS NOT NULL AND activity_id = ?"
            )
        }
    }


class CancelMatchesActivityIdOnly(_AckMutant):
    """Bug: cancellation deletes every worker item with a cancelled activity id, any instance."""

    breaks = Breaks(
        "Provider.ack_orchestration_item", "an item differing in any one of the three stays"
    )

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
        await self._correct_ack(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            (),
        )
        ids = {a.activity_id for a in cancelled_activities}
        self._work = [w for w in self._work if w.item.id not in ids]


class CancelBeforeInsert(_AckMutant):
    """Bug: cancellations run before the ack's worker items are queued, so those survive."""

    breaks = Breaks(
        "Provider.ack_orchestration_item",
        "then delete the worker items whose instance, execution id and activity id all equal",
    )

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
        await self._correct_ack(
            lock_token,
            execution_id,
            history_delta,
            (),
            orchestrator_items,
            metadata,
            cancelled_activities,
        )
        now = self._clock.now_ms()
        self._work.extend(_WorkItem(next(self._seq), item, now) for item in worker_items)


# -- one unit --------------------------------------------------------------------------------


class AckNotAtomic(SqlEditMutant):
    """Bug: an ack that fails part-way commits the parts it had already written."""

    breaks = Breaks("Provider.ack_orchestration_item", "On any failure nothing is applied")
    # Undoing a failed unit keeps what it wrote: as a savepoint in a batch (the first
    # attempt's failure has the batch run again with savepoints) and as a transaction alone.
    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {"ROLLBACK TO unit": "SELECT 'kept'", "ROLLBACK": "COMMIT"}
    }


class FailedAckReleasesLock(SqliteMutant):
    """Bug: an ack rejected for a duplicate event id also releases the instance lock."""

    breaks = Breaks(
        "Provider.ack_orchestration_item",
        "the lock stays held, so the caller may retry with the same token",
    )

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
        try:
            await super().ack_orchestration_item(
                lock_token,
                execution_id,
                history_delta,
                worker_items,
                orchestrator_items,
                metadata,
                cancelled_activities,
            )
        except DuplicateEventError:
            await self.abandon_orchestration_item(lock_token)
            raise


class AckKeepsLock(_AckMutant):
    """Bug: a successful ack keeps the instance locked until the lock expires."""

    breaks = Breaks(
        "Provider.ack_orchestration_item",
        "Commit one turn atomically, then release the instance lock.",
    )

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
        held = {i: lock for i, lock in self._locks.items() if lock.token == lock_token}
        await self._correct_ack(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled_activities,
        )
        for instance, lock in held.items():
            lock.token, lock.batch = f"kept-{lock.token}", []
            self._locks[instance] = lock


class AckIgnoresStatus(SqlEditMutant):
    """Bug: an ack never stores metadata.status: every execution stays Running."""

    breaks = Breaks("Provider.ack_orchestration_item", "store metadata.status/output")
    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {
            "COALESCE(:status, :running)": ":running",
            "status = COALESCE(:status, status)": "status = status",
        }
    }


class DeletedParentAckRaises(SqliteMutant):
    """Bug: a child's first turn after its parent was deleted raises NotFoundError.

    The deleted-parent rule says that ack succeeds (storing nothing, removing the child); a
    runtime seeing an error would retry the turn, or fail it, instead of moving on.
    """

    breaks = Breaks(
        "Provider.ack_orchestration_item",
        "A provider declaring DELETION also applies its deleted-parent rule (see Deletion).",
    )

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
        parent = metadata.parent_instance
        if metadata.orchestration_name is not None and parent is not None:
            key = to_blob(parent)
            found = await self._run(
                "ack_orchestration_item",
                lambda conn: conn.execute(ops._HAS_RECORD, (key,)).fetchone()[0],
            )
            if not found:
                raise NotFoundError("ack_orchestration_item", f"no parent {parent!r}")
        await super().ack_orchestration_item(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled_activities,
        )
