"""Trend chart of the tracked history as SVG: throughput and tail latency per series.

Plain SVG text (GitHub renders it inline), written without any plotting library, so the
chart costs provkit's users no dependency. Runs are placed in file order and labelled by
commit, date and time, so several runs of one commit stay apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from provkit.reporting._history import HistoryRecord

_PANELS = (
    ("orch_per_sec", "Orchestrations / s (higher is better)"),
    ("latency_p99_ms", "p99 instance latency, ms (lower is better)"),
)
_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
_DASHES = ("", "6 3", "2 3", "8 3 2 3")
_MAX_TICKS = 15
_WIDTH, _PANEL_HEIGHT = 1000, 260
_LEFT, _RIGHT, _TOP, _GAP, _BOTTOM = 70, 260, 50, 60, 70
_GRID_LINES = 5


def run_label(record: HistoryRecord) -> tuple[str, str]:
    """Two tick-label lines for the run ``record`` belongs to: commit, then date and time."""
    commit = (record.commit or "unknown")[:7]
    stamp = record.timestamp
    return commit, f"{stamp[5:10]} {stamp[11:16]}"


def _nice_top(value: float) -> float:
    """A round axis maximum at or above ``value``."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def _number(value: float) -> str:
    return f"{value:g}" if value >= 1 or value == 0 else f"{value:.2g}"


def trend_svg(records: Sequence[HistoryRecord]) -> str:
    """The chart as SVG text: one line per (provider, scenario, config) series."""
    runs: dict[tuple[str | None, str], int] = {}
    for record in records:
        runs.setdefault((record.commit, record.timestamp), len(runs))
    series: dict[tuple[str, str, str], list[HistoryRecord]] = {}
    for record in records:
        series.setdefault(record.series, []).append(record)
    providers = list(dict.fromkeys(record.provider for record in records))
    configs = list(dict.fromkeys(record.config for record in records))
    scenarios = {record.scenario for record in records}
    plot_width = _WIDTH - _LEFT - _RIGHT
    height = _TOP + len(_PANELS) * (_PANEL_HEIGHT + _GAP) - _GAP + _BOTTOM

    def x_of(index: int) -> float:
        return _LEFT + (plot_width * (index + 0.5) / max(1, len(runs)))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{_WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{_LEFT}" y="24" font-size="16" font-weight="bold">provkit stress history</text>',
    ]
    for number, (metric, title) in enumerate(_PANELS):
        top = _TOP + number * (_PANEL_HEIGHT + _GAP)
        bottom = top + _PANEL_HEIGHT
        values = [v for r in records if (v := r.value(metric)) is not None]
        y_max = _nice_top(max(values, default=0.0))

        def y_of(value: float, top: float = top, y_max: float = y_max) -> float:
            return top + _PANEL_HEIGHT * (1 - value / y_max)

        parts.append(f'<text x="{_LEFT}" y="{top - 8}" font-size="13">{escape(title)}</text>')
        for line in range(_GRID_LINES + 1):
            value = y_max * line / _GRID_LINES
            y = y_of(value)
            parts.append(
                f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_LEFT + plot_width}" y2="{y:.1f}" '
                'stroke="#ddd"/>'
            )
            parts.append(
                f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}</text>'
            )
        for (provider, scenario, config), points in series.items():
            kept = [(runs[(p.commit, p.timestamp)], v) for p in points if (v := p.value(metric))
                    is not None]  # fmt: skip
            if not kept:
                continue
            colour = _COLOURS[providers.index(provider) % len(_COLOURS)]
            dash = _DASHES[configs.index(config) % len(_DASHES)]
            coordinates = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in kept)
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            label = f"{provider} {config}" + (f" ({scenario})" if len(scenarios) > 1 else "")
            parts.append(
                f'<polyline points="{coordinates}" fill="none" stroke="{colour}" '
                f'stroke-width="1.6"{dash_attr}><title>{escape(label)}</title></polyline>'
            )
            parts += [
                f'<circle cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(label)}: {v:.2f}</title></circle>"
                for i, v in kept
            ]
        parts.append(
            f'<line x1="{_LEFT}" y1="{bottom}" x2="{_LEFT + plot_width}" y2="{bottom}" '
            'stroke="#444"/>'
        )
    labels: dict[int, tuple[str, str]] = {}
    for record in records:
        labels.setdefault(runs[(record.commit, record.timestamp)], run_label(record))
    axis = _TOP + len(_PANELS) * (_PANEL_HEIGHT + _GAP) - _GAP
    for index in sorted(labels)[:: max(1, math.ceil(len(labels) / _MAX_TICKS))]:
        first, second = labels[index]
        x = x_of(index)
        parts.append(
            f'<text x="{x:.1f}" y="{axis + 16}" text-anchor="middle" font-size="10">'
            f'{escape(first)}<tspan x="{x:.1f}" dy="13">{escape(second)}</tspan></text>'
        )
    parts.append(
        f'<text x="{_LEFT + plot_width / 2:.1f}" y="{height - 12}" text-anchor="middle">'
        "tracked run (commit, UTC date and time)</text>"
    )
    legend_x = _LEFT + plot_width + 20
    for row, (provider, scenario, config) in enumerate(series):
        y = _TOP + 14 * row
        colour = _COLOURS[providers.index(provider) % len(_COLOURS)]
        dash = _DASHES[configs.index(config) % len(_DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        label = f"{provider} {config}" + (f" ({scenario})" if len(scenarios) > 1 else "")
        parts.append(
            f'<line x1="{legend_x}" y1="{y - 4}" x2="{legend_x + 24}" y2="{y - 4}" '
            f'stroke="{colour}" stroke-width="2"{dash_attr}/>'
        )
        parts.append(f'<text x="{legend_x + 30}" y="{y}">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_trend_chart(records: Sequence[HistoryRecord], path: Path) -> None:
    """Write the trend chart of ``records`` to ``path`` as SVG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(trend_svg(records), encoding="utf-8")
