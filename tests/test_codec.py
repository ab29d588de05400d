"""Round-trip and rejection tests of the contract's JSON codec for every event and message kind."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provkit.contract import CorruptDataError, ErrorCategory, ErrorDetails, codec
from provkit.contract.events import EVENT_TYPES, ActivityScheduled, Event
from provkit.contract.messages import ORCHESTRATOR_MESSAGE_TYPES, ActivityExecute, CancelInstance

MESSAGE_TYPES: tuple[type[Any], ...] = (*ORCHESTRATOR_MESSAGE_TYPES, ActivityExecute)

error_details = st.builds(
    ErrorDetails,
    category=st.sampled_from(ErrorCategory),
    kind=st.text(),
    message=st.text(),
    retryable=st.booleans(),
)
_int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    if hint is ErrorDetails:
        return error_details
    if hint is int:
        return _int64
    if hint is str:
        return st.text()
    args = typing.get_args(hint)
    inner = next(a for a in args if a is not type(None))
    return st.none() | _strategy_for(inner)


def instances_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Any value of a contract dataclass, with arbitrary Unicode in every string field."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: _strategy_for(hints[f.name]) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_every_event_kind_round_trips_exactly(cls: type[Event], data: st.DataObject) -> None:
    """decode_event(encode_event(e)) == e for every event kind and any field values."""
    event = data.draw(instances_of(cls))
    text = codec.encode_event(event)
    assert text.isascii()
    assert codec.decode_event(text) == event


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_every_message_kind_round_trips_exactly(cls: type[Any], data: st.DataObject) -> None:
    """decode_message(encode_message(m)) == m for every queue message kind and any field values."""
    message = data.draw(instances_of(cls))
    assert codec.decode_message(codec.encode_message(message)) == message


def test_payload_with_nul_surrogates_and_a_mebibyte_round_trips() -> None:
    """Strings that plain UTF-8 cannot carry (lone surrogates) and 1 MiB payloads survive."""
    payload = "\x00\ud800 ❤ \u202e'\";--\n" * (1 << 17)
    assert len(payload) > 1 << 20
    event = ActivityScheduled(event_id=2, name="A", input=payload)
    assert codec.decode_event(codec.encode_event(event)) == event


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[1, 2]",
        '{"type": "NoSuchEvent", "event_id": 1}',
        '{"type": "TimerFired", "event_id": "1", "fire_at_ms": 5}',
        '{"type": "TimerFired", "event_id": 1}',
        '{"type": "TimerFired", "event_id": 1, "fire_at_ms": 5, "extra": 0}',
        '{"type": "ActivityFailed", "event_id": 3, "error": "boom"}',
        '{"type": "ActivityFailed", "event_id": 3, "error": {"category": "nope",'
        ' "kind": "k", "message": "m", "retryable": false}}',
        b"\xff\xfe",
    ],
    ids=[
        "empty",
        "not-json",
        "not-object",
        "unknown-type",
        "wrong-field-type",
        "missing-field",
        "unexpected-field",
        "error-not-object",
        "bad-category",
        "invalid-utf8",
    ],
)
def test_malformed_event_text_raises_corrupt_data_error(text: str | bytes) -> None:
    """Anything that is not an encoded event raises CorruptDataError, never another exception."""
    with pytest.raises(CorruptDataError) as info:
        codec.decode_event(text)
    assert info.value.retryable is False
    assert info.value.operation == "decode"


def test_worker_item_decoder_rejects_orchestrator_messages() -> None:
    """decode_work_item refuses a message that belongs on the orchestrator queue."""
    text = codec.encode_message(CancelInstance(instance="i", reason="r"))
    with pytest.raises(CorruptDataError, match="expected ActivityExecute, found CancelInstance"):
        codec.decode_work_item(text)
