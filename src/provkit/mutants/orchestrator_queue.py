"""Mutants of the orchestrator queue: enqueue, visibility, order, the batch, the instance lock."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import ClassVar

from provkit.contract import INITIAL_EXECUTION_ID, CorruptDataError, OrchestrationItem, codec
from provkit.contract.events import Event
from provkit.contract.messages import OrchestratorMessage
from provkit.mutants._bases import Breaks, MemoryMutant, SqlEditMutant, SqlEdits, SqliteMutant
from provkit.reference_providers import _sqlite_ops as ops
from provkit.reference_providers._values import to_blob
from provkit.reference_providers.memory import _Execution, _Instance, _Message

__all__ = [
    "AbandonIgnoresDelay",
    "AbandonKeepsLock",
    "AbandonReleasesWholeInstance",
    "AbandonResetsVisibilityToNow",
    "AttemptCountNotIncremented",
    "AttemptCountOfNewestMessage",
    "BatchInVisibilityOrder",
    "BatchIncludesMessagesNotYetVisible",
    "CorruptInstanceBlocksOthers",
    "CorruptMessagesDroppedSilently",
    "DelayIgnoredForTimers",
    "DelaysRoundedToSeconds",
    "EnqueueCreatesExecution",
    "EnqueueIgnoresDelay",
    "FetchDoesNotLock",
    "FetchIgnoresLock",
    "FetchRaisesOnCorruptHistory",
    "FetchReportsFirstExecution",
    "IgnoreAttemptResetsCount",
    "InstanceClaimCheckThenSet",
    "InstanceClaimLoserReturnsNone",
    "InstanceIdsTrimmed",
    "InstancesRankedByEnqueueOrder",
    "LockExpiresOneMsEarly",
    "LockHeldAtItsExpiry",
    "LockNeverExpires",
    "LongPollReturnsAtOnce",
    "NowTruncatedToSeconds",
    "OrchestrationRenewDoesNothing",
    "ReadIsNotACoroutine",
    "RenewExtendsFromOldDeadline",
    "RenewNeverShortens",
    "RenewRevivesExpiredLock",
    "SameMillisecondTiesByInstanceId",
    "TimerFiresASecondEarly",
    "TimerVisibleEarly",
    "VisibleOneMsEarly",
]

ROUND_TRIP = 0.002
"""Seconds a check-then-set mutant waits between its check and its set (a database round trip)."""

_FOREVER = 10.0**9
"""A lock timeout in seconds (about 30 years) that no test outlives."""


# -- enqueue and visibility -------------------------------------------------------------


class EnqueueIgnoresDelay(MemoryMutant):
    """Bug: enqueue_for_orchestrator drops its delay: the message is visible at once."""

    breaks = Breaks("Provider.enqueue_for_orchestrator", "Its visibility time is now + delay")

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        await super().enqueue_for_orchestrator(item, None)


class DelaysRoundedToSeconds(MemoryMutant):
    """Bug: every duration (delays, lock timeouts, renewals) is rounded to whole seconds."""

    breaks = Breaks(
        "Provider", "Durations are seconds (float), which a provider converts to milliseconds"
    )

    @staticmethod
    def _ms(seconds: float) -> int:
        return round(seconds) * 1000


class TimerFiresASecondEarly(MemoryMutant):
    """Bug: a timer becomes visible one second before its fire time."""

    breaks = Breaks(
        "Provider.enqueue_for_orchestrator",
        "or item.visible_at_ms (a timer's fire time) when that is later",
    )

    def _append(self, message: OrchestratorMessage, visible_at: int) -> None:
        fire_at = message.visible_at_ms
        if fire_at is not None:
            visible_at = max(visible_at, fire_at - 1000)
        self._queue.append(_Message(next(self._seq), message.instance, message, visible_at))


class DelayIgnoredForTimers(MemoryMutant):
    """Bug: a timer is visible at its fire time, whatever its delay and even if that is past."""

    breaks = Breaks(
        "Provider.enqueue_for_orchestrator",
        "or item.visible_at_ms (a timer's fire time) when that is later",
    )

    def _append(self, message: OrchestratorMessage, visible_at: int) -> None:
        fire_at = message.visible_at_ms
        visible_at = visible_at if fire_at is None else fire_at
        self._queue.append(_Message(next(self._seq), message.instance, message, visible_at))


class TimerVisibleEarly(SqliteMutant):
    """Bug: enqueue_for_orchestrator ignores a timer's fire_at_ms (only its delay counts)."""

    breaks = Breaks(
        "Provider.enqueue_for_orchestrator",
        "or item.visible_at_ms (a timer's fire time) when that is later",
    )

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        visible_at = self._clock.now_ms() + (0 if delay is None else ops.ms(delay))
        row = (to_blob(item.instance), visible_at, codec.encode_message(item))
        await self._run(
            "enqueue_for_orchestrator", lambda conn: conn.execute(ops._INSERT_ORCHESTRATOR, row)
        )
        self._orchestrator_wakeup.notify()


class VisibleOneMsEarly(SqlEditMutant):
    """Bug: fetch treats a message as visible one millisecond before its visibility time."""

    breaks = Breaks("Provider", "it is invisible at v - 1 ms and visible from v on")
    sql_edits: ClassVar[SqlEdits] = {
        "fetch_orchestration_item": {
            "WHERE q.visible_at <= :now AND": "WHERE q.visible_at <= :now + 1 AND",
            "WHERE instance = :instance AND visible_at <= :now": (
                "WHERE instance = :instance AND visible_at <= :now + 1"
            ),
        }
    }


# -- which instance, which batch ---------------------------------------------------------


class FetchIgnoresLock(SqlEditMutant):
    """Bug: fetch ignores a live instance lock and takes the instance over."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "Candidates are the instances with a visible message and no live lock.",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "fetch_orchestration_item": {
            "l.locked_until > :now": "0",
            "WHERE instance_locks.locked_until <= :now": "",
        }
    }


class InstancesRankedByEnqueueOrder(MemoryMutant):
    """Bug: fetch ranks visible messages by enqueue order alone, not by visibility time first."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        '"Oldest" ranks visible messages by (visibility time, enqueue order)',
    )

    def _oldest_candidate(self, now: int) -> str | None:
        candidates = [m for m in self._queue if m.visible_at <= now]
        free = [m for m in candidates if not self._locked(m.instance, now)]
        return min(free, key=lambda m: m.seq).instance if free else None


class SameMillisecondTiesByInstanceId(MemoryMutant):
    """Bug: messages visible in the same millisecond rank by instance id, not enqueue order."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "so between messages that became visible in the same millisecond the one enqueued "
        "first decides",
    )

    def _oldest_candidate(self, now: int) -> str | None:
        free = [m for m in self._queue if m.visible_at <= now and not self._locked(m.instance, now)]
        return min(free, key=lambda m: (m.visible_at, m.instance)).instance if free else None


class BatchInVisibilityOrder(MemoryMutant):
    """Bug: the batch lists its messages by visibility time instead of enqueue order."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "The batch is every message of that instance visible now, in enqueue order",
    )

    def _lock_instance(self, instance: str, now: int, lock_timeout: float) -> OrchestrationItem:
        item = super()._lock_instance(instance, now, lock_timeout)
        batch = sorted(self._locks[instance].batch, key=lambda m: (m.visible_at, m.seq))
        return dataclasses.replace(item, messages=[m.message for m in batch])


class BatchIncludesMessagesNotYetVisible(MemoryMutant):
    """Bug: the batch also takes the instance's messages that are not visible yet."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "messages enqueued or becoming visible later are not part of it",
    )

    def _lock_instance(self, instance: str, now: int, lock_timeout: float) -> OrchestrationItem:
        item = super()._lock_instance(instance, now, lock_timeout)
        lock = self._locks[instance]
        early = [m for m in self._queue if m.instance == instance and m.visible_at > now]
        for m in early:
            m.deliveries += 1
        lock.batch = sorted([*lock.batch, *early], key=lambda m: m.seq)
        return dataclasses.replace(item, messages=[m.message for m in lock.batch])


class AttemptCountNotIncremented(SqlEditMutant):
    """Bug: a redelivered orchestration batch keeps reporting attempt_count 1."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item", "Each batch message's delivery count grows by one"
    )
    sql_edits: ClassVar[SqlEdits] = {
        "fetch_orchestration_item": {
            "attempt_count = attempt_count + 1": "attempt_count = MAX(attempt_count, 1)"
        }
    }


class AttemptCountOfNewestMessage(MemoryMutant):
    """Bug: attempt_count is the lowest delivery count in the batch, not the highest."""

    breaks = Breaks("Provider.fetch_orchestration_item", "attempt_count is the batch maximum")

    def _lock_instance(self, instance: str, now: int, lock_timeout: float) -> OrchestrationItem:
        item = super()._lock_instance(instance, now, lock_timeout)
        lowest = min(m.deliveries for m in self._locks[instance].batch)
        return dataclasses.replace(item, attempt_count=lowest)


class FetchReportsFirstExecution(SqlEditMutant):
    """Bug: fetch reports the instance's first execution and its history, not the current one."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "execution_id is the instance's current execution and history its events",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "fetch_orchestration_item": {
            "(SELECT MAX(execution_id) FROM executions WHERE instance = :instance)": (
                "(SELECT MIN(execution_id) FROM executions WHERE instance = :instance)"
            )
        }
    }


class FetchRaisesOnCorruptHistory(SqliteMutant):
    """Bug: fetch raises CorruptDataError on undecodable history, still holding the lock."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "Undecodable stored history still returns the item, with history_error set",
    )

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        item = await super().fetch_orchestration_item(lock_timeout, poll_timeout)
        if item is not None and item.history_error is not None:
            raise CorruptDataError("fetch_orchestration_item", item.history_error)
        return item


class InstanceClaimCheckThenSet(MemoryMutant):
    """Bug: fetch picks an unlocked instance, awaits, then locks it without looking again."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item", "Of concurrent callers exactly one wins an instance"
    )

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        now = self._begin("fetch_orchestration_item")
        instance = self._oldest_candidate(now)
        if instance is None:
            return None
        await asyncio.sleep(ROUND_TRIP)
        return self._lock_instance(instance, now, lock_timeout)


class InstanceClaimLoserReturnsNone(MemoryMutant):
    """Bug: a fetch that finds its candidate taken meanwhile returns None instead of moving on."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "a caller that loses a race moves on to the next candidate instead of returning None",
    )

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        now = self._begin("fetch_orchestration_item")
        instance = self._oldest_candidate(now)
        if instance is None:
            return None
        await asyncio.sleep(ROUND_TRIP)
        if self._locked(instance, now):
            return None
        return self._lock_instance(instance, now, lock_timeout)


# -- the lock: expiry, abandon, renew ----------------------------------------------------


class LockNeverExpires(SqliteMutant):
    """Bug: an orchestration lock never expires, whatever lock_timeout the fetch asked for."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "The lock gets a fresh token and expires at now + lock_timeout",
    )

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        return await super().fetch_orchestration_item(_FOREVER, poll_timeout)


class LockExpiresOneMsEarly(MemoryMutant):
    """Bug: an instance lock expires one millisecond before now + lock_timeout."""

    breaks = Breaks("Provider", "A lock taken at t with timeout T is held at t + T - 1 ms")

    def _lock_instance(self, instance: str, now: int, lock_timeout: float) -> OrchestrationItem:
        return super()._lock_instance(instance, now, lock_timeout - 0.001)


class LockHeldAtItsExpiry(SqlEditMutant):
    """Bug: an instance lock still counts as held at the millisecond it expires."""

    breaks = Breaks("Provider", "and has expired at t + T")
    sql_edits: ClassVar[SqlEdits] = {
        "fetch_orchestration_item": {
            "l.locked_until > :now": "l.locked_until >= :now",
            "WHERE instance_locks.locked_until <= :now": "WHERE instance_locks.locked_until < :now",
        }
    }


class AbandonKeepsLock(SqlEditMutant):
    """Bug: abandon releases the batch's messages but keeps the instance locked until expiry."""

    breaks = Breaks(
        "Provider.abandon_orchestration_item", "Release a live lock without committing the turn."
    )
    sql_edits: ClassVar[SqlEdits] = {
        "abandon_orchestration_item": {
            "DELETE FROM instance_locks WHERE token = ? AND locked_until > ? RETURNING instance": (
                "SELECT instance FROM instance_locks WHERE token = ? AND locked_until > ?"
            )
        }
    }


class AbandonIgnoresDelay(SqliteMutant):
    """Bug: abandon_orchestration_item drops its delay and makes the batch visible at once."""

    breaks = Breaks(
        "Provider.abandon_orchestration_item",
        "With a delay the batch's messages become visible at now + delay",
    )

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        await super().abandon_orchestration_item(lock_token, None, ignore_attempt)


class AbandonResetsVisibilityToNow(MemoryMutant):
    """Bug: an abandon without a delay makes the batch visible from now, behind younger work."""

    breaks = Breaks(
        "Provider.abandon_orchestration_item",
        "without one their visibility times stay as they were",
    )

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        await super().abandon_orchestration_item(lock_token, delay or 0.0, ignore_attempt)


class AbandonReleasesWholeInstance(MemoryMutant):
    """Bug: abandon applies its delay and ignore_attempt to all the instance's messages."""

    breaks = Breaks(
        "Provider.abandon_orchestration_item",
        "The instance's messages outside the batch are untouched.",
    )

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        now = self._begin("abandon_orchestration_item")
        for instance, lock in self._locks.items():
            if lock.token == lock_token and now < lock.expires_at:
                lock.batch = [m for m in self._queue if m.instance == instance]
        await super().abandon_orchestration_item(lock_token, delay, ignore_attempt)


class IgnoreAttemptResetsCount(MemoryMutant):
    """Bug: ignore_attempt resets the batch's delivery counts to zero."""

    breaks = Breaks(
        "Provider.abandon_orchestration_item",
        "ignore_attempt takes back this delivery's count increment (never below 0)",
    )

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        batch = [m for lock in self._locks.values() if lock.token == lock_token for m in lock.batch]
        await super().abandon_orchestration_item(lock_token, delay, ignore_attempt)
        if ignore_attempt:
            for m in batch:
                m.deliveries = 0


class RenewExtendsFromOldDeadline(MemoryMutant):
    """Bug: renew adds extend_for to the lock's old expiry instead of to now."""

    breaks = Breaks(
        "Provider.renew_orchestration_item_lock", "Make a live lock expire at now + extend_for."
    )

    async def renew_orchestration_item_lock(self, lock_token: str, extend_for: float) -> None:
        now = self._begin("renew_orchestration_item_lock")
        _, lock = self._live_lock(lock_token, now, "renew_orchestration_item_lock")
        lock.expires_at += self._ms(extend_for)


class RenewNeverShortens(MemoryMutant):
    """Bug: a renewal never moves a lock's expiry earlier than it was."""

    breaks = Breaks(
        "Provider.renew_orchestration_item_lock", "Make a live lock expire at now + extend_for."
    )

    async def renew_orchestration_item_lock(self, lock_token: str, extend_for: float) -> None:
        now = self._begin("renew_orchestration_item_lock")
        _, lock = self._live_lock(lock_token, now, "renew_orchestration_item_lock")
        lock.expires_at = max(lock.expires_at, now + self._ms(extend_for))


class RenewRevivesExpiredLock(SqlEditMutant):
    """Bug: renew_orchestration_item_lock succeeds on an expired (not yet re-taken) lock."""

    breaks = Breaks(
        "Provider.renew_orchestration_item_lock",
        "A token that is not live raises LockLostError and changes nothing.",
    )
    sql_edits: ClassVar[SqlEdits] = {
        "renew_orchestration_item_lock": {"AND locked_until > ?": "AND ? IS NOT NULL"}
    }


class OrchestrationRenewDoesNothing(MemoryMutant):
    """Bug: renew_orchestration_item_lock checks the token but leaves the expiry as it was."""

    breaks = Breaks("Provider", "a renewal moves that expiry.")

    async def renew_orchestration_item_lock(self, lock_token: str, extend_for: float) -> None:
        now = self._begin("renew_orchestration_item_lock")
        self._live_lock(lock_token, now, "renew_orchestration_item_lock")


# -- what every operation promises ---------------------------------------------------------


class NowTruncatedToSeconds(MemoryMutant):
    """Bug: "now" is read from the clock in whole seconds, milliseconds dropped."""

    breaks = Breaks("Provider", "times are epoch milliseconds (int) from the provider's clock")

    def _begin(self, operation: str) -> int:
        return super()._begin(operation) // 1000 * 1000


class ReadIsNotACoroutine(MemoryMutant):
    """Bug: read is a plain method returning the events, not a coroutine."""

    breaks = Breaks("Provider", "All operations are coroutines.")

    def read(self, instance: str) -> list[Event]:  # type: ignore[override]
        record = self._instances.get(instance)
        if record is None or record.current not in record.executions:
            return []
        return list(record.executions[record.current].events)


class EnqueueCreatesExecution(MemoryMutant):
    """Bug: enqueueing a message for an unknown instance creates its first execution."""

    breaks = Breaks(
        "Provider.enqueue_for_orchestrator",
        "Never creates an instance record, execution or history.",
    )

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        await super().enqueue_for_orchestrator(item, delay)
        record = self._instances.setdefault(item.instance, _Instance())
        record.executions.setdefault(INITIAL_EXECUTION_ID, _Execution())


class InstanceIdsTrimmed(MemoryMutant):
    """Bug: messages are queued under the instance id with surrounding whitespace trimmed."""

    breaks = Breaks(
        "Provider.enqueue_for_orchestrator", "Append item to item.instance's orchestrator queue."
    )

    def _append(self, message: OrchestratorMessage, visible_at: int) -> None:
        fire_at = message.visible_at_ms
        if fire_at is not None:
            visible_at = max(visible_at, fire_at)
        routed = message.instance.strip()
        self._queue.append(_Message(next(self._seq), routed, message, visible_at))


class FetchDoesNotLock(MemoryMutant):
    """Bug: fetch returns the instance's turn without taking its lock."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "Lock the instance owning the oldest visible message and return its turn.",
    )

    def _lock_instance(self, instance: str, now: int, lock_timeout: float) -> OrchestrationItem:
        item = super()._lock_instance(instance, now, lock_timeout)
        del self._locks[instance]
        return item


class LongPollReturnsAtOnce(SqliteMutant):
    """Bug: fetch_orchestration_item never waits, although the provider declares LONG_POLL."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "None means no unlocked instance has visible work (after waiting up to poll_timeout "
        "if the provider declares LONG_POLL",
    )

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        return await super().fetch_orchestration_item(lock_timeout, 0.0)


class CorruptInstanceBlocksOthers(SqliteMutant):
    """Bug: while the oldest instance has an undecodable message, every fetch returns None.

    The fetch gives that batch straight back and reports no work, so the corrupt instance,
    still the oldest, hides every other instance behind it.
    """

    breaks = Breaks(
        "Provider.fetch_orchestration_item", "corrupt data of one instance never blocks the others."
    )

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        item = await super().fetch_orchestration_item(lock_timeout, poll_timeout)
        if item is not None and item.message_error is not None:
            await self.abandon_orchestration_item(item.lock_token, ignore_attempt=True)
            return None
        return item


class CorruptMessagesDroppedSilently(SqliteMutant):
    """Bug: undecodable messages are left out of the batch without setting message_error."""

    breaks = Breaks(
        "Provider.fetch_orchestration_item",
        "undecodable messages still return it, with message_error set",
    )

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        item = await super().fetch_orchestration_item(lock_timeout, poll_timeout)
        return None if item is None else dataclasses.replace(item, message_error=None)
