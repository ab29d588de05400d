"""The replay cache: what it keeps, what it evicts, and that neither changes an outcome."""

from __future__ import annotations

from typing import Any

import pytest
from _replay_builders import (
    INSTANCE,
    NOW,
    STARTED,
    activity_done,
    completed,
    nondeterminism,
    scheduled,
    start_item,
)

from provkit.contract import events as ev
from provkit.contract import messages as msg
from provkit.runtime._context import OrchestrationContext
from provkit.runtime._replay import TurnOutcome, TurnResult, run_turn
from provkit.runtime._replay_cache import ReplayCache


def counting(calls: list[str], closed: list[str] | None = None, steps: int = 3) -> Any:
    """``steps`` sequential activities; logs each scheduling call and the code being discarded."""

    async def orch(ctx: OrchestrationContext, _: Any) -> int:
        total = 0
        try:
            for step in range(steps):
                calls.append(f"schedule {step}")
                total += await ctx.schedule_activity("Add", step)
        finally:
            if closed is not None:
                closed.append(ctx.instance)
        return total

    return orch


def start(instance: str = INSTANCE) -> msg.StartOrchestration:
    return msg.StartOrchestration(instance=instance, orchestration="Orch", input="null")


def cached_turn(
    cache: ReplayCache,
    orch: Any,
    history: list[ev.Event],
    messages: list[msg.OrchestratorMessage],
    *,
    instance: str = INSTANCE,
    execution_id: int = 1,
    keep: bool = True,
) -> TurnResult:
    """One turn through ``cache``, kept afterwards as a committed turn is."""
    result, replay = cache.run_turn(
        instance=instance,
        execution_id=execution_id,
        history=history,
        messages=messages,
        orchestrations={"Orch": orch},
        now_ms=NOW,
    )
    if keep:
        cache.keep(replay)
    return result


def full_turn(
    orch: Any, history: list[ev.Event], messages: list[msg.OrchestratorMessage]
) -> TurnResult:
    return run_turn(
        instance=INSTANCE,
        execution_id=1,
        history=history,
        messages=messages,
        orchestrations={"Orch": orch},
        now_ms=NOW,
    )


def full_turn_of(execution_id: int, messages: list[msg.OrchestratorMessage]) -> TurnResult:
    return run_turn(
        instance=INSTANCE,
        execution_id=execution_id,
        history=[],
        messages=messages,
        orchestrations={"Orch": counting([])},
        now_ms=NOW,
    )


def test_kept_instance_runs_only_its_new_messages() -> None:
    """Each turn after the first resumes the code: every scheduling call runs exactly once."""
    calls: list[str] = []
    orch = counting(calls)
    cache = ReplayCache(max_instances=10, max_bytes=1 << 20)
    history: list[ev.Event] = []
    for messages in ([start_item()], [activity_done(2, 1)], [activity_done(4, 2)]):
        result = cached_turn(cache, orch, history, messages)
        assert result == full_turn(counting([]), history, messages)
        history += result.history_delta
    last = cached_turn(cache, orch, history, [activity_done(6, 3)])

    assert calls == ["schedule 0", "schedule 1", "schedule 2"]
    assert (cache.hits, cache.misses) == (3, 1)
    assert (last.outcome, last.output) == (TurnOutcome.COMPLETED, "6")
    assert len(cache) == 0  # an ended execution is not kept


def test_least_recently_used_instance_is_evicted_first() -> None:
    """Beyond max_instances the instance unused longest is closed; the others stay kept."""
    closed: list[str] = []
    orch = counting([], closed)
    cache = ReplayCache(max_instances=2, max_bytes=1 << 20)
    histories = {}
    for name in ("a", "b", "c"):
        result = cached_turn(cache, orch, [], [start(name)], instance=name)
        histories[name] = result.history_delta

    assert (len(cache), closed) == (2, ["a"])
    cached_turn(cache, orch, histories["b"], [], instance="b")
    cached_turn(cache, orch, histories["a"], [], instance="a")
    assert closed == ["a", "c"]
    assert (cache.hits, cache.misses) == (1, 4)


def test_memory_bound_evicts_under_pressure() -> None:
    """A replay larger than max_bytes is not kept; kept replays stay within max_bytes."""
    closed: list[str] = []
    orch = counting([], closed)
    probe = ReplayCache(max_instances=10, max_bytes=1 << 20)
    cached_turn(probe, orch, [], [start("probe")], instance="probe")
    one = probe.size_bytes
    assert one > 0

    cache = ReplayCache(max_instances=10, max_bytes=2 * one + one // 2)
    for name in ("a", "b", "c"):
        cached_turn(cache, orch, [], [start(name)], instance=name)
    assert (len(cache), cache.size_bytes, closed) == (2, 2 * one, ["a"])

    tiny = ReplayCache(max_instances=10, max_bytes=one - 1)
    cached_turn(tiny, orch, [], [start("d")], instance="d")
    assert (len(tiny), tiny.size_bytes, closed) == (0, 0, ["a", "d"])


def test_history_it_did_not_expect_is_replayed_from_scratch() -> None:
    """History that moved on elsewhere (another runtime's turn) is replayed, with its result."""
    calls: list[str] = []
    orch = counting(calls)
    cache = ReplayCache(max_instances=10, max_bytes=1 << 20)
    first = cached_turn(cache, orch, [], [start_item()])
    elsewhere = full_turn(orch, first.history_delta, [activity_done(2, 1)])
    history = first.history_delta + elsewhere.history_delta
    calls.clear()

    result = cached_turn(cache, orch, history, [activity_done(4, 2)])

    assert result == full_turn(counting([]), history, [activity_done(4, 2)])
    assert calls == ["schedule 0", "schedule 1", "schedule 2"]
    assert (cache.hits, cache.misses) == (0, 2)


def test_nondeterminism_is_detected_when_other_code_wrote_the_history() -> None:
    """A kept replay never hides a code change: history written by other code fails the turn."""
    cache = ReplayCache(max_instances=10, max_bytes=1 << 20)
    first = cached_turn(cache, counting([]), [], [start_item()])
    other = [
        *first.history_delta,
        completed(3, 2, 0),
        scheduled(4, "Subtract", 1),
    ]

    result = cached_turn(cache, counting([]), other, [activity_done(4, 0)])

    assert (result.outcome, result.error) == (
        TurnOutcome.FAILED,
        nondeterminism(
            "replay mismatch at event 4: history has activity 'Subtract' with input 1, "
            "but the orchestration scheduled activity 'Add' with input 1"
        ),
    )
    assert len(cache) == 0


def test_lost_turn_is_dropped_and_replayed() -> None:
    """A turn whose ack failed is discarded; the redelivered batch replays from scratch."""
    cache = ReplayCache(max_instances=10, max_bytes=1 << 20)
    orch = counting([])
    first = cached_turn(cache, orch, [], [start_item()])
    lost, replay = cache.run_turn(
        instance=INSTANCE,
        execution_id=1,
        history=first.history_delta,
        messages=[activity_done(2, 10)],
        orchestrations={"Orch": orch},
        now_ms=NOW,
    )
    cache.discard(replay)

    again = cached_turn(cache, orch, first.history_delta, [activity_done(2, 10)])

    assert again == lost
    assert (len(cache), cache.hits, cache.misses) == (1, 1, 2)


def test_discarding_an_older_replay_keeps_the_newer_one() -> None:
    """discard only forgets the replay it is given, not a newer one kept for that instance."""
    cache = ReplayCache(max_instances=10, max_bytes=1 << 20)
    orch = counting([])
    old, old_replay = cache.run_turn(
        instance=INSTANCE,
        execution_id=1,
        history=[],
        messages=[start_item()],
        orchestrations={"Orch": orch},
        now_ms=NOW,
    )
    cached_turn(cache, orch, [], [start_item()])

    cache.discard(old_replay)

    assert len(cache) == 1
    cached_turn(cache, orch, old.history_delta, [])
    assert cache.hits == 1


def test_other_execution_is_not_resumed() -> None:
    """A replay kept for execution 1 is closed, not resumed, by a turn of execution 2."""
    closed: list[str] = []
    cache = ReplayCache(max_instances=10, max_bytes=1 << 20)
    cached_turn(cache, counting([], closed), [], [start_item()])

    second = cached_turn(cache, counting([]), [], [start_item(execution_id=2)], execution_id=2)

    assert closed == [INSTANCE]
    assert (cache.hits, cache.misses) == (0, 2)
    assert second == full_turn_of(2, [start_item(execution_id=2)])


def test_clear_closes_every_kept_replay() -> None:
    """clear discards every suspended orchestration (their finally blocks run) and frees memory."""
    closed: list[str] = []
    cache = ReplayCache(max_instances=10, max_bytes=1 << 20)
    for name in ("a", "b"):
        cached_turn(cache, counting([], closed), [], [start(name)], instance=name)

    cache.clear()

    assert (len(cache), cache.size_bytes, sorted(closed)) == (0, 0, ["a", "b"])


def test_expects_tells_whether_a_turn_would_resume() -> None:
    """expects is true only for the kept instance, its execution and exactly its history."""
    cache = ReplayCache(max_instances=10, max_bytes=1 << 20)
    first = cached_turn(cache, counting([]), [], [start_item()])
    history = first.history_delta

    assert cache.expects(INSTANCE, 1, history)
    assert cache.expects(INSTANCE, 1, tuple(history))
    assert not cache.expects(INSTANCE, 2, history)
    assert not cache.expects("other", 1, history)
    assert not cache.expects(INSTANCE, 1, history[:1])
    assert not cache.expects(INSTANCE, 1, [*history, completed(3, 2, 0)])
    assert (cache.hits, cache.misses) == (0, 1)


def test_zero_instances_keeps_nothing() -> None:
    """max_instances=0 turns the cache off: every turn replays from scratch."""
    cache = ReplayCache(max_instances=0, max_bytes=1 << 20)
    first = cached_turn(cache, counting([]), [STARTED], [])
    cached_turn(cache, counting([]), [STARTED, *first.history_delta], [])

    assert (len(cache), cache.hits, cache.misses) == (0, 0, 2)


def test_negative_bounds_are_refused() -> None:
    """Bounds below zero are a programming error."""
    with pytest.raises(ValueError, match="replay cache bounds must be >= 0"):
        ReplayCache(max_instances=-1, max_bytes=0)
