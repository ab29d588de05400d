"""Stress result records and their presentations: tables, JSON, tracked history, trend charts.

Knows result records only; never imports a provider, the runtime or the stress runner.
Public: the result records ``run_stress_test`` returns and the schema of ``--json`` output;
tables, documents, history and charts are the stress runner's, imported from the private
modules.
"""

from provkit.reporting._records import (
    ErrorCause,
    Failures,
    HistoryCheck,
    LatencySummary,
    OperationStats,
    ProcessCounts,
    StressResult,
)
from provkit.reporting._schema import SCHEMA_VERSION, STRESS_JSON_SCHEMA, validate

__all__ = [
    "SCHEMA_VERSION",
    "STRESS_JSON_SCHEMA",
    "ErrorCause",
    "Failures",
    "HistoryCheck",
    "LatencySummary",
    "OperationStats",
    "ProcessCounts",
    "StressResult",
    "validate",
]
