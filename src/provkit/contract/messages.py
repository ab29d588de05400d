"""Queue messages: what the orchestrator and worker queues hold.

Routing is precomputed so that a provider never branches on a message's kind:
``message.instance`` is always the instance whose orchestrator queue receives it (for a
sub-orchestration completion, the parent), ``message.visible_at_ms`` is the earliest time
it may be fetched (``None``: at enqueue time; timers: their fire time), and an
``ActivityExecute`` names its cancellation key in ``activity`` and its task queue in
``queue``.
"""

from __future__ import annotations

from dataclasses import dataclass

from provkit.contract._model import INITIAL_EXECUTION_ID, ActivityId, ErrorDetails


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestratorMessage:
    """Fields common to every orchestrator-queue message."""

    instance: str

    @property
    def visible_at_ms(self) -> int | None:
        """Earliest fetch time in epoch ms, or ``None`` for "as soon as enqueued"."""
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartOrchestration(OrchestratorMessage):
    """Start execution ``execution_id`` of ``instance`` running ``orchestration``."""

    orchestration: str
    input: str
    version: str | None = None
    execution_id: int = INITIAL_EXECUTION_ID
    parent_instance: str | None = None
    parent_execution_id: int | None = None
    parent_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityCompletedMessage(OrchestratorMessage):
    """Activity ``id`` (its ``ActivityScheduled`` event id) of ``execution_id`` returned."""

    execution_id: int
    id: int
    result: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityFailedMessage(OrchestratorMessage):
    execution_id: int
    id: int
    error: ErrorDetails


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFiredMessage(OrchestratorMessage):
    """Timer ``id`` fires; invisible until ``fire_at_ms``."""

    execution_id: int
    id: int
    fire_at_ms: int

    @property
    def visible_at_ms(self) -> int | None:
        return self.fire_at_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalRaised(OrchestratorMessage):
    """An external event; may arrive before the instance exists."""

    name: str
    data: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SubOrchestrationCompletedMessage(OrchestratorMessage):
    """A child finished; ``instance``/``execution_id``/``id`` address the parent's schedule."""

    execution_id: int
    id: int
    child_instance: str
    result: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SubOrchestrationFailedMessage(OrchestratorMessage):
    execution_id: int
    id: int
    child_instance: str
    error: ErrorDetails


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelInstance(OrchestratorMessage):
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContinueAsNew(OrchestratorMessage):
    """Start the next execution of ``instance`` with ``input``."""

    orchestration: str
    input: str
    version: str | None = None


DEFAULT_QUEUE = "default"
"""The task queue of a worker item that names none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityExecute:
    """A worker-queue item: run activity ``name`` for ``instance``/``execution_id``.

    ``queue`` names the task queue the item belongs to (any string, compared exactly).
    Every provider stores and returns it like any other field; only a provider declaring
    ``Capability.TASK_QUEUES`` also lets a worker fetch from chosen queues
    (``TaskQueues.fetch_work_item_from``).
    """

    instance: str
    execution_id: int
    id: int
    name: str
    input: str
    queue: str = DEFAULT_QUEUE

    @property
    def activity(self) -> ActivityId:
        """The cancellation key of this item."""
        return ActivityId(self.instance, self.execution_id, self.id)


ORCHESTRATOR_MESSAGE_TYPES: tuple[type[OrchestratorMessage], ...] = (
    StartOrchestration,
    ActivityCompletedMessage,
    ActivityFailedMessage,
    TimerFiredMessage,
    ExternalRaised,
    SubOrchestrationCompletedMessage,
    SubOrchestrationFailedMessage,
    CancelInstance,
    ContinueAsNew,
)
"""Every concrete orchestrator-queue message kind."""
