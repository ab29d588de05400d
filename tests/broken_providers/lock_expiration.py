"""Broken providers the ``lock_expiration`` category must reject.

Each class is the SQLite reference provider with one bug in lock expiry, renewal, abandon or
attempt counting.
"""

from __future__ import annotations

from typing import ClassVar

from broken_providers._base import BrokenProvider, SqlEditProvider, SqlEdits
from provkit.contract import OrchestrationItem

__all__ = [
    "AbandonIgnoresDelay",
    "AbandonKeepsLock",
    "AttemptCountNotIncremented",
    "LockNeverExpires",
    "RenewRevivesExpiredLock",
    "WorkAckIgnoresLeaseExpiry",
]

_FOREVER = 10.0**9
"""A lock timeout in seconds (about 30 years) that no test outlives."""


class LockNeverExpires(BrokenProvider):
    """Bug: an orchestration lock never expires, whatever lock_timeout the fetch asked for.

    Rejected by: lock_expiration (after lock_timeout the batch must be fetchable again).
    """

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        return await super().fetch_orchestration_item(_FOREVER, poll_timeout)


class AbandonKeepsLock(SqlEditProvider):
    """Bug: abandon releases the batch's messages but keeps the instance locked until expiry.

    Rejected by: lock_expiration (an abandoned batch must be fetchable at once).
    """

    sql_edits: ClassVar[SqlEdits] = {
        "abandon_orchestration_item": {
            "DELETE FROM instance_locks WHERE token = ? AND locked_until > ? RETURNING instance": (
                "SELECT instance FROM instance_locks WHERE token = ? AND locked_until > ?"
            )
        }
    }


class AbandonIgnoresDelay(BrokenProvider):
    """Bug: abandon_orchestration_item drops its delay and makes the batch visible at once.

    Rejected by: lock_expiration (a batch abandoned with a delay stays hidden until it passes).
    """

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        await super().abandon_orchestration_item(lock_token, None, ignore_attempt)


class RenewRevivesExpiredLock(SqlEditProvider):
    """Bug: renew_orchestration_item_lock succeeds on an expired (not yet re-taken) lock.

    Rejected by: lock_expiration (renewing an expired lock must raise LockLostError).
    """

    sql_edits: ClassVar[SqlEdits] = {
        "renew_orchestration_item_lock": {"AND locked_until > ?": "AND ? IS NOT NULL"}
    }


class AttemptCountNotIncremented(SqlEditProvider):
    """Bug: a redelivered orchestration batch keeps reporting attempt_count 1.

    Rejected by: lock_expiration (each redelivery after expiry or abandon counts one more).
    """

    sql_edits: ClassVar[SqlEdits] = {
        "fetch_orchestration_item": {
            "attempt_count = attempt_count + 1": "attempt_count = MAX(attempt_count, 1)"
        }
    }


class WorkAckIgnoresLeaseExpiry(SqlEditProvider):
    """Bug: ack_work_item succeeds with the token of an expired lease.

    Rejected by: lock_expiration (acking an expired lease must raise LockLostError).
    """

    sql_edits: ClassVar[SqlEdits] = {"ack_work_item": {"AND visible_at > ?": "AND ? IS NOT NULL"}}
