"""The SQLite provider's transactions: one plain function per provider operation.

Each function is a whole unit of work run on the connection (``BEGIN IMMEDIATE`` ...
``COMMIT``, rolled back on any error; a savepoint when it runs in a batch of calls committed
together, see ``_sqlite_conn.Calls``). "Now" is a parameter computed
from the provider's clock: SQL's own time functions are never used. Routing uses only the
contract's precomputed fields; events and messages are stored as opaque codec text.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence

from provkit.contract import (
    INITIAL_EXECUTION_ID,
    ActivityId,
    CorruptDataError,
    DuplicateEventError,
    ExecutionMetadata,
    LockLostError,
    OrchestrationItem,
    Status,
    WorkLease,
    codec,
)
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage
from provkit.reference_providers._sqlite_conn import UnitOfWork
from provkit.reference_providers._sqlite_decoded import HistoryCache, MessageCache
from provkit.reference_providers._values import from_blob, to_blob
from provkit.reference_providers._values import ms as ms  # re-exported: ops.ms
from provkit.reference_providers._wakeup import NextWake

_CORRUPT_HISTORY = "\x00corrupted by provkit fault injection: not JSON"
_CORRUPT_MESSAGE = "\x00corrupted by provkit fault injection: not a message"


# -- rows --------------------------------------------------------------------------------

_INSERT_ORCHESTRATOR = (
    "INSERT INTO orchestrator_queue (instance, visible_at, data) VALUES (?, ?, ?)"
)
_INSERT_WORK = (
    "INSERT INTO worker_queue (instance, execution_id, activity_id, visible_at, queue, data)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_HISTORY = "INSERT INTO history (instance, execution_id, event_id, data) VALUES (?, ?, ?, ?)"
_ENSURE_EXECUTION = (
    "INSERT INTO executions (instance, execution_id, status, started_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (instance, execution_id) DO NOTHING"
)


def _orchestrator_row(
    message: OrchestratorMessage, now: int, messages: MessageCache
) -> tuple[bytes, int, str]:
    at = message.visible_at_ms
    return (
        to_blob(message.instance),
        now if at is None else max(now, at),
        messages.encode(message),
    )


def _work_row(
    item: ActivityExecute, now: int, messages: MessageCache
) -> tuple[bytes, int, int, int, bytes, str]:
    key = item.activity
    return (
        to_blob(key.instance),
        key.execution_id,
        key.activity_id,
        now,
        to_blob(item.queue),
        messages.encode(item),
    )


def _insert_history(
    conn: sqlite3.Connection,
    operation: str,
    instance: bytes,
    execution_id: int,
    events: Sequence[Event],
    cache: HistoryCache,
) -> None:
    rows = [(instance, execution_id, e.event_id, codec.encode_event(e)) for e in events]
    try:
        conn.executemany(_INSERT_HISTORY, rows)
    except sqlite3.IntegrityError as exc:
        ids = [e.event_id for e in events]
        raise DuplicateEventError(
            operation,
            f"execution {execution_id} of {from_blob(instance)!r}: an event id in {ids} is "
            "already stored or repeated",
        ) from exc
    cache.appended(instance, execution_id, events)
    for event, row in zip(events, rows, strict=True):
        cache.events.remember(to_blob(row[3]), event)


# -- orchestrator queue ------------------------------------------------------------------


_LOCKED = "SELECT EXISTS (SELECT 1 FROM instance_locks WHERE instance = ? AND locked_until > ?)"
_READY = "SELECT EXISTS (SELECT 1 FROM orchestrator_queue WHERE instance = ? AND visible_at <= ?)"


def _wakes_orchestrator(conn: sqlite3.Connection, now: int, row: tuple[bytes, int, str]) -> bool:
    """Whether the message just queued as ``row`` should wake a waiting orchestration fetch.

    A message for a locked instance gives no fetch anything to do: the ack releasing the lock
    reports it (``ack_orchestration_item`` checks), and an expiring lock is a wake time that
    empty fetches already report. One visible only later wakes a fetch, which then learns
    that time.
    """
    instance, visible_at, _ = row
    if visible_at > now:
        return True
    return not conn.execute(_LOCKED, (instance, now)).fetchone()[0]


def enqueue_for_orchestrator(
    conn: sqlite3.Connection,
    now: int,
    message: OrchestratorMessage,
    delay_ms: int,
    messages: MessageCache,
) -> None:
    conn.execute(_INSERT_ORCHESTRATOR, _orchestrator_row(message, now + delay_ms, messages))


_CANDIDATE = """
SELECT q.instance FROM orchestrator_queue AS q
WHERE q.visible_at <= :now AND NOT EXISTS (
    SELECT 1 FROM instance_locks AS l WHERE l.instance = q.instance AND l.locked_until > :now)
ORDER BY q.visible_at, q.id LIMIT 1
"""
_CLAIM_INSTANCE = """
INSERT INTO instance_locks (instance, token, locked_until) VALUES (:instance, :token, :until)
ON CONFLICT (instance) DO UPDATE SET token = excluded.token, locked_until = excluded.locked_until
    WHERE instance_locks.locked_until <= :now
RETURNING instance
"""
_TAG_BATCH = """
UPDATE orchestrator_queue SET batch_token = :token, attempt_count = attempt_count + 1
WHERE instance = :instance AND visible_at <= :now
RETURNING id, attempt_count, data
"""
_INSTANCE_STATE = """
SELECT (SELECT name FROM instances WHERE instance = :instance),
       (SELECT version FROM instances WHERE instance = :instance),
       (SELECT MAX(execution_id) FROM executions WHERE instance = :instance)
"""
_HISTORY = "SELECT data FROM history WHERE instance = ? AND execution_id = ? ORDER BY event_id"
_HISTORY_AFTER = """
SELECT data FROM history WHERE instance = ? AND execution_id = ? AND event_id > ?
ORDER BY event_id
"""
_NEXT_ORCHESTRATOR_WAKE = """
SELECT MIN(at) FROM (
    SELECT MIN(visible_at) AS at FROM orchestrator_queue WHERE visible_at > :now
    UNION ALL
    SELECT MIN(locked_until) FROM instance_locks WHERE locked_until > :now)
"""


def fetch_orchestration_item(
    conn: sqlite3.Connection,
    now: int,
    lock_ms: int,
    token: str,
    cache: HistoryCache,
    queued: MessageCache,
) -> tuple[OrchestrationItem | None, NextWake]:
    with UnitOfWork(conn):
        while True:
            candidate = conn.execute(_CANDIDATE, {"now": now}).fetchone()
            if candidate is None:
                return None, conn.execute(_NEXT_ORCHESTRATOR_WAKE, {"now": now}).fetchone()[0]
            instance: bytes = candidate[0]
            claim = {"instance": instance, "token": token, "until": now + lock_ms, "now": now}
            # The upsert only replaces an expired lock; a lost race returns no row and the
            # next candidate query no longer sees this instance.
            if conn.execute(_CLAIM_INSTANCE, claim).fetchall():
                break
        batch = sorted(conn.execute(_TAG_BATCH, claim).fetchall())
        name, version, current = conn.execute(_INSTANCE_STATE, claim).fetchone()
        execution_id = INITIAL_EXECUTION_ID if current is None else current
        # A history this connection fetched before is read from its last event on.
        known = cache.known(conn, instance, execution_id)
        if known is None:
            history_rows = conn.execute(_HISTORY, (instance, execution_id)).fetchall()
        else:
            after = (instance, execution_id, known.last_event_id)
            history_rows = conn.execute(_HISTORY_AFTER, after).fetchall()
    # Decoding happens after the commit: a fetch that took a lock reports, it does not undo.
    instance_id = from_blob(instance)
    messages: list[OrchestratorMessage] = []
    undecodable: list[str] = []
    for row in batch:
        try:
            messages.append(queued.orchestrator_message(row[2]))
        except CorruptDataError as exc:
            undecodable.append(exc.message)
    message_error = None
    if undecodable:
        message_error = (
            f"{len(undecodable)} of {len(batch)} queued messages of {instance_id!r} cannot be "
            f"decoded: {undecodable[0]}"
        )
    history: list[Event] = []
    history_error = None
    try:
        whole = cache.decode(history_rows)
        if known is not None:
            whole = known.events + whole
        cache.keep(instance, execution_id, whole)
        history = list(whole)  # the caller's own list: the kept one must not change
    except CorruptDataError as exc:
        cache.forget(instance)
        history_error = f"execution {execution_id} of {instance_id!r}: {exc.message}"
    item = OrchestrationItem(
        instance=instance_id,
        orchestration_name=None if name is None else from_blob(name),
        version=None if version is None else from_blob(version),
        execution_id=execution_id,
        history=history,
        messages=messages,
        lock_token=token,
        attempt_count=max(row[1] for row in batch),
        history_error=history_error,
        message_error=message_error,
    )
    return item, None


_RELEASE_LOCK = "DELETE FROM instance_locks WHERE token = ? RETURNING instance, locked_until"
_DELETE_BATCH = "DELETE FROM orchestrator_queue WHERE instance = ? AND batch_token = ?"
_UPSERT_INSTANCE = """
INSERT INTO instances (instance, name, version, parent_instance, created_at, updated_at)
    VALUES (:instance, :name, :version, :parent, :now, :now)
ON CONFLICT (instance) DO UPDATE SET
    name = excluded.name, version = excluded.version, parent_instance = excluded.parent_instance,
    updated_at = excluded.updated_at
"""
_TOUCH_INSTANCE = "UPDATE instances SET updated_at = ? WHERE instance = ?"
_HAS_RECORD = "SELECT EXISTS (SELECT 1 FROM instances WHERE instance = ?)"
_UPSERT_EXECUTION = """
INSERT INTO executions (instance, execution_id, status, output, started_at, completed_at)
    VALUES (:instance, :execution_id, COALESCE(:status, :running), :output, :now, :completed)
ON CONFLICT (instance, execution_id) DO UPDATE SET
    status = COALESCE(:status, status),
    output = COALESCE(:output, output),
    completed_at = CASE WHEN :status IS NULL THEN completed_at ELSE :completed END
"""
_DELETE_ACTIVITY = (
    "DELETE FROM worker_queue WHERE instance = ? AND execution_id = ? AND activity_id = ?"
)


def ack_orchestration_item(
    conn: sqlite3.Connection,
    now: int,
    token: str,
    execution_id: int,
    history_delta: Sequence[Event],
    worker_items: Sequence[ActivityExecute],
    orchestrator_items: Sequence[OrchestratorMessage],
    metadata: ExecutionMetadata,
    cancelled_activities: Sequence[ActivityId],
    cache: HistoryCache,
    messages: MessageCache,
) -> int:
    """Commit a turn; returns how many waiting orchestration fetches it should wake.

    That is one when the released instance has visible messages (they arrived during the
    turn, or the turn sent them to itself), plus one per new message that wakes a fetch.
    """
    operation = "ack_orchestration_item"
    with UnitOfWork(conn):
        # Releasing first saves a statement: any failure below rolls the release back too.
        released = conn.execute(_RELEASE_LOCK, (token,)).fetchall()
        if not released:
            raise LockLostError(operation, "the lock token is not held")
        instance, locked_until = released[0]
        if locked_until <= now:
            raise LockLostError(operation, "the instance lock expired")
        conn.execute(_DELETE_BATCH, (instance, token))
        if metadata.orchestration_name is not None:
            parent = None if metadata.parent_instance is None else to_blob(metadata.parent_instance)
            if parent is not None and not conn.execute(_HAS_RECORD, (parent,)).fetchone()[0]:
                # The parent was deleted: the child goes with it (``Deletion``'s rule).
                remove_instances(conn, [instance])
                return 0
            conn.execute(
                _UPSERT_INSTANCE,
                {
                    "instance": instance,
                    "name": to_blob(metadata.orchestration_name),
                    "version": None
                    if metadata.orchestration_version is None
                    else to_blob(metadata.orchestration_version),
                    "parent": parent,
                    "now": now,
                },
            )
        else:
            conn.execute(_TOUCH_INSTANCE, (now, instance))
        status = metadata.status
        conn.execute(
            _UPSERT_EXECUTION,
            {
                "instance": instance,
                "execution_id": execution_id,
                "status": None if status is None else status.value,
                "running": Status.RUNNING.value,
                "output": None if metadata.output is None else to_blob(metadata.output),
                "now": now,
                "completed": now if status is not None and status.is_terminal else None,
            },
        )
        if history_delta:
            _insert_history(conn, operation, instance, execution_id, history_delta, cache)
        if worker_items:
            conn.executemany(
                _INSERT_WORK, [_work_row(item, now, messages) for item in worker_items]
            )
        if cancelled_activities:
            keys = [
                (to_blob(a.instance), a.execution_id, a.activity_id) for a in cancelled_activities
            ]
            conn.executemany(_DELETE_ACTIVITY, keys)
        rows = [_orchestrator_row(m, now, messages) for m in orchestrator_items]
        if rows:
            conn.executemany(_INSERT_ORCHESTRATOR, rows)
        wakes = conn.execute(_READY, (instance, now)).fetchone()[0]
        for row in rows:
            if row[0] != instance or row[1] > now:
                wakes += _wakes_orchestrator(conn, now, row)
        return int(wakes)


_RELEASE_BATCH = """
UPDATE orchestrator_queue SET
    batch_token = NULL,
    visible_at = COALESCE(:visible_at, visible_at),
    attempt_count = CASE WHEN :ignore_attempt THEN MAX(attempt_count - 1, 0)
                         ELSE attempt_count END
WHERE instance = :instance AND batch_token = :token
"""


def abandon_orchestration_item(
    conn: sqlite3.Connection, now: int, token: str, delay_ms: int | None, ignore_attempt: bool
) -> None:
    # An expired lock that nobody re-took still carries this token: it stays (a later fetch
    # takes it over), and the batch keeps its tag until then, so nothing changes.
    with UnitOfWork(conn):
        released = conn.execute(
            "DELETE FROM instance_locks WHERE token = ? AND locked_until > ? RETURNING instance",
            (token, now),
        ).fetchall()
        if not released:
            raise LockLostError("abandon_orchestration_item", "no live lock for this token")
        conn.execute(
            _RELEASE_BATCH,
            {
                "instance": released[0][0],
                "token": token,
                "visible_at": None if delay_ms is None else now + delay_ms,
                "ignore_attempt": ignore_attempt,
            },
        )


def forget_orchestration_fetch(conn: sqlite3.Connection, now: int, token: str) -> None:
    """Release what a fetch whose caller never saw the result locked, if anything."""
    with contextlib.suppress(LockLostError):
        abandon_orchestration_item(conn, now, token, None, True)


def renew_orchestration_item_lock(
    conn: sqlite3.Connection, now: int, token: str, extend_ms: int
) -> None:
    renewed = conn.execute(
        "UPDATE instance_locks SET locked_until = ? WHERE token = ? AND locked_until > ?"
        " RETURNING instance",
        (now + extend_ms, token, now),
    ).fetchall()
    if not renewed:
        raise LockLostError("renew_orchestration_item_lock", "no live lock for this token")


# -- worker queue ------------------------------------------------------------------------


def enqueue_for_worker(
    conn: sqlite3.Connection, now: int, item: ActivityExecute, messages: MessageCache
) -> None:
    conn.execute(_INSERT_WORK, _work_row(item, now, messages))


# A lease token is "<row id>.<unique part>": ack, renew and abandon find the row by its
# primary key, so the queue needs no token index. "+visible_at" keeps the planner on the
# primary key, whose order is FIFO by enqueue.
_TAKE_WORK = """
UPDATE worker_queue SET
    token = id || '.' || :token, visible_at = :until, attempt_count = attempt_count + 1
WHERE id = (SELECT id FROM worker_queue WHERE +visible_at <= :now {queues} ORDER BY id LIMIT 1)
    AND visible_at <= :now
RETURNING token, attempt_count, data, instance, execution_id, activity_id, queue
"""
_NEXT_WORK_WAKE = "SELECT MIN(visible_at) FROM worker_queue WHERE visible_at > :now {queues}"
_ANY_QUEUE = ""


def _served(count: int) -> str:
    """The SQL condition restricting the worker queue to ``count`` named queues."""
    return "AND queue IN (" + ", ".join(f":q{n}" for n in range(count)) + ")"


def _leased_row(token: str) -> int:
    """The row id a lease token names; -1 (no row) for a token this provider never made."""
    head = token.partition(".")[0]
    return int(head) if head.isascii() and head.isdigit() else -1


_TAKE_ANY_WORK = _TAKE_WORK.format(queues=_ANY_QUEUE)
_NEXT_ANY_WORK_WAKE = _NEXT_WORK_WAKE.format(queues=_ANY_QUEUE)


def fetch_work_item(
    conn: sqlite3.Connection,
    now: int,
    lock_ms: int,
    token: str,
    messages: MessageCache,
    queues: Sequence[str] | None = None,
) -> tuple[WorkLease | None, NextWake]:
    """Lease the oldest fetchable item, of any queue or (``queues``) of those queues only."""
    params: dict[str, object] = {"token": token, "until": now + lock_ms, "now": now}
    take, next_wake = _TAKE_ANY_WORK, _NEXT_ANY_WORK_WAKE
    if queues is not None:
        served = _served(len(queues))
        take, next_wake = _TAKE_WORK.format(queues=served), _NEXT_WORK_WAKE.format(queues=served)
        params.update({f"q{n}": to_blob(queue) for n, queue in enumerate(queues)})
    # One conditional statement claims the row: SQLite runs it under the write lock, and
    # its WHERE only matches a row nobody holds.
    taken = conn.execute(take, params).fetchall()
    if not taken:
        return None, conn.execute(next_wake, params).fetchone()[0]
    lease_token, attempt_count, data, instance, execution_id, activity_id, queue = taken[0]
    lock_token = lease_token.decode()
    try:
        item = messages.work_item(data)
    except CorruptDataError as exc:
        stand_in = ActivityExecute(
            instance=from_blob(instance),
            execution_id=execution_id,
            id=activity_id,
            name="",
            input="",
            queue=from_blob(queue),
        )
        error = f"worker item {activity_id} of {stand_in.instance!r}: {exc.message}"
        lease = WorkLease(
            item=stand_in, lock_token=lock_token, attempt_count=attempt_count, item_error=error
        )
        return lease, None
    return WorkLease(item=item, lock_token=lock_token, attempt_count=attempt_count), None


_FORGET_WORK = """
UPDATE worker_queue SET token = NULL, visible_at = :now, attempt_count = MAX(attempt_count - 1, 0)
WHERE token = id || '.' || :token
"""


def forget_work_fetch(conn: sqlite3.Connection, now: int, token: str) -> None:
    """Release the lease a fetch whose caller never saw the result took, if any (rare: scans)."""
    conn.execute(_FORGET_WORK, {"now": now, "token": token})


def ack_work_item(
    conn: sqlite3.Connection,
    now: int,
    token: str,
    completion: OrchestratorMessage | None,
    messages: MessageCache,
) -> None:
    with UnitOfWork(conn):
        deleted = conn.execute(
            "DELETE FROM worker_queue WHERE id = ? AND token = ? AND visible_at > ? RETURNING id",
            (_leased_row(token), token, now),
        ).fetchall()
        if not deleted:
            raise LockLostError("ack_work_item", "no live lease for this token")
        if completion is not None:
            conn.execute(_INSERT_ORCHESTRATOR, _orchestrator_row(completion, now, messages))


_RELEASE_WORK = """
UPDATE worker_queue SET
    token = NULL,
    visible_at = :visible_at,
    attempt_count = CASE WHEN :ignore_attempt THEN MAX(attempt_count - 1, 0)
                         ELSE attempt_count END
WHERE id = :id AND token = :token AND visible_at > :now
RETURNING id
"""


def abandon_work_item(
    conn: sqlite3.Connection, now: int, token: str, delay_ms: int, ignore_attempt: bool
) -> None:
    released = conn.execute(
        _RELEASE_WORK,
        {
            "id": _leased_row(token),
            "token": token,
            "now": now,
            "visible_at": now + delay_ms,
            "ignore_attempt": ignore_attempt,
        },
    ).fetchall()
    if not released:
        raise LockLostError("abandon_work_item", "no live lease for this token")


def renew_work_item_lock(conn: sqlite3.Connection, now: int, token: str, extend_ms: int) -> None:
    renewed = conn.execute(
        "UPDATE worker_queue SET visible_at = ? WHERE id = ? AND token = ? AND visible_at > ?"
        " RETURNING id",
        (now + extend_ms, _leased_row(token), token, now),
    ).fetchall()
    if not renewed:
        raise LockLostError("renew_work_item_lock", "no live lease for this token")


# -- history -----------------------------------------------------------------------------

_LATEST_HISTORY = """
SELECT data FROM history WHERE instance = :instance AND execution_id =
    (SELECT MAX(execution_id) FROM executions WHERE instance = :instance)
ORDER BY event_id
"""


def read(conn: sqlite3.Connection, instance: str, cache: HistoryCache) -> list[Event]:
    rows = conn.execute(_LATEST_HISTORY, {"instance": to_blob(instance)}).fetchall()
    return _checked_history("read", instance, rows, cache)


def read_execution(
    conn: sqlite3.Connection, instance: str, execution_id: int, cache: HistoryCache
) -> list[Event]:
    rows = conn.execute(_HISTORY, (to_blob(instance), execution_id)).fetchall()
    return _checked_history("read_execution", instance, rows, cache)


def _checked_history(
    operation: str, instance: str, rows: list[tuple[bytes]], cache: HistoryCache
) -> list[Event]:
    try:
        return cache.decode(rows)
    except CorruptDataError as exc:
        raise CorruptDataError(operation, f"history of {instance!r}: {exc.message}") from exc


def list_executions(conn: sqlite3.Connection, instance: str) -> list[int]:
    rows = conn.execute(
        "SELECT execution_id FROM executions WHERE instance = ? ORDER BY execution_id",
        (to_blob(instance),),
    ).fetchall()
    return [row[0] for row in rows]


def append_history(
    conn: sqlite3.Connection,
    now: int,
    instance: str,
    execution_id: int,
    events: Sequence[Event],
    cache: HistoryCache,
) -> None:
    key = to_blob(instance)
    with UnitOfWork(conn):
        conn.execute(_ENSURE_EXECUTION, (key, execution_id, Status.RUNNING.value, now))
        if events:
            _insert_history(conn, "append_history", key, execution_id, events, cache)


def corrupt_history(conn: sqlite3.Connection, now: int, instance: str, execution_id: int) -> None:
    key = to_blob(instance)
    with UnitOfWork(conn):
        conn.execute(_ENSURE_EXECUTION, (key, execution_id, Status.RUNNING.value, now))
        changed = conn.execute(
            "UPDATE history SET data = ? WHERE instance = ? AND execution_id = ?",
            (_CORRUPT_HISTORY, key, execution_id),
        ).rowcount
        if changed == 0:
            # Event ids start at 1, so row 0 never collides with a later append.
            conn.execute(_INSERT_HISTORY, (key, execution_id, 0, _CORRUPT_HISTORY))


def corrupt_orchestrator_messages(conn: sqlite3.Connection, instance: str) -> int:
    return conn.execute(
        "UPDATE orchestrator_queue SET data = ? WHERE instance = ?",
        (_CORRUPT_MESSAGE, to_blob(instance)),
    ).rowcount


def corrupt_work_items(conn: sqlite3.Connection, instance: str) -> int:
    return conn.execute(
        "UPDATE worker_queue SET data = ? WHERE instance = ?", (_CORRUPT_MESSAGE, to_blob(instance))
    ).rowcount


# -- deletion ----------------------------------------------------------------------------

_FROM_DOOMED = "WHERE instance IN (SELECT instance FROM temp.doomed)"
_REMOVALS = (
    "DELETE FROM instances " + _FROM_DOOMED,
    "DELETE FROM executions " + _FROM_DOOMED,
    "DELETE FROM history " + _FROM_DOOMED,
    "DELETE FROM orchestrator_queue " + _FROM_DOOMED,
    "DELETE FROM worker_queue " + _FROM_DOOMED,
    "DELETE FROM instance_locks " + _FROM_DOOMED,
)


def remove_instances(conn: sqlite3.Connection, instances: Sequence[bytes]) -> tuple[int, ...]:
    """Remove everything stored for ``instances`` (no tree walk); rows removed per table.

    The counts are for instances, executions, history, orchestrator queue, worker queue and
    instance locks, in that order. Runs inside the caller's transaction.
    """
    conn.execute("DELETE FROM temp.doomed")
    conn.executemany("INSERT OR IGNORE INTO temp.doomed VALUES (?)", [(i,) for i in instances])
    counts = tuple(conn.execute(statement).rowcount for statement in _REMOVALS)
    conn.execute("DELETE FROM temp.doomed")
    return counts
