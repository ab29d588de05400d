"""``RuntimeOptions``: concurrency, lock timeouts, polling and retry settings of a ``Runtime``.

Plain validated data; the dispatchers read it and never mutate it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from provkit.runtime._payload import DEFAULT_MAX_PAYLOAD_BYTES

_MAY_BE_ZERO = frozenset({"replay_cache_instances", "replay_cache_bytes"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeOptions:
    """How a ``Runtime`` runs its dispatchers. Durations are seconds.

    A message or work item delivered more than ``max_attempts`` times is poison: its
    instance fails (or its activity fails) with an ``ErrorCategory.POISON`` error instead
    of being retried forever. One that cannot be decoded can never succeed: it is given
    back until its ``max_attempts``-th delivery, which fails it the same way.
    """

    orchestration_concurrency: int = 2
    """Orchestration turns processed at once (one fetch → turn → ack loop each)."""
    worker_concurrency: int = 4
    """Activities executed at once (one fetch → run → ack loop each)."""
    orchestration_lock_timeout: float = 30.0
    """Instance lock taken by each orchestration fetch."""
    worker_lock_timeout: float = 30.0
    """Lease taken by each work-item fetch; renewed every third of it while an activity runs."""
    poll_interval: float = 0.25
    """Longest wait between fetches of an idle loop (the long-poll timeout when supported);
    also the longest a worker slot keeps the lease it fetched ahead while an activity runs."""
    idle_backoff_initial: float = 0.005
    """First idle wait of a short-polling loop; it doubles up to ``poll_interval``."""
    max_attempts: int = 10
    """Deliveries allowed per message or work item before it is treated as poison."""
    retry_backoff_initial: float = 0.02
    """First wait before retrying a failed provider call or re-delivering an abandoned turn."""
    retry_backoff_max: float = 2.0
    """Cap of those waits (they double per attempt, with jitter)."""
    provider_retry_limit: int = 8
    """Attempts of one provider call that keeps failing with a retryable error."""
    shutdown_grace: float = 10.0
    """How long ``shutdown`` lets in-flight turns and activities finish before abandoning them."""
    replay_cache_instances: int = 1000
    """Running instances whose replayed state is kept between turns, so that a turn only runs
    its new messages instead of replaying the whole history; 0 turns the cache off."""
    replay_cache_bytes: int = 256 * 1024 * 1024
    """Estimated memory those kept states may hold; beyond it the least recently used go."""
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    """Largest encoded JSON (UTF-8 bytes) of an activity input or result, a sub-orchestration
    input, an orchestration output or continue-as-new input. A turn producing a larger one
    fails its instance (``payload_too_large``) and stores none of it; a larger activity
    result fails that activity (the orchestration may catch it). Give ``Client`` the same
    limit for orchestration inputs and event data."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.type == "int":
                least = 0 if field.name in _MAY_BE_ZERO else 1
                if not isinstance(value, int) or isinstance(value, bool) or value < least:
                    kind = "an integer >= 0" if least == 0 else "a positive integer"
                    raise ValueError(f"RuntimeOptions.{field.name} must be {kind}, got {value!r}")
            elif (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValueError(
                    f"RuntimeOptions.{field.name} must be a positive number of seconds, "
                    f"got {value!r}"
                )
