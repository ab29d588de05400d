"""The PostgreSQL provider's schema: tables and one server-side function per busy operation.

Everything lives in one PostgreSQL schema per provider store, so several stores share a
database without meeting. "Now" is always a parameter (the provider's clock): the server's
own time functions are never used. Nothing here runs SQL; ``create_script`` only writes it.
"""

from __future__ import annotations

import hashlib
import re

SCHEMA_VERSION = 1
"""Version of the tables and functions this module creates."""

SCHEMA_COMMENT = "provkit provider store, schema version "
"""How a schema this module created is marked (``COMMENT ON SCHEMA``), before the version."""

LOCK_LOST = "PK001"
"""SQLSTATE the functions raise for a lock token that is not live."""

NOT_FOUND = "PK002"
"""SQLSTATE the functions raise for an instance without a record."""

NOT_ROOT = "PK003"
"""SQLSTATE a deletion raises for a sub-orchestration."""

INSTANCE_RUNNING = "PK004"
"""SQLSTATE a deletion without force raises for a running tree member."""

HISTORY_KEY = "history_event_key"
"""Name of history's primary key: a violation is a duplicate event id."""

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")


def check_schema_name(schema: str) -> None:
    """Raise ``ValueError`` unless ``schema`` is a plain lower-case identifier (<= 48 chars).

    Plain names need no quoting anywhere and leave room for the notification channels.
    """
    if not _SCHEMA_NAME.fullmatch(schema) or schema.startswith("pg_"):
        raise ValueError(
            f"schema name {schema!r} must be 1-48 characters a-z, 0-9 or _, not starting "
            "with a digit or pg_"
        )


def orchestrator_channel(schema: str) -> str:
    """NOTIFY channel of orchestrator work in ``schema``; the payload is a count of items."""
    return f"{schema}.orchestrator"


def worker_channel(schema: str) -> str:
    """NOTIFY channel of worker work in ``schema``; the payload is a count of items."""
    return f"{schema}.worker"


def _seed(schema: str, purpose: str) -> int:
    # Advisory locks are database-wide: keys derived from the schema name keep two schemas'
    # instances of the same name (and their tree locks) apart.
    digest = hashlib.sha256(f"{purpose}:{schema}".encode()).digest()
    return int.from_bytes(digest[:7], "big")


def create_script(schema: str) -> str:
    """The statements that create ``schema`` with its tables and functions (one script)."""
    check_schema_name(schema)
    values = {
        "s": schema,
        "seed": str(_seed(schema, "instance")),
        "tree_key": str(_seed(schema, "tree")),
        "comment": SCHEMA_COMMENT,
        "version": str(SCHEMA_VERSION),
        "lock_lost": LOCK_LOST,
        "not_found": NOT_FOUND,
        "not_root": NOT_ROOT,
        "instance_running": INSTANCE_RUNNING,
        "history_key": HISTORY_KEY,
        "orchestrator_channel": orchestrator_channel(schema),
        "worker_channel": worker_channel(schema),
    }
    script = _SCRIPT
    for name, value in values.items():
        script = script.replace("{" + name + "}", value)
    return script


# Raw strings (ids, names, outputs, queue names) are bytea holding the UTF-8 of any Python
# string (lone surrogates too), as the SQLite provider keeps them; events and messages are the
# codec's ASCII JSON text; times are epoch ms from the provider's clock.
#
# Concurrency. Everything that changes an instance's lock row, its batch or its executions
# takes the instance's advisory key first (transaction-scoped): acks, abandons, prunes and
# deletions wait for it, a fetch only tries it and moves on to the next candidate when it is
# taken. So fetchers never wait for each other, and an instance is claimed by one upsert that
# replaces only an expired lock. Worker items are claimed with FOR UPDATE SKIP LOCKED.
# Deletions hold the schema's tree key exclusively, acks that write a record naming a parent
# hold it shared: a tree cannot gain a member while it is deleted. Tree key before instance
# keys, instance keys in sorted order: no lock cycles.
#
# While a worker item is leased its visible_at is the lease expiry: "fetchable" and "lease
# expired" are then one condition, visible_at <= now.
_SCRIPT = """
CREATE SCHEMA {s};
COMMENT ON SCHEMA {s} IS '{comment}{version}';

CREATE TABLE {s}.instances (
    instance bytea PRIMARY KEY,
    name bytea NOT NULL,
    version bytea,
    parent_instance bytea,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);
CREATE INDEX instances_parent ON {s}.instances (parent_instance);

CREATE TABLE {s}.executions (
    instance bytea NOT NULL,
    execution_id bigint NOT NULL,
    status text NOT NULL,
    output bytea,
    started_at bigint NOT NULL,
    completed_at bigint,
    PRIMARY KEY (instance, execution_id)
);

CREATE TABLE {s}.history (
    instance bytea NOT NULL,
    execution_id bigint NOT NULL,
    event_id bigint NOT NULL,
    data text NOT NULL,
    CONSTRAINT {history_key} PRIMARY KEY (instance, execution_id, event_id)
);

CREATE TABLE {s}.orchestrator_queue (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance bytea NOT NULL,
    visible_at bigint NOT NULL,
    batch_token text,
    attempt_count integer NOT NULL DEFAULT 0,
    data text NOT NULL
) WITH (fillfactor = 80);
CREATE INDEX orchestrator_queue_visible ON {s}.orchestrator_queue (visible_at, id);
CREATE INDEX orchestrator_queue_instance ON {s}.orchestrator_queue (instance, id);

CREATE TABLE {s}.instance_locks (
    instance bytea PRIMARY KEY,
    token text NOT NULL UNIQUE,
    locked_until bigint NOT NULL
);

CREATE TABLE {s}.worker_queue (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance bytea NOT NULL,
    execution_id bigint NOT NULL,
    activity_id bigint NOT NULL,
    queue bytea NOT NULL,
    visible_at bigint NOT NULL,
    token text,
    attempt_count integer NOT NULL DEFAULT 0,
    data text NOT NULL
) WITH (fillfactor = 80);
CREATE INDEX worker_queue_activity ON {s}.worker_queue (instance, execution_id, activity_id);
CREATE INDEX worker_queue_queue ON {s}.worker_queue (queue, id);

CREATE FUNCTION {s}.instance_key(p_instance bytea) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT hashtextextended(encode(p_instance, 'hex'), {seed}) $$;

CREATE FUNCTION {s}.fail(p_state text, p_what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', p_what USING ERRCODE = p_state;
END $$;

CREATE FUNCTION {s}.current_status(p_instance bytea) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT e.status FROM {s}.executions e WHERE e.instance = p_instance
    ORDER BY e.execution_id DESC LIMIT 1
$$;

CREATE FUNCTION {s}.enqueue_orchestrator(
    p_now bigint, p_instance bytea, p_visible_at bigint, p_data text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {s}.orchestrator_queue (instance, visible_at, data)
    VALUES (p_instance, p_visible_at, p_data);
    -- A message for a locked instance gives no waiting fetch anything to do: the ack that
    -- releases the lock wakes one, and fetches wait for lock expiries on their own.
    IF p_visible_at > p_now OR NOT EXISTS (
        SELECT 1 FROM {s}.instance_locks l
        WHERE l.instance = p_instance AND l.locked_until > p_now
    ) THEN
        PERFORM pg_notify('{orchestrator_channel}', '1');
    END IF;
END $$;

CREATE FUNCTION {s}.fetch_orchestration(
    p_now bigint, p_until bigint, p_token text, p_want_wake boolean
) RETURNS TABLE (
    o_instance bytea, o_name bytea, o_version bytea, o_execution_id bigint,
    o_attempt_count integer, o_messages text[], o_history text[], o_next_wake bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_instance bytea;
    v_tried bytea[] := '{}';
BEGIN
    LOOP
        SELECT q.instance INTO v_instance
        FROM {s}.orchestrator_queue q
        WHERE q.visible_at <= p_now
          AND q.instance <> ALL (v_tried)
          AND NOT EXISTS (
              SELECT 1 FROM {s}.instance_locks l
              WHERE l.instance = q.instance AND l.locked_until > p_now)
        ORDER BY q.visible_at, q.id
        LIMIT 1;
        IF NOT FOUND THEN
            IF p_want_wake THEN
                o_next_wake := LEAST(
                    (SELECT min(q.visible_at) FROM {s}.orchestrator_queue q
                     WHERE q.visible_at > p_now),
                    (SELECT min(l.locked_until) FROM {s}.instance_locks l
                     WHERE l.locked_until > p_now));
                RETURN NEXT;
            END IF;
            RETURN;
        END IF;
        v_tried := v_tried || v_instance;
        -- Taken: another fetch is claiming this instance, or its holder is acking: skip it.
        CONTINUE WHEN NOT pg_try_advisory_xact_lock({s}.instance_key(v_instance));
        -- Under the key nobody removes its messages any more; this snapshot is fresh.
        PERFORM 1 FROM {s}.orchestrator_queue q
        WHERE q.instance = v_instance AND q.visible_at <= p_now;
        CONTINUE WHEN NOT FOUND;
        INSERT INTO {s}.instance_locks AS l (instance, token, locked_until)
        VALUES (v_instance, p_token, p_until)
        ON CONFLICT (instance) DO UPDATE
            SET token = excluded.token, locked_until = excluded.locked_until
            WHERE l.locked_until <= p_now;
        EXIT WHEN FOUND;
    END LOOP;
    o_instance := v_instance;
    SELECT COALESCE(max(e.execution_id), 1) INTO o_execution_id
    FROM {s}.executions e WHERE e.instance = v_instance;
    SELECT i.name, i.version INTO o_name, o_version
    FROM {s}.instances i WHERE i.instance = v_instance;
    WITH batch AS (
        UPDATE {s}.orchestrator_queue q
        SET batch_token = p_token, attempt_count = q.attempt_count + 1
        WHERE q.instance = v_instance AND q.visible_at <= p_now
        RETURNING q.id, q.attempt_count, q.data)
    SELECT max(b.attempt_count), array_agg(b.data ORDER BY b.id)
    INTO o_attempt_count, o_messages FROM batch b;
    SELECT array_agg(h.data ORDER BY h.event_id) INTO o_history
    FROM {s}.history h
    WHERE h.instance = v_instance AND h.execution_id = o_execution_id;
    RETURN NEXT;
END $$;

-- Removes everything of the given instances; the caller holds their keys.
CREATE FUNCTION {s}.remove_instances(
    p_instances bytea[],
    OUT o_instances bigint, OUT o_executions bigint, OUT o_events bigint,
    OUT o_orchestrator_messages bigint, OUT o_worker_items bigint
) LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {s}.instances i WHERE i.instance = ANY (p_instances);
    GET DIAGNOSTICS o_instances = ROW_COUNT;
    DELETE FROM {s}.executions e WHERE e.instance = ANY (p_instances);
    GET DIAGNOSTICS o_executions = ROW_COUNT;
    DELETE FROM {s}.history h WHERE h.instance = ANY (p_instances);
    GET DIAGNOSTICS o_events = ROW_COUNT;
    DELETE FROM {s}.orchestrator_queue q WHERE q.instance = ANY (p_instances);
    GET DIAGNOSTICS o_orchestrator_messages = ROW_COUNT;
    DELETE FROM {s}.worker_queue w WHERE w.instance = ANY (p_instances);
    GET DIAGNOSTICS o_worker_items = ROW_COUNT;
    DELETE FROM {s}.instance_locks l WHERE l.instance = ANY (p_instances);
END $$;

-- Deletes the live lock p_token names (LockLostError otherwise) under its instance's key,
-- taken after the tree key when p_tree is set; the instance. A failure later in the caller
-- rolls the release back.
CREATE FUNCTION {s}.release_lock(p_now bigint, p_token text, p_tree boolean) RETURNS bytea
LANGUAGE plpgsql AS $$
DECLARE
    v_instance bytea;
    v_until bigint;
BEGIN
    SELECT l.instance INTO v_instance FROM {s}.instance_locks l WHERE l.token = p_token;
    IF NOT FOUND THEN
        PERFORM {s}.fail('{lock_lost}', 'the lock token is not held');
    END IF;
    IF p_tree THEN
        PERFORM pg_advisory_xact_lock_shared({tree_key});
    END IF;
    PERFORM pg_advisory_xact_lock({s}.instance_key(v_instance));
    DELETE FROM {s}.instance_locks l WHERE l.token = p_token RETURNING l.locked_until
    INTO v_until;
    IF NOT FOUND THEN
        PERFORM {s}.fail('{lock_lost}', 'the lock token is not held');
    ELSIF v_until <= p_now THEN
        PERFORM {s}.fail('{lock_lost}', 'the instance lock expired');
    END IF;
    RETURN v_instance;
END $$;

CREATE FUNCTION {s}.ack_orchestration(
    p_now bigint, p_token text, p_execution_id bigint,
    p_event_ids bigint[], p_events text[],
    p_work_instances bytea[], p_work_executions bigint[], p_work_activities bigint[],
    p_work_queues bytea[], p_work_data text[],
    p_orch_instances bytea[], p_orch_visible_at bigint[], p_orch_data text[],
    p_cancel_instances bytea[], p_cancel_executions bigint[], p_cancel_activities bigint[],
    p_status text, p_output bytea, p_name bytea, p_version bytea, p_parent bytea
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_instance bytea;
    v_wakes integer;
BEGIN
    v_instance := {s}.release_lock(
        p_now, p_token, p_name IS NOT NULL AND p_parent IS NOT NULL);
    IF p_name IS NOT NULL AND p_parent IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM {s}.instances i WHERE i.instance = p_parent
    ) THEN
        -- The parent was deleted: the child must not outlive it.
        PERFORM {s}.remove_instances(ARRAY[v_instance]);
        RETURN;
    END IF;
    DELETE FROM {s}.orchestrator_queue q
    WHERE q.instance = v_instance AND q.batch_token = p_token;
    IF p_name IS NOT NULL THEN
        INSERT INTO {s}.instances AS i
            (instance, name, version, parent_instance, created_at, updated_at)
        VALUES (v_instance, p_name, p_version, p_parent, p_now, p_now)
        ON CONFLICT (instance) DO UPDATE SET
            name = excluded.name, version = excluded.version,
            parent_instance = excluded.parent_instance, updated_at = p_now;
    ELSE
        UPDATE {s}.instances i SET updated_at = p_now WHERE i.instance = v_instance;
    END IF;
    INSERT INTO {s}.executions AS e
        (instance, execution_id, status, output, started_at, completed_at)
    VALUES (
        v_instance, p_execution_id, COALESCE(p_status, 'Running'), p_output, p_now,
        CASE WHEN COALESCE(p_status, 'Running') = 'Running' THEN NULL ELSE p_now END)
    ON CONFLICT (instance, execution_id) DO UPDATE SET
        status = COALESCE(p_status, e.status),
        output = COALESCE(p_output, e.output),
        completed_at = CASE WHEN p_status IS NULL THEN e.completed_at
                            WHEN p_status = 'Running' THEN NULL
                            ELSE p_now END;
    IF cardinality(p_event_ids) > 0 THEN
        INSERT INTO {s}.history (instance, execution_id, event_id, data)
        SELECT v_instance, p_execution_id, d.event_id, d.data
        FROM unnest(p_event_ids, p_events) AS d (event_id, data);
    END IF;
    IF cardinality(p_work_data) > 0 THEN
        INSERT INTO {s}.worker_queue
            (instance, execution_id, activity_id, queue, visible_at, data)
        SELECT w.instance, w.execution_id, w.activity_id, w.queue, p_now, w.data
        FROM unnest(p_work_instances, p_work_executions, p_work_activities, p_work_queues,
                    p_work_data)
            WITH ORDINALITY AS w (instance, execution_id, activity_id, queue, data, n)
        ORDER BY w.n;
    END IF;
    IF cardinality(p_cancel_instances) > 0 THEN
        DELETE FROM {s}.worker_queue w
        USING unnest(p_cancel_instances, p_cancel_executions, p_cancel_activities)
            AS c (instance, execution_id, activity_id)
        WHERE w.instance = c.instance AND w.execution_id = c.execution_id
          AND w.activity_id = c.activity_id;
    END IF;
    IF cardinality(p_orch_data) > 0 THEN
        INSERT INTO {s}.orchestrator_queue (instance, visible_at, data)
        SELECT o.instance, o.visible_at, o.data
        FROM unnest(p_orch_instances, p_orch_visible_at, p_orch_data)
            WITH ORDINALITY AS o (instance, visible_at, data, n)
        ORDER BY o.n;
    END IF;
    -- Wake a waiting fetch for each message this turn sent elsewhere or for later (a
    -- woken fetch learns when that is), and one if this instance has messages waiting.
    SELECT count(*) INTO v_wakes
    FROM unnest(p_orch_instances, p_orch_visible_at) AS o (instance, visible_at)
    WHERE o.instance <> v_instance OR o.visible_at > p_now;
    IF EXISTS (SELECT 1 FROM {s}.orchestrator_queue q
               WHERE q.instance = v_instance AND q.visible_at <= p_now) THEN
        v_wakes := v_wakes + 1;
    END IF;
    IF v_wakes > 0 THEN
        PERFORM pg_notify('{orchestrator_channel}', v_wakes::text);
    END IF;
    IF cardinality(p_work_data) > 0 THEN
        PERFORM pg_notify('{worker_channel}', cardinality(p_work_data)::text);
    END IF;
END $$;

CREATE FUNCTION {s}.abandon_orchestration(
    p_now bigint, p_token text, p_visible_at bigint, p_ignore_attempt boolean
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_instance bytea;
BEGIN
    v_instance := {s}.release_lock(p_now, p_token, false);
    UPDATE {s}.orchestrator_queue q SET
        batch_token = NULL,
        visible_at = COALESCE(p_visible_at, q.visible_at),
        attempt_count = CASE WHEN p_ignore_attempt THEN GREATEST(q.attempt_count - 1, 0)
                             ELSE q.attempt_count END
    WHERE q.instance = v_instance AND q.batch_token = p_token;
    PERFORM pg_notify('{orchestrator_channel}', '1');
END $$;

-- p_queues NULL: every task queue. A lease token is "<row id>.<unique part>": ack, renew
-- and abandon find the row by its primary key.
CREATE FUNCTION {s}.fetch_work(
    p_now bigint, p_until bigint, p_token text, p_want_wake boolean, p_queues bytea[]
) RETURNS TABLE (
    o_token text, o_attempt_count integer, o_data text, o_instance bytea,
    o_execution_id bigint, o_activity_id bigint, o_queue bytea, o_next_wake bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_queues IS NULL THEN
        SELECT c.id INTO v_id FROM {s}.worker_queue c
        WHERE c.visible_at <= p_now
        ORDER BY c.id LIMIT 1 FOR UPDATE SKIP LOCKED;
    ELSE
        SELECT c.id INTO v_id FROM {s}.worker_queue c
        WHERE c.visible_at <= p_now AND c.queue = ANY (p_queues)
        ORDER BY c.id LIMIT 1 FOR UPDATE SKIP LOCKED;
    END IF;
    IF v_id IS NOT NULL THEN
        UPDATE {s}.worker_queue w SET
            token = w.id || '.' || p_token,
            visible_at = p_until,
            attempt_count = w.attempt_count + 1
        WHERE w.id = v_id
        RETURNING w.token, w.attempt_count, w.data, w.instance, w.execution_id,
                  w.activity_id, w.queue
        INTO o_token, o_attempt_count, o_data, o_instance, o_execution_id, o_activity_id,
             o_queue;
        RETURN NEXT;
    ELSIF p_want_wake THEN
        SELECT min(w.visible_at) INTO o_next_wake FROM {s}.worker_queue w
        WHERE w.visible_at > p_now AND (p_queues IS NULL OR w.queue = ANY (p_queues));
        RETURN NEXT;
    END IF;
END $$;

CREATE FUNCTION {s}.ack_work(
    p_now bigint, p_id bigint, p_token text,
    p_instance bytea, p_visible_at bigint, p_data text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {s}.worker_queue w
    WHERE w.id = p_id AND w.token = p_token AND w.visible_at > p_now;
    IF NOT FOUND THEN
        PERFORM {s}.fail('{lock_lost}', 'no live lease for this token');
    END IF;
    IF p_data IS NOT NULL THEN
        PERFORM {s}.enqueue_orchestrator(p_now, p_instance, p_visible_at, p_data);
    END IF;
END $$;

CREATE FUNCTION {s}.abandon_work(
    p_now bigint, p_id bigint, p_token text, p_visible_at bigint, p_ignore_attempt boolean
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {s}.worker_queue w SET
        token = NULL,
        visible_at = p_visible_at,
        attempt_count = CASE WHEN p_ignore_attempt THEN GREATEST(w.attempt_count - 1, 0)
                             ELSE w.attempt_count END
    WHERE w.id = p_id AND w.token = p_token AND w.visible_at > p_now;
    IF NOT FOUND THEN
        PERFORM {s}.fail('{lock_lost}', 'no live lease for this token');
    END IF;
    PERFORM pg_notify('{worker_channel}', '1');
END $$;

CREATE FUNCTION {s}.append_history(
    p_now bigint, p_instance bytea, p_execution_id bigint, p_event_ids bigint[],
    p_events text[]
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {s}.executions (instance, execution_id, status, started_at)
    VALUES (p_instance, p_execution_id, 'Running', p_now)
    ON CONFLICT (instance, execution_id) DO NOTHING;
    INSERT INTO {s}.history (instance, execution_id, event_id, data)
    SELECT p_instance, p_execution_id, d.event_id, d.data
    FROM unnest(p_event_ids, p_events) AS d (event_id, data);
END $$;

CREATE FUNCTION {s}.corrupt_history(
    p_now bigint, p_instance bytea, p_execution_id bigint, p_garbage text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {s}.executions (instance, execution_id, status, started_at)
    VALUES (p_instance, p_execution_id, 'Running', p_now)
    ON CONFLICT (instance, execution_id) DO NOTHING;
    UPDATE {s}.history h SET data = p_garbage
    WHERE h.instance = p_instance AND h.execution_id = p_execution_id;
    IF NOT FOUND THEN
        -- Event ids start at 1, so row 0 never collides with a later append.
        INSERT INTO {s}.history (instance, execution_id, event_id, data)
        VALUES (p_instance, p_execution_id, 0, p_garbage);
    END IF;
END $$;

-- The tree of p_root (members' records name a member as parent), keys taken in order.
CREATE FUNCTION {s}.lock_trees(p_roots bytea[]) RETURNS bytea[]
LANGUAGE plpgsql AS $$
DECLARE
    v_tree bytea[];
BEGIN
    WITH RECURSIVE tree (instance) AS (
        SELECT r FROM unnest(p_roots) AS r
        UNION
        SELECT i.instance FROM {s}.instances i JOIN tree t ON i.parent_instance = t.instance)
    SELECT COALESCE(array_agg(t.instance ORDER BY t.instance), '{}') INTO v_tree FROM tree t;
    PERFORM pg_advisory_xact_lock({s}.instance_key(m))
    FROM unnest(v_tree) AS m ORDER BY m;
    RETURN v_tree;
END $$;

CREATE FUNCTION {s}.delete_instance(
    p_instance bytea, p_force boolean,
    OUT o_instances bigint, OUT o_executions bigint, OUT o_events bigint,
    OUT o_orchestrator_messages bigint, OUT o_worker_items bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_parent bytea;
    v_tree bytea[];
BEGIN
    PERFORM pg_advisory_xact_lock({tree_key});
    SELECT i.parent_instance INTO v_parent FROM {s}.instances i WHERE i.instance = p_instance;
    IF NOT FOUND THEN
        PERFORM {s}.fail('{not_found}', 'the instance has no record');
    END IF;
    IF EXISTS (SELECT 1 FROM {s}.instances i WHERE i.instance = v_parent) THEN
        PERFORM {s}.fail('{not_root}', 'the instance is a sub-orchestration: delete its root');
    END IF;
    v_tree := {s}.lock_trees(ARRAY[p_instance]);
    IF NOT p_force AND EXISTS (
        SELECT 1 FROM unnest(v_tree) AS m WHERE {s}.current_status(m) = 'Running'
    ) THEN
        PERFORM {s}.fail('{instance_running}', 'an instance of the tree is running');
    END IF;
    SELECT * INTO o_instances, o_executions, o_events, o_orchestrator_messages,
                  o_worker_items
    FROM {s}.remove_instances(v_tree);
END $$;

CREATE FUNCTION {s}.delete_instances(
    p_ids bytea[], p_completed_before bigint, p_limit integer,
    OUT o_instances bigint, OUT o_executions bigint, OUT o_events bigint,
    OUT o_orchestrator_messages bigint, OUT o_worker_items bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_roots bytea[];
BEGIN
    PERFORM pg_advisory_xact_lock({tree_key});
    SELECT COALESCE(array_agg(r.instance), '{}') INTO v_roots FROM (
        SELECT i.instance FROM {s}.instances i
        CROSS JOIN LATERAL (
            SELECT e.status, e.completed_at FROM {s}.executions e
            WHERE e.instance = i.instance ORDER BY e.execution_id DESC LIMIT 1) cur
        WHERE cur.status <> 'Running'
          AND NOT EXISTS (SELECT 1 FROM {s}.instances p WHERE p.instance = i.parent_instance)
          AND (p_ids IS NULL OR i.instance = ANY (p_ids))
          AND (p_completed_before IS NULL OR cur.completed_at < p_completed_before)
        ORDER BY i.instance
        LIMIT p_limit) r;
    SELECT * INTO o_instances, o_executions, o_events, o_orchestrator_messages,
                  o_worker_items
    FROM {s}.remove_instances({s}.lock_trees(v_roots));
END $$;

CREATE FUNCTION {s}.prune_executions(
    p_instance bytea, p_keep_last integer, p_completed_before bigint,
    OUT o_executions bigint, OUT o_events bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_pruned bigint[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM {s}.instances i WHERE i.instance = p_instance) THEN
        PERFORM {s}.fail('{not_found}', 'the instance has no record');
    END IF;
    PERFORM pg_advisory_xact_lock({s}.instance_key(p_instance));
    -- The current execution is the highest one: always among those kept.
    WITH kept AS (
        SELECT e.execution_id FROM {s}.executions e WHERE e.instance = p_instance
        ORDER BY e.execution_id DESC
        LIMIT GREATEST(COALESCE(p_keep_last, 1), 1)),
    pruned AS (
        DELETE FROM {s}.executions e
        WHERE e.instance = p_instance
          AND e.status <> 'Running'
          AND e.execution_id NOT IN (SELECT k.execution_id FROM kept k)
          AND (p_completed_before IS NULL OR e.completed_at < p_completed_before)
        RETURNING e.execution_id)
    SELECT COALESCE(array_agg(p.execution_id), '{}') INTO v_pruned FROM pruned p;
    o_executions := cardinality(v_pruned);
    DELETE FROM {s}.history h
    WHERE h.instance = p_instance AND h.execution_id = ANY (v_pruned);
    GET DIAGNOSTICS o_events = ROW_COUNT;
END $$;
"""


class Statements:
    """The provider's SQL for one schema: each a single statement, prepared once per connection."""

    def __init__(self, schema: str) -> None:
        check_schema_name(schema)
        s = schema
        self.enqueue_orchestrator = f"SELECT {s}.enqueue_orchestrator($1, $2, $3, $4)"
        self.fetch_orchestration = f"SELECT * FROM {s}.fetch_orchestration($1, $2, $3, $4)"
        self.ack_orchestration = (
            f"SELECT {s}.ack_orchestration(" + ", ".join(f"${n}" for n in range(1, 22)) + ")"
        )
        self.abandon_orchestration = f"SELECT {s}.abandon_orchestration($1, $2, $3, $4)"
        self.renew_orchestration = (
            f"UPDATE {s}.instance_locks SET locked_until = $3"
            " WHERE token = $2 AND locked_until > $1 RETURNING instance"
        )
        self.enqueue_work = (
            f"WITH queued AS (INSERT INTO {s}.worker_queue"
            " (instance, execution_id, activity_id, queue, visible_at, data)"
            " VALUES ($1, $2, $3, $4, $5, $6))"
            f" SELECT pg_notify('{worker_channel(s)}', '1')"
        )
        self.fetch_work = f"SELECT * FROM {s}.fetch_work($1, $2, $3, $4, $5)"
        self.ack_work = f"SELECT {s}.ack_work($1, $2, $3, $4, $5, $6)"
        self.abandon_work = f"SELECT {s}.abandon_work($1, $2, $3, $4, $5)"
        self.renew_work = (
            f"UPDATE {s}.worker_queue SET visible_at = $4"
            " WHERE id = $2 AND token = $3 AND visible_at > $1 RETURNING id"
        )
        self.forget_work = (
            f"UPDATE {s}.worker_queue SET token = NULL, visible_at = $1,"
            " attempt_count = GREATEST(attempt_count - 1, 0)"
            " WHERE token = id || '.' || $2"
        )
        self.read_latest = (
            f"SELECT array_agg(data ORDER BY event_id) FROM {s}.history"
            " WHERE instance = $1 AND execution_id ="
            f" (SELECT max(execution_id) FROM {s}.executions WHERE instance = $1)"
        )
        self.read_execution = (
            f"SELECT array_agg(data ORDER BY event_id) FROM {s}.history"
            " WHERE instance = $1 AND execution_id = $2"
        )
        self.list_executions = (
            f"SELECT array_agg(execution_id ORDER BY execution_id) FROM {s}.executions"
            " WHERE instance = $1"
        )
        self.append_history = f"SELECT {s}.append_history($1, $2, $3, $4, $5)"
        self.corrupt_history = f"SELECT {s}.corrupt_history($1, $2, $3, $4)"
        self.corrupt_orchestrator_messages = (
            f"WITH changed AS (UPDATE {s}.orchestrator_queue SET data = $2"
            " WHERE instance = $1 RETURNING 1) SELECT count(*) FROM changed"
        )
        self.corrupt_work_items = (
            f"WITH changed AS (UPDATE {s}.worker_queue SET data = $2"
            " WHERE instance = $1 RETURNING 1) SELECT count(*) FROM changed"
        )
        # -- management
        self.instance_info = (
            "SELECT i.name, i.version, i.parent_instance, i.created_at, i.updated_at,"
            " e.execution_id, e.status, e.output"
            f" FROM {s}.instances i CROSS JOIN LATERAL (SELECT * FROM {s}.executions x"
            " WHERE x.instance = i.instance ORDER BY x.execution_id DESC LIMIT 1) e"
            " WHERE i.instance = $1"
        )
        self.execution_info = (
            "SELECT e.status, e.output, e.started_at, e.completed_at,"
            f" (SELECT count(*) FROM {s}.history h"
            "  WHERE h.instance = e.instance AND h.execution_id = e.execution_id)"
            f" FROM {s}.executions e WHERE e.instance = $1 AND e.execution_id = $2"
        )
        self.list_instances = (
            f"SELECT array_agg(instance ORDER BY instance) FROM (SELECT i.instance"
            f" FROM {s}.instances i"
            " WHERE ($1::bytea IS NULL OR i.instance > $1)"
            f" AND ($2::text IS NULL OR {s}.current_status(i.instance) = $2)"
            " ORDER BY i.instance LIMIT $3) page"
        )
        self.queue_depths = (
            f"SELECT (SELECT count(*) FROM {s}.orchestrator_queue),"
            f" (SELECT count(*) FROM {s}.worker_queue)"
        )
        self.system_metrics = (
            f"SELECT (SELECT count(*) FROM {s}.executions),"
            f" (SELECT count(*) FROM {s}.history),"
            f" (SELECT array_agg(status) FROM (SELECT {s}.current_status(instance) AS status"
            f"  FROM {s}.instances) statuses)"
        )
        # -- deletion and prune
        self.delete_instance = f"SELECT * FROM {s}.delete_instance($1, $2)"
        self.delete_instances = f"SELECT * FROM {s}.delete_instances($1, $2, $3)"
        self.prune_executions = f"SELECT * FROM {s}.prune_executions($1, $2, $3)"
