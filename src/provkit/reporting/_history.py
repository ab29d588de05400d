"""Tracked stress history (``reports/history.jsonl``): records, trends and regression flags.

One JSON object per line, one line per result row of a tracked run, oldest first. Trends
compare each series' latest value with the previous one and with the mean of the ones before,
counting only earlier records of the same settings, machine and duration: a number measured
another way is not a baseline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from provkit.reporting._records import StressResult

HIGHER_IS_BETTER = {
    "orch_per_sec": True,
    "activity_per_sec": True,
    "success_pct": True,
    "ceiling_ratio": True,
    "latency_avg_ms": False,
    "latency_p50_ms": False,
    "latency_p99_ms": False,
}
"""Metrics a trend can follow, and which direction is an improvement."""


class HistoryError(ValueError):
    """The history file cannot be read: names the file, line and cause."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRecord:
    """One result row of one tracked run.

    ``machine`` describes where it ran and ``settings`` how (every setting of the row); both
    are ``None`` in records written before they were kept, and such records are compared
    with nothing. ``history`` is the row's history-check summary (``ok``...).
    """

    commit: str | None
    timestamp: str
    duration_secs: float
    provider: str
    scenario: str
    config: str
    launched: int
    completed: int
    failed: int
    success_pct: float
    orch_per_sec: float
    activity_per_sec: float
    ceiling_ratio: float | None
    latency_avg_ms: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    machine: str | None = None
    settings: dict[str, Any] | None = None
    history: str | None = None

    @property
    def series(self) -> tuple[str, str, str]:
        """The (provider, scenario, config) this record belongs to."""
        return (self.provider, self.scenario, self.config)

    def comparable_with(self, other: HistoryRecord) -> bool:
        """Whether the two were measured alike: same series, settings, machine and duration.

        A record without a machine or settings (written by an older provkit) is comparable
        with nothing.
        """
        if None in (self.machine, self.settings, other.machine, other.settings):
            return False
        return self.series == other.series and not self.differences(other)

    def differences(self, other: HistoryRecord) -> list[str]:
        """What keeps ``other`` from being comparable with this record, in words."""
        if other.machine is None or other.settings is None:
            return ["machine and settings not recorded"]
        found = []
        if self.machine != other.machine:
            found.append("machine")
        if self.duration_secs != other.duration_secs:
            found.append("duration")
        if _without_duration(self.settings or {}) != _without_duration(other.settings):
            found.append("settings")
        return found

    @classmethod
    def from_result(
        cls,
        result: StressResult,
        *,
        commit: str | None,
        timestamp: str,
        duration_secs: float,
        machine: str | None = None,
    ) -> HistoryRecord:
        """The record of ``result`` measured at ``commit`` on ``machine``."""

        def opt(value: float) -> float | None:
            return None if math.isnan(value) else value

        return cls(
            commit=commit,
            timestamp=timestamp,
            duration_secs=duration_secs,
            provider=result.provider,
            scenario=result.scenario,
            config=result.config,
            launched=result.launched,
            completed=result.completed,
            failed=result.failed,
            success_pct=result.success_pct,
            orch_per_sec=result.orch_per_sec,
            activity_per_sec=result.activity_per_sec,
            ceiling_ratio=result.ceiling_ratio,
            latency_avg_ms=opt(result.latency.avg_ms),
            latency_p50_ms=opt(result.latency.p50_ms),
            latency_p99_ms=opt(result.latency.p99_ms),
            machine=machine,
            settings=dict(result.settings),
            history=None if result.history is None else result.history.summary(),
        )

    def value(self, metric: str) -> float | None:
        """This record's value of ``metric`` (one of ``HIGHER_IS_BETTER``)."""
        value: float | None = getattr(self, metric)
        return value


def _without_duration(settings: Mapping[str, Any]) -> dict[str, Any]:
    # The duration is compared on its own (the record's duration_secs).
    return {key: value for key, value in settings.items() if key != "duration_secs"}


_FIELDS = tuple(f.name for f in fields(HistoryRecord))
_OPTIONAL = ("machine", "settings", "history")


def load_history(path: Path) -> list[HistoryRecord]:
    """Every record of ``path`` in file order; ``[]`` when the file does not exist."""
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            missing = [name for name in _FIELDS if name not in raw and name not in _OPTIONAL]
            if missing:
                raise HistoryError(f"missing {', '.join(missing)}")
            records.append(HistoryRecord(**{name: raw[name] for name in _FIELDS if name in raw}))
        except (json.JSONDecodeError, TypeError, HistoryError) as exc:
            raise HistoryError(f"{path}:{number}: not a history record ({exc})") from None
    return records


def append_history(path: Path, records: Iterable[HistoryRecord]) -> None:
    """Append ``records`` to ``path`` (created if absent), one JSON object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(asdict(record), sort_keys=True) + "\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class Trend:
    """The latest value of one series next to what came before it.

    Only earlier records measured alike (``HistoryRecord.comparable_with``) count: ``runs``
    is how many the series has in all, ``previous`` the latest comparable one, and
    ``mean_window`` how many comparable values ``mean_before`` averages (at most the
    analysis window). Changes are percentages of the reference value (``None`` without
    one); ``regression`` says the change against the mean is worse than the threshold.
    ``note`` says why nothing or only part could be compared.
    """

    provider: str
    scenario: str
    config: str
    metric: str
    runs: int
    commit: str | None
    latest: float | None
    previous: float | None
    change_vs_previous_pct: float | None
    mean_before: float | None
    mean_window: int
    change_vs_mean_pct: float | None
    success_pct: float
    regression: bool
    note: str = ""


def _change_pct(latest: float | None, reference: float | None) -> float | None:
    if latest is None or reference is None or reference == 0:
        return None
    return 100.0 * (latest - reference) / reference


def analyse(
    records: Sequence[HistoryRecord],
    *,
    metric: str = "orch_per_sec",
    window: int = 5,
    threshold_pct: float = 10.0,
) -> list[Trend]:
    """One ``Trend`` per (provider, scenario, config) series, in order of first appearance.

    The mean is over the up-to-``window`` values before the latest one. A change is a
    regression when it goes the wrong way (see ``HIGHER_IS_BETTER``) by more than
    ``threshold_pct`` percent.
    """
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(HIGHER_IS_BETTER)}")
    series: dict[tuple[str, str, str], list[HistoryRecord]] = {}
    for record in records:
        series.setdefault(record.series, []).append(record)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    trends = []
    for (provider, scenario, config), runs in series.items():
        latest = runs[-1]
        alike = [r for r in runs[:-1] if latest.comparable_with(r)]
        before = [v for r in alike[-window:] if (v := r.value(metric)) is not None]
        previous = alike[-1].value(metric) if alike else None
        mean_before = sum(before) / len(before) if before else None
        vs_mean = _change_pct(latest.value(metric), mean_before)
        trends.append(
            Trend(
                provider=provider,
                scenario=scenario,
                config=config,
                metric=metric,
                runs=len(runs),
                commit=latest.commit,
                latest=latest.value(metric),
                previous=previous,
                change_vs_previous_pct=_change_pct(latest.value(metric), previous),
                mean_before=mean_before,
                mean_window=len(before),
                change_vs_mean_pct=vs_mean,
                success_pct=latest.success_pct,
                regression=vs_mean is not None and sign * vs_mean < -threshold_pct,
                note=_note(latest, runs[:-1], len(alike)),
            )
        )
    return trends


def _note(latest: HistoryRecord, earlier: Sequence[HistoryRecord], alike: int) -> str:
    if latest.machine is None or latest.settings is None:
        return "cannot compare: machine and settings not recorded"
    skipped = len(earlier) - alike
    if not earlier:
        return "first run of this series"
    reasons = sorted({reason for r in earlier for reason in latest.differences(r)})
    if not alike:
        return f"cannot compare: all {skipped} earlier runs differ ({', '.join(reasons)})"
    if skipped:
        return f"{skipped} earlier runs skipped ({', '.join(reasons)})"
    return ""


TREND_HEADERS = (
    "Provider", "Scenario", "Config", "Runs", "Latest", "vs prev", "Mean before", "vs mean",
    "Success %", "Flag", "Note",
)  # fmt: skip
"""Columns of the trend table."""


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} %"


def trend_cells(trend: Trend) -> list[str]:
    """One trend-table row as display strings, in ``TREND_HEADERS`` order."""
    flags = []
    if trend.regression:
        flags.append("REGRESSION")
    if trend.success_pct < 100.0:
        flags.append("FAILURES")
    mean = _num(trend.mean_before)
    if trend.mean_before is not None:
        mean += f" (n={trend.mean_window})"
    return [
        trend.provider,
        trend.scenario,
        trend.config,
        str(trend.runs),
        _num(trend.latest),
        _pct(trend.change_vs_previous_pct),
        mean,
        _pct(trend.change_vs_mean_pct),
        f"{trend.success_pct:.2f}",
        " ".join(flags),
        trend.note,
    ]
