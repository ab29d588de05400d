"""Plain data the optional capabilities take and return: instance and execution records,
listing pages, queue depths, metrics, deletion and prune filters and counts.

Times are epoch milliseconds read from the provider's clock (the injected one when the
provider declares ``CLOCK``). Nothing here touches storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from provkit.contract._model import Status


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceInfo:
    """One instance record, as ``Management.get_instance_info`` returns it.

    ``orchestration_name``, ``orchestration_version`` and ``parent_instance`` are the values
    of the last ack whose ``metadata.orchestration_name`` was set (``None`` where that ack
    carried ``None``). ``current_execution_id`` is the instance's highest execution id;
    ``status`` and ``output`` are that execution's (``output`` ``None`` until an ack stores
    one). ``created_at_ms`` is the provider's "now" during the ack that created the record;
    ``updated_at_ms`` the "now" of the latest successful ``ack_orchestration_item`` of this
    instance (equal to ``created_at_ms`` until a later ack).
    """

    instance: str
    orchestration_name: str
    orchestration_version: str | None
    current_execution_id: int
    status: Status
    output: str | None
    parent_instance: str | None
    created_at_ms: int
    updated_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionInfo:
    """One execution, as ``Management.get_execution_info`` returns it.

    ``status`` is the last ``metadata.status`` an ack stored for it (``RUNNING`` if none
    did); ``output`` the last ``metadata.output`` stored (``None`` if none). ``event_count``
    is the number of history events stored for it. ``started_at_ms`` is the provider's
    "now" when the execution was created (by an ack or ``append_history``);
    ``completed_at_ms`` the "now" of the ack that last stored a terminal status, ``None``
    while the stored status is ``RUNNING``.
    """

    instance: str
    execution_id: int
    status: Status
    output: str | None
    event_count: int
    started_at_ms: int
    completed_at_ms: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstancePage:
    """One page of ``Management.list_instances``.

    ``next_cursor`` is ``None`` exactly when no further instance matched when the page was
    read; otherwise pass it back to read the next page.
    """

    instances: list[str]
    next_cursor: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueDepths:
    """Stored queue contents, whatever their visibility or lock state.

    ``orchestrator``: orchestrator-queue messages not yet removed by an ack (visible, delayed
    or part of a locked batch). ``worker``: worker items not yet acked or cancelled (visible,
    delayed by an abandon, or leased). Items removed by deletion are not counted.
    """

    orchestrator: int
    worker: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemMetrics:
    """Totals over the whole store.

    ``instances``: instance records. ``by_status``: instance records per status of their
    current execution; every ``Status`` is a key (0 when none) and the values sum to
    ``instances``. ``executions`` and ``events``: every stored execution and history event,
    also those of instances without a record.
    """

    instances: int
    executions: int
    events: int
    by_status: Mapping[Status, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceFilter:
    """Which root instances ``Deletion.delete_instances`` removes.

    Only roots whose current execution's status is terminal are ever selected. ``instances``
    (when not ``None``) restricts the selection to those ids (unknown ids are ignored);
    ``completed_before_ms`` (when not ``None``) to roots whose current execution's
    ``completed_at_ms`` is strictly less than it. At most ``limit`` roots (>= 1) are
    selected per call.
    """

    instances: Sequence[str] | None = None
    completed_before_ms: int | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteResult:
    """Exactly what one deletion removed.

    ``instances``: instance records (roots and their sub-orchestrations). ``executions`` and
    ``events``: their executions and history events. ``orchestrator_messages``: messages
    routed to them, in any state. ``worker_items``: worker items whose ``instance`` is one
    of them, in any state.
    """

    instances: int = 0
    executions: int = 0
    events: int = 0
    orchestrator_messages: int = 0
    worker_items: int = 0

    def __add__(self, other: DeleteResult) -> DeleteResult:
        return DeleteResult(
            instances=self.instances + other.instances,
            executions=self.executions + other.executions,
            events=self.events + other.events,
            orchestrator_messages=self.orchestrator_messages + other.orchestrator_messages,
            worker_items=self.worker_items + other.worker_items,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneResult:
    """Exactly what one prune removed: executions and their history events."""

    executions: int = 0
    events: int = 0
