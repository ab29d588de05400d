"""The optional capabilities' protocols, and which methods each declared capability requires.

Words used throughout: an instance's **record** exists from the first successful ack of that
instance whose ``metadata.orchestration_name`` is set, until the instance is deleted;
queued messages, executions written by acks without a name, or ``append_history`` never
create one. An instance "exists" (for these protocols) exactly when its record does. Its
**current execution** is its highest execution id. A **root** is an instance whose record
names no ``parent_instance``, or names one that has no record; a **sub-orchestration** is an
instance whose record names a parent that has one. The **tree** of an instance is the
instance plus, recursively, every instance whose record names a member of the tree as its
parent. "Now" is the provider's clock (the injected one under ``CLOCK``).

Every failure is a ``ProviderError`` subclass, as for the core ``Provider``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol, runtime_checkable

from provkit.contract._model import Status, WorkLease
from provkit.contract._provider import Capability, ClockControl, FaultInjection
from provkit.contract._records import (
    DeleteResult,
    ExecutionInfo,
    InstanceFilter,
    InstanceInfo,
    InstancePage,
    PruneResult,
    QueueDepths,
    SystemMetrics,
)


@runtime_checkable
class Management(Protocol):
    """Implemented by providers declaring ``Capability.MANAGEMENT``: read-only views."""

    async def get_instance_info(self, instance: str) -> InstanceInfo:
        """The record of ``instance`` (see ``InstanceInfo`` for each field).

        ``NotFoundError`` when ``instance`` has no record, also when it has queued
        messages or executions but no ack with an orchestration name created one.
        ``status`` and ``output`` are stored byte-exact: any string (NUL, emoji, several
        MiB) reads back unchanged, and an ack whose ``metadata.status`` or ``output`` is
        ``None`` leaves the stored value as it was.
        """
        ...

    async def get_execution_info(self, instance: str, execution_id: int) -> ExecutionInfo:
        """One execution of ``instance`` (see ``ExecutionInfo``), record or not.

        ``NotFoundError`` when that execution does not exist (``list_executions`` does not
        list it).
        """
        ...

    async def list_instances(
        self, *, status: Status | None = None, limit: int = 100, cursor: str | None = None
    ) -> InstancePage:
        """One page of the ids of instances that have a record, optionally by status.

        ``status`` (when not ``None``) keeps only instances whose current execution has
        that status. A page holds at most ``limit`` ids (callers pass ``limit >= 1``), each
        once. ``cursor`` is ``None`` for the first page, else the ``next_cursor`` of the
        previous page of the same listing (same ``status``; ``limit`` may change); cursors
        are opaque and stay valid while instances are created or deleted. The order is
        the provider's choice but fixed: following the cursors from the first page to a
        page whose ``next_cursor`` is ``None`` yields every instance that matched during
        the whole listing exactly once, and an instance created, deleted or changing
        status during the listing at most once. ``next_cursor`` is ``None`` exactly when
        no matching instance follows the page; so a page shorter than ``limit`` is the
        last, and a full page is the last only when nothing else matched.
        """
        ...

    async def get_queue_depths(self) -> QueueDepths:
        """How many messages and items each queue holds now (see ``QueueDepths``)."""
        ...

    async def get_system_metrics(self) -> SystemMetrics:
        """Totals over the whole store now (see ``SystemMetrics``)."""
        ...


@runtime_checkable
class Deletion(Protocol):
    """Implemented by providers declaring ``Capability.DELETION``.

    A deletion removes, for every instance of the trees it deletes, in one atomic unit:
    the record, every execution and history event, every orchestrator-queue message routed
    to it and every worker item whose ``instance`` it is (visible, delayed, locked or
    leased), and its instance lock. Tokens of removed locks and leases are dead: ack, renew
    and abandon raise ``LockLostError`` and change nothing (an ack never recreates a
    deleted instance, and a worker ack never enqueues its completion). The tree is
    computed inside that same unit, so a sub-orchestration whose record is committed
    before the deletion is deleted with its tree. A deleted id is free: a new start makes
    a fresh instance (its first fetch reports no orchestration name, execution 1 and an
    empty history). Nothing of any other instance changes.

    A child must not outlive a deleted parent: an ack whose ``metadata.orchestration_name``
    is set and whose ``metadata.parent_instance`` names an instance without a record (its
    parent was deleted while the child's first turn was queued or in flight) succeeds, but
    stores nothing: it creates no record, appends no history, enqueues none of its items,
    and removes everything of the acked instance as a deletion would (its executions,
    events, queued messages including the batch, worker items and lock).
    """

    async def delete_instance(self, instance: str, *, force: bool = False) -> DeleteResult:
        """Delete the tree of the root ``instance``; returns exactly what was removed.

        Raises, deleting nothing: ``NotFoundError`` when ``instance`` has no record;
        ``NotRootError`` when it is a sub-orchestration (delete its root);
        ``InstanceRunningError`` when ``force`` is false and the current execution of any
        tree member is ``RUNNING``. With ``force`` running members are deleted too.
        """
        ...

    async def delete_instances(self, selection: InstanceFilter) -> DeleteResult:
        """Delete the trees of the roots ``selection`` picks, in one atomic unit.

        Only roots whose current execution's status is terminal are picked (running roots
        and sub-orchestrations are skipped, not errors), at most ``selection.limit`` of
        them, which ones the provider's choice; their trees are deleted whole, whatever
        the status of the other members. Returns the sum of what was removed (all zero
        when nothing matched); calling again with the same filter picks the roots left.
        """
        ...


@runtime_checkable
class Prune(Protocol):
    """Implemented by providers declaring ``Capability.PRUNE``."""

    async def prune_executions(
        self,
        instance: str,
        *,
        keep_last: int | None = None,
        completed_before_ms: int | None = None,
    ) -> PruneResult:
        """Delete old executions of ``instance`` and their history, in one atomic unit.

        ``NotFoundError`` when ``instance`` has no record. An execution is deleted when all
        hold: it is not the current execution; its status is not ``RUNNING``; when
        ``keep_last`` is not ``None``, it is not among the ``keep_last`` highest execution
        ids (``keep_last`` of 1 or less keeps only the current one); when
        ``completed_before_ms`` is not ``None``, its ``completed_at_ms`` is strictly less.
        With both ``None`` every execution but the current and running ones goes. Returns
        exactly how many executions and events were deleted. Queues, the record and every
        other instance stay unchanged.
        """
        ...


@runtime_checkable
class TaskQueues(Protocol):
    """Implemented by providers declaring ``Capability.TASK_QUEUES``."""

    async def fetch_work_item_from(
        self, queues: Collection[str], lock_timeout: float, poll_timeout: float = 0.0
    ) -> WorkLease | None:
        """``fetch_work_item`` restricted to items whose ``queue`` is one of ``queues``.

        Leases the oldest (by enqueue order) visible unleased item among those queues, so
        each queue is FIFO; an item of any other queue is never returned, whatever its age,
        and is left exactly as it was. Queue names compare as exact strings. Empty
        ``queues`` returns ``None`` at once. Leases, tokens, delivery counts, corrupt items
        and waiting (``LONG_POLL``: only work of these queues ends the wait with an item)
        are as for ``fetch_work_item``; the lease is acked, renewed and abandoned with the
        same ``*_work_item`` calls.
        """
        ...


CAPABILITY_PROTOCOLS: Mapping[Capability, type | None] = {
    Capability.CLOCK: ClockControl,
    Capability.FAULT_INJECTION: FaultInjection,
    Capability.LONG_POLL: None,
    Capability.MANAGEMENT: Management,
    Capability.DELETION: Deletion,
    Capability.PRUNE: Prune,
    Capability.TASK_QUEUES: TaskQueues,
}
"""The protocol a provider declaring each capability implements (``None``: no methods)."""


def capability_methods(capability: Capability) -> tuple[str, ...]:
    """The method names a provider declaring ``capability`` must have, sorted."""
    protocol = CAPABILITY_PROTOCOLS[capability]
    if protocol is None:
        return ()
    return tuple(
        sorted(
            name
            for name, value in vars(protocol).items()
            if not name.startswith("_") and callable(value)
        )
    )


def missing_capability_methods(provider: object) -> dict[Capability, tuple[str, ...]]:
    """For each capability ``provider`` declares, the methods it lacks (only gaps listed)."""
    declared: Collection[Capability] = getattr(provider, "capabilities", frozenset())
    gaps: dict[Capability, tuple[str, ...]] = {}
    for capability in Capability:
        if capability not in declared:
            continue
        missing = tuple(
            name
            for name in capability_methods(capability)
            if not callable(getattr(provider, name, None))
        )
        if missing:
            gaps[capability] = missing
    return gaps
