"""The provider calls of one test, with what each returned, for its failure report.

The suite's guarded provider notes every call it forwards here, setup steps included, so a
failing test shows which call returned what without every assert having to say so. Values
are summarised (messages by instance and ids, events by kind and id, long text cut).
"""

from __future__ import annotations

import dataclasses
import enum
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from provkit.contract import OrchestrationItem, WorkLease
from provkit.contract.events import Event

SHOWN = 25
"""Calls a failure report shows: the last ones, where the failure is."""

_TEXT = reprlib.Repr()
_TEXT.maxstring = 48
_TEXT.maxother = 60


@dataclass(slots=True)
class Call:
    """One forwarded call; ``outcome`` stays ``None`` while it runs."""

    operation: str
    args: tuple[Any, ...]
    outcome: str | None = None

    def line(self) -> str:
        arguments = ", ".join(summarise(arg) for arg in self.args)
        outcome = "(did not return)" if self.outcome is None else self.outcome
        return f"{self.operation}({arguments}) {outcome}"


class CallLog:
    """Every call of one test, in the order the calls started."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def start(self, operation: str, args: Sequence[Any]) -> Call:
        call = Call(operation, tuple(args))
        self.calls.append(call)
        return call

    @staticmethod
    def returned(call: Call, value: Any) -> None:
        call.outcome = f"-> {summarise(value)}"

    @staticmethod
    def raised(call: Call, exc: BaseException) -> None:
        text = str(exc).strip().splitlines()
        call.outcome = f"raised {type(exc).__name__}" + (f": {text[0]}" if text else "")

    def render(self) -> str:
        """The last ``SHOWN`` calls, numbered from the test's first call."""
        skipped = max(len(self.calls) - SHOWN, 0)
        lines = [f"({skipped} earlier calls not shown)"] if skipped else []
        lines += [
            f"{n:>3}. {call.line()}"
            for n, call in enumerate(self.calls[skipped:], start=skipped + 1)
        ]
        return "\n".join(lines)


CALL_LOG_KEY = pytest.StashKey[CallLog]()
"""Where a test item keeps its call log (set by the ``provider`` fixture)."""


def summarise(value: Any) -> str:
    """A short, readable rendering of an argument or result of a provider call."""
    if isinstance(value, OrchestrationItem):
        history = f"{len(value.history)} events" if value.history else "[]"
        return (
            f"OrchestrationItem({value.instance!r}, execution_id={value.execution_id}, "
            f"messages={summarise(value.messages)}, history={history}, "
            f"attempt_count={value.attempt_count}, lock_token={_TEXT.repr(value.lock_token)})"
        )
    if isinstance(value, WorkLease):
        return (
            f"WorkLease({summarise(value.item)}, attempt_count={value.attempt_count}, "
            f"lock_token={_TEXT.repr(value.lock_token)})"
        )
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, Event):
        return f"{type(value).__name__}#{value.event_id}"
    if isinstance(value, list | tuple):
        shown = ", ".join(summarise(v) for v in value[:4])
        more = f", +{len(value) - 4} more" if len(value) > 4 else ""
        return f"[{shown}{more}]"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _message(value)
    return _TEXT.repr(value)


def _message(value: Any) -> str:
    """``ActivityExecute('inst-1', id=2, execution_id=1)``: a message by its identity."""
    fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    head = [repr(fields.pop("instance"))] if "instance" in fields else []
    keys = [k for k in ("id", "execution_id", "activity_id", "name", "fire_at_ms") if k in fields]
    shown = head + [f"{k}={summarise(fields[k])}" for k in keys]
    if not keys and not head:
        shown = [f"{k}={summarise(v)}" for k, v in fields.items() if v not in (None, (), [])]
    return f"{type(value).__name__}({', '.join(shown)})"
