"""Trend chart of the tracked history: throughput and tail latency per series over runs.

Renders off-screen (matplotlib's Agg backend) to a PNG file; never opens a window.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from provkit.reporting._history import HistoryRecord

_PANELS = (
    ("orch_per_sec", "Orchestrations / s (higher is better)"),
    ("latency_p99_ms", "p99 instance latency, ms (lower is better)"),
)


_MAX_TICKS = 15
_LINE_STYLES = ("-", "--", ":", "-.")


def _run_label(record: HistoryRecord) -> str:
    commit = (record.commit or "unknown")[:7]
    return f"{commit}\n{record.timestamp[:10]}"


def write_trend_chart(records: Sequence[HistoryRecord], path: Path) -> None:
    """Plot every (provider, scenario, config) series across tracked runs into ``path``.

    A tracked run is one (commit, timestamp) pair; runs are placed in file order.
    """
    # Imported here: matplotlib costs about half a second, and only this command needs it.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs: dict[tuple[str | None, str], int] = {}
    for record in records:
        runs.setdefault((record.commit, record.timestamp), len(runs))
    scenarios = {record.scenario for record in records}
    series: dict[tuple[str, str, str], list[HistoryRecord]] = {}
    for record in records:
        series.setdefault(record.series, []).append(record)

    # One colour per provider and one line style per concurrency setting, so related
    # series read as a family.
    providers = list(dict.fromkeys(record.provider for record in records))
    configs = list(dict.fromkeys(record.config for record in records))
    colours = plt.get_cmap("tab10")
    figure, axes = plt.subplots(len(_PANELS), 1, figsize=(10, 7.5), sharex=True)
    for axis, (metric, title) in zip(axes, _PANELS, strict=True):
        for (provider, scenario, config), points in series.items():
            label = f"{provider} {config}" + (f" ({scenario})" if len(scenarios) > 1 else "")
            kept = [p for p in points if p.value(metric) is not None]
            axis.plot(
                [runs[(p.commit, p.timestamp)] for p in kept],
                [p.value(metric) for p in kept],
                color=colours(providers.index(provider) % 10),
                linestyle=_LINE_STYLES[configs.index(config) % len(_LINE_STYLES)],
                marker="o",
                linewidth=1.6,
                markersize=4,
                label=label,
            )
        axis.set_title(title, fontsize=11, loc="left")
        axis.grid(True, alpha=0.3)
        axis.set_ylim(bottom=0)
    axes[0].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    labels: dict[int, str] = {}
    for record in records:
        labels.setdefault(runs[(record.commit, record.timestamp)], _run_label(record))
    ticks = sorted(labels)[:: max(1, len(labels) // _MAX_TICKS)]
    axes[-1].set_xticks(ticks, [labels[i] for i in ticks], fontsize=7)
    axes[-1].set_xlabel("tracked run (commit, date)")
    figure.suptitle("provkit stress history", fontsize=13)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
