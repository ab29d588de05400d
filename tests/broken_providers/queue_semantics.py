"""Broken providers the ``queue_semantics`` category must reject.

Each class is the SQLite reference provider with one bug in queue order or visibility.
"""

from __future__ import annotations

from typing import ClassVar

from broken_providers._base import BrokenProvider, SqlEditProvider, SqlEdits
from provkit.contract import codec
from provkit.contract.messages import OrchestratorMessage
from provkit.reference_providers import _sqlite_ops as ops

__all__ = ["TimerVisibleEarly", "WorkerQueueLifo"]


class WorkerQueueLifo(SqlEditProvider):
    """Bug: the worker queue hands out the newest item first.

    Rejected by: queue_semantics (worker items are leased FIFO by enqueue order).
    """

    sql_edits: ClassVar[SqlEdits] = {
        "fetch_work_item": {"ORDER BY id LIMIT 1": "ORDER BY id DESC LIMIT 1"}
    }


class TimerVisibleEarly(BrokenProvider):
    """Bug: enqueue_for_orchestrator ignores a timer's fire_at_ms (only its delay counts).

    Rejected by: queue_semantics (a timer is not fetchable before its fire time).
    """

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        visible_at = self._clock.now_ms() + (0 if delay is None else ops.ms(delay))
        row = (ops.to_blob(item.instance), visible_at, codec.encode_message(item))
        await self._run(
            "enqueue_for_orchestrator", lambda conn: conn.execute(ops._INSERT_ORCHESTRATOR, row)
        )
        self._orchestrator_wakeup.notify()
