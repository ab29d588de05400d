"""Instance creation: a record exists only after an ack that names the orchestration.

Enqueuing, fetching, acks without ``metadata.orchestration_name`` and failed acks never
create one; the record's fields come from the naming ack. Observed through ``Management``.
"""

from __future__ import annotations

import pytest

from provkit.conformance._builders import (
    ORCHESTRATION,
    VERSION,
    ack,
    commit_turn,
    first_turn_metadata,
    lock_instance,
    must_fetch,
    provider_now_ms,
    scheduled,
    start_item,
    started,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import (
    Capability,
    ExecutionMetadata,
    InstanceInfo,
    LockLostError,
    Management,
    NotFoundError,
    Provider,
    Status,
)
from provkit.contract import messages as msg

pytestmark = [
    pytest.mark.instance_creation,
    pytest.mark.capability(Capability.MANAGEMENT),
    pytest.mark.asyncio,
]

A = "inst-a"
CHILD = "inst-a-child"
PARENT = "inst-p"


async def assert_no_record(management: Management, instance: str) -> None:
    """get_instance_info raises NotFoundError and list_instances does not list ``instance``."""
    with pytest.raises(NotFoundError):
        await management.get_instance_info(instance)
    page = await management.list_instances(limit=100)
    assert instance not in page.instances, f"list_instances lists {instance!r} without a record"


# Rejects: enqueue or fetch that creates the instance record
async def test_no_record_exists_before_the_first_naming_ack(
    provider: Provider, management: Management, clock: SuiteClock, timing: Timing
) -> None:
    """A queued and fetched start creates no record; the fetch reports no name and no history."""
    await provider.enqueue_for_orchestrator(start_item(A))
    await assert_no_record(management, A)

    item = await must_fetch(provider, timing.long_lock)

    assert (item.instance, item.orchestration_name, item.version) == (A, None, None)
    assert (item.execution_id, item.history) == (1, [])
    await assert_no_record(management, A)
    before = provider_now_ms(clock)
    await ack(provider, item, [started()], metadata=first_turn_metadata())
    after = provider_now_ms(clock)
    info = await management.get_instance_info(A)
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
    assert before <= info.created_at_ms <= after
    assert (await management.list_instances()).instances == [A]


# Rejects: a record created by any ack, named or not
async def test_ack_without_an_orchestration_name_creates_no_record(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """An ack whose metadata names no orchestration stores history and status but no record."""
    await commit_turn(
        provider,
        start_item(A),
        timing.long_lock,
        [started(), scheduled(2)],
        metadata=ExecutionMetadata(status=Status.COMPLETED, output="done"),
    )

    await assert_no_record(management, A)
    execution = await management.get_execution_info(A, 1)
    assert (execution.status, execution.output, execution.event_count) == (
        Status.COMPLETED,
        "done",
        2,
    )
    assert await provider.list_executions(A) == [1]


# Rejects: a failed ack that still creates the record it carried
async def test_ack_with_a_dead_token_creates_no_record(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """An ack rejected with LockLostError leaves no record, execution or history behind."""
    item = await lock_instance(provider, start_item(A), timing.long_lock)
    await provider.abandon_orchestration_item(item.lock_token)

    with pytest.raises(LockLostError):
        await ack(provider, item, [started()], metadata=first_turn_metadata())

    await assert_no_record(management, A)
    assert await provider.list_executions(A) == []


# Rejects: a record whose version is invented, or that a later naming ack cannot rewrite
async def test_later_naming_ack_rewrites_name_version_and_parent(
    provider: Provider, management: Management, clock: SuiteClock, timing: Timing
) -> None:
    """A None version is stored as None; a later naming ack rewrites name, version, parent."""
    await commit_turn(
        provider, start_item(PARENT), timing.long_lock, [started()], metadata=first_turn_metadata()
    )
    first = ExecutionMetadata(orchestration_name=ORCHESTRATION, orchestration_version=None)
    await commit_turn(provider, start_item(A), timing.long_lock, [started()], metadata=first)
    created = await management.get_instance_info(A)
    assert (created.orchestration_name, created.orchestration_version) == (ORCHESTRATION, None)

    await clock.advance(timing.epsilon)
    renamed = ExecutionMetadata(
        orchestration_name="Renamed", orchestration_version="3.0.0", parent_instance=PARENT
    )
    signal = msg.ExternalRaised(instance=A, name="e", data="d")
    await commit_turn(provider, signal, timing.long_lock, [scheduled(2)], metadata=renamed)

    info = await management.get_instance_info(A)
    assert (info.orchestration_name, info.orchestration_version, info.parent_instance) == (
        "Renamed",
        "3.0.0",
        PARENT,
    )
    assert info.created_at_ms == created.created_at_ms
    assert info.updated_at_ms > created.updated_at_ms


# Rejects: child records created by the parent's ack, or missing their parent link
async def test_sub_orchestration_record_names_its_parent(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """A child's start sent by its parent's ack creates no record until the child's own ack."""
    child_start = msg.StartOrchestration(
        instance=CHILD, orchestration="Child", input="in", version="1.5.0", parent_instance=A
    )
    await commit_turn(
        provider,
        start_item(A),
        timing.long_lock,
        [started()],
        metadata=first_turn_metadata(),
        orchestrator_items=[child_start],
    )
    await assert_no_record(management, CHILD)

    child = await must_fetch(provider, timing.long_lock)
    assert (child.instance, child.orchestration_name) == (CHILD, None)
    assert child.messages == [child_start]
    await ack(
        provider,
        child,
        [started()],
        metadata=ExecutionMetadata(
            orchestration_name="Child", orchestration_version="1.5.0", parent_instance=A
        ),
    )

    info = await management.get_instance_info(CHILD)
    assert (info.orchestration_name, info.orchestration_version, info.parent_instance) == (
        "Child",
        "1.5.0",
        A,
    )
    assert (await management.get_instance_info(A)).parent_instance is None
    assert sorted((await management.list_instances()).instances) == [A, CHILD]


# Rejects: an ack of an instance with executions but no record that fails to create it
async def test_record_created_by_a_later_turn_reports_the_current_execution(
    provider: Provider, management: Management, timing: Timing
) -> None:
    """Executions written without a name get a record from the first naming ack, at exec 2."""
    await commit_turn(provider, start_item(A), timing.long_lock, [started()])
    await assert_no_record(management, A)

    await commit_turn(
        provider,
        msg.ContinueAsNew(instance=A, orchestration=ORCHESTRATION, input="next"),
        timing.long_lock,
        [started(input="next")],
        execution_id=2,
        metadata=first_turn_metadata(),
    )

    info = await management.get_instance_info(A)
    assert (info.current_execution_id, info.status) == (2, Status.RUNNING)
    assert await provider.list_executions(A) == [1, 2]


# Rejects: created_at that moves, or updated_at that does not follow acks
async def test_record_times_come_from_the_creating_and_latest_acks(
    provider: Provider, management: Management, clock: SuiteClock, timing: Timing
) -> None:
    """created_at is the creating ack's now; updated_at the latest ack's, never a fetch's."""
    before = provider_now_ms(clock)
    await commit_turn(
        provider, start_item(A), timing.long_lock, [started()], metadata=first_turn_metadata()
    )
    after = provider_now_ms(clock)
    created = await management.get_instance_info(A)
    assert before <= created.created_at_ms <= after
    assert created.updated_at_ms == created.created_at_ms

    await clock.advance(timing.epsilon)
    await provider.enqueue_for_orchestrator(msg.ExternalRaised(instance=A, name="e", data="d"))
    item = await must_fetch(provider, timing.long_lock)
    await provider.abandon_orchestration_item(item.lock_token)
    untouched = await management.get_instance_info(A)
    assert untouched.updated_at_ms == created.updated_at_ms

    await clock.advance(timing.epsilon)
    before = provider_now_ms(clock)
    item = await must_fetch(provider, timing.long_lock)
    await ack(provider, item, [scheduled(2)])
    after = provider_now_ms(clock)
    touched = await management.get_instance_info(A)
    assert touched.created_at_ms == created.created_at_ms
    assert before <= touched.updated_at_ms <= after
    assert touched.updated_at_ms > created.updated_at_ms
