"""Mutants of the lock-token rules both queues share: which tokens are live, and errors."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from typing import ClassVar, TypeVar

from provkit.contract import LockLostError, OrchestrationItem, WorkLease
from provkit.mutants._bases import Breaks, MemoryMutant, SqlEditMutant, SqlEdits, SqliteMutant
from provkit.reference_providers.memory import _WorkItem

__all__ = [
    "AbandonAcceptsExpiredLock",
    "AbandonedTokenStillAccepted",
    "AckAcceptsExpiredLock",
    "ForeignErrorOnUnknownToken",
    "LeaseTokenPerItem",
    "LockLostMarkedRetryable",
    "LockTokenPerInstance",
    "WorkAbandonAcceptsExpiredLease",
]

_T = TypeVar("_T")

class AbandonAcceptsExpiredLock(SqlEditMutant):
    """Bug: abandon_orchestration_item succeeds on a lock that expired but was not re-taken."""

    breaks = Breaks(
        "Provider.abandon_orchestration_item",
        "A token that is not live raises LockLostError and changes nothing.",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "abandon_orchestration_item": {
            "WHERE token = ? AND locked_until > ? RETURNING instance": (
                "WHERE token = ? AND ? IS NOT NULL RETURNING instance"
            )
        }
    }


class WorkAbandonAcceptsExpiredLease(SqlEditMutant):
    """Bug: abandon_work_item succeeds on a lease that expired but was not re-taken."""

    breaks = Breaks(
        "Provider.abandon_work_item",
        "A token that is not live raises LockLostError and changes nothing.",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "abandon_work_item": {
            "WHERE id = :id AND token = :token AND visible_at > :now": (
                "WHERE id = :id AND token = :token AND :now IS NOT NULL"
            )
        }
    }


class AckAcceptsExpiredLock(SqlEditMutant):
    """Bug: ack_orchestration_item commits with a lock that expired but was not re-taken."""

    breaks = Breaks(
        "Provider",
        "or expired, whether or not another fetch re-took the work) raise LockLostError and "
        "change nothing, on both queues",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {
            "RETURNING instance, locked_until": "RETURNING instance, locked_until + 1000000000000"
        }
    }


class LockLostMarkedRetryable(SqliteMutant):
    """Bug: every LockLostError claims to be retryable."""

    breaks = Breaks("LockLostError", "Permanent: the holder no longer owns the instance")

    async def _run(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        try:
            return await super()._run(operation, work)
        except LockLostError as exc:
            raise LockLostError(exc.operation, exc.message, retryable=True) from exc


class ForeignErrorOnUnknownToken(MemoryMutant):
    """Bug: a worker token the provider never issued raises KeyError, not LockLostError."""

    breaks = Breaks(
        "Provider",
        "Every failure is a provkit.contract.ProviderError subclass; any other exception "
        "escaping an operation is a conformance failure.",
    )

    def _live_lease(self, token: str, now: int, operation: str) -> _WorkItem:
        if not any(work.token == token for work in self._work):
            raise KeyError(token)
        return super()._live_lease(token, now, operation)


class LeaseTokenPerItem(MemoryMutant):
    """Bug: a worker item's lease token is the same on every fetch of that item."""

    breaks = Breaks("Provider", "Tokens are opaque strings, unique per fetch.")

    def _lease(self, work: _WorkItem, now: int, lock_timeout: float) -> WorkLease:
        lease = super()._lease(work, now, lock_timeout)
        work.token = f"lease-{work.seq}"
        return WorkLease(item=lease.item, lock_token=work.token, attempt_count=lease.attempt_count)


class LockTokenPerInstance(MemoryMutant):
    """Bug: an instance lock's token is derived from the instance, the same on every fetch."""

    breaks = Breaks("Provider", "Tokens are opaque strings, unique per fetch.")

    def _lock_instance(self, instance: str, now: int, lock_timeout: float) -> OrchestrationItem:
        item = super()._lock_instance(instance, now, lock_timeout)
        self._locks[instance].token = f"lock-{instance}"
        return dataclasses.replace(item, lock_token=f"lock-{instance}")


class AbandonedTokenStillAccepted(MemoryMutant):
    """Bug: the token of an abandoned lease still acks the item while nobody re-took it."""

    breaks = Breaks(
        "Provider",
        "A token is live from its fetch until it is acked, abandoned or expires, whichever "
        "comes first.",
    )

    def __init__(self) -> None:
        super().__init__()
        self._abandoned: dict[str, _WorkItem] = {}

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        work = self._live_lease(lock_token, self._begin("abandon_work_item"), "abandon_work_item")
        await super().abandon_work_item(lock_token, delay, ignore_attempt)
        self._abandoned[lock_token] = work

    def _live_lease(self, token: str, now: int, operation: str) -> _WorkItem:
        work = self._abandoned.get(token)
        if work is not None and work.token is None and work in self._work:
            return work
        return super()._live_lease(token, now, operation)
