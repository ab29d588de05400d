"""provkit's durable runtime: orchestrations replayed from history over any ``Provider``.

``Runtime`` runs registered orchestrations and activities, ``Client`` starts and observes
instances, and ``run_turn`` is the pure replay engine underneath both.
"""

from provkit.runtime._client import Client, OrchestrationState, OrchestrationStatus
from provkit.runtime._context import DurableFuture, OrchestrationContext
from provkit.runtime._dispatch_worker import ActivityFn
from provkit.runtime._errors import TaskFailedError
from provkit.runtime._options import RuntimeOptions
from provkit.runtime._replay import (
    Action,
    CreateTimer,
    OrchestrationFn,
    ScheduleActivity,
    StartSubOrchestration,
    TurnOutcome,
    TurnResult,
    WaitExternal,
    run_turn,
)
from provkit.runtime._runtime import Runtime

__all__ = [
    "Action",
    "ActivityFn",
    "Client",
    "CreateTimer",
    "DurableFuture",
    "OrchestrationContext",
    "OrchestrationFn",
    "OrchestrationState",
    "OrchestrationStatus",
    "Runtime",
    "RuntimeOptions",
    "ScheduleActivity",
    "StartSubOrchestration",
    "TaskFailedError",
    "TurnOutcome",
    "TurnResult",
    "WaitExternal",
    "run_turn",
]
