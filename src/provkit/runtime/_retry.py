"""Durable activity retries: ``RetryPolicy`` and the future ``schedule_activity`` returns with one.

Every attempt and every wait between attempts is an ordinary scheduled task (an activity,
then a timer), so retries are recorded in history, survive restarts and replay exactly: the
next attempt is scheduled when the engine delivers a failure, in history order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from provkit.contract import ErrorDetails
from provkit.runtime._context import DurableFuture
from provkit.runtime._errors import TaskFailedError

if TYPE_CHECKING:
    from provkit.runtime._replay_timeline import Timeline


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How ``ctx.schedule_activity(..., retry=policy)`` retries a failed activity.

    The activity runs at most ``max_attempts`` times in all. After failed attempt n the
    orchestration waits ``first_delay * backoff ** (n - 1)`` seconds, capped at
    ``max_delay`` (a durable timer: the wait is in history and no attempt starts before
    it ends), then schedules the next attempt. A failure is retried only when its
    ``ErrorDetails.retryable`` is true (activities raising ``NonRetryableError`` are not)
    and ``retry_if`` (if given) returns true for it; it must decide from the details alone,
    the same way on every replay. The orchestration sees the last failure as a
    ``TaskFailedError`` once no attempt is left.
    """

    max_attempts: int
    first_delay: float = 1.0
    backoff: float = 2.0
    max_delay: float | None = None
    retry_if: Callable[[ErrorDetails], bool] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(
                f"RetryPolicy.max_attempts must be a positive integer, got {self.max_attempts!r}"
            )
        if not _seconds(self.first_delay):
            raise ValueError(
                f"RetryPolicy.first_delay must be >= 0 seconds, got {self.first_delay!r}"
            )
        if not (_seconds(self.backoff) and self.backoff >= 1):
            raise ValueError(f"RetryPolicy.backoff must be a number >= 1, got {self.backoff!r}")
        if self.max_delay is not None and not _seconds(self.max_delay):
            raise ValueError(
                f"RetryPolicy.max_delay must be >= 0 seconds or None, got {self.max_delay!r}"
            )

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
        delay = self.first_delay * self.backoff ** (attempt - 1)
        return delay if self.max_delay is None else min(delay, self.max_delay)

    def retries(self, error: ErrorDetails, attempt: int) -> bool:
        """Whether failed attempt ``attempt`` with ``error`` gets another attempt."""
        if attempt >= self.max_attempts or not error.retryable:
            return False
        return self.retry_if is None or bool(self.retry_if(error))


def _seconds(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


class RetryingActivity(DurableFuture[Any]):
    """Settles with the first successful attempt, or with the last failure.

    ``attempt()`` schedules one run of the activity, ``wait(seconds)`` a timer; both return
    the durable futures the context's own calls return.
    """

    __slots__ = ("_attempt", "_name", "_policy", "_run", "_wait")

    def __init__(
        self,
        owner: Timeline,
        name: str,
        policy: RetryPolicy,
        attempt: Callable[[], DurableFuture[Any]],
        wait: Callable[[float], DurableFuture[None]],
    ) -> None:
        super().__init__(owner)
        self._name = name
        self._policy = policy
        self._run = attempt
        self._wait = wait
        self._attempt = 0
        self._next_attempt(None)

    def _next_attempt(self, _timer: DurableFuture[Any] | None) -> None:
        self._attempt += 1
        self._run()._on_settled(self._attempt_settled)

    def _attempt_settled(self, attempt: DurableFuture[Any]) -> None:
        seq = cast(int, attempt._seq)
        failure = attempt._error
        if failure is None:
            self._resolve(attempt._value, seq)
            return
        if self._policy.retries(failure.details, self._attempt):
            self._wait(self._policy.delay_after(self._attempt))._on_settled(self._next_attempt)
            return
        attempts = f"{self._attempt} attempt{'s' if self._attempt > 1 else ''}"
        why = "" if failure.details.retryable else " (not retryable)"
        self._fail(
            TaskFailedError(
                f"activity {self._name!r} failed after {attempts}{why}: {failure.details.message}",
                failure.details,
            ),
            seq,
        )
