"""Stress result records and their presentations: tables, JSON, tracked history, trend charts.

Knows result records only; never imports a provider, the runtime or the stress runner.
"""

from provkit.reporting._chart import write_trend_chart
from provkit.reporting._document import Environment, result_to_json, stress_document
from provkit.reporting._history import (
    HIGHER_IS_BETTER,
    TREND_HEADERS,
    HistoryError,
    HistoryRecord,
    Trend,
    analyse,
    append_history,
    load_history,
    trend_cells,
)
from provkit.reporting._records import (
    Failures,
    LatencySummary,
    OperationStats,
    StressResult,
    percentile,
)
from provkit.reporting._results_log import last_tracked_commit, log_entry, prepend_entry
from provkit.reporting._schema import SCHEMA_VERSION, STRESS_JSON_SCHEMA, validate
from provkit.reporting._tables import (
    OPERATION_HEADERS,
    RESULT_HEADERS,
    operations_markdown,
    operations_table,
    report_markdown,
    result_cells,
    results_markdown,
    results_table,
    terminal_tables,
    trends_markdown,
    trends_table,
)

__all__ = [
    "HIGHER_IS_BETTER",
    "OPERATION_HEADERS",
    "RESULT_HEADERS",
    "SCHEMA_VERSION",
    "STRESS_JSON_SCHEMA",
    "TREND_HEADERS",
    "Environment",
    "Failures",
    "HistoryError",
    "HistoryRecord",
    "LatencySummary",
    "OperationStats",
    "StressResult",
    "Trend",
    "analyse",
    "append_history",
    "last_tracked_commit",
    "load_history",
    "log_entry",
    "operations_markdown",
    "operations_table",
    "percentile",
    "prepend_entry",
    "report_markdown",
    "result_cells",
    "result_to_json",
    "results_markdown",
    "results_table",
    "stress_document",
    "terminal_tables",
    "trend_cells",
    "trends_markdown",
    "trends_table",
    "validate",
    "write_trend_chart",
]
