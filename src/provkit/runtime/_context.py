"""The orchestration API: ``OrchestrationContext`` and the durable futures its calls return.

Nothing here runs on an event loop or reads a clock: awaiting a ``DurableFuture`` yields it to
the replay engine, which resolves it from history or ends the turn; every recorded decision is
delegated to the engine's timeline.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, cast

from provkit.contract.events import (
    ActivityScheduled,
    ExternalSubscribed,
    SubOrchestrationScheduled,
    TimerCreated,
)
from provkit.contract.messages import DEFAULT_QUEUE
from provkit.runtime._errors import ContinueAsNewSignal, TaskFailedError, corrupt_history
from provkit.runtime._payload import encode

if TYPE_CHECKING:
    from provkit.runtime._replay_timeline import Timeline
    from provkit.runtime._retry import RetryPolicy

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GUID_NAMESPACE = uuid.UUID("5d0c7f1e-3a57-4b8e-9f43-6c1d2e0b7a91")


class DurableFuture(Generic[T]):
    """The eventual result of a scheduled task, or of ``when_all``/``when_any`` over tasks.

    Await it inside the orchestration that created it; ``done()`` and ``result()`` inspect it
    without waiting. Futures resolve in history order, which makes ``when_any`` deterministic.
    """

    __slots__ = ("_error", "_listeners", "_owner", "_seq", "_value")

    def __init__(self, owner: Timeline) -> None:
        self._owner = owner
        self._seq: int | None = None
        self._value: Any = None
        self._error: TaskFailedError | None = None
        self._listeners: list[Callable[[DurableFuture[Any]], None]] = []

    def done(self) -> bool:
        """True once the task completed or failed."""
        return self._seq is not None

    def result(self) -> T:
        """The task's value; raises its ``TaskFailedError``, or ``RuntimeError`` while pending."""
        if self._seq is None:
            raise RuntimeError("the durable task has not completed yet: await it first")
        if self._error is not None:
            raise self._error
        return cast(T, self._value)

    def __await__(self) -> Generator[DurableFuture[Any], None, T]:
        if self._seq is None:
            yield self
        return self.result()

    def _resolve(self, value: Any, seq: int) -> None:
        self._value = value
        self._settle(seq)

    def _fail(self, error: TaskFailedError, seq: int) -> None:
        self._error = error
        self._settle(seq)

    def _settle(self, seq: int) -> None:
        self._seq = seq
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener(self)

    def _on_settled(self, listener: Callable[[DurableFuture[Any]], None]) -> None:
        self._listeners.append(listener)


def _watch(
    children: list[DurableFuture[Any]], on_settled: Callable[[DurableFuture[Any]], None]
) -> None:
    """Report already settled children in the order they settled, the others when they do."""
    settled = [c for c in children if c._seq is not None]
    for child in sorted(settled, key=lambda c: cast(int, c._seq)):
        on_settled(child)
    for child in children:
        if child._seq is None:
            child._on_settled(on_settled)


class _AllFuture(DurableFuture[list[Any]]):
    """Settles with every child's result, or with the first child failure (in history order)."""

    __slots__ = ("_children", "_remaining")

    def __init__(self, owner: Timeline, children: list[DurableFuture[Any]]) -> None:
        super().__init__(owner)
        self._children = children
        self._remaining = len(children)
        _watch(children, self._child_settled)

    def _child_settled(self, child: DurableFuture[Any]) -> None:
        if self._seq is not None:
            return
        seq = cast(int, child._seq)
        if child._error is not None:
            self._fail(child._error, seq)
            return
        self._remaining -= 1
        if self._remaining == 0:
            self._resolve([c._value for c in self._children], seq)


class _AnyFuture(DurableFuture[DurableFuture[Any]]):
    """Settles with the first child to settle (in history order), failed or not."""

    __slots__ = ()

    def __init__(self, owner: Timeline, children: list[DurableFuture[Any]]) -> None:
        super().__init__(owner)
        _watch(children, self._child_settled)

    def _child_settled(self, child: DurableFuture[Any]) -> None:
        if self._seq is None:
            self._resolve(child, cast(int, child._seq))


class OrchestrationContext:
    """What an orchestration uses to schedule durable work and read deterministic values.

    One context per turn; it is only usable while the engine runs the orchestration.
    """

    __slots__ = ("_timeline",)

    def __init__(self, timeline: Timeline) -> None:
        self._timeline = timeline

    @property
    def instance(self) -> str:
        """The orchestration instance id."""
        return self._timeline.instance

    @property
    def execution_id(self) -> int:
        """The execution being run (1, then +1 per ``continue_as_new``)."""
        return self._timeline.execution_id

    @property
    def is_replaying(self) -> bool:
        """True while the code is re-running history it produced in earlier turns."""
        return self._timeline.is_replaying

    def schedule_activity(
        self,
        name: str,
        input: Any = None,
        *,
        queue: str = DEFAULT_QUEUE,
        retry: RetryPolicy | None = None,
    ) -> DurableFuture[Any]:
        """Run activity ``name`` with ``input`` on task queue ``queue``; yields its result.

        Only a runtime serving ``queue`` runs it (see ``Runtime``'s ``queues``). With
        ``retry``, a failed run is retried as the ``RetryPolicy`` says, each attempt and
        each wait recorded in history; the future fails only when no attempt is left.
        """
        text = encode(input)

        def attempt() -> DurableFuture[Any]:
            return self._timeline.schedule(
                lambda event_id, now_ms: ActivityScheduled(
                    event_id=event_id, timestamp_ms=now_ms, name=name, input=text, queue=queue
                )
            )

        if retry is None:
            return attempt()
        # Imported here: the retrying future is a DurableFuture defined in this module.
        from provkit.runtime._retry import RetryingActivity

        self._timeline.check_open()
        return RetryingActivity(self._timeline, name, retry, attempt, self.schedule_timer)

    def schedule_timer(self, delay_seconds: float) -> DurableFuture[None]:
        """A future that completes ``delay_seconds`` (>= 0) after this call first ran."""
        if not delay_seconds >= 0:
            raise ValueError(f"timer delay must be >= 0 seconds, got {delay_seconds!r}")
        delay_ms = round(delay_seconds * 1000)
        return self._timeline.schedule(
            lambda event_id, now_ms: TimerCreated(
                event_id=event_id, timestamp_ms=now_ms, fire_at_ms=now_ms + delay_ms
            )
        )

    def wait_for_event(self, name: str) -> DurableFuture[Any]:
        """The data of the oldest external event ``name`` not yet consumed by another wait."""
        return self._timeline.schedule(
            lambda event_id, now_ms: ExternalSubscribed(
                event_id=event_id, timestamp_ms=now_ms, name=name
            )
        )

    def schedule_sub_orchestration(
        self, name: str, input: Any = None, instance: str | None = None
    ) -> DurableFuture[Any]:
        """Start orchestration ``name`` as a child; the future yields its output.

        ``instance`` defaults to ``"{parent}::sub::{event_id}"``, stable across replays.
        """
        text = encode(input)
        parent = self._timeline.instance
        return self._timeline.schedule(
            lambda event_id, now_ms: SubOrchestrationScheduled(
                event_id=event_id,
                timestamp_ms=now_ms,
                name=name,
                instance=f"{parent}::sub::{event_id}" if instance is None else instance,
                input=text,
            ),
            derived_instance=instance is None,
        )

    def when_all(self, tasks: Iterable[DurableFuture[Any]]) -> DurableFuture[list[Any]]:
        """Every task's result in ``tasks`` order; the first failure (in history order) raises."""
        children = self._own(tasks)
        if not children:
            empty: DurableFuture[list[Any]] = DurableFuture(self._timeline)
            empty._resolve([], self._timeline.next_seq())
            return empty
        return _AllFuture(self._timeline, children)

    def when_any(self, tasks: Iterable[DurableFuture[Any]]) -> DurableFuture[DurableFuture[Any]]:
        """The first of ``tasks`` to complete or fail, in history order; the others stay pending."""
        children = self._own(tasks)
        if not children:
            raise ValueError("when_any needs at least one task")
        return _AnyFuture(self._timeline, children)

    def continue_as_new(self, input: Any = None) -> NoReturn:
        """End this execution now and start the next one with ``input`` and empty history."""
        self._timeline.check_open()
        raise ContinueAsNewSignal(encode(input))

    def new_guid(self) -> str:
        """A GUID, recorded in history so that every replay returns the same one."""
        instance, execution_id = self._timeline.instance, self._timeline.execution_id
        return self._timeline.system_call(
            "new_guid",
            lambda event_id, now_ms: str(
                uuid.uuid5(_GUID_NAMESPACE, f"{instance}\n{execution_id}\n{event_id}\n{now_ms}")
            ),
        )

    def utc_now(self) -> datetime:
        """The current time (UTC, millisecond precision), recorded so that replays agree."""
        value = self._timeline.system_call("utc_now", lambda _event_id, now_ms: str(now_ms))
        try:
            return _EPOCH + timedelta(milliseconds=int(value))
        except ValueError:
            raise corrupt_history(
                f"recorded utc_now value {value!r} is not epoch milliseconds"
            ) from None

    def _own(self, tasks: Iterable[DurableFuture[Any]]) -> list[DurableFuture[Any]]:
        children = list(tasks)
        for task in children:
            if not isinstance(task, DurableFuture) or task._owner is not self._timeline:
                raise ValueError(f"{task!r} is not a durable task of this orchestration turn")
        return children
