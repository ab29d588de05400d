"""The replay engine: one orchestration turn as a pure function of history and new messages.

``run_turn`` validates history, turns the batch into completion events, replays the
orchestration coroutine by hand (never on an event loop) and returns everything the turn
decided as a ``TurnResult``. It performs no I/O and reads no clock: time is ``now_ms``.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provkit.contract import ErrorCategory, ErrorDetails
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
    TimerCreated,
    TimerFired,
)
from provkit.contract.messages import (
    DEFAULT_QUEUE,
    ActivityCompletedMessage,
    ActivityFailedMessage,
    CancelInstance,
    ContinueAsNew,
    ExternalRaised,
    OrchestratorMessage,
    StartOrchestration,
    SubOrchestrationCompletedMessage,
    SubOrchestrationFailedMessage,
    TimerFiredMessage,
)
from provkit.runtime._context import DurableFuture, OrchestrationContext
from provkit.runtime._errors import (
    ContinueAsNewSignal,
    ReplayAbort,
    corrupt_history,
    nondeterminism,
)
from provkit.runtime._payload import encode
from provkit.runtime._replay_history import (
    TERMINAL_KINDS,
    HistoryIndex,
    clip,
    decode_recorded,
    describe,
    estimate_size,
    index_history,
    outstanding,
    quote,
)
from provkit.runtime._replay_timeline import Timeline

OrchestrationFn = Callable[[OrchestrationContext, Any], Coroutine[Any, Any, Any]]
"""``async def orchestration(ctx, input) -> output``; input and output are JSON values."""


class TurnOutcome(enum.Enum):
    """How a turn left the execution."""

    CONTINUE = "continue"
    COMPLETED = "completed"
    FAILED = "failed"
    CONTINUED_AS_NEW = "continued_as_new"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleActivity:
    """Enqueue activity ``name`` on task queue ``queue``; its completion answers ``event_id``."""

    event_id: int
    name: str
    input: str
    queue: str = DEFAULT_QUEUE


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateTimer:
    """Deliver a ``TimerFired`` for ``event_id`` at ``fire_at_ms``."""

    event_id: int
    fire_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitExternal:
    """The orchestration waits for external event ``name`` (nothing to enqueue)."""

    event_id: int
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StartSubOrchestration:
    """Start child ``instance`` running ``name``; its ending answers ``event_id``."""

    event_id: int
    name: str
    instance: str
    input: str


Action = ScheduleActivity | CreateTimer | WaitExternal | StartSubOrchestration


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnResult:
    """Everything one turn decided; the runtime commits it in one ack.

    ``output``: the JSON output (COMPLETED) or next input (CONTINUED_AS_NEW). ``error``: set
    for FAILED and CANCELLED. ``history_delta``: events to append, ids strictly increasing.
    ``actions``: work newly scheduled this turn, in event-id order. ``cancelled_activities``
    (terminal outcomes): activities scheduled in earlier turns and still unanswered, whose
    work items should go; activities scheduled in the final turn itself are fire-and-forget
    and appear in ``actions`` instead. ``cancelled_sub_orchestrations`` (CANCELLED only):
    children still running. ``started``: this execution's ``OrchestrationStarted``, the very
    object in ``history_delta`` when the turn created it.
    """

    outcome: TurnOutcome
    output: str | None
    error: ErrorDetails | None
    history_delta: list[Event]
    actions: list[Action]
    cancelled_activities: list[int]
    cancelled_sub_orchestrations: list[str]
    started: OrchestrationStarted | None


def run_turn(
    *,
    instance: str,
    execution_id: int,
    history: Sequence[Event],
    messages: Sequence[OrchestratorMessage],
    orchestrations: Mapping[str, OrchestrationFn],
    now_ms: int,
) -> TurnResult:
    """Run one turn of execution ``execution_id`` of ``instance``, replaying all of ``history``.

    Never raises for bad history, bad messages or failing user code: those end the turn
    FAILED (see ``ErrorDetails.kind``: ``corrupt_history``, ``nondeterminism``,
    ``unregistered``, ``orchestration_failed``...). Terminal history gives CONTINUE with
    nothing to do.
    """
    replay = ExecutionReplay(
        instance=instance, execution_id=execution_id, orchestrations=orchestrations
    )
    try:
        return replay.run_turn(history, messages, now_ms)
    finally:
        replay.close()


class ExecutionReplay:
    """One execution of one instance, replayed turn after turn and kept in between.

    ``run_turn`` runs one turn, with ``run_turn``'s rules. A turn that leaves the execution
    running keeps the orchestration suspended where it waits (``resumable``). When the next
    turn's history is exactly the history so far (the one the turn was given plus its
    ``history_delta``: what its ack committed), that turn only runs its new messages: nothing
    is replayed, decoded or encoded again, and the outcome is the one a full replay gives.
    Any other history is replayed from scratch. ``close`` discards the suspended code.
    """

    def __init__(
        self, *, instance: str, execution_id: int, orchestrations: Mapping[str, OrchestrationFn]
    ) -> None:
        self.instance = instance
        self.execution_id = execution_id
        self._orchestrations = orchestrations
        self._history: list[Event] = []
        self._suspended: _Suspended | None = None

    @property
    def resumable(self) -> bool:
        """True when the last turn left the orchestration suspended, waiting for messages."""
        return self._suspended is not None

    @property
    def size_bytes(self) -> int:
        """A rough estimate of the memory the kept state holds (0 when not resumable)."""
        return 0 if self._suspended is None else self._suspended.size_bytes

    def expects(self, history: Sequence[Event]) -> bool:
        """Whether ``history`` is the history left by the last turn, so a turn can resume."""
        if self._suspended is None or len(history) != len(self._history):
            return False
        # Equal lists of the very same event objects compare at C speed (identity first).
        return (history if isinstance(history, list) else list(history)) == self._history

    def run_turn(
        self,
        history: Sequence[Event],
        messages: Sequence[OrchestratorMessage],
        now_ms: int,
    ) -> TurnResult:
        """Run one turn; resumes the suspended orchestration when ``expects(history)``."""
        suspended = self._suspended if self.expects(history) else None
        if suspended is None:
            self.close()
            self._history = list(history)
        self._suspended = None
        turn = _Turn(
            self.instance,
            self.execution_id,
            self._history,
            messages,
            self._orchestrations,
            now_ms,
            suspended,
        )
        result = turn.run()
        self._suspended = turn.kept
        if turn.kept is None:
            self._history = []
        else:
            self._history += result.history_delta
        return result

    def close(self) -> None:
        """Discard the suspended orchestration, if any (its ``finally`` blocks run now)."""
        suspended, self._suspended = self._suspended, None
        self._history = []
        if suspended is not None:
            suspended.timeline.close()
            _close(suspended.coro)


@dataclass(slots=True, kw_only=True)
class _Suspended:
    """An execution between turns: the code waits on ``waiting``; ids continue at ``next_id``."""

    started: OrchestrationStarted
    index: HistoryIndex
    timeline: Timeline
    coro: Coroutine[Any, Any, Any]
    waiting: DurableFuture[Any]
    next_id: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class _Returned:
    output: str


@dataclass(frozen=True, slots=True)
class _ContinuedAsNew:
    input: str


@dataclass(frozen=True, slots=True)
class _Raised:
    error: ErrorDetails


_Ending = _Returned | _ContinuedAsNew | _Raised
"""How user code left the turn."""

_MESSAGE_ANSWERS: dict[type[OrchestratorMessage], type[Event]] = {
    ActivityCompletedMessage: ActivityScheduled,
    ActivityFailedMessage: ActivityScheduled,
    TimerFiredMessage: TimerCreated,
    SubOrchestrationCompletedMessage: SubOrchestrationScheduled,
    SubOrchestrationFailedMessage: SubOrchestrationScheduled,
}
"""Completion message kind -> the schedule kind its ``id`` must point at."""

_CompletionMessage = (
    ActivityCompletedMessage
    | ActivityFailedMessage
    | TimerFiredMessage
    | SubOrchestrationCompletedMessage
    | SubOrchestrationFailedMessage
)


class _Turn:
    """The state of one turn: replaying ``history``, or resuming where ``suspended`` waits."""

    def __init__(
        self,
        instance: str,
        execution_id: int,
        history: list[Event],
        messages: Sequence[OrchestratorMessage],
        orchestrations: Mapping[str, OrchestrationFn],
        now_ms: int,
        suspended: _Suspended | None = None,
    ) -> None:
        self.instance = instance
        self.execution_id = execution_id
        self.history = history
        self.messages = messages
        self.orchestrations = orchestrations
        self.now_ms = now_ms
        self.suspended = suspended
        self.waiting: tuple[Coroutine[Any, Any, Any], DurableFuture[Any]] | None = None
        """The code and what it awaits, when the turn leaves it waiting."""
        self.kept: _Suspended | None = None
        """Set when the turn ends with the code waiting: what the next turn resumes."""
        self.started: OrchestrationStarted | None = None
        self.delta: list[Event] = []
        """Events decided so far, in id order: the new Started, then accepted completions."""
        if suspended is None:
            self.next_id = max((e.event_id for e in history), default=0) + 1
        else:
            self.next_id = suspended.next_id

    def run(self) -> TurnResult:
        if self.suspended is not None:
            # The history is the one the previous turn left: validated, indexed, not ended.
            self.started = self.suspended.started
            index = self.suspended.index
        else:
            try:
                self.started = self._start()
            except ReplayAbort as abort:
                return self._failed(abort.details)
            if any(isinstance(e, TERMINAL_KINDS) for e in self.history):
                return self._result(TurnOutcome.CONTINUE)
            try:
                index = index_history(self.history if self.history else [self.started])
            except ReplayAbort as abort:
                return self._failed(abort.details)
        started = self.started
        accepted_from, next_id = len(self.delta), self.next_id
        try:
            cancel_reason = self._accept_messages(index)
        except ReplayAbort as abort:
            del self.delta[accepted_from:]  # a batch with a bad completion is refused whole
            self.next_id = next_id
            return self._failed(abort.details)
        if cancel_reason is not None:
            return self._cancelled(cancel_reason)
        return self._execute(started, index)

    def _start(self) -> OrchestrationStarted:
        if self.history:
            first = self.history[0]
            if not isinstance(first, OrchestrationStarted):
                raise corrupt_history(
                    f"first event must be OrchestrationStarted, found {type(first).__name__} "
                    f"(event {first.event_id})"
                )
            return first
        for message in self.messages:
            if message.instance != self.instance:
                continue
            if (
                isinstance(message, StartOrchestration)
                and message.execution_id == self.execution_id
            ):
                started = OrchestrationStarted(
                    event_id=self._new_id(),
                    timestamp_ms=self.now_ms,
                    name=message.orchestration,
                    version=message.version or "0",
                    input=message.input,
                    parent_instance=message.parent_instance,
                    parent_execution_id=message.parent_execution_id,
                    parent_id=message.parent_id,
                )
            elif isinstance(message, ContinueAsNew):
                started = OrchestrationStarted(
                    event_id=self._new_id(),
                    timestamp_ms=self.now_ms,
                    name=message.orchestration,
                    version=message.version or "0",
                    input=message.input,
                )
            else:
                continue
            self.delta.append(started)
            return started
        raise corrupt_history("empty history and no start message for this execution")

    def _accept_messages(self, index: HistoryIndex) -> str | None:
        """Append this batch's completions to the delta; return the cancel reason, if any.

        Messages for another instance or execution are stale and dropped, as are second
        answers to one schedule; a completion answering nothing, or the wrong kind of
        schedule, raises nondeterminism.
        """
        cancel_reason = index.cancel.reason if index.cancel is not None else None
        for message in self.messages:
            if message.instance != self.instance:
                continue
            match message:
                case CancelInstance() if cancel_reason is None:
                    cancel_reason = message.reason
                    self.delta.append(
                        OrchestrationCancelRequested(
                            event_id=self._new_id(), timestamp_ms=self.now_ms, reason=message.reason
                        )
                    )
                case ExternalRaised():
                    waits = index.open_waits.get(message.name)
                    if not waits:
                        # No wait takes it yet: buffered, as indexing the history would find.
                        index.buffered[message.name] = index.buffered.get(message.name, 0) + 1
                    self.delta.append(
                        ExternalEvent(
                            event_id=self._new_id(),
                            source_event_id=waits.popleft() if waits else None,
                            timestamp_ms=self.now_ms,
                            name=message.name,
                            data=message.data,
                        )
                    )
                case (
                    ActivityCompletedMessage()
                    | ActivityFailedMessage()
                    | TimerFiredMessage()
                    | SubOrchestrationCompletedMessage()
                    | SubOrchestrationFailedMessage()
                ) if message.execution_id == self.execution_id:
                    self._accept_completion(message, index)
        return cancel_reason

    def _accept_completion(self, message: _CompletionMessage, index: HistoryIndex) -> None:
        kind = type(message).__name__
        target = index.schedules.get(message.id)
        if target is None:
            raise nondeterminism(f"{kind} for event {message.id}, which is not a scheduled task")
        expected = _MESSAGE_ANSWERS[type(message)]
        if not isinstance(target, expected):
            raise nondeterminism(
                f"{kind} for event {message.id}, which is {describe(target)} "
                f"(expected {expected.__name__})"
            )
        if (
            isinstance(message, SubOrchestrationCompletedMessage | SubOrchestrationFailedMessage)
            and isinstance(target, SubOrchestrationScheduled)
            and message.child_instance != target.instance
        ):
            raise nondeterminism(
                f"{kind} from {quote(message.child_instance)} for event {message.id}, "
                f"which started {quote(target.instance)}"
            )
        if message.id in index.answered:
            return
        event = _completion_event(message, self._new_id(), self.now_ms)
        index.answered[message.id] = event.event_id
        self.delta.append(event)

    def _cancelled(self, reason: str) -> TurnResult:
        error = ErrorDetails(category=ErrorCategory.APPLICATION, kind="cancelled", message=reason)
        self.delta.append(
            OrchestrationFailed(event_id=self._new_id(), timestamp_ms=self.now_ms, error=error)
        )
        activities, children = outstanding(self.history + self.delta)
        return self._result(
            TurnOutcome.CANCELLED,
            error=error,
            cancelled_activities=activities,
            cancelled_sub_orchestrations=children,
        )

    def _execute(self, started: OrchestrationStarted, index: HistoryIndex) -> TurnResult:
        accepted = [e for e in self.delta if e is not started]
        suspended = self.suspended
        if suspended is None:
            timeline = Timeline(
                instance=self.instance,
                execution_id=self.execution_id,
                now_ms=self.now_ms,
                recorded=index.recorded,
                schedules=index.schedules,
                next_event_id=self.next_id,
                history_events_to_replay=len(index.recorded) + len(index.completions),
            )
        else:
            timeline = suspended.timeline
            timeline.begin_turn(self.now_ms, self.next_id)
        try:
            ending = self._drive(started, timeline, index, accepted)
        except ReplayAbort as abort:
            return self._failed(abort.details)
        self.delta.extend(timeline.new_events)
        self.next_id = timeline.next_event_id
        actions = [a for a in map(_action, timeline.new_events) if a is not None]
        if ending is None:
            self._keep(started, index, timeline)
            return self._result(TurnOutcome.CONTINUE, actions=actions)
        in_flight = outstanding(self.history + accepted)[0]
        event_id, now_ms = self._new_id(), self.now_ms
        match ending:
            case _Returned(output=output):
                self.delta.append(
                    OrchestrationCompleted(event_id=event_id, timestamp_ms=now_ms, output=output)
                )
                return self._result(
                    TurnOutcome.COMPLETED,
                    output=output,
                    actions=actions,
                    cancelled_activities=in_flight,
                )
            case _ContinuedAsNew(input=input):
                self.delta.append(
                    OrchestrationContinuedAsNew(event_id=event_id, timestamp_ms=now_ms, input=input)
                )
                return self._result(
                    TurnOutcome.CONTINUED_AS_NEW,
                    output=input,
                    actions=actions,
                    cancelled_activities=in_flight,
                )
            case _Raised(error=error):
                self.delta.append(
                    OrchestrationFailed(event_id=event_id, timestamp_ms=now_ms, error=error)
                )
                return self._result(
                    TurnOutcome.FAILED, error=error, actions=actions, cancelled_activities=in_flight
                )

    def _drive(
        self,
        started: OrchestrationStarted,
        timeline: Timeline,
        index: HistoryIndex,
        accepted: Sequence[Event],
    ) -> _Ending | None:
        """Run the code, delivering completions in history order; ``None``: still waiting.

        A fresh turn starts the code and replays the history's completions first; a resumed
        one continues where the code waits. Code left waiting stays open in ``self.waiting``.
        """
        suspended = self.suspended
        coro = self._start_code(started, timeline) if suspended is None else suspended.coro
        try:
            if suspended is None:
                state = _resume(coro, timeline)
                state = _deliver(coro, timeline, state, index.completions, from_history=True)
            else:
                state = suspended.waiting
            state = _deliver(coro, timeline, state, accepted, from_history=False)
        except BaseException:
            timeline.close()
            _close(coro)
            raise
        if timeline.abort is None and isinstance(state, DurableFuture):
            self.waiting = (coro, state)
            return None
        timeline.close()
        _close(coro)
        if timeline.abort is not None:
            raise timeline.abort
        return None if isinstance(state, DurableFuture) else state

    def _start_code(
        self, started: OrchestrationStarted, timeline: Timeline
    ) -> Coroutine[Any, Any, Any]:
        function = self.orchestrations.get(started.name)
        if function is None:
            raise ReplayAbort(
                ErrorDetails(
                    category=ErrorCategory.CONFIGURATION,
                    kind="unregistered",
                    message=f"orchestration {quote(started.name)} is not registered",
                )
            )
        ctx = OrchestrationContext(timeline)
        coro = function(ctx, decode_recorded(started.input, started, "input"))
        if not isinstance(coro, Coroutine):
            raise ReplayAbort(
                ErrorDetails(
                    category=ErrorCategory.CONFIGURATION,
                    kind="not_async",
                    message=f"orchestration {quote(started.name)} returned "
                    f"{type(coro).__name__}, not a coroutine: define it with 'async def'",
                )
            )
        return coro

    def _keep(self, started: OrchestrationStarted, index: HistoryIndex, timeline: Timeline) -> None:
        """Keep the waiting code as the next turn finds it: this turn's events are history."""
        assert self.waiting is not None
        coro, waiting = self.waiting
        for event in timeline.new_events:
            index.add_schedule(event)
        timeline.settle()
        suspended = self.suspended
        if suspended is None:
            # Replay is over: what only replay needed can go.
            index.recorded, index.completions = [], []
            size = estimate_size(self.history)
        else:
            size = suspended.size_bytes
        self.kept = _Suspended(
            started=started,
            index=index,
            timeline=timeline,
            coro=coro,
            waiting=waiting,
            next_id=self.next_id,
            size_bytes=size + estimate_size(self.delta),
        )

    def _failed(self, error: ErrorDetails) -> TurnResult:
        """FAILED: the Started and completions accepted so far, then ``OrchestrationFailed``.

        An empty history without a start message gets no events at all: event 1 of an
        execution must be its ``OrchestrationStarted``.
        """
        if self.history or self.delta:
            self.delta.append(
                OrchestrationFailed(event_id=self._new_id(), timestamp_ms=self.now_ms, error=error)
            )
        return self._result(
            TurnOutcome.FAILED,
            error=error,
            cancelled_activities=outstanding(self.history + self.delta)[0],
        )

    def _result(
        self,
        outcome: TurnOutcome,
        *,
        output: str | None = None,
        error: ErrorDetails | None = None,
        actions: list[Action] | None = None,
        cancelled_activities: list[int] | None = None,
        cancelled_sub_orchestrations: list[str] | None = None,
    ) -> TurnResult:
        return TurnResult(
            outcome=outcome,
            output=output,
            error=error,
            history_delta=self.delta,
            actions=actions or [],
            cancelled_activities=cancelled_activities or [],
            cancelled_sub_orchestrations=cancelled_sub_orchestrations or [],
            started=self.started,
        )

    def _new_id(self) -> int:
        event_id = self.next_id
        self.next_id += 1
        return event_id


def _resume(coro: Coroutine[Any, Any, Any], timeline: Timeline) -> DurableFuture[Any] | _Ending:
    """Run the code until it waits on a pending durable future, or ends."""
    while True:
        try:
            awaited = coro.send(None)
        except StopIteration as stop:
            try:
                return _Returned(encode(stop.value))
            except TypeError as exc:
                return _Raised(_orchestration_failed(exc))
        except ContinueAsNewSignal as signal:
            return _ContinuedAsNew(signal.input)
        except Exception as exc:
            return _Raised(_orchestration_failed(exc))
        if not (isinstance(awaited, DurableFuture) and awaited._owner is timeline):
            raise nondeterminism(
                f"orchestration awaited {_awaited_chain(coro)} (which yielded "
                f"{clip(repr(awaited))}), not a durable task: await only what ctx.schedule_*, "
                "ctx.wait_for_event, ctx.when_all and ctx.when_any return"
            )
        if not awaited.done():
            return awaited


def _deliver(
    coro: Coroutine[Any, Any, Any],
    timeline: Timeline,
    state: DurableFuture[Any] | _Ending,
    events: Sequence[Event],
    *,
    from_history: bool,
) -> DurableFuture[Any] | _Ending:
    """Deliver ``events`` in order, resuming the code whenever what it awaits is done."""
    for event in events:
        if not isinstance(state, DurableFuture):
            break
        timeline.deliver(event, from_history=from_history)
        if state.done():
            state = _resume(coro, timeline)
    return state


def _awaited_chain(coro: Coroutine[Any, Any, Any]) -> str:
    """``helper() -> sleep() -> __sleep0()``: what the suspended coroutine is awaiting."""
    links: list[str] = []
    awaited: Any = getattr(coro, "cr_await", None)
    while awaited is not None:
        name = getattr(awaited, "__qualname__", None)
        links.append(f"{name}()" if name else type(awaited).__qualname__)
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return " -> ".join(links) or "an unknown awaitable"


def _close(coro: Coroutine[Any, Any, Any]) -> None:
    """Discard a suspended coroutine; whatever its ``finally`` blocks do cannot change the turn."""
    with contextlib.suppress(Exception, ReplayAbort, ContinueAsNewSignal):
        coro.close()


def _orchestration_failed(exc: Exception) -> ErrorDetails:
    return ErrorDetails(
        category=ErrorCategory.APPLICATION,
        kind="orchestration_failed",
        message=str(exc) or type(exc).__name__,
    )


def _completion_event(message: _CompletionMessage, event_id: int, now_ms: int) -> Event:
    """The completion event ``message`` stands for."""
    common: dict[str, Any] = {
        "event_id": event_id,
        "source_event_id": message.id,
        "timestamp_ms": now_ms,
    }
    match message:
        case ActivityCompletedMessage():
            return ActivityCompleted(**common, result=message.result)
        case ActivityFailedMessage():
            return ActivityFailed(**common, error=message.error)
        case TimerFiredMessage():
            return TimerFired(**common, fire_at_ms=message.fire_at_ms)
        case SubOrchestrationCompletedMessage():
            return SubOrchestrationCompleted(**common, result=message.result)
        case SubOrchestrationFailedMessage():
            return SubOrchestrationFailed(**common, error=message.error)


def _action(event: Event) -> Action | None:
    match event:
        case ActivityScheduled():
            return ScheduleActivity(
                event_id=event.event_id, name=event.name, input=event.input, queue=event.queue
            )
        case TimerCreated():
            return CreateTimer(event_id=event.event_id, fire_at_ms=event.fire_at_ms)
        case ExternalSubscribed():
            return WaitExternal(event_id=event.event_id, name=event.name)
        case SubOrchestrationScheduled():
            return StartSubOrchestration(
                event_id=event.event_id, name=event.name, instance=event.instance, input=event.input
            )
    return None
