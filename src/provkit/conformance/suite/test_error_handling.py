"""Error handling: dead lock tokens, duplicate events, unknown instances and corrupt data.

Every failure must be the contract's typed, permanent error and must leave the stored state
exactly as it was; the lock-token matrix of the contract is covered for both queues.
"""

from __future__ import annotations

from typing import cast

import pytest

from provkit.conformance._builders import (
    external_item,
    fetch,
    fetch_work,
    first_turn_metadata,
    must_fetch,
    scheduled,
    start_instance,
    start_item,
    started,
)
from provkit.conformance._queues import (
    GENUINE,
    OPERATIONS,
    QUEUES,
    A,
    Operation,
    Queue,
    assert_lock_lost,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import (
    Capability,
    CorruptDataError,
    DuplicateEventError,
    FaultInjection,
    Provider,
)
from provkit.contract.events import Event

pytestmark = [pytest.mark.error_handling, pytest.mark.asyncio]


# Rejects: token checks that accept unknown tokens or crash on odd strings with a foreign error
@pytest.mark.parametrize(
    "token",
    ["never-issued", "", "' OR '1'='1'; --", "\x00\n🔒"],
    ids=["plain", "empty", "sql", "control-chars"],
)
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("queue", QUEUES)
async def test_never_issued_token_is_rejected(
    provider: Provider, timing: Timing, queue: Queue, operation: Operation, token: str
) -> None:
    """A token no fetch returned raises LockLostError and leaves the waiting item untouched."""
    await queue.enqueue(provider)

    await assert_lock_lost(provider, timing, queue, operation, token)

    await queue.assert_pending(provider, timing, attempt=1)


# Rejects: ack, renew or abandon that only compare tokens and ignore that the lock expired
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("queue", QUEUES)
async def test_expired_token_nobody_retook_is_rejected(
    provider: Provider, clock: SuiteClock, timing: Timing, queue: Queue, operation: Operation
) -> None:
    """After expiry (not re-taken) ack, renew and abandon raise LockLostError; the item stays."""
    await queue.enqueue(provider)
    token = await queue.take(provider, timing.lock_timeout)
    await clock.advance(timing.lock_timeout + timing.epsilon)

    await assert_lock_lost(provider, timing, queue, operation, token)

    await queue.assert_pending(provider, timing, attempt=2)


# Rejects: a stale holder's token still working after another fetch took the item over
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("queue", QUEUES)
async def test_token_retaken_by_another_fetch_is_rejected(
    provider: Provider, clock: SuiteClock, timing: Timing, queue: Queue, operation: Operation
) -> None:
    """The old token of a re-taken item raises LockLostError; the new holder is unaffected."""
    await queue.enqueue(provider)
    old = await queue.take(provider, timing.lock_timeout)
    await clock.advance(timing.lock_timeout + timing.epsilon)
    new = await queue.take(provider, timing.long_lock)

    await assert_lock_lost(provider, timing, queue, operation, old)

    rivals = (await fetch(provider, timing.long_lock), await fetch_work(provider, timing.long_lock))
    assert rivals == (None, None), "the rejected call freed the new holder's lock or left effects"
    await queue.call(provider, timing, "ack", new, GENUINE)
    await queue.assert_done(provider, timing)


# Rejects: tokens that stay usable after their ack (double apply or resurrection)
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("queue", QUEUES)
async def test_token_already_acked_is_rejected(
    provider: Provider, timing: Timing, queue: Queue, operation: Operation
) -> None:
    """Reusing an acked token raises LockLostError; the ack's effects exist exactly once."""
    await queue.enqueue(provider)
    token = await queue.take(provider, timing.long_lock)
    await queue.call(provider, timing, "ack", token, GENUINE)

    await assert_lock_lost(provider, timing, queue, operation, token)

    await queue.assert_done(provider, timing)


# Rejects: tokens that stay usable after their abandon
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("queue", QUEUES)
async def test_token_already_abandoned_is_rejected(
    provider: Provider, timing: Timing, queue: Queue, operation: Operation
) -> None:
    """Reusing an abandoned token raises LockLostError; the item waits for its next delivery."""
    await queue.enqueue(provider)
    token = await queue.take(provider, timing.long_lock)
    await queue.call(provider, timing, "abandon", token, GENUINE)

    await assert_lock_lost(provider, timing, queue, operation, token)

    await queue.assert_pending(provider, timing, attempt=2)


DUPLICATES = [
    pytest.param((started(),), id="repeats-stored-event"),
    pytest.param((scheduled(2), scheduled(3), scheduled(3)), id="repeated-within-call"),
]


# Rejects: append_history that overwrites, skips or partly appends duplicate event ids
@pytest.mark.parametrize("events", DUPLICATES)
async def test_append_history_rejects_duplicate_event_ids(
    provider: Provider, timing: Timing, events: tuple[Event, ...]
) -> None:
    """A duplicate event id raises a permanent DuplicateEventError and appends nothing."""
    await start_instance(provider, A, timing.long_lock)

    with pytest.raises(DuplicateEventError) as raised:
        await provider.append_history(A, 1, events)

    assert (raised.value.retryable, raised.value.operation) == (False, "append_history")
    assert await provider.read(A) == [started()]
    await provider.append_history(A, 1, [scheduled(2)])
    assert await provider.read(A) == [started(), scheduled(2)]


# Rejects: ack that overwrites or silently drops an event whose id is already stored
@pytest.mark.parametrize("events", DUPLICATES)
async def test_ack_rejects_duplicate_event_ids(
    provider: Provider, timing: Timing, events: tuple[Event, ...]
) -> None:
    """An ack reusing an event id raises a permanent DuplicateEventError; history is unchanged."""
    await start_instance(provider, A, timing.long_lock)
    await provider.enqueue_for_orchestrator(external_item(A))
    item = await must_fetch(provider, timing.long_lock)

    with pytest.raises(DuplicateEventError) as raised:
        await provider.ack_orchestration_item(
            item.lock_token, 1, events, [], [], first_turn_metadata()
        )

    assert (raised.value.retryable, raised.value.operation) == (False, "ack_orchestration_item")
    assert await provider.read(A) == [started()]


# Rejects: reads of unknown ids that raise, or that match other instances' rows
@pytest.mark.parametrize(
    "instance",
    ["never-started", "", "inst-a'; DROP TABLE history; --", "inst-a%", "ünï 🙂\x00\n"],
    ids=["plain", "empty", "sql", "like-pattern", "unicode-control"],
)
async def test_reading_an_unknown_instance_returns_empty_lists(
    provider: Provider, timing: Timing, instance: str
) -> None:
    """read, read_execution and list_executions of an unknown instance all return []."""
    await start_instance(provider, A, timing.long_lock)

    assert await provider.read(instance) == []
    assert await provider.read_execution(instance, 1) == []
    assert await provider.list_executions(instance) == []


# Rejects: read_execution that falls back to another execution of a known instance
async def test_reading_an_unknown_execution_returns_an_empty_list(
    provider: Provider, timing: Timing
) -> None:
    """read_execution of an execution id the instance never had returns []."""
    await start_instance(provider, A, timing.long_lock)

    assert await provider.read_execution(A, 2) == []
    assert await provider.list_executions(A) == [1]


@pytest.fixture
def faults(provider: Provider) -> FaultInjection:
    """The provider's fault-injection hook; skips tests of providers that declare none."""
    if Capability.FAULT_INJECTION not in provider.capabilities:
        pytest.skip("provider does not declare Capability.FAULT_INJECTION")
    return cast(FaultInjection, provider)


# Rejects: fetch that raises on undecodable history (leaking its lock) or hides the problem
async def test_fetch_reports_corrupt_history_instead_of_raising(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """Fetching an instance with corrupt history returns the batch with history_error set."""
    await start_instance(provider, A, timing.long_lock)
    await faults.corrupt_history(A, 1)
    await provider.enqueue_for_orchestrator(external_item(A))

    item = await must_fetch(provider, timing.long_lock)

    assert (item.instance, item.execution_id, item.messages) == (A, 1, [external_item(A)])
    assert isinstance(item.history_error, str), "history_error is not set"
    assert item.history_error != ""
    assert item.history == []


# Rejects: reads that return garbage, partial history or a foreign exception for corrupt data
async def test_reading_corrupt_history_raises_corrupt_data_error(
    provider: Provider, faults: FaultInjection, timing: Timing
) -> None:
    """read and read_execution of a corrupt execution raise a permanent CorruptDataError."""
    await start_instance(provider, A, timing.long_lock)
    await faults.corrupt_history(A, 1)

    with pytest.raises(CorruptDataError) as from_read:
        await provider.read(A)
    with pytest.raises(CorruptDataError) as from_read_execution:
        await provider.read_execution(A, 1)

    assert from_read.value.retryable is False
    assert from_read_execution.value.retryable is False


# Rejects: a fetch that keeps failing on one corrupt instance and so starves the others
async def test_corrupt_history_does_not_block_other_instances(
    provider: Provider, faults: FaultInjection, clock: SuiteClock, timing: Timing
) -> None:
    """With A's history corrupt and its message oldest, B is still fetched and acked normally."""
    await start_instance(provider, A, timing.long_lock)
    await faults.corrupt_history(A, 1)
    await provider.enqueue_for_orchestrator(external_item(A))
    await clock.advance(timing.epsilon)
    await provider.enqueue_for_orchestrator(start_item("inst-b"))

    corrupt = await must_fetch(provider, timing.long_lock)
    healthy = await must_fetch(provider, timing.long_lock)

    assert (corrupt.instance, healthy.instance) == (A, "inst-b")
    assert healthy.history_error is None
    assert healthy.messages == [start_item("inst-b")]
    await provider.ack_orchestration_item(
        healthy.lock_token, 1, [started()], [], [], first_turn_metadata()
    )
    assert await provider.read("inst-b") == [started()]
