"""Management: instance and execution records, listing, queue depths and metrics.

What an ack stores (status, output, names, times) must read back exactly; listing pages
through every instance exactly once; counts are exact, never "at least".
"""

from __future__ import annotations

import pytest

from provkit.conformance._builders import (
    ORCHESTRATION,
    VERSION,
    ack,
    commit_turn,
    continue_as_new_item,
    external_item,
    first_turn_metadata,
    lock_instance,
    must_fetch_work,
    provider_now_ms,
    scheduled,
    start_instance,
    start_item,
    started,
    timer_item,
    work_item,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import (
    Capability,
    ExecutionInfo,
    ExecutionMetadata,
    InstanceInfo,
    InstancePage,
    Management,
    NotFoundError,
    Provider,
    QueueDepths,
    Status,
    SystemMetrics,
)

pytestmark = [
    pytest.mark.management,
    pytest.mark.capability(Capability.MANAGEMENT),
    pytest.mark.asyncio,
]

A = "inst-a"
B = "inst-b"
MIB = 1024 * 1024
BIG_OUTPUT = ("output 🙂 with NUL \x00, quotes '\" and a newline\n" * (MIB // 40 + 1))[: MIB + 7]
"""Just over 1 MiB of text with emoji, NUL, quotes and newlines."""


async def finish(
    provider: Provider, instance: str, timing: Timing, status: Status | None, output: str | None
) -> None:
    """Deliver a signal to the started ``instance`` and ack a turn storing status and output."""
    await commit_turn(
        provider,
        external_item(instance),
        timing.long_lock,
        metadata=ExecutionMetadata(status=status, output=output),
    )


async def list_all(management: Management, limit: int, status: Status | None = None) -> list[str]:
    """Every id ``list_instances`` yields, following cursors, checking each page's size."""
    ids: list[str] = []
    cursor = None
    for _ in range(1000):
        page = await management.list_instances(status=status, limit=limit, cursor=cursor)
        assert len(page.instances) <= limit, f"a page of {len(page.instances)} with limit {limit}"
        ids += page.instances
        if page.next_cursor is None:
            return ids
        assert len(page.instances) == limit, "a short page that is not the last"
        cursor = page.next_cursor
    raise AssertionError("list_instances never returned next_cursor None")


# Rejects: get_instance_info that misreports any field of a fresh record
async def test_instance_info_reports_every_field_of_the_record(
    provider: Provider, management: Management, clock: SuiteClock, timing: Timing
) -> None:
    """A started instance reads back its name, version, execution 1, RUNNING, no output, times."""
    before = provider_now_ms(clock)
    await start_instance(provider, A, timing.long_lock)
    after = provider_now_ms(clock)

    info = await management.get_instance_info(A)

    assert before <= info.created_at_ms <= after
    assert info == InstanceInfo(
        instance=A,
        orchestration_name=ORCHESTRATION,
        orchestration_version=VERSION,
        current_execution_id=1,
        status=Status.RUNNING,
        output=None,
        parent_instance=None,
        created_at_ms=info.created_at_ms,
        updated_at_ms=info.created_at_ms,
    )


# Rejects: lookups of unknown ids that return empty records or match other instances
@pytest.mark.parametrize("instance", ["never-started", "", "inst-a%", "inst-"])
async def test_unknown_instance_or_execution_raises_not_found(
    provider: Provider, management: Management, timing: Timing, instance: str
) -> None:
    """Unknown instances and executions raise NotFoundError, next to a real inst-a."""
    await start_instance(provider, A, timing.long_lock)

    with pytest.raises(NotFoundError):
        await management.get_instance_info(instance)
    with pytest.raises(NotFoundError):
        await management.get_execution_info(instance, 1)
    with pytest.raises(NotFoundError):
        await management.get_execution_info(A, 2)


# Rejects: status or output truncated, re-encoded or mixed up (e.g. cut at 64 KiB)
@pytest.mark.parametrize("status", [s for s in Status if s is not Status.RUNNING])
async def test_status_and_output_round_trip_byte_exact(
    provider: Provider, management: Management, timing: Timing, status: Status
) -> None:
    """A terminal status with a 1 MiB output of emoji, NUL and quotes reads back unchanged."""
    await start_instance(provider, A, timing.long_lock)

    await finish(provider, A, timing, status, BIG_OUTPUT)

    info = await management.get_instance_info(A)
    execution = await management.get_execution_info(A, 1)
    assert (info.status, execution.status) == (status, status)
    assert info.output == BIG_OUTPUT, "get_instance_info changed the stored output"
    assert execution.output == BIG_OUTPUT, "get_execution_info changed the stored output"


# Rejects: an empty output stored as None (or None stored as "")
async def test_empty_output_is_not_none(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """An output of "" reads back as "", not None."""
    await start_instance(provider, A, timing.long_lock)

    await finish(provider, A, timing, Status.COMPLETED, "")

    assert (await management.get_instance_info(A)).output == ""
    assert (await management.get_execution_info(A, 1)).output == ""


# Rejects: acks with status or output None that clear or overwrite the stored values
async def test_none_status_or_output_leaves_the_stored_value(
    provider: Provider, management: Management, clock: SuiteClock, timing: Timing
) -> None:
    """status None keeps the status (and completion time); output None keeps the output."""
    await start_instance(provider, A, timing.long_lock)
    await finish(provider, A, timing, Status.FAILED, "first")
    completed = (await management.get_execution_info(A, 1)).completed_at_ms
    await clock.advance(timing.epsilon)

    await finish(provider, A, timing, None, None)
    unchanged = await management.get_execution_info(A, 1)
    await finish(provider, A, timing, Status.COMPLETED, None)
    status_only = await management.get_execution_info(A, 1)
    await finish(provider, A, timing, None, "second")
    output_only = await management.get_execution_info(A, 1)

    assert (unchanged.status, unchanged.output, unchanged.completed_at_ms) == (
        Status.FAILED,
        "first",
        completed,
    )
    assert (status_only.status, status_only.output) == (Status.COMPLETED, "first")
    assert (output_only.status, output_only.output) == (Status.COMPLETED, "second")
    assert output_only.completed_at_ms == status_only.completed_at_ms


# Rejects: execution info with wrong event counts, or times not taken from the acks
async def test_execution_info_counts_events_and_records_its_times(
    provider: Provider, management: Management, clock: SuiteClock, timing: Timing
) -> None:
    """Event count, start time, and completion time None while running, then the ack's time."""
    before = provider_now_ms(clock)
    await start_instance(provider, A, timing.long_lock)
    after = provider_now_ms(clock)
    await commit_turn(provider, external_item(A), timing.long_lock, [scheduled(2), scheduled(3)])
    running = await management.get_execution_info(A, 1)
    await clock.advance(timing.epsilon)

    finished_before = provider_now_ms(clock)
    await finish(provider, A, timing, Status.COMPLETED, "done")
    finished_after = provider_now_ms(clock)
    done = await management.get_execution_info(A, 1)

    assert before <= running.started_at_ms <= after
    assert running == ExecutionInfo(
        instance=A,
        execution_id=1,
        status=Status.RUNNING,
        output=None,
        event_count=3,
        started_at_ms=running.started_at_ms,
        completed_at_ms=None,
    )
    assert (done.status, done.output, done.event_count) == (Status.COMPLETED, "done", 3)
    assert done.started_at_ms == running.started_at_ms
    assert done.completed_at_ms is not None
    assert finished_before <= done.completed_at_ms <= finished_after


# Rejects: completed_at kept after the status goes back to RUNNING, or not moved by a later one
async def test_completed_at_follows_the_last_stored_status(
    provider: Provider, management: Management, clock: SuiteClock, timing: Timing
) -> None:
    """completed_at is set by a terminal status, cleared by RUNNING, and set anew by the next."""
    await start_instance(provider, A, timing.long_lock)
    await finish(provider, A, timing, Status.COMPLETED, "x")
    first = (await management.get_execution_info(A, 1)).completed_at_ms

    await finish(provider, A, timing, Status.RUNNING, None)
    reopened = (await management.get_execution_info(A, 1)).completed_at_ms
    await clock.advance(timing.epsilon)
    await finish(provider, A, timing, Status.FAILED, None)
    second = (await management.get_execution_info(A, 1)).completed_at_ms

    assert first is not None
    assert reopened is None
    assert second is not None
    assert second > first


# Rejects: instance info that reads the first execution instead of the current one
async def test_instance_info_follows_the_current_execution(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """After continue-as-new, info reports execution 2's status and output, not execution 1's."""
    await start_instance(provider, A, timing.long_lock)
    await finish(provider, A, timing, Status.CONTINUED_AS_NEW, "carried")
    await commit_turn(
        provider,
        continue_as_new_item(A),
        timing.long_lock,
        [started(input="carried")],
        execution_id=2,
        metadata=first_turn_metadata(),
    )

    info = await management.get_instance_info(A)

    assert (info.current_execution_id, info.status, info.output) == (2, Status.RUNNING, None)
    first = await management.get_execution_info(A, 1)
    assert (first.status, first.output, first.event_count) == (
        Status.CONTINUED_AS_NEW,
        "carried",
        1,
    )


# Rejects: cursors that skip or repeat ids, pages over the limit, a missing or stray last cursor
@pytest.mark.parametrize("limit", [1, 2, 3, 5, 6])
async def test_listing_pages_through_every_instance_exactly_once(
    provider: Provider, management: Management, timing: Timing, limit: int
) -> None:
    """Five instances listed with any limit: full pages, then a last page, each id once."""
    ids = [f"inst-{n}" for n in range(5)]
    for instance in ids:
        await start_instance(provider, instance, timing.long_lock)

    listed = await list_all(management, limit)

    assert sorted(listed) == ids


# Rejects: a cursor on the last full page (no instance follows it)
async def test_full_last_page_has_no_cursor(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """Four instances with limit 2: the second page holds two and has next_cursor None."""
    for n in range(4):
        await start_instance(provider, f"inst-{n}", timing.long_lock)

    first = await management.list_instances(limit=2)
    assert first.next_cursor is not None
    second = await management.list_instances(limit=2, cursor=first.next_cursor)

    assert len(second.instances) == 2
    assert second.next_cursor is None
    assert sorted(first.instances + second.instances) == [f"inst-{n}" for n in range(4)]


# Rejects: pagination that repeats or loses instances while new ones are created
async def test_listing_sees_each_instance_once_while_new_ones_arrive(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """Instances created between pages appear at most once; the original ones exactly once."""
    original = [f"inst-{n}" for n in range(1, 7)]
    for instance in original:
        await start_instance(provider, instance, timing.long_lock)
    newcomers = ["inst-0", "inst-9", "inst-35", "inst-", "inst-5a", "zz", "a"]
    arriving = iter(newcomers)

    listed: list[str] = []
    page = await management.list_instances(limit=2)
    listed += page.instances
    while page.next_cursor is not None:
        await start_instance(provider, next(arriving), timing.long_lock)
        page = await management.list_instances(limit=2, cursor=page.next_cursor)
        listed += page.instances

    assert len(listed) == len(set(listed)), f"listed twice: {listed}"
    assert set(original) <= set(listed)
    assert set(listed) <= set(original) | set(newcomers)


# Rejects: a status filter that reads the first execution, or ignores some statuses
async def test_listing_filters_by_the_current_execution_status(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """Each status lists exactly its instances; a continued-as-new instance counts as running."""
    expected: dict[Status, list[str]] = {status: [] for status in Status}
    for status in Status:
        instance = f"inst-{status.value}"
        await start_instance(provider, instance, timing.long_lock)
        await finish(provider, instance, timing, status, None)
        expected[status].append(instance)
    # A gets executions but no record (no start, no name), so no status lists it.
    await finish(provider, A, timing, Status.CONTINUED_AS_NEW, "next")
    await start_instance(provider, B, timing.long_lock)
    await finish(provider, B, timing, Status.CONTINUED_AS_NEW, "next")
    await commit_turn(
        provider,
        continue_as_new_item(B),
        timing.long_lock,
        [started()],
        execution_id=2,
        metadata=first_turn_metadata(),
    )
    expected[Status.RUNNING].append(B)

    listed = {status: sorted(await list_all(management, 2, status)) for status in Status}

    assert listed == {status: sorted(ids) for status, ids in expected.items()}


# Rejects: listings that include instances with queued messages or executions but no record
async def test_listing_leaves_out_instances_without_a_record(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """A queued start and an ack without a name do not make an instance listable."""
    await commit_turn(provider, start_item("inst-unnamed"), timing.long_lock, [started()])
    await start_instance(provider, A, timing.long_lock)
    await provider.enqueue_for_orchestrator(start_item("inst-queued"))

    assert await management.list_instances() == InstancePage(instances=[A], next_cursor=None)
    assert await management.list_instances(status=Status.RUNNING) == InstancePage(
        instances=[A], next_cursor=None
    )


# Rejects: queue depths that count only visible or unlocked work, or miss deletions by ack
async def test_queue_depths_count_stored_work_in_every_state(
    provider: Provider, management: Management, clock: SuiteClock, timing: Timing
) -> None:
    """Visible, delayed, timer and locked messages and leased or free items all count."""
    locked = await lock_instance(provider, start_item(A), timing.long_lock)
    await provider.enqueue_for_orchestrator(external_item(A))
    await provider.enqueue_for_orchestrator(external_item(B), timing.long_lock)
    await provider.enqueue_for_orchestrator(timer_item(B, 2, provider_now_ms(clock) + 60_000))
    await provider.enqueue_for_worker(work_item(A, 1))
    await provider.enqueue_for_worker(work_item(A, 2))
    lease = await must_fetch_work(provider, timing.long_lock)
    full = await management.get_queue_depths()

    await ack(provider, locked)
    after_ack = await management.get_queue_depths()
    await provider.ack_work_item(lease.lock_token, None)
    after_worker_ack = await management.get_queue_depths()

    assert full == QueueDepths(orchestrator=4, worker=2)
    assert after_ack == QueueDepths(orchestrator=3, worker=2)
    assert after_worker_ack == QueueDepths(orchestrator=3, worker=1)


# Rejects: metrics that count approximately, skip record-less executions, or misfile statuses
async def test_system_metrics_count_records_executions_and_events_exactly(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """Totals and per-status counts match what the acks stored, exactly."""
    await start_instance(provider, A, timing.long_lock)  # 1 execution, 1 event
    await start_instance(provider, B, timing.long_lock)
    await commit_turn(
        provider,
        external_item(B),
        timing.long_lock,
        [scheduled(2)],
        metadata=ExecutionMetadata(status=Status.COMPLETED, output="done"),
    )  # B: 1 execution, 2 events
    await provider.append_history("inst-unnamed", 1, [started(), scheduled(2), scheduled(3)])

    metrics = await management.get_system_metrics()

    by_status = dict.fromkeys(Status, 0)
    by_status.update({Status.RUNNING: 1, Status.COMPLETED: 1})
    assert metrics == SystemMetrics(instances=2, executions=3, events=6, by_status=by_status)


# Rejects: empty stores that report garbage or a cursor
async def test_empty_store_reports_zeros(provider: Provider, management: Management) -> None:
    """A fresh provider: no instances, zero depths, zero metrics for every status."""
    assert await management.list_instances() == InstancePage(instances=[], next_cursor=None)
    assert await management.get_queue_depths() == QueueDepths(orchestrator=0, worker=0)
    assert await management.get_system_metrics() == SystemMetrics(
        instances=0, executions=0, events=0, by_status=dict.fromkeys(Status, 0)
    )


# Rejects: records whose fields mix up instances with similar ids
async def test_records_of_similar_ids_stay_apart(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """inst-a, inst-a2 and inst-a% each read back their own status and output."""
    outputs = {A: "one", "inst-a2": "two", "inst-a%": "three"}
    for instance, output in outputs.items():
        await start_instance(provider, instance, timing.long_lock)
        await finish(provider, instance, timing, Status.COMPLETED, output)

    infos = [await management.get_instance_info(i) for i in outputs]

    assert [(i.instance, i.output, i.status) for i in infos] == [
        (instance, output, Status.COMPLETED) for instance, output in outputs.items()
    ]
