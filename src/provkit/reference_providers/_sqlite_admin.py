"""The SQLite provider's management, deletion and prune transactions.

Like ``_sqlite_ops``: one plain function per provider operation, run whole as one unit of
work (see ``_sqlite_conn.Calls``); "now" is a parameter, never SQL's own clock. Reads see one
consistent snapshot; deletions and prunes select and delete inside one transaction.
"""

from __future__ import annotations

import sqlite3

from provkit.contract import (
    DeleteResult,
    ExecutionInfo,
    InstanceFilter,
    InstanceInfo,
    InstancePage,
    InstanceRunningError,
    NotFoundError,
    NotRootError,
    ProviderError,
    PruneResult,
    QueueDepths,
    Status,
    SystemMetrics,
)
from provkit.reference_providers._sqlite_conn import UnitOfWork as transaction
from provkit.reference_providers._sqlite_ops import remove_instances
from provkit.reference_providers._values import from_blob, to_blob

_CURRENT = "(SELECT MAX(execution_id) FROM executions AS c WHERE c.instance = i.instance)"
"""The current execution id of instance row ``i``."""

# -- management --------------------------------------------------------------------------

_INSTANCE_INFO = f"""
SELECT i.name, i.version, i.parent_instance, i.created_at, i.updated_at,
       e.execution_id, e.status, e.output
FROM instances AS i JOIN executions AS e
    ON e.instance = i.instance AND e.execution_id = {_CURRENT}
WHERE i.instance = ?
"""


def get_instance_info(conn: sqlite3.Connection, instance: str) -> InstanceInfo:
    row = conn.execute(_INSTANCE_INFO, (to_blob(instance),)).fetchone()
    if row is None:
        raise NotFoundError("get_instance_info", f"no instance {instance!r}")
    name, version, parent, created_at, updated_at, execution_id, status, output = row
    return InstanceInfo(
        instance=instance,
        orchestration_name=from_blob(name),
        orchestration_version=None if version is None else from_blob(version),
        current_execution_id=execution_id,
        status=Status(status.decode()),
        output=None if output is None else from_blob(output),
        parent_instance=None if parent is None else from_blob(parent),
        created_at_ms=created_at,
        updated_at_ms=updated_at,
    )


_EXECUTION_INFO = """
SELECT status, output, started_at, completed_at,
       (SELECT COUNT(*) FROM history AS h
        WHERE h.instance = e.instance AND h.execution_id = e.execution_id)
FROM executions AS e WHERE instance = ? AND execution_id = ?
"""


def get_execution_info(conn: sqlite3.Connection, instance: str, execution_id: int) -> ExecutionInfo:
    row = conn.execute(_EXECUTION_INFO, (to_blob(instance), execution_id)).fetchone()
    if row is None:
        raise NotFoundError(
            "get_execution_info", f"no execution {execution_id} of instance {instance!r}"
        )
    status, output, started_at, completed_at, event_count = row
    return ExecutionInfo(
        instance=instance,
        execution_id=execution_id,
        status=Status(status.decode()),
        output=None if output is None else from_blob(output),
        event_count=event_count,
        started_at_ms=started_at,
        completed_at_ms=completed_at,
    )


_LIST_INSTANCES = f"""
SELECT i.instance FROM instances AS i
WHERE (:after IS NULL OR i.instance > :after) AND (:status IS NULL OR :status =
    (SELECT status FROM executions AS e
     WHERE e.instance = i.instance AND e.execution_id = {_CURRENT}))
ORDER BY i.instance LIMIT :limit
"""


def list_instances(
    conn: sqlite3.Connection, status: Status | None, limit: int, cursor: str | None
) -> InstancePage:
    # Ids are listed in byte order; the cursor is the hex of the last id returned, so new
    # ids sort into place and none is returned twice.
    try:
        after = None if cursor is None else bytes.fromhex(cursor)
    except ValueError:
        raise ProviderError(
            "list_instances", f"{cursor!r} is not a cursor of this provider"
        ) from None
    rows = conn.execute(
        _LIST_INSTANCES,
        {
            "after": after,
            "status": None if status is None else status.value,
            "limit": max(limit, 1) + 1,
        },
    ).fetchall()
    page = [row[0] for row in rows[: max(limit, 1)]]
    more = len(rows) > len(page)
    return InstancePage(
        instances=[from_blob(raw) for raw in page],
        next_cursor=page[-1].hex() if more else None,
    )


def get_queue_depths(conn: sqlite3.Connection) -> QueueDepths:
    orchestrator, worker = conn.execute(
        "SELECT (SELECT COUNT(*) FROM orchestrator_queue), (SELECT COUNT(*) FROM worker_queue)"
    ).fetchone()
    return QueueDepths(orchestrator=orchestrator, worker=worker)


_STATUS_COUNTS = f"""
SELECT e.status, COUNT(*) FROM instances AS i JOIN executions AS e
    ON e.instance = i.instance AND e.execution_id = {_CURRENT}
GROUP BY e.status
"""


def get_system_metrics(conn: sqlite3.Connection) -> SystemMetrics:
    by_status = dict.fromkeys(Status, 0)
    for status, count in conn.execute(_STATUS_COUNTS):
        by_status[Status(status.decode())] = count
    executions, events = conn.execute(
        "SELECT (SELECT COUNT(*) FROM executions), (SELECT COUNT(*) FROM history)"
    ).fetchone()
    return SystemMetrics(
        instances=sum(by_status.values()),
        executions=executions,
        events=events,
        by_status=by_status,
    )


# -- deletion ----------------------------------------------------------------------------

_PARENT = """
SELECT i.parent_instance, EXISTS (SELECT 1 FROM instances AS p WHERE p.instance = i.parent_instance)
FROM instances AS i WHERE i.instance = ?
"""
_GROW_TREE = """
INSERT OR IGNORE INTO temp.selected
WITH RECURSIVE tree (instance) AS (
    SELECT instance FROM temp.selected
    UNION SELECT i.instance FROM instances AS i JOIN tree ON i.parent_instance = tree.instance)
SELECT instance FROM tree
"""
_RUNNING_MEMBER = f"""
SELECT s.instance FROM temp.selected AS s JOIN instances AS i ON i.instance = s.instance
WHERE (SELECT status FROM executions AS e
       WHERE e.instance = i.instance AND e.execution_id = {_CURRENT}) = :running
LIMIT 1
"""


def _delete_selected_trees(conn: sqlite3.Connection) -> DeleteResult:
    """Delete the trees of the instances in ``temp.selected`` (which it empties)."""
    conn.execute(_GROW_TREE)
    members = [row[0] for row in conn.execute("SELECT instance FROM temp.selected")]
    conn.execute("DELETE FROM temp.selected")
    instances, executions, events, messages, items, _ = remove_instances(conn, members)
    return DeleteResult(
        instances=instances,
        executions=executions,
        events=events,
        orchestrator_messages=messages,
        worker_items=items,
    )


def delete_instance(conn: sqlite3.Connection, instance: str, force: bool) -> DeleteResult:
    operation = "delete_instance"
    key = to_blob(instance)
    with transaction(conn):
        parent = conn.execute(_PARENT, (key,)).fetchone()
        if parent is None:
            raise NotFoundError(operation, f"no instance {instance!r}")
        if parent[1]:
            raise NotRootError(
                operation,
                f"{instance!r} is a sub-orchestration of {from_blob(parent[0])!r}: "
                "delete its root instead",
            )
        conn.execute("DELETE FROM temp.selected")
        conn.execute("INSERT INTO temp.selected VALUES (?)", (key,))
        if not force:
            conn.execute(_GROW_TREE)
            running = conn.execute(_RUNNING_MEMBER, {"running": Status.RUNNING.value}).fetchone()
            if running is not None:
                conn.execute("DELETE FROM temp.selected")
                member = from_blob(running[0])
                which = "" if member == instance else f" (its sub-orchestration {member!r})"
                raise InstanceRunningError(
                    operation, f"{instance!r} is running{which}; pass force=True to delete it"
                )
        return _delete_selected_trees(conn)


_SELECT_ROOTS = f"""
INSERT INTO temp.selected
SELECT i.instance FROM instances AS i JOIN executions AS e
    ON e.instance = i.instance AND e.execution_id = {_CURRENT}
WHERE e.status != :running
    AND (i.parent_instance IS NULL
         OR NOT EXISTS (SELECT 1 FROM instances AS p WHERE p.instance = i.parent_instance))
    AND (:before IS NULL OR e.completed_at < :before)
    {{wanted}}
ORDER BY i.instance LIMIT :limit
"""
_ANY_ROOT = _SELECT_ROOTS.format(wanted="")
_WANTED_ROOT = _SELECT_ROOTS.format(wanted="AND i.instance IN (SELECT instance FROM temp.doomed)")


def delete_instances(conn: sqlite3.Connection, selection: InstanceFilter) -> DeleteResult:
    params = {
        "running": Status.RUNNING.value,
        "before": selection.completed_before_ms,
        "limit": max(selection.limit, 1),
    }
    with transaction(conn):
        conn.execute("DELETE FROM temp.selected")
        if selection.instances is None:
            conn.execute(_ANY_ROOT, params)
        else:
            # temp.doomed holds the wanted ids only until the tree walk below refills it.
            conn.execute("DELETE FROM temp.doomed")
            conn.executemany(
                "INSERT OR IGNORE INTO temp.doomed VALUES (?)",
                [(to_blob(i),) for i in selection.instances],
            )
            conn.execute(_WANTED_ROOT, params)
        return _delete_selected_trees(conn)


# -- prune -------------------------------------------------------------------------------

_PRUNABLE = """
SELECT execution_id FROM executions
WHERE instance = :instance AND status != :running
    AND execution_id < (SELECT MAX(execution_id) FROM executions WHERE instance = :instance)
    AND execution_id NOT IN (SELECT execution_id FROM executions WHERE instance = :instance
                             ORDER BY execution_id DESC LIMIT :keep)
    AND (:before IS NULL OR completed_at < :before)
"""


def prune_executions(
    conn: sqlite3.Connection, instance: str, keep_last: int | None, completed_before_ms: int | None
) -> PruneResult:
    key = to_blob(instance)
    with transaction(conn):
        if not conn.execute("SELECT 1 FROM instances WHERE instance = ?", (key,)).fetchone():
            raise NotFoundError("prune_executions", f"no instance {instance!r}")
        doomed = conn.execute(
            _PRUNABLE,
            {
                "instance": key,
                "running": Status.RUNNING.value,
                "keep": 1 if keep_last is None else max(keep_last, 1),
                "before": completed_before_ms,
            },
        ).fetchall()
        rows = [(key, execution_id) for (execution_id,) in doomed]
        events = 0
        for row in rows:
            events += conn.execute(
                "DELETE FROM history WHERE instance = ? AND execution_id = ?", row
            ).rowcount
        conn.executemany("DELETE FROM executions WHERE instance = ? AND execution_id = ?", rows)
        return PruneResult(executions=len(rows), events=events)
