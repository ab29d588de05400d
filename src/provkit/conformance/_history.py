"""A history of concurrent provider calls, for the ``concurrency`` category's checker.

Calls run as tasks on one event loop. A shared counter stamps each call's invocation and
completion, so "A completed before B was invoked" is exact; each call also keeps the
provider's clock (the injected manual clock, or the wall clock) at invocation and completion,
which bound the "now" the provider used. Every value put on a queue carries a unique label.
Plain data and a recorder; nothing here judges a history.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from provkit.contract import DuplicateEventError, LockLostError

T = TypeVar("T")

Queue = Literal["orchestrator", "worker"]
Kind = Literal["enqueue", "fetch", "ack", "abandon", "renew"]


@dataclass(slots=True)
class Call:
    """One provider call: what it was asked, when it ran, and how it ended.

    ``labels``: for an enqueue, the value enqueued; for a fetch, what it delivered (the batch,
    or the leased item); for an ack, the new values it carries (worker items, orchestrator
    items, a completion). ``key`` is what a fetch locked: the instance, or the item's label.
    ``token`` is the token a fetch handed out or a call used. ``duration_ms`` is the lock
    timeout of a fetch, the extension of a renew, the delay of an enqueue or abandon.
    """

    index: int
    task: str
    queue: Queue
    kind: Kind
    operation: str
    invoked: int
    started_s: float
    clock_lo: int
    completed: int = -1
    ended_s: float = -1.0
    clock_hi: int = -1
    labels: tuple[str, ...] = ()
    key: str | None = None
    token: str | None = None
    attempt: int | None = None
    duration_ms: int | None = None
    ignore_attempt: bool = False
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """The call returned normally."""
        return self.completed >= 0 and self.error is None

    @property
    def definitely_failed(self) -> bool:
        """The call raised an error after which the contract says nothing changed."""
        return isinstance(self.error, (LockLostError, DuplicateEventError))

    @property
    def may_have_applied(self) -> bool:
        """The call returned normally, or failed in a way that may have applied it."""
        return not self.definitely_failed


@dataclass(frozen=True, slots=True)
class Value:
    """A labelled message or worker item, and the call that put it on its queue."""

    label: str
    queue: Queue
    instance: str
    origin: int
    position: int
    visible_at_ms: int | None = None
    """A timer's fire time (epoch ms); ``None`` when it is visible once enqueued (+ delay)."""


@dataclass(slots=True)
class History:
    """Every call of a run, in invocation order, every value, and how the drain ended."""

    calls: list[Call] = field(default_factory=list)
    values: dict[str, Value] = field(default_factory=dict)
    drained: bool = False
    drain_note: str = "the queues were not drained"
    origin_ms: int = 0
    tasks: int = 0
    seconds: float = 0.0


class Recorder:
    """Runs provider calls and appends each to a ``History``."""

    def __init__(self, history: History, now_ms: Callable[[], int]) -> None:
        self.history = history
        self._now_ms = now_ms
        self._stamps = itertools.count()
        self._started = time.monotonic()

    async def call(
        self,
        task: str,
        queue: Queue,
        kind: Kind,
        operation: str,
        awaitable: Awaitable[T],
        **facts: object,
    ) -> tuple[Call, T | None]:
        """Await ``awaitable``; record it with ``facts`` (fields of ``Call``) and its outcome.

        A ``ProviderError`` or any other ``Exception`` is recorded, not raised; the result
        is then ``None``. Anything else (a hung call failing the test) propagates.
        """
        call = Call(
            index=len(self.history.calls),
            task=task,
            queue=queue,
            kind=kind,
            operation=operation,
            invoked=next(self._stamps),
            started_s=time.monotonic() - self._started,
            clock_lo=self._now_ms(),
        )
        for name, value in facts.items():
            setattr(call, name, value)
        self.history.calls.append(call)
        result: T | None = None
        try:
            result = await awaitable
        except Exception as error:
            call.error = error
        finally:
            call.clock_hi = self._now_ms()
            call.ended_s = time.monotonic() - self._started
            call.completed = next(self._stamps)
        return call, result

    def add_value(self, value: Value) -> None:
        self.history.values[value.label] = value
