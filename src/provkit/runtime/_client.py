"""``Client``: start, signal, cancel, observe and manage orchestration instances.

The client only enqueues messages, reads history and calls the provider's management,
deletion and prune capabilities; it never takes locks, so it can run in any process next to
(or without) a ``Runtime``.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from provkit.contract import (
    Capability,
    CorruptDataError,
    DeleteResult,
    Deletion,
    ErrorCategory,
    ErrorDetails,
    InstanceFilter,
    InstanceInfo,
    Management,
    Provider,
    ProviderError,
    Prune,
    PruneResult,
    Status,
    TransientError,
)
from provkit.contract.events import (
    Event,
    OrchestrationCancelRequested,
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationStarted,
)
from provkit.contract.messages import CancelInstance, ExternalRaised, StartOrchestration
from provkit.runtime._dispatch import backoff_delay
from provkit.runtime._payload import DEFAULT_MAX_PAYLOAD_BYTES, check_size, decode, encode

_T = TypeVar("_T")

_FIRST_WAIT = 0.002
_MAX_WAIT = 0.1
_RETRY_FIRST_WAIT = 0.05
_RETRY_MAX_WAIT = 2.0


class OrchestrationStatus(enum.Enum):
    """What a client sees of an instance; a continued-as-new instance is still ``RUNNING``."""

    NOT_FOUND = "NotFound"
    """No history yet: never started, or its start message is still queued."""
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the instance has finished for good (completed, failed or cancelled)."""
        return self in (
            OrchestrationStatus.COMPLETED,
            OrchestrationStatus.FAILED,
            OrchestrationStatus.CANCELLED,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestrationState:
    """An instance as read from the history of its latest execution.

    ``output`` is the decoded return value (``COMPLETED`` only); ``error`` is set for
    ``FAILED`` and ``CANCELLED``.
    """

    instance: str
    status: OrchestrationStatus
    name: str | None = None
    output: Any = None
    error: ErrorDetails | None = None


class InstanceEndedError(Exception):
    """The instance already completed or failed, so the request (a cancel) was refused.

    ``state`` is the instance's final state as read when the request was made.
    """

    def __init__(self, message: str, state: OrchestrationState) -> None:
        super().__init__(message)
        self.state = state


class Client:
    """Talks to orchestration instances through ``provider``; payloads are JSON values.

    Every call retries retryable ``ProviderError``s (``TransientError``: a busy database, a
    lost connection) with jittered backoff for up to ``retry_for`` seconds, then raises one
    ``TransientError`` saying how long it tried and what the last failure was; permanent
    errors are raised at once. Inputs and event data whose encoded JSON is longer than
    ``max_payload_bytes`` are refused with ``PayloadTooLargeError`` before anything is
    stored (give the runtime the same limit in ``RuntimeOptions``).
    """

    def __init__(
        self,
        provider: Provider,
        *,
        retry_for: float = 30.0,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        if not (isinstance(retry_for, int | float) and math.isfinite(retry_for) and retry_for >= 0):
            raise ValueError(f"retry_for must be a number of seconds >= 0, got {retry_for!r}")
        if not isinstance(max_payload_bytes, int) or max_payload_bytes < 1:
            raise ValueError(
                f"max_payload_bytes must be a positive integer, got {max_payload_bytes!r}"
            )
        self._provider = provider
        self._retry_for = retry_for
        self._max_payload_bytes = max_payload_bytes

    async def start_orchestration(
        self, instance: str, name: str, input: Any = None, *, version: str | None = None
    ) -> None:
        """Ask for a new instance ``instance`` running orchestration ``name`` on ``input``.

        Starting an id whose instance already finished has no effect.
        """
        text = self._checked(encode(input), f"input of orchestration {name!r}")
        message = StartOrchestration(
            instance=instance, orchestration=name, input=text, version=version
        )
        await self._retrying(
            "start_orchestration", lambda: self._provider.enqueue_for_orchestrator(message)
        )

    async def raise_event(self, instance: str, name: str, data: Any = None) -> None:
        """Deliver external event ``name`` with ``data`` to a started instance.

        Events wait in the instance until it calls ``ctx.wait_for_event(name)``, even when
        raised before that call; events for an instance that was never started are dropped.
        """
        text = self._checked(encode(data), f"data of event {name!r}")
        message = ExternalRaised(instance=instance, name=name, data=text)
        await self._retrying(
            "raise_event", lambda: self._provider.enqueue_for_orchestrator(message)
        )

    async def cancel_instance(self, instance: str, reason: str = "cancelled by client") -> None:
        """Cancel an instance: it ends ``CANCELLED``, its pending activities dropped.

        Works on an instance that is running, sleeping, waiting, or started but not yet
        run. Cancelling one that was already cancelled does nothing; one that already
        completed or failed raises ``InstanceEndedError`` and changes nothing.
        """
        state = await self.get_status(instance)
        if state.status is OrchestrationStatus.CANCELLED:
            return
        if state.status.is_terminal:
            raise InstanceEndedError(
                f"cannot cancel orchestration {instance!r}: it already "
                f"{state.status.value.lower()}",
                state,
            )
        message = CancelInstance(instance=instance, reason=reason)
        await self._retrying(
            "cancel_instance", lambda: self._provider.enqueue_for_orchestrator(message)
        )

    async def get_status(self, instance: str) -> OrchestrationState:
        """The instance's current state, from the history of its latest execution.

        When that history cannot be decoded, the state comes from the execution's stored
        status and output (providers declaring ``MANAGEMENT``), else it is ``FAILED`` with
        a ``corrupt_history`` error: such an instance can never run again.
        """
        try:
            history = await self._retrying("get_status", lambda: self._provider.read(instance))
        except CorruptDataError as exc:
            return await self._unreadable(instance, exc)
        return state_from_history(instance, history)

    # -- management (each needs the provider capability it names) ---------------------------

    async def get_instance_info(self, instance: str) -> InstanceInfo:
        """The instance's record: name, version, current execution, status, output, parent,
        created and updated times (``Capability.MANAGEMENT``).

        ``output`` is what the runtime stored: the JSON text of the result, or for a failed
        instance the one-line error. ``NotFoundError`` when the instance has no record.
        """
        self._require(Capability.MANAGEMENT)
        management = cast(Management, self._provider)
        return await self._retrying(
            "get_instance_info", lambda: management.get_instance_info(instance)
        )

    async def list_instances(
        self, status: Status | None = None, *, page_size: int = 100
    ) -> list[str]:
        """Every instance with a record, optionally only those whose current execution has
        ``status``, read page by page (``Capability.MANAGEMENT``)."""
        self._require(Capability.MANAGEMENT)
        management = cast(Management, self._provider)
        found: list[str] = []
        cursor = None
        while True:
            page = await self._retrying(
                "list_instances",
                functools.partial(
                    management.list_instances, status=status, limit=page_size, cursor=cursor
                ),
            )
            found += page.instances
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    async def delete_instance(self, instance: str, *, force: bool = False) -> DeleteResult:
        """Delete the root ``instance`` with its sub-orchestrations (``Capability.DELETION``).

        A running instance is refused (``InstanceRunningError``) unless ``force``; a
        sub-orchestration is deleted through its root (``NotRootError``).
        """
        self._require(Capability.DELETION)
        deletion = cast(Deletion, self._provider)
        return await self._retrying(
            "delete_instance", lambda: deletion.delete_instance(instance, force=force)
        )

    async def delete_instances(self, selection: InstanceFilter | None = None) -> DeleteResult:
        """Delete finished root instances (and their trees) that ``selection`` picks, at most
        its ``limit`` per call (``Capability.DELETION``)."""
        self._require(Capability.DELETION)
        deletion = cast(Deletion, self._provider)
        chosen = selection or InstanceFilter()
        return await self._retrying("delete_instances", lambda: deletion.delete_instances(chosen))

    async def prune_executions(
        self,
        instance: str,
        *,
        keep_last: int | None = None,
        completed_before_ms: int | None = None,
    ) -> PruneResult:
        """Delete old executions of ``instance``, never the current one (``Capability.PRUNE``)."""
        self._require(Capability.PRUNE)
        pruning = cast(Prune, self._provider)
        return await self._retrying(
            "prune_executions",
            lambda: pruning.prune_executions(
                instance, keep_last=keep_last, completed_before_ms=completed_before_ms
            ),
        )

    def _require(self, capability: Capability) -> None:
        if capability not in self._provider.capabilities:
            raise NotImplementedError(
                f"{self._provider.name!r} does not declare Capability.{capability.name}, "
                "which this call needs"
            )

    async def wait_for_orchestration(
        self,
        instance: str,
        timeout: float = 30.0,  # noqa: ASYNC109 - a deadline on polling, part of the API
    ) -> OrchestrationState:
        """Wait until the instance completes, fails or is cancelled; return its final state.

        Raises ``TimeoutError`` when it has not finished within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        wait = _FIRST_WAIT
        while True:
            state = await self.get_status(instance)
            if state.status.is_terminal:
                return state
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"orchestration {instance!r} did not finish within {timeout:g}s "
                    f"(status: {state.status.value})"
                )
            await asyncio.sleep(min(wait, remaining))
            wait = min(wait * 2, _MAX_WAIT)

    def _checked(self, text: str, what: str) -> str:
        return check_size(text, self._max_payload_bytes, what)

    async def _retrying(self, call: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        """``await operation()``, retrying retryable provider errors for ``retry_for`` s."""
        began = time.monotonic()
        attempt = 1
        while True:
            try:
                return await operation()
            except ProviderError as exc:
                if not exc.retryable:
                    raise
                spent = time.monotonic() - began
                delay = backoff_delay(attempt, _RETRY_FIRST_WAIT, _RETRY_MAX_WAIT)
                if spent + delay > self._retry_for:
                    raise TransientError(
                        exc.operation,
                        f"{call} gave up after {attempt} attempt{'s' if attempt > 1 else ''} "
                        f"in {spent:.1f} s (retry_for={self._retry_for:g}); "
                        f"last error: {exc.message}",
                    ) from None
                attempt += 1
                await asyncio.sleep(delay)

    async def _unreadable(self, instance: str, exc: CorruptDataError) -> OrchestrationState:
        corrupt = ErrorDetails(
            category=ErrorCategory.INFRASTRUCTURE, kind="corrupt_history", message=str(exc)
        )
        failed = OrchestrationState(
            instance=instance, status=OrchestrationStatus.FAILED, error=corrupt
        )
        provider = self._provider
        if Capability.MANAGEMENT not in provider.capabilities or not isinstance(
            provider, Management
        ):
            return failed
        executions = await self._retrying("get_status", lambda: provider.list_executions(instance))
        if not executions:
            return failed
        info = await self._retrying(
            "get_status", lambda: provider.get_execution_info(instance, executions[-1])
        )
        status = _STATUSES.get(info.status, OrchestrationStatus.RUNNING)
        if status is OrchestrationStatus.RUNNING:
            return OrchestrationState(instance=instance, status=status)
        error = _stored_error(info.output) if info.output is not None else corrupt
        return OrchestrationState(instance=instance, status=status, error=error)


_STATUSES = {
    Status.RUNNING: OrchestrationStatus.RUNNING,
    Status.CONTINUED_AS_NEW: OrchestrationStatus.RUNNING,
    Status.COMPLETED: OrchestrationStatus.COMPLETED,
    Status.FAILED: OrchestrationStatus.FAILED,
    Status.CANCELLED: OrchestrationStatus.CANCELLED,
}


def _stored_error(output: str) -> ErrorDetails:
    """The ``ErrorDetails`` whose ``display()`` the runtime stored as an execution's output."""
    head, colon, message = output.partition(": ")
    category, slash, kind = head.partition("/")
    try:
        if colon and slash:
            return ErrorDetails(category=ErrorCategory(category), kind=kind, message=message)
    except ValueError:
        pass
    return ErrorDetails(category=ErrorCategory.INFRASTRUCTURE, kind="unknown", message=output)


def state_from_history(instance: str, history: Sequence[Event]) -> OrchestrationState:
    """Derive an ``OrchestrationState`` from one execution's events."""
    started = next((e for e in history if isinstance(e, OrchestrationStarted)), None)
    if started is None:
        # A batch that was never readable (corrupt start message) still gets its failure.
        failed = next((e for e in history if isinstance(e, OrchestrationFailed)), None)
        if failed is not None:
            return OrchestrationState(
                instance=instance, status=OrchestrationStatus.FAILED, error=failed.error
            )
        return OrchestrationState(instance=instance, status=OrchestrationStatus.NOT_FOUND)
    cancelled = any(isinstance(e, OrchestrationCancelRequested) for e in history)
    for event in history:
        if isinstance(event, OrchestrationCompleted):
            return OrchestrationState(
                instance=instance,
                status=OrchestrationStatus.COMPLETED,
                name=started.name,
                output=decode(event.output),
            )
        if isinstance(event, OrchestrationFailed):
            status = OrchestrationStatus.CANCELLED if cancelled else OrchestrationStatus.FAILED
            return OrchestrationState(
                instance=instance, status=status, name=started.name, error=event.error
            )
    return OrchestrationState(
        instance=instance, status=OrchestrationStatus.RUNNING, name=started.name
    )
