"""What the SQLite provider keeps decoded between calls, so a turn costs what is new in it.

Three caches, used only by the connection's units of work (one at a time, see ``Calls``):
events by their stored text (each text is decoded once), the whole decoded history of each
execution a fetch returned, so the next fetch of that execution reads only the rows stored
after it, and the queue messages this connection stored, until a fetch takes them. Neither decides a
result: whatever they keep or forget, every call returns what the database holds.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple

from provkit.contract import codec
from provkit.contract.events import Event
from provkit.contract.messages import (
    ORCHESTRATOR_MESSAGE_TYPES,
    ActivityExecute,
    OrchestratorMessage,
)
from provkit.reference_providers._values import to_blob

_CACHED_EVENT_BYTES = 2048
"""Events stored as longer text are decoded each time they are read, keeping the cache small."""


class EventCache:
    """Decoded history events by their stored text.

    Events are immutable and the same text always decodes to the same event, so each is
    decoded once at most (acks remember the events they store). Beyond ``capacity`` the
    oldest entries go first.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._events: dict[bytes, Event] = {}
        self._capacity = capacity

    def decode(self, rows: list[tuple[bytes]]) -> list[Event]:
        """The events stored as ``rows`` (``CorruptDataError`` for text that is not one)."""
        events = self._events
        history = []
        for (raw,) in rows:
            event = events.get(raw)
            if event is None:
                event = codec.decode_event(raw)
                self.remember(raw, event)
            history.append(event)
        return history

    def remember(self, raw: bytes, event: Event) -> None:
        """Note that ``raw`` is how ``event`` is stored."""
        if len(raw) > _CACHED_EVENT_BYTES:
            return
        events = self._events
        if len(events) >= self._capacity:
            del events[next(iter(events))]
        events[raw] = event


class KnownHistory(NamedTuple):
    """An execution's history as a fetch last returned it."""

    execution_id: int
    events: list[Event]
    last_event_id: int


class HistoryCache:
    """Decoded histories of the executions this connection fetched, and the ``EventCache``.

    A kept history is valid while nothing but this connection changed the database (SQLite's
    ``data_version`` tells): another connection's commit, in this process or another, empties
    the cache, since it may have deleted and re-created an instance. This connection's own
    changes keep what they leave valid: rows appended after a kept history's last event are
    what the next fetch reads; an append at or below it forgets that instance (event ids may
    arrive out of order); deletions, pruning, fault injection and rolled-back batches empty
    the cache (``clear``). At most ``max_events`` events are kept, least recently used first.
    """

    def __init__(self, max_events: int = 65_536, event_capacity: int = 4096) -> None:
        self.events = EventCache(event_capacity)
        self._max_events = max_events
        self._kept: OrderedDict[bytes, KnownHistory] = OrderedDict()
        self._count = 0
        self._data_version: int | None = None

    def decode(self, rows: list[tuple[bytes]]) -> list[Event]:
        """The events stored as ``rows`` (see ``EventCache.decode``)."""
        return self.events.decode(rows)

    def known(
        self, conn: sqlite3.Connection, instance: bytes, execution_id: int
    ) -> KnownHistory | None:
        """The kept history of ``instance``'s execution ``execution_id``, if still valid.

        Call inside the transaction that then reads the rows after its last event.
        """
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self.clear()
            self._data_version = version
        kept = self._kept.get(instance)
        if kept is None or kept.execution_id != execution_id:
            return None
        self._kept.move_to_end(instance)
        return kept

    def keep(self, instance: bytes, execution_id: int, events: list[Event]) -> None:
        """Remember ``events`` as the whole history of ``instance``'s ``execution_id``."""
        self.forget(instance)
        if not events or len(events) > self._max_events:
            return
        self._kept[instance] = KnownHistory(execution_id, events, events[-1].event_id)
        self._count += len(events)
        while self._count > self._max_events:
            _, oldest = self._kept.popitem(last=False)
            self._count -= len(oldest.events)

    def appended(self, instance: bytes, execution_id: int, events: Sequence[Event]) -> None:
        """Note that ``events`` were stored in ``instance``'s execution ``execution_id``."""
        kept = self._kept.get(instance)
        if kept is None or kept.execution_id != execution_id:
            return
        if min(event.event_id for event in events) <= kept.last_event_id:
            self.forget(instance)

    def forget(self, instance: bytes) -> None:
        """Drop the kept history of ``instance``, if any."""
        kept = self._kept.pop(instance, None)
        if kept is not None:
            self._count -= len(kept.events)

    def clear(self) -> None:
        """Drop every kept history (decoded events by text stay: text decodes alike)."""
        self._kept.clear()
        self._count = 0


class MessageCache:
    """Queue messages by their stored text, from the call that stores one to the fetch that
    takes it: a message this connection enqueued is not decoded again.

    Messages are frozen, so a fetch may hand out the very object that was enqueued. A fetch
    takes its entry out (a later fetch of the same row, after an abandon, decodes it); text
    that is not a remembered message's, such as a corrupted row, is decoded as ever. Beyond
    ``capacity`` the oldest entries go first.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._messages: dict[bytes, OrchestratorMessage | ActivityExecute] = {}
        self._capacity = capacity

    def encode(self, message: OrchestratorMessage | ActivityExecute) -> str:
        """``codec.encode_message(message)``, remembering the message by that text."""
        text = codec.encode_message(message)
        messages = self._messages
        if len(messages) >= self._capacity:
            del messages[next(iter(messages))]
        messages[to_blob(text)] = message
        return text

    def orchestrator_message(self, raw: bytes) -> OrchestratorMessage:
        """``codec.decode_orchestrator_message(raw)``, without decoding a remembered text."""
        message = self._messages.pop(raw, None)
        if isinstance(message, ORCHESTRATOR_MESSAGE_TYPES):
            return message
        return codec.decode_orchestrator_message(raw)

    def work_item(self, raw: bytes) -> ActivityExecute:
        """``codec.decode_work_item(raw)``, without decoding a remembered text."""
        message = self._messages.pop(raw, None)
        if isinstance(message, ActivityExecute):
            return message
        return codec.decode_work_item(raw)
