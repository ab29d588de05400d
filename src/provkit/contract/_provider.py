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

    A provider declaring a capability must have every method of its protocol (the suite
    refuses to run otherwise, naming what is missing). Tests of an undeclared capability
    are skipped with a reason naming it; the six core categories never depend on one,
    except that ``CLOCK`` lets expiry tests move time instead of sleeping and
    ``FAULT_INJECTION`` enables the corrupt-data tests.
    """

    CLOCK = "clock"
    """The provider implements ``ClockControl``: "now" comes from an injected ``Clock``."""
    FAULT_INJECTION = "fault_injection"
    """The provider implements ``FaultInjection`` (store undecodable data on purpose)."""
    LONG_POLL = "long_poll"
    """Fetches wait up to ``poll_timeout`` for work instead of returning at once.

    Without it, every fetch returns at once whatever its ``poll_timeout``. With it, a fetch
    (``fetch_orchestration_item``, ``fetch_work_item``, ``fetch_work_item_from``) that finds
    nothing it may take waits until something becomes fetchable for it or ``poll_timeout``
    seconds have passed, and only then returns ``None``; it never returns later than
    ``poll_timeout`` (plus scheduling slack) and never waits when ``poll_timeout`` is 0.
    It wakes at once, well before ``poll_timeout``, for work this provider object makes
    fetchable: an enqueue, an ack that enqueues work or releases an instance that has
    visible messages, a worker ack's completion, an abandon, and a delay, timer or lock
    expiry reaching its time. (Work written by another process may be noticed only when
    the wait ends.) With an injected clock (``CLOCK``), a waiting fetch re-reads the clock
    at least every 0.05 s of real time, so a clock moved past a visibility or expiry time
    also wakes it. Several waiting fetches and one new item: one of them gets it, the
    others keep waiting.
    """
    MANAGEMENT = "management"
    """The provider implements ``Management``: instance and execution records, listing
    with pagination, queue depths, metrics."""
    DELETION = "deletion"
    """The provider implements ``Deletion``: instance trees, one at a time or by filter."""
    PRUNE = "prune"
    """The provider implements ``Prune``: deleting old executions of an instance."""
    TASK_QUEUES = "task_queues"
    """The provider implements ``TaskQueues``: workers fetch from the queues they serve."""


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
        Undecodable stored history still returns the item, with ``history_error`` set;
        undecodable messages still return it, with ``message_error`` set (see
        ``OrchestrationItem``): corrupt data of one instance never blocks the others.
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
        nothing is applied and the lock stays held, so the caller may retry. A provider
        declaring ``DELETION`` also applies its deleted-parent rule (see ``Deletion``).
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

        Items of every task queue are candidates (``TaskQueues.fetch_work_item_from``
        chooses queues). The lease has a fresh token and expires at now + ``lock_timeout``;
        the item's delivery count grows by one and is returned as ``attempt_count``. An
        undecodable item is still leased and returned, with ``item_error`` set (see
        ``WorkLease``), so it never blocks the items behind it. ``None`` means no visible
        unlocked item (after waiting as for ``fetch_orchestration_item``).
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
    """Implemented by providers declaring ``Capability.FAULT_INJECTION``.

    Each hook makes stored data undecodable on purpose, as a disk fault or a bad migration
    would; everything the provider keeps apart from the encoded data (routing, visibility,
    order, locks, delivery counts, activity identity, queue) stays as it was.
    """

    async def corrupt_history(self, instance: str, execution_id: int) -> None:
        """Overwrite that execution's stored history with undecodable data."""
        ...

    async def corrupt_orchestrator_messages(self, instance: str) -> int:
        """Make every orchestrator-queue message routed to ``instance`` undecodable.

        Returns how many messages were changed (0 when there are none).
        """
        ...

    async def corrupt_work_items(self, instance: str) -> int:
        """Make every worker item whose ``instance`` is ``instance`` undecodable.

        Returns how many items were changed (0 when there are none).
        """
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
