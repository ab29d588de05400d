"""Recording a tracked comparison: the results log entry and the history records.

Git is asked for the commit and the commits since the last tracked one; outside a git
checkout the entry says ``unknown`` and lists no commits.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from provkit.reporting import StressResult
from provkit.reporting._document import Environment
from provkit.reporting._history import HistoryRecord, append_history
from provkit.reporting._results_log import last_tracked_commit, log_entry, prepend_entry

RECENT_COMMITS = 20
"""How many commits the first tracked entry (or one after rewritten history) lists."""


@dataclass(frozen=True, slots=True)
class TrackPaths:
    """Where tracked results go: the markdown log and the JSON-lines history."""

    results_log: Path
    history: Path

    @classmethod
    def under(cls, reports_dir: Path) -> TrackPaths:
        """The standard file names inside ``reports_dir``."""
        return cls(reports_dir / "stress-test-results.md", reports_dir / "history.jsonl")


def _git_log(repo: Path, *revisions: str) -> list[str] | None:
    try:
        done = subprocess.run(
            ["git", "log", "--oneline", "--no-decorate", *revisions],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.splitlines()


def commits_since(repo: Path, since: str | None) -> tuple[list[str], str | None]:
    """One-line commits after ``since`` up to HEAD, and the ``since`` actually used.

    Without ``since``, or when git no longer knows it, the last ``RECENT_COMMITS`` commits
    are listed and ``None`` is returned in its place.
    """
    if since is not None:
        lines = _git_log(repo, f"{since}..HEAD")
        if lines is not None:
            return lines, since
    return _git_log(repo, f"-{RECENT_COMMITS}") or [], None


def record_tracked_run(
    results: Sequence[StressResult],
    *,
    paths: TrackPaths,
    environment: Environment,
    duration_secs: float,
    repo: Path,
) -> None:
    """Prepend an entry to the results log and append one history record per result."""
    changes, since = commits_since(repo, last_tracked_commit(paths.results_log))
    entry = log_entry(
        results,
        environment=environment,
        duration_secs=duration_secs,
        changes=changes,
        since=since,
    )
    prepend_entry(paths.results_log, entry)
    append_history(
        paths.history,
        [
            HistoryRecord.from_result(
                result,
                commit=environment.git_commit,
                timestamp=environment.created_at,
                duration_secs=duration_secs,
                machine=environment.machine_label,
            )
            for result in results
        ],
    )
