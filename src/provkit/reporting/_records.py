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
class StressResult:
    """One row of a comparison: one provider, scenario and concurrency setting, measured.

    ``launched`` instances all end up either ``completed`` or in ``failures``.
    ``activities`` counts activity executions that actually ran. ``settings`` holds the
    full configuration of the run (plain values). ``errors`` keeps the first few distinct
    failure messages, for diagnosis.
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
