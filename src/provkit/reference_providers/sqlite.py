"""The SQLite reference provider (aiosqlite), in memory or on a WAL file, plus its factories.

Every provider call is one unit of work in a transaction; the calls made in one step of the
event loop share one commit, run on the loop's thread unless a write must wait for another
connection's lock (``_sqlite_conn.Calls``). "Now" comes from the injected clock.
Only ``provkit.contract`` errors ever leave a call.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Collection, Sequence
from types import TracebackType
from typing import TypeVar

import aiosqlite

from provkit.contract import (
    ActivityId,
    Capability,
    Clock,
    DeleteResult,
    ExecutionInfo,
    ExecutionMetadata,
    InstanceFilter,
    InstanceInfo,
    InstancePage,
    OrchestrationItem,
    Provider,
    ProviderError,
    PruneResult,
    QueueDepths,
    Status,
    SystemClock,
    SystemMetrics,
    WorkLease,
)
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage
from provkit.reference_providers import _sqlite_admin as admin
from provkit.reference_providers import _sqlite_ops as ops
from provkit.reference_providers._sqlite_conn import DEFAULT_BUSY_TIMEOUT, Calls, open_connection
from provkit.reference_providers._sqlite_decoded import HistoryCache, MessageCache
from provkit.reference_providers._wakeup import NextWake, Wakeup, long_poll

_T = TypeVar("_T")

_READ_ONLY = frozenset(
    {
        "read",
        "read_execution",
        "list_executions",
        "get_instance_info",
        "get_execution_info",
        "list_instances",
        "get_queue_depths",
        "get_system_metrics",
    }
)
"""Operations that only read: never batched into a write transaction (``Calls.read``)."""

_REWRITES_HISTORY = frozenset(
    {"corrupt_history", "delete_instance", "delete_instances", "prune_executions"}
)
"""Operations that change or remove stored events: kept decoded histories are dropped first."""


class SqliteProvider:
    """A ``Provider`` on one SQLite connection: ``open_memory()`` or ``open_file(path)``.

    Declares every capability: ``CLOCK`` (``set_clock``), ``FAULT_INJECTION`` (corrupt
    history and messages), ``LONG_POLL`` (fetches wait for this provider's own enqueues, acks
    and abandons, and for delayed work to become visible), ``MANAGEMENT``, ``DELETION``,
    ``PRUNE`` and ``TASK_QUEUES``. A fetch cancelled while in flight releases whatever it
    locked. A file database reopened later sees everything committed before; one written by
    the previous schema version is upgraded when opened.
    """

    def __init__(self, conn: aiosqlite.Connection, name: str, clock: Clock | None) -> None:
        self.name = name
        self.capabilities = frozenset(Capability)
        self._clock: Clock = SystemClock() if clock is None else clock
        self._closed = False
        self._orchestrator_wakeup = Wakeup()
        self._worker_wakeup = Wakeup()
        # Fetches serving chosen task queues wait apart: any new item wakes them all, since
        # the single-line hand-over of ``_worker_wakeup`` could give it to one that skips it.
        self._queue_wakeup = Wakeup()
        # Tokens only need to be unique: a random per-provider prefix (another provider may
        # share the file) and a counter are much cheaper than a uuid4 per fetch.
        self._token_prefix = secrets.token_hex(8) + "-"
        self._token_serial = itertools.count(1)
        self._decoded = HistoryCache()
        self._messages = MessageCache()
        # A rolled-back batch may have undone rows a fetch in it had read.
        self._calls = Calls(conn, on_rollback=self._decoded.clear)
        self._undoing: set[asyncio.Task[None]] = set()
        self._directory_to_remove: str | None = None

    @classmethod
    async def open_memory(cls, clock: Clock | None = None) -> SqliteProvider:
        """A provider on a private in-memory database, gone when closed."""
        return cls(await open_connection(":memory:", wal=False), "sqlite-memory", clock)

    @classmethod
    async def open_file(
        cls,
        path: str | os.PathLike[str],
        clock: Clock | None = None,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> SqliteProvider:
        """A provider on the database file ``path`` (created if missing), in WAL mode.

        ``busy_timeout``: seconds a write waits while another process holds the database's
        write lock before it fails with ``TransientError``. Reads never wait for that lock.
        A path that cannot be opened (missing directory, read-only place) raises a
        ``ProviderError`` whose one-line message names the path and the cause.
        """
        target = os.fspath(path)
        conn = await open_connection(target, wal=True, busy_timeout=busy_timeout)
        return cls(conn, "sqlite-file", clock)

    def set_clock(self, clock: Clock) -> None:
        """Take "now" from ``clock`` from here on."""
        self._clock = clock

    def _new_token(self) -> str:
        return f"{self._token_prefix}{next(self._token_serial):x}"

    def _wake_workers(self, count: int = 1) -> None:
        """Tell waiting worker fetches that ``count`` items may have become fetchable."""
        self._wake_early(self._worker_wakeup, count)
        self._queue_wakeup.notify_all()

    @staticmethod
    def _wake_early(wakeup: Wakeup, count: int) -> None:
        # Called between creating an operation's coroutine and awaiting it. A woken fetch
        # resumes only once this task suspends, and by then the operation is queued on the
        # connection: the fetch's attempt runs after it (calls run in order) and sees
        # its effects, without waiting for its result to come back first. Should the
        # operation fail, the fetch merely finds nothing.
        wakeup.notify(count)

    def _undo(self, work: Callable[[sqlite3.Connection], None]) -> None:
        # A fetch cancelled while its call was queued still runs; this queues the undo
        # right behind it, so the lock it may have taken is
        # released now instead of blocking the instance until it expires.
        task = asyncio.get_running_loop().create_task(self._calls.run("undo fetch", work))
        self._undoing.add(task)
        task.add_done_callback(self._undone)

    def _undone(self, task: asyncio.Task[None]) -> None:
        self._undoing.discard(task)
        if not task.cancelled():
            # A failed undo only means the lock expires on its own; mark the error seen.
            task.exception()

    async def _run(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed:
            raise ProviderError(operation, "the provider is closed")
        if operation in _READ_ONLY:
            return await self._calls.read(operation, work)
        if operation in _REWRITES_HISTORY:
            work = self._forgetting_histories(work)
        return await self._calls.run(operation, work)

    def _forgetting_histories(
        self, work: Callable[[sqlite3.Connection], _T]
    ) -> Callable[[sqlite3.Connection], _T]:
        def forget_then_work(conn: sqlite3.Connection) -> _T:
            self._decoded.clear()  # where the work runs, before the rows change
            return work(conn)

        return forget_then_work

    # -- orchestrator queue --------------------------------------------------------------

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        now, delay_ms = self._clock.now_ms(), 0 if delay is None else ops.ms(delay)
        run = self._run(
            "enqueue_for_orchestrator",
            lambda conn: ops.enqueue_for_orchestrator(conn, now, item, delay_ms, self._messages),
        )
        self._wake_early(self._orchestrator_wakeup, 1)
        await run

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        lock_ms = ops.ms(lock_timeout)

        async def attempt() -> tuple[OrchestrationItem | None, NextWake]:
            now, token = self._clock.now_ms(), self._new_token()
            try:
                return await self._run(
                    "fetch_orchestration_item",
                    lambda conn: ops.fetch_orchestration_item(
                        conn, now, lock_ms, token, self._decoded, self._messages
                    ),
                )
            except asyncio.CancelledError:
                later = self._clock.now_ms()
                self._undo(lambda conn: ops.forget_orchestration_fetch(conn, later, token))
                raise

        return await long_poll(self._orchestrator_wakeup, attempt, poll_timeout, self._clock)

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
        run = self._run(
            "ack_orchestration_item",
            lambda conn: ops.ack_orchestration_item(
                conn,
                now,
                lock_token,
                execution_id,
                history_delta,
                worker_items,
                orchestrator_items,
                metadata,
                cancelled_activities,
                self._decoded,
                self._messages,
            ),
        )
        if worker_items:
            self._wake_workers(len(worker_items))
        self._orchestrator_wakeup.notify(await run)

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        now, delay_ms = self._clock.now_ms(), None if delay is None else ops.ms(delay)
        await self._run(
            "abandon_orchestration_item",
            lambda conn: ops.abandon_orchestration_item(
                conn, now, lock_token, delay_ms, ignore_attempt
            ),
        )
        self._orchestrator_wakeup.notify()

    async def renew_orchestration_item_lock(self, lock_token: str, extend_for: float) -> None:
        now, extend_ms = self._clock.now_ms(), ops.ms(extend_for)
        await self._run(
            "renew_orchestration_item_lock",
            lambda conn: ops.renew_orchestration_item_lock(conn, now, lock_token, extend_ms),
        )

    # -- worker queue --------------------------------------------------------------------

    async def enqueue_for_worker(self, item: ActivityExecute) -> None:
        now = self._clock.now_ms()
        await self._run(
            "enqueue_for_worker",
            lambda conn: ops.enqueue_for_worker(conn, now, item, self._messages),
        )
        self._wake_workers()

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        return await self._fetch_work("fetch_work_item", None, lock_timeout, poll_timeout)

    async def fetch_work_item_from(
        self, queues: Collection[str], lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        served = sorted(set(queues))
        if not served:
            return None
        return await self._fetch_work("fetch_work_item_from", served, lock_timeout, poll_timeout)

    async def _fetch_work(
        self,
        operation: str,
        queues: list[str] | None,
        lock_timeout: float,
        poll_timeout: float,
    ) -> WorkLease | None:
        lock_ms = ops.ms(lock_timeout)

        async def attempt() -> tuple[WorkLease | None, NextWake]:
            now, token = self._clock.now_ms(), self._new_token()
            try:
                return await self._run(
                    operation,
                    lambda conn: ops.fetch_work_item(
                        conn, now, lock_ms, token, self._messages, queues
                    ),
                )
            except asyncio.CancelledError:
                later = self._clock.now_ms()
                self._undo(lambda conn: ops.forget_work_fetch(conn, later, token))
                raise

        wakeup = self._worker_wakeup if queues is None else self._queue_wakeup
        return await long_poll(wakeup, attempt, poll_timeout, self._clock)

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        now = self._clock.now_ms()
        run = self._run(
            "ack_work_item",
            lambda conn: ops.ack_work_item(conn, now, lock_token, completion, self._messages),
        )
        self._wake_early(self._orchestrator_wakeup, 0 if completion is None else 1)
        await run

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        now, delay_ms = self._clock.now_ms(), 0 if delay is None else ops.ms(delay)
        await self._run(
            "abandon_work_item",
            lambda conn: ops.abandon_work_item(conn, now, lock_token, delay_ms, ignore_attempt),
        )
        self._wake_workers()

    async def renew_work_item_lock(self, lock_token: str, extend_for: float) -> None:
        now, extend_ms = self._clock.now_ms(), ops.ms(extend_for)
        await self._run(
            "renew_work_item_lock",
            lambda conn: ops.renew_work_item_lock(conn, now, lock_token, extend_ms),
        )

    # -- history -------------------------------------------------------------------------

    async def read(self, instance: str) -> list[Event]:
        return await self._run("read", lambda conn: ops.read(conn, instance, self._decoded))

    async def read_execution(self, instance: str, execution_id: int) -> list[Event]:
        return await self._run(
            "read_execution",
            lambda conn: ops.read_execution(conn, instance, execution_id, self._decoded),
        )

    async def list_executions(self, instance: str) -> list[int]:
        return await self._run("list_executions", lambda conn: ops.list_executions(conn, instance))

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        now = self._clock.now_ms()
        await self._run(
            "append_history",
            lambda conn: ops.append_history(
                conn, now, instance, execution_id, events, self._decoded
            ),
        )

    # -- fault injection -----------------------------------------------------------------

    async def corrupt_history(self, instance: str, execution_id: int) -> None:
        """Overwrite that execution's stored history with text the codec cannot decode."""
        now = self._clock.now_ms()
        await self._run(
            "corrupt_history", lambda conn: ops.corrupt_history(conn, now, instance, execution_id)
        )

    async def corrupt_orchestrator_messages(self, instance: str) -> int:
        """Overwrite the stored text of every message queued for ``instance``."""
        return await self._run(
            "corrupt_orchestrator_messages",
            lambda conn: ops.corrupt_orchestrator_messages(conn, instance),
        )

    async def corrupt_work_items(self, instance: str) -> int:
        """Overwrite the stored text of every worker item of ``instance``."""
        return await self._run(
            "corrupt_work_items", lambda conn: ops.corrupt_work_items(conn, instance)
        )

    # -- management, deletion, prune -----------------------------------------------------

    async def get_instance_info(self, instance: str) -> InstanceInfo:
        return await self._run(
            "get_instance_info", lambda conn: admin.get_instance_info(conn, instance)
        )

    async def get_execution_info(self, instance: str, execution_id: int) -> ExecutionInfo:
        return await self._run(
            "get_execution_info",
            lambda conn: admin.get_execution_info(conn, instance, execution_id),
        )

    async def list_instances(
        self, *, status: Status | None = None, limit: int = 100, cursor: str | None = None
    ) -> InstancePage:
        return await self._run(
            "list_instances", lambda conn: admin.list_instances(conn, status, limit, cursor)
        )

    async def get_queue_depths(self) -> QueueDepths:
        return await self._run("get_queue_depths", admin.get_queue_depths)

    async def get_system_metrics(self) -> SystemMetrics:
        return await self._run("get_system_metrics", admin.get_system_metrics)

    async def delete_instance(self, instance: str, *, force: bool = False) -> DeleteResult:
        return await self._run(
            "delete_instance", lambda conn: admin.delete_instance(conn, instance, force)
        )

    async def delete_instances(self, selection: InstanceFilter) -> DeleteResult:
        return await self._run(
            "delete_instances", lambda conn: admin.delete_instances(conn, selection)
        )

    async def prune_executions(
        self,
        instance: str,
        *,
        keep_last: int | None = None,
        completed_before_ms: int | None = None,
    ) -> PruneResult:
        return await self._run(
            "prune_executions",
            lambda conn: admin.prune_executions(conn, instance, keep_last, completed_before_ms),
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connection; later calls raise ``ProviderError``. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._orchestrator_wakeup.notify_all()
        self._worker_wakeup.notify_all()
        self._queue_wakeup.notify_all()
        await asyncio.gather(*self._undoing, return_exceptions=True)
        try:
            await self._calls.close()
        except Exception as exc:
            raise ProviderError("close", f"{type(exc).__name__}: {exc}") from exc
        finally:
            if self._directory_to_remove is not None:
                await asyncio.to_thread(shutil.rmtree, self._directory_to_remove, True)

    async def __aenter__(self) -> SqliteProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


class InMemorySqliteFactory:
    """``ProviderFactory``: each provider gets its own fresh in-memory database."""

    async def create_provider(self) -> Provider:
        return await SqliteProvider.open_memory()

    async def dispose_provider(self, provider: Provider) -> None:
        await provider.close()


class FileSqliteFactory:
    """``ProviderFactory``: each provider gets a new WAL file in its own temporary directory.

    ``directory`` is where those temporary directories go (the system default if ``None``);
    ``busy_timeout`` is passed to ``SqliteProvider.open_file``. Closing such a provider
    (``dispose_provider`` or ``close``) removes its directory. Shared stores (for several
    runtime processes) are such a file too, its path the location; their directory goes
    only with ``remove_shared_store``.
    """

    def __init__(
        self, directory: str | None = None, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> None:
        self._directory = directory
        self._busy_timeout = busy_timeout

    async def create_provider(self) -> Provider:
        try:
            path = await asyncio.to_thread(
                tempfile.mkdtemp, prefix="provkit-sqlite-", dir=self._directory
            )
        except OSError as exc:
            where = self._directory if self._directory is not None else tempfile.gettempdir()
            raise ProviderError(
                "open", f"cannot create a database directory in {where}: {exc.strerror or exc}"
            ) from exc
        try:
            provider = await SqliteProvider.open_file(
                os.path.join(path, "provider.db"), busy_timeout=self._busy_timeout
            )
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, path, ignore_errors=True)
            raise
        # The provider itself removes the directory, so wrappers that only close() it (or
        # dispose of a wrapper rather than this object) leave nothing behind.
        provider._directory_to_remove = path
        return provider

    async def dispose_provider(self, provider: Provider) -> None:
        await provider.close()

    async def create_shared_store(self) -> str:
        """A new database file that several processes can open; its path."""
        path = await asyncio.to_thread(
            tempfile.mkdtemp, prefix="provkit-sqlite-", dir=self._directory
        )
        location = os.path.join(path, "provider.db")
        try:
            # Created (schema, WAL mode) once here, so processes opening it do not race.
            await (await SqliteProvider.open_file(location)).close()
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, path, ignore_errors=True)
            raise
        return location

    async def open_shared_provider(self, location: str) -> Provider:
        """A provider on the shared database file ``location``."""
        return await SqliteProvider.open_file(location, busy_timeout=self._busy_timeout)

    async def remove_shared_store(self, location: str) -> None:
        """Delete the shared database file and its temporary directory."""
        await asyncio.to_thread(shutil.rmtree, os.path.dirname(location), ignore_errors=True)
