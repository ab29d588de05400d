"""Executions of one instance: each keeps its own history and the latest one is current.

Continue-as-new acks execution id + 1; the provider creates it, keeps the old history,
reports the new id from then on, and never moves the current execution backwards.
"""

from __future__ import annotations

import pytest

from provkit.conformance._builders import (
    ack,
    activity_done,
    commit_turn,
    completed,
    continue_as_new_item,
    continued_as_new,
    external_event,
    external_item,
    fetch,
    first_turn_metadata,
    lock_instance,
    orchestration_completed,
    scheduled,
    start_instance,
    start_item,
    start_next_execution,
    started,
)
from provkit.conformance._timing import Timing
from provkit.contract import ExecutionMetadata, Provider, Status

pytestmark = [pytest.mark.multi_execution, pytest.mark.asyncio]


# Rejects: executions sharing one history, or read() returning the first execution
@pytest.mark.foundation("read_execution")
async def test_each_execution_keeps_its_own_history(provider: Provider, timing: Timing) -> None:
    """Execution 1 (3 events) and 2 (2 events) read back separately; read() shows execution 2."""
    first = [started(), scheduled(2), continued_as_new(3)]
    second = [started(input="next"), scheduled(2, input="second")]
    await commit_turn(
        provider,
        start_item("inst-1"),
        timing.long_lock,
        first,
        metadata=first_turn_metadata(Status.CONTINUED_AS_NEW, "next"),
    )
    await start_next_execution(provider, "inst-1", 2, second, timing.long_lock)

    assert await provider.read_execution("inst-1", 1) == first, (
        "read_execution(1) did not return execution 1's events"
    )
    assert await provider.read_execution("inst-1", 2) == second, (
        "read_execution(2) did not return execution 2's events"
    )
    assert await provider.read("inst-1") == second, "read() did not return execution 2's events"
    assert await provider.list_executions("inst-1") == [1, 2], (
        "list_executions did not return [1, 2]"
    )


# Rejects: read() that does not follow the newest execution as it is created
async def test_read_follows_the_latest_execution(provider: Provider, timing: Timing) -> None:
    """read() returns execution 1 until execution 2 exists, then execution 2."""
    await commit_turn(
        provider,
        start_item("inst-1"),
        timing.long_lock,
        [started(), continued_as_new(2)],
        metadata=first_turn_metadata(Status.CONTINUED_AS_NEW, "next"),
    )
    assert await provider.read("inst-1") == [started(), continued_as_new(2)]
    assert await provider.read_execution("inst-1", 2) == []

    await start_next_execution(provider, "inst-1", 2, [started(input="next")], timing.long_lock)

    assert await provider.read("inst-1") == [started(input="next")]
    assert await provider.read_execution("inst-1", 1) == [started(), continued_as_new(2)]
    assert await provider.read_execution("inst-1", 3) == []


# Rejects: a fetched execution_id copied from the start message instead of the instance
async def test_fetch_reports_the_current_execution_not_the_message_id(
    provider: Provider, timing: Timing
) -> None:
    """Fetch reports execution 1 before any record and 2 after an ack of execution 2."""
    item = await lock_instance(provider, start_item("inst-1", execution_id=3), timing.long_lock)
    assert item.execution_id == 1, "fetch reported the start message's execution id"
    await ack(provider, item, [started()], execution_id=1, metadata=first_turn_metadata())

    turn = await start_next_execution(
        provider, "inst-1", 2, [started(input="next")], timing.long_lock
    )
    assert turn.execution_id == 1, "execution 2 was reported before any ack created it"

    later = await lock_instance(provider, start_item("inst-1", execution_id=1), timing.long_lock)
    assert later.execution_id == 2
    assert later.history == [started(input="next")]


# Rejects: continue-as-new that loses the old execution or never becomes current
async def test_continue_as_new_starts_the_next_execution_and_keeps_the_old_one(
    provider: Provider, timing: Timing
) -> None:
    """Acking execution_id + 1 creates it; later fetches report it with a clean history."""
    await start_instance(provider, "inst-1", timing.long_lock)
    ending = [external_event(2), continued_as_new(3)]
    await commit_turn(
        provider,
        external_item("inst-1"),
        timing.long_lock,
        ending,
        metadata=ExecutionMetadata(status=Status.CONTINUED_AS_NEW, output="next"),
        orchestrator_items=[continue_as_new_item("inst-1")],
    )

    handover = await fetch(provider, timing.long_lock)
    assert handover is not None, "the ack's ContinueAsNew message was not fetchable"
    assert (handover.instance, handover.execution_id) == ("inst-1", 1)
    assert handover.messages == [continue_as_new_item("inst-1")]
    assert handover.history == [started(), *ending]
    await ack(
        provider,
        handover,
        [started(input="next")],
        execution_id=2,
        metadata=first_turn_metadata(),
    )

    later = await lock_instance(provider, external_item("inst-1"), timing.long_lock)
    assert later.execution_id == 2, "fetch did not report the execution continue-as-new created"
    assert later.history == [started(input="next")], "the new execution did not start clean"
    assert await provider.read_execution("inst-1", 1) == [started(), *ending]
    assert await provider.list_executions("inst-1") == [1, 2]


# Rejects: executions that overwrite or merge each other's events, or leak across instances
async def test_three_executions_keep_their_own_events(provider: Provider, timing: Timing) -> None:
    """Three executions each keep their events (gaps in ids included); read() shows the third."""
    histories = {
        1: [started(input="one"), continued_as_new(2, "two")],
        2: [started(input="two"), scheduled(2), continued_as_new(3, "three")],
        3: [started(input="three"), scheduled(100), completed(101, 100)],
    }
    await commit_turn(
        provider,
        start_item("inst-2"),
        timing.long_lock,
        [started(input="other")],
        metadata=first_turn_metadata(),
    )
    await commit_turn(
        provider,
        start_item("inst-1"),
        timing.long_lock,
        histories[1],
        metadata=first_turn_metadata(Status.CONTINUED_AS_NEW, "two"),
    )
    for execution_id in (2, 3):
        await start_next_execution(
            provider, "inst-1", execution_id, histories[execution_id], timing.long_lock
        )

    for execution_id, history in histories.items():
        assert await provider.read_execution("inst-1", execution_id) == history, (
            f"read_execution('inst-1', {execution_id}) returned the wrong events"
        )
    assert await provider.read("inst-1") == histories[3]
    assert await provider.list_executions("inst-1") == [1, 2, 3]
    assert await provider.read("inst-2") == [started(input="other")]
    assert await provider.list_executions("inst-2") == [1]


# Rejects: an ack for an older execution that makes it current again
async def test_current_execution_never_moves_backwards(provider: Provider, timing: Timing) -> None:
    """A late ack for execution 1 appends there, but execution 2 stays current."""
    await commit_turn(
        provider,
        start_item("inst-1"),
        timing.long_lock,
        [started(), scheduled(2), continued_as_new(3)],
        metadata=first_turn_metadata(Status.CONTINUED_AS_NEW, "next"),
    )
    await start_next_execution(provider, "inst-1", 2, [started(input="next")], timing.long_lock)

    stale = await commit_turn(
        provider,
        activity_done("inst-1", 2, execution_id=1),
        timing.long_lock,
        [completed(4, 2)],
        execution_id=1,
    )
    assert stale.execution_id == 2

    assert await provider.read_execution("inst-1", 1) == [
        started(),
        scheduled(2),
        continued_as_new(3),
        completed(4, 2),
    ]
    assert await provider.read("inst-1") == [started(input="next")]
    later = await lock_instance(provider, external_item("inst-1"), timing.long_lock)
    assert later.execution_id == 2, "an ack for execution 1 moved the current execution back"
    assert later.history == [started(input="next")]


# Rejects: an ack that only creates an execution when it carries events
async def test_ack_creates_the_named_execution_even_with_an_empty_delta(
    provider: Provider, timing: Timing
) -> None:
    """An ack for execution 2 with no events still creates it and makes it current."""
    await start_instance(provider, "inst-1", timing.long_lock)

    await commit_turn(provider, continue_as_new_item("inst-1"), timing.long_lock, execution_id=2)

    assert await provider.list_executions("inst-1") == [1, 2]
    assert await provider.read_execution("inst-1", 2) == []
    assert await provider.read("inst-1") == []
    later = await lock_instance(provider, external_item("inst-1"), timing.long_lock)
    assert (later.execution_id, later.history) == (2, [])


# Rejects: a provider that numbers executions itself instead of using the runtime's ids
async def test_execution_ids_are_stored_as_given(provider: Provider, timing: Timing) -> None:
    """Acking execution 3 right after execution 1 creates execution 3, not 2."""
    await start_instance(provider, "inst-1", timing.long_lock)

    await start_next_execution(provider, "inst-1", 3, [started(input="next")], timing.long_lock)

    assert await provider.list_executions("inst-1") == [1, 3]
    assert await provider.read_execution("inst-1", 2) == []
    assert await provider.read_execution("inst-1", 3) == [started(input="next")]
    later = await lock_instance(provider, external_item("inst-1"), timing.long_lock)
    assert later.execution_id == 3


# Rejects: terminal events or outcomes written to the wrong execution
async def test_terminal_events_stay_with_their_execution(
    provider: Provider, timing: Timing
) -> None:
    """Execution 1 ends continued-as-new and 2 completed; each keeps only its own ending."""
    await commit_turn(
        provider,
        start_item("inst-1"),
        timing.long_lock,
        [started(), continued_as_new(2)],
        metadata=first_turn_metadata(Status.CONTINUED_AS_NEW, "next"),
    )
    await start_next_execution(provider, "inst-1", 2, [started(input="next")], timing.long_lock)

    finishing = await commit_turn(
        provider,
        external_item("inst-1"),
        timing.long_lock,
        [external_event(2), orchestration_completed(3, "done")],
        metadata=ExecutionMetadata(status=Status.COMPLETED, output="done"),
    )

    assert (finishing.execution_id, finishing.history) == (2, [started(input="next")])
    assert await provider.read_execution("inst-1", 1) == [started(), continued_as_new(2)]
    assert await provider.read_execution("inst-1", 2) == [
        started(input="next"),
        external_event(2),
        orchestration_completed(3, "done"),
    ]
    assert await provider.list_executions("inst-1") == [1, 2]


# -- append_history and the current execution -------------------------------------------


# Rejects: append_history into a higher execution that does not make it current
async def test_append_history_to_a_higher_execution_makes_it_current(
    provider: Provider, timing: Timing
) -> None:
    """Appending to execution 2 creates it and makes it current for read() and fetch."""
    await start_instance(provider, "inst-1", timing.long_lock)

    await provider.append_history("inst-1", 2, [started(input="two")])

    assert await provider.list_executions("inst-1") == [1, 2]
    assert await provider.read("inst-1") == [started(input="two")]
    assert await provider.read_execution("inst-1", 1) == [started()]
    later = await lock_instance(provider, external_item("inst-1"), timing.long_lock)
    assert (later.execution_id, later.history) == (2, [started(input="two")])


# Rejects: append_history into an older execution that moves the current one back
async def test_append_history_to_a_lower_execution_keeps_the_current_one(
    provider: Provider, timing: Timing
) -> None:
    """Appending to execution 1 while 2 is current adds the events there; 2 stays current."""
    await start_instance(provider, "inst-1", timing.long_lock)
    await start_next_execution(provider, "inst-1", 2, [started(input="two")], timing.long_lock)

    await provider.append_history("inst-1", 1, [scheduled(2)])

    assert await provider.read_execution("inst-1", 1) == [started(), scheduled(2)]
    assert await provider.read("inst-1") == [started(input="two")]
    later = await lock_instance(provider, external_item("inst-1"), timing.long_lock)
    assert later.execution_id == 2, "append_history moved the current execution backwards"


# Rejects: append_history that creates an execution only when it carries events
async def test_append_history_without_events_still_creates_the_execution(
    provider: Provider, timing: Timing
) -> None:
    """Appending no events to execution 3 creates it and makes it current, with no history."""
    await start_instance(provider, "inst-1", timing.long_lock)

    await provider.append_history("inst-1", 3, [])

    assert await provider.list_executions("inst-1") == [1, 3]
    assert await provider.read("inst-1") == []
    later = await lock_instance(provider, external_item("inst-1"), timing.long_lock)
    assert (later.execution_id, later.history) == (3, [])


# Rejects: append_history that creates an instance record, or refuses unknown instances
@pytest.mark.foundation("append_history")
async def test_append_history_to_an_unknown_instance_creates_no_record(
    provider: Provider, timing: Timing
) -> None:
    """Appending to a new instance stores the execution's events but no name or version."""
    await provider.append_history("inst-new", 1, [started(), scheduled(2)])

    assert await provider.read("inst-new") == [started(), scheduled(2)], (
        "read() did not return the events append_history stored"
    )
    assert await provider.list_executions("inst-new") == [1], (
        "list_executions did not list the execution append_history created"
    )
    item = await lock_instance(provider, external_item("inst-new"), timing.long_lock)
    assert (item.orchestration_name, item.version) == (None, None), (
        "append_history created an instance record"
    )
    assert (item.execution_id, item.history) == (1, [started(), scheduled(2)]), (
        "fetch_orchestration_item did not carry the history append_history stored"
    )


# Rejects: list_executions in creation order rather than ascending
async def test_list_executions_is_ascending_whatever_the_creation_order(
    provider: Provider, timing: Timing
) -> None:
    """Executions 3 then 2 created after 1 are listed as [1, 2, 3]; 3 stays current."""
    await start_instance(provider, "inst-1", timing.long_lock)

    await provider.append_history("inst-1", 3, [started(input="three")])
    await provider.append_history("inst-1", 2, [started(input="two")])

    assert await provider.list_executions("inst-1") == [1, 2, 3]
    assert await provider.read("inst-1") == [started(input="three")]


# Rejects: history returned in storage order, or with event ids sorted as text
async def test_history_comes_back_in_event_id_order(provider: Provider, timing: Timing) -> None:
    """Events 10 and 2 appended after event 1 read back as 1, 2, 10 from every read."""
    await start_instance(provider, "inst-1", timing.long_lock)

    await provider.append_history("inst-1", 1, [scheduled(10), scheduled(2)])

    expected = [started(), scheduled(2), scheduled(10)]
    assert await provider.read("inst-1") == expected
    assert await provider.read_execution("inst-1", 1) == expected
    item = await lock_instance(provider, external_item("inst-1"), timing.long_lock)
    assert item.history == expected
