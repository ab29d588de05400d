"""The provider contract: what a provider author implements and imports.

Plain data (events, messages, fetch results, capability records), the typed errors, the
JSON codec, the ``Provider`` and ``ProviderFactory`` protocols, the optional capabilities'
protocols (``Management``, ``Deletion``, ``Prune``, ``TaskQueues``, ``ClockControl``,
``FaultInjection``) and clocks, and the tools every user of a provider shares: the
structural check (``check_provider``), the wrapper base (``ProviderWrapper``) and the
dispose rule (``dispose_provider``). Nothing here touches storage.
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
    dispose_provider,
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
from provkit.contract._structural import check_provider, missing_members
from provkit.contract._wrapper import ProviderWrapper

__all__ = [
    "CAPABILITY_PROTOCOLS",
    "CONTRACT_VERSION",
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
    "ProviderWrapper",
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
    "check_provider",
    "codec",
    "dispose_provider",
    "events",
    "messages",
    "missing_capability_methods",
    "missing_members",
]
