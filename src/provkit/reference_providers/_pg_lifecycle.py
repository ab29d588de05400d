"""Opening connections to a PostgreSQL store and creating, owning, dropping, sweeping schemas.

A *scratch* schema (``provkit_test_<hex>``) belongs to whoever created it: that session holds
an advisory lock named after it for as long as the schema should live, and drops it when
done. A process that dies (even by SIGKILL) loses its session and so the lock: ``sweep``
drops every scratch schema whose lock nobody holds. Named schemas are never swept.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from provkit.contract import ProviderError
from provkit.reference_providers._pg_connect import (
    CONNECT_TIMEOUT,
    Target,
    connect_error,
    operation_error,
)
from provkit.reference_providers._pg_schema import SCHEMA_COMMENT, SCHEMA_VERSION, create_script

_T = TypeVar("_T")

SCRATCH_PREFIX = "provkit_test_"
"""Names of scratch schemas start with this; nothing else is ever swept."""

_CREATE_LOCK = 1_886_350_001
"""Advisory lock class serialising schema creation (key 2: the schema name's hash)."""

_OWNER_LOCK = 1_886_350_002
"""Advisory lock class held by the owner of a scratch schema (key 2: the name's hash)."""

_SERVER_SETTINGS = {"application_name": "provkit"}

_UNSYNCED = "SET LOCAL synchronous_commit = off"
"""Scratch schemas are throwaway: creating or dropping one need not wait for a WAL flush."""


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Pool ``reset`` hook that does nothing.

    asyncpg's default reset costs a round trip per operation; the provider leaves no
    session state behind (no transactions, listeners, advisory or session settings on pool
    connections), so there is nothing to reset.
    """


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """How a provider's pool connects: at most ``size`` connections; ``durable`` commits.

    ``durable=True`` (the default) sets ``synchronous_commit = on`` whatever the server's
    own default: a call returns only once its commit is flushed to the WAL on disk, so no
    crash loses it. ``durable=False`` (``synchronous_commit = off``) returns before the
    flush: data is never corrupted, but a crash of the PostgreSQL server (a killed or
    crashed server process, an immediate shutdown), not only of its machine, loses the
    commits of the last up to 3 x ``wal_writer_delay`` (600 ms by default): instance
    starts, turns and completions the caller was told are stored. That is weaker than the
    SQLite file provider's WAL with ``synchronous = NORMAL``, which loses commits only when
    the operating system or the machine crashes.
    """

    size: int = 10
    durable: bool = True


async def open_pool(target: Target, settings: PoolSettings) -> asyncpg.Pool:
    """A connection pool on ``target``; failures raise one-line ``ProviderError``s."""
    server_settings = dict(_SERVER_SETTINGS)
    server_settings["synchronous_commit"] = "on" if settings.durable else "off"
    return await _connecting(
        target,
        lambda: asyncpg.create_pool(
            target.dsn,
            min_size=1,
            max_size=settings.size,
            timeout=CONNECT_TIMEOUT,
            reset=_keep_session,
            server_settings=server_settings,
        ),
    )


async def open_connection(target: Target) -> asyncpg.Connection:
    """One connection to ``target``; failures raise one-line ``ProviderError``s."""
    return await _connecting(
        target,
        lambda: asyncpg.connect(
            target.dsn, timeout=CONNECT_TIMEOUT, server_settings=_SERVER_SETTINGS
        ),
    )


async def _connecting(target: Target, connect: Callable[[], Awaitable[_T]]) -> _T:
    try:
        # asyncpg's own timeout covers each attempt; this one also covers the server's
        # start-up exchange on a host that accepts TCP but never answers.
        return await asyncio.wait_for(connect(), CONNECT_TIMEOUT * 2)
    except Exception as exc:
        raise connect_error(target, exc) from None


async def ensure_schema(
    conn: asyncpg.Connection, target: Target, schema: str, *, scratch: bool = False
) -> None:
    """Create ``schema`` with the provider's tables unless it exists; check it is one.

    Safe when several processes do it at once: creation is serialised by an advisory lock.
    An existing schema must carry this provkit's schema version.
    """
    try:
        async with conn.transaction():
            if scratch:
                await conn.execute(_UNSYNCED)
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", _CREATE_LOCK, schema
            )
            found = await conn.fetchrow(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1",
                schema,
            )
            if found is None:
                await conn.execute(create_script(schema))
                return
    except asyncpg.InsufficientPrivilegeError as exc:
        raise connect_error(target, exc) from None
    except Exception as exc:
        raise _failed(target, "create schema", exc) from None
    expected = f"{SCHEMA_COMMENT}{SCHEMA_VERSION}"
    if found[0] != expected:
        marked = found[0] or ""
        what = (
            f"provider schema version {marked.removeprefix(SCHEMA_COMMENT)}"
            if marked.startswith(SCHEMA_COMMENT)
            else "no provkit store"
        )
        raise ProviderError(
            "connect",
            f"{target.describe()}: schema {schema!r} exists but holds {what}; this provkit "
            f"needs schema version {SCHEMA_VERSION} (drop the schema or name another)",
        )


async def create_scratch(conn: asyncpg.Connection, target: Target) -> str:
    """Create a new scratch schema owned by ``conn``'s session; returns its name."""
    schema = SCRATCH_PREFIX + secrets.token_hex(8)
    # Owned before it exists, so a concurrent sweep never sees it unowned.
    await _run(
        target,
        "create schema",
        conn.execute,
        "SELECT pg_advisory_lock($1, hashtext($2))",
        _OWNER_LOCK,
        schema,
    )
    await ensure_schema(conn, target, schema, scratch=True)
    return schema


async def drop_scratch(conn: asyncpg.Connection, target: Target, schema: str) -> None:
    """Drop a scratch schema ``conn`` owns, and give up its ownership."""
    await _run(
        target,
        "drop schema",
        conn.execute,
        f"BEGIN; {_UNSYNCED}; DROP SCHEMA IF EXISTS {schema} CASCADE; COMMIT",
    )
    await _run(
        target,
        "drop schema",
        conn.execute,
        "SELECT pg_advisory_unlock($1, hashtext($2))",
        _OWNER_LOCK,
        schema,
    )


async def sweep(conn: asyncpg.Connection, target: Target) -> list[str]:
    """Drop every scratch schema nobody owns any more (its creator died); returns their names."""
    names = await _run(
        target,
        "sweep",
        conn.fetchval,
        "SELECT coalesce(array_agg(nspname::text ORDER BY nspname), '{}') FROM pg_namespace"
        " WHERE starts_with(nspname, $1)",
        SCRATCH_PREFIX,
    )
    dropped = []
    for schema in names:
        owned = await _run(
            target,
            "sweep",
            conn.fetchval,
            "SELECT pg_try_advisory_lock($1, hashtext($2))",
            _OWNER_LOCK,
            schema,
        )
        if not owned:
            continue
        try:
            await _run(target, "sweep", conn.execute, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            dropped.append(schema)
        finally:
            await _run(
                target,
                "sweep",
                conn.execute,
                "SELECT pg_advisory_unlock($1, hashtext($2))",
                _OWNER_LOCK,
                schema,
            )
    return dropped


async def _run(target: Target, what: str, call: Callable[..., Awaitable[_T]], *args: Any) -> _T:
    try:
        return await call(*args)
    except Exception as exc:
        raise _failed(target, what, exc) from None


def _failed(target: Target, what: str, exc: BaseException) -> ProviderError:
    error = operation_error(what, exc)
    return type(error)(what, f"{target.describe()}: {error.message}")
