"""provkit's durable runtime: orchestrations replayed from history over any ``Provider``.

``Runtime`` runs registered orchestrations and activities, and ``Client`` starts and
observes instances. The replay engine underneath (``_replay.run_turn``) is internal.
"""

from provkit.runtime._client import Client, OrchestrationState, OrchestrationStatus
from provkit.runtime._context import DurableFuture, OrchestrationContext
from provkit.runtime._dispatch_worker import ActivityFn
from provkit.runtime._errors import TaskFailedError
from provkit.runtime._options import RuntimeOptions
from provkit.runtime._replay import OrchestrationFn
from provkit.runtime._runtime import Runtime

__all__ = [
    "ActivityFn",
    "Client",
    "DurableFuture",
    "OrchestrationContext",
    "OrchestrationFn",
    "OrchestrationState",
    "OrchestrationStatus",
    "Runtime",
    "RuntimeOptions",
    "TaskFailedError",
]
