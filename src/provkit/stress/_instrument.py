"""A provider wrapper that times every call (zarr's ``LatencyStore`` idea).

Built on ``ProviderWrapper``: attributes pass through, every forwarded call is timed and
counted, and observers may watch successful calls. It never changes a result.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from provkit.contract import Provider, ProviderWrapper
from provkit.reporting import ErrorCause, OperationStats
from provkit.reporting._records import percentile

Observer = Callable[..., None]
"""Called as ``observer(result, *args, **kwargs)`` after a call of the watched method returns."""


_EXAMPLE_CHARS = 160


def first_line(text: str) -> str:
    """The first line of ``text``, cut to a readable length (for one-line reports)."""
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= _EXAMPLE_CHARS else line[: _EXAMPLE_CHARS - 1] + "…"


class _OpRecord:
    __slots__ = ("durations", "errors", "examples", "kinds")

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.errors = 0
        self.kinds: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        """First message seen per exception type."""

    def failed(self, exc: Exception) -> None:
        self.errors += 1
        kind = type(exc).__name__
        self.kinds[kind] += 1
        self.examples.setdefault(kind, first_line(str(exc)))


class InstrumentedProvider(ProviderWrapper):
    """Forwards everything to ``inner``; records the duration of every coroutine call.

    ``observers`` maps a method name to a callback run after each successful call of it,
    with the result first and then the call's own arguments.
    """

    def __init__(self, inner: Provider, observers: Mapping[str, Observer] | None = None) -> None:
        super().__init__(inner)
        self._observers = dict(observers or {})
        self._records: dict[str, _OpRecord] = {}

    async def forward(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        clock = time.perf_counter
        started = clock()
        try:
            result = await super().forward(operation, *args, **kwargs)
        except Exception as exc:  # cancellation is not a provider error: not recorded
            record = self._record(operation)
            record.durations.append(clock() - started)
            record.failed(exc)
            raise
        elapsed = clock() - started
        # A fetch that found nothing mostly measures how long it long-polled, not the
        # provider's cost: such calls are reported apart as "<fetch> (empty)".
        empty = result is None and operation.startswith("fetch_")
        self._record(f"{operation} (empty)" if empty else operation).durations.append(elapsed)
        observer = self._observers.get(operation)
        if observer is not None:
            observer(result, *args, **kwargs)
        return result

    def _record(self, name: str) -> _OpRecord:
        record = self._records.get(name)
        if record is None:
            record = self._records[name] = _OpRecord()
        return record

    def reset(self) -> None:
        """Forget every call recorded so far."""
        for record in self._records.values():
            record.durations.clear()
            record.errors = 0
            record.kinds.clear()
            record.examples.clear()

    def export(self) -> dict[str, Any]:
        """Every record as plain JSON-ready data (a runtime process reports it on exit)."""
        return {
            name: {
                "durations": [round(d, 7) for d in record.durations],
                "errors": record.errors,
                "kinds": dict(record.kinds),
                "examples": dict(record.examples),
            }
            for name, record in self._records.items()
        }

    def absorb(self, exported: Mapping[str, Any]) -> None:
        """Add another instrument's ``export()`` to this one's records."""
        for name, data in exported.items():
            record = self._record(name)
            record.durations.extend(float(d) for d in data["durations"])
            record.errors += int(data["errors"])
            record.kinds.update({str(k): int(v) for k, v in data["kinds"].items()})
            for kind, example in data["examples"].items():
                record.examples.setdefault(str(kind), str(example))

    def causes(self) -> tuple[ErrorCause, ...]:
        """Calls that raised, by operation and exception type, most frequent first."""
        found = [
            ErrorCause(source=name, kind=kind, count=count, example=record.examples[kind])
            for name, record in self._records.items()
            for kind, count in record.kinds.items()
        ]
        return tuple(sorted(found, key=lambda cause: (-cause.count, cause.source, cause.kind)))

    def stats(self) -> tuple[OperationStats, ...]:
        """Per operation called at least once: count, errors, p50/p99 and total in ms."""
        result = []
        for name, record in sorted(self._records.items()):
            if not record.durations:
                continue
            values = sorted(d * 1000.0 for d in record.durations)
            result.append(
                OperationStats(
                    operation=name,
                    count=len(values),
                    errors=record.errors,
                    p50_ms=percentile(values, 50),
                    p99_ms=percentile(values, 99),
                    total_ms=sum(values),
                )
            )
        return tuple(result)
