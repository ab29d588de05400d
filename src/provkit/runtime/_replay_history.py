"""What the replay engine knows about history: event roles, validation, and readable labels.

Validation rejects histories no correct runtime could have written (duplicate ids, a second
``OrchestrationStarted``, completions answering nothing, the wrong kind, or a later event)
before any user code runs. Pure functions of the events; no user code, no I/O.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from provkit.contract.events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    Event,
    ExternalEvent,
    ExternalSubscribed,
    OrchestrationCancelRequested,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
    SubOrchestrationCompleted,
    SubOrchestrationFailed,
    SubOrchestrationScheduled,
    SystemCall,
    TimerCreated,
    TimerFired,
)
from provkit.runtime._errors import corrupt_history, nondeterminism
from provkit.runtime._payload import decode

SCHEDULE_KINDS: tuple[type[Event], ...] = (
    ActivityScheduled,
    TimerCreated,
    ExternalSubscribed,
    SubOrchestrationScheduled,
    SystemCall,
)
"""Events the orchestration code produces by calling ``ctx``; replay matches them in order."""

TERMINAL_KINDS: tuple[type[Event], ...] = (
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationContinuedAsNew,
)

ANSWERS: dict[type[Event], type[Event]] = {
    ActivityCompleted: ActivityScheduled,
    ActivityFailed: ActivityScheduled,
    TimerFired: TimerCreated,
    ExternalEvent: ExternalSubscribed,
    SubOrchestrationCompleted: SubOrchestrationScheduled,
    SubOrchestrationFailed: SubOrchestrationScheduled,
}
"""Completion kind -> the schedule kind its ``source_event_id`` must point at."""

_CLIP = 80

_EVENT_BYTES = 400
"""What an event costs held in a kept replay, besides its text: the object, its future, the
index entries and the suspended code's share."""

_TEXT_FIELDS: dict[type[Event], tuple[str, ...]] = {}


@dataclass(slots=True)
class HistoryIndex:
    """A validated history, ready for replay and for linking this turn's completions."""

    recorded: list[Event] = field(default_factory=list)
    """Schedule events in history order: what the code must schedule again, in this order."""
    completions: list[Event] = field(default_factory=list)
    """Completion events in history order: what replay delivers to the code."""
    schedules: dict[int, Event] = field(default_factory=dict)
    answered: dict[int, int] = field(default_factory=dict)
    """Schedule event id -> id of the completion that answered it (external waits excluded)."""
    open_waits: dict[str, deque[int]] = field(default_factory=dict)
    """Per event name, the subscriptions still waiting for an ``ExternalEvent``, oldest first."""
    buffered: dict[str, int] = field(default_factory=dict)
    """Per event name, how many ``ExternalEvent``s arrived with no wait to take them yet."""
    cancel: OrchestrationCancelRequested | None = None

    def add_schedule(self, event: Event) -> None:
        """Index a schedule event the engine recorded after the indexed history."""
        self.schedules[event.event_id] = event
        if isinstance(event, ExternalSubscribed):
            _subscribe(event, self)


def index_history(history: Sequence[Event]) -> HistoryIndex:
    """Validate ``history`` (which starts with ``OrchestrationStarted`` and has no terminal event).

    Raises ``ReplayAbort``: corrupt_history for structural damage, nondeterminism for
    completions that do not answer an earlier schedule of their kind.
    """
    positions: dict[int, int] = {}
    for position, event in enumerate(history):
        earlier = positions.setdefault(event.event_id, position)
        if earlier != position:
            raise corrupt_history(
                f"event id {event.event_id} is used twice (positions {earlier} and {position})"
            )
    index = HistoryIndex()
    for position, event in enumerate(history[1:], start=1):
        if isinstance(event, SCHEDULE_KINDS):
            index.schedules[event.event_id] = event
            index.recorded.append(event)
            if isinstance(event, ExternalSubscribed):
                _subscribe(event, index)
        elif isinstance(event, ExternalEvent):
            _link_external(event, history, positions, position, index)
            index.completions.append(event)
        elif type(event) in ANSWERS:
            _link(event, history, positions, position, index)
            index.completions.append(event)
        elif isinstance(event, OrchestrationCancelRequested):
            index.cancel = index.cancel or event
        elif isinstance(event, OrchestrationStarted):
            raise corrupt_history(
                f"event {event.event_id}: OrchestrationStarted is not the first event"
            )
        else:
            raise corrupt_history(f"event {event.event_id}: unexpected {type(event).__name__}")
    return index


def _subscribe(event: ExternalSubscribed, index: HistoryIndex) -> None:
    """A new wait takes the oldest buffered event of its name, as replay does, or stays open."""
    if index.buffered.get(event.name, 0) > 0:
        index.buffered[event.name] -= 1
    else:
        index.open_waits.setdefault(event.name, deque()).append(event.event_id)


def _source(
    event: Event, history: Sequence[Event], positions: dict[int, int], position: int
) -> Event:
    kind, source = type(event).__name__, event.source_event_id
    where = positions.get(source) if source is not None else None
    if where is None:
        raise nondeterminism(
            f"event {event.event_id}: {kind} answers event {source}, which is not in history"
        )
    if where >= position:
        raise nondeterminism(
            f"event {event.event_id}: {kind} answers event {source}, which does not come before it"
        )
    target = history[where]
    expected = ANSWERS[type(event)]
    if not isinstance(target, expected):
        raise nondeterminism(
            f"event {event.event_id}: {kind} answers event {source}, "
            f"a {type(target).__name__} (expected {expected.__name__})"
        )
    return target


def _link(
    event: Event,
    history: Sequence[Event],
    positions: dict[int, int],
    position: int,
    index: HistoryIndex,
) -> None:
    if event.source_event_id is None:
        raise corrupt_history(
            f"event {event.event_id}: {type(event).__name__} has no source_event_id"
        )
    target = _source(event, history, positions, position)
    earlier = index.answered.setdefault(target.event_id, event.event_id)
    if earlier != event.event_id:
        raise nondeterminism(
            f"event {event.event_id}: {type(event).__name__} answers event {target.event_id}, "
            f"which event {earlier} already answered"
        )


def _link_external(
    event: ExternalEvent,
    history: Sequence[Event],
    positions: dict[int, int],
    position: int,
    index: HistoryIndex,
) -> None:
    """External events pair with waits for their name first-in first-out, as replay does."""
    waits = index.open_waits.get(event.name)
    if event.source_event_id is not None:
        target = _source(event, history, positions, position)
        if not (isinstance(target, ExternalSubscribed) and target.name == event.name):
            raise nondeterminism(
                f"event {event.event_id}: ExternalEvent {quote(event.name)} answers event "
                f"{event.source_event_id}, which is {describe(target)}"
            )
        if not waits or waits[0] != target.event_id:
            detail = (
                f"the oldest open wait for {quote(event.name)} is event {waits[0]}"
                if waits
                else "that wait already has its event"
            )
            raise nondeterminism(
                f"event {event.event_id}: ExternalEvent {quote(event.name)} answers event "
                f"{target.event_id}, but {detail}"
            )
    if waits:
        waits.popleft()
    else:
        index.buffered[event.name] = index.buffered.get(event.name, 0) + 1


def outstanding(events: Sequence[Event]) -> tuple[list[int], list[str]]:
    """Activities (event ids) and sub-orchestrations (instances) scheduled but not answered."""
    answered = {e.source_event_id for e in events if type(e) in ANSWERS}
    activities = {
        e.event_id: None
        for e in events
        if isinstance(e, ActivityScheduled) and e.event_id not in answered
    }
    children = {
        e.instance: None
        for e in events
        if isinstance(e, SubOrchestrationScheduled) and e.event_id not in answered
    }
    return list(activities), list(children)


def estimate_size(events: Sequence[Event]) -> int:
    """Rough bytes that keeping ``events`` (and the replay state built on them) costs."""
    total = 0
    for event in events:
        kind = type(event)
        names = _TEXT_FIELDS.get(kind)
        if names is None:
            names = _TEXT_FIELDS[kind] = tuple(
                f.name for f in dataclasses.fields(kind) if f.type in ("str", "str | None")
            )
        total += _EVENT_BYTES
        for name in names:
            text = getattr(event, name)
            if text is not None:
                total += len(text)
    return total


def task_key(event: Event, *, ignore_instance: bool = False) -> tuple[object, ...]:
    """What must be equal for a scheduling call to replay a recorded schedule event."""
    match event:
        case ActivityScheduled():
            return ("activity", event.name, event.input, event.queue)
        case TimerCreated():
            return ("timer",)
        case ExternalSubscribed():
            return ("wait", event.name)
        case SubOrchestrationScheduled():
            instance = None if ignore_instance else event.instance
            return ("sub-orchestration", event.name, event.input, instance)
        case SystemCall():
            return ("system call", event.op)
    return (type(event).__name__, event.event_id)


def label(event: Event) -> str:
    """A short name for a scheduled task, for failure messages."""
    match event:
        case ActivityScheduled():
            return f"activity {quote(event.name)}"
        case SubOrchestrationScheduled():
            name, instance = quote(event.name), quote(event.instance)
            return f"sub-orchestration {name} (instance {instance})"
        case TimerCreated():
            return "a timer"
        case ExternalSubscribed():
            return f"a wait for event {quote(event.name)}"
        case SystemCall():
            return f"system call {quote(event.op)}"
    return f"a {type(event).__name__}"


def describe(event: Event) -> str:
    """``label`` plus the input, for nondeterminism messages."""
    if isinstance(event, ActivityScheduled | SubOrchestrationScheduled):
        return f"{label(event)} with input {clip(event.input)}"
    return label(event)


def clip(text: str) -> str:
    """``text``, shortened when long, so that a huge payload never floods an error message."""
    if len(text) <= _CLIP:
        return text
    return f"{text[:_CLIP]}…({len(text)} chars)"


def quote(name: str) -> str:
    """``repr(name)``, shortened like ``clip`` (without scanning all of a huge name)."""
    if len(name) <= _CLIP:
        return repr(name)
    return f"{name[:_CLIP]!r}…({len(name)} chars)"


def decode_recorded(text: str, event: Event, field_name: str) -> Any:
    """Decode a JSON payload stored in ``event``; unreadable text is corrupt history."""
    try:
        return decode(text)
    except ValueError:
        raise corrupt_history(
            f"event {event.event_id}: {type(event).__name__}.{field_name} is not valid JSON"
        ) from None
