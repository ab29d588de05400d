"""Prune: old executions of an instance deleted by ``keep_last`` and ``completed_before_ms``.

Never the current execution, never a running one; exact counts; the record, the queues and
every other instance stay as they were.
"""

from __future__ import annotations

import pytest

from provkit.conformance._builders import (
    commit_turn,
    external_item,
    fetch_work,
    must_fetch_work,
    provider_now_ms,
    scheduled,
    start_item,
    start_next_execution,
    started,
    work_item,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import (
    Capability,
    ExecutionMetadata,
    NotFoundError,
    Provider,
    Prune,
    PruneResult,
    Status,
)
from provkit.contract import events as ev

pytestmark = [pytest.mark.prune, pytest.mark.capability(Capability.PRUNE), pytest.mark.asyncio]

A = "inst-a"
B = "inst-b"


def history_of(execution_id: int) -> list[ev.Event]:
    """Execution k holds k events: its start and k - 1 scheduled activities."""
    return [started(), *(scheduled(n) for n in range(2, execution_id + 1))]


async def end_execution(
    provider: Provider, instance: str, execution_id: int, timing: Timing, status: Status
) -> None:
    """Ack a turn of ``execution_id`` that stores ``status`` and no events."""
    await commit_turn(
        provider,
        external_item(instance),
        timing.long_lock,
        execution_id=execution_id,
        metadata=ExecutionMetadata(status=status, output=f"end of {execution_id}"),
    )


async def chain(
    provider: Provider,
    instance: str,
    timing: Timing,
    count: int,
    clock: SuiteClock | None = None,
) -> list[int]:
    """Executions 1..count (k with k events); all but the last end CONTINUED_AS_NEW.

    With ``clock``, time moves on between completions. Returns the provider's "now" right
    after each completion.
    """
    completed_at = []
    await commit_turn(
        provider,
        start_item(instance),
        timing.long_lock,
        history_of(1),
        metadata=ExecutionMetadata(orchestration_name="Chain", orchestration_version="1"),
    )
    for execution_id in range(2, count + 1):
        await end_execution(provider, instance, execution_id - 1, timing, Status.CONTINUED_AS_NEW)
        if clock is not None:
            completed_at.append(provider_now_ms(clock))
            await clock.advance(timing.epsilon)
        await start_next_execution(
            provider, instance, execution_id, history_of(execution_id), timing.long_lock
        )
    return completed_at


# Rejects: keep_last that keeps the oldest executions, or counts events wrongly
async def test_keep_last_keeps_the_newest_executions(
    provider: Provider, pruning: Prune, timing: Timing
) -> None:
    """Four executions, keep_last 2: executions 1 and 2 (1 + 2 events) go, 3 and 4 stay."""
    await chain(provider, A, timing, 4)

    result = await pruning.prune_executions(A, keep_last=2)

    assert result == PruneResult(executions=2, events=3)
    assert await provider.list_executions(A) == [3, 4]
    assert await provider.read_execution(A, 1) == []
    assert await provider.read_execution(A, 3) == history_of(3)
    assert await provider.read(A) == history_of(4)


# Rejects: keep_last values of 1 or less that delete the current execution
@pytest.mark.parametrize("keep_last", [1, 0, -1, None])
async def test_keep_last_of_one_or_less_keeps_only_the_current_execution(
    provider: Provider, pruning: Prune, timing: Timing, keep_last: int | None
) -> None:
    """keep_last 1, 0, -1 or None on four executions leaves only execution 4."""
    await chain(provider, A, timing, 4)

    result = await pruning.prune_executions(A, keep_last=keep_last)

    assert result == PruneResult(executions=3, events=6)
    assert await provider.list_executions(A) == [4]
    assert await provider.read(A) == history_of(4)


# Rejects: a completed current execution pruned because it is complete
async def test_current_execution_is_never_pruned_even_when_complete(
    provider: Provider, pruning: Prune, timing: Timing
) -> None:
    """Three executions, the current one COMPLETED: prune deletes 1 and 2, keeps 3."""
    await chain(provider, A, timing, 3)
    await end_execution(provider, A, 3, timing, Status.COMPLETED)

    result = await pruning.prune_executions(A, keep_last=0)

    assert result == PruneResult(executions=2, events=3)
    assert await provider.list_executions(A) == [3]


# Rejects: pruning executions that are still running
async def test_running_old_execution_is_not_pruned(
    provider: Provider, pruning: Prune, timing: Timing
) -> None:
    """An old execution never given a terminal status stays; its completed peer goes."""
    await chain(provider, A, timing, 3)
    await end_execution(provider, A, 2, timing, Status.RUNNING)

    result = await pruning.prune_executions(A)

    assert result == PruneResult(executions=1, events=1)
    assert await provider.list_executions(A) == [2, 3]


# Rejects: completed_before compared inclusively or ignored
async def test_completed_before_prunes_strictly_earlier_completions(
    provider: Provider, pruning: Prune, clock: SuiteClock, timing: Timing
) -> None:
    """A cutoff above execution 1's completion but not execution 2's prunes execution 1 only."""
    done = await chain(provider, A, timing, 3, clock)

    first = await pruning.prune_executions(A, completed_before_ms=done[0] + 1)
    second = await pruning.prune_executions(A, completed_before_ms=done[1] + 1)

    assert first == PruneResult(executions=1, events=1)
    assert second == PruneResult(executions=1, events=2)
    assert await provider.list_executions(A) == [3]


# Rejects: a cutoff that also takes executions completed exactly at it
@pytest.mark.capability(Capability.CLOCK)
async def test_completed_before_excludes_an_execution_completed_at_the_cutoff(
    provider: Provider, pruning: Prune, clock: SuiteClock, timing: Timing
) -> None:
    """With the clock injected: a cutoff equal to execution 1's completion time keeps it."""
    done = await chain(provider, A, timing, 2, clock)

    at_cutoff = await pruning.prune_executions(A, completed_before_ms=done[0])
    one_later = await pruning.prune_executions(A, completed_before_ms=done[0] + 1)

    assert (at_cutoff, one_later) == (PruneResult(), PruneResult(executions=1, events=1))
    assert await provider.list_executions(A) == [2]


# Rejects: keep_last and completed_before applied as "either" instead of "both"
async def test_keep_last_and_completed_before_must_both_allow_a_deletion(
    provider: Provider, pruning: Prune, clock: SuiteClock, timing: Timing
) -> None:
    """keep_last 2 with a cutoff after execution 1 only: execution 1 goes; 2 stays (too new)."""
    done = await chain(provider, A, timing, 5, clock)

    result = await pruning.prune_executions(A, keep_last=2, completed_before_ms=done[0] + 1)

    assert result == PruneResult(executions=1, events=1)
    assert await provider.list_executions(A) == [2, 3, 4, 5]
    again = await pruning.prune_executions(A, keep_last=2, completed_before_ms=done[3] + 1)
    assert again == PruneResult(executions=2, events=5)
    assert await provider.list_executions(A) == [4, 5]


# Rejects: prune of an unknown instance that succeeds silently or touches others
@pytest.mark.parametrize("instance", ["never-started", "inst-unnamed", "inst-a%"])
async def test_prune_without_a_record_raises_not_found(
    provider: Provider, pruning: Prune, timing: Timing, instance: str
) -> None:
    """Unknown ids and instances without a record raise NotFoundError; A keeps everything."""
    await chain(provider, A, timing, 2)
    await commit_turn(provider, start_item("inst-unnamed"), timing.long_lock, [started()])

    with pytest.raises(NotFoundError):
        await pruning.prune_executions(instance)

    assert await provider.list_executions(A) == [1, 2]
    assert await provider.list_executions("inst-unnamed") == [1]


# Rejects: prunes that delete queued work of old executions or other instances' executions
async def test_prune_leaves_queues_and_other_instances_alone(
    provider: Provider, pruning: Prune, timing: Timing
) -> None:
    """Pruning A leaves B's executions and A's queued worker item; a second prune finds none."""
    await chain(provider, B, timing, 2)
    await chain(provider, A, timing, 2)
    await commit_turn(
        provider, external_item(A), timing.long_lock, execution_id=2, worker_items=[work_item(A, 7)]
    )

    first = await pruning.prune_executions(A)
    second = await pruning.prune_executions(A)

    assert (first, second) == (PruneResult(executions=1, events=1), PruneResult())
    assert await provider.list_executions(B) == [1, 2]
    lease = await must_fetch_work(provider, timing.long_lock)
    assert lease.item == work_item(A, 7)
    assert await fetch_work(provider, timing.long_lock) is None
