"""Conformance verdicts in markdown: a run's job summary, and a compatibility matrix.

The job summary is what a conformance run appends to ``$GITHUB_STEP_SUMMARY``: the verdict,
a table of categories and the first failures. The matrix puts several providers side by
side, one column each, from one run or from several verdict files.
"""

from __future__ import annotations

from collections.abc import Sequence

from provkit.reporting._verdict import (
    FAIL,
    PASS,
    CategoryCounts,
    ConformanceVerdict,
    ProviderVerdict,
)

SHOWN_FAILURES = 10
"""Failures a job summary lists per provider; the run's log has them all."""

_MARK = {PASS: "✅", FAIL: "❌"}


def step_summary(verdict: ConformanceVerdict) -> str:
    """The job summary of one conformance run (one provider or several)."""
    providers = verdict.providers
    versions = (
        f"provkit conformance suite {verdict.suite_version}, contract v{verdict.contract_version}"
    )
    if len(providers) == 1:
        (provider,) = providers
        lines = [
            f"### provkit conformance: {outcome_label(provider)} — {_code(provider.provider)}",
            "",
            provider.verdict,
            "",
            f"{versions}; capabilities: {', '.join(provider.capabilities) or 'none'}",
            "",
            "| category | passed | failed | skipped | known |",
            "|---|--:|--:|--:|--:|",
        ]
        for name, counts in provider.categories.items():
            if counts.selected or counts.ran or counts.skipped:
                lines.append(_counts_row(name, counts))
        lines.append(_counts_row("**total**", provider.totals))
        lines += _failures(provider)
        return "\n".join(lines) + "\n"
    failing = [p.provider for p in providers if not p.passed]
    headline = (
        f"❌ FAIL ({len(failing)} of {len(providers)} providers)"
        if failing
        else f"✅ PASS ({len(providers)} providers)"
    )
    lines = [f"### provkit conformance: {headline}", "", versions, ""]
    lines += matrix_table(providers)
    lines.append("")
    lines += [f"- {_code(p.provider)}: {p.verdict}" for p in providers]
    for provider in providers:
        lines += _failures(provider, heading=f" of {_code(provider.provider)}")
    return "\n".join(lines) + "\n"


def compatibility_matrix(
    verdicts: Sequence[ConformanceVerdict], labels: Sequence[str] | None = None
) -> str:
    """Every provider of ``verdicts`` side by side: verdict, capabilities, each category.

    Columns are headed by ``labels`` (one per provider, in order) or the providers' specs.
    """
    providers = [p for v in verdicts for p in v.providers]
    suites = sorted({f"{v.suite_version} (contract v{v.contract_version})" for v in verdicts})
    lines = [
        "## Provider compatibility (provkit conformance)",
        "",
        f"Suite {', '.join(suites)}. Each cell: tests passed, or failed of those run; "
        "· not run.",
        "",
    ]
    lines += matrix_table(providers, labels, with_details=True)
    return "\n".join(lines) + "\n"


def matrix_table(
    providers: Sequence[ProviderVerdict],
    labels: Sequence[str] | None = None,
    with_details: bool = False,
) -> list[str]:
    """A markdown table: a column per provider, a row per category (and the verdict)."""
    heads = labels if labels is not None else [p.provider for p in providers]
    lines = [
        "| | " + " | ".join(map(_code, heads)) + " |",
        "|---|" + "---|" * len(providers),
        "| **verdict** | " + " | ".join(outcome_label(p) for p in providers) + " |",
    ]
    if with_details:
        lines.append(
            "| capabilities | "
            + " | ".join(", ".join(p.capabilities) or "none" for p in providers)
            + " |"
        )
    rows: dict[str, None] = {}
    for provider in providers:
        for name, counts in provider.categories.items():
            if counts.selected or counts.ran or counts.skipped:
                rows[name] = None
    for row in rows:
        cells = [_cell(p.categories.get(row)) for p in providers]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(_cell(p.totals) for p in providers) + " |")
    return lines


def outcome_label(provider: ProviderVerdict) -> str:
    """``✅ PASS``, ``❌ FAIL``, ``PASS (partial)``..., from the verdict line's first word."""
    word = provider.verdict.split(":", 1)[0]
    mark = _MARK.get(provider.outcome)
    return f"{mark} {word}" if mark else word


def _cell(counts: CategoryCounts | None) -> str:
    if counts is None or not (counts.selected or counts.ran or counts.skipped):
        return "·"
    if counts.failed:
        return f"❌ {counts.failed} of {counts.ran} failed"
    if counts.passed:
        known = f" ({counts.known} known)" if counts.known else ""
        return f"✅ {counts.passed}{known}"
    if counts.known:
        return f"{counts.known} known failures"
    return "skipped" if counts.skipped else "did not run"


def _counts_row(name: str, counts: CategoryCounts) -> str:
    return f"| {name} | {counts.passed} | {counts.failed} | {counts.skipped} | {counts.known} |"


def _failures(provider: ProviderVerdict, heading: str = "") -> list[str]:
    lines: list[str] = []
    if provider.fix_first:
        lines += ["", f"**Fix these first**{heading} (later failures may follow from them):"]
        lines += [
            f"- {_code(f.test)} ({_code(f.foundation or '')}): {_text(f.message)}"
            for f in provider.fix_first
        ]
    if provider.failures:
        shown = provider.failures[:SHOWN_FAILURES]
        lines += ["", f"**First failures**{heading} ({len(shown)} of {len(provider.failures)}):"]
        lines += [f"- [{f.category}] {_code(f.test)}: {_text(f.message)}" for f in shown]
    return lines


def _code(text: str) -> str:
    """Inline code that survives backticks in ``text``."""
    return "`" + text.replace("`", "'") + "`"


def _text(text: str) -> str:
    """Plain markdown text: characters that would start markup are escaped."""
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text
