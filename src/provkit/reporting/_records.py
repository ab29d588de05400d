"""Plain result records of one stress run row, and the statistics that summarise samples.

Reporting knows these records only: never a provider, a runtime or a stress configuration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ascending values, linearly interpolated.

    Same definition as numpy's default; ``nan`` for no values.
    """
    if not sorted_values:
        return math.nan
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencySummary:
    """Distribution of durations, in milliseconds; all ``nan`` when ``count`` is 0."""

    count: int
    avg_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def from_seconds(cls, samples: Sequence[float]) -> LatencySummary:
        """Summarise durations measured in seconds."""
        values = sorted(s * 1000.0 for s in samples)
        if not values:
            return cls(
                count=0,
                avg_ms=math.nan,
                p50_ms=math.nan,
                p95_ms=math.nan,
                p99_ms=math.nan,
                max_ms=math.nan,
            )
        return cls(
            count=len(values),
            avg_ms=sum(values) / len(values),
            p50_ms=percentile(values, 50),
            p95_ms=percentile(values, 95),
            p99_ms=percentile(values, 99),
            max_ms=values[-1],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationStats:
    """Calls of one provider operation during a run: how many, how many raised, how long."""

    operation: str
    count: int
    errors: int
    p50_ms: float
    p99_ms: float
    total_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Failures:
    """Instances that did not complete, by cause.

    ``infrastructure``/``configuration``/``application``: the instance ended Failed with an
    error of that category (poison counts as infrastructure). ``start_errors``: starting the
    instance raised. ``timeouts``: it was still running when the run gave up waiting.
    """

    infrastructure: int = 0
    configuration: int = 0
    application: int = 0
    start_errors: int = 0
    timeouts: int = 0

    @property
    def total(self) -> int:
        """Every failed instance, whatever the cause."""
        return (
            self.infrastructure
            + self.configuration
            + self.application
            + self.start_errors
            + self.timeouts
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorCause:
    """One kind of error seen during a run, counted: a provider call that raised, or a
    warning the runtime logged.

    ``source`` is the provider operation (``ack_work_item``) or ``runtime log``; ``kind``
    the exception type (or the log message's template); ``example`` the first message seen.
    """

    source: str
    kind: str
    count: int
    example: str

    def describe(self) -> str:
        """``source kind ×count ("example")`` on one line."""
        example = f' ("{self.example}")' if self.example else ""
        return f"{self.source} {self.kind} ×{self.count:,}{example}"


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryCheck:
    """What reading storage back after a run found, in Jepsen's total-queue classes.

    ``lost``: something the run saw happen that storage does not hold (a terminal status
    the runtime acked, a completion of a scheduled activity). ``duplicated``: something
    that must happen once happened more often (terminal events, completions of one
    activity, executions of one activity, schedules of one task). ``unexpected``: storage
    holds something nobody asked for (a completion of an activity never scheduled, an
    execution of one never scheduled, a wrong output). ``unknown``: instances that never
    finished (already counted as failures), whose history proves nothing either way.
    ``executed`` is ``None`` when not every activity execution could be counted (a runtime
    process was killed). ``findings`` keeps the first few, one line each.
    """

    checked: int
    unknown: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    scheduled: int = 0
    executed: int | None = 0
    findings: tuple[str, ...] = ()

    @property
    def problems(self) -> int:
        """Lost, duplicated and unexpected items together."""
        return self.lost + self.duplicated + self.unexpected

    @property
    def clean(self) -> bool:
        """True when nothing was lost, duplicated or unexpected."""
        return self.problems == 0

    def summary(self) -> str:
        """``ok``, or the non-zero classes, e.g. ``2 duplicated, 1 lost``; instances that
        could not be checked are added as ``N unknown`` (just ``unknown`` when that is all)."""
        if self.clean:
            if self.unknown and self.unknown >= self.checked:
                return "unknown"
            return f"ok, {self.unknown} unknown" if self.unknown else "ok"
        parts = [
            f"{count} {name}"
            for name, count in (
                ("lost", self.lost),
                ("duplicated", self.duplicated),
                ("unexpected", self.unexpected),
            )
            if count
        ]
        if self.unknown:
            parts.append(f"{self.unknown} unknown")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessCounts:
    """What one runtime process of a multi-process run did, as it reported on exit.

    ``exit`` is ``ok``, ``killed`` (it was killed on purpose mid-run and reported
    nothing), or how it ended otherwise (``exit status 1``); the counts of a process that
    did not report are 0.
    """

    index: int
    pid: int
    exit: str
    turns: int
    activities: int
    terminal_acks: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StressResult:
    """One row of a comparison: one provider, scenario and concurrency setting, measured.

    ``launched`` instances all end up either ``completed`` or in ``failures``.
    ``activities`` counts activity executions that actually ran. ``settings`` holds the
    full configuration of the run (plain values). ``errors`` keeps the first few distinct
    failure messages, for diagnosis. ``provider_spec`` is what the user typed to name the
    provider (``provider`` is the label shown: its name, or the spec when two providers
    share a name). ``history`` is the check of storage after the run (``None``: not
    checked); ``causes`` the errors seen, most frequent first. ``worker_slots`` (all
    processes together) and ``activity_delay_ms`` give the runtime overhead per activity.
    ``processes`` lists the runtime processes of a multi-process run (empty when the
    runtime ran inside the runner's own process).
    """

    provider: str
    scenario: str
    config: str
    settings: Mapping[str, object]
    launched: int
    completed: int
    failures: Failures
    elapsed_secs: float
    activities: int
    latency: LatencySummary
    operations: tuple[OperationStats, ...] = ()
    ceiling_activities_per_sec: float | None = None
    errors: tuple[str, ...] = field(default=())
    provider_spec: str = ""
    history: HistoryCheck | None = None
    causes: tuple[ErrorCause, ...] = ()
    worker_slots: int = 1
    activity_delay_ms: float = 0.0
    processes: tuple[ProcessCounts, ...] = ()

    @property
    def passed(self) -> bool:
        """Every instance completed, the history check (if any) found nothing, and every
        runtime process ended as it should (or was killed on purpose)."""
        return (
            self.failed == 0
            and (self.history is None or self.history.clean)
            and all(p.exit in ("ok", "killed") for p in self.processes)
        )

    @property
    def provider_calls(self) -> int:
        """Provider calls made during the run (all operations)."""
        return sum(op.count for op in self.operations)

    @property
    def provider_errors(self) -> int:
        """Provider calls that raised."""
        return sum(op.errors for op in self.operations)

    @property
    def overhead_ms(self) -> float | None:
        """Worker-slot time per activity beyond the activity's own delay, in ms.

        ``worker_slots x elapsed / activities - activity_delay_ms``: what the runtime and
        the provider add to each activity (fetch, ack, hand-over, and any time slots wait
        for work). ``None`` when no activity ran.
        """
        if self.activities <= 0 or self.elapsed_secs <= 0:
            return None
        per_activity = self.worker_slots * self.elapsed_secs * 1000.0 / self.activities
        return per_activity - self.activity_delay_ms

    @property
    def failed(self) -> int:
        """Instances that did not complete."""
        return self.failures.total

    @property
    def success_pct(self) -> float:
        """Completed instances as a percentage of launched ones (100 when none launched)."""
        return 100.0 if self.launched == 0 else 100.0 * self.completed / self.launched

    @property
    def orch_per_sec(self) -> float:
        """Completed orchestrations per second of the run."""
        return self.completed / self.elapsed_secs if self.elapsed_secs > 0 else 0.0

    @property
    def activity_per_sec(self) -> float:
        """Executed activities per second of the run (counted, not derived)."""
        return self.activities / self.elapsed_secs if self.elapsed_secs > 0 else 0.0

    @property
    def ceiling_ratio(self) -> float | None:
        """Activity throughput as a fraction of the worker ceiling; ``None`` without one."""
        if not self.ceiling_activities_per_sec:
            return None
        return self.activity_per_sec / self.ceiling_activities_per_sec
