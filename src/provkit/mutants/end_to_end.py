"""Mutants that every contract category lets through and only the end-to-end category rejects.

Each passes the core and extended categories (their histories are a few events long) and
fails a scenario of ``end_to_end``, where provkit's runtime runs real orchestrations over it.
"""

from __future__ import annotations

from typing import ClassVar

import aiosqlite

from provkit.contract import Clock
from provkit.mutants._bases import Breaks, SqlEditMutant, SqlEdits
from provkit.reference_providers._sqlite_decoded import HistoryCache

__all__ = ["HistoryFirstPageOnly"]


class HistoryFirstPageOnly(SqlEditMutant):
    """Bug: a fetch returns only the first 100 events of the history, one page of a paged read.

    The classic forgotten continuation token (a paged query whose next pages are never
    asked for). Turns stay correct while histories are short; past 100 events the runtime
    replays a truncated history and the orchestration goes wrong. Rejected by: end_to_end
    (the 100-step orchestration).
    """

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "``execution_id`` is the instance's current execution and ``history`` its events",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "fetch_orchestration_item": {"ORDER BY event_id": "ORDER BY event_id LIMIT 100"}
    }

    def __init__(self, conn: aiosqlite.Connection, name: str, clock: Clock | None) -> None:
        super().__init__(conn, name, clock)
        # Each fetch reads the whole history, as a provider keeping no decoded history does.
        self._decoded = HistoryCache(max_events=0)
