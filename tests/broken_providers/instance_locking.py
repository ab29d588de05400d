"""Broken providers the ``instance_locking`` category must reject.

Each class is the SQLite reference provider with one bug in how instances are locked.
"""

from __future__ import annotations

from typing import ClassVar

from broken_providers._base import SqlEditProvider, SqlEdits

__all__ = ["AckAcceptsUnissuedToken", "AckDeletesMessagesArrivingDuringLock", "FetchIgnoresLock"]


class FetchIgnoresLock(SqlEditProvider):
    """Bug: fetch ignores a live instance lock and takes the instance over.

    Rejected by: instance_locking (a second fetch must see nothing while the lock lives).
    """

    sql_edits: ClassVar[SqlEdits] = {
        "fetch_orchestration_item": {
            "l.locked_until > :now": "0",
            "WHERE instance_locks.locked_until <= :now": "",
        }
    }


class AckDeletesMessagesArrivingDuringLock(SqlEditProvider):
    """Bug: ack deletes every message of the instance, not just the fetched batch.

    Rejected by: instance_locking (messages enqueued during the turn must be the next batch).
    """

    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {"AND batch_token = ?": "AND ? IS NOT NULL"}
    }


class AckAcceptsUnissuedToken(SqlEditProvider):
    """Bug: ack with a token nobody issued falls back to some held lock and applies the turn.

    Rejected by: instance_locking (a made-up token must raise LockLostError).
    """

    sql_edits: ClassVar[SqlEdits] = {
        "ack_orchestration_item": {
            "DELETE FROM instance_locks WHERE token = ? RETURNING": (
                "DELETE FROM instance_locks WHERE token = COALESCE("
                "(SELECT token FROM instance_locks WHERE token = ?),"
                " (SELECT token FROM instance_locks LIMIT 1)) RETURNING"
            )
        }
    }
