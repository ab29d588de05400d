"""Replay engine properties over generated orchestrations, delivery orders and corruptions.

A small step language builds orchestrations; a fake world answers every action in an order
hypothesis chooses (with duplicate deliveries). Replaying any history the engine wrote must
change nothing, and no damaged history may make ``run_turn`` raise.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from _replay_builders import INSTANCE, NOW, start_item
from _replay_programs import Step, answer, interpreter, steps
from hypothesis import given, settings
from hypothesis import strategies as st

from provkit.contract import events as ev
from provkit.contract import messages as msg
from provkit.runtime._replay import StartSubOrchestration, TurnOutcome, TurnResult, run_turn


def turn_at(orch: Any, history: list[ev.Event], messages: list[Any], now_ms: int) -> TurnResult:
    return run_turn(
        instance=INSTANCE,
        execution_id=1,
        history=history,
        messages=messages,
        orchestrations={"Orch": orch},
        now_ms=now_ms,
    )


def check_turn(history: list[ev.Event], result: TurnResult) -> None:
    """Ids strictly increase past history; every action is a schedule event of this delta."""
    ids = [e.event_id for e in result.history_delta]
    floor = max((e.event_id for e in history), default=0)
    assert ids == sorted(set(ids))
    assert all(i > floor for i in ids)
    scheduled = {
        e.event_id
        for e in result.history_delta
        if isinstance(
            e,
            ev.ActivityScheduled
            | ev.TimerCreated
            | ev.ExternalSubscribed
            | ev.SubOrchestrationScheduled,
        )
    }
    assert {a.event_id for a in result.actions} == scheduled
    assert not any(isinstance(a, StartSubOrchestration) for a in result.actions)


def drive(data: st.DataObject, program: list[Step]) -> tuple[Any, list[ev.Event], TurnResult]:
    """Run ``program`` to completion, answering in hypothesis-chosen order; check each turn."""
    orch = interpreter(program)
    history: list[ev.Event] = []
    pending: list[msg.OrchestratorMessage] = [start_item()]
    delivered: list[msg.OrchestratorMessage] = []
    for turn_number in range(100):
        batch_size = data.draw(st.integers(1, len(pending)), label="batch size")
        order = data.draw(st.permutations(pending), label="delivery order")
        batch, pending = list(order[:batch_size]), list(order[batch_size:])
        if delivered and data.draw(st.booleans(), label="redeliver one"):
            batch.append(data.draw(st.sampled_from(delivered), label="duplicate"))
        now_ms = NOW + 1_000 * turn_number
        result = turn_at(orch, history, batch, now_ms)
        check_turn(history, result)
        history += result.history_delta
        delivered += batch
        assert turn_at(orch, history, [], now_ms + 1).history_delta == []
        if result.outcome is not TurnOutcome.CONTINUE:
            return orch, history, result
        pending += [answer(a) for a in result.actions]
    raise AssertionError("the orchestration never completed")


@settings(max_examples=15, deadline=None)
@given(program=steps, data=st.data())
def test_replaying_a_finished_run_reproduces_its_ending(program: list[Step], data: Any) -> None:
    """Any delivery order completes; replaying the history minus its end re-derives that end."""
    orch, history, final = drive(data, program)

    assert final.outcome is TurnOutcome.COMPLETED
    *body, ending = history
    replay = turn_at(orch, body, [], ending.timestamp_ms)
    assert replay.outcome is TurnOutcome.COMPLETED
    assert (replay.history_delta, replay.actions, replay.output) == ([ending], [], final.output)


MUTATIONS = st.sampled_from(["drop", "swap", "duplicate", "relink", "renumber"])


@settings(max_examples=15, deadline=None)
@given(program=steps, data=st.data(), mutation=MUTATIONS)
def test_damaged_history_never_raises(program: list[Step], data: Any, mutation: str) -> None:
    """Dropping, swapping, duplicating, relinking or renumbering events never makes a turn raise."""
    orch, history, _ = drive(data, program)
    body = history[:-1]
    at = data.draw(st.integers(0, len(body) - 1), label="position")
    damaged = list(body)
    match mutation:
        case "drop":
            del damaged[at]
        case "swap":
            other = data.draw(st.integers(0, len(body) - 1), label="other")
            damaged[at], damaged[other] = damaged[other], damaged[at]
        case "duplicate":
            damaged.insert(at, damaged[at])
        case "relink":
            damaged[at] = dataclasses.replace(damaged[at], source_event_id=at)
        case "renumber":
            damaged[at] = dataclasses.replace(damaged[at], event_id=damaged[-1].event_id)

    result = turn_at(orch, damaged, [], NOW)

    check_turn(damaged, result)
    if result.outcome is TurnOutcome.FAILED:
        assert result.error is not None
        assert result.error.kind in {"nondeterminism", "corrupt_history"}
        expected = [ev.OrchestrationFailed] if damaged else []
        assert [type(e) for e in result.history_delta] == expected
