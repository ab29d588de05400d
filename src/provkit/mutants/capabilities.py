"""Mutants of the optional capabilities and of what the extended categories check.

Instance records, management reads, deletion, prune, task queues, long polling, corrupt
data, delivery counts and stored values: each mutant is the SQLite reference provider (which
implements every capability) with one bug, and is rejected by the category named in its
docstring.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from typing import ClassVar

import aiosqlite

from provkit.contract import (
    ActivityId,
    Clock,
    CorruptDataError,
    DeleteResult,
    ExecutionMetadata,
    OrchestrationItem,
    PruneResult,
    WorkLease,
)
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage
from provkit.mutants._bases import Breaks, SqlEditMutant, SqlEdits, SqliteMutant
from provkit.reference_providers._wakeup import Wakeup

__all__ = [
    "AckWithoutNameCreatesRecord",
    "CorruptMessageRaisesOnFetch",
    "DeleteIgnoresRunning",
    "IgnoreAttemptIgnored",
    "LongPollIgnoresWakeUps",
    "OrphanOutlivesDeletedParent",
    "OutputTruncated",
    "PruneCutoffInclusive",
    "WorkInputCutAtNul",
    "WorkerGetsUnservedQueue",
]

_KIB_64 = 64 * 1024


class AckWithoutNameCreatesRecord(SqliteMutant):
    """Bug: an ack without an orchestration name still creates the instance record.

    Rejected by: instance_creation.
    """

    breaks = Breaks(
        "Management.get_instance_info",
        "also when it has queued messages or executions but no ack with an orchestration name "
        "created one",
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
        if metadata.orchestration_name is None:
            metadata = dataclasses.replace(metadata, orchestration_name="unknown")
        await super().ack_orchestration_item(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled_activities,
        )


class OutputTruncated(SqliteMutant):
    """Bug: an ack stores only the first 64 KiB of an execution's output.

    Rejected by: management (status and output read back byte-exact).
    """

    breaks = Breaks(
        "Management.get_instance_info",
        "status and output are stored byte-exact: any string (NUL, emoji, several MiB) reads "
        "back unchanged",
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
        if metadata.output is not None:
            metadata = dataclasses.replace(metadata, output=metadata.output[:_KIB_64])
        await super().ack_orchestration_item(
            lock_token,
            execution_id,
            history_delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled_activities,
        )


class IgnoreAttemptIgnored(SqlEditMutant):
    """Bug: abandon with ignore_attempt still counts the delivery, on both queues.

    Rejected by: poison (a runtime's shutdown give-back would push work towards poison).
    """

    breaks = Breaks(
        "Provider.abandon_work_item",
        "ignore_attempt takes back this delivery's count increment (never below 0)",
    )
    sql_edits: ClassVar[SqlEdits] = {
        operation: {"CASE WHEN :ignore_attempt THEN": "CASE WHEN 0 THEN"}
        for operation in ("abandon_orchestration_item", "abandon_work_item")
    }


class _DeafWakeup(Wakeup):
    """A line of waiting fetches that no notification ever wakes."""

    def notify(self, count: int = 1) -> None:
        return None


class LongPollIgnoresWakeUps(SqliteMutant):
    """Bug: a waiting fetch is never woken by new work; it sleeps until its timeout or a
    known visibility time.

    Rejected by: polling (an enqueue, ack or abandon wakes a waiting fetch at once).
    """

    breaks = Breaks(
        "Capability",
        "It wakes at once, well before poll_timeout, for work this provider object makes fetchable",
    )

    def __init__(self, conn: aiosqlite.Connection, name: str, clock: Clock | None) -> None:
        super().__init__(conn, name, clock)
        self._orchestrator_wakeup = _DeafWakeup()
        self._worker_wakeup = _DeafWakeup()
        self._queue_wakeup = _DeafWakeup()


class DeleteIgnoresRunning(SqliteMutant):
    """Bug: delete_instance deletes a running instance without being forced.

    Rejected by: deletion.
    """

    breaks = Breaks(
        "Deletion.delete_instance",
        "InstanceRunningError when force is false and the current execution of any tree "
        "member is RUNNING",
    )

    async def delete_instance(self, instance: str, *, force: bool = False) -> DeleteResult:
        return await super().delete_instance(instance, force=True)


class OrphanOutlivesDeletedParent(SqlEditMutant):
    """Bug: a child whose first turn commits after its parent was deleted is kept (an orphan).

    Rejected by: deletion.
    """

    breaks = Breaks("Deletion", "A child must not outlive a deleted parent")
    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {
            "SELECT EXISTS (SELECT 1 FROM instances WHERE instance = ?)": (
                "SELECT 1 OR EXISTS (SELECT 1 FROM instances WHERE instance = ?)"
            )
        }
    }


class PruneCutoffInclusive(SqliteMutant):
    """Bug: prune_executions also deletes executions completed exactly at the cutoff.

    Rejected by: prune.
    """

    breaks = Breaks("Prune.prune_executions", "its completed_at_ms is strictly less")

    async def prune_executions(
        self,
        instance: str,
        *,
        keep_last: int | None = None,
        completed_before_ms: int | None = None,
    ) -> PruneResult:
        cutoff = None if completed_before_ms is None else completed_before_ms + 1
        return await super().prune_executions(
            instance, keep_last=keep_last, completed_before_ms=cutoff
        )


class WorkerGetsUnservedQueue(SqliteMutant):
    """Bug: a worker whose queues are empty is handed the oldest item of any other queue.

    Rejected by: task_queues.
    """

    breaks = Breaks(
        "TaskQueues.fetch_work_item_from",
        "an item of any other queue is never returned, whatever its age",
    )

    async def fetch_work_item_from(
        self, queues: Collection[str], lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        lease = await super().fetch_work_item_from(queues, lock_timeout, poll_timeout)
        if lease is None and queues:
            lease = await self.fetch_work_item(lock_timeout)
        return lease


class CorruptMessageRaisesOnFetch(SqliteMutant):
    """Bug: a fetch whose batch holds an undecodable message raises instead of reporting it.

    The batch stays locked until it expires and is then fetched (and raises) again: the
    runtime can neither see the instance nor fail it as poison.

    Rejected by: corruption.
    """

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "undecodable messages still return it, with message_error set",
    )

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        item = await super().fetch_orchestration_item(lock_timeout, poll_timeout)
        if item is not None and item.message_error is not None:
            raise CorruptDataError("fetch_orchestration_item", item.message_error)
        return item


class WorkInputCutAtNul(SqliteMutant):
    """Bug: enqueue_for_worker stores an activity's input only up to its first NUL character.

    Rejected by: payloads.
    """

    breaks = Breaks(
        "Provider",
        "is stored and handed back exactly, whatever its length (0 bytes to 10 MiB at least) "
        "and content (any Unicode text, NUL, newlines, quotes, SQL metacharacters)",
    )

    async def enqueue_for_worker(self, item: ActivityExecute) -> None:
        await super().enqueue_for_worker(
            dataclasses.replace(item, input=item.input.split("\x00", 1)[0])
        )
