"""Broken providers the ``multi_execution`` category must reject.

Each class is the SQLite reference provider with one bug in how executions are kept apart.
"""

from __future__ import annotations

from typing import ClassVar

from broken_providers._base import SqlEditProvider, SqlEdits

__all__ = ["ReadReturnsFirstExecution"]


class ReadReturnsFirstExecution(SqlEditProvider):
    """Bug: read() returns the history of the first execution instead of the latest one.

    Rejected by: multi_execution (read() follows the newest execution).
    """

    sql_edits: ClassVar[SqlEdits] = {
        "read": {
            "SELECT MAX(execution_id) FROM executions": "SELECT MIN(execution_id) FROM executions"
        }
    }
