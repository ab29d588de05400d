"""Mutants of the worker queue: enqueue, lease, ack, abandon and renew of activity items."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from provkit.contract import CorruptDataError, WorkLease
from provkit.contract.messages import DEFAULT_QUEUE, ActivityExecute, OrchestratorMessage
from provkit.mutants._bases import Breaks, MemoryMutant, SqlEditMutant, SqlEdits, SqliteMutant
from provkit.reference_providers.memory import _Message, _WorkItem

__all__ = [
    "AbandonedWorkItemGoesToTheBack",
    "CompletionRoutedToLeasedInstance",
    "CompletionTimerVisibleAtOnce",
    "ExpiredLeaseGoesToTheBack",
    "LeaseNeverExpires",
    "NewWorkItemVisibleOneMsLate",
    "WorkAbandonIgnoresDelay",
    "WorkAbandonKeepsLease",
    "WorkAckCheckThenSet",
    "WorkAckIgnoresLeaseExpiry",
    "WorkAckKeepsItem",
    "WorkAttemptCountNotIncremented",
    "WorkFetchDoesNotLease",
    "WorkFetchRaisesOnCorruptItem",
    "WorkFetchServesDefaultQueueOnly",
    "WorkIgnoreAttemptIgnored",
    "WorkLongPollReturnsAtOnce",
    "WorkRenewDoesNothing",
    "WorkRenewRevivesExpiredLease",
    "WorkerClaimCheckThenSet",
    "WorkerClaimLoserReturnsNone",
    "WorkerQueueLifo",
]

ROUND_TRIP = 0.002
"""Seconds a check-then-set mutant waits between its check and its set (a database round trip)."""


# -- which item, and the lease ----------------------------------------------------------


class WorkerQueueLifo(SqlEditMutant):
    """Bug: the worker queue hands out the newest item first."""

    breaks = Breaks(
        "Provider.fetch_work_item",
        "Lease the first visible, unleased worker item in enqueue order.",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "fetch_work_item": {"ORDER BY id LIMIT 1": "ORDER BY id DESC LIMIT 1"}
    }


class AbandonedWorkItemGoesToTheBack(MemoryMutant):
    """Bug: an abandoned worker item is queued again behind every other item."""

    breaks = Breaks(
        "Provider.fetch_work_item",
        "An item released by an abandon (once its delay has passed) or by an expired lease "
        "keeps its original place in that order.",
    )

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        work = self._live_lease(lock_token, self._begin("abandon_work_item"), "abandon_work_item")
        await super().abandon_work_item(lock_token, delay, ignore_attempt)
        self._work.remove(work)
        work.seq = next(self._seq)
        self._work.append(work)


class ExpiredLeaseGoesToTheBack(MemoryMutant):
    """Bug: an item whose lease expired is leased again only after every never-leased item."""

    breaks = Breaks(
        "Provider.fetch_work_item",
        "An item released by an abandon (once its delay has passed) or by an expired lease "
        "keeps its original place in that order.",
    )

    def _first_free_work(self, now: int) -> _WorkItem | None:
        free = [w for w in self._work if self._free(w, now)]
        return min(free, key=lambda w: (w.token is not None, w.seq)) if free else None


class LeaseNeverExpires(MemoryMutant):
    """Bug: a worker lease never expires, whatever lock_timeout the fetch asked for."""

    breaks = Breaks(
        "Provider.fetch_work_item", "The lease has a fresh token and expires at now + lock_timeout"
    )

    def _lease(self, work: _WorkItem, now: int, lock_timeout: float) -> WorkLease:
        return super()._lease(work, now, 10.0**9)


class WorkAttemptCountNotIncremented(SqlEditMutant):
    """Bug: a redelivered worker item keeps reporting attempt_count 1."""

    breaks = Breaks(
        "Provider.fetch_work_item",
        "the item's delivery count grows by one and is returned as attempt_count",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "fetch_work_item": {
            "attempt_count = attempt_count + 1": "attempt_count = MAX(attempt_count, 1)"
        }
    }


class WorkerClaimCheckThenSet(MemoryMutant):
    """Bug: fetch_work_item checks that an item is free, awaits, then leases it unchecked.

    Every fetch that checked during the wait leases the same item: "10 workers claim one task,
    all 10 win". One SQLite connection cannot express this race; a real database client can.
    """

    breaks = Breaks("Provider.fetch_work_item", "Of concurrent callers exactly one wins an item")
    round_trip: ClassVar[float] = ROUND_TRIP
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


class WorkerClaimLoserReturnsNone(MemoryMutant):
    """Bug: a fetch that finds its item leased meanwhile returns None instead of moving on."""

    breaks = Breaks(
        "Provider.fetch_work_item",
        "a caller that loses a race moves on to the next item instead of returning None",
    )

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        now = self._begin("fetch_work_item")
        work = self._first_free_work(now)
        if work is None:
            return None
        await asyncio.sleep(ROUND_TRIP)
        if not self._free(work, now) or work not in self._work:
            return None
        return self._lease(work, now, lock_timeout)


# -- ack ----------------------------------------------------------------------------------


class WorkAckIgnoresLeaseExpiry(SqlEditMutant):
    """Bug: ack_work_item succeeds with the token of an expired lease."""

    breaks = Breaks(
        "Provider.ack_work_item", "require that lock_token is live (else LockLostError, and"
    )
    sql_edits: ClassVar[SqlEdits] = {"ack_work_item": {"AND visible_at > ?": "AND ? IS NOT NULL"}}


class WorkAckKeepsItem(MemoryMutant):
    """Bug: ack_work_item enqueues the completion but leaves the item (and its lease) in place."""

    breaks = Breaks("Provider.ack_work_item", "delete the item")

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        now = self._begin("ack_work_item")
        self._live_lease(lock_token, now, "ack_work_item")
        if completion is not None:
            self._append(completion, now)


class CompletionRoutedToLeasedInstance(MemoryMutant):
    """Bug: ack_work_item queues the completion on the leased item's instance."""

    breaks = Breaks(
        "Provider.ack_work_item",
        "enqueue completion on completion.instance's orchestrator queue, which need not be "
        "the leased item's instance",
    )

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        now = self._begin("ack_work_item")
        work = self._live_lease(lock_token, now, "ack_work_item")
        await super().ack_work_item(lock_token, None)
        if completion is not None:
            self._queue.append(_Message(next(self._seq), work.item.instance, completion, now))


class CompletionTimerVisibleAtOnce(MemoryMutant):
    """Bug: a completion is visible at once even when it is a timer with a later fire time."""

    breaks = Breaks(
        "Provider.ack_work_item", "with the visibility of enqueue_for_orchestrator without a delay"
    )

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        await super().ack_work_item(lock_token, None)
        if completion is not None:
            now = self._clock.now_ms()
            self._queue.append(_Message(next(self._seq), completion.instance, completion, now))


class WorkAckCheckThenSet(MemoryMutant):
    """Bug: ack_work_item checks the lease, awaits, then deletes and enqueues unchecked.

    Racing acks with one token all pass the check, and each enqueues the completion.
    """

    breaks = Breaks("Provider", "Of concurrent calls with one token, at most one ack or abandon")

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        now = self._begin("ack_work_item")
        work = self._live_lease(lock_token, now, "ack_work_item")
        await asyncio.sleep(ROUND_TRIP)
        if work in self._work:
            self._work.remove(work)
        if completion is not None:
            self._append(completion, now)


# -- abandon and renew --------------------------------------------------------------------


class WorkAbandonIgnoresDelay(MemoryMutant):
    """Bug: abandon_work_item drops its delay and makes the item visible at once."""

    breaks = Breaks(
        "Provider.abandon_work_item",
        "Release a live lease: the item is fetchable again at now + delay (or now).",
    )

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        await super().abandon_work_item(lock_token, None, ignore_attempt)


class WorkAbandonKeepsLease(MemoryMutant):
    """Bug: abandon_work_item leaves the lease in place, so the item waits for its expiry."""

    breaks = Breaks(
        "Provider.abandon_work_item",
        "Release a live lease: the item is fetchable again at now + delay (or now).",
    )

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        now = self._begin("abandon_work_item")
        work = self._live_lease(lock_token, now, "abandon_work_item")
        work.visible_at = now + (0 if delay is None else self._ms(delay))


class WorkIgnoreAttemptIgnored(MemoryMutant):
    """Bug: abandon_work_item counts the delivery even with ignore_attempt."""

    breaks = Breaks(
        "Provider.abandon_work_item",
        "ignore_attempt takes back this delivery's count increment (never below 0)",
    )

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        await super().abandon_work_item(lock_token, delay, False)


class WorkRenewDoesNothing(MemoryMutant):
    """Bug: renew_work_item_lock checks the token but leaves the lease's expiry as it was."""

    breaks = Breaks(
        "Provider.renew_work_item_lock", "Make a live lease expire at now + extend_for."
    )

    async def renew_work_item_lock(self, lock_token: str, extend_for: float) -> None:
        now = self._begin("renew_work_item_lock")
        self._live_lease(lock_token, now, "renew_work_item_lock")


class WorkRenewRevivesExpiredLease(SqlEditMutant):
    """Bug: renew_work_item_lock succeeds on an expired (not yet re-taken) lease."""

    breaks = Breaks(
        "Provider.renew_work_item_lock",
        "A token that is not live raises LockLostError and changes nothing.",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "renew_work_item_lock": {
            "AND token = ? AND visible_at > ?": "AND token = ? AND ? IS NOT NULL"
        }
    }


class NewWorkItemVisibleOneMsLate(MemoryMutant):
    """Bug: a new worker item becomes visible one millisecond after its enqueue."""

    breaks = Breaks(
        "Provider.enqueue_for_worker",
        "Append an activity execution to the end of the worker queue, visible now.",
    )

    async def enqueue_for_worker(self, item: ActivityExecute) -> None:
        now = self._begin("enqueue_for_worker")
        self._work.append(_WorkItem(next(self._seq), item, now + 1))


class WorkFetchDoesNotLease(MemoryMutant):
    """Bug: fetch_work_item returns an item with a token but leaves the item unleased."""

    breaks = Breaks(
        "Provider",
        "A fetch that returns work hands out a lock token: an instance lock on the orchestrator "
        "queue, an item lease on the worker queue.",
    )

    def _lease(self, work: _WorkItem, now: int, lock_timeout: float) -> WorkLease:
        lease = super()._lease(work, now, lock_timeout)
        work.expires_at = now
        return lease


class WorkFetchServesDefaultQueueOnly(SqliteMutant):
    """Bug: fetch_work_item only leases items of the default task queue."""

    breaks = Breaks(
        "Provider.fetch_work_item",
        "Items of every task queue are candidates (TaskQueues.fetch_work_item_from chooses "
        "queues).",
    )

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        return await self.fetch_work_item_from([DEFAULT_QUEUE], lock_timeout, poll_timeout)


class WorkFetchRaisesOnCorruptItem(SqliteMutant):
    """Bug: fetch_work_item raises CorruptDataError for an undecodable item, which then blocks."""

    breaks = Breaks(
        "Provider.fetch_work_item",
        "An undecodable item is still leased and returned, with item_error set",
    )

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        lease = await super().fetch_work_item(lock_timeout, poll_timeout)
        if lease is not None and lease.item_error is not None:
            await self.abandon_work_item(lease.lock_token, ignore_attempt=True)
            raise CorruptDataError("fetch_work_item", lease.item_error)
        return lease


class WorkLongPollReturnsAtOnce(SqliteMutant):
    """Bug: fetch_work_item never waits, although the provider declares LONG_POLL."""

    breaks = Breaks(
        "Provider.fetch_work_item",
        "None means there is no visible unleased item (after waiting as for "
        "fetch_orchestration_item).",
    )

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        return await super().fetch_work_item(lock_timeout, 0.0)
