"""Progress display of stress runs: a live rich view on a terminal, plain lines otherwise.

Writes to stderr, so stdout carries only the results (tables, markdown) and can be piped.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Protocol, Self, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from provkit.stress._launcher import Progress as RunProgress


class ProgressDisplay(Protocol):
    """Shows the runs of a plan as they happen; used as a context manager around them."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def update(self, progress: RunProgress) -> None:
        """Show the latest snapshot of the current run."""
        ...


def _counts(p: RunProgress) -> str:
    phase = " draining" if p.draining else ""
    return f"run {p.launched} · ok {p.completed} · failed {p.failed} · live {p.active}{phase}"


class LiveProgress:
    """One rich progress bar per run (time through its duration) with live counts."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=12),
            TextColumn("{task.fields[counts]}"),
            console=console or Console(stderr=True),
        )
        self._tasks: dict[tuple[str, str, str], TaskID] = {}

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, progress: RunProgress) -> None:
        key = (progress.provider, progress.scenario, progress.config)
        task = self._tasks.get(key)
        if task is None:
            description = f"{progress.provider} {progress.scenario} {progress.config}"
            task = self._progress.add_task(description, total=progress.duration_secs, counts="")
            self._tasks[key] = task
        self._progress.update(
            task,
            completed=min(progress.elapsed_secs, progress.duration_secs),
            counts=f"{progress.elapsed_secs:5.1f}s {_counts(progress)}",
        )


class PlainProgress:
    """A status line per run every ``every_secs`` seconds, and one when a run ends."""

    def __init__(self, stream: TextIO | None = None, every_secs: float = 5.0) -> None:
        self._stream = stream or sys.stderr
        self._every = every_secs
        self._last: dict[tuple[str, str, str], float] = {}
        self._done: set[tuple[str, str, str]] = set()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def update(self, progress: RunProgress) -> None:
        key = (progress.provider, progress.scenario, progress.config)
        now = time.monotonic()
        last = self._last.get(key)
        finished = progress.draining and progress.active == 0
        if key in self._done or (last is not None and now - last < self._every and not finished):
            return
        self._last[key] = now
        if finished:
            self._done.add(key)
        print(
            f"[{progress.provider} {progress.scenario} {progress.config}] "
            f"{progress.elapsed_secs:5.1f}/{progress.duration_secs:g} s {_counts(progress)}",
            file=self._stream,
            flush=True,
        )


def progress_display() -> ProgressDisplay:
    """A live view when stderr is a terminal, plain periodic lines otherwise."""
    if sys.stderr.isatty():
        return LiveProgress()
    return PlainProgress()
