"""The orchestration dispatcher: one fetched batch → one replayed turn → one ack.

It decides which execution a batch belongs to (the current one, the next one after a
continue-as-new, or none when the instance has already ended), applies the poison rule,
and never writes anything a turn decided except through a single ``ack_orchestration_item``.
Turns go through the runtime's replay cache: a kept instance runs only its new messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from provkit.contract import (
    Clock,
    ErrorCategory,
    ErrorDetails,
    ExecutionMetadata,
    OrchestrationItem,
    Provider,
    Status,
)
from provkit.contract.events import (
    Event,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
)
from provkit.contract.messages import ContinueAsNew, OrchestratorMessage, StartOrchestration
from provkit.runtime._ack_plan import AckPlan, oversized_payload, plan_poison_ack, plan_turn_ack
from provkit.runtime._dispatch import BackgroundAck, Settler, log
from provkit.runtime._options import RuntimeOptions
from provkit.runtime._replay import ExecutionReplay, OrchestrationFn
from provkit.runtime._replay_cache import ReplayCache

_ENDED = (OrchestrationCompleted, OrchestrationFailed)


@dataclass(frozen=True, slots=True)
class TargetExecution:
    """The execution a batch is processed in: its history so far and the messages to apply."""

    execution_id: int
    history: Sequence[Event]
    messages: Sequence[OrchestratorMessage]


def target_execution(item: OrchestrationItem) -> TargetExecution | None:
    """Where ``item``'s batch goes; ``None`` when it is for nothing that can still run.

    - current execution still running → it;
    - current execution continued as new and the batch holds the ``ContinueAsNew`` message →
      the next execution, with empty history;
    - the instance ended (completed, failed, cancelled), or was never started and the batch
      has no start message → ``None``: the messages are acked away unprocessed.

    A child orchestration stays a child across continue-as-new: the next execution is
    started as if by its parent (a ``StartOrchestration`` carrying the parent's address),
    so that its last execution reports back to the parent.
    """
    history = item.history
    if not history:
        if starter(item.messages) is None:
            return None
        return TargetExecution(item.execution_id, [], item.messages)
    if any(isinstance(event, OrchestrationContinuedAsNew) for event in history):
        if not any(isinstance(message, ContinueAsNew) for message in item.messages):
            return None
        next_id = item.execution_id + 1
        first = history[0]
        messages = item.messages
        if isinstance(first, OrchestrationStarted) and first.parent_instance is not None:
            messages = [
                _as_child_start(m, first, next_id) if isinstance(m, ContinueAsNew) else m
                for m in messages
            ]
        return TargetExecution(next_id, [], messages)
    if any(isinstance(event, _ENDED) for event in history):
        return None
    return TargetExecution(item.execution_id, history, item.messages)


def _as_child_start(
    message: ContinueAsNew, previous: OrchestrationStarted, execution_id: int
) -> StartOrchestration:
    return StartOrchestration(
        instance=message.instance,
        orchestration=message.orchestration,
        input=message.input,
        version=message.version,
        execution_id=execution_id,
        parent_instance=previous.parent_instance,
        parent_execution_id=previous.parent_execution_id,
        parent_id=previous.parent_id,
    )


def starter(messages: Sequence[OrchestratorMessage]) -> StartOrchestration | ContinueAsNew | None:
    """The first message of a batch that can start an execution."""
    return next((m for m in messages if isinstance(m, StartOrchestration | ContinueAsNew)), None)


def failed_execution(
    instance: str, target: TargetExecution, error: ErrorDetails, now_ms: int
) -> AckPlan:
    """The ack failing ``target``'s execution with ``error``, running no user code."""
    log.warning("instance %r failed: %s", instance, error.display())
    return plan_poison_ack(
        instance, target.execution_id, target.history, starter(target.messages), error, now_ms
    )


@dataclass(frozen=True, slots=True)
class GiveBack:
    """``plan``'s answer for a batch that cannot be handled now: abandon it, to be retried."""

    reason: str


class OrchestrationDispatcher:
    """What the orchestration slots of one runtime share; ``slot()`` makes each slot's body."""

    def __init__(
        self,
        provider: Provider,
        orchestrations: Mapping[str, OrchestrationFn],
        options: RuntimeOptions,
        clock: Clock,
        aborting: Callable[[], bool],
    ) -> None:
        self._provider = provider
        self._orchestrations = dict(orchestrations)
        self._options = options
        self._clock = clock
        abandon = provider.abandon_orchestration_item
        self.settler: Settler[OrchestrationItem] = Settler(abandon, _describe, options, aborting)
        self.cache = ReplayCache(
            max_instances=options.replay_cache_instances, max_bytes=options.replay_cache_bytes
        )
        self._acking: dict[str, ExecutionReplay] = {}
        """Replays kept for turns whose ack is still to come, by lock token."""

    def slot(self) -> OrchestrationSlot:
        """A new slot's fetch / process / release / finish."""
        return OrchestrationSlot(self)

    async def fetch(self, poll_timeout: float) -> OrchestrationItem | None:
        """Lock the next instance with work; long-poll providers wait up to ``poll_timeout``."""
        return await self._provider.fetch_orchestration_item(
            self._options.orchestration_lock_timeout, poll_timeout
        )

    def plan(self, item: OrchestrationItem) -> AckPlan | GiveBack:
        """What to do with ``item``: the ack of its turn (running the turn), or give it back."""
        max_attempts = self._options.max_attempts
        poisoned = item.attempt_count > max_attempts
        if item.history_error is not None:
            if not poisoned:
                return GiveBack(f"history of {item.instance!r} unreadable: {item.history_error}")
            error = self._poison_error(item, f"its history is unreadable: {item.history_error}")
            metadata = ExecutionMetadata(status=Status.FAILED, output=error.display())
            return AckPlan(execution_id=item.execution_id, metadata=metadata)

        if item.message_error is not None:
            unreadable = self._unreadable_messages(item)
            if unreadable is not None:
                return unreadable

        cache = self.cache
        if cache.expects(item.instance, item.execution_id, item.history):
            # A history the cache holds was validated and is still running: no need to scan it.
            target: TargetExecution | None = TargetExecution(
                item.execution_id, item.history, item.messages
            )
        else:
            target = target_execution(item)
        if target is None:
            return AckPlan(execution_id=item.execution_id)
        now_ms = self._clock.now_ms()
        if poisoned:
            return failed_execution(item.instance, target, self._poison_error(item, ""), now_ms)
        result, replay = cache.run_turn(
            instance=item.instance,
            execution_id=target.execution_id,
            history=target.history,
            messages=target.messages,
            orchestrations=self._orchestrations,
            now_ms=now_ms,
        )
        refused = oversized_payload(result.history_delta, self._options.max_payload_bytes)
        if refused is not None:
            replay.close()
            return failed_execution(item.instance, target, refused, now_ms)
        try:
            plan = plan_turn_ack(item.instance, target.execution_id, result)
        except BaseException:
            replay.close()
            raise
        # Kept before the ack: the instance's next turn can only be fetched once this ack
        # committed. Should it not commit, ``ack`` drops the replay again (and a kept replay
        # only ever resumes on exactly the history it expects).
        cache.keep(replay)
        if replay.resumable:
            self._acking[item.lock_token] = replay
        return plan

    def _unreadable_messages(self, item: OrchestrationItem) -> AckPlan | GiveBack | None:
        """What to do with a batch holding undecodable messages; ``None``: run it as usual.

        Such a batch can never be processed as sent: it is given back until its
        ``max_attempts``-th delivery, which fails the instance as poison (the messages go
        with that ack). A batch for an instance that already ended is acked away at once,
        as its readable messages would be.
        """
        history = item.history
        if any(isinstance(event, _ENDED) for event in history):
            return None
        if item.attempt_count < self._options.max_attempts:
            return GiveBack(f"messages of {item.instance!r} unreadable: {item.message_error}")
        error = self._poison_error(item, f"a message is unreadable: {item.message_error}")
        target = target_execution(item) or TargetExecution(
            item.execution_id, history, item.messages
        )
        return failed_execution(item.instance, target, error, self._clock.now_ms())

    async def ack(self, item: OrchestrationItem, plan: AckPlan) -> None:
        """Commit ``plan`` for ``item``; a permanent failure gives the batch back for a retry.

        A turn that was not committed leaves no replayed state behind in the cache.
        """
        replay = self._acking.pop(item.lock_token, None)
        committed = False
        try:
            committed = await self.settler.ack(
                item,
                lambda: self._provider.ack_orchestration_item(
                    item.lock_token,
                    plan.execution_id,
                    plan.history_delta,
                    plan.worker_items,
                    plan.orchestrator_items,
                    plan.metadata,
                    plan.cancelled_activities,
                ),
            )
        finally:
            if not committed and replay is not None:
                self.cache.discard(replay)

    def close(self) -> None:
        """Discard every kept replay (the runtime stopped)."""
        self._acking.clear()
        self.cache.clear()

    def _poison_error(self, item: OrchestrationItem, why: str) -> ErrorDetails:
        suffix = f"; {why}" if why else ""
        return ErrorDetails(
            category=ErrorCategory.POISON,
            kind="poison",
            message=(
                f"messages of {item.instance!r} were delivered {item.attempt_count} times "
                f"(max_attempts={self._options.max_attempts}){suffix}"
            ),
        )


class OrchestrationSlot:
    """One orchestration slot: runs one turn at a time and acks it in the background.

    The ack of a turn overlaps the fetch (and the replay) of the next; the next ack waits
    for it. ``finish`` (the slot is stopping) waits for the last ack.
    """

    def __init__(self, dispatcher: OrchestrationDispatcher) -> None:
        self._d = dispatcher
        self._settler = dispatcher.settler
        self._acks = BackgroundAck()
        self.fetch = dispatcher.fetch
        self.release = dispatcher.settler.release

    async def process(self, item: OrchestrationItem) -> None:
        """Run one turn for ``item`` and start acking it; on cancellation give the batch back."""
        plan = await self._settler.guarded(item, self._turn(item))
        if plan is not None:
            self._acks.start(self._settler.guarded(item, self._d.ack(item, plan)))
            # One step for the ack to reach the provider before this slot's next fetch does:
            # a provider serving calls in order then lets that fetch see the released instance.
            await asyncio.sleep(0)

    async def finish(self) -> None:
        """The slot stops: wait for the last ack (cancel it if the runtime aborts meanwhile)."""
        await self._settler.wind_down(self._acks.settled, self._acks.cancel)

    async def _turn(self, item: OrchestrationItem) -> AckPlan | None:
        plan = self._d.plan(item)
        if isinstance(plan, GiveBack):
            log.warning("%s; giving the batch back", plan.reason)
            await self._settler.give_back(item)
        await self._acks.settled()
        return plan if isinstance(plan, AckPlan) else None


def _describe(item: OrchestrationItem) -> str:
    return f"turn of {item.instance!r}"
