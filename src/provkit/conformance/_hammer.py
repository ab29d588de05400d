"""The ``concurrency`` category's workload: tasks hammer one provider, then the queues drain.

N tasks on one event loop pick random operations for T seconds, or until they made
``Plan.max_calls`` calls: enqueue messages (some
delayed, some timers) and worker items, and run turns on both queues: fetch, then ack
(carrying new values), abandon (with and without delay and ``ignore_attempt``), renew and ack,
or walk away and let the lock expire. With an injected clock a clock task moves time fast, so
locks expire mid-turn; without one, locks are long and real time passes. Every call is
recorded (``_history``). At the end time jumps (or waits) past every lock and delay and both
queues are drained; a drain that does not finish leaves the history undrained.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from provkit.conformance._history import Call, History, Queue, Recorder, Value
from provkit.contract import ExecutionMetadata, ManualClock, Provider, SystemClock
from provkit.contract.messages import (
    ActivityCompletedMessage,
    ActivityExecute,
    ExternalRaised,
    OrchestratorMessage,
    TimerFiredMessage,
)

T = TypeVar("T")

ACTIVITY = "HammerActivity"


@dataclass(frozen=True, slots=True)
class Plan:
    """How the tasks hammer: how many, how long, and the durations they use (whole ms)."""

    tasks: int
    seconds: float
    lock_ms: int
    delay_ms: int
    walk_away: float
    """Share of turns whose holder never acks, so the lock must expire."""
    clock_step_ms: int
    """Largest step the clock task moves an injected clock by, about once a millisecond."""
    instances: int = 4
    seed: int = 0
    max_calls: int = 20_000
    """Calls after which the tasks stop before the T seconds are up: the history check grows
    faster than the history, and a fast provider makes thousands of calls a second."""

    @classmethod
    def for_run(cls, tasks: int, seconds: float, clocked: bool, timescale: float) -> Plan:
        if clocked:
            return cls(tasks, seconds, lock_ms=50, delay_ms=60, walk_away=0.05, clock_step_ms=20)
        # Real-time locks last a second, so far more calls overlap one another's holds: the
        # check costs several times as much per call (about 2 s at this many on a 2-core
        # machine, against 2.5 s for 20,000 calls with an injected clock).
        return cls(
            tasks,
            seconds,
            lock_ms=max(1000, int(1000 * timescale)),
            delay_ms=max(20, int(20 * timescale)),
            walk_away=0.01,
            clock_step_ms=0,
            max_calls=3_000,
        )


async def hammer(provider: Provider, manual: ManualClock | None, plan: Plan) -> History:
    """Run the workload against ``provider`` and drain it; the recorded history."""
    return await _Hammer(provider, manual, plan).run()


class _Hammer:
    def __init__(self, provider: Provider, manual: ManualClock | None, plan: Plan) -> None:
        self._provider = provider
        self._manual = manual
        self._plan = plan
        now_ms: Callable[[], int] = (manual or SystemClock()).now_ms
        self._now_ms = now_ms
        self._history = History(origin_ms=now_ms(), tasks=plan.tasks, seconds=plan.seconds)
        self._recorder = Recorder(self._history, now_ms)
        self._numbers = itertools.count(1)
        self._labels: dict[object, str] = {}
        self._instances = [f"i{n}" for n in range(plan.instances)]
        self._stop = asyncio.Event()

    async def run(self) -> History:
        plan = self._plan
        deadline = time.monotonic() + plan.seconds
        workers = [
            asyncio.ensure_future(
                self._task(f"task-{n}", random.Random(plan.seed * 1000 + n), deadline)
            )
            for n in range(plan.tasks)
        ]
        ticker = asyncio.ensure_future(self._tick(random.Random(plan.seed - 1)))
        results = await asyncio.gather(*workers, return_exceptions=True)
        self._stop.set()
        await ticker
        for result in results:
            if isinstance(result, BaseException):
                raise result
        await self._drain()
        return self._history

    # -- the tasks -----------------------------------------------------------------------

    async def _task(self, name: str, rng: random.Random, deadline: float) -> None:
        try:
            calls = self._history.calls
            while (
                not self._stop.is_set()
                and time.monotonic() < deadline
                and len(calls) < self._plan.max_calls
            ):
                action = rng.choices((0, 1, 2, 3), weights=(2, 2, 3, 3))[0]
                if action == 0:
                    await self._enqueue(name, rng)
                elif action == 1:
                    await self._enqueue_work(name, rng)
                elif action == 2:
                    await self._turn(name, rng)
                else:
                    await self._work(name, rng)
                # A provider that never suspends would otherwise let one task run alone.
                await asyncio.sleep(0)
        except BaseException:
            self._stop.set()
            raise

    async def _tick(self, rng: random.Random) -> None:
        """Move an injected clock while the tasks run, so locks expire under them."""
        manual = self._manual
        if manual is None or self._plan.clock_step_ms == 0:
            return
        while not self._stop.is_set():
            await asyncio.sleep(0.001)
            manual.set_ms(manual.now_ms() + rng.randint(0, self._plan.clock_step_ms))

    async def _pause(self, rng: random.Random) -> None:
        """Let other tasks run between a fetch and what the holder does next.

        Now and then the holder dawdles: with an injected clock, time jumps by about one lock
        timeout, so its lock (and maybe others') expires about half the time; without one,
        it sleeps a few milliseconds.
        """
        if rng.random() < 0.1:
            manual, lock_ms = self._manual, self._plan.lock_ms
            if manual is None:
                await asyncio.sleep(rng.uniform(0.001, 0.006))
            else:
                manual.set_ms(manual.now_ms() + rng.randint(lock_ms // 2, lock_ms * 3 // 2))
                await asyncio.sleep(0)
            return
        for _ in range(rng.randint(0, 3)):
            await asyncio.sleep(0)

    def _label(self, value: object) -> str:
        return self._labels.get(value) or f"?{value!r}"

    def _record(
        self,
        task: str,
        queue: Queue,
        kind: Any,
        operation: str,
        awaitable: Awaitable[T],
        **facts: object,
    ) -> Awaitable[tuple[Call, T | None]]:
        return self._recorder.call(task, queue, kind, operation, awaitable, **facts)

    def _new_message(
        self, instance: str, rng: random.Random, timers: bool
    ) -> tuple[OrchestratorMessage, Value]:
        number = next(self._numbers)
        label = f"m{number}"
        message: OrchestratorMessage
        visible_at = None
        if timers and rng.random() < 0.1:
            visible_at = self._now_ms() + rng.choice((0, self._plan.delay_ms))
            message = TimerFiredMessage(
                instance=instance, execution_id=1, id=number, fire_at_ms=visible_at
            )
        else:
            message = ExternalRaised(instance=instance, name="hammer", data=label)
        self._labels[message] = label
        return message, Value(label, "orchestrator", instance, -1, 0, visible_at)

    def _new_item(self, instance: str) -> tuple[ActivityExecute, Value]:
        number = next(self._numbers)
        label = f"w{number}"
        item = ActivityExecute(
            instance=instance, execution_id=1, id=number, name=ACTIVITY, input=label
        )
        self._labels[item] = label
        return item, Value(label, "worker", instance, -1, 0)

    def _keep(self, call: Call, values: list[Value]) -> None:
        for position, value in enumerate(values):
            self._recorder.add_value(
                Value(
                    value.label,
                    value.queue,
                    value.instance,
                    call.index,
                    position,
                    value.visible_at_ms,
                )
            )

    async def _enqueue(self, task: str, rng: random.Random) -> None:
        message, value = self._new_message(rng.choice(self._instances), rng, timers=True)
        delay_ms = self._plan.delay_ms if rng.random() < 0.2 else None
        call, _ = await self._record(
            task,
            "orchestrator",
            "enqueue",
            "enqueue_for_orchestrator",
            self._provider.enqueue_for_orchestrator(
                message, None if delay_ms is None else delay_ms / 1000
            ),
            labels=(value.label,),
            key=value.instance,
            duration_ms=delay_ms,
        )
        self._keep(call, [value])

    async def _enqueue_work(self, task: str, rng: random.Random) -> None:
        item, value = self._new_item(rng.choice(self._instances))
        call, _ = await self._record(
            task,
            "worker",
            "enqueue",
            "enqueue_for_worker",
            self._provider.enqueue_for_worker(item),
            labels=(value.label,),
            key=value.instance,
        )
        self._keep(call, [value])

    async def _turn(self, task: str, rng: random.Random) -> None:
        item = await self._fetch(task)
        if item is None:
            return
        token, execution_id = item
        await self._pause(rng)
        choice = rng.random()
        walk_away = self._plan.walk_away
        if choice < walk_away:
            return
        if choice < walk_away + 0.1:
            await self._abandon(task, "orchestrator", token, rng)
            return
        if choice < walk_away + 0.2:
            await self._renew(task, "orchestrator", token)
            await self._pause(rng)
        instance = rng.choice(self._instances)
        items = [self._new_item(instance) for _ in range(rng.randint(0, 2))]
        messages = [
            self._new_message(rng.choice(self._instances), rng, timers=False)
            for _ in range(rng.randint(0, 1))
        ]
        call, _ = await self._record(
            task,
            "orchestrator",
            "ack",
            "ack_orchestration_item",
            self._provider.ack_orchestration_item(
                token,
                execution_id,
                [],
                [i for i, _ in items],
                [m for m, _ in messages],
                ExecutionMetadata(),
            ),
            token=token,
            labels=tuple(v.label for _, v in [*items, *messages]),
        )
        self._keep(call, [v for _, v in items])
        self._keep(call, [v for _, v in messages])

    async def _fetch(self, task: str) -> tuple[str, int] | None:
        lock_ms = self._plan.lock_ms
        call, item = await self._record(
            task,
            "orchestrator",
            "fetch",
            "fetch_orchestration_item",
            self._provider.fetch_orchestration_item(lock_ms / 1000),
            duration_ms=lock_ms,
        )
        if item is None:
            return None
        call.key = item.instance
        call.token = item.lock_token
        call.attempt = item.attempt_count
        call.labels = tuple(self._label(m) for m in item.messages)
        return item.lock_token, item.execution_id

    async def _work(self, task: str, rng: random.Random) -> None:
        lease = await self._fetch_work(task)
        if lease is None:
            return
        token, leased = lease
        await self._pause(rng)
        choice = rng.random()
        walk_away = self._plan.walk_away
        if choice < walk_away:
            return
        if choice < walk_away + 0.1:
            await self._abandon(task, "worker", token, rng)
            return
        if choice < walk_away + 0.2:
            await self._renew(task, "worker", token)
            await self._pause(rng)
        completion: list[tuple[OrchestratorMessage, Value]] = []
        if rng.random() < 0.8:
            number = next(self._numbers)
            label = f"m{number}"
            instance = leased.instance if rng.random() < 0.7 else rng.choice(self._instances)
            message = ActivityCompletedMessage(
                instance=instance, execution_id=1, id=number, result=label
            )
            self._labels[message] = label
            completion.append((message, Value(label, "orchestrator", instance, -1, 0)))
        call, _ = await self._record(
            task,
            "worker",
            "ack",
            "ack_work_item",
            self._provider.ack_work_item(token, completion[0][0] if completion else None),
            token=token,
            labels=tuple(v.label for _, v in completion),
        )
        self._keep(call, [v for _, v in completion])

    async def _fetch_work(self, task: str) -> tuple[str, ActivityExecute] | None:
        lock_ms = self._plan.lock_ms
        call, lease = await self._record(
            task,
            "worker",
            "fetch",
            "fetch_work_item",
            self._provider.fetch_work_item(lock_ms / 1000),
            duration_ms=lock_ms,
        )
        if lease is None:
            return None
        call.key = self._label(lease.item)
        call.token = lease.lock_token
        call.attempt = lease.attempt_count
        call.labels = (call.key,)
        return lease.lock_token, lease.item

    async def _abandon(self, task: str, queue: Queue, token: str, rng: random.Random) -> None:
        delay_ms = self._plan.delay_ms if rng.random() < 0.5 else None
        ignore_attempt = rng.random() < 0.3
        delay = None if delay_ms is None else delay_ms / 1000
        if queue == "orchestrator":
            operation = "abandon_orchestration_item"
            awaitable = self._provider.abandon_orchestration_item(token, delay, ignore_attempt)
        else:
            operation = "abandon_work_item"
            awaitable = self._provider.abandon_work_item(token, delay, ignore_attempt)
        await self._record(
            task,
            queue,
            "abandon",
            operation,
            awaitable,
            token=token,
            duration_ms=delay_ms,
            ignore_attempt=ignore_attempt,
        )

    async def _renew(self, task: str, queue: Queue, token: str) -> None:
        # Renewals extend by the full lock timeout, so they never bring an expiry forward.
        extend_ms = self._plan.lock_ms
        if queue == "orchestrator":
            operation = "renew_orchestration_item_lock"
            awaitable = self._provider.renew_orchestration_item_lock(token, extend_ms / 1000)
        else:
            operation = "renew_work_item_lock"
            awaitable = self._provider.renew_work_item_lock(token, extend_ms / 1000)
        await self._record(
            task, queue, "renew", operation, awaitable, token=token, duration_ms=extend_ms
        )

    # -- the drain -----------------------------------------------------------------------

    async def _drain(self) -> None:
        """Move past every lock and delay, then fetch and ack until both queues are empty."""
        history = self._history
        quiet_at = max((_settles_at(call, history) for call in history.calls), default=0)
        if self._manual is not None:
            self._manual.set_ms(max(self._manual.now_ms(), quiet_at))
        else:
            wait_s = (quiet_at - self._now_ms()) / 1000
            if wait_s > 0:
                await asyncio.sleep(wait_s)
        limit = len(history.values) + 10
        for _ in range(limit):
            item = await self._fetch("drain")
            if item is None:
                break
            call, _ = await self._record(
                "drain",
                "orchestrator",
                "ack",
                "ack_orchestration_item",
                self._provider.ack_orchestration_item(
                    item[0], item[1], [], [], [], ExecutionMetadata()
                ),
                token=item[0],
            )
            if not call.ok:
                history.drain_note = f"the drain's ack (call #{call.index}) failed"
                return
        else:
            history.drain_note = f"the orchestrator queue still delivered after {limit} fetches"
            return
        for _ in range(limit):
            lease = await self._fetch_work("drain")
            if lease is None:
                break
            call, _ = await self._record(
                "drain",
                "worker",
                "ack",
                "ack_work_item",
                self._provider.ack_work_item(lease[0], None),
                token=lease[0],
            )
            if not call.ok:
                history.drain_note = f"the drain's ack (call #{call.index}) failed"
                return
        else:
            history.drain_note = f"the worker queue still delivered after {limit} fetches"
            return
        failed = [c.index for c in history.calls if c.task == "drain" and c.error is not None]
        if failed:
            history.drain_note = f"drain calls failed: {failed}"
            return
        history.drained = True
        history.drain_note = "drained"


def _settles_at(call: Call, history: History) -> int:
    """The latest provider time at which what ``call`` did can still hide work (epoch ms)."""
    if call.kind == "enqueue":
        at = call.clock_hi + (call.duration_ms or 0)
        value = history.values.get(call.labels[0]) if call.labels else None
        if value is not None and value.visible_at_ms is not None:
            at = max(at, value.visible_at_ms)
        return at
    return call.clock_hi + (call.duration_ms or 0)
