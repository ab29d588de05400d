"""JSON codec for events and queue messages, so a provider can store them as opaque text.

``decode(encode(x)) == x`` for every kind and every string (any Unicode, NUL, lone
surrogates: output is pure ASCII JSON). Decoding anything malformed raises
``CorruptDataError``; nothing else escapes.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from provkit.contract._errors import CorruptDataError
from provkit.contract._model import ErrorCategory, ErrorDetails
from provkit.contract.events import EVENT_TYPES, Event
from provkit.contract.messages import (
    ORCHESTRATOR_MESSAGE_TYPES,
    ActivityExecute,
    OrchestratorMessage,
)

_T = TypeVar("_T")

_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False)
_decoder = json.JSONDecoder()


def _fast_encode() -> Callable[[Any], str]:
    """``_encoder.encode``, calling CPython's C encoder directly where there is one.

    ``JSONEncoder.encode`` builds that C encoder anew on every call; events and messages are
    encoded on every turn, so this one is built once (same output: the same settings).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _encoder.encode
    iterencode = make(
        None,  # markers: no circular check
        _encoder.default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )

    def encode(obj: Any) -> str:
        return "".join(iterencode(obj, 0))

    return encode


_encode_json = _fast_encode()


class _Kind:
    """How one dataclass maps to and from a flat JSON object tagged with ``"type"``."""

    __slots__ = ("cls", "error_fields", "field_names", "field_types", "name")

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls
        self.name = cls.__name__
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        self.field_names = tuple(names)
        self.field_types = {n: _plain_types(hints[n]) for n in names}
        self.error_fields = tuple(n for n in names if hints[n] is ErrorDetails)

    def to_dict(self, obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.name}
        for name in self.field_names:
            out[name] = getattr(obj, name)
        for name in self.error_fields:
            err: ErrorDetails = out[name]
            out[name] = {
                "category": err.category.value,
                "kind": err.kind,
                "message": err.message,
                "retryable": err.retryable,
            }
        return out

    def from_dict(self, data: dict[str, Any]) -> Any:
        args = {k: v for k, v in data.items() if k != "type"}
        for name, value in args.items():
            allowed = self.field_types.get(name)
            if allowed is None:
                raise ValueError(f"unexpected field {name!r}")
            if allowed and (type(value) not in allowed):
                raise ValueError(f"field {name!r} has type {type(value).__name__}")
        for name in self.error_fields:
            raw = args.get(name)
            if not isinstance(raw, dict):
                raise ValueError(f"{name!r} must be an object")
            args[name] = ErrorDetails(
                category=ErrorCategory(raw["category"]),
                kind=raw["kind"],
                message=raw["message"],
                retryable=raw["retryable"],
            )
        return self.cls(**args)


def _plain_types(hint: Any) -> tuple[type, ...]:
    """The JSON value types a field accepts; empty for nested objects checked elsewhere."""
    if hint is ErrorDetails:
        return ()
    if isinstance(hint, types.UnionType):
        return tuple(type(None) if a is type(None) else a for a in typing.get_args(hint))
    return (hint,)


_EVENT_KINDS = {k.name: k for k in map(_Kind, EVENT_TYPES)}
_MESSAGE_KINDS = {k.name: k for k in map(_Kind, (*ORCHESTRATOR_MESSAGE_TYPES, ActivityExecute))}


def _encode(kinds: dict[str, _Kind], obj: Any) -> str:
    kind = kinds.get(type(obj).__name__)
    if kind is None or kind.cls is not type(obj):
        raise TypeError(f"cannot encode {type(obj).__name__}")
    return _encode_json(kind.to_dict(obj))


def _decode(kinds: dict[str, _Kind], what: str, text: str | bytes) -> Any:
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        data = _decoder.decode(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        kind = kinds.get(data.get("type", ""))
        if kind is None:
            raise ValueError(f"unknown type {data.get('type')!r}")
        return kind.from_dict(data)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        snippet = text[:80] if isinstance(text, str) else repr(text[:80])
        raise CorruptDataError("decode", f"cannot decode {what} ({exc}): {snippet!r}") from exc


def encode_event(event: Event) -> str:
    """Encode one history event as a JSON object string."""
    return _encode(_EVENT_KINDS, event)


def decode_event(text: str | bytes) -> Event:
    """Decode an ``encode_event`` string; ``CorruptDataError`` if it is not one."""
    event: Event = _decode(_EVENT_KINDS, "event", text)
    return event


def encode_message(message: OrchestratorMessage | ActivityExecute) -> str:
    """Encode one queue message (either queue) as a JSON object string."""
    return _encode(_MESSAGE_KINDS, message)


def decode_message(text: str | bytes) -> OrchestratorMessage | ActivityExecute:
    """Decode an ``encode_message`` string; ``CorruptDataError`` if it is not one."""
    message: OrchestratorMessage | ActivityExecute = _decode(_MESSAGE_KINDS, "message", text)
    return message


def decode_orchestrator_message(text: str | bytes) -> OrchestratorMessage:
    """Decode a message that must belong on the orchestrator queue."""
    return _expect(decode_message(text), OrchestratorMessage)


def decode_work_item(text: str | bytes) -> ActivityExecute:
    """Decode a message that must be a worker-queue item."""
    return _expect(decode_message(text), ActivityExecute)


def _expect(value: object, cls: type[_T]) -> _T:
    if not isinstance(value, cls):
        raise CorruptDataError("decode", f"expected {cls.__name__}, found {type(value).__name__}")
    return value
