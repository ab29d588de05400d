"""The SQLite provider's connection: opening it, its schema, batched calls and error mapping.

SQL runs on the event loop's thread, or on the aiosqlite worker thread when it must wait for
a lock (``Calls``); nothing here knows what the tables mean. No sqlite3 or aiosqlite
exception may leave ``call`` or ``Calls.run``: they become ``ProviderError``s.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TypeVar, cast

import aiosqlite

from provkit.contract import CorruptDataError, ProviderError, TransientError

_T = TypeVar("_T")

SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of a database this module created."""

_SCHEMA = (
    # created_at / updated_at / started_at / completed_at are epoch ms from the provider's
    # clock, never SQL's own time.
    """CREATE TABLE instances (
        instance BLOB PRIMARY KEY,
        name BLOB NOT NULL,
        version BLOB,
        parent_instance BLOB,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX instances_parent ON instances (parent_instance)",
    """CREATE TABLE executions (
        instance BLOB NOT NULL,
        execution_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        output BLOB,
        started_at INTEGER NOT NULL,
        completed_at INTEGER,
        PRIMARY KEY (instance, execution_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE history (
        instance BLOB NOT NULL,
        execution_id INTEGER NOT NULL,
        event_id INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (instance, execution_id, event_id)
    ) WITHOUT ROWID""",
    # batch_token tags the messages of the batch a fetch locked. The lease itself lives in
    # instance_locks, so messages enqueued during a turn stay untagged and survive its ack.
    """CREATE TABLE orchestrator_queue (
        id INTEGER PRIMARY KEY,
        instance BLOB NOT NULL,
        visible_at INTEGER NOT NULL,
        batch_token TEXT,
        attempt_count INTEGER NOT NULL DEFAULT 0,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX orchestrator_queue_visible ON orchestrator_queue (visible_at, id)",
    "CREATE INDEX orchestrator_queue_instance ON orchestrator_queue (instance, id)",
    """CREATE TABLE instance_locks (
        instance BLOB PRIMARY KEY,
        token TEXT NOT NULL UNIQUE,
        locked_until INTEGER NOT NULL
    ) WITHOUT ROWID""",
    # While an item is leased its visible_at is the lease expiry: "fetchable" and "lease
    # expired" are then one condition, visible_at <= now.
    """CREATE TABLE worker_queue (
        id INTEGER PRIMARY KEY,
        instance BLOB NOT NULL,
        execution_id INTEGER NOT NULL,
        activity_id INTEGER NOT NULL,
        visible_at INTEGER NOT NULL,
        token TEXT,
        attempt_count INTEGER NOT NULL DEFAULT 0,
        queue BLOB NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX worker_queue_activity ON worker_queue (instance, execution_id, activity_id)",
    "CREATE INDEX worker_queue_queue ON worker_queue (queue, id)",
)

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE instances ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE instances ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX instances_parent ON instances (parent_instance)",
        "ALTER TABLE executions ADD COLUMN started_at INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE executions ADD COLUMN completed_at INTEGER",
        "ALTER TABLE worker_queue ADD COLUMN queue BLOB NOT NULL DEFAULT x'64656661756c74'",
        "CREATE INDEX worker_queue_queue ON worker_queue (queue, id)",
    ),
}
"""Statements taking a database from the version given to the next one."""

_SCRATCH = (
    # Per connection, never committed: the instances one deletion selects or removes.
    "CREATE TEMP TABLE selected (instance BLOB PRIMARY KEY) WITHOUT ROWID",
    "CREATE TEMP TABLE doomed (instance BLOB PRIMARY KEY) WITHOUT ROWID",
)

_TRANSIENT_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_NOMEM,
    }
)
_CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


PAGE_SIZE = 2048
"""Bytes per page of a database this module creates."""
CACHE_KIB = 65_536
"""Page cache per connection (KiB): the working set of a busy store stays in memory."""
CHECKPOINT_PAGES = 4000
"""WAL pages (8 MiB) after which a commit copies them back into the database file; each
checkpoint then copies a page changed many times once."""

DEFAULT_BUSY_TIMEOUT = 5.0
"""Seconds a write waits for another connection's write lock before failing as transient."""


async def open_connection(
    target: str, *, wal: bool, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> aiosqlite.Connection:
    """Connect to ``target`` (a path or ``":memory:"``) and create the schema if it is new.

    ``busy_timeout`` is how long (seconds) a write waits for a lock held by another
    connection. Failures raise ``ProviderError``s (operation ``"open"``) whose one-line
    message names ``target`` and the cause (a missing directory, no write permission...).
    The connection's thread never keeps a process alive: a program that forgets to close
    the provider still exits (what it committed is on disk).
    """
    if not (math.isfinite(busy_timeout) and busy_timeout >= 0):
        raise ValueError(f"busy_timeout must be a number of seconds >= 0, got {busy_timeout!r}")
    if target != ":memory:":
        await asyncio.to_thread(_check_location, target)
    pending = aiosqlite.connect(target, isolation_level=None, check_same_thread=False)
    # aiosqlite's worker thread is not a daemon: an unclosed connection would make the
    # interpreter wait for it forever at exit. It only serves this connection, and SQLite
    # keeps every committed transaction whatever state the thread dies in.
    pending._thread.daemon = True
    try:
        conn = await pending
    except Exception as exc:
        raise _naming(target, provider_error("open", exc)) from exc
    try:
        await call(conn, "open", lambda raw: _prepare(raw, wal, busy_timeout))
    except ProviderError as exc:
        await conn.close()
        raise _naming(target, exc) from exc
    except BaseException:
        await conn.close()
        raise
    return conn


def _check_location(target: str) -> None:
    """Raise a ``ProviderError`` naming the cause when ``target`` cannot be opened for writing.

    SQLite itself only says "unable to open database file"; this says which path and why.
    """
    path = os.path.abspath(target)
    cause = _location_problem(path, os.path.dirname(path))
    if cause is not None:
        raise ProviderError("open", f"cannot open SQLite database {path}: {cause}")


def _location_problem(path: str, directory: str) -> str | None:
    if os.path.isdir(path):
        return "it is a directory"
    if not os.path.isdir(directory):
        existing = directory
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if os.path.isdir(existing):
            return f"directory {directory} does not exist"
        return f"{existing} is not a directory"
    exists = os.path.exists(path)
    try:
        if exists:
            os.close(os.open(path, os.O_RDWR))
        # WAL keeps -wal and -shm files next to the database: the directory must take new
        # files, also when the database itself exists.
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".provkit-probe-"):
            pass
    except OSError as exc:
        where = "the file" if exists and exc.filename == path else f"directory {directory}"
        return f"{where} is not writable ({exc.strerror or exc})"
    return None


def _naming(target: str, error: ProviderError) -> ProviderError:
    return type(error)(error.operation, f"{target}: {error.message}", retryable=error.retryable)


def _prepare(raw: sqlite3.Connection, wal: bool, busy_timeout: float) -> None:
    # Stored text comes back as bytes so that undecodable bytes reach the codec (which
    # reports CorruptDataError) instead of failing inside sqlite3.
    raw.text_factory = bytes
    raw.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000)}")
    raw.execute("PRAGMA temp_store = MEMORY")
    # Rows are small and every commit appends each page it changed to the WAL whole: smaller
    # pages make commits cheaper (a new database only; an existing one keeps its size).
    raw.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    raw.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    if wal:
        mode = raw.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != b"wal":
            raise ProviderError("open", f"cannot switch to WAL (journal mode {mode!r})")
        raw.execute("PRAGMA synchronous = NORMAL")
        raw.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
    raw.execute("BEGIN IMMEDIATE")
    try:
        version = raw.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            for statement in _SCHEMA:
                raw.execute(statement)
        elif version != SCHEMA_VERSION and version not in _MIGRATIONS:
            raise ProviderError(
                "open", f"database schema version {version} is not the supported {SCHEMA_VERSION}"
            )
        while version in _MIGRATIONS:
            for statement in _MIGRATIONS[version]:
                raw.execute(statement)
            version += 1
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        raw.execute("COMMIT")
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    for statement in _SCRATCH:
        raw.execute(statement)


async def call(
    conn: aiosqlite.Connection, operation: str, work: Callable[[sqlite3.Connection], _T]
) -> _T:
    """Run ``work`` on the connection's own thread in one hop; errors become ProviderErrors.

    aiosqlite has no public "run this callable on the connection thread" API, and its
    statement-level API costs one thread hop per statement (about 30x slower here). Its
    private ``_execute``/``_conn`` pair is exactly that API, so it is used here and nowhere
    else.
    """
    try:
        raw = conn._conn
        return cast(_T, await conn._execute(work, raw))  # type: ignore[no-untyped-call]
    except ProviderError:
        raise
    except Exception as exc:
        raise provider_error(operation, exc) from exc


_batch = threading.local()
"""``plain`` is true while this thread runs a batch's units back to back without savepoints."""


class UnitOfWork:
    """``with UnitOfWork(conn):`` runs the block as one unit of work.

    Alone, that is a transaction of its own (``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back
    on any error). Inside a batch that commits as a whole (``Calls``) it is a savepoint, so
    the unit still succeeds or fails alone; on a batch's first attempt it is nothing at all,
    since a failure there has the whole batch rolled back and run again with savepoints. A
    class, not a generator-based context manager: it wraps every provider call.
    """

    __slots__ = ("_conn", "_nested")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._nested: bool | None = False
        """False: its own transaction; True: a savepoint; None: plain part of a batch."""

    def __enter__(self) -> None:
        conn = self._conn
        if not conn.in_transaction:
            # IMMEDIATE takes the write lock up front, so a transaction never upgrades from
            # reader to writer halfway (the classic source of SQLITE_BUSY and lost claims).
            conn.execute("BEGIN IMMEDIATE")
        elif getattr(_batch, "plain", False):
            self._nested = None
        else:
            self._nested = True
            conn.execute("SAVEPOINT unit")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._nested is None:
            return
        if exc_type is None:
            try:
                self._conn.execute("RELEASE unit" if self._nested else "COMMIT")
                return
            except BaseException:
                self._undo()
                raise
        self._undo()

    def _undo(self) -> None:
        conn = self._conn
        if self._nested:
            conn.execute("ROLLBACK TO unit")
            conn.execute("RELEASE unit")
        elif conn.in_transaction:
            conn.execute("ROLLBACK")


_Call = tuple["asyncio.Future[Any]", str, Callable[[sqlite3.Connection], Any]]
_Outcome = tuple["asyncio.Future[Any]", bool, Any]


class Calls:
    """Runs units of work on an open connection; calls that queue up share one transaction.

    A call normally runs on the event loop's own thread: the calls made within one step of
    the loop are queued and, at the end of that step, run back to back as one transaction
    (``BEGIN IMMEDIATE``, each call's unit of work, one ``COMMIT``; see ``UnitOfWork``). Every
    result is reported after that commit, all at once, and a failed commit fails every call of
    the batch. Should a call fail, the batch is rolled back and run again with a savepoint per
    call, so that call's writes alone are undone. Short transactions cost tens of
    microseconds, far less than a hop to another thread and back. Work that would wait for a
    lock (another connection holds the write lock) moves to the connection's own thread,
    where it waits up to the connection's ``busy_timeout`` without stalling the loop; calls
    made while that thread has work run there too, in order, sharing a hop in the same way.
    A call whose caller is cancelled still runs. Calls made with ``read`` are never part of a
    batch. ``on_rollback`` runs (on whichever thread ran the batch) whenever a batch's work
    is rolled back.
    """

    def __init__(
        self, conn: aiosqlite.Connection, on_rollback: Callable[[], None] = lambda: None
    ) -> None:
        self._conn = conn
        self._on_rollback = on_rollback
        self._lock = threading.Lock()
        self._pending: list[_Call] = []
        self._closed = False
        self._queued: list[_Call] = []
        self._queued_reads: list[_Call] = []
        self._on_thread = 0
        """Hops handed to the connection's thread and not finished: the loop keeps off it."""
        # The loop thread never waits for a lock; its thread waits up to what was configured.
        raw = conn._conn
        self._busy_timeout_ms: int = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute("PRAGMA busy_timeout = 0")

    async def run(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """``work(connection)`` in a transaction; errors become ``ProviderError``s."""
        if self._closed:
            raise ProviderError(operation, "the connection is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        if self._on_thread:
            self._to_thread([(future, operation, work)])
        else:
            self._queued.append((future, operation, work))
            if len(self._queued) == 1:
                loop.call_soon(self._run_queued)
        return await future

    async def read(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """``work(connection)`` alone, outside any transaction: for calls that only read.

        Never part of a batch, so a read never waits for the write lock: its deferred
        transaction (one snapshot for all its statements) takes no lock on a WAL file, where
        it succeeds while another process holds the write lock. It runs after every call
        made before it.
        """
        if self._closed:
            raise ProviderError(operation, "the connection is closed")
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        if self._queued:
            self._queued_reads.append((future, operation, work))
        else:
            self._read_now((future, operation, work))
        return await future

    async def close(self) -> None:
        """Let queued calls finish, then close the connection; later calls raise."""
        self._closed = True
        self._run_queued()
        await self._conn.close()

    def _run_queued(self) -> None:
        batch, self._queued = self._queued, []
        reads, self._queued_reads = self._queued_reads, []
        if batch and self._on_thread:
            self._to_thread(batch)
        elif batch:
            raw = self._conn._conn
            try:
                outcomes = _run_on_loop(raw, batch, self._on_rollback)
            except BaseException as exc:  # never leave a caller waiting forever
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                self._on_rollback()
                outcomes = [(f, False, _unexpected(operation, exc)) for f, operation, _ in batch]
            if outcomes is None:  # the write lock is held elsewhere: wait for it on the thread
                self._to_thread(batch)
            else:
                _report(outcomes)
        for read in reads:
            self._read_now(read)

    def _read_now(self, read: _Call) -> None:
        future, operation, work = read
        if self._on_thread:
            self._read_on_thread(read)  # behind the thread's queued work, in order
            return
        try:
            outcome: _Outcome = (future, True, _read_only(self._conn._conn, work))
        except ProviderError as exc:
            outcome = (future, False, exc)
        except sqlite3.Error as exc:
            if _is_busy(exc):  # rare on WAL (another connection recovering it): wait there
                self._read_on_thread(read)
                return
            outcome = (future, False, provider_error(operation, exc))
        except Exception as exc:
            outcome = (future, False, provider_error(operation, exc))
        _report([outcome])

    def _read_on_thread(self, read: _Call) -> None:
        future, operation, work = read
        self._count_hop(1)
        hop = asyncio.ensure_future(
            call(
                self._conn, operation, lambda raw: self._waiting(raw, lambda: _read_only(raw, work))
            )
        )
        hop.add_done_callback(functools.partial(self._read_done, future))

    def _waiting(self, raw: sqlite3.Connection, run: Callable[[], _T]) -> _T:
        """``run()`` with the connection's ``busy_timeout``: on its thread, waiting is fine."""
        raw.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        try:
            return run()
        finally:
            raw.execute("PRAGMA busy_timeout = 0")

    def _read_done(self, future: asyncio.Future[Any], hop: asyncio.Future[Any]) -> None:
        self._count_hop(-1)
        if future.done():  # the caller was cancelled
            return
        if hop.cancelled():
            future.cancel()
            return
        exc = hop.exception()
        if exc is None:
            future.set_result(hop.result())
        else:
            future.set_exception(exc)

    def _count_hop(self, change: int) -> None:
        with self._lock:
            self._on_thread += change

    def _to_thread(self, batch: list[_Call]) -> None:
        with self._lock:
            first = not self._pending
            self._pending.extend(batch)
            if first:
                self._on_thread += 1
        if first:
            # aiosqlite's own queue protocol, as its _execute uses it: (future or None,
            # function), run in order on the connection thread. No future: _run_batch reports.
            self._conn._tx.put_nowait((None, self._run_batch))

    def _run_batch(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        raw = self._conn._conn
        try:
            outcomes = self._waiting(raw, lambda: _run_together(raw, batch, self._on_rollback))
        except BaseException as exc:  # never leave a caller waiting forever
            self._on_rollback()
            outcomes = [
                (future, False, _unexpected(operation, exc)) for future, operation, _ in batch
            ]
        # Done with the connection: the loop thread may use it again.
        self._count_hop(-1)
        loops = {future.get_loop() for future, _, _ in outcomes}
        for loop in loops:
            mine = [outcome for outcome in outcomes if outcome[0].get_loop() is loop]
            # A closed event loop raises RuntimeError: nobody is waiting there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_report, mine)


def _read_only(raw: sqlite3.Connection, work: Callable[[sqlite3.Connection], _T]) -> _T:
    raw.execute("BEGIN")
    try:
        return work(raw)
    finally:
        if raw.in_transaction:
            raw.execute("COMMIT")


def _run_together(
    raw: sqlite3.Connection, batch: list[_Call], on_rollback: Callable[[], None]
) -> list[_Outcome]:
    if len(batch) == 1:
        return [_run_one(raw, batch[0])]
    try:
        raw.execute("BEGIN IMMEDIATE")
    except Exception as exc:
        return [(future, False, provider_error(operation, exc)) for future, operation, _ in batch]
    return _run_begun(raw, batch, on_rollback)


def _run_begun(
    raw: sqlite3.Connection, batch: list[_Call], on_rollback: Callable[[], None]
) -> list[_Outcome]:
    """Run ``batch`` in the transaction just begun, then commit it."""
    outcomes: list[_Outcome] = []
    for n, call in enumerate(batch):
        outcomes.append(_run_one(raw, call))
        if not raw.in_transaction:
            # SQLite rolled the whole transaction back (I/O error, disk full, ...): what the
            # calls before this one did is gone too. The rest start over.
            lost = [
                _rolled_back(outcome, operation)
                for outcome, (_, operation, _) in zip(outcomes, batch, strict=False)
            ]
            on_rollback()
            rest = batch[n + 1 :]
            return lost + (_run_together(raw, rest, on_rollback) if rest else [])
    return _commit(raw, batch, outcomes, on_rollback)


def _commit(
    raw: sqlite3.Connection,
    batch: list[_Call],
    outcomes: list[_Outcome],
    on_rollback: Callable[[], None],
) -> list[_Outcome]:
    try:
        raw.execute("COMMIT")
    except Exception as exc:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        on_rollback()
        return [(future, False, provider_error(operation, exc)) for future, operation, _ in batch]
    return outcomes


def _run_on_loop(
    raw: sqlite3.Connection, batch: list[_Call], on_rollback: Callable[[], None]
) -> list[_Outcome] | None:
    """``batch`` as one transaction, or None (nothing run) if the write lock is held elsewhere.

    Units almost always succeed, so the first attempt runs them without savepoints (two
    statements fewer per call). Should one fail, everything is rolled back and the batch
    runs again, each unit in a savepoint, so that it fails alone.
    """
    begun = _begin(raw, batch)
    if begun is not True:
        return begun
    outcomes: list[_Outcome] = []
    _batch.plain = True
    try:
        for call in batch:
            outcomes.append(_run_one(raw, call))
            if not outcomes[-1][1] or not raw.in_transaction:
                break
    finally:
        _batch.plain = False
    if len(outcomes) == len(batch) and outcomes[-1][1] and raw.in_transaction:
        return _commit(raw, batch, outcomes, on_rollback)
    if raw.in_transaction:
        raw.execute("ROLLBACK")
    on_rollback()
    begun = _begin(raw, batch)
    if begun is not True:
        return begun
    return _run_begun(raw, batch, on_rollback)


def _begin(raw: sqlite3.Connection, batch: list[_Call]) -> Literal[True] | list[_Outcome] | None:
    """``BEGIN IMMEDIATE`` without waiting: True, None if the write lock is held elsewhere, or
    the failure of every call."""
    try:
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        if _is_busy(exc):
            return None
        return [(future, False, provider_error(operation, exc)) for future, operation, _ in batch]
    return True


def _is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite's "busy": a lock another connection holds."""
    extended: int | None = getattr(exc, "sqlite_errorcode", None)
    return extended is not None and extended & 0xFF == sqlite3.SQLITE_BUSY


def _rolled_back(outcome: _Outcome, operation: str) -> _Outcome:
    future, ok, _ = outcome
    if not ok:
        return outcome
    return future, False, TransientError(operation, "rolled back with the calls run with it")


def _run_one(raw: sqlite3.Connection, call: _Call) -> _Outcome:
    future, operation, work = call
    try:
        return future, True, work(raw)
    except ProviderError as exc:
        return future, False, exc
    except Exception as exc:
        return future, False, provider_error(operation, exc)


def _unexpected(operation: str, exc: BaseException) -> ProviderError:
    if isinstance(exc, Exception):
        return provider_error(operation, exc)
    return ProviderError(operation, f"{type(exc).__name__}: {exc}")


def _report(outcomes: list[_Outcome]) -> None:
    for future, ok, value in outcomes:
        if future.done():  # the caller was cancelled
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def provider_error(operation: str, exc: Exception) -> ProviderError:
    """The typed error a failure of ``operation`` maps to."""
    if isinstance(exc, sqlite3.Error):
        # Extended result codes carry the primary code in their low byte.
        extended: int | None = getattr(exc, "sqlite_errorcode", None)
        code = None if extended is None else extended & 0xFF
        if code in _TRANSIENT_CODES:
            return TransientError(operation, f"sqlite: {exc}")
        if code in _CORRUPT_CODES:
            return CorruptDataError(operation, f"sqlite: {exc}")
        return ProviderError(operation, f"sqlite: {exc}")
    return ProviderError(operation, f"{type(exc).__name__}: {exc}")
