"""Counts what the runtime logs during a stress run instead of letting it reach stderr.

A broken provider can make the runtime log the same warning a hundred thousand times; a
run must stay readable, so warnings are counted by message template and shown as the row's
top causes. Never drops anything silently: every captured record is counted.
"""

from __future__ import annotations

import logging
from collections import Counter
from types import TracebackType
from typing import Self

from provkit.reporting import ErrorCause
from provkit.stress._instrument import first_line

CAPTURED_LOGGERS = ("provkit", "asyncio")
"""Loggers whose warnings and errors a run captures (with their children)."""


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.examples: dict[tuple[str, str], str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        kind = str(record.msg)
        if record.exc_info and record.exc_info[0] is not None:
            kind = f"{kind} [{record.exc_info[0].__name__}]"
        key = (record.levelname.lower(), kind)
        self.counts[key] += 1
        if key in self.examples:
            return
        try:
            message = first_line(record.getMessage())
        except Exception:  # a record whose arguments do not format still counts
            message = ""
        self.examples[key] = message or kind


class LogCapture:
    """Context manager: while active, warnings of ``CAPTURED_LOGGERS`` are counted only."""

    def __init__(self) -> None:
        self._counter = _Counter()
        self._saved: list[tuple[logging.Logger, bool]] = []

    def __enter__(self) -> Self:
        for name in CAPTURED_LOGGERS:
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.propagate))
            logger.addHandler(self._counter)
            logger.propagate = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for logger, propagate in self._saved:
            logger.removeHandler(self._counter)
            logger.propagate = propagate
        self._saved.clear()

    def causes(self) -> tuple[ErrorCause, ...]:
        """Captured records by level and message template, most frequent first."""
        counter = self._counter
        found = [
            ErrorCause(
                source=f"runtime log ({level})",
                kind=repr(template),
                count=count,
                example=counter.examples[(level, template)],
            )
            for (level, template), count in counter.counts.items()
        ]
        return tuple(sorted(found, key=lambda cause: -cause.count))
