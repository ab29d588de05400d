"""The in-memory reference provider: the contract in plain Python, readable in one sitting.

It is written from the ``Provider`` docstrings alone and is the example to follow when you
write your own provider. State lives in lists and dicts of one object. No operation awaits
anything between reading that state and changing it, so on one event loop every call is
atomic: two fetches can never both see an item as free and both take it. Nothing is
persisted; it is a provider for tests, examples and comparisons, not for production.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from provkit.contract import (
    INITIAL_EXECUTION_ID,
    ActivityId,
    Capability,
    Clock,
    DuplicateEventError,
    ExecutionMetadata,
    LockLostError,
    OrchestrationItem,
    Provider,
    ProviderError,
    Status,
    SystemClock,
    WorkLease,
)
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage


@dataclass(eq=False)
class _Message:
    """One orchestrator-queue message of ``instance``; ``seq`` is its place in enqueue order."""

    seq: int
    instance: str
    message: OrchestratorMessage
    visible_at: int
    deliveries: int = 0


@dataclass(eq=False)
class _InstanceLock:
    """A live or expired instance lock and the batch it covers."""

    token: str
    expires_at: int
    batch: list[_Message]


@dataclass(eq=False)
class _WorkItem:
    """One worker-queue item; ``token`` and ``expires_at`` describe its latest lease."""

    seq: int
    item: ActivityExecute
    visible_at: int
    deliveries: int = 0
    token: str | None = None
    expires_at: int = 0


@dataclass(eq=False)
class _Execution:
    status: Status = Status.RUNNING
    output: str | None = None
    events: list[Event] = field(default_factory=list)

    def add(self, events: Sequence[Event]) -> None:
        """Store ``events``, keeping the history in ``event_id`` order."""
        self.events = sorted([*self.events, *events], key=lambda e: e.event_id)


@dataclass(eq=False)
class _Instance:
    """What acks and appends stored about one instance (``name``: set by an ack's metadata)."""

    name: str | None = None
    version: str | None = None
    parent: str | None = None
    executions: dict[int, _Execution] = field(default_factory=dict)

    @property
    def current(self) -> int:
        """The highest execution id any ack or append named (the contract's current one)."""
        return max(self.executions, default=INITIAL_EXECUTION_ID)


class MemoryProvider:
    """A ``Provider`` keeping everything in this object; declares ``CLOCK``."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.name = "memory"
        self.capabilities = frozenset({Capability.CLOCK})
        self._clock: Clock = SystemClock() if clock is None else clock
        self._seq = itertools.count()
        self._queue: list[_Message] = []
        self._locks: dict[str, _InstanceLock] = {}
        self._work: list[_WorkItem] = []
        self._instances: dict[str, _Instance] = {}
        self._closed = False

    def set_clock(self, clock: Clock) -> None:
        """Take "now" from ``clock`` from here on."""
        self._clock = clock

    def _begin(self, operation: str) -> int:
        """Now, for an operation that may run (``ProviderError`` once the provider is closed)."""
        if self._closed:
            raise ProviderError(operation, "the provider is closed")
        return self._clock.now_ms()

    @staticmethod
    def _new_token() -> str:
        return uuid.uuid4().hex

    @staticmethod
    def _ms(seconds: float) -> int:
        """A duration in whole milliseconds (to the nearest one)."""
        return round(seconds * 1000)

    # -- orchestrator queue ------------------------------------------------------------

    def _append(self, message: OrchestratorMessage, visible_at: int) -> None:
        timer_at = message.visible_at_ms
        if timer_at is not None:
            visible_at = max(visible_at, timer_at)
        self._queue.append(_Message(next(self._seq), message.instance, message, visible_at))

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        now = self._begin("enqueue_for_orchestrator")
        self._append(item, now + (0 if delay is None else self._ms(delay)))

    def _live_lock(self, token: str, now: int, operation: str) -> tuple[str, _InstanceLock]:
        for instance, lock in self._locks.items():
            if lock.token == token and now < lock.expires_at:
                return instance, lock
        raise LockLostError(operation, "no live lock for this token")

    def _locked(self, instance: str, now: int) -> bool:
        lock = self._locks.get(instance)
        return lock is not None and now < lock.expires_at

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        now = self._begin("fetch_orchestration_item")
        instance = self._oldest_candidate(now)
        if instance is None:
            return None
        return self._lock_instance(instance, now, lock_timeout)

    def _oldest_candidate(self, now: int) -> str | None:
        """The unlocked instance holding the first visible message by (visibility, enqueue)."""
        candidates = [
            m
            for m in self._queue
            if m.visible_at <= now and not self._locked(m.instance, now)
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda m: (m.visible_at, m.seq)).instance

    def _lock_instance(self, instance: str, now: int, lock_timeout: float) -> OrchestrationItem:
        """Lock ``instance`` with all its visible messages as the batch; return the turn."""
        batch = [m for m in self._queue if m.instance == instance and m.visible_at <= now]
        for m in batch:
            m.deliveries += 1
        token = self._new_token()
        self._locks[instance] = _InstanceLock(token, now + self._ms(lock_timeout), batch)
        record = self._instances.get(instance, _Instance())
        execution = record.executions.get(record.current, _Execution())
        return OrchestrationItem(
            instance=instance,
            orchestration_name=record.name,
            version=record.version,
            execution_id=record.current,
            history=list(execution.events),
            messages=[m.message for m in batch],
            lock_token=token,
            attempt_count=max(m.deliveries for m in batch),
        )

    async def ack_orchestration_item(
        self,
        lock_token: str,
        execution_id: int,
        history_delta: Sequence[Event],
        worker_items: Sequence[ActivityExecute],
        orchestrator_items: Sequence[OrchestratorMessage],
        metadata: ExecutionMetadata,
        cancelled_activities: Sequence[ActivityId] = (),
    ) -> None:
        operation = "ack_orchestration_item"
        now = self._begin(operation)
        instance, lock = self._live_lock(lock_token, now, operation)
        record = self._instances.get(instance, _Instance())
        execution = record.executions.get(execution_id, _Execution())
        # Every check comes before the first change: a failed ack changes nothing.
        self._check_new_events(operation, instance, execution_id, execution, history_delta)

        del self._locks[instance]
        self._queue = [m for m in self._queue if m not in lock.batch]
        if metadata.orchestration_name is not None:
            record.name = metadata.orchestration_name
            record.version = metadata.orchestration_version
            record.parent = metadata.parent_instance
        self._instances[instance] = record
        record.executions[execution_id] = execution
        execution.add(history_delta)
        if metadata.status is not None:
            execution.status = metadata.status
        if metadata.output is not None:
            execution.output = metadata.output
        for work in worker_items:
            self._work.append(_WorkItem(next(self._seq), work, now))
        for message in orchestrator_items:
            self._append(message, now)
        cancelled = set(cancelled_activities)
        self._work = [w for w in self._work if w.item.activity not in cancelled]

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        operation = "abandon_orchestration_item"
        now = self._begin(operation)
        instance, lock = self._live_lock(lock_token, now, operation)
        del self._locks[instance]
        for m in lock.batch:
            if delay is not None:
                m.visible_at = now + self._ms(delay)
            if ignore_attempt:
                m.deliveries = max(m.deliveries - 1, 0)

    async def renew_orchestration_item_lock(self, lock_token: str, extend_for: float) -> None:
        operation = "renew_orchestration_item_lock"
        now = self._begin(operation)
        _, lock = self._live_lock(lock_token, now, operation)
        lock.expires_at = now + self._ms(extend_for)

    # -- worker queue ------------------------------------------------------------------

    async def enqueue_for_worker(self, item: ActivityExecute) -> None:
        now = self._begin("enqueue_for_worker")
        self._work.append(_WorkItem(next(self._seq), item, now))

    @staticmethod
    def _free(work: _WorkItem, now: int) -> bool:
        """Visible and not under a live lease."""
        return work.visible_at <= now and (work.token is None or work.expires_at <= now)

    def _live_lease(self, token: str, now: int, operation: str) -> _WorkItem:
        for work in self._work:
            if work.token == token and now < work.expires_at:
                return work
        raise LockLostError(operation, "no live lease for this token")

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        now = self._begin("fetch_work_item")
        work = self._first_free_work(now)
        if work is None:
            return None
        return self._lease(work, now, lock_timeout)

    def _first_free_work(self, now: int) -> _WorkItem | None:
        """The first item in enqueue order that is visible and not under a live lease."""
        return next((w for w in self._work if self._free(w, now)), None)

    def _lease(self, work: _WorkItem, now: int, lock_timeout: float) -> WorkLease:
        work.token = self._new_token()
        work.expires_at = now + self._ms(lock_timeout)
        work.deliveries += 1
        return WorkLease(item=work.item, lock_token=work.token, attempt_count=work.deliveries)

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        now = self._begin("ack_work_item")
        work = self._live_lease(lock_token, now, "ack_work_item")
        self._work.remove(work)
        if completion is not None:
            self._append(completion, now)

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        now = self._begin("abandon_work_item")
        work = self._live_lease(lock_token, now, "abandon_work_item")
        work.token = None
        work.visible_at = now + (0 if delay is None else self._ms(delay))
        if ignore_attempt:
            work.deliveries = max(work.deliveries - 1, 0)

    async def renew_work_item_lock(self, lock_token: str, extend_for: float) -> None:
        now = self._begin("renew_work_item_lock")
        work = self._live_lease(lock_token, now, "renew_work_item_lock")
        work.expires_at = now + self._ms(extend_for)

    # -- history -----------------------------------------------------------------------

    async def read(self, instance: str) -> list[Event]:
        self._begin("read")
        record = self._instances.get(instance)
        if record is None or record.current not in record.executions:
            return []
        return list(record.executions[record.current].events)

    async def read_execution(self, instance: str, execution_id: int) -> list[Event]:
        self._begin("read_execution")
        record = self._instances.get(instance)
        if record is None or execution_id not in record.executions:
            return []
        return list(record.executions[execution_id].events)

    async def list_executions(self, instance: str) -> list[int]:
        self._begin("list_executions")
        record = self._instances.get(instance)
        return [] if record is None else sorted(record.executions)

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        operation = "append_history"
        self._begin(operation)
        record = self._instances.get(instance, _Instance())
        execution = record.executions.get(execution_id, _Execution())
        self._check_new_events(operation, instance, execution_id, execution, events)
        self._instances[instance] = record
        record.executions[execution_id] = execution
        execution.add(events)

    @staticmethod
    def _check_new_events(
        operation: str,
        instance: str,
        execution_id: int,
        execution: _Execution,
        events: Sequence[Event],
    ) -> None:
        """``DuplicateEventError`` if an event id of ``events`` is stored or repeated."""
        ids = [e.event_id for e in events]
        stored = {e.event_id for e in execution.events}
        if len(set(ids)) != len(ids) or stored.intersection(ids):
            raise DuplicateEventError(
                operation,
                f"execution {execution_id} of {instance!r}: an event id in {ids} is already "
                "stored or repeated",
            )

    # -- lifecycle ---------------------------------------------------------------------

    async def close(self) -> None:
        """Forget everything; later calls raise ``ProviderError``. Idempotent."""
        self._closed = True
        self._queue.clear()
        self._locks.clear()
        self._work.clear()
        self._instances.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


class MemoryFactory:
    """``ProviderFactory``: a fresh, empty ``MemoryProvider`` for each use."""

    async def create_provider(self) -> Provider:
        return MemoryProvider()

    async def dispose_provider(self, provider: Provider) -> None:
        await provider.close()
