"""Provider-specific tests of the PostgreSQL reference provider (the contract is the suite's job).

Errors a user can act on (bad DSN, unreachable server, missing database, foreign schema),
error typing, scratch schemas (isolated, dropped, swept after a killed run), several providers
on one schema (no double claims, LISTEN/NOTIFY wakes across them, concurrent creation).
They need the server ``$PROVKIT_POSTGRES_DSN`` names (default: the local one) and fail,
never skip, when it is unreachable.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from provkit._provider_spec import load_factory
from provkit.contract import (
    DuplicateEventError,
    ExecutionMetadata,
    LockLostError,
    ProviderError,
    TransientError,
)
from provkit.contract import events as ev
from provkit.contract import messages as msg
from provkit.reference_providers._pg_connect import DSN_ENV, Target, operation_error
from provkit.reference_providers.postgres import (
    SCHEMA_ENV,
    PostgresFactory,
    PostgresProvider,
    scratch_schema,
    sweep_schemas,
)
from provkit.stress.cli import main as stress_main

LOCK = 30.0
SERVER = Target.resolve(None)
DSN = SERVER.dsn


def start(instance: str) -> msg.StartOrchestration:
    return msg.StartOrchestration(instance=instance, orchestration="Orch", input="in")


def work(instance: str, activity_id: int) -> msg.ActivityExecute:
    return msg.ActivityExecute(
        instance=instance, execution_id=1, id=activity_id, name="Act", input="in"
    )


def closed_port() -> int:
    """A local TCP port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def schemas(prefix: str) -> set[str]:
    conn = await asyncpg.connect(DSN)
    try:
        rows = await conn.fetch(
            "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)", prefix
        )
    finally:
        await conn.close()
    return {row[0] for row in rows}


@pytest_asyncio.fixture
async def shared() -> AsyncIterator[str]:
    """A scratch schema for several providers, dropped afterwards."""
    async with scratch_schema() as schema:
        yield schema


# -- errors a user can act on ------------------------------------------------------------


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        pytest.param(
            "host=db.example dbname=test",
            "provkit.reference_providers.postgres:PostgresFactory() raised DsnError: bad "
            f"PostgreSQL DSN 'host=db.example dbname=test' ({DSN_ENV}): it does not start "
            "with postgresql://; expected postgresql://user@host:port/database "
            "(from --provider=postgres)",
            id="bad-dsn",
        ),
        pytest.param(
            "postgresql://postgres:secret@127.0.0.1:{port}/test",
            "create_provider() of --provider=postgres raised TransientError: connect: "
            "PostgreSQL at 127.0.0.1:{port} (database 'test', user 'postgres', "
            f"{DSN_ENV}): connection refused (is the server running?)",
            id="unreachable-server",
        ),
        pytest.param(
            "postgresql://{user}@{host}:{server_port}/provkit_no_such_db",
            "create_provider() of --provider=postgres raised ProviderError: connect: "
            "PostgreSQL at {host}:{server_port} (database 'provkit_no_such_db', user "
            f"'{{user}}', {DSN_ENV}): database 'provkit_no_such_db' does not exist "
            "(createdb it?)",
            id="missing-database",
        ),
    ],
)
def test_bad_dsn_and_unreachable_server_end_a_suite_run_with_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, dsn: str, message: str
) -> None:
    """``pytest --provider=postgres``: one ``ERROR: provkit:`` line naming host, port, cause."""
    names = {
        "port": closed_port(),
        "host": SERVER.host,
        "server_port": SERVER.port,
        "user": SERVER.user,
    }
    monkeypatch.setenv(DSN_ENV, dsn.format(**names))
    result = pytester.runpytest("--provider=postgres")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.errlines + result.outlines if line.strip()]
    assert lines == [f"ERROR: provkit: {message.format(**names)}"]
    assert "secret" not in result.stderr.str()


@pytest.mark.parametrize(
    ("dsn", "cause"),
    [
        pytest.param(
            "postgres//127.0.0.1/test", "it does not start with postgresql://", id="bad-dsn"
        ),
        pytest.param(
            "postgresql://postgres@127.0.0.1:{port}/test",
            "127.0.0.1:{port} (database 'test', user 'postgres', PROVKIT_POSTGRES_DSN): "
            "connection refused (is the server running?)",
            id="unreachable-server",
        ),
        pytest.param(
            "postgresql://{user}@{host}:{server_port}/provkit_no_such_db",
            "{host}:{server_port} (database 'provkit_no_such_db', user '{user}', "
            "PROVKIT_POSTGRES_DSN): database 'provkit_no_such_db' does not exist (createdb it?)",
            id="missing-database",
        ),
    ],
)
def test_bad_dsn_and_unreachable_server_end_stress_run_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], dsn: str, cause: str
) -> None:
    """``stress-run --provider postgres``: exit 2 and one ``stress-run: error:`` line."""
    names = {
        "port": closed_port(),
        "host": SERVER.host,
        "server_port": SERVER.port,
        "user": SERVER.user,
    }
    monkeypatch.setenv(DSN_ENV, dsn.format(**names))
    assert stress_main(["--config", "quick", "--provider", "postgres"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("stress-run: error: ")
    assert cause.format(**names) in err[0]


@pytest.mark.asyncio
async def test_missing_database_and_unknown_role_are_named() -> None:
    """A database or role that does not exist: a permanent error saying which."""
    base = Target.resolve(None)
    with pytest.raises(ProviderError) as missing:
        await PostgresProvider.connect(
            f"postgresql://{base.user}@{base.host}:{base.port}/provkit_no_such_db"
        )
    assert missing.value.retryable is False
    assert "database 'provkit_no_such_db' does not exist" in missing.value.message
    assert f"{base.host}:{base.port}" in missing.value.message

    with pytest.raises(ProviderError) as role:
        await PostgresProvider.connect(
            f"postgresql://provkit_no_such_role@{base.host}:{base.port}/{base.database}"
        )
    assert role.value.retryable is False
    assert 'authentication failed: role "provkit_no_such_role" does not exist' in (
        role.value.message
    )


@pytest.mark.asyncio
async def test_a_role_that_may_not_create_schemas_is_told_so() -> None:
    """A login without CREATE on the database: a permanent one-line permission error."""
    base = Target.resolve(None)
    role = f"provkit_noperm_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(DSN)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN")
        try:
            with pytest.raises(ProviderError) as denied:
                await PostgresProvider.connect_scratch(
                    f"postgresql://{role}@{base.host}:{base.port}/{base.database}"
                )
        finally:
            await admin.execute(f"DROP ROLE {role}")
    finally:
        await admin.close()
    assert denied.value.retryable is False
    assert denied.value.message == (
        f"PostgreSQL at {base.host}:{base.port} (database {base.database!r}, user {role!r}, "
        f"given DSN): permission denied: permission denied for database {base.database}"
    )


@pytest.mark.asyncio
async def test_a_schema_that_is_no_provkit_store_is_refused() -> None:
    """Pointing a provider at an unrelated schema fails and changes nothing there."""
    with pytest.raises(ProviderError, match="schema 'public' exists but holds no provkit store"):
        await PostgresProvider.connect(schema="public")
    with pytest.raises(ValueError, match="schema name 'Bad-Name'"):
        await PostgresProvider.connect(schema="Bad-Name")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("sqlstate", "expected", "retryable"),
    [
        pytest.param("40001", TransientError, True, id="serialization-failure"),
        pytest.param("40P01", TransientError, True, id="deadlock"),
        pytest.param("57P01", TransientError, True, id="admin-shutdown"),
        pytest.param("23505", ProviderError, False, id="unique-violation"),
        pytest.param("23503", ProviderError, False, id="foreign-key-violation"),
        pytest.param("22021", ProviderError, False, id="bad-encoding"),
    ],
)
async def test_server_errors_are_typed_transient_or_permanent(
    sqlstate: str, expected: type[ProviderError], retryable: bool
) -> None:
    """Serialization failures, deadlocks, shutdowns retry; constraint and data errors do not."""
    conn = await asyncpg.connect(DSN)
    try:
        with pytest.raises(asyncpg.PostgresError) as raised:
            await conn.execute(
                f"DO $$ BEGIN RAISE EXCEPTION 'provoked' USING ERRCODE = '{sqlstate}'; END $$"
            )
    finally:
        await conn.close()
    error = operation_error("ack_orchestration_item", raised.value)
    assert (type(error), error.retryable) == (expected, retryable)
    assert error.operation == "ack_orchestration_item"
    assert sqlstate in error.message


async def _blocked_on_a_lock(pid: int) -> None:
    """Return once backend ``pid`` waits for a lock (it has sent its statement)."""
    watcher = await asyncpg.connect(DSN)
    try:
        deadline = time.monotonic() + 10
        while not await watcher.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        ):
            assert time.monotonic() < deadline, f"backend {pid} never waited for a lock"
            await asyncio.sleep(0.01)
    finally:
        await watcher.close()


@pytest.mark.asyncio
async def test_real_deadlocks_serialization_failures_and_violations_are_typed(
    shared: str,
) -> None:
    """A deadlock and a serialization failure the server detects retry; a violation does not."""
    table = f"{shared}.pair"
    first, second = await asyncpg.connect(DSN), await asyncpg.connect(DSN)
    try:
        await first.execute(
            f"CREATE TABLE {table} (id int PRIMARY KEY); INSERT INTO {table} VALUES (1), (2)"
        )

        # Deadlock: each transaction holds one row and asks for the other's.
        await first.execute("BEGIN")
        await second.execute("BEGIN")
        await first.execute(f"SELECT id FROM {table} WHERE id = 1 FOR UPDATE")
        await second.execute(f"SELECT id FROM {table} WHERE id = 2 FOR UPDATE")
        crossing = asyncio.create_task(
            first.execute(f"SELECT id FROM {table} WHERE id = 2 FOR UPDATE")
        )
        await _blocked_on_a_lock(first.get_server_pid())
        outcomes = await asyncio.gather(
            crossing,
            second.execute(f"SELECT id FROM {table} WHERE id = 1 FOR UPDATE"),
            return_exceptions=True,
        )
        await first.execute("ROLLBACK")
        await second.execute("ROLLBACK")
        deadlocks = [o for o in outcomes if isinstance(o, BaseException)]
        assert [type(o) for o in deadlocks] == [asyncpg.DeadlockDetectedError]

        # Serialization failure: a repeatable-read transaction updates a row changed since
        # its snapshot was taken.
        await first.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        await first.fetchval(f"SELECT count(*) FROM {table}")
        await second.execute(f"UPDATE {table} SET id = 3 WHERE id = 1")
        with pytest.raises(asyncpg.SerializationError) as serialization:
            await first.execute(f"UPDATE {table} SET id = 4 WHERE id = 1")
        await first.execute("ROLLBACK")

        with pytest.raises(asyncpg.UniqueViolationError) as violation:
            await first.execute(f"INSERT INTO {table} VALUES (2)")
    finally:
        await first.close()
        await second.close()

    typed = [
        operation_error("ack_orchestration_item", exc)
        for exc in (deadlocks[0], serialization.value, violation.value)
    ]
    assert [(type(e), e.retryable) for e in typed] == [
        (TransientError, True),
        (TransientError, True),
        (ProviderError, False),
    ]
    assert [e.message.split(":")[0] for e in typed] == [
        "postgres 40P01",
        "postgres 40001",
        "postgres 23505",
    ]


@pytest.mark.asyncio
async def test_a_connection_dropped_mid_call_is_transient_and_applies_nothing(
    shared: str,
) -> None:
    """A call whose connection the server kills raises TransientError; the retry succeeds."""
    async with await PostgresProvider.connect(schema=shared, pool_size=1) as provider:
        blocker = await asyncpg.connect(DSN)
        try:
            held = blocker.transaction()
            await held.start()
            await blocker.execute(f"LOCK TABLE {shared}.worker_queue")
            call = asyncio.create_task(provider.enqueue_for_worker(work("inst", 1)))
            deadline = time.monotonic() + 10
            while True:
                # Within a transaction pg_stat_activity is read once unless this is cleared.
                await blocker.execute("SELECT pg_stat_clear_snapshot()")
                pid = await blocker.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND application_name = 'provkit' AND query LIKE $1",
                    f"%{shared}.worker_queue%",
                )
                if pid is not None:
                    break
                assert time.monotonic() < deadline, "the enqueue never waited for the lock"
                await asyncio.sleep(0.01)
            assert await blocker.fetchval("SELECT pg_terminate_backend($1)", pid) is True
            with pytest.raises(TransientError) as lost:
                await call
            assert lost.value.retryable is True
            await held.commit()
        finally:
            await blocker.close()
        await provider.enqueue_for_worker(work("inst", 2))
        lease = await provider.fetch_work_item(LOCK)
        assert lease is not None
        assert lease.item == work("inst", 2)
        assert await provider.fetch_work_item(LOCK) is None


@pytest.mark.asyncio
async def test_duplicate_event_is_a_permanent_duplicate_event_error(shared: str) -> None:
    """An event id stored twice is a constraint violation: permanent, typed, nothing applied."""
    async with await PostgresProvider.connect(schema=shared) as provider:
        started = ev.OrchestrationStarted(event_id=1, name="Orch", version="1", input="in")
        await provider.append_history("inst", 1, [started])
        with pytest.raises(DuplicateEventError) as duplicate:
            await provider.append_history("inst", 1, [started])
        assert duplicate.value.retryable is False
        assert await provider.read("inst") == [started]


# -- scratch schemas ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_factory_providers_are_isolated_and_their_schemas_dropped() -> None:
    """Each factory provider has its own schema; dispose or close drops it."""
    factory = PostgresFactory()
    a = await factory.create_provider()
    b = await factory.create_provider()
    assert isinstance(a, PostgresProvider)
    assert isinstance(b, PostgresProvider)
    assert a.schema != b.schema
    assert {a.schema, b.schema} <= await schemas("provkit_test_")
    await a.enqueue_for_orchestrator(start("only-in-a"))
    assert await b.fetch_orchestration_item(LOCK) is None
    await factory.dispose_provider(a)
    await b.close()
    assert {a.schema, b.schema} & await schemas("provkit_test_") == set()


_KILLED_RUN = """
import asyncio, sys
from provkit.reference_providers.postgres import PostgresFactory

async def main():
    provider = await PostgresFactory().create_provider()
    await provider.enqueue_for_orchestrator(
        __import__("provkit.contract.messages").contract.messages.StartOrchestration(
            instance="left-behind", orchestration="Orch", input="in"))
    pid = await provider._control.fetchval("SELECT pg_backend_pid()")
    print(provider.schema, pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.mark.asyncio
async def test_sweep_drops_the_schema_of_a_killed_run_but_not_of_a_live_one() -> None:
    """After SIGKILL the run's schema is swept; a live provider's schema survives the sweep.

    The server is shared: another run's sweep may drop the orphan first, so the test checks
    that it is gone afterwards rather than which sweep dropped it.
    """
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _KILLED_RUN, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        orphan, pid = (await asyncio.wait_for(child.stdout.readline(), 30)).decode().split()
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    watcher = await asyncpg.connect(DSN)
    try:
        # The server notices the dead client on its own; wait until its session is gone.
        deadline = time.monotonic() + 10
        while await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", int(pid)
        ):
            assert time.monotonic() < deadline, "the killed run's session never ended"
            await asyncio.sleep(0.02)
    finally:
        await watcher.close()
    async with await PostgresProvider.connect_scratch() as live:
        swept = await sweep_schemas()
        remaining = await schemas("provkit_test_")
        assert live.schema not in swept
        assert live.schema in remaining
        assert await live.fetch_orchestration_item(LOCK) is None
    assert orphan not in remaining
    assert all(name.startswith("provkit_test_") for name in swept)


# -- several providers on one schema -----------------------------------------------------


@pytest.mark.asyncio
async def test_providers_on_one_schema_never_double_claim(shared: str) -> None:
    """Two pools, 16 concurrent fetchers: every instance and item is claimed exactly once."""
    providers = [await PostgresProvider.connect(schema=shared) for _ in range(2)]
    try:
        for n in range(24):
            await providers[n % 2].enqueue_for_orchestrator(start(f"inst-{n}"))
            await providers[n % 2].enqueue_for_worker(work(f"inst-{n}", 1))
        claimed: list[str] = []
        leased: list[str] = []

        async def drain(provider: PostgresProvider) -> None:
            while (item := await provider.fetch_orchestration_item(LOCK)) is not None:
                claimed.append(item.instance)
                await provider.ack_orchestration_item(
                    item.lock_token, 1, [], [], [], ExecutionMetadata()
                )
            while (lease := await provider.fetch_work_item(LOCK)) is not None:
                leased.append(lease.item.instance)
                await provider.ack_work_item(lease.lock_token, None)

        await asyncio.gather(*(drain(p) for p in providers for _ in range(8)))
        expected = sorted(f"inst-{n}" for n in range(24))
        assert (sorted(claimed), sorted(leased)) == (expected, expected)
    finally:
        for provider in providers:
            await provider.close()


@pytest.mark.asyncio
async def test_long_poll_wakes_for_work_written_by_another_provider(shared: str) -> None:
    """A fetch waiting on one pool returns as soon as another pool enqueues (LISTEN/NOTIFY)."""
    waiter = await PostgresProvider.connect(schema=shared)
    writer = await PostgresProvider.connect(schema=shared)
    looked = {"fetch_orchestration_item": asyncio.Event(), "fetch_work_item": asyncio.Event()}
    call = waiter._call

    async def observed(operation: str, query: str, *args: object) -> object:
        row = await call(operation, query, *args)
        if operation in looked:
            looked[operation].set()
        return row

    waiter._call = observed  # type: ignore[method-assign]
    try:
        poll = 20.0
        orchestration = asyncio.create_task(waiter.fetch_orchestration_item(LOCK, poll))
        lease = asyncio.create_task(waiter.fetch_work_item(LOCK, poll))
        # Both have listened, looked, found nothing and wait: only a notification wakes them.
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in looked.values())), poll)
        assert (orchestration.done(), lease.done()) == (False, False)
        began = time.monotonic()
        await writer.enqueue_for_orchestrator(start("remote"))
        await writer.enqueue_for_worker(work("remote", 7))
        item, leased = await asyncio.wait_for(asyncio.gather(orchestration, lease), poll)
        assert time.monotonic() - began < poll / 2
        assert item is not None
        assert item.instance == "remote"
        assert leased is not None
        assert leased.item == work("remote", 7)
    finally:
        await waiter.close()
        await writer.close()


@pytest.mark.asyncio
async def test_many_providers_may_create_one_schema_at_once() -> None:
    """Processes starting together on a new schema name all succeed on one store."""
    async with scratch_schema() as owned:
        name = owned + "_x"
        try:
            providers = await asyncio.gather(
                *(PostgresProvider.connect(schema=name) for _ in range(4))
            )
            await providers[0].enqueue_for_worker(work("inst", 1))
            lease = await providers[3].fetch_work_item(LOCK)
            assert lease is not None
            for provider in providers:
                await provider.close()
            assert name in await schemas(name)
        finally:
            conn = await asyncpg.connect(DSN)
            try:
                await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            finally:
                await conn.close()


@pytest.mark.asyncio
async def test_factory_with_a_named_schema_shares_and_keeps_it(
    shared: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``PROVKIT_POSTGRES_SCHEMA``: the shortcut's providers share that schema and keep it."""
    monkeypatch.setenv(SCHEMA_ENV, shared)
    factory = load_factory("postgres", Path.cwd())
    first = await factory.create_provider()
    second = await factory.create_provider()
    await first.enqueue_for_worker(work("inst", 1))
    await factory.dispose_provider(first)  # type: ignore[attr-defined]
    lease = await second.fetch_work_item(LOCK)
    assert lease is not None
    assert lease.item == work("inst", 1)
    await second.close()
    assert shared in await schemas(shared)


@pytest.mark.asyncio
async def test_lock_tokens_no_provider_issued_are_lost_without_a_round_trip(
    shared: str,
) -> None:
    """Tokens holding text the server cannot store (NUL) still raise LockLostError."""
    async with await PostgresProvider.connect(schema=shared) as provider:
        for token in ("\x00", "1.\x00", "12345678901234567890.abc", ""):
            with pytest.raises(LockLostError):
                await provider.ack_work_item(token, None)
            with pytest.raises(LockLostError):
                await provider.renew_orchestration_item_lock(token, LOCK)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("options", "setting"), [({}, "on"), ({"durable": True}, "on"), ({"durable": False}, "off")]
)
async def test_commits_wait_for_the_wal_flush_unless_durable_is_false(
    shared: str, options: dict[str, bool], setting: str
) -> None:
    """By default every commit waits for the WAL flush; only durable=False skips the wait."""
    async with await PostgresProvider.connect(schema=shared, **options) as provider:
        assert await provider._pool.fetchval("SHOW synchronous_commit") == setting
