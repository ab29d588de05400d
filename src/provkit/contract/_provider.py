"""The interfaces a provider author implements: ``Provider``, ``ProviderFactory``, capabilities."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from provkit.contract._clock import Clock
from provkit.contract._model import (
    ActivityId,
    ExecutionMetadata,
    OrchestrationItem,
    WorkLease,
)
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage

CONTRACT_VERSION = "1"
"""Version of the provider contract described here."""


class Capability(enum.Enum):
    """Optional abilities a provider declares in ``Provider.capabilities``.

    Tests of an undeclared capability are skipped with a reason naming it; the six core
    categories never depend on one, except that ``CLOCK`` lets expiry tests move time
    instead of sleeping and ``FAULT_INJECTION`` enables the corrupt-data tests.
    """

    CLOCK = "clock"
    """The provider implements ``ClockControl``: "now" comes from an injected ``Clock``."""
    FAULT_INJECTION = "fault_injection"
    """The provider implements ``FaultInjection`` (store undecodable data on purpose)."""
    LONG_POLL = "long_poll"
    """Fetches may wait up to ``poll_timeout`` for work instead of returning at once."""
    MANAGEMENT = "management"
    """Listing instances and executions, queue depths, metrics."""
    DELETION = "deletion"
    """Deleting instance trees."""
    PRUNE = "prune"
    """Pruning old executions."""


@runtime_checkable
class Provider(Protocol):
    """Storage for durable orchestrations: history per execution plus two queues.

    All operations are coroutines. Durations are seconds (``float``); times are epoch
    milliseconds (``int``) from the provider's clock. Every failure is a
    ``provkit.contract.ProviderError`` subclass; any other exception escaping an operation is
    a conformance failure. Lock tokens are opaque strings, unique per fetch; a token is dead
    once acked, abandoned, expired-and-re-fetched, or never issued.
    """

    name: str
    """Human-readable provider name for reports."""
    capabilities: frozenset[Capability]
    """Optional capabilities this provider implements."""

    # -- orchestrator queue ------------------------------------------------------------

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        """Append ``item`` to ``item.instance``'s queue, visible at now (+ ``delay``).

        ``item.visible_at_ms`` (timers) is honoured too: the item becomes visible at the
        later of the two. Never creates an instance record, execution or history.
        """
        ...

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        """Lock the instance owning the oldest visible message and return its turn.

        Only instances without a live lock are candidates. The lock gets a fresh token and
        expires at now + ``lock_timeout``. The batch is every message of that instance
        visible now, in enqueue order; messages enqueued later are not part of it. Each
        batch message's delivery count grows by one; ``attempt_count`` is the batch maximum.
        Of concurrent callers exactly one wins an instance; a caller that loses a race
        moves on to the next candidate instead of returning ``None`` while work exists.
        Undecodable stored history still returns the item, with ``history_error`` set.
        ``None`` means no visible work (after waiting up to ``poll_timeout`` if the
        provider declares ``LONG_POLL``; otherwise it returns at once).
        """
        ...

    async def ack_orchestration_item(
        self,
        lock_token: str,
        execution_id: int,
        history_delta: Sequence[Event],
        worker_items: Sequence[ActivityExecute],
        orchestrator_items: Sequence[OrchestratorMessage],
        metadata: ExecutionMetadata,
        cancelled_activities: Sequence[ActivityId] = (),
    ) -> None:
        """Commit one turn atomically, then release the instance lock.

        In one unit: require a live lock for ``lock_token`` (else ``LockLostError``);
        delete exactly the batch's messages; create the instance record if
        ``metadata.orchestration_name`` is set; create execution ``execution_id`` if absent;
        set the current execution to max(current, ``execution_id``); append
        ``history_delta`` to that execution (an ``event_id`` already stored or repeated in
        the delta raises ``DuplicateEventError``); store ``metadata.status``/``output``;
        enqueue ``worker_items`` and ``orchestrator_items`` (any instance; visibility as in
        ``enqueue_for_orchestrator``); delete worker items named in
        ``cancelled_activities`` (locked or not; unknown ones ignored). On any failure
        nothing is applied and the lock stays held, so the caller may retry.
        """
        ...

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        """Release the lock; the batch is fetchable again at now (+ ``delay``).

        ``ignore_attempt`` takes back this delivery's count increment (never below 0).
        A dead token raises ``LockLostError``; a token whose lock expired but was not
        re-taken may either succeed or raise ``LockLostError``.
        """
        ...

    async def renew_orchestration_item_lock(self, lock_token: str, extend_for: float) -> None:
        """Make a live lock expire at now + ``extend_for``; ``LockLostError`` otherwise."""
        ...

    # -- worker queue ------------------------------------------------------------------

    async def enqueue_for_worker(self, item: ActivityExecute) -> None:
        """Append an activity execution to the worker queue, visible now."""
        ...

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        """Lock the oldest visible unlocked worker item (FIFO by enqueue) and lease it.

        The lease has a fresh token and expires at now + ``lock_timeout``; the item's
        delivery count grows by one and is returned as ``attempt_count``.
        """
        ...

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        """Atomically delete the leased item and enqueue ``completion`` (if any).

        A dead or expired lease raises ``LockLostError`` and changes nothing (the item stays
        re-fetchable after expiry).
        """
        ...

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        """Release the lease; the item is fetchable again at now (+ ``delay``).

        Token rules and ``ignore_attempt`` as in ``abandon_orchestration_item``.
        """
        ...

    async def renew_work_item_lock(self, lock_token: str, extend_for: float) -> None:
        """Make a live lease expire at now + ``extend_for``; ``LockLostError`` otherwise."""
        ...

    # -- history -----------------------------------------------------------------------

    async def read(self, instance: str) -> list[Event]:
        """Events of the latest execution in ``event_id`` order; ``[]`` if unknown."""
        ...

    async def read_execution(self, instance: str, execution_id: int) -> list[Event]:
        """Events of one execution in ``event_id`` order; ``[]`` if unknown."""
        ...

    async def list_executions(self, instance: str) -> list[int]:
        """Execution ids of ``instance``, ascending; ``[]`` if unknown."""
        ...

    async def append_history(
        self, instance: str, execution_id: int, events: Sequence[Event]
    ) -> None:
        """Append events outside a turn (tests, repair); duplicates: ``DuplicateEventError``."""
        ...

    # -- lifecycle ---------------------------------------------------------------------

    async def close(self) -> None:
        """Release connections and threads; further calls may fail."""
        ...


@runtime_checkable
class ClockControl(Protocol):
    """Implemented by providers declaring ``Capability.CLOCK``."""

    def set_clock(self, clock: Clock) -> None:
        """Take "now" from ``clock`` from here on (visibility, lock expiry, delays)."""
        ...


@runtime_checkable
class FaultInjection(Protocol):
    """Implemented by providers declaring ``Capability.FAULT_INJECTION``."""

    async def corrupt_history(self, instance: str, execution_id: int) -> None:
        """Overwrite that execution's stored history with undecodable data."""
        ...


@runtime_checkable
class ProviderFactory(Protocol):
    """Makes a fresh, isolated provider for each test or stress run.

    Optionally also defines ``async def dispose_provider(self, provider) -> None``, called
    after each use (also when the test failed); without it, ``provider.close()`` is called.
    """

    async def create_provider(self) -> Provider:
        """Return a new provider sharing no state with any other one."""
        ...
