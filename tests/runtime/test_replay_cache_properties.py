"""The replay cache changes no outcome: cached and full replays of random orchestrations agree.

Each example runs one generated orchestration to its end twice in lockstep, turn by turn on
the same batches: once replaying the whole history every turn (``run_turn``), once through a
``ReplayCache``, the way the runtime does. Hypothesis also decides what happens around each
turn: its ack commits, fails (the state is dropped, or wrongly kept), another runtime runs the
turn instead, the cache is cleared, or its memory bound is tiny. Every turn's result must be
equal, and the cache must resume exactly when it holds the state of the history it is given.

The default test run tries 100 random orchestrations; the ``exhaustive`` run (CI) 500.
"""

from __future__ import annotations

from typing import Any

import pytest
from _replay_builders import INSTANCE, NOW, cancel_item, external_item, start_item
from _replay_programs import ENDINGS, RICH_STEPS, Step, answer, interpreter
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from provkit.contract import events as ev
from provkit.contract import messages as msg
from provkit.runtime._replay import ExecutionReplay, TurnOutcome, run_turn
from provkit.runtime._replay_cache import ReplayCache
from provkit.runtime._replay_history import index_history

FATES = st.sampled_from(["commit"] * 6 + ["lost", "lost but kept", "elsewhere", "evicted"])
"""What happens to a turn: see the module docstring."""


def indexed(history: list[ev.Event]) -> tuple[Any, ...]:
    """What a turn needs of a history's index, built from scratch."""
    index = index_history(history)
    return (index.schedules, index.answered, index.open_waits, index.buffered, index.cancel)


def kept_index(replay: ExecutionReplay) -> tuple[Any, ...]:
    """The same, as a kept replay maintains it turn by turn."""
    suspended = replay._suspended
    assert suspended is not None
    index = suspended.index
    return (index.schedules, index.answered, index.open_waits, index.buffered, index.cancel)


def stale_completion() -> msg.OrchestratorMessage:
    """A completion for another execution: every turn must drop it."""
    return msg.ActivityCompletedMessage(instance=INSTANCE, execution_id=7, id=2, result="0")


def cached_turns_equal_full_replays(
    program: list[Step], ending: str, tiny_memory: bool, data: Any
) -> None:
    """Run ``program`` both ways in lockstep; see the module docstring."""
    orchestrations = {"Orch": interpreter(program, ending)}
    cache = ReplayCache(max_instances=4, max_bytes=1_500 if tiny_memory else 1 << 20)
    history: list[ev.Event] = []
    pending: list[msg.OrchestratorMessage] = [start_item()]
    delivered: list[msg.OrchestratorMessage] = []
    holds_state = False
    """Whether the cache should hold the state of exactly ``history``."""
    for turn_number in range(60):
        batch_size = data.draw(st.integers(1, len(pending)), label="batch size")
        order = data.draw(st.permutations(pending), label="delivery order")
        batch, rest = list(order[:batch_size]), list(order[batch_size:])
        extra = data.draw(
            st.sampled_from(["none"] * 6 + ["duplicate", "early event", "stale", "cancel"]),
            label="extra message",
        )
        match extra:
            case "duplicate" if delivered:
                batch.append(data.draw(st.sampled_from(delivered), label="duplicate"))
            case "early event":
                batch.append(external_item(data.draw(st.sampled_from("EF")), "early"))
            case "stale":
                batch.append(stale_completion())
            case "cancel":
                batch.append(cancel_item("stop"))
        now_ms = NOW + 1_000 * turn_number
        full = run_turn(
            instance=INSTANCE,
            execution_id=1,
            history=history,
            messages=batch,
            orchestrations=orchestrations,
            now_ms=now_ms,
        )
        fate = data.draw(FATES, label="fate")
        if fate != "elsewhere":
            hits = cache.hits
            cached, replay = cache.run_turn(
                instance=INSTANCE,
                execution_id=1,
                history=history,
                messages=batch,
                orchestrations=orchestrations,
                now_ms=now_ms,
            )
            assert cached == full
            assert cache.hits == hits + holds_state
            if replay.resumable:
                assert kept_index(replay) == indexed(history + full.history_delta)
            else:
                assert full.outcome is not TurnOutcome.CONTINUE or not full.history_delta
            if fate in ("commit", "evicted", "lost but kept"):
                cache.keep(replay)
            else:
                cache.discard(replay)
            holds_state = fate == "commit" and len(cache) == 1
            if fate == "evicted":
                cache.clear()
        else:
            holds_state = False
        if fate in ("lost", "lost but kept"):
            continue  # nothing was committed: the same messages come again
        history += full.history_delta
        delivered += batch
        pending = rest + [answer(a) for a in full.actions]
        if full.outcome is not TurnOutcome.CONTINUE:
            event(f"resumed turns: {min(cache.hits, 3)}+")
            return
        if not pending:
            pending = [external_item("E", "late"), external_item("F", "late")]
    raise AssertionError("the orchestration never ended")


SETTINGS = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
ORCHESTRATIONS = {
    "program": st.lists(RICH_STEPS, max_size=7),
    "ending": ENDINGS,
    "tiny_memory": st.booleans(),
    "data": st.data(),
}


@settings(SETTINGS, max_examples=100)
@given(**ORCHESTRATIONS)
def test_cached_turns_equal_full_replays(
    program: list[Step], ending: str, tiny_memory: bool, data: Any
) -> None:
    """Through commits, lost acks, foreign turns and evictions, cached turns equal full replays."""
    cached_turns_equal_full_replays(program, ending, tiny_memory, data)


@pytest.mark.exhaustive
@settings(SETTINGS, max_examples=500)
@given(**ORCHESTRATIONS)
def test_cached_turns_equal_full_replays_500(
    program: list[Step], ending: str, tiny_memory: bool, data: Any
) -> None:
    """The same on 500 random orchestrations (CI's exhaustive run)."""
    cached_turns_equal_full_replays(program, ending, tiny_memory, data)
