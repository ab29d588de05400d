"""The PostgreSQL reference provider (asyncpg, a connection pool), its factory and the sweep.

Every provider call is one statement, most of them one server-side function, prepared once
per pooled connection: one round trip. "Now" comes from the provider's clock and is passed
into the SQL. Waiting fetches are woken by LISTEN/NOTIFY, so work written by any process on
the same schema wakes them. Only ``provkit.contract`` errors ever leave a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import secrets
from collections.abc import AsyncIterator, Collection, Sequence
from types import TracebackType
from typing import Any

import asyncpg

from provkit.contract import (
    ActivityId,
    Capability,
    Clock,
    CorruptDataError,
    DeleteResult,
    ExecutionInfo,
    ExecutionMetadata,
    InstanceFilter,
    InstanceInfo,
    InstancePage,
    LockLostError,
    NotFoundError,
    OrchestrationItem,
    Provider,
    ProviderError,
    PruneResult,
    QueueDepths,
    Status,
    SystemClock,
    SystemMetrics,
    WorkLease,
    codec,
)
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage
from provkit.reference_providers import _pg_lifecycle as lifecycle
from provkit.reference_providers._pg_connect import DSN_ENV, Target, operation_error
from provkit.reference_providers._pg_lifecycle import PoolSettings
from provkit.reference_providers._pg_schema import (
    Statements,
    check_schema_name,
    orchestrator_channel,
    worker_channel,
)
from provkit.reference_providers._values import from_blob, ms, to_blob
from provkit.reference_providers._wakeup import NextWake, Wakeup, long_poll

SCHEMA_ENV = "PROVKIT_POSTGRES_SCHEMA"
"""When set, ``PostgresFactory`` providers share this schema (kept) instead of scratch ones."""

_UNDECODABLE = "corrupted by provkit fault injection: not JSON"

_CLOSE_TIMEOUT = 5.0
"""Seconds ``close`` lets in-flight calls finish before it cuts their connections."""


class PostgresProvider:
    """A ``Provider`` on a PostgreSQL schema: ``connect(dsn, schema=...)``.

    Several provider objects, in one process or many, may share a schema: that is how
    runtime processes scale out. Declares every capability: ``CLOCK``, ``FAULT_INJECTION``,
    ``LONG_POLL`` (waiting fetches wake on LISTEN/NOTIFY, so for work written by any process
    on the schema, and when delayed work or a lock's expiry comes due), ``MANAGEMENT``,
    ``DELETION``, ``PRUNE`` and ``TASK_QUEUES``.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        target: Target,
        schema: str,
        clock: Clock | None,
        control: asyncpg.Connection | None = None,
        scratch: bool = False,
    ) -> None:
        self.name = "postgres"
        self.capabilities = frozenset(Capability)
        self.schema = schema
        self._pool = pool
        self._target = target
        self._sql = Statements(schema)
        self._clock: Clock = SystemClock() if clock is None else clock
        self._closed = False
        # The control connection listens for notifications and, for a scratch schema, holds
        # its ownership; opened on the first long poll otherwise.
        self._control = control
        self._listening = False
        self._control_lock = asyncio.Lock()
        self._scratch = scratch
        self._orchestrator_wakeup = Wakeup()
        self._worker_wakeup = Wakeup()
        self._channels = {
            orchestrator_channel(schema): self._orchestrator_wakeup,
            worker_channel(schema): self._worker_wakeup,
        }
        # Tokens only need to be unique across every process on the schema.
        self._token_prefix = secrets.token_hex(8) + "-"
        self._token_serial = itertools.count(1)
        self._undoing: set[asyncio.Task[None]] = set()

    @classmethod
    async def connect(
        cls,
        dsn: str | None = None,
        *,
        schema: str = "provkit",
        clock: Clock | None = None,
        pool_size: int = 10,
        durable: bool = True,
    ) -> PostgresProvider:
        """A provider on ``schema`` (created if missing) of the server ``dsn`` names.

        ``dsn`` defaults to ``$PROVKIT_POSTGRES_DSN``, else the local server. The schema is
        kept when the provider closes. A DSN that does not parse raises ``DsnError`` (a
        ``ValueError``); other failures a ``ProviderError`` whose one-line message names
        host, port and cause (``TransientError`` if the server is unreachable). The pool
        opens at most ``pool_size`` connections. Every commit waits for the server's WAL
        flush unless ``durable=False``, which is faster but lets a server crash lose the
        last fraction of a second of commits (see ``PoolSettings``).
        """
        check_schema_name(schema)
        settings = PoolSettings(pool_size, durable)
        return await cls._connect(Target.resolve(dsn), schema, clock, settings)

    @classmethod
    async def _connect(
        cls, target: Target, schema: str, clock: Clock | None, settings: PoolSettings
    ) -> PostgresProvider:
        pool = await lifecycle.open_pool(target, settings)
        try:
            async with pool.acquire() as conn:
                await lifecycle.ensure_schema(conn, target, schema)
        except BaseException:
            pool.terminate()
            raise
        return cls(pool, target, schema, clock)

    @classmethod
    async def connect_scratch(
        cls,
        dsn: str | None = None,
        *,
        clock: Clock | None = None,
        pool_size: int = 10,
        durable: bool = True,
        sweep: bool = False,
    ) -> PostgresProvider:
        """A provider on a new scratch schema of its own, dropped when it closes.

        Should the process die first, ``sweep_schemas`` removes the schema; ``sweep=True``
        sweeps before creating. Other arguments as for ``connect``.
        """
        settings = PoolSettings(pool_size, durable)
        return await cls._connect_scratch(Target.resolve(dsn), clock, settings, sweep)

    @classmethod
    async def _connect_scratch(
        cls, target: Target, clock: Clock | None, settings: PoolSettings, sweep: bool
    ) -> PostgresProvider:
        control = await lifecycle.open_connection(target)
        try:
            if sweep:
                await lifecycle.sweep(control, target)
            schema = await lifecycle.create_scratch(control, target)
        except BaseException:
            control.terminate()
            raise
        try:
            pool = await lifecycle.open_pool(target, settings)
        except BaseException:
            with contextlib.suppress(Exception):
                await lifecycle.drop_scratch(control, target, schema)
            control.terminate()
            raise
        return cls(pool, target, schema, clock, control=control, scratch=True)

    def set_clock(self, clock: Clock) -> None:
        """Take "now" from ``clock`` from here on."""
        self._clock = clock

    def _new_token(self) -> str:
        return f"{self._token_prefix}{next(self._token_serial):x}"

    async def _call(self, operation: str, query: str, *args: Any) -> Any:
        """Run one statement; its first row (``None`` if it returned none)."""
        if self._closed:
            raise ProviderError(operation, "the provider is closed")
        try:
            return await self._pool.fetchrow(query, *args)
        except Exception as exc:
            if self._closed:
                raise ProviderError(operation, "the provider is closed") from exc
            raise operation_error(operation, exc) from exc

    # -- orchestrator queue --------------------------------------------------------------

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        now = self._clock.now_ms()
        instance, visible_at, data = _orchestrator_row(
            item, now + (0 if delay is None else ms(delay))
        )
        await self._call(
            "enqueue_for_orchestrator",
            self._sql.enqueue_orchestrator,
            now,
            instance,
            visible_at,
            data,
        )

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        lock_ms = ms(lock_timeout)
        waits = poll_timeout > 0

        async def attempt() -> tuple[OrchestrationItem | None, NextWake]:
            if waits:
                await self._listen("fetch_orchestration_item")
            now, token = self._clock.now_ms(), self._new_token()
            try:
                row = await self._call(
                    "fetch_orchestration_item",
                    self._sql.fetch_orchestration,
                    now,
                    now + lock_ms,
                    token,
                    waits,
                )
            except asyncio.CancelledError:
                self._undo(self._forget_orchestration_fetch(token))
                raise
            if row is None or row["o_instance"] is None:
                return None, None if row is None else row["o_next_wake"]
            return _orchestration_item(row, token), None

        return await long_poll(self._orchestrator_wakeup, attempt, poll_timeout, self._clock)

    async def _forget_orchestration_fetch(self, token: str) -> None:
        with contextlib.suppress(ProviderError):
            await self.abandon_orchestration_item(token, None, ignore_attempt=True)

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
        now = self._clock.now_ms()
        work_keys = [item.activity for item in worker_items]
        orchestrator_rows = [_orchestrator_row(m, now) for m in orchestrator_items]
        await self._call(
            "ack_orchestration_item",
            self._sql.ack_orchestration,
            now,
            _lock_token("ack_orchestration_item", lock_token),
            execution_id,
            [e.event_id for e in history_delta],
            [codec.encode_event(e) for e in history_delta],
            [to_blob(k.instance) for k in work_keys],
            [k.execution_id for k in work_keys],
            [k.activity_id for k in work_keys],
            [to_blob(item.queue) for item in worker_items],
            [codec.encode_message(item) for item in worker_items],
            [row[0] for row in orchestrator_rows],
            [row[1] for row in orchestrator_rows],
            [row[2] for row in orchestrator_rows],
            [to_blob(a.instance) for a in cancelled_activities],
            [a.execution_id for a in cancelled_activities],
            [a.activity_id for a in cancelled_activities],
            None if metadata.status is None else metadata.status.value,
            _blob_or_none(metadata.output),
            _blob_or_none(metadata.orchestration_name),
            _blob_or_none(metadata.orchestration_version),
            _blob_or_none(metadata.parent_instance),
        )

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        now = self._clock.now_ms()
        visible_at = None if delay is None else now + ms(delay)
        await self._call(
            "abandon_orchestration_item",
            self._sql.abandon_orchestration,
            now,
            _lock_token("abandon_orchestration_item", lock_token),
            visible_at,
            ignore_attempt,
        )

    async def renew_orchestration_item_lock(self, lock_token: str, extend_for: float) -> None:
        now = self._clock.now_ms()
        renewed = await self._call(
            "renew_orchestration_item_lock",
            self._sql.renew_orchestration,
            now,
            _lock_token("renew_orchestration_item_lock", lock_token),
            now + ms(extend_for),
        )
        if renewed is None:
            raise LockLostError("renew_orchestration_item_lock", "no live lock for this token")

    # -- worker queue --------------------------------------------------------------------

    async def enqueue_for_worker(self, item: ActivityExecute) -> None:
        key = item.activity
        await self._call(
            "enqueue_for_worker",
            self._sql.enqueue_work,
            to_blob(key.instance),
            key.execution_id,
            key.activity_id,
            to_blob(item.queue),
            self._clock.now_ms(),
            codec.encode_message(item),
        )

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        return await self._fetch_work(None, lock_timeout, poll_timeout)

    async def fetch_work_item_from(
        self, queues: Collection[str], lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        """``fetch_work_item`` restricted to items of the task ``queues`` (FIFO per queue)."""
        if not queues:
            return None
        return await self._fetch_work(
            [to_blob(q) for q in sorted(set(queues))], lock_timeout, poll_timeout
        )

    async def _fetch_work(
        self, queues: list[bytes] | None, lock_timeout: float, poll_timeout: float
    ) -> WorkLease | None:
        lock_ms = ms(lock_timeout)
        waits = poll_timeout > 0

        async def attempt() -> tuple[WorkLease | None, NextWake]:
            if waits:
                await self._listen("fetch_work_item")
            now, token = self._clock.now_ms(), self._new_token()
            try:
                row = await self._call(
                    "fetch_work_item",
                    self._sql.fetch_work,
                    now,
                    now + lock_ms,
                    token,
                    waits,
                    queues,
                )
            except asyncio.CancelledError:
                self._undo(self._forget_work_fetch(token))
                raise
            if row is None or row["o_token"] is None:
                return None, None if row is None else row["o_next_wake"]
            return _work_lease(row), None

        return await long_poll(self._worker_wakeup, attempt, poll_timeout, self._clock)

    async def _forget_work_fetch(self, token: str) -> None:
        with contextlib.suppress(ProviderError):
            await self._call(
                "forget_work_fetch", self._sql.forget_work, self._clock.now_ms(), token
            )

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        now = self._clock.now_ms()
        instance, visible_at, data = (
            (None, None, None) if completion is None else _orchestrator_row(completion, now)
        )
        await self._call(
            "ack_work_item",
            self._sql.ack_work,
            now,
            _leased_row("ack_work_item", lock_token),
            lock_token,
            instance,
            visible_at,
            data,
        )

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        now = self._clock.now_ms()
        await self._call(
            "abandon_work_item",
            self._sql.abandon_work,
            now,
            _leased_row("abandon_work_item", lock_token),
            lock_token,
            now + (0 if delay is None else ms(delay)),
            ignore_attempt,
        )

    async def renew_work_item_lock(self, lock_token: str, extend_for: float) -> None:
        now = self._clock.now_ms()
        renewed = await self._call(
            "renew_work_item_lock",
            self._sql.renew_work,
            now,
            _leased_row("renew_work_item_lock", lock_token),
            lock_token,
            now + ms(extend_for),
        )
        if renewed is None:
            raise LockLostError("renew_work_item_lock", "no live lease for this token")

    # -- history -------------------------------------------------------------------------

    async def read(self, instance: str) -> list[Event]:
        row = await self._call("read", self._sql.read_latest, to_blob(instance))
        return _history("read", instance, row[0])

    async def read_execution(self, instance: str, execution_id: int) -> list[Event]:
        row = await self._call(
            "read_execution", self._sql.read_execution, to_blob(instance), execution_id
        )
        return _history("read_execution", instance, row[0])

    async def list_executions(self, instance: str) -> list[int]:
        row = await self._call("list_executions", self._sql.list_executions, to_blob(instance))
        return list(row[0] or [])

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        await self._call(
            "append_history",
            self._sql.append_history,
            self._clock.now_ms(),
            to_blob(instance),
            execution_id,
            [e.event_id for e in events],
            [codec.encode_event(e) for e in events],
        )

    # -- fault injection -----------------------------------------------------------------

    async def corrupt_history(self, instance: str, execution_id: int) -> None:
        """Overwrite that execution's stored history with text the codec cannot decode."""
        await self._call(
            "corrupt_history",
            self._sql.corrupt_history,
            self._clock.now_ms(),
            to_blob(instance),
            execution_id,
            _UNDECODABLE,
        )

    async def corrupt_orchestrator_messages(self, instance: str) -> int:
        """Make the queued messages routed to ``instance`` undecodable; how many changed."""
        row = await self._call(
            "corrupt_orchestrator_messages",
            self._sql.corrupt_orchestrator_messages,
            to_blob(instance),
            _UNDECODABLE,
        )
        return int(row[0])

    async def corrupt_work_items(self, instance: str) -> int:
        """Make the worker items of ``instance`` undecodable; how many changed."""
        row = await self._call(
            "corrupt_work_items", self._sql.corrupt_work_items, to_blob(instance), _UNDECODABLE
        )
        return int(row[0])

    # -- management ----------------------------------------------------------------------

    async def get_instance_info(self, instance: str) -> InstanceInfo:
        row = await self._call("get_instance_info", self._sql.instance_info, to_blob(instance))
        if row is None:
            raise NotFoundError("get_instance_info", f"instance {instance!r} has no record")
        return InstanceInfo(
            instance=instance,
            orchestration_name=from_blob(row["name"]),
            orchestration_version=_text_or_none(row["version"]),
            current_execution_id=row["execution_id"],
            status=Status(row["status"]),
            output=_text_or_none(row["output"]),
            parent_instance=_text_or_none(row["parent_instance"]),
            created_at_ms=row["created_at"],
            updated_at_ms=row["updated_at"],
        )

    async def get_execution_info(self, instance: str, execution_id: int) -> ExecutionInfo:
        row = await self._call(
            "get_execution_info", self._sql.execution_info, to_blob(instance), execution_id
        )
        if row is None:
            raise NotFoundError(
                "get_execution_info", f"execution {execution_id} of {instance!r} does not exist"
            )
        return ExecutionInfo(
            instance=instance,
            execution_id=execution_id,
            status=Status(row["status"]),
            output=_text_or_none(row["output"]),
            event_count=row["count"],
            started_at_ms=row["started_at"],
            completed_at_ms=row["completed_at"],
        )

    async def list_instances(
        self, *, status: Status | None = None, limit: int = 100, cursor: str | None = None
    ) -> InstancePage:
        after = None if cursor is None else _cursor_key(cursor)
        row = await self._call(
            "list_instances",
            self._sql.list_instances,
            after,
            None if status is None else status.value,
            max(limit, 1) + 1,
        )
        keys: list[bytes] = list(row[0] or [])
        page, more = keys[:limit], len(keys) > limit
        return InstancePage(
            instances=[from_blob(key) for key in page],
            next_cursor=page[-1].hex() if more and page else None,
        )

    async def get_queue_depths(self) -> QueueDepths:
        row = await self._call("get_queue_depths", self._sql.queue_depths)
        return QueueDepths(orchestrator=row[0], worker=row[1])

    async def get_system_metrics(self) -> SystemMetrics:
        row = await self._call("get_system_metrics", self._sql.system_metrics)
        statuses: list[str] = list(row[2] or [])
        by_status = dict.fromkeys(Status, 0)
        for status in statuses:
            by_status[Status(status)] += 1
        return SystemMetrics(
            instances=len(statuses), executions=row[0], events=row[1], by_status=by_status
        )

    # -- deletion and prune --------------------------------------------------------------

    async def delete_instance(self, instance: str, *, force: bool = False) -> DeleteResult:
        row = await self._call(
            "delete_instance", self._sql.delete_instance, to_blob(instance), force
        )
        return _delete_result(row)

    async def delete_instances(self, selection: InstanceFilter) -> DeleteResult:
        ids = selection.instances
        row = await self._call(
            "delete_instances",
            self._sql.delete_instances,
            None if ids is None else [to_blob(i) for i in ids],
            selection.completed_before_ms,
            selection.limit,
        )
        return _delete_result(row)

    async def prune_executions(
        self,
        instance: str,
        *,
        keep_last: int | None = None,
        completed_before_ms: int | None = None,
    ) -> PruneResult:
        row = await self._call(
            "prune_executions",
            self._sql.prune_executions,
            to_blob(instance),
            keep_last,
            completed_before_ms,
        )
        return PruneResult(executions=row["o_executions"], events=row["o_events"])

    # -- notifications -------------------------------------------------------------------

    async def _listen(self, operation: str) -> None:
        """Make sure the control connection LISTENs, (re)connecting it if needed."""
        if self._listening:
            return
        async with self._control_lock:
            if self._listening:
                return
            if self._closed:
                raise ProviderError(operation, "the provider is closed")
            control = self._control
            if control is None or control.is_closed():
                control = self._control = await lifecycle.open_connection(self._target)
            try:
                for channel in self._channels:
                    await control.add_listener(channel, self._notified)
            except Exception as exc:
                raise operation_error(operation, exc) from exc
            control.add_termination_listener(self._control_lost)
            self._listening = True

    def _notified(self, conn: object, pid: int, channel: str, payload: str) -> None:
        wakeup = self._channels.get(channel)
        if wakeup is self._worker_wakeup:
            # Waiters may serve different task queues: each looks whether the work is for it.
            wakeup.notify_all()
        elif wakeup is not None:
            wakeup.notify(int(payload) if payload.isdigit() else 1)

    def _control_lost(self, conn: object) -> None:
        # Notifications may have been missed: every waiter looks again (and reconnects).
        self._listening = False
        self._orchestrator_wakeup.notify_all()
        self._worker_wakeup.notify_all()

    # -- lifecycle -----------------------------------------------------------------------

    def _undo(self, work: Any) -> None:
        # A fetch cancelled while its statement was in flight may still have taken a lock;
        # release it now instead of leaving it to expire.
        task = asyncio.get_running_loop().create_task(work)
        self._undoing.add(task)
        task.add_done_callback(self._undoing.discard)

    async def close(self) -> None:
        """Close the pool (and drop a scratch schema); later calls raise. Idempotent."""
        if self._closed:
            return
        await asyncio.gather(*self._undoing, return_exceptions=True)
        self._closed = True
        self._orchestrator_wakeup.notify_all()
        self._worker_wakeup.notify_all()
        try:
            await asyncio.wait_for(self._pool.close(), _CLOSE_TIMEOUT)
        except Exception:
            self._pool.terminate()
        control, self._control = self._control, None
        if control is None:
            return
        try:
            if self._scratch and not control.is_closed():
                await lifecycle.drop_scratch(control, self._target, self.schema)
        finally:
            await control.close()

    async def __aenter__(self) -> PostgresProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def _orchestrator_row(message: OrchestratorMessage, now: int) -> tuple[bytes, int, str]:
    at = message.visible_at_ms
    return (
        to_blob(message.instance),
        now if at is None else max(now, at),
        codec.encode_message(message),
    )


def _blob_or_none(text: str | None) -> bytes | None:
    return None if text is None else to_blob(text)


def _text_or_none(raw: bytes | None) -> str | None:
    return None if raw is None else from_blob(raw)


def _cursor_key(cursor: str) -> bytes:
    try:
        return bytes.fromhex(cursor)
    except ValueError:
        raise ProviderError(
            "list_instances", f"cursor {cursor!r} is not one list_instances returned"
        ) from None


def _delete_result(row: Any) -> DeleteResult:
    return DeleteResult(
        instances=row["o_instances"],
        executions=row["o_executions"],
        events=row["o_events"],
        orchestrator_messages=row["o_orchestrator_messages"],
        worker_items=row["o_worker_items"],
    )


def _work_lease(row: Any) -> WorkLease:
    instance = from_blob(row["o_instance"])
    try:
        item = codec.decode_work_item(row["o_data"])
    except CorruptDataError as exc:
        stand_in = ActivityExecute(
            instance=instance,
            execution_id=row["o_execution_id"],
            id=row["o_activity_id"],
            name="",
            input="",
            queue=from_blob(row["o_queue"]),
        )
        return WorkLease(
            item=stand_in,
            lock_token=row["o_token"],
            attempt_count=row["o_attempt_count"],
            item_error=f"worker item of {instance!r}: {exc.message}",
        )
    return WorkLease(item=item, lock_token=row["o_token"], attempt_count=row["o_attempt_count"])


_LOCK_TOKEN = re.compile(r"[0-9a-f]{16}-[0-9a-f]{1,16}")
_LEASE_TOKEN = re.compile(r"([0-9]{1,18})\.[0-9a-f]{16}-[0-9a-f]{1,16}")


def _lock_token(operation: str, token: str) -> str:
    """``token`` if a provider on this schema could have issued it, else ``LockLostError``.

    Checked here, so text the server cannot even store (NUL) never reaches it.
    """
    if not _LOCK_TOKEN.fullmatch(token):
        raise LockLostError(operation, "the lock token is not held")
    return token


def _leased_row(operation: str, token: str) -> int:
    """The row id a lease token names, or ``LockLostError`` for one no provider issued."""
    match = _LEASE_TOKEN.fullmatch(token)
    if match is None:
        raise LockLostError(operation, "the lease token is not held")
    return int(match[1])


def _orchestration_item(row: Any, token: str) -> OrchestrationItem:
    instance = from_blob(row["o_instance"])
    messages: list[OrchestratorMessage] = []
    undecodable: list[str] = []
    for text in row["o_messages"]:
        try:
            messages.append(codec.decode_orchestrator_message(text))
        except CorruptDataError as exc:
            undecodable.append(exc.message)
    message_error = None
    if undecodable:
        message_error = (
            f"{len(undecodable)} of {len(row['o_messages'])} queued messages of {instance!r} "
            f"could not be decoded: {undecodable[0]}"
        )
    execution_id: int = row["o_execution_id"]
    history: list[Event] = []
    history_error = None
    try:
        history = [codec.decode_event(text) for text in row["o_history"] or ()]
    except CorruptDataError as exc:
        history_error = f"execution {execution_id} of {instance!r}: {exc.message}"
    name, version = row["o_name"], row["o_version"]
    return OrchestrationItem(
        instance=instance,
        orchestration_name=None if name is None else from_blob(name),
        version=None if version is None else from_blob(version),
        execution_id=execution_id,
        history=history,
        messages=messages,
        lock_token=token,
        attempt_count=row["o_attempt_count"],
        history_error=history_error,
        message_error=message_error,
    )


def _history(operation: str, instance: str, texts: list[str] | None) -> list[Event]:
    try:
        return [codec.decode_event(text) for text in texts or ()]
    except CorruptDataError as exc:
        raise CorruptDataError(operation, f"history of {instance!r}: {exc.message}") from exc


class PostgresFactory:
    """``ProviderFactory`` for the ``postgres`` shortcut.

    The server is ``dsn``, else ``$PROVKIT_POSTGRES_DSN``, else the local one
    (postgresql://postgres@127.0.0.1:5432/test). Each provider gets a scratch schema of its
    own, dropped when it is disposed of (or closed); the first one sweeps away scratch
    schemas left by runs that were killed. With ``schema`` (or ``$PROVKIT_POSTGRES_SCHEMA``)
    every provider shares that schema instead and it is kept: several runtime processes on
    one store. ``pool_size`` and ``durable`` as for ``PostgresProvider.connect``.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        schema: str | None = None,
        pool_size: int = 10,
        durable: bool = True,
    ) -> None:
        self._target = Target.resolve(dsn)
        self._schema = schema if schema is not None else os.environ.get(SCHEMA_ENV) or None
        if self._schema is not None:
            check_schema_name(self._schema)
        self._settings = PoolSettings(pool_size, durable)
        self._swept = False
        self._shared: dict[str, asyncpg.Connection] = {}

    async def create_provider(self) -> Provider:
        if self._schema is not None:
            return await PostgresProvider._connect(self._target, self._schema, None, self._settings)
        provider = await PostgresProvider._connect_scratch(
            self._target, None, self._settings, not self._swept
        )
        self._swept = True
        return provider

    async def dispose_provider(self, provider: Provider) -> None:
        await provider.close()

    async def create_shared_store(self) -> str:
        """A new scratch schema that several processes can open; its name.

        This factory's control connection owns it until ``remove_shared_store`` (a later
        sweep drops it should this process die first).
        """
        control = await lifecycle.open_connection(self._target)
        try:
            schema = await lifecycle.create_scratch(control, self._target)
        except BaseException:
            control.terminate()
            raise
        self._shared[schema] = control
        return schema

    async def open_shared_provider(self, location: str) -> Provider:
        """A provider on the shared schema ``location`` (in any process)."""
        check_schema_name(location)
        return await PostgresProvider._connect(self._target, location, None, self._settings)

    async def remove_shared_store(self, location: str) -> None:
        """Drop the shared schema ``location`` this factory created."""
        control = self._shared.pop(location)
        try:
            await lifecycle.drop_scratch(control, self._target, location)
        finally:
            await control.close()


async def sweep_schemas(dsn: str | None = None) -> list[str]:
    """Drop the scratch schemas whose owner is gone (a killed run); returns their names."""
    target = Target.resolve(dsn)
    conn = await lifecycle.open_connection(target)
    try:
        return await lifecycle.sweep(conn, target)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def scratch_schema(dsn: str | None = None) -> AsyncIterator[str]:
    """A new scratch schema for the duration of the block, e.g. for several processes.

    Providers on it come from ``PostgresProvider.connect(schema=name)`` or ``PostgresFactory``
    with ``$PROVKIT_POSTGRES_SCHEMA`` set to the name. Dropped when the block ends, or by a
    later sweep should this process be killed.
    """
    target = Target.resolve(dsn)
    conn = await lifecycle.open_connection(target)
    try:
        schema = await lifecycle.create_scratch(conn, target)
        try:
            yield schema
        finally:
            await lifecycle.drop_scratch(conn, target, schema)
    finally:
        await conn.close()


__all__ = [
    "DSN_ENV",
    "SCHEMA_ENV",
    "PostgresFactory",
    "PostgresProvider",
    "scratch_schema",
    "sweep_schemas",
]
