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


def _lock_seed(schema: str) -> int:
    # Instance keys are advisory locks, which are database-wide: the seed keeps two schemas'
    # instances of the same name apart.
    return int.from_bytes(hashlib.sha256(schema.encode()).digest()[:7], "big")


def create_script(schema: str) -> str:
    """The statements that create ``schema`` with its tables and functions (one script)."""
    check_schema_name(schema)
    return (
        _SCRIPT.replace("{s}", schema)
        .replace("{seed}", str(_lock_seed(schema)))
        .replace("{comment}", SCHEMA_COMMENT)
        .replace("{version}", str(SCHEMA_VERSION))
        .replace("{lock_lost}", LOCK_LOST)
        .replace("{history_key}", HISTORY_KEY)
        .replace("{orchestrator_channel}", orchestrator_channel(schema))
        .replace("{worker_channel}", worker_channel(schema))
    )


# Raw strings (ids, names, outputs) are bytea, holding the UTF-8 of any Python string (lone
# surrogates too), as the SQLite provider keeps them; events and messages are the codec's
# ASCII JSON text.
#
# Concurrency. Everything that changes an instance's lock row or its batch takes the
# instance's advisory key first (transaction-scoped): acks, abandons and deletions wait for
# it, a fetch only tries it and moves on to the next candidate when it is taken. So fetchers
# never wait for each other, and an instance is claimed by one upsert that replaces only an
# expired lock. Worker items are claimed with FOR UPDATE SKIP LOCKED.
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
    parent_instance bytea
);

CREATE TABLE {s}.executions (
    instance bytea NOT NULL,
    execution_id bigint NOT NULL,
    status text NOT NULL,
    output bytea,
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
    visible_at bigint NOT NULL,
    token text,
    attempt_count integer NOT NULL DEFAULT 0,
    data text NOT NULL
) WITH (fillfactor = 80);
CREATE INDEX worker_queue_activity ON {s}.worker_queue (instance, execution_id, activity_id);

CREATE FUNCTION {s}.instance_key(p_instance bytea) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT hashtextextended(encode(p_instance, 'hex'), {seed}) $$;

CREATE FUNCTION {s}.lock_lost(p_what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', p_what USING ERRCODE = '{lock_lost}';
END $$;

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

CREATE FUNCTION {s}.ack_orchestration(
    p_now bigint, p_token text, p_execution_id bigint,
    p_event_ids bigint[], p_events text[],
    p_work_instances bytea[], p_work_executions bigint[], p_work_activities bigint[],
    p_work_data text[],
    p_orch_instances bytea[], p_orch_visible_at bigint[], p_orch_data text[],
    p_cancel_instances bytea[], p_cancel_executions bigint[], p_cancel_activities bigint[],
    p_status text, p_output bytea, p_name bytea, p_version bytea, p_parent bytea
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_instance bytea;
    v_until bigint;
    v_wakes integer;
BEGIN
    SELECT l.instance INTO v_instance FROM {s}.instance_locks l WHERE l.token = p_token;
    IF NOT FOUND THEN
        PERFORM {s}.lock_lost('the lock token is not held');
    END IF;
    PERFORM pg_advisory_xact_lock({s}.instance_key(v_instance));
    DELETE FROM {s}.instance_locks l WHERE l.token = p_token RETURNING l.locked_until
    INTO v_until;
    IF NOT FOUND THEN
        PERFORM {s}.lock_lost('the lock token is not held');
    ELSIF v_until <= p_now THEN
        PERFORM {s}.lock_lost('the instance lock expired');
    END IF;
    DELETE FROM {s}.orchestrator_queue q
    WHERE q.instance = v_instance AND q.batch_token = p_token;
    IF p_name IS NOT NULL THEN
        INSERT INTO {s}.instances AS i (instance, name, version, parent_instance)
        VALUES (v_instance, p_name, p_version, p_parent)
        ON CONFLICT (instance) DO UPDATE SET
            name = excluded.name, version = excluded.version,
            parent_instance = excluded.parent_instance;
    END IF;
    INSERT INTO {s}.executions AS e (instance, execution_id, status, output)
    VALUES (v_instance, p_execution_id, COALESCE(p_status, 'Running'), p_output)
    ON CONFLICT (instance, execution_id) DO UPDATE SET
        status = COALESCE(p_status, e.status), output = COALESCE(p_output, e.output);
    IF cardinality(p_event_ids) > 0 THEN
        INSERT INTO {s}.history (instance, execution_id, event_id, data)
        SELECT v_instance, p_execution_id, d.event_id, d.data
        FROM unnest(p_event_ids, p_events) AS d (event_id, data);
    END IF;
    IF cardinality(p_work_data) > 0 THEN
        INSERT INTO {s}.worker_queue (instance, execution_id, activity_id, visible_at, data)
        SELECT w.instance, w.execution_id, w.activity_id, p_now, w.data
        FROM unnest(p_work_instances, p_work_executions, p_work_activities, p_work_data)
            WITH ORDINALITY AS w (instance, execution_id, activity_id, data, n)
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
    v_until bigint;
BEGIN
    SELECT l.instance INTO v_instance FROM {s}.instance_locks l WHERE l.token = p_token;
    IF NOT FOUND THEN
        PERFORM {s}.lock_lost('the lock token is not held');
    END IF;
    PERFORM pg_advisory_xact_lock({s}.instance_key(v_instance));
    DELETE FROM {s}.instance_locks l WHERE l.token = p_token RETURNING l.locked_until
    INTO v_until;
    IF NOT FOUND THEN
        PERFORM {s}.lock_lost('the lock token is not held');
    ELSIF v_until <= p_now THEN
        PERFORM {s}.lock_lost('the instance lock expired');
    END IF;
    UPDATE {s}.orchestrator_queue q SET
        batch_token = NULL,
        visible_at = COALESCE(p_visible_at, q.visible_at),
        attempt_count = CASE WHEN p_ignore_attempt THEN GREATEST(q.attempt_count - 1, 0)
                             ELSE q.attempt_count END
    WHERE q.instance = v_instance AND q.batch_token = p_token;
    PERFORM pg_notify('{orchestrator_channel}', '1');
END $$;

CREATE FUNCTION {s}.fetch_work(
    p_now bigint, p_until bigint, p_token text, p_want_wake boolean
) RETURNS TABLE (o_token text, o_attempt_count integer, o_data text, o_next_wake bigint)
LANGUAGE plpgsql AS $$
BEGIN
    -- A lease token is "<row id>.<unique part>": ack, renew and abandon find the row by its
    -- primary key.
    UPDATE {s}.worker_queue w SET
        token = w.id || '.' || p_token,
        visible_at = p_until,
        attempt_count = w.attempt_count + 1
    WHERE w.id = (
        SELECT c.id FROM {s}.worker_queue c
        WHERE c.visible_at <= p_now
        ORDER BY c.id
        LIMIT 1
        FOR UPDATE SKIP LOCKED)
    RETURNING w.token, w.attempt_count, w.data INTO o_token, o_attempt_count, o_data;
    IF FOUND THEN
        RETURN NEXT;
    ELSIF p_want_wake THEN
        SELECT min(w.visible_at) INTO o_next_wake
        FROM {s}.worker_queue w WHERE w.visible_at > p_now;
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
        PERFORM {s}.lock_lost('no live lease for this token');
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
        PERFORM {s}.lock_lost('the lease token is not held');
    END IF;
    PERFORM pg_notify('{worker_channel}', '1');
END $$;

CREATE FUNCTION {s}.append_history(
    p_instance bytea, p_execution_id bigint, p_event_ids bigint[], p_events text[]
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {s}.executions (instance, execution_id, status)
    VALUES (p_instance, p_execution_id, 'Running')
    ON CONFLICT (instance, execution_id) DO NOTHING;
    INSERT INTO {s}.history (instance, execution_id, event_id, data)
    SELECT p_instance, p_execution_id, d.event_id, d.data
    FROM unnest(p_event_ids, p_events) AS d (event_id, data);
END $$;

CREATE FUNCTION {s}.corrupt_history(
    p_instance bytea, p_execution_id bigint, p_garbage text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {s}.executions (instance, execution_id, status)
    VALUES (p_instance, p_execution_id, 'Running')
    ON CONFLICT (instance, execution_id) DO NOTHING;
    UPDATE {s}.history h SET data = p_garbage
    WHERE h.instance = p_instance AND h.execution_id = p_execution_id;
    IF NOT FOUND THEN
        -- Event ids start at 1, so row 0 never collides with a later append.
        INSERT INTO {s}.history (instance, execution_id, event_id, data)
        VALUES (p_instance, p_execution_id, 0, p_garbage);
    END IF;
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
            f"SELECT {s}.ack_orchestration(" + ", ".join(f"${n}" for n in range(1, 21)) + ")"
        )
        self.abandon_orchestration = f"SELECT {s}.abandon_orchestration($1, $2, $3, $4)"
        self.renew_orchestration = (
            f"UPDATE {s}.instance_locks SET locked_until = $3"
            " WHERE token = $2 AND locked_until > $1 RETURNING instance"
        )
        self.enqueue_work = (
            f"WITH queued AS (INSERT INTO {s}.worker_queue"
            " (instance, execution_id, activity_id, visible_at, data)"
            " VALUES ($1, $2, $3, $4, $5))"
            f" SELECT pg_notify('{worker_channel(s)}', '1')"
        )
        self.fetch_work = f"SELECT * FROM {s}.fetch_work($1, $2, $3, $4)"
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
        self.append_history = f"SELECT {s}.append_history($1, $2, $3, $4)"
        self.corrupt_history = f"SELECT {s}.corrupt_history($1, $2, $3)"
