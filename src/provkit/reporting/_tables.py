"""Comparison tables of stress results: markdown (files, CI summaries) and rich (terminals).

Both renderings come from the same cells, so a terminal and a report always agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from tabulate import tabulate

from provkit.reporting._history import TREND_HEADERS, Trend, trend_cells
from provkit.reporting._records import StressResult

RESULT_HEADERS = (
    "Provider", "Scenario", "Config", "Launched", "Completed", "Failed", "Infra", "Cfg", "App",
    "Start/Timeout", "Success %", "History", "Orch/s", "Activity/s", "Ceiling %",
    "Overhead ms", "Avg ms", "p50 ms", "p95 ms", "p99 ms",
)  # fmt: skip
"""Columns of the comparison table; ``Config`` is orchestration/worker concurrency (and the
number of runtime processes), ``History`` the history check, ``Overhead ms`` the runtime's
time per activity beyond the activity's own delay."""

OPERATION_HEADERS = (
    "Provider", "Scenario", "Config", "Operation", "Calls", "Errors", "p50 ms", "p99 ms",
)  # fmt: skip
"""Columns of the per-operation table (provider calls timed by the instrumenting wrapper)."""

_RUN_COLUMNS = 3
"""Provider, Scenario, Config: the columns that name a run in both tables."""
_TEXT_COLUMNS = {"Provider", "Scenario", "Config", "History", "Operation", "Flag", "Note"}


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def _opt_pct(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100.0 * ratio:.1f}"


def _opt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def history_cell(result: StressResult) -> str:
    """The history-check cell: ``ok``, the problem counts, or ``-`` when not checked."""
    history = result.history
    return "-" if history is None else history.summary()


def result_cells(result: StressResult) -> list[str]:
    """One comparison-table row as display strings, in ``RESULT_HEADERS`` order."""
    f = result.failures
    return [
        result.provider,
        result.scenario,
        result.config,
        str(result.launched),
        str(result.completed),
        str(result.failed),
        str(f.infrastructure),
        str(f.configuration),
        str(f.application),
        str(f.start_errors + f.timeouts),
        f"{result.success_pct:.2f}",
        history_cell(result),
        f"{result.orch_per_sec:.2f}",
        f"{result.activity_per_sec:.2f}",
        _opt_pct(result.ceiling_ratio),
        _opt_ms(result.overhead_ms),
        _ms(result.latency.avg_ms),
        _ms(result.latency.p50_ms),
        _ms(result.latency.p95_ms),
        _ms(result.latency.p99_ms),
    ]


def operation_cells(result: StressResult) -> list[list[str]]:
    """Per-operation rows of one result, in ``OPERATION_HEADERS`` order, busiest first."""
    ordered = sorted(result.operations, key=lambda op: (-op.count, op.operation))
    return [
        [
            result.provider,
            result.scenario,
            result.config,
            op.operation,
            str(op.count),
            str(op.errors),
            _ms(op.p50_ms),
            _ms(op.p99_ms),
        ]
        for op in ordered
    ]


def _markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    align = ["left" if header in _TEXT_COLUMNS else "right" for header in headers]
    return str(
        tabulate(
            rows, headers=list(headers), tablefmt="github", colalign=align, disable_numparse=True
        )
    )


def results_markdown(results: Sequence[StressResult]) -> str:
    """The comparison table as GitHub markdown."""
    return _markdown(RESULT_HEADERS, [result_cells(r) for r in results])


def operations_markdown(results: Sequence[StressResult]) -> str:
    """The per-operation table as GitHub markdown."""
    return _markdown(OPERATION_HEADERS, [row for r in results for row in operation_cells(r)])


def report_markdown(
    results: Sequence[StressResult],
    title: str = "Stress comparison",
    *,
    settings: str | None = None,
    interrupted: str | None = None,
) -> str:
    """A markdown section: settings and verdict, the comparison table, what went wrong in
    each row, then the per-operation table folded away.

    ``settings`` is a one-line description of the run; ``interrupted`` says why the run
    stopped early (its rows are then partial).
    """
    head = f"### {title}\n\n"
    if settings:
        head += f"{settings}\n\n"
    head += f"{verdict(results, interrupted=interrupted)}\n\n"
    problems = diagnostics(results)
    details = "".join(f"- {line}\n" for line in problems)
    return (
        f"{head}{results_markdown(results)}\n\n"
        + (f"{details}\n" if details else "")
        + "<details><summary>Provider operations (calls and latency)</summary>\n\n"
        f"{operations_markdown(results)}\n\n</details>\n"
    )


def _row_name(result: StressResult) -> str:
    return f"{result.provider} {result.scenario} {result.config}"


def verdict(results: Sequence[StressResult], *, interrupted: str | None = None) -> str:
    """One line: PASS, FAIL, PARTIAL (interrupted, nothing failed so far) or NO RESULT."""
    failing = [r for r in results if not r.passed]
    rows = f"{len(results)} row{'s' if len(results) != 1 else ''}"
    partial = f" (partial: {interrupted})" if interrupted else ""
    if failing:
        named = "; ".join(_failure_summary(r) for r in failing[:3])
        more = f"; and {len(failing) - 3} more" if len(failing) > 3 else ""
        return f"**Verdict: FAIL**{partial}: {len(failing)} of {rows} failed: {named}{more}"
    if not results:
        return f"**Verdict: NO RESULT**{partial}: no row finished"
    word = "PARTIAL" if interrupted else "PASS"
    return (
        f"**Verdict: {word}**{partial}: {rows}, every instance completed and the history "
        "check found nothing lost, duplicated or unexpected"
    )


def _failure_summary(result: StressResult) -> str:
    parts = []
    if result.failed:
        parts.append(f"{result.success_pct:.2f} % completed")
    if result.history is not None and not result.history.clean:
        parts.append(f"history check: {result.history.summary()}")
    parts += [
        f"runtime process {p.index}: {p.exit}"
        for p in result.processes
        if p.exit not in ("ok", "killed")
    ]
    return f"{_row_name(result)} ({', '.join(parts)})"


_SHOWN_CAUSES = 3


def diagnostics(results: Sequence[StressResult]) -> list[str]:
    """What went wrong, a few lines per row: history findings, the top error causes, the
    first failure messages. Empty for rows with nothing to say."""
    lines: list[str] = []
    for result in results:
        name = _row_name(result)
        history = result.history
        if history is not None:
            lines += [f"history check of {name}: {finding}" for finding in history.findings]
        if result.causes:
            calls, errors = result.provider_calls, result.provider_errors
            share = f" ({100.0 * errors / calls:.1f} %)" if calls else ""
            top = "; ".join(cause.describe() for cause in result.causes[:_SHOWN_CAUSES])
            more = len(result.causes) - _SHOWN_CAUSES
            top += f"; and {more} more kinds" if more > 0 else ""
            lines.append(
                f"errors in {name}: {errors:,} of {calls:,} provider calls failed{share}; "
                f"top causes: {top}"
            )
        lines += [f"failure in {name}: {error}" for error in result.errors]
        if result.processes:
            each = "; ".join(
                f"#{p.index} (pid {p.pid}, {p.exit}): {p.turns:,} turns, "
                f"{p.activities:,} activities, {p.terminal_acks:,} instances finished"
                for p in result.processes
            )
            lines.append(f"runtime processes of {name}: {each}")
    return lines


def _rich(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, header_style="bold")
    for header in headers:
        table.add_column(header, justify="left" if header in _TEXT_COLUMNS else "right")
    for row in rows:
        table.add_row(*row)
    return table


def results_table(results: Sequence[StressResult]) -> Table:
    """The comparison table for a terminal; rows below 100 % success are shown in red."""
    table = _rich("Stress comparison", RESULT_HEADERS, [])
    for result in results:
        style = None if result.passed else "red"
        table.add_row(*result_cells(result), style=style)
    return table


def operations_table(results: Sequence[StressResult]) -> Table:
    """The per-operation table for a terminal."""
    rows = [row for r in results for row in operation_cells(r)]
    return _rich("Provider operations", OPERATION_HEADERS, rows)


def _width(table: Table) -> int:
    console = Console(width=100_000)
    return Measurement.get(console, console.options, table).maximum


def _turned(results: Sequence[StressResult], title: str) -> Table:
    table = Table(title=title, header_style="bold")
    table.add_column("")
    for result in results:
        style = None if result.passed else "red"
        header = f"{result.provider}\n{result.scenario} {result.config}"
        table.add_column(header, justify="right", header_style=style or "bold")
    cells = [result_cells(result)[_RUN_COLUMNS:] for result in results]
    for index, header in enumerate(RESULT_HEADERS[_RUN_COLUMNS:]):
        table.add_row(header, *(row[index] for row in cells))
    return table


def _operations_of(result: StressResult) -> Table:
    title = f"Provider operations: {result.provider} {result.scenario} {result.config}"
    rows = [row[_RUN_COLUMNS:] for row in operation_cells(result)]
    return _rich(title, OPERATION_HEADERS[_RUN_COLUMNS:], rows)


def terminal_tables(results: Sequence[StressResult], width: int) -> list[Table]:
    """The comparison and operation tables laid out for a terminal ``width`` columns wide.

    When the one-row-per-run tables do not fit, the comparison is turned (metrics as rows,
    as many runs side by side as fit) and the operations get one small table per run.
    """
    wide = [results_table(results), operations_table(results)]
    if all(_width(table) <= width for table in wide):
        return wide
    turned: list[Table] = []
    chunk: list[StressResult] = []
    for result in results:
        if chunk and _width(_turned([*chunk, result], "")) > width:
            turned.append(_turned(chunk, "Stress comparison"))
            chunk = []
        chunk.append(result)
    if chunk:
        turned.append(_turned(chunk, "Stress comparison"))
    return turned + [_operations_of(result) for result in results]


def trends_markdown(trends: Sequence[Trend]) -> str:
    """The trend table as GitHub markdown."""
    return _markdown(TREND_HEADERS, [trend_cells(t) for t in trends])


def trends_table(trends: Sequence[Trend], title: str) -> Table:
    """The trend table for a terminal; regressed series are shown in red."""
    table = _rich(title, TREND_HEADERS, [])
    for trend in trends:
        table.add_row(*trend_cells(trend), style="red" if trend.regression else None)
    return table
