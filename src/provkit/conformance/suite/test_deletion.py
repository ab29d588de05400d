"""Deletion: instance trees removed whole, exactly, atomically, and only when allowed.

After a deletion nothing of a deleted instance is left (history, executions, queued
messages, worker items, its lock), the counts returned are exact, every other instance is
untouched, and no sub-orchestration outlives its deleted root.
"""

from __future__ import annotations

import asyncio

import pytest

from provkit.conformance._builders import (
    ack,
    commit_turn,
    external_item,
    fetch,
    fetch_work,
    first_turn_metadata,
    lock_instance,
    must_fetch,
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
    DeleteResult,
    Deletion,
    ExecutionMetadata,
    InstanceFilter,
    InstanceRunningError,
    LockLostError,
    NotFoundError,
    NotRootError,
    Provider,
    Status,
)
from provkit.contract import messages as msg

pytestmark = [
    pytest.mark.deletion,
    pytest.mark.capability(Capability.DELETION),
    pytest.mark.asyncio,
]

A = "inst-a"
B = "inst-b"
NOTHING = DeleteResult()


async def finish(
    provider: Provider, instance: str, timing: Timing, status: Status = Status.COMPLETED
) -> None:
    """Deliver a signal to the started ``instance`` and ack a turn ending it with ``status``."""
    await commit_turn(
        provider,
        external_item(instance, data="finish"),
        timing.long_lock,
        [scheduled(90)],
        metadata=ExecutionMetadata(status=status, output="out"),
    )


def child_start(parent: str, child: str) -> msg.StartOrchestration:
    """The start message a parent's turn sends to its sub-orchestration ``child``."""
    return msg.StartOrchestration(
        instance=child, orchestration="Child", input="in", parent_instance=parent
    )


async def start_child(provider: Provider, parent: str, child: str, timing: Timing) -> None:
    """A turn of the started ``parent`` starts ``child``, whose first turn names the parent."""
    await commit_turn(
        provider,
        external_item(parent, data=f"spawn {child}"),
        timing.long_lock,
        orchestrator_items=[child_start(parent, child)],
    )
    item = await must_fetch(provider, timing.long_lock)
    assert item.instance == child, f"fetched {item.instance!r}, expected the child {child!r}"
    await ack(
        provider,
        item,
        [started()],
        metadata=ExecutionMetadata(
            orchestration_name="Child", orchestration_version="1.0.0", parent_instance=parent
        ),
    )


async def assert_gone(provider: Provider, timing: Timing, *instances: str) -> None:
    """Nothing of ``instances`` is readable, fetchable or leasable, and no record is left."""
    for instance in instances:
        assert await provider.read(instance) == [], f"history of {instance!r} survived"
        assert await provider.list_executions(instance) == [], f"{instance!r}'s executions survived"
    item = await fetch(provider, timing.long_lock)
    assert item is None or item.instance not in instances, f"{item} survived"
    lease = await fetch_work(provider, timing.long_lock)
    assert lease is None or lease.item.instance not in instances, f"{lease} survived"


async def assert_intact(provider: Provider, timing: Timing, instance: str) -> None:
    """``instance`` (started, then finished) still has its history and its queued signal."""
    assert await provider.read(instance) == [started(), scheduled(90)]
    await provider.enqueue_for_orchestrator(external_item(instance, data="still here"))
    item = await must_fetch(provider, timing.long_lock)
    assert (item.instance, item.orchestration_name) == (instance, "ConformanceOrchestration")
    await ack(provider, item)


# Rejects: deletions that leave rows behind or return approximate counts
async def test_delete_completed_instance_removes_everything_and_counts_it(
    provider: Provider, deletion: Deletion, clock: SuiteClock, timing: Timing
) -> None:
    """A completed instance with queued, delayed and timer messages and items: exact counts."""
    await start_instance(provider, A, timing.long_lock)
    await commit_turn(
        provider,
        external_item(A, data="finish"),
        timing.long_lock,
        [scheduled(2), scheduled(3)],
        worker_items=[work_item(A, 2), work_item(A, 3)],
        metadata=ExecutionMetadata(status=Status.COMPLETED, output="out"),
    )
    await provider.enqueue_for_orchestrator(external_item(A))
    await provider.enqueue_for_orchestrator(external_item(A), timing.long_lock)
    await provider.enqueue_for_orchestrator(timer_item(A, 4, provider_now_ms(clock) + 60_000))

    result = await deletion.delete_instance(A)

    assert result == DeleteResult(
        instances=1, executions=1, events=3, orchestrator_messages=3, worker_items=2
    )
    await assert_gone(provider, timing, A)


# Rejects: deletion of a running instance without force
async def test_running_instance_is_refused_without_force(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """delete_instance of a RUNNING instance raises InstanceRunningError and deletes nothing."""
    await start_instance(provider, A, timing.long_lock)
    await provider.enqueue_for_orchestrator(external_item(A))

    with pytest.raises(InstanceRunningError) as refused:
        await deletion.delete_instance(A)

    assert refused.value.retryable is False
    assert await provider.read(A) == [started()]
    item = await must_fetch(provider, timing.long_lock)
    assert (item.instance, item.messages) == (A, [external_item(A)])


# Rejects: force that is ignored, or that leaves the running instance's work queued
async def test_force_deletes_a_running_instance(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """With force a RUNNING instance, its queued signal and worker item are deleted."""
    await start_instance(provider, A, timing.long_lock)
    await commit_turn(provider, external_item(A), timing.long_lock, worker_items=[work_item(A, 2)])
    await provider.enqueue_for_orchestrator(external_item(A))

    result = await deletion.delete_instance(A, force=True)

    assert result == DeleteResult(
        instances=1, executions=1, events=1, orchestrator_messages=1, worker_items=1
    )
    await assert_gone(provider, timing, A)


# Rejects: deleting ids without a record, or matching other instances' rows
@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
async def test_instance_without_a_record_raises_not_found(
    provider: Provider, deletion: Deletion, timing: Timing, force: bool
) -> None:
    """Unknown ids, a queued start and a record-less execution raise NotFoundError, untouched."""
    await commit_turn(provider, start_item("inst-unnamed"), timing.long_lock, [started()])
    await provider.enqueue_for_orchestrator(start_item("inst-queued"))

    for instance in ["never-started", "inst-unnamed", "inst-queued", "inst-%", ""]:
        with pytest.raises(NotFoundError):
            await deletion.delete_instance(instance, force=force)

    assert await provider.read("inst-unnamed") == [started()]
    item = await must_fetch(provider, timing.long_lock)
    assert (item.instance, item.messages) == ("inst-queued", [start_item("inst-queued")])


# Rejects: a sub-orchestration deleted on its own, leaving its parent waiting forever
@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
async def test_sub_orchestration_cannot_be_deleted_directly(
    provider: Provider, deletion: Deletion, timing: Timing, force: bool
) -> None:
    """delete_instance of a child raises NotRootError even with force; both stay intact."""
    await start_instance(provider, A, timing.long_lock)
    await start_child(provider, A, "inst-a-child", timing)
    await finish(provider, "inst-a-child", timing)

    with pytest.raises(NotRootError):
        await deletion.delete_instance("inst-a-child", force=force)

    assert await provider.read("inst-a-child") == [started(), scheduled(90)]
    assert await provider.read(A) == [started()]


# Rejects: cascades that stop at the first level or delete beyond the tree
async def test_deleting_a_root_removes_its_whole_tree(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """Root, two children and a grandchild go (exact counts); a sibling root stays intact."""
    await start_instance(provider, A, timing.long_lock)
    await start_child(provider, A, "inst-a-1", timing)
    await start_child(provider, A, "inst-a-2", timing)
    await start_child(provider, "inst-a-1", "inst-a-1-1", timing)
    for instance in ["inst-a-1-1", "inst-a-1", "inst-a-2", A]:
        await finish(provider, instance, timing)
    await start_instance(provider, B, timing.long_lock)
    await finish(provider, B, timing)

    result = await deletion.delete_instance(A)

    assert result == DeleteResult(
        instances=4, executions=4, events=8, orchestrator_messages=0, worker_items=0
    )
    await assert_gone(provider, timing, A, "inst-a-1", "inst-a-2", "inst-a-1-1")
    await assert_intact(provider, timing, B)


# Rejects: the running check applied to the root only, not to its sub-orchestrations
async def test_tree_with_a_running_child_needs_force(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """A completed root whose child still runs is refused without force and deleted with it."""
    await start_instance(provider, A, timing.long_lock)
    await start_child(provider, A, "inst-a-child", timing)
    await finish(provider, A, timing)

    with pytest.raises(InstanceRunningError):
        await deletion.delete_instance(A)
    assert await provider.read("inst-a-child") == [started()]

    result = await deletion.delete_instance(A, force=True)
    assert (result.instances, result.executions, result.events) == (2, 2, 3)
    await assert_gone(provider, timing, A, "inst-a-child")


# Rejects: an in-flight turn whose ack, renew or abandon still works (recreating a zombie)
@pytest.mark.parametrize("operation", ["ack", "renew", "abandon"])
async def test_deleting_a_locked_instance_kills_its_lock_token(
    provider: Provider, deletion: Deletion, timing: Timing, operation: str
) -> None:
    """After a forced delete, the holder's ack, renew and abandon raise LockLostError."""
    await start_instance(provider, A, timing.long_lock)
    item = await lock_instance(provider, external_item(A), timing.long_lock)

    result = await deletion.delete_instance(A, force=True)

    assert result.orchestrator_messages == 1
    if operation == "ack":
        call = provider.ack_orchestration_item(
            item.lock_token,
            1,
            [scheduled(2)],
            [work_item(A, 2)],
            [external_item(B)],
            first_turn_metadata(),
        )
    elif operation == "renew":
        call = provider.renew_orchestration_item_lock(item.lock_token, timing.long_lock)
    else:
        call = provider.abandon_orchestration_item(item.lock_token)
    with pytest.raises(LockLostError):
        await call
    await assert_gone(provider, timing, A)
    assert await fetch(provider, timing.long_lock) is None, "the dead ack enqueued a message"


# Rejects: leased worker items that survive deletion, or whose ack still enqueues a completion
async def test_deleting_removes_leased_worker_items_and_kills_their_lease(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """A leased item of the deleted instance is gone; its ack raises and enqueues nothing."""
    await start_instance(provider, A, timing.long_lock)
    await commit_turn(provider, external_item(A), timing.long_lock, worker_items=[work_item(A, 2)])
    lease = await must_fetch_work(provider, timing.long_lock)

    result = await deletion.delete_instance(A, force=True)

    assert result.worker_items == 1
    completion = msg.ActivityCompletedMessage(instance=A, execution_id=1, id=2, result="r")
    with pytest.raises(LockLostError):
        await provider.ack_work_item(lease.lock_token, completion)
    await assert_gone(provider, timing, A)


# Rejects: deleted ids that keep a record, history or execution counter
async def test_deleted_id_starts_afresh(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """Starting a deleted id again gives no name, execution 1 and an empty history."""
    await start_instance(provider, A, timing.long_lock)
    await finish(provider, A, timing)
    await deletion.delete_instance(A)

    item = await lock_instance(provider, start_item(A, input="again"), timing.long_lock)

    assert (item.orchestration_name, item.version, item.execution_id, item.history) == (
        None,
        None,
        1,
        [],
    )
    assert (item.messages, item.attempt_count) == ([start_item(A, input="again")], 1)


# Rejects: deletions that match ids by prefix or pattern
async def test_deletion_leaves_instances_with_similar_ids_untouched(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """Deleting inst-a leaves inst-a2, inst-a% and inst- with all their data."""
    neighbours = ["inst-a2", "inst-a%", "inst-"]
    for instance in [A, *neighbours]:
        await start_instance(provider, instance, timing.long_lock)
        await finish(provider, instance, timing)

    result = await deletion.delete_instance(A)

    assert result.instances == 1
    for instance in neighbours:
        await assert_intact(provider, timing, instance)


# Rejects: a child whose first turn commits after its parent's deletion (an orphan)
async def test_child_acked_after_its_parent_was_deleted_is_not_kept(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """The child's naming ack succeeds but stores nothing; nothing of the child is left."""
    await start_instance(provider, A, timing.long_lock)
    await commit_turn(
        provider,
        external_item(A),
        timing.long_lock,
        orchestrator_items=[child_start(A, "inst-a-child")],
    )
    child = await must_fetch(provider, timing.long_lock)
    await provider.enqueue_for_orchestrator(external_item("inst-a-child"))
    await deletion.delete_instance(A, force=True)

    await provider.ack_orchestration_item(
        child.lock_token,
        1,
        [started()],
        [work_item("inst-a-child", 2)],
        [external_item(B)],
        ExecutionMetadata(orchestration_name="Child", parent_instance=A),
    )

    await assert_gone(provider, timing, A, "inst-a-child")
    assert await fetch(provider, timing.long_lock) is None, "the orphan's ack enqueued a message"
    with pytest.raises(NotFoundError):
        await deletion.delete_instance("inst-a-child", force=True)


# Rejects: a tree computed outside the deletion's unit, so a concurrent child is orphaned
async def test_child_created_during_its_parents_deletion_is_not_orphaned(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """Deleting the parent while the child's first turn commits leaves neither behind."""
    for round_ in range(5):
        parent, child = f"inst-p{round_}", f"inst-p{round_}-child"
        await start_instance(provider, parent, timing.long_lock)
        await commit_turn(
            provider,
            external_item(parent),
            timing.long_lock,
            orchestrator_items=[child_start(parent, child)],
        )
        item = await must_fetch(provider, timing.long_lock)
        meta = ExecutionMetadata(orchestration_name="Child", parent_instance=parent)

        results = await asyncio.gather(
            deletion.delete_instance(parent, force=True),
            provider.ack_orchestration_item(item.lock_token, 1, [started()], [], [], meta),
            return_exceptions=True,
        )

        deleted, acked = results
        assert isinstance(deleted, DeleteResult), f"delete_instance raised {deleted!r}"
        assert deleted.instances in (1, 2), deleted
        assert acked is None, f"the child's ack raised {acked!r}"
        await assert_gone(provider, timing, parent, child)


# Rejects: bulk deletion that ignores the id list, deletes running roots or counts wrongly
async def test_bulk_delete_by_ids_takes_only_terminal_roots(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """Ids A, B (completed, failed), D (running) and an unknown one: A and B go, C and D stay."""
    for instance, status in [(A, Status.COMPLETED), (B, Status.FAILED), ("inst-c", None)]:
        await start_instance(provider, instance, timing.long_lock)
        if status is not None:
            await finish(provider, instance, timing, status)
    await start_instance(provider, "inst-d", timing.long_lock)
    await finish(provider, "inst-c", timing)

    result = await deletion.delete_instances(
        InstanceFilter(instances=[A, B, "inst-d", "never-started"])
    )

    assert result == DeleteResult(
        instances=2, executions=2, events=4, orchestrator_messages=0, worker_items=0
    )
    await assert_gone(provider, timing, A, B)
    await assert_intact(provider, timing, "inst-c")
    assert await provider.read("inst-d") == [started()]


# Rejects: bulk deletion that picks sub-orchestrations or running roots, or leaves children
async def test_bulk_delete_takes_whole_trees_of_terminal_roots_only(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """The default filter deletes a completed root with its child; a running root stays."""
    await start_instance(provider, A, timing.long_lock)
    await start_child(provider, A, "inst-a-child", timing)
    await finish(provider, "inst-a-child", timing)
    await finish(provider, A, timing)
    await start_instance(provider, B, timing.long_lock)
    await start_child(provider, B, "inst-b-child", timing)
    await finish(provider, "inst-b-child", timing)

    result = await deletion.delete_instances(InstanceFilter())

    assert (result.instances, result.executions, result.events) == (2, 2, 4)
    await assert_gone(provider, timing, A, "inst-a-child")
    assert await provider.read("inst-b-child") == [started(), scheduled(90)]
    assert await deletion.delete_instances(InstanceFilter()) == NOTHING


# Rejects: a limit that is ignored or counted on deleted rows instead of roots
async def test_bulk_delete_honours_its_limit(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """Five completed roots, limit 2: calls delete 2, 2, 1, then 0 instances."""
    for n in range(5):
        await start_instance(provider, f"inst-{n}", timing.long_lock)
        await finish(provider, f"inst-{n}", timing)

    deleted = [
        (await deletion.delete_instances(InstanceFilter(limit=2))).instances for _ in range(4)
    ]

    assert deleted == [2, 2, 1, 0]
    await assert_gone(provider, timing, *[f"inst-{n}" for n in range(5)])


# Rejects: a completed_before cutoff compared inclusively or on the wrong time
async def test_bulk_delete_by_completion_time_is_strictly_before(
    provider: Provider, deletion: Deletion, clock: SuiteClock, timing: Timing
) -> None:
    """A completed before B; cutoff at B's completion deletes A only; one ms later, B."""
    await start_instance(provider, A, timing.long_lock)
    await start_instance(provider, B, timing.long_lock)
    await finish(provider, A, timing)
    await clock.advance(timing.epsilon)
    b_started = provider_now_ms(clock)
    await finish(provider, B, timing)
    b_done = provider_now_ms(clock)
    cutoff = b_started if clock.is_manual else b_started - 1

    first = await deletion.delete_instances(InstanceFilter(completed_before_ms=cutoff))
    second = await deletion.delete_instances(InstanceFilter(completed_before_ms=b_done + 1))

    assert (first.instances, second.instances) == (1, 1)
    await assert_gone(provider, timing, A, B)


# Rejects: bulk deletions that treat an empty id list as "everything"
async def test_bulk_delete_with_no_match_changes_nothing(
    provider: Provider, deletion: Deletion, timing: Timing
) -> None:
    """An empty id list, unknown ids or an old cutoff delete nothing and return zeros."""
    await start_instance(provider, A, timing.long_lock)
    await finish(provider, A, timing)

    results = [
        await deletion.delete_instances(InstanceFilter(instances=[])),
        await deletion.delete_instances(InstanceFilter(instances=["never-started", "inst-"])),
        await deletion.delete_instances(InstanceFilter(completed_before_ms=0)),
    ]

    assert results == [NOTHING, NOTHING, NOTHING]
    await assert_intact(provider, timing, A)
