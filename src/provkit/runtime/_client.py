"""``Client``: start, signal, cancel, observe and manage orchestration instances.

The client only enqueues messages, reads history and calls the provider's management,
deletion and prune capabilities; it never takes locks, so it can run in any process next to
(or without) a ``Runtime``.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from provkit.contract import (
    Capability,
    DeleteResult,
    Deletion,
    ErrorDetails,
    InstanceFilter,
    InstanceInfo,
    Management,
    Provider,
    Prune,
    PruneResult,
    Status,
)
from provkit.contract.events import (
    Event,
    OrchestrationCancelRequested,
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationStarted,
)
from provkit.contract.messages import CancelInstance, ExternalRaised, StartOrchestration
from provkit.runtime._payload import decode, encode

_FIRST_WAIT = 0.002
_MAX_WAIT = 0.1


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


class Client:
    """Talks to orchestration instances through ``provider``; payloads are JSON values."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    async def start_orchestration(
        self, instance: str, name: str, input: Any = None, *, version: str | None = None
    ) -> None:
        """Ask for a new instance ``instance`` running orchestration ``name`` on ``input``.

        Starting an id whose instance already finished has no effect.
        """
        message = StartOrchestration(
            instance=instance, orchestration=name, input=encode(input), version=version
        )
        await self._provider.enqueue_for_orchestrator(message)

    async def raise_event(self, instance: str, name: str, data: Any = None) -> None:
        """Deliver external event ``name`` with ``data`` to a started instance.

        Events wait in the instance until it calls ``ctx.wait_for_event(name)``, even when
        raised before that call; events for an instance that was never started are dropped.
        """
        message = ExternalRaised(instance=instance, name=name, data=encode(data))
        await self._provider.enqueue_for_orchestrator(message)

    async def cancel_instance(self, instance: str, reason: str = "cancelled by client") -> None:
        """Cancel a running instance: it ends ``CANCELLED``, its pending activities dropped."""
        await self._provider.enqueue_for_orchestrator(
            CancelInstance(instance=instance, reason=reason)
        )

    async def get_status(self, instance: str) -> OrchestrationState:
        """The instance's current state, from the history of its latest execution."""
        return state_from_history(instance, await self._provider.read(instance))

    # -- management (each needs the provider capability it names) ---------------------------

    async def get_instance_info(self, instance: str) -> InstanceInfo:
        """The instance's record: name, version, current execution, status, output, parent,
        created and updated times (``Capability.MANAGEMENT``).

        ``output`` is what the runtime stored: the JSON text of the result, or for a failed
        instance the one-line error. ``NotFoundError`` when the instance has no record.
        """
        self._require(Capability.MANAGEMENT)
        return await cast(Management, self._provider).get_instance_info(instance)

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
            page = await management.list_instances(status=status, limit=page_size, cursor=cursor)
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
        return await cast(Deletion, self._provider).delete_instance(instance, force=force)

    async def delete_instances(self, selection: InstanceFilter | None = None) -> DeleteResult:
        """Delete finished root instances (and their trees) that ``selection`` picks, at most
        its ``limit`` per call (``Capability.DELETION``)."""
        self._require(Capability.DELETION)
        deletion = cast(Deletion, self._provider)
        return await deletion.delete_instances(selection or InstanceFilter())

    async def prune_executions(
        self,
        instance: str,
        *,
        keep_last: int | None = None,
        completed_before_ms: int | None = None,
    ) -> PruneResult:
        """Delete old executions of ``instance``, never the current one (``Capability.PRUNE``)."""
        self._require(Capability.PRUNE)
        return await cast(Prune, self._provider).prune_executions(
            instance, keep_last=keep_last, completed_before_ms=completed_before_ms
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


def state_from_history(instance: str, history: Sequence[Event]) -> OrchestrationState:
    """Derive an ``OrchestrationState`` from one execution's events."""
    started = next((e for e in history if isinstance(e, OrchestrationStarted)), None)
    if started is None:
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
