"""Mutants of the worker queue: enqueue, lease, ack, abandon and renew of activity items."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from provkit.contract import WorkLease
from provkit.mutants._bases import Breaks, MemoryMutant

__all__ = ["WorkerClaimCheckThenSet"]


class WorkerClaimCheckThenSet(MemoryMutant):
    """Bug: fetch_work_item checks that an item is free, awaits, then leases it unchecked.

    Every fetch that checked during the wait leases the same item: "10 workers claim one task,
    all 10 win". One SQLite connection cannot express this race; a real database client can.
    """

    breaks = Breaks("Provider.fetch_work_item", "Of concurrent callers exactly one wins an item")
    round_trip: ClassVar[float] = 0.002
    """Seconds between the check and the set, as a database round trip would take."""

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        now = self._begin("fetch_work_item")
        work = self._first_free_work(now)
        if work is None:
            return None
        await asyncio.sleep(self.round_trip)
        return self._lease(work, now, lock_timeout)
