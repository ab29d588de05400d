"""The engine's half of a turn, behind ``OrchestrationContext``.

It matches each scheduling call to the next recorded schedule event (or records a new one
with the next event id) and settles futures as the engine delivers completions in history
order. It never resumes the orchestration itself: the engine in ``_replay`` does that. A
timeline outlives its turn when the engine keeps the execution suspended: ``settle`` makes
the turn's new events part of what has been replayed and ``begin_turn`` opens the next turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar, cast

from provkit.contract import ErrorCategory, ErrorDetails
from provkit.contract.events import (
    ActivityCompleted,
    ActivityFailed,
    Event,
    ExternalEvent,
    ExternalSubscribed,
    SubOrchestrationCompleted,
    SubOrchestrationFailed,
    SystemCall,
    TimerFired,
)
from provkit.runtime._context import DurableFuture
from provkit.runtime._errors import ReplayAbort, TaskFailedError, nondeterminism
from provkit.runtime._replay_history import decode_recorded, describe, label, quote, task_key

E = TypeVar("E", bound=Event)

MakeEvent = Callable[[int, int], E]
"""Builds the event a scheduling call stands for, given its event id and the turn's time."""


class Timeline:
    """Schedule matching, event-id allocation and future settlement for one execution."""

    def __init__(
        self,
        *,
        instance: str,
        execution_id: int,
        now_ms: int,
        recorded: Sequence[Event],
        schedules: Mapping[int, Event],
        next_event_id: int,
        history_events_to_replay: int,
    ) -> None:
        self.instance = instance
        self.execution_id = execution_id
        self.new_events: list[Event] = []
        self.abort: ReplayAbort | None = None
        """The nondeterminism raised inside user code, kept in case the code swallowed it."""
        self._now_ms = now_ms
        self._recorded = list(recorded)
        self._cursor = 0
        self._schedules = schedules
        self._next_event_id = next_event_id
        self._unconsumed = history_events_to_replay
        self._seq = 0
        self._open = True
        self._tasks: dict[int, tuple[Event, DurableFuture[Any]]] = {}
        self._waits: dict[str, deque[int]] = {}
        self._buffered: dict[str, deque[Any]] = {}

    @property
    def next_event_id(self) -> int:
        """The id the next new event will get."""
        return self._next_event_id

    @property
    def is_replaying(self) -> bool:
        """True while history events remain that the code has not yet been shown."""
        return self._unconsumed > 0

    def next_seq(self) -> int:
        """The settlement order of the next future to settle."""
        self._seq += 1
        return self._seq

    def check_open(self) -> None:
        """Refuse ``ctx`` calls once the turn is over (a ``finally`` block, a leaked context)."""
        if not self._open:
            raise RuntimeError(
                f"the orchestration context of {self.instance!r} was used after its turn ended"
            )

    def close(self) -> None:
        """End the turn: later ``ctx`` calls raise ``RuntimeError``."""
        self._open = False

    def settle(self) -> None:
        """End a turn whose events were recorded: its new events count as replayed from now on.

        New events are only recorded once every recorded one was matched, so replay then
        stands right after them.
        """
        self._open = False
        if self.new_events:
            self._recorded += self.new_events
            self._cursor = len(self._recorded)
            self.new_events = []

    def begin_turn(self, now_ms: int, next_event_id: int) -> None:
        """Open the next turn of a settled timeline: new events get ids from ``next_event_id``."""
        self._open = True
        self._now_ms = now_ms
        self._next_event_id = next_event_id

    def schedule(
        self, make: MakeEvent[Event], *, derived_instance: bool = False
    ) -> DurableFuture[Any]:
        """Replay or record one scheduling call; the future settles when its answer arrives."""
        event = self._match_or_record(make, derived_instance)
        future: DurableFuture[Any] = DurableFuture(self)
        self._tasks[event.event_id] = (event, future)
        if isinstance(event, ExternalSubscribed):
            buffered = self._buffered.get(event.name)
            if buffered:
                future._resolve(buffered.popleft(), self.next_seq())
            else:
                self._waits.setdefault(event.name, deque()).append(event.event_id)
        return future

    def system_call(self, op: str, make_value: Callable[[int, int], str]) -> str:
        """The recorded value of this system call, or a new value recorded now."""
        event = self._match_or_record(
            lambda event_id, now_ms: SystemCall(
                event_id=event_id, timestamp_ms=now_ms, op=op, value=make_value(event_id, now_ms)
            )
        )
        return event.value

    def deliver(self, event: Event, *, from_history: bool) -> None:
        """Settle the future ``event`` answers (an external event may wait for its subscriber).

        Raises ``ReplayAbort`` when the code has not scheduled what ``event`` answers, and for
        task failures of any category but APPLICATION (user code never sees those).
        """
        if from_history:
            self._unconsumed -= 1
        if isinstance(event, ExternalEvent):
            self._deliver_external(event)
            return
        source = cast(int, event.source_event_id)
        task = self._tasks.get(source)
        if task is None:
            raise nondeterminism(
                f"event {event.event_id}: {type(event).__name__} answers event {source} "
                f"({describe(self._schedules[source])}), which the orchestration has not scheduled"
            )
        scheduled, future = task
        match event:
            case ActivityCompleted() | SubOrchestrationCompleted():
                future._resolve(decode_recorded(event.result, event, "result"), self.next_seq())
            case TimerFired():
                future._resolve(None, self.next_seq())
            case ActivityFailed() | SubOrchestrationFailed():
                self._fail(scheduled, future, event.error)

    def _fail(self, scheduled: Event, future: DurableFuture[Any], error: ErrorDetails) -> None:
        message = f"{label(scheduled)} (event {scheduled.event_id}) failed: {error.message}"
        if error.category is not ErrorCategory.APPLICATION:
            raise ReplayAbort(replace(error, message=message))
        future._fail(TaskFailedError(message, error), self.next_seq())

    def _deliver_external(self, event: ExternalEvent) -> None:
        waits = self._waits.get(event.name)
        source = event.source_event_id
        if source is not None and not (waits and waits[0] == source):
            raise nondeterminism(
                f"event {event.event_id}: ExternalEvent {quote(event.name)} answers event {source} "
                f"({describe(self._schedules[source])}), which the orchestration has not reached"
            )
        value = decode_recorded(event.data, event, "data")
        if waits:
            self._tasks[waits.popleft()][1]._resolve(value, self.next_seq())
        else:
            self._buffered.setdefault(event.name, deque()).append(value)

    def _match_or_record(self, make: MakeEvent[E], derived_instance: bool = False) -> E:
        self.check_open()
        if self._cursor < len(self._recorded):
            recorded = self._recorded[self._cursor]
            proposed = make(recorded.event_id, recorded.timestamp_ms)
            if task_key(recorded, ignore_instance=derived_instance) != task_key(
                proposed, ignore_instance=derived_instance
            ):
                self.abort = nondeterminism(
                    f"replay mismatch at event {recorded.event_id}: history has "
                    f"{describe(recorded)}, but the orchestration scheduled {describe(proposed)}"
                )
                raise self.abort
            self._cursor += 1
            self._unconsumed -= 1
            return cast(E, recorded)
        event = make(self._next_event_id, self._now_ms)
        self._next_event_id += 1
        self.new_events.append(event)
        return event
