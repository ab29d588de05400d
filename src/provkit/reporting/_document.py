"""The JSON document of a stress run: results plus where and on what they were measured.

Its shape is ``STRESS_JSON_SCHEMA``; ``nan`` (no samples) is written as ``null``.
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provkit import __version__
from provkit.reporting._records import StressResult
from provkit.reporting._schema import SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class Environment:
    """Where a run happened: machine, interpreter, provkit version, git commit (if any).

    ``git_dirty`` says whether the checkout differed from that commit (untracked files count;
    ``reports/`` does not).
    """

    created_at: str
    provkit_version: str
    python_version: str
    python_implementation: str
    platform: str
    machine: str
    processor: str
    cpu_count: int
    git_commit: str | None
    git_dirty: bool | None = None

    @classmethod
    def capture(cls, cwd: Path | None = None) -> Environment:
        """Describe this process's machine and the git commit checked out in ``cwd``."""
        return cls(
            created_at=utc_timestamp(),
            provkit_version=__version__,
            python_version=platform.python_version(),
            python_implementation=platform.python_implementation(),
            platform=platform.platform(),
            machine=platform.machine(),
            processor=_cpu_model() or platform.processor() or platform.machine(),
            cpu_count=os.cpu_count() or 1,
            git_commit=git_commit(cwd),
            git_dirty=git_dirty(cwd),
        )

    @property
    def machine_label(self) -> str:
        """Where a run happened, for comparing like with like: system, CPU, interpreter."""
        system = self.platform.split("-", 1)[0]
        return (
            f"{system} {self.machine}, {self.processor}, {self.cpu_count} CPUs, "
            f"{self.python_implementation} {self.python_version}"
        )


def _cpu_model() -> str | None:
    """The CPU's model name on Linux (``/proc/cpuinfo``); ``None`` elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        return None
    return None


def utc_timestamp() -> str:
    """Now in UTC, ISO 8601 to the second, with a ``Z`` suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_commit(cwd: Path | None = None) -> str | None:
    """The full hash of ``HEAD`` in ``cwd``, or ``None`` outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip() or None


def git_dirty(cwd: Path | None = None) -> bool | None:
    """Whether ``cwd``'s checkout has uncommitted or untracked files; ``None`` outside git.

    ``reports/`` at the top of the checkout does not count: tracking writes there between
    runs, and what it holds cannot change a result.
    """
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":(top,exclude)reports"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return bool(done.stdout.strip())


def _num(value: float) -> float | None:
    return None if math.isnan(value) else value


def result_to_json(result: StressResult) -> dict[str, Any]:
    """One result row as a JSON-ready dict (see ``STRESS_JSON_SCHEMA``)."""
    f = result.failures
    lat = result.latency
    return {
        "provider": result.provider,
        "scenario": result.scenario,
        "config": result.config,
        "settings": dict(result.settings),
        "launched": result.launched,
        "completed": result.completed,
        "failed": result.failed,
        "failures": {
            "infrastructure": f.infrastructure,
            "configuration": f.configuration,
            "application": f.application,
            "start_errors": f.start_errors,
            "timeouts": f.timeouts,
        },
        "success_pct": result.success_pct,
        "elapsed_secs": result.elapsed_secs,
        "activities": result.activities,
        "orch_per_sec": result.orch_per_sec,
        "activity_per_sec": result.activity_per_sec,
        "ceiling_activities_per_sec": result.ceiling_activities_per_sec,
        "ceiling_ratio": result.ceiling_ratio,
        "latency_ms": {
            "count": lat.count,
            "avg": _num(lat.avg_ms),
            "p50": _num(lat.p50_ms),
            "p95": _num(lat.p95_ms),
            "p99": _num(lat.p99_ms),
            "max": _num(lat.max_ms),
        },
        "operations": [
            {
                "operation": op.operation,
                "count": op.count,
                "errors": op.errors,
                "p50_ms": _num(op.p50_ms),
                "p99_ms": _num(op.p99_ms),
                "total_ms": op.total_ms,
            }
            for op in result.operations
        ],
        "errors": list(result.errors),
        "provider_spec": result.provider_spec,
        "history_check": _history(result),
        "causes": [
            {"source": c.source, "kind": c.kind, "count": c.count, "example": c.example}
            for c in result.causes
        ],
        "overhead_ms_per_activity": result.overhead_ms,
        "worker_slots": result.worker_slots,
        "activity_delay_ms": result.activity_delay_ms,
        "passed": result.passed,
        "processes": [
            {
                "index": p.index,
                "pid": p.pid,
                "exit": p.exit,
                "turns": p.turns,
                "activities": p.activities,
                "terminal_acks": p.terminal_acks,
            }
            for p in result.processes
        ],
    }


def _history(result: StressResult) -> dict[str, Any] | None:
    check = result.history
    if check is None:
        return None
    return {
        "clean": check.clean,
        "checked": check.checked,
        "unknown": check.unknown,
        "lost": check.lost,
        "duplicated": check.duplicated,
        "unexpected": check.unexpected,
        "scheduled_activities": check.scheduled,
        "executed_activities": check.executed,
        "findings": list(check.findings),
    }


def stress_document(
    results: Sequence[StressResult],
    *,
    preset: str,
    config: Mapping[str, Any],
    environment: Environment,
    interrupted: str | None = None,
) -> dict[str, Any]:
    """The whole ``--json`` document for one invocation of the stress runner.

    ``interrupted`` says why the run stopped early (e.g. ``SIGTERM``): the document then
    holds only the rows finished before and is marked partial.
    """
    env = environment
    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": env.created_at,
        "preset": preset,
        "provkit_version": env.provkit_version,
        "python": {"version": env.python_version, "implementation": env.python_implementation},
        "machine": {
            "platform": env.platform,
            "machine": env.machine,
            "processor": env.processor,
            "cpu_count": env.cpu_count,
        },
        "git_commit": env.git_commit,
        "git_dirty": env.git_dirty,
        "config": dict(config),
        "partial": interrupted is not None,
        "interrupted_by": interrupted,
        "results": [result_to_json(r) for r in results],
    }
