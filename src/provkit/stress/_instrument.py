"""A provider wrapper that times every call (zarr's ``LatencyStore`` idea).

Built on ``ProviderWrapper``: attributes pass through, every forwarded call is timed and
counted, and observers may watch successful calls. It never changes a result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from provkit.contract import Provider, ProviderWrapper
from provkit.reporting import OperationStats
from provkit.reporting._records import percentile

Observer = Callable[..., None]
"""Called as ``observer(result, *args, **kwargs)`` after a call of the watched method returns."""


class _OpRecord:
    __slots__ = ("durations", "errors")

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.errors = 0


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
        except Exception:  # cancellation is not a provider error: not recorded
            record = self._record(operation)
            record.durations.append(clock() - started)
            record.errors += 1
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
