"""Broken providers the ``atomicity`` category must reject.

Each class is the SQLite reference provider with one bug in how an ack applies its parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from broken_providers._base import BrokenProvider, SqlEditProvider, SqlEdits
from provkit.contract import ActivityId, DuplicateEventError, ExecutionMetadata
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage

__all__ = [
    "AckNotAtomic",
    "CancelSkipsLeasedItems",
    "CancelledActivitiesIgnored",
    "FailedAckReleasesLock",
]


class AckNotAtomic(SqlEditProvider):
    """Bug: an ack that fails part-way commits the parts it had already written.

    Rejected by: atomicity (a rejected ack must change no history, queue or record).
    """

    sql_edits: ClassVar[SqlEdits] = {"ack_orchestration_item": {"ROLLBACK": "COMMIT"}}


class FailedAckReleasesLock(BrokenProvider):
    """Bug: an ack rejected for a duplicate event id also releases the instance lock.

    Rejected by: atomicity (a failed ack keeps the lock for a retry with the same token).
    """

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


class CancelledActivitiesIgnored(BrokenProvider):
    """Bug: ack ignores cancelled_activities, so cancelled worker items stay queued.

    Rejected by: atomicity (cancelled worker items vanish in the same ack).
    """

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


class CancelSkipsLeasedItems(SqlEditProvider):
    """Bug: cancellation deletes only worker items nobody has leased.

    Rejected by: atomicity (a cancelled item under lease must vanish too).
    """

    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {"AND activity_id = ?": "AND activity_id = ? AND token IS NULL"}
    }
