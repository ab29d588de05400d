"""Broken providers the ``error_handling`` category must reject.

Each class is the SQLite reference provider with one bug in the errors it raises.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import ClassVar, TypeVar

from broken_providers._base import BrokenProvider, SqlEditProvider, SqlEdits
from provkit.contract import CorruptDataError, LockLostError, OrchestrationItem

__all__ = ["DuplicateEventIdsIgnored", "FetchRaisesOnCorruptHistory", "LockLostMarkedRetryable"]

_T = TypeVar("_T")

_IGNORE_DUPLICATES = {"INSERT INTO history": "INSERT OR IGNORE INTO history"}


class DuplicateEventIdsIgnored(SqlEditProvider):
    """Bug: append_history and ack silently drop events whose id is already stored.

    Rejected by: error_handling (a duplicate event id raises DuplicateEventError).
    """

    sql_edits: ClassVar[SqlEdits] = {
        "append_history": _IGNORE_DUPLICATES,
        "ack_orchestration_item": _IGNORE_DUPLICATES,
    }


class LockLostMarkedRetryable(BrokenProvider):
    """Bug: every LockLostError claims to be retryable.

    Rejected by: error_handling (a dead lock token is a permanent error).
    """

    async def _run(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        try:
            return await super()._run(operation, work)
        except LockLostError as exc:
            raise LockLostError(exc.operation, exc.message, retryable=True) from exc


class FetchRaisesOnCorruptHistory(BrokenProvider):
    """Bug: fetch raises CorruptDataError on undecodable history, still holding the lock.

    Rejected by: error_handling (fetch returns the batch with history_error set instead).
    """

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        item = await super().fetch_orchestration_item(lock_timeout, poll_timeout)
        if item is not None and item.history_error is not None:
            raise CorruptDataError("fetch_orchestration_item", item.history_error)
        return item
