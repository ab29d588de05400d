"""Plain data shared by providers and the runtime: statuses, error details, fetch results."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provkit.contract.events import Event
    from provkit.contract.messages import ActivityExecute, OrchestratorMessage

INITIAL_EXECUTION_ID = 1
"""The first execution of every instance; ``continue_as_new`` moves to id + 1."""


class Status(enum.Enum):
    """Status of one execution; an instance's status is that of its current execution."""

    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    CANCELLED = "Cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for every status except ``RUNNING``."""
        return self is not Status.RUNNING


class ErrorCategory(enum.Enum):
    """Who is to blame for a failure.

    ``APPLICATION``: user code (an activity raised, the orchestration raised, a cancel).
    ``INFRASTRUCTURE``: storage or runtime trouble. ``CONFIGURATION``: code and history
    disagree (nondeterminism), an unregistered name. ``POISON``: a message delivered more
    times than the runtime allows.
    """

    APPLICATION = "application"
    INFRASTRUCTURE = "infrastructure"
    CONFIGURATION = "configuration"
    POISON = "poison"


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorDetails:
    """A failure as stored in history and returned to clients.

    ``kind`` refines the category (``"activity_failed"``, ``"nondeterminism"``,
    ``"cancelled"``, ``"unregistered"``...); ``message`` is meant for people.
    """

    category: ErrorCategory
    kind: str
    message: str
    retryable: bool = False

    def display(self) -> str:
        """One line: ``category/kind: message``."""
        return f"{self.category.value}/{self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class ActivityId:
    """Identity of one scheduled activity: the key ``cancelled_activities`` uses."""

    instance: str
    execution_id: int
    activity_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionMetadata:
    """What an ack stores besides history, computed by the runtime and stored blindly.

    ``status``/``output``: ``None`` leaves the stored value unchanged.
    ``orchestration_name``: when set, the ack creates the instance record if absent and
    (re)writes its name, ``orchestration_version`` and ``parent_instance``.
    """

    status: Status | None = None
    output: str | None = None
    orchestration_name: str | None = None
    orchestration_version: str | None = None
    parent_instance: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestrationItem:
    """The result of a successful ``fetch_orchestration_item``: one locked turn of work.

    ``orchestration_name`` and ``version`` come from the instance record, ``None`` when no
    ack has created it yet (the runtime then reads them from the start message).
    ``execution_id`` is the instance's current execution (``INITIAL_EXECUTION_ID`` before
    any ack or ``append_history`` named one) and ``history`` that execution's events in
    ``event_id`` order.
    ``messages`` is the locked batch in enqueue order. ``attempt_count`` is the highest
    delivery count in the batch (1 on first delivery). ``history_error`` is set, and
    ``history`` empty, when stored history could not be decoded.

    ``message_error`` is set when one or more messages of the batch could not be decoded:
    it names the instance and says how many. ``messages`` then holds only the decodable
    ones, in enqueue order, but the undecodable ones are still part of the batch: locked
    with it, their delivery counts grown by this fetch and included in ``attempt_count``,
    removed by its ack and released by its abandon like any other batch message. So a
    runtime can abandon such a turn until ``attempt_count`` reaches its limit and then fail
    the instance as poison, instead of retrying it forever.
    """

    instance: str
    orchestration_name: str | None
    version: str | None
    execution_id: int
    history: list[Event]
    messages: list[OrchestratorMessage]
    lock_token: str
    attempt_count: int
    history_error: str | None = None
    message_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkLease:
    """The result of a successful ``fetch_work_item``: one locked activity execution.

    ``attempt_count`` is the item's delivery count including this fetch (1 on first
    delivery). ``item_error`` is set when the stored item could not be decoded: it names the
    item's instance and says why. The item is leased and counted all the same, and ``item``
    is then a stand-in carrying what the provider keeps apart from the encoded item: the
    stored ``instance``, ``execution_id`` and ``id`` (its cancellation key) and ``queue``
    (the stored queue for a provider declaring ``TASK_QUEUES``, else ``DEFAULT_QUEUE``),
    with ``name`` and ``input`` empty. A runtime can so report the activity as failed
    (poison) to its orchestration once ``attempt_count`` reaches its limit.
    """

    item: ActivityExecute
    lock_token: str
    attempt_count: int
    item_error: str | None = None
