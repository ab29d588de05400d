"""The human-readable tracked results log (``reports/stress-test-results.md``), newest first.

Each entry starts with a ``## Commit: `<hash>` `` line; the newest one tells the next run
which commits are new since.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from provkit.reporting._document import Environment
from provkit.reporting._records import StressResult
from provkit.reporting._tables import report_markdown

LOG_HEADER = """# Stress test results

Tracked runs of `./track-results.sh` (the `compare` preset: every reference provider at
orchestration/worker concurrency 1/1 and 2/2), newest first. Machine-readable records are in
`history.jsonl`; `stress-run history` shows trends and flags regressions.
"""

_COMMIT_LINE = re.compile(r"^## Commit: `?([0-9a-fA-F]{7,40}|unknown)`?", re.MULTILINE)


def last_tracked_commit(path: Path) -> str | None:
    """The commit of the newest entry in the log, or ``None`` for no (or an empty) log."""
    if not path.exists():
        return None
    found = _COMMIT_LINE.search(path.read_text(encoding="utf-8"))
    if found is None or found.group(1) == "unknown":
        return None
    return found.group(1)


def log_entry(
    results: Sequence[StressResult],
    *,
    environment: Environment,
    duration_secs: float,
    changes: Sequence[str],
    since: str | None,
) -> str:
    """One entry: commit, UTC time, machine, commits since the last entry, the tables."""
    env = environment
    commit = env.git_commit or "unknown"
    if since is None:
        changes_title = "Recent commits (no earlier tracked commit that git knows)"
    else:
        changes_title = f"Commits since `{since[:12]}`"
    change_lines = "\n".join(f"- {line}" for line in changes) or "- (none)"
    dirty = (
        "- Working tree: uncommitted changes (results may not match the commit)\n"
        if env.git_dirty
        else ""
    )
    return (
        f"## Commit: `{commit}`\n\n"
        f"- Time (UTC): {env.created_at}\n"
        f"- Duration: {duration_secs:g} s per run\n"
        f"- Machine: {env.machine_label} ({env.platform}), provkit {env.provkit_version}\n"
        f"{dirty}\n"
        f"### {changes_title}\n\n{change_lines}\n\n"
        f"{report_markdown(results, title='Results')}"
    )


def prepend_entry(path: Path, entry: str) -> None:
    """Insert ``entry`` above the newest entry of the log, creating the log if needed."""
    text = path.read_text(encoding="utf-8") if path.exists() else LOG_HEADER
    first = _COMMIT_LINE.search(text)
    head, tail = (text, "") if first is None else (text[: first.start()], text[first.start() :])
    path.parent.mkdir(parents=True, exist_ok=True)
    body = head.rstrip("\n") + "\n\n" + entry.rstrip("\n") + "\n"
    path.write_text(body + ("\n" + tail if tail else ""), encoding="utf-8")
