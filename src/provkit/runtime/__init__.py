"""provkit's durable runtime: orchestrations replayed from history over any ``Provider``.

``Runtime`` runs registered orchestrations and activities, and ``Client`` starts and
observes instances. The replay engine underneath (``_replay.run_turn``) is internal.
"""

from provkit.runtime._client import (
    Client,
    InstanceEndedError,
    OrchestrationState,
    OrchestrationStatus,
)
from provkit.runtime._context import DurableFuture, OrchestrationContext
from provkit.runtime._dispatch_worker import ActivityFn
from provkit.runtime._errors import NonRetryableError, TaskFailedError
from provkit.runtime._options import RuntimeOptions
from provkit.runtime._payload import DEFAULT_MAX_PAYLOAD_BYTES, PayloadTooLargeError
from provkit.runtime._replay import OrchestrationFn
from provkit.runtime._retry import RetryPolicy
from provkit.runtime._runtime import Runtime

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "ActivityFn",
    "Client",
    "DurableFuture",
    "InstanceEndedError",
    "NonRetryableError",
    "OrchestrationContext",
    "OrchestrationFn",
    "OrchestrationState",
    "OrchestrationStatus",
    "PayloadTooLargeError",
    "RetryPolicy",
    "Runtime",
    "RuntimeOptions",
    "TaskFailedError",
]
