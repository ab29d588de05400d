"""A transparent provider proxy that times every coroutine call (zarr's ``LatencyStore`` idea).

It wraps any provider without knowing its type: attributes pass through, coroutine methods
are timed and counted, and observers may watch successful calls. It never changes a result.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from provkit.reporting import OperationStats, percentile

Observer = Callable[..., None]
"""Called as ``observer(result, *args, **kwargs)`` after a call of the watched method returns."""


class _OpRecord:
    __slots__ = ("durations", "errors")

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.errors = 0


class InstrumentedProvider:
    """Forwards everything to ``inner``; records the duration of every coroutine call.

    ``observers`` maps a method name to a callback run after each successful call of it,
    with the result first and then the call's own arguments.
    """

    def __init__(self, inner: Any, observers: Mapping[str, Observer] | None = None) -> None:
        self._inner = inner
        self._observers = dict(observers or {})
        self._records: dict[str, _OpRecord] = {}
        # Wrappers live in the instance dict, not only behind __getattr__: from Python 3.12
        # isinstance() against a runtime-checkable Protocol looks attributes up statically.
        for name in dir(inner):
            if not name.startswith("_"):
                value = getattr(inner, name, None)
                if asyncio.iscoroutinefunction(value):
                    setattr(self, name, self._timed(name, value))

    @property
    def inner(self) -> Any:
        """The wrapped provider."""
        return self._inner

    @property
    def name(self) -> str:
        """The wrapped provider's name."""
        return str(self._inner.name)

    @property
    def capabilities(self) -> Any:
        """The wrapped provider's capabilities."""
        return self._inner.capabilities

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _timed(
        self, name: str, method: Callable[..., Coroutine[Any, Any, Any]]
    ) -> Callable[..., Coroutine[Any, Any, Any]]:
        record = self._records.setdefault(name, _OpRecord())
        # A fetch that found nothing mostly measures how long it long-polled, not the
        # provider's cost: such calls are reported apart as "<fetch> (empty)".
        empty = (
            self._records.setdefault(f"{name} (empty)", _OpRecord())
            if name.startswith("fetch_")
            else record
        )
        observer = self._observers.get(name)
        clock = time.perf_counter

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                result = await method(*args, **kwargs)
            except Exception:  # cancellation is not a provider error: not recorded
                record.durations.append(clock() - started)
                record.errors += 1
                raise
            (record if result is not None else empty).durations.append(clock() - started)
            if observer is not None:
                observer(result, *args, **kwargs)
            return result

        return call

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
