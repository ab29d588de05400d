"""Provider-specific tests of the SQLite reference provider (the contract is the suite's job).

Files and WAL, claim races under concurrency, calls batched into one commit, the decoded
history cache, exotic ids and payloads, corrupt history, the injected clock, long polling and
error typing. ``python tests/test_sqlite_provider.py`` prints a throughput check (not a
timed test).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from provkit.conformance._builders import ack, external_item, start_item, started, work_item
from provkit.contract import (
    ActivityId,
    Capability,
    CorruptDataError,
    ExecutionMetadata,
    LockLostError,
    ManualClock,
    OrchestrationItem,
    ProviderError,
    Status,
    TransientError,
    WorkLease,
    codec,
)
from provkit.contract import events as ev
from provkit.contract import messages as msg
from provkit.reference_providers import FileSqliteFactory, InMemorySqliteFactory, SqliteProvider
from provkit.reference_providers._sqlite_conn import (
    Calls,
    UnitOfWork,
    call,
    open_connection,
    provider_error,
)
from provkit.reference_providers._sqlite_decoded import EventCache

pytestmark = pytest.mark.asyncio

LOCK = 30.0
START_MS = 1_700_000_000_000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_MS)


@pytest_asyncio.fixture(params=["memory", "file"])
async def provider(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[SqliteProvider]:
    if request.param == "memory":
        opened = await SqliteProvider.open_memory(clock)
    else:
        opened = await SqliteProvider.open_file(tmp_path / "provider.db", clock)
    async with opened:
        yield opened


# -- files -------------------------------------------------------------------------------


async def test_file_database_uses_wal_and_keeps_committed_data_across_reopen(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A file database is in WAL mode; reopening it shows the history, queue and lock state."""
    path = tmp_path / "db.sqlite"
    first = await SqliteProvider.open_file(path, clock)
    await first.enqueue_for_orchestrator(start_item("inst"))
    item = await first.fetch_orchestration_item(LOCK)
    assert item is not None
    await ack(first, item, [started()], metadata=ExecutionMetadata(orchestration_name="Orch"))
    await first.enqueue_for_orchestrator(external_item("inst", data="after restart"))
    await first.enqueue_for_worker(work_item("inst", 2))
    await first.close()

    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    second = await SqliteProvider.open_file(path, clock)
    async with second:
        assert await second.read("inst") == [started()]
        again = await second.fetch_orchestration_item(LOCK)
        assert again is not None
        assert (again.orchestration_name, again.history) == ("Orch", [started()])
        assert again.messages == [external_item("inst", data="after restart")]
        lease = await second.fetch_work_item(LOCK)
        assert lease is not None
        assert lease.item == work_item("inst", 2)


async def test_second_provider_on_a_crashed_providers_file_takes_over_after_expiry(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A provider left open (a crashed process) keeps its lock until expiry, then a new one wins."""
    path = tmp_path / "db.sqlite"
    crashed = await SqliteProvider.open_file(path, clock)
    try:
        await crashed.enqueue_for_orchestrator(start_item("inst"))
        assert await crashed.fetch_orchestration_item(10.0) is not None
        async with await SqliteProvider.open_file(path, clock) as restarted:
            assert await restarted.fetch_orchestration_item(LOCK) is None
            clock.advance(10.0)
            taken = await restarted.fetch_orchestration_item(LOCK)
            assert taken is not None
            assert (taken.instance, taken.attempt_count) == ("inst", 2)
    finally:
        await crashed.close()


async def test_factories_make_isolated_providers_and_dispose_removes_their_files(
    tmp_path: Path,
) -> None:
    """Providers of one factory share nothing; dispose or close deletes a file provider's files."""
    names = []
    for factory in (InMemorySqliteFactory(), FileSqliteFactory(str(tmp_path))):
        a, b = await factory.create_provider(), await factory.create_provider()
        await a.enqueue_for_orchestrator(start_item("only-in-a"))
        assert await b.fetch_orchestration_item(LOCK) is None
        assert a.capabilities >= {
            Capability.CLOCK,
            Capability.FAULT_INJECTION,
            Capability.LONG_POLL,
        }
        names.append(a.name)
        await factory.dispose_provider(a)
        await b.close()
    assert await asyncio.to_thread(os.listdir, tmp_path) == []
    assert names == ["sqlite-memory", "sqlite-file"]


# -- claims under concurrency ------------------------------------------------------------


async def test_ten_concurrent_fetchers_of_one_instance_give_exactly_one_winner(
    provider: SqliteProvider,
) -> None:
    """Of 10 concurrent orchestrator fetches for one instance, one gets it and nine get None."""
    for n in range(3):
        await provider.enqueue_for_orchestrator(external_item("only", data=str(n)))
    results = await asyncio.gather(*(provider.fetch_orchestration_item(LOCK) for _ in range(10)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert [m.data for m in winners[0].messages if isinstance(m, msg.ExternalRaised)] == [
        "0",
        "1",
        "2",
    ]


async def test_ten_concurrent_fetchers_of_one_work_item_give_exactly_one_winner(
    provider: SqliteProvider,
) -> None:
    """Of 10 concurrent worker fetches for one item, one leases it and nine get None."""
    await provider.enqueue_for_worker(work_item("inst", 1))
    results = await asyncio.gather(*(provider.fetch_work_item(LOCK) for _ in range(10)))
    assert [r.item for r in results if r is not None] == [work_item("inst", 1)]


async def test_concurrent_fetchers_each_win_a_different_instance(
    provider: SqliteProvider,
) -> None:
    """10 concurrent fetches over 10 ready instances all succeed, each with its own instance."""
    for n in range(10):
        await provider.enqueue_for_orchestrator(start_item(f"inst-{n}"))
    results = await asyncio.gather(*(provider.fetch_orchestration_item(LOCK) for _ in range(10)))
    assert sorted(r.instance for r in results if r is not None) == sorted(
        f"inst-{n}" for n in range(10)
    )


async def test_many_concurrent_workers_never_share_an_instance_and_lose_no_message(
    provider: SqliteProvider,
) -> None:
    """Workers fetch, abandon, ack and enqueue at once: no instance held twice, all acked once."""
    rng = random.Random(7)
    instances = [f"inst-{n}" for n in range(12)]
    expected: set[str] = set()
    for n in range(60):
        data = f"seed-{n}"
        expected.add(data)
        await provider.enqueue_for_orchestrator(external_item(rng.choice(instances), data=data))
    held: set[str] = set()
    acked: list[str] = []
    follow_ups = 0

    async def worker() -> None:
        nonlocal follow_ups
        idle = 0
        while idle < 3:
            item = await provider.fetch_orchestration_item(LOCK)
            if item is None:
                idle += 1
                await asyncio.sleep(0)
                continue
            idle = 0
            assert item.instance not in held, f"{item.instance} held twice"
            held.add(item.instance)
            await asyncio.sleep(0)
            if rng.random() < 0.2:
                held.discard(item.instance)
                await provider.abandon_orchestration_item(item.lock_token)
                continue
            extra: list[msg.OrchestratorMessage] = []
            if follow_ups < 40:
                follow_ups += 1
                data = f"follow-{follow_ups}"
                expected.add(data)
                extra.append(external_item(rng.choice(instances), data=data))
            held.discard(item.instance)
            await ack(provider, item, orchestrator_items=extra)
            acked.extend(m.data for m in item.messages if isinstance(m, msg.ExternalRaised))

    await asyncio.gather(*(worker() for _ in range(8)))
    assert await provider.fetch_orchestration_item(LOCK) is None
    assert sorted(acked) == sorted(expected)


async def test_a_fetch_cancelled_in_flight_releases_what_it_locked(
    provider: SqliteProvider,
) -> None:
    """Fetches cancelled after their calls reached SQLite leave both items fetchable, attempt 1."""
    await provider.enqueue_for_orchestrator(start_item("inst"))
    await provider.enqueue_for_worker(work_item("inst", 1))
    fetches = [
        asyncio.create_task(provider.fetch_orchestration_item(LOCK)),
        asyncio.create_task(provider.fetch_work_item(LOCK)),
    ]
    await asyncio.sleep(0)  # one loop turn: both calls are now queued on the connection thread
    for task in fetches:
        task.cancel()
    for task in fetches:
        with pytest.raises(asyncio.CancelledError):
            await task
    item = await provider.fetch_orchestration_item(LOCK)
    lease = await provider.fetch_work_item(LOCK)
    assert item is not None
    assert lease is not None
    assert (item.instance, item.attempt_count, lease.attempt_count) == ("inst", 1, 1)


# -- calls sharing a hop ----------------------------------------------------------------


@pytest_asyncio.fixture
async def calls() -> AsyncIterator[tuple[Calls, list[str]]]:
    """``Calls`` on a fresh in-memory connection with a table ``t``, and the SQL it runs."""
    conn = await open_connection(":memory:", wal=False)
    statements: list[str] = []

    def prepare(raw: sqlite3.Connection) -> None:
        raw.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        raw.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        raw.execute(
            "CREATE TABLE child"
            " (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        raw.execute("PRAGMA foreign_keys = ON")
        raw.set_trace_callback(statements.append)

    # Outside any transaction: a PRAGMA inside one does nothing.
    await call(conn, "prepare", prepare)
    runner = Calls(conn, on_rollback=lambda: statements.append(ROLLED_BACK))
    statements.clear()  # what Calls set up for itself
    try:
        yield runner, statements
    finally:
        await runner.close()


ROLLED_BACK = "<on_rollback>"
"""What the ``calls`` fixture records when ``Calls`` reports a rolled-back batch."""


def insert(n: int, fail: bool = False) -> Callable[[sqlite3.Connection], int]:
    """A unit of work inserting ``n`` in its own transaction (failing afterwards if asked)."""

    def work(raw: sqlite3.Connection) -> int:
        with UnitOfWork(raw):
            raw.execute("INSERT INTO t (n) VALUES (?)", (n,))
            if fail:
                raise LockLostError("insert", f"no lock for {n}")
        return n

    return work


def stored(raw: sqlite3.Connection) -> list[int]:
    return [row[0] for row in raw.execute("SELECT n FROM t ORDER BY n")]


async def run_together(
    runner: Calls, *works: tuple[str, Callable[[sqlite3.Connection], object]]
) -> list[object]:
    """Each ``(operation, work)`` through ``runner.run``, all queued while the connection's
    thread is held, so they share one hop however quickly that thread would pick up the first
    (results and exceptions, in order)."""
    holding, release = threading.Event(), threading.Event()

    def hold(raw: sqlite3.Connection) -> None:
        holding.set()
        release.wait()

    holder = asyncio.ensure_future(call(runner._conn, "hold", hold))
    await asyncio.to_thread(holding.wait)
    results = asyncio.gather(*(runner.run(op, work) for op, work in works), return_exceptions=True)
    # Callbacks run in the order they were scheduled: every call is queued before the release.
    asyncio.get_running_loop().call_soon(release.set)
    await holder
    return await results


async def test_calls_made_together_that_succeed_share_one_commit_without_savepoints(
    calls: tuple[Calls, list[str]],
) -> None:
    """Three calls queued at once that all succeed run back to back in one transaction."""
    runner, statements = calls
    assert await run_together(runner, *((str(n), insert(n)) for n in (1, 2, 3))) == [1, 2, 3]
    assert statements == [
        "BEGIN IMMEDIATE",
        "INSERT INTO t (n) VALUES (1)",
        "INSERT INTO t (n) VALUES (2)",
        "INSERT INTO t (n) VALUES (3)",
        "COMMIT",
    ]


async def test_calls_made_together_commit_once_and_each_fails_alone(
    calls: tuple[Calls, list[str]],
) -> None:
    """When one of three calls queued at once fails, the batch runs again with a savepoint per
    call: one commit, and the failing call's writes alone are rolled back."""
    runner, statements = calls
    results = await run_together(
        runner, ("one", insert(1)), ("two", insert(2, fail=True)), ("three", insert(3))
    )
    assert results[0::2] == [1, 3]
    assert isinstance(results[1], LockLostError)
    assert [s for s in statements if s in ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")] == [
        "BEGIN IMMEDIATE",
        "ROLLBACK",
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]
    assert statements.count("SAVEPOINT unit") == 3
    assert statements.count("ROLLBACK TO unit") == 1
    assert await runner.run("read", stored) == [1, 3]


async def test_a_lone_call_runs_in_a_transaction_of_its_own(
    calls: tuple[Calls, list[str]],
) -> None:
    """A call with nothing queued beside it commits alone."""
    runner, statements = calls
    assert await runner.run("one", insert(1)) == 1
    assert statements == ["BEGIN IMMEDIATE", "INSERT INTO t (n) VALUES (1)", "COMMIT"]


async def test_a_failed_batch_commit_fails_every_call_and_keeps_nothing(
    calls: tuple[Calls, list[str]],
) -> None:
    """When the shared COMMIT fails (a deferred constraint), every call of the batch fails and
    the rollback is reported once."""
    runner, statements = calls

    def orphan(raw: sqlite3.Connection) -> None:
        raw.execute("INSERT INTO child (parent) VALUES (42)")

    results = await run_together(runner, ("one", insert(1)), ("orphan", orphan))
    assert [(type(r), r.operation) for r in results if isinstance(r, ProviderError)] == [
        (ProviderError, "one"),
        (ProviderError, "orphan"),
    ]
    assert statements.count(ROLLED_BACK) == 1
    assert await runner.run("read", stored) == []


async def test_a_batch_whose_transaction_is_lost_fails_the_calls_before_and_reruns_the_rest(
    calls: tuple[Calls, list[str]],
) -> None:
    """If SQLite rolls the batch back midway, earlier calls fail retryably (the rollback is
    reported); later ones still run."""
    runner, statements = calls

    def rolled_back_by_sqlite(raw: sqlite3.Connection) -> None:
        raw.execute("ROLLBACK")  # what SQLite does by itself on an I/O error or a full disk

    results = await run_together(
        runner, ("one", insert(1)), ("lost", rolled_back_by_sqlite), ("three", insert(3))
    )
    assert [type(r) for r in results[:2]] == [TransientError, TransientError]
    assert results[0].retryable is True  # type: ignore[union-attr]
    assert results[2] == 3
    assert statements.count(ROLLED_BACK) == 2  # the first attempt, then the one in savepoints
    assert await runner.run("read", stored) == [3]


async def test_a_read_meeting_a_busy_database_runs_again_on_the_connection_thread(
    calls: tuple[Calls, list[str]],
) -> None:
    """A read failing with SQLITE_BUSY on the event loop's thread runs again on the
    connection's thread, where it may wait for the lock, and returns what it read there."""
    runner, _ = calls
    ran_on: list[int] = []

    def read(raw: sqlite3.Connection) -> list[int]:
        ran_on.append(threading.get_ident())
        if len(ran_on) == 1:
            busy = sqlite3.OperationalError("database is locked")
            busy.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
            raise busy
        return stored(raw)

    await runner.run("one", insert(1))
    assert await runner.read("read", read) == [1]
    assert [on == threading.get_ident() for on in ran_on] == [True, False]


async def test_calls_on_a_closed_connection_raise_provider_error(
    calls: tuple[Calls, list[str]],
) -> None:
    """After close, a call raises ProviderError naming its operation instead of waiting."""
    runner, _ = calls
    await runner.close()
    with pytest.raises(ProviderError) as raised:
        await runner.run("late", stored)
    assert raised.value.operation == "late"


# -- decoded history ---------------------------------------------------------------------


async def test_history_events_are_decoded_once_and_shared(provider: SqliteProvider) -> None:
    """Reads and fetches return the acked event objects themselves; big events are re-decoded."""
    await provider.enqueue_for_orchestrator(start_item("inst"))
    item = await provider.fetch_orchestration_item(LOCK)
    assert item is not None
    small = started()
    big = ev.ActivityScheduled(event_id=2, name="Act", input="x" * 4000)
    await ack(provider, item, [small, big], metadata=ExecutionMetadata(orchestration_name="Orch"))
    await provider.enqueue_for_orchestrator(external_item("inst", data="again"))
    again = await provider.fetch_orchestration_item(LOCK)
    assert again is not None
    first, second = again.history
    assert first is small
    assert second == big
    assert second is not big
    assert (await provider.read("inst"))[0] is small


async def test_event_cache_forgets_its_oldest_entries_beyond_capacity() -> None:
    """A cache of two keeps the two newest texts; the oldest decodes to a new, equal event."""
    cache = EventCache(capacity=2)
    texts = [codec.encode_event(started(input=str(n))).encode() for n in range(3)]
    decoded = [cache.decode([(text,)])[0] for text in texts]
    newest = cache.decode([(texts[2],), (texts[1],)])
    oldest = cache.decode([(texts[0],)])[0]
    assert [newest[0] is decoded[2], newest[1] is decoded[1], oldest is decoded[0]] == [
        True,
        True,
        False,
    ]
    assert oldest == decoded[0]


async def _turn(provider: SqliteProvider, instance: str) -> OrchestrationItem:
    """Queue an external event for ``instance``, fetch it and release it without a delta;
    returns the fetched item."""
    await provider.enqueue_for_orchestrator(external_item(instance))
    item = await provider.fetch_orchestration_item(LOCK)
    assert item is not None
    assert item.instance == instance
    await ack(provider, item)
    return item


async def test_history_appended_below_the_last_fetched_event_is_fetched_in_order(
    provider: SqliteProvider,
) -> None:
    """An event appended with an id below the last one fetched appears in its place next time."""
    await provider.enqueue_for_orchestrator(start_item("inst"))
    item = await provider.fetch_orchestration_item(LOCK)
    assert item is not None
    metadata = ExecutionMetadata(orchestration_name="Orch")
    await ack(
        provider, item, [started(), ev.TimerCreated(event_id=5, fire_at_ms=1)], metadata=metadata
    )
    assert [e.event_id for e in (await _turn(provider, "inst")).history] == [1, 5]
    await provider.append_history("inst", 1, [ev.TimerCreated(event_id=3, fire_at_ms=1)])
    assert [e.event_id for e in (await _turn(provider, "inst")).history] == [1, 3, 5]


async def test_fetch_after_corrupt_history_reports_the_damage(provider: SqliteProvider) -> None:
    """History corrupted after a fetch decoded it is reported by the next fetch, not hidden."""
    await provider.enqueue_for_orchestrator(start_item("inst"))
    item = await provider.fetch_orchestration_item(LOCK)
    assert item is not None
    await ack(provider, item, [started()], metadata=ExecutionMetadata(orchestration_name="Orch"))
    assert (await _turn(provider, "inst")).history == [started()]
    await provider.corrupt_history("inst", 1)
    damaged = await _turn(provider, "inst")
    assert (damaged.history, damaged.history_error is not None) == ([], True)


async def test_fetch_sees_an_instance_another_connection_deleted_and_started_again(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A history one provider fetched, then replaced through another connection to the same
    file, is fetched anew: never the first one's events."""
    path = tmp_path / "shared.db"
    metadata = ExecutionMetadata(orchestration_name="Orch", status=Status.COMPLETED)
    async with (
        await SqliteProvider.open_file(path, clock) as first,
        await SqliteProvider.open_file(path, clock) as second,
    ):
        for owner, input in ((first, "old"), (second, "new")):
            if owner is second:
                await second.delete_instance("inst")
            await owner.enqueue_for_orchestrator(start_item("inst", input))
            item = await owner.fetch_orchestration_item(LOCK)
            assert item is not None
            await ack(owner, item, [started(input=input)], metadata=metadata)
            assert (await _turn(first, "inst")).history == [started(input=input)]


async def test_fetches_hand_out_the_enqueued_messages_and_decode_damaged_ones(
    provider: SqliteProvider,
) -> None:
    """A fetched message is the object enqueued, on both queues; a row damaged after the
    enqueue is decoded, and reported, instead."""
    start, work = start_item("inst"), work_item("inst", 1)
    await provider.enqueue_for_orchestrator(start)
    await provider.enqueue_for_worker(work)
    item = await provider.fetch_orchestration_item(LOCK)
    lease = await provider.fetch_work_item(LOCK)
    assert item is not None
    assert lease is not None
    assert (item.messages[0] is start, lease.item is work) == (True, True)
    await ack(provider, item)
    await provider.enqueue_for_orchestrator(external_item("inst"))
    assert await provider.corrupt_orchestrator_messages("inst") == 1
    damaged = await provider.fetch_orchestration_item(LOCK)
    assert damaged is not None
    assert (damaged.messages, damaged.message_error is not None) == ([], True)


# -- payloads and ids --------------------------------------------------------------------

EXOTIC_IDS = [
    "quote ' \" ; DROP TABLE history; --",
    "emoji 🎉👩‍👩‍👧",
    "nul \x00 byte",
    "lone \ud800 surrogate \udfff",
    "rtl \u202e עברית newline\nid",
    "%_\\ like metacharacters",
    "long-" + "é" * 600,
]
BIG_PAYLOAD = ("payload 🎉 \x00 \ud83d '\";--\n" * 40_000)[: 1024 * 1024 + 7]


@pytest.mark.parametrize("instance", EXOTIC_IDS)
async def test_exotic_instance_ids_and_names_round_trip(
    provider: SqliteProvider, instance: str
) -> None:
    """Instance ids, names, versions and payloads with any characters come back unchanged."""
    await provider.enqueue_for_orchestrator(start_item(instance, input=instance))
    item = await provider.fetch_orchestration_item(LOCK)
    assert item is not None
    assert (item.instance, item.messages) == (instance, [start_item(instance, input=instance)])
    metadata = ExecutionMetadata(
        orchestration_name=instance, orchestration_version=instance, status=Status.RUNNING
    )
    await ack(
        provider,
        item,
        [started(input=instance)],
        metadata=metadata,
        orchestrator_items=[external_item(instance, data=instance)],
    )
    again = await provider.fetch_orchestration_item(LOCK)
    assert again is not None
    assert (again.instance, again.orchestration_name, again.version) == (
        instance,
        instance,
        instance,
    )
    assert again.history == [started(input=instance)]
    assert await provider.read(instance) == [started(input=instance)]
    assert await provider.list_executions(instance) == [1]


async def test_empty_and_huge_payloads_round_trip_byte_exact(provider: SqliteProvider) -> None:
    """Empty and 1 MiB+ payloads with NUL, surrogates and quotes survive both queues and history."""
    for payload in ("", BIG_PAYLOAD):
        await provider.enqueue_for_worker(work_item("inst", 1, input=payload))
        lease = await provider.fetch_work_item(LOCK)
        assert lease is not None
        assert lease.item.input == payload
        done = msg.ActivityCompletedMessage(instance="inst", execution_id=1, id=1, result=payload)
        await provider.ack_work_item(lease.lock_token, done)
        item = await provider.fetch_orchestration_item(LOCK)
        assert item is not None
        assert item.messages == [done]
        output = ev.ActivityCompleted(event_id=2 + len(payload), source_event_id=1, result=payload)
        await ack(provider, item, [output], metadata=ExecutionMetadata(output=payload))
        assert (await provider.read("inst"))[-1] == output


async def test_cancelled_activities_match_exotic_instance_ids(provider: SqliteProvider) -> None:
    """``cancelled_activities`` deletes the worker item of an id with NUL and surrogates only."""
    owner, other = EXOTIC_IDS[2], EXOTIC_IDS[3]
    await provider.enqueue_for_worker(work_item(owner, 5))
    await provider.enqueue_for_worker(work_item(other, 5))
    await provider.enqueue_for_orchestrator(start_item(owner))
    item = await provider.fetch_orchestration_item(LOCK)
    assert item is not None
    await provider.ack_orchestration_item(
        item.lock_token, 1, [], [], [], ExecutionMetadata(), [ActivityId(owner, 1, 5)]
    )
    lease = await provider.fetch_work_item(LOCK)
    assert lease is not None
    assert lease.item == work_item(other, 5)
    assert await provider.fetch_work_item(LOCK) is None


# -- corrupt data ------------------------------------------------------------------------


async def test_corrupt_history_is_reported_on_fetch_and_does_not_block_other_instances(
    provider: SqliteProvider,
) -> None:
    """A corrupt instance is fetched with ``history_error``; the next fetch serves another one."""
    await provider.append_history("bad", 1, [started()])
    await provider.corrupt_history("bad", 1)
    await provider.enqueue_for_orchestrator(external_item("bad", data="x"))
    await provider.enqueue_for_orchestrator(external_item("good", data="y"))

    broken = await provider.fetch_orchestration_item(LOCK)
    assert broken is not None
    assert (broken.instance, broken.history, broken.messages) == (
        "bad",
        [],
        [external_item("bad", data="x")],
    )
    assert broken.history_error is not None
    assert "bad" in broken.history_error
    healthy = await provider.fetch_orchestration_item(LOCK)
    assert healthy is not None
    assert (healthy.instance, healthy.history_error) == ("good", None)
    with pytest.raises(CorruptDataError) as raised:
        await provider.read("bad")
    assert (raised.value.operation, raised.value.retryable) == ("read", False)


async def test_corrupting_an_execution_without_events_still_makes_it_unreadable(
    provider: SqliteProvider,
) -> None:
    """``corrupt_history`` on an empty execution stores an undecodable row all the same."""
    await provider.corrupt_history("fresh", 1)
    with pytest.raises(CorruptDataError):
        await provider.read_execution("fresh", 1)
    assert await provider.list_executions("fresh") == [1]


# -- the injected clock ------------------------------------------------------------------


async def test_injected_clock_moves_lock_and_lease_expiry(
    provider: SqliteProvider, clock: ManualClock
) -> None:
    """Locks expire exactly when the injected clock passes now + lock_timeout, not before."""
    await provider.enqueue_for_orchestrator(start_item("inst"))
    await provider.enqueue_for_worker(work_item("inst", 1))
    item = await provider.fetch_orchestration_item(10.0)
    lease = await provider.fetch_work_item(10.0)
    assert item is not None
    assert lease is not None

    clock.advance(9.999)
    assert await provider.fetch_orchestration_item(LOCK) is None
    assert await provider.fetch_work_item(LOCK) is None
    clock.advance(0.001)
    with pytest.raises(LockLostError):
        await provider.ack_work_item(lease.lock_token, None)
    retaken = await provider.fetch_orchestration_item(LOCK)
    released = await provider.fetch_work_item(LOCK)
    assert retaken is not None
    assert released is not None
    assert (retaken.attempt_count, released.attempt_count) == (2, 2)


async def test_abandoning_an_expired_lock_nobody_retook_raises_lock_lost(
    provider: SqliteProvider, clock: ManualClock
) -> None:
    """Abandon after expiry raises LockLost and leaves the batch for the next fetch to take."""
    await provider.enqueue_for_orchestrator(start_item("a"))
    await provider.enqueue_for_worker(work_item("a", 1))
    item = await provider.fetch_orchestration_item(1.0)
    lease = await provider.fetch_work_item(1.0)
    assert item is not None
    assert lease is not None
    clock.advance(1.0)
    with pytest.raises(LockLostError):
        await provider.abandon_orchestration_item(item.lock_token, delay=60.0)
    with pytest.raises(LockLostError):
        await provider.abandon_work_item(lease.lock_token, delay=60.0)
    retaken = await provider.fetch_orchestration_item(LOCK)
    released = await provider.fetch_work_item(LOCK)
    assert retaken is not None
    assert released is not None
    assert (retaken.attempt_count, released.attempt_count) == (2, 2)


async def test_delayed_messages_follow_the_injected_clock(
    provider: SqliteProvider, clock: ManualClock
) -> None:
    """A delayed enqueue and a timer become visible exactly at their time on the injected clock."""
    await provider.enqueue_for_orchestrator(external_item("delayed", data="d"), delay=5.0)
    timer = msg.TimerFiredMessage(
        instance="timer", execution_id=1, id=2, fire_at_ms=START_MS + 3000
    )
    await provider.enqueue_for_orchestrator(timer)
    clock.advance(2.999)
    assert await provider.fetch_orchestration_item(LOCK) is None
    clock.advance(0.001)
    fired = await provider.fetch_orchestration_item(LOCK)
    assert fired is not None
    assert fired.messages == [timer]
    clock.advance(1.999)
    assert await provider.fetch_orchestration_item(LOCK) is None
    clock.advance(0.001)
    delayed = await provider.fetch_orchestration_item(LOCK)
    assert delayed is not None
    assert delayed.instance == "delayed"


# -- long polling ------------------------------------------------------------------------


@pytest_asyncio.fixture
async def wall_clock_provider() -> AsyncIterator[SqliteProvider]:
    async with await SqliteProvider.open_memory() as opened:
        yield opened


async def _parked(provider: SqliteProvider, task: asyncio.Task[object]) -> None:
    """Return once ``task``'s first fetch attempt has finished (it is then waiting)."""
    # The connection thread runs calls in order, so when this read returns, the task's
    # attempt has completed and its continuation ran first.
    await provider.read("")
    assert not task.done()


async def test_long_poll_orchestrator_fetch_wakes_on_enqueue(
    wall_clock_provider: SqliteProvider,
) -> None:
    """A waiting fetch returns the new message as soon as it is enqueued, not at poll_timeout."""
    provider = wall_clock_provider
    began = time.monotonic()
    task: asyncio.Task[object] = asyncio.create_task(provider.fetch_orchestration_item(LOCK, 10.0))
    await _parked(provider, task)
    await provider.enqueue_for_orchestrator(start_item("inst"))
    item = await task
    assert isinstance(item, OrchestrationItem)
    assert item.instance == "inst"
    assert time.monotonic() - began < 2.0


async def test_long_poll_worker_fetch_wakes_on_enqueue(
    wall_clock_provider: SqliteProvider,
) -> None:
    """A waiting worker fetch returns the new item as soon as it is enqueued."""
    provider = wall_clock_provider
    began = time.monotonic()
    task: asyncio.Task[object] = asyncio.create_task(provider.fetch_work_item(LOCK, 10.0))
    await _parked(provider, task)
    await provider.enqueue_for_worker(work_item("inst", 1))
    lease = await task
    assert isinstance(lease, WorkLease)
    assert lease.item == work_item("inst", 1)
    assert time.monotonic() - began < 2.0


async def test_long_poll_wakes_on_an_activity_completion(
    wall_clock_provider: SqliteProvider,
) -> None:
    """A waiting orchestration fetch returns an activity's completion as soon as it is acked."""
    provider = wall_clock_provider
    await provider.enqueue_for_worker(work_item("inst", 1))
    lease = await provider.fetch_work_item(LOCK)
    assert lease is not None
    began = time.monotonic()
    task: asyncio.Task[object] = asyncio.create_task(provider.fetch_orchestration_item(LOCK, 10.0))
    await _parked(provider, task)
    done = msg.ActivityCompletedMessage(instance="inst", execution_id=1, id=1, result="2")
    await provider.ack_work_item(lease.lock_token, done)
    item = await task
    assert isinstance(item, OrchestrationItem)
    assert item.messages == [done]
    assert time.monotonic() - began < 2.0


async def test_long_poll_gets_messages_that_arrived_while_the_instance_was_locked(
    wall_clock_provider: SqliteProvider,
) -> None:
    """A message for a locked instance reaches a waiting fetch as soon as the lock's ack ends."""
    provider = wall_clock_provider
    await provider.enqueue_for_orchestrator(start_item("inst"))
    item = await provider.fetch_orchestration_item(LOCK)
    assert item is not None
    began = time.monotonic()
    task: asyncio.Task[object] = asyncio.create_task(provider.fetch_orchestration_item(LOCK, 10.0))
    await _parked(provider, task)
    await provider.enqueue_for_orchestrator(external_item("inst", data="during the turn"))
    await provider.read("")  # the woken fetch found the instance locked and waits again
    assert not task.done()
    await ack(provider, item, [started()], metadata=ExecutionMetadata(orchestration_name="Orch"))
    again = await task
    assert isinstance(again, OrchestrationItem)
    assert again.messages == [external_item("inst", data="during the turn")]
    assert time.monotonic() - began < 2.0


async def test_long_poll_wakes_one_waiter_per_enqueue_and_the_rest_time_out(
    wall_clock_provider: SqliteProvider,
) -> None:
    """Three waiters, two enqueued items: two fetches get one item each, the third gets None."""
    provider = wall_clock_provider
    tasks: list[asyncio.Task[object]] = [
        asyncio.create_task(provider.fetch_work_item(LOCK, 0.3)) for _ in range(3)
    ]
    await provider.read("")
    await provider.enqueue_for_worker(work_item("inst", 1))
    await provider.enqueue_for_worker(work_item("inst", 2))
    results = await asyncio.gather(*tasks)
    items = sorted(r.item.id for r in results if isinstance(r, WorkLease))
    assert (items, results.count(None)) == ([1, 2], 1)


async def test_long_poll_wakes_when_a_delayed_message_becomes_visible(
    wall_clock_provider: SqliteProvider,
) -> None:
    """A waiting fetch returns a delayed message shortly after its delay, without any enqueue."""
    provider = wall_clock_provider
    await provider.enqueue_for_orchestrator(start_item("later"), delay=0.15)
    began = time.monotonic()
    item = await provider.fetch_orchestration_item(LOCK, 5.0)
    waited = time.monotonic() - began
    assert item is not None
    assert item.instance == "later"
    assert 0.1 <= waited < 1.0


async def test_long_poll_returns_none_close_to_poll_timeout(
    wall_clock_provider: SqliteProvider,
) -> None:
    """With no work, a long poll returns None after poll_timeout (a few ms late at most)."""
    provider = wall_clock_provider
    began = time.monotonic()
    assert await provider.fetch_orchestration_item(LOCK, 0.2) is None
    assert 0.2 <= time.monotonic() - began < 0.3
    began = time.monotonic()
    assert await provider.fetch_work_item(LOCK, 0.0) is None
    assert time.monotonic() - began < 0.1


async def test_closing_the_provider_ends_a_long_poll_with_provider_error(
    wall_clock_provider: SqliteProvider,
) -> None:
    """A fetch waiting for work fails with ProviderError as soon as its provider closes."""
    provider = wall_clock_provider
    task: asyncio.Task[object] = asyncio.create_task(provider.fetch_orchestration_item(LOCK, 10.0))
    await _parked(provider, task)
    await provider.close()
    with pytest.raises(ProviderError) as raised:
        await task
    assert raised.value.operation == "fetch_orchestration_item"


# -- error typing ------------------------------------------------------------------------


async def test_every_operation_of_a_closed_provider_raises_provider_error() -> None:
    """After close, every operation raises ProviderError naming it (no sqlite3/aiosqlite error)."""
    provider = await SqliteProvider.open_memory()
    await provider.close()
    calls = {
        "enqueue_for_orchestrator": provider.enqueue_for_orchestrator(start_item("x")),
        "fetch_orchestration_item": provider.fetch_orchestration_item(LOCK),
        "ack_orchestration_item": provider.ack_orchestration_item(
            "t", 1, [], [], [], ExecutionMetadata()
        ),
        "abandon_orchestration_item": provider.abandon_orchestration_item("t"),
        "renew_orchestration_item_lock": provider.renew_orchestration_item_lock("t", 1.0),
        "enqueue_for_worker": provider.enqueue_for_worker(work_item("x", 1)),
        "fetch_work_item": provider.fetch_work_item(LOCK),
        "ack_work_item": provider.ack_work_item("t", None),
        "abandon_work_item": provider.abandon_work_item("t"),
        "renew_work_item_lock": provider.renew_work_item_lock("t", 1.0),
        "read": provider.read("x"),
        "read_execution": provider.read_execution("x", 1),
        "list_executions": provider.list_executions("x"),
        "append_history": provider.append_history("x", 1, [started()]),
        "corrupt_history": provider.corrupt_history("x", 1),
    }
    for name, pending in calls.items():
        with pytest.raises(ProviderError) as raised:
            await pending
        assert (type(raised.value), raised.value.operation) == (ProviderError, name)
    await provider.close()


async def test_opening_a_file_that_is_not_a_database_raises_corrupt_data(
    tmp_path: Path,
) -> None:
    """A non-SQLite file is reported as CorruptDataError from open, not as sqlite3.DatabaseError."""
    path = tmp_path / "not-a-db.sqlite"
    path.write_bytes(b"this is not an sqlite database, just text " * 100)
    with pytest.raises(CorruptDataError) as raised:
        await SqliteProvider.open_file(path)
    assert raised.value.operation == "open"


_VERSION_1_SCHEMA = (
    "CREATE TABLE instances (instance BLOB PRIMARY KEY, name BLOB NOT NULL, version BLOB,"
    " parent_instance BLOB) WITHOUT ROWID",
    "CREATE TABLE executions (instance BLOB NOT NULL, execution_id INTEGER NOT NULL,"
    " status TEXT NOT NULL, output BLOB, PRIMARY KEY (instance, execution_id)) WITHOUT ROWID",
    "CREATE TABLE history (instance BLOB NOT NULL, execution_id INTEGER NOT NULL,"
    " event_id INTEGER NOT NULL, data TEXT NOT NULL,"
    " PRIMARY KEY (instance, execution_id, event_id)) WITHOUT ROWID",
    "CREATE TABLE orchestrator_queue (id INTEGER PRIMARY KEY, instance BLOB NOT NULL,"
    " visible_at INTEGER NOT NULL, batch_token TEXT,"
    " attempt_count INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL)",
    "CREATE TABLE instance_locks (instance BLOB PRIMARY KEY, token TEXT NOT NULL UNIQUE,"
    " locked_until INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE worker_queue (id INTEGER PRIMARY KEY, instance BLOB NOT NULL,"
    " execution_id INTEGER NOT NULL, activity_id INTEGER NOT NULL,"
    " visible_at INTEGER NOT NULL, token TEXT, attempt_count INTEGER NOT NULL DEFAULT 0,"
    " data TEXT NOT NULL)",
)
"""The schema of version 1 databases, as files written before the capabilities existed hold it."""


async def test_a_version_1_database_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    """Opening a schema-1 file adds the new columns: its record, item and history still read."""
    path = tmp_path / "v1.db"
    raw = sqlite3.connect(path)
    for statement in _VERSION_1_SCHEMA:
        raw.execute(statement)
    raw.execute("INSERT INTO instances VALUES (?, ?, ?, NULL)", (b"inst", b"Orch", b"1.0"))
    raw.execute("INSERT INTO executions VALUES (?, 1, 'Completed', ?)", (b"inst", b"out"))
    raw.execute(
        "INSERT INTO history VALUES (?, 1, 1, ?)", (b"inst", codec.encode_event(started()))
    )
    old_item = codec.encode_message(work_item("inst", 2)).replace(',"queue":"default"', "")
    raw.execute("INSERT INTO worker_queue VALUES (1, ?, 1, 2, 0, NULL, 0, ?)", (b"inst", old_item))
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()

    provider = await SqliteProvider.open_file(path)
    try:
        info = await provider.get_instance_info("inst")
        lease = await provider.fetch_work_item_from(["default"], LOCK)
        history = await provider.read("inst")
    finally:
        await provider.close()

    assert (info.orchestration_name, info.status, info.output) == ("Orch", Status.COMPLETED, "out")
    assert lease is not None
    assert lease.item == work_item("inst", 2)
    assert history == [started()]


async def test_a_cursor_this_provider_never_made_is_a_provider_error(
    provider: SqliteProvider,
) -> None:
    """list_instances with a cursor that is not one of its own raises a permanent ProviderError."""
    with pytest.raises(ProviderError) as raised:
        await provider.list_instances(cursor="not a cursor")
    assert (raised.value.operation, raised.value.retryable) == ("list_instances", False)


async def test_invalid_input_raises_provider_error_and_changes_nothing(
    provider: SqliteProvider,
) -> None:
    """An event id SQLite cannot store fails the ack with ProviderError; the lock stays usable."""
    await provider.enqueue_for_orchestrator(start_item("inst"))
    item = await provider.fetch_orchestration_item(LOCK)
    assert item is not None
    huge = ev.ExternalEvent(event_id=2**70, name="n", data="d")
    with pytest.raises(ProviderError) as raised:
        await ack(provider, item, [started(), huge])
    assert (raised.value.operation, raised.value.retryable) == ("ack_orchestration_item", False)
    await ack(provider, item, [started()])
    assert await provider.read("inst") == [started()]


async def test_busy_and_locked_sqlite_errors_map_to_transient_errors() -> None:
    """SQLITE_BUSY and SQLITE_LOCKED (extended codes too) become retryable TransientErrors."""
    mapped = []
    for code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_BUSY | (2 << 8)):
        exc = sqlite3.OperationalError("database is locked")
        exc.sqlite_errorcode = code
        error = provider_error("fetch_work_item", exc)
        mapped.append((type(error), error.retryable, error.operation))
    assert mapped == [(TransientError, True, "fetch_work_item")] * 3


# -- throughput (run by hand) ------------------------------------------------------------


async def _throughput(provider: SqliteProvider, n: int, tasks: int) -> dict[str, float]:
    """Operations per second of ``n`` rounds each, spread over ``tasks`` concurrent tasks."""

    async def timed(round_: Callable[[int], Awaitable[None]]) -> float:
        async def loop(first: int) -> None:
            for i in range(first, n, tasks):
                await round_(i)

        began = time.perf_counter()
        await asyncio.gather(*(loop(t) for t in range(tasks)))
        return n / (time.perf_counter() - began)

    async def enqueue(i: int) -> None:
        await provider.enqueue_for_orchestrator(start_item(f"inst-{i}"))

    async def orchestration_turn(_: int) -> None:
        item = await provider.fetch_orchestration_item(LOCK)
        assert item is not None
        await provider.ack_orchestration_item(
            item.lock_token, 1, [started()], [work_item(item.instance, 2)], [], ExecutionMetadata()
        )

    async def work_turn(_: int) -> None:
        lease = await provider.fetch_work_item(LOCK)
        assert lease is not None
        await provider.ack_work_item(lease.lock_token, None)

    return {
        "enqueue": await timed(enqueue),
        "orchestration fetch+ack": await timed(orchestration_turn),
        "work fetch+ack": await timed(work_turn),
    }


async def _main(n: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        for mode, tasks in itertools.product(("memory", "file"), (1, 8)):
            if mode == "memory":
                provider = await SqliteProvider.open_memory()
            else:
                provider = await SqliteProvider.open_file(Path(directory) / f"bench-{tasks}.db")
            async with provider:
                rates = await _throughput(provider, n, tasks)
            shown = "  ".join(f"{name}: {rate:,.0f}/s" for name, rate in rates.items())
            print(f"{mode:6} tasks={tasks}  {shown}")


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
