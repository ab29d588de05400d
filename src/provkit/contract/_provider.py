"""The interfaces a provider author implements: ``Provider``, ``ProviderFactory``, capabilities."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Sequence
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

    ``LONG_POLL`` has no methods, only this behaviour. Without it, every fetch returns at
    once whatever its ``poll_timeout``. With it, a fetch (``fetch_orchestration_item``,
    ``fetch_work_item``, ``fetch_work_item_from``) that finds nothing it may take waits
    until something becomes fetchable for it or ``poll_timeout`` seconds have passed, and
    only then returns ``None``; it never returns later than ``poll_timeout`` (plus
    scheduling slack) and never waits when ``poll_timeout`` is 0. It wakes at once, well
    before ``poll_timeout``, for work this provider object makes fetchable: an enqueue, an
    ack that enqueues work or releases an instance that has visible messages, a worker
    ack's completion, an abandon, and a delay, timer or lock expiry reaching its time.
    (Work written by another process may be noticed only when the wait ends.) With an
    injected clock (``CLOCK``), a waiting fetch re-reads the clock at least every 0.05 s of
    real time, so a clock moved past a visibility or expiry time also wakes it. Several
    waiting fetches and one new item: one of them gets it, the others keep waiting.
    """

    CLOCK = "clock"
    """The provider implements ``ClockControl``: "now" comes from an injected ``Clock``."""
    FAULT_INJECTION = "fault_injection"
    """The provider implements ``FaultInjection`` (store undecodable data on purpose)."""
    LONG_POLL = "long_poll"
    """Fetches wait up to ``poll_timeout`` for work and wake early when it comes (see above)."""
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

    All operations are coroutines. Durations are seconds (``float``), which a provider
    converts to milliseconds; times are epoch milliseconds (``int``) from the provider's clock,
    called "now" below. Every failure is a ``provkit.contract.ProviderError`` subclass; any
    other exception escaping an operation is a conformance failure.

    **Visibility.** Every queued message and worker item has a visibility time v: it is
    invisible at v - 1 ms and visible from v on.

    **Lock tokens.** A fetch that returns work hands out a lock token: an instance lock on
    the orchestrator queue, an item lease on the worker queue. Tokens are opaque strings,
    unique per fetch. A token is live from its fetch until it is acked, abandoned or expires,
    whichever comes first. A lock taken at t with timeout T is held at t + T - 1 ms and has
    expired at t + T; a renewal moves that expiry. Ack, renew and abandon of a token that is
    not live (never issued, already acked or abandoned, or expired, whether or not another
    fetch re-took the work) raise ``LockLostError`` and change nothing, on both queues. Of
    concurrent calls with one token, at most one ack or abandon succeeds.

    **Executions.** An instance's current execution is the highest execution id that an
    ``ack_orchestration_item`` or ``append_history`` named for it (``INITIAL_EXECUTION_ID``
    before any did).

    **Stored values.** Every string a provider is given (instance ids, names, versions,
    queue names, inputs, results, outputs, event data) is stored and handed back exactly,
    whatever its length (0 bytes to 10 MiB at least) and content (any Unicode text, NUL,
    newlines, quotes, SQL metacharacters).
    """

    @property
    def name(self) -> str:
        """Human-readable provider name for reports (a plain attribute will do)."""
        ...

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Optional capabilities this provider implements (a plain attribute will do)."""
        ...

    # -- orchestrator queue ------------------------------------------------------------

    async def enqueue_for_orchestrator(
        self, item: OrchestratorMessage, delay: float | None = None
    ) -> None:
        """Append ``item`` to ``item.instance``'s orchestrator queue.

        Its visibility time is now + ``delay`` (now when ``delay`` is ``None``), or
        ``item.visible_at_ms`` (a timer's fire time) when that is later. Never creates an
        instance record, execution or history.
        """
        ...

    async def fetch_orchestration_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> OrchestrationItem | None:
        """Lock the instance owning the oldest visible message and return its turn.

        Candidates are the instances with a visible message and no live lock. "Oldest" ranks
        visible messages by (visibility time, enqueue order): the candidate holding the
        first-ranked one is locked, so between messages that became visible in the same
        millisecond the one enqueued first decides. The lock gets a fresh token and expires
        at now + ``lock_timeout``. The batch is every message of that instance visible now,
        in enqueue order; messages enqueued or becoming visible later are not part of it.
        Each batch message's delivery count grows by one; ``attempt_count`` is the batch
        maximum. ``execution_id`` is the instance's current execution and ``history`` its
        events. Of concurrent callers exactly one wins an instance; a caller that loses a
        race moves on to the next candidate instead of returning ``None`` while an unlocked
        instance has visible work. Undecodable stored history still returns the item, with
        ``history_error`` set; undecodable messages still return it, with ``message_error``
        set (see ``OrchestrationItem``): corrupt data of one instance never blocks the
        others. ``None`` means no unlocked instance has visible work (after waiting up to
        ``poll_timeout`` if the provider declares ``LONG_POLL``; otherwise it returns at
        once).
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

        In one unit: require that ``lock_token`` is live (else ``LockLostError``); delete
        exactly the batch's messages; create the instance record if
        ``metadata.orchestration_name`` is set; create execution ``execution_id`` if absent;
        make the current execution max(current, ``execution_id``); append
        ``history_delta`` to execution ``execution_id`` (an ``event_id`` already stored or
        repeated in the delta raises ``DuplicateEventError``); store
        ``metadata.status``/``output``; enqueue ``worker_items`` in order, visible at once,
        and ``orchestrator_items`` on each item's own instance's queue, with the visibility
        of ``enqueue_for_orchestrator`` without a delay; then delete the worker items whose
        instance, execution id and activity id all equal those of an entry of
        ``cancelled_activities``, leased or not (an item differing in any one of the three
        stays; entries matching nothing are ignored). On any failure nothing is applied and
        the lock stays held, so the caller may retry with the same token. A provider
        declaring ``DELETION`` also applies its deleted-parent rule (see ``Deletion``).
        """
        ...

    async def abandon_orchestration_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        """Release a live lock without committing the turn.

        With a ``delay`` the batch's messages become visible at now + ``delay``; without one
        their visibility times stay as they were, so they are fetchable at once. The
        instance's messages outside the batch are untouched. ``ignore_attempt`` takes back
        this delivery's count increment (never below 0). A token that is not live raises
        ``LockLostError`` and changes nothing.
        """
        ...

    async def renew_orchestration_item_lock(self, lock_token: str, extend_for: float) -> None:
        """Make a live lock expire at now + ``extend_for``.

        A token that is not live raises ``LockLostError`` and changes nothing.
        """
        ...

    # -- worker queue ------------------------------------------------------------------

    async def enqueue_for_worker(self, item: ActivityExecute) -> None:
        """Append an activity execution to the end of the worker queue, visible now."""
        ...

    async def fetch_work_item(
        self, lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        """Lease the first visible, unleased worker item in enqueue order.

        Items of every task queue are candidates (``TaskQueues.fetch_work_item_from``
        chooses queues). An item released by an abandon (once its delay has passed) or by
        an expired lease keeps its original place in that order. The lease has a fresh
        token and expires at now + ``lock_timeout``; the item's delivery count grows by one
        and is returned as ``attempt_count``. An undecodable item is still leased and
        returned, with ``item_error`` set (see ``WorkLease``), so it never blocks the items
        behind it. Of concurrent callers exactly one wins an item; a caller that loses a
        race moves on to the next item instead of returning ``None`` while a visible
        unleased item exists. ``None`` means there is no visible unleased item (after
        waiting as for ``fetch_orchestration_item``).
        """
        ...

    async def ack_work_item(self, lock_token: str, completion: OrchestratorMessage | None) -> None:
        """Atomically delete the leased item and enqueue ``completion`` (if any).

        In one unit: require that ``lock_token`` is live (else ``LockLostError``, and
        nothing changes: the item stays, re-fetchable once its lease expired); delete the
        item; enqueue ``completion`` on ``completion.instance``'s orchestrator queue, which
        need not be the leased item's instance, with the visibility of
        ``enqueue_for_orchestrator`` without a delay.
        """
        ...

    async def abandon_work_item(
        self, lock_token: str, delay: float | None = None, ignore_attempt: bool = False
    ) -> None:
        """Release a live lease: the item is fetchable again at now + ``delay`` (or now).

        ``ignore_attempt`` takes back this delivery's count increment (never below 0). A
        token that is not live raises ``LockLostError`` and changes nothing.
        """
        ...

    async def renew_work_item_lock(self, lock_token: str, extend_for: float) -> None:
        """Make a live lease expire at now + ``extend_for``.

        A token that is not live raises ``LockLostError`` and changes nothing.
        """
        ...

    # -- history -----------------------------------------------------------------------

    async def read(self, instance: str) -> list[Event]:
        """Events of the current execution in ``event_id`` order; ``[]`` if unknown."""
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
        """Append ``events`` to execution ``execution_id`` outside a turn (tests, repair).

        Like an ack, it creates the execution if absent (also when ``events`` is empty) and
        makes the current execution max(current, ``execution_id``); it never creates an
        instance record. An ``event_id`` already stored or repeated in ``events`` raises
        ``DuplicateEventError`` and appends nothing.
        """
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


def disposal(factory: ProviderFactory, provider: Provider) -> tuple[str, Awaitable[None]]:
    """How ``factory`` wants ``provider`` disposed of: the call's name and its awaitable.

    ``factory.dispose_provider(provider)`` when the factory defines it, else
    ``provider.close()``. Callers that bound or report the call use the name.
    """
    dispose = getattr(factory, "dispose_provider", None)
    if dispose is not None:
        return "factory call dispose_provider()", dispose(provider)
    return "provider call close()", provider.close()


async def dispose_provider(factory: ProviderFactory, provider: Provider) -> None:
    """Dispose of ``provider`` as ``factory`` wants (see ``disposal``)."""
    await disposal(factory, provider)[1]
