"""History events: one row of an execution's history each.

Every event carries ``event_id`` (its position in the execution's history, strictly
increasing, gaps allowed), ``source_event_id`` (on completions: the ``event_id`` of the
scheduling event they answer) and ``timestamp_ms``. Events are immutable; providers store
them as opaque JSON (see ``provkit.contract.codec``) and never look inside.
"""

from __future__ import annotations

from dataclasses import dataclass

from provkit.contract._model import ErrorDetails
from provkit.contract.messages import DEFAULT_QUEUE


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Fields common to every history event."""

    event_id: int
    source_event_id: int | None = None
    timestamp_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestrationStarted(Event):
    """Always event 1 of an execution."""

    name: str
    version: str
    input: str
    parent_instance: str | None = None
    parent_execution_id: int | None = None
    parent_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestrationCompleted(Event):
    """Terminal: the orchestration returned ``output``."""

    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestrationFailed(Event):
    """Terminal: the orchestration failed."""

    error: ErrorDetails


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestrationContinuedAsNew(Event):
    """Terminal for this execution; the next one starts with ``input``."""

    input: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestrationCancelRequested(Event):
    """A cancel arrived; the terminal event follows in the same turn."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityScheduled(Event):
    """Activity ``name`` was scheduled with ``input`` on task queue ``queue``."""

    name: str
    input: str
    queue: str = DEFAULT_QUEUE


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityCompleted(Event):
    result: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityFailed(Event):
    error: ErrorDetails


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerCreated(Event):
    fire_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired(Event):
    fire_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalSubscribed(Event):
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalEvent(Event):
    name: str
    data: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SubOrchestrationScheduled(Event):
    name: str
    instance: str
    input: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SubOrchestrationCompleted(Event):
    result: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SubOrchestrationFailed(Event):
    error: ErrorDetails


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemCall(Event):
    """A recorded nondeterministic value (``new_guid``, ``utc_now``) replayed verbatim."""

    op: str
    value: str


EVENT_TYPES: tuple[type[Event], ...] = (
    OrchestrationStarted,
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationContinuedAsNew,
    OrchestrationCancelRequested,
    ActivityScheduled,
    ActivityCompleted,
    ActivityFailed,
    TimerCreated,
    TimerFired,
    ExternalSubscribed,
    ExternalEvent,
    SubOrchestrationScheduled,
    SubOrchestrationCompleted,
    SubOrchestrationFailed,
    SystemCall,
)
"""Every concrete event kind, for codecs and exhaustive tests."""
