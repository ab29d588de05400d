"""The provider contract: what a provider author implements and imports.

Plain data (events, messages, fetch results, capability records), the typed errors, the
JSON codec, the ``Provider`` and ``ProviderFactory`` protocols, the optional capabilities'
protocols (``Management``, ``Deletion``, ``Prune``, ``TaskQueues``, ``ClockControl``,
``FaultInjection``) and clocks. Nothing here touches storage.
"""

from provkit.contract import codec, events, messages
from provkit.contract._capabilities import (
    CAPABILITY_PROTOCOLS,
    Deletion,
    Management,
    Prune,
    TaskQueues,
    capability_methods,
    missing_capability_methods,
)
from provkit.contract._clock import Clock, ManualClock, SystemClock
from provkit.contract._errors import (
    CorruptDataError,
    DuplicateEventError,
    InstanceRunningError,
    LockLostError,
    NotFoundError,
    NotRootError,
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

__all__ = [
    "CAPABILITY_PROTOCOLS",
    "CONTRACT_VERSION",
    "INITIAL_EVENT_ID",
    "INITIAL_EXECUTION_ID",
    "ActivityId",
    "Capability",
    "Clock",
    "ClockControl",
    "CorruptDataError",
    "DeleteResult",
    "Deletion",
    "DuplicateEventError",
    "ErrorCategory",
    "ErrorDetails",
    "ExecutionInfo",
    "ExecutionMetadata",
    "FaultInjection",
    "InstanceFilter",
    "InstanceInfo",
    "InstancePage",
    "InstanceRunningError",
    "LockLostError",
    "Management",
    "ManualClock",
    "NotFoundError",
    "NotRootError",
    "OrchestrationItem",
    "Provider",
    "ProviderError",
    "ProviderFactory",
    "Prune",
    "PruneResult",
    "QueueDepths",
    "Status",
    "SystemClock",
    "SystemMetrics",
    "TaskQueues",
    "TransientError",
    "WorkLease",
    "capability_methods",
    "codec",
    "events",
    "messages",
    "missing_capability_methods",
]
