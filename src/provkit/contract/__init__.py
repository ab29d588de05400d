"""The provider contract: what a provider author implements and imports.

Plain data (events, messages, fetch results), the typed errors, the JSON codec, the
``Provider`` and ``ProviderFactory`` protocols, capabilities and clocks. Nothing here
touches storage.
"""

from provkit.contract import codec, events, messages
from provkit.contract._clock import Clock, ManualClock, SystemClock
from provkit.contract._errors import (
    CorruptDataError,
    DuplicateEventError,
    LockLostError,
    NotFoundError,
    ProviderError,
    TransientError,
)
from provkit.contract._model import (
    INITIAL_EVENT_ID,
    INITIAL_EXECUTION_ID,
    ActivityId,
    ErrorCategory,
    ErrorDetails,
    ExecutionMetadata,
    OrchestrationItem,
    Status,
    WorkLease,
)
from provkit.contract._provider import (
    CONTRACT_VERSION,
    Capability,
    ClockControl,
    FaultInjection,
    Provider,
    ProviderFactory,
)

__all__ = [
    "CONTRACT_VERSION",
    "INITIAL_EVENT_ID",
    "INITIAL_EXECUTION_ID",
    "ActivityId",
    "Capability",
    "Clock",
    "ClockControl",
    "CorruptDataError",
    "DuplicateEventError",
    "ErrorCategory",
    "ErrorDetails",
    "ExecutionMetadata",
    "FaultInjection",
    "LockLostError",
    "ManualClock",
    "NotFoundError",
    "OrchestrationItem",
    "Provider",
    "ProviderError",
    "ProviderFactory",
    "Status",
    "SystemClock",
    "TransientError",
    "WorkLease",
    "codec",
    "events",
    "messages",
]
